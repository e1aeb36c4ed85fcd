/* COCARRIER queues are bounded in bytes: a sender may have at most the
 * port's queue_bytes waiting in it, all its openings of it together
 * (EMSGSIZE above, EAGAIN or a wait
 * until a receiver takes one), and at most COMSG_CARRIER_BYTES in all its
 * ports, closed handles included; other processes are not charged. */
#include <sys/mman.h>
#include "coport_test.h"

#define MIB		(1u << 20)
#define PORT_BYTES	(4 * MIB)

static char msg[MIB];

static coport_t
open_port(const char *name, size_t queue)
{
	struct coport_attr attr = { .queue_bytes = queue };
	coport_t p;

	CHECK(coopenv(name, COCARRIER, &attr, &p) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	return p;
}

/* Send 1 MiB messages until refused; how many went. */
static int
fill(coport_t p)
{
	int n = 0;

	while (cosend(p, msg, sizeof(msg)) == (ssize_t)sizeof(msg))
		n++;
	CHECK(errno == EAGAIN);
	return n;
}

static void
take(coport_t p, int n)
{
	for (int i = 0; i < n; i++) {
		void *m;

		CHECK(corecv(p, &m, 0) == (ssize_t)sizeof(msg));
		CHECK(coport_msg_free(p, m) == 0);
	}
}

/* Another process: its own allowance, whatever ours is. */
static int
other(void *arg)
{
	coport_t p;

	(void)arg;
	CHECK(coopen("c", COCARRIER, &p) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	CHECK(fill(p) == PORT_BYTES / MIB);
	return T_PASS;
}

/* Holds port a open, so that its messages outlive our handle; takes
 * them when told. */
static int
keeper(void *arg)
{
	int sock = *(int *)arg;
	coport_t p;

	CHECK(coopen("a", COCARRIER, &p) == 0);
	t_say(sock, 'k');
	t_hear(sock, 't');
	take(p, PORT_BYTES / MIB);
	t_say(sock, 'd');
	t_hear(sock, 'q');
	return T_PASS;
}

int
main(void)
{
	coport_t a, b, c, big;
	int sv[2], n;
	void *huge;
	pid_t pid, taker;
	int64_t t0;

	/* Twice a port's bound for this process, in all its ports. */
	setenv("COMSG_CARRIER_BYTES", "8M", 1);
	/* One port: 4 MiB may wait, and no message above that. */
	a = open_port("a", PORT_BYTES);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_spawn(keeper, &sv[1]);
	t_hear(sv[0], 'k');
	n = fill(a);
	printf("port of %u MiB: %d messages of 1 MiB queued, then EAGAIN\n",
	    PORT_BYTES / MIB, n);
	CHECK(n == PORT_BYTES / MIB);
	/* The bound is the port's: another opening of it by us has no room
	 * of its own. */
	{
		coport_t a2 = open_port("a", PORT_BYTES);

		CHECK_ERR(cosend(a2, msg, sizeof(msg)), EAGAIN);
		CHECK(coclose(a2) == 0);
	}
	big = open_port("big", 64 * MIB);
	CHECK((huge = mmap(NULL, 64 * MIB + 1, PROT_READ, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0)) != MAP_FAILED);
	CHECK_ERR(cosend(a, huge, PORT_BYTES + 1), EMSGSIZE);
	/* ... nor above the process's bound, whatever the port's. */
	CHECK_ERR(cosend(big, huge, 8 * MIB + 1), EMSGSIZE);
	/* The default bound of a port is COCARRIER_QUEUE. */
	{
		coport_t d;

		CHECK(coopen("default", COCARRIER, &d) == 0);
		CHECK_ERR(cosend(d, huge, COCARRIER_QUEUE + 1), EMSGSIZE);
		CHECK(coclose(d) == 0);
	}
	CHECK(munmap(huge, 64 * MIB + 1) == 0);

	/* A second port takes the process to its bound: a third refuses. */
	b = open_port("b", PORT_BYTES);
	CHECK(fill(b) == PORT_BYTES / MIB);
	c = open_port("c", PORT_BYTES);
	CHECK_ERR(cosend(c, msg, sizeof(msg)), EAGAIN);
	/* Another process is not charged for ours. */
	CHECK(t_wait(t_spawn(other, NULL)) == T_PASS);
	take(c, PORT_BYTES / MIB);

	/* Once b is taken, there is room again, there or anywhere (what a
	 * port's receivers took counts as soon as they took all of ours:
	 * SIOCOUTQ of our socket is 0). */
	take(b, PORT_BYTES / MIB);
	CHECK(cosend(c, msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	CHECK(fill(b) == PORT_BYTES / MIB - 1);

	/* Closing a does not free what waits in it (the keeper holds it);
	 * the keeper's taking it does. */
	CHECK(coclose(a) == 0);
	CHECK_ERR(cosend(c, msg, sizeof(msg)), EAGAIN);
	t_say(sv[0], 't');
	t_hear(sv[0], 'd');
	CHECK(cosend(c, msg, sizeof(msg)) == (ssize_t)sizeof(msg));

	/* A blocking sender waits for room, and goes on as soon as a
	 * receiver has taken what it waits for: c at its bound. */
	CHECK(fill(c) == PORT_BYTES / MIB - 2);
	CHECK(coport_setflags(c, 0) == 0);
	if ((taker = t_fork()) == 0) {
		coport_t r;
		void *m;

		/* Take c's after a while, from another process. */
		CHECK(coopen("c", COCARRIER, &r) == 0);
		poll(NULL, 0, 200);
		for (int i = 0; i < (int)(PORT_BYTES / MIB); i++)
			CHECK(corecv(r, &m, 0) == (ssize_t)sizeof(msg));
		_exit(T_PASS);
	}
	t0 = t_now_ns();
	CHECK(cosend(c, msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	printf("blocked sender: went on %lld ms later (taken after 200)\n",
	    (long long)((t_now_ns() - t0) / 1000000));
	CHECK(t_now_ns() - t0 >= 150 * 1000000LL);
	CHECK(t_now_ns() - t0 < 2000 * 1000000LL);
	CHECK(t_wait(taker) == T_PASS);

	t_say(sv[0], 'q');
	CHECK(t_wait(pid) == T_PASS);
	CHECK(coclose(b) == 0);
	CHECK(coclose(c) == 0);
	CHECK(coclose(big) == 0);
	return T_PASS;
}
