/*
 * libclocks.so: preloaded by clocks(1) into the programs it runs, it
 * answers clock_gettime() by calling the service at slot 8 of the vector.
 * Without a service there, one that does not answer within $COMSG_TIMEOUT
 * (seconds, default 5), or inside comsg itself, the real one answers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "toolutil.h"

static __thread int busy;	/* we are inside our own call */
static int timeout = -2;	/* ms, from the environment once */

static int
real_clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);

	if (real == NULL)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT,
		    "clock_gettime");
	if (real == NULL)
		return (int)syscall(SYS_clock_gettime, id, ts);
	return real(id, ts);
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	capv_clocks_t req;
	capv_clocks_return_t rep;
	struct comsg m;
	void **capv;
	int capc, e = errno;
	ssize_t n;

	if (busy || capvfetch(&capc, &capv) < 0 || capc <= CAPV_CLOCKS ||
	    capv[CAPV_CLOCKS] == NULL)
		return real_clock_gettime(id, ts);
	busy = 1;
	/* Whole, padding included: what we send is the service's to see. */
	memset(&req, 0, sizeof(req));
	req.len = sizeof(req);
	req.op = CAPV_CLOCKS_GETTIME;
	req.clock_id = id;
	memset(&m, 0, sizeof(m));
	m.out = &req;
	m.outlen = sizeof(req);
	m.in = &rep;
	m.inlen = sizeof(rep);
	if (timeout == -2)
		timeout = tool_env_timeout();
	n = cocallv(capv[CAPV_CLOCKS], &m, 0, timeout);
	busy = 0;
	if (n != sizeof(rep) || rep.op != -CAPV_CLOCKS_GETTIME) {
		/* No answer we can trust: the kernel's clock, then. */
		errno = e;
		return real_clock_gettime(id, ts);
	}
	if (rep.error != 0) {
		errno = rep.errno_;
		return -1;
	}
	*ts = rep.ts;
	errno = e;
	return 0;
}
