/*
 * copong: the responder coping(1) and the benchmarks ping.  It answers
 * every call at once, under a name or at a slot of the vector of the
 * command it runs.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toolutil.h"

static void
usage(void)
{
	fprintf(stderr, "usage: copong [-Ckv] -n name\n"
	    "       copong [-Ckv] -i index command [args ...]\n");
	exit(EXIT_USAGE);
}

static void
describe(struct service *s, char *buf, size_t size)
{
	(void)s;
	snprintf(buf, size, "answering pings");
}

/* Echo the request: coping checks that what comes back is what it sent. */
static size_t
handle(struct service *s, const void *in, size_t len, void **caps, int ncaps,
    void *out, size_t room)
{
	(void)s;
	(void)caps;
	(void)ncaps;
	if (len > room)
		len = room;
	memcpy(out, in, len);
	((capv_t *)out)->op = tool_reply_op(((const capv_t *)in)->op);
	return len;
}

int
main(int argc, char **argv)
{
	static char in[COCALL_MAXLEN], out[COCALL_MAXLEN];
	struct service s = { .name = "copong", .slot = -1,
	    .describe = describe, .handle = handle };
	const char *name = NULL;
	void *target;
	size_t outlen = 0;
	int ch;

	while ((ch = getopt(argc, argv, "+Cki:n:v")) != -1) {
		switch (ch) {
		case 'C': s.nosandbox = true; break;
		case 'k': s.slow = true; break;
		case 'v': s.verbose = true; break;
		case 'i':
			if ((s.slot = tool_slotarg(optarg)) < 0)
				errx(EXIT_USAGE, "bad index: %s", optarg);
			break;
		case 'n': name = optarg; break;
		default: usage();
		}
	}
	if ((name == NULL) == (s.slot < 0))
		usage();
	if (s.slot >= 0) {
		if (optind >= argc)
			usage();
		s.argv = argv + optind;
		return service_run(&s);
	}
	if (optind != argc)
		usage();
	if (coregister(name, &target) < 0)
		err(1, "coregister %s", name);
	if (!s.nosandbox && tool_sandbox(NULL) < 0)
		warn("cannot sandbox myself; going on without");
	for (;;) {
		void *cookie;
		ssize_t n = (s.slow ? coaccept_slow : coaccept)(&cookie, out,
		    outlen, in, sizeof(in));

		if (n < 0)
			err(1, "coaccept");
		if (s.verbose) {
			pid_t pid = -1;

			cocachedpid(&pid, cookie);
			fprintf(stderr, "copong: len %zd from pid %d\n", n, (int)pid);
		}
		if ((size_t)n >= sizeof(capv_t) &&
		    ((capv_t *)in)->op == CAPV_ANSWERBACK) {
			capv_answerback_t *ab = (capv_answerback_t *)out;

			memset(ab, 0, sizeof(*ab));
			ab->len = sizeof(*ab);
			snprintf(ab->answerback, sizeof(ab->answerback),
			    "copong(1), pid %d, answering pings as \"%s\"%s",
			    (int)getpid(), name, s.slow ? " (slow)" : "");
			outlen = sizeof(*ab);
		} else {
			outlen = (size_t)n < sizeof(in) ? (size_t)n : sizeof(in);
			memcpy(out, in, outlen);
		}
	}
}
