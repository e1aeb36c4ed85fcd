/* Cookies: the same for every call of a thread, different across live
 * threads and processes; cocachedpid and cogetpid give the kernel's pid. */
#include <pthread.h>
#include <sys/syscall.h>
#include "harness.h"

#define THREADS	3
#define CALLS	5

static void *target;
/* Closed by the parent once every call is served: until then every caller
 * thread stays alive, so that no cookie can be reused. */
static struct t_gate done;

struct req {
	pid_t	pid, tid;	/* as the caller claims */
};

static void *
call_thread(void *arg)
{
	struct req r = { getpid(), (pid_t)syscall(SYS_gettid) };
	char ok;

	(void)arg;
	for (int i = 0; i < CALLS; i++)
		if (cocall(target, &r, sizeof(r), &ok, 1) != 1 || ok != 1)
			return (void *)1;
	(void)!read(done.fd[0], &ok, 1);
	return NULL;
}

static int
caller_process(void *arg)
{
	pthread_t th[THREADS];
	void *rv;
	int bad = 0;

	(void)arg;
	close(done.fd[1]);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, call_thread, NULL) == 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], &rv);
		bad |= rv != NULL;
	}
	return bad ? T_FAIL : T_PASS;
}

int
main(void)
{
	struct { pid_t tid; void *cookie; int calls; } seen[2 * THREADS];
	int nseen = 0, total = 2 * THREADS * CALLS;
	pid_t kids[2], pid;
	char ok = 0;
	void *cookie;
	struct req r;

	CHECK(coregister(NULL, &target) == 0);
	t_gate_init(&done);
	kids[0] = t_spawn(caller_process, NULL);
	kids[1] = t_spawn(caller_process, NULL);
	for (int i = 0; i < total; i++) {
		int k;

		CHECK(coaccept(&cookie, &ok, i ? 1 : 0, &r, sizeof(r)) == sizeof(r));
		ok = 1;
		CHECK(r.pid == kids[0] || r.pid == kids[1]);
		/* The kernel's word, cached and fresh, matches the claim. */
		CHECK(cocachedpid(&pid, cookie) == 0 && pid == r.pid);
		CHECK(cogetpid(cookie, &pid) == 0 && pid == r.pid);
		for (k = 0; k < nseen && seen[k].tid != r.tid; k++)
			;
		if (k == nseen) {
			CHECK(nseen < 2 * THREADS);
			/* A new thread: a cookie nobody else has. */
			for (int j = 0; j < nseen; j++)
				CHECK(seen[j].cookie != cookie);
			seen[nseen].tid = r.tid;
			seen[nseen].cookie = cookie;
			seen[nseen++].calls = 0;
		}
		CHECK(seen[k].cookie == cookie);
		seen[k].calls++;
	}
	/* Deliver the last reply; nobody else calls. */
	{
		struct comsg m = { .out = &ok, .outlen = 1, .in = &r, .inlen = sizeof(r) };

		CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 0), ETIMEDOUT);
	}
	close(done.fd[1]);
	CHECK(nseen == 2 * THREADS);
	for (int k = 0; k < nseen; k++)
		CHECK(seen[k].calls == CALLS);
	CHECK(t_wait(kids[0]) == T_PASS);
	CHECK(t_wait(kids[1]) == T_PASS);
	CHECK_ERR(cocachedpid(&pid, &r), EINVAL);
	CHECK_ERR(cogetpid(NULL, &pid), EINVAL);
	return T_PASS;
}
