/*
 * What the fuzz harnesses share (see fuzz.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"

/* UBSan reports are findings: stop at the first, with its stack.  The
 * environment (UBSAN_OPTIONS) still has the last word. */
const char *__ubsan_default_options(void);
const char *
__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

bool fz_debug;

uint8_t
rd_u8(struct rd *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

uint16_t
rd_u16(struct rd *r)
{
	uint16_t lo = rd_u8(r);

	return (uint16_t)(lo | rd_u8(r) << 8);
}

uint32_t
rd_u32(struct rd *r)
{
	uint32_t lo = rd_u16(r);

	return lo | (uint32_t)rd_u16(r) << 16;
}

size_t
rd_bytes(struct rd *r, size_t want, const uint8_t **pp)
{
	size_t n = want < r->n ? want : r->n;

	*pp = r->p;
	r->p += n;
	r->n -= n;
	return n;
}

bool
fz_errno_in(int e, const int *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == e)
			return true;
	return false;
}

/* ---- set-up ---- */

static void *pool_target;
static int pool[FZ_NKINDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static int pool_keep[2] = { -1, -1 };	/* the other ends */
static struct bell_shm *bell_map;

static int
sealed_memfd(size_t size, bool seal)
{
	int fd = memfd_create("comsg-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	FZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	FZ_CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate");
	if (seal)
		FZ_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		    F_SEAL_SEAL) == 0, "seal");
	return fd;
}

void
fz_init(void)
{
	static bool done;
	struct cap *c;
	int p[2], sv[2];

	if (done)
		return;
	done = true;
	fz_debug = getenv("FZ_DEBUG") != NULL;
	/* The sanitizers' symbolizer keeps pipes to its process once it
	 * starts (libFuzzer names new functions as it finds them): start it
	 * now, so that its descriptors are counted as ours. */
	{
		char where[128];

		__sanitizer_symbolize_pc(__builtin_return_address(0), "%F",
		    where, sizeof(where));
	}
	signal(SIGPIPE, SIG_IGN);
	/* A domain of our own, the same for every run: what a run leaves
	 * there (nothing, unless it crashed between two system calls) is
	 * reused, not piled up. */
	{
		const char *tmp = getenv("TMPDIR");
		char dir[256];

		snprintf(dir, sizeof(dir), "%s/comsg-fuzz-%u",
		    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
		    (unsigned)geteuid());
		FZ_CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST, "%s: %s",
		    dir, strerror(errno));
		setenv("COMSG_DIR", dir, 1);
	}
	FZ_CHECK(cosetup(COSETUP_COACCEPT) == 0, "cosetup: %s", strerror(errno));
	FZ_CHECK(coregister(NULL, &pool_target) == 0, "coregister: %s",
	    strerror(errno));
	c = pool_target;
	pool[FZ_GATE] = c->fd[0];
	pool[FZ_BELL] = c->fd[1];
	FZ_CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe");
	pool[FZ_PIPE] = p[0];
	pool_keep[0] = p[1];
	pool[FZ_NULL] = open("/dev/null", O_RDWR | O_CLOEXEC);
	FZ_CHECK(pool[FZ_NULL] >= 0, "/dev/null");
	pool[FZ_MEMFD] = sealed_memfd(4096, false);
	pool[FZ_SEALED] = sealed_memfd(8192, true);
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
	    "socketpair");
	pool[FZ_SOCK] = sv[0];
	pool_keep[1] = sv[1];
	bell_map = mmap(NULL, sizeof(struct bell_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, c->fd[1], 0);
	FZ_CHECK(bell_map != MAP_FAILED, "mmap bell");
}

#define NCHANMAPS	64
static struct chan_shm *chan_maps[NCHANMAPS];
static int nchan_maps;

