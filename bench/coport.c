/*
 * Streaming throughput and ping-pong latency between two processes: one
 * sender streams messages of one size to one receiver, and two processes
 * bounce one message back and forth, through COCHANNEL, COCARRIER and
 * COPIPE coports, a pipe, a UNIX stream socketpair and a bare ring, with
 * the two processes on two CPUs; and memcpy bandwidth (1 MiB, one
 * process) in the same run.  Sizes 1 B to 2 MiB, doubling.  Prints
 * tables, then one line starting with "JSON ", and writes a data file for
 * `make plots`.  docs/performance.md says what each case measures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "bench.h"
#include "comsg/coport.h"

#define MAXSIZES	32
#define MAXSIZE		(64u << 20)	/* largest -s size */
#define MEMCPY_SIZE	(1u << 20)
#define MB		1e6		/* MB/s: 10^6 bytes per second */

enum { C_CHANNEL, C_CARRIER, C_COPIPE, C_PIPE, C_SOCKET, C_RAWRING, NCASES };
#define C_MEMCPY	NCASES		/* a process of its own, no pair */
#define NKINDS		(NCASES + 1)
/* The ping-pong pair of case k is pairs[PP(k)]: its own processes and
 * ports; its results are round-trip times, at the same index. */
#define PP(k)		(NKINDS + (k))
#define NPAIRS		(NKINDS + NCASES)
/* In a ping-pong pair, SENDER starts each round trip, RECEIVER answers. */
enum { SENDER, RECEIVER };

static const char *const case_name[NKINDS] = {
	"cochannel", "cocarrier", "copipe", "pipe", "socket", "rawring",
	"memcpy",
};

/*
 * Targets, from docs/performance.md: the median over rounds of the ratio
 * of two cases measured in the same round, at one size.  den C_MEMCPY is
 * memcpy bandwidth at MEMCPY_SIZE.  A goal of 0 is shown for information;
 * else messages/s and MB/s must be at least the goal, round trips at most.
 */
enum measure { M_MSGS, M_MBPS, M_RTT };
static const struct target {
	int		 num, den;
	size_t		 size;
	enum measure	 m;
	double		 goal;
} targets[] = {
	{ C_CHANNEL, C_RAWRING, 64, M_MSGS, 0.85 },
	{ C_CARRIER, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0.5 },
	{ C_COPIPE, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0.5 },
	{ C_CARRIER, C_PIPE, 64, M_MSGS, 1 },
	{ C_COPIPE, C_PIPE, 64, M_MSGS, 1 },
	{ C_CHANNEL, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_CARRIER, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_COPIPE, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_CHANNEL, C_PIPE, 64, M_MSGS, 20 },
	{ C_CHANNEL, C_SOCKET, 64, M_MSGS, 0 },
	{ C_CHANNEL, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_PIPE, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_CHANNEL, C_RAWRING, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_PIPE, C_RAWRING, 64, M_RTT, 0 },
	{ C_SOCKET, C_RAWRING, 64, M_RTT, 0 },
};
static const char *const measure_name[] = { "msgs/s", "MB/s", "round trip" };
#define NTARGETS	(int)(sizeof(targets) / sizeof(targets[0]))

/* Shared by the two processes of a streaming pair: the receiver tells the
 * sender to stop (and the sender then sends one last message, marked). */
struct pshm {
	alignas(128) uint32_t stop;
};

/*
 * The yardstick for COCHANNEL: the bare ring, as fast as shared memory
 * goes between these two CPUs.  One sender, one receiver, both spinning
 * (never sleeping), no handles, no locks, no checks; records as in a
 * COCHANNEL ring (8-byte header, bytes padded to 8), of the same size.
 * Ping-pong: two of them, one each way.
 */
struct rawring {
	alignas(128) uint64_t prod;
	alignas(128) uint64_t cons;
	alignas(128) uint8_t data[];	/* COCHANNEL_MAXSIZE */
};

/*
 * A pair of processes.  Its messages go forth, from SENDER to RECEIVER;
 * in a ping-pong pair the answers come back the other way, through the
 * back pipe, ring or ports (the socket's back is the same socketpair,
 * the other way: back[] are duplicates of its ends).
 */
struct pair {
	int		 kind;
	bool		 pp;		/* ping-pong */
	bool		 live;
	pid_t		 pid[2];	/* SENDER, RECEIVER */
	int		 cmd_w[2], res_r[2];	/* the parent's ends */
	int		 cmd_r[2], res_w[2];	/* the children's ends */
	int		 fd[2];		/* pipe: 0 read, 1 write; socket: 0, 1 */
	int		 back[2];	/* ping-pong: the same, the other way */
	struct pshm	*sh;
	struct rawring	*raw, *raw_back;	/* C_RAWRING */
	/* In the children: the ports (cochannel: one per size). */
	coport_t	 port[MAXSIZES], port_back[MAXSIZES];
};

/* Parent -> child: run a batch; child -> parent: what it measured. */
struct cmd {
	uint64_t	size, count;
	int64_t		time_ns;
	int32_t		si, pad;
};
struct res {
	int64_t		n, ns;		/* messages (copies) and time measured */
	int32_t		err;		/* 0, or it failed: what says how */
	char		what[200];
};

/* Settings. */
static bool want_case[NCASES], want_stream = true, want_pp = true;
static size_t sizes[MAXSIZES], maxsize;
static int nsizes, rounds = 5, batch_ms = 200;
static uint64_t batch_count;		/* -n: messages per batch, not time */
static const char *datafile;

/* Parent state; children get a copy and use only their pair. */
static pid_t parent_pid;
static char tmpdir[64];
static struct pair pairs[NPAIRS];
static int ncpus, cpus[2];
static volatile sig_atomic_t stop_sig;
static char *notes[64];
static int nnotes;
static bool failed;

/* Results: messages (memcpy: copies) per second, by round, size, pair;
 * for a ping-pong pair nanoseconds per round trip; 0 where there is none.
 * memcpy sits at size index 0. */
static double *rates;

static uint8_t *sbuf, *rbuf;		/* the children's own buffers */

#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_RLX(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)


static void
note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0 &&
	    nnotes < (int)(sizeof(notes) / sizeof(notes[0])))
		notes[nnotes++] = s;
	va_end(ap);
}

static double *
rate_at(int round, int si, int kind)
{
	return &rates[((size_t)round * MAXSIZES + si) * NPAIRS + kind];
}

/* The COCHANNEL ring for messages of len bytes: room for four, at least
 * 4096, a power of two, at most COCHANNEL_MAXSIZE; a message takes its
 * length rounded up to 8, plus 8. */
static size_t
ring_for(size_t len)
{
	size_t want = 4 * (len + 16), r = 4096;

	while (r < want && r < COCHANNEL_MAXSIZE)
		r *= 2;
	return r;
}

static bool
ring_fits(size_t len)
{
	return 8 + ((len + 7) & ~(size_t)7) <= ring_for(len);
}

