/*
 * Coports, the common part: handles, opening through comsgd, closing,
 * passing a port on as a capability, and waiting (cosend, corecv, copoll)
 * on a port's bell page.  Each kind moves its messages in its own file.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "comsg/coport.h"
#include "coport_int.h"

#define COPORT_MAX	4096	/* handles one process can hold */

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct coport handles[COPORT_MAX];

/* ---- handles ---- */

/* The live handle p, marked in use until handle_put(); NULL with EINVAL
 * for anything else, however bogus. */
static struct coport *
handle_get(coport_t p)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)handles;
	struct coport *h;
	int u;

	if (a < base || a >= base + sizeof(handles) ||
	    (a - base) % sizeof(handles[0]) != 0)
		goto bad;
	h = p;
	u = __atomic_load_n(&h->users, __ATOMIC_RELAXED);
	do {
		if (u < 0 || LOAD_ACQ(&h->magic) != COPORT_LIVE)
			goto bad;
	} while (!__atomic_compare_exchange_n(&h->users, &u, u + 1, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return h;
bad:
	errno = EINVAL;
	return NULL;
}

static void
handle_put(struct coport *h)
{
	__atomic_sub_fetch(&h->users, 1, __ATOMIC_RELEASE);
}

static struct coport *
handle_new(struct port_obj *o, int rights)
{
	pthread_mutex_lock(&handles_lock);
	for (int i = 0; i < COPORT_MAX; i++) {
		struct coport *h = &handles[i];

		if (h->magic == COPORT_LIVE || h->users != 0)
			continue;
		h->rights = rights;
		h->flags = 0;
		h->obj = o;
		o->refs++;
		o->nsend += (rights & COPORT_PERM_SEND) != 0;
		o->nrecv += (rights & COPORT_PERM_RECV) != 0;
		STORE_REL(&h->magic, COPORT_LIVE);
		pthread_mutex_unlock(&handles_lock);
		return h;
	}
	pthread_mutex_unlock(&handles_lock);
	errno = ENFILE;
	return NULL;
}

static void obj_unhold(struct port_obj *o, int rights, bool tell);
static void obj_free(struct port_obj *o);

void coports_lock(void) { pthread_mutex_lock(&handles_lock); }
void coports_unlock(void) { pthread_mutex_unlock(&handles_lock); }

/* After fork the child holds no handle: the holds are the parent's.  Its
 * copies of the mappings and descriptors go (each attachment once),
 * without their locks (a thread the child does not have may have held
 * one) and without a word to anyone. */
void
coports_atfork_child(void)
{
	carrier_atfork_child();
	for (int i = 0; i < COPORT_MAX; i++) {
		struct port_obj *o = handles[i].obj;

		if (handles[i].magic == COPORT_LIVE && --o->refs == 0) {
			obj_unhold(o, COPORT_PERM_ALL, false);
			obj_free(o);
		}
		handles[i].magic = 0;
		handles[i].users = 0;
		handles[i].obj = NULL;
	}
}

/* ---- attachments ---- */

/* Only shmem memfds: a hugetlbfs one (MFD_HUGETLB) seals as well, but
 * a page the kernel cannot find for it, mapped MAP_NORESERVE, is SIGBUS
 * where it is touched. */
bool
memfd_check(int fd, int seals, size_t size, size_t *sizep)
{
	struct stat st;
	struct statfs fs;
	int have = sys_fcntl(fd, F_GET_SEALS, 0);

	if (have < 0 || (have & seals) != seals || sys_fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size < size ||
	    sys_fstatfs(fd, &fs) < 0 || fs.f_type != TMPFS_MAGIC)
		return false;
	if (sizep != NULL)
		*sizep = (size_t)st.st_size;
	return true;
}

static int
cap_take_fd(void *cap)
{
	int fd = -1;

	if (cap != NULL && captofd(cap, &fd) < 0)
		fd = -1;
	return fd;
}

/* Which of the port's sockets a holder of rights has: the shared one it
 * takes from (COCARRIER receivers, COPIPE senders), the path to put into
 * it (the other side). */
static void
port_sockets(coport_type_t type, int rights, bool *takes, bool *puts)
{
	*takes = (type == COCARRIER && (rights & COPORT_PERM_RECV)) ||
	    (type == COPIPE && (rights & COPORT_PERM_SEND));
	*puts = (type == COCARRIER && (rights & COPORT_PERM_SEND)) ||
	    (type == COPIPE && (rights & COPORT_PERM_RECV));
}

static void
close_fd(int *fdp)
{
	if (*fdp >= 0)
		sys_close(*fdp);
	*fdp = -1;
}

/*
 * Give up here what rights needed: descriptors, mappings, and our end of
 * the presence pipe (which tells the other side once comsgd is gone).
 * No lock: no handle of ours has these rights any more, and a call in
 * progress through one would have kept it open (users), so nothing uses
 * them; and the child after fork must not wait on a lock.  tell: false
 * in a child after fork, where what is shared is the parent's.
 */
static void
obj_unhold(struct port_obj *o, int rights, bool tell)
{
	bool takes, puts;

	port_sockets(o->type, rights, &takes, &puts);
	if (port_has_rings(o->type))
		chan_release(o, rights);
	if (o->type == COPIPE)
		pipe_release(o, rights, tell);
	if (takes)
		close_fd(&o->take_sock);
	if (puts) {
		/* a sender's messages still queued keep counting, and keep
		 * the socket that tells when they are taken */
		if (o->type == COCARRIER)
			carrier_forget(o);
		close_fd(&o->path_fd);
		close_fd(&o->put_sock);
	}
	if (rights & COPORT_PERM_SEND)
		close_fd(&o->pres_send);
	if (rights & COPORT_PERM_RECV)
		close_fd(&o->pres_recv);
}

/* Unmap the port's pages, and free o (its rights given up already). */
static void
obj_free(struct port_obj *o)
{
	pipe_free(o);
	cview_destroy(o);
	for (int i = 0; i < o->nviews; i++)
		if (o->views[i].map != NULL)
			sys_munmap(o->views[i].map, o->views[i].maplen);
	free(o->views);
	if (o->state != NULL)
		sys_munmap((void *)o->state, PAGE);
	if (o->life != NULL)
		sys_munmap((void *)o->life, PAGE);
	if (o->bell != NULL)
		sys_munmap(o->bell, PAGE);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->tx_lock);
	pthread_mutex_destroy(&o->pipe_rx_lock);
	free(o);
}

