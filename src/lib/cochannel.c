/*
 * COCHANNEL: a ring per sending process and port (coport_shm.h).  Its
 * sender alone can write it, every receiver can read it and claim its
 * records by CAS; so a send-only holder sees no other sender's messages,
 * and a receive-only holder cannot put any in.  No system call while
 * neither side has to sleep.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coport_int.h"

/*
 * Publishing without a fence.  The in bell's handshake is a Dekker
 * pattern: a sender stores prod, then loads in_sleepers (portbell_ring);
 * a receiver about to sleep increments in_sleepers, then loads prod again
 * (the re-check); one of them must see the other's store, which takes a
 * store-load barrier on each side.  On the sender's side that barrier,
 * once per message, waits for the message's stores to reach lines the
 * receiver is reading, and cost a sixth of the message rate.  So a
 * sender whose process could register for MEMBARRIER_CMD_GLOBAL_EXPEDITED
 * (when it made its ring) publishes with a release store and no barrier,
 * and the receiver supplies both: between its increment and its
 * re-check it calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which
 * makes every running thread of every registered process execute a full
 * barrier (one not running had one when it was switched out).  Either
 * that barrier comes after a sender's store of prod, which the re-check
 * then sees, or before its load of in_sleepers, which then sees the
 * increment.  A sender that could not register stores prod seq_cst.
 */
