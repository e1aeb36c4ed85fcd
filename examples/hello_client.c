/*
 * hello_client: calls the service in slot 9 of its capability vector,
 * which it inherited from whoever started it, on the fast path and on the
 * kernel path, and says how long a call took on each: the median of
 * BATCHES batches of CALLS calls, after WARMUP calls that let both sides
 * settle (the first calls set up the channel, and the spinning adapts).
 * The processes are not pinned to cores: where they share one, or the
 * machine is busy, a call waits for the other side to be scheduled, which
 * is what the figure then shows.  bench/cocall pins them.
 *
 *	hello_client [name]
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <comsg/capv.h>
#include <comsg/cocall.h>

#define HELLO_SLOT	9
#define WARMUP		2000
#define BATCHES		21
#define CALLS		1000

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median time of a call, in microseconds, through call(). */
static double
time_calls(ssize_t (*call)(void *, const void *, size_t, void *, size_t),
    void *target, const char *name, char *reply, size_t size)
{
	double per[BATCHES];
	int b, i;

	for (i = 0; i < WARMUP; i++)
		if (call(target, name, strlen(name), reply, size) < 0)
			err(1, "cocall");
	for (b = 0; b < BATCHES; b++) {
		double t0 = now_us();

		for (i = 0; i < CALLS; i++)
			if (call(target, name, strlen(name), reply, size) < 0)
				err(1, "cocall");
		per[b] = (now_us() - t0) / CALLS;
	}
	qsort(per, BATCHES, sizeof(per[0]), by_value);
	return per[BATCHES / 2];
}

int
main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "world";
	char reply[512];
	void **capv;
	int capc, slow;
	ssize_t n;

	if (capvfetch(&capc, &capv) < 0 || capc <= HELLO_SLOT ||
	    capv[HELLO_SLOT] == NULL)
		errx(1, "no service in slot %d of the capability vector", HELLO_SLOT);
	n = cocall(capv[HELLO_SLOT], name, strlen(name), reply, sizeof(reply));
	if (n < 0)
		err(1, "cocall");
	printf("hello_client: pid %d got: \"%s\"\n", (int)getpid(), reply);
	for (slow = 0; slow < 2; slow++)
		printf("hello_client: a call through %-12s %7.2f us "
		    "(median of %d x %d)\n", slow ? "cocall_slow:" : "cocall:",
		    time_calls(slow ? cocall_slow : cocall, capv[HELLO_SLOT],
		    name, reply, sizeof(reply)), BATCHES, CALLS);
	return 0;
}
