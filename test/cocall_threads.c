/* Targets belong to threads: two accepting threads serve their own
 * targets side by side; a thread calling its own target gets EDEADLK; when
 * a serving thread ends, its name goes and its callers get ENOLINK. */
#include <pthread.h>
#include "harness.h"

static pthread_barrier_t registered;
static struct t_gate stop[2];

static void *
serve(void *arg)
{
	int id = (int)(uintptr_t)arg;
	char name[16], in[16], out[16];
	void *target;
	size_t outlen = 0;
	ssize_t n;

	snprintf(name, sizeof(name), "thread-%d", id);
	CHECK(coregister(name, &target) == 0);
	/* Calling a target this very thread serves would wait forever. */
	CHECK_ERR(cocall(target, "x", 1, in, sizeof(in)), EDEADLK);
	pthread_barrier_wait(&registered);
	for (;;) {
		struct comsg m = { .out = out, .outlen = outlen, .in = in,
		    .inlen = sizeof(in) };

		n = coacceptv(NULL, NULL, &m, 0, 20);
		if (n < 0) {
			CHECK(errno == ETIMEDOUT);
			outlen = 0;
			/* Stop once told, and only between calls. */
			struct pollfd pfd = { stop[id].fd[0], POLLIN, 0 };

			if (poll(&pfd, 1, 0) == 1)
				return NULL;
			continue;
		}
		outlen = (size_t)snprintf(out, sizeof(out), "%d:%.*s", id,
		    (int)n, in) + 1;
	}
}

static int
caller(void *arg)
{
	void *t0, *t1;
	char rep[16];

	(void)arg;
	CHECK(colookup("thread-0", &t0) == 0);
	CHECK(colookup("thread-1", &t1) == 0);
	for (int i = 0; i < 100; i++) {
		CHECK(cocall(t0, "a", 1, rep, sizeof(rep)) > 0 && strcmp(rep, "0:a") == 0);
		CHECK(cocall(t1, "b", 1, rep, sizeof(rep)) > 0 && strcmp(rep, "1:b") == 0);
	}
	return T_PASS;
}

int
main(void)
{
	pthread_t th[2];
	void *t0, *t1;
	char rep[16];

	pthread_barrier_init(&registered, NULL, 3);
	for (int i = 0; i < 2; i++) {
		t_gate_init(&stop[i]);
		CHECK(pthread_create(&th[i], NULL, serve, (void *)(uintptr_t)i) == 0);
	}
	pthread_barrier_wait(&registered);
	/* Other processes and other threads of this one can call both. */
	CHECK(t_wait(t_spawn(caller, NULL)) == T_PASS);
	CHECK(colookup("thread-0", &t0) == 0);
	CHECK(colookup("thread-1", &t1) == 0);
	CHECK(cocall(t1, "c", 1, rep, sizeof(rep)) > 0 && strcmp(rep, "1:c") == 0);

	/* Thread 0 ends: its name is gone, calls to it fail, thread 1 goes on. */
	t_gate_open(&stop[0]);
	pthread_join(th[0], NULL);
	CHECK_ERR(colookup("thread-0", &t0), ESRCH);
	CHECK_ERR(cocall(t0, "a", 1, rep, sizeof(rep)), ENOLINK);
	CHECK(cocall(t1, "d", 1, rep, sizeof(rep)) > 0 && strcmp(rep, "1:d") == 0);
	t_gate_open(&stop[1]);
	pthread_join(th[1], NULL);
	CHECK_ERR(cocall(t1, "e", 1, rep, sizeof(rep)), ENOLINK);
	/* A thread that serves nothing cannot accept. */
	CHECK_ERR(coaccept(NULL, NULL, 0, rep, sizeof(rep)), ESRCH);
	return T_PASS;
}
