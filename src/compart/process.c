/*
 * Process placement: the compartment runs in a process of its own, forked
 * from the host, which loads it there (none mode: alone in that process,
 * it needs no isolation from itself) and serves its entry points by
 * coaccept().  A call through a gate becomes a cocall() carrying the
 * argument registers; pointer arguments must point into windows, whose
 * memory is the shared window arena, mapped at the same address in both.
 * The reply is untrusted: its size is checked and its errno bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "internal.h"

enum { OP_CALL = 1, OP_POLICY, OP_EXIT };

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

/* The compartment's process: load it, hand over a target, serve. */
static void __attribute__((noreturn))
child_main(const char *path, const struct compart_attr *attr, int sock)
{
	struct compart_attr a = *attr;
	struct pm_hello hello;
	struct pm_req req;
	struct pm_rep rep;
	struct compart *lc;
	compart_t *cp;
	char *list;
	size_t len = 0, replen = 0;
	void *target, *cookie;
	int i;

	/* Forget the host's compartments: this process serves one. */
	pthread_mutex_init(&G.lock, NULL);
	memset(G.c, 0, sizeof(G.c));
	memset(G.dom, 0, sizeof(G.dom));
	G.nloaded = 0;
	G.mode = COMPART_NONE;
	G.stats = false;
	a.mode = COMPART_NONE;
	memset(&hello, 0, sizeof(hello));
	cp = compart_load(path, &a);
	if (cp == NULL) {
		hello.err = errno;
		snprintf(hello.msg, sizeof(hello.msg), "%s", compart_error());
		send(sock, &hello, sizeof(hello), MSG_NOSIGNAL);
		_exit(1);
	}
	lc = (struct compart *)cp;
	if (coregister(NULL, &target) < 0) {
		hello.err = errno;
		snprintf(hello.msg, sizeof(hello.msg), "coregister: %s",
		    strerror(errno));
		send(sock, &hello, sizeof(hello), MSG_NOSIGNAL);
		_exit(1);
	}
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
	close(sock);
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
		case OP_POLICY:
			req.arg[sizeof(req.arg) - 1] = '\0';
			if (policy_apply(lc, req.arg, (int)req.entry) < 0) {
				rep.status = -1;
				rep.err = EINVAL;
			}
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

int
proc_start(struct compart *c, const struct compart_attr *attr)
{
	struct pm_hello hello;
	char *list = NULL;
	pid_t parent = getpid();
	ssize_t n;
	int sv[2];

	if (arena_init() < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return set_err(errno, "socketpair: %s", strerror(errno));
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return set_err(errno, "fork: %s", strerror(errno));
	}
	if (c->pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		child_main(c->path, attr, sv[1]);
	}
	close(sv[1]);
	n = recv(sv[0], &hello, sizeof(hello), 0);
	if (n != (ssize_t)sizeof(hello)) {
		set_err(ENOLINK, "%s: its process died while starting", c->name);
		goto fail;
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
	close(sv[0]);
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
	waitpid(c->pid, NULL, 0);
}

int
proc_policy(struct compart *c, const char *what, int action)
{
	struct pm_req req;
	struct pm_rep rep;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.op = OP_POLICY;
	req.entry = (uint32_t)action;
	snprintf(req.arg, sizeof(req.arg), "%s", what);
	n = cocall(c->target, &req, sizeof(req), &rep, sizeof(rep));
	if (n != (ssize_t)sizeof(rep))
		return set_err(n < 0 ? errno : EPROTO, "%s: policy not set",
		    c->name);
	if (rep.status != 0)
		return set_err(EINVAL, "%s: policy refused", c->name);
	return 0;
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

		set_err(err, "%s: call to %s failed: %s", c->name, e->name,
		    strerror(err));
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
