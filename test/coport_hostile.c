/* A holder scribbling over every shared page it can write (COCHANNEL and COCARRIER consumer pages, bell pages) breaks nothing but its own port's rings; no crash, no forged or torn message. */
#include "coport_test.h"

/*
 * What is checked, and why only that.  The hostile process H opens the
 * victim ports legitimately (full rights), then writes random words at
 * full speed over every shared page it can write: the consumer page of
 * each COCHANNEL and COCARRIER ring it receives from, and the bell pages
 * of the COCHANNEL and COCARRIER victim ports.  (It cannot write the
 * rings themselves, nor the state pages: checked.)  Meanwhile:
 *
 * - on a bystander COCHANNEL port, which H does not hold, a sender and a
 *   receiver exchange 50,000 messages: all arrive, once, in order;
 * - on the victim COCARRIER port, two senders and two receivers exchange
 *   messages: every message a receiver gets is intact and received
 *   once; a sender whose consumer page is scribbled over takes the
 *   record in flight for taken (a receiver may take and drop messages:
 *   that one is lost) and sends through the socket from then on, so
 *   each sender loses at most one message (the bell's counts only
 *   decide when receivers look at the socket);
 * - on the victim COCHANNEL port, the consumer pages are receivers'
 *   shared state, and docs/security.md says the receivers of a port trust
 *   each other not to rewind claims: a scribbled position is detected
 *   (EPROTO for the sender, the ring skipped by receivers), so what is
 *   checked is that no process crashes or hangs, senders fail only with
 *   EPROTO, and every message a receiver gets is a complete message of a
 *   real sender, received once (random words practically never form an
 *   aligned in-window position, the one way to rewind a claim).
 */

#define CARR_N		2000	/* COCARRIER messages per victim sender */
#define CHAN_N		20000	/* COCHANNEL messages per victim sender */
#define BYST_N		50000
#define MAXDATA		200

struct vmsg {
	uint32_t	sender;
	uint32_t	seq;
	uint32_t	len;		/* of data */
	uint32_t	sum;
	uint8_t		data[MAXDATA];
};

struct stats {
	uint8_t		carr_got[2][CARR_N];
	uint8_t		chan_got[2][CHAN_N];
	uint32_t	chan_sent[2];
	int		chan_err[2];
	uint32_t	carr_received[2], chan_received[2];
	uint32_t	bad;
	uint64_t	sweeps;		/* H's passes over its pages */
	uint32_t	cons_pages, bell_pages;
};
static struct stats *st;

enum { VS0, VS1, VR0, VR1, BS, BR, H, NCHILD };
static int sv[NCHILD][2];
static struct t_gate h_ready;	/* H scribbles on both senders' rings */

static uint32_t
msg_sum(const struct vmsg *m)
{
	uint32_t h = 2166136261u ^ m->sender ^ (m->seq << 8) ^ (m->len << 20);

	for (uint32_t i = 0; i < m->len && i < MAXDATA; i++)
		h = (h ^ m->data[i]) * 16777619u;
	return h;
}

static size_t
make_msg(struct vmsg *m, uint32_t sender, uint32_t seq)
{
	m->sender = sender;
	m->seq = seq;
	m->len = (seq * 37) % MAXDATA;
	for (uint32_t i = 0; i < m->len; i++)
		m->data[i] = (uint8_t)(seq * 13 + i * 7 + sender);
	m->sum = msg_sum(m);
	return 16 + m->len;
}

/* A message as received: complete and genuine, or not. */
static bool
msg_ok(const void *buf, ssize_t n, uint32_t max_seq)
{
	struct vmsg m;

	if (n < 16 || n > (ssize_t)sizeof(m))
		return false;
	memcpy(&m, buf, (size_t)n);
	return m.sender < 2 && m.seq < max_seq && m.len == (size_t)n - 16 &&
	    m.sum == msg_sum(&m);
}

static int
victim_sender(void *arg)
{
	int id = (int)(intptr_t)arg;
	coport_t chan = t_recv_port(sv[id][1]), carr = t_recv_port(sv[id][1]);
	struct vmsg m;
	size_t len;

	/* Our ring, for H to find. */
	len = make_msg(&m, (uint32_t)id, 0);
	CHECK(cosend(chan, &m, len) == (ssize_t)len);
	st->chan_sent[id] = 1;
	t_gate_wait(&h_ready);
	for (uint32_t i = 0; i < CARR_N; i++) {
		len = make_msg(&m, (uint32_t)id, i);
		CHECK(cosend(carr, &m, len) == (ssize_t)len);
	}
	for (uint32_t i = 1; i < CHAN_N; i++) {
		len = make_msg(&m, (uint32_t)id, i);
		if (cosend(chan, &m, len) != (ssize_t)len) {
			st->chan_err[id] = errno;
			break;
		}
		st->chan_sent[id] = i + 1;
	}
	CHECK(coclose(chan) == 0);
	CHECK(coclose(carr) == 0);
	return T_PASS;
}