/*
 * Give up rights (CORQ_DROP) or the whole hold (CORQ_CLOSE): at comsgd,
 * unless it is gone (then the presence pipe alone tells, and the hold
 * went with it), then here; then wake every waiter on the port, to look
 * whether we were the last of a side: comsgd does it when it counts us
 * out, but it may be gone.
 */
static void
obj_give_up(struct port_obj *o, uint32_t op, int rights)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = op, .handle = o->hold,
	    .rights = op == CORQ_DROP ? (uint32_t)rights : 0 };
	struct corp rp;

	if (!port_comsgd_gone(o))
		(void)kernel_call(&rq, NULL, 0, &rp, NULL, 0, NULL, NULL, false);
	obj_unhold(o, rights, true);
	if (o->bell == NULL)
		return;
	/* Our close of the presence pipe's end, before the loads of the
	 * sleepers counts (pairs with portbell_arm()). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
}

/* Drop our hold at comsgd, then what we have of the port. */
static void
obj_release(struct port_obj *o)
{
	obj_give_up(o, CORQ_CLOSE, COPORT_PERM_ALL);
	obj_free(o);
}

/* Map a page comsgd alone writes, read-only for us whatever descriptor
 * came; NULL if it is not one. */
static const void *
map_ro_page(void *cap)
{
	int fd = cap_take_fd(cap);
	void *p = MAP_FAILED;

	if (fd >= 0 && memfd_check(fd, F_SEAL_SHRINK | F_SEAL_GROW, PAGE, NULL))
		p = sys_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (fd >= 0)
		sys_close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* The presence pipe's end for a right: a pipe, open for mode; or -1. */
static int
take_pres(void *cap, int mode)
{
	int fd = cap_take_fd(cap), fl;
	struct stat st;

	if (fd >= 0 && (sys_fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    (fl = sys_fcntl(fd, F_GETFL, 0)) < 0 || (fl & O_ACCMODE) != mode))
		close_fd(&fd);
	return fd;
}

/* Take a port from comsgd's reply to CORQ_OPEN or CORQ_ATTACH: caps are
 * the state page, the bell page, comsgd's life page, then the shared
 * socket and the path to it, and the presence pipe's ends, as the rights
 * require (coport_shm.h).  The caps are consumed. */
static struct port_obj *
obj_from_reply(const struct corp *rp, void **caps, int ncaps)
{
	struct port_obj *o = calloc(1, sizeof(*o));
	bool takes, puts, sends, recvs;
	int fd, want, i = 3, e = EPROTO;
	void *p;

	if (o == NULL) {
		e = ENOMEM;
		goto fail_caps;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->tx_lock, NULL);
	pthread_mutex_init(&o->pipe_rx_lock, NULL);
	o->take_sock = o->path_fd = o->put_sock = -1;
	o->pres_send = o->pres_recv = -1;
	o->hold = rp->handle;
	o->type = (coport_type_t)rp->type;
	o->rights = (int)rp->rights & COPORT_PERM_ALL;
	o->ring_size = rp->ring_size;
	port_sockets(o->type, o->rights, &takes, &puts);
	sends = o->rights & COPORT_PERM_SEND;
	recvs = o->rights & COPORT_PERM_RECV;
	want = 3 + takes + puts + sends + recvs;
	if (o->type < COPIPE || o->type > COCHANNEL || ncaps != want)
		goto fail_caps;
	o->state = map_ro_page(caps[0]);
	if (o->state == NULL || LOAD_RLX(&o->state->magic) != STATE_MAGIC ||
	    LOAD_RLX(&o->state->type) != (uint32_t)o->type)
		goto fail_caps;
	fd = cap_take_fd(caps[1]);
	if (fd < 0 || memfd_sealed_map(fd, PAGE, &p) < 0) {
		if (fd >= 0)
			sys_close(fd);
		goto fail_caps;
	}
	sys_close(fd);
	o->bell = p;
	o->life = map_ro_page(caps[2]);
	if (o->life == NULL || LOAD_RLX(&o->life->magic) != LIFE_MAGIC)
		goto fail_caps;
	if (takes && (o->take_sock = cap_take_fd(caps[i++])) < 0)
		goto fail_caps;
	if (puts && (o->path_fd = cap_take_fd(caps[i++])) < 0)
		goto fail_caps;
	if (sends && (o->pres_send = take_pres(caps[i++], O_WRONLY)) < 0)
		goto fail_caps;
	if (recvs && (o->pres_recv = take_pres(caps[i++], O_RDONLY)) < 0)
		goto fail_caps;
	if (port_has_rings(o->type) && (o->ring_size < COCHANNEL_MINSIZE ||
	    o->ring_size > COCHANNEL_MAXSIZE ||
	    (o->ring_size & (o->ring_size - 1)) != 0))
		goto fail_caps;
	for (i = 0; i < ncaps; i++)
		capfree(caps[i]);
	return o;
fail_caps:
	for (i = 0; i < ncaps; i++)
		if (caps[i] != NULL)
			capfree(caps[i]);
	if (o != NULL)
		obj_release(o);
	errno = e;
	return NULL;
}

/* Open or attach: make the request, take the port, give a handle. */
static int
port_request(struct corq *rq, void *token, coport_t *portp)
{
	void *caps[COCALL_MAXCAPS] = { NULL };
	int n = COCALL_MAXCAPS, e;
	struct corp rp;
	struct port_obj *o;
	struct coport *h;

	if (kernel_call(rq, token != NULL ? &token : NULL, token != NULL,
	    &rp, NULL, 0, caps, &n, true) < 0)
		return -1;
	if ((o = obj_from_reply(&rp, caps, n)) == NULL)
		return -1;
	/* A COCHANNEL receiver learns the senders' rings now, while comsgd
	 * surely runs: if it died before the first receive, they would be
	 * lost to us.  Failing here is not fatal: the first receive asks
	 * again.  (A COCARRIER record whose ring we never learn goes back
	 * to its sender, which sends it through the socket.) */
	if (o->type == COCHANNEL && (o->rights & COPORT_PERM_RECV))
		(void)chan_refresh(o, true);
	if ((h = handle_new(o, o->rights)) == NULL) {
		e = errno;
		obj_release(o);
		errno = e;
		return -1;
	}
	*portp = h;
	return 0;
}

int
coopenv(const char *name, coport_type_t type, const struct coport_attr *attr,
    coport_t *portp)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_OPEN };
	size_t size = attr != NULL && attr->ring_size != 0 ? attr->ring_size :
	    type == COCARRIER ? COCARRIER_RING : COCHANNEL_SIZE;
	size_t queue = attr != NULL ? attr->queue_bytes : 0;

	if (name_check(name, COPORT_NAMEMAX) < 0)
		return -1;
	if (portp == NULL || type < COPIPE ||
	    type > COCHANNEL || size < COCHANNEL_MINSIZE ||
	    size > COCHANNEL_MAXSIZE || queue > COCARRIER_QUEUE_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (size & (size - 1))	/* up to a power of two */
		size = (size | (size - 1)) + 1;
	rq.type = (uint32_t)type;
	rq.ring_size = (uint32_t)size;
	rq.queue_max = queue;
	strcpy(rq.name, name);
	return port_request(&rq, NULL, portp);
}

