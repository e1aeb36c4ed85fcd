/*
 * fuzz_caprecv: caprecv(), which takes one capability (struct wire_cap
 * and its descriptors) from any UNIX socket a program hands it: of any
 * type, from anyone.  The peer's messages are queued, its end closed, and
 * caprecv() called until the socket is empty.
 *
 * Input:
 *   u8   mode: bits 0-1 socket type (SEQPACKET, STREAM, DGRAM, SEQPACKET),
 *        bit 2 SO_PASSCRED on the receiver
 *   then messages as fz_send() reads them (fuzz.h).
 *
 * Checked besides crashes and leaks: a capability returned is live; only
 * the documented errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

static const int types[] = { SOCK_SEQPACKET, SOCK_STREAM, SOCK_DGRAM,
    SOCK_SEQPACKET };
/* EAGAIN: the socket is empty (we made it non-blocking). */
static const int errs[] = { EINVAL, ECONNRESET, EAGAIN };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	uint8_t mode = rd_u8(&r);
	int sv[2], one = 1, i;

	FZ_CHECK(socketpair(AF_UNIX, types[mode & 3] | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sv) == 0, "socketpair: %s", strerror(errno));
	if (mode & 4)
		setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	fz_send(sv[1], &r, 24, 0);
	close(sv[1]);
	for (i = 0; i < 32; i++) {
		void *cap = NULL;

		int rc = caprecv(sv[0], &cap);

		FZ_LOG("caprecv: %d (%s)", rc, rc < 0 ? strerror(errno) : "ok");
		if (rc == 0) {
			FZ_CHECK(cap_get(cap, 0) == cap, "not a live capability");
			FZ_CHECK(capfree(cap) == 0, "capfree: %s",
			    strerror(errno));
			continue;
		}
		FZ_CHECK(cap == NULL, "failed, yet a capability");
		FZ_CHECK(fz_errno_in(errno, errs, 3), "undocumented errno %d",
		    errno);
		if (errno != EINVAL)
			break;
	}
	close(sv[0]);
	fz_done();
	return 0;
}
