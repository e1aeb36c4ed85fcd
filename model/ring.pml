/*
 * cocall with a hostile caller: channel NHONEST belongs to a caller that
 * writes whatever it likes, whenever it likes, to every word it can reach
 * (its own channel's caller line and the doorbell), while NHONEST honest
 * callers call as in cocall.pml.  The future COCHANNEL ring (several
 * senders and receivers) is not modelled here.  Checked by model/run.sh
 * (make model):
 *
 *  - assertions: an honest caller only ever takes its own call's reply,
 *    and the service takes each honest call exactly once, in order, whatever
 *    the hostile caller does (chan.pml);
 *  - the LTL property honest_done, under weak fairness: every honest call
 *    completes.  This rests on the futex timeouts: the hostile caller can
 *    rewind ring between a ring and the service's futex_wait(), and then
 *    only a timeout (the caller's re-ring after SLEEP_SLICE_MS, or the
 *    service's REAP_MS) gets the call taken.  With TIMEOUTS 0 the property
 *    fails, and run.sh checks that it does.  The re-ring alone is not
 *    enough (SERVICE_TIMEOUT 0 fails too): wait_reply_shm() re-rings only
 *    when futex_wait() says ETIMEDOUT, and a caller whose every wait is
 *    cut short by a signal (EINTR) never does; the service's REAP_MS
 *    timeout is then what gets the call taken.
 */
#define HOSTILE
#ifndef NHONEST
#define NHONEST		1
#endif
#define NCHAN		(NHONEST + 1)
/* The service only asks whether ring still equals the value it read, and
 * the hostile caller can make the answer yes or no at any moment: two
 * values are as good as 2^32. */
#define RINGMOD		2

#include "chan.pml"

/*
 * The hostile caller's moves, any of them at any moment, one word at a
 * time.  The service compares req_seq only with served and copies it only
 * into this channel's rep_seq, so two numbers are as good as any.  Nothing
 * here waits on the channel, so writing caller_sleeping only decides
 * whether the service makes a futex_wake() that wakes nobody; and the
 * service line (rep_seq, rep_len, rep_flags, service_sleeping), writable
 * too (the caller made the memfd), is only ever written by the service.
 * A futex_wait() of the hostile caller's own blocks nobody and wakes
 * nobody.  Its request bytes only come back to itself, so they stay fixed.
 */
proctype hostile(byte h)
{
	do
	:: shm[h].req_seq = (shm[h].req_seq == 0 -> SEQMOD - 1 : 0)
	:: shm[h].req_len = 1
	:: shm[h].req_len = COCALL_MAXLEN + 1			/* too long */
	:: shm[h].req_flags = 0
	:: shm[h].req_flags = CHAN_VIA_SOCKET
	:: ring = (ring + 1) % RINGMOD			/* or rewind it */
	:: connects = (connects + 1) % CONNMOD
	:: futex_wake(queued_ring)
	od
}

ltl honest_done { <> (finished == NHONEST) }

init {
	byte k;

	atomic {
		chan_init();
		shm[NHONEST].req = HOSTILE_PAYLOAD;
		run service();
		for (k : 0 .. NHONEST - 1) {
			run caller(k)
		}
		run hostile(NHONEST)
	}
}
