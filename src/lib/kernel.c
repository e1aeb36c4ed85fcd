/*
 * Reaching comsgd, the microkernel of the domain: find the worker thread
 * this process talks to, start comsgd when none runs, and make requests.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "kernel.h"
#include "progpath.h"

static pthread_mutex_t kernel_mutex = PTHREAD_MUTEX_INITIALIZER;
static void *kernel_worker;	/* target of our comsgd worker, or NULL */

/*
 * Start comsgd and wait until it says how it went on a pipe: 'r' once it
 * serves, 'b' when another comsgd holds the name already; closed unread,
 * it could not start.  The daemon detaches itself; the process spawned
 * here exits at once and is reaped.  Returns 1 (serves), 0 (another one
 * holds the name), or -1 with ENOPKG (none found, or it did not start),
 * or the errno of a pipe or memory failure.
 */
static int
kernel_start(void)
{
	char prog[PATH_MAX], fdarg[16], dom[PATH_MAX + 16];
	char *argv[] = { "comsgd", "-R", fdarg, NULL };
	posix_spawn_file_actions_t fa;
	char **envp = NULL;
	int p[2], r, status;
	pid_t pid;
	char c = 0;

	if (progpath_find("comsgd", "COMSGD", (const void *)kernel_start,
	    prog, sizeof(prog)) < 0) {
		errno = ENOPKG;
		return -1;
	}
	if (sys_pipe2(p, O_CLOEXEC) < 0)
		return -1;
	/* The daemon inherits nothing of ours but the domain: no capability
	 * vector, no descriptors beyond the pipe.  The domain by name: a
	 * default one is what we chose, which it might not choose now
	 * (codomain(3)). */
	memcpy(dom, "COMSG_DIR=", 10);
	if (domain_dir(dom + 10, sizeof(dom) - 10) < 0 ||
	    (envp = progpath_environ(dom)) == NULL)
		goto fail;
	snprintf(fdarg, sizeof(fdarg), "%d", 3);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	posix_spawn_file_actions_adddup2(&fa, 0, 2);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	r = posix_spawn(&pid, prog, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	sys_close(p[1]);
	if (r != 0) {
		sys_close(p[0]);
		errno = ENOPKG;
		return -1;
	}
	while (sys_waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	do
		r = (int)sys_read(p[0], &c, 1);
	while (r < 0 && errno == EINTR);
	sys_close(p[0]);
	if (r == 1 && (c == 'r' || c == 'b'))
		return c == 'r';
	errno = ENOPKG;
	return -1;
fail:
	r = errno;
	sys_close(p[0]);
	sys_close(p[1]);
	errno = r;
	return -1;
}

/* Find comsgd (starting it if allowed) and ask it for our worker.  Called
 * with kernel_mutex held, which it lets go while it starts comsgd. */
static int
kernel_connect(bool start)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_HELLO };
	struct corp rp;
	void *main_target, *caps[1] = { NULL };
	struct comsg m = { .out = &rq, .outlen = sizeof(rq), .in = &rp,
	    .inlen = sizeof(rp), .incaps = caps, .nincaps = 1 };
	ssize_t r;

	/* A start that served, or found another comsgd serving, is followed
	 * by a look that should find it; one that keeps missing it means a
	 * comsgd that dies at once (ENOPKG: it does not start) or one that
	 * holds the name without answering (ETIMEDOUT, as for a request). */
	for (int attempt = 0, started = -1;; attempt++) {
		if (colookup(COMSGD_NAME, &main_target) == 0)
			break;
		if (errno != ESRCH)
			return -1;
		if (!start) {
			errno = ENOLINK;
			return -1;
		}
		if (attempt == 3) {
			errno = started == 0 ? ETIMEDOUT : ENOPKG;
			return -1;
		}
		/* Not under our lock: finding and starting comsgd calls
		 * libc (stat, realpath, posix_spawn), which a program may
		 * wrap with code of its own that opens a port too. */
		pthread_mutex_unlock(&kernel_mutex);
		started = kernel_start();
		pthread_mutex_lock(&kernel_mutex);
		if (started < 0)
			return -1;
		if (kernel_worker != NULL)
			return 0;	/* another thread got there meanwhile */
	}
	r = cocallv(main_target, &m, 0, KERNEL_TIMEOUT_MS);
	capfree(main_target);
	if (r < 0)
		return -1;
	if ((size_t)r < sizeof(rp) || rp.magic != CORQ_MAGIC || rp.error != 0 ||
	    m.nincaps != 1 || caps[0] == NULL) {
		if (m.nincaps == 1 && caps[0] != NULL)
			capfree(caps[0]);
		errno = ((size_t)r >= sizeof(rp) && rp.error > 0) ? rp.error : EPROTO;
		return -1;
	}
	kernel_worker = caps[0];
	return 0;
}

