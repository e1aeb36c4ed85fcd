/*
 * cohost: load a shared object as a compartment and call one of its entry
 * points from the command line, arguments given as strings and converted
 * following the entry's signature.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <comsg/compart.h>

#include "toolutil.h"

#define MAXDECL	64

static void
usage(void)
{
	fprintf(stderr, "usage: cohost [-l] [-m mode] [-e name:sig] "
	    "[-p what=allow|deny|log|deny,log]\n"
	    "              [--dot file] [--stats] lib.so [entry [args ...]]\n");
	exit(EXIT_USAGE);
}

static int
parse_action(const char *s)
{
	int a = 0;
	char *copy = strdup(s), *tok, *save = NULL;

	if (copy == NULL)
		err(1, "strdup");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "allow") == 0)
			;
		else if (strcmp(tok, "deny") == 0)
			a |= COMPART_DENY;
		else if (strcmp(tok, "log") == 0)
			a |= COMPART_LOG;
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return a;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dot", required_argument, NULL, 'D' },
		{ "stats", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *decl[MAXDECL + 1], *policy[MAXDECL], *dot = NULL;
	int ndecl = 0, npolicy = 0, mode = -1, ch, i, rc = 0;
	bool stats = false, list = false;
	struct compart_attr attr;
	compart_t *c;
	char res[4096];

	while ((ch = getopt_long(argc, argv, "+e:lm:p:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			if (ndecl == MAXDECL)
				errx(EXIT_USAGE, "too many -e");
			decl[ndecl++] = optarg;
			break;
		case 'l': list = true; break;
		case 'm':
			if ((mode = compart_mode_parse(optarg)) < 0)
				errx(EXIT_USAGE, "no such mode: %s (none, "
				    "mprotect, mpk, process)", optarg);
			break;
		case 'p':
			if (npolicy == MAXDECL || strchr(optarg, '=') == NULL)
				errx(EXIT_USAGE, "bad -p %s", optarg);
			policy[npolicy++] = optarg;
			break;
		case 'D': dot = optarg; break;
		case 'S': stats = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (argc < 2 && !list))
		usage();
	decl[ndecl] = NULL;
	if (mode >= 0 && compart_init(mode) < 0)
		errx(1, "mode %s: %s", compart_mode_name(mode), compart_error());
	mode = compart_mode();
	fprintf(stderr, "cohost: mode %s%s\n", compart_mode_name(mode),
	    mode == COMPART_NONE ? ": NOTHING IS ISOLATED, compartments can "
	    "read and write each other's memory and the host's" :
	    mode == COMPART_MPROTECT ? ": page protection switched on every "
	    "call (slow)" : mode == COMPART_MPK ? ": protection keys" :
	    ": the compartment runs in a process of its own");
	if (stats || dot != NULL)
		compart_stats(1);
	compart_attr_init(&attr);
	attr.entries = decl;
	if ((c = compart_load(argv[0], &attr)) == NULL)
		errx(1, "%s: %s", argv[0], compart_error());
	for (i = 0; i < npolicy; i++) {
		char *what = strdup(policy[i]), *eq;
		int a;

		if (what == NULL)
			err(1, "strdup");
		eq = strchr(what, '=');
		*eq = '\0';
		if ((a = parse_action(eq + 1)) < 0 ||
		    compart_policy(c, what, a) < 0)
			errx(EXIT_USAGE, "-p %s: %s", policy[i],
			    a < 0 ? "bad action" : compart_error());
		free(what);
	}
	if (list) {
		const char *n;

		for (i = 0; (n = compart_entry_name(c, i)) != NULL; i++)
			printf("%s %s\n", n, compart_entry_sig(c, n));
	}
	if (argc >= 2) {
		if (compart_callv(c, argv[1], argc - 2, argv + 2, res,
		    sizeof(res)) < 0) {
			warnx("%s: %s", argv[1], compart_error());
			rc = errno == EINVAL || errno == ENOENT ||
			    errno == EPERM ? EXIT_USAGE : 1;
		} else
			printf("%s\n", res);
	}
	fflush(stdout);
	if (stats)
		compart_stats_print(stderr);
	if (dot != NULL) {
		FILE *f = strcmp(dot, "-") == 0 ? stdout : fopen(dot, "w");

		if (f == NULL || compart_dot(f) < 0)
			warn("%s", dot), rc = 1;
		if (f != NULL && f != stdout)
			fclose(f);
	}
	compart_unload(c);
	return rc;
}
