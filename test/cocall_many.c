/* 8 caller processes against one target: every call answered exactly
 * once, with its own reply, on the fast and the slow path mixed. */
#include "harness.h"

#define CALLERS	8
#define CALLS	3000

struct req {
	uint32_t	who, seq;
	uint64_t	check;
};

static void *target;

static uint64_t
mix(uint32_t who, uint32_t seq)
{
	return ((uint64_t)who << 32 | seq) * 0x9e3779b97f4a7c15ull;
}

static int
caller(void *arg)
{
	uint32_t who = (uint32_t)(uintptr_t)arg;
	struct req r, rep;

	for (uint32_t seq = 0; seq < CALLS; seq++) {
		r = (struct req){ who, seq, mix(who, seq) };
		/* Every third call takes the kernel path. */
		ssize_t n = (seq % 3 == 2 ? cocall_slow : cocall)(target, &r,
		    sizeof(r), &rep, sizeof(rep));

		CHECK(n == sizeof(rep));
		CHECK(rep.who == who && rep.seq == seq && rep.check == ~r.check);
	}
	return T_PASS;
}

int
main(void)
{
	static uint8_t seen[CALLERS][CALLS];
	uint32_t next[CALLERS] = { 0 };
	struct req r, rep;
	pid_t kids[CALLERS];
	size_t replen = 0;

	CHECK(coregister(NULL, &target) == 0);
	for (int i = 0; i < CALLERS; i++)
		kids[i] = t_spawn(caller, (void *)(uintptr_t)i);
	for (int i = 0; i < CALLERS * CALLS; i++) {
		CHECK(coaccept(NULL, &rep, replen, &r, sizeof(r)) == sizeof(r));
		CHECK(r.who < CALLERS && r.seq < CALLS);
		CHECK(r.check == mix(r.who, r.seq));
		CHECK(seen[r.who][r.seq] == 0);		/* never twice */
		CHECK(r.seq == next[r.who]);		/* in order */
		seen[r.who][r.seq] = 1;
		next[r.who]++;
		rep = (struct req){ r.who, r.seq, ~r.check };
		replen = sizeof(rep);
	}
	{
		struct comsg m = { .out = &rep, .outlen = replen, .in = &r,
		    .inlen = sizeof(r) };

		CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 0), ETIMEDOUT);
	}
	for (int i = 0; i < CALLERS; i++) {
		CHECK(t_wait(kids[i]) == T_PASS);
		CHECK(next[i] == CALLS);		/* none lost */
	}
	return T_PASS;
}
