/*
 * What the benchmark programs share: see bench.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "bench";
pid_t parent_pid;
int ncpus, cpus[2];
char bench_dir[64];
bool run_failed;

static void (*kill_children)(void);
static volatile sig_atomic_t stop_sig;
static char *notes[64];
static int nnotes;

void
bench_init(const char *name)
{
	bench_name = name;
	parent_pid = getpid();
}

void
close_fd(int *fdp)
{
	if (*fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
}

/* Memory that the parent and its children share; NULL if none. */
void *
map_shared(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

int
find_cpus(void)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "%s: sched_getaffinity: %s\n", bench_name,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < CPU_SETSIZE && ncpus < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	return 0;
}

int
pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

pid_t
fork_child(const int *keep, int nkeep, int *readyfd)
{
	int rp[2], mine[16];
	pid_t pid;

	if (nkeep + 1 > (int)(sizeof(mine) / sizeof(mine[0]))) {
		errno = EINVAL;
		return -1;
	}
	if (pipe2(rp, O_CLOEXEC) < 0)
		return -1;
	/* Children that leave through exit() flush stdio. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	if (pid > 0) {
		close(rp[1]);
		*readyfd = rp[0];
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	memcpy(mine, keep, nkeep * sizeof(*keep));
	mine[nkeep] = rp[1];
	close_others(mine, nkeep + 1);
	*readyfd = rp[1];
	return 0;
}

/* Close every descriptor above 2 but those in keep[] (any order; -1 is
 * ignored). */
void
close_others(int *keep, int nkeep)
{
	int i, j, lo = 3;

	for (i = 1; i < nkeep; i++)	/* insertion sort: a handful */
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < nkeep; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range((unsigned)lo, ~0u, 0);
}

/* Wait up to grace_ms for the child to exit, then kill it. */
void
reap(pid_t *pidp, int grace_ms)
{
	int64_t deadline = now_ns() + (int64_t)grace_ms * 1000000;

	if (*pidp <= 0)
		return;
	while (waitpid(*pidp, NULL, WNOHANG) == 0) {
		if (now_ns() >= deadline) {
			kill(*pidp, SIGKILL);
			waitpid(*pidp, NULL, 0);
			break;
		}
		usleep(2000);
	}
	*pidp = 0;
}

/* Polls a second at a time, so that an interruption is seen. */
int
wait_fd(int fd, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		int n;

		check_stop();
		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			return 1;
	}
}

static void
on_signal(int sig)
{
	/* Unblock whatever the parent waits for; it exits at the next
	 * check. */
	stop_sig = sig;
	if (kill_children != NULL)
		kill_children();
}

void
catch_signals(void (*kill)(void))
{
	struct sigaction sa;

	kill_children = kill;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
check_stop(void)
{
	if (stop_sig != 0) {
		fprintf(stderr, "%s: interrupted\n", bench_name);
		exit(128 + stop_sig);	/* atexit handlers run */
	}
}

int
domain_make(void)
{
	snprintf(bench_dir, sizeof(bench_dir), "/tmp/comsg-bench-XXXXXX");
	if (mkdtemp(bench_dir) == NULL) {
		fprintf(stderr, "%s: mkdtemp: %s\n", bench_name,
		    strerror(errno));
		bench_dir[0] = '\0';
		return -1;
	}
	setenv("COMSG_DIR", bench_dir, 1);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
domain_remove(void)
{
	if (bench_dir[0] != '\0') {
		nftw(bench_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		bench_dir[0] = '\0';
	}
}

static void
vnote(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) >= 0 &&
	    nnotes < (int)(sizeof(notes) / sizeof(notes[0])))
		notes[nnotes++] = s;
}

void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

void
note_failure(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", bench_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	run_failed = true;
}

void
print_notes(void)
{
	int i;

	for (i = 0; i < nnotes; i++)
		printf("note: %s\n", notes[i]);
}

void
progress(int round, int rounds, int64_t t_start)
{
	int64_t el = (now_ns() - t_start) / 1000000;

	fprintf(stderr, "%s: round %d/%d (%lld.%llds)\n", bench_name,
	    round + 1, rounds, (long long)(el / 1000),
	    (long long)(el % 1000 / 100));
}

int
parse_names(char *arg, const char *const *names, int n, bool *want,
    const char *what)
{
	char *tok, *save = NULL;
	int k;

	memset(want, 0, n * sizeof(*want));
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < n; k++)
			if (strcmp(tok, names[k]) == 0)
				break;
		if (k == n) {
			fprintf(stderr, "%s: unknown %s: %s\n", bench_name,
			    what, tok);
			return -1;
		}
		want[k] = true;
	}
	return 0;
}

int
parse_sizes(char *arg, size_t *sizes, int max, unsigned long lo,
    unsigned long hi)
{
	char *tok, *save = NULL, *end;
	int n = 0;

	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno != 0 || *end != '\0' || end == tok || v < lo ||
		    v > hi || n == max) {
			fprintf(stderr, "%s: bad size: %s (%lu to %lu, at most "
			    "%d sizes)\n", bench_name, tok, lo, hi, max);
			return -1;
		}
		sizes[n++] = v;
	}
	return n;
}

int
parse_num(const char *arg, long long lo, long long hi, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || *v < lo || *v > hi) {
		fprintf(stderr, "%s: bad number: %s (%lld to %lld)\n",
		    bench_name, arg, lo, hi);
		return -1;
	}
	return 0;
}

int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

bool
stats(double *v, int n, struct stat3 *s)
{
	if (n == 0)
		return false;
	qsort(v, n, sizeof(*v), cmp_dbl);
	s->n = n;
	s->med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->q1 = v[n / 4];
	s->q3 = v[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
	return true;
}

static bool
goal_met(bool at_most, double goal, double v)
{
	return at_most ? v <= goal : v >= goal;
}

const char *
goal_str(char *buf, size_t room, bool at_most, double goal, double v)
{
	if (goal <= 0) {
		snprintf(buf, room, "-");
		return "";
	}
	snprintf(buf, room, "%s %g", at_most ? "<=" : ">=", goal);
	return goal_met(at_most, goal, v) ? "pass" : "miss";
}

void
json_begin(const char *unit)
{
	printf("JSON {\"bench\":\"%s\",\"unit\":\"%s\",\"cpus\":[%d",
	    bench_name, unit, cpus[0]);
	if (ncpus > 1)
		printf(",%d", cpus[1]);
	putchar(']');
}

void
json_notes(void)
{
	int i;

	printf("\"notes\":[");
	for (i = 0; i < nnotes; i++) {
		if (i > 0)
			putchar(',');
		json_str(stdout, notes[i]);
	}
	putchar(']');
}

void
json_goal(bool at_most, double goal, double v)
{
	if (goal > 0)
		printf(",\"target\":\"%s %g\",\"pass\":%s",
		    at_most ? "<=" : ">=", goal,
		    goal_met(at_most, goal, v) ? "true" : "false");
}

void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
