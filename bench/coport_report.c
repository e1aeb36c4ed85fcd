/*
 * bench/coport's report: the tables of medians over rounds, memcpy's
 * bandwidth, the ratios of the targets in docs/performance.md, the JSON
 * line, and the data file for `make plots`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coport.h"

/*
 * Targets, from docs/performance.md: the median over rounds of the ratio
 * of two cases measured in the same round, at one size.  den C_MEMCPY is
 * memcpy bandwidth at MEMCPY_SIZE.  A goal of 0 is shown for information;
 * else messages/s and MB/s must be at least the goal, round trips at most.
 */
enum measure { M_MSGS, M_MBPS, M_RTT };
static const struct target {
	int		 num, den;
	size_t		 size;
	enum measure	 m;
	double		 goal;
} targets[] = {
	{ C_CHANNEL, C_RAWRING, 64, M_MSGS, 0.85 },
	{ C_CARRIER, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0.5 },
	{ C_COPIPE, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0.5 },
	{ C_CARRIER, C_PIPE, 64, M_MSGS, 1 },
	{ C_COPIPE, C_PIPE, 64, M_MSGS, 1 },
	{ C_CHANNEL, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_CARRIER, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_COPIPE, C_RAWRING, 64, M_RTT, 1.5 },
	{ C_CHANNEL, C_PIPE, 64, M_MSGS, 20 },
	{ C_CHANNEL, C_SOCKET, 64, M_MSGS, 0 },
	{ C_CHANNEL, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_PIPE, C_MEMCPY, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_CHANNEL, C_RAWRING, MEMCPY_SIZE, M_MBPS, 0 },
	{ C_PIPE, C_RAWRING, 64, M_RTT, 0 },
	{ C_SOCKET, C_RAWRING, 64, M_RTT, 0 },
};
static const char *const measure_name[] = { "msgs/s", "MB/s", "round trip" };
#define NTARGETS	(int)(sizeof(targets) / sizeof(targets[0]))

/* Human sizes: 1 B, 4 KiB, 2 MiB. */
const char *
size_str(size_t n, char *buf, size_t room)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, room, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, room, "%zu KiB", n >> 10);
	else
		snprintf(buf, room, "%zu B", n);
	return buf;
}

/* Messages per second of a case at a size, over the rounds (kind PP(k):
 * nanoseconds per round trip). */
static bool
rate_stats(int kind, int si, struct stat3 *s)
{
	double v[rounds];
	int r, n = 0;

	for (r = 0; r < rounds; r++)
		if (*rate_at(r, si, kind) > 0)
			v[n++] = *rate_at(r, si, kind);
	return stats(v, n, s);
}

static int
size_index(size_t len)
{
	int si;

	for (si = 0; si < nsizes; si++)
		if (sizes[si] == len)
			return si;
	return -1;
}

/* MB/s of one kind at size index si in round r (memcpy: its own size). */
static double
bw_at(int r, int kind, int si)
{
	if (kind == C_MEMCPY)
		return *rate_at(r, 0, C_MEMCPY) * MEMCPY_SIZE / MB;
	return *rate_at(r, si, kind) * (double)sizes[si] / MB;
}

/* A case's figure in round r for a target's measure. */
static double
measure_at(int r, enum measure m, int kind, int si)
{
	switch (m) {
	case M_MBPS:
		return bw_at(r, kind, si);
	case M_RTT:
		return *rate_at(r, si, PP(kind));
	default:
		return *rate_at(r, si, kind);
	}
}

/* The median, over rounds, of a target's per-round ratio. */
static bool
ratio_of(const struct target *t, struct stat3 *s)
{
	int si = size_index(t->size), r, n = 0;
	double v[rounds];

	if (si < 0)
		return false;
	for (r = 0; r < rounds; r++) {
		double a = measure_at(r, t->m, t->num, si);
		double b = measure_at(r, t->m, t->den, si);

		if (a > 0 && b > 0)
			v[n++] = a / b;
	}
	return stats(v, n, s);
}

