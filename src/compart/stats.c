/*
 * Observability: per-edge (caller, callee) call counts and time, counted
 * by the slow gate while statistics are on (gate.c, compart_stats()), and
 * violations per edge, counted by the fault handler.  report.c prints
 * them.
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "internal.h"

struct edge {
	uint64_t	 calls;
	uint64_t	 ns;
	uint64_t	 violations;
};

/* Relaxed atomics: counts, read only to be printed. */
static struct edge edges[COMPART_MAX + 1][COMPART_MAX + 1];

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

/* accessor touched memory of owner's (0: the host's, or nobody's).
 * From the fault handler: no locks. */
void
stats_violation(int accessor, int owner)
{
	__atomic_fetch_add(&edges[accessor][owner].violations, 1,
	    __ATOMIC_RELAXED);
}

void
stats_forget(int idx)
{
	int i;

	for (i = 0; i <= COMPART_MAX; i++) {
		memset(&edges[idx][i], 0, sizeof(edges[idx][i]));
		memset(&edges[i][idx], 0, sizeof(edges[i][idx]));
	}
}

/* Edge (from, to): false if nothing went along it. */
bool
stats_edge(int from, int to, uint64_t *calls, uint64_t *ns,
    uint64_t *violations)
{
	const struct edge *e = &edges[from][to];

	*calls = e->calls;
	*ns = e->ns;
	*violations = e->violations;
	return *calls != 0 || *violations != 0;
}

