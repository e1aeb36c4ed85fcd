/*
 * Process placement: the compartment runs in a process of its own, a
 * fresh program (comsg-compart, executed, not forked: it holds nothing of
 * the host's memory and only the descriptors given to it), which loads it
 * there (none mode: alone in that process, it needs no isolation from
 * itself) and serves its entry points by coaccept().  A call through a
 * gate becomes a cocall() carrying the argument registers; pointer
 * arguments must point into window memory open to it, which the host
 * hands over block by block (a memfd each) as windows open, to be mapped
 * at the same address as in the host (window.c).  The reply is
 * untrusted: its size is checked and its errno bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "../lib/progpath.h"

/* OP_MAP: gp[0], gp[1] the address and length of window memory whose
 * memfd was just sent on the socket; OP_UNMAP: the same, to let go. */
enum { OP_CALL = 1, OP_POLICY, OP_EXIT, OP_MAP, OP_UNMAP };

struct pm_req {
	uint32_t	 op;
	uint32_t	 entry;		/* OP_CALL: index; OP_POLICY: action */
	uint32_t	 nstack;
	uint32_t	 pad;
	uint64_t	 gp[6];
	double		 xmm[8];
	uint64_t	 stack[MAXSTACKARGS];
	char		 arg[64];	/* OP_POLICY: what */
};

struct pm_rep {
	int32_t		 status;	/* 0, or -1 with err */
	int32_t		 err;
	uint64_t	 rax, rdx;
	double		 x0, x1;
};

struct pm_hello {
	int32_t		 err;
	char		 msg[252];
};

#define LIST_MAX	COCALL_MAXLEN

/*
 * The first message to the compartment's process, on the socket it finds
 * as descriptor 3, with the window arena's memfd attached: what to load
 * and how, where the arena goes; then the entry points declared by the
 * host ("name:sig\0" each, ndeclared of them) up to the message's end.
 */
#define PM_MAGIC	0x31706d63	/* "cmp1" */
struct pm_setup {
	uint32_t	 magic;
	uint32_t	 ndeclared;
	uint64_t	 heap_size, stack_size;
	uint64_t	 arena, arena_size;
	char		 name[64];
	char		 path[PATH_MAX];
};
#define SETUP_MAX	(sizeof(struct pm_setup) + LIST_MAX)
#define PROC_FD		3	/* the socket, in comsg-compart */
#define PROC_LOG_FD	4	/* where COMPART_LOG lines go */
#define ARENA_TRIES	8	/* processes started to find the arena free */

static void
proc_fail(struct frame *f, int err)
{
	f->rax = (uint64_t)-1;
	f->rdx = 0;
	f->x0 = f->x1 = NAN;
	/* the caller may be a colocated compartment with an import of this
	 * one: its own errno too */
	set_caller_errno((int)compart_thr.cur, err);
}

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

/* A descriptor over the socket to the compartment's process (with one
 * byte), and taking it there; -1 if none came. */
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

/*
 * The compartment's process (comsg-compart): receive the setup on
 * PROC_FD, load the compartment, hand over a target and the entry list, serve calls until
 * told to stop.  Never returns.
 */
