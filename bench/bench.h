/*
 * Helpers shared by the benchmark programs: the clock, whole reads and
 * writes, closing what a child must not hold, reaping it, sorting.
 * Each program includes this once.
 */
#ifndef COMSG_BENCH_H
#define COMSG_BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __attribute__((unused)) int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __attribute__((unused)) int
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static __attribute__((unused)) int
read_full(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EPIPE;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Close every descriptor above 2 but those in keep[] (any order; -1 is
 * ignored), so that a pair's pipes see the end when one of its processes
 * goes. */
static __attribute__((unused)) void
close_others(int *keep, int nkeep)
{
	int i, j, lo = 3;

	for (i = 1; i < nkeep; i++)	/* insertion sort: a handful */
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < nkeep; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range((unsigned)lo, ~0u, 0);
}

static __attribute__((unused)) void
reap(pid_t *pidp, int grace_ms)
{
	int64_t deadline = now_ns() + (int64_t)grace_ms * 1000000;

	if (*pidp <= 0)
		return;
	while (waitpid(*pidp, NULL, WNOHANG) == 0) {
		if (now_ns() >= deadline) {
			kill(*pidp, SIGKILL);
			waitpid(*pidp, NULL, 0);
			break;
		}
		usleep(2000);
	}
	*pidp = 0;
}

static __attribute__((unused)) int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
