#!/bin/sh
# Check the Promela models of cocall, COCHANNEL, COPIPE and COCARRIER with
# spin: every run must pass, and the broken variants must fail the way
# they should (the model still has teeth).
# Usage: model/run.sh [-k] (-k: keep going after a failure).  Builds under
# $BUILD/model (default build/model).  Exit 0: all as expected; 1: not.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
work=${BUILD:-$top/build}/model
keep=0
[ "${1:-}" = -k ] && keep=1

if ! command -v spin >/dev/null 2>&1; then
	echo "model: spin not found: apt-get install spin" >&2
	exit 1
fi
cc=${PAN_CC:-gcc}
command -v "$cc" >/dev/null 2>&1 || cc=cc
mkdir -p "$work" || exit 1

nrun=0
nbad=0
total_states=0
t_all=$(date +%s)

# check NAME EXPECT MODEL MODE SPIN-FLAGS...
#   EXPECT: pass, or the pan message a broken variant must produce
#   MODE:   safety (assertions, invalid end states) or ltl (acceptance
#           cycles of the model's LTL property, under weak fairness)
check() {
	name=$1 expect=$2 model=$3 mode=$4
	shift 4
	dir=$work/$name
	rm -rf "$dir" && mkdir -p "$dir" || exit 1
	case $mode in
	safety)	ccflags="-DSAFETY -DNOCLAIM"; panflags="" ;;
	ltl)	ccflags="-DNFAIR=3"; panflags="-a -f" ;;
	esac
	t0=$(date +%s.%N)
	if ! (cd "$dir" && spin "$@" -a "$top/model/$model" >spin.out 2>&1); then
		cat "$dir/spin.out" >&2
		echo "model: $name: spin -a failed" >&2
		exit 1
	fi
	if ! (cd "$dir" && $cc -O2 -DCOLLAPSE -DMEMLIM=8192 $ccflags \
	    -o pan pan.c >cc.out 2>&1); then
		cat "$dir/cc.out" >&2
		echo "model: $name: compiling pan failed" >&2
		exit 1
	fi
	(cd "$dir" && ./pan -m2000000 -w24 $panflags >pan.out 2>&1)
	t1=$(date +%s.%N)
	out=$dir/pan.out
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out")
	trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$out")
	states=$(printf '%.0f' "${states:-0}")
	trans=$(printf '%.0f' "${trans:-0}")
	secs=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
	nrun=$((nrun + 1))
	total_states=$((total_states + states))
	result=ok
	if [ -z "$errors" ] || grep -q "max search depth too small" "$out" ||
	    grep -q "out of memory" "$out"; then
		result="FAILED (incomplete search, see $out)"
	elif [ "$expect" = pass ]; then
		[ "$errors" -eq 0 ] ||
		    result="FAILED: $(grep '^pan:1:' "$out" | head -n 1)"
	elif [ "$errors" -eq 0 ]; then
		result="FAILED: no '$expect' found"
	elif grep -q "^pan:1: $expect" "$out"; then
		result="ok (found: $expect)"
	else
		result="FAILED: $(grep '^pan:1:' "$out" | head -n 1)"
	fi
	printf '%-34s %10s %11s %7ss  %s\n' "$name" "$states" "$trans" \
	    "$secs" "$result"
	case $result in
	FAILED*)
		nbad=$((nbad + 1))
		trail=$(ls "$dir"/*.trail 2>/dev/null | head -n 1)
		[ -n "$trail" ] && echo "  trail: (cd $dir && spin $* -t -p" \
		    "-g -l $top/model/$model)"
		[ $keep = 1 ] || finish
		;;
	esac
}

finish() {
	t_end=$(date +%s)
	echo "model: $nrun runs, $nbad failed, $total_states states in all," \
	    "$((t_end - t_all)) s"
	[ $nbad -eq 0 ] || exit 1
	exit 0
}

printf '%-34s %10s %11s %8s  %s\n' run states transitions time result
# No lost wakeup: without timeouts, nothing may be stuck but the idle
# service (invalid end state = a caller asleep that nobody will wake).
check cocall-n2-safety	pass cocall.pml safety -DNCHAN=2 -DCALLS=3 -DTIMEOUTS=0
check cocall-n3-safety	pass cocall.pml safety -DNCHAN=3 -DCALLS=1 -DTIMEOUTS=0
# Timeouts, signals and re-rings: still exactly once, right replies.
check cocall-n2-timeouts-safety pass cocall.pml safety \
	-DNCHAN=2 -DCALLS=3 -DTIMEOUTS=1
# Every call completes, under weak fairness.
check cocall-n2-ltl	pass cocall.pml ltl -DNCHAN=2 -DCALLS=2 -DTIMEOUTS=0
check cocall-n2-timeouts-ltl pass cocall.pml ltl -DNCHAN=2 -DCALLS=2 -DTIMEOUTS=1
# A hostile caller: the honest one's calls are answered right, and complete.
check ring-safety	pass ring.pml safety -DCALLS=3 -DTIMEOUTS=1
check ring-ltl		pass ring.pml ltl -DCALLS=2 -DTIMEOUTS=1
# COCHANNEL (cochannel.pml): senders x receivers, messages each, ring
# slots.  Each message received once, whole, in its sender's order; no
# lost wakeup on either bell without timeouts (invalid end state).
check chan-1s2r-safety	pass cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DSLOTS=2 -DTIMEOUTS=0
check chan-2s1r-safety	pass cochannel.pml safety \
	-DNSEND=2 -DNRECV=1 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0
check chan-2s2r-safety	pass cochannel.pml safety \
	-DNSEND=2 -DNRECV=2 -DMSGS=1 -DSLOTS=1 -DTIMEOUTS=0
check chan-1s2r-timeouts-safety pass cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=1
# Every message is received, under weak fairness.
check chan-1s2r-ltl	pass cochannel.pml ltl \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0
check chan-2s2r-timeouts-ltl pass cochannel.pml ltl \
	-DNSEND=2 -DNRECV=2 -DMSGS=1 -DSLOTS=1 -DTIMEOUTS=1
# A sender that could not register for membarrier: seq_cst publication.
check chan-strong-1s2r-safety pass cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DSLOTS=2 -DTIMEOUTS=0 -DSTRONG_PUBLISH
# The model has teeth: each of these must fail.
check broken-norescan	"invalid end state" cocall.pml safety \
	-DNCHAN=2 -DCALLS=2 -DTIMEOUTS=0 -DBROKEN_NORESCAN
check broken-nofence	"invalid end state" cocall.pml safety \
	-DNCHAN=2 -DCALLS=2 -DTIMEOUTS=0 -DBROKEN_NOFENCE
check broken-ringmod	"invalid end state" cocall.pml safety \
	-DNCHAN=2 -DCALLS=3 -DTIMEOUTS=0 -DRINGMOD=3
check broken-ring-notimeouts "acceptance cycle" ring.pml ltl \
	-DCALLS=2 -DTIMEOUTS=0
# COCHANNEL: claiming before copying (a receiver returns a record the
# sender overwrote), publishing prod before writing the record, sleeping
# without the re-check after arming (lost wakeup without timeouts).
check broken-chan-claimfirst "assertion violated" cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0 -DBROKEN_CLAIM_FIRST
check broken-chan-publishfirst "assertion violated" cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0 -DBROKEN_PUBLISH_FIRST
check broken-chan-norecheck "invalid end state" cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0 -DBROKEN_NORECHECK
# A receiver that sleeps without the membarrier while the senders publish
# without a fence: a lost wakeup.
check broken-chan-nosync "invalid end state" cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DSLOTS=1 -DTIMEOUTS=0 -DBROKEN_NOSYNC
# A message too long for one receiver's buffer: rx_take() reports EMSGSIZE
# only for the record still at cons (FIX_MSGSIZE, as cochannel.c does);
# without that re-check it may report it for a record another receiver
# took (docs/protocol.md, "The model").
check chan-msgsize pass cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DSLOTS=2 -DTIMEOUTS=0 -DMSGSIZE -DFIX_MSGSIZE
check broken-chan-msgsize "assertion violated" cochannel.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DSLOTS=2 -DTIMEOUTS=0 -DMSGSIZE
# COPIPE (copipe.pml): senders x receivers, a pair each, messages each.
# Each message accepted once, in its sender's order, read whole; no lost
# wake-up on the bells nor on a pair's status without timeouts.
check pipe-1s2r-safety	pass copipe.pml safety -DNSEND=1 -DNRECV=2 -DMSGS=2
check pipe-2s1r-safety	pass copipe.pml safety -DNSEND=2 -DNRECV=1 -DMSGS=2
# A message too long for one receiver (TOOSMALL both ways), a receiver
# that leaves (CLOSED keeps the round), timeouts.
check pipe-msgsize-safety pass copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DMSGSIZE
check pipe-close-safety	pass copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DCLOSE
check pipe-close-timeouts-safety pass copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=1 -DCLOSE -DTIMEOUTS=1
# Every message is received, under weak fairness.
check pipe-1s2r-ltl	pass copipe.pml ltl -DNSEND=1 -DNRECV=2 -DMSGS=1
check pipe-close-timeouts-ltl pass copipe.pml ltl \
	-DNSEND=1 -DNRECV=2 -DMSGS=1 -DCLOSE -DTIMEOUTS=1
check pipe-msgsize-ltl	pass copipe.pml ltl \
	-DNSEND=1 -DNRECV=2 -DMSGS=1 -DMSGSIZE
# COPIPE has teeth: returning once filled (a receiver that leaves loses
# the message), accepting by a plain store (the sender took it back and
# another receiver accepts it too), taking any change of status for an
# acceptance (CLOSED(n) is not), sleeping without the re-check, loading
# tx_sleeping before the CAS that accepts, a TOOSMALL mark outliving its
# cosend(), closing a pair for a msglen read under a status that moved,
# claiming without a new round (a status word that comes back).
check broken-pipe-nowait "invalid end state" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DCLOSE -DBROKEN_NOWAIT
check broken-pipe-storeaccept "assertion violated" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_STORE_ACCEPT
check broken-pipe-stateonly "invalid end state" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DCLOSE -DBROKEN_STATE_ONLY
check broken-pipe-norecheck "invalid end state" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_NORECHECK
check broken-pipe-wakefirst "invalid end state" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_WAKE_FIRST
check broken-pipe-keeptoosmall "assertion violated" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DMSGSIZE -DBROKEN_KEEP_TOOSMALL
check broken-pipe-stalemsglen "assertion violated" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DMSGSIZE -DBROKEN_STALE_MSGLEN
check broken-pipe-keepround "assertion violated" copipe.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_KEEP_ROUND
# COCARRIER (cocarrier.pml): senders x receivers, messages of sender 0
# and of each other.  Each message delivered once, whichever way it went
# (ring or socket), each sender's messages in order at each receiver; none
# left behind (invalid end state).
check carrier-2s2r-safety pass cocarrier.pml safety \
	-DNSEND=2 -DNRECV=2 -DMSGS=2 -DMSGS1=1
check carrier-1s2r-safety pass cocarrier.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3
check carrier-2s1r-safety pass cocarrier.pml safety \
	-DNSEND=2 -DNRECV=1 -DMSGS=3 -DMSGS1=2
check carrier-3s1r-safety pass cocarrier.pml safety \
	-DNSEND=3 -DNRECV=1 -DMSGS=2 -DMSGS1=1
# A receiver that moves cons back onto a record taken: the honest receiver
# never claims a mixture of two messages (the writing seqlock).
check carrier-hostile-safety pass cocarrier.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DHOSTILE
# Every message is delivered, under weak fairness.
check carrier-2s2r-ltl	pass cocarrier.pml ltl -DNSEND=2 -DNRECV=2 -DMSGS=1
check carrier-1s2r-ltl	pass cocarrier.pml ltl -DNSEND=1 -DNRECV=2 -DMSGS=2
# COCARRIER has teeth: counting a message sent after queueing it (another
# receiver takes and counts a message not yet counted, and the counts
# agree while one waits), looking at the counts before the rings (a
# datagram counted, queued only after the look, and its sender's next
# record found by the scan), taking a record back by a load and a store
# (a receiver claims it in between: delivered twice), writing a record
# without storing writing first (the honest receiver claims a torn copy
# once cons was moved back).
check broken-carrier-countafter "assertion violated" cocarrier.pml safety \
	-DNSEND=2 -DNRECV=2 -DMSGS=2 -DMSGS1=1 -DBROKEN_COUNT_AFTER
check broken-carrier-lookfirst "assertion violated" cocarrier.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_LOOK_FIRST
check broken-carrier-storewithdraw "assertion violated" cocarrier.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=2 -DBROKEN_NO_CAS_WITHDRAW
check broken-carrier-nowriting "assertion violated" cocarrier.pml safety \
	-DNSEND=1 -DNRECV=2 -DMSGS=3 -DHOSTILE -DBROKEN_NO_WRITING
finish
