/*
 * COPIPE: rendezvous, single copy.  A receiving opening and each sending
 * opening it serves share a pair (coport_shm.h): a page of words and a
 * pool, made by the receiver and offered as a ticket on the port's
 * socket, kept by the sender that takes it.  The receiver keeps an area
 * of its pool open; a message is a claim, a copy into that area and a
 * fill by the sender, then the receiver's acceptance, and the receiver
 * reads it where it lies.  Only making a pair, growing its pool, and
 * sleeping take system calls.  Only senders hold the port's socket
 * (tickets arrive there); receivers can only connect to it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "coport_int.h"

#define AREA_ALIGN	64u	/* areas start on a cache line */
#define POOL_FIRST	((uint64_t)64 << 10)	/* a new pool's bytes, at least */
#define PAIRS_MAX	64	/* pairs an opening keeps, on each side */
#define TICKETS_PER_LOOK 16	/* tickets a sender takes at one look */
#define PAIR_MAPLEN	((size_t)(PAGE + PAIR_POOL_MAX))
#define SPIN_BACKOFF	1	/* pauses between two looks while spinning */

/* How long a non-blocking call waits for the other side it saw. */
#define NONBLOCK_WAIT_MS	SLEEP_SLICE_MS

#define ROUND_UP(n, a)	(((n) + (a) - 1) & ~(uint64_t)((a) - 1))

/* Has process pid ended?  A zombie has (kill() still finds it until its
 * parent reaps it: a pidfd says it exited).  Only on slow paths. */
