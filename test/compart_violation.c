/* A compartment touching another's memory outside any window faults (mprotect, mpk): reported naming both, and its call fails, not the host. */
#include "compart_util.h"

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_a", "alpha"), *b = cmp_load("cmp_a", "beta");
	compart_t *c = cmp_load("cmp_b", "gamma");
	struct compart_violation v;
	long *secret, (*peek_b)(const long *), (*poke_b)(long *, long);
	long (*peek_a)(const long *), (*count_b)(void), (*peek_via)(const long *);
	void *(*get_secret)(void);

	(void)mode;
	CHECK((get_secret = COMPART_FN(a, void *(*)(void), "get_secret")) != NULL);
	CHECK((secret = get_secret()) != NULL);
	CHECK((peek_a = COMPART_FN(a, long (*)(const long *), "peek")) != NULL);
	CHECK((peek_b = COMPART_FN(b, long (*)(const long *), "peek")) != NULL);
	CHECK((poke_b = COMPART_FN(b, long (*)(long *, long), "poke")) != NULL);
	CHECK((count_b = COMPART_FN(b, long (*)(void), "count")) != NULL);

	/* its owner reads it */
	CHECK(peek_a(secret) == 0x5ec2e7);
	CHECK(compart_last_violation(&v) == -1 && errno == ENOENT);

	/* another compartment may not: a violation, EFAULT, named */
	errno = 0;
	CHECK(peek_b(secret) == -1);
	CHECK(errno == EFAULT);
	CHECK(compart_last_violation(&v) == 0);
	CHECK(strcmp(v.accessor, "beta") == 0);
	CHECK(strstr(v.owner, "alpha") != NULL);
	CHECK(v.addr == (void *)secret);
	CHECK(v.write == 0);
	if (mode == COMPART_MPK)
		CHECK(v.pkey > 0);
	compart_clear_violation();

	/* a write is caught the same way, and changes nothing */
	errno = 0;
	CHECK(poke_b(secret, 666) == -1 && errno == EFAULT);
	CHECK(compart_last_violation(&v) == 0 && v.write == 1);
	CHECK(strcmp(v.accessor, "beta") == 0);
	CHECK(peek_a(secret) == 0x5ec2e7);

	/* both compartments, and the host, carry on */
	CHECK(count_b() == 1);
	CHECK(secret[0] == 0x5ec2e7);	/* the host sees everything */

	/* the host's window memory is reachable only when open */
	{
		compart_window_t *w = compart_window_create(NULL);
		long *hp;

		CHECK(w != NULL && (hp = compart_window_alloc(w, 100)) != NULL);
		hp[0] = 77;
		errno = 0;
		CHECK(peek_b(hp) == -1 && errno == EFAULT);
		CHECK(compart_last_violation(&v) == 0);
		CHECK(strstr(v.owner, "window") != NULL);
		CHECK(compart_window_open(w, b) == 0);
		CHECK(peek_b(hp) == 77);
		CHECK(compart_window_destroy(w) == 0);
	}

	/* across a call chain gamma -> alpha: alpha's peek of beta's heap
	 * fails in alpha, and gamma gets the error */
	CHECK(compart_import(c, "peek", a, "peek") == 0);
	CHECK((peek_via = COMPART_FN(c, long (*)(const long *), "peek_via")) != NULL);
	CHECK(peek_via(secret) == 0x5ec2e7);
	{
		void *(*alloc_b)(long) = COMPART_FN(b, void *(*)(long), "heap_alloc");
		long *bp;

		CHECK(alloc_b != NULL && (bp = alloc_b(64)) != NULL);
		compart_clear_violation();
		CHECK(peek_via(bp) == -1);
		CHECK(compart_last_violation(&v) == 0);
		CHECK(strcmp(v.accessor, "alpha") == 0);
		CHECK(strstr(v.owner, "beta") != NULL);
		/* the chain's state came back: it works again, many times */
		for (int i = 0; i < 1000; i++)
			CHECK(peek_via(secret) == 0x5ec2e7);
		CHECK(peek_via(bp) == -1);
		CHECK(peek_via(secret) == 0x5ec2e7);
	}
	/* a fault inside a compartment's own allocator fails that call;
	 * the allocator's lock is not left held, so its next allocation
	 * works instead of spinning for ever (alarm: a hang fails fast) */
	{
		void *(*alloc_a)(long) = COMPART_FN(a, void *(*)(long), "heap_alloc");
		long (*heap_break)(void) = COMPART_FN(a, long (*)(void), "heap_break");

		CHECK(alloc_a != NULL && heap_break != NULL);
		alarm(60);
		CHECK(heap_break() == 0);
		CHECK(alloc_a(48) != NULL);
		compart_clear_violation();
		CHECK(alloc_a(48) == (void *)-1 && errno == EFAULT);
		CHECK(compart_last_violation(&v) == 0);
		CHECK(strcmp(v.accessor, "alpha") == 0);
		CHECK(alloc_a(64) != NULL);
		CHECK(alloc_a(1 << 20) != NULL);
		alarm(0);
	}
	CHECK(compart_unload(c) == 0);
	CHECK(compart_unload(b) == 0);
	CHECK(compart_unload(a) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_MPROTECT, COMPART_MPK, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
