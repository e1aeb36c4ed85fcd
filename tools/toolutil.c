/*
 * What the co-process tools share (see toolutil.h).
 */
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comsg/coport.h"
#include "toolutil.h"
#include "../src/lib/progpath.h"

void *
tool_slot(int index)
{
	void **capv;
	int capc;

	if (capvfetch(&capc, &capv) < 0 || index < 0 || index >= capc)
		return NULL;
	return capv[index];
}

int
tool_slotarg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v >= CAPV_MAX)
		return -1;
	return (int)v;
}

int
tool_timeout(const char *arg)
{
	const char *env = getenv("COMSG_TIMEOUT");
	int ms;

	if (arg != NULL) {
		if ((ms = tool_parse_timeout(arg)) == -2)
			errx(EXIT_USAGE, "bad timeout: %s", arg);
		return ms;
	}
	if (env != NULL && env[0] != '\0') {
		if ((ms = tool_parse_timeout(env)) == -2)
			errx(EXIT_USAGE, "bad COMSG_TIMEOUT: %s", env);
		return ms;
	}
	return TOOL_TIMEOUT_MS;
}

int
tool_answerback(void *cap, bool slow, int timeout_ms, char *buf, size_t size)
{
	capv_answerback_t ab;
	capv_return_t r;
	struct comsg m;
	capv_t req;
	ssize_t n;

	/* Whole, padding included: what we send is the service's to see. */
	memset(&req, 0, sizeof(req));
	req.len = sizeof(req);
	req.op = CAPV_ANSWERBACK;
	memset(&ab, 0, sizeof(ab));
	memset(&m, 0, sizeof(m));
	m.out = &req;
	m.outlen = sizeof(req);
	m.in = &ab;
	m.inlen = sizeof(ab);
	n = cocallv(cap, &m, slow ? COCALL_SLOW : 0, timeout_ms);
	if (n < 0)
		return -1;
	/* An error in-band, from someone in the middle (cotrace(1)). */
	if ((size_t)n == sizeof(r)) {
		memcpy(&r, &ab, sizeof(r));
		if (r.len == sizeof(r) && r.error == -1) {
			errno = r.errno_ > 0 ? r.errno_ : EPROTO;
			return -1;
		}
	}
	/* The reply is the service's word: check it before believing it. */
	if ((size_t)n < offsetof(capv_answerback_t, answerback) + 1 ||
	    ab.op != CAPV_ANSWERBACK) {
		errno = EPROTO;
		return -1;
	}
	ab.answerback[sizeof(ab.answerback) - 1] = '\0';
	snprintf(buf, size, "%s", ab.answerback);
	return 0;
}

void
tool_vis(FILE *f, const void *p, size_t n, size_t max)
{
	const unsigned char *s = p;
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		char tmp[8];
		unsigned char c = s[i];

		switch (c) {
		case '\\': snprintf(tmp, sizeof(tmp), "\\\\"); break;
		case '"': snprintf(tmp, sizeof(tmp), "\\\""); break;
		case '\n': snprintf(tmp, sizeof(tmp), "\\n"); break;
		case '\t': snprintf(tmp, sizeof(tmp), "\\t"); break;
		case '\r': snprintf(tmp, sizeof(tmp), "\\r"); break;
		case '\f': snprintf(tmp, sizeof(tmp), "\\f"); break;
		case '\v': snprintf(tmp, sizeof(tmp), "\\v"); break;
		case '\a': snprintf(tmp, sizeof(tmp), "\\a"); break;
		case '\b': snprintf(tmp, sizeof(tmp), "\\b"); break;
		case '\0':
			/* \0 alone would merge with a following digit. */
			if (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
				snprintf(tmp, sizeof(tmp), "\\000");
			else
				snprintf(tmp, sizeof(tmp), "\\0");
			break;
		default:
			if (c >= 0x20 && c < 0x7f)
				snprintf(tmp, sizeof(tmp), "%c", c);
			else
				snprintf(tmp, sizeof(tmp), "\\%03o", c);
		}
		if (max > 0 && out + strlen(tmp) > max) {
			fputs("...", f);
			return;
		}
		fputs(tmp, f);
		out += strlen(tmp);
	}
}

