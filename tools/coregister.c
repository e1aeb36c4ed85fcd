/*
 * coregister: hand a capability of the vector to processes that are not
 * our descendants: publish it under a name of the domain, or give it to
 * whoever connects to a UNIX socket, until killed.  colookup(1) fetches it.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "toolutil.h"

static volatile sig_atomic_t stop;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: coregister [-Ckv] -i index (-n name | -f path)\n");
	exit(EXIT_USAGE);
}

static void
on_stop(int sig)
{
	stop = sig;
}

/* Block the signals that end us, with a handler: they are taken only
 * inside ppoll(), so a hand-over is never cut short. */
static void
catch_stop(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(waitmask, sigs[i]);
}

/* Run by the service whose target we hand out (clocks coregister ...):
 * what we hand out dies with it, so end with it too.  Called with the
 * stop signals caught. */
static void
end_with_service(void *cap)
{
	pid_t svc;

	if (cotargetpid(cap, &svc) < 0 || svc != getppid())
		return;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != svc)		/* gone already */
		raise(SIGTERM);
}

/* What we hand out, in words: the service's answerback, or what the
 * capability is. */
static void
whatis(void *cap, bool slow, char *buf, size_t size)
{
	char ab[CAPV_ANSWERBACK_MAX];

	if (capdescribe(cap, buf, size) < 0)
		snprintf(buf, size, "?");
	else if (capkind(cap) == CAPKIND_TARGET &&
	    tool_answerback(cap, slow, tool_timeout(NULL), ab, sizeof(ab)) == 0)
		snprintf(buf, size, "\"%s\"", ab);
}

/* Bind a listening socket at path, replacing a socket nobody listens on
 * but nothing else. */
static int
listen_at(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int s, probe;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		err(1, "%s", path);
	}
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		err(1, "socket");
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		goto bound;
	if (errno != EADDRINUSE)
		err(1, "%s", path);
	if (lstat(path, &st) < 0)
		err(1, "%s", path);
	if (!S_ISSOCK(st.st_mode))
		errx(1, "%s: exists and is not a socket", path);
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (probe < 0)
		err(1, "socket");
	/* Refused: nobody listens.  Anything else (a live listener, one of
	 * another type, no permission) is not ours to take over. */
	if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno != ECONNREFUSED)
		errx(1, "%s: a socket in use", path);
	close(probe);
	/* Stale: its owner is gone. */
	if (unlink(path) < 0 ||
	    bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err(1, "%s", path);
bound:
	if (listen(s, 64) < 0) {
		unlink(path);
		err(1, "listen");
	}
	return s;
}

static int
serve_path(void *cap, int slot, const char *path, bool verbose, bool slow,
    bool nosandbox)
{
	static const int extra[] = { SYS_unlink, SYS_unlinkat, SYS_lstat, -1 };
	char what[CAPV_ANSWERBACK_MAX + 2];
	struct stat mine, now;
	sigset_t waitmask;
	int s;

	if (verbose)
		whatis(cap, slow, what, sizeof(what));
	catch_stop(&waitmask);
	end_with_service(cap);
	s = listen_at(path);
	/* Remember which file is ours, to remove it and nothing else. */
	if (lstat(path, &mine) < 0) {
		unlink(path);
		err(1, "%s", path);
	}
	if (!nosandbox && tool_sandbox(extra) < 0)
		warn("cannot sandbox myself; going on without");
	if (verbose)
		fprintf(stderr, "coregister: pid %d: capv[%d] at %s: %s\n",
		    (int)getpid(), slot, path, what);
	while (!stop) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		struct ucred cr = { .pid = -1 };
		socklen_t crlen = sizeof(cr);
		int c;

		if (ppoll(&pfd, 1, NULL, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll");
			break;
		}
		/* Non-blocking: a client that never reads cannot hold us. */
		c = accept4(s, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			continue;
		if (verbose && getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr,
		    &crlen) < 0)
			cr.pid = -1;
		if (capsend(c, cap) < 0) {
			if (verbose)
				warn("capv[%d] to pid %d", slot, (int)cr.pid);
		} else if (verbose) {
			fprintf(stderr, "coregister: capv[%d] to pid %d\n",
			    slot, (int)cr.pid);
		}
		close(c);
	}
	close(s);
	if (lstat(path, &now) == 0 && now.st_dev == mine.st_dev &&
	    now.st_ino == mine.st_ino && unlink(path) < 0)
		warn("%s", path);
	return stop ? 0 : 1;
}

static int
serve_name(void *cap, int slot, const char *name, bool verbose, bool slow,
    bool nosandbox)
{
	/* The names thread of libcomsg hands the capability over: accept4,
	 * sendmsg, poll, read, close; unlink withdraws the name at the end. */
	static const int extra[] = { SYS_unlink, SYS_unlinkat, -1 };
	char what[CAPV_ANSWERBACK_MAX + 2];
	sigset_t waitmask;
	void *probe;

	if (verbose)
		whatis(cap, slow, what, sizeof(what));
	catch_stop(&waitmask);
	end_with_service(cap);
	if (copublish(name, cap) < 0) {
		int e = errno;

		if (e == EINVAL && capkind(cap) == CAPKIND_FD &&
		    capdescribe(cap, what, sizeof(what)) == 0)
			errx(1, "capv[%d] holds a %s: only targets take names",
			    slot, what);
		if (e == EINVAL ||
		    (e == ENAMETOOLONG && strlen(name) > COCALL_NAMEMAX))
			errx(1, "%s: bad name (1 to %d of A-Z a-z 0-9 . _ -)",
			    name, COCALL_NAMEMAX);
		if (e == EEXIST)
			errx(1, "%s: name taken by a live process", name);
		errno = e;
		err(1, "%s", name);
	}
	/* copublish() may return before the names thread has even started,
	 * and starting takes system calls the sandbox refuses.  Our own
	 * lookup, answered by that thread, shows it is past its start. */
	if (colookup(name, &probe) < 0)
		err(1, "%s", name);
	capfree(probe);
	if (!nosandbox && tool_sandbox(extra) < 0)
		warn("cannot sandbox myself; going on without");
	if (verbose)
		fprintf(stderr, "coregister: pid %d: capv[%d] as %s: %s\n",
		    (int)getpid(), slot, name, what);
	while (!stop)
		ppoll(NULL, 0, NULL, &waitmask);
	/* Withdraws the name; the vector's slot goes with it, but we end. */
	capfree(cap);
	return 0;
}

int
main(int argc, char **argv)
{
	bool verbose = false, slow = false, nosandbox = false;
	const char *name = NULL, *path = NULL;
	int slot = -1, ch;
	void *cap;

	while ((ch = getopt(argc, argv, "Cf:i:kn:v")) != -1) {
		switch (ch) {
		case 'C': nosandbox = true; break;
		case 'f': path = optarg; break;
		case 'i':
			if ((slot = tool_slotarg(optarg)) < 0)
				errx(EXIT_USAGE, "bad index: %s", optarg);
			break;
		case 'k': slow = true; break;
		case 'n': name = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc || slot < 0 || (name == NULL) == (path == NULL))
		usage();
	if ((cap = tool_slot(slot)) == NULL)
		errx(1, "capv[%d] is empty", slot);
	if (path != NULL)
		return serve_path(cap, slot, path, verbose, slow, nosandbox);
	return serve_name(cap, slot, name, verbose, slow, nosandbox);
}
