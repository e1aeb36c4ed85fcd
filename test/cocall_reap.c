/* A caller that dies mid-call costs the service nothing but that call: the
 * service goes on serving others, and reclaims the dead callers' channels
 * (its descriptor count returns to where it was). */
#include <dirent.h>
#include "harness.h"

#define DEAD	50

static void *target;

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* opendir's own */
}

static int
doomed(void *arg)
{
	char c;

	(void)arg;
	cocall(target, "x", 1, &c, 1);	/* killed while waiting */
	return T_FAIL;
}

static int
good(void *arg)
{
	uint32_t i, rep;

	(void)arg;
	for (i = 0; i < 10; i++)
		CHECK(cocall(target, &i, sizeof(i), &rep, sizeof(rep)) == sizeof(rep) &&
		    rep == i * 2);
	return T_PASS;
}

int
main(void)
{
	struct comsg m = { 0 };
	uint32_t in, out;
	int base;
	pid_t kid;

	CHECK(coregister(NULL, &target) == 0);
	base = count_fds();
	for (int i = 0; i < DEAD; i++) {
		char c;

		kid = t_spawn(doomed, NULL);
		/* Reply to the previous (dead) caller, take this one's call. */
		CHECK(coaccept(NULL, "y", 1, &c, 1) == 1);
		kill(kid, SIGKILL);
		CHECK(t_wait(kid) == 128 + SIGKILL);
	}
	kid = t_spawn(good, NULL);
	out = 0;
	m.in = &in;
	m.inlen = sizeof(in);
	for (int i = 0; i < 10; i++) {
		CHECK(coacceptv(NULL, NULL, &m, 0, -1) == sizeof(in));
		out = in * 2;
		m.out = &out;
		m.outlen = sizeof(out);
	}
	/* Deliver the last reply; then idle long enough to reap. */
	CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 1500), ETIMEDOUT);
	CHECK(t_wait(kid) == T_PASS);
	m.outlen = 0;
	CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 1200), ETIMEDOUT);
	fprintf(stderr, "descriptors: %d before, %d after %d dead callers\n",
	    base, count_fds(), DEAD);
	CHECK(count_fds() == base);
	return T_PASS;
}
