/*
 * COCARRIER: once cosend() returns, no one can change the message, its
 * sender included.  Two ways there (docs/coports.md):
 *
 *  - The staging ring.  The sender writes the record into its ring (the
 *    rings of cochannel.c: only its sender can write one, receivers map
 *    it read-only), publishes it and waits; a receiver copies it into
 *    its own view memory (carrier_views.c: read-only to the caller) and
 *    claims it (CAS of cons).  If no receiver took it within the spin
 *    budget (or, one having started to copy it, within a sleep slice),
 *    the sender takes it back by the same CAS: exactly one of them wins.
 *    No system call while a receiver keeps up.
 *  - The socket.  A message taken back, longer than the ring takes, or
 *    whose ring cannot be made (comsgd gone): the sender copies it once
 *    into a new memfd and seals it against writing, growing and
 *    shrinking (the kernel refuses every change from then on), then
 *    queues the descriptor on the port's datagram socket.  One receiver
 *    takes it (the kernel gives each datagram to exactly one) and maps it
 *    read-only.  Only receivers hold that socket; senders can only
 *    connect to it.
 *
 * One sender's messages reach each receiver in order: a message is
 * counted (bell->carrier_sent) before it is queued on the socket, so
 * before its sender publishes its next record, and counted again when
 * received (carrier_received); a receiver that finds a record while the
 * two counts differ takes from the socket first.
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

/* ---- the staging ring ---- */

enum { RING_TAKEN, RING_LEFT };

/* How long a sender whose record no one took waits while receivers are
 * in corecv() before it takes the record back (ms). */
#define RECEIVERS_WAIT_MS	2
/* Spin budgets a receiver spends on a sender writing a record. */
#define UNDERWAY_BUDGETS	16

/* May the socket hold a message?  Its counts say so without a system
 * call (a message is counted before it is queued). */
static bool
socket_may_hold(const struct port_obj *o)
{
	return LOAD_ACQ(&o->bell->carrier_sent) !=
	    LOAD_ACQ(&o->bell->carrier_received);
}

/*
 * Put the message through our ring: RING_TAKEN once a receiver has
 * copied and claimed it, RING_LEFT if it is to go through the socket (we
 * took it back, or the ring cannot take it).  tx_lock is held throughout:
 * one record in flight per ring, so a receiver never finds an older one
 * behind it.
 */
