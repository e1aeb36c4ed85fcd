/*
 * cotrace: interpose on every slot of the vector.  The command runs with
 * cotrace's own targets in place of the services; each call is shown,
 * forwarded to the real service, and its reply shown and returned.
 * Answerbacks gain a note saying who is in the middle.  Interposers chain
 * like nice(1): clocks cotrace capv.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "toolutil.h"

#define SHORT	66	/* characters of a dump shown without -v */

static bool verbose;

static void
usage(void)
{
	fprintf(stderr, "usage: cotrace [-Ckv] [-t secs] command [args ...]\n");
	exit(EXIT_USAGE);
}

static volatile sig_atomic_t child_done;

static void
on_sigchld(int sig)
{
	(void)sig;
	child_done = 1;
}

/* The len and op of a message, when it is long enough to have them. */
static void
header(const void *p, size_t n, long *lenp, int *opp)
{
	capv_t h;

	*lenp = -1;
	*opp = 0;
	if (n >= sizeof(h)) {
		memcpy(&h, p, sizeof(h));
		*lenp = (long)h.len;
		*opp = h.op;
	}
}

static void
show_call(int slot, pid_t caller, pid_t service, const void *p, size_t got,
    size_t n)
{
	long len;
	int op;

	if (!verbose) {
		fprintf(stderr, "-> %d: \"", slot);
		tool_vis(stderr, p, got, SHORT);
		fprintf(stderr, "\"\n");
		return;
	}
	header(p, got, &len, &op);
	fprintf(stderr, "cotrace: cocall from pid %d[%d] -> pid %d, received %zu, "
	    "len %ld, op %d: \"", (int)caller, slot, (int)service, n, len, op);
	tool_vis(stderr, p, got, 0);
	fprintf(stderr, "\"\n");
}

static void
show_return(int slot, pid_t caller, pid_t service, const void *p, size_t n,
    bool answerback)
{
	long len;
	int op;

	if (!verbose) {
		fprintf(stderr, "<- %d: \"", slot);
		tool_vis(stderr, p, n, SHORT);
		fprintf(stderr, "\"\n");
		return;
	}
	if (answerback) {
		fprintf(stderr, "cotrace: returning answerback to pid %d[%d] <- pid %d\n",
		    (int)caller, slot, (int)service);
		return;
	}
	header(p, n, &len, &op);
	fprintf(stderr, "cotrace: returning to pid %d[%d] <- pid %d, len %ld, op %d: \"",
	    (int)caller, slot, (int)service, len, op);
	tool_vis(stderr, p, n, 0);
	fprintf(stderr, "\"\n");
}

/* Append our note to an answerback reply in place; its length stays. */
static void
annotate(void *rep, size_t n, const char *command)
{
	capv_answerback_t *ab = rep;
	size_t used;

	if (n < sizeof(*ab) || ab->op != CAPV_ANSWERBACK)
		return;
	ab->answerback[sizeof(ab->answerback) - 1] = '\0';
	used = strlen(ab->answerback);
	snprintf(ab->answerback + used, sizeof(ab->answerback) - used,
	    " -- via cotrace(1), pid %d, tracing %s", (int)getpid(), command);
}