static bool
membarrier_register(void)
{
	return syscall(SYS_membarrier,
	    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

int
chan_sync_senders(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0,
	    0) == 0 ? 0 : -1;
}

/* Copy n bytes out of (or into) a ring of mask + 1 bytes at position pos. */
static void
ring_read(void *dst, const uint8_t *data, uint32_t mask, uint64_t pos, size_t n)
{
	size_t off = (size_t)(pos & mask), first = (size_t)mask + 1 - off;

	if (first >= n) {
		copy_bytes(dst, data + off, n);
	} else {
		copy_bytes(dst, data + off, first);
		copy_bytes((uint8_t *)dst + first, data, n - first);
	}
}

static void
ring_write(uint8_t *data, uint32_t mask, uint64_t pos, const void *src, size_t n)
{
	size_t off = (size_t)(pos & mask), first = (size_t)mask + 1 - off;

	if (first >= n) {
		copy_bytes(data + off, src, n);
	} else {
		copy_bytes(data + off, src, first);
		copy_bytes(data, (const uint8_t *)src + first, n - first);
	}
}

/* Make our ring for this port and give it to comsgd, which hands it to
 * the receivers.  Under tx_lock. */
static int
tx_make(struct port_obj *o)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_ADDRING,
	    .handle = o->hold };
	size_t maplen = PAGE + o->ring_size;
	struct tx_ring *t = calloc(1, sizeof(*t));
	void *caps[2] = { NULL, NULL }, *p = MAP_FAILED, *c = MAP_FAILED;
	int pfd = -1, cfd = -1, e;
	struct corp rp;

	if (t == NULL)
		return -1;
	pfd = sys_memfd_create("cochannel-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	cfd = sys_memfd_create("cochannel-cons", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (pfd < 0 || cfd < 0 || sys_ftruncate(pfd, (off_t)maplen) < 0 ||
	    sys_ftruncate(cfd, PAGE) < 0)
		goto fail;
	p = sys_mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	c = sys_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
	if (p == MAP_FAILED || c == MAP_FAILED)
		goto fail;
	t->prod = p;
	t->data = (uint8_t *)p + PAGE;
	t->cons = c;
	t->maplen = maplen;
	t->mask = o->ring_size - 1;
	t->prod->magic = RING_MAGIC;
	t->prod->version = COPORT_SHM_VERSION;
	t->prod->size = o->ring_size;
	t->cons->taking = 1;	/* odd: no record's position */
	t->light = membarrier_register();
	/* From here on no one can map the ring writable: our mapping is
	 * the only way to write it.  Neither memfd can change size (a
	 * shrunk file would fault its readers). */
	if (sys_fcntl(pfd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    sys_fcntl(cfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	if (capfromfd(&caps[0], pfd) < 0 || capfromfd(&caps[1], cfd) < 0)
		goto fail;
	if (kernel_call(&rq, caps, 2, &rp, NULL, 0, NULL, NULL, false) < 0)
		goto fail;
	capfree(caps[0]);
	capfree(caps[1]);
	sys_close(pfd);
	sys_close(cfd);
	o->tx = t;
	return 0;
fail:
	e = errno;
	if (caps[0] != NULL)
		capfree(caps[0]);
	if (caps[1] != NULL)
		capfree(caps[1]);
	if (p != MAP_FAILED)
		sys_munmap(p, maplen);
	if (c != MAP_FAILED)
		sys_munmap(c, PAGE);
	if (pfd >= 0)
		sys_close(pfd);
	if (cfd >= 0)
		sys_close(cfd);
	free(t);
	errno = e;
	return -1;
}

int
chan_put_locked(struct port_obj *o, const void *buf, size_t len, bool announce,
    uint64_t *posp)
{
	uint64_t need, pos, room;
	struct ring_rec rec;
	struct tx_ring *t;

	/* Before any arithmetic on len: it may be anything up to SIZE_MAX. */
	if (len > RING_MSG_MAX(o->ring_size)) {
		errno = EMSGSIZE;
		return -1;
	}
	need = RING_REC_SIZE(len);
	if (o->tx == NULL && tx_make(o) < 0)
		return -1;
	t = o->tx;
	pos = t->prod->prod;		/* only we write it */
	room = o->ring_size - (pos - t->cons_seen);
	if (room < need) {
		/* Pairs with a receiver's CAS: what it read of the space
		 * below cons is no longer needed. */
		uint64_t c = __atomic_load_n(&t->cons->cons, __ATOMIC_SEQ_CST);

		if (c > pos || pos - c > o->ring_size || (c & 7) != 0) {
			/* a receiver scribbled on the consumer page */
			errno = EPROTO;
			return -1;
		}
		t->cons_seen = c;
		room = o->ring_size - (pos - c);
		if (room < need) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (announce) {
		/* COCARRIER: say which space we rewrite before we write it
		 * (a seqlock's first half: a receiver that copied from it,
		 * its fence, then its load of writing, sees this store if it
		 * saw any byte written after the fence) */
		STORE_RLX(&t->prod->writing, pos + need);
		__atomic_thread_fence(__ATOMIC_RELEASE);
	}
	rec = (struct ring_rec){ (uint32_t)len, RING_REC_CHECK(len, pos) };
	ring_write(t->data, t->mask, pos, &rec, sizeof(rec));
	if (announce) {
		/* COCARRIER: the header, then the bytes a chunk at a time,
		 * each published (release) for receivers copying behind us */
		uint64_t at = pos + sizeof(rec), end = at + len;

		STORE_REL(&t->prod->filled, at);
		while (at < end) {
			uint64_t n = end - at < CARRIER_CHUNK ? end - at : CARRIER_CHUNK;

			ring_write(t->data, t->mask, at,
			    (const uint8_t *)buf + (at - pos - sizeof(rec)), n);
			at += n;
			STORE_REL(&t->prod->filled, at);
		}
	} else {
		ring_write(t->data, t->mask, pos + sizeof(rec), buf, len);
	}
	/* Publish: the record before prod (release, pairing with the
	 * receiver's acquire of prod).  Then our load of the receivers'
	 * sleepers count in portbell_ring(): a sleeping receiver's
	 * membarrier orders the two (see membarrier_register), the
	 * compiler must keep them in this order; unregistered, seq_cst
	 * does. */
	if (t->light) {
		STORE_REL(&t->prod->prod, pos + need);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	} else {
		__atomic_store_n(&t->prod->prod, pos + need, __ATOMIC_SEQ_CST);
	}
	if (posp != NULL)
		*posp = pos;
	return 0;
}

ssize_t
chan_send_try(struct port_obj *o, const void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&o->tx_lock);
	r = chan_put_locked(o, buf, len, false, NULL);
	pthread_mutex_unlock(&o->tx_lock);
	if (r < 0)
		return -1;
	portbell_ring(&o->bell->in_sleepers, &o->bell->in_seq);
	return (ssize_t)len;
}

uint64_t
chan_room(struct port_obj *o)
{
	struct tx_ring *t = o->tx;
	uint64_t c, pos;

	if (t == NULL)
		return o->ring_size;
	pos = LOAD_RLX(&t->prod->prod);
	c = LOAD_ACQ(&t->cons->cons);
	return c > pos || pos - c > o->ring_size ? 0 : o->ring_size - (pos - c);
}

static void
rx_unmap(struct rx_ring *r)
{
	sys_munmap((void *)r->prod, r->maplen);
	sys_munmap(r->cons, PAGE);
}

/* Map a ring comsgd gave: the producer part read-only (the seals say no
 * one else can write it but its sender), the consumer page read-write.
 * Consumes the descriptors. */
static int
rx_map(struct rx_ring *r, uint64_t id, int pfd, int cfd)
{
	size_t size;
	void *p = MAP_FAILED, *c = MAP_FAILED;
	const struct ring_prod *hdr;
	uint32_t rsize;

	if (!memfd_check(pfd, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW,
	    PAGE + COCHANNEL_MINSIZE, &size) || size > PAGE + COCHANNEL_MAXSIZE ||
	    !memfd_check(cfd, F_SEAL_SHRINK | F_SEAL_GROW, PAGE, NULL))
		goto fail;
	p = sys_mmap(NULL, size, PROT_READ, MAP_SHARED, pfd, 0);
	c = sys_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
	if (p == MAP_FAILED || c == MAP_FAILED)
		goto fail;
	hdr = p;
	rsize = LOAD_RLX(&hdr->size);
	if (LOAD_RLX(&hdr->magic) != RING_MAGIC || (size_t)rsize + PAGE != size ||
	    (rsize & (rsize - 1)) != 0)
		goto fail;
	*r = (struct rx_ring){ .id = id, .prod = hdr,
	    .data = (const uint8_t *)p + PAGE, .cons = c, .maplen = size,
	    .mask = rsize - 1 };
	sys_close(pfd);
	sys_close(cfd);
	return 0;
fail:
	if (p != MAP_FAILED)
		sys_munmap(p, size);
	if (c != MAP_FAILED)
		sys_munmap(c, PAGE);
	sys_close(pfd);
	sys_close(cfd);
	return -1;
}

/* Fetch the port's rings from comsgd if they changed (always if force).
 * Under o->lock. */
static int
refresh_locked(struct port_obj *o, bool force)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_RINGS,
	    .handle = o->hold };
	uint32_t gen = LOAD_ACQ(&o->state->ring_gen);
	struct rx_ring *nrx = NULL;
	int nn = 0, room = 0, e;
	struct corp rp;

	if (!force && o->rx_fetched && gen == o->rx_gen)
		return 0;
	if (port_comsgd_gone(o)) {
		/* No one can tell us more; and a comsgd started since
		 * does not know our hold. */
		errno = ENOLINK;
		return -1;
	}
	do {
		void *caps[2 * CORQ_RINGS_MAX] = { NULL };
		int ncaps = 2 * CORQ_RINGS_MAX;

		rq.first = (uint32_t)nn;
		if (kernel_call(&rq, NULL, 0, &rp, NULL, 0, caps, &ncaps, false) < 0)
			goto fail;
		if (rp.count > CORQ_RINGS_MAX || ncaps != 2 * (int)rp.count) {
			for (int i = 0; i < ncaps; i++)
				if (caps[i] != NULL)
					capfree(caps[i]);
			errno = EPROTO;
			goto fail;
		}
		for (uint32_t i = 0; i < rp.count; i++) {
			int pfd = -1, cfd = -1, old = -1;

			if (caps[2 * i] != NULL)
				(void)captofd(caps[2 * i], &pfd);
			if (caps[2 * i + 1] != NULL)
				(void)captofd(caps[2 * i + 1], &cfd);
			if (caps[2 * i] != NULL)
				capfree(caps[2 * i]);
			if (caps[2 * i + 1] != NULL)
				capfree(caps[2 * i + 1]);
			if (nn == room) {
				struct rx_ring *g;

				room = room ? 2 * room : 8;
				g = realloc(nrx, (size_t)room * sizeof(*g));
				if (g == NULL) {
					if (pfd >= 0)
						sys_close(pfd);
					if (cfd >= 0)
						sys_close(cfd);
					errno = ENOMEM;
					goto fail;
				}
				nrx = g;
			}
			for (int k = 0; k < o->nrx; k++)
				if (o->rx[k].id == rp.ids[i] && o->rx[k].maplen != 0)
					old = k;
			if (old >= 0) {
				nrx[nn++] = o->rx[old];
				o->rx[old].maplen = 0;	/* moved */
				if (pfd >= 0)
					sys_close(pfd);
				if (cfd >= 0)
					sys_close(cfd);
			} else if (pfd >= 0 && cfd >= 0 &&
			    rx_map(&nrx[nn], rp.ids[i], pfd, cfd) == 0) {
				nn++;
			} else {
				/* a ring that does not check out is skipped */
				if (pfd >= 0 && cfd < 0)
					sys_close(pfd);
				if (cfd >= 0 && pfd < 0)
					sys_close(cfd);
			}
		}
	} while (rp.more && rp.count > 0);
	for (int k = 0; k < o->nrx; k++)
		if (o->rx[k].maplen != 0)
			rx_unmap(&o->rx[k]);
	free(o->rx);
	o->rx = nrx;
	o->nrx = nn;
	o->rx_gen = gen;
	o->rx_fetched = true;
	return 0;
fail:
	e = errno;
	for (int k = 0; k < nn; k++) {
		bool kept = false;

		for (int j = 0; j < o->nrx; j++)
			if (o->rx[j].id == nrx[k].id && o->rx[j].maplen == 0) {
				o->rx[j] = nrx[k];	/* moved back */
				kept = true;
			}
		if (!kept)
			rx_unmap(&nrx[k]);
	}
	free(nrx);
	errno = e;
	return -1;
}

