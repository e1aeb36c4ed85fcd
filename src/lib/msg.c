/*
 * Messages of cocall on a channel's socket (see msg.h): framing, waiting
 * with deadlines, and turning received descriptors into capabilities.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"

/* Wait until sock is ready for events; -1 with ETIMEDOUT at the deadline,
 * ENOLINK when the peer hung up (and nothing is left to read). */
static int
msg_wait(int sock, short events, int64_t deadline, struct bell_shm *bell,
    const uint32_t *sleeping)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = events };
		int slice = deadline_left(deadline, 50), r;

		if (deadline == 0 || slice < 0) {
			errno = deadline == 0 ? EAGAIN : ETIMEDOUT;
			return -1;
		}
		r = sys_poll(&pfd, 1, slice);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0) {
			if (pfd.revents & events)
				return 0;
			errno = ENOLINK;
			return -1;
		}
		/* A timeout or a signal: ring again, in case the ring that
		 * would have woken the service was rewound. */
		if (bell != NULL && LOAD_RLX(sleeping)) {
			__atomic_add_fetch(&bell->ring, 1, __ATOMIC_SEQ_CST);
			futex_wake(&bell->ring);
		}
	}
}

int
comsg_check(const struct comsg *m, int flags, struct cap **outcaps)
{
	if (m == NULL || (flags & ~COCALL_SLOW) != 0 ||
	    (m->out == NULL && m->outlen > 0) ||
	    (m->in == NULL && m->inlen > 0) ||
	    m->noutcaps < 0 || m->noutcaps > COCALL_MAXCAPS ||
	    (m->noutcaps > 0 && m->outcaps == NULL) || m->nincaps < 0 ||
	    (m->nincaps > 0 && m->incaps == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (m->outlen > COCALL_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	for (int i = 0; i < m->noutcaps; i++)
		if ((outcaps[i] = cap_get(m->outcaps[i], 0)) == NULL)
			return -1;
	return 0;
}

int
msg_send_fds(int sock, const void *hdr, size_t len, const int *fds, int nfds,
    int64_t deadline)
{
	for (;;) {
		if (fd_sendmsg(sock, hdr, len, NULL, 0, fds, nfds,
		    MSG_DONTWAIT) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		if (msg_wait(sock, POLLOUT, deadline, NULL, NULL) < 0)
			return -1;
	}
}

int
msg_send_call(int sock, uint32_t seq, const void *buf, size_t len,
    struct cap *const *caps, int ncaps, int error, int64_t deadline)
{
	struct wire_call w;
	int i;

	memset(&w, 0, sizeof(w));
	w.magic = WIRE_CALL;
	w.seq = seq;
	w.len = (uint32_t)len;
	w.ncaps = (uint16_t)ncaps;
	w.error = (uint16_t)error;
	for (i = 0; i < ncaps; i++)
		w.kinds[i] = (uint8_t)caps[i]->kind;
	for (;;) {
		if (cap_sendmsg(sock, &w, sizeof(w), buf, len, caps, ncaps,
		    MSG_DONTWAIT) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		if (msg_wait(sock, POLLOUT, deadline, NULL, NULL) < 0)
			return -1;
	}
}

/* Stale messages skipped in one receive, at most: past that, the peer is
 * flooding us and gets EPROTO. */
#define STALE_MAX	16

ssize_t
msg_recv_call(int sock, uint32_t seq, void *buf, size_t room, void **caps,
    int *ncapsp, int64_t deadline, struct bell_shm *bell,
    const uint32_t *sleeping)
{
	int capsroom = *ncapsp, stale = 0;

	/* No message is longer; and the kernel refuses (EINVAL, EFAULT) a
	 * buffer said to reach past SSIZE_MAX or the address space. */
	if (room > COCALL_MAXLEN)
		room = COCALL_MAXLEN;
	*ncapsp = 0;
	for (;;) {
		struct wire_call w;
		struct iovec iov[2] = { { &w, sizeof(w) }, { buf, room } };
		int fds[WIRE_MAXFDS], nfds, i, got;
		bool trunc, ctrunc;
		ssize_t n;

		/* A caller waits first (one system call fewer when the reply
		 * is not there yet); the service only takes what is queued. */
		if (deadline != 0 &&
		    msg_wait(sock, POLLIN, deadline, bell, sleeping) < 0)
			return -1;
		n = cap_recvmsg(sock, iov, room ? 2 : 1, fds, &nfds, &trunc,
		    &ctrunc, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EAGAIN && deadline != 0)
			continue;
		if (n < 0) {
			if (errno == ECONNRESET)
				errno = ENOLINK;
			return -1;
		}
		/* With MSG_TRUNC, n is the message's real length. */
		if (n == 0 || (size_t)n < sizeof(w) || w.magic != WIRE_CALL ||
		    w.len > COCALL_MAXLEN || w.len != (size_t)n - sizeof(w) ||
		    w.ncaps > COCALL_MAXCAPS || w.seq != seq) {
			for (i = 0; i < nfds; i++)
				sys_close(fds[i]);
			if (n == 0) {
				errno = ENOLINK;
				return -1;
			}
			/* Stale: the reply to a call that timed out. */
			if ((size_t)n >= sizeof(w) && w.magic == WIRE_CALL &&
			    w.seq != seq && ++stale <= STALE_MAX)
				continue;
			errno = EPROTO;
			return -1;
		}
		if (w.error != 0) {
			for (i = 0; i < nfds; i++)
				sys_close(fds[i]);
			errno = w.error;
			return MSG_PEER_ERROR;
		}
		got = cap_unpack(w.kinds, (int)w.ncaps, fds, nfds, caps,
		    capsroom);
		if (got < 0) {
			/* Descriptors lost on the way: we are out of them. */
			errno = ctrunc ? EMFILE : EPROTO;
			return -1;
		}
		*ncapsp = got;
		return (ssize_t)w.len;
	}
}