static bool
runs_at(int kind, size_t len)
{
	return (kind != C_CHANNEL && kind != C_RAWRING) || ring_fits(len);
}

/* Human sizes: 1 B, 4 KiB, 2 MiB. */
static const char *
size_str(size_t n, char *buf, size_t room)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, room, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, room, "%zu KiB", n >> 10);
	else
		snprintf(buf, room, "%zu B", n);
	return buf;
}



/* ---- the two processes of a pair ---- */

/* A child's failure, for the parent to report. */
static int
fail(struct res *r, const char *fmt, ...)
{
	va_list ap;

	r->err = errno != 0 ? errno : EIO;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return -1;
}

/* The first and last byte of message seq: its number (7 bits) and 1 if it
 * is the last of the batch. */
static uint8_t
mark(uint64_t seq, bool last)
{
	return (uint8_t)(((seq & 0x7f) << 1) | (last ? 1 : 0));
}

static void
port_name(char *buf, size_t room, const struct pair *p, bool back, size_t len)
{
	const char *dir = !p->pp ? "" : back ? "-pong" : "-ping";

	if (p->kind == C_CHANNEL)
		snprintf(buf, room, "bench-cochannel%s-%zu", dir, len);
	else
		snprintf(buf, room, "bench-%s%s", case_name[p->kind], dir);
}

/* Open one port (the back one: answers in a ping-pong pair) with only the
 * right this side needs, as a one-way user would hold it. */
static int
open_port(struct pair *p, int role, bool back, int si, size_t len,
    struct res *r)
{
	static const coport_type_t type[] = {
		[C_CHANNEL] = COCHANNEL, [C_CARRIER] = COCARRIER,
		[C_COPIPE] = COPIPE,
	};
	struct coport_attr attr = { .ring_size = ring_for(len) };
	coport_t all, one;
	char name[64];

	port_name(name, sizeof(name), p, back, len);
	if (coopenv(name, type[p->kind], p->kind == C_CHANNEL ? &attr : NULL,
	    &all) < 0)
		return fail(r, "coopenv(%s, ring_size %zu)", name,
		    attr.ring_size);
	one = coport_clearperm(all, (role == SENDER) != back ?
	    COPORT_PERM_RECV : COPORT_PERM_SEND);
	if (one == NULL)
		return fail(r, "coport_clearperm(%s)", name);
	if (coclose(all) < 0)
		return fail(r, "coclose(%s)", name);
	(back ? p->port_back : p->port)[si] = one;
	return 0;
}

/* The ports one way (cochannel: one per size). */
static int
open_ports(struct pair *p, int role, bool back, struct res *r)
{
	coport_t *port = back ? p->port_back : p->port;
	int si;

	switch (p->kind) {
	case C_CHANNEL:
		for (si = 0; si < nsizes; si++)
			if (ring_fits(sizes[si]) &&
			    open_port(p, role, back, si, sizes[si], r) < 0)
				return -1;
		return 0;
	case C_CARRIER:
	case C_COPIPE:
		if (open_port(p, role, back, 0, 0, r) < 0)
			return -1;
		for (si = 1; si < nsizes; si++)
			port[si] = port[0];
		return 0;
	default:
		return 0;
	}
}

static int
child_setup(struct pair *p, int role, struct res *r)
{
	if (open_ports(p, role, false, r) < 0)
		return -1;
	return p->pp ? open_ports(p, role, true, r) : 0;
}

/* Copy n bytes in or out of the raw ring at pos (it may wrap). */
static void
raw_copy(uint8_t *ring, size_t size, uint64_t pos, void *buf, size_t n,
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

/* Each side keeps what it last saw of the other's position and reads it
 * again only when that is used up: one cache miss per batch.  A process
 * sends on one ring only and receives from one only. */
static uint64_t raw_cons_seen, raw_prod_seen;

static void
raw_send(struct rawring *r, size_t len)
{
	size_t size = ring_for(len), need = 8 + ((len + 7) & ~(size_t)7);
	uint64_t pos = LOAD_RLX(&r->prod), hdr = len;

	while (pos - raw_cons_seen > size - need) {	/* no room */
		raw_cons_seen = __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE);
		if (pos - raw_cons_seen > size - need)
			for (int i = 0; i < 32; i++)
				__builtin_ia32_pause();
	}
	raw_copy(r->data, size, pos, &hdr, 8, true);
	raw_copy(r->data, size, pos + 8, sbuf, len, true);
	__atomic_store_n(&r->prod, pos + need, __ATOMIC_RELEASE);
}

static ssize_t
raw_recv(struct rawring *r, size_t room)
{
	uint64_t pos = LOAD_RLX(&r->cons), hdr;
	size_t size = ring_for(room);

	while (raw_prod_seen <= pos) {
		raw_prod_seen = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE);
		if (raw_prod_seen <= pos)
			__builtin_ia32_pause();
	}
	raw_copy(r->data, size, pos, &hdr, 8, false);
	if (hdr > room)
		return -1;
	raw_copy(r->data, size, pos + 8, rbuf, hdr, false);
	__atomic_store_n(&r->cons, pos + 8 + ((hdr + 7) & ~(uint64_t)7),
	    __ATOMIC_RELEASE);
	return (ssize_t)hdr;
}

/* Send the message in sbuf forth (back: a ping-pong pair's answer). */
static int
send_one(struct pair *p, bool back, int si, size_t len)
{
	switch (p->kind) {
	case C_PIPE:
	case C_SOCKET:
		return write_full((back ? p->back : p->fd)[1], sbuf, len);
	case C_RAWRING:
		raw_send(back ? p->raw_back : p->raw, len);
		return 0;
	default:
		return cosend((back ? p->port_back : p->port)[si], sbuf,
		    len) == (ssize_t)len ? 0 : -1;
	}
}

/* Stream until the receiver says stop, then send the last message. */
static int
sender_batch(struct pair *p, const struct cmd *c, struct res *r)
{
	size_t len = c->size;
	uint64_t seq = 0;

	for (;; seq++) {
		bool last = LOAD_RLX(&p->sh->stop) != 0;

		sbuf[0] = sbuf[len - 1] = mark(seq, last);
		if (send_one(p, false, c->si, len) < 0)
			return fail(r, "%s %zu B: sender: message %llu: %s",
			    case_name[p->kind], len, (unsigned long long)seq,
			    p->kind == C_PIPE || p->kind == C_SOCKET ? "write" :
			    "cosend");
		if (last)
			break;
	}
	r->n = (int64_t)seq + 1;
	return 0;
}

/*
 * Receive one message of len bytes (back: a ping-pong pair's answer) and
 * check its first and last byte: 1 if it was the last, 0 if not, -1 on an
 * error.  The coports' views are read in place and released; the others
 * are copied into rbuf.
 */
static int
recv_one(struct pair *p, bool back, int si, size_t len, uint64_t seq,
    struct res *r)
{
	const char *who = p->pp ? (back ? "ping-pong sender" :
	    "ping-pong receiver") : "receiver";
	coport_t port = (back ? p->port_back : p->port)[si];
	const uint8_t *m = rbuf;
	void *view = NULL, *b;
	ssize_t n = (ssize_t)len;
	uint8_t first, lastb;

