/*
 * Process placement, the host's side: the compartment runs in a process
 * of its own, a fresh program (comsg-compart, proc_main.c; executed, not
 * forked: it holds nothing of the host's memory and only the descriptors
 * given to it), which loads it there and serves its entry points by
 * coaccept().  A call through a gate becomes a cocall() carrying the
 * argument registers; pointer arguments must point into window memory
 * open to it (the gate checks), which the host hands over block by block
 * (a memfd each) as windows open, to be mapped at the same address as in
 * the host (arena.c, window.c).  The reply is untrusted: its size is
 * checked and its errno bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "internal.h"
#include "process.h"
#include "../lib/progpath.h"

#define ARENA_TRIES	8	/* processes started to find the arena free */

/* A descriptor over the socket to the compartment's process, with one
 * byte (fd_recv() in proc_main.c takes it). */
static int
fd_send(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 0;
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 :
	    set_err(errno, "cannot pass window memory: %s", strerror(errno));
}

/* Parse "name\0sig\0..." from the child: untrusted, bounded. */
static int
entries_parse(struct compart *c, const char *list, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *name = list + off, *sig, *end;

		end = memchr(name, '\0', len - off);
		if (end == NULL)
			return set_err(EPROTO, "bad entry list");
		sig = end + 1;
		if ((size_t)(sig - list) >= len ||
		    (end = memchr(sig, '\0', len - (size_t)(sig - list))) == NULL)
			return set_err(EPROTO, "bad entry list");
		if (entry_add(c, name, sig, NULL) < 0)
			return -1;
		off = (size_t)(end + 1 - list);
	}
	return 0;
}

