/*
 * cocall's spin-then-sleep handshake: NCHAN honest callers, each on its
 * own channel, and the one thread that accepts them all through one
 * doorbell.  Checked by model/run.sh (make model):
 *
 *  - assertions: every reply a caller takes is its own call's (sequence
 *    number and bytes), and the service takes each call exactly once, in
 *    order (caller and take() in chan.pml);
 *  - end states, with TIMEOUTS 0 (no futex_wait() returns early): no lost
 *    wakeup, i.e. no state where a caller is stuck while nothing can wake
 *    it; only the service may sleep for good, and only once every call is
 *    answered (end_futex_wait in chan.pml);
 *  - the LTL property done, under weak fairness, with or without
 *    timeouts: every call is eventually taken and its reply seen.
 */
#include "chan.pml"

ltl done { <> (finished == NHONEST) }

init {
	byte k;

	atomic {
		chan_init();
		run service();
		for (k : 0 .. NCHAN - 1) {
			run caller(k)
		}
	}
}