int
main(int argc, char **argv)
{
	static char in[COCALL_MAXLEN], out[COCALL_MAXLEN];
	/* Besides serving: forwarding sets up channels to the services. */
	static const int extra[] = { SYS_socket, SYS_connect, SYS_memfd_create,
	    SYS_ftruncate, -1 };
	bool slow = false, nosandbox = false;
	const char *secs = NULL;
	void **capv, **orig, **mine = NULL, *cookie;
	void *caps_in[COCALL_MAXCAPS], *caps_out[COCALL_MAXCAPS];
	pid_t *servers, child, caller;
	int capc, nmine = 0, ch, i, status = 0, nout = 0, timeout;
	size_t outlen = 0;
	struct sigaction sa;

	while ((ch = getopt(argc, argv, "+Ckt:v")) != -1) {
		switch (ch) {
		case 'C': nosandbox = true; break;
		case 'k': slow = true; break;
		case 't': secs = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	timeout = tool_timeout(secs);
	if (capvfetch(&capc, &capv) < 0)
		err(1, "capvfetch");
	/* Our own copy: capvset() on the process's vector would change it. */
	orig = calloc(capc ? capc : 1, sizeof(*orig));
	servers = calloc(capc ? capc : 1, sizeof(*servers));
	if (orig == NULL || servers == NULL)
		err(1, "calloc");
	memcpy(orig, capv, capc * sizeof(*orig));
	for (i = 0; i < capc; i++) {
		void *t;

		if (orig[i] == NULL)
			continue;
		/* Descriptor capabilities pass through untouched. */
		if (capkind(orig[i]) == CAPKIND_FD) {
			if (capvset(&nmine, &mine, i, orig[i]) < 0)
				err(1, "capvset");
			continue;
		}
		if (coregister_label(NULL, (uint64_t)i, &t) < 0)
			err(1, "coregister");
		if (capvset(&nmine, &mine, i, t) < 0)
			err(1, "capvset");
		if (cotargetpid(orig[i], &servers[i]) < 0)
			servers[i] = -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	child = fork();
	if (child < 0)
		err(1, "fork");
	if (child == 0) {
		coexecvpc(0, argv[optind], argv + optind, mine, nmine);
		err(127, "%s", argv[optind]);
	}
	if (!nosandbox && tool_sandbox(extra) < 0)
		warn("cannot sandbox myself; going on without");
	for (;;) {
		struct comsg m = { .out = out, .outlen = outlen,
		    .outcaps = caps_out, .noutcaps = nout, .in = in,
		    .inlen = sizeof(in), .incaps = caps_in,
		    .nincaps = COCALL_MAXCAPS };
		struct comsg fwd;
		uint64_t label;
		ssize_t n, r;
		size_t got;
		int slot, op;
		long len;

		n = coacceptv(&cookie, &label, &m, 0, 250);
		for (i = 0; i < nout; i++)
			if (caps_out[i] != NULL)
				capfree(caps_out[i]);
		outlen = 0;
		nout = 0;
		if (child_done && waitpid(child, &status, WNOHANG) == child)
			break;
		if (n < 0) {
			if (errno == ETIMEDOUT || errno == EINTR)
				continue;
			err(1, "coaccept");
		}
		slot = (int)label;
		got = (size_t)n < sizeof(in) ? (size_t)n : sizeof(in);
		if (cocachedpid(&caller, cookie) < 0)
			caller = -1;
		show_call(slot, caller, servers[slot], in, got, (size_t)n);
		header(in, got, &len, &op);

		fwd = (struct comsg){ .out = in, .outlen = got,
		    .outcaps = caps_in, .noutcaps = m.nincaps, .in = out,
		    .inlen = sizeof(out), .incaps = caps_out,
		    .nincaps = COCALL_MAXCAPS };
		/* Capabilities that did not check out cannot be passed on. */
		for (i = 0; i < fwd.noutcaps; i++)
			if (caps_in[i] == NULL)
				fwd.noutcaps = i;
		r = cocallv(orig[slot], &fwd, slow ? COCALL_SLOW : 0, timeout);
		for (i = 0; i < m.nincaps; i++)
			if (caps_in[i] != NULL)
				capfree(caps_in[i]);
		if (r < 0) {
			capv_return_t *e = (capv_return_t *)out;

			/* The caller hears of it in-band, as from a service. */
			warn("capv[%d]", slot);
			memset(e, 0, sizeof(*e));
			e->len = sizeof(*e);
			e->op = tool_reply_op(op);
			e->error = -1;
			e->errno_ = errno;
			outlen = sizeof(*e);
			continue;
		}
		outlen = (size_t)r < sizeof(out) ? (size_t)r : sizeof(out);
		nout = fwd.nincaps;
		if (got >= sizeof(capv_t) && op == CAPV_ANSWERBACK)
			annotate(out, outlen, argv[optind]);
		show_return(slot, caller, servers[slot], out, outlen,
		    got >= sizeof(capv_t) && op == CAPV_ANSWERBACK);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
