/* Each kind, 4 sender x 4 receiver processes, 100,000 messages (COPIPE 40,000): each received exactly once, each sender's in order. */
#include "coport_test.h"

#define SENDERS		4
#define RECEIVERS	4
#define TOTAL		100000
#define PER_SENDER	(TOTAL / SENDERS)
/*
 * COPIPE gets fewer: each message is a rendezvous with a fresh memfd area
 * (memfd_create, ftruncate, mmap on both sides, a datagram with a
 * descriptor, munmap), about 0.3 ms a message with 8 processes on a
 * 2-core VM, so 100,000 take some 30 s.  40,000 (10,000 per sender) keep
 * it near 12 s and exercise the same paths.
 */
#define COPIPE_TOTAL	40000
#define MAXLEN		64

/* Message: sender, sequence number, then bytes that depend on both. */
struct msg {
	uint32_t	sender;
	uint32_t	seq;
	uint8_t		fill[MAXLEN - 8];
};

static size_t
msg_len(uint32_t seq)
{
	return 8 + seq % (MAXLEN - 8 + 1);	/* 8 to 64 bytes: records wrap */
}

static uint8_t
fill_byte(uint32_t sender, uint32_t seq, size_t i)
{
	return (uint8_t)(sender * 31 + seq * 7 + i);
}

/* Shared with the children (MAP_SHARED before fork): how often each
 * message arrived, and how many each receiver got. */
struct tally {
	uint8_t		got[SENDERS][PER_SENDER];
	uint32_t	per_receiver[RECEIVERS];
};
static struct tally *tally;
static coport_type_t kind;
static uint32_t per_sender;	/* this kind's messages per sender */
static int sock[SENDERS + RECEIVERS][2];

static int
sender(void *arg)
{
	uint32_t id = (uint32_t)(intptr_t)arg;
	coport_t p = t_recv_port(sock[id][1]);
	struct msg m = { .sender = id };

	CHECK(coport_getperm(p) == COPORT_PERM_SEND);
	for (uint32_t seq = 0; seq < per_sender; seq++) {
		size_t len = msg_len(seq);

		m.seq = seq;
		for (size_t i = 8; i < len; i++)
			m.fill[i - 8] = fill_byte(id, seq, i);
		if (cosend(p, &m, len) != (ssize_t)len) {
			fprintf(stderr, "sender %u: cosend #%u: %s\n", id, seq,
			    strerror(errno));
			return T_FAIL;
		}
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static int
receiver(void *arg)
{
	int id = (int)(intptr_t)arg;
	coport_t p = t_recv_port(sock[SENDERS + id][1]);
	int64_t next[SENDERS] = { 0 };	/* lowest seq still possible */
	struct msg room;
	ssize_t n;

	CHECK(coport_getperm(p) == COPORT_PERM_RECV);
	for (;;) {
		void *buf = &room;
		const struct msg *m;

		n = corecv(p, &buf, sizeof(room));
		if (n < 0)
			break;
		m = buf;
		if (n < 8 || m->sender >= SENDERS || m->seq >= per_sender ||
		    (size_t)n != msg_len(m->seq)) {
			fprintf(stderr, "receiver %d: bad message (%zd bytes)\n",
			    id, n);
			return T_FAIL;
		}
		for (size_t i = 8; i < (size_t)n; i++)
			if (m->fill[i - 8] != fill_byte(m->sender, m->seq, i)) {
				fprintf(stderr, "receiver %d: message %u/%u "
				    "corrupt at byte %zu\n", id, m->sender,
				    m->seq, i);
				return T_FAIL;
			}
		/* One sender's messages reach each receiver in order. */
		if ((int64_t)m->seq < next[m->sender]) {
			fprintf(stderr, "receiver %d: sender %u's #%u after "
			    "#%lld\n", id, m->sender, m->seq,
			    (long long)next[m->sender] - 1);
			return T_FAIL;
		}
		next[m->sender] = (int64_t)m->seq + 1;
		__atomic_add_fetch(&tally->got[m->sender][m->seq], 1,
		    __ATOMIC_RELAXED);
		tally->per_receiver[id]++;
		if (kind == COCARRIER)
			CHECK(coport_msg_free(p, buf) == 0);
	}
	/* The end: every sender has closed and nothing is left. */
	if (errno != EPIPE) {
		fprintf(stderr, "receiver %d: corecv: %s\n", id, strerror(errno));
		return T_FAIL;
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
run(coport_type_t type)
{
	pid_t pids[SENDERS + RECEIVERS];
	char name[32];
	coport_t p;
	int64_t t0 = t_now_ns();
	long missing = 0, dups = 0;

	kind = type;
	per_sender = (type == COPIPE ? COPIPE_TOTAL : TOTAL) / SENDERS;
	memset(tally, 0, sizeof(*tally));
	for (int i = 0; i < SENDERS + RECEIVERS; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock[i]) == 0);
		pids[i] = i < SENDERS ? t_spawn(sender, (void *)(intptr_t)i) :
		    t_spawn(receiver, (void *)(intptr_t)(i - SENDERS));
	}
	/* Senders hold only the send right, receivers only the receive
	 * right: when the senders are done, the receivers see EPIPE. */
	snprintf(name, sizeof(name), "anycast-%d", type);
	CHECK(coopen(name, type, &p) == 0);
	for (int i = 0; i < SENDERS + RECEIVERS; i++)
		t_send_port(sock[i][0], p, i < SENDERS ? COPORT_PERM_SEND :
		    COPORT_PERM_RECV);
	/* Our own hold would count as a sender (and a receiver) forever. */
	CHECK(coclose(p) == 0);
	for (int i = 0; i < SENDERS + RECEIVERS; i++) {
		int st = t_wait(pids[i]);

		if (st != 0)
			fprintf(stderr, "%s: %s %d exited %d\n", t_kind(type),
			    i < SENDERS ? "sender" : "receiver",
			    i < SENDERS ? i : i - SENDERS, st);
		CHECK(st == 0);
		close(sock[i][0]);
		close(sock[i][1]);
	}
	for (int s = 0; s < SENDERS; s++)
		for (uint32_t q = 0; q < per_sender; q++) {
			missing += tally->got[s][q] == 0;
			dups += tally->got[s][q] > 1;
		}
	fprintf(stderr, "%-9s %u messages in %.2f s; per receiver %u %u %u %u; "
	    "missing %ld, duplicated %ld\n", t_kind(type), per_sender * SENDERS,
	    (double)(t_now_ns() - t0) / 1e9, tally->per_receiver[0],
	    tally->per_receiver[1], tally->per_receiver[2],
	    tally->per_receiver[3], missing, dups);
	CHECK(missing == 0);
	CHECK(dups == 0);
}

int
main(void)
{
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(tally != MAP_FAILED);
	run(COCHANNEL);
	run(COCARRIER);
	run(COPIPE);
	return T_PASS;
}
