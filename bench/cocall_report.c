/*
 * bench/cocall's report: the table of the pooled samples, the ratios of
 * the targets in docs/performance.md, and the JSON line.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cocall.h"

/*
 * Targets, from docs/performance.md: each a ratio of the medians of two
 * cases measured in the same round.  A goal of 0 is shown for information.
 */
static const struct target {
	int		 place, num, den;
	bool		 at_most;
	double		 goal;
} targets[] = {
	{ P_CROSS, C_COCALL, C_SPIN, true, 1.5 },
	{ P_CROSS, C_PIPE, C_COCALL, false, 25 },
	{ P_CROSS, C_SOCKET, C_COCALL, false, 25 },
	{ P_CROSS, C_COCALL, C_ICEORYX, true, 0.25 },
	{ P_SAME, C_COCALL, C_FUTEX, true, 1.2 },
	{ P_SAME, C_PIPE, C_COCALL, false, 0 },
	{ P_CROSS, C_COCALL_SLOW, C_PIPE, true, 0 },
};
#define NTARGETS	(int)(sizeof(targets) / sizeof(targets[0]))

/* The median, over rounds, of the ratio of two cases' medians. */
static bool
ratio_of(const struct target *t, int si, struct stat3 *out)
{
	double *v = malloc(rounds * sizeof(*v));
	int r, n = 0;
	bool some;

	if (v == NULL)
		return false;
	for (r = 0; r < rounds; r++) {
		double a = *median_at(r, t->place, si, t->num);
		double b = *median_at(r, t->place, si, t->den);

		if (a > 0 && b > 0)
			v[n++] = a / b;
	}
	some = stats(v, n, out);
	free(v);
	return some;
}

void
report(void)
{
	int pl, si, k, t;
	bool first;

	printf("round-trip latency between two processes, ns "
	    "(min, median, 99th percentile)\n");
	if (ncpus > 1)
		printf("cpus %d and %d", cpus[0], cpus[1]);
	else
		printf("cpu %d only", cpus[0]);
	printf("; %d rounds, %d ms per case per round; clock cost %lld ns "
	    "removed from each sample\n", rounds, batch_ms,
	    (long long)timer_ns);
	printf("socketpair is AF_UNIX SOCK_SEQPACKET; pipe sends 1 byte "
	    "for size 0\n");
	print_notes();
	printf("\n%-6s %-12s %6s %9s %9s %9s %8s\n", "place", "case", "size",
	    "min", "median", "p99", "samples");
	for (pl = 0; pl < NPLACES; pl++)
		for (si = 0; si < nsizes; si++)
			for (k = 0; k < NCASES; k++) {
				struct pool *p = &pooled[pl][si][k];

				if (p->n == 0)
					continue;
				qsort(p->v, p->n, sizeof(*p->v), cmp_u32);
				printf("%-6s %-12s %6zu %9u %9.0f %9u %8zu\n",
				    place_name[pl], case_name[k], sizes[si],
				    p->v[0], median_sorted(p->v, p->n),
				    rank_sorted(p->v, p->n, 0.99), p->n);
			}
	printf("\nratios: median over rounds of the ratio of the two "
	    "medians of a round [quartiles]\n");
	printf("%-6s %6s %-20s %8s %17s %8s %s\n", "place", "size", "ratio",
	    "value", "[q1 - q3]", "target", "");
	for (t = 0; t < NTARGETS; t++)
		for (si = 0; si < nsizes; si++) {
			const struct target *g = &targets[t];
			struct stat3 r;
			char name[40], goal[16], q[40];
			const char *mark;

			if (!ratio_of(g, si, &r))
				continue;
			snprintf(name, sizeof(name), "%s/%s", case_name[g->num],
			    case_name[g->den]);
			mark = goal_str(goal, sizeof(goal), g->at_most, g->goal,
			    r.med);
			snprintf(q, sizeof(q), "[%.3g - %.3g]", r.q1, r.q3);
			printf("%-6s %6zu %-20s %8.3g %17s %8s %s\n",
			    place_name[g->place], sizes[si], name, r.med, q,
			    goal, mark);
		}

	/* The machine-readable copy, one line. */
	json_begin("ns");
	printf(",\"rounds\":%d,\"batch_ms\":%d,\"clock_ns\":%lld,"
	    "\"socket\":\"SOCK_SEQPACKET\",", rounds, batch_ms,
	    (long long)timer_ns);
	json_notes();
	printf(",\"results\":[");
	first = true;
	for (pl = 0; pl < NPLACES; pl++)
		for (si = 0; si < nsizes; si++)
			for (k = 0; k < NCASES; k++) {
				struct pool *p = &pooled[pl][si][k];

				if (p->n == 0)
					continue;
				printf("%s{\"placement\":\"%s\",\"case\":\"%s\","
				    "\"size\":%zu,\"min\":%u,\"median\":%.1f,"
				    "\"p99\":%u,\"samples\":%zu}",
				    first ? "" : ",", place_name[pl],
				    case_name[k], sizes[si], p->v[0],
				    median_sorted(p->v, p->n),
				    rank_sorted(p->v, p->n, 0.99), p->n);
				first = false;
			}
	printf("],\"ratios\":[");
	first = true;
	for (t = 0; t < NTARGETS; t++)
		for (si = 0; si < nsizes; si++) {
			const struct target *g = &targets[t];
			struct stat3 r;

			if (!ratio_of(g, si, &r))
				continue;
			printf("%s{\"placement\":\"%s\",\"size\":%zu,"
			    "\"ratio\":\"%s/%s\",\"value\":%.4g,\"q1\":%.4g,"
			    "\"q3\":%.4g,\"rounds\":%d", first ? "" : ",",
			    place_name[g->place], sizes[si], case_name[g->num],
			    case_name[g->den], r.med, r.q1, r.q3, r.n);
			json_goal(g->at_most, g->goal, r.med);
			putchar('}');
			first = false;
		}
	printf("]}\n");
}

