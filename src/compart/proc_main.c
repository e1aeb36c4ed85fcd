/*
 * comsg-compart: the process a compartment in process mode runs in.
 * libcompart starts it with a socket as descriptor 3 and its own pid as
 * the argument; it dies with that process.  Not for running by hand.  It
 * receives the setup on the socket, loads the compartment (none mode:
 * alone in this process, it needs no isolation from itself), hands the
 * host a target and the entry list, and serves calls by coaccept() until
 * told to stop (process.h has the formats).  Everything the host sends is
 * checked as untrusted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "internal.h"
#include "process.h"

/* Hand the host a failure while starting, and stop. */
static void __attribute__((noreturn))
hello_fail(int sock, int err, const char *msg)
{
	struct pm_hello hello;

	memset(&hello, 0, sizeof(hello));
	hello.err = err;
	snprintf(hello.msg, sizeof(hello.msg), "%s", msg);
	send(sock, &hello, sizeof(hello), MSG_NOSIGNAL);
	_exit(1);
}

/* Receive and check the setup; reserve the arena where the host has it. */
static int
setup_recv(int sock, struct pm_setup *su, char ***declared)
{
	char *buf = (char *)su, **list;
	ssize_t n;
	size_t off;
	uint32_t i;

	n = recv(sock, su, SETUP_MAX, 0);
	if (n < (ssize_t)sizeof(*su) || su->magic != PM_MAGIC ||
	    memchr(su->name, '\0', sizeof(su->name)) == NULL ||
	    memchr(su->path, '\0', sizeof(su->path)) == NULL ||
	    su->ndeclared > LIST_MAX / 4)
		return set_err(EPROTO, "bad setup message");
	list = calloc(su->ndeclared + 1, sizeof(*list));
	if (list == NULL)
		return set_err(ENOMEM, "out of memory");
	for (i = 0, off = sizeof(*su); i < su->ndeclared; i++) {
		char *end = off < (size_t)n ?
		    memchr(buf + off, '\0', (size_t)n - off) : NULL;

		if (end == NULL) {
			free(list);
			return set_err(EPROTO, "bad setup message");
		}
		list[i] = buf + off;
		off = (size_t)(end + 1 - buf);
	}
	*declared = list;
	return arena_adopt((void *)(uintptr_t)su->arena, su->arena_size);
}

/* The descriptor the host sent with one byte (fd_send() in process.c);
 * -1 if none came. */
static int
fd_recv(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Load the compartment the setup names, out of reach of the processes
 * outside first: the compartment is loaded or we stop. */
static compart_t *
serve_load(int sock)
{
	struct compart_attr a;
	struct pm_setup *su;
	char **declared = NULL;
	compart_t *cp;

	su = malloc(SETUP_MAX);
	if (su == NULL)
		hello_fail(sock, ENOMEM, "out of memory");
	if (setup_recv(sock, su, &declared) < 0 ||
	    compart_init(COMPART_NONE) < 0 || compart_log_fd(PROC_LOG_FD) < 0)
		hello_fail(sock, errno, compart_error());
	/* Before the compartment's first instruction (its constructors). */
	if (sandbox_landlock() < 0 && errno != ENOSYS && errno != EOPNOTSUPP)
		hello_fail(sock, errno, compart_error());
	compart_attr_init(&a);
	a.name = su->name;
	a.mode = COMPART_NONE;
	a.heap_size = su->heap_size;
	a.stack_size = su->stack_size;
	a.entries = (const char *const *)declared;
	cp = compart_load(su->path, &a);
	if (cp == NULL)
		hello_fail(sock, errno, compart_error());
	free(declared);
	free(su);
	return cp;
}

/* Hello, a target to call, the entry points ("name\0sig\0" each): or we
 * stop. */
static void
serve_hello(int sock, struct compart *lc)
{
	struct pm_hello hello;
	size_t len = 0;
	void *target;
	char *list;
	int i;

	memset(&hello, 0, sizeof(hello));
	if (coregister(NULL, &target) < 0)
		hello_fail(sock, errno, "coregister failed");
	list = malloc(LIST_MAX);
	for (i = 0; list != NULL && i < lc->nentries; i++) {
		size_t n = strlen(lc->entries[i].name) + 1,
		    m = strlen(lc->entries[i].sig) + 1;

		if (len + n + m > LIST_MAX)
			break;
		memcpy(list + len, lc->entries[i].name, n);
		memcpy(list + len + n, lc->entries[i].sig, m);
		len += n + m;
	}
	if (list == NULL ||
	    send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) < 0 ||
	    capsend(sock, target) < 0 ||
	    send(sock, list, len, MSG_NOSIGNAL) < 0)
		_exit(1);
	free(list);
}

