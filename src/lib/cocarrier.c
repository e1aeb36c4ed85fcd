/*
 * COCARRIER: single copy.  The sender copies the message once into a new
 * memfd and seals it against writing, growing and shrinking (nobody, the
 * sender included, can change it from then on: the kernel refuses), then
 * queues the descriptor on the port's datagram socket.  One receiver takes
 * it (the kernel gives each datagram to exactly one) and maps it
 * read-only.  Only receivers hold that socket; senders can only connect
 * to it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "coport_int.h"

#define MESSAGE_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* The address a zero-length message is viewed at. */
static const char empty_message;

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = sys_write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One try at queueing fd on s, within the bounds on queued bytes: 0, or
 * -1 with errno (EAGAIN: no room now, in bytes or in the queue). */
static int
carrier_put(struct port_obj *o, int s, const struct port_dgram *d, int fd,
    size_t len)
{
	if (carrier_reserve(o, len) < 0)
		return -1;
	if (fd_sendmsg(s, d, sizeof(*d), NULL, 0, &fd, 1, MSG_DONTWAIT) < 0) {
		int e = errno;

		carrier_unreserve(o, len);
		errno = (e == ECONNREFUSED || e == ENOTCONN) ? EPIPE : e;
		return -1;
	}
	carrier_queued(o, len);
	return 0;
}

ssize_t
carrier_send(struct port_obj *o, const void *buf, size_t len, bool nonblock)
{
	struct port_dgram d = { CARRIER_MAGIC, COPORT_SHM_VERSION, len };
	int s, fd, r;

	if (len > COCARRIER_MAXLEN || carrier_fits(o, len) < 0) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((s = port_own_socket(o)) < 0)
		return -1;
	fd = sys_memfd_create("cocarrier", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (write_all(fd, buf, len) < 0 || sys_fcntl(fd, F_ADD_SEALS, MESSAGE_SEALS) < 0)
		goto fail;
	while (carrier_put(o, s, &d, fd, len) < 0) {
		if (errno != EAGAIN || nonblock)
			goto fail;
		/* No room: wait for a receiver to take a message. */
		if (port_receivers_gone(o)) {
			errno = EPIPE;
			goto fail;
		}
		uint32_t snap = portbell_arm(&o->bell->out_sleepers, &o->bell->out_seq);
		r = carrier_put(o, s, &d, fd, len);
		if (r < 0 && errno == EAGAIN)
			(void)portbell_sleep(&o->bell->out_seq, snap, -1);
		portbell_disarm(&o->bell->out_sleepers);
		if (r == 0)
			break;
	}
	sys_close(fd);
	__atomic_add_fetch(&o->bell->carrier_sent, 1, __ATOMIC_RELAXED);
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	return (ssize_t)len;
fail:
	r = errno;
	sys_close(fd);
	errno = r;
	return -1;
}

/* Take one datagram: 1 with a view, 0 if it was not a message (dropped),
 * -1 with errno (EAGAIN: none queued). */
static int
carrier_take(struct port_obj *o, void **bufp, size_t *lenp)
{
	struct port_dgram d;
	struct iovec iov = { &d, sizeof(d) };
	int fds[WIRE_MAXFDS], nfds = 0;
	bool trunc = false, ctrunc = false;
	size_t size, len;
	void *map = NULL;
	ssize_t n;

	n = cap_recvmsg(o->take_sock, &iov, 1, fds, &nfds, &trunc, &ctrunc,
	    MSG_DONTWAIT);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(d) || trunc || nfds != 1 ||
	    d.magic != CARRIER_MAGIC || d.len > COCARRIER_MAXLEN ||
	    !memfd_check(fds[0], F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW,
	    (size_t)d.len, &size)) {
		/* a sender's garbage spoils only that message */
		for (int i = 0; i < nfds; i++)
			sys_close(fds[i]);
		return 0;
	}
	len = (size_t)d.len;
	if (len > 0) {
		map = sys_mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE,
		    fds[0], 0);
		if (map == MAP_FAILED) {
			sys_close(fds[0]);
			return -1;	/* the message is lost with it */
		}
	}
	sys_close(fds[0]);
	if (view_add(o, map != NULL ? map : (void *)&empty_message, map, len, NULL) < 0)
		return -1;
	*bufp = map != NULL ? map : (void *)&empty_message;
	*lenp = len;
	return 1;
}

ssize_t
carrier_recv(struct port_obj *o, void **bufp, bool nonblock)
{
	size_t len;
	int r;

	for (;;) {
		r = carrier_take(o, bufp, &len);
		if (r > 0)
			break;
		if (r == 0)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (port_senders_gone(o)) {
			if ((r = carrier_take(o, bufp, &len)) > 0)
				break;
			if (r == 0)
				continue;
			if (errno == EAGAIN)
				errno = EPIPE;
			return -1;
		}
		if (nonblock)
			return -1;
		uint32_t snap = portbell_arm(&o->bell->in_sleepers, &o->bell->in_seq);
		if (!(carrier_ready(o, COPOLL_IN) & COPOLL_IN))
			(void)portbell_sleep(&o->bell->in_seq, snap, -1);
		portbell_disarm(&o->bell->in_sleepers);
	}
	__atomic_add_fetch(&o->bell->carrier_received, 1, __ATOMIC_SEQ_CST);
	portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
	return (ssize_t)len;
}

int
carrier_ready(struct port_obj *o, int events)
{
	int rev = 0, n = 0;

	if ((events & COPOLL_IN) && o->take_sock >= 0 &&
	    sys_ioctl(o->take_sock, SIOCINQ, &n) == 0 && n > 0)
		rev |= COPOLL_IN;
	if (events & COPOLL_OUT)
		rev |= COPOLL_OUT;	/* a full queue shows only on sending */
	return rev;
}
