/*
 * What the compartment tests share: where their compartments are, and
 * running a scenario once per isolation mode (the mode is the process's,
 * so each mode runs in a child of its own: this program again, with
 * COMPART_MODE set).
 */
#ifndef COMSG_TEST_COMPART_UTIL_H
#define COMSG_TEST_COMPART_UTIL_H

#include <limits.h>
#include <libgen.h>

#include "harness.h"
#include "comsg/compart.h"

/* The path of compartment name (test/compart/name.c, built next to us). */
static T_UNUSED const char *
cmp_path(const char *name)
{
	static char buf[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0) {
		perror("readlink");
		t_fail();
	}
	exe[n] = '\0';
	snprintf(buf, sizeof(buf), "%s/compart/%s.so", dirname(exe), name);
	return buf;
}

static T_UNUSED compart_t *
cmp_load(const char *name, const char *as)
{
	struct compart_attr a;
	compart_t *c;

	compart_attr_init(&a);
	a.name = as;
	a.heap_size = 8 << 20;
	a.stack_size = 256 << 10;
	c = compart_load(cmp_path(name), &a);
	if (c == NULL) {
		fprintf(stderr, "compart_load %s: %s\n", name, compart_error());
		t_fail();
	}
	return c;
}

/* Every isolation mode, for cmp_each_mode(). */
static const int cmp_every_mode[] T_UNUSED = { COMPART_NONE,
	COMPART_MPROTECT, COMPART_MPK, COMPART_PROCESS, -1 };

/*
 * Run scenario(mode) in a child per mode in modes (-1 ends the list).
 * A mode this machine lacks (mpk) is skipped; if nothing could run, the
 * test is skipped.  In the child, the scenario's return is the status.
 */
static T_UNUSED int
cmp_each_mode(int argc, char **argv, const int *modes, int (*scenario)(int))
{
	int i, ran = 0;
	const char *env = getenv("CMP_CHILD_MODE");

	if (env != NULL) {
		int m = atoi(env);

		if (compart_init(m) < 0) {
			fprintf(stderr, "compart_init %s: %s\n",
			    compart_mode_name(m), compart_error());
			return T_FAIL;
		}
		return scenario(m);
	}
	(void)argc;
	for (i = 0; modes[i] >= 0; i++) {
		char why[256], val[8];
		pid_t pid;
		int st;

		if (modes[i] == COMPART_MPK && !compart_mpk_check(why, sizeof(why))) {
			printf("mode mpk: skipped: %s (make test-mpk runs "
			    "it in a virtual machine that has them)\n", why);
			continue;
		}
		fflush(NULL);
		pid = t_fork();
		if (pid == 0) {
			snprintf(val, sizeof(val), "%d", modes[i]);
			setenv("CMP_CHILD_MODE", val, 1);
			execv("/proc/self/exe", argv);
			_exit(T_FAIL);
		}
		st = t_wait(pid);
		printf("mode %s: %s\n", compart_mode_name(modes[i]),
		    st == 0 ? "pass" : st == T_SKIP ? "skip" : "FAIL");
		if (st != 0 && st != T_SKIP)
			return T_FAIL;
		if (st == 0)
			ran++;
	}
	if (ran == 0) {
		printf("no mode could run here\n");
		return T_SKIP;
	}
	return T_PASS;
}

#endif
