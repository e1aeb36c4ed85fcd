/* A process with no descriptor left still hands out the targets of its
 * names at once, lookup after lookup, and its names thread does not spin
 * meanwhile. */
#include <sys/resource.h>
#include "harness.h"

#define LOOKUPS	5

/* Publish a name, use up every descriptor, say so, wait to be told. */
static int
owner(void *arg)
{
	int sock = *(int *)arg;
	struct rlimit rl = { 64, 64 };
	void *t;
	char c = 'r';

	if (coregister("full", &t) < 0 || setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return T_FAIL;
	while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		;
	if (errno != EMFILE || write(sock, &c, 1) != 1)
		return T_FAIL;
	(void)!read(sock, &c, 1);
	return T_PASS;
}

int
main(void)
{
	int sv[2], i;
	long cpu;
	pid_t pid, got;
	char c;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_spawn(owner, &sv[1]);
	close(sv[1]);
	CHECK(read(sv[0], &c, 1) == 1 && c == 'r');
	cpu = t_cpu_ms(pid);
	for (i = 0; i < LOOKUPS; i++) {
		int64_t t0 = t_now_ns();
		void *t;

		CHECK(colookup("full", &t) == 0);
		CHECK(cotargetpid(t, &got) == 0 && got == pid);
		CHECK(capfree(t) == 0);
		printf("lookup %d of a name of a process out of descriptors: "
		    "%lld us\n", i, (long long)((t_now_ns() - t0) / 1000));
		CHECK(t_now_ns() - t0 < 1000000000);
	}
	cpu = t_cpu_ms(pid) - cpu;
	printf("owner's CPU for the %d lookups: %ld ms\n", LOOKUPS, cpu);
	CHECK(cpu < 200);
	CHECK(write(sv[0], "q", 1) == 1);
	CHECK(t_wait(pid) == 0);
	return T_PASS;
}
