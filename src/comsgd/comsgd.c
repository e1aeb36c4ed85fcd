/*
 * comsgd: the comsg microkernel of a domain.  It owns the names of the
 * domain's coports and comutexes, makes the shared memory and sockets of
 * each, hands them to the processes that open them (by cocall), tracks
 * who holds what, and reclaims all a process held when it closes or dies.
 * Messages never pass through it.  This file is the daemon: options,
 * start-up, the worker threads that take requests, and the reaper; the
 * namespace and the answer to each request are in namespace.c.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "namespace.h"

#define SWEEP_MS	1000	/* drained rings of gone senders go */

static void **worker_targets;
static int nworkers;
static int starter_fd = -1;	/* -R: the library that started us waits */

/* ---- workers and the reaper ---- */

struct worker {
	int		 index;		/* 0 serves the name */
	void		*target;
	pthread_t	 thread;
	int		 ready_fd;
};

static void *
worker_loop(void)
{
	struct reply *r = calloc(1, sizeof(*r));
	struct corq q;
	void *in[COCALL_MAXCAPS];
	void *cookie;
	struct comsg m = { 0 };

	if (r == NULL) {
		fprintf(stderr, "comsgd: out of memory\n");
		exit(1);
	}
	for (;;) {
		ssize_t n;
		pid_t pid;
		int err;

		m.in = &q;
		m.inlen = sizeof(q);
		m.incaps = in;
		m.nincaps = 2;
		n = coacceptv(&cookie, NULL, &m, 0, -1);
		/* The previous reply is delivered: its capabilities go. */
		for (int i = 0; i < r->ncaps; i++)
			capfree(r->caps[i]);
		memset(&r->rp, 0, sizeof(r->rp));
		r->len = 0;
		r->ncaps = 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "comsgd: coaccept: %s\n", strerror(errno));
			exit(1);
		}
		if (cocachedpid(&pid, cookie) < 0) {
			err = EPROTO;
		} else {
			pthread_mutex_lock(&ns_lock);
			err = handle_request(&q, n, pid, in, m.nincaps, r);
			pthread_mutex_unlock(&ns_lock);
		}
		for (int i = 0; i < m.nincaps; i++)
			if (in[i] != NULL)
				capfree(in[i]);
		if (err != 0) {
			for (int i = 0; i < r->ncaps; i++)
				capfree(r->caps[i]);
			r->ncaps = 0;
			r->len = 0;
		}
		r->rp.magic = CORQ_MAGIC;
		r->rp.error = err;
		m.out = &r->rp;
		m.outlen = sizeof(r->rp) + r->len;
		m.outcaps = r->caps;
		m.noutcaps = r->ncaps < 0 ? 1 : r->ncaps;
		if (r->ncaps < 0)
			r->ncaps = 0;	/* kept: not freed after the reply */
	}
}

static void *
worker_start(void *arg)
{
	struct worker *w = arg;
	char c = 1;

	if (coregister(w->index == 0 ? COMSGD_NAME : NULL, &w->target) < 0) {
		if (w->index == 0 && errno == EEXIST) {
			void *other;
			pid_t pid = 0;

			if (colookup(COMSGD_NAME, &other) == 0) {
				(void)cotargetpid(other, &pid);
				capfree(other);
			}
			fprintf(stderr, "comsgd: already running (pid %d)\n",
			    (int)pid);
			/* Our starter should look the name up again. */
			if (starter_fd >= 0)
				(void)!write(starter_fd, "b", 1);
			exit(1);
		}
		fprintf(stderr, "comsgd: coregister: %s\n", strerror(errno));
		exit(1);
	}
	worker_targets[w->index] = w->target;
	(void)!write(w->ready_fd, &c, 1);
	return worker_loop();
}

