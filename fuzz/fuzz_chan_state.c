/*
 * fuzz_chan_state: the shared channel state each side reads from the
 * other (struct chan_shm): the service's take of a request (req_seq,
 * req_len, req_flags, req[], and the socket behind CHAN_VIA_SOCKET), and
 * the caller's take of a reply (rep_seq, rep_len, rep_flags, rep[], and
 * the socket).
 *
 * Service side (first byte even): a fresh target served by this thread
 * and two callers speaking the protocol by hand over real channels (set
 * up by the service's own connect path).  The input is written over the
 * hostile caller's line and request area and sent on its socket; the
 * service runs coacceptv() with timeout 0.  It must not crash or hang,
 * and the honest caller must then be served, with the right bytes.
 *
 * Caller side (first byte odd): the library calls, with cocallv() (timeout
 * 2 ms), a fake service run by a thread of the harness.  Each input gets a
 * fresh channel: a first call the fake service answers honestly, then
 * the input is written over the service's line and reply area and sent on
 * its socket, and the second call takes it.
 *
 * Input, service side:
 *   u8   bit 0 clear; bit 1 also write the service's line; bit 2 the
 *        honest caller uses the socket; bit 3 accept slowly; bit 4 ring;
 *        bits 5-6 room for bytes (65536, 16, 0, 1); bit 7 reply to the
 *        hostile caller with a capability
 *   u8   room for capabilities (low 3 bits, 0..7)
 *   128  bytes over the caller's line (magic .. caller_pad)
 *   128  bytes over the service's line (bit 1 only)
 *   u16  length, then that many bytes over req[]
 *   then messages as fz_send() reads them (fuzz.h), from the caller.
 *
 * Input, caller side:
 *   u8   bit 0 set; bit 1 call slowly; bit 2 call with a capability;
 *        bits 3-5 room for capabilities; bit 6 room for 16 bytes only
 *   128  bytes over the service's line, the first word (rep_seq)
 *        relative to the call's sequence number
 *   u16  length, then that many bytes over rep[]
 *   then messages from the service (fz_send(), seq relative as well).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"

#define HOSTILE_TID	1000001
#define HONEST_TID	1000002

static uint8_t in[COCALL_MAXLEN];
static uint8_t out[COCALL_MAXLEN];

static void
release_caps(void **caps, int n, int room)
{
	int i;

	FZ_CHECK(n >= 0 && n <= room, "%d capabilities for room %d", n, room);
	for (i = 0; i < n; i++) {
		if (caps[i] == NULL)
			continue;
		FZ_CHECK(cap_get(caps[i], 0) == caps[i], "capability %d not live",
		    i);
		FZ_CHECK(capfree(caps[i]) == 0, "capfree: %s", strerror(errno));
	}
}

/* ---- the service's side ---- */

static const size_t rooms[] = { COCALL_MAXLEN, 16, 0, 1 };

static void
overwrite(void *dst, struct rd *r, size_t size)
{
	const uint8_t *p;
	size_t n = rd_bytes(r, size, &p);

	memset(dst, 0, size);
	memcpy(dst, p, n);
}

