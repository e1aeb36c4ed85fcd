/* One process cannot pile up rings at comsgd by closing and reopening: its rings, drained or not, count against its bound while they exist, whether it holds anything then or not; past the bound it alone gets EMFILE, and another process still opens a port; and a sender whose rings were all drained is never refused. */
#include "coport_test.h"

#define HOLDS	2		/* COMSGD_HOLDS: 4 rings a hold, 8 rings */
#define ROUNDS	200		/* far past the bound */

static struct coport_attr attr = { .ring_size = 256 };

/* Holds the port and never receives: every ring stays undrained. */
static int
receiver(void *arg)
{
	int sock = *(int *)arg;
	coport_t rx;

	CHECK(coopenv("victim", COCHANNEL, &attr, &rx) == 0);
	t_say(sock, 'r');
	t_hear(sock, 'q');
	CHECK(coclose(rx) == 0);
	return T_PASS;
}

/* Holds two ports of its own and takes one message on each. */
static int
taker(void *arg)
{
	int sock = ((int *)arg)[0], first = ((int *)arg)[1];
	char name[32], buf[16];
	void *b = buf;
	coport_t p[2];

	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "honest.%d", first + i);
		CHECK(coopenv(name, COCHANNEL, &attr, &p[i]) == 0);
	}
	t_say(sock, 'r');
	for (int i = 0; i < 2; i++) {
		CHECK(corecv(p[i], &b, sizeof(buf)) == 5);
		t_say(sock, 'g');
	}
	t_hear(sock, 'q');
	return T_PASS;
}

static int
innocent(void *arg)
{
	coport_t p;

	(void)arg;
	CHECK(coopen("innocent", COCHANNEL, &p) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

int
main(void)
{
	coport_t p, s;
	void *token;
	pid_t rx;
	int sv[2], i;

	/* the comsgd the first coopen starts inherits it */
	setenv("COMSGD_HOLDS", "2", 1);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	rx = t_spawn(receiver, &sv[1]);
	t_hear(sv[0], 'r');
	/* a send-only token; then we hold nothing */
	CHECK(coopenv("victim", COCHANNEL, &attr, &p) == 0);
	CHECK((s = coport_clearperm(p, COPORT_PERM_RECV)) != NULL);
	CHECK(coport_tocap(s, &token) == 0);
	CHECK(coclose(s) == 0 && coclose(p) == 0);
	/* each round: attach, leave a ring behind, let go of everything */
	for (i = 0; i < ROUNDS; i++) {
		if (coport_fromcap(token, &p) < 0) {
			CHECK(errno == EMFILE);
			break;
		}
		if (cosend(p, "hello", 5) < 0) {
			CHECK(errno == EMFILE);
			CHECK(coclose(p) == 0);
			break;
		}
		CHECK(coclose(p) == 0);
	}
	printf("refused (EMFILE) at round %d\n", i);
	CHECK(i <= 4 * HOLDS);
	CHECK(t_wait(t_spawn(innocent, NULL)) == T_PASS);
	t_say(sv[0], 'q');
	CHECK(t_wait(rx) == T_PASS);
	capfree(token);

	/* An honest sender: one message to each of twice its bound's worth
	 * of ports (held by others, two each), each taken before the next:
	 * its rings are drained, and count no more. */
	{
		int nports = 2 * 4 * HOLDS, args[8 * HOLDS][2], ts[2];
		pid_t takers[8 * HOLDS];
		char name[32];

		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    ts) == 0);
		for (i = 0; i < nports / 2; i++) {
			args[i][0] = ts[1];
			args[i][1] = 2 * i;
			takers[i] = t_spawn(taker, args[i]);
			t_hear(ts[0], 'r');
		}
		for (i = 0; i < nports; i++) {
			snprintf(name, sizeof(name), "honest.%d", i);
			CHECK(coopenv(name, COCHANNEL, &attr, &p) == 0);
			if (cosend(p, "hello", 5) != 5) {
				fprintf(stderr, "port %d of %d: ", i, nports);
				CHECK(!"an honest send was refused");
			}
			CHECK(coclose(p) == 0);
			t_hear(ts[0], 'g');
		}
		for (i = 0; i < nports / 2; i++)
			t_say(ts[0], 'q');
		for (i = 0; i < nports / 2; i++)
			CHECK(t_wait(takers[i]) == T_PASS);
	}
	return T_PASS;
}
