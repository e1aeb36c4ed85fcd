/*
 * bench/cocall's pairs of processes: the server and the client of each
 * case, and the parent's side: starting them, one batch of round trips at
 * a time, its samples pooled and its median kept by round, and stopping
 * them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cocall.h"

/* Parent -> client: run a batch; client -> parent: how many samples. */
struct cmd {
	uint32_t	size, max;
	int64_t		time_ns;
};
struct res {
	int32_t		n, err;
};

/* Parent state; children get a copy and use only their pair. */
struct pair pairs[MAXPAIRS];
int npairs;
int64_t timer_ns;
static uint32_t *samples;		/* shared: the client writes a batch */

struct pool pooled[NPLACES][MAXSIZES][NCASES];
static double *medians;

/* A child's error: say which, and go (the parent notices). */
void
child_die(struct pair *p, int role, const char *what)
{
	fprintf(stderr, "cocall: %s %s %s: %s: %s\n", case_name[p->kind],
	    place_name[p->place], role == SERVER ? "server" : "client", what,
	    strerror(errno));
	_exit(1);
}

/* ---- the two processes of a pair ---- */

/*
 * Pin the process to its core before anything in it uses libcomsg, as a
 * user would; libcomsg adapts its spinning to where its peer turns out to
 * run.
 */
static void
place_self(struct pair *p, int role)
{
	int mine = role == SERVER ? p->cpu_srv : p->cpu_cli;
	bool uses_comsg = p->kind == C_COCALL || p->kind == C_COCALL_SLOW;
	int what = role == SERVER ? COSETUP_COACCEPT : COSETUP_COCALL;

	if (pin_cpu(mine) < 0)
		child_die(p, role, "sched_setaffinity");
	if (uses_comsg && cosetup(what) < 0)
		child_die(p, role, "cosetup");
}

static void
client_loop(struct pair *p)
{
	const struct ops *o = ops[p->kind];
	struct cmd c;
	struct res r;

	for (;;) {
		int64_t t0, t1, warm_end, end, d;
		uint32_t k = 0;
		int i;

		if (read_full(p->cmd_r, &c, sizeof(c)) < 0)
			break;
		memset(&r, 0, sizeof(r));
		STORE_RLX(&p->sh->size, c.size);
		if (o->begin != NULL)
			o->begin(p, c.size);
		/* Warm up: the first calls after idling wake sleepers. */
		t0 = now_ns();
		warm_end = t0 + c.time_ns / 10;
		for (i = 0; i < 2 || now_ns() < warm_end; i++)
			if (o->rt(p, c.size) < 0)
				goto fail;
		t0 = now_ns();
		end = t0 + c.time_ns;
		while (k < c.max) {
			if (o->rt(p, c.size) < 0)
				goto fail;
			/* One clock read per round trip, its cost removed. */
			t1 = now_ns();
			d = t1 - t0 - timer_ns;
			samples[k++] = d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)d;
			t0 = t1;
			if (t1 >= end)
				break;
		}
		if (o->end != NULL)
			o->end(p);
		r.n = (int32_t)k;
		if (write_full(p->res_w, &r, sizeof(r)) < 0)
			break;
	}
	if (o->quit != NULL)
		o->quit(p);
	_exit(0);
fail:
	r.n = -1;
	r.err = errno;
	(void)write_full(p->res_w, &r, sizeof(r));
	_exit(1);
}

/* One process of pair p: pinned, set up, then ready (one byte on the
 * pipe fork_child() made) to serve or to run the parent's batches. */
static pid_t
spawn(struct pair *p, int role, int *readyp)
{
	int keep[4], nkeep = 0, ready;
	const struct ops *o = ops[p->kind];
	pid_t pid;

	if (role == SERVER) {
		keep[nkeep++] = p->fd[0];
		keep[nkeep++] = p->fd[3];
	} else {
		keep[nkeep++] = p->cmd_r;
		keep[nkeep++] = p->res_w;
		keep[nkeep++] = p->fd[1];
		keep[nkeep++] = p->fd[2];
	}
	if ((pid = fork_child(keep, nkeep, &ready)) != 0) {
		if (pid > 0)
			*readyp = ready;
		return pid;
	}
	place_self(p, role);
	memset(obuf, 0x5a, sizeof(obuf));	/* fault the pages in now */
	memset(ibuf, 0, sizeof(ibuf));
	if (role == SERVER) {
		if (o->srv_setup != NULL)
			o->srv_setup(p);
		(void)write_full(ready, "R", 1);
		close(ready);
		o->serve(p);
		_exit(0);
	}
	if (o->cli_setup != NULL)
		o->cli_setup(p);
	memset(samples, 0, (size_t)max_samples * sizeof(*samples));
	(void)write_full(ready, "R", 1);
	close(ready);
	client_loop(p);
	_exit(0);
}

