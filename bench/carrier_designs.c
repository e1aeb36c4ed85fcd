/*
 * Candidate designs for COCARRIER, built as small prototypes and measured
 * side by side with their yardsticks in the same run: memcpy, a pipe and
 * a bare shared-memory ring.  Each design keeps COCARRIER's promise: once
 * send() returns, the sender cannot change the message by any means it
 * has, and a receiver sees it through a read-only view the kernel
 * enforces.
 *
 *   d0   a sealed memfd per message, passed over a datagram socket (the
 *        system calls cocarrier.c makes, without the library around them)
 *   d1   a trusted copier: the sender writes into its staging ring, the
 *        copier validates and copies each record into a pool that only
 *        it can write (sealed F_SEAL_FUTURE_WRITE after it mapped it) and
 *        acknowledges; receivers claim records and read them in place,
 *        read-only, and give the space back through hazard slots
 *   d2   the same copier and pool, filled by process_vm_readv() straight
 *        from the sender's buffer (one copy, made by the kernel)
 *   d3   no third party while a receiver keeps up: the sender writes into
 *        its staging ring (sealed, read-only to receivers) and waits until
 *        a receiver has copied the record into the receiver's own memory,
 *        which it views through a read-only mapping; a record no receiver
 *        took within the spin budget is taken by the copier of d1 into
 *        the pool (so send never waits for a receiver), and receivers
 *        take the pool's records first
 *   d3c  d3 with the sender asking the copier at once (the pool path)
 *
 * Each is a real separate-process prototype: the copier is a process of
 * its own, the sender and the receiver check at start that they cannot
 * map the pool or the copier's pages writable, and the copier reads what
 * a sender or receiver wrote once, checked, as hostile input.
 * docs/performance.md ("COCARRIER: choosing a design") gives the figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "bench.h"

#define PAGE		4096u
#define MAXSIZES	8
#define MAXMSG		(64u << 20)
#define NONE		UINT64_MAX
#define NHELD		4		/* views a receiver may hold at once */
#define SLICE_NS	20000000	/* longest sleep without a wake-up */
#define MB		1e6
#define POOL_MIN	(256u << 10)	/* the smallest pool: many small records */

#define ACQ	memory_order_acquire
#define REL	memory_order_release
#define RLX	memory_order_relaxed
#define SC	memory_order_seq_cst

/* ---- the layouts (each a page of its own; who writes it is in its name) */

/* Pool page 0, followed by the data ring.  Written by the copier only:
 * sealed F_SEAL_FUTURE_WRITE once the copier mapped it; receivers map it
 * read-only. */
struct pool_hdr {
	alignas(64) _Atomic uint64_t pub;	/* end of the published records */
	alignas(64) _Atomic uint64_t limit;	/* a claim below this is void */
	alignas(64) _Atomic uint32_t in_seq;	/* bumped to wake receivers */
};

/* Read-write for every receiver of the port (the claims); the copier maps
 * it read-only and trusts nothing in it. */
struct pool_claim {
	alignas(64) _Atomic uint64_t cons;
};

/* One per receiver: only that receiver writes it, the copier reads it.
 * held[]: the positions of the records it views (NONE: free slot). */
struct rx_page {
	alignas(64) _Atomic uint64_t held[NHELD];
	alignas(64) _Atomic uint32_t sleeping;
};

/* The copier's own state, read by all; and the bell, written by all. */
struct copier_page {
	alignas(64) _Atomic uint32_t sleeping;
	alignas(64) _Atomic uint32_t need_space;
};
struct bell_page {
	alignas(64) _Atomic uint32_t seq;
};

/* d1: a sender's staging ring, page 0 then the data (the sender writes,
 * the copier maps it read-only); the copier's acknowledgement page (the
 * copier writes, the sender maps it read-only). */
struct stg_hdr {
	alignas(64) _Atomic uint64_t prod;
	alignas(64) _Atomic uint32_t sleeping;
};
struct ack_page {
	alignas(64) _Atomic uint64_t ack;	/* d1: staging consumed up to */
	_Atomic uint32_t done;			/* d2: the request served */
	_Atomic int32_t status;			/* d2: 0 or an errno */
	alignas(64) _Atomic uint32_t seq;	/* bumped to wake the sender */
};

/* d2: the sender's request (the sender writes, the copier reads). */
struct vm_req {
	alignas(64) _Atomic uint32_t seq;
	_Atomic uint64_t addr, len;
	alignas(64) _Atomic uint32_t sleeping;
};

/* d3: page 0 of the sender's staging ring (the sender writes; sealed,
 * receivers map it read-only), and the claims page of that ring
 * (read-write for its receivers; the sender reads it). */
struct d3_hdr {
	alignas(64) _Atomic uint64_t prod;
	_Atomic uint64_t writing;		/* the sender may write below */
	alignas(64) _Atomic uint64_t want;	/* the copier is to take up to */
	_Atomic uint32_t sleeping;		/* the sender waits */
};
/* cons: the end of the records taken; odd while the copier takes one
 * (a claim, not a lock a receiver could die holding: only the trusted
 * copier sets it).  The bell words are written by all parties, as the
 * port's bell page is. */
struct d3_claim {
	alignas(64) _Atomic uint64_t cons;
	alignas(64) _Atomic uint32_t in_seq;	/* bumped to wake receivers */
	_Atomic uint32_t sleeping;		/* a receiver waits */
	alignas(64) _Atomic uint32_t out_seq;	/* bumped to wake the sender */
};

_Static_assert(sizeof(struct d3_hdr) <= PAGE, "d3_hdr");
_Static_assert(sizeof(struct d3_claim) <= PAGE, "d3_claim");
_Static_assert(sizeof(struct pool_hdr) <= PAGE, "pool_hdr");
_Static_assert(sizeof(struct rx_page) <= PAGE, "rx_page");
_Static_assert(sizeof(struct stg_hdr) <= PAGE, "stg_hdr");
_Static_assert(sizeof(struct ack_page) <= PAGE, "ack_page");
_Static_assert(sizeof(struct vm_req) <= PAGE, "vm_req");

/* A pool record: a 16-byte header the copier writes, then the bytes,
 * padded to 16.  check binds the header to its place. */
#define PREC(len)	(16 + (((uint64_t)(len) + 15) & ~(uint64_t)15))
#define PCHECK(len, pos) (~(uint32_t)(len) ^ (uint32_t)((pos) >> 4) ^ 0xc0ca221eu)
/* A staging record: 8-byte header (len, check), the bytes, padded to 8. */
#define SREC(len)	(8 + (((uint64_t)(len) + 7) & ~(uint64_t)7))
#define SCHECK(len, pos) (~(uint32_t)(len) ^ (uint32_t)((pos) >> 3))

/* ---- cases */

enum { K_PIPE, K_RING, K_D0, K_D1, K_D2, K_D3, NKINDS };
enum { AT_SENDER, AT_RECEIVER, AT_FREE };	/* where the copier runs */
enum { M_STREAM, M_PINGPONG };

struct kase {
	const char	*name;
	int		 kind, at;
};
static const struct kase all_cases[] = {
	{ "pipe", K_PIPE, 0 }, { "ring", K_RING, 0 }, { "d0", K_D0, 0 },
	{ "d1s", K_D1, AT_SENDER }, { "d1r", K_D1, AT_RECEIVER },
	{ "d1f", K_D1, AT_FREE },
	{ "d2s", K_D2, AT_SENDER }, { "d2r", K_D2, AT_RECEIVER },
	{ "d2f", K_D2, AT_FREE }, { "d3", K_D3, AT_FREE },
	{ "d3c", K_D3, AT_FREE },
};
#define NALL	(int)(sizeof(all_cases) / sizeof(all_cases[0]))

static struct {
	int64_t		 batch_ns, spin_ns;
	uint64_t	 count;
	size_t		 chunk, sizes[MAXSIZES];
	int		 nsizes, rounds, ncases, cases[NALL], modes;
	int		 cpu[2];
} opt;