static int
ring_send(struct port_obj *o, const void *buf, size_t len, bool nonblock)
{
	/* the budget, plus what a receiver's copy of len bytes takes (at
	 * some 16 bytes a nanosecond) */
	uint64_t spins = spin_budget() + (uint64_t)spin_budget() * (len / 16) /
	    SPIN_NS;
	int64_t deadline = -1;
	bool copying = false;
	struct tx_ring *t;
	uint64_t pos, end;

	if (port_receivers_gone(o))
		return RING_LEFT;
	pthread_mutex_lock(&o->tx_lock);
	/* Try the ring if a receiver took our last record, or is in
	 * corecv(), or the socket holds nothing: receivers keep up, and one
	 * will be back.  Else none will take it soon (the socket's queue
	 * grows: its order is kept, and the ring is tried again once
	 * receivers have drained it). */
	if (!LOAD_RLX(&o->carrier_kept_up) &&
	    LOAD_RLX(&o->bell->carrier_receiving) == 0 && socket_may_hold(o)) {
		pthread_mutex_unlock(&o->tx_lock);
		return RING_LEFT;
	}
	/* Empty, or a receiver scribbled on cons: then the socket only.
	 * A message longer than the ring takes goes there too (EMSGSIZE). */
	if ((o->tx != NULL && LOAD_ACQ(&o->tx->cons->cons) != o->tx->prod->prod) ||
	    chan_put_locked(o, buf, len, true, &pos) < 0) {
		pthread_mutex_unlock(&o->tx_lock);
		return RING_LEFT;
	}
	t = o->tx;
	end = pos + RING_REC_SIZE(len);
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	for (;;) {
		if (LOAD_ACQ(&t->cons->cons) != pos)
			break;	/* claimed (or scribbled over: theirs too) */
		if (spins > 0) {
			spins--;
			cpu_relax();
			continue;
		}
		/* Taking it back costs both sides the socket's system calls:
		 * wait a slice for a receiver copying it, or if receivers
		 * took our last one (they keep up: one descheduled comes
		 * back), a little if one is in corecv() (it may be taking
		 * another's, or be waking); and while they make progress
		 * (they may be taking what was queued before ours). */
		if (!nonblock && !copying && LOAD_RLX(&t->cons->taking) == pos) {
			copying = true;
			deadline = now_ms() + SLEEP_SLICE_MS;
		} else if (!nonblock && deadline < 0) {
			deadline = now_ms() + (LOAD_RLX(&o->carrier_kept_up) ?
			    SLEEP_SLICE_MS : LOAD_RLX(&o->bell->carrier_receiving) > 0 ?
			    RECEIVERS_WAIT_MS : 0);
		}
		if (now_ms() < deadline) {
			/* they ring out for every message they take */
			uint32_t snap = portbell_arm(&o->bell->out_sleepers,
			    &o->bell->out_seq);

			if (LOAD_ACQ(&t->cons->cons) == pos)
				(void)portbell_sleep(&o->bell->out_seq, snap,
				    deadline);
			portbell_disarm(&o->bell->out_sleepers);
			if (LOAD_RLX(&o->bell->out_seq) != snap &&
			    deadline - now_ms() < RECEIVERS_WAIT_MS)
				deadline = now_ms() + RECEIVERS_WAIT_MS;
			continue;
		}
		/* Take it back: our CAS or a receiver's claim, not both. */
		if (__atomic_compare_exchange_n(&t->cons->cons, &pos, end, false,
		    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			STORE_RLX(&o->carrier_kept_up, false);
			pthread_mutex_unlock(&o->tx_lock);
			return RING_LEFT;
		}
		break;
	}
	STORE_RLX(&o->carrier_kept_up, true);
	pthread_mutex_unlock(&o->tx_lock);
	return RING_TAKEN;
}

/* Is a datagram queued on the socket (a system call)? */
static bool
socket_queued(const struct port_obj *o)
{
	int n = 0;

	return o->take_sock >= 0 && sys_ioctl(o->take_sock, SIOCINQ, &n) == 0 &&
	    n > 0;
}

static int carrier_take(struct port_obj *o, bool locked, void **bufp,
    size_t *lenp);

/*
 * A receiver's destination for a ring's record: a view in our view
 * memory.  But while the socket may hold a message sent before it (the
 * counts differ), the socket's message first (EALREADY: in *v): looked
 * for now that we have seen the record, since its sender queued what it
 * sent before on the socket before publishing it.
 */
struct view_dest {
	struct chan_dest d;
	void		*view;
	size_t		 len;		/* EALREADY: the socket's message */
};

static void *
view_get(struct chan_dest *d, struct port_obj *o, size_t len)
{
	struct view_dest *v = (struct view_dest *)d;
	void *rw;
	int r;

	while (socket_may_hold(o)) {
		if ((r = carrier_take(o, true, &v->view, &v->len)) > 0) {
			errno = EALREADY;
			return NULL;
		}
		if (r < 0 && errno != EAGAIN)
			return NULL;
		if (r < 0)
			break;	/* none: those counted were taken, or come
				   after this record */
	}
	if ((v->view = cview_alloc_locked(o, len, &rw)) == NULL) {
		errno = ENOBUFS;	/* its sender takes it the other way */
		return NULL;
	}
	return rw;
}

static void
view_done(struct chan_dest *d, struct port_obj *o, void *to, bool claimed)
{
	struct view_dest *v = (struct view_dest *)d;

	(void)to;
	if (claimed)
		cview_commit_locked(o, v->view);
	else
		cview_free_locked(o, v->view);
}

/* ---- the socket ---- */

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
	/* Counted before it can be taken, so that the count of those sent
	 * is never behind that of those received (the order rule). */
	__atomic_add_fetch(&o->bell->carrier_sent, 1, __ATOMIC_SEQ_CST);
	if (fd_sendmsg(s, d, sizeof(*d), NULL, 0, &fd, 1, MSG_DONTWAIT) < 0) {
		int e = errno;

		__atomic_sub_fetch(&o->bell->carrier_sent, 1, __ATOMIC_SEQ_CST);
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
	if (ring_send(o, buf, len, nonblock) == RING_TAKEN)
		return (ssize_t)len;
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
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	return (ssize_t)len;
fail:
	r = errno;
	sys_close(fd);
	errno = r;
	return -1;
}

/* Take one datagram: 1 with a view, 0 if it was not a message (dropped),
 * -1 with errno (EAGAIN: none queued).  locked: o->lock is held. */
static int
carrier_take(struct port_obj *o, bool locked, void **bufp, size_t *lenp)
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
	/* Taken from the queue: counted whatever becomes of it, or the
	 * counts would differ for good (socket_may_hold()). */
	__atomic_add_fetch(&o->bell->carrier_received, 1, __ATOMIC_SEQ_CST);
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
	*bufp = map != NULL ? map : (void *)&empty_message;
	if ((locked ? view_add_locked(o, *bufp, map, len, NULL) :
	    view_add(o, *bufp, map, len, NULL)) < 0)
		return -1;
	*lenp = len;
	return 1;
}

