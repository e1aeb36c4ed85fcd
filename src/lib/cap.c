/*
 * Capabilities: the process's table of handles, each resting on
 * descriptors only its holders have, and their transfer over UNIX sockets
 * (SCM_RIGHTS).  A capability pointer is valid only if it points at a live
 * slot of the table, so a forged or stale pointer gives EINVAL, not a crash.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

static struct cap cap_table[CAP_MAX];
static int cap_hint;		/* where to look for a free slot next */
static pthread_mutex_t cap_mutex = PTHREAD_MUTEX_INITIALIZER;

void cap_lock(void) { pthread_mutex_lock(&cap_mutex); }
void cap_unlock(void) { pthread_mutex_unlock(&cap_mutex); }

/* The library's start-up lives here, in the file every entry point needs,
 * so that a static link always has it: fork handlers, and the vector this
 * process inherited. */
__attribute__((constructor)) static void
comsg_init(void)
{
	thread_init();
	capv_init();
}

int
cap_nfds(enum cap_kind kind)
{
	switch (kind) {
	case CAP_TARGET:
		return 2;
	case CAP_FD:
		return 1;
	}
	return -1;
}

int
cap_index(const struct cap *c)
{
	return (int)(c - cap_table);
}

/* The live capability p points at, of the given kind (0: any). */
struct cap *
cap_get(void *p, enum cap_kind kind)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)cap_table;
	struct cap *c;

	if (a < base || a >= base + sizeof(cap_table) ||
	    (a - base) % sizeof(struct cap) != 0)
		goto bad;
	c = p;
	/* Acquire pairs with the release in cap_publish(): a live magic means
	 * the fields were filled in before. */
	if (LOAD_ACQ(&c->magic) != CAP_LIVE)
		goto bad;
	if (kind != 0 && c->kind != kind)
		goto bad;
	return c;
bad:
	errno = EINVAL;
	return NULL;
}

static struct cap *
cap_alloc(enum cap_kind kind)
{
	struct cap *c = NULL;
	int i;

	cap_lock();
	for (i = 0; i < CAP_MAX; i++) {
		int k = (cap_hint + i) % CAP_MAX;

		if (cap_table[k].magic == 0 && cap_table[k].kind == 0) {
			c = &cap_table[k];
			cap_hint = k + 1;
			break;
		}
	}
	if (c != NULL) {
		uint32_t gen = c->gen;

		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->kind = kind;	/* reserves the slot until published */
		c->fd[0] = c->fd[1] = c->listen_fd = c->name_fd = -1;
	}
	cap_unlock();
	if (c == NULL)
		errno = ENFILE;
	return c;
}

static struct cap *
cap_publish(struct cap *c)
{
	STORE_REL(&c->magic, CAP_LIVE);
	return c;
}

/* A new capability over descriptors this process made (trusted); fds are
 * taken over, also on failure. */
struct cap *
cap_new(enum cap_kind kind, const int *fds)
{
	struct cap *c;
	int i, n = cap_nfds(kind);

	c = cap_alloc(kind);
	if (c == NULL) {
		for (i = 0; i < n; i++)
			sys_close(fds[i]);
		return NULL;
	}
	for (i = 0; i < n; i++)
		c->fd[i] = fds[i];
	return cap_publish(c);
}

/* Do fds hold what a capability of this kind rests on?  A target: a
 * socket (the O_PATH descriptor of a listening socket) and a sealed memfd
 * of a doorbell's size. */
static bool
cap_fds_valid(enum cap_kind kind, const int *fds)
{
	int n = cap_nfds(kind), i, seals;
	struct stat st;

	if (n < 0)
		return false;
	for (i = 0; i < n; i++)
		if (fds[i] < 0 || sys_fcntl(fds[i], F_GETFD, 0) < 0)
			return false;
	if (kind != CAP_TARGET)
		return true;
	if (sys_fstat(fds[0], &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	seals = sys_fcntl(fds[1], F_GET_SEALS, 0);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW))
		return false;
	return sys_fstat(fds[1], &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == sizeof(struct bell_shm);
}

/*
 * A capability over descriptors received from elsewhere (hostile): check
 * that they are what the kind says before using them.  The descriptors are
 * taken over on success; on failure they are closed if owned (ours to
 * close), and left alone otherwise (inherited numbers we were told about).
 */
struct cap *
cap_import(enum cap_kind kind, const int *fds, bool owned)
{
	int i, n = cap_nfds(kind);

	if (cap_fds_valid(kind, fds))
		return cap_new(kind, fds);
	for (i = 0; owned && i < n; i++)
		if (fds[i] >= 0)
			sys_close(fds[i]);
	errno = EINVAL;
	return NULL;
}

/* Close the capability's descriptors and free its slot.  Serving state is
 * the caller's business (capfree()). */
void
cap_release(struct cap *c)
{
	int i;

	cap_lock();
	__atomic_store_n(&c->magic, 0, __ATOMIC_RELEASE);
	c->gen++;
	for (i = 0; i < 2; i++)
		if (c->fd[i] >= 0)
			sys_close(c->fd[i]);
	c->kind = 0;
	cap_unlock();
}

/* Let the capability's descriptors survive exec (it is in the vector) or
 * not. */
int
cap_set_inherit(struct cap *c, bool inherit)
{
	int i, n = cap_nfds(c->kind);

	for (i = 0; i < n; i++)
		if (sys_fcntl(c->fd[i], F_SETFD, inherit ? 0 : FD_CLOEXEC) < 0)
			return -1;
	return 0;
}

/* Send hdr and body as one message, with descriptors (which stay ours). */
int
fd_sendmsg(int sock, const void *hdr, size_t hdrlen, const void *body,
    size_t bodylen, const int *fds, int nfds, int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_MAXFDS)];
	} cm;
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = hdrlen },
		{ .iov_base = (void *)body, .iov_len = bodylen },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = bodylen ? 2 : 1 };

	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sys_sendmsg(sock, &mh, flags | MSG_NOSIGNAL);

		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* The same, with the descriptors of caps. */