/* The bench's own control page (not part of any design). */
struct ctl {
	alignas(64) _Atomic uint32_t stop;
	alignas(64) _Atomic uint32_t quit;
	double		 result;
	_Atomic uint64_t taken, pooled;	/* messages received; from the pool */
	char		 err[200];
};
static struct ctl *ctl;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->err, sizeof(ctl->err), fmt, ap);
	va_end(ap);
	if (errno)
		snprintf(ctl->err + strlen(ctl->err),
		    sizeof(ctl->err) - strlen(ctl->err), ": %s", strerror(errno));
	fprintf(stderr, "carrier_designs: %s\n", ctl->err);
	_exit(1);
}

/* ---- waiting: spin for a budget, then sleep on a futex word */

static uint64_t spin_ticks;

static inline uint64_t
ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return (uint64_t)now_ns();
#endif
}

static inline void
relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#endif
}

static void
calibrate(void)
{
	int64_t t0 = now_ns();
	uint64_t k0 = ticks();

	while (now_ns() - t0 < 20000000)
		;
	spin_ticks = (uint64_t)((double)(ticks() - k0) / 20e6 * (double)opt.spin_ns);
}

static void
fwait(_Atomic uint32_t *w, uint32_t v)
{
	struct timespec ts = { 0, SLICE_NS };

	syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0);
}

/* The waker's side of the handshake: it published its progress (release),
 * then looks whether anyone announced it sleeps. */