static void
service_side(struct rd *r, uint8_t flags)
{
	struct fz_caller bad, good;
	struct comsg m;
	void *target, *caps[COCALL_MAXCAPS], *cap = NULL, *cookie = NULL,
	    *good_cookie;
	int gate, room = rd_u8(r) & 7;
	uint64_t label = 1;
	const uint8_t *p;
	size_t n;
	ssize_t got, len;
	bool via = flags & 4;
	const char *rep = "to honest";

	target = fz_target_new(&gate);
	FZ_CHECK(fz_caller_connect(&bad, gate, HOSTILE_TID) == 0 &&
	    fz_caller_connect(&good, gate, HONEST_TID) == 0, "connect: %s",
	    strerror(errno));
	fz_ring(fz_bell(), true);
	m = (struct comsg){ .in = in, .inlen = sizeof(in) };
	FZ_CHECK(coacceptv(NULL, NULL, &m, 0, 0) < 0 && errno == ETIMEDOUT,
	    "a call from nowhere");
	FZ_CHECK(fz_caller_acked(&bad) == 0 && fz_caller_acked(&good) == 0,
	    "honest connect refused");

	/* The hostile caller scribbles, and talks on its socket. */
	overwrite(bad.shm, r, 128);
	if (flags & 2)
		overwrite((uint8_t *)bad.shm + 128, r, 128);
	n = rd_bytes(r, rd_u16(r), &p);
	memcpy(bad.shm->req, p, n);
	fz_send(bad.sock, r, 8, 0);
	if (flags & 0x10)
		fz_ring(fz_bell(), false);

	memset(caps, 0, sizeof(caps));
	m = (struct comsg){ .in = in, .inlen = rooms[(flags >> 5) & 3],
	    .incaps = caps, .nincaps = room };
	got = coacceptv(&cookie, &label, &m, flags & 8 ? COCALL_SLOW : 0, 0);
	FZ_LOG("service took from the hostile caller: %zd (%s), %d caps", got,
	    got < 0 ? strerror(errno) : "ok", got < 0 ? 0 : m.nincaps);
	if (got >= 0) {
		pid_t pid;

		FZ_CHECK(got <= COCALL_MAXLEN, "length %zd", got);
		FZ_CHECK(label == 0, "label %llu", (unsigned long long)label);
		FZ_CHECK(cocachedpid(&pid, cookie) == 0 && pid == getpid(),
		    "cookie of the hostile call");
		release_caps(caps, m.nincaps, room);
	} else {
		FZ_CHECK(errno == ETIMEDOUT, "coacceptv: errno %d", errno);
	}

	/* The honest caller calls; the hostile one gets its reply first. */
	fz_caller_request(&good, "honest request", 14, via, fz_bell());
	memset(&m, 0, sizeof(m));
	m.in = in;
	m.inlen = sizeof(in);
	if (got >= 0) {
		m.out = "to hostile";
		m.outlen = 10;
		if (flags & 0x80) {
			int fd = fz_fd(FZ_NULL);

		FZ_CHECK(capfromfd(&cap, fd) == 0, "capfromfd");
		close(fd);
			m.outcaps = &cap;
			m.noutcaps = 1;
		}
	}
	len = coacceptv(&good_cookie, NULL, &m, 0, 0);
	FZ_CHECK(len == 14 && memcmp(in, "honest request", 14) == 0,
	    "honest caller not served (%zd, errno %d)", len, errno);
	FZ_CHECK(got < 0 || good_cookie != cookie, "honest caller got the "
	    "hostile one's cookie");

	/* Its reply reaches it. */
	m = (struct comsg){ .out = rep, .outlen = strlen(rep), .in = in,
	    .inlen = sizeof(in) };
	FZ_CHECK(coacceptv(NULL, NULL, &m, 0, 0) < 0 && errno == ETIMEDOUT,
	    "a call from nowhere");
	FZ_CHECK(LOAD_ACQ(&good.shm->rep_seq) == good.seq,
	    "honest caller not answered");
	if (via) {
		int nc = 0;

		FZ_CHECK(good.shm->rep_flags == CHAN_VIA_SOCKET,
		    "reply flags %u", good.shm->rep_flags);
		len = msg_recv_call(good.sock, good.seq, out, sizeof(out), NULL,
		    &nc, 0, NULL, NULL);
	} else {
		FZ_CHECK(good.shm->rep_flags == 0, "reply flags %u",
		    good.shm->rep_flags);
		len = good.shm->rep_len;
		memcpy(out, good.shm->rep, len <= COCALL_MAXLEN ? len : 0);
	}
	FZ_CHECK(len == (ssize_t)strlen(rep) && memcmp(out, rep, len) == 0,
	    "honest caller's reply wrong (%zd)", len);

	FZ_CHECK(capfree(target) == 0, "capfree: %s", strerror(errno));
	if (cap != NULL)
		capfree(cap);
	fz_caller_close(&bad);
	fz_caller_close(&good);
}

/* ---- the caller's side, against a fake service ---- */

static struct {
	int		 listen_fd, gate_fd, bell_fd;
	struct bell_shm	*bell;
	struct chan_shm	*shm;		/* the last channel, the thread's */
	int		 sock;		/* its socket, ours to close */
} fake;

/* Accept each connection, take its channel, and answer its first call
 * honestly.  The mapping stays until the next connection, so that the
 * fuzz thread can scribble on it without racing our last touch. */
static void *
fake_service(void *arg)
{
	struct chan_shm *prev = NULL;

	(void)arg;
	for (;;) {
		union {
			struct cmsghdr	hdr;
			char		buf[CMSG_SPACE(sizeof(int))];
		} cm;
		struct wire_connect w;
		struct wire_accept a = { WIRE_ACCEPT, WIRE_VERSION, 0, getpid() };
		struct iovec iov = { &w, sizeof(w) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
		struct chan_shm *s;
		int sock, memfd;
		uint32_t seq;

		sock = accept4(fake.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		FZ_CHECK(sock >= 0, "accept: %s", strerror(errno));
		FZ_CHECK(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) == sizeof(w) &&
		    w.magic == WIRE_CONNECT, "connect message");
		memcpy(&memfd, CMSG_DATA(&cm.hdr), sizeof(int));
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED,
		    memfd, 0);
		FZ_CHECK(s != MAP_FAILED, "mmap");
		close(memfd);
		if (prev != NULL)
			munmap(prev, sizeof(*prev));
		prev = s;
		STORE_RLX(&s->service_sleeping, 1);	/* ring for us */
		__atomic_store_n(&fake.sock, sock, __ATOMIC_RELAXED);
		__atomic_store_n(&fake.shm, s, __ATOMIC_RELAXED);
		FZ_CHECK(send(sock, &a, sizeof(a), MSG_NOSIGNAL) == sizeof(a),
		    "ack");
		for (;;) {
			uint32_t ring = LOAD_ACQ(&fake.bell->ring);

			FENCE();
			if ((seq = LOAD_ACQ(&s->req_seq)) != 0)
				break;
			futex_wait(&fake.bell->ring, ring, 10);
		}
		STORE_RLX(&s->rep_len, 0);
		STORE_RLX(&s->rep_flags, 0);
		STORE_RLX(&s->service_sleeping, 0);
		/* Release: pairs with the caller's acquire of rep_seq, which
		 * also publishes fake.sock and fake.shm to the fuzz thread. */
		STORE_REL(&s->rep_seq, seq);
		FENCE();
		if (LOAD_RLX(&s->caller_sleeping))
			futex_wake(&s->rep_seq);
	}
	return NULL;
}

