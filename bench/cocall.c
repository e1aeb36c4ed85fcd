/*
 * Round-trip latency between two processes: cocall and cocall_slow against
 * a pair of pipes, a UNIX socketpair, a futex ping-pong, a raw
 * shared-memory spin ping-pong and Eclipse iceoryx, with the two processes
 * on two cores and on one.  Prints a table, then one line starting with
 * "JSON ".  docs/performance.md says what each case measures.
 *
 * This file: the settings, the options and the rounds; cocall.h names
 * the others.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cocall.h"

const char *const case_name[NCASES] = {
	"cocall", "cocall_slow", "pipe", "socketpair", "futex", "spin",
	"iceoryx",
};
const char *const place_name[NPLACES] = { "cross", "same" };

/* Settings. */
bool want_case[NCASES], want_place[NPLACES];
size_t sizes[MAXSIZES];
int nsizes, rounds = 40, batch_ms = 20, max_samples = 10000;

static void
cleanup(void)
{
	int i;

	if (getpid() != parent_pid)
		return;
	for (i = 0; i < npairs; i++)
		pair_kill(&pairs[i]);
	roudi_stop();
	domain_remove();
}

/* ---- options and main ---- */

/* -h: the synopsis and what each option does; a bad flag: the synopsis. */
static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: cocall [-hqx] [-c cases] [-p same|cross|both] [-r rounds]\n"
	    "              [-s sizes] [-t ms]\n");
	if (status == 0)
		fprintf(f,
		    "  -c  cases, comma-separated (default all): cocall,cocall_slow,\n"
		    "      pipe,socketpair,futex,spin,iceoryx\n"
		    "  -p  placement: cross (two cores), same (one core), both (default)\n"
		    "  -q  quick: 3 rounds of 4 ms per case (a few seconds in all)\n"
		    "  -r  rounds; each runs every case once, in turn (default 40)\n"
		    "  -s  message sizes in bytes, comma-separated (default 0,64,4096,65536)\n"
		    "  -t  milliseconds per case per round (default 20)\n"
		    "Prints a table, then a last line: \"JSON \" and the results as one\n"
		    "JSON object.  See docs/performance.md.\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	static const size_t default_sizes[] = { 0, 64, 4096, 65536 };
	bool rounds_set = false, time_set = false, quick = false;
	int ch, i, k, pl, r, si, n;
	long long v;
	int64_t t_start;

	bench_init("cocall");
	for (k = 0; k < NCASES; k++)
		want_case[k] = true;
	want_place[P_CROSS] = want_place[P_SAME] = true;
	for (i = 0; i < 4; i++)
		sizes[i] = default_sizes[i];
	nsizes = 4;
	while ((ch = getopt(argc, argv, "c:hp:qr:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			if (parse_names(optarg, case_name, NCASES, want_case,
			    "case") < 0)
				usage(2);
			break;
		case 'h':
			usage(0);
		case 'p':
			want_place[P_CROSS] = strcmp(optarg, "cross") == 0 ||
			    strcmp(optarg, "both") == 0;
			want_place[P_SAME] = strcmp(optarg, "same") == 0 ||
			    strcmp(optarg, "both") == 0;
			if (!want_place[P_CROSS] && !want_place[P_SAME])
				usage(2);
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			if (parse_num(optarg, 1, 100000, &v) < 0)
				usage(2);
			rounds = (int)v;
			rounds_set = true;
			break;
		case 's':
			if ((n = parse_sizes(optarg, sizes, MAXSIZES, 0,
			    MAXMSG)) <= 0)
				usage(2);
			nsizes = n;
			break;
		case 't':
			if (parse_num(optarg, 1, 60000, &v) < 0)
				usage(2);
			batch_ms = (int)v;
			time_set = true;
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (quick) {
		if (!rounds_set)
			rounds = 3;
		if (!time_set)
			batch_ms = 4;
	}
	t_start = now_ns();

	if (find_cpus() < 0)
		return 1;
	if (ncpus < 2 && want_place[P_CROSS]) {
		want_place[P_CROSS] = false;
		note("cross-core placement skipped: only one CPU available");
	}
#ifndef HAVE_ICEORYX
	if (want_case[C_ICEORYX]) {
		want_case[C_ICEORYX] = false;
		note("iceoryx skipped: built without iceoryx: %s, then rebuild",
		    ICEORYX_APT);
	}
#endif

	/* A private domain, and room for RouDi's configuration and log. */
	if (domain_make() < 0)
		return 1;
	atexit(cleanup);
	catch_signals(kill_pairs);

	if (results_init() < 0) {
		perror("cocall: memory");
		return 1;
	}
	timer_ns = clock_cost();

	if (want_case[C_ICEORYX] && !roudi_start())
		want_case[C_ICEORYX] = false;
	for (pl = 0; pl < NPLACES; pl++)
		for (k = 0; k < NCASES; k++) {
			if (!want_place[pl] || !want_case[k])
				continue;
			if (pair_init(&pairs[npairs], k, pl) < 0) {
				perror("cocall: setting up a pair");
				return 1;
			}
			npairs++;
		}
	fprintf(stderr, "cocall: starting %d pairs of processes\n", npairs);
	start_pairs();

	/* Rounds: every case once per round, in turn, the order reversed
	 * every other round, so that drift hits all cases alike. */
	for (r = 0; r < rounds; r++) {
		progress(r, rounds, t_start);
		for (pl = 0; pl < NPLACES; pl++)
			for (si = 0; si < nsizes; si++)
				for (i = 0; i < npairs; i++) {
					struct pair *p = &pairs[r % 2 ?
					    npairs - 1 - i : i];

					if (p->live && p->place == pl)
						run_batch(p, r, si);
				}
	}
	stop_pairs();
	roudi_stop();
	report();
	fflush(stdout);
	return run_failed ? 1 : 0;
}
