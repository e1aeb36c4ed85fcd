/*
 * coping: ping services, by slot of the vector or by name, and say how
 * long a call takes.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "toolutil.h"

static void
usage(void)
{
	fprintf(stderr, "usage: coping [-c count] [-s secs] [-t secs] [-kv] "
	    "(-a | -i index | name ...)\n");
	exit(EXIT_USAGE);
}

static double
now(void)
{
	struct timespec ts;

	/* The raw clock: under clocks(1), clock_gettime() itself would be a
	 * call to the service being timed. */
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Ping cap count times (or for secs), print one line; 0 or 1. */
static int
ping(void *cap, const char *label, long count, double secs, bool slow,
    bool verbose, int timeout)
{
	capv_answerback_t rep;
	struct comsg m;
	capv_t req;
	double t0, el;
	long i;

	/* Whole, padding included: what we send is the service's to see. */
	memset(&req, 0, sizeof(req));
	req.len = sizeof(req);
	req.op = CAPV_ANSWERBACK;
	if (verbose) {
		char ab[CAPV_ANSWERBACK_MAX];

		if (tool_answerback(cap, slow, timeout, ab, sizeof(ab)) == 0)
			printf("coping: %s: \"%s\"\n", label, ab);
	}
	memset(&m, 0, sizeof(m));
	m.out = &req;
	m.outlen = sizeof(req);
	m.in = &rep;
	m.inlen = sizeof(rep);
	t0 = now();
	for (i = 0; secs > 0 ? (now() - t0) < secs : i < count; i++) {
		if (cocallv(cap, &m, slow ? COCALL_SLOW : 0, timeout) < 0) {
			warn("%s", label);
			return 1;
		}
	}
	el = now() - t0;
	printf("coping: %s: %.3fms for %ld iterations, %.3fus each\n", label,
	    el * 1e3, i, i ? el * 1e6 / i : 0.0);
	return 0;
}

int
main(int argc, char **argv)
{
	bool all = false, slow = false, verbose = false;
	long count = 1000;
	double secs = 0;
	int index = -1, ch, rc = 0, i, capc, timeout;
	const char *wait = NULL;
	void **capv;
	char *end;

	while ((ch = getopt(argc, argv, "ac:i:ks:t:v")) != -1) {
		switch (ch) {
		case 'a': all = true; break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count <= 0)
				errx(EXIT_USAGE, "bad count: %s", optarg);
			break;
		case 'i':
			if ((index = tool_slotarg(optarg)) < 0)
				errx(EXIT_USAGE, "bad index: %s", optarg);
			break;
		case 'k': slow = true; break;
		case 's':
			secs = strtod(optarg, &end);
			if (*end != '\0' || secs <= 0)
				errx(EXIT_USAGE, "bad seconds: %s", optarg);
			break;
		case 't': wait = optarg; break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	timeout = tool_timeout(wait);
	if ((all ? 1 : 0) + (index >= 0 ? 1 : 0) + (argc > 0 ? 1 : 0) != 1)
		usage();
	if (all || index >= 0) {
		int found = 0;

		if (capvfetch(&capc, &capv) < 0)
			err(1, "capvfetch");
		for (i = 0; i < capc; i++) {
			char label[32];

			if (capv[i] == NULL || (!all && i != index))
				continue;
			if (capkind(capv[i]) == CAPKIND_FD)
				continue;
			found++;
			snprintf(label, sizeof(label), "capv[%d]", i);
			rc |= ping(capv[i], label, count, secs, slow, verbose,
		    timeout);
		}
		if (found == 0)
			errx(1, all ? "no capability vector" : "slot %d is empty", index);
		return rc;
	}
	for (i = 0; i < argc; i++) {
		void *t;

		if (colookup(argv[i], &t) < 0) {
			warn("%s", argv[i]);
			rc = 1;
			continue;
		}
		rc |= ping(t, argv[i], count, secs, slow, verbose,
		    timeout);
		capfree(t);
	}
	return rc;
}
