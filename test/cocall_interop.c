/* The fast and the slow path are one protocol: a fast caller reaches a
 * slow acceptor, a slow caller a fast acceptor, in any alternation. */
#include "harness.h"

#define CALLS	200

static void *target;

static int
caller(void *arg)
{
	uint32_t i, rep;

	(void)arg;
	for (i = 0; i < 4 * CALLS; i++) {
		/* fast, fast, slow, slow, ... against an acceptor that switches
		 * every CALLS calls: all four pairings happen. */
		ssize_t n = ((i / 2) % 2 ? cocall_slow : cocall)(target, &i,
		    sizeof(i), &rep, sizeof(rep));

		CHECK(n == sizeof(rep) && rep == i * 3);
	}
	return T_PASS;
}

int
main(void)
{
	uint32_t req, rep = 0;
	size_t replen = 0;
	pid_t kid;

	CHECK(coregister(NULL, &target) == 0);
	kid = t_spawn(caller, NULL);
	for (uint32_t i = 0; i < 4 * CALLS; i++) {
		ssize_t n = ((i / CALLS) % 2 ? coaccept_slow : coaccept)(NULL,
		    &rep, replen, &req, sizeof(req));

		CHECK(n == sizeof(req) && req == i);
		rep = req * 3;
		replen = sizeof(rep);
	}
	{
		struct comsg m = { .out = &rep, .outlen = replen, .in = &req,
		    .inlen = sizeof(req) };

		CHECK_ERR(coacceptv(NULL, NULL, &m, COCALL_SLOW, 0), ETIMEDOUT);
	}
	CHECK(t_wait(kid) == T_PASS);
	return T_PASS;
}
