#!/bin/sh
# Run each fuzzer in turn for FUZZ_SECONDS (default 60), and print what
# each did.  Exits 1 if any of them failed: a crash, a hang (10 s per
# input), a leak or a failed check; its input is kept in FUZZ_CRASHES
# (default fuzz/crashes) and its output in BUILDDIR/HARNESS.log.
# FUZZ_FLAGS adds libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go
# on past a known failure.
#
# usage: run.sh BUILDDIR HARNESS ...
set -u
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-60}
crashes=${FUZZ_CRASHES:-$here/crashes}
mkdir -p "$crashes"
fail=0

printf '%-12s %6s %10s %8s %6s %6s  %s\n' harness secs execs exec/s cov ft result
for h in "$@"; do
	work=$out/corpus/$h	# grows from run to run; the seeds stay put
	log=$out/$h.log
	dict=$here/comsg.dict
	[ -f "$here/$h.dict" ] && dict=$here/$h.dict
	mkdir -p "$work"
	before=$(ls "$crashes" | wc -l)
	start=$(date +%s)
	env -u COMSG_CAPV \
	    UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
	    "$out/fuzz_$h" -max_total_time="$secs" -timeout=10 \
	    -print_final_stats=1 -artifact_prefix="$crashes/$h-" \
	    -dict="$dict" ${FUZZ_FLAGS:-} "$work" "$here/corpus/$h" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	# The last status line: "#N  DONE cov: ...", or with -fork "#N: cov: ...".
	last=$(grep -E '^#[0-9]+:?[[:space:]]' "$log" | tail -n 1)
	[ -n "$execs" ] || execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	[ -n "$eps" ] || eps=$(echo "$last" | sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p')
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		res=ok
	else
		res="FAILED (exit $rc)"
		fail=1
	fi
	printf '%-12s %6s %10s %8s %6s %6s  %s\n' "$h" "$took" "${execs:-?}" \
	    "${eps:-?}" "${cov:-?}" "${ft:-?}" "$res"
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR|FZ_CHECK|runtime error|SUMMARY|#[0-9]+ 0x' "$log" |
		    head -n 20 | sed 's/^/    /'
		if [ "$(ls "$crashes" | wc -l)" -gt "$before" ]; then
			ls -t "$crashes" | head -n 1 | while read -r f; do
				echo "    input kept: $crashes/$f"
				echo "    replay: $out/fuzz_$h $crashes/$f"
			done
		fi
		echo "    output: $log"
	fi
done
exit $fail