/* The clock's cost per read, as the measuring loop pays it. */
int64_t
clock_cost(void)
{
	int64_t t0, t1;
	int i, n = 100000;

	t0 = now_ns();
	for (i = 0; i < n; i++)
		(void)now_ns();
	t1 = now_ns();
	return (t1 - t0) / n;
}

/* ---- the parent ---- */

/* On a signal: unblock whatever the parent waits for. */
void
kill_pairs(void)
{
	int i;

	for (i = 0; i < npairs; i++) {
		if (pairs[i].cli > 0)
			kill(pairs[i].cli, SIGKILL);
		if (pairs[i].srv > 0)
			kill(pairs[i].srv, SIGKILL);
	}
}

static void
pair_close_fds(struct pair *p)
{
	int j;

	close_fd(&p->cmd_w);
	close_fd(&p->res_r);
	close_fd(&p->cmd_r);
	close_fd(&p->res_w);
	for (j = 0; j < 4; j++)
		close_fd(&p->fd[j]);
}

void
pair_kill(struct pair *p)
{
	if (p->cli > 0)
		kill(p->cli, SIGKILL);
	if (p->srv > 0)
		kill(p->srv, SIGKILL);
	reap(&p->cli, 1000);
	reap(&p->srv, 1000);
	pair_close_fds(p);
	p->live = false;
}

static void
pair_fail(struct pair *p, const char *why)
{
	note_failure("%s %s: %s", case_name[p->kind], place_name[p->place],
	    why);
	pair_kill(p);
}

static bool
wait_ready(int fd, int64_t deadline)
{
	char c;

	return wait_fd(fd, deadline) > 0 && read(fd, &c, 1) == 1;
}

int
pair_init(struct pair *p, int kind, int place)
{
	int cmd[2], res[2];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->place = place;
	p->cmd_w = p->res_r = p->cmd_r = p->res_w = -1;
	p->fd[0] = p->fd[1] = p->fd[2] = p->fd[3] = -1;
	p->cpu_cli = cpus[0];
	p->cpu_srv = place == P_CROSS ? cpus[1] : cpus[0];
	snprintf(p->name, sizeof(p->name), "bench-%s-%s", case_name[kind],
	    place_name[place]);
	if ((p->sh = map_shared(sizeof(struct pshm))) == NULL)
		return -1;
	/* Spinning servers start asleep. */
	p->sh->req_seq = PARK;
	p->sh->ctl = PARK;
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -1;
	p->cmd_r = cmd[0];
	p->cmd_w = cmd[1];
	if (pipe2(res, O_CLOEXEC) < 0)
		return -1;
	p->res_r = res[0];
	p->res_w = res[1];
	if (kind == C_PIPE) {
		if (pipe2(&p->fd[0], O_CLOEXEC) < 0 ||
		    pipe2(&p->fd[2], O_CLOEXEC) < 0)
			return -1;
	} else if (kind == C_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    p->fd) < 0)
			return -1;
	}
	p->live = true;
	return 0;
}

/* Start every pair: servers first (clients look them up), all at once. */
void
start_pairs(void)
{
	int ready[MAXPAIRS], i, role;
	int64_t deadline;

	for (role = SERVER; role <= CLIENT; role++) {
		for (i = 0; i < npairs; i++) {
			struct pair *p = &pairs[i];
			pid_t pid;

			ready[i] = -1;
			if (!p->live)
				continue;
			pid = spawn(p, role, &ready[i]);
			if (pid < 0) {
				pair_fail(p, "fork failed");
				continue;
			}
			if (role == SERVER)
				p->srv = pid;
			else
				p->cli = pid;
			if (p->kind == C_ICEORYX)
				roudi_child(pid);
		}
		/* iceoryx takes a few discovery cycles of RouDi to connect. */
		deadline = now_ns() + 20 * 1000000000LL;
		for (i = 0; i < npairs; i++) {
			if (ready[i] < 0)
				continue;
			if (pairs[i].live && !wait_ready(ready[i], deadline))
				pair_fail(&pairs[i], role == SERVER ?
				    "server did not start" :
				    "client did not start");
			close(ready[i]);
		}
	}
	/* The parent keeps only its ends of the control pipes. */
	for (i = 0; i < npairs; i++) {
		struct pair *p = &pairs[i];
		int j;

		if (!p->live)
			continue;
		close_fd(&p->cmd_r);
		close_fd(&p->res_w);
		for (j = 0; j < 4; j++)
			close_fd(&p->fd[j]);
	}
}

