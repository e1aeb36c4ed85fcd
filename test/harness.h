/*
 * Test harness: each test is one program that exits 0 (pass), 1 (fail) or
 * 77 (skip).  Including this gives it a private domain (a fresh COMSG_DIR,
 * removed at exit), CHECK() that fails loudly, and children that cannot
 * outlive the test.
 */
#ifndef COMSG_TEST_HARNESS_H
#define COMSG_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comsg/capv.h"
#include "comsg/cocall.h"

#define T_UNUSED __attribute__((unused))
#define T_PASS	0
#define T_FAIL	1
#define T_SKIP	77

static pid_t t_main_pid;
static char t_dir[64];
static pid_t t_children[64];
static int t_nchildren;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: [pid %d] CHECK failed: %s (errno %d: %s)\n", \
		    __FILE__, __LINE__, (int)getpid(), #cond, errno,	\
		    strerror(errno));					\
		t_fail();						\
	}								\
} while (0)

#define CHECK_ERR(expr, err) do {					\
	errno = 0;							\
	long _r = (long)(expr);						\
	if (_r != -1 || errno != (err)) {				\
		fprintf(stderr, "%s:%d: [pid %d] %s: got %ld errno %d (%s), want -1 errno %d (%s)\n", \
		    __FILE__, __LINE__, (int)getpid(), #expr, _r, errno, \
		    strerror(errno), (err), strerror(err));		\
		t_fail();						\
	}								\
} while (0)

static T_UNUSED void
t_kill_children(void)
{
	int i;

	for (i = 0; i < t_nchildren; i++)
		if (t_children[i] > 0) {
			kill(t_children[i], SIGKILL);
			waitpid(t_children[i], NULL, 0);
			t_children[i] = 0;
		}
}

static T_UNUSED void
t_cleanup(void)
{
	char cmd[128];

	if (getpid() != t_main_pid)
		return;
	t_kill_children();
	if (t_dir[0] != '\0') {
		void *k;
		pid_t pid;

		/* A comsgd the test's coports started serves only its
		 * domain: it goes with it. */
		if (colookup("comsgd", &k) == 0) {
			if (cotargetpid(k, &pid) == 0)
				kill(pid, SIGKILL);
			capfree(k);
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", t_dir);
	}
}

static T_UNUSED void
t_fail(void)
{
	if (getpid() == t_main_pid)
		exit(T_FAIL);	/* atexit cleans up */
	_exit(T_FAIL);
}

static void
t_on_term(int sig)
{
	(void)sig;
	exit(T_FAIL);	/* atexit cleans up (main process only) */
}

__attribute__((constructor)) static void
t_init(void)
{
	t_main_pid = getpid();
	/* A test program that a test runs again (a child in another mode)
	 * stays in the domain of the test that ran it, which cleans up. */
	if (getenv("COMSG_TEST_DIR") == NULL) {
		snprintf(t_dir, sizeof(t_dir), "/tmp/comsg-test-XXXXXX");
		if (mkdtemp(t_dir) == NULL) {
			perror("mkdtemp");
			exit(T_FAIL);
		}
		setenv("COMSG_DIR", t_dir, 1);
		setenv("COMSG_TEST_DIR", t_dir, 1);
	}
	atexit(t_cleanup);
	/* runtests.sh's timeout ends a test with SIGTERM: clean up then too. */
	signal(SIGTERM, t_on_term);
	signal(SIGINT, t_on_term);
}

/* Remember a child, so that it is killed if the test ends early. */
static T_UNUSED void
t_track(pid_t pid)
{
	if (pid > 0 &&
	    t_nchildren < (int)(sizeof(t_children) / sizeof(t_children[0])))
		t_children[t_nchildren++] = pid;
}

/* fork() a child that dies with the test: 0 in the child, its pid (tracked)
 * in the parent. */
static T_UNUSED pid_t
t_fork(void)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		t_fail();
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != t_main_pid)
			_exit(T_FAIL);
		return 0;
	}
	t_track(pid);
	return pid;
}

/* Run fn(arg) in a child that dies with the test; returns its pid. */
static T_UNUSED pid_t
t_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = t_fork();

	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/*
 * Start a service in a child that dies with the test: it registers an
 * anonymous target, hands it to us over a socket, and runs serve(target).
 * Returns its pid; *targetp is our capability to the target.
 */
static T_UNUSED pid_t
t_service(int (*serve)(void *target), void **targetp)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		t_fail();
	}
	pid = t_fork();
	if (pid == 0) {
		void *t;

		close(sv[0]);
		if (coregister(NULL, &t) < 0 || capsend(sv[1], t) < 0) {
			perror("t_service");
			_exit(T_FAIL);
		}
		close(sv[1]);
		_exit(serve(t));
	}
	close(sv[1]);
	if (caprecv(sv[0], targetp) < 0) {
		perror("t_service: caprecv");
		t_fail();
	}
	close(sv[0]);
	return pid;
}

/* Wait for a child; returns its exit status, or 128 + signal. */
static T_UNUSED int
t_wait(pid_t pid)
{
	int st, i;

	if (waitpid(pid, &st, 0) < 0)
		return -1;
	for (i = 0; i < t_nchildren; i++)
		if (t_children[i] == pid)
			t_children[i] = 0;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static T_UNUSED int64_t
t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU time process pid has used so far (user and system), in ms. */
static T_UNUSED long
t_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK((p = strrchr(buf, ')')) != NULL);
	/* After the command: state is field 3; utime 14, stime 15. */
	for (i = 3; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	CHECK(p != NULL && sscanf(p, " %lu %lu", &ut, &st) == 2);
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* A one-way signal between processes: a pipe. */
struct t_gate { int fd[2]; };

static T_UNUSED void
t_gate_init(struct t_gate *g)
{
	if (pipe2(g->fd, O_CLOEXEC) < 0) {
		perror("pipe");
		t_fail();
	}
}

static T_UNUSED void
t_gate_open(struct t_gate *g)
{
	char c = 1;

	if (write(g->fd[1], &c, 1) != 1)
		t_fail();
}

static T_UNUSED void
t_gate_wait(struct t_gate *g)
{
	char c;

	if (read(g->fd[0], &c, 1) != 1) {
		fprintf(stderr, "[pid %d] gate closed without a signal\n",
		    (int)getpid());
		t_fail();
	}
}

#endif
