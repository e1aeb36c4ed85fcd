/*
 * Targets: coregister() makes one served by the calling thread (a gate, the
 * thread's doorbell, a label, maybe a name); capfree() releases any
 * capability, and stops serving a target.
 *
 * The gate is a listening UNIX socket whose name is removed from the file
 * system as soon as it is made: what remains is an O_PATH descriptor to
 * it, and only a holder of that descriptor can connect.  Each connection
 * is private to its caller, so no holder can disturb another's.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* Make a gate: the listening socket in *listenp, the O_PATH descriptor to
 * it returned. */
static int
gate_create(int *listenp)
{
	static uint32_t counter;
	struct sockaddr_un sun;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int s = -1, p = -1, n, dirfd = -1;

	if (domain_subdir("gates", dir, sizeof(dir)) < 0)
		return -1;
	n = snprintf(path, sizeof(path), "%s/%d.%u", dir, (int)getpid(),
	    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unix_addr(path, &sun, &dirfd) < 0)
		return -1;
	s = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		goto fail;
	(void)sys_unlink(path);	/* a leftover of a dead namesake */
	if (sys_bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    sys_listen(s, SOMAXCONN) < 0)
		goto fail;
	/* Connecting needs write permission on the socket's inode: grant it
	 * to all, since the name goes away and the O_PATH descriptor alone
	 * decides who can reach it (also another user it is given to). */
	if (sys_chmod(path, 0666) < 0)
		goto fail;
	p = sys_open(path, O_PATH | O_CLOEXEC, 0);
	if (p < 0)
		goto fail;
	sys_unlink(path);
	if (dirfd >= 0)
		sys_close(dirfd);
	*listenp = s;
	return p;
fail:
	n = errno;
	sys_unlink(path);
	if (s >= 0)
		sys_close(s);
	if (dirfd >= 0)
		sys_close(dirfd);
	errno = n;
	return -1;
}

int
coregister_label(const char *name, uint64_t label, void **targetp)
{
	struct cothread *t;
	struct acceptor *a;
	struct cap *c;
	int fds[2], listen_fd, e;

	if (targetp == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (name != NULL && name_check(name, COCALL_NAMEMAX) < 0)
		return -1;
	if ((t = cothread_get()) == NULL || (a = acceptor_get(t)) == NULL)
		return -1;
	fds[0] = gate_create(&listen_fd);
	if (fds[0] < 0)
		return -1;
	fds[1] = sys_fcntl(acceptor_bell_fd(a), F_DUPFD_CLOEXEC, 3);
	if (fds[1] < 0) {
		e = errno;
		sys_close(fds[0]);
		sys_close(listen_fd);
		errno = e;
		return -1;
	}
	c = cap_new(CAP_TARGET, fds);	/* takes fds */
	if (c == NULL) {
		sys_close(listen_fd);
		return -1;
	}
	c->listen_fd = listen_fd;
	c->label = label;
	if (acceptor_add_target(a, c) < 0)
		goto fail;
	if (name != NULL && names_publish(c, name) < 0) {
		acceptor_remove_target(a, c);
		goto fail;
	}
	*targetp = c;
	return 0;
fail:
	e = errno;
	if (c->listen_fd >= 0)
		sys_close(c->listen_fd);
	cap_release(c);
	errno = e;
	return -1;
}

int
coregister(const char *name, void **targetp)
{
	return coregister_label(name, 0, targetp);
}

int
capfree(void *cap)
{
	struct cap *c = cap_get(cap, 0);
	struct cothread *t;

	if (c == NULL)
		return -1;
	t = cothread_get();
	if (c->server != NULL) {
		/* Only the serving thread may stop serving: the acceptor's
		 * state is that thread's alone. */
		if (t == NULL)
			return -1;
		if (c->server != t->acc) {
			errno = EBUSY;
			return -1;
		}
		acceptor_remove_target(t->acc, c);
	}
	names_withdraw(c);
	capv_forget(c);
	if (t != NULL)
		caller_forget(t, c);
	cap_release(c);
	return 0;
}