static void
ring_bell(_Atomic uint32_t *sleeping, _Atomic uint32_t *seq)
{
	atomic_thread_fence(SC);
	if (atomic_load_explicit(sleeping, RLX)) {
		atomic_fetch_add_explicit(seq, 1, SC);
		syscall(SYS_futex, seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

/* Wait until `ready`: spin for spin_ticks, then announce in *sleeping,
 * look again, and sleep on *seq for at most a slice. */
#define WAIT_UNTIL(ready, sleeping, seq) do {				\
	uint64_t t0_ = ticks();						\
	while (!(ready)) {						\
		if (ticks() - t0_ < spin_ticks) {			\
			relax();					\
			continue;					\
		}							\
		atomic_store_explicit((sleeping), 1, SC);		\
		uint32_t s_ = atomic_load_explicit((seq), SC);		\
		if (!(ready))						\
			fwait((seq), s_);				\
		atomic_store_explicit((sleeping), 0, RLX);		\
		t0_ = ticks();						\
	}								\
} while (0)

/* ---- memory */

static int
memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		die("memfd %s", name);
	return fd;
}

static void *
map(int fd, off_t off, size_t size, bool rw)
{
	void *p = mmap(NULL, size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED | MAP_POPULATE, fd, off);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* A ring of `size` bytes at `off` in fd, mapped twice back to back so that
 * a record that wraps is contiguous. */
static uint8_t *
map_ring(int fd, off_t off, size_t size, bool rw)
{
	int prot = rw ? PROT_READ | PROT_WRITE : PROT_READ;
	uint8_t *b = mmap(NULL, 2 * size, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED ||
	    mmap(b, size, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, off) == MAP_FAILED ||
	    mmap(b + size, size, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, off) == MAP_FAILED)
		die("mmap ring");
	return b;
}

/* The copier, once it mapped its memory writable: from now on nobody can
 * map it writable or write it (the copier's mappings stay). */
static void
seal(int fd)
{
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("seal");
}

/* What a sender or receiver checks at start: it cannot write the copier's
 * memory, neither by a writable mapping nor by write(), even through a
 * descriptor reopened read-write. */
static void
must_be_readonly(int fd)
{
	char path[64];
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int rw;

	if (p != MAP_FAILED || errno != EPERM)
		die("the copier's memory can be mapped writable");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((rw = open(path, O_RDWR)) >= 0) {
		if (pwrite(rw, "x", 1, 0) >= 0 || errno != EPERM)
			die("the copier's memory can be written");
		close(rw);
	}
	errno = 0;
}

static size_t
pow2_at_least(size_t n)
{
	size_t s = PAGE;

	while (s < n)
		s <<= 1;
	return s;
}

/* ---- one port of d1/d2: its memory, as each party maps it */

struct port {
	/* descriptors, made by the parent before any child maps them */
	int		 pool_fd, claim_fd, rx_fd, snd_fd, ack_fd, sclaim_fd;
	size_t		 psize, ssize;	/* pool data, d1 staging data */
	/* mappings (per process) */
	struct pool_hdr	*hdr;
	uint8_t		*pdata;
	struct pool_claim *claim;
	struct rx_page	*rx;
	struct stg_hdr	*stg;		/* d1 */
	uint8_t		*sdata;		/* d1 */
	struct vm_req	*req;		/* d2 */
	struct ack_page	*ack;
	/* the copier's own accounting of the port and its sender */
	uint64_t	 pub, reuse_to, sack, at, len, done, refused;
	uint32_t	 seen;
	bool		 in_rec;
	size_t		 blocked;
	pid_t		 sender;
	/* the sender's own positions */
	uint64_t	 sprod;
	uint32_t	 sseq;
	/* d3 */
	struct d3_hdr	*dh;
	struct d3_claim	*dc;
	uint8_t		*priv_rw, *priv_ro;	/* the receiver's own memory */
	uint64_t	 priv_pos;
	size_t		 vsize;			/* of that memory */
	bool		 at_once;		/* d3c */
	bool		 in_pool;		/* the view held is the pool's */
};

static struct copier_page *cpage;
static struct bell_page *bell;
static int cpage_fd, bell_fd;

static void
port_make(struct port *p, int kind, size_t maxlen)
{
	p->sclaim_fd = -1;
	if (kind == K_D3) {
		p->ssize = pow2_at_least(2 * SREC(maxlen));
		p->vsize = pow2_at_least(2 * PREC(maxlen));
		p->snd_fd = memfd("staging", PAGE + p->ssize);
		p->sclaim_fd = memfd("staging claims", PAGE);
	}
	p->psize = pow2_at_least(4 * PREC(maxlen) > POOL_MIN ? 4 * PREC(maxlen) : POOL_MIN);
	p->pool_fd = memfd("pool", PAGE + p->psize);
	p->claim_fd = memfd("claim", PAGE);
	p->rx_fd = memfd("rx", PAGE);
	p->ack_fd = memfd("ack", PAGE);
	if (kind == K_D1) {
		p->ssize = opt.chunk ? pow2_at_least(4 * opt.chunk) :
		    pow2_at_least(2 * SREC(maxlen));
		p->snd_fd = memfd("staging", PAGE + p->ssize);
	} else if (kind == K_D2)
		p->snd_fd = memfd("request", PAGE);
}

static void
copier_maps(struct port *p, int kind)
{
	p->hdr = map(p->pool_fd, 0, PAGE, true);
	p->pdata = map_ring(p->pool_fd, PAGE, p->psize, true);
	p->ack = map(p->ack_fd, 0, PAGE, true);
	seal(p->pool_fd);
	seal(p->ack_fd);
	p->claim = map(p->claim_fd, 0, PAGE, false);
	p->rx = map(p->rx_fd, 0, PAGE, false);
	if (kind == K_D1) {
		p->stg = map(p->snd_fd, 0, PAGE, false);
		p->sdata = map_ring(p->snd_fd, PAGE, p->ssize, false);
	} else if (kind == K_D2)
		p->req = map(p->snd_fd, 0, PAGE, false);
	else {
		/* The sender's ring exists once the sender sealed it. */
		p->dc = map(p->sclaim_fd, 0, PAGE, true);
	}
}

static void
copier_maps_staging(struct port *p)
{
	p->dh = map(p->snd_fd, 0, PAGE, false);
	p->sdata = map_ring(p->snd_fd, PAGE, p->ssize, false);
}

static void
receiver_maps(struct port *p)
{
	must_be_readonly(p->pool_fd);
	p->hdr = map(p->pool_fd, 0, PAGE, false);
	p->pdata = map_ring(p->pool_fd, PAGE, p->psize, false);
	p->claim = map(p->claim_fd, 0, PAGE, true);
	p->rx = map(p->rx_fd, 0, PAGE, true);
	for (int i = 0; i < NHELD; i++)
		atomic_store(&p->rx->held[i], NONE);
}

static void
sender_maps(struct port *p, int kind)
{
	must_be_readonly(p->ack_fd);
	p->ack = map(p->ack_fd, 0, PAGE, false);
	if (kind == K_D1) {
		/* Sealed as a COCHANNEL ring is: the copier maps it
		 * read-only, nobody else can write it. */
		p->stg = map(p->snd_fd, 0, PAGE, true);
		p->sdata = map_ring(p->snd_fd, PAGE, p->ssize, true);
		seal(p->snd_fd);
	} else
		p->req = map(p->snd_fd, 0, PAGE, true);
}

/* ---- the copier */

/* Space given back: everything below the claims' position that no
 * receiver holds.  A receiver announces a view in its own page before it
 * claims; `limit` is published before the scan, and a receiver that finds
 * its claim below it gives the claim up, so either the scan sees the
 * view or the receiver sees the limit. */
static void
reclaim(struct port *p)
{
	uint64_t c = atomic_load_explicit(&p->claim->cons, ACQ), h;

	if (c < p->reuse_to || c > p->pub)	/* scribbled: nothing learnt */
		c = p->reuse_to;
	atomic_store_explicit(&p->hdr->limit, c, SC);
	for (int i = 0; i < NHELD; i++) {
		h = atomic_load_explicit(&p->rx->held[i], SC);
		if (h >= p->reuse_to && h < c)
			c = h;
	}
	p->reuse_to = c;
}

static bool
room(struct port *p, uint64_t need)
{
	if (p->pub + need - p->reuse_to > p->psize)
		reclaim(p);
	return p->pub + need - p->reuse_to <= p->psize;
}

static void
publish(struct port *p, uint64_t at, uint64_t len)
{
	uint64_t h = (uint32_t)len | (uint64_t)PCHECK(len, at) << 32;

	memcpy(p->pdata + (at & (p->psize - 1)), &h, 8);
	p->pub = at + PREC(len);
	atomic_store_explicit(&p->hdr->pub, p->pub, REL);
	if (p->dc)
		ring_bell(&p->dc->sleeping, &p->dc->in_seq);
	else
		ring_bell(&p->rx->sleeping, &p->hdr->in_seq);
}

/* d3: take the record the sender asked to be taken, unless a receiver
 * takes it first: claim it (cons odd), copy it into the pool, publish it
 * there, then move cons past it.  The pool's record is published before
 * cons moves, so a receiver that sees the sender's next record sees this
 * one in the pool (and takes the pool's records first). */
static bool
serve_d3(struct port *p)
{
	uint64_t want = atomic_load_explicit(&p->dh->want, ACQ);
	uint64_t c = atomic_load_explicit(&p->dc->cons, ACQ), prod, h, len;

	if (want <= c || (c & 7) || want == p->refused)
		return false;
	prod = atomic_load_explicit(&p->dh->prod, ACQ);
	h = *(volatile uint64_t *)(p->sdata + (c & (p->ssize - 1)));
	len = (uint32_t)h;
	if (prod <= c || prod - c > p->ssize ||
	    (uint32_t)(h >> 32) != SCHECK(len, c) || len > MAXMSG ||
	    PREC(len) > p->psize || prod - c < SREC(len)) {
		p->refused = want;	/* not a whole record: until it asks again */
		return false;
	}
	if (!room(p, PREC(len))) {
		p->blocked = PREC(len);
		return false;
	}
	p->blocked = 0;
	if (!atomic_compare_exchange_strong_explicit(&p->dc->cons, &c, c | 1,
	    SC, RLX))
		return true;	/* a receiver took it */
	memcpy(p->pdata + ((p->pub + 16) & (p->psize - 1)),
	    p->sdata + ((c + 8) & (p->ssize - 1)), len);
	publish(p, p->pub, len);
	atomic_store_explicit(&p->dc->cons, c + SREC(len), REL);
	ring_bell(&p->dh->sleeping, &p->dc->out_seq);
	return true;
}

/* d1: copy what the sender published of its current record (all of it,
 * or up to where it got, a chunk at a time).  true if it moved. */
static bool
serve_staging(struct port *p)
{
	uint64_t prod = atomic_load_explicit(&p->stg->prod, ACQ), n, h;

	if (prod == p->sack)
		return false;
	if (prod - p->sack > p->ssize || (prod & 7))
		die("copier: the sender's position is out of its ring");
	if (!p->in_rec) {
		h = *(volatile uint64_t *)(p->sdata + (p->sack & (p->ssize - 1)));
		p->len = (uint32_t)h;
		if ((uint32_t)(h >> 32) != SCHECK(p->len, p->sack) ||
		    p->len > MAXMSG || PREC(p->len) > p->psize)
			die("copier: a bad staging record");
		if (!room(p, PREC(p->len))) {
			p->blocked = PREC(p->len);
			return false;
		}
		p->blocked = 0;
		p->in_rec = true;
		p->at = p->pub;
		p->done = 0;
		p->sack += 8;
	}
	n = prod - p->sack;
	if (n > p->len - p->done)
		n = p->len - p->done;
	memcpy(p->pdata + ((p->at + 16 + p->done) & (p->psize - 1)),
	    p->sdata + (p->sack & (p->ssize - 1)), n);
	p->done += n;
	p->sack += n;
	if (p->done == p->len) {
		p->sack = (p->sack + 7) & ~(uint64_t)7;
		p->in_rec = false;
		publish(p, p->at, p->len);
	}
	atomic_store_explicit(&p->ack->ack, p->sack, REL);
	ring_bell(&p->stg->sleeping, &p->ack->seq);
	return true;
}

/* d2: serve the sender's request with one process_vm_readv(). */
static bool
serve_vm(struct port *p)
{
	uint32_t seq = atomic_load_explicit(&p->req->seq, ACQ);
	uint64_t addr, len;
	int status = 0;

	if (seq == p->seen)
		return false;
	addr = atomic_load_explicit(&p->req->addr, RLX);
	len = atomic_load_explicit(&p->req->len, RLX);
	if (len > MAXMSG || PREC(len) > p->psize)
		status = EMSGSIZE;
	else if (!room(p, PREC(len))) {
		p->blocked = PREC(len);
		return false;
	} else {
		struct iovec l = { p->pdata + ((p->pub + 16) & (p->psize - 1)), len };
		struct iovec r = { (void *)(uintptr_t)addr, len };
		ssize_t got = process_vm_readv(p->sender, &l, 1, &r, 1, 0);

		if (got == (ssize_t)len)
			publish(p, p->pub, len);
		else
			status = got < 0 ? errno : EFAULT;
	}
	p->blocked = 0;
	p->seen = seq;
	atomic_store_explicit(&p->ack->status, status, RLX);
	atomic_store_explicit(&p->ack->done, seq, REL);
	ring_bell(&p->req->sleeping, &p->ack->seq);
	return true;
}

static bool
copier_has_work(struct port *ports, int n, int kind)
{
	for (int i = 0; i < n; i++) {
		struct port *p = &ports[i];

		if (p->blocked) {
			if (room(p, p->blocked))
				return true;
		} else if (kind == K_D1 ?
		    atomic_load_explicit(&p->stg->prod, RLX) != p->sack :
		    kind == K_D2 ?
		    atomic_load_explicit(&p->req->seq, RLX) != p->seen :
		    atomic_load_explicit(&p->dh->want, RLX) >
		    atomic_load_explicit(&p->dc->cons, RLX) &&
		    atomic_load_explicit(&p->dh->want, RLX) != p->refused)
			return true;
	}
	return atomic_load_explicit(&ctl->quit, RLX) != 0;
}

static void __attribute__((noreturn))
copier_main(struct port *ports, int n, int kind, int readyfd, int pidfd)
{
	pid_t pid[2];

	cpage = map(cpage_fd, 0, PAGE, true);
	seal(cpage_fd);
	bell = map(bell_fd, 0, PAGE, false);	/* only to sleep on */
	for (int i = 0; i < n; i++)
		copier_maps(&ports[i], kind);
	if (write(readyfd, "r", 1) != 1)
		die("ready");
	close(readyfd);
	/* The senders' pids, for process_vm_readv(); comsgd would know them
	 * from the kernel (the peer credentials of the opening call). */
	if (read_full(pidfd, pid, sizeof(pid)) < 0)
		die("copier: pids");
	for (int i = 0; i < n; i++) {
		ports[i].sender = pid[i];
		if (kind == K_D3)
			copier_maps_staging(&ports[i]);
	}
	for (;;) {
		bool moved = false, blocked = false;

		for (int i = 0; i < n; i++) {
			moved |= kind == K_D1 ? serve_staging(&ports[i]) :
			    kind == K_D2 ? serve_vm(&ports[i]) :
			    serve_d3(&ports[i]);
			blocked |= ports[i].blocked != 0;
		}
		if (moved)
			continue;
		if (atomic_load_explicit(&ctl->quit, RLX))
			_exit(0);
		atomic_store_explicit(&cpage->need_space, blocked, RLX);
		WAIT_UNTIL(copier_has_work(ports, n, kind), &cpage->sleeping,
		    &bell->seq);
	}
}

/* ---- d1/d2: the sender's send and the receiver's view */

static void
ring_copier(void)
{
	ring_bell(&cpage->sleeping, &bell->seq);
}

static void
d1_send(struct port *p, const uint8_t *buf, size_t len)
{
	uint64_t pos = p->sprod, w = pos + 8, end = pos + SREC(len), h;
	size_t off = 0, step = opt.chunk ? opt.chunk : len;

	if (!opt.chunk && SREC(len) > p->ssize)
		die("message larger than the staging ring");
	WAIT_UNTIL(w - atomic_load_explicit(&p->ack->ack, ACQ) <= p->ssize,
	    &p->stg->sleeping, &p->ack->seq);
	h = (uint32_t)len | (uint64_t)SCHECK(len, pos) << 32;
	memcpy(p->sdata + (pos & (p->ssize - 1)), &h, 8);
	do {
		size_t n = len - off < step ? len - off : step;
		uint64_t to = off + n == len ? end : w + n;

		WAIT_UNTIL(to - atomic_load_explicit(&p->ack->ack, ACQ) <= p->ssize,
		    &p->stg->sleeping, &p->ack->seq);
		memcpy(p->sdata + (w & (p->ssize - 1)), buf + off, n);
		off += n;
		w += n;
		atomic_store_explicit(&p->stg->prod, to, REL);
		ring_copier();
	} while (off < len);
	p->sprod = end;
	/* Returns only once the copier has it: from then on it is in the
	 * pool, which this process cannot write. */
	WAIT_UNTIL(atomic_load_explicit(&p->ack->ack, ACQ) >= end,
	    &p->stg->sleeping, &p->ack->seq);
}

static void
d2_send(struct port *p, const uint8_t *buf, size_t len)
{
	uint32_t seq = ++p->sseq;

	atomic_store_explicit(&p->req->addr, (uintptr_t)buf, RLX);
	atomic_store_explicit(&p->req->len, len, RLX);
	atomic_store_explicit(&p->req->seq, seq, REL);
	ring_copier();
	WAIT_UNTIL(atomic_load_explicit(&p->ack->done, ACQ) == seq,
	    &p->req->sleeping, &p->ack->seq);
	if (atomic_load_explicit(&p->ack->status, RLX) != 0) {
		errno = atomic_load_explicit(&p->ack->status, RLX);
		die("process_vm_readv by the copier");
	}
}

/* Claim the next record and view it in place.  The view is announced in
 * held[0] before the claim (see reclaim()). */
static bool
pool_pending(struct port *p)
{
	return atomic_load_explicit(&p->hdr->pub, ACQ) !=
	    atomic_load_explicit(&p->claim->cons, ACQ);
}

/* One try: the view, or NULL if there was nothing or another took it. */
static const uint8_t *
pool_try_view(struct port *p, size_t *lenp)
{
	uint64_t c, pub, h, len;

	{
		c = atomic_load_explicit(&p->claim->cons, ACQ);
		pub = atomic_load_explicit(&p->hdr->pub, ACQ);
		if (c > pub || pub - c > p->psize || (c & 15))
			die("receiver: the claims' position was scribbled");
		atomic_store_explicit(&p->rx->held[0], c, SC);
		/* Below the limit the space may be reused: another receiver
		 * claimed it since (the CAS would fail), or cons was moved
		 * back by a hostile receiver. */
		if (c < atomic_load_explicit(&p->hdr->limit, SC) || c == pub) {
			atomic_store_explicit(&p->rx->held[0], NONE, REL);
			return NULL;
		}
		memcpy(&h, p->pdata + (c & (p->psize - 1)), 8);
		len = (uint32_t)h;
		if ((uint32_t)(h >> 32) != PCHECK(len, c) || PREC(len) > pub - c)
			die("receiver: no record at the claims' position");
		if (atomic_compare_exchange_strong_explicit(&p->claim->cons, &c,
		    c + PREC(len), SC, RLX)) {
			*lenp = len;
			return p->pdata + (c & (p->psize - 1)) + 16;
		}
		atomic_store_explicit(&p->rx->held[0], NONE, REL);
	}
	return NULL;
}

static const uint8_t *
pool_view(struct port *p, size_t *lenp)
{
	const uint8_t *v;

	for (;;) {
		WAIT_UNTIL(pool_pending(p), &p->rx->sleeping, &p->hdr->in_seq);
		if ((v = pool_try_view(p, lenp)) != NULL)
			return v;
	}
}

static void
pool_release(struct port *p)
{
	atomic_store_explicit(&p->rx->held[0], NONE, REL);
	atomic_thread_fence(SC);
	if (atomic_load_explicit(&cpage->need_space, RLX))
		ring_copier();
}

/* ---- d3: the receiver copies, the sender waits for the claim */

/* The sender's own memory, before anyone else maps it: writable here,
 * sealed so that receivers can only map it read-only (as a COCHANNEL
 * ring is). */
static void
d3_sender_maps(struct port *p)
{
	p->dh = map(p->snd_fd, 0, PAGE, true);
	p->sdata = map_ring(p->snd_fd, PAGE, p->ssize, true);
	seal(p->snd_fd);
	p->dc = map(p->sclaim_fd, 0, PAGE, true);
}

/* The receiver: the staging ring read-only, the claims read-write, and
 * its own memory twice: writable for the copy, read-only for the view. */
static void
d3_receiver_maps(struct port *p)
{
	int fd = memfd("views", p->vsize);

	must_be_readonly(p->snd_fd);
	p->dh = map(p->snd_fd, 0, PAGE, false);
	p->sdata = map_ring(p->snd_fd, PAGE, p->ssize, false);
	p->dc = map(p->sclaim_fd, 0, PAGE, true);
	p->priv_rw = map_ring(fd, 0, p->vsize, true);
	p->priv_ro = map_ring(fd, 0, p->vsize, false);
	close(fd);
	receiver_maps(p);	/* the copier's pool */
}

static void
d3_send(struct port *p, const uint8_t *buf, size_t len)
{
	uint64_t pos = p->sprod, w = pos + 8, end = pos + SREC(len), h;
	size_t off = 0, step = opt.chunk ? opt.chunk : len;

	if (SREC(len) > p->ssize / 2)
		die("message larger than half the staging ring");
	/* Every earlier record was taken (send waited for it); announce the
	 * space about to be rewritten, so that a receiver whose claim was
	 * moved back onto it sees that its copy may be torn. */
	atomic_store_explicit(&p->dh->writing, end, SC);
	atomic_thread_fence(REL);	/* a seqlock's writer: the word, then the bytes */
	h = (uint32_t)len | (uint64_t)SCHECK(len, pos) << 32;
	memcpy(p->sdata + (pos & (p->ssize - 1)), &h, 8);
	do {
		size_t n = len - off < step ? len - off : step;

		memcpy(p->sdata + (w & (p->ssize - 1)), buf + off, n);
		off += n;
		w += n;
		atomic_store_explicit(&p->dh->prod, off == len ? end : w, REL);
		ring_bell(&p->dc->sleeping, &p->dc->in_seq);
	} while (off < len);
	p->sprod = end;
	/* Returns once a receiver has copied it into its own memory, or the
	 * copier into the pool: asked once a receiver did not take it
	 * within the spin budget. */
	if (!p->at_once) {
		uint64_t t0 = ticks();

		while (atomic_load_explicit(&p->dc->cons, ACQ) < end &&
		    ticks() - t0 < spin_ticks)
			relax();
	}
	if (atomic_load_explicit(&p->dc->cons, ACQ) < end) {
		atomic_store_explicit(&p->dh->want, end, REL);
		ring_copier();
		WAIT_UNTIL(atomic_load_explicit(&p->dc->cons, ACQ) >= end,
		    &p->dh->sleeping, &p->dc->out_seq);
	}
}

static bool
d3_pending(struct port *p)
{
	uint64_t c = atomic_load_explicit(&p->dc->cons, ACQ);

	return (atomic_load_explicit(&p->dh->prod, ACQ) != c && !(c & 7)) ||
	    pool_pending(p);
}

static const uint8_t *
d3_view(struct port *p, size_t *lenp)
{
	uint64_t c, prod, h, len, got;
	const uint8_t *v;
	uint8_t *dst;

	for (;;) {
		WAIT_UNTIL(d3_pending(p), &p->dc->sleeping, &p->dc->in_seq);
		c = atomic_load_explicit(&p->dc->cons, ACQ);
		prod = atomic_load_explicit(&p->dh->prod, ACQ);
		/* The pool first: what the copier took came before what is
		 * in the ring now (the pool record is published before cons
		 * moves past it, and the sender writes its next record only
		 * after). */
		if (pool_pending(p)) {
			if ((v = pool_try_view(p, lenp)) != NULL) {
				p->in_pool = true;
				return v;
			}
			continue;
		}
		if (c & 7)
			continue;	/* the copier is taking it */
		if (c > prod || prod - c > p->ssize)
			die("receiver: the claims' position was scribbled");
		if (c == prod)
			continue;
		h = *(volatile uint64_t *)(p->sdata + (c & (p->ssize - 1)));
		len = (uint32_t)h;
		if ((uint32_t)(h >> 32) != SCHECK(len, c) ||
		    SREC(len) > p->ssize / 2 || PREC(len) > p->vsize / 2)
			die("receiver: no record at the claims' position");
		/* Copy what is there, and behind the sender as it goes. */
		dst = p->priv_rw + (p->priv_pos & (p->vsize - 1));
		for (got = 0; got < len;) {
			uint64_t n = atomic_load_explicit(&p->dh->prod, ACQ);

			n = n > c + 8 + got ? n - (c + 8 + got) : 0;
			if (n > len - got)
				n = len - got;
			if (n == 0) {
				if (atomic_load_explicit(&p->dc->cons, RLX) != c)
					break;
				relax();
				continue;
			}
			memcpy(dst + got, p->sdata + ((c + 8 + got) & (p->ssize - 1)), n);
			got += n;
		}
		if (got < len)
			continue;
		atomic_thread_fence(SC);	/* the bytes, then the word */
		if (atomic_load_explicit(&p->dh->writing, RLX) > c + p->ssize)
			continue;	/* rewritten while we copied */
		if (atomic_compare_exchange_strong_explicit(&p->dc->cons, &c,
		    c + SREC(len), SC, RLX)) {
			ring_bell(&p->dh->sleeping, &p->dc->out_seq);
			*lenp = len;
			p->in_pool = false;
			return p->priv_ro + (p->priv_pos & (p->vsize - 1));
		}
	}
}

static void
d3_release(struct port *p, size_t len)
{
	if (p->in_pool)
		pool_release(p);
	else
		p->priv_pos += PREC(len);
}

/* ---- d0: a sealed memfd per message */

#define D0_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static void
d0_send(int s, const uint8_t *buf, size_t len)
{
	int fd = memfd_create("msg", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint64_t hdr[2] = { 0xca221e2, len };
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { hdr, sizeof(hdr) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	if (fd < 0 || write_full(fd, buf, len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, D0_SEALS) < 0)
		die("d0 send");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(s, &m, 0) != sizeof(hdr))
		die("d0 sendmsg");
	close(fd);
}

static const uint8_t *
d0_view(int s, size_t *lenp, int *fdp)
{
	uint64_t hdr[2];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { hdr, sizeof(hdr) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	struct stat st;
	void *v;
	int fd;

	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != sizeof(hdr) ||
	    (c = CMSG_FIRSTHDR(&m)) == NULL || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		die("d0 recvmsg");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (hdr[0] != 0xca221e2 || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size < hdr[1] ||
	    fcntl(fd, F_GET_SEALS) != D0_SEALS)
		die("d0: not a sealed message");
	v = mmap(NULL, hdr[1] ? hdr[1] : 1, PROT_READ,
	    MAP_SHARED | MAP_POPULATE, fd, 0);
	if (v == MAP_FAILED)
		die("d0 mmap");
	*lenp = hdr[1];
	*fdp = fd;
	return v;
}

static void
d0_release(const uint8_t *v, size_t len, int fd)
{
	munmap((void *)v, len ? len : 1);
	close(fd);
}

/* ---- the bare ring (the yardstick): spin only, copy in, copy out */

struct rawring {
	alignas(128) _Atomic uint64_t prod;
	alignas(128) _Atomic uint64_t cons;
	alignas(128) uint8_t data[];
};

struct ring_side {
	struct rawring	*r;
	size_t		 size;
	uint64_t	 seen;
};

/* n bytes at pos of the ring (size a power of two), wrapping. */
static void
ring_copy(uint8_t *ring, size_t size, uint64_t pos, void *buf, size_t n,
    bool in)
{
	size_t off = (size_t)(pos & (size - 1)), first = size - off;

	if (first > n)
		first = n;
	if (in) {
		memcpy(ring + off, buf, first);
		memcpy(ring, (uint8_t *)buf + first, n - first);
	} else {
		memcpy(buf, ring + off, first);
		memcpy((uint8_t *)buf + first, ring, n - first);
	}
}

static void
ring_send(struct ring_side *s, const uint8_t *buf, size_t len)
{
	struct rawring *r = s->r;
	uint64_t pos = atomic_load_explicit(&r->prod, RLX), need = SREC(len);

	while (pos + need - s->seen > s->size) {
		s->seen = atomic_load_explicit(&r->cons, ACQ);
		relax();
	}
	ring_copy(r->data, s->size, pos, &len, 8, true);
	ring_copy(r->data, s->size, pos + 8, (void *)buf, len, true);
	atomic_store_explicit(&r->prod, pos + need, REL);
}

static size_t
ring_recv(struct ring_side *s, uint8_t *buf)
{
	struct rawring *r = s->r;
	uint64_t pos = atomic_load_explicit(&r->cons, RLX), len;

	while (s->seen <= pos) {
		s->seen = atomic_load_explicit(&r->prod, ACQ);
		relax();
	}
	ring_copy(r->data, s->size, pos, &len, 8, false);
	ring_copy(r->data, s->size, pos + 8, buf, len, false);
	atomic_store_explicit(&r->cons, pos + SREC(len), REL);
	return len;
}

/* ---- the two sides of a case */

struct chan {			/* one direction, as one side holds it */
	int		 kind;
	int		 fd;		/* pipe, d0: this side's end */
	int		 end[2];	/* pipe, d0: the receiver's, the sender's */
	struct ring_side ring;
	struct port	*port;
	int		 vfd;		/* d0: the message held */
};

static uint8_t *sbuf, *rbuf;

static void
chan_send(struct chan *c, size_t len)
{
	switch (c->kind) {
	case K_PIPE:
		if (write_full(c->fd, sbuf, len) < 0)
			die("pipe write");
		break;
	case K_RING:
		ring_send(&c->ring, sbuf, len);
		break;
	case K_D0:
		d0_send(c->fd, sbuf, len);
		break;
	case K_D1:
		d1_send(c->port, sbuf, len);
		break;
	case K_D2:
		d2_send(c->port, sbuf, len);
		break;
	case K_D3:
		d3_send(c->port, sbuf, len);
		break;
	}
}

/* The message's view (or the buffer it was copied into). */
static const uint8_t *
chan_recv(struct chan *c, size_t len, size_t *gotp)
{
	switch (c->kind) {
	case K_PIPE:
		if (read_full(c->fd, rbuf, len) < 0)
			die("pipe read");
		*gotp = len;
		return rbuf;
	case K_RING:
		*gotp = ring_recv(&c->ring, rbuf);
		return rbuf;
	case K_D0:
		return d0_view(c->fd, gotp, &c->vfd);
	case K_D3:
		return d3_view(c->port, gotp);
	default:
		return pool_view(c->port, gotp);
	}
}

static void
chan_release(struct chan *c, const uint8_t *v, size_t len)
{
	if (c->kind == K_D0)
		d0_release(v, len, c->vfd);
	else if (c->kind == K_D1 || c->kind == K_D2)
		pool_release(c->port);
	else if (c->kind == K_D3)
		d3_release(c->port, len);
}

#define LAST	0x80u

static uint64_t n_taken, n_pooled;	/* this side's, added to ctl's at the end */

static void
mark(size_t len, uint8_t tag)
{
	sbuf[0] = tag;
	sbuf[len - 1] = tag;
}

/* Receive one message and check it: the number expected, first and last
 * byte equal.  Returns its tag. */
static uint8_t
take(struct chan *c, size_t len, uint64_t i)
{
	size_t got;
	const uint8_t *v = chan_recv(c, len, &got);
	uint8_t tag = v[0];

	if (got != len || v[len - 1] != tag || (tag & 0x7f) != (i & 0x7f))
		die("message %llu: wrong (%zu bytes, %#x ... %#x)",
		    (unsigned long long)i, got, tag, v[len - 1]);
	n_taken++;
	if (c->kind == K_D1 || c->kind == K_D2 ||
	    (c->kind == K_D3 && c->port->in_pool))
		n_pooled++;
	chan_release(c, v, len);
	return tag;
}

/* Streaming: the sender sends until told to stop (or -n messages), then
 * one marked last; the receiver measures messages/s after a warm-up. */
static void
stream_send(struct chan *c, size_t len)
{
	uint64_t i = 0;

	while (opt.count ? i < opt.count : !atomic_load_explicit(&ctl->stop, RLX)) {
		mark(len, i & 0x7f);
		chan_send(c, len);
		i++;
	}
	mark(len, (i & 0x7f) | LAST);
	chan_send(c, len);
}

static void
stream_recv(struct chan *c, size_t len)
{
	int64_t t0 = now_ns(), start = 0, t;
	uint64_t i = 0, first = 0;
	bool on = opt.count != 0;
	unsigned every = len < 1024 ? 16 : 1;

	if (on)
		start = t0;
	for (;; i++) {
		if (take(c, len, i) & LAST)
			break;
		if (opt.count || (i + 1) % every)
			continue;
		t = now_ns();
		if (!on && t - t0 >= opt.batch_ns / 10) {
			on = true;
			start = t;
			first = i + 1;
		} else if (on && !atomic_load_explicit(&ctl->stop, RLX) &&
		    t - start >= opt.batch_ns) {
			ctl->result = (double)(i + 1 - first) * 1e9 / (double)(t - start);
			atomic_store(&ctl->stop, 1);
		}
	}
	if (opt.count)
		ctl->result = (double)i * 1e9 / (double)(now_ns() - start);
}

/* Ping-pong: A sends, B echoes; A measures the round trip in ns. */
static void
ping(struct chan *out, struct chan *in, size_t len)
{
	int64_t t0 = now_ns(), start = 0, t;
	uint64_t i = 0, first = 0;
	bool on = opt.count != 0;

	if (on)
		start = t0;
	for (;; i++) {
		bool last = opt.count ? i >= opt.count :
		    atomic_load_explicit(&ctl->stop, RLX);

		mark(len, (i & 0x7f) | (last ? LAST : 0));
		chan_send(out, len);
		if (take(in, len, i) & LAST)
			break;
		if (opt.count)
			continue;
		t = now_ns();
		if (!on && t - t0 >= opt.batch_ns / 10) {
			on = true;
			start = t;
			first = i + 1;
		} else if (on && !atomic_load_explicit(&ctl->stop, RLX) &&
		    t - start >= opt.batch_ns) {
			ctl->result = (double)(t - start) / (double)(i + 1 - first);
			atomic_store(&ctl->stop, 1);
		}
	}
	if (opt.count)
		ctl->result = (double)(now_ns() - start) / (double)i;
}

static void
pong(struct chan *in, struct chan *out, size_t len)
{
	for (uint64_t i = 0;; i++) {
		uint8_t tag = take(in, len, i);

		mark(len, tag);
		chan_send(out, len);
		if (tag & LAST)
			break;
	}
}

/* ---- the parent: one run of one case */

static void
pin(int which)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (which < 0) {
		CPU_SET(opt.cpu[0], &set);
		CPU_SET(opt.cpu[1], &set);
	} else
		CPU_SET(opt.cpu[which], &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static pid_t
child(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

static uint8_t *
buffer(size_t len)
{
	uint8_t *b = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		die("buffer");
	memset(b, 0x5a, len);
	return b;
}

/* Side A (index 0: the sender, or the pinger) and B (1: the receiver, or
 * the echo).  chans[d]: direction d (0: A to B, 1: B to A). */
static void __attribute__((noreturn))
side(int who, int mode, struct chan *chans, struct port *ports, int kind,
    size_t len, int *sync)
{
	int out = who, in = 1 - who, ndir = mode == M_PINGPONG ? 2 : 1;
	char b = 'r';

	pin(who);
	/* d3: each side seals its own staging ring before the other maps
	 * it (the parent says when both have). */
	if (kind == K_D3) {
		for (int d = 0; d < ndir; d++)
			if (d == out)
				d3_sender_maps(&ports[d]);
		if (write(sync[1], &b, 1) != 1 || read(sync[0], &b, 1) != 1)
			die("setup");
		for (int d = 0; d < ndir; d++)
			if (d != out)
				d3_receiver_maps(&ports[d]);
	}
	sbuf = buffer(len);
	rbuf = buffer(len);
	if (kind >= K_D1) {
		must_be_readonly(cpage_fd);
		cpage = map(cpage_fd, 0, PAGE, false);
		bell = map(bell_fd, 0, PAGE, true);
	}
	if (kind == K_D1 || kind == K_D2) {
		for (int d = 0; d < ndir; d++) {
			if (d == out)
				sender_maps(&ports[d], kind);
			else
				receiver_maps(&ports[d]);
		}
	}
	if (mode == M_STREAM) {
		if (who == 0)
			stream_send(&chans[0], len);
		else
			stream_recv(&chans[0], len);
	} else if (who == 0)
		ping(&chans[out], &chans[in], len);
	else
		pong(&chans[in], &chans[out], len);
	atomic_fetch_add(&ctl->taken, n_taken);
	atomic_fetch_add(&ctl->pooled, n_pooled);
	_exit(0);
}

static void
on_alarm(int sig)
{
}

/* Wait for the children, blocked in waitpid() (no polling: strace -c
 * counts the parent too); one past the deadline is killed. */
static void
reap_all(pid_t *pids, int n, int64_t deadline, bool *failed)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: waitpid() ends */
	for (int i = 0; i < n; i++) {
		int st;

		while (pids[i] > 0) {
			int64_t left = deadline - now_ns();

			if (left <= 0) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], NULL, 0);
				*failed = true;
				pids[i] = 0;
				break;
			}
			alarm((unsigned)(left / 1000000000) + 1);
			if (waitpid(pids[i], &st, 0) == pids[i]) {
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					*failed = true;
				pids[i] = 0;
			}
			alarm(0);
		}
	}
}

/* One run: returns messages/s (stream) or the round trip in ns
 * (ping-pong); exits on failure. */
static double
run(const struct kase *k, int mode, size_t len)
{
	struct chan chans[2];
	struct port ports[2];
	pid_t pids[3] = { 0, 0, 0 };
	int ndir = mode == M_PINGPONG ? 2 : 1, pp[2] = { -1, -1 }, up[2], down[2];
	bool failed = false;

	memset(ctl, 0, sizeof(*ctl));
	memset(chans, 0, sizeof(chans));
	memset(ports, 0, sizeof(ports));
	for (int d = 0; d < ndir; d++) {
		struct chan *c = &chans[d];

		c->kind = k->kind;
		if (k->kind == K_PIPE || k->kind == K_D0) {
			int fds[2];

			if (k->kind == K_PIPE ? pipe(fds) < 0 :
			    socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) < 0)
				die("pipe");
			/* Each side keeps only its own end. */
			c->end[0] = fds[0];
			c->end[1] = fds[1];
		} else if (k->kind == K_RING) {
			c->ring.size = pow2_at_least(4 * (len + 16));
			c->ring.r = mmap(NULL, sizeof(struct rawring) + c->ring.size,
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (c->ring.r == MAP_FAILED)
				die("ring");
		} else {
			port_make(&ports[d], k->kind, len);
			ports[d].at_once = !strcmp(k->name, "d3c");
			c->port = &ports[d];
		}
	}
	if (k->kind >= K_D1) {
		int rp[2];
		char b;

		cpage_fd = memfd("copier", PAGE);
		bell_fd = memfd("bell", PAGE);
		if (pipe(rp) < 0 || pipe(pp) < 0)
			die("pipe");
		if ((pids[2] = child()) == 0) {
			close(rp[0]);
			close(pp[1]);
			pin(k->at == AT_SENDER ? 0 : k->at == AT_RECEIVER ? 1 : -1);
			copier_main(ports, ndir, k->kind, rp[1], pp[0]);
		}
		close(rp[1]);
		close(pp[0]);
		if (read(rp[0], &b, 1) != 1) {
			reap_all(pids + 2, 1, 0, &failed);
			fprintf(stderr, "%s: the copier failed\n", k->name);
			exit(1);
		}
		close(rp[0]);
	}
	if (pipe(up) < 0 || pipe(down) < 0)
		die("pipe");
	for (int who = 0; who < 2; who++) {
		if ((pids[who] = child()) != 0)
			continue;
		close(up[0]);
		close(down[1]);
		if (pp[1] >= 0)
			close(pp[1]);
		for (int d = 0; d < ndir; d++)
			if (k->kind == K_PIPE || k->kind == K_D0) {
				chans[d].fd = chans[d].end[d == who];
				close(chans[d].end[d != who]);
			}
		side(who, mode, chans, ports, k->kind, len,
		    (int[2]){ down[0], up[1] });
	}
	close(up[1]);
	close(down[0]);
	if (k->kind == K_D3) {
		char b[2];

		if (read_full(up[0], b, 2) < 0 || write_full(down[1], "gg", 2) < 0)
			failed = true;
	}
	close(up[0]);
	close(down[1]);
	for (int d = 0; d < ndir; d++)
		if (k->kind == K_PIPE || k->kind == K_D0) {
			close(chans[d].end[0]);
			close(chans[d].end[1]);
		}
	if (pp[1] >= 0) {
		if (write_full(pp[1], pids, 2 * sizeof(pid_t)) < 0)
			failed = true;
		close(pp[1]);
	}
	reap_all(pids, 2, now_ns() + 20 * opt.batch_ns + 20000000000LL, &failed);
	atomic_store(&ctl->quit, 1);
	if (pids[2]) {
		struct bell_page *b = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, bell_fd, 0);

		if (b != MAP_FAILED) {
			atomic_fetch_add(&b->seq, 1);
			syscall(SYS_futex, &b->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
			munmap(b, PAGE);
		}
		reap_all(pids + 2, 1, now_ns() + 2000000000LL, &failed);
		close(cpage_fd);
		close(bell_fd);
	}
	for (int d = 0; d < ndir; d++) {
		if (k->kind == K_RING)
			munmap(chans[d].ring.r, sizeof(struct rawring) + chans[d].ring.size);
		else if (k->kind >= K_D1) {
			close(ports[d].pool_fd);
			close(ports[d].claim_fd);
			close(ports[d].rx_fd);
			close(ports[d].snd_fd);
			close(ports[d].ack_fd);
			if (ports[d].sclaim_fd >= 0)
				close(ports[d].sclaim_fd);
		}
	}
	if (failed || ctl->result <= 0) {
		fprintf(stderr, "%s, %s, %zu B: failed%s%s\n", k->name,
		    mode == M_STREAM ? "stream" : "ping-pong", len,
		    ctl->err[0] ? ": " : "", ctl->err);
		exit(1);
	}
	return ctl->result;
}

static double
run_memcpy(void)
{
	pid_t pid;
	bool failed = false;

	memset(ctl, 0, sizeof(*ctl));
	if ((pid = child()) == 0) {
		size_t n = 1u << 20;
		uint8_t *a, *b;
		int64_t t0, t;
		uint64_t i = 0;

		pin(1);
		a = buffer(n);
		b = buffer(n);
		t0 = now_ns();
		do {
			memcpy(b, a, n);
			__asm__ volatile("" : : "r"(b) : "memory");
			i++;
		} while ((t = now_ns()) - t0 < opt.batch_ns);
		ctl->result = (double)i * (double)n / ((double)(t - t0) / 1e9) / MB;
		_exit(0);
	}
	reap_all(&pid, 1, now_ns() + 10 * opt.batch_ns + 5000000000LL, &failed);
	if (failed)
		exit(1);
	return ctl->result;
}

/* ---- options and the table */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: carrier_designs [-c cases] [-s sizes] [-m modes] [-r rounds]\n"
"                       [-t ms | -n count] [-b us] [-k chunk] [-q] [-h]\n"
"Prototypes of COCARRIER designs measured beside memcpy, a pipe and a bare\n"
"ring in the same rounds (docs/performance.md, \"COCARRIER: choosing a\n"
"design\").  The sender runs on the first CPU allowed, the receiver on the\n"
"second.\n"
"  -c cases   comma-separated (default all): pipe, ring (the bare ring),\n"
"             d0 (a sealed memfd per message), d1s d1r d1f (a copier\n"
"             from a staging ring into a read-only pool, on the sender's\n"
"             CPU, the receiver's, or either), d2s d2r d2f (the copier\n"
"             filling the pool with process_vm_readv), d3 (the receiver\n"
"             copies from the sender's sealed staging ring into its own\n"
"             memory; the sender waits until it has, or asks the copier\n"
"             after the spin budget), d3c (d3, asking the copier at once)\n"
"  -s sizes   message sizes in bytes, comma-separated (default 64,1048576)\n"
"  -m modes   stream, pingpong or both (default both; ping-pong only at\n"
"             sizes up to 4 KiB)\n"
"  -r rounds  rounds, cases in reverse order every other one (default 5)\n"
"  -t ms      time measured per case per round (default 200)\n"
"  -n count   a number of messages (or round trips) instead of a time\n"
"  -b us      how long a waiting party spins before it sleeps (default 50)\n"
"  -k chunk   d1, d3: the sender publishes every chunk bytes, the copier\n"
"             or receiver copies behind (default 65536; 0: whole messages)\n"
"  -q         quick: 3 rounds of 20 ms\n"
"  -h         this help\n"
"Prints, per mode and size, the median messages/s (stream) or round trip\n"
"(ping-pong) of each case and its median ratio per round to the yardstick:\n"
"memcpy's MB/s (1 MiB, on the receiver's CPU), the pipe's messages/s, the\n"
"bare ring's round trip.  Exit status 1 if a case failed, 2 on a bad option.\n");
}

