#!/bin/sh
# Line coverage of the parsers by the corpora: each harness, built with
# coverage mapping in COVBUILD, replays fuzz/corpus/HARNESS and
# CORPORA/HARNESS once; llvm-cov then reports the functions each is for.
#
# usage: cover.sh COVBUILD CORPORA HARNESS ...
set -u
cov=$1
corpora=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
bin=$cov/fuzz
mkdir -p "$cov/profiles"

# The functions that read what another party wrote, per harness.
funcs() {
	case $1 in
	capv_env)	echo "capv_decode parse_num cap_import cap_fds_valid" ;;
	wire_call)	echo "msg_recv_call msg_wait cap_recvmsg cap_unpack cap_import" ;;
	caprecv)	echo "caprecv cap_recvmsg cap_unpack cap_import" ;;
	connect)	echo "connect_one connect_all memfd_sealed_map caller_attach pending_evict" ;;
	chan_state)	echo "find_request take coacceptv publish cocallv wait_reply_shm service_errno msg_recv_call" ;;
	capv_msgs)	echo "service_run handle do_bind addr_port answerback" ;;
	elf)		echo "elf_check" ;;
	esac
}

for h in "$@"; do
	raw=$cov/profiles/$h.profraw
	data=$cov/profiles/$h.profdata
	rm -f "$raw"
	dirs=$here/corpus/$h
	[ -d "$corpora/$h" ] && dirs="$dirs $corpora/$h"
	# Known findings stop nothing here: we want the lines, not the bugs.
	LLVM_PROFILE_FILE=$raw UBSAN_OPTIONS=halt_on_error=0:print_summary=0 \
	    env -u COMSG_CAPV "$bin/fuzz_$h" -runs=0 $dirs >"$cov/$h.log" 2>&1
	n=$(ls $dirs | wc -l)
	llvm-profdata merge -sparse -o "$data" "$raw" || continue
	echo "== $h: $n inputs"
	llvm-cov report -show-functions "$bin/fuzz_$h" -instr-profile="$data" \
	    "$top/src/lib" "$top/src/compart" "$top/tools" 2>/dev/null |
	    awk -v want=" $(funcs "$h") " '
		BEGIN { printf "  %-26s %6s %7s %8s %9s\n", "function", "lines",
		    "missed", "lines %", "branch %" }
		NF >= 10 && $2 ~ /^[0-9]+$/ {
			name = $1
			sub(/.*:/, "", name)
			if (index(want, " " name " ") > 0)
				printf "  %-26s %6s %7s %8s %9s\n", $1, $5, $6,
				    $7, $10
		}'
done