int
cap_sendmsg(int sock, const void *hdr, size_t hdrlen, const void *body,
    size_t bodylen, struct cap *const *caps, int ncaps, int flags)
{
	int fds[WIRE_MAXFDS], nfds = 0, i, j;

	for (i = 0; i < ncaps; i++)
		for (j = 0; j < cap_nfds(caps[i]->kind); j++)
			fds[nfds++] = caps[i]->fd[j];
	return fd_sendmsg(sock, hdr, hdrlen, body, bodylen, fds, nfds, flags);
}

/*
 * Receive one message into iov, and up to WIRE_MAXFDS descriptors into fds
 * (close-on-exec).  Descriptors beyond that, or in other control messages,
 * are closed.  Returns the byte count (0 at end of stream) with *nfds set;
 * *truncated when the message or its descriptors did not fit, *ctrunc
 * (if not NULL) when its descriptors did not (we are out of them).
 */
HIDDEN ssize_t
cap_recvmsg(int sock, struct iovec *iov, int iovcnt, int *fds, int *nfds,
    bool *truncated, bool *ctrunc, int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_MAXFDS) +
				    CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct msghdr mh = {
		.msg_iov = iov, .msg_iovlen = iovcnt,
		.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
	};
	struct cmsghdr *ch;
	ssize_t n;

	*nfds = 0;
	do
		n = sys_recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (ch = CMSG_FIRSTHDR(&mh); ch != NULL; ch = CMSG_NXTHDR(&mh, ch)) {
		int k, cnt;

		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(ch) + k * sizeof(int), sizeof(fd));
			if (*nfds < WIRE_MAXFDS)
				fds[(*nfds)++] = fd;
			else
				sys_close(fd);
		}
	}
	*truncated = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	if (ctrunc != NULL)
		*ctrunc = (mh.msg_flags & MSG_CTRUNC) != 0;
	return n;
}

/*
 * Turn descriptors received with a message into capabilities, as the
 * message's kinds say.  The descriptors are consumed whatever happens.  A
 * capability that does not check out is NULL in its position; those
 * beyond room are released.  Returns the number of positions filled
 * (min(ncaps, room)), or -1 (EINVAL) if the descriptors do not match the
 * kinds at all.
 */
int
cap_unpack(const uint8_t *kinds, int ncaps, int *fds, int nfds,
    void **caps, int room)
{
	int i, used = 0, want = 0;

	for (i = 0; i < ncaps; i++) {
		int n = cap_nfds(kinds[i]);

		if (n < 0)
			goto bad;
		want += n;
	}
	if (want != nfds)
		goto bad;
	for (i = 0; i < ncaps; i++) {
		struct cap *c = cap_import(kinds[i], fds + used, true);

		used += cap_nfds(kinds[i]);
		if (i < room)
			caps[i] = c;
		else if (c != NULL)
			cap_release(c);
	}
	return ncaps < room ? ncaps : room;
bad:
	for (i = 0; i < nfds; i++)
		sys_close(fds[i]);
	errno = EINVAL;
	return -1;
}

int
capfromfd(void **capp, int fd)
{
	struct cap *c;
	int nfd;

	if (capp == NULL) {
		errno = EINVAL;
		return -1;
	}
	nfd = sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return -1;
	c = cap_new(CAP_FD, &nfd);
	if (c == NULL)
		return -1;
	*capp = c;
	return 0;
}