int
coopen(const char *name, coport_type_t type, coport_t *portp)
{
	return coopenv(name, type, NULL, portp);
}

int
coport_fromcap(void *cap, coport_t *portp)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_ATTACH };
	int fd;

	if (portp == NULL || captofd(cap, &fd) < 0) {
		errno = EINVAL;
		return -1;
	}
	sys_close(fd);
	return port_request(&rq, cap, portp);
}

int
coport_tocap(coport_t port, void **capp)
{
	struct coport *h = handle_get(port);
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_TOKEN };
	struct corp rp;
	void *caps[1] = { NULL };
	int n = 1, r = -1;

	if (h == NULL)
		return -1;
	if (capp == NULL) {
		errno = EINVAL;
		goto out;
	}
	rq.handle = h->obj->hold;
	rq.rights = (uint32_t)h->rights;
	if (kernel_call(&rq, NULL, 0, &rp, NULL, 0, caps, &n, false) < 0)
		goto out;
	if (n != 1 || caps[0] == NULL) {
		if (n == 1)
			capfree(caps[0]);
		errno = EPROTO;
		goto out;
	}
	*capp = caps[0];
	r = 0;
out:
	handle_put(h);
	return r;
}

int
coclose(coport_t port)
{
	uintptr_t a = (uintptr_t)port, base = (uintptr_t)handles;
	struct coport *h = port;
	struct port_obj *o;
	int zero = 0, lost = 0;
	bool last;

	if (a < base || a >= base + sizeof(handles) ||
	    (a - base) % sizeof(handles[0]) != 0) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&handles_lock);
	if (h->magic != COPORT_LIVE) {
		pthread_mutex_unlock(&handles_lock);
		errno = EINVAL;
		return -1;
	}
	if (!__atomic_compare_exchange_n(&h->users, &zero, -1, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(&handles_lock);
		errno = EBUSY;
		return -1;
	}
	STORE_REL(&h->magic, 0);
	o = h->obj;
	o->nsend -= (h->rights & COPORT_PERM_SEND) != 0;
	o->nrecv -= (h->rights & COPORT_PERM_RECV) != 0;
	last = --o->refs == 0;
	if (!last) {
		/* The last handle with a right: the process gives it up.
		 * We keep o while we do (another coclose may come). */
		lost = o->rights & ~((o->nsend > 0 ? COPORT_PERM_SEND : 0) |
		    (o->nrecv > 0 ? COPORT_PERM_RECV : 0));
		o->rights &= ~lost;
		o->refs += lost != 0;
	}
	h->obj = NULL;
	STORE_REL(&h->users, 0);
	pthread_mutex_unlock(&handles_lock);
	if (lost != 0) {
		obj_give_up(o, CORQ_DROP, lost);
		pthread_mutex_lock(&handles_lock);
		last = --o->refs == 0;
		pthread_mutex_unlock(&handles_lock);
	}
	if (last)
		obj_release(o);
	return 0;
}

