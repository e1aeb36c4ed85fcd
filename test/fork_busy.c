/* fork() while other threads open and close ports, take comutexes and send on COCARRIER: every child finds the library whole and works; nothing hangs. */
#include "coport_test.h"

#include <pthread.h>

#define FORKS		300
#define CHILD_MS	10000	/* a child that takes longer hung */

static volatile int stop;

/* Open, use and close ports of every kind and a comutex, again and
 * again: the handle table, the comutex table, comsgd's channel and the
 * COCARRIER byte accounts change all the time. */
static void *
churn(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		char name[32];
		coport_t p;
		comutex_t m;

		snprintf(name, sizeof(name), "busy-%d-%llu", me,
		    (unsigned long long)(n % 4));
		CHECK(coopen(name, n % 2 ? COCARRIER : COCHANNEL, &p) == 0);
		CHECK(cosend(p, &n, sizeof(n)) == sizeof(n));
		CHECK(coclose(p) == 0);
		snprintf(name, sizeof(name), "busy-mutex-%d", me);
		CHECK(comutex_init(name, &m) == 0);
		CHECK(colock(&m) == 0 && counlock(&m) == 0);
		CHECK(comutex_destroy(&m) == 0);
		n++;
	}
	return NULL;
}

/* The child: the library must work, from a port of its own. */
static int
child(void)
{
	coport_t p;
	comutex_t m;
	uint64_t v = 42, w = 0;
	void *buf = &w;

	if (coopen("busy-child", COCHANNEL, &p) != 0 ||
	    cosend(p, &v, sizeof(v)) != sizeof(v) ||
	    corecv(p, &buf, sizeof(w)) != sizeof(w) || w != 42 ||
	    coclose(p) != 0)
		return 2;
	if (comutex_init("busy-child-mutex", &m) != 0 || colock(&m) != 0 ||
	    counlock(&m) != 0 || comutex_destroy(&m) != 0)
		return 3;
	return 0;
}

int
main(void)
{
	pthread_t th[2];

	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, churn, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < FORKS; i++) {
		int64_t t0 = t_now_ns();
		pid_t pid = fork();
		int st;

		CHECK(pid >= 0);
		if (pid == 0)
			_exit(child());
		for (;;) {
			pid_t r = waitpid(pid, &st, WNOHANG);

			CHECK(r >= 0);
			if (r == pid)
				break;
			if (t_now_ns() - t0 > (int64_t)CHILD_MS * 1000000) {
				fprintf(stderr, "child %d of %d hung\n", i, FORKS);
				kill(pid, SIGKILL);
				CHECK(!"a child hung");
			}
			usleep(1000);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fprintf(stderr, "child %d: status %#x\n", i, st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	return T_PASS;
}
