/* A service out of descriptors (processes holding as many channels as its
 * limit allows) refuses a newcomer's first call with EAGAIN at once, not
 * ENOLINK ("gone") and not a wait: it keeps serving its channels, does not
 * spin, and takes new callers again once channels close. */
#include <sys/resource.h>
#include "harness.h"

#define FD_LIMIT	48	/* the service's soft limit */
#define FLOODERS	3
#define QUICK_MS	1000	/* a refusal comes at once: well within this */
#define IDLE_CPU_MS_MAX	100	/* CPU while flooded and idle, ms per s */

static void *target;

static int
serve(void *arg)
{
	struct rlimit rl;
	uint32_t in, out = 0;
	size_t outlen = 0;

	(void)arg;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return T_FAIL;
	rl.rlim_cur = FD_LIMIT;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return T_FAIL;
	for (;;) {
		ssize_t n = coaccept(NULL, &out, outlen, &in, sizeof(in));

		outlen = 0;
		if (n == sizeof(in)) {
			out = in + 1;
			outlen = sizeof(out);
		}
	}
}

/* One call through a fresh capability to the target: a new channel. */
static int
first_call(int sv[2], int timeout_ms, int64_t *msp)
{
	struct comsg m;
	uint32_t req = 7, rep = 0;
	int64_t t0;
	void *h;
	int r, e;

	CHECK(capsend(sv[0], target) == 0 && caprecv(sv[1], &h) == 0);
	memset(&m, 0, sizeof(m));
	m.out = &req;
	m.outlen = sizeof(req);
	m.in = &rep;
	m.inlen = sizeof(rep);
	t0 = t_now_ns();
	if (timeout_ms < 0)
		r = (int)cocall(h, &req, sizeof(req), &rep, sizeof(rep));
	else
		r = (int)cocallv(h, &m, 0, timeout_ms);
	e = errno;
	if (msp != NULL)
		*msp = (t_now_ns() - t0) / 1000000;
	if (r == sizeof(rep) && rep == req + 1)
		return 0;	/* the capability is kept: so is the channel */
	capfree(h);
	errno = r < 0 ? e : EPROTO;
	return -1;
}

struct result {
	int	chans;		/* channels opened */
	int	error;		/* errno of the first call refused */
	int64_t	ms;		/* how long that call took */
};

static struct t_gate results;

/* Open channels until refused, report, then hold them. */
static int
flooder(void *arg)
{
	struct result r = { 0, 0, 0 };
	int sv[2];

	(void)arg;
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	while (first_call(sv, 5000, &r.ms) == 0)
		r.chans++;
	r.error = errno;
	CHECK(write(results.fd[1], &r, sizeof(r)) == sizeof(r));
	for (;;)
		pause();
	return T_PASS;
}

/* A newcomer: its first call, fast path with a timeout, then without. */
static int
newcomer(void *arg)
{
	int64_t ms;
	int sv[2];

	(void)arg;
	alarm(20);	/* a call that waits for ever fails the test */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_ERR(first_call(sv, 5000, &ms), EAGAIN);
	CHECK(ms < QUICK_MS);
	CHECK_ERR(first_call(sv, -1, &ms), EAGAIN);
	CHECK(ms < QUICK_MS);
	return T_PASS;
}

int
main(void)
{
	pid_t svc, flood[FLOODERS];
	struct result r;
	uint32_t req, rep;
	long before, after;
	int sv[2], i;

	svc = t_service(serve, &target);
	/* A channel set up before the flood. */
	req = 1;
	CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) ==
	    sizeof(rep) && rep == 2);

	/* One after the other, each opens channels until refused. */
	t_gate_init(&results);
	for (i = 0; i < FLOODERS; i++) {
		flood[i] = t_spawn(flooder, NULL);
		CHECK(read(results.fd[0], &r, sizeof(r)) == sizeof(r));
		fprintf(stderr, "flooder %d: %d channels, then %s in %lld ms\n",
		    i, r.chans, strerror(r.error), (long long)r.ms);
		CHECK(r.error == EAGAIN);
		CHECK(r.ms < QUICK_MS);
		CHECK(i == 0 ? (r.chans > 0 && r.chans < FD_LIMIT) :
		    r.chans == 0);
	}

	/* The service is idle and out of descriptors: no busy loop. */
	before = t_cpu_ms(svc);
	poll(NULL, 0, 1000);
	after = t_cpu_ms(svc);
	fprintf(stderr, "service: %ld ms of CPU in 1 s while flooded\n",
	    after - before);
	CHECK(after - before <= IDLE_CPU_MS_MAX);

	/* A newcomer is told at once; the channel we had keeps working. */
	CHECK(t_wait(t_spawn(newcomer, NULL)) == T_PASS);
	for (req = 10; req < 1010; req++)
		CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) ==
		    sizeof(rep) && rep == req + 1);

	/* The flooders go: a newcomer gets a channel again, at its first try
	 * or (the service finds the dead at a refusal) its second. */
	for (i = 0; i < FLOODERS; i++) {
		kill(flood[i], SIGKILL);
		t_wait(flood[i]);
	}
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	if (first_call(sv, 5000, NULL) < 0) {
		CHECK(errno == EAGAIN);
		CHECK(first_call(sv, 5000, NULL) == 0);
	}
	return T_PASS;
}