int
chan_settle(struct port_obj *o)
{
	int r;

	pthread_mutex_lock(&o->lock);
	r = refresh_locked(o, true);
	/* A comsgd gone wrote ring_gen last: if it is the one we fetched
	 * at, it had no ring we do not know. */
	if (r < 0 && port_comsgd_gone(o) && o->rx_fetched &&
	    LOAD_ACQ(&o->state->ring_gen) == o->rx_gen)
		r = 0;
	pthread_mutex_unlock(&o->lock);
	return r;
}

int
chan_refresh(struct port_obj *o, bool force)
{
	int r;

	pthread_mutex_lock(&o->lock);
	r = refresh_locked(o, force);
	pthread_mutex_unlock(&o->lock);
	return r;
}

/*
 * COCARRIER: the record at c is still being written (its sender's
 * `writing` ends it): copy it behind its sender as `filled` moves, until
 * it is published whole.  0 with the copy at *top (the header in *recp),
 * or -1 with EAGAIN (no record there yet; taken, taken back, or its
 * sender stopped moving, or took longer than a spin budget a chunk: the
 * copy is dropped) or the errno of d->get.  (o->lock is held: a sender
 * trickling its bytes holds us no longer than that.)
 */
static int
rx_copy_growing(struct port_obj *o, struct rx_ring *r, struct chan_dest *d,
    uint64_t c, void **top, struct ring_rec *recp)
{
	uint64_t w = LOAD_ACQ(&r->prod->writing), start, end, done = 0, spins = 0;
	unsigned idle = 0, budget = spin_budget();
	struct ring_rec rec;
	void *to;

	/* the header is written before filled passes it (acquire) */
	if (w <= c || w - c > (uint64_t)r->mask + 1 ||
	    LOAD_ACQ(&r->prod->filled) < c + sizeof(rec))
		goto again;
	ring_read(&rec, r->data, r->mask, c, sizeof(rec));
	if (rec.check != RING_REC_CHECK(rec.len, c) ||
	    c + RING_REC_SIZE(rec.len) != w)
		goto again;	/* not the record being written */
	if ((to = d->get(d, o, rec.len)) == NULL)
		return -1;
	STORE_RLX(&r->cons->taking, c);	/* its sender waits */
	start = c + sizeof(rec);
	end = start + rec.len;
	for (;;) {
		uint64_t f = LOAD_ACQ(&r->prod->filled);

		if (f > end)
			f = end;
		if (f > start + done) {
			ring_read((uint8_t *)to + done, r->data, r->mask,
			    start + done, f - start - done);
			done = f - start;
			idle = 0;
		}
		if (done == rec.len && LOAD_ACQ(&r->prod->prod) == w)
			break;
		if (LOAD_ACQ(&r->cons->cons) != c || ++idle > budget ||
		    ++spins > (uint64_t)budget * (rec.len / CARRIER_CHUNK + 2)) {
			d->done(d, o, to, false);
			goto again;
		}
		cpu_relax();
	}
	*top = to;
	*recp = rec;
	return 0;
again:
	errno = EAGAIN;
	return -1;
}