/* What kernel_call() leaves in errno: its own errors, and those of comsgd's
 * replies and of reaching comsgd, as kernel.h lists them; anything else a
 * call can fail with (a cocall's own misuse errors, which a request of
 * ours cannot make, or an error number comsgd should not send) is a
 * protocol failure. */
static int
kernel_errno(int e)
{
	switch (e) {
	case EINVAL: case EMFILE: case ENFILE: case ENOLINK: case ENOPKG:
	case ETIMEDOUT: case EPROTO: case ENOMEM: case EACCES:
	case ENAMETOOLONG: case EFBIG:
		return e;
	case ESRCH:		/* no comsgd by name: none runs */
	case ESTALE:		/* a hold of a comsgd that has died since */
		return ENOLINK;
	default:
		return EPROTO;
	}
}

/* errno: EINVAL EMFILE ENFILE ENOLINK ENOPKG ETIMEDOUT EPROTO ENOMEM EACCES ENAMETOOLONG EFBIG */
int
kernel_call(const struct corq *rq, void *const *outcaps, int nout,
    struct corp *rp, void *extra, size_t extralen, void **incaps, int *nin,
    bool start)
{
	struct reply_buf {		/* the reply with what follows it */
		struct corp	rp;
		uint8_t		extra[];
	} *buf = NULL;
	size_t inlen = sizeof(*rp) + extralen, got = 0;
	int room = nin != NULL ? *nin : 0;
	ssize_t r;

	if (extralen > 0 && (buf = malloc(inlen)) == NULL)
		return -1;
	pthread_mutex_lock(&kernel_mutex);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct comsg m = { .out = rq, .outlen = sizeof(*rq),
		    .outcaps = outcaps, .noutcaps = nout,
		    .in = buf != NULL ? (void *)buf : (void *)rp,
		    .inlen = inlen, .incaps = incaps, .nincaps = room };

		if (kernel_worker == NULL && kernel_connect(start) < 0) {
			r = -1;
			break;
		}
		r = cocallv(kernel_worker, &m, 0, KERNEL_TIMEOUT_MS);
		if (r >= 0) {
			if (nin != NULL)
				*nin = m.nincaps;
			else
				for (int i = 0; i < m.nincaps; i++)
					capfree(incaps[i]);
			break;
		}
		/* comsgd alive but out of descriptors for this thread's new
		 * channel: its shortage, as when its namespace is full. */
		if (errno == EAGAIN)
			errno = ENFILE;
		/* A worker gone (comsgd died, or restarted): look again. */
		if (errno != ENOLINK && errno != EINVAL)
			break;
		capfree(kernel_worker);
		kernel_worker = NULL;
		errno = ENOLINK;
	}
	pthread_mutex_unlock(&kernel_mutex);
	if (r >= 0) {
		if (buf != NULL) {
			memcpy(rp, &buf->rp, sizeof(*rp));
			if ((size_t)r > sizeof(*rp)) {
				got = (size_t)r - sizeof(*rp) < extralen ?
				    (size_t)r - sizeof(*rp) : extralen;
				memcpy(extra, buf->extra, got);
			}
		}
		if ((size_t)r < sizeof(*rp) || rp->magic != CORQ_MAGIC) {
			errno = EPROTO;
			r = -1;
		} else if (rp->error != 0) {
			errno = rp->error > 0 && rp->error < 4096 ? rp->error : EPROTO;
			r = -1;
		}
		if (r < 0 && nin != NULL) {
			for (int i = 0; i < *nin; i++)
				if (incaps[i] != NULL)
					capfree(incaps[i]);
			*nin = 0;
		}
	}
	free(buf);
	if (r < 0) {
		errno = kernel_errno(errno);
		return -1;
	}
	return (int)got;
}

/* fork() does not wait for kernel_mutex (thread.c): a thread of the
 * parent may hold it for a whole request; the child's is new. */
void
kernel_atfork_child(void)
{
	pthread_mutex_init(&kernel_mutex, NULL);
	/* The worker capability was copied with the process; it stays
	 * usable (a child gets its own channel on its first call). */
}