static int
victim_receiver(void *arg)
{
	int id = (int)(intptr_t)arg - VR0, done = 0;
	int fd = sv[(int)(intptr_t)arg][1];
	coport_t p[2];
	struct vmsg room;

	p[0] = t_recv_port(fd);		/* COCHANNEL */
	p[1] = t_recv_port(fd);		/* COCARRIER */
	for (int k = 0; k < 2; k++)
		CHECK(coport_setflags(p[k], COPORT_NONBLOCK) == 0);
	/* Until both ports say every sender has gone, and nothing is left. */
	while (done != 3) {
		pollcoport_t pc[2] = { make_pollcoport(p[0], COPOLL_IN),
		    make_pollcoport(p[1], COPOLL_IN) };

		CHECK(copoll(pc, 2, 1000) >= 0);
		for (int k = 0; k < 2; k++) {
			if (pc[k].revents & COPOLL_CLOSED)
				done |= 1 << k;
			if (!(pc[k].revents & COPOLL_IN))
				continue;
			for (;;) {
				void *buf = &room;
				const struct vmsg *m;
				ssize_t n = corecv(p[k], &buf, sizeof(room));

				if (n < 0) {
					/* EPIPE: every sender has gone and
					 * nothing is left */
					CHECK(errno == EAGAIN || errno == EPIPE);
					if (errno == EPIPE)
						done |= 1 << k;
					break;
				}
				if (!msg_ok(buf, n, k == 0 ? CHAN_N : CARR_N)) {
					__atomic_add_fetch(&st->bad, 1, __ATOMIC_RELAXED);
					fprintf(stderr, "receiver %d: a bad message on "
					    "the %s port\n", id, k ? "COCARRIER" :
					    "COCHANNEL");
				} else {
					m = buf;
					__atomic_add_fetch(k == 0 ?
					    &st->chan_got[m->sender][m->seq] :
					    &st->carr_got[m->sender][m->seq], 1,
					    __ATOMIC_RELAXED);
					(k == 0 ? st->chan_received :
					    st->carr_received)[id]++;
				}
				if (k == 1)
					CHECK(coport_msg_free(p[k], buf) == 0);
			}
		}
	}
	CHECK(coclose(p[0]) == 0);
	CHECK(coclose(p[1]) == 0);
	return T_PASS;
}

