/* comsgd killed mid-stream: two send-only and two receive-only processes on a port of each kind go on, every message arrives once, and when the senders close the receivers get EPIPE soon after. */
#include "coport_test.h"

#define NSEND		2
#define NRECV		2
#define NMAX		20000	/* messages per sender, at most */
#define LIMIT_MS	2000	/* the design says 100 ms; generous here */

struct msg {
	uint32_t	 sender;
	uint32_t	 seq;
};

struct board {
	uint8_t		 got[NSEND][NMAX];	/* times each message came */
	int64_t		 closed_ns[NSEND];	/* a sender's coclose() began */
	int64_t		 end_ns[NRECV];		/* a receiver's corecv() failed */
	int		 err[NRECV];
	uint32_t	 count[NRECV];
};

static struct board *b;
static coport_type_t kind;
static char name[32];
static uint32_t nmsg;		/* per sender */
static int ssock[NSEND][2], rsock[NRECV][2];

/* The port with only the right in keep, held as such by comsgd too. */
static coport_t
open_only(int keep)
{
	coport_t all, p;

	CHECK(coopen(name, kind, &all) == 0);
	p = t_narrow(all, keep);
	CHECK(coclose(all) == 0);
	return p;
}

static int
sender(void *arg)
{
	int i = (int)(intptr_t)arg, sock = ssock[i][1];
	coport_t p = open_only(COPORT_PERM_SEND);
	struct msg m = { (uint32_t)i, 0 };

	/* A COCHANNEL sender's ring is made (by comsgd) on its first send:
	 * before the receivers open the port, so that they learn of it
	 * then (comsgd must live to tell them). */
	if (kind == COCHANNEL) {
		CHECK(cosend(p, &m, sizeof(m)) == sizeof(m));
		m.seq++;
	}
	t_say(sock, 'r');
	t_hear(sock, 'g');
	for (; m.seq < nmsg; m.seq++) {
		if (m.seq == nmsg / 2) {
			t_say(sock, 'h');	/* half way */
			t_hear(sock, 'k');	/* comsgd is dead */
		}
		CHECK(cosend(p, &m, sizeof(m)) == sizeof(m));
	}
	b->closed_ns[i] = t_now_ns();
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static int
receiver(void *arg)
{
	int j = (int)(intptr_t)arg;
	coport_t p = open_only(COPORT_PERM_RECV);
	struct msg m;

	t_say(rsock[j][1], 'r');
	for (;;) {
		void *buf = &m;
		ssize_t n = corecv(p, &buf, sizeof(m));

		if (n < 0)
			break;
		CHECK(n == sizeof(m));
		if (buf != &m) {
			memcpy(&m, buf, sizeof(m));
			CHECK(coport_msg_free(p, buf) == 0);
		}
		CHECK(m.sender < NSEND && m.seq < nmsg);
		__atomic_add_fetch(&b->got[m.sender][m.seq], 1, __ATOMIC_RELAXED);
		b->count[j]++;
	}
	b->err[j] = errno;
	b->end_ns[j] = t_now_ns();
	return T_PASS;
}

static void
run(coport_type_t k, uint32_t n)
{
	pid_t s[NSEND], r[NRECV], d;
	int64_t last_close = 0;
	coport_t keep;

	kind = k;
	nmsg = n;
	snprintf(name, sizeof(name), "killed-%d", (int)k);
	memset(b, 0, sizeof(*b));
	/* A receiver holds the port until the real ones are there: else
	 * the first senders would find every receiver gone (EPIPE). */
	keep = open_only(COPORT_PERM_RECV);
	for (int i = 0; i < NSEND; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    ssock[i]) == 0);
		s[i] = t_spawn(sender, (void *)(intptr_t)i);
		close(ssock[i][1]);	/* a child's death shows as EOF */
		t_hear(ssock[i][0], 'r');
	}
	for (int j = 0; j < NRECV; j++) {
		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    rsock[j]) == 0);
		r[j] = t_spawn(receiver, (void *)(intptr_t)j);
		close(rsock[j][1]);
		t_hear(rsock[j][0], 'r');
	}
	CHECK(coclose(keep) == 0);
	for (int i = 0; i < NSEND; i++)
		t_say(ssock[i][0], 'g');
	for (int i = 0; i < NSEND; i++)
		t_hear(ssock[i][0], 'h');
	CHECK((d = t_comsgd_pid()) > 0 && kill(d, SIGKILL) == 0);
	t_wait_gone(d, 5000);
	for (int i = 0; i < NSEND; i++)
		t_say(ssock[i][0], 'k');
	for (int i = 0; i < NSEND; i++) {
		CHECK(t_wait(s[i]) == T_PASS);
		if (b->closed_ns[i] > last_close)
			last_close = b->closed_ns[i];
	}
	/* The receivers must end on their own. */
	for (int j = 0; j < NRECV; j++) {
		t_wait_gone(r[j], 10000);
		CHECK(t_wait(r[j]) == T_PASS);
	}
	for (int i = 0; i < NSEND; i++)
		for (uint32_t q = 0; q < n; q++)
			if (b->got[i][q] != 1) {
				fprintf(stderr, "%s: message %d.%u came %u times\n",
				    t_kind(k), i, q, b->got[i][q]);
				CHECK(b->got[i][q] == 1);
			}
	for (int j = 0; j < NRECV; j++) {
		fprintf(stderr, "%s: receiver %d took %u of %u, then %s %.1f ms "
		    "after the last sender's close\n", t_kind(k), j,
		    b->count[j], NSEND * n, strerror(b->err[j]),
		    (double)(b->end_ns[j] - last_close) / 1e6);
		CHECK(b->err[j] == EPIPE);
		CHECK(b->end_ns[j] - last_close < LIMIT_MS * 1000000LL);
	}
	for (int i = 0; i < NSEND; i++)
		close(ssock[i][0]);
	for (int j = 0; j < NRECV; j++)
		close(rsock[j][0]);
}

int
main(void)
{
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(b != MAP_FAILED);
	run(COCHANNEL, NMAX);
	run(COCARRIER, 2000);
	run(COPIPE, 2000);
	return T_PASS;
}