static void
fake_init(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	pthread_t t;

	fake.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	FZ_CHECK(fake.listen_fd >= 0, "socket");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fake-gate.%d",
	    getenv("COMSG_DIR"), (int)getpid());
	FZ_CHECK(bind(fake.listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    listen(fake.listen_fd, 16) == 0, "bind: %s", strerror(errno));
	fake.gate_fd = open(sun.sun_path, O_PATH | O_CLOEXEC);
	FZ_CHECK(fake.gate_fd >= 0, "open gate");
	unlink(sun.sun_path);
	fake.bell_fd = memfd_create("fake-bell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FZ_CHECK(fake.bell_fd >= 0 &&
	    ftruncate(fake.bell_fd, sizeof(struct bell_shm)) == 0 &&
	    fcntl(fake.bell_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == 0, "bell memfd");
	fake.bell = mmap(NULL, sizeof(struct bell_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fake.bell_fd, 0);
	FZ_CHECK(fake.bell != MAP_FAILED, "mmap bell");
	fake.bell->magic = BELL_MAGIC;
	fake.bell->version = SHM_VERSION;
	FZ_CHECK(pthread_create(&t, NULL, fake_service, NULL) == 0, "thread");
	pthread_detach(t);
}

static const int call_errs[] = { EMSGSIZE, ENOLINK, EPROTO, ENOMEM, EMFILE,
    ENFILE, ETIMEDOUT };

static void
caller_side(struct rd *r, uint8_t flags)
{
	void *caps[COCALL_MAXCAPS], *cap = NULL, *target;
	int fds[2], room = (flags >> 3) & 7;
	struct comsg m;
	struct chan_shm *s;
	uint8_t line[128];
	uint32_t seq, rel;
	const uint8_t *p;
	size_t n;
	ssize_t got;

	/* A new capability: a new channel, first answered honestly. */
	fds[0] = fcntl(fake.gate_fd, F_DUPFD_CLOEXEC, 3);
	fds[1] = fcntl(fake.bell_fd, F_DUPFD_CLOEXEC, 3);
	target = cap_import(CAP_TARGET, fds, true);
	FZ_CHECK(target != NULL, "import the fake target: %s", strerror(errno));
	m = (struct comsg){ .out = "warm", .outlen = 4, .in = in, .inlen = 16 };
	got = cocallv(target, &m, 0, 5000);
	FZ_CHECK(got == 0, "honest reply not taken (%zd, errno %d)", got, errno);
	s = __atomic_load_n(&fake.shm, __ATOMIC_RELAXED);

	/* The next call's reply, as the input has it. */
	seq = LOAD_RLX(&s->req_seq) + 1;
	if (seq == 0)
		seq = 1;
	overwrite(line, r, sizeof(line));
	memcpy(&rel, line, 4);
	rel += seq;
	memcpy(line, &rel, 4);
	memcpy((uint8_t *)s + 128, line, sizeof(line));
	n = rd_bytes(r, rd_u16(r), &p);
	memcpy(s->rep, p, n);
	fz_send(__atomic_load_n(&fake.sock, __ATOMIC_RELAXED), r, 8, seq);

	memset(caps, 0, sizeof(caps));
	m = (struct comsg){ .out = "call", .outlen = 4, .in = in,
	    .inlen = flags & 0x40 ? 16 : sizeof(in), .incaps = caps,
	    .nincaps = room };
	if (flags & 4) {
		int fd = fz_fd(FZ_NULL);

		FZ_CHECK(capfromfd(&cap, fd) == 0, "capfromfd");
		close(fd);
		m.outcaps = &cap;
		m.noutcaps = 1;
	}
	got = cocallv(target, &m, flags & 2 ? COCALL_SLOW : 0, 2);
	FZ_LOG("caller took: %zd (%s), %d caps", got,
	    got < 0 ? strerror(errno) : "ok", got < 0 ? 0 : m.nincaps);
	if (got >= 0) {
		FZ_CHECK(got <= COCALL_MAXLEN, "length %zd", got);
		release_caps(caps, m.nincaps, room);
	} else {
		FZ_CHECK(fz_errno_in(errno, call_errs, sizeof(call_errs) /
		    sizeof(call_errs[0])), "undocumented errno %d", errno);
	}
	FZ_CHECK(capfree(target) == 0, "capfree: %s", strerror(errno));
	if (cap != NULL)
		capfree(cap);
	close(__atomic_load_n(&fake.sock, __ATOMIC_RELAXED));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	fake_init();
	fz_fd_baseline();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	uint8_t flags = rd_u8(&r);

	if (flags & 1)
		caller_side(&r, flags);
	else
		service_side(&r, flags);
	fz_done();
	return 0;
}
