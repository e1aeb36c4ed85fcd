/*
 * Tests of the tools: where they are (BUILD/tools, next to BUILD/test where
 * the test runs from), and running one with its output captured.  Include
 * after harness.h.
 */
#ifndef COMSG_TEST_TOOLRUN_H
#define COMSG_TEST_TOOLRUN_H

#include <limits.h>
#include <stdarg.h>

static char tr_self[PATH_MAX];		/* this test program */
static char tr_dir[PATH_MAX];		/* BUILD/tools */

/* Find the tools; 0, or -1 if they are not built.  Orphans of the tools
 * we run (a grandchild whose parent died) come to us, to be reaped. */
static T_UNUSED int
tr_init(void)
{
	char path[PATH_MAX + 16], *slash;
	ssize_t n;
	int i;

	n = readlink("/proc/self/exe", tr_self, sizeof(tr_self) - 1);
	if (n < 0)
		return -1;
	tr_self[n] = '\0';
	snprintf(tr_dir, sizeof(tr_dir), "%s", tr_self);
	for (i = 0; i < 2; i++) {
		if ((slash = strrchr(tr_dir, '/')) == NULL)
			return -1;
		*slash = '\0';
	}
	if (strlen(tr_dir) + sizeof("/tools") > sizeof(tr_dir))
		return -1;
	strcat(tr_dir, "/tools");
	snprintf(path, sizeof(path), "%s/capv", tr_dir);
	if (access(path, X_OK) < 0)
		return -1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Under AddressSanitizer: the tools preload their libraries ahead of
	 * its runtime, and a tool in its seccomp sandbox cannot run the leak
	 * check at exit (it needs system calls the sandbox refuses). */
	{
		const char *old = getenv("ASAN_OPTIONS");
		char *opts;

		if (asprintf(&opts, "%s%s%s", old != NULL ? old : "",
		    old != NULL && old[0] != '\0' ? ":" : "",
		    "verify_asan_link_order=0:detect_leaks=0") >= 0) {
			setenv("ASAN_OPTIONS", opts, 1);
			free(opts);
		}
	}
	return 0;
}

/* The path of a tool, or of another file next to the tools. */
static T_UNUSED char *
tr_tool(const char *name)
{
	static char *paths[32];		/* kept, so never leaked */
	static int n;
	char path[PATH_MAX + 64];
	int i;

	snprintf(path, sizeof(path), "%s/%s", tr_dir, name);
	for (i = 0; i < n; i++)
		if (strcmp(paths[i], path) == 0)
			return paths[i];
	if (n == (int)(sizeof(paths) / sizeof(paths[0])) ||
	    (paths[n] = strdup(path)) == NULL) {
		fprintf(stderr, "tr_tool: out of room\n");
		t_fail();
	}
	return paths[n++];
}

/*
 * Start argv (argv[0] a path) with stdout and stderr into a pipe whose read
 * end goes to *fdp (fdp NULL: our own output), the environment changed by
 * env ("NAME=VALUE" set, "NAME=" unset; NULL-terminated, or NULL).  The
 * process dies with the test.
 */
static T_UNUSED pid_t
tr_start(char *const argv[], const char *const env[], int *fdp)
{
	int p[2] = { -1, -1 }, i;
	pid_t pid;

	if (fdp != NULL && pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe");
		t_fail();
	}
	pid = t_fork();
	if (pid == 0) {
		if (fdp != NULL && (dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0))
			_exit(126);
		for (i = 0; env != NULL && env[i] != NULL; i++) {
			char *eq = strchr(env[i], '='), name[256];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]),
			    env[i]);
			if (eq[1] == '\0')
				unsetenv(name);
			else
				setenv(name, eq + 1, 1);
		}
		execv(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (fdp != NULL) {
		close(p[1]);
		*fdp = p[0];
	}
	return pid;
}

/* Read fd to its end into buf (NUL-terminated; cut at size). */
static T_UNUSED void
tr_slurp(int fd, char *buf, size_t size)
{
	size_t used = 0;
	char junk[256];
	ssize_t n;

	for (;;) {
		if (used + 1 < size)
			n = read(fd, buf + used, size - 1 - used);
		else
			n = read(fd, junk, sizeof(junk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < size)
			used += (size_t)n;
	}
	buf[used] = '\0';
}

/* Run argv to its end, its output into buf; its exit status (128 plus the
 * signal if one killed it). */
static T_UNUSED int
tr_runenv(char *const argv[], const char *const env[], char *buf, size_t size)
{
	int fd, rc;
	pid_t pid = tr_start(argv, env, &fd);

	tr_slurp(fd, buf, size);
	close(fd);
	rc = t_wait(pid);
	return rc;
}

static T_UNUSED int
tr_run(char *const argv[], char *buf, size_t size)
{
	return tr_runenv(argv, NULL, buf, size);
}

/* Read lines from fd until one holds needle; that line is left in line.
 * 0, or -1 at the end of the output. */
static T_UNUSED int
tr_expect(int fd, const char *needle, char *line, size_t size)
{
	size_t used = 0;
	char c;
	ssize_t n;

	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			line[used] = '\0';
			return -1;
		}
		if (c != '\n') {
			if (used + 1 < size)
				line[used++] = c;
			continue;
		}
		line[used] = '\0';
		if (strstr(line, needle) != NULL)
			return 0;
		used = 0;
	}
}

/* Fail, showing what a tool said, unless cond holds. */
#define CHECK_OUT(cond, out) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "--- output:\n%s--- end\n", (out));	\
		CHECK(cond);						\
	}								\
} while (0)

#endif
