/*
 * jobs: a dispatcher and a pool of worker processes on named ports.  The
 * dispatcher queues jobs on the COCHANNEL "jobs"; each job reaches exactly
 * one worker; workers put results on the COCHANNEL "results" and keep a
 * shared tally under the comutex "jobs.tally".  comsgd, started by the
 * first coopen(), makes the ports; the messages never pass through it.
 *
 *	jobs [-n jobs] [-w workers] [-c]	(-c: run cops while the ports are open)
 */
#include <err.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <comsg/comutex.h>
#include <comsg/coport.h>

#define MAXWORKERS	16
#define STOP		UINT64_MAX

struct result {
	uint32_t	worker;
	uint32_t	pad;
	uint64_t	job, square;
};

static uint64_t *tally;		/* shared: jobs done, under the comutex */

static int
worker(uint32_t id)
{
	coport_t jobs, results;
	comutex_t lock;
	uint64_t job;
	int e;

	if (coopen("jobs", COCHANNEL, &jobs) < 0 ||
	    coopen("results", COCHANNEL, &results) < 0)
		err(1, "worker %u: coopen", id);
	if ((e = comutex_init("jobs.tally", &lock)) != 0) {
		errno = e;
		err(1, "worker %u: comutex_init", id);
	}
	for (;;) {
		void *buf = &job;
		struct result r;

		if (corecv(jobs, &buf, sizeof(job)) != sizeof(job))
			err(1, "worker %u: corecv", id);
		if (job == STOP)
			break;
		memset(&r, 0, sizeof(r));
		r.worker = id;
		r.job = job;
		r.square = job * job;
		if (cosend(results, &r, sizeof(r)) != sizeof(r))
			err(1, "worker %u: cosend", id);
		if ((e = colock(&lock)) != 0 && e != EOWNERDEAD) {
			errno = e;
			err(1, "worker %u: colock", id);
		}
		if (e == EOWNERDEAD)
			comutex_consistent(&lock);
		(*tally)++;
		counlock(&lock);
	}
	coclose(jobs);
	coclose(results);
	comutex_destroy(&lock);
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t nworkers = 4, per[MAXWORKERS] = { 0 };
	uint64_t njobs = 100000, sum = 0, want = 0;
	pid_t pids[MAXWORKERS];
	coport_t jobs, results;
	bool show = false;
	int ch, st, failed = 0;

	while ((ch = getopt(argc, argv, "cn:w:")) != -1) {
		switch (ch) {
		case 'c': show = true; break;
		case 'n': njobs = strtoull(optarg, NULL, 10); break;
		case 'w': nworkers = (uint32_t)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: jobs [-c] [-n jobs] [-w workers]\n");
			return 2;
		}
	}
	if (nworkers < 1 || nworkers > MAXWORKERS || njobs < 1)
		errx(2, "1 to %d workers, at least one job", MAXWORKERS);
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tally == MAP_FAILED)
		err(1, "mmap");
	if (coopen("jobs", COCHANNEL, &jobs) < 0 ||
	    coopen("results", COCHANNEL, &results) < 0)
		err(1, "coopen");
	for (uint32_t i = 0; i < nworkers; i++) {
		if ((pids[i] = fork()) < 0)
			err(1, "fork");
		if (pids[i] == 0)
			_exit(worker(i));
	}
	if (show) {
		fflush(stdout);
		if (system("cops | sed -n '/^COPORT/,$p'") != 0)
			warnx("cops failed");
	}
	/* Queue the jobs while taking results: the rings are short, so
	 * neither side may wait for the other to finish first. */
	coport_setflags(results, COPORT_NONBLOCK);
	for (uint64_t sent = 0, got = 0; got < njobs;) {
		struct result r;
		void *buf = &r;

		if (sent < njobs) {
			uint64_t job = sent + 1;

			coport_setflags(jobs, COPORT_NONBLOCK);
			if (cosend(jobs, &job, sizeof(job)) == sizeof(job)) {
				want += job * job;
				sent++;
			}
		} else {
			pollcoport_t p = make_pollcoport(results, COPOLL_IN);

			copoll(&p, 1, -1);
		}
		if (corecv(results, &buf, sizeof(r)) == sizeof(r)) {
			sum += r.square;
			per[r.worker < MAXWORKERS ? r.worker : 0]++;
			got++;
		}
	}
	coport_setflags(jobs, 0);
	for (uint32_t i = 0; i < nworkers; i++) {
		uint64_t stop = STOP;

		if (cosend(jobs, &stop, sizeof(stop)) != sizeof(stop))
			err(1, "cosend stop");
	}
	for (uint32_t i = 0; i < nworkers; i++)
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed++;
	printf("%llu jobs on %u workers:", (unsigned long long)njobs, nworkers);
	for (uint32_t i = 0; i < nworkers; i++)
		printf(" %u", per[i]);
	printf("\nsum of squares %s (%llu), tally under the comutex %llu\n",
	    sum == want ? "right" : "WRONG", (unsigned long long)sum,
	    (unsigned long long)*tally);
	coclose(jobs);
	coclose(results);
	return failed == 0 && sum == want && *tally == njobs ? 0 : 1;
}