/* OP_CALL: the entry's call, its stack arguments as many as its
 * signature says. */
static void
serve_call(struct compart *lc, const struct pm_req *req, struct pm_rep *rep)
{
	struct frame f;

	if (req->entry >= (uint32_t)lc->nentries) {
		rep->status = -1;
		rep->err = EINVAL;
		return;
	}
	memset(&f, 0, sizeof(f));
	f.g = gate_make(lc, (int)req->entry);
	if (f.g == NULL || req->nstack != f.g->nstack) {
		rep->status = -1;
		rep->err = EINVAL;
		return;
	}
	memcpy(f.gp, req->gp, sizeof(f.gp));
	memcpy(f.xmm, req->xmm, sizeof(f.xmm));
	memcpy(f.stack, req->stack, f.g->nstack);
	gate_run_frame(&f);
	rep->rax = f.rax;
	rep->rdx = f.rdx;
	rep->x0 = f.x0;
	rep->x1 = f.x1;
}

/* OP_POLICY: our copy of the policy, and what the kernel is to refuse us
 * from now on (*denied: the groups it refuses already; a group the
 * kernel refuses cannot be allowed again). */
static void
serve_policy(struct compart *lc, struct pm_req *req, struct pm_rep *rep,
    unsigned *denied)
{
	unsigned g;

	req->arg[sizeof(req->arg) - 1] = '\0';
	if (!(req->entry & COMPART_DENY) &&
	    (sandbox_groups(req->arg, true) & *denied)) {
		rep->status = -1;
		rep->err = EPERM;
		return;
	}
	if (policy_apply(lc, req->arg, (int)req->entry) < 0) {
		rep->status = -1;
		rep->err = EINVAL;
		return;
	}
	g = (req->entry & COMPART_DENY) ?
	    sandbox_groups(req->arg, false) & ~*denied : 0;
	if (g != 0 && sandbox_deny(g) < 0) {
		rep->status = -1;
		rep->err = errno;
		return;
	}
	*denied |= g;
}

/* OP_MAP, OP_UNMAP: window memory in the arena, or out of it again. */
static void
serve_map(int sock, const struct pm_req *req, struct pm_rep *rep)
{
	int fd = req->op == OP_MAP ? fd_recv(sock) : -1;

	if (!arena_holds(req->gp[0], req->gp[1]) ||
	    (req->op == OP_MAP && fd < 0) ||
	    arena_map((void *)(uintptr_t)req->gp[0], req->gp[1], fd) < 0) {
		rep->status = -1;
		rep->err = EINVAL;
	}
	if (fd >= 0)
		close(fd);
}

static void __attribute__((noreturn))
serve(void)
{
	int sock = PROC_FD;
	compart_t *cp = serve_load(sock);
	struct compart *lc = (struct compart *)cp;
	unsigned denied = 0;	/* groups the kernel refuses us */
	struct pm_req req;
	struct pm_rep rep;
	size_t replen = 0;
	void *cookie;

	serve_hello(sock, lc);
	for (;;) {
		ssize_t n = coaccept(&cookie, &rep, replen, &req, sizeof(req));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		replen = sizeof(rep);
		memset(&rep, 0, sizeof(rep));
		if (n != (ssize_t)sizeof(req)) {
			rep.status = -1;
			rep.err = EPROTO;
			continue;
		}
		switch (req.op) {
		case OP_CALL:
			serve_call(lc, &req, &rep);
			break;
		case OP_POLICY:
			serve_policy(lc, &req, &rep, &denied);
			break;
		case OP_MAP:
		case OP_UNMAP:
			serve_map(sock, &req, &rep);
			break;
		case OP_EXIT:
			compart_unload(cp);
			_exit(0);
		default:
			rep.status = -1;
			rep.err = EINVAL;
		}
	}
}

int
main(int argc, char **argv)
{
	char *end;
	long parent;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	parent = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 2 || *end != '\0' || parent != (long)getppid()) {
		fprintf(stderr, "comsg-compart: started by libcompart for a "
		    "compartment in process mode, not by hand\n");
		return 2;
	}
	serve();
}