	switch (p->kind) {
	case C_PIPE:
	case C_SOCKET:
		if (read_full((back ? p->back : p->fd)[0], rbuf, len) < 0)
			return fail(r, "%s %zu B: %s: message %llu: read",
			    case_name[p->kind], len, who,
			    (unsigned long long)seq);
		break;
	case C_CHANNEL:
		b = rbuf;
		n = corecv(port, &b, maxsize);
		break;
	case C_RAWRING:
		n = raw_recv(back ? p->raw_back : p->raw, len);
		break;
	case C_CARRIER:
		b = NULL;
		n = corecv(port, &b, 0);
		m = view = b;
		break;
	case C_COPIPE:
		b = NULL;
		n = corecv(port, &b, len);	/* a view */
		m = view = b;
		break;
	}
	if (n < 0)
		return fail(r, "%s %zu B: %s: message %llu: corecv",
		    case_name[p->kind], len, who, (unsigned long long)seq);
	if ((size_t)n != len) {
		if (view != NULL)
			coport_msg_free(port, view);
		errno = EPROTO;
		return fail(r, "%s %zu B: %s: message %llu: corecv "
		    "returned %zd bytes", case_name[p->kind], len, who,
		    (unsigned long long)seq, n);
	}
	first = m[0];
	lastb = m[len - 1];
	if (view != NULL && coport_msg_free(port, view) < 0)
		return fail(r, "%s %zu B: %s: message %llu: "
		    "coport_msg_free", case_name[p->kind], len, who,
		    (unsigned long long)seq);
	if (first != lastb || (first & 0xfe) != mark(seq, false)) {
		errno = EBADMSG;
		return fail(r, "%s %zu B: %s: message %llu: wrong data: "
		    "first byte 0x%02x, last 0x%02x, expected 0x%02x or 0x%02x",
		    case_name[p->kind], len, who, (unsigned long long)seq,
		    first, lastb, mark(seq, false), mark(seq, true));
	}
	return first & 1;
}

/*
 * The clock of a batch: a warm-up (a tenth of the time or count), then
 * the measured stretch.  The clock is read every 16 messages (round
 * trips) under 1 KiB, else after each.
 */
struct stretch {
	int64_t		 t0, warm_end;
	uint64_t	 n0, warm_n;
	unsigned	 every;
	int		 phase;		/* 0 warm-up, 1 measuring, 2 done */
};

static void
stretch_start(struct stretch *s, const struct cmd *c)
{
	*s = (struct stretch){ .warm_end = now_ns() + c->time_ns / 10,
	    .warm_n = c->count / 10, .every = c->size < 1024 ? 16 : 1 };
}

/* Message n (counted from 1) is done: true once the measured stretch
 * ends with it, its count and time in r. */
static bool
stretch_step(struct stretch *s, const struct cmd *c, uint64_t n,
    struct res *r)
{
	int64_t t;

	if (s->phase == 2)
		return false;
	if (c->count > 0) {
		if (s->phase == 0 && n >= s->warm_n) {
			s->t0 = now_ns();
			s->n0 = n;
			s->phase = 1;
		} else if (s->phase == 1 && n - s->n0 >= c->count) {
			t = now_ns();
			goto done;
		}
		return false;
	}
	if (n % s->every != 0)
		return false;
	t = now_ns();
	if (s->phase == 0 && t >= s->warm_end) {
		s->t0 = t;
		s->n0 = n;
		s->phase = 1;
	} else if (s->phase == 1 && t - s->t0 >= c->time_ns) {
		goto done;
	}
	return false;
done:
	r->n = (int64_t)(n - s->n0);
	r->ns = t - s->t0;
	s->phase = 2;
	return true;
}

/* Receive the batch: warm up, measure, then stop the sender and drain up
 * to its last message. */
static int
receiver_batch(struct pair *p, const struct cmd *c, struct res *r)
{
	struct stretch st;
	uint64_t seq;
	int last;

	stretch_start(&st, c);
	for (seq = 0;; seq++) {
		if ((last = recv_one(p, false, c->si, c->size, seq, r)) < 0)
			return -1;
		if (last)
			break;
		if (stretch_step(&st, c, seq + 1, r))
			STORE_RLX(&p->sh->stop, 1);
	}
	if (st.phase != 2) {
		errno = EPROTO;
		return fail(r, "%s %zu B: receiver: the sender stopped after "
		    "%llu messages, unasked", case_name[p->kind],
		    (size_t)c->size, (unsigned long long)seq + 1);
	}
	return 0;
}

/*
 * Ping-pong, the side that starts each round trip: send message seq
 * forth, receive the answer seq back, both checked; warm up, measure,
 * then one last message, marked, which the other side answers (marked)
 * and stops at.
 */
static int
pp_sender_batch(struct pair *p, const struct cmd *c, struct res *r)
{
	size_t len = c->size;
	struct stretch st;
	uint64_t seq;
	bool last = false;

	stretch_start(&st, c);
	for (seq = 0; !last; seq++) {
		last = st.phase == 2;
		sbuf[0] = sbuf[len - 1] = mark(seq, last);
		if (send_one(p, false, c->si, len) < 0)
			return fail(r, "%s %zu B: ping-pong sender: message "
			    "%llu: %s", case_name[p->kind], len,
			    (unsigned long long)seq, p->kind == C_PIPE ||
			    p->kind == C_SOCKET ? "write" : "cosend");
		if (recv_one(p, true, c->si, len, seq, r) != (last ? 1 : 0)) {
			if (r->err == 0) {
				errno = EPROTO;
				fail(r, "%s %zu B: ping-pong sender: answer "
				    "%llu %s marked last", case_name[p->kind],
				    len, (unsigned long long)seq,
				    last ? "not" : "wrongly");
			}
			return -1;
		}
		(void)stretch_step(&st, c, seq + 1, r);
	}
	return 0;
}

/* Ping-pong, the side that answers: each message back, the same size,
 * marked as the one it answers, until the last. */
static int
pp_receiver_batch(struct pair *p, const struct cmd *c, struct res *r)
{
	size_t len = c->size;
	uint64_t seq;
	int last = 0;

	for (seq = 0; !last; seq++) {
		if ((last = recv_one(p, false, c->si, len, seq, r)) < 0)
			return -1;
		sbuf[0] = sbuf[len - 1] = mark(seq, last);
		if (send_one(p, true, c->si, len) < 0)
			return fail(r, "%s %zu B: ping-pong receiver: answer "
			    "%llu: %s", case_name[p->kind], len,
			    (unsigned long long)seq, p->kind == C_PIPE ||
			    p->kind == C_SOCKET ? "write" : "cosend");
	}
	r->n = (int64_t)seq;
	return 0;
}

/* memcpy bandwidth: MEMCPY_SIZE from one buffer to another, again and
 * again, in one process on the receivers' CPU. */