int
fz_fd(enum fz_fdkind kind)
{
	int fd;

	if (kind == FZ_CHAN) {
		fd = sealed_memfd(sizeof(struct chan_shm), true);
		if (nchan_maps < NCHANMAPS) {
			void *p = mmap(NULL, sizeof(struct chan_shm),
			    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			FZ_CHECK(p != MAP_FAILED, "mmap chan");
			chan_maps[nchan_maps++] = p;
		}
		return fd;
	}
	fd = fcntl(pool[kind], F_DUPFD_CLOEXEC, 3);
	FZ_CHECK(fd >= 0, "dup: %s", strerror(errno));
	return fd;
}

struct chan_shm *
fz_chan_map(int i)
{
	return i >= 0 && i < nchan_maps ? chan_maps[i] : NULL;
}

void
fz_chan_reset(void)
{
	while (nchan_maps > 0)
		munmap(chan_maps[--nchan_maps], sizeof(struct chan_shm));
}

struct bell_shm *
fz_bell(void)
{
	return bell_map;
}

void
fz_ring(struct bell_shm *bell, bool connect)
{
	if (connect)
		__atomic_add_fetch(&bell->connects, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&bell->ring, 1, __ATOMIC_SEQ_CST);
}

/* ---- descriptor accounting ---- */

#define FD_MAX_LISTED	1024
static int fds_base[FD_MAX_LISTED], nfds_base;

/* The descriptors open now, in order: /proc/self/fd read directly,
 * which costs a few system calls however many there are. */
static int
list_fds(int *out)
{
	char buf[8192];
	int dfd, n = 0, i, j;
	ssize_t got;

	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FZ_CHECK(dfd >= 0, "/proc/self/fd: %s", strerror(errno));
	while ((got = getdents64(dfd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < got) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			int fd = atoi(d->d_name);

			off += d->d_reclen;
			if (d->d_name[0] == '.' || fd == dfd)
				continue;
			FZ_CHECK(n < FD_MAX_LISTED, "too many descriptors");
			for (i = n++; i > 0 && out[i - 1] > fd; i--)
				out[i] = out[i - 1];
			out[i] = fd;
		}
	}
	close(dfd);
	for (j = 1; j < n; j++)
		FZ_CHECK(out[j] != out[j - 1], "descriptor listed twice");
	return n;
}

static const char *
fd_what(int fd)
{
	static char buf[256];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

void
fz_fd_baseline(void)
{
	nfds_base = list_fds(fds_base);
}

void
fz_done(void)
{
	int now[FD_MAX_LISTED], n, i = 0, j = 0;

	fz_chan_reset();
	n = list_fds(now);
	while (i < nfds_base || j < n) {
		if (i < nfds_base && j < n && fds_base[i] == now[j]) {
			i++;
			j++;
		} else if (j == n || (i < nfds_base && fds_base[i] < now[j])) {
			FZ_CHECK(0, "descriptor %d closed after the input",
			    fds_base[i]);
		} else {
			FZ_CHECK(0, "descriptor %d left open after the input: %s",
			    now[j], fd_what(now[j]));
		}
	}
}

/* ---- crafted messages ---- */

int
fz_send(int sock, struct rd *r, int maxmsgs, uint32_t seqadd)
{
	int sent = 0;

	while (r->n > 0 && sent < maxmsgs) {
		union {
			struct cmsghdr	hdr;
			char		buf[CMSG_SPACE(sizeof(int) * 32)];
		} cm;
		uint8_t body[65536 + 64];
		struct iovec iov = { body, 0 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		const uint8_t *p;
		int fds[32], nfds = rd_u8(r) & 31, i;
		size_t len;

		for (i = 0; i < nfds; i++)
			fds[i] = fz_fd((enum fz_fdkind)(rd_u8(r) % FZ_NKINDS));
		len = rd_bytes(r, rd_u16(r), &p);
		memcpy(body, p, len);
		iov.iov_len = len;
		if (seqadd != 0 && len >= 8) {
			uint32_t s;

			memcpy(&s, body + 4, 4);
			s += seqadd;
			memcpy(body + 4, &s, 4);
		}
		if (nfds > 0) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm.hdr.cmsg_level = SOL_SOCKET;
			cm.hdr.cmsg_type = SCM_RIGHTS;
			cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * nfds);
		}
		if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			sent++;
		FZ_LOG("sent %zu bytes, %d descriptors: %s", len, nfds,
		    sent ? "ok" : strerror(errno));
		for (i = 0; i < nfds; i++)
			close(fds[i]);
	}
	return sent;
}

int
fz_gate_connect(int gate_fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	FZ_CHECK(s >= 0, "socket: %s", strerror(errno));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d",
	    gate_fd);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* ---- an honest caller, by hand ---- */

int
fz_caller_connect(struct fz_caller *c, int gate_fd, int32_t tid)
{
	struct wire_connect w = { WIRE_CONNECT, WIRE_VERSION, tid,
	    sizeof(struct chan_shm) };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	int memfd;

	c->seq = 0;
	c->shm = NULL;
	c->sock = fz_gate_connect(gate_fd);
	if (c->sock < 0)
		return -1;
	memfd = sealed_memfd(sizeof(struct chan_shm), true);
	c->shm = mmap(NULL, sizeof(struct chan_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, memfd, 0);
	FZ_CHECK(c->shm != MAP_FAILED, "mmap chan");
	c->shm->magic = CHAN_MAGIC;
	c->shm->version = SHM_VERSION;
	memset(&cm, 0, sizeof(cm));
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.hdr), &memfd, sizeof(int));
	FZ_CHECK(sendmsg(c->sock, &mh, MSG_NOSIGNAL) == sizeof(w),
	    "send connect: %s", strerror(errno));
	close(memfd);
	return 0;
}

int
fz_caller_acked(struct fz_caller *c)
{
	struct wire_accept a;
	ssize_t n = recv(c->sock, &a, sizeof(a), MSG_DONTWAIT);

	if (n != sizeof(a))
		return -1;
	FZ_CHECK(a.magic == WIRE_ACCEPT && a.version == WIRE_VERSION &&
	    a.pid == getpid(), "malformed accept from the service");
	return a.status;
}

void
fz_caller_request(struct fz_caller *c, const void *buf, size_t len,
    bool via_socket, struct bell_shm *bell)
{
	struct chan_shm *s = c->shm;

	c->seq++;
	if (via_socket)
		FZ_CHECK(msg_send_call(c->sock, c->seq, buf, len, NULL, 0, 0,
		    0) == 0, "send request: %s", strerror(errno));
	else
		memcpy(s->req, buf, len);
	STORE_RLX(&s->req_len, (uint32_t)len);
	STORE_RLX(&s->req_flags, via_socket ? CHAN_VIA_SOCKET : 0);
	STORE_REL(&s->req_seq, c->seq);
	FENCE();
	if (LOAD_RLX(&s->service_sleeping))
		fz_ring(bell, false);
}

void
fz_caller_close(struct fz_caller *c)
{
	if (c->shm != NULL)
		munmap(c->shm, sizeof(struct chan_shm));
	if (c->sock >= 0)
		close(c->sock);
	c->shm = NULL;
	c->sock = -1;
}

void *
fz_target_new(int *gate_fdp)
{
	void *t;

	FZ_CHECK(coregister(NULL, &t) == 0, "coregister: %s", strerror(errno));
	*gate_fdp = ((struct cap *)t)->fd[0];
	return t;
}

/* The start-up of a harness that needs nothing of its own; a harness that
 * does defines its own LLVMFuzzerInitialize(), which takes precedence. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
__attribute__((weak)) int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	fz_fd_baseline();
	return 0;
}
