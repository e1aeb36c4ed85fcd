/*
 * colookup: fetch a capability that coregister(1) hands out, by name in
 * the domain or from a UNIX socket, into a slot of our vector, and run a
 * command with it; or say what it is.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "toolutil.h"

#define WAIT_MS	5000	/* for the holder to hand it over */

static void
usage(void)
{
	fprintf(stderr, "usage: colookup [-kv] (-n name | -f path) -i index "
	    "command [args ...]\n"
	    "       colookup -c [-k] [-t secs] (-n name | -f path)\n");
	exit(EXIT_USAGE);
}

/* The capability whoever listens at path hands us. */
static void *
from_path(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	void *cap;
	int s, r;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		err(1, "%s", path);
	}
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		err(1, "socket");
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		struct stat st;

		/* Linux refuses a connection to any file that is not a
		 * listening socket alike. */
		if (errno == ECONNREFUSED && stat(path, &st) == 0 &&
		    !S_ISSOCK(st.st_mode))
			errx(1, "%s: not a socket", path);
		if (errno == ECONNREFUSED)
			errx(1, "%s: nobody hands out a capability there",
			    path);
		if (errno == EPROTOTYPE)
			errx(1, "%s: not a socket of coregister(1)", path);
		err(1, "%s", path);
	}
	pfd = (struct pollfd){ .fd = s, .events = POLLIN };
	do
		r = poll(&pfd, 1, WAIT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errx(1, "%s: no capability in %d seconds", path,
		    WAIT_MS / 1000);
	if (r < 0)
		err(1, "poll");
	if (caprecv(s, &cap) < 0) {
		if (errno == ECONNRESET)
			errx(1, "%s: hung up without a capability", path);
		if (errno == EINVAL)
			errx(1, "%s: sent something that is not a capability",
			    path);
		err(1, "%s", path);
	}
	close(s);
	return cap;
}

static void *
from_name(const char *name)
{
	void *cap;

	if (colookup(name, &cap) == 0)
		return cap;
	if (errno == ESRCH)
		errx(1, "%s: no such name in the domain", name);
	if (errno == EINVAL ||
	    (errno == ENAMETOOLONG && strlen(name) > COCALL_NAMEMAX))
		errx(1, "%s: bad name (1 to %d of A-Z a-z 0-9 . _ -)", name,
		    COCALL_NAMEMAX);
	err(1, "%s", name);
}

int
main(int argc, char **argv)
{
	bool describe = false, slow = false, verbose = false;
	const char *name = NULL, *path = NULL, *secs = NULL;
	char what[256], ab[CAPV_ANSWERBACK_MAX];
	int slot = -1, ch, capc, timeout_ms;
	void *cap, **capv;

	while ((ch = getopt(argc, argv, "+cf:i:kn:t:v")) != -1) {
		switch (ch) {
		case 'c': describe = true; break;
		case 'f': path = optarg; break;
		case 'i':
			if ((slot = tool_slotarg(optarg)) < 0)
				errx(EXIT_USAGE, "bad index: %s", optarg);
			break;
		case 'k': slow = true; break;
		case 'n': name = optarg; break;
		case 't': secs = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((name == NULL) == (path == NULL))
		usage();
	if (describe ? (argc != 0 || slot >= 0) : (argc == 0 || slot < 0 ||
	    secs != NULL))
		usage();
	timeout_ms = tool_timeout(secs);	/* a bad one is a usage error */
	cap = path != NULL ? from_path(path) : from_name(name);
	if (capdescribe(cap, what, sizeof(what)) < 0)
		snprintf(what, sizeof(what), "?");
	if (describe) {
		printf("%s", what);
		if (capkind(cap) != CAPKIND_TARGET)
			printf("\n");
		else if (tool_answerback(cap, slow, timeout_ms, ab,
		    sizeof(ab)) < 0)
			printf(":\t(no answer: %s)\n", strerror(errno));
		else {
			printf(":\t\"");
			tool_vis(stdout, ab, strlen(ab), 0);
			printf("\"\n");
		}
		return 0;
	}
	if (verbose)
		fprintf(stderr, "colookup: capv[%d] <- %s: %s\n", slot,
		    path != NULL ? path : name, what);
	if (capvfetch(&capc, &capv) < 0 || capvset(&capc, &capv, slot, cap) < 0)
		err(1, "capvset");
	coexecvpc(0, argv[0], argv, NULL, 0);
	err(errno == ENOENT ? 127 : 126, "%s", argv[0]);
}
