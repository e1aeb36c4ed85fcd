/*
 * The statistics printed: per-edge calls, time and violations as a table
 * (compart_stats_print), and as a DOT graph of the compartments, their
 * calls and their windows (compart_dot).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "internal.h"

static const char *
node_name(int i)
{
	return i == 0 ? "host" : compart_at((uint64_t)i) != NULL ?
	    compart_at((uint64_t)i)->name : "?";
}

int
compart_stats_print(FILE *f)
{
	uint64_t calls, ns, viol;
	int i, j, rc;

	table_lock();
	fprintf(f, "%-20s %-20s %12s %12s %10s %10s\n", "caller", "callee",
	    "calls", "total_us", "ns/call", "violations");
	for (i = 0; i <= COMPART_MAX; i++)
		for (j = 0; j <= COMPART_MAX; j++) {
			if (!stats_edge(i, j, &calls, &ns, &viol))
				continue;
			fprintf(f, "%-20s %-20s %12llu %12.1f %10.0f %10llu\n",
			    node_name(i), node_name(j),
			    (unsigned long long)calls, ns / 1e3,
			    calls ? (double)ns / (double)calls : 0.0,
			    (unsigned long long)viol);
		}
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	table_unlock();
	if (rc < 0)
		errno = EIO;
	return rc;
}

static void
dot_edges(FILE *f)
{
	uint64_t calls, ns, viol;
	int i, j;

	for (i = 0; i <= COMPART_MAX; i++)
		for (j = 0; j <= COMPART_MAX; j++) {
			char from[16], to[16];

			if (!stats_edge(i, j, &calls, &ns, &viol))
				continue;
			snprintf(from, sizeof(from), i ? "c%d" : "host", i);
			snprintf(to, sizeof(to), j ? "c%d" : "host", j);
			if (calls)
				fprintf(f, "\t%s -> %s [label=\"%llu calls\\n"
				    "%.1f us\"];\n", from, to,
				    (unsigned long long)calls, ns / 1e3);
			if (viol)
				fprintf(f, "\t%s -> %s [color=red, style=bold, "
				    "label=\"%llu violations\"];\n", from, to,
				    (unsigned long long)viol);
		}
}

static void
dot_windows(FILE *f)
{
	int i, k;

	for (k = 0; k < COMPART_WINDOWS_MAX; k++) {
		int owner;
		size_t pages;
		uint64_t open_to, was_open;

		if (window_info(k, &owner, &pages, &open_to, &was_open) < 0)
			continue;
		fprintf(f, "\tw%d [shape=note, label=\"window %d\\n%zu pages\"];\n",
		    k + 1, k + 1, pages);
		if (owner)
			fprintf(f, "\tc%d -> w%d [style=dashed, arrowhead=none, "
			    "label=\"owns\"];\n", owner, k + 1);
		else
			fprintf(f, "\thost -> w%d [style=dashed, "
			    "arrowhead=none, label=\"owns\"];\n", k + 1);
		for (i = 1; i <= COMPART_MAX; i++)
			if (compart_at((uint64_t)i) != NULL &&
			    ((open_to | was_open) & (1ULL << i)))
				fprintf(f, "\tw%d -> c%d [style=dashed, "
				    "label=\"%s\"];\n", k + 1, i,
				    (open_to & (1ULL << i)) ? "open" :
				    "was open");
	}
}

int
compart_dot(FILE *f)
{
	int i, rc;

	table_lock();
	fprintf(f, "digraph compartments {\n"
	    "\trankdir=LR;\n"
	    "\tnode [fontname=\"Helvetica\"];\n"
	    "\thost [shape=box, label=\"host\\n(mode %s)\"];\n",
	    compart_mode_name(iso_mode() < 0 ? 0 : iso_mode()));
	for (i = 1; i <= COMPART_MAX; i++)
		if (compart_at((uint64_t)i) != NULL)
			fprintf(f, "\tc%d [shape=box, style=rounded, "
			    "label=\"%s\\n(%s)\"];\n", i,
			    compart_at((uint64_t)i)->name,
			    compart_mode_name(compart_at((uint64_t)i)->mode));
	dot_edges(f);
	dot_windows(f);
	fprintf(f, "}\n");
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	table_unlock();
	if (rc < 0)
		errno = EIO;
	return rc;
}