static int
memcpy_batch(const struct cmd *c, struct res *r)
{
	int64_t t0, t, warm_end = now_ns() + c->time_ns / 10;
	uint64_t i, n = 0, warm_n = c->count / 10;

	for (i = 0; c->count > 0 ? i < warm_n : now_ns() < warm_end; i++) {
		memcpy(rbuf, sbuf, MEMCPY_SIZE);
		__asm__ __volatile__("" ::: "memory");
	}
	t0 = now_ns();
	do {
		memcpy(rbuf, sbuf, MEMCPY_SIZE);
		__asm__ __volatile__("" ::: "memory");
		n++;
		t = now_ns();
	} while (c->count > 0 ? n < c->count : t - t0 < c->time_ns);
	r->n = (int64_t)n;
	r->ns = t - t0;
	return 0;
}

static void __attribute__((noreturn))
child_loop(struct pair *p, int role)
{
	struct cmd c;
	struct res r;
	int rc;

	for (;;) {
		if (read_full(p->cmd_r[role], &c, sizeof(c)) < 0)
			_exit(0);	/* the parent is done */
		memset(&r, 0, sizeof(r));
		errno = 0;
		if (p->kind == C_MEMCPY)
			rc = memcpy_batch(&c, &r);
		else if (p->pp)
			rc = role == SENDER ? pp_sender_batch(p, &c, &r) :
			    pp_receiver_batch(p, &c, &r);
		else if (role == SENDER)
			rc = sender_batch(p, &c, &r);
		else
			rc = receiver_batch(p, &c, &r);
		if (write_full(p->res_w[role], &r, sizeof(r)) < 0 || rc < 0)
			_exit(1);
	}
}


static uint8_t *
buffer(size_t len)
{
	uint8_t *b = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		return NULL;
	memset(b, 0x5a, len);		/* fault the pages in now */
	return b;
}

/*
 * A child: pinned to its CPU (the sender on the first, the receiver and
 * memcpy on the second) before it uses libcomsg, as a user would; then
 * its buffers and ports; then it reports ready (or why not) on readyfd.
 */
static pid_t
spawn(struct pair *p, int role, int *readyp)
{
	int rp[2], keep[8], nkeep = 0;
	struct res r;
	cpu_set_t set;
	pid_t pid;

	if (pipe2(rp, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	if (pid > 0) {
		close(rp[1]);
		*readyp = rp[0];
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	keep[nkeep++] = rp[1];
	keep[nkeep++] = p->cmd_r[role];
	keep[nkeep++] = p->res_w[role];
	/* The pipe's or socket's end for this side only (ping-pong: and
	 * the other end of the back one). */
	if (p->kind == C_PIPE || p->kind == C_SOCKET) {
		int mine = role == SENDER ? 1 : 0;

		keep[nkeep++] = p->fd[mine];
		p->fd[1 - mine] = -1;
		if (p->pp) {
			keep[nkeep++] = p->back[1 - mine];
			p->back[mine] = -1;
		}
	}
	close_others(keep, nkeep);
	memset(&r, 0, sizeof(r));
	CPU_ZERO(&set);
	CPU_SET(cpus[role == SENDER || ncpus < 2 ? 0 : 1], &set);
	errno = 0;
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fail(&r, "sched_setaffinity");
	else if ((sbuf = buffer(maxsize)) == NULL ||
	    (rbuf = buffer(maxsize)) == NULL)
		fail(&r, "buffers of %zu bytes", maxsize);
	else
		(void)child_setup(p, role, &r);
	(void)write_full(rp[1], &r, sizeof(r));
	close(rp[1]);
	if (r.err != 0)
		_exit(1);
	child_loop(p, role);
}

/* ---- the parent ---- */

static void
on_signal(int sig)
{
	int i, j;

	/* Unblock whatever the parent waits for; it exits at the next check. */
	stop_sig = sig;
	for (i = 0; i < NPAIRS; i++)
		for (j = 0; j < 2; j++)
			if (pairs[i].pid[j] > 0)
				kill(pairs[i].pid[j], SIGKILL);
}

static void
check_stop(void)
{
	if (stop_sig != 0) {
		fprintf(stderr, "coport: interrupted\n");
		exit(128 + stop_sig);	/* cleanup() runs */
	}
}


static void
close_fd(int *fdp)
{
	if (*fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
}

static void
pair_close_fds(struct pair *p)
{
	int j;

	for (j = 0; j < 2; j++) {
		close_fd(&p->cmd_w[j]);
		close_fd(&p->res_r[j]);
		close_fd(&p->cmd_r[j]);
		close_fd(&p->res_w[j]);
		close_fd(&p->fd[j]);
		close_fd(&p->back[j]);
	}
}

static void
pair_kill(struct pair *p)
{
	int j;

	for (j = 0; j < 2; j++)
		if (p->pid[j] > 0)
			kill(p->pid[j], SIGKILL);
	for (j = 0; j < 2; j++)
		reap(&p->pid[j], 1000);
	pair_close_fds(p);
	p->live = false;
}

static void
pair_fail(struct pair *p, const char *why)
{
	const char *pp = p->pp ? " ping-pong" : "";

	note("%s%s: %s", case_name[p->kind], pp, why);
	fprintf(stderr, "coport: %s%s: %s\n", case_name[p->kind], pp, why);
	failed = true;
	pair_kill(p);
}

/* Wait for a child's reply on fd until deadline: 1 got it, 0 timed out,
 * -1 the child is gone. */
static int
wait_res(int fd, int64_t deadline, struct res *r)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		int n;

		check_stop();
		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			return read_full(fd, r, sizeof(*r)) < 0 ? -1 : 1;
	}
}

static struct rawring *
rawring_new(void)
{
	void *m = mmap(NULL, sizeof(struct rawring) + COCHANNEL_MAXSIZE,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

static int
pair_init(struct pair *p, int kind, bool pp)
{
	int j, cmd[2], res[2];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->pp = pp;
	for (j = 0; j < 2; j++)
		p->cmd_w[j] = p->res_r[j] = p->cmd_r[j] = p->res_w[j] =
		    p->fd[j] = p->back[j] = -1;
	p->sh = mmap(NULL, sizeof(struct pshm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -1;
	}
	for (j = 0; j < 2; j++) {
		if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
			return -1;
		p->cmd_r[j] = cmd[0];
		p->cmd_w[j] = cmd[1];
		p->res_r[j] = res[0];
		p->res_w[j] = res[1];
	}
	if (kind == C_PIPE) {
		if (pipe2(p->fd, O_CLOEXEC) < 0 ||
		    (pp && pipe2(p->back, O_CLOEXEC) < 0))
			return -1;
	} else if (kind == C_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    p->fd) < 0)
			return -1;
		if (pp && ((p->back[0] = fcntl(p->fd[1], F_DUPFD_CLOEXEC, 0)) < 0 ||
		    (p->back[1] = fcntl(p->fd[0], F_DUPFD_CLOEXEC, 0)) < 0))
			return -1;
	} else if (kind == C_RAWRING) {
		if ((p->raw = rawring_new()) == NULL ||
		    (pp && (p->raw_back = rawring_new()) == NULL))
			return -1;
	}
	p->live = true;
	return 0;
}

/* Start every pair (memcpy: one process), all at once. */
static void
start_pairs(void)
{
	int ready[NPAIRS][2], k, j;
	int64_t deadline;

	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			struct pair *p = &pairs[k];

			ready[k][j] = -1;
			if (!p->live || (k == C_MEMCPY && j == SENDER))
				continue;
			p->pid[j] = spawn(p, j, &ready[k][j]);
			if (p->pid[j] < 0) {
				p->pid[j] = 0;
				pair_fail(p, "fork failed");
			}
		}
	deadline = now_ns() + 30 * 1000000000LL;
	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			struct pair *p = &pairs[k];
			struct res r;
			char why[300];
			int got;

			if (ready[k][j] < 0)
				continue;
			if (p->live) {
				got = wait_res(ready[k][j], deadline, &r);
				if (got <= 0) {
					snprintf(why, sizeof(why), "%s did not "
					    "start%s", j == SENDER ? "sender" :
					    "receiver", got == 0 ?
					    " (timed out)" : "");
					pair_fail(p, why);
				} else if (r.err != 0) {
					snprintf(why, sizeof(why), "%s setup: "
					    "%s: %s", j == SENDER ? "sender" :
					    "receiver", r.what,
					    strerror(r.err));
					pair_fail(p, why);
				}
			}
			close(ready[k][j]);
		}
	/* The parent keeps only its ends of the control pipes. */
	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			close_fd(&pairs[k].cmd_r[j]);
			close_fd(&pairs[k].res_w[j]);
			close_fd(&pairs[k].fd[j]);
			close_fd(&pairs[k].back[j]);
		}
}