static void
reaper(const char *name_path, ino_t name_ino)
{
	struct stat st;
	struct pollfd *pfd = NULL;
	pid_t *pids = NULL;
	int room = 0, nprocs;

	for (;;) {
		int n;

		pthread_mutex_lock(&ns_lock);
		nprocs = ns_nprocs();
		if (nprocs + 1 > room) {
			room = 2 * (nprocs + 1);
			pfd = realloc(pfd, (size_t)room * sizeof(*pfd));
			pids = realloc(pids, (size_t)room * sizeof(*pids));
			if (pfd == NULL || pids == NULL) {
				fprintf(stderr, "comsgd: out of memory\n");
				exit(1);
			}
		}
		pfd[0] = (struct pollfd){ .fd = reaper_wake, .events = POLLIN };
		for (n = 0; n < nprocs; n++) {
			int fd;

			ns_proc(n, &pids[n + 1], &fd);
			pfd[n + 1] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		pthread_mutex_unlock(&ns_lock);
		if (poll(pfd, (nfds_t)n + 1, SWEEP_MS) < 0 && errno != EINTR) {
			fprintf(stderr, "comsgd: poll: %s\n", strerror(errno));
			exit(1);
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;

			(void)!read(reaper_wake, &v, sizeof(v));
		}
		pthread_mutex_lock(&ns_lock);
		for (int i = 1; i <= n; i++) {
			int fd = ns_pidfd(pids[i]);
			struct pollfd now;

			/* The snapshot may be stale: a process whose holds
			 * all went had its pidfd closed, and the number may
			 * name another file now.  Ask its current pidfd. */
			if (!(pfd[i].revents & (POLLIN | POLLHUP)) || fd < 0)
				continue;
			now = (struct pollfd){ .fd = fd, .events = POLLIN };
			if (poll(&now, 1, 0) != 1)
				continue;
			logmsg("pid %d died", (int)pids[i]);
			ns_drop_pid(pids[i]);
		}
		ns_sweep();
		pthread_mutex_unlock(&ns_lock);
		/* A domain whose directory is gone has no one left to serve;
		 * a name removed or replaced leaves no one able to reach us. */
		if (stat(name_path, &st) < 0 || st.st_ino != name_ino) {
			logmsg("%s is gone: exiting", name_path);
			exit(0);
		}
	}
}

/*
 * The life page (coport_shm.h): its word holds our thread id and is the
 * one entry of this thread's robust futex list, so that the kernel marks
 * it FUTEX_OWNER_DIED however we end, SIGKILL included.  Called by the
 * thread that runs until comsgd ends (main, the reaper), which takes no
 * robust pthread mutex: the list replaces the one libc registered for it.
 * Holders get a read-only descriptor: no one else can write the word.
 */
static void
life_start(void)
{
	static struct robust_list entry;
	static struct robust_list_head head;
	struct comsgd_life *life;
	int fd, ro;

	fd = memfd_create("comsgd-life", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, PAGE) < 0 ||
	    (life = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		perror("comsgd: life page");
		exit(1);
	}
	life->magic = LIFE_MAGIC;
	life->version = COPORT_SHM_VERSION;
	life->owner = (uint32_t)syscall(SYS_gettid);
	entry.next = &head.list;
	head.list.next = &entry;
	head.futex_offset = (long)((char *)&life->owner - (char *)&entry);
	head.list_op_pending = NULL;
	if (syscall(SYS_set_robust_list, &head, sizeof(head)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0 ||
	    (ro = ns_reopen_ro(fd)) < 0) {
		perror("comsgd: life page");
		exit(1);
	}
	close(fd);
	ns_life_set(ro);
}

static void
usage(void)
{
	fprintf(stderr, "usage: comsgd [-fv] [-n holds] [-w workers]\n");
	exit(2);
}

/* The number of ports and comutexes one process may hold: 1 to 1000000,
 * or -1. */
static int
holds_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 1000000)
		return -1;
	return (int)v;
}

/* Raise our soft limit on descriptors to the hard one: what we keep grows
 * with the whole domain, not with whoever happened to start us.  Returns
 * the limit we have. */
static long
nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	return rl.rlim_cur > (rlim_t)INT_MAX ? INT_MAX : (long)rl.rlim_cur;
}

int
main(int argc, char **argv)
{
	bool foreground = false;
	int ch, p[2], holds = 0;
	const char *env = getenv("COMSGD_HOLDS");
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	struct worker *w;
	char c, domain[PATH_MAX], name_path[PATH_MAX + 16];
	struct stat st;

	nworkers = n > 0 ? (int)n : 1;
	if (env != NULL && env[0] != '\0' && (holds = holds_arg(env)) < 0) {
		fprintf(stderr, "comsgd: COMSGD_HOLDS: 1 to 1000000\n");
		exit(2);
	}
	while ((ch = getopt(argc, argv, "fn:vw:R:")) != -1) {
		switch (ch) {
		case 'f':
			foreground = true;
			break;
		case 'n':
			if ((holds = holds_arg(optarg)) < 0) {
				fprintf(stderr, "comsgd: holds: 1 to 1000000\n");
				exit(2);
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'w':
			nworkers = atoi(optarg);
			if (nworkers < 1 || nworkers > 256) {
				fprintf(stderr, "comsgd: workers: 1 to 256\n");
				exit(2);
			}
			break;
		case 'R':		/* report readiness on this descriptor */
			starter_fd = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Other processes of the user may not read our memory or take our
	 * descriptors through /proc. */
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!foreground) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("comsgd: fork");
			exit(1);
		}
		if (pid > 0)
			_exit(0);
		setsid();
	}
	ns_limits_set(nofile_raise(), nworkers, holds);
	life_start();
	reaper_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	worker_targets = calloc((size_t)nworkers, sizeof(*worker_targets));
	w = calloc((size_t)nworkers, sizeof(*w));
	if (reaper_wake < 0 || worker_targets == NULL || w == NULL ||
	    pipe2(p, O_CLOEXEC) < 0) {
		perror("comsgd");
		exit(1);
	}
	ns_workers_set(worker_targets, nworkers);
	/* Worker 0, the name, last: a caller finds the name as soon as it is
	 * bound and says HELLO at once, not waiting for our readiness, and
	 * HELLO hands out any worker's target.  Each worker's target is
	 * published (its byte read here) before the next thread starts. */
	for (int i = nworkers - 1; i >= 0; i--) {
		w[i].index = i;
		w[i].ready_fd = p[1];
		if (pthread_create(&w[i].thread, NULL, worker_start, &w[i]) != 0) {
			perror("comsgd: pthread_create");
			exit(1);
		}
		if (read(p[0], &c, 1) != 1) {
			perror("comsgd: worker");
			exit(1);
		}
	}
	close(p[0]);
	close(p[1]);
	logmsg("serving with %d workers", nworkers);
	if (starter_fd >= 0) {
		(void)!write(starter_fd, "r", 1);
		close(starter_fd);
	}
	/* Our name, as bound now: the reaper watches it. */
	if (codomain(domain, sizeof(domain)) < 0 ||
	    snprintf(name_path, sizeof(name_path), "%s/names/%s", domain,
	    COMSGD_NAME) >= (int)sizeof(name_path) || stat(name_path, &st) < 0) {
		perror("comsgd: our name");
		exit(1);
	}
	reaper(name_path, st.st_ino);
	return 0;
}