int
captofd(void *cap, int *fdp)
{
	struct cap *c = cap_get(cap, CAP_FD);
	int fd;

	if (c == NULL)
		return -1;
	if (fdp == NULL) {
		errno = EINVAL;
		return -1;
	}
	fd = sys_fcntl(c->fd[0], F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	*fdp = fd;
	return 0;
}

int
capsend(int sockfd, void *cap)
{
	struct cap *c = cap_get(cap, 0);
	struct wire_cap w = { WIRE_CAP, WIRE_VERSION, 0, 0 };

	if (c == NULL)
		return -1;
	w.kind = c->kind;
	return cap_sendmsg(sockfd, &w, sizeof(w), NULL, 0, &c, 1, 0);
}

int
caprecv(int sockfd, void **capp)
{
	struct wire_cap w;
	struct iovec iov = { &w, sizeof(w) };
	int fds[WIRE_MAXFDS], nfds, i;
	bool trunc;
	ssize_t n;
	uint8_t kind;
	void *cap;

	if (capp == NULL) {
		errno = EINVAL;
		return -1;
	}
	n = cap_recvmsg(sockfd, &iov, 1, fds, &nfds, &trunc, NULL, 0);
	if (n < 0)
		return -1;
	if (trunc || n != sizeof(w) || w.magic != WIRE_CAP ||
	    w.version != WIRE_VERSION || w.kind > UINT8_MAX) {
		for (i = 0; i < nfds; i++)
			sys_close(fds[i]);
		errno = n == 0 ? ECONNRESET : EINVAL;
		return -1;
	}
	kind = (uint8_t)w.kind;
	if (cap_unpack(&kind, 1, fds, nfds, &cap, 1) != 1 || cap == NULL) {
		errno = EINVAL;
		return -1;
	}
	*capp = cap;
	return 0;
}

int
cotargetpid(void *target, pid_t *pidp)
{
	struct cap *c = cap_get(target, CAP_TARGET);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int s;

	if (c == NULL)
		return -1;
	if (pidp == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* A connected socket carries the credentials its listener had: the
	 * service's.  The service drops this empty connection unread. */
	s = gate_connect(c);
	if (s < 0)
		return -1;
	if (sys_getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		sys_close(s);
		return -1;
	}
	sys_close(s);
	*pidp = cr.pid;
	return 0;
}

/*
 * A new connection to target c's gate: a socket of ours, connected through
 * the O_PATH descriptor of the service's listening socket (whose name is
 * gone from the file system, so this descriptor is the only way to it).
 * Non-blocking.  Errors: ENOLINK (nobody listens: the service is gone),
 * EAGAIN (its backlog is full), EINVAL (c was released meanwhile).
 */
int
gate_connect(struct cap *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, r, e;

	s = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -1;
	/* Under the lock: the descriptor number must still be c's. */
	cap_lock();
	if (c->magic != CAP_LIVE || c->kind != CAP_TARGET) {
		cap_unlock();
		sys_close(s);
		errno = EINVAL;
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d",
	    c->fd[0]);
	do
		r = sys_connect(s, (struct sockaddr *)&sun, sizeof(sun));
	while (r < 0 && errno == EINTR);
	e = errno;
	cap_unlock();
	if (r < 0) {
		sys_close(s);
		/* Nobody listens any more: the service is gone.  A descriptor
		 * that is no gate (another kind of socket, a made-up vector
		 * entry) makes no target. */
		switch (e) {
		case ECONNREFUSED: case ENOENT: errno = ENOLINK; break;
		case EAGAIN: case ENOMEM: case ENOBUFS: errno = e; break;
		default: errno = EINVAL; break;
		}
		return -1;
	}
	return s;
}

_Static_assert(CAPKIND_TARGET == CAP_TARGET && CAPKIND_FD == CAP_FD,
    "capkind() returns the table's kinds");

int
capkind(void *cap)
{
	struct cap *c = cap_get(cap, 0);

	return c != NULL ? (int)c->kind : -1;
}

int
capdescribe(void *cap, char *buf, size_t size)
{
	struct cap *c = cap_get(cap, 0);
	struct stat st;
	const char *what = "descriptor";
	pid_t pid;

	if (c == NULL)
		return -1;
	if (buf == NULL || size == 0) {
		errno = EINVAL;
		return -1;
	}
	if (c->kind == CAP_TARGET) {
		if (cotargetpid(cap, &pid) < 0)
			pid = -1;
		snprintf(buf, size, "target of pid %d%s (gate fd %d, doorbell fd %d)",
		    (int)pid, c->server != NULL ? ", served here" : "",
		    c->fd[0], c->fd[1]);
		return 0;
	}
	if (sys_fstat(c->fd[0], &st) == 0) {
		if (S_ISSOCK(st.st_mode))
			what = "socket";
		else if (S_ISFIFO(st.st_mode))
			what = "pipe";
		else if (S_ISREG(st.st_mode))
			what = "file";
		else if (S_ISDIR(st.st_mode))
			what = "directory";
		else if (S_ISCHR(st.st_mode))
			what = "device";
	}
	snprintf(buf, size, "%s (fd %d)", what, c->fd[0]);
	return 0;
}
