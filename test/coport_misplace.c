/* A hostile COCHANNEL receiver that moves the consumer position into the bytes of a message cannot make an honest receiver take part of that message for a message of its own: a record's header is bound to its place in the ring, and a message whose bytes look like a header (for any other place) is not one. */
#include "coport_test.h"

/* A message whose payload looks like a record header: ~len, as headers
 * were before they were bound to their place. */
struct lure {
	uint32_t	len, check;
	char		data[8];
};

static int
hostile(void *arg)
{
	int sock = *(int *)arg;
	struct t_map m[4];
	char buf[64];
	void *b = buf;
	coport_t h;
	int n;

	CHECK(coopen("misplace", COCHANNEL, &h) == 0);
	CHECK(coport_setflags(h, COPORT_NONBLOCK) == 0);
	/* learns the rings: maps the consumer pages, as receivers do */
	CHECK(corecv(h, &b, sizeof(buf)) < 0 && errno == EAGAIN);
	t_say(sock, 'm');
	t_hear(sock, 'g');
	n = t_maps("cochannel-cons", m, 4);
	CHECK(n == 1 && strcmp(m[0].perms, "rw-s") == 0);
	/* into the lure's payload */
	__atomic_add_fetch((uint64_t *)m[0].start, 8, __ATOMIC_SEQ_CST);
	t_say(sock, 'd');
	t_hear(sock, 'q');
	return T_PASS;
}

int
main(void)
{
	struct lure lure = { 8, ~8u, "FORGED!" };
	char buf[64];
	void *b = buf;
	coport_t p;
	ssize_t n;
	pid_t pid;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(coopen("misplace", COCHANNEL, &p) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	/* our ring exists, at position 8 after this one */
	CHECK(cosend(p, "", 0) == 0);
	CHECK(corecv(p, &b, sizeof(buf)) == 0);
	pid = t_spawn(hostile, &sv[1]);
	t_hear(sv[0], 'm');
	CHECK(cosend(p, &lure, sizeof(lure)) == (ssize_t)sizeof(lure));
	t_say(sv[0], 'g');
	t_hear(sv[0], 'd');
	n = corecv(p, &b, sizeof(buf));
	if (n == 8 && memcmp(buf, "FORGED!", 8) == 0) {
		fprintf(stderr, "a message never sent was received\n");
		t_fail();
	}
	printf("corecv %zd (%s)\n", n,
	    n < 0 ? strerror(errno) : "a message that was sent");
	CHECK(n == -1 || n == (ssize_t)sizeof(lure));
	t_say(sv[0], 'q');
	CHECK(t_wait(pid) == T_PASS);
	CHECK(coclose(p) == 0);
	return T_PASS;
}