/* ---- the sandbox ---- */

/* What a service needs once it serves: accepting connects and calls,
 * replying, logging, waiting for its child. */
static const int sandbox_base[] = {
	SYS_futex, SYS_poll, SYS_ppoll, SYS_recvmsg, SYS_sendmsg, SYS_sendto,
	SYS_recvfrom, SYS_getsockopt, SYS_mmap, SYS_munmap, SYS_mprotect,
	SYS_madvise, SYS_brk, SYS_close, SYS_fcntl, SYS_fstat, SYS_newfstatat,
	SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_getpid,
	SYS_gettid, SYS_getuid, SYS_write, SYS_writev, SYS_wait4,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_restart_syscall,
	SYS_exit, SYS_exit_group, SYS_sched_yield, SYS_getrandom,
	SYS_accept, SYS_accept4, SYS_read,	/* the names thread */
	-1
};

int
tool_sandbox(const int *extra)
{
#ifdef __x86_64__
	struct sock_filter f[128];
	struct sock_fprog prog;
	int n = 0, nsys = 0, i, k;
	int all[100];
	long r;

	for (i = 0; sandbox_base[i] >= 0; i++)
		all[nsys++] = sandbox_base[i];
	for (i = 0; extra != NULL && extra[i] >= 0 && nsys < 100; i++)
		all[nsys++] = extra[i];
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	for (k = 0; k < nsys; k++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned)all[k], (unsigned char)(nsys - k), 0);
	/* Anything else fails, as under Capsicum's capability mode. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ERRNO | EPERM);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	/* Every thread, the library's own (the names thread) included. */
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r > 0) {
		/* The id of a thread that could not be synchronised. */
		errno = EBUSY;
		return -1;
	}
	return (int)r;
#else
	(void)extra;
	errno = ENOSYS;
	return -1;
#endif
}

const char *
tool_libpath(const char *file, char *buf, size_t size)
{
	char exe[PATH_MAX], *slash;
	const char *dirs[] = { "", "/../lib/comsg" };
	const char *env = getenv("COMSG_LIBDIR");
	ssize_t n;
	size_t i;

	if (buf == NULL || size == 0)
		return NULL;
	if (env != NULL && env[0] != '\0') {
		snprintf(buf, size, "%s/%s", env, file);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, size, "%s%s/%s", exe, dirs[i], file);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return NULL;
}

/* ---- running a service over a command ---- */

static volatile sig_atomic_t child_done;

static void
on_sigchld(int sig)
{
	(void)sig;
	child_done = 1;
}

static size_t
answerback(struct service *s, void *out, size_t room)
{
	capv_answerback_t *ab = out;
	char what[CAPV_ANSWERBACK_MAX];

	if (room < sizeof(*ab))
		return 0;
	memset(ab, 0, sizeof(*ab));
	what[0] = '\0';
	if (s->describe != NULL)
		s->describe(s, what, sizeof(what));
	snprintf(ab->answerback, sizeof(ab->answerback),
	    "%s(1), pid %d, %s%s%s", s->name, (int)getpid(), what,
	    s->slow ? " (slow)" : "", s->nosandbox ? " (seccomp disabled)" : "");
	ab->len = sizeof(*ab);
	ab->op = CAPV_ANSWERBACK;
	return sizeof(*ab);
}