/* Orderly end: children see their command pipes close and exit. */
static void
stop_pairs(void)
{
	int k, j;

	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++)
			close_fd(&pairs[k].cmd_w[j]);
	for (k = 0; k < NPAIRS; k++) {
		for (j = 0; j < 2; j++)
			reap(&pairs[k].pid[j], 3000);
		pair_close_fds(&pairs[k]);
	}
}

/* One batch of pair p at size index si in round r: receiver first, then
 * the sender; the receiver's figures count (ping-pong: the sender's, the
 * time per round trip). */
static void
run_batch(struct pair *p, int r, int si)
{
	size_t len = p->kind == C_MEMCPY ? MEMCPY_SIZE : sizes[si];
	struct cmd c = { len, batch_count, (int64_t)batch_ms * 1000000, si, 0 };
	/* A batch by count has no time to go by: give it two minutes. */
	int64_t limit_ms = (batch_count > 0 ? 120000 : (int64_t)batch_ms * 3) +
	    20000, deadline = now_ns() + limit_ms * 1000000;
	int roles[2] = { RECEIVER, SENDER }, i, n = p->kind == C_MEMCPY ? 1 : 2;
	struct res res[2];
	char why[400], sz[32];

	memset(res, 0, sizeof(res));
	STORE_RLX(&p->sh->stop, 0);
	for (i = 0; i < n; i++)
		if (write_full(p->cmd_w[roles[i]], &c, sizeof(c)) < 0) {
			snprintf(why, sizeof(why), "%s is gone",
			    roles[i] == SENDER ? "sender" : "receiver");
			pair_fail(p, why);
			return;
		}
	for (i = 0; i < n; i++) {
		int got = wait_res(p->res_r[roles[i]], deadline, &res[i]);

		if (got == 0) {
			snprintf(why, sizeof(why), "%s: batch timed out after "
			    "%lld s: the %s did not finish%s",
			    size_str(len, sz, sizeof(sz)),
			    (long long)(limit_ms / 1000),
			    roles[i] == SENDER ? "sender" : "receiver",
			    roles[i] == SENDER ? " (the receiver did)" : "");
			pair_fail(p, why);
			return;
		}
		if (got < 0) {
			check_stop();
			snprintf(why, sizeof(why), "%s: the %s died",
			    size_str(len, sz, sizeof(sz)),
			    roles[i] == SENDER ? "sender" : "receiver");
			pair_fail(p, why);
			return;
		}
	}
	for (i = 0; i < n; i++)
		if (res[i].err != 0) {
			snprintf(why, sizeof(why), "%s: %s", res[i].what,
			    strerror(res[i].err));
			pair_fail(p, why);
			return;
		}
	if (p->pp) {
		if (res[1].n > 0 && res[1].ns > 0)
			*rate_at(r, si, (int)(p - pairs)) =
			    (double)res[1].ns / (double)res[1].n;
	} else if (res[0].n > 0 && res[0].ns > 0) {
		*rate_at(r, p->kind == C_MEMCPY ? 0 : si, p->kind) =
		    (double)res[0].n * 1e9 / (double)res[0].ns;
	}
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
cleanup(void)
{
	void *k;
	pid_t pid;
	int i;

	if (getpid() != parent_pid)
		return;
	for (i = 0; i < NPAIRS; i++)
		pair_kill(&pairs[i]);
	if (tmpdir[0] != '\0') {
		/* The comsgd our ports started serves only our domain. */
		if (colookup("comsgd", &k) == 0) {
			if (cotargetpid(k, &pid) == 0 && pid > 0)
				kill(pid, SIGKILL);
			capfree(k);
		}
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		tmpdir[0] = '\0';
	}
}

/* ---- output ---- */


struct stat3 {
	double		 med, q1, q3;
	int		 n;
};

/* Median and quartiles of the n values of v (sorted here). */
static bool
stats(double *v, int n, struct stat3 *s)
{
	if (n == 0)
		return false;
	qsort(v, n, sizeof(*v), cmp_dbl);
	s->n = n;
	s->med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->q1 = v[n / 4];
	s->q3 = v[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
	return true;
}

/* Messages per second of a case at a size, over the rounds (kind PP(k):
 * nanoseconds per round trip). */
static bool
rate_stats(int kind, int si, struct stat3 *s)
{
	double v[rounds];
	int r, n = 0;

	for (r = 0; r < rounds; r++)
		if (*rate_at(r, si, kind) > 0)
			v[n++] = *rate_at(r, si, kind);
	return stats(v, n, s);
}

static int
size_index(size_t len)
{
	int si;

	for (si = 0; si < nsizes; si++)
		if (sizes[si] == len)
			return si;
	return -1;
}

/* MB/s of one kind at size index si in round r (memcpy: its own size). */
static double
bw_at(int r, int kind, int si)
{
	if (kind == C_MEMCPY)
		return *rate_at(r, 0, C_MEMCPY) * MEMCPY_SIZE / MB;
	return *rate_at(r, si, kind) * (double)sizes[si] / MB;
}

/* A case's figure in round r for a target's measure. */
static double
measure_at(int r, enum measure m, int kind, int si)
{
	switch (m) {
	case M_MBPS:
		return bw_at(r, kind, si);
	case M_RTT:
		return *rate_at(r, si, PP(kind));
	default:
		return *rate_at(r, si, kind);
	}
}

/* The median, over rounds, of a target's per-round ratio. */
static bool
ratio_of(const struct target *t, struct stat3 *s)
{
	int si = size_index(t->size), r, n = 0;
	double v[rounds];

	if (si < 0)
		return false;
	for (r = 0; r < rounds; r++) {
		double a = measure_at(r, t->m, t->num, si);
		double b = measure_at(r, t->m, t->den, si);

		if (a > 0 && b > 0)
			v[n++] = a / b;
	}
	return stats(v, n, s);
}

/* Whether a ratio meets its target's goal (which is not 0). */
static bool
ratio_pass(const struct target *t, double v)
{
	return t->m == M_RTT ? v <= t->goal : v >= t->goal;
}

static const char *
goal_op(const struct target *t)
{
	return t->m == M_RTT ? "<=" : ">=";
}

/* 12.3M, 845k, 512: three or four significant digits. */
static const char *
rate_str(double v, char *buf, size_t room)
{
	if (v >= 1e9)
		snprintf(buf, room, "%.3gG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, room, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, room, "%.3gk", v / 1e3);
	else
		snprintf(buf, room, "%.0f", v);
	return buf;
}

/* A round trip: 812 ns, 4.52 us, 1.30 ms. */
static const char *
rtt_str(double ns, char *buf, size_t room)
{
	if (ns >= 1e6)
		snprintf(buf, room, "%.3g ms", ns / 1e6);
	else if (ns >= 1e4)
		snprintf(buf, room, "%.3g us", ns / 1e3);
	else
		snprintf(buf, room, "%.0f ns", ns);
	return buf;
}

static const char *
bw_str(double v, char *buf, size_t room)
{
	snprintf(buf, room, v >= 1000 ? "%.0f" : v >= 1 ? "%.3g" : "%.2g", v);
	return buf;
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
target_name(const struct target *t, char *buf, size_t room)
{
	snprintf(buf, room, "%s/%s %s", case_name[t->num], case_name[t->den],
	    measure_name[t->m]);
}

static void
print_table(enum measure m)
{
	static const char *const title[] = {
		[M_MSGS] = "streaming: messages per second",
		[M_MBPS] = "streaming: MB/s (10^6 bytes per second)",
		[M_RTT] = "ping-pong: time per round trip",
	};
	char sz[32], v[32];
	struct stat3 s;
	int si, k;

	printf("\n%s, median over rounds\n%-8s", title[m], "size");
	for (k = 0; k < NCASES; k++)
		if (want_case[k])
			printf(" %10s", case_name[k]);
	putchar('\n');
	for (si = 0; si < nsizes; si++) {
		printf("%-8s", size_str(sizes[si], sz, sizeof(sz)));
		for (k = 0; k < NCASES; k++) {
			if (!want_case[k])
				continue;
			if (!rate_stats(m == M_RTT ? PP(k) : k, si, &s))
				printf(" %10s", "-");
			else if (m == M_MBPS)
				printf(" %10s", bw_str(s.med * (double)sizes[si] /
				    MB, v, sizeof(v)));
			else if (m == M_RTT)
				printf(" %10s", rtt_str(s.med, v, sizeof(v)));
			else
				printf(" %10s", rate_str(s.med, v, sizeof(v)));
		}
		putchar('\n');
	}
}

static void
report(int64_t elapsed_ms)
{
	struct stat3 s;
	char name[64], sz[32], goal[16], q[48];
	bool first;
	int si, k, t, i;

	if (want_stream)
		printf("coport: one sender streams messages to one receiver; "
		    "the receiver counts them\n");
	if (want_pp)
		printf("coport: ping-pong: two processes bounce one message "
		    "back and forth; the first times the round trips\n");
	if (ncpus > 1)
		printf("sender on cpu %d, receiver on cpu %d", cpus[0], cpus[1]);
	else
		printf("sender and receiver both on cpu %d", cpus[0]);
	if (batch_count > 0)
		printf("; %d rounds, %llu messages per case per round",
		    rounds, (unsigned long long)batch_count);
	else
		printf("; %d rounds, %d ms per case per round", rounds,
		    batch_ms);
	printf(" (%.1f s in all)\n", elapsed_ms / 1000.0);
	printf("socket is socketpair(AF_UNIX, SOCK_STREAM); pipe and socket: "
	    "one write() per message,\nreads of exactly its length; "
	    "cochannel ring: 4 x (size + 16) rounded up to a power\nof two, "
	    "4 KiB to 16 MiB; cocarrier and copipe: the receiver reads a "
	    "view\n");
	for (i = 0; i < nnotes; i++)
		printf("note: %s\n", notes[i]);
	if (want_stream) {
		print_table(M_MSGS);
		print_table(M_MBPS);
	}
	if (want_pp)
		print_table(M_RTT);
	if (rate_stats(C_MEMCPY, 0, &s))
		printf("\nmemcpy of 1 MiB, one process on cpu %d: %.0f MB/s "
		    "[%.0f - %.0f]\n", cpus[ncpus > 1 ? 1 : 0],
		    s.med * MEMCPY_SIZE / MB, s.q1 * MEMCPY_SIZE / MB,
		    s.q3 * MEMCPY_SIZE / MB);

	printf("\nratios: median over rounds of the ratio of the two cases "
	    "in a round [quartiles]\n");
	printf("%-32s %7s %8s %17s %8s %s\n", "ratio", "size", "value",
	    "[q1 - q3]", "target", "");
	for (t = 0; t < NTARGETS; t++) {
		const struct target *g = &targets[t];
		const char *mark_s = "";

		if (!ratio_of(g, &s))
			continue;
		target_name(g, name, sizeof(name));
		snprintf(goal, sizeof(goal), "-");
		if (g->goal > 0) {
			snprintf(goal, sizeof(goal), "%s %g", goal_op(g),
			    g->goal);
			mark_s = ratio_pass(g, s.med) ? "pass" : "miss";
		}
		snprintf(q, sizeof(q), "[%.3g - %.3g]", s.q1, s.q3);
		printf("%-32s %7s %8.3g %17s %8s %s\n", name,
		    size_str(g->size, sz, sizeof(sz)), s.med, q, goal, mark_s);
	}

	/* The machine-readable copy, one line. */
	printf("JSON {\"bench\":\"coport\",\"unit\":\"msgs/s, MB/s "
	    "(10^6 B/s)\",\"cpus\":[%d", cpus[0]);
	if (ncpus > 1)
		printf(",%d", cpus[1]);
	printf("],\"rounds\":%d,\"batch_ms\":%d,\"batch_count\":%llu,"
	    "\"socket\":\"SOCK_STREAM\",\"notes\":[", rounds,
	    batch_count > 0 ? 0 : batch_ms, (unsigned long long)batch_count);
	for (i = 0; i < nnotes; i++) {
		if (i > 0)
			putchar(',');
		json_str(stdout, notes[i]);
	}
	printf("],\"memcpy\":");
	if (rate_stats(C_MEMCPY, 0, &s))
		printf("{\"size\":%u,\"MBps\":%.1f,\"q1\":%.1f,\"q3\":%.1f,"
		    "\"rounds\":%d}", MEMCPY_SIZE, s.med * MEMCPY_SIZE / MB,
		    s.q1 * MEMCPY_SIZE / MB, s.q3 * MEMCPY_SIZE / MB, s.n);
	else
		printf("null");
	printf(",\"results\":[");
	first = true;
	for (si = 0; si < nsizes; si++)
		for (k = 0; k < NCASES; k++) {
			double m = (double)sizes[si] / MB;

			if (!rate_stats(k, si, &s))
				continue;
			printf("%s{\"case\":\"%s\",\"size\":%zu,"
			    "\"msgs_per_s\":%.1f,\"msgs_q1\":%.1f,"
			    "\"msgs_q3\":%.1f,\"MBps\":%.6g,\"rounds\":%d}",
			    first ? "" : ",", case_name[k], sizes[si], s.med,
			    s.q1, s.q3, s.med * m, s.n);
			first = false;
		}
	printf("],\"pingpong\":[");
	first = true;
	for (si = 0; si < nsizes; si++)
		for (k = 0; k < NCASES; k++) {
			if (!rate_stats(PP(k), si, &s))
				continue;
			printf("%s{\"case\":\"%s\",\"size\":%zu,"
			    "\"rtt_ns\":%.1f,\"rtt_q1\":%.1f,\"rtt_q3\":%.1f,"
			    "\"rounds\":%d}", first ? "" : ",", case_name[k],
			    sizes[si], s.med, s.q1, s.q3, s.n);
			first = false;
		}
	printf("],\"ratios\":[");
	first = true;
	for (t = 0; t < NTARGETS; t++) {
		const struct target *g = &targets[t];

		if (!ratio_of(g, &s))
			continue;
		printf("%s{\"ratio\":\"%s/%s\",\"measure\":\"%s\",\"size\":%zu,"
		    "\"value\":%.4g,\"q1\":%.4g,\"q3\":%.4g,\"rounds\":%d",
		    first ? "" : ",", case_name[g->num], case_name[g->den],
		    measure_name[g->m], g->size, s.med, s.q1, s.q3, s.n);
		if (g->goal > 0)
			printf(",\"target\":\"%s %g\",\"pass\":%s",
			    goal_op(g), g->goal,
			    ratio_pass(g, s.med) ? "true" : "false");
		putchar('}');
		first = false;
	}
	printf("]}\n");
}

/*
 * For gnuplot: one block per case (separated by two blank lines, for
 * `index`), a row per size: size, messages/s, MB/s (medians over rounds)
 * and the quartiles of messages/s; then one block per ping-pong case, a
 * row per size: size, nanoseconds per round trip (median) and its
 * quartiles.  Comments name the cases of each kind in order and give
 * memcpy's bandwidth.
 */
static void
write_data(void)
{
	struct stat3 s;
	FILE *f;
	int k, si, i;

	if (datafile == NULL || datafile[0] == '\0')
		return;
	if ((f = fopen(datafile, "w")) == NULL) {
		fprintf(stderr, "coport: cannot write %s: %s\n", datafile,
		    strerror(errno));
		return;
	}
	fprintf(f, "# bench/coport: one sender streams to one receiver, and "
	    "ping-pong; medians over %d rounds\n", rounds);
	fprintf(f, "# cases:");
	for (k = 0; k < NCASES; k++)
		if (want_stream && want_case[k])
			fprintf(f, " %s", case_name[k]);
	fprintf(f, "\n# pingpong cases:");
	for (k = 0; k < NCASES; k++)
		if (want_pp && want_case[k])
			fprintf(f, " %s", case_name[k]);
	fprintf(f, "\n");
	if (rate_stats(C_MEMCPY, 0, &s))
		fprintf(f, "# memcpy_MBps %.1f\n", s.med * MEMCPY_SIZE / MB);
	fprintf(f, "# size msgs_per_s MB_per_s msgs_q1 msgs_q3\n"
	    "# pingpong: size rtt_ns rtt_q1 rtt_q3\n");
	for (k = 0, i = 0; k < NCASES; k++) {
		if (!want_stream || !want_case[k])
			continue;
		fprintf(f, "%s# %s\n", i++ > 0 ? "\n\n" : "", case_name[k]);
		for (si = 0; si < nsizes; si++)
			if (rate_stats(k, si, &s))
				fprintf(f, "%zu %.1f %.6g %.1f %.1f\n", sizes[si],
				    s.med, s.med * (double)sizes[si] / MB, s.q1,
				    s.q3);
	}
	for (k = 0; k < NCASES; k++) {
		if (!want_pp || !want_case[k])
			continue;
		fprintf(f, "%s# pingpong %s\n", i++ > 0 ? "\n\n" : "",
		    case_name[k]);
		for (si = 0; si < nsizes; si++)
			if (rate_stats(PP(k), si, &s))
				fprintf(f, "%zu %.1f %.1f %.1f\n", sizes[si],
				    s.med, s.q1, s.q3);
	}
	if (fclose(f) != 0)
		fprintf(stderr, "coport: writing %s: %s\n", datafile,
		    strerror(errno));
	else
		fprintf(stderr, "coport: data for plots in %s\n", datafile);
}

/* Where the data goes by default: results/coport.dat beside the program
 * (bench/run.sh keeps its results there). */
static const char *
default_datafile(void)
{
	static char path[PATH_MAX + 32];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/results", dirname(exe));
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return NULL;
	strcat(path, "/coport.dat");
	return path;
}

/* ---- options and main ---- */

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: coport [-hq] [-c cases] [-m modes] [-n messages | -t ms]\n"
	    "              [-o file] [-r rounds] [-s sizes]\n");
	if (status == 0)
		fprintf(f,
		    "  -c  cases, comma-separated (default all): cochannel,cocarrier,\n"
		    "      copipe,pipe,socket,rawring (memcpy of 1 MiB runs with\n"
		    "      stream)\n"
		    "  -m  modes, comma-separated (default both): stream (one sender\n"
		    "      streams to one receiver: messages/s), pingpong (one message\n"
		    "      back and forth: time per round trip)\n"
		    "  -n  messages (round trips) measured per case per round,\n"
		    "      instead of a time\n"
		    "  -o  data file for plots (default results/coport.dat beside\n"
		    "      the program; -o '' writes none)\n"
		    "  -q  quick: 3 rounds of 20 ms per case (about 20 s)\n"
		    "  -r  rounds; each runs every case once at every size (default 5)\n"
		    "  -s  message sizes in bytes, comma-separated (default 1 to\n"
		    "      2097152, doubling)\n"
		    "  -t  milliseconds measured per case per round (default 200)\n"
		    "Prints tables, then a last line: \"JSON \" and the results as one\n"
		    "JSON object.  See docs/performance.md.\n");
	exit(status);
}

static void
parse_cases(char *arg)
{
	char *tok, *save = NULL;
	int k;

	memset(want_case, 0, sizeof(want_case));
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < NCASES; k++)
			if (strcmp(tok, case_name[k]) == 0)
				break;
		if (k == NCASES) {
			fprintf(stderr, "coport: unknown case: %s\n", tok);
			usage(2);
		}
		want_case[k] = true;
	}
}