static bool
pid_gone(uint32_t pid)
{
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	bool gone;

	if (pid == 0 || pid > INT32_MAX)
		return true;
	if (sys_kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return true;
	if ((pfd.fd = sys_pidfd_open((pid_t)pid, 0)) < 0)
		return errno == ESRCH;
	gone = sys_poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
	sys_close(pfd.fd);
	return gone;
}

/* Every change of status is a CAS (seq_cst: it publishes what was written
 * before it, and orders against the sleepers' flags read after it). */
static bool
pair_cas(struct pipe_pair *pg, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(&pg->status, &from, to, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* After a change of status: wake the sender if it sleeps on it.  The
 * load is seq_cst, as the sender's store of tx_sleeping is: with the CAS
 * before it, either we see the flag or the sender's futex_wait() sees the
 * new status (a relaxed load may be done before the CAS's store is seen,
 * on arm64 with exclusives, and the sender would sleep its slice out). */
static void
pair_wake_sender(struct pipe_pair *pg)
{
	if (__atomic_load_n(&pg->tx_sleeping, __ATOMIC_SEQ_CST))
		futex_wake(&pg->status);
}

/* Leave the pair for good, in whatever state, keeping its round.  Wakes
 * a sender sleeping on it. */
static void
pair_close(struct pipe_pair *pg)
{
	uint32_t w = LOAD_RLX(&pg->status);

	while (PAIR_STATE(w) != PAIR_CLOSED &&
	    !__atomic_compare_exchange_n(&pg->status, &w,
	    PAIR_WORD(PAIR_ROUND(w), PAIR_CLOSED), false, __ATOMIC_SEQ_CST,
	    __ATOMIC_RELAXED))
		;
	pair_wake_sender(pg);
}

static void
spin_a_little(unsigned *spins)
{
	for (int i = 0; i < SPIN_BACKOFF && *spins > 0; i++, (*spins)--)
		cpu_relax();
}

/* ---- the receiver's side ---- */

static void
rx_pair_free(struct rx_pair *p)
{
	sys_munmap(p->pg, PAIR_MAPLEN);
	sys_close(p->fd);
	free(p->views);
	free(p);
}

/* Remove the i-th pair from our list and free it (no view in it). */
static void
rx_drop(struct port_obj *o, int i)
{
	rx_pair_free(o->rxp[i]);
	o->rxp[i] = o->rxp[--o->nrxp];
}

/* Make the pool hold end bytes: 0, or -1 with errno. */
static int
rx_grow(struct rx_pair *p, uint64_t end)
{
	uint64_t size = p->size * 2;

	if (end <= p->size)
		return 0;
	if (size < end)
		size = ROUND_UP(end, PAGE);
	if (size > PAIR_POOL_MAX)
		size = PAIR_POOL_MAX;
	if (sys_ftruncate(p->fd, (off_t)(PAGE + size)) < 0)
		return -1;
	p->size = size;
	return 0;
}

/* The lowest place for cap bytes clear of the views held in the pool
 * (the start, or the end of a view). */
static uint64_t
rx_fit(const struct rx_pair *p, uint64_t cap)
{
	uint64_t best = UINT64_MAX;

	for (int c = -1; c < p->nviews; c++) {
		uint64_t at = c < 0 ? 0 : ROUND_UP(p->views[c].end, AREA_ALIGN);
		bool clear = at < best;

		for (int i = 0; i < p->nviews && clear; i++)
			clear = at + cap <= p->views[i].start ||
			    at >= p->views[i].end;
		if (clear)
			best = at;
	}
	return best;
}

/* Room to record one more view: the message an open area takes may
 * become one.  0, or -1 with ENOMEM. */
static int
rx_views_room(struct rx_pair *p)
{
	int room = p->views_room ? 2 * p->views_room : 4;
	struct pool_range *v;

	if (p->nviews < p->views_room)
		return 0;
	if ((v = realloc(p->views, (size_t)room * sizeof(*v))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	p->views = v;
	p->views_room = room;
	return 0;
}

/*
 * Open the pair's round with an area of cap bytes clear of the views
 * held in its pool: the pair is HELD by us.  If the pool cannot take it
 * (its reach, or no memory), the pair stays HELD, offered to nobody, and
 * the next call tries again; if its sender closed it, it is CLOSED.
 */
static void
rx_open(struct port_obj *o, struct rx_pair *p, uint64_t cap)
{
	uint64_t off = rx_fit(p, cap);

	if (rx_views_room(p) < 0 || off > PAIR_POOL_MAX || cap > PAIR_POOL_MAX - off ||
	    rx_grow(p, off + cap) < 0)
		return;
	p->off = off;
	p->cap = cap;
	STORE_RLX(&p->pg->area_off, off);
	STORE_RLX(&p->pg->area_cap, cap);
	if (pair_cas(p->pg, PAIR_WORD(p->round, PAIR_HELD),
	    PAIR_WORD(p->round, PAIR_OPEN)))
		portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
}

/* Take the pair from state word w to HELD in the round after w's: true
 * if we did (nobody changed it meanwhile). */
static bool
rx_hold(struct rx_pair *p, uint32_t w)
{
	uint32_t next = PAIR_NEXT_ROUND(PAIR_ROUND(w));

	if (!pair_cas(p->pg, w, PAIR_WORD(next, PAIR_HELD)))
		return false;
	p->round = next;
	return true;
}

/*
 * One look at a pair for a call taking len bytes: 1 with its message
 * accepted (*lenp), 0 nothing to take, -1 with EMSGSIZE (its sender's
 * message is longer than len: it stays where it is).  *busy: a sender is
 * copying.  slow: we are about to sleep, so a system call may be spent
 * on whether a claimer is alive.  Words its sender writes are bounded,
 * never trusted: a sender that scribbles loses its pair.
 */
static int
rx_look(struct port_obj *o, struct rx_pair *p, size_t len, bool slow,
    uint64_t *lenp, bool *busy)
{
	uint32_t w = LOAD_ACQ(&p->pg->status), st = PAIR_STATE(w);
	uint64_t n;

	if (st == PAIR_CLOSED) {
		p->closed = true;
		return 0;
	}
	if (st > PAIR_CLOSED || st == 0) {
		pair_close(p->pg);	/* a sender scribbled */
		p->closed = true;
		return 0;
	}
	switch (st) {
	case PAIR_FILLED:
	case PAIR_TOOSMALL:
		/* The sender wrote msglen (release) before the CAS that made
		 * w, which our acquire load saw, and writes it again only
		 * after a move out of w, which never comes back: a CAS from
		 * w succeeds only while n is w's.  Without a CAS, re-read
		 * status (after our acquire load of msglen). */
		n = LOAD_ACQ(&p->pg->msglen);
		if (st == PAIR_TOOSMALL && n > p->cap) {
			/* the sender's mark: its message is not in our area.
			 * It takes the mark back when its cosend() returns;
			 * one that died cannot. */
			if (n <= len) {
				if (rx_hold(p, w))	/* room for it now */
					rx_open(o, p, len);
				return 0;
			}
			if (LOAD_RLX(&p->pg->status) != w)
				return 0;	/* n may be newer */
			if (pid_gone(LOAD_RLX(&p->pg->tx_pid))) {
				if (pair_cas(p->pg, w, PAIR_WORD(PAIR_ROUND(w), PAIR_CLOSED)))
					p->closed = true;
				return 0;
			}
			errno = EMSGSIZE;
			return -1;
		}
		/* in our area: FILLED, or our own mark of it */
		if (n > p->cap) {
			if (pair_cas(p->pg, w, PAIR_WORD(PAIR_ROUND(w), PAIR_CLOSED))) {
				pair_wake_sender(p->pg);
				p->closed = true;	/* a sender scribbled */
			}
			return 0;
		}
		if (n > len) {
			/* Longer than this call takes: mark it, keeping the
			 * round; it stays in the area, its sender's to take
			 * elsewhere until a call of ours takes it. */
			if (st == PAIR_FILLED) {
				if (!pair_cas(p->pg, w, PAIR_WORD(PAIR_ROUND(w), PAIR_TOOSMALL)))
					return 0;
				pair_wake_sender(p->pg);
			}
			errno = EMSGSIZE;
			return -1;
		}
		if (!rx_hold(p, w))
			return 0;	/* its sender took it back */
		pair_wake_sender(p->pg);
		*lenp = n;
		return 1;
	case PAIR_CLAIMED:
		/* A claimer that died mid-copy delivered nothing.  With no
		 * sender left it has died: a call in progress keeps its
		 * handle, and so its hold, open. */
		if (slow && (port_senders_gone(o) ||
		    pid_gone(LOAD_RLX(&p->pg->tx_pid))) && rx_hold(p, w)) {
			rx_open(o, p, len);
			return 0;
		}
		*busy = true;
		return 0;
	case PAIR_OPEN:
		if (p->cap != len && rx_hold(p, w))	/* this call's size */
			rx_open(o, p, len);
		return 0;
	default:	/* HELD: its pool could not take an area before */
		rx_open(o, p, len);
		return 0;
	}
}

/*
 * One look at every pair, from where the last look stopped: 1 with a
 * message accepted (*pp, *lenp), 0 none, -1 with EMSGSIZE (a waiting
 * message is longer than len, and none fits).  Pairs closed by their
 * sender are freed once no view is held in them.
 */
static int
rx_scan(struct port_obj *o, size_t len, bool slow, struct rx_pair **pp,
    uint64_t *lenp, bool *busy)
{
	bool toolong = false;

	for (int k = 0; k < o->nrxp; k++) {
		int i = (int)((o->rxp_next + (unsigned)k) % (unsigned)o->nrxp);
		struct rx_pair *p = o->rxp[i];
		int r;

		if (p->closed)
			continue;
		r = rx_look(o, p, len, slow, lenp, busy);
		if (r > 0) {
			o->rxp_next = (unsigned)i + 1;
			*pp = p;
			return 1;
		}
		toolong |= r < 0;
	}
	for (int i = o->nrxp - 1; i >= 0; i--)
		if (o->rxp[i]->closed && o->rxp[i]->nviews == 0)
			rx_drop(o, i);
	if (toolong) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Say in every pair whether we wait in corecv() (one thread of ours or
 * more: rx_waiters): senders fill the pools of waiting receivers first,
 * and take back from others what they filled. */
static void
rx_waiting(struct port_obj *o, uint32_t waiting)
{
	for (int i = 0; i < o->nrxp; i++)
		if (!o->rxp[i]->closed)
			STORE_RLX(&o->rxp[i]->pg->rx_waiting, waiting);
	if (waiting)
		portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
}

/* A new pair, open in round 1 with an area of cap bytes; NULL with
 * errno. */
static struct rx_pair *
rx_pair_new(const struct port_obj *o, size_t cap)
{
	struct rx_pair *p = calloc(1, sizeof(*p));
	uint64_t size = ROUND_UP(cap, PAGE);
	int e;

	if (p == NULL)
		return NULL;
	if (rx_views_room(p) < 0)
		goto fail;
	if (size < POOL_FIRST)
		size = POOL_FIRST;
	p->fd = sys_memfd_create("copipe-pair", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (p->fd < 0)
		goto fail;
	/* Mapped to its reach at once: growing it needs no new mapping,
	 * so views into it stay where they are. */
	if (sys_ftruncate(p->fd, (off_t)(PAGE + size)) < 0 ||
	    (p->pg = sys_mmap(NULL, PAIR_MAPLEN, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE, p->fd, 0)) == MAP_FAILED)
		goto fail_fd;
	/* A sender must not fault on a pool we shrink under it. */
	if (sys_fcntl(p->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
		goto fail_map;
	p->pool = (uint8_t *)p->pg + PAGE;
	p->size = size;
	p->round = 1;
	p->cap = cap;
	p->used = o->rxp_clock;
	p->pg->magic = PAIR_MAGIC;
	p->pg->version = COPORT_SHM_VERSION;
	p->pg->rx_pid = (uint32_t)getpid();
	p->pg->rx_id = (uint32_t)o->hold;
	p->pg->area_cap = cap;
	p->pg->rx_waiting = 1;
	p->pg->status = PAIR_WORD(1, PAIR_OPEN);
	return p;
fail_map:
	e = errno;
	sys_munmap(p->pg, PAIR_MAPLEN);
	errno = e;
fail_fd:
	e = errno;
	sys_close(p->fd);
	errno = e;
fail:
	e = errno;
	free(p->views);
	free(p);
	errno = e;
	return NULL;
}

/*
 * Make room for a new pair: drop one no sender took or whose sender is
 * gone, else the one whose last message is the oldest: a sender that
 * holds pairs and sends nothing through them must not keep new senders
 * out (one that still sends asks again; a message it filled goes back
 * to it: CLOSED keeps the round).  Only pairs without views.  False if
 * each has views.
 */
static bool
rx_evict(struct port_obj *o)
{
	int old = -1;

	for (int i = 0; i < o->nrxp; i++) {
		struct rx_pair *p = o->rxp[i];

		if (p->nviews > 0)
			continue;
		if (p->closed || pid_gone(LOAD_RLX(&p->pg->tx_pid))) {
			old = i;
			break;
		}
		if (old < 0 || p->used < o->rxp[old]->used)
			old = i;
	}
	if (old < 0)
		return false;
	pair_close(o->rxp[old]->pg);
	rx_drop(o, old);
	return true;
}

/* Do we have a pair a sender took, still in use? */
static bool
rx_live(const struct port_obj *o)
{
	for (int i = 0; i < o->nrxp; i++)
		if (!o->rxp[i]->closed && LOAD_RLX(&o->rxp[i]->pg->tx_pid) != 0)
			return true;
	return false;
}

/*
 * A sender asks for a new pair, or one waits and we have none in use:
 * offer a new pair on the port's socket, unless one of ours still waits
 * there (the kernel charges a queued datagram to the socket that sent
 * it), and tell the senders (pipe_offers).  Only on the way to sleep, and
 * only then system calls.  0, or -1 with errno if a pair could not be
 * made (EMFILE, ENFILE, ENOMEM, EFBIG); a ticket the socket does not take
 * now is tried again on the next way to sleep.
 */
static int
rx_offer(struct port_obj *o, size_t len)
{
	struct port_dgram d = { TICKET_MAGIC, COPORT_SHM_VERSION, len };
	struct rx_pair *p, **v;
	int s, queued = 0;

	if (LOAD_ACQ(&o->bell->pipe_wanted) == 0 &&
	    (LOAD_ACQ(&o->bell->pipe_senders) == 0 || rx_live(o)))
		return 0;
	if ((s = port_own_socket(o)) < 0)
		return errno == EPIPE ? 0 : -1;	/* EPIPE: no sender left */
	if (sys_ioctl(s, SIOCOUTQ, &queued) < 0 || queued > 0 ||
	    (o->nrxp == PAIRS_MAX && !rx_evict(o)))
		return 0;
	v = realloc(o->rxp, (size_t)(o->nrxp + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	o->rxp = v;
	if ((p = rx_pair_new(o, len)) == NULL)
		return -1;
	if (fd_sendmsg(s, &d, sizeof(d), NULL, 0, &p->fd, 1, MSG_DONTWAIT) < 0) {
		rx_pair_free(p);
		return 0;
	}
	o->rxp[o->nrxp++] = p;
	__atomic_add_fetch(&o->bell->pipe_offers, 1, __ATOMIC_SEQ_CST);
	portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
	return 0;
}

/* Sleep on a bell for at most ms: true if the time ran out, not woken. */
static bool
bell_sleep(uint32_t *seq, uint32_t snap, int ms)
{
	return futex_wait(seq, snap, ms < 0 ? 0 : ms) < 0 && errno == ETIMEDOUT;
}

/* Hand the accepted message of n bytes in p's area to the caller, as a
 * view or a copy, and open the pair again where no view is held. */
static void
rx_deliver(struct port_obj *o, struct rx_pair *p, uint64_t n, void **bufp,
    size_t len)
{
	if (*bufp == NULL) {
		/* room made when the area was opened, and by view_room() */
		p->views[p->nviews++] = (struct pool_range){ p->off, p->off + n };
		(void)view_add(o, p->pool + p->off, NULL, 0, p);
		*bufp = p->pool + p->off;
	} else {
		copy_bytes(*bufp, p->pool + p->off, (size_t)n);
	}
	rx_open(o, p, len);
}

/*
 * Receive: spin over the pairs, then say we wait (rx_waiting), then
 * sleep on the "in" bell in slices.  System calls only to sleep, and on
 * the way to sleep where a sender asks for a pair; whether a claimer died
 * is asked only once a slice passed with no wake-up.
 */
ssize_t
pipe_recv(struct port_obj *o, void **bufp, size_t len, bool nonblock)
{
	struct rx_pair *p = NULL;
	uint64_t n = 0;
	int64_t start = -1;
	unsigned spins = nonblock ? 0 : spin_budget();
	bool waiting = false, quiet = false, busy;
	int r;

	if (len > COPIPE_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&o->pipe_rx_lock);
	/* Room for the view first: once accepted, a message is ours.  The
	 * views that take it are added under our lock. */
	if (*bufp == NULL && view_room(o) < 0) {
		pthread_mutex_unlock(&o->pipe_rx_lock);
		return -1;
	}
	for (;;) {
		busy = false;
		if ((r = rx_scan(o, len, quiet, &p, &n, &busy)) != 0)
			break;
		if (spins > 0) {
			spin_a_little(&spins);
			continue;
		}
		if (!waiting) {
			if (o->rx_waiters++ == 0)
				rx_waiting(o, 1);
			waiting = true;
			continue;
		}
		if (port_senders_gone(o) && !busy) {
			/* what the last senders filled is seen now */
			if ((r = rx_scan(o, len, true, &p, &n, &busy)) == 0) {
				errno = EPIPE;
				r = -1;
			}
			break;
		}
		if (nonblock) {
			if (start < 0)
				start = now_ms();
			if ((!busy && LOAD_ACQ(&o->bell->pipe_senders) == 0) ||
			    now_ms() - start >= NONBLOCK_WAIT_MS) {
				errno = EAGAIN;
				r = -1;
				break;
			}
		}
		/* A pair we cannot make (out of descriptors or memory)
		 * fails the call only if no pair we have can bring a
		 * message: pipe_wanted is anyone's to set. */
		if (rx_offer(o, len) < 0 && !rx_live(o)) {
			r = -1;
			break;
		}
		uint32_t snap = portbell_arm(&o->bell->in_sleepers, &o->bell->in_seq);
		if ((r = rx_scan(o, len, quiet, &p, &n, &busy)) != 0) {
			portbell_disarm(&o->bell->in_sleepers);
			break;
		}
		pthread_mutex_unlock(&o->pipe_rx_lock);
		quiet = bell_sleep(&o->bell->in_seq, snap, nonblock ?
		    (int)(start + NONBLOCK_WAIT_MS - now_ms()) : SLEEP_SLICE_MS);
		pthread_mutex_lock(&o->pipe_rx_lock);
		portbell_disarm(&o->bell->in_sleepers);
	}
	if (waiting && --o->rx_waiters == 0)
		rx_waiting(o, 0);
	if (r > 0) {
		p->used = ++o->rxp_clock;
		rx_deliver(o, p, n, bufp, len);
	}
	pthread_mutex_unlock(&o->pipe_rx_lock);
	return r > 0 ? (ssize_t)n : -1;
}

void
pipe_view_free(struct port_obj *o, struct rx_pair *p, void *addr)
{
	uint64_t start = (uint64_t)((uint8_t *)addr - p->pool);

	pthread_mutex_lock(&o->pipe_rx_lock);
	for (int i = 0; i < p->nviews; i++)
		if (p->views[i].start == start) {
			p->views[i] = p->views[--p->nviews];
			break;
		}
	pthread_mutex_unlock(&o->pipe_rx_lock);
}

/* ---- the sender's side ---- */

/* How long a sender waits on receivers it has pairs with, none of them
 * in corecv(), before it asks every receiver for a pair. */
#define WANT_PAIR_MS	(3 * SLEEP_SLICE_MS)

static void
tx_pair_free(struct tx_pair *p)
{
	sys_munmap(p->pg, PAIR_MAPLEN);
	sys_close(p->fd);
	free(p);
}

static void
tx_drop(struct port_obj *o, int i)
{
	tx_pair_free(o->txp[i]);
	o->txp[i] = o->txp[--o->ntxp];
}

/* Has the pair's receiver left it, or is it gone? */
static bool
tx_left(const struct tx_pair *p)
{
	return PAIR_STATE(LOAD_RLX(&p->pg->status)) == PAIR_CLOSED ||
	    pid_gone(LOAD_RLX(&p->pg->rx_pid));
}

/* Do we have a pair in use with the receiver of pg? */
static bool
tx_paired(const struct port_obj *o, const struct pipe_pair *pg)
{
	uint32_t pid = LOAD_RLX(&pg->rx_pid), id = LOAD_RLX(&pg->rx_id);

	for (int i = 0; i < o->ntxp; i++) {
		const struct pipe_pair *q = o->txp[i]->pg;

		if (LOAD_RLX(&q->rx_pid) == pid && LOAD_RLX(&q->rx_id) == id &&
		    PAIR_STATE(LOAD_RLX(&q->status)) != PAIR_CLOSED)
			return true;
	}
	return false;
}

/*
 * Make room for a new pair: drop one whose receiver left it, else one
 * through which nothing was ever accepted (the longest held), else the
 * one whose last acceptance is the oldest: a receiver that offers pairs
 * and takes nothing through them cannot keep us from the others.  Never
 * keep.
 */
static void
tx_evict(struct port_obj *o, const struct tx_pair *keep)
{
	int old = -1;

	for (int i = 0; i < o->ntxp; i++) {
		const struct tx_pair *p = o->txp[i], *q;

		if (p == keep)
			continue;
		if (tx_left(p)) {
			old = i;
			break;
		}
		q = old < 0 ? NULL : o->txp[old];
		if (q == NULL || (p->used == 0 && (q->used != 0 ||
		    p->adopted < q->adopted)) ||
		    (p->used != 0 && q->used != 0 && p->used < q->used))
			old = i;
	}
	if (old >= 0) {
		pair_close(o->txp[old]->pg);
		tx_drop(o, old);
	}
}

/* Take one ticket from the port's socket: 1 a new pair, 0 not a pair or
 * one we need not (dropped), -1 with errno (EAGAIN: none queued).  A
 * receiver we have a pair with is told so by CLOSED (it drops the new
 * one).  When we have as many pairs as we keep, one goes (tx_evict). */
static int
tx_adopt(struct port_obj *o, const struct tx_pair *keep)
{
	struct port_dgram d;
	struct iovec iov = { &d, sizeof(d) };
	int fds[WIRE_MAXFDS], nfds = 0;
	bool trunc = false, ctrunc = false;
	struct tx_pair *p = NULL, **v;
	size_t size;
	ssize_t n;

	n = cap_recvmsg(o->take_sock, &iov, 1, fds, &nfds, &trunc, &ctrunc,
	    MSG_DONTWAIT);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(d) || trunc || nfds != 1 ||
	    d.magic != TICKET_MAGIC || d.version != COPORT_SHM_VERSION ||
	    !memfd_check(fds[0], F_SEAL_SHRINK, PAGE, &size) ||
	    (p = calloc(1, sizeof(*p))) == NULL ||
	    (p->pg = sys_mmap(NULL, PAIR_MAPLEN, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE, fds[0], 0)) == MAP_FAILED)
		goto drop;
	if (LOAD_RLX(&p->pg->magic) != PAIR_MAGIC) {
		sys_munmap(p->pg, PAIR_MAPLEN);
		goto drop;
	}
	if (o->ntxp == PAIRS_MAX && !tx_paired(o, p->pg))
		tx_evict(o, keep);
	if (o->ntxp == PAIRS_MAX || tx_paired(o, p->pg) ||
	    (v = realloc(o->txp, (size_t)(o->ntxp + 1) * sizeof(*v))) == NULL) {
		pair_close(p->pg);	/* its receiver offers another */
		sys_munmap(p->pg, PAIR_MAPLEN);
		goto drop;
	}
	o->txp = v;
	p->pool = (uint8_t *)p->pg + PAGE;
	p->fd = fds[0];
	p->size = size - PAGE;
	p->adopted = ++o->txp_clock;
	STORE_RLX(&p->pg->tx_pid, (uint32_t)getpid());
	o->txp[o->ntxp++] = p;
	return 1;
drop:
	free(p);
	for (int i = 0; i < nfds; i++)
		sys_close(fds[i]);
	return 0;
}

/* Have we a pair whose receiver has not left it (no system call)? */
static bool
tx_live(const struct port_obj *o)
{
	for (int i = 0; i < o->ntxp; i++)
		if (PAIR_STATE(LOAD_RLX(&o->txp[i]->pg->status)) != PAIR_CLOSED)
			return true;
	return false;
}

/* Take the tickets receivers offered since we last looked (pipe_offers
 * moved), or any if we have no pair in use: system calls only then.  At
 * most TICKETS_PER_LOOK at a time: a receiver that floods the socket
 * does not keep us there (honest ones queue one ticket each). */
static void
tx_take_offers(struct port_obj *o, const struct tx_pair *keep)
{
	uint32_t offers = LOAD_ACQ(&o->bell->pipe_offers);
	int i = 0;

	if (offers == o->offers_seen && tx_live(o))
		return;
	while (i < TICKETS_PER_LOOK && tx_adopt(o, keep) >= 0)
		i++;
	/* more may wait: look again next time */
	o->offers_seen = i < TICKETS_PER_LOOK ? offers : offers - 1;
}

/* Ask every receiver for a pair (they offer one on their way to sleep). */
static void
tx_want_pair(struct port_obj *o)
{
	if (o->wants_pair)
		return;
	o->wants_pair = true;
	__atomic_add_fetch(&o->bell->pipe_wanted, 1, __ATOMIC_SEQ_CST);
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
}

/*
 * Fill the pair's open area with our message: true if filled, in round
 * *roundp (the claim moves OPEN(n) to CLAIMED(n + 1)).  A message longer
 * than the area marks it TOOSMALL(n + 1), for the receiver to see (it
 * opens a larger one if its call takes it), and sets *marked.  Words the
 * receiver writes are bounded: an area outside the pool it made is not
 * used.
 */
static bool
tx_fill(struct port_obj *o, struct tx_pair *p, const void *buf, size_t len,
    uint32_t *roundp, bool *marked)
{
	uint32_t w = LOAD_ACQ(&p->pg->status), round = PAIR_ROUND(w);
	uint64_t off, cap;
	struct stat st;

	if (PAIR_STATE(w) != PAIR_OPEN)
		return false;
	off = LOAD_RLX(&p->pg->area_off);
	cap = LOAD_RLX(&p->pg->area_cap);
	if (off > PAIR_POOL_MAX || cap > PAIR_POOL_MAX - off)
		return false;
	if (len > cap) {
		/* release: a receiver that reads it reads our move out of
		 * the word it saw before (see rx_look) */
		STORE_REL(&p->pg->msglen, len);
		if (pair_cas(p->pg, w, PAIR_WORD(PAIR_NEXT_ROUND(round), PAIR_TOOSMALL))) {
			*marked = true;
			portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
		}
		return false;
	}
	if (off + len > p->size) {
		/* the receiver grew the pool: how far, the kernel says */
		if (sys_fstat(p->fd, &st) < 0 || st.st_size < PAGE)
			return false;
		p->size = (uint64_t)st.st_size - PAGE;
		if (off + len > p->size)
			return false;
	}
	round = PAIR_NEXT_ROUND(round);
	if (!pair_cas(p->pg, w, PAIR_WORD(round, PAIR_CLAIMED)))
		return false;
	copy_bytes(p->pool + off, buf, len);
	STORE_REL(&p->pg->msglen, len);
	if (!pair_cas(p->pg, PAIR_WORD(round, PAIR_CLAIMED),
	    PAIR_WORD(round, PAIR_FILLED)))
		return false;	/* the receiver left, or gave up on us */
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	*roundp = round;
	return true;
}

/* Another pair whose receiver waits in corecv() with an open area, the
 * first after `than` in our list (so that, taking a message back from
 * one receiver after another that says it waits and does not take it,
 * we come to each in turn), or NULL. */
static struct tx_pair *
tx_other_waits(const struct port_obj *o, const struct tx_pair *than)
{
	int at = 0;

	while (at < o->ntxp && o->txp[at] != than)
		at++;
	for (int k = 1; k < o->ntxp; k++) {
		struct tx_pair *q = o->txp[(at + k) % o->ntxp];

		if (q != than && LOAD_RLX(&q->pg->rx_waiting) &&
		    PAIR_STATE(LOAD_RLX(&q->pg->status)) == PAIR_OPEN)
			return q;
	}
	return NULL;
}

enum { ACCEPTED, WITHDRAWN, FAILED };

/*
 * Wait until the receiver accepts what we filled in round `round`
 * (ACCEPTED: the round moved on), or take it back (WITHDRAWN: send it
 * elsewhere, to *nextp if not NULL; FAILED with errno: EAGAIN
 * non-blocking, EPIPE no receiver left).  Our message is in the pair
 * while it is FILLED(round), or TOOSMALL(round): its receiver's call
 * could not take it, a later one may.  We take it back
 * from a receiver that is gone, or not in corecv() while another waits,
 * or that says it is but has not taken it WANT_PAIR_MS after we stopped
 * spinning (stopped, or lying in rx_waiting); after WANT_PAIR_MS we ask
 * every receiver for a pair, so that one we have none with can offer
 * one.  Non-blocking, from one not in corecv() once we spun, or that
 * does not take it within NONBLOCK_WAIT_MS.  tx_lock is let go while
 * sleeping.
 */
static int
tx_wait(struct port_obj *o, struct tx_pair *p, uint32_t round, bool nonblock,
    int64_t since, struct tx_pair **nextp)
{
	uint32_t mine = PAIR_WORD(round, PAIR_FILLED);
	unsigned spins = spin_budget();
	int64_t slow = -1;	/* when we stopped spinning */
	bool quiet = false;

	for (;;) {
		uint32_t w = LOAD_ACQ(&p->pg->status), to = 0;
		bool waits = LOAD_RLX(&p->pg->rx_waiting);
		int e = 0;

		if (w != mine) {
			if (PAIR_ROUND(w) != round)
				return ACCEPTED;
			if (PAIR_STATE(w) != PAIR_TOOSMALL)
				return WITHDRAWN;	/* OPEN, CLOSED */
			mine = w;
			continue;
		}
		if (spins > 0) {
			spin_a_little(&spins);
			continue;
		}
		if (slow < 0)
			slow = now_ms();
		if (port_receivers_gone(o))
			e = EPIPE;
		else if (nonblock && (!waits ||
		    now_ms() - since >= NONBLOCK_WAIT_MS))
			e = EAGAIN;	/* not in corecv(), or not taking it */
		if (e != 0)
			to = PAIR_WORD(round, PAIR_OPEN);
		else if (quiet && pid_gone(LOAD_RLX(&p->pg->rx_pid)))
			to = PAIR_WORD(round, PAIR_CLOSED);
		else if (!waits || now_ms() - slow >= WANT_PAIR_MS) {
			if (now_ms() - since >= WANT_PAIR_MS) {
				tx_want_pair(o);
				tx_take_offers(o, p);
			}
			if ((*nextp = tx_other_waits(o, p)) != NULL)
				to = PAIR_WORD(round, PAIR_OPEN);
		}
		if (to != 0) {
			if (!pair_cas(p->pg, mine, to))
				continue;	/* it moved first */
			errno = e;
			return e != 0 ? FAILED : WITHDRAWN;
		}
		/* seq_cst, pairing with the receiver's CAS and its load of
		 * tx_sleeping after it */
		__atomic_store_n(&p->pg->tx_sleeping, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&o->tx_lock);
		quiet = futex_wait(&p->pg->status, mine, SLEEP_SLICE_MS) < 0 &&
		    errno == ETIMEDOUT;
		pthread_mutex_lock(&o->tx_lock);
		STORE_RLX(&p->pg->tx_sleeping, 0);
	}
}

/* Fill one pair: `first` if not NULL, then those whose receiver waits
 * in corecv(), then any open one.  The pair, or NULL. */
static struct tx_pair *
tx_try(struct port_obj *o, const void *buf, size_t len, uint32_t *roundp,
    bool *marked, struct tx_pair *first)
{
	if (first != NULL && tx_fill(o, first, buf, len, roundp, marked))
		return first;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < o->ntxp; i++) {
			struct tx_pair *p = o->txp[i];

			if ((pass == 1 || LOAD_RLX(&p->pg->rx_waiting)) &&
			    tx_fill(o, p, buf, len, roundp, marked))
				return p;
		}
	return NULL;
}

/*
 * cosend() returns: take back the TOOSMALL marks of its message (a
 * receiver's mark of a message in its area went with the message).
 * Left, they would speak of a message nobody sends (EMSGSIZE to
 * receivers whose calls take our next one), and hide their pairs from
 * it.  By CAS: a receiver may have opened a larger area meanwhile.
 */
static void
tx_unmark(struct port_obj *o)
{
	for (int i = 0; i < o->ntxp; i++) {
		struct pipe_pair *pg = o->txp[i]->pg;
		uint32_t w = LOAD_RLX(&pg->status);

		if (PAIR_STATE(w) == PAIR_TOOSMALL)
			(void)pair_cas(pg, w, PAIR_WORD(PAIR_ROUND(w), PAIR_OPEN));
	}
}

/* Can we send now: an open pair whose receiver waits, or an offer? */
static bool
tx_ready(struct port_obj *o)
{
	int n = 0;

	for (int i = 0; i < o->ntxp; i++) {
		const struct pipe_pair *pg = o->txp[i]->pg;

		if (LOAD_RLX(&pg->rx_waiting) &&
		    PAIR_STATE(LOAD_ACQ(&pg->status)) == PAIR_OPEN)
			return true;
	}
	if (LOAD_ACQ(&o->bell->pipe_offers) != o->offers_seen)
		return true;
	return o->take_sock >= 0 && o->ntxp == 0 &&
	    sys_ioctl(o->take_sock, SIOCINQ, &n) == 0 && n > 0;
}

/*
 * Send: fill an open area (spinning while we have pairs), wait for its
 * receiver to accept; with nothing to fill, take the tickets offered,
 * say we wait (pipe_senders), ask for a pair if we have none in use or
 * waited long (pipe_wanted), and sleep on the "out" bell in slices.
 */
ssize_t
pipe_send(struct port_obj *o, const void *buf, size_t len, bool nonblock)
{
	unsigned spins = spin_budget();
	int64_t since = now_ms(), start = -1;
	bool counted = false, marked = false;
	struct tx_pair *next = NULL;	/* to fill first */
	ssize_t r = -1;

	if (len > COPIPE_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	pthread_mutex_lock(&o->tx_lock);
	for (;;) {
		struct tx_pair *p;
		uint32_t round;

		tx_take_offers(o, next);
		if ((p = tx_try(o, buf, len, &round, &marked, next)) != NULL) {
			int got;

			next = NULL;
			got = tx_wait(o, p, round, nonblock, since, &next);
			if (got == ACCEPTED) {
				p->used = ++o->txp_clock;
				r = (ssize_t)len;
			}
			if (got != WITHDRAWN)
				break;
			continue;
		}
		next = NULL;
		if (spins > 0 && tx_live(o)) {
			spin_a_little(&spins);
			continue;
		}
		for (int i = o->ntxp - 1; i >= 0; i--)	/* receivers that left */
			if (PAIR_STATE(LOAD_RLX(&o->txp[i]->pg->status)) == PAIR_CLOSED)
				tx_drop(o, i);
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
		if (!tx_live(o) || now_ms() - since >= WANT_PAIR_MS)
			tx_want_pair(o);
		if (nonblock) {
			/* a receiver asleep in corecv() offers a pair soon */
			if (start < 0 && LOAD_ACQ(&o->bell->in_sleepers) > 0)
				start = now_ms();
			if (start < 0 || now_ms() - start >= NONBLOCK_WAIT_MS) {
				errno = EAGAIN;
				break;
			}
		}
		uint32_t snap = portbell_arm(&o->bell->out_sleepers, &o->bell->out_seq);
		if (!tx_ready(o)) {
			pthread_mutex_unlock(&o->tx_lock);
			(void)futex_wait(&o->bell->out_seq, snap, SLEEP_SLICE_MS);
			pthread_mutex_lock(&o->tx_lock);
		}
		portbell_disarm(&o->bell->out_sleepers);
	}
	if (marked)
		tx_unmark(o);
	if (o->wants_pair) {
		o->wants_pair = false;
		__atomic_sub_fetch(&o->bell->pipe_wanted, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&o->tx_lock);
	if (counted)
		__atomic_sub_fetch(&o->bell->pipe_senders, 1, __ATOMIC_RELAXED);
	return r;
}

/* ---- both ---- */

int
pipe_ready(struct port_obj *o, int events)
{
	int rev = 0;

	if ((events & COPOLL_IN) && LOAD_ACQ(&o->bell->pipe_senders) > 0)
		rev |= COPOLL_IN;
	if ((events & COPOLL_IN) && !(rev & COPOLL_IN)) {
		pthread_mutex_lock(&o->pipe_rx_lock);
		for (int i = 0; i < o->nrxp; i++) {
			uint32_t st = PAIR_STATE(LOAD_ACQ(&o->rxp[i]->pg->status));

			/* a message, or one too long for some call */
			if (!o->rxp[i]->closed &&
			    (st == PAIR_FILLED || st == PAIR_TOOSMALL))
				rev |= COPOLL_IN;
		}
		pthread_mutex_unlock(&o->pipe_rx_lock);
	}
	if (events & COPOLL_OUT) {
		pthread_mutex_lock(&o->tx_lock);
		if (tx_ready(o))
			rev |= COPOLL_OUT;
		pthread_mutex_unlock(&o->tx_lock);
	}
	return rev;
}

void
pipe_release(struct port_obj *o, int rights, bool tell)
{
	if (rights & COPORT_PERM_RECV) {
		for (int i = o->nrxp - 1; i >= 0; i--) {
			/* a message filled and not accepted goes back to its
			 * sender: CLOSED keeps the round */
			if (tell)
				pair_close(o->rxp[i]->pg);
			o->rxp[i]->closed = true;
			if (o->rxp[i]->nviews == 0)
				rx_drop(o, i);
		}
	}
	if (rights & COPORT_PERM_SEND) {
		for (int i = o->ntxp - 1; i >= 0; i--) {
			if (tell)
				pair_close(o->txp[i]->pg);
			tx_drop(o, i);
		}
		free(o->txp);
		o->txp = NULL;
	}
}

void
pipe_free(struct port_obj *o)
{
	while (o->nrxp > 0)
		rx_drop(o, o->nrxp - 1);
	free(o->rxp);
	o->rxp = NULL;
	while (o->ntxp > 0)
		tx_drop(o, o->ntxp - 1);
	free(o->txp);
	o->txp = NULL;
}
