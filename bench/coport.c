/*
 * Streaming throughput and ping-pong latency between two processes: one
 * sender streams messages of one size to one receiver, and two processes
 * bounce one message back and forth, through COCHANNEL, COCARRIER and
 * COPIPE coports, a pipe, a UNIX stream socketpair and a bare ring, with
 * the two processes on two CPUs; and memcpy bandwidth (1 MiB, one
 * process) in the same run.  Sizes 1 B to 2 MiB, doubling.  Prints
 * tables, then one line starting with "JSON ", and writes a data file for
 * `make plots`.  docs/performance.md says what each case measures.
 *
 * This file: the settings, the options and the rounds; coport.h names
 * the others.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "coport.h"

const char *const case_name[NKINDS] = {
	"cochannel", "cocarrier", "copipe", "pipe", "socket", "rawring",
	"memcpy",
};

/* Settings. */
bool want_case[NCASES], want_stream = true, want_pp = true;
size_t sizes[MAXSIZES], maxsize;
int nsizes, rounds = 5, batch_ms = 200;
uint64_t batch_count;		/* -n: messages per batch, not time */
const char *datafile;

static void
cleanup(void)
{
	void *k;
	pid_t pid;
	int i;

	if (getpid() != parent_pid)
		return;
	for (i = 0; i < NPAIRS; i++)
		pair_kill(&pairs[i]);
	/* The comsgd our ports started serves only our domain. */
	if (bench_dir[0] != '\0' && colookup("comsgd", &k) == 0) {
		if (cotargetpid(k, &pid) == 0 && pid > 0)
			kill(pid, SIGKILL);
		capfree(k);
	}
	domain_remove();
}

/* ---- options and main ---- */

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: coport [-hq] [-c cases] [-m modes] [-n messages | -t ms]\n"
	    "              [-o file] [-r rounds] [-s sizes]\n");
	if (status == 0)
		fprintf(f,
		    "  -c  cases, comma-separated (default all): cochannel,cocarrier,\n"
		    "      copipe,pipe,socket,rawring (memcpy of 1 MiB runs with\n"
		    "      stream)\n"
		    "  -m  modes, comma-separated (default both): stream (one sender\n"
		    "      streams to one receiver: messages/s), pingpong (one message\n"
		    "      back and forth: time per round trip)\n"
		    "  -n  messages (round trips) measured per case per round,\n"
		    "      instead of a time\n"
		    "  -o  data file for plots (default results/coport.dat beside\n"
		    "      the program; -o '' writes none)\n"
		    "  -q  quick: 3 rounds of 20 ms per case (about 20 s)\n"
		    "  -r  rounds; each runs every case once at every size (default 5)\n"
		    "  -s  message sizes in bytes, comma-separated (default 1 to\n"
		    "      2097152, doubling)\n"
		    "  -t  milliseconds measured per case per round (default 200)\n"
		    "Prints tables, then a last line: \"JSON \" and the results as one\n"
		    "JSON object.  See docs/performance.md.\n");
	exit(status);
}

static void
parse_modes(char *arg)
{
	static const char *const mode_name[] = { "stream", "pingpong" };
	bool want[2];

	if (parse_names(arg, mode_name, 2, want, "mode") < 0 ||
	    (!want[0] && !want[1]))
		usage(2);
	want_stream = want[0];
	want_pp = want[1];
}

