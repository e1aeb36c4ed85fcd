#!/bin/sh
# The colocation tutorial, replayed with the comsg tools, output checked:
# services in the vector, answerbacks, interposing, pinging, the kernel
# path, names across unrelated process trees, clock_gettime() of an
# unmodified program served by a service, and bind(2) under a policy.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../tools" && pwd) || { echo "tools not built"; exit 1; }
PATH=$tools:$PATH
COMSG_DIR=$(mktemp -d /tmp/comsg-tutorial-XXXXXX)
export PATH COMSG_DIR
work=$COMSG_DIR/work
mkdir "$work"
pids=
# Background services run in process groups of their own (setsid), so
# that the whole tree of each goes, whatever happens.
cleanup() {
	for p in $pids; do kill -- "-$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$COMSG_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0

# check DESCRIPTION PATTERN FILE: the file has a line matching the
# extended regular expression.
check() {
	if grep -Eq -- "$2" "$3"; then
		echo "ok: $1"
	else
		echo "FAILED: $1: no line matching /$2/ in:"
		sed 's/^/    | /' "$3" | head -20
		fails=$((fails + 1))
	fi
}
# run NAME COMMAND...: run it, output (both streams) to $work/NAME.
run() {
	name=$1
	shift
	timeout 60 "$@" >"$work/$name" 2>&1
	echo "exit $?" >>"$work/$name"
}

# Two services in the vector; each answers the answerback.
run capv clocks binds sh -c capv
check "capv lists clocks at slot 8" '^8:	"clocks\(1\), pid [0-9]+, responding to clock_gettime\(\)' "$work/capv"
check "capv lists binds at slot 10" '^10:	"binds\(1\), pid [0-9]+, allowed port -1' "$work/capv"
check "capv succeeds" '^exit 0$' "$work/capv"

# An empty vector.
env -u COMSG_CAPV capv >"$work/empty" 2>&1
check "capv without a vector says so" '^capv: no capability vector$' "$work/empty"

# cotrace in the middle: the answerback carries its note.
run cotrace clocks cotrace capv
check "cotrace's note shows in capv (cut at 66)" '^8:	"clocks\(1\), pid [0-9]+, responding to clock_gettime\(\) -- via cot.*\.\.\."$' "$work/cotrace"
run cotrace_v clocks cotrace capv -v
check "cotrace's note in full with capv -v" '^8:	".* -- via cotrace\(1\), pid [0-9]+, tracing capv"$' "$work/cotrace_v"

# cotrace -v: the call and the return, with pids and the dump.
run trace clocks sh -c 'cotrace -v capv'
check "cotrace -v shows the call" '^cotrace: cocall from pid [0-9]+\[8\] -> pid [0-9]+, received 16, len 16, op 0: "\\020\\0' "$work/trace"
check "cotrace -v shows the return" '^cotrace: returning answerback to pid [0-9]+\[8\] <- pid [0-9]+$' "$work/trace"

# cops: the members, each with its vector and what it serves.
run cops clocks cotrace sh -c 'capv >/dev/null; cops'
check "cops shows clocks serving one target" '^ *[0-9]+ -  +1 +0 +1 +0  clocks cotrace' "$work/cops"
check "cops shows cotrace holding slot 8 of clocks and serving" '^ *[0-9]+ 8:[0-9]+ +1 +0 +[0-9]+ +1  cotrace sh' "$work/cops"
check "cops shows itself with slot 8 of cotrace" '^ *[0-9]+ 8:[0-9]+ +0 +0 +0 +0  cops$' "$work/cops"

# coping: one timing line per slot.
run ping clocks binds sh -c 'coping -ac 1000'
check "coping times slot 8" '^coping: capv\[8\]: [0-9.]+ms for 1000 iterations, [0-9.]+us each$' "$work/ping"
check "coping times slot 10" '^coping: capv\[10\]: [0-9.]+ms for 1000 iterations, [0-9.]+us each$' "$work/ping"

# binds -k: the kernel path, and it says so.
run slow clocks binds -k sh -c 'capv; coping -ac 1000'
check "binds -k is marked slow" '^10:	"binds\(1\), pid [0-9]+, allowed port -1 \(slow\)' "$work/slow"
check "coping still times slot 10" '^coping: capv\[10\]: [0-9.]+ms for 1000 iterations' "$work/slow"

# coregister -f / colookup -f: a capability across two unrelated trees.
sock=$COMSG_DIR/clocks.sock
setsid clocks -v coregister -i8 -f "$sock" >"$work/coregister" 2>&1 &
pids="$pids $!"
for i in $(seq 1 500); do [ -S "$sock" ] && break; sleep 0.01; done
run lookup colookup -f "$sock" -i8 capv
check "colookup -f brings clocks into an unrelated tree" '^8:	"clocks\(1\), pid [0-9]+, responding to clock_gettime\(\)' "$work/lookup"

# coregister -n / colookup -n: the same through a name of the domain.
setsid clocks coregister -i8 -n tutorial-clocks >"$work/coregister_n" 2>&1 &
pids="$pids $!"
for i in $(seq 1 500); do [ -S "$COMSG_DIR/names/tutorial-clocks" ] && break; sleep 0.01; done
run lookup_n colookup -n tutorial-clocks -i8 capv
check "colookup -n finds the name" '^8:	"clocks\(1\), pid [0-9]+' "$work/lookup_n"

# An unmodified program's clock_gettime() answered by the service.
run date clocks -v sh -c date
check "date is served by clocks" '^clocks: op 1, len [0-9]+ from pid [0-9]+ -> pid [0-9]+$' "$work/date"
check "date still prints the date" "$(date +%Y)" "$work/date"

# bind(2) under a policy, in an unmodified program (perl).
port=$((20000 + $$ % 20000))
other=$((port + 1))
run binds_ok binds -v -p "$port" perl -MSocket -e 'socket(S, PF_INET, SOCK_STREAM, 0) or die;
	bind(S, sockaddr_in($ARGV[0], INADDR_ANY)) or die "bind $ARGV[0]: $!\n"; print "bound $ARGV[0]\n"' "$port"
check "binds -p lets the program bind its port" "^bound $port\$" "$work/binds_ok"
check "the bind went through the service" '^binds: op 1, len [0-9]+ from pid' "$work/binds_ok"
run binds_no binds -p "$port" perl -MSocket -e 'socket(S, PF_INET, SOCK_STREAM, 0) or die;
	bind(S, sockaddr_in($ARGV[0], INADDR_ANY)) or die "bind $ARGV[0]: $!\n"; print "bound $ARGV[0]\n"' "$other"
check "binds -p refuses another port" "^bind $other: Permission denied\$" "$work/binds_no"

if [ $fails -gt 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
exit 0