/*
 * Take the next record of ring r to where d says: its length, or -1 with
 * EAGAIN (empty), EPROTO (the ring is inconsistent: its sender scribbled
 * on it, or for COCARRIER, someone moved cons back onto what its sender
 * is writing), or the errno of d->get (EMSGSIZE: it does not fit, it
 * stays).  o->lock held.
 */
static ssize_t
rx_take(struct port_obj *o, struct rx_ring *r, struct chan_dest *d)
{
	for (;;) {
		uint64_t c = LOAD_ACQ(&r->cons->cons);
		uint64_t p = r->prod_seen;
		struct ring_rec rec;
		uint64_t need;
		void *to;

		/* prod is read again only when what we saw of it is used up:
		 * one cache miss per batch, not per message.  seq_cst: the
		 * re-check of a receiver about to sleep (portbell_arm). */
		if (c >= p || p - c > (uint64_t)r->mask + 1) {
			p = __atomic_load_n(&r->prod->prod, __ATOMIC_SEQ_CST);
			r->prod_seen = p;
		}
		if (c == p) {
			if (!d->carrier) {
				errno = EAGAIN;
				return -1;
			}
			if (rx_copy_growing(o, r, d, c, &to, &rec) < 0)
				return -1;
			need = RING_REC_SIZE(rec.len);
			goto copied;
		}
		if (p - c > (uint64_t)r->mask + 1 || (c & 7) != 0 || p < c)
			goto inconsistent;
		ring_read(&rec, r->data, r->mask, c, sizeof(rec));
		need = RING_REC_SIZE(rec.len);
		if (rec.check != RING_REC_CHECK(rec.len, c) || need > p - c)
			goto inconsistent;
		if ((to = d->get(d, o, rec.len)) == NULL) {
			/* Only if it is still the next record: a record we
			 * read after others took it may be a newer one. */
			if (errno == EMSGSIZE && LOAD_ACQ(&r->cons->cons) != c)
				continue;
			return -1;
		}
		if (d->carrier)
			STORE_RLX(&r->cons->taking, c);	/* its sender waits */
		ring_read(to, r->data, r->mask, c + sizeof(rec), rec.len);
copied:
		if (d->carrier) {
			/* The seqlock's second half (chan_put_locked): were
			 * the bytes we copied being rewritten? */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (LOAD_RLX(&r->prod->writing) > c + r->mask + 1) {
				d->done(d, o, to, false);
				goto inconsistent;
			}
		}
		/* Claim what we copied; seq_cst also orders our reads of it
		 * before the sender may reuse the space (it acquires cons). */
		if (__atomic_compare_exchange_n(&r->cons->cons, &c, c + need,
		    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			d->done(d, o, to, true);
			return (ssize_t)rec.len;
		}
		d->done(d, o, to, false);
		continue;	/* another receiver took it */
inconsistent:
		/* Only if cons did not move meanwhile (we may have read a
		 * record another receiver had taken and the sender reused). */
		if (LOAD_ACQ(&r->cons->cons) != c)
			continue;
		errno = EPROTO;
		return -1;
	}
}

ssize_t
chan_take(struct port_obj *o, struct chan_dest *d)
{
	ssize_t r = -1;
	int n;

	pthread_mutex_lock(&o->lock);
	/* A new sender's ring shows as a new ring_gen (one load of a page
	 * only comsgd writes); comsgd is asked only then.  Gone: the rings
	 * we know still serve. */
	if (refresh_locked(o, false) < 0 && !o->rx_fetched) {
		pthread_mutex_unlock(&o->lock);
		return -1;
	}
	n = o->nrx;
	errno = EAGAIN;
	for (int k = 0; k < n; k++) {
		unsigned i = (o->rx_next + (unsigned)k) % (unsigned)n;
		struct rx_ring *ring = &o->rx[i];

		if (ring->broken)
			continue;
		r = rx_take(o, ring, d);
		if (r >= 0) {
			o->rx_next = i + 1;
			break;
		}
		if (errno != EAGAIN && errno != EPROTO)
			break;
		if (errno == EPROTO)
			ring->broken = true;
		errno = EAGAIN;
	}
	pthread_mutex_unlock(&o->lock);
	if (r >= 0)
		portbell_ring(&o->bell->out_sleepers, &o->bell->out_seq);
	return r;
}

/* COCHANNEL: into the caller's buffer, if the record fits. */
struct buf_dest {
	struct chan_dest d;
	void		*buf;
	size_t		 len;
};

static void *
buf_get(struct chan_dest *d, struct port_obj *o, size_t len)
{
	struct buf_dest *b = (struct buf_dest *)d;

	(void)o;
	if (len > b->len) {
		errno = EMSGSIZE;
		return NULL;
	}
	return b->buf;
}

static void
buf_done(struct chan_dest *d, struct port_obj *o, void *to, bool claimed)
{
	(void)d, (void)o, (void)to, (void)claimed;
}

ssize_t
chan_recv_try(struct port_obj *o, void *buf, size_t len)
{
	struct buf_dest b = { { buf_get, buf_done, false }, buf, len };

	return chan_take(o, &b.d);
}

bool
chan_underway(struct port_obj *o)
{
	bool r = false;

	pthread_mutex_lock(&o->lock);
	for (int k = 0; k < o->nrx && !r; k++)
		r = !o->rx[k].broken && LOAD_RLX(&o->rx[k].prod->writing) >
		    LOAD_RLX(&o->rx[k].prod->prod);
	pthread_mutex_unlock(&o->lock);
	return r;
}

int
chan_ready(struct port_obj *o, int events)
{
	int rev = 0;

	if (events & COPOLL_IN) {
		(void)chan_refresh(o, false);
		pthread_mutex_lock(&o->lock);
		for (int k = 0; k < o->nrx; k++)
			if (!o->rx[k].broken &&
			    __atomic_load_n(&o->rx[k].cons->cons, __ATOMIC_SEQ_CST) !=
			    __atomic_load_n(&o->rx[k].prod->prod, __ATOMIC_SEQ_CST))
				rev |= COPOLL_IN;
		pthread_mutex_unlock(&o->lock);
	}
	if (events & COPOLL_OUT) {
		pthread_mutex_lock(&o->tx_lock);
		if (o->tx == NULL || o->ring_size - (o->tx->prod->prod -
		    LOAD_ACQ(&o->tx->cons->cons)) >= RING_REC_SIZE(1))
			rev |= COPOLL_OUT;
		pthread_mutex_unlock(&o->tx_lock);
	}
	return rev;
}

void
chan_release(struct port_obj *o, int rights)
{
	if ((rights & COPORT_PERM_SEND) && o->tx != NULL) {
		sys_munmap(o->tx->prod, o->tx->maplen);
		sys_munmap(o->tx->cons, PAGE);
		free(o->tx);
		o->tx = NULL;
	}
	if (rights & COPORT_PERM_RECV) {
		for (int k = 0; k < o->nrx; k++)
			if (o->rx[k].maplen != 0)
				rx_unmap(&o->rx[k]);
		free(o->rx);
		o->rx = NULL;
		o->nrx = 0;
		o->rx_fetched = false;
	}
}
