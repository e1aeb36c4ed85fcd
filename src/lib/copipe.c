/*
 * COPIPE: rendezvous, single copy.  A receiver makes a fresh area (a
 * memfd, header page then room for the message), sends it as a ticket on
 * the port's datagram socket, and waits; one sender takes the ticket,
 * claims the area, copies its message straight into it, and both return.
 * A sender can write only into areas receivers gave it, each used for one
 * message; only senders hold that socket, receivers can only connect.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "coport_int.h"

#define ROUND_PAGE(n)	(((n) + PAGE - 1) & ~(uint64_t)(PAGE - 1))

/* How long a non-blocking corecv() waits for a sender said to be waiting. */
#define NONBLOCK_WAIT_MS	SLEEP_SLICE_MS

static bool
pid_gone(uint32_t pid)
{
	return pid == 0 || pid > INT32_MAX ||
	    (sys_kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}

/* Withdraw our area if no sender claimed it: true if withdrawn. */
static bool
area_cancel(struct pipe_area *a, uint32_t from)
{
	return __atomic_compare_exchange_n(&a->status, &from, AREA_CANCELLED,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

ssize_t
pipe_recv(struct port_obj *o, void **bufp, size_t len, bool nonblock)
{
	struct port_dgram d = { TICKET_MAGIC, COPORT_SHM_VERSION, len };
	struct pipe_area *a;
	int64_t start;
	uint64_t msglen;
	size_t maplen;
	int s, fd, e;

	if (len > COPIPE_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	maplen = PAGE + ROUND_PAGE(len);	/* len is bounded: no wrap */
	if (nonblock && LOAD_ACQ(&o->bell->pipe_senders) == 0) {
		errno = port_senders_gone(o) ? EPIPE : EAGAIN;
		return -1;
	}
	if ((s = port_own_socket(o)) < 0)
		return -1;
again:
	fd = sys_memfd_create("copipe-area", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (sys_ftruncate(fd, (off_t)maplen) < 0 ||
	    (a = sys_mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED)
		goto fail_fd;
	a->magic = AREA_MAGIC;
	a->version = COPORT_SHM_VERSION;
	a->capacity = len;
	a->status = AREA_WAITING;
	/* A sender must not fault on an area we shrink under it. */
	if (sys_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail_map;
	while (fd_sendmsg(s, &d, sizeof(d), NULL, 0, &fd, 1, MSG_DONTWAIT) < 0) {
		if (errno == ECONNREFUSED || errno == ENOTCONN)
			errno = EPIPE;
		if (errno != EAGAIN)
			goto fail_map;
		/* The socket's queue is full of tickets (withdrawn ones
		 * wait for a sender to skip them): wait for the next sender
		 * to announce itself on the "in" bell, or a slice. */
		uint32_t snap = portbell_arm(&o->bell->in_sleepers, &o->bell->in_seq);
		(void)portbell_sleep(&o->bell->in_seq, snap, -1);
		portbell_disarm(&o->bell->in_sleepers);
	}
	sys_close(fd);
	portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
	start = now_ms();
	for (unsigned spins = spin_budget();; spins = 0) {
		uint32_t st = LOAD_ACQ(&a->status);

		if (st == AREA_FILLED)
			break;
		if (st == AREA_TOOSMALL) {
			sys_munmap(a, maplen);
			errno = EMSGSIZE;
			return -1;
		}
		if (st == AREA_WAITING) {
			bool give_up = port_senders_gone(o) ||
			    (nonblock && now_ms() - start >= NONBLOCK_WAIT_MS);

			if (give_up && spins == 0 && area_cancel(a, AREA_WAITING)) {
				sys_munmap(a, maplen);
				errno = port_senders_gone(o) ? EPIPE : EAGAIN;
				return -1;
			}
		} else if (st == AREA_CLAIMED) {
			/* its sender died mid-copy: nothing was delivered */
			if (spins == 0 && pid_gone(LOAD_RLX(&a->claimer)) &&
			    area_cancel(a, AREA_CLAIMED)) {
				sys_munmap(a, maplen);
				goto again;
			}
		} else if (st != AREA_CANCELLED) {
			/* a sender scribbled: the area is spoiled, try anew */
			if (area_cancel(a, st)) {
				sys_munmap(a, maplen);
				goto again;
			}
		}
		if (spins > 0) {
			while (spins-- > 0 && LOAD_ACQ(&a->status) == st)
				cpu_relax();
			continue;
		}
		(void)futex_wait(&a->status, st, SLEEP_SLICE_MS);
	}
	msglen = LOAD_ACQ(&a->msglen);
	if (msglen > len) {		/* a sender lied */
		sys_munmap(a, maplen);
		errno = EPROTO;
		return -1;
	}
	if (*bufp == NULL) {
		if (view_add(o, (uint8_t *)a + PAGE, a, maplen) < 0)
			return -1;
		*bufp = (uint8_t *)a + PAGE;
	} else {
		copy_bytes(*bufp, (uint8_t *)a + PAGE, (size_t)msglen);
		sys_munmap(a, maplen);
	}
	return (ssize_t)msglen;
fail_map:
	e = errno;
	sys_munmap(a, maplen);
	errno = e;
fail_fd:
	e = errno;
	sys_close(fd);
	errno = e;
	return -1;
}

/*
 * Deliver into the area of one ticket: 1 delivered, 0 not (withdrawn,
 * too small, bogus: look for another), -1 with errno (EAGAIN: no ticket).
 */
static int
pipe_deliver(struct port_obj *o, const void *buf, size_t len)
{
	struct port_dgram d;
	struct iovec iov = { &d, sizeof(d) };
	int fds[WIRE_MAXFDS], nfds = 0, r = 0;
	bool trunc = false, ctrunc = false;
	uint32_t waiting = AREA_WAITING, claimed = AREA_CLAIMED;
	struct pipe_area *a;
	size_t size;
	uint64_t cap;
	ssize_t n;

	n = cap_recvmsg(o->take_sock, &iov, 1, fds, &nfds, &trunc, &ctrunc,
	    MSG_DONTWAIT);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(d) || trunc || nfds != 1 ||
	    d.magic != TICKET_MAGIC ||
	    !memfd_check(fds[0], F_SEAL_SHRINK | F_SEAL_GROW, PAGE, &size) ||
	    (a = sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0)) ==
	    MAP_FAILED)
		goto out;
	cap = LOAD_RLX(&a->capacity);
	if (cap > size - PAGE)
		cap = size - PAGE;	/* the receiver lied: bound it */
	STORE_RLX(&a->claimer, (uint32_t)getpid());
	if (!__atomic_compare_exchange_n(&a->status, &waiting, AREA_CLAIMED,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		goto unmap;		/* withdrawn */
	if (len > cap) {
		STORE_RLX(&a->msglen, len);
		__atomic_compare_exchange_n(&a->status, &claimed, AREA_TOOSMALL,
		    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
		futex_wake(&a->status);
		goto unmap;
	}
	copy_bytes((uint8_t *)a + PAGE, buf, len);
	STORE_RLX(&a->msglen, len);
	/* Delivered only if the receiver did not withdraw meanwhile. */
	if (__atomic_compare_exchange_n(&a->status, &claimed, AREA_FILLED,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
		futex_wake(&a->status);
		r = 1;
	}
unmap:
	sys_munmap(a, size);
out:
	for (int i = 0; i < nfds; i++)
		sys_close(fds[i]);
	return r;
}

ssize_t
pipe_send(struct port_obj *o, const void *buf, size_t len, bool nonblock)
{
	bool counted = false;
	ssize_t r = -1;
	int got;

	if (len > COPIPE_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		got = pipe_deliver(o, buf, len);
		if (got > 0) {
			r = (ssize_t)len;
			break;
		}
		if (got == 0)
			continue;
		if (errno != EAGAIN || nonblock)
			break;
		if (port_receivers_gone(o)) {
			errno = EPIPE;
			break;
		}
		if (!counted) {
			/* Tell receivers (and their copoll) a sender waits. */
			__atomic_add_fetch(&o->bell->pipe_senders, 1, __ATOMIC_SEQ_CST);
			counted = true;
			portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
		}
		uint32_t snap = portbell_arm(&o->bell->out_sleepers, &o->bell->out_seq);
		if (!(pipe_ready(o, COPOLL_OUT) & COPOLL_OUT))
			(void)portbell_sleep(&o->bell->out_seq, snap, -1);
		portbell_disarm(&o->bell->out_sleepers);
	}
	if (counted)
		__atomic_sub_fetch(&o->bell->pipe_senders, 1, __ATOMIC_RELAXED);
	return r;
}

int
pipe_ready(struct port_obj *o, int events)
{
	int rev = 0, n = 0;

	if ((events & COPOLL_IN) && LOAD_ACQ(&o->bell->pipe_senders) > 0)
		rev |= COPOLL_IN;
	if ((events & COPOLL_OUT) && o->take_sock >= 0 &&
	    sys_ioctl(o->take_sock, SIOCINQ, &n) == 0 && n > 0)
		rev |= COPOLL_OUT;
	return rev;
}
