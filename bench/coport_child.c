/*
 * bench/coport's two processes of a pair: each pinned to its CPU, with its
 * ports, streaming or bouncing messages through its case's transport in
 * batches that the parent commands, and memcpy's one process.  Each
 * case's sending and receiving sit here with the loops that time them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coport.h"

static uint8_t *sbuf, *rbuf;		/* the children's own buffers */

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
				cpu_relax();
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
			cpu_relax();
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
pid_t
spawn(struct pair *p, int role, int *readyp)
{
	int keep[4], nkeep = 0, ready, mine = role == SENDER ? 1 : 0;
	bool fds = p->kind == C_PIPE || p->kind == C_SOCKET;
	struct res r;
	pid_t pid;

	keep[nkeep++] = p->cmd_r[role];
	keep[nkeep++] = p->res_w[role];
	/* The pipe's or socket's end for this side only (ping-pong: and
	 * the other end of the back one). */
	if (fds) {
		keep[nkeep++] = p->fd[mine];
		if (p->pp)
			keep[nkeep++] = p->back[1 - mine];
	}
	if ((pid = fork_child(keep, nkeep, &ready)) != 0) {
		if (pid > 0)
			*readyp = ready;
		return pid;
	}
	if (fds) {		/* the other side's, closed */
		p->fd[1 - mine] = -1;
		p->back[mine] = -1;
	}
	memset(&r, 0, sizeof(r));
	errno = 0;
	if (pin_cpu(cpus[role == SENDER || ncpus < 2 ? 0 : 1]) < 0)
		fail(&r, "sched_setaffinity");
	else if ((sbuf = buffer(maxsize)) == NULL ||
	    (rbuf = buffer(maxsize)) == NULL)
		fail(&r, "buffers of %zu bytes", maxsize);
	else
		(void)child_setup(p, role, &r);
	(void)write_full(ready, &r, sizeof(r));
	close(ready);
	if (r.err != 0)
		_exit(1);
	child_loop(p, role);
}
