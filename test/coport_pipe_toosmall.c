/* COPIPE: a message too long for one receiver says so (EMSGSIZE) only while its cosend() lasts: once another receiver took it, or its sender died, the small receiver is not told of it again and gets the sender's next message; a message already in the receiver's area that its call cannot take stays there for its next call, whatever its stopped sender sees, and is received once. */
#include "coport_test.h"
#include "../src/lib/coport_shm.h"

#define SMALL	16
#define LONG	1000

static int to_s[2], to_b[2];

static void
fill(char *m, size_t len, char c)
{
	memset(m, c, len);
}

static bool
is(const char *m, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (m[i] != c)
			return false;
	return true;
}

/* The sender: a short message, the long one, a short one. */
static int
sender(void *arg)
{
	const char *name = arg;
	char m[LONG];
	coport_t p;

	CHECK(coopen(name, COPIPE, &p) == 0);
	fill(m, 10, 'a');
	CHECK(cosend(p, m, 10) == 10);
	t_say(to_s[1], 'a');
	t_hear(to_s[1], 'L');
	fill(m, LONG, 'L');
	CHECK(cosend(p, m, LONG) == LONG);
	t_say(to_s[1], 'b');
	t_hear(to_s[1], 'm');
	fill(m, 10, 'm');
	CHECK(cosend(p, m, 10) == 10);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* A receiver whose calls take the long message. */
static int
big_receiver(void *arg)
{
	const char *name = arg;
	char m[4096];
	void *b = m;
	coport_t p;

	CHECK(coopen(name, COPIPE, &p) == 0);
	t_hear(to_b[1], 'g');
	CHECK(corecv(p, &b, sizeof(m)) == LONG);
	CHECK(b == m && is(m, LONG, 'L'));
	t_say(to_b[1], 'l');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* A sender whose second message lands in an area its receiver's next
 * call is too small for. */
static int
medium_sender(void *arg)
{
	char m[LONG];
	coport_t p;

	CHECK(coopen(arg, COPIPE, &p) == 0);
	fill(m, 10, 'a');
	CHECK(cosend(p, m, 10) == 10);
	t_say(to_s[1], 'a');
	fill(m, 100, 'M');
	CHECK(cosend(p, m, 100) == 100);
	t_say(to_s[1], 'd');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* A sender that dies while its long message is marked TOOSMALL. */
static int
dying_sender(void *arg)
{
	char m[LONG];
	coport_t p;

	CHECK(coopen(arg, COPIPE, &p) == 0);
	fill(m, 10, 'a');
	CHECK(cosend(p, m, 10) == 10);
	fill(m, LONG, 'L');
	(void)cosend(p, m, LONG);	/* killed in it */
	return T_FAIL;
}

int
main(void)
{
	char m[SMALL];
	void *b = m;
	coport_t p;
	pid_t s, big;
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_s) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_b) == 0);
	CHECK(coopen("toosmall", COPIPE, &p) == 0);
	s = t_spawn(sender, "toosmall");
	big = t_spawn(big_receiver, "toosmall");

	/* The first message makes our pair with the sender. */
	CHECK(corecv(p, &b, SMALL) == 10 && is(m, 10, 'a'));
	t_hear(to_s[0], 'a');
	/* The long one does not fit our area: the sender marks it. */
	t_say(to_s[0], 'L');
	CHECK_ERR(corecv(p, &b, SMALL), EMSGSIZE);
	/* The big receiver takes it; the sender's cosend() returns. */
	t_say(to_b[0], 'g');
	t_hear(to_b[0], 'l');
	t_hear(to_s[0], 'b');
	/* Nothing is sent now: nothing too long either. */
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	n = corecv(p, &b, SMALL);
	if (n >= 0 || errno != EAGAIN) {
		fprintf(stderr, "after the long message was taken: %s\n",
		    n >= 0 ? "a message" : strerror(errno));
		t_fail();
	}
	/* The sender's next message fits our calls, and comes to us. */
	CHECK(coport_setflags(p, 0) == 0);
	t_say(to_s[0], 'm');
	CHECK(corecv(p, &b, SMALL) == 10 && is(m, 10, 'm'));
	CHECK(t_wait(s) == T_PASS);
	CHECK(t_wait(big) == T_PASS);
	CHECK(coclose(p) == 0);

	/* A sender that dies with its mark on our pair: no EMSGSIZE for
	 * it ever after. */
	CHECK(coopen("toosmall-dead", COPIPE, &p) == 0);
	s = t_spawn(dying_sender, "toosmall-dead");
	CHECK(corecv(p, &b, SMALL) == 10 && is(m, 10, 'a'));
	CHECK_ERR(corecv(p, &b, SMALL), EMSGSIZE);
	CHECK(kill(s, SIGKILL) == 0);
	CHECK(t_wait(s) == 128 + SIGKILL);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	n = corecv(p, &b, SMALL);
	if (n >= 0 || errno != EAGAIN) {
		fprintf(stderr, "after the sender died: %s\n",
		    n >= 0 ? "a message" : strerror(errno));
		t_fail();
	}
	CHECK(coclose(p) == 0);

	/* Our area is large (our last call was), the sender's message is
	 * in it, and the sender is stopped: our small call marks it
	 * (EMSGSIZE) and our next, large one takes it, there and then,
	 * whatever the sender sees when it runs again. */
	CHECK(coopen("toosmall-mark", COPIPE, &p) == 0);
	s = t_spawn(medium_sender, "toosmall-mark");
	{
		char room[4096];
		void *bb = room;
		pollcoport_t pc = make_pollcoport(p, COPOLL_IN);
		int st;

		struct t_map maps[16];
		const struct pipe_pair *pg = NULL;
		int64_t t0;
		int nmaps;

		CHECK(corecv(p, &bb, sizeof(room)) == 10 && is(room, 10, 'a'));
		t_hear(to_s[0], 'a');
		/* Our pair with that sender: wait (copoll, then its status
		 * word) until its second message is filled into it. */
		nmaps = t_maps("memfd:copipe-pair", maps, 16);
		for (int i = 0; i < nmaps && i < 16; i++)
			if (((const struct pipe_pair *)maps[i].start)->tx_pid ==
			    (uint32_t)s)
				pg = (const struct pipe_pair *)maps[i].start;
		CHECK(pg != NULL);
		t0 = t_now_ns();
		while (PAIR_STATE(__atomic_load_n(&pg->status, __ATOMIC_ACQUIRE)) !=
		    PAIR_FILLED) {
			CHECK(t_now_ns() - t0 < 10000000000LL);
			(void)copoll(&pc, 1, 10);
		}
		CHECK(kill(s, SIGSTOP) == 0);
		CHECK(waitpid(s, &st, WUNTRACED) == s && WIFSTOPPED(st));
		CHECK_ERR(corecv(p, &b, SMALL), EMSGSIZE);
		CHECK_ERR(corecv(p, &b, SMALL), EMSGSIZE);
		CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
		CHECK(corecv(p, &bb, sizeof(room)) == 100 && is(room, 100, 'M'));
		CHECK(kill(s, SIGCONT) == 0);
		t_hear(to_s[0], 'd');
		CHECK(t_wait(s) == T_PASS);
		/* received once (we hold the send right too: EAGAIN) */
		CHECK_ERR(corecv(p, &bb, sizeof(room)), EAGAIN);
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}