/* Orderly end: clients quit (telling parked servers to), then the rest. */
void
stop_pairs(void)
{
	int i;

	for (i = 0; i < npairs; i++)
		close_fd(&pairs[i].cmd_w);
	for (i = 0; i < npairs; i++)
		reap(&pairs[i].cli, 2000);
	for (i = 0; i < npairs; i++) {
		struct pair *p = &pairs[i];

		/* A cocall service has no reason to stop; the others do. */
		if (p->srv > 0 && (p->kind == C_COCALL ||
		    p->kind == C_COCALL_SLOW))
			kill(p->srv, SIGKILL);
		reap(&p->srv, 3000);
		pair_close_fds(p);
	}
}

static int
pool_add(struct pool *pl, const uint32_t *v, size_t n)
{
	if (pl->n + n > pl->room) {
		size_t room = pl->room ? pl->room : 4096;
		uint32_t *nv;

		while (room < pl->n + n)
			room *= 2;
		if ((nv = realloc(pl->v, room * sizeof(*nv))) == NULL)
			return -1;
		pl->v = nv;
		pl->room = room;
	}
	memcpy(pl->v + pl->n, v, n * sizeof(*v));
	pl->n += n;
	return 0;
}

int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Of sorted values: the median, and a quantile by nearest rank. */
double
median_sorted(const uint32_t *v, size_t n)
{
	return n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

uint32_t
rank_sorted(const uint32_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

double *
median_at(int round, int place, int size, int kind)
{
	return &medians[((round * NPLACES + place) * MAXSIZES + size) * NCASES +
	    kind];
}

/* Where the client writes a batch's samples, and the medians by round. */
int
results_init(void)
{
	samples = map_shared((size_t)max_samples * sizeof(*samples));
	medians = calloc((size_t)rounds * NPLACES * MAXSIZES * NCASES,
	    sizeof(*medians));
	return samples == NULL || medians == NULL ? -1 : 0;
}

/* One batch of pair p at size index si in round r. */
void
run_batch(struct pair *p, int r, int si)
{
	struct cmd c = { (uint32_t)sizes[si], (uint32_t)max_samples,
	    (int64_t)batch_ms * 1000000 };
	int64_t deadline = now_ns() + (int64_t)batch_ms * 2000000 +
	    10 * 1000000000LL;
	uint32_t *copy;
	struct res res;
	char why[160];
	int got;

	if (write_full(p->cmd_w, &c, sizeof(c)) < 0) {
		pair_fail(p, "client is gone");
		return;
	}
	if ((got = wait_fd(p->res_r, deadline)) <= 0) {
		pair_fail(p, got == 0 ? "batch timed out (a process is stuck)" :
		    "poll failed");
		return;
	}
	if (read_full(p->res_r, &res, sizeof(res)) < 0) {
		check_stop();
		pair_fail(p, "client died");
		return;
	}
	if (res.n < 0 || res.n > max_samples) {
		snprintf(why, sizeof(why), "round trip failed: %s",
		    strerror(res.err));
		pair_fail(p, why);
		return;
	}
	if (res.n == 0)
		return;
	if (pool_add(&pooled[p->place][si][p->kind], samples, res.n) < 0 ||
	    (copy = malloc(res.n * sizeof(*copy))) == NULL) {
		fprintf(stderr, "cocall: out of memory\n");
		exit(1);
	}
	memcpy(copy, samples, res.n * sizeof(*copy));
	qsort(copy, res.n, sizeof(*copy), cmp_u32);
	*median_at(r, p->place, si, p->kind) = median_sorted(copy, res.n);
	free(copy);
}

