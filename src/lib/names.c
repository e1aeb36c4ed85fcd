/*
 * Names of targets in a domain: a listening UNIX socket per name under
 * $COMSG_DIR/names/ (mode 0700), answered by one thread per process that
 * hands the target's capability to whoever connects.  A name whose owner
 * died is a socket nobody listens on, and is reclaimed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define NAMES_STARVED_MS	100	/* out of descriptors: look again then */

static pthread_mutex_t names_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct cap **names_caps;		/* published targets */
static int names_n, names_room;
static int names_wakefd = -1;		/* eventfd: the list changed */
static int names_spare = -1;		/* a descriptor kept to give up when
					   the process has none left */
static bool names_started;		/* the helper thread was created */
static bool names_running;		/* ...and runs */
/* The helper thread's poll set (here rather than on its stack, so that a
 * child after fork, which has no such thread, still knows of it). */
static struct pollfd *names_pfd;
static struct cap **names_who;
static int names_pfd_room;

void names_lock(void) { pthread_mutex_lock(&names_mutex); }
void names_unlock(void) { pthread_mutex_unlock(&names_mutex); }

/* The path of name's socket, and its address (unix_addr(): *dirfdp to be
 * closed after the bind or connect). */
static int
name_addr(const char *name, char *path, size_t size, struct sockaddr_un *sun,
    int *dirfdp)
{
	char dir[PATH_MAX];
	int n;

	if (domain_subdir("names", dir, sizeof(dir)) < 0)
		return -1;
	n = snprintf(path, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return unix_addr(path, sun, dirfdp);
}

/*
 * Accept a client on a name's socket.  Out of descriptors, the kernel
 * keeps the client queued and the socket readable, and a poll loop would
 * spin: give up the spare descriptor for the time of the accept (handing
 * the capability over takes no new descriptor; the caller takes the spare
 * back once the client's socket is closed).
 */
static int
names_accept(int fd)
{
	int s = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (s >= 0 || (errno != EMFILE && errno != ENFILE) || names_spare < 0)
		return s;
	sys_close(names_spare);
	names_spare = -1;
	return sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/* Hand the capability of each target whose name socket has a client. */
static pthread_cond_t names_ready = PTHREAD_COND_INITIALIZER;

static void *
names_thread(void *arg)
{
	(void)arg;
	/* Running: names_start() may return (a caller may sandbox itself
	 * next, and a thread still starting could not finish). */
	pthread_mutex_lock(&names_mutex);
	names_running = true;
	pthread_cond_broadcast(&names_ready);
	pthread_mutex_unlock(&names_mutex);
	for (;;) {
		struct pollfd *pfd;
		struct cap **who;
		int i, n = 1, room;
		bool starved = false;
		uint64_t v;

		pthread_mutex_lock(&names_mutex);
		if (names_n + 1 > names_pfd_room) {
			struct pollfd *p = realloc(names_pfd,
			    (names_n + 1) * sizeof(*p));
			struct cap **w;

			if (p != NULL)
				names_pfd = p;
			w = realloc(names_who, (names_n + 1) * sizeof(*w));
			if (w != NULL)
				names_who = w;
			if (p != NULL && w != NULL)
				names_pfd_room = names_n + 1;
		}
		pfd = names_pfd;
		who = names_who;
		room = names_pfd_room;
		if (room == 0) {	/* no memory yet: try again shortly */
			pthread_mutex_unlock(&names_mutex);
			sys_poll(NULL, 0, 100);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = names_wakefd, .events = POLLIN };
		for (i = 0; i < names_n && n < room; i++) {
			who[n] = names_caps[i];
			pfd[n++] = (struct pollfd){ .fd = names_caps[i]->name_fd,
			    .events = POLLIN };
		}
		pthread_mutex_unlock(&names_mutex);
		if (sys_poll(pfd, n, -1) < 0)
			continue;
		if (pfd[0].revents & POLLIN)
			(void)!sys_read(names_wakefd, &v, sizeof(v));
		pthread_mutex_lock(&names_mutex);
		for (i = 1; i < n; i++) {
			int j, s;

			if (!(pfd[i].revents & POLLIN))
				continue;
			/* Still published?  It may have been withdrawn while we
			 * polled, and its slot reused. */
			for (j = 0; j < names_n && names_caps[j] != who[i]; j++)
				;
			if (j == names_n || who[i]->name_fd != pfd[i].fd)
				continue;
			if ((s = names_accept(pfd[i].fd)) >= 0) {
				(void)capsend(s, who[i]);
				sys_close(s);
			} else if (errno == EMFILE || errno == ENFILE) {
				starved = true;
			}
			if (names_spare < 0)
				names_spare = sys_open("/dev/null",
				    O_RDONLY | O_CLOEXEC, 0);
		}
		pthread_mutex_unlock(&names_mutex);
		/* No descriptor even with the spare given up (another thread
		 * took it): the clients stay queued; look again later rather
		 * than spin on a socket that stays readable. */
		if (starved)
			sys_poll(NULL, 0, NAMES_STARVED_MS);
	}
	return NULL;
}

static int
names_start(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int err;

	/* Called with names_mutex held, which pthread_cond_wait() below lets
	 * go of: another caller may come in meanwhile, and must wait for the
	 * same thread rather than start a second one. */
	if (names_started)
		goto wait;
	if (names_wakefd < 0) {
		names_wakefd = sys_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (names_wakefd < 0)
			return -1;
	}
	/* Without one (none left, or a sandbox), the thread backs off. */
	if (names_spare < 0)
		names_spare = sys_open("/dev/null", O_RDONLY | O_CLOEXEC, 0);
	/* The helper thread takes no signals: they belong to the program. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	err = pthread_create(&th, &attr, names_thread, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		return -1;
	}
	names_started = true;
wait:
	/* The thread takes the mutex to say it runs. */
	while (!names_running)
		pthread_cond_wait(&names_ready, &names_mutex);
	return 0;
}

/* Bind the listening socket for name, reclaiming it from a dead owner;
 * *pathp is where (malloc'd). */
static int
name_bind(const char *name, char **pathp)
{
	struct sockaddr_un sun;
	char path[PATH_MAX], lockpath[PATH_MAX + 16];
	int s = -1, lockfd = -1, dirfd = -1, probe;

	if (name_addr(name, path, sizeof(path), &sun, &dirfd) < 0)
		return -1;
	/* One reclaimer at a time, or two could each unlink the other's. */
	snprintf(lockpath, sizeof(lockpath), "%s", path);
	*strrchr(lockpath, '/') = '\0';
	strcat(lockpath, "/.lock");
	lockfd = sys_open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || sys_flock(lockfd, LOCK_EX) < 0)
		goto fail;
	s = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		goto fail;
	if (sys_bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno != EADDRINUSE)
			goto fail;
		/* Non-blocking: a live owner with a full backlog answers
		 * EAGAIN at once instead of holding the lock. */
		probe = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (probe < 0)
			goto fail;
		if (sys_connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
		    errno != ECONNREFUSED) {
			sys_close(probe);
			errno = EEXIST;
			goto fail;
		}
		sys_close(probe);
		if (sys_unlink(path) < 0 ||
		    sys_bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			goto fail;
	}
	if (sys_listen(s, 64) < 0 || (*pathp = strdup(path)) == NULL) {
		int e = errno;

		sys_unlink(path);
		errno = e;
		goto fail;
	}
	sys_close(lockfd);
	if (dirfd >= 0)
		sys_close(dirfd);
	return s;
fail:
	if (dirfd >= 0) {
		int e = errno;

		sys_close(dirfd);
		errno = e;
	}
	if (s >= 0)
		sys_close(s);
	if (lockfd >= 0) {
		int e = errno;

		sys_close(lockfd);
		errno = e;
	}
	return -1;
}

int
names_publish(struct cap *c, const char *name)
{
	int s;

	pthread_mutex_lock(&names_mutex);
	if (c->name_fd >= 0) {
		errno = EBUSY;		/* one name per capability */
		goto fail;
	}
	if (names_start() < 0)
		goto fail;
	if (names_n == names_room) {
		int room = names_room ? names_room * 2 : 8;
		struct cap **p = realloc(names_caps, room * sizeof(*p));

		if (p == NULL)
			goto fail;
		names_caps = p;
		names_room = room;
	}
	s = name_bind(name, &c->name_path);
	if (s < 0)
		goto fail;
	c->name_fd = s;
	snprintf(c->name, sizeof(c->name), "%s", name);
	names_caps[names_n++] = c;
	(void)!sys_write(names_wakefd, &(uint64_t){ 1 }, sizeof(uint64_t));
	pthread_mutex_unlock(&names_mutex);
	return 0;
fail:
	pthread_mutex_unlock(&names_mutex);
	return -1;
}

/* Stop answering for c's name and remove the name. */
void
names_withdraw(struct cap *c)
{
	int i;

	if (c->name_fd < 0)
		return;
	pthread_mutex_lock(&names_mutex);
	for (i = 0; i < names_n; i++)
		if (names_caps[i] == c) {
			names_caps[i] = names_caps[--names_n];
			break;
		}
	/* The path as it was bound: the environment may have changed since,
	 * and a sandbox may forbid working it out again. */
	sys_unlink(c->name_path);
	free(c->name_path);
	c->name_path = NULL;
	sys_close(c->name_fd);
	c->name_fd = -1;
	c->name[0] = '\0';
	(void)!sys_write(names_wakefd, &(uint64_t){ 1 }, sizeof(uint64_t));
	pthread_mutex_unlock(&names_mutex);
}

/* In a child after fork the helper thread is gone, and the names are the
 * parent's: let go of the sockets without touching the files. */
void
names_atfork_child(void)
{
	int i;

	for (i = 0; i < names_n; i++) {
		sys_close(names_caps[i]->name_fd);
		names_caps[i]->name_fd = -1;
		names_caps[i]->name[0] = '\0';
		free(names_caps[i]->name_path);
		names_caps[i]->name_path = NULL;
	}
	names_n = 0;
	names_started = names_running = false;
	pthread_cond_init(&names_ready, NULL);
	/* The parent's helper reads this one: ours will need its own. */
	if (names_wakefd >= 0)
		sys_close(names_wakefd);
	names_wakefd = -1;
	if (names_spare >= 0)
		sys_close(names_spare);
	names_spare = -1;
}

int
copublish(const char *name, void *target)
{
	struct cap *c = cap_get(target, CAP_TARGET);

	if (c == NULL || name_check(name, COCALL_NAMEMAX) < 0)
		return -1;
	return names_publish(c, name);
}

int
colookup(const char *name, void **targetp)
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char path[PATH_MAX];
	void *cap;
	int s, r, dirfd;

	if (name_check(name, COCALL_NAMEMAX) < 0)
		return -1;
	if (targetp == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (name_addr(name, path, sizeof(path), &sun, &dirfd) < 0)
		return -1;
	/* Non-blocking: an owner whose backlog is full (stopped, wedged)
	 * answers EAGAIN at once, and is as good as absent. */
	s = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		r = errno;
		if (dirfd >= 0)
			sys_close(dirfd);
		errno = r;
		return -1;
	}
	r = sys_connect(s, (struct sockaddr *)&sun, sizeof(sun));
	if (dirfd >= 0) {
		int e = errno;

		sys_close(dirfd);
		errno = e;
	}
	if (r < 0) {
		int e = errno;

		sys_close(s);
		errno = (e == ENOENT || e == ECONNREFUSED || e == EAGAIN) ?
		    ESRCH : e;
		return -1;
	}
	/* The owner answers from its helper thread at once; one that is
	 * stopped or wedged is as good as absent. */
	pfd = (struct pollfd){ .fd = s, .events = POLLIN };
	do
		r = sys_poll(&pfd, 1, 5000);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		sys_close(s);
		errno = ESRCH;
		return -1;
	}
	r = caprecv(s, &cap);
	sys_close(s);
	if (r < 0) {
		/* Out of descriptors or capabilities is ours to report; any
		 * other failure means no usable owner. */
		if (errno != EMFILE && errno != ENFILE && errno != ENOMEM)
			errno = ESRCH;
		return -1;
	}
	if (cap_get(cap, CAP_TARGET) == NULL) {
		cap_release(cap);
		errno = ESRCH;
		return -1;
	}
	*targetp = cap;
	return 0;
}