static int
bystander_sender(void *arg)
{
	coport_t p = t_recv_port(sv[BS][1]);

	(void)arg;
	for (uint32_t i = 0; i < BYST_N; i++)
		CHECK(cosend(p, &i, sizeof(i)) == sizeof(i));
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static int
bystander_receiver(void *arg)
{
	coport_t p = t_recv_port(sv[BR][1]);
	uint32_t v;
	void *buf = &v;

	(void)arg;
	for (uint32_t i = 0; i < BYST_N; i++) {
		CHECK(corecv(p, &buf, sizeof(v)) == sizeof(v));
		CHECK(v == i);
	}
	CHECK_ERR(corecv(p, &buf, sizeof(v)), EPIPE);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* H: legitimate handles, hostile use of every page they let it write. */
static int
hostile(void *arg)
{
	coport_t chan, carr;
	struct t_map m[64];
	uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
	bool told = false;
	char c;

	(void)arg;
	CHECK(read(sv[H][1], &c, 1) == 1);
	CHECK(coopen("victim", COCHANNEL, &chan) == 0);
	CHECK(coopen("victim-c", COCARRIER, &carr) == 0);
	for (;;) {
		pollcoport_t pc = make_pollcoport(chan, COPOLL_IN);
		int n, cons = 0, bells = 0;

		pollcoport_t pcc = make_pollcoport(carr, COPOLL_IN);

		/* Take the current rings (copoll looks them up). */
		(void)copoll(&pc, 1, 0);
		(void)copoll(&pcc, 1, 0);
		n = t_maps("memfd:", m, 64);
		CHECK(n <= 64);
		for (int i = 0; i < n; i++) {
			bool is_cons = strstr(m[i].name, "cochannel-cons") != NULL;
			bool is_bell = strstr(m[i].name, "coport-bell") != NULL;

			if (strstr(m[i].name, "coport-state") != NULL ||
			    strstr(m[i].name, "cochannel-ring") != NULL) {
				/* read-only, and stays so */
				CHECK(m[i].perms[1] != 'w');
				CHECK_ERR(mprotect((void *)m[i].start,
				    m[i].end - m[i].start, PROT_READ | PROT_WRITE),
				    EACCES);
				continue;
			}
			if (!(is_cons || is_bell) || m[i].perms[1] != 'w')
				continue;
			cons += is_cons;
			bells += is_bell;
			for (int pass = 0; pass < 50; pass++) {
				volatile uint64_t *w = (uint64_t *)m[i].start;

				for (size_t k = 0; k < (m[i].end - m[i].start) / 8; k++)
					w[k] = xorshift(&seed);
			}
		}
		st->cons_pages = (uint32_t)cons;
		st->bell_pages = (uint32_t)bells;
		__atomic_add_fetch(&st->sweeps, 1, __ATOMIC_RELAXED);
		if (!told && cons >= 2) {
			/* Both victim senders' rings are under attack. */
			t_gate_open(&h_ready);
			t_gate_open(&h_ready);
			told = true;
		}
	}
	return T_FAIL;	/* killed by the parent */
}

int
main(void)
{
	static int (*const fn[NCHILD])(void *) = { victim_sender, victim_sender,
	    victim_receiver, victim_receiver, bystander_sender,
	    bystander_receiver, hostile };
	pid_t pids[NCHILD];
	coport_t chan, carr, byst;
	uint32_t carr_total = 0, chan_total = 0, dups = 0, sent = 0;
	int64_t t0 = t_now_ns();

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(st != MAP_FAILED);
	t_gate_init(&h_ready);
	for (int i = 0; i < NCHILD; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) == 0);
		pids[i] = t_spawn(fn[i], (void *)(intptr_t)i);
	}
	CHECK(coopen("victim", COCHANNEL, &chan) == 0);
	CHECK(coopen("victim-c", COCARRIER, &carr) == 0);
	CHECK(coopen("bystander", COCHANNEL, &byst) == 0);
	for (int i = VS0; i <= VS1; i++) {
		t_send_port(sv[i][0], chan, COPORT_PERM_SEND);
		t_send_port(sv[i][0], carr, COPORT_PERM_SEND);
	}
	for (int i = VR0; i <= VR1; i++) {
		t_send_port(sv[i][0], chan, COPORT_PERM_RECV);
		t_send_port(sv[i][0], carr, COPORT_PERM_RECV);
	}
	t_send_port(sv[BS][0], byst, COPORT_PERM_SEND);
	t_send_port(sv[BR][0], byst, COPORT_PERM_RECV);
	CHECK(write(sv[H][0], "g", 1) == 1);
	/* H opens the victims by name while we still hold them; then they
	 * are the children's (and H's) alone. */
	CHECK(coclose(byst) == 0);

	for (int i = VS0; i <= VS1; i++)
		CHECK(t_wait(pids[i]) == 0);
	CHECK(t_wait(pids[BS]) == 0);
	CHECK(t_wait(pids[BR]) == 0);
	/* The senders are done: H goes, and with it the last sender. */
	CHECK(st->sweeps > 0 && st->cons_pages >= 2 && st->bell_pages >= 2);
	CHECK(kill(pids[H], SIGKILL) == 0);
	CHECK(t_wait(pids[H]) == 128 + SIGKILL);
	CHECK(coclose(chan) == 0);
	CHECK(coclose(carr) == 0);
	for (int i = VR0; i <= VR1; i++)
		CHECK(t_wait(pids[i]) == 0);

	for (int s = 0; s < 2; s++) {
		for (int q = 0; q < CARR_N; q++) {
			carr_total += st->carr_got[s][q];
			dups += st->carr_got[s][q] > 1;
		}
		for (int q = 0; q < CHAN_N; q++) {
			chan_total += st->chan_got[s][q];
			dups += st->chan_got[s][q] > 1;
		}
		sent += st->chan_sent[s];
		/* A scribbled consumer page: EPROTO, nothing else. */
		if (st->chan_err[s] != 0)
			CHECK(st->chan_err[s] == EPROTO);
	}
	fprintf(stderr, "%.1f s; H made %llu passes over %u consumer and %u bell "
	    "pages.  COCARRIER: %u of %u received.  COCHANNEL: senders sent %u "
	    "(%s, %s), receivers got %u (%u + %u); bad %u, duplicated %u\n",
	    (double)(t_now_ns() - t0) / 1e9, (unsigned long long)st->sweeps,
	    st->cons_pages, st->bell_pages, carr_total, 2 * CARR_N, sent,
	    st->chan_err[0] ? strerror(st->chan_err[0]) : "all",
	    st->chan_err[1] ? strerror(st->chan_err[1]) : "all", chan_total,
	    st->chan_received[0], st->chan_received[1], st->bad, dups);
	CHECK(st->bad == 0);
	CHECK(dups == 0);
	CHECK(carr_total <= 2 * CARR_N && carr_total + 2 >= 2 * CARR_N);
	CHECK(chan_total <= sent);
	return T_PASS;
}
