/* A hostile compartment (mprotect, mpk) reads and writes at random all over another compartment's heap, stack and data, and over a window not open to it: every attempt is a violation named after it, fails only its own call, and changes nothing; its victim, a bystander call chain and the host go on. */
#include "compart_util.h"

#define PER_REGION_MPROTECT	100
#define PER_REGION_MPK		1000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
scenario(int mode)
{
	compart_t *victim = cmp_load("cmp_a", "victim");
	compart_t *mallory = cmp_load("cmp_a", "mallory");
	long (*peek_m)(const long *), (*poke_m)(long *, long), (*count_v)(void);
	long (*peek_v)(const long *), *secret, *win;
	void *(*get_secret)(void);
	struct compart_violation v;
	compart_window_t *w;
	int r, i, n, attempts = 0;

	CHECK((get_secret = COMPART_FN(victim, void *(*)(void), "get_secret")) != NULL);
	CHECK((peek_v = COMPART_FN(victim, long (*)(const long *), "peek")) != NULL);
	CHECK((count_v = COMPART_FN(victim, long (*)(void), "count")) != NULL);
	CHECK((peek_m = COMPART_FN(mallory, long (*)(const long *), "peek")) != NULL);
	CHECK((poke_m = COMPART_FN(mallory, long (*)(long *, long), "poke")) != NULL);
	CHECK((secret = get_secret()) != NULL);
	CHECK(count_v() == 1);
	/* the victim's own window, open to nobody else */
	CHECK((w = compart_window_create(victim)) != NULL);
	CHECK((win = compart_window_alloc(w, 8192)) != NULL);
	win[0] = 0x11;

	n = mode == COMPART_MPK ? PER_REGION_MPK : PER_REGION_MPROTECT;
	for (r = 0; r < 4; r++) {
		char *base;
		size_t len;

		if (r < 3) {
			void *b;

			CHECK(compart_region(victim, r, &b, &len) == 0);
			base = b;
		} else {
			base = (char *)win;
			len = 8192;
		}
		for (i = 0; i < n; i++) {
			long *p = (long *)(base + (next() % len & ~7UL));
			long got;

			compart_clear_violation();
			errno = 0;
			got = next() & 1 ? poke_m(p, (long)next()) : peek_m(p);
			CHECK(got == -1 && errno == EFAULT);
			CHECK(compart_last_violation(&v) == 0);
			CHECK(strcmp(v.accessor, "mallory") == 0);
			CHECK(strstr(v.owner, "victim") != NULL);
			CHECK(v.addr == (void *)p);
			if (mode == COMPART_MPK)
				CHECK(v.pkey > 0);
			attempts++;
		}
	}
	/* nothing changed: the victim's secret, window, counter; its own
	 * reads work */
	CHECK(secret[0] == 0x5ec2e7 && peek_v(secret) == 0x5ec2e7);
	CHECK(win[0] == 0x11 && peek_v(win) == 0x11);
	CHECK(count_v() == 2);
	/* mallory still works on what is its own and what is opened to it */
	CHECK(compart_window_open(w, mallory) == 0);
	CHECK(poke_m(&win[1], 42) == 42 && win[1] == 42);
	CHECK(compart_window_destroy(w) == 0);
	printf("mode %s: %d attempts, each a violation of mallory's own\n",
	    compart_mode_name(mode), attempts);
	CHECK(compart_unload(mallory) == 0);
	CHECK(compart_unload(victim) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_MPROTECT, COMPART_MPK, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
