/*
 * bench/coport's pairs, the parent's side: setting them up, starting
 * their processes, one batch at a time and its figures, and stopping
 * them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coport.h"

struct pair pairs[NPAIRS];
static double *rates;

int
rates_init(void)
{
	rates = calloc((size_t)rounds * MAXSIZES * NPAIRS, sizeof(*rates));
	return rates == NULL ? -1 : 0;
}

double *
rate_at(int round, int si, int kind)
{
	return &rates[((size_t)round * MAXSIZES + si) * NPAIRS + kind];
}

bool
runs_at(int kind, size_t len)
{
	return (kind != C_CHANNEL && kind != C_RAWRING) || ring_fits(len);
}

/* On a signal: unblock whatever the parent waits for. */
void
kill_pairs(void)
{
	int i, j;

	for (i = 0; i < NPAIRS; i++)
		for (j = 0; j < 2; j++)
			if (pairs[i].pid[j] > 0)
				kill(pairs[i].pid[j], SIGKILL);
}

static void
pair_close_fds(struct pair *p)
{
	int j;

	for (j = 0; j < 2; j++) {
		close_fd(&p->cmd_w[j]);
		close_fd(&p->res_r[j]);
		close_fd(&p->cmd_r[j]);
		close_fd(&p->res_w[j]);
		close_fd(&p->fd[j]);
		close_fd(&p->back[j]);
	}
}

void
pair_kill(struct pair *p)
{
	int j;

	for (j = 0; j < 2; j++)
		if (p->pid[j] > 0)
			kill(p->pid[j], SIGKILL);
	for (j = 0; j < 2; j++)
		reap(&p->pid[j], 1000);
	pair_close_fds(p);
	p->live = false;
}

static void
pair_fail(struct pair *p, const char *why)
{
	note_failure("%s%s: %s", case_name[p->kind], p->pp ? " ping-pong" :
	    "", why);
	pair_kill(p);
}

/* Wait for a child's reply on fd until deadline: 1 got it, 0 timed out,
 * -1 the child is gone. */
static int
wait_res(int fd, int64_t deadline, struct res *r)
{
	int got = wait_fd(fd, deadline);

	if (got <= 0)
		return got;
	return read_full(fd, r, sizeof(*r)) < 0 ? -1 : 1;
}

static struct rawring *
rawring_new(void)
{
	return map_shared(sizeof(struct rawring) + COCHANNEL_MAXSIZE);
}

int
pair_init(struct pair *p, int kind, bool pp)
{
	int j, cmd[2], res[2];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->pp = pp;
	for (j = 0; j < 2; j++)
		p->cmd_w[j] = p->res_r[j] = p->cmd_r[j] = p->res_w[j] =
		    p->fd[j] = p->back[j] = -1;
	if ((p->sh = map_shared(sizeof(struct pshm))) == NULL)
		return -1;
	for (j = 0; j < 2; j++) {
		if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
			return -1;
		p->cmd_r[j] = cmd[0];
		p->cmd_w[j] = cmd[1];
		p->res_r[j] = res[0];
		p->res_w[j] = res[1];
	}
	if (kind == C_PIPE) {
		if (pipe2(p->fd, O_CLOEXEC) < 0 ||
		    (pp && pipe2(p->back, O_CLOEXEC) < 0))
			return -1;
	} else if (kind == C_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    p->fd) < 0)
			return -1;
		if (pp && ((p->back[0] = fcntl(p->fd[1], F_DUPFD_CLOEXEC, 0)) < 0 ||
		    (p->back[1] = fcntl(p->fd[0], F_DUPFD_CLOEXEC, 0)) < 0))
			return -1;
	} else if (kind == C_RAWRING) {
		if ((p->raw = rawring_new()) == NULL ||
		    (pp && (p->raw_back = rawring_new()) == NULL))
			return -1;
	}
	p->live = true;
	return 0;
}

