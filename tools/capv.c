/*
 * capv: list the capability vector, asking each service for its
 * answerback; or run a command with only chosen slots of it.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toolutil.h"

#define SHORT	66	/* answerback characters shown without -v */

static void
usage(void)
{
	fprintf(stderr, "usage: capv [-ckn] [-t secs] [-v]\n"
	    "       capv [-k] -i index [-i index ...] command [args ...]\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	bool describe = false, slow = false, ask = true, verbose = false;
	int keep[CAPV_MAX], nkeep = 0, capc, i, ch, shown = 0, timeout;
	const char *secs = NULL;
	void **capv;

	while ((ch = getopt(argc, argv, "+cki:nt:v")) != -1) {
		switch (ch) {
		case 'c': describe = true; break;
		case 'k': slow = true; break;
		case 'n': ask = false; break;
		case 't': secs = optarg; break;
		case 'v': verbose = true; break;
		case 'i':
			if (nkeep == CAPV_MAX || (keep[nkeep++] = tool_slotarg(optarg)) < 0)
				errx(EXIT_USAGE, "bad index: %s", optarg);
			break;
		default: usage();
		}
	}
	timeout = tool_timeout(secs);
	if (capvfetch(&capc, &capv) < 0)
		err(1, "capvfetch");
	if (nkeep > 0) {
		void **v = NULL;
		int n = 0;

		if (optind >= argc)
			usage();
		for (i = 0; i < nkeep; i++) {
			if (keep[i] >= capc || capv[keep[i]] == NULL)
				errx(1, "slot %d is empty", keep[i]);
			if (capvset(&n, &v, keep[i], capv[keep[i]]) < 0)
				err(1, "capvset");
		}
		coexecvpc(0, argv[optind], argv + optind, v, n);
		err(127, "%s", argv[optind]);
	}
	if (optind != argc)
		usage();
	for (i = 0; i < capc; i++) {
		char ab[CAPV_ANSWERBACK_MAX], what[256];

		if (capv[i] == NULL)
			continue;
		shown++;
		printf("%d:", i);
		if (describe && capdescribe(capv[i], what, sizeof(what)) == 0)
			printf("\t%s%s", what, ask ? ":" : "");
		if (ask) {
			if (capkind(capv[i]) == CAPKIND_FD) {
				printf("\t(not a target)");
			} else if (tool_answerback(capv[i], slow, timeout, ab,
			    sizeof(ab)) < 0) {
				printf("\t(no answer: %s)", strerror(errno));
			} else {
				printf("\t\"");
				tool_vis(stdout, ab, strlen(ab), verbose ? 0 : SHORT);
				printf("\"");
			}
		}
		printf("\n");
	}
	if (shown == 0) {
		fprintf(stderr, "capv: no capability vector\n");
		return 1;
	}
	return 0;
}
