#!/bin/sh
# Run every benchmark program built in BUILD_DIR/bench, passing ARGS to
# each (e.g. -q), as `make bench` does.  Each program's output also goes to
# BUILD_DIR/bench/results/NAME.txt and its JSON line, without the "JSON "
# prefix, to NAME.json.  Benchmarks measure; a slow machine fails nothing.
# Usage: bench/run.sh BUILD_DIR [ARGS ...]
build=${1:?usage: bench/run.sh BUILD_DIR [ARGS ...]}
shift
dir=$build/bench
res=$dir/results
mkdir -p "$res" || exit 1
status=0 ran=0
for prog in $(cd "$dir" && ls | sort); do
	[ -f "$dir/$prog" ] && [ -x "$dir/$prog" ] || continue
	# carrier_designs measures prototypes of designs, not the library:
	# run by hand (docs/performance.md, "COCARRIER: choosing a design").
	[ "$prog" = carrier_designs ] && continue
	ran=$((ran + 1))
	echo "== $prog $*" >&2
	# The program's exit status survives the pipe through a file.
	{ "$dir/$prog" "$@"; echo $? >"$res/$prog.rc"; } | tee "$res/$prog.txt"
	rc=$(cat "$res/$prog.rc")
	rm -f "$res/$prog.rc"
	sed -n 's/^JSON //p' "$res/$prog.txt" >"$res/$prog.json"
	if [ "$rc" != 0 ]; then
		echo "run.sh: $prog exited $rc" >&2
		status=1
	fi
done
if [ $ran -eq 0 ]; then
	echo "run.sh: no benchmark programs in $dir" >&2
	exit 1
fi
exit $status