/*
 * Any holder can write the socket's counts: look at the socket anyway
 * once a slice passed since we last did (the clock read every 64th
 * look), so that a message queued there waits at most that long.
 */
static bool
socket_due(struct port_obj *o)
{
	int64_t now;

	if ((__atomic_add_fetch(&o->carrier_looks, 1, __ATOMIC_RELAXED) & 63) != 0)
		return false;
	now = now_ms();
	if (now - LOAD_RLX(&o->carrier_socket_ms) < SLEEP_SLICE_MS)
		return false;
	STORE_RLX(&o->carrier_socket_ms, now);
	return true;
}

/*
 * One look at the rings, then the socket (a system call: only if its
 * counts say a message may be there, or if `always`: after a sleep slice
 * that passed without a wake-up, and at the end; or once a slice passed,
 * socket_due()): 1 with a message (*bufp, *lenp), 0 none, -1 with errno.
 */
static int
carrier_look(struct port_obj *o, bool always, void **bufp, size_t *lenp)
{
	struct view_dest v = { { view_get, view_done, true }, NULL, 0 };
	ssize_t n;
	int r;

	if ((n = chan_take(o, &v.d)) >= 0 || errno == EALREADY) {
		*bufp = v.view;
		*lenp = n >= 0 ? (size_t)n : v.len;
		return 1;
	}
	/* ENOBUFS: no view memory for a record, it stays for its sender to
	 * take back; ENOLINK: comsgd went before we knew the rings */
	if (errno != EAGAIN && errno != ENOBUFS && errno != ENOLINK)
		return -1;
	if (!always && !socket_may_hold(o) && !socket_due(o))
		return 0;
	while ((r = carrier_take(o, false, bufp, lenp)) == 0)
		;	/* not a message: dropped */
	if (r < 0 && errno == EAGAIN)
		return 0;
	return r;
}

ssize_t
carrier_recv(struct port_obj *o, void **bufp, bool nonblock)
{
	unsigned spins = nonblock ? 0 : spin_budget(), underway = 0;
	bool quiet = nonblock;
	size_t len;
	int r;

	__atomic_add_fetch(&o->bell->carrier_receiving, 1, __ATOMIC_RELAXED);
	for (;;) {
		/* spinning, a sender's record is taken while it waits */
		if ((r = carrier_look(o, quiet, bufp, &len)) != 0)
			break;
		if (spins > 0) {
			spins--;
			cpu_relax();
			continue;
		}
		/* A sender writing a record (a long one takes a while): spin
		 * on, some budgets at most (it may have died writing). */
		if (!nonblock && underway++ < UNDERWAY_BUDGETS && chan_underway(o)) {
			spins = spin_budget();
			continue;
		}
		if (port_senders_gone(o)) {
			/* One more look, at the socket too.  (A sender's
			 * cosend() returns only once its record is taken or
			 * taken back: what a ring still holds now is the
			 * record of one that died sending it, not sent.) */
			if ((r = carrier_look(o, true, bufp, &len)) == 0) {
				errno = EPIPE;
				r = -1;
			}
			break;
		}
		if (nonblock) {
			errno = EAGAIN;
			r = -1;
			break;
		}
		uint32_t snap = portbell_arm(&o->bell->in_sleepers, &o->bell->in_seq);
		/* senders publish without a fence (cochannel.c) */
		int slice = chan_sync_senders() < 0 ? CHAN_UNSYNCED_SLICE_MS :
		    SLEEP_SLICE_MS;

		quiet = false;
		/* The re-check: the rings, and the socket's queue if its
		 * counts say it may hold one (a system call, on the way to
		 * sleep; counts forged to differ cost one a sleep, and do
		 * not keep us awake). */
		if (!(chan_ready(o, COPOLL_IN) & COPOLL_IN) &&
		    !(socket_may_hold(o) && socket_queued(o))) {
			(void)portbell_sleep(&o->bell->in_seq, snap, now_ms() + slice);
			/* a whole slice, and no one rang */
			quiet = slice == SLEEP_SLICE_MS &&
			    LOAD_ACQ(&o->bell->in_seq) == snap;
		}
		portbell_disarm(&o->bell->in_sleepers);
	}
	__atomic_sub_fetch(&o->bell->carrier_receiving, 1, __ATOMIC_RELAXED);
	if (r < 0)
		return -1;
	portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
	return (ssize_t)len;
}

int
carrier_ready(struct port_obj *o, int events)
{
	int rev = 0;

	if ((events & COPOLL_IN) && socket_queued(o))
		rev |= COPOLL_IN;
	if ((events & COPOLL_IN) && !(rev & COPOLL_IN))
		rev |= chan_ready(o, COPOLL_IN);
	if (events & COPOLL_OUT)
		rev |= COPOLL_OUT;	/* a full queue shows only on sending */
	return rev;
}