int
main(int argc, char **argv)
{
	bool rounds_set = false, time_set = false, quick = false, data_set = false;
	int ch, i, k, r, si, order[NPAIRS], norder;
	long long v;
	int64_t t_start;

	bench_init("coport");
	for (k = 0; k < NCASES; k++)
		want_case[k] = true;
	for (nsizes = 0; nsizes < 22; nsizes++)
		sizes[nsizes] = (size_t)1 << nsizes;
	while ((ch = getopt(argc, argv, "c:hm:n:o:qr:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			if (parse_names(optarg, case_name, NCASES, want_case,
			    "case") < 0)
				usage(2);
			break;
		case 'h':
			usage(0);
		case 'm':
			parse_modes(optarg);
			break;
		case 'n':
			if (parse_num(optarg, 10, 1LL << 40, &v) < 0)
				usage(2);
			batch_count = (uint64_t)v;
			break;
		case 'o':
			datafile = optarg;
			data_set = true;
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			if (parse_num(optarg, 1, 1000, &v) < 0)
				usage(2);
			rounds = (int)v;
			rounds_set = true;
			break;
		case 's':
			if ((i = parse_sizes(optarg, sizes, MAXSIZES, 1,
			    MAXSIZE)) <= 0)
				usage(2);
			nsizes = i;
			break;
		case 't':
			if (parse_num(optarg, 1, 600000, &v) < 0)
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
			batch_ms = 20;
	}
	if (!data_set)
		datafile = default_datafile();
	maxsize = MEMCPY_SIZE;
	for (si = 0; si < nsizes; si++)
		if (sizes[si] > maxsize)
			maxsize = sizes[si];
	t_start = now_ns();

	if (find_cpus() < 0)
		return 1;
	if (ncpus < 2)
		note("only one CPU available: sender and receiver share it");
	for (si = 0; si < nsizes; si++)
		if (want_case[C_CHANNEL] && !ring_fits(sizes[si]))
			note("cochannel skips %zu B: larger than its largest "
			    "ring (%u bytes)", sizes[si], COCHANNEL_MAXSIZE);
	note_missing_targets();

	/* A private domain, removed at the end with its comsgd. */
	if (domain_make() < 0)
		return 1;
	for (k = 0; k < NPAIRS; k++)
		for (i = 0; i < 2; i++)
			pairs[k].cmd_w[i] = pairs[k].res_r[i] =
			    pairs[k].cmd_r[i] = pairs[k].res_w[i] =
			    pairs[k].fd[i] = pairs[k].back[i] = -1;
	atexit(cleanup);
	catch_signals(kill_pairs);

	if (rates_init() < 0) {
		perror("coport: memory");
		return 1;
	}
	for (k = 0; k < NPAIRS; k++) {
		bool pp = k >= NKINDS;
		int kind = pp ? k - NKINDS : k;

		if (!(pp ? want_pp : want_stream) ||
		    (kind < NCASES && !want_case[kind]))
			continue;
		if (pair_init(&pairs[k], kind, pp) < 0) {
			perror("coport: setting up a pair");
			return 1;
		}
	}
	fprintf(stderr, "coport: starting the processes\n");
	start_pairs();

	/*
	 * Rounds: every case once at every size, in turn (streaming, then
	 * ping-pong), the order of the cases reversed every other round, so
	 * that drift hits all alike.  memcpy runs beside the cases at 1 MiB
	 * (or after the last size).
	 */
	for (r = 0; r < rounds; r++) {
		bool memcpy_done = false;

		progress(r, rounds, t_start);
		for (si = 0; si <= nsizes; si++) {
			norder = 0;
			if (si < nsizes)
				for (k = 0; k < NPAIRS; k++)
					if (k != C_MEMCPY && pairs[k].live &&
					    runs_at(pairs[k].kind, sizes[si]))
						order[norder++] = k;
			if (!memcpy_done && pairs[C_MEMCPY].live &&
			    (si == nsizes || sizes[si] == MEMCPY_SIZE)) {
				order[norder++] = C_MEMCPY;
				memcpy_done = true;
			}
			for (i = 0; i < norder; i++) {
				struct pair *p = &pairs[order[r % 2 ?
				    norder - 1 - i : i]];

				if (p->live)
					run_batch(p, r, si < nsizes ? si : 0);
			}
		}
	}
	stop_pairs();
	report((now_ns() - t_start) / 1000000);
	fflush(stdout);
	write_data();
	return run_failed ? 1 : 0;
}
