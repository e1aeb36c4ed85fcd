/* 4 processes increment a shared counter 100,000 times each under one comutex: the total is exact. */
#include "coport_test.h"

#define PROCS	4
#define ROUNDS	100000

struct shared {
	volatile uint64_t counter;	/* plain loads and stores: the lock orders them */
	uint64_t	  in_lock;	/* holders at once: must stay at most 1 */
	uint64_t	  overlap;
	uint64_t	  errors;	/* colock/counlock that did not give 0 */
	int		  first_error;
};
static struct shared *sh;
static struct t_gate start;

static int
worker(void *arg)
{
	comutex_t m;

	(void)arg;
	CHECK(comutex_init("counter", &m) == 0);
	t_gate_wait(&start);
	for (int i = 0; i < ROUNDS; i++) {
		int e = colock(&m);

		if (e != 0) {
			fprintf(stderr, "colock: %s\n", strerror(e));
			return T_FAIL;
		}
		if (__atomic_add_fetch(&sh->in_lock, 1, __ATOMIC_RELAXED) != 1)
			__atomic_add_fetch(&sh->overlap, 1, __ATOMIC_RELAXED);
		sh->counter = sh->counter + 1;	/* not atomic: the lock is */
		__atomic_sub_fetch(&sh->in_lock, 1, __ATOMIC_RELAXED);
		/* EPERM here means someone else released our lock. */
		if ((e = counlock(&m)) != 0 &&
		    __atomic_fetch_add(&sh->errors, 1, __ATOMIC_RELAXED) == 0)
			sh->first_error = e;
	}
	CHECK(comutex_destroy(&m) == 0);
	return T_PASS;
}

int
main(void)
{
	pid_t pids[PROCS];
	int64_t t0;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	t_gate_init(&start);
	for (int i = 0; i < PROCS; i++)
		pids[i] = t_spawn(worker, NULL);
	t0 = t_now_ns();
	for (int i = 0; i < PROCS; i++)
		t_gate_open(&start);
	for (int i = 0; i < PROCS; i++)
		CHECK(t_wait(pids[i]) == 0);
	fprintf(stderr, "counter %llu (want %d), overlaps %llu, counlock "
	    "errors %llu (%s), %.2f s\n", (unsigned long long)sh->counter,
	    PROCS * ROUNDS, (unsigned long long)sh->overlap,
	    (unsigned long long)sh->errors,
	    sh->errors ? strerror(sh->first_error) : "none",
	    (double)(t_now_ns() - t0) / 1e9);
	CHECK(sh->errors == 0);
	CHECK(sh->overlap == 0);
	CHECK(sh->counter == (uint64_t)PROCS * ROUNDS);
	return T_PASS;
}