static int
parse_list(char *s, const char *what, int (*each)(const char *))
{
	for (char *t = strtok(s, ","); t; t = strtok(NULL, ","))
		if (each(t) < 0) {
			fprintf(stderr, "carrier_designs: bad %s: %s\n", what, t);
			return -1;
		}
	return 0;
}

static int
add_case(const char *t)
{
	for (int i = 0; i < NALL; i++)
		if (!strcmp(t, all_cases[i].name) && opt.ncases < NALL) {
			opt.cases[opt.ncases++] = i;
			return 0;
		}
	return -1;
}

static int
add_size(const char *t)
{
	char *end;
	unsigned long long v = strtoull(t, &end, 10);

	if (*end || v < 2 || v > MAXMSG / 4 || opt.nsizes == MAXSIZES)
		return -1;
	opt.sizes[opt.nsizes++] = (size_t)v;
	return 0;
}

static int
add_mode(const char *t)
{
	if (!strcmp(t, "stream"))
		opt.modes |= 1 << M_STREAM;
	else if (!strcmp(t, "pingpong"))
		opt.modes |= 1 << M_PINGPONG;
	else if (!strcmp(t, "both"))
		opt.modes = 3;
	else
		return -1;
	return 0;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "median [q1 - q3]" of v (sorted in place). */
static void
quartiles(char *b, size_t n, double *v, int k)
{
	double m = median(v, k);

	snprintf(b, n, "%.3g [%.3g - %.3g]", m, v[(k - 1) / 4],
	    v[k - 1 - (k - 1) / 4]);
}

static void
fmt(char *b, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(b, n, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(b, n, "%.3gk", v / 1e3);
	else
		snprintf(b, n, "%.3g", v);
}

int
main(int argc, char **argv)
{
	static double val[2][MAXSIZES][NALL][64], pool[2][MAXSIZES][NALL][64], mc[64];
	int c, rounds, ncpu = 0;
	cpu_set_t set;

	opt.batch_ns = 200000000;
	opt.spin_ns = 50000;
	opt.chunk = 65536;
	opt.rounds = 5;
	while ((c = getopt(argc, argv, "c:s:m:r:t:n:b:k:qh")) != -1) {
		switch (c) {
		case 'c':
			if (parse_list(optarg, "case", add_case) < 0)
				return 2;
			break;
		case 's':
			if (parse_list(optarg, "size", add_size) < 0)
				return 2;
			break;
		case 'm':
			if (parse_list(optarg, "mode", add_mode) < 0)
				return 2;
			break;
		case 'r':
			opt.rounds = atoi(optarg);
			break;
		case 't':
			opt.batch_ns = atoll(optarg) * 1000000;
			break;
		case 'n':
			opt.count = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			opt.spin_ns = atoll(optarg) * 1000;
			break;
		case 'k':
			opt.chunk = strtoull(optarg, NULL, 10);
			break;
		case 'q':
			opt.rounds = 3;
			opt.batch_ns = 20000000;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || opt.rounds < 1 || opt.rounds > 64 ||
	    opt.batch_ns <= 0 || opt.spin_ns < 0 || (opt.chunk & 7) ||
	    (opt.chunk && opt.chunk < 4096)) {
		usage(stderr);
		return 2;
	}
	if (!opt.ncases)
		for (int i = 0; i < NALL; i++)
			opt.cases[opt.ncases++] = i;
	if (!opt.nsizes) {
		opt.sizes[opt.nsizes++] = 64;
		opt.sizes[opt.nsizes++] = 1u << 20;
	}
	if (!opt.modes)
		opt.modes = 3;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	for (int i = 0; i < CPU_SETSIZE && ncpu < 2; i++)
		if (CPU_ISSET(i, &set))
			opt.cpu[ncpu++] = i;
	if (ncpu < 2)
		opt.cpu[1] = opt.cpu[0];
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	calibrate();
	rounds = opt.rounds;
	for (int r = 0; r < rounds; r++) {
		mc[r] = run_memcpy();
		for (int m = 0; m < 2; m++) {
			if (!(opt.modes & (1 << m)))
				continue;
			for (int si = 0; si < opt.nsizes; si++) {
				if (m == M_PINGPONG && opt.sizes[si] > 4096)
					continue;
				for (int j = 0; j < opt.ncases; j++) {
					int ci = r % 2 ? opt.ncases - 1 - j : j;
					const struct kase *k = &all_cases[opt.cases[ci]];

					fprintf(stderr, "\rround %d/%d: %-8s %-5s %zu B      ",
					    r + 1, rounds, m ? "pingpong" : "stream",
					    k->name, opt.sizes[si]);
					val[m][si][ci][r] = run(k, m, opt.sizes[si]);
					pool[m][si][ci][r] = ctl->taken ?
					    (double)ctl->pooled / (double)ctl->taken : 0;
				}
			}
		}
	}
	fprintf(stderr, "\n");
	printf("carrier_designs: cpus %d,%d, %d rounds of %s, spin %lld us, chunk %zu\n",
	    opt.cpu[0], opt.cpu[1], rounds,
	    opt.count ? "a count" : "a time", (long long)opt.spin_ns / 1000,
	    opt.chunk);
	{
		double v[64];

		memcpy(v, mc, sizeof(double) * (size_t)rounds);
		printf("memcpy 1 MiB: %.0f MB/s (median)\n", median(v, rounds));
	}
	for (int m = 0; m < 2; m++) {
		if (!(opt.modes & (1 << m)))
			continue;
		for (int si = 0; si < opt.nsizes; si++) {
			size_t len = opt.sizes[si];
			int pipe_i = -1, ring_i = -1;

			if (m == M_PINGPONG && len > 4096)
				continue;
			for (int j = 0; j < opt.ncases; j++) {
				if (all_cases[opt.cases[j]].kind == K_PIPE)
					pipe_i = j;
				if (all_cases[opt.cases[j]].kind == K_RING)
					ring_i = j;
			}
			printf("\n%s, %zu B: median over rounds [quartiles]\n",
			    m ? "ping-pong" : "stream", len);
			if (m == M_STREAM)
				printf("  %-5s %9s %9s  %-22s %-22s %s\n", "case",
				    "msgs/s", "MB/s", "/memcpy MB/s", "/pipe msgs/s",
				    "via pool");
			else
				printf("  %-5s %11s  %-22s %s\n", "case",
				    "round trip", "/bare ring", "via pool");
			for (int j = 0; j < opt.ncases; j++) {
				double v[64], a[64], b[64], pl[64], x;
				char s1[32], s2[32], ra[64], rb[64];

				for (int r = 0; r < rounds; r++) {
					x = v[r] = val[m][si][j][r];
					pl[r] = pool[m][si][j][r] * 100;
					a[r] = m == M_STREAM ? x * (double)len / MB / mc[r] :
					    ring_i >= 0 ? x / val[m][si][ring_i][r] : 0;
					b[r] = pipe_i >= 0 ? x / val[m][si][pipe_i][r] : 0;
				}
				x = median(v, rounds);
				quartiles(ra, sizeof(ra), a, rounds);
				quartiles(rb, sizeof(rb), b, rounds);
				if (m == M_STREAM) {
					fmt(s1, sizeof(s1), x);
					fmt(s2, sizeof(s2), x * (double)len / MB);
					printf("  %-5s %9s %9s  %-22s %-22s %3.0f%%\n",
					    all_cases[opt.cases[j]].name, s1, s2, ra,
					    pipe_i >= 0 ? rb : "-", median(pl, rounds));
				} else
					printf("  %-5s %8.0f ns  %-22s %3.0f%%\n",
					    all_cases[opt.cases[j]].name, x,
					    ring_i >= 0 ? ra : "-", median(pl, rounds));
			}
		}
	}
	return 0;
}