void
proc_serve(void)
{
	struct compart_attr a;
	struct pm_hello hello;
	struct pm_setup *su;
	struct pm_req req;
	struct pm_rep rep;
	struct compart *lc;
	compart_t *cp;
	char *list, **declared = NULL;
	size_t len = 0, replen = 0;
	void *target, *cookie;
	int i, sock = PROC_FD;
	unsigned denied = 0;	/* groups the kernel refuses us */

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
	memset(&hello, 0, sizeof(hello));
	cp = compart_load(su->path, &a);
	if (cp == NULL)
		hello_fail(sock, errno, compart_error());
	free(declared);
	free(su);
	lc = (struct compart *)cp;
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
	for (;;) {
		ssize_t n = coaccept(&cookie, &rep, replen, &req, sizeof(req));
		struct frame f;

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
			if (req.entry >= (uint32_t)lc->nentries) {
				rep.status = -1;
				rep.err = EINVAL;
				break;
			}
			memset(&f, 0, sizeof(f));
			f.g = gate_make(lc, (int)req.entry);
			if (f.g == NULL || req.nstack != f.g->nstack) {
				rep.status = -1;
				rep.err = EINVAL;
				break;
			}
			memcpy(f.gp, req.gp, sizeof(f.gp));
			memcpy(f.xmm, req.xmm, sizeof(f.xmm));
			memcpy(f.stack, req.stack, f.g->nstack);
			gate_run_frame(&f);
			rep.rax = f.rax;
			rep.rdx = f.rdx;
			rep.x0 = f.x0;
			rep.x1 = f.x1;
			break;
		case OP_POLICY: {
			unsigned g;

			req.arg[sizeof(req.arg) - 1] = '\0';
			/* A group the kernel refuses cannot be allowed again. */
			if (!(req.entry & COMPART_DENY) &&
			    (sandbox_groups(req.arg, true) & denied)) {
				rep.status = -1;
				rep.err = EPERM;
				break;
			}
			if (policy_apply(lc, req.arg, (int)req.entry) < 0) {
				rep.status = -1;
				rep.err = EINVAL;
				break;
			}
			g = (req.entry & COMPART_DENY) ?
			    sandbox_groups(req.arg, false) & ~denied : 0;
			if (g != 0 && sandbox_deny(g) < 0) {
				rep.status = -1;
				rep.err = errno;
				break;
			}
			denied |= g;
			break;
		}
		case OP_MAP:
		case OP_UNMAP: {
			int fd = req.op == OP_MAP ? fd_recv(sock) : -1;

			if (!arena_holds(req.gp[0], req.gp[1]) ||
			    (req.op == OP_MAP && fd < 0) ||
			    arena_map((void *)(uintptr_t)req.gp[0], req.gp[1],
			    fd) < 0) {
				rep.status = -1;
				rep.err = EINVAL;
			}
			if (fd >= 0)
				close(fd);
			break;
		}
		case OP_EXIT:
			compart_unload(cp);
			_exit(0);
		default:
			rep.status = -1;
			rep.err = EINVAL;
		}
	}
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
	hi_log = fcntl(G.log_fd, F_DUPFD_CLOEXEC, PROC_LOG_FD + 1);
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
 * G.lock is held). */
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

void
proc_call(struct frame *f)
{
	struct gate *g = f->g;
	struct compart *c = g->c;
	struct entry *e = &c->entries[g->eidx];
	struct pm_req req;
	struct pm_rep rep;
	const char *p;
	int gi = 0, di = 0, si = 0;
	ssize_t n;

	/* Pointers must lead into windows open to c: nothing else of ours
	 * exists in its process. */
	for (p = e->sig + 2; *p != ')'; p++) {
		uint64_t v;

		if (*p == 'd') {
			if (di++ >= 8)
				si++;
			continue;
		}
		v = gi < 6 ? f->gp[gi++] : f->stack[si++];
		if ((*p == 'p' || *p == 's') && v != 0 &&
		    !window_covers(c->idx, (uintptr_t)v, 1)) {
			set_err(EFAULT, "%s: argument %d of %s (%#llx) is not "
			    "in a window open to it", c->name,
			    (int)(p - e->sig - 2) + 1, e->name,
			    (unsigned long long)v);
			proc_fail(f, EFAULT);
			return;
		}
	}
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
		proc_fail(f, err);
		return;
	}
	if (rep.status != 0) {
		proc_fail(f, rep.err > 0 && rep.err < 4096 ? rep.err : EPROTO);
		return;
	}
	f->rax = rep.rax;
	f->rdx = rep.rdx;
	f->x0 = rep.x0;
	f->x1 = rep.x1;
}
