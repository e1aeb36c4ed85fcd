/*
 * Targets: coregister() makes one served by the calling thread (a gate
 * socketpair, the thread's doorbell, a label, maybe a name); capfree()
 * releases any capability, and stops serving a target.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

int
coregister_label(const char *name, uint64_t label, void **targetp)
{
	struct cothread *t;
	struct acceptor *a;
	struct cap *c;
	int sv[2], fds[2], on = 1;

	if (targetp == NULL || (name != NULL && !name_valid(name))) {
		errno = EINVAL;
		return -1;
	}
	if ((t = cothread_get()) == NULL || (a = acceptor_get(t)) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	/* The kernel tells us who sent each connect. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		goto fail_sv;
	fds[0] = sv[1];
	fds[1] = fcntl(acceptor_bell_fd(a), F_DUPFD_CLOEXEC, 3);
	if (fds[1] < 0)
		goto fail_sv;
	c = cap_new(CAP_TARGET, fds);	/* takes fds */
	if (c == NULL) {
		close(sv[0]);
		return -1;
	}
	c->gate_rx = sv[0];
	c->label = label;
	if (acceptor_add_target(a, c) < 0)
		goto fail_cap;
	if (name != NULL && names_publish(c, name) < 0) {
		acceptor_remove_target(a, c);
		goto fail_cap;
	}
	*targetp = c;
	return 0;
fail_sv:
	close(sv[0]);
	close(sv[1]);
	return -1;
fail_cap:
	{
		int e = errno;

		if (c->gate_rx >= 0)
			close(c->gate_rx);
		cap_release(c);
		errno = e;
	}
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
		if (t == NULL || c->server != t->acc) {
			errno = EBUSY;
			return -1;
		}
		names_withdraw(c);
		acceptor_remove_target(t->acc, c);
	}
	capv_forget(c);
	if (t != NULL)
		caller_forget(t, c);
	cap_release(c);
	return 0;
}
