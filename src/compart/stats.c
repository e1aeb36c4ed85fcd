/*
 * Observability: per-edge (caller, callee) call counts and time, counted
 * by the slow gate while statistics are on; violations per edge; windows
 * ever opened to each compartment.  Printed as a table or as a DOT graph.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct edge {
	uint64_t	 calls;
	uint64_t	 ns;
	uint64_t	 violations;
};

static struct edge edges[COMPART_MAX + 1][COMPART_MAX + 1];
/* windows ever opened to a compartment (bit k: window k+1), for the graph */
static uint64_t win_used[COMPART_MAX + 1];

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
stats_add(int from, int to, uint64_t ns)
{
	struct edge *e = &edges[from][to];

	__atomic_fetch_add(&e->calls, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->ns, ns, __ATOMIC_RELAXED);
}

/* From the fault handler: no locks. */
void
stats_violation(int accessor, int dom)
{
	int owner = dom < 0 ? 0 : G.dom[dom].owner;

	__atomic_fetch_add(&edges[accessor][owner].violations, 1,
	    __ATOMIC_RELAXED);
}

void
stats_window(int win, int owner, int to, bool open)
{
	(void)owner;
	if (open && win >= 1 && win <= 64)
		win_used[to] |= 1ULL << (win - 1);
}

void
stats_window_gone(int win)
{
	int i;

	for (i = 0; i <= COMPART_MAX; i++)
		win_used[i] &= ~(1ULL << (win - 1));
}

void
stats_forget(int idx)
{
	int i;

	for (i = 0; i <= COMPART_MAX; i++) {
		memset(&edges[idx][i], 0, sizeof(edges[idx][i]));
		memset(&edges[i][idx], 0, sizeof(edges[i][idx]));
	}
	win_used[idx] = 0;
}

int
compart_stats(int on)
{
	pthread_mutex_lock(&G.lock);
	G.stats = on != 0;
	gates_refresh();
	pthread_mutex_unlock(&G.lock);
	return 0;
}

static const char *
node_name(int i)
{
	return i == 0 ? "host" : G.c[i] != NULL ? G.c[i]->name : "?";
}

int
compart_stats_print(FILE *f)
{
	int i, j, rc;

	pthread_mutex_lock(&G.lock);
	fprintf(f, "%-20s %-20s %12s %12s %10s %10s\n", "caller", "callee",
	    "calls", "total_us", "ns/call", "violations");
	for (i = 0; i <= COMPART_MAX; i++)
		for (j = 0; j <= COMPART_MAX; j++) {
			struct edge *e = &edges[i][j];

			if (e->calls == 0 && e->violations == 0)
				continue;
			fprintf(f, "%-20s %-20s %12llu %12.1f %10.0f %10llu\n",
			    node_name(i), node_name(j),
			    (unsigned long long)e->calls, e->ns / 1e3,
			    e->calls ? (double)e->ns / (double)e->calls : 0.0,
			    (unsigned long long)e->violations);
		}
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	pthread_mutex_unlock(&G.lock);
	if (rc < 0)
		errno = EIO;
	return rc;
}

int
compart_dot(FILE *f)
{
	int i, j, k, rc;

	pthread_mutex_lock(&G.lock);
	fprintf(f, "digraph compartments {\n"
	    "\trankdir=LR;\n"
	    "\tnode [fontname=\"Helvetica\"];\n"
	    "\thost [shape=box, label=\"host\\n(mode %s)\"];\n",
	    compart_mode_name(G.mode < 0 ? 0 : G.mode));
	for (i = 1; i <= COMPART_MAX; i++)
		if (G.c[i] != NULL)
			fprintf(f, "\tc%d [shape=box, style=rounded, "
			    "label=\"%s\\n(%s)\"];\n", i, G.c[i]->name,
			    compart_mode_name(G.c[i]->mode));
	for (i = 0; i <= COMPART_MAX; i++)
		for (j = 0; j <= COMPART_MAX; j++) {
			struct edge *e = &edges[i][j];
			char from[16], to[16];

			if (e->calls == 0 && e->violations == 0)
				continue;
			snprintf(from, sizeof(from), i ? "c%d" : "host", i);
			snprintf(to, sizeof(to), j ? "c%d" : "host", j);
			if (e->calls)
				fprintf(f, "\t%s -> %s [label=\"%llu calls\\n"
				    "%.1f us\"];\n", from, to,
				    (unsigned long long)e->calls, e->ns / 1e3);
			if (e->violations)
				fprintf(f, "\t%s -> %s [color=red, style=bold, "
				    "label=\"%llu violations\"];\n", from, to,
				    (unsigned long long)e->violations);
		}
	for (k = 0; k < COMPART_WINDOWS_MAX; k++) {
		int owner;
		size_t pages;
		uint64_t open_to;

		if (window_info(k, &owner, &pages, &open_to) < 0)
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
			if (G.c[i] != NULL && ((open_to & (1ULL << i)) ||
			    (win_used[i] & (1ULL << k))))
				fprintf(f, "\tw%d -> c%d [style=dashed, "
				    "label=\"%s\"];\n", k + 1, i,
				    (open_to & (1ULL << i)) ? "open" :
				    "was open");
	}
	fprintf(f, "}\n");
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -1;
	pthread_mutex_unlock(&G.lock);
	if (rc < 0)
		errno = EIO;
	return rc;
}