int
service_run(struct service *s)
{
	static char in[COCALL_MAXLEN], out[COCALL_MAXLEN];
	struct sigaction sa;
	void *target, **capv, *cookie, *caps[COCALL_MAXCAPS];
	int capc, status = 0, i;
	size_t outlen = 0;
	pid_t child, me = getpid(), caller;

	if (cosetup(COSETUP_COACCEPT) < 0 || coregister(NULL, &target) < 0) {
		warn("coregister");
		return 1;
	}
	if (capvfetch(&capc, &capv) < 0 ||
	    capvset(&capc, &capv, s->slot, target) < 0) {
		warn("capvset");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	child = fork();
	if (child < 0) {
		warn("fork");
		return 1;
	}
	if (child == 0) {
		execvp(s->argv[0], s->argv);
		warn("%s", s->argv[0]);
		_exit(127);
	}
	if (!s->nosandbox && tool_sandbox(s->syscalls) < 0)
		warn("cannot sandbox myself; going on without");
	for (;;) {
		struct comsg m = { .out = out, .outlen = outlen, .in = in,
		    .inlen = sizeof(in), .incaps = caps,
		    .nincaps = COCALL_MAXCAPS };
		const capv_t *h = (const capv_t *)in;
		ssize_t n;

		/* Wake now and then to see whether the command ended. */
		n = coacceptv(&cookie, NULL, &m, s->slow ? COCALL_SLOW : 0, 250);
		outlen = 0;
		if (child_done && waitpid(child, &status, WNOHANG) == child)
			break;
		if (n < 0) {
			if (errno == ETIMEDOUT || errno == EINTR)
				continue;
			warn("coaccept");
			return 1;
		}
		if (s->verbose) {
			if (cocachedpid(&caller, cookie) < 0)
				caller = -1;
			fprintf(stderr, "%s: op %d, len %zd from pid %d -> pid %d\n",
			    s->name, (size_t)n >= sizeof(capv_t) ? h->op : -1,
			    n, (int)caller, (int)me);
		}
		if ((size_t)n < sizeof(capv_t) || (size_t)n > sizeof(in)) {
			capv_return_t *r = (capv_return_t *)out;

			/* Not even a header: say so in-band. */
			memset(r, 0, sizeof(*r));
			r->len = sizeof(*r);
			r->error = -1;
			r->errno_ = ENOMSG;
			outlen = sizeof(*r);
		} else if (h->op == CAPV_ANSWERBACK) {
			outlen = answerback(s, out, sizeof(out));
		} else {
			outlen = s->handle(s, in, (size_t)n, caps, m.nincaps,
			    out, sizeof(out));
		}
		for (i = 0; i < m.nincaps; i++)
			capfree(caps[i]);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int
tool_preload(const char *file)
{
	char lib[PATH_MAX], both[2 * PATH_MAX + 2];
	const char *old = getenv("LD_PRELOAD");

	if (tool_libpath(file, lib, sizeof(lib)) == NULL)
		return -1;
	if (old == NULL || old[0] == '\0')
		return setenv("LD_PRELOAD", lib, 1);
	if (strstr(old, lib) != NULL)
		return 0;
	if ((size_t)snprintf(both, sizeof(both), "%s:%s", old, lib) >=
	    sizeof(both)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return setenv("LD_PRELOAD", both, 1);
}

/* Print the places of one rule on one line: "  PATH: /a/comsgd, /b/comsgd". */
struct where {
	FILE		*f;
	const char	*rule;
};

static bool
where_print(const char *path, const char *what, void *arg)
{
	struct where *w = arg;

	if (w->rule == NULL || strcmp(w->rule, what) != 0) {
		fprintf(w->f, "%s  %s: %s", w->rule != NULL ? "\n" : "", what,
		    path);
		w->rule = what;
	} else {
		fprintf(w->f, ", %s", path);
	}
	return false;
}

bool
tool_comsgd_where(FILE *f, char *path, size_t size)
{
	/* Where libcomsg looks, as it would in this process: beside the
	 * shared library we run with. */
	const void *anchor = (const void *)coopen;
	const char *env = getenv("COMSGD");
	struct where w = { f, NULL };

	if (progpath_find("comsgd", "COMSGD", anchor, path, size) == 0)
		return true;
	if (f == NULL)
		return false;
	fprintf(f, "comsgd not found; looked in:\n");
	if (env == NULL || env[0] == '\0')
		fprintf(f, "  COMSGD: not set\n");
	(void)progpath_each("comsgd", "COMSGD", anchor, where_print, &w);
	fprintf(f, "\nset COMSGD to the path of comsgd, or add its directory "
	    "to PATH\n");
	return false;
}