/* Round trips must be at most the goal, the others at least. */
static bool
at_most(const struct target *t)
{
	return t->m == M_RTT;
}

/* 12.3M, 845k, 512: three or four significant digits. */
static const char *
rate_str(double v, char *buf, size_t room)
{
	if (v >= 1e9)
		snprintf(buf, room, "%.3gG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, room, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, room, "%.3gk", v / 1e3);
	else
		snprintf(buf, room, "%.0f", v);
	return buf;
}

/* A round trip: 812 ns, 4.52 us, 1.30 ms. */
static const char *
rtt_str(double ns, char *buf, size_t room)
{
	if (ns >= 1e6)
		snprintf(buf, room, "%.3g ms", ns / 1e6);
	else if (ns >= 1e4)
		snprintf(buf, room, "%.3g us", ns / 1e3);
	else
		snprintf(buf, room, "%.0f ns", ns);
	return buf;
}

static const char *
bw_str(double v, char *buf, size_t room)
{
	snprintf(buf, room, v >= 1000 ? "%.0f" : v >= 1 ? "%.3g" : "%.2g", v);
	return buf;
}

static void
target_name(const struct target *t, char *buf, size_t room)
{
	snprintf(buf, room, "%s/%s %s", case_name[t->num], case_name[t->den],
	    measure_name[t->m]);
}

static void
print_table(enum measure m)
{
	static const char *const title[] = {
		[M_MSGS] = "streaming: messages per second",
		[M_MBPS] = "streaming: MB/s (10^6 bytes per second)",
		[M_RTT] = "ping-pong: time per round trip",
	};
	char sz[32], v[32];
	struct stat3 s;
	int si, k;

	printf("\n%s, median over rounds\n%-8s", title[m], "size");
	for (k = 0; k < NCASES; k++)
		if (want_case[k])
			printf(" %10s", case_name[k]);
	putchar('\n');
	for (si = 0; si < nsizes; si++) {
		printf("%-8s", size_str(sizes[si], sz, sizeof(sz)));
		for (k = 0; k < NCASES; k++) {
			if (!want_case[k])
				continue;
			if (!rate_stats(m == M_RTT ? PP(k) : k, si, &s))
				printf(" %10s", "-");
			else if (m == M_MBPS)
				printf(" %10s", bw_str(s.med * (double)sizes[si] /
				    MB, v, sizeof(v)));
			else if (m == M_RTT)
				printf(" %10s", rtt_str(s.med, v, sizeof(v)));
			else
				printf(" %10s", rate_str(s.med, v, sizeof(v)));
		}
		putchar('\n');
	}
}

void
report(int64_t elapsed_ms)
{
	struct stat3 s;
	char name[64], sz[32], goal[16], q[48];
	bool first;
	int si, k, t;

	if (want_stream)
		printf("coport: one sender streams messages to one receiver; "
		    "the receiver counts them\n");
	if (want_pp)
		printf("coport: ping-pong: two processes bounce one message "
		    "back and forth; the first times the round trips\n");
	if (ncpus > 1)
		printf("sender on cpu %d, receiver on cpu %d", cpus[0], cpus[1]);
	else
		printf("sender and receiver both on cpu %d", cpus[0]);
	if (batch_count > 0)
		printf("; %d rounds, %llu messages per case per round",
		    rounds, (unsigned long long)batch_count);
	else
		printf("; %d rounds, %d ms per case per round", rounds,
		    batch_ms);
	printf(" (%.1f s in all)\n", elapsed_ms / 1000.0);
	printf("socket is socketpair(AF_UNIX, SOCK_STREAM); pipe and socket: "
	    "one write() per message,\nreads of exactly its length; "
	    "cochannel ring: 4 x (size + 16) rounded up to a power\nof two, "
	    "4 KiB to 16 MiB; cocarrier and copipe: the receiver reads a "
	    "view\n");
	print_notes();
	if (want_stream) {
		print_table(M_MSGS);
		print_table(M_MBPS);
	}
	if (want_pp)
		print_table(M_RTT);
	if (rate_stats(C_MEMCPY, 0, &s))
		printf("\nmemcpy of 1 MiB, one process on cpu %d: %.0f MB/s "
		    "[%.0f - %.0f]\n", cpus[ncpus > 1 ? 1 : 0],
		    s.med * MEMCPY_SIZE / MB, s.q1 * MEMCPY_SIZE / MB,
		    s.q3 * MEMCPY_SIZE / MB);

	printf("\nratios: median over rounds of the ratio of the two cases "
	    "in a round [quartiles]\n");
	printf("%-32s %7s %8s %17s %8s %s\n", "ratio", "size", "value",
	    "[q1 - q3]", "target", "");
	for (t = 0; t < NTARGETS; t++) {
		const struct target *g = &targets[t];
		const char *mark_s;

		if (!ratio_of(g, &s))
			continue;
		target_name(g, name, sizeof(name));
		mark_s = goal_str(goal, sizeof(goal), at_most(g), g->goal,
		    s.med);
		snprintf(q, sizeof(q), "[%.3g - %.3g]", s.q1, s.q3);
		printf("%-32s %7s %8.3g %17s %8s %s\n", name,
		    size_str(g->size, sz, sizeof(sz)), s.med, q, goal, mark_s);
	}

	/* The machine-readable copy, one line. */
	json_begin("msgs/s, MB/s (10^6 B/s)");
	printf(",\"rounds\":%d,\"batch_ms\":%d,\"batch_count\":%llu,"
	    "\"socket\":\"SOCK_STREAM\",", rounds,
	    batch_count > 0 ? 0 : batch_ms, (unsigned long long)batch_count);
	json_notes();
	printf(",\"memcpy\":");
	if (rate_stats(C_MEMCPY, 0, &s))
		printf("{\"size\":%u,\"MBps\":%.1f,\"q1\":%.1f,\"q3\":%.1f,"
		    "\"rounds\":%d}", MEMCPY_SIZE, s.med * MEMCPY_SIZE / MB,
		    s.q1 * MEMCPY_SIZE / MB, s.q3 * MEMCPY_SIZE / MB, s.n);
	else
		printf("null");
	printf(",\"results\":[");
	first = true;
	for (si = 0; si < nsizes; si++)
		for (k = 0; k < NCASES; k++) {
			double m = (double)sizes[si] / MB;

			if (!rate_stats(k, si, &s))
				continue;
			printf("%s{\"case\":\"%s\",\"size\":%zu,"
			    "\"msgs_per_s\":%.1f,\"msgs_q1\":%.1f,"
			    "\"msgs_q3\":%.1f,\"MBps\":%.6g,\"rounds\":%d}",
			    first ? "" : ",", case_name[k], sizes[si], s.med,
			    s.q1, s.q3, s.med * m, s.n);
			first = false;
		}
	printf("],\"pingpong\":[");
	first = true;
	for (si = 0; si < nsizes; si++)
		for (k = 0; k < NCASES; k++) {
			if (!rate_stats(PP(k), si, &s))
				continue;
			printf("%s{\"case\":\"%s\",\"size\":%zu,"
			    "\"rtt_ns\":%.1f,\"rtt_q1\":%.1f,\"rtt_q3\":%.1f,"
			    "\"rounds\":%d}", first ? "" : ",", case_name[k],
			    sizes[si], s.med, s.q1, s.q3, s.n);
			first = false;
		}
	printf("],\"ratios\":[");
	first = true;
	for (t = 0; t < NTARGETS; t++) {
		const struct target *g = &targets[t];

		if (!ratio_of(g, &s))
			continue;
		printf("%s{\"ratio\":\"%s/%s\",\"measure\":\"%s\",\"size\":%zu,"
		    "\"value\":%.4g,\"q1\":%.4g,\"q3\":%.4g,\"rounds\":%d",
		    first ? "" : ",", case_name[g->num], case_name[g->den],
		    measure_name[g->m], g->size, s.med, s.q1, s.q3, s.n);
		json_goal(at_most(g), g->goal, s.med);
		putchar('}');
		first = false;
	}
	printf("]}\n");
}

/*
 * For gnuplot: one block per case (separated by two blank lines, for
 * `index`), a row per size: size, messages/s, MB/s (medians over rounds)
 * and the quartiles of messages/s; then one block per ping-pong case, a
 * row per size: size, nanoseconds per round trip (median) and its
 * quartiles.  Comments name the cases of each kind in order and give
 * memcpy's bandwidth.
 */
void
write_data(void)
{
	struct stat3 s;
	FILE *f;
	int k, si, i;

	if (datafile == NULL || datafile[0] == '\0')
		return;
	if ((f = fopen(datafile, "w")) == NULL) {
		fprintf(stderr, "coport: cannot write %s: %s\n", datafile,
		    strerror(errno));
		return;
	}
	fprintf(f, "# bench/coport: one sender streams to one receiver, and "
	    "ping-pong; medians over %d rounds\n", rounds);
	fprintf(f, "# cases:");
	for (k = 0; k < NCASES; k++)
		if (want_stream && want_case[k])
			fprintf(f, " %s", case_name[k]);
	fprintf(f, "\n# pingpong cases:");
	for (k = 0; k < NCASES; k++)
		if (want_pp && want_case[k])
			fprintf(f, " %s", case_name[k]);
	fprintf(f, "\n");
	if (rate_stats(C_MEMCPY, 0, &s))
		fprintf(f, "# memcpy_MBps %.1f\n", s.med * MEMCPY_SIZE / MB);
	fprintf(f, "# size msgs_per_s MB_per_s msgs_q1 msgs_q3\n"
	    "# pingpong: size rtt_ns rtt_q1 rtt_q3\n");
	for (k = 0, i = 0; k < NCASES; k++) {
		if (!want_stream || !want_case[k])
			continue;
		fprintf(f, "%s# %s\n", i++ > 0 ? "\n\n" : "", case_name[k]);
		for (si = 0; si < nsizes; si++)
			if (rate_stats(k, si, &s))
				fprintf(f, "%zu %.1f %.6g %.1f %.1f\n", sizes[si],
				    s.med, s.med * (double)sizes[si] / MB, s.q1,
				    s.q3);
	}
	for (k = 0; k < NCASES; k++) {
		if (!want_pp || !want_case[k])
			continue;
		fprintf(f, "%s# pingpong %s\n", i++ > 0 ? "\n\n" : "",
		    case_name[k]);
		for (si = 0; si < nsizes; si++)
			if (rate_stats(PP(k), si, &s))
				fprintf(f, "%zu %.1f %.1f %.1f\n", sizes[si],
				    s.med, s.q1, s.q3);
	}
	if (fclose(f) != 0)
		fprintf(stderr, "coport: writing %s: %s\n", datafile,
		    strerror(errno));
	else
		fprintf(stderr, "coport: data for plots in %s\n", datafile);
}

/* Where the data goes by default: results/coport.dat beside the program
 * (bench/run.sh keeps its results there). */
const char *
default_datafile(void)
{
	static char path[PATH_MAX + 32];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/results", dirname(exe));
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return NULL;
	strcat(path, "/coport.dat");
	return path;
}

/* Say which targets' goals cannot be judged for a size not measured. */
void
note_missing_targets(void)
{
	int i;

	for (i = 0; i < NTARGETS; i++)
		if (targets[i].goal > 0 && size_index(targets[i].size) < 0 &&
		    (targets[i].m == M_RTT ? want_pp : want_stream) &&
		    want_case[targets[i].num] && (targets[i].den == C_MEMCPY ||
		    want_case[targets[i].den]))
			note("no ratio %s/%s %s: size %zu not measured",
			    case_name[targets[i].num],
			    case_name[targets[i].den],
			    measure_name[targets[i].m], targets[i].size);
}