coport_t
coport_clearperm(coport_t port, int perms)
{
	struct coport *h = handle_get(port), *n = NULL;

	if (h == NULL)
		return NULL;
	if ((perms & ~COPORT_PERM_ALL) != 0)
		errno = EINVAL;
	else
		n = handle_new(h->obj, h->rights & ~perms);
	handle_put(h);
	return n;
}

coport_type_t
coport_gettype(coport_t port)
{
	struct coport *h = handle_get(port);
	coport_type_t t;

	if (h == NULL)
		return 0;
	t = h->obj->type;
	handle_put(h);
	return t;
}

int
coport_getperm(coport_t port)
{
	struct coport *h = handle_get(port);
	int r;

	if (h == NULL)
		return -1;
	r = h->rights;
	handle_put(h);
	return r;
}

int
coport_setflags(coport_t port, int flags)
{
	struct coport *h = handle_get(port);

	if (h == NULL)
		return -1;
	if ((flags & ~COPORT_NONBLOCK) != 0) {
		handle_put(h);
		errno = EINVAL;
		return -1;
	}
	__atomic_store_n(&h->flags, flags, __ATOMIC_RELAXED);
	handle_put(h);
	return 0;
}

int
coport_getflags(coport_t port)
{
	struct coport *h = handle_get(port);
	int r;

	if (h == NULL)
		return -1;
	r = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
	handle_put(h);
	return r;
}

