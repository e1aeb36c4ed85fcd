/* A service killed before or during a call gives ENOLINK within 100 ms,
 * whether the caller spins or sleeps, on the fast and the slow path. */
#include <pthread.h>
#include "harness.h"

#define DEADLINE_NS	100000000	/* 100 ms */

static struct t_gate took;

struct killer {
	pid_t	pid;
	int	delay_ms;
	int64_t	killed_at;
};

static void *
kill_later(void *arg)
{
	struct killer *k = arg;

	t_gate_wait(&took);
	if (k->delay_ms > 0)
		usleep(k->delay_ms * 1000);	/* let the caller fall asleep */
	k->killed_at = t_now_ns();
	kill(k->pid, SIGKILL);
	return NULL;
}

/* Take one call, say so, then never reply. */
static int
take_one(void *target)
{
	char in[8];

	(void)target;
	CHECK(coaccept(NULL, NULL, 0, in, sizeof(in)) >= 0);
	t_gate_open(&took);
	for (;;)
		pause();
	return T_FAIL;
}

static void *
start_service(pid_t *pidp)
{
	void *target;

	t_gate_init(&took);
	*pidp = t_service(take_one, &target);
	return target;
}

static void
one(int slow, int delay_ms)
{
	struct killer k = { .delay_ms = delay_ms };
	pthread_t th;
	void *target;
	char out = 1, in;
	int64_t elapsed;

	target = start_service(&k.pid);
	CHECK(pthread_create(&th, NULL, kill_later, &k) == 0);
	CHECK_ERR((slow ? cocall_slow : cocall)(target, &out, 1, &in, 1), ENOLINK);
	elapsed = t_now_ns();
	pthread_join(th, NULL);
	elapsed -= k.killed_at;
	CHECK(t_wait(k.pid) == 128 + SIGKILL);
	fprintf(stderr, "%s path, killed after %d ms: ENOLINK %.1f ms after the kill\n",
	    slow ? "slow" : "fast", delay_ms, elapsed / 1e6);
	CHECK(elapsed < DEADLINE_NS);
	/* A dead target stays dead. */
	CHECK_ERR(cocall(target, &out, 1, &in, 1), ENOLINK);
	CHECK(capfree(target) == 0);
}

int
main(void)
{
	void *target;
	pid_t pid;
	char c = 0;

	for (int slow = 0; slow < 2; slow++) {
		one(slow, 0);
		one(slow, 300);
	}
	/* Killed before the first call: the connect fails. */
	target = start_service(&pid);
	kill(pid, SIGKILL);
	CHECK(t_wait(pid) == 128 + SIGKILL);
	CHECK_ERR(cocall(target, &c, 1, &c, 1), ENOLINK);
	return T_PASS;
}