/* Start every pair (memcpy: one process), all at once. */
void
start_pairs(void)
{
	int ready[NPAIRS][2], k, j;
	int64_t deadline;

	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			struct pair *p = &pairs[k];

			ready[k][j] = -1;
			if (!p->live || (k == C_MEMCPY && j == SENDER))
				continue;
			p->pid[j] = spawn(p, j, &ready[k][j]);
			if (p->pid[j] < 0) {
				p->pid[j] = 0;
				pair_fail(p, "fork failed");
			}
		}
	deadline = now_ns() + 30 * 1000000000LL;
	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			struct pair *p = &pairs[k];
			struct res r;
			char why[300];
			int got;

			if (ready[k][j] < 0)
				continue;
			if (p->live) {
				got = wait_res(ready[k][j], deadline, &r);
				if (got <= 0) {
					snprintf(why, sizeof(why), "%s did not "
					    "start%s", j == SENDER ? "sender" :
					    "receiver", got == 0 ?
					    " (timed out)" : "");
					pair_fail(p, why);
				} else if (r.err != 0) {
					snprintf(why, sizeof(why), "%s setup: "
					    "%s: %s", j == SENDER ? "sender" :
					    "receiver", r.what,
					    strerror(r.err));
					pair_fail(p, why);
				}
			}
			close(ready[k][j]);
		}
	/* The parent keeps only its ends of the control pipes. */
	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++) {
			close_fd(&pairs[k].cmd_r[j]);
			close_fd(&pairs[k].res_w[j]);
			close_fd(&pairs[k].fd[j]);
			close_fd(&pairs[k].back[j]);
		}
}

/* Orderly end: children see their command pipes close and exit. */
void
stop_pairs(void)
{
	int k, j;

	for (k = 0; k < NPAIRS; k++)
		for (j = 0; j < 2; j++)
			close_fd(&pairs[k].cmd_w[j]);
	for (k = 0; k < NPAIRS; k++) {
		for (j = 0; j < 2; j++)
			reap(&pairs[k].pid[j], 3000);
		pair_close_fds(&pairs[k]);
	}
}

/* One batch of pair p at size index si in round r: receiver first, then
 * the sender; the receiver's figures count (ping-pong: the sender's, the
 * time per round trip). */
void
run_batch(struct pair *p, int r, int si)
{
	size_t len = p->kind == C_MEMCPY ? MEMCPY_SIZE : sizes[si];
	struct cmd c = { len, batch_count, (int64_t)batch_ms * 1000000, si, 0 };
	/* A batch by count has no time to go by: give it two minutes. */
	int64_t limit_ms = (batch_count > 0 ? 120000 : (int64_t)batch_ms * 3) +
	    20000, deadline = now_ns() + limit_ms * 1000000;
	int roles[2] = { RECEIVER, SENDER }, i, n = p->kind == C_MEMCPY ? 1 : 2;
	struct res res[2];
	char why[400], sz[32];

	memset(res, 0, sizeof(res));
	STORE_RLX(&p->sh->stop, 0);
	for (i = 0; i < n; i++)
		if (write_full(p->cmd_w[roles[i]], &c, sizeof(c)) < 0) {
			snprintf(why, sizeof(why), "%s is gone",
			    roles[i] == SENDER ? "sender" : "receiver");
			pair_fail(p, why);
			return;
		}
	for (i = 0; i < n; i++) {
		int got = wait_res(p->res_r[roles[i]], deadline, &res[i]);

		if (got == 0) {
			snprintf(why, sizeof(why), "%s: batch timed out after "
			    "%lld s: the %s did not finish%s",
			    size_str(len, sz, sizeof(sz)),
			    (long long)(limit_ms / 1000),
			    roles[i] == SENDER ? "sender" : "receiver",
			    roles[i] == SENDER ? " (the receiver did)" : "");
			pair_fail(p, why);
			return;
		}
		if (got < 0) {
			check_stop();
			snprintf(why, sizeof(why), "%s: the %s died",
			    size_str(len, sz, sizeof(sz)),
			    roles[i] == SENDER ? "sender" : "receiver");
			pair_fail(p, why);
			return;
		}
	}
	for (i = 0; i < n; i++)
		if (res[i].err != 0) {
			snprintf(why, sizeof(why), "%s: %s", res[i].what,
			    strerror(res[i].err));
			pair_fail(p, why);
			return;
		}
	if (p->pp) {
		if (res[1].n > 0 && res[1].ns > 0)
			*rate_at(r, si, (int)(p - pairs)) =
			    (double)res[1].ns / (double)res[1].n;
	} else if (res[0].n > 0 && res[0].ns > 0) {
		*rate_at(r, p->kind == C_MEMCPY ? 0 : si, p->kind) =
		    (double)res[0].n * 1e9 / (double)res[0].ns;
	}
}
