#!/bin/sh
# Draw bench/coport's throughput and latency against message size with
# gnuplot, as `make plots` does: BUILD_DIR/plots/coport.png (MB/s),
# BUILD_DIR/plots/coport-msgs.png (messages per second) and
# BUILD_DIR/plots/coport-pingpong.png (time per ping-pong round trip), all
# axes log scale, one line per case, memcpy's 1 MiB bandwidth as a dashed
# line.
# The data is the last run's BUILD_DIR/bench/results/coport.dat (which
# `make bench` and a plain build/bench/coport write); if there is none,
# or ARGS are given, the benchmark runs first, with ARGS (e.g. -q).
# Usage: bench/plots.sh BUILD_DIR [ARGS ...]
build=${1:?usage: bench/plots.sh BUILD_DIR [ARGS ...]}
shift
dat=$build/bench/results/coport.dat
out=$build/plots
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "plots: gnuplot not found; install it (Debian: apt-get install gnuplot-nox)" >&2
	exit 1
fi
if [ ! -s "$dat" ] || [ $# -gt 0 ]; then
	[ -x "$build/bench/coport" ] || {
		echo "plots: $build/bench/coport is not built (make all)" >&2
		exit 1
	}
	mkdir -p "$build/bench/results" || exit 1
	echo "plots: running $build/bench/coport $* (the data: $dat)" >&2
	"$build/bench/coport" -o "$dat" "$@" >"$build/bench/results/coport.txt" ||
		echo "plots: coport exited $? (see $build/bench/results/coport.txt)" >&2
	[ -s "$dat" ] || exit 1
else
	echo "plots: using $dat from $(date -r "$dat" '+%F %T') (COPORT_ARGS=... runs it again)" >&2
fi
mkdir -p "$out" || exit 1
cases=$(sed -n 's/^# cases: *//p' "$dat")
ppcases=$(sed -n 's/^# pingpong cases: *//p' "$dat")
memcpy=$(sed -n 's/^# memcpy_MBps *//p' "$dat")
[ -n "$cases$ppcases" ] || { echo "plots: no cases in $dat" >&2; exit 1; }

# plot COLUMN YLABEL PNG CASES FIRST TITLE: one line per case (the data
# file's blocks from number FIRST on, in the order of CASES).
plot() {
	gnuplot <<EOF
set terminal pngcairo size 1000,650 noenhanced font ",11"
set output "$3"
set title "bench/coport: $6 ($(date -r "$dat" '+%F'))"
set logscale x 2
set logscale y 10
set format x "%.0b%B"
set xtics 4
set xlabel "message size (bytes)"
set ylabel "$2"
set grid xtics ytics mytics
set key outside right top
set datafile commentschars "#"
cases = "$4"
memcpy = "$memcpy"
plot for [i=1:words(cases)] "$dat" index ($5 + i - 1) using 1:$1 with linespoints lw 2 title word(cases, i) \
$( [ -n "$memcpy" ] && [ "$1" = 3 ] && printf '%s' ', (memcpy + 0) with lines dt 2 lc "black" title "memcpy 1 MiB"' )
EOF
}
made=
stream="one sender streams to one receiver on another CPU"
if [ -n "$cases" ]; then
	plot 3 "MB/s (10^6 bytes/s)" "$out/coport.png" "$cases" 0 "$stream" || exit 1
	plot 2 "messages per second" "$out/coport-msgs.png" "$cases" 0 "$stream" || exit 1
	made="$out/coport.png $out/coport-msgs.png"
fi
if [ -n "$ppcases" ]; then
	plot 2 "round trip (ns)" "$out/coport-pingpong.png" "$ppcases" \
	    "$(echo $cases | wc -w)" \
	    "ping-pong, one message back and forth between two CPUs" || exit 1
	made="$made $out/coport-pingpong.png"
fi
echo "plots: $made"