/* Tell the compartment's process what to load, and where the arena is. */
static int
setup_send(int sock, struct compart *c, const struct compart_attr *attr)
{
	struct pm_setup *su;
	size_t len = sizeof(*su), n, arena_size;
	void *arena;
	int i, rc;

	su = calloc(1, SETUP_MAX);
	if (su == NULL)
		return set_err(ENOMEM, "out of memory");
	arena_get(&arena, &arena_size);
	su->magic = PM_MAGIC;
	su->heap_size = c->heap_size;
	su->stack_size = c->stack_size;
	su->arena = (uintptr_t)arena;
	su->arena_size = arena_size;
	snprintf(su->name, sizeof(su->name), "%s", c->name);
	if (strlen(c->path) >= sizeof(su->path)) {
		free(su);
		return set_err(ENAMETOOLONG, "path too long");
	}
	strcpy(su->path, c->path);
	for (i = 0; attr->entries != NULL && attr->entries[i] != NULL; i++) {
		n = strlen(attr->entries[i]) + 1;
		if (len + n > SETUP_MAX) {
			free(su);
			return set_err(E2BIG, "too many declared entry points");
		}
		memcpy((char *)su + len, attr->entries[i], n);
		len += n;
		su->ndeclared++;
	}
	rc = send(sock, su, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 :
	    set_err(errno, "cannot send the setup: %s", strerror(errno));
	free(su);
	return rc;
}

/* Start comsg-compart with sock as its descriptor 3, the log descriptor
 * (compart_log_fd) as its 4, and nothing else of ours but the standard
 * streams. */
static int
proc_spawn(struct compart *c, int sock)
{
	char prog[PATH_MAX], parent[24];
	char *argv[] = { "comsg-compart", parent, NULL };
	posix_spawn_file_actions_t fa;
	char **envp;
	int r, hi_sock, hi_log;

	if (progpath_find("comsg-compart", "COMSG_COMPART",
	    (const void *)proc_spawn, prog, sizeof(prog)) < 0)
		return set_err(ENOENT, "the program comsg-compart was not "
		    "found (set COMSG_COMPART to its path)");
	if ((envp = progpath_environ(NULL)) == NULL)
		return set_err(ENOMEM, "out of memory");
	/* Copies above both targets, so that neither dup2 undoes the other. */
	hi_sock = fcntl(sock, F_DUPFD_CLOEXEC, PROC_LOG_FD + 1);
	hi_log = fcntl(intercept_log_fd(), F_DUPFD_CLOEXEC, PROC_LOG_FD + 1);
	if (hi_sock < 0 || hi_log < 0) {
		r = errno;
		free(envp);
		if (hi_sock >= 0)
			close(hi_sock);
		return set_err(r, "cannot pass descriptors: %s", strerror(r));
	}
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, hi_sock, PROC_FD);
	posix_spawn_file_actions_adddup2(&fa, hi_log, PROC_LOG_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, PROC_LOG_FD + 1);
	fflush(NULL);
	r = posix_spawn(&c->pid, prog, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(hi_sock);
	close(hi_log);
	if (r != 0)
		return set_err(r, "cannot start %s: %s", prog, strerror(r));
	return 0;
}

int
proc_start(struct compart *c, const struct compart_attr *attr)
{
	struct pm_hello hello;
	char *list = NULL;
	ssize_t n;
	int sv[2], tries = 0;

	if (arena_init() < 0)
		return -1;
again:
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return set_err(errno, "socketpair: %s", strerror(errno));
	if (proc_spawn(c, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (setup_send(sv[0], c, attr) < 0) {
		close(sv[1]);
		goto fail;
	}
	close(sv[1]);
	n = recv(sv[0], &hello, sizeof(hello), 0);
	if (n != (ssize_t)sizeof(hello)) {
		set_err(ENOLINK, "%s: its process died while starting", c->name);
		goto fail;
	}
	/* The new process's layout is random, as ours is: now and then it
	 * has something where our arena is.  Another process, another
	 * layout. */
	if (hello.err == EADDRINUSE && ++tries < ARENA_TRIES) {
		close(sv[0]);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		goto again;
	}
	if (hello.err != 0) {
		hello.msg[sizeof(hello.msg) - 1] = '\0';
		set_err(hello.err > 0 && hello.err < 4096 ? hello.err : EPROTO,
		    "%s", hello.msg);
		goto fail;
	}
	list = malloc(LIST_MAX);
	if (list == NULL) {
		set_err(ENOMEM, "out of memory");
		goto fail;
	}
	if (caprecv(sv[0], &c->target) < 0) {
		set_err(ENOLINK, "%s: no target from its process", c->name);
		goto fail;
	}
	n = recv(sv[0], list, LIST_MAX, 0);
	if (n < 0 || entries_parse(c, list, (size_t)n) < 0) {
		if (n < 0)
			set_err(ENOLINK, "%s: no entry list", c->name);
		goto fail;
	}
	free(list);
	c->sock = sv[0];	/* for window memory, later */
	return 0;
fail:
	free(list);
	close(sv[0]);
	if (c->target != NULL)
		capfree(c->target);
	c->target = NULL;
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	return -1;
}

void
proc_stop(struct compart *c)
{
	struct pm_req req;
	struct comsg m;

	memset(&req, 0, sizeof(req));
	req.op = OP_EXIT;
	memset(&m, 0, sizeof(m));
	m.out = &req;
	m.outlen = sizeof(req);
	/* it exits without a reply: the call ends with ENOLINK */
	if (cocallv(c->target, &m, 0, 2000) < 0 && errno == ETIMEDOUT)
		kill(c->pid, SIGKILL);
	capfree(c->target);
	close(c->sock);
	waitpid(c->pid, NULL, 0);
}

/* A request without results to the compartment's process (2 s at most:
 * the table lock is held). */
static int
proc_request(struct compart *c, struct pm_req *req)
{
	struct pm_rep rep;
	struct comsg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.out = req;
	m.outlen = sizeof(*req);
	m.in = &rep;
	m.inlen = sizeof(rep);
	n = cocallv(c->target, &m, 0, 2000);
	if (n != (ssize_t)sizeof(rep))
		return set_err(n < 0 ? errno : EPROTO, "%s: no answer from its "
		    "process", c->name);
	if (rep.status == 0)
		return 0;
	if (rep.err == EPERM)
		return set_err(EPERM, "%s: the kernel refuses that group to its "
		    "process for good (denied before)", c->name);
	return set_err(EINVAL, "%s: its process refused (%s)", c->name,
	    strerror(rep.err > 0 && rep.err < 4096 ? rep.err : EPROTO));
}

/* Window memory [p, p+len), the memfd fd, into c's process. */
int
proc_map(struct compart *c, void *p, size_t len, int fd)
{
	struct pm_req req;

	memset(&req, 0, sizeof(req));
	req.op = OP_MAP;
	req.gp[0] = (uintptr_t)p;
	req.gp[1] = len;
	if (fd_send(c->sock, fd) < 0)
		return -1;
	return proc_request(c, &req);
}

/* And out again: c's process lets go of its mapping (it is trusted to,
 * docs/compartments.md). */
void
proc_unmap(struct compart *c, void *p, size_t len)
{
	struct pm_req req;

	memset(&req, 0, sizeof(req));
	req.op = OP_UNMAP;
	req.gp[0] = (uintptr_t)p;
	req.gp[1] = len;
	proc_request(c, &req);
}

int
proc_policy(struct compart *c, const char *what, int action)
{
	struct pm_req req;

	memset(&req, 0, sizeof(req));
	req.op = OP_POLICY;
	req.entry = (uint32_t)action;
	snprintf(req.arg, sizeof(req.arg), "%s", what);
	return proc_request(c, &req);
}

/* Run the call in f in c's process: 0, or the errno for the caller. */
int
proc_call(struct frame *f)
{
	struct gate *g = f->g;
	struct compart *c = g->c;
	struct entry *e = &c->entries[g->eidx];
	struct pm_req req;
	struct pm_rep rep;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.op = OP_CALL;
	req.entry = (uint32_t)e->remote;
	req.nstack = (uint32_t)f->nstack;
	memcpy(req.gp, f->gp, sizeof(req.gp));
	memcpy(req.xmm, f->xmm, sizeof(req.xmm));
	memcpy(req.stack, f->stack, f->nstack);
	n = cocall(c->target, &req, sizeof(req), &rep, sizeof(rep));
	if (n != (ssize_t)sizeof(rep)) {
		int err = n < 0 ? errno : EPROTO;

		if (err == ENOLINK)
			set_err(err, "%s: its process died in the call to %s "
			    "(%s)", c->name, e->name, strerror(err));
		else
			set_err(err, "%s: call to %s failed: %s", c->name,
			    e->name, strerror(err));
		return err;
	}
	if (rep.status != 0)
		return rep.err > 0 && rep.err < 4096 ? rep.err : EPROTO;
	f->rax = rep.rax;
	f->rdx = rep.rdx;
	f->x0 = rep.x0;
	f->x1 = rep.x1;
	return 0;
}
