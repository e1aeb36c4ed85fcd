/* Threads call compartments at once (none, mpk): each gets its own results, a violation in one thread fails only that thread's call and is reported to it, and a call chain keeps working after it. */
#include <pthread.h>

#include "compart_util.h"

#define NTHREADS	4
#define CALLS		20000
#define FAULT_EVERY	500

static double (*many)(long, long, long, long, long, long, long, long,
    double, double, double, double, double, double, double, double, double,
    double);
static long (*peek_via)(const long *);
static long *beta_heap;		/* beta's: alpha may not read it */
static int mode;

static double
many_expected(long i, long j)
{
	long a[8] = { i, j, i + j, i * j, 1, 2, 3, j % 7 };
	double x[10], sum = 0;
	int k;

	for (k = 0; k < 10; k++)
		x[k] = (double)(i + k) + 0.5;
	for (k = 0; k < 8; k++)
		sum += (double)((k + 1) * a[k]);
	for (k = 0; k < 10; k++)
		sum += (k + 1) * x[k];
	return sum;
}

static void *
caller(void *arg)
{
	long i = (long)arg, mine = 1000 + i;
	struct compart_violation v;
	long j, faults = 0;

	for (j = 0; j < CALLS; j++) {
		double got = many(i, j, i + j, i * j, 1, 2, 3, j % 7,
		    i + 0.5, i + 1.5, i + 2.5, i + 3.5, i + 4.5, i + 5.5,
		    i + 6.5, i + 7.5, i + 8.5, i + 9.5);

		if (got != many_expected(i, j)) {
			fprintf(stderr, "thread %ld call %ld: %g, not %g\n", i,
			    j, got, many_expected(i, j));
			return (void *)1;
		}
		if (peek_via(&mine) != mine) {
			fprintf(stderr, "thread %ld: peek_via wrong\n", i);
			return (void *)1;
		}
		if (mode == COMPART_MPK && j % FAULT_EVERY == 0) {
			compart_clear_violation();
			if (peek_via(beta_heap) != -1 ||
			    compart_last_violation(&v) != 0 ||
			    strcmp(v.accessor, "alpha") != 0 ||
			    strstr(v.owner, "beta") == NULL) {
				fprintf(stderr, "thread %ld: violation not "
				    "reported to it\n", i);
				return (void *)1;
			}
			compart_clear_violation();
			faults++;
		}
	}
	/* nothing of another thread's faults landed here */
	if (compart_last_violation(&v) == 0) {
		fprintf(stderr, "thread %ld: a violation it did not cause\n", i);
		return (void *)1;
	}
	return (void *)0;
}

static int
scenario(int m)
{
	compart_t *a, *b, *c;
	void *(*alloc_b)(long);
	pthread_t th[NTHREADS];
	long i;
	void *ret;

	mode = m;
	a = cmp_load("cmp_a", "alpha");
	b = cmp_load("cmp_a", "beta");
	c = cmp_load("cmp_b", "gamma");
	CHECK(compart_import(c, "peek", a, "peek") == 0);
	CHECK((many = COMPART_FN(a, double (*)(long, long, long, long, long,
	    long, long, long, double, double, double, double, double, double,
	    double, double, double, double), "many")) != NULL);
	CHECK((peek_via = COMPART_FN(c, long (*)(const long *), "peek_via")) != NULL);
	CHECK((alloc_b = COMPART_FN(b, void *(*)(long), "heap_alloc")) != NULL);
	CHECK((beta_heap = alloc_b(64)) != NULL);
	for (i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&th[i], NULL, caller, (void *)i) == 0);
	for (i = 0; i < NTHREADS; i++) {
		CHECK(pthread_join(th[i], &ret) == 0);
		CHECK(ret == NULL);
	}
	CHECK(compart_unload(c) == 0);
	CHECK(compart_unload(b) == 0);
	CHECK(compart_unload(a) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_NONE, COMPART_MPK, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
