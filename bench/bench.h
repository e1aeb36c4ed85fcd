/*
 * What the benchmark programs share (bench.c, linked into each): the
 * clock, whole reads and writes, the children of a run and the CPUs they
 * run on, a private domain, interruption, notes, the command line, and the
 * statistics and JSON of a report.  Messages begin with bench_name.
 */
#ifndef COMSG_BENCH_H
#define COMSG_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Static in each program, as are write_full() and read_full(): the
 * measuring loops call them on the path they measure. */
static __attribute__((unused)) int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Whole writes and reads: 0, or -1 with errno (EPIPE at a read's end). */
static __attribute__((unused)) int
write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static __attribute__((unused)) int
read_full(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len > 0) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EPIPE;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* The run: set by bench_init() in the parent, before anything else. */
extern const char *bench_name;	/* the program's name, for messages */
extern pid_t parent_pid;
extern int ncpus, cpus[2];	/* find_cpus(): the first two we may use */
extern char bench_dir[64];	/* domain_make(): the private domain */
extern bool run_failed;		/* note_failure() was called */

void	bench_init(const char *name);

void	close_fd(int *fdp);
void	*map_shared(size_t len);

/* CPUs: find_cpus() fills cpus and ncpus (-1 and a message if it cannot);
 * pin_cpu() keeps the calling process on one. */
int	find_cpus(void);
int	pin_cpu(int cpu);

/*
 * A child of the parent: fork_child() returns its pid in the parent, which
 * reads on *readyfd what the child reports once set up, and 0 in the
 * child, which writes that on *readyfd.  The child dies with the parent,
 * takes the default signal actions and keeps only descriptors 0 to 2, the
 * nkeep of keep[] (at most 15; -1 is none) and its end of *readyfd, so
 * that a pair's pipes see the end when one of its processes goes.
 * close_others() closes all others above 2 (keep[] is sorted).
 */
pid_t	fork_child(const int *keep, int nkeep, int *readyfd);
void	close_others(int *keep, int nkeep);
void	reap(pid_t *pidp, int grace_ms);
/* Wait until fd is readable: 1, or 0 at deadline, -1 if poll fails. */
int	wait_fd(int fd, int64_t deadline);

/* SIGINT, SIGTERM and SIGHUP run kill_children and make check_stop()
 * exit (atexit handlers run); SIGPIPE is ignored. */
void	catch_signals(void (*kill_children)(void));
void	check_stop(void);

/* A private domain (COMSG_DIR) in bench_dir, and its removal. */
int	domain_make(void);
void	domain_remove(void);

/* Notes on the run, printed with the results; note_failure() also says it
 * on stderr and sets run_failed. */
void	note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	note_failure(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	print_notes(void);
void	progress(int round, int rounds, int64_t t_start);

/*
 * The command line: each prints what is wrong and returns -1.
 * parse_names: a comma-separated list of names[] into want[] (what: "case").
 * parse_sizes: sizes from lo to hi, at most max; their count.
 */
int	parse_names(char *arg, const char *const *names, int n, bool *want,
	    const char *what);
int	parse_sizes(char *arg, size_t *sizes, int max, unsigned long lo,
	    unsigned long hi);
int	parse_num(const char *arg, long long lo, long long hi, long long *v);

/* Median and quartiles of n values (v is sorted). */
struct stat3 {
	double		 med, q1, q3;
	int		 n;
};
bool	stats(double *v, int n, struct stat3 *s);
int	cmp_dbl(const void *a, const void *b);

/* A target's goal, "<= 1.5" or "-" (no goal: 0) into buf; returns "pass",
 * "miss" or "" for value v. */
const char *goal_str(char *buf, size_t room, bool at_most, double goal,
	    double v);

/* The JSON line: its start, up to the CPUs' list; the notes' list; a
 * ratio's target and whether it passed (nothing if no goal). */
void	json_begin(const char *unit);
void	json_notes(void);
void	json_goal(bool at_most, double goal, double v);
void	json_str(FILE *f, const char *s);

#endif