static void
parse_modes(char *arg)
{
	char *tok, *save = NULL;

	want_stream = want_pp = false;
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "stream") == 0) {
			want_stream = true;
		} else if (strcmp(tok, "pingpong") == 0) {
			want_pp = true;
		} else {
			fprintf(stderr, "coport: unknown mode: %s\n", tok);
			usage(2);
		}
	}
	if (!want_stream && !want_pp)
		usage(2);
}

static void
parse_sizes(char *arg)
{
	char *tok, *save = NULL, *end;

	nsizes = 0;
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno != 0 || *end != '\0' || end == tok || v == 0 ||
		    v > MAXSIZE || nsizes == MAXSIZES) {
			fprintf(stderr, "coport: bad size: %s (1 to %u, at most "
			    "%d sizes)\n", tok, MAXSIZE, MAXSIZES);
			usage(2);
		}
		sizes[nsizes++] = v;
	}
	if (nsizes == 0)
		usage(2);
}

static long long
parse_num(const char *arg, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || v < lo || v > hi) {
		fprintf(stderr, "coport: bad number: %s (%lld to %lld)\n", arg,
		    lo, hi);
		usage(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	cpu_set_t set;
	bool rounds_set = false, time_set = false, quick = false, data_set = false;
	int ch, i, k, r, si, order[NPAIRS], norder;
	int64_t t_start;

	for (k = 0; k < NCASES; k++)
		want_case[k] = true;
	for (nsizes = 0; nsizes < 22; nsizes++)
		sizes[nsizes] = (size_t)1 << nsizes;
	while ((ch = getopt(argc, argv, "c:hm:n:o:qr:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			parse_cases(optarg);
			break;
		case 'h':
			usage(0);
		case 'm':
			parse_modes(optarg);
			break;
		case 'n':
			batch_count = (uint64_t)parse_num(optarg, 10, 1LL << 40);
			break;
		case 'o':
			datafile = optarg;
			data_set = true;
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			rounds = (int)parse_num(optarg, 1, 1000);
			rounds_set = true;
			break;
		case 's':
			parse_sizes(optarg);
			break;
		case 't':
			batch_ms = (int)parse_num(optarg, 1, 600000);
			time_set = true;
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (quick) {
		if (!rounds_set)
			rounds = 3;
		if (!time_set)
			batch_ms = 20;
	}
	if (!data_set)
		datafile = default_datafile();
	maxsize = MEMCPY_SIZE;
	for (si = 0; si < nsizes; si++)
		if (sizes[si] > maxsize)
			maxsize = sizes[si];
	parent_pid = getpid();
	t_start = now_ns();

	/* The first two CPUs we may use. */
	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		perror("coport: sched_getaffinity");
		return 1;
	}
	for (i = 0; i < CPU_SETSIZE && ncpus < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	if (ncpus < 2)
		note("only one CPU available: sender and receiver share it");
	for (si = 0; si < nsizes; si++)
		if (want_case[C_CHANNEL] && !ring_fits(sizes[si]))
			note("cochannel skips %zu B: larger than its largest "
			    "ring (%u bytes)", sizes[si], COCHANNEL_MAXSIZE);
	for (i = 0; i < NTARGETS; i++)
		if (targets[i].goal > 0 && size_index(targets[i].size) < 0 &&
		    (targets[i].m == M_RTT ? want_pp : want_stream) &&
		    want_case[targets[i].num] && (targets[i].den == C_MEMCPY ||
		    want_case[targets[i].den]))
			note("no ratio %s/%s %s: size %zu not measured",
			    case_name[targets[i].num],
			    case_name[targets[i].den],
			    measure_name[targets[i].m], targets[i].size);

	/* A private domain, removed at the end with its comsgd. */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/comsg-bench-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("coport: mkdtemp");
		tmpdir[0] = '\0';
		return 1;
	}
	setenv("COMSG_DIR", tmpdir, 1);
	for (k = 0; k < NPAIRS; k++)
		for (i = 0; i < 2; i++)
			pairs[k].cmd_w[i] = pairs[k].res_r[i] =
			    pairs[k].cmd_r[i] = pairs[k].res_w[i] =
			    pairs[k].fd[i] = pairs[k].back[i] = -1;
	atexit(cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rates = calloc((size_t)rounds * MAXSIZES * NPAIRS, sizeof(*rates));
	if (rates == NULL) {
		perror("coport: memory");
		return 1;
	}
	for (k = 0; k < NPAIRS; k++) {
		bool pp = k >= NKINDS;
		int kind = pp ? k - NKINDS : k;

		if (!(pp ? want_pp : want_stream) ||
		    (kind < NCASES && !want_case[kind]))
			continue;
		if (pair_init(&pairs[k], kind, pp) < 0) {
			perror("coport: setting up a pair");
			return 1;
		}
	}
	fprintf(stderr, "coport: starting the processes\n");
	start_pairs();

	/*
	 * Rounds: every case once at every size, in turn (streaming, then
	 * ping-pong), the order of the cases reversed every other round, so
	 * that drift hits all alike.  memcpy runs beside the cases at 1 MiB
	 * (or after the last size).
	 */
	for (r = 0; r < rounds; r++) {
		int64_t el = (now_ns() - t_start) / 1000000;
		bool memcpy_done = false;

		fprintf(stderr, "coport: round %d/%d (%lld.%llds)\n", r + 1,
		    rounds, (long long)(el / 1000),
		    (long long)(el % 1000 / 100));
		for (si = 0; si <= nsizes; si++) {
			norder = 0;
			if (si < nsizes)
				for (k = 0; k < NPAIRS; k++)
					if (k != C_MEMCPY && pairs[k].live &&
					    runs_at(pairs[k].kind, sizes[si]))
						order[norder++] = k;
			if (!memcpy_done && pairs[C_MEMCPY].live &&
			    (si == nsizes || sizes[si] == MEMCPY_SIZE)) {
				order[norder++] = C_MEMCPY;
				memcpy_done = true;
			}
			for (i = 0; i < norder; i++) {
				struct pair *p = &pairs[order[r % 2 ?
				    norder - 1 - i : i]];

				if (p->live)
					run_batch(p, r, si < nsizes ? si : 0);
			}
		}
	}
	stop_pairs();
	report((now_ns() - t_start) / 1000000);
	fflush(stdout);
	write_data();
	return failed ? 1 : 0;
}
