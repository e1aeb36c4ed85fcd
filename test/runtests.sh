#!/bin/sh
# Run every test program in a directory, each under a timeout; print one
# line per test and a summary; exit non-zero if any failed.
# Usage: test/runtests.sh BUILD_DIR/test [test-name ...]
# Env: TEST_TIMEOUT (seconds, default 120), TEST_WRAPPER (e.g. valgrind ...),
# TEST_SKIP (names or patterns not to run, e.g. "tutorial tool_*").
# A test listed in TESTDIR/timeouts ("name seconds") gets that many seconds
# if it is more.
dir=${1:?usage: runtests.sh TESTDIR [name ...]}
shift
timeout=${TEST_TIMEOUT:-120}
pass=0 fail=0 skip=0 failed=
if [ $# -gt 0 ]; then names=$*; else
	names=$(cd "$dir" && ls | sort)
fi
for name in $names; do
	t=$dir/$name
	[ -f "$t" ] && [ -x "$t" ] || continue
	skipped=
	for pat in ${TEST_SKIP:-}; do
		case $name in $pat) skipped=1 ;; esac
	done
	[ -n "$skipped" ] && continue
	limit=$timeout
	if [ -f "$dir/timeouts" ]; then
		own=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/timeouts")
		[ -n "$own" ] && [ "$own" -gt "$limit" ] && limit=$own
	fi
	log=$(mktemp)
	start=$(date +%s.%N)
	timeout -k 5 "$limit" $TEST_WRAPPER "$t" >"$log" 2>&1
	rc=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS  %-28s %6ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-28s %s\n' "$name" "$(tail -n 1 "$log")" ;;
	*)  fail=$((fail + 1)); failed="$failed $name"
	    [ $rc = 124 ] && echo "FAIL  $name (timed out after ${limit}s)" || echo "FAIL  $name (exit $rc)"
	    sed 's/^/      /' "$log" | tail -n 30 ;;
	esac
	rm -f "$log"
done
[ -n "$failed" ] && echo "failed:$failed"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
