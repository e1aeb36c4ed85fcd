/* A test compartment that goes past its shim: system calls made by
 * number (libc's syscall(), which no intercept covers), and a thread of
 * its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "comsg/compart.h"

/* System call nr with three arguments: its result, or -errno. */
long
sys(long nr, long a0, long a1, long a2)
{
	long r = syscall(nr, a0, a1, a2);

	return r < 0 ? -errno : r;
}
COMPART_ENTRY(sys, "l(llll)");

static void *
thread_main(void *arg)
{
	return arg;
}

/* Start a thread and join it: 0, or the error. */
long
thread_ok(void)
{
	pthread_t t;
	void *ret = NULL;
	int err = pthread_create(&t, NULL, thread_main, &ret);

	if (err != 0)
		return err;
	err = pthread_join(t, &ret);
	return err != 0 ? err : ret == &ret ? 0 : -1;
}
COMPART_ENTRY(thread_ok, "l()");
