/* One process cannot hold more than its share of a service's channels:
 * past 256 the service refuses it (EMFILE), and others still get in. */
#include <sys/resource.h>
#include "harness.h"

#define SHARE	256

static int
echo(void *target)
{
	char in[8];
	size_t outlen = 0;

	(void)target;
	for (;;) {
		if (coaccept(NULL, "ok", outlen, in, sizeof(in)) < 0)
			return T_FAIL;
		outlen = 3;
	}
}

static void *target;

/* Open one channel per capability (each copy of the target is its own
 * capability, so its own channel) until the service refuses. */
static int
greedy(void *arg)
{
	int sv[2], opened = 0;
	char rep[8];

	(void)arg;
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	for (int i = 0; i < SHARE + 10; i++) {
		void *copy;

		CHECK(capsend(sv[0], target) == 0);
		CHECK(caprecv(sv[1], &copy) == 0);
		if (cocall(copy, "x", 1, rep, sizeof(rep)) < 0) {
			CHECK(errno == EMFILE);
			break;
		}
		opened++;
	}
	fprintf(stderr, "one process got %d channels\n", opened);
	/* A child after fork holds none of its parent's channels. */
	CHECK(opened == SHARE);
	return T_PASS;
}

int
main(void)
{
	struct rlimit rl;
	char rep[8];

	/* Room for the service's descriptors (its share of us, and more). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * SHARE) {
		rl.rlim_cur = rl.rlim_max < 4 * SHARE ? rl.rlim_max : 4 * SHARE;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 2 * SHARE + 64) {
		printf("needs %d descriptors\n", 2 * SHARE + 64);
		return T_SKIP;
	}
	(void)t_service(echo, &target);
	CHECK(cocall(target, "x", 1, rep, sizeof(rep)) == 3);
	CHECK(t_wait(t_spawn(greedy, NULL)) == T_PASS);
	/* Another process, and we, are still served. */
	CHECK(cocall(target, "x", 1, rep, sizeof(rep)) == 3);
	CHECK(t_wait(t_spawn(greedy, NULL)) == T_PASS);
	return T_PASS;
}
