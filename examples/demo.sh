#!/bin/sh
# make demo: co-processes calling each other, named ports and a comutex
# through comsgd, then the fast path against the kernel path and a pipe.
# Usage: examples/demo.sh BUILD_DIR
set -e
build=${1:-build}
COMSG_DIR=$(mktemp -d /tmp/comsg-demo-XXXXXX)
export COMSG_DIR
trap 'rm -rf "$COMSG_DIR"' EXIT INT TERM

echo "== A service and a client, as co-processes =="
echo "\$ hello_service sh -c 'hello_client alice; hello_client bob'"
# Each side on a core of its own where there are two, as make bench runs
# them: unpinned, a call often waits for the other side to be scheduled.
pin_service= pin_client=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_service="taskset -c 0" pin_client="taskset -c 1"
fi
$pin_service "$build/examples/hello_service" sh -c "$pin_client '$build/examples/hello_client' alice && $pin_client '$build/examples/hello_client' bob"
if [ -n "$pin_service" ]; then
	echo "(The service on CPU 0, the clients on CPU 1.  The service formats a"
	echo " reply of 60 bytes for each call; the round trip below is an empty"
	echo " service's, the same pinning.  A busy machine slows both.)"
else
	echo "(One CPU, or no taskset: both sides share the CPU, and each call"
	echo " waits for the other side to be scheduled: microseconds, where the"
	echo " round trip between two cores below is a few hundred nanoseconds.)"
fi
echo
echo "== Named ports: a dispatcher and four workers, through comsgd =="
echo "\$ jobs -c -n 100000      # -c: cops shows the ports while they are open"
PATH="$build/tools:$PATH" "$build/examples/jobs" -c -n 100000
echo
if [ -x "$build/bench/cocall" ]; then
	echo "== Round trip: cocall against the kernel path and a pipe =="
	"$build/bench/cocall" -q -c cocall,cocall_slow,pipe -s 64 | grep -v "^JSON"
fi
