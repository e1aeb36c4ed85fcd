/* coexec(1) runs a command with another member's vector; it refuses a
 * process of another user (EPERM) and one that is no member of the domain
 * (ESRCH), with clear messages. */
#include <grp.h>
#include <sys/stat.h>
#include "harness.h"
#include "toolrun.h"

/* Member mode: say our pid on fd once exec'd, then wait to be killed. */
static int
member(int fd)
{
	pid_t me = getpid();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (write(fd, &me, sizeof(me)) != sizeof(me))
		return T_FAIL;
	close(fd);
	for (;;)
		pause();
}

/* Start a member: SELF member FD, through prefix (a service running it,
 * or none), with env changes; returns its pid once it runs, and in
 * *startedp the pid we started (the service's). */
static pid_t
start_member(char *const prefix[], const char *const env[], pid_t *startedp)
{
	char *argv[8], fds[16];
	int p[2], n = 0, i;
	pid_t got;

	CHECK(pipe(p) == 0);
	snprintf(fds, sizeof(fds), "%d", p[1]);
	for (i = 0; prefix != NULL && prefix[i] != NULL; i++)
		argv[n++] = prefix[i];
	argv[n++] = tr_self;
	argv[n++] = "member";
	argv[n++] = fds;
	argv[n] = NULL;
	*startedp = tr_start(argv, env, NULL);
	close(p[1]);
	CHECK(read(p[0], &got, sizeof(got)) == sizeof(got));
	close(p[0]);
	t_track(got);
	return got;
}

/* A process of another user, waiting to be killed. */
static pid_t
start_nobody(void)
{
	struct t_gate g;
	pid_t pid;

	t_gate_init(&g);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(T_FAIL);
		/* Changing user made us undumpable, and /proc root's. */
		prctl(PR_SET_DUMPABLE, 1);
		t_gate_open(&g);
		for (;;)
			pause();
	}
	t_track(pid);
	t_gate_wait(&g);
	return pid;
}

int
main(int argc, char **argv)
{
	char out[8192], want[128], pids[16];
	pid_t clocks, m, gone;

	if (argc == 3 && strcmp(argv[1], "member") == 0)
		return member(atoi(argv[2]));
	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}

	/* A member with clocks at slot 8; we have no vector. */
	{
		char *prefix[] = { tr_tool("clocks"), NULL };

		m = start_member(prefix, NULL, &clocks);
	}
	snprintf(pids, sizeof(pids), "%d", (int)m);
	{
		char *argv_[] = { tr_tool("coexec"), pids, tr_tool("capv"),
		    NULL };

		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 0, out);
		snprintf(want, sizeof(want),
		    "8:\t\"clocks(1), pid %d, responding to clock_gettime()",
		    (int)clocks);
		CHECK_OUT(strstr(out, want) != NULL, out);
	}
	{
		char *argv_[] = { tr_tool("capv"), NULL };

		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 1, out);
	}
	/* A command that is not there: 127. */
	{
		char *argv_[] = { tr_tool("coexec"), pids,
		    "/nonexistent/no-such-command", NULL };

		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 127, out);
	}

	/* No such process. */
	gone = fork();
	CHECK(gone >= 0);
	if (gone == 0)
		_exit(0);
	CHECK(t_wait(gone) == 0);
	snprintf(pids, sizeof(pids), "%d", (int)gone);
	{
		char *argv_[] = { tr_tool("coexec"), pids, "true", NULL };

		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "no such member") != NULL, out);
	}

	/* A process of ours in another domain: no member either. */
	{
		const char *env[] = { "COMSG_DIR=/tmp/comsg-elsewhere", NULL };
		char *argv_[] = { tr_tool("coexec"), pids, "true", NULL };
		pid_t started;

		m = start_member(NULL, env, &started);
		CHECK(m == started);
		snprintf(pids, sizeof(pids), "%d", (int)m);
		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "no such member") != NULL, out);
	}

	/* Another user's process. */
	if (getuid() == 0) {
		m = start_nobody();
		snprintf(pids, sizeof(pids), "%d", (int)m);
	} else {
		struct stat st;

		if (stat("/proc/1", &st) < 0 || st.st_uid == getuid()) {
			printf("no process of another user to try\n");
			return T_PASS;
		}
		snprintf(pids, sizeof(pids), "1");
	}
	{
		char *argv_[] = { tr_tool("coexec"), pids, "true", NULL };

		CHECK_OUT(tr_run(argv_, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "not ours") != NULL, out);
	}

	/* Bad usage. */
	{
		char *none[] = { tr_tool("coexec"), NULL };
		char *onlypid[] = { tr_tool("coexec"), "1", NULL };
		char *badpid[] = { tr_tool("coexec"), "12x", "true", NULL };
		char *zero[] = { tr_tool("coexec"), "0", "true", NULL };

		CHECK_OUT(tr_run(none, out, sizeof(out)) == 2, out);
		CHECK_OUT(strstr(out, "usage: coexec") != NULL, out);
		CHECK_OUT(tr_run(onlypid, out, sizeof(out)) == 2, out);
		CHECK_OUT(tr_run(badpid, out, sizeof(out)) == 2, out);
		CHECK_OUT(tr_run(zero, out, sizeof(out)) == 2, out);
	}
	return T_PASS;
}
