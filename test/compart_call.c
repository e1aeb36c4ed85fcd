/* Entry calls with 6 mixed arguments (doubles, a pointer into a window), stack arguments, strings; same results in every mode. */
#include <math.h>

#include "compart_util.h"

typedef double (*mix_fn)(int, double, long, double *, int, double);
typedef double (*many_fn)(long, long, long, long, long, long, long, long,
    double, double, double, double, double, double, double, double, double,
    double);

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_a", "a");
	compart_window_t *w;
	double *p;
	char *s;
	mix_fn mix;
	many_fn many;
	long (*count)(void);
	long (*length)(const char *);
	double r;

	CHECK(compart_mode() == mode);
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((p = compart_window_alloc(w, 4096)) != NULL);
	CHECK(((uintptr_t)p & 4095) == 0);
	CHECK(compart_window_open(w, a) == 0);
	p[0] = 100.5;
	CHECK((mix = COMPART_FN(a, mix_fn, "mix")) != NULL);
	r = mix(1, 2.5, 3, p, 4, 0.25);
	CHECK(r == 1 + 2.5 + 3 + 100.5 + 4 + 0.25);
	CHECK(p[1] == 4.5);		/* written by the compartment */
	r = mix(-7, -0.5, 1L << 40, p, 2147483647, 1e300);
	CHECK(r == -7 - 0.5 + (double)(1L << 40) + 100.5 + 2147483647.0 + 1e300);
	CHECK(p[1] == -14.5);

	CHECK((many = COMPART_FN(a, many_fn, "many")) != NULL);
	r = many(1, 2, 3, 4, 5, 6, 7, 8, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5);
	CHECK(r == 204 + 0.5 + 2 + 4.5 + 8 + 12.5 + 18 + 24.5 + 32 + 40.5 + 50);

	CHECK((count = COMPART_FN(a, long (*)(void), "count")) != NULL);
	CHECK(count() == 1);
	CHECK(count() == 2);

	/* a string argument: in a window, so that every mode can read it */
	s = (char *)(p + 16);
	strcpy(s, "compartments");
	CHECK((length = COMPART_FN(a, long (*)(const char *), "length")) != NULL);
	CHECK(length(s) == 12);

	CHECK(strcmp(compart_entry_sig(a, "mix"), "d(idlpid)") == 0);
	CHECK(compart_window_destroy(w) == 0);
	CHECK(compart_unload(a) == 0);
	/* a stale gate pointer is refused, not followed */
	errno = 0;
	CHECK(count() == -1 && errno == EINVAL);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	return cmp_each_mode(argc, argv, cmp_every_mode, scenario);
}