/* ---- waiting ---- */

uint32_t
portbell_arm(uint32_t *sleepers, uint32_t *seq)
{
	/* seq_cst, pairing with portbell_ring(): either the ringer sees us
	 * counted, or our re-check after this sees its progress. */
	__atomic_add_fetch(sleepers, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(seq, __ATOMIC_SEQ_CST);
}

void
portbell_disarm(uint32_t *sleepers)
{
	__atomic_sub_fetch(sleepers, 1, __ATOMIC_RELAXED);
}

void
portbell_ring(uint32_t *sleepers, uint32_t *seq)
{
	/* The caller published its progress with a seq_cst operation (a
	 * store, a CAS, or a system call): that and this seq_cst load are
	 * in one total order with portbell_arm()'s increment and re-check, so
	 * either we see the sleeper or it sees our progress.  (A COCHANNEL
	 * sender publishes with a release store: the receiver's membarrier
	 * before its re-check stands in for the fence, cochannel.c.) */
	if (__atomic_load_n(sleepers, __ATOMIC_SEQ_CST) != 0) {
		__atomic_add_fetch(seq, 1, __ATOMIC_RELEASE);
		futex_wake(seq);
	}
}

int
portbell_sleep(uint32_t *seq, uint32_t snap, int64_t deadline)
{
	int ms = deadline < 0 ? SLEEP_SLICE_MS : deadline_left(deadline, SLEEP_SLICE_MS);

	if (ms < 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	/* Slices: a holder may zero the sleepers count, and the other side
	 * may die; both are noticed at the next look. */
	(void)futex_wait(seq, snap, ms);
	return 0;
}

/* Is comsgd gone, as its life page says?  A port from comsgd always has
 * the page; one made without it (fuzz/fuzz_coport_dgram.c) never learns
 * that comsgd is gone. */
bool
port_comsgd_gone(const struct port_obj *o)
{
	return o->life != NULL &&
	    (LOAD_ACQ(&o->life->owner) & FUTEX_OWNER_DIED) != 0;
}

/* comsgd's count of a side (state page): none left of those there were. */
static bool
state_says_gone(const struct port_obj *o, uint32_t had, const uint32_t *count)
{
	return (LOAD_ACQ(&o->state->flags) & had) && LOAD_ACQ(count) == 0;
}

/*
 * The kernel's count of a side, once comsgd is gone (its count no longer
 * changes): no process holds the other end of the presence pipe.  Our
 * read end shows POLLHUP when no one holds the write end (no sender), our
 * write end POLLERR when no one holds the read end.  A system call, made
 * only when comsgd is gone, and only by a party about to wait.
 */
static bool
pres_says_gone(const struct port_obj *o, int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	if (fd < 0 || !port_comsgd_gone(o) || sys_poll(&p, 1, 0) != 1 ||
	    !(p.revents & ev))
		return false;
	/* What the last of that side published before it closed its end
	 * (its messages) is seen by our loads after this. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return true;
}

bool
port_senders_gone(const struct port_obj *o)
{
	return state_says_gone(o, STATE_HAD_SENDER, &o->state->senders) ||
	    pres_says_gone(o, o->pres_recv, POLLHUP);
}

bool
port_receivers_gone(const struct port_obj *o)
{
	return state_says_gone(o, STATE_HAD_RECEIVER, &o->state->receivers) ||
	    pres_says_gone(o, o->pres_send, POLLERR);
}

#define SPIN_BACKOFF	32	/* pauses between two looks while spinning */

/* COCHANNEL, the other side gone: a receiver takes what is left in every
 * ring first. */
static ssize_t
chan_end(struct port_obj *o, bool out,
    ssize_t (*try)(struct port_obj *, void *, size_t), void *buf, size_t len)
{
	int settled, e;
	ssize_t r;

	if (out) {
		errno = EPIPE;
		return -1;
	}
	settled = chan_settle(o);
	e = errno;
	r = try(o, buf, len);
	if (r >= 0 || errno != EAGAIN)
		return r;
	errno = settled == 0 ? EPIPE : e;
	return -1;
}

/* COCHANNEL: spin a little (the other side may be running), then sleep
 * on the bell; try() decides. */
static ssize_t
chan_wait(struct port_obj *o, bool out, bool nonblock,
    ssize_t (*try)(struct port_obj *, void *, size_t), void *buf, size_t len)
{
	uint32_t *sleepers = out ? &o->bell->out_sleepers : &o->bell->in_sleepers;
	uint32_t *seq = out ? &o->bell->out_seq : &o->bell->in_seq;
	unsigned spins = spin_budget();
	ssize_t r;

	for (;;) {
		r = try(o, buf, len);
		if (r >= 0 || errno != EAGAIN)
			return r;
		if (nonblock) {
			if (out ? port_receivers_gone(o) : port_senders_gone(o))
				return chan_end(o, out, try, buf, len);
			errno = EAGAIN;
			return -1;
		}
		if (spins > 0) {
			/* A sender looks again only after a while: every look
			 * pulls the receivers' cache line away from them.  It
			 * waits for a quarter of its ring to be free, so that
			 * it then writes a batch rather than one message per
			 * look at the receivers' position (len fits the
			 * ring: try() said EAGAIN, not EMSGSIZE).  A receiver
			 * looks after every pause, as the bare ring's does: a
			 * message waiting is a message late (an answer, in a
			 * ping-pong), and a look costs the sender one line. */
			uint64_t want = 0;
			int backoff = out ? SPIN_BACKOFF : 1;

			if (out) {
				want = RING_REC_SIZE(len) + o->ring_size / 4;
				if (want > o->ring_size)
					want = o->ring_size;
			}
			do {
				for (int i = 0; i < backoff && spins > 0;
				    i++, spins--)
					cpu_relax();
			} while (out && spins > 0 && chan_room(o) < want);
			continue;
		}
		if (out ? port_receivers_gone(o) : port_senders_gone(o))
			return chan_end(o, out, try, buf, len);
		if (!out)
			(void)chan_refresh(o, false);
		uint32_t snap = portbell_arm(sleepers, seq);
		int64_t deadline = -1;

		/* Senders publish without a fence: we make their stores
		 * visible to the re-check (chan_sync_senders()). */
		if (!out && chan_sync_senders() < 0)
			deadline = now_ms() + CHAN_UNSYNCED_SLICE_MS;
		r = try(o, buf, len);
		if (r >= 0 || errno != EAGAIN) {
			portbell_disarm(sleepers);
			return r;
		}
		(void)portbell_sleep(seq, snap, deadline);
		portbell_disarm(sleepers);
	}
}

static ssize_t
chan_send_cb(struct port_obj *o, void *buf, size_t len)
{
	return chan_send_try(o, buf, len);
}

ssize_t
cosend(coport_t port, const void *buf, size_t len)
{
	struct coport *h = handle_get(port);
	struct port_obj *o;
	bool nonblock;
	ssize_t r;

	if (h == NULL)
		return -1;
	o = h->obj;
	nonblock = __atomic_load_n(&h->flags, __ATOMIC_RELAXED) & COPORT_NONBLOCK;
	if (!(h->rights & COPORT_PERM_SEND)) {
		errno = EPERM;
		r = -1;
	} else if (buf == NULL && len > 0) {
		errno = EINVAL;
		r = -1;
	} else if (state_says_gone(o, STATE_HAD_RECEIVER,
	    &o->state->receivers)) {
		/* comsgd's count only: no system call per message (once
		 * comsgd is gone, the kernel's is asked before waiting) */
		errno = EPIPE;
		r = -1;
	} else if (o->type == COCHANNEL) {
		r = chan_wait(o, true, nonblock, chan_send_cb, (void *)buf, len);
	} else if (o->type == COCARRIER) {
		r = carrier_send(o, buf, len, nonblock);
	} else {
		r = pipe_send(o, buf, len, nonblock);
	}
	handle_put(h);
	return r;
}

ssize_t
corecv(coport_t port, void **bufp, size_t len)
{
	struct coport *h = handle_get(port);
	struct port_obj *o;
	bool nonblock;
	ssize_t r;

	if (h == NULL)
		return -1;
	o = h->obj;
	nonblock = __atomic_load_n(&h->flags, __ATOMIC_RELAXED) & COPORT_NONBLOCK;
	if (!(h->rights & COPORT_PERM_RECV)) {
		errno = EPERM;
		r = -1;
	} else if (bufp == NULL || (o->type == COCHANNEL && *bufp == NULL &&
	    len > 0)) {
		errno = EINVAL;
		r = -1;
	} else if (o->type == COCHANNEL) {
		r = chan_wait(o, false, nonblock, chan_recv_try, *bufp, len);
	} else if (o->type == COCARRIER) {
		r = carrier_recv(o, bufp, nonblock);
	} else {
		r = pipe_recv(o, bufp, len, nonblock);
	}
	handle_put(h);
	return r;
}

/* ---- views ---- */

/* Room for one more view in o->views: 0, or -1 with ENOMEM.  o->lock. */
int
views_grow_locked(struct port_obj *o)
{
	int room = o->views_room ? 2 * o->views_room : 8;
	struct view *v;

	if (o->nviews < o->views_room)
		return 0;
	if ((v = realloc(o->views, (size_t)room * sizeof(*v))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	o->views = v;
	o->views_room = room;
	return 0;
}

int
view_room(struct port_obj *o)
{
	int r;

	pthread_mutex_lock(&o->lock);
	r = views_grow_locked(o);
	pthread_mutex_unlock(&o->lock);
	return r;
}

int
view_add_locked(struct port_obj *o, void *addr, void *map, size_t maplen,
    struct rx_pair *pair)
{
	if (views_grow_locked(o) < 0) {
		if (map != NULL)
			sys_munmap(map, maplen);
		return -1;
	}
	o->views[o->nviews++] = (struct view){ addr, map, maplen, pair, false };
	return 0;
}

int
view_add(struct port_obj *o, void *addr, void *map, size_t maplen,
    struct rx_pair *pair)
{
	int r;

	pthread_mutex_lock(&o->lock);
	r = view_add_locked(o, addr, map, maplen, pair);
	pthread_mutex_unlock(&o->lock);
	return r;
}

int
coport_msg_free(coport_t port, void *msg)
{
	struct coport *h = handle_get(port);
	struct port_obj *o;
	struct view v = { 0 };
	bool found = false;

	if (h == NULL)
		return -1;
	o = h->obj;
	pthread_mutex_lock(&o->lock);
	for (int i = 0; i < o->nviews; i++)
		if (o->views[i].addr == msg) {
			v = o->views[i];
			o->views[i] = o->views[--o->nviews];
			found = true;
			if (v.cview)
				cview_free_locked(o, v.addr);
			break;
		}
	pthread_mutex_unlock(&o->lock);
	if (found && v.pair != NULL)
		pipe_view_free(o, v.pair, v.addr);
	handle_put(h);
	if (!found) {
		errno = EINVAL;
		return -1;
	}
	if (v.map != NULL)
		sys_munmap(v.map, v.maplen);
	return 0;
}

int
port_own_socket(struct port_obj *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, r;

	pthread_mutex_lock(&o->lock);
	if ((s = o->put_sock) >= 0)
		goto out;
	s = sys_socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto out;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d",
	    o->path_fd);
	do
		r = sys_connect(s, (struct sockaddr *)&sun, sizeof(sun));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;

		sys_close(s);
		s = -1;
		errno = (e == ECONNREFUSED || e == ENOENT) ? EPIPE : e;
		goto out;
	}
	o->put_sock = s;
out:
	pthread_mutex_unlock(&o->lock);
	return s;
}

/* ---- copoll ---- */

pollcoport_t
make_pollcoport(coport_t port, int events)
{
	return (pollcoport_t){ .coport = port, .events = events, .revents = 0 };
}

static int
entry_revents(struct coport *h, int events)
{
	struct port_obj *o = h->obj;
	int rev = 0, want = 0;

	if (events & COPOLL_IN) {
		if (!(h->rights & COPORT_PERM_RECV))
			rev |= COPOLL_RERR;
		else
			want |= COPOLL_IN;
	}
	if (events & COPOLL_OUT) {
		if (!(h->rights & COPORT_PERM_SEND))
			rev |= COPOLL_WERR;
		else if (port_receivers_gone(o))
			rev |= COPOLL_CLOSED;
		else
			want |= COPOLL_OUT;
	}
	if (want != 0) {
		int ready = o->type == COCHANNEL ? chan_ready(o, want) :
		    o->type == COCARRIER ? carrier_ready(o, want) :
		    pipe_ready(o, want);

		rev |= ready;
		if ((want & COPOLL_IN) && !(ready & COPOLL_IN) &&
		    port_senders_gone(o))
			rev |= COPOLL_CLOSED;
	}
	return rev;
}

#define COPOLL_MAX	64

int
copoll(pollcoport_t *ports, int nports, int timeout_ms)
{
	struct coport *hs[COPOLL_MAX];
	struct futex_waitv w[2 * COPOLL_MAX];
	uint32_t *armed[2 * COPOLL_MAX];
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int i, n = 0, nw, r = -1;
	bool sync, unsynced;

	if (nports < 0 || nports > COPOLL_MAX || (nports > 0 && ports == NULL)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nports; i++)
		if ((hs[i] = handle_get(ports[i].coport)) == NULL)
			goto out;
	for (;;) {
		n = 0;
		for (i = 0; i < nports; i++) {
			ports[i].revents = entry_revents(hs[i], ports[i].events);
			n += ports[i].revents != 0;
		}
		if (n > 0 || timeout_ms == 0 ||
		    (deadline >= 0 && now_ms() >= deadline))
			break;
		/* Arm every bell asked for, look again, sleep on all. */
		nw = 0;
		sync = false;
		for (i = 0; i < nports; i++) {
			struct coport_bell *b = hs[i]->obj->bell;

			for (int k = 0; k < 2; k++) {
				int ev = k == 0 ? COPOLL_IN : COPOLL_OUT;
				uint32_t *sl = k == 0 ? &b->in_sleepers : &b->out_sleepers;
				uint32_t *sq = k == 0 ? &b->in_seq : &b->out_seq;

				if (!(ports[i].events & ev))
					continue;
				w[nw] = (struct futex_waitv){
					.val = portbell_arm(sl, sq),
					.uaddr = (uintptr_t)sq,
					.flags = FUTEX_32 };
				armed[nw++] = sl;
				sync |= ev == COPOLL_IN &&
				    hs[i]->obj->type == COCHANNEL;
			}
		}
		/* as chan_wait() does, once for all */
		unsynced = sync && chan_sync_senders() < 0;
		for (i = 0; i < nports; i++)
			n += entry_revents(hs[i], ports[i].events) != 0;
		if (n == 0 && nw > 0) {
			struct timespec ts;
			int ms = deadline < 0 ? SLEEP_SLICE_MS :
			    deadline_left(deadline, SLEEP_SLICE_MS);

			if (ms < 0)
				ms = 0;
			if (unsynced && ms > CHAN_UNSYNCED_SLICE_MS)
				ms = CHAN_UNSYNCED_SLICE_MS;
			mono_clock(&ts);
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (long)(ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			(void)syscall(SYS_futex_waitv, w, nw, 0, &ts,
			    CLOCK_MONOTONIC);
		} else if (n == 0 && nw == 0) {
			/* Only rights errors could be asked, and none is. */
			struct timespec ts = { 0, SLEEP_SLICE_MS * 1000000L };

			sys_nanosleep(&ts);
		}
		for (i = 0; i < nw; i++)
			portbell_disarm(armed[i]);
	}
	r = n;
	i = nports;
out:
	while (i-- > 0)
		handle_put(hs[i]);
	return r;
}

/* ---- listing, for cops ---- */

int
coport_list(struct coport_info *info, int max)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_LIST };
	struct corq_entry *e;
	struct corp rp;
	int total = 0;

	if (max < 0 || (max > 0 && info == NULL)) {
		errno = EINVAL;
		return -1;
	}
	e = malloc(CORQ_LIST_MAX * sizeof(*e));
	if (e == NULL)
		return -1;
	do {
		int got;

		rq.first = (uint32_t)total;
		got = kernel_call(&rq, NULL, 0, &rp, e,
		    CORQ_LIST_MAX * sizeof(*e), NULL, NULL, false);
		if (got < 0) {
			free(e);
			return -1;
		}
		/* no more entries than came: the rest of e is stale */
		if (rp.count > (uint32_t)got / sizeof(*e))
			rp.count = 0;
		for (uint32_t k = 0; k < rp.count; k++, total++) {
			if (total >= max)
				continue;
			memcpy(info[total].name, e[k].name, sizeof(info[total].name));
			info[total].name[COPORT_NAMEMAX] = '\0';
			info[total].type = (int)e[k].type;
			info[total].holders = e[k].holders;
			info[total].senders = e[k].senders;
			info[total].receivers = e[k].receivers;
			info[total].queued = e[k].queued;
		}
	} while (rp.more && rp.count > 0 && total < INT_MAX / 2);
	free(e);
	return total;
}
