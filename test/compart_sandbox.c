/* Process mode: denying a whole intercept group (file, net, proc) has the
 * kernel refuse that group's system calls to the compartment's process,
 * even made by number past its shim; such a deny is final.  Colocated, an
 * intercept holds only calls by name: the same system calls go through. */
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "compart_util.h"

static long (*sys)(long, long, long, long);
static long (*thread_ok)(void);

static void *
call_from_thread(void *arg)
{
	(void)arg;
	return (void *)sys(SYS_getpid, 0, 0, 0);
}

static int
scenario(int mode)
{
	compart_window_t *w;
	compart_t *c;
	char *path, *dir;
	long fd, pid;
	void *ret;
	pthread_t t;

	c = cmp_load("cmp_sys", "sys");
	CHECK((sys = COMPART_FN(c, long (*)(long, long, long, long), "sys")) != NULL);
	CHECK((thread_ok = COMPART_FN(c, long (*)(void), "thread_ok")) != NULL);
	/* the paths it is given live in a window open to it */
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((path = compart_window_alloc(w, 4096)) != NULL);
	CHECK(compart_window_open(w, c) == 0);
	strcpy(path, "/dev/null");
	dir = path + 256;
	snprintf(dir, 256, "/tmp/compart_sandbox.%d", (int)getpid());

	/* allowed, even denied by function name: open by number is not
	 * the shim's open() */
	CHECK((fd = sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY)) >= 0);
	CHECK(sys(SYS_close, fd, 0, 0) == 0);
	CHECK(compart_policy(c, "open", COMPART_DENY) == 0);
	CHECK((fd = sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY)) >= 0);
	CHECK(sys(SYS_close, fd, 0, 0) == 0);
	CHECK(compart_policy(c, "open", COMPART_ALLOW) == 0);

	CHECK(compart_policy(c, "file", COMPART_DENY) == 0);
	CHECK(compart_policy(c, "net", COMPART_DENY) == 0);
	CHECK(compart_policy(c, "proc", COMPART_DENY) == 0);
	pid = sys(SYS_getpid, 0, 0, 0);
	CHECK(pid > 0);
	if (mode != COMPART_PROCESS) {
		/* colocated: the policy binds calls by name only */
		CHECK(pid == getpid());
		CHECK((fd = sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY)) >= 0);
		CHECK(sys(SYS_close, fd, 0, 0) == 0);
		CHECK(compart_policy(c, "*", COMPART_ALLOW) == 0);
		goto out;
	}
	CHECK(pid != getpid());

	/* file: opening, making, removing by path */
	CHECK(sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY) == -EACCES);
	CHECK(sys(SYS_open, (long)path, O_RDONLY, 0) == -EACCES);
	CHECK(sys(SYS_mkdir, (long)dir, 0700, 0) == -EACCES);
	CHECK(access(dir, F_OK) < 0);
	CHECK(sys(SYS_unlink, (long)path, 0, 0) == -EACCES);
	/* io_uring would open past the filter; x32 numbers, another
	 * table */
	CHECK(sys(SYS_io_uring_setup, 8, (long)(path + 1024), 0) == -EACCES);
	CHECK(sys(SYS_openat | 0x40000000, AT_FDCWD, (long)path, O_RDONLY) == -EACCES);
	/* net: no new socket */
	CHECK(sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0) == -EACCES);
	CHECK(sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, (long)(path + 2048)) == -EACCES);
	/* proc: no new process or program, no signal to another process;
	 * threads and signals to itself still */
	CHECK(sys(SYS_fork, 0, 0, 0) == -EACCES);
	CHECK(sys(SYS_clone, SIGCHLD, 0, 0) == -EACCES);
	CHECK(sys(SYS_clone3, 0, 0, 0) == -ENOSYS);
	CHECK(sys(SYS_execve, (long)path, 0, 0) == -EACCES);
	CHECK(sys(SYS_kill, getpid(), 0, 0) == -EACCES);
	CHECK(sys(SYS_kill, 0, 0, 0) == -EACCES);
	CHECK(sys(SYS_kill, pid, 0, 0) == 0);
	CHECK(thread_ok() == 0);

	/* the process still serves: a call from a new thread of ours is a
	 * new connection, accepted under the filters */
	CHECK(pthread_create(&t, NULL, call_from_thread, NULL) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK((long)ret == pid);

	/* final: no way back, by group, function or "*"; time is the
	 * shim's alone, and may change */
	CHECK_ERR(compart_policy(c, "file", COMPART_ALLOW), EPERM);
	CHECK_ERR(compart_policy(c, "open", COMPART_LOG), EPERM);
	CHECK_ERR(compart_policy(c, "*", COMPART_ALLOW), EPERM);
	CHECK(compart_policy(c, "time", COMPART_DENY) == 0);
	CHECK(compart_policy(c, "time", COMPART_ALLOW) == 0);
	CHECK(compart_policy(c, "*", COMPART_DENY | COMPART_LOG) == 0);
	CHECK(sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY) == -EACCES);
out:
	CHECK(compart_window_destroy(w) == 0);
	CHECK(compart_unload(c) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	return cmp_each_mode(argc, argv, cmp_every_mode, scenario);
}
