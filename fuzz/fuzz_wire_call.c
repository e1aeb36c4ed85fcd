/*
 * fuzz_wire_call: msg_recv_call(), with cap_recvmsg() and cap_unpack()
 * under it: the messages of a channel's socket (struct wire_call, the
 * bytes, descriptors by SCM_RIGHTS), as the service takes a request
 * (deadline 0) and as a caller waits for a reply (a deadline, the
 * doorbell).  The peer's messages are queued on a socketpair whose far
 * end is then closed, so that no receive waits.
 *
 * Input:
 *   u8   mode: bit 0 caller's side, bit 1 SO_PASSCRED on the receiver,
 *        bits 2-4 room for bytes (0, 1, 15, 16, 17, 64, 4096, 65536),
 *        bits 5-7 room for capabilities (0 1 2 3 4 5 6 8)
 *   u32  the sequence number expected
 *   then messages as fz_send() reads them (fuzz.h).
 *
 * Checked besides crashes and leaks: a length within COCALL_MAXLEN, no
 * more capabilities than room, each live; only the documented errors.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

static const size_t rooms[] = { 0, 1, 15, 16, 17, 64, 4096, 65536 };
static const int caprooms[] = { 0, 1, 2, 3, 4, 5, 6, 8 };
static const int errs[] = { ENOLINK, ETIMEDOUT, EPROTO, EMFILE, EAGAIN };
static uint8_t buf[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	uint8_t mode = rd_u8(&r);
	bool caller = mode & 1;
	size_t room = rooms[(mode >> 2) & 7];
	int caproom = caprooms[(mode >> 5) & 7];
	uint32_t seq = rd_u32(&r), sleeping = 1;
	int sv[2], one = 1, round;

	FZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0,
	    "socketpair: %s", strerror(errno));
	if (mode & 2)
		setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	fz_send(sv[1], &r, 24, 0);
	close(sv[1]);

	/* Receive until the stream is over, as successive calls would. */
	for (round = 0; round < 24; round++) {
		void *caps[COCALL_MAXCAPS];
		int ncaps = caproom, i;
		ssize_t n;

		memset(caps, 0, sizeof(caps));
		n = msg_recv_call(sv[0], seq, room ? buf : NULL, room, caps,
		    &ncaps, caller ? now_ms() + 1000 : 0,
		    caller ? fz_bell() : NULL, &sleeping);
		FZ_LOG("msg_recv_call: %zd (%s), %d caps", n,
		    n < 0 ? strerror(errno) : "ok", n < 0 ? 0 : ncaps);
		if (n == MSG_PEER_ERROR) {
			FZ_CHECK(ncaps == 0, "error reply with %d caps", ncaps);
			continue;
		}
		if (n < 0) {
			FZ_CHECK(fz_errno_in(errno, errs, 5),
			    "undocumented errno %d", errno);
			FZ_CHECK(ncaps == 0, "failure with %d caps", ncaps);
			if (errno == ENOLINK || errno == EAGAIN)
				break;
			continue;
		}
		FZ_CHECK(n <= COCALL_MAXLEN, "length %zd", n);
		FZ_CHECK(ncaps >= 0 && ncaps <= caproom, "%d caps for room %d",
		    ncaps, caproom);
		for (i = 0; i < ncaps; i++) {
			if (caps[i] == NULL)
				continue;
			FZ_CHECK(cap_get(caps[i], 0) == caps[i],
			    "cap %d not live", i);
			cap_release(caps[i]);
		}
		seq++;
	}
	close(sv[0]);
	fz_done();
	return 0;
}
