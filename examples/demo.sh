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
"$build/examples/hello_service" sh -c "'$build/examples/hello_client' alice && '$build/examples/hello_client' bob"
echo "(Two processes not pinned to cores, on a machine doing other work: a call"
echo " often waits for the other side to be scheduled.  The round trip below is"
echo " measured with each side pinned to a core of its own, as make bench does.)"
echo
echo "== Named ports: a dispatcher and four workers, through comsgd =="
echo "\$ jobs -c -n 100000      # -c: cops shows the ports while they are open"
PATH="$build/tools:$PATH" "$build/examples/jobs" -c -n 100000
echo
if [ -x "$build/bench/cocall" ]; then
	echo "== Round trip: cocall against the kernel path and a pipe =="
	"$build/bench/cocall" -q -c cocall,cocall_slow,pipe -s 64 | grep -v "^JSON"
fi
