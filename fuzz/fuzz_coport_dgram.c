/*
 * fuzz_coport_dgram: the datagrams of COCARRIER and COPIPE ports
 * (struct port_dgram and its descriptor), as the real code takes them
 * from the port's socket: carrier_recv() and carrier_take() (cocarrier.c:
 * a message, a sealed memfd, from any sender), pipe_send() and
 * tx_adopt()/tx_fill() (copipe.c: a ticket, a pair's memfd, from any
 * receiver, whose page the receiver goes on writing).  The port is a struct
 * port_obj set up by hand; its socket is one end of a SOCK_DGRAM
 * socketpair on which the input's datagrams are queued, non-blocking.
 *
 * Input:
 *   u8   bit 0 COPIPE (a sender delivering) else COCARRIER (a receiver);
 *        bit 1 the other side is gone (state: had it, count 0);
 *        bits 2-4 COPIPE: message length (0, 1, 100, 4095, 4096, 4097,
 *        65536, 70000)
 *   then up to 16 datagrams, each:
 *     u8   bits 0-1 descriptors (0 to 3); bit 2 fix the magic up
 *          (CARRIER_MAGIC or TICKET_MAGIC); bit 3 short: u8 follows, the
 *          length is it modulo 17
 *     16   bytes of struct port_dgram
 *     per descriptor: u8 kind (0-3 a memfd, 4 a pipe, 5 /dev/null,
 *          6 a socket, 7 a sealed memfd of 8192); a memfd is followed by
 *          u8 bits 0-2 size (0, 1, 100, 4096, 4096+100, 8192, 4096+65536,
 *          4096+70000); u8 seals (F_SEAL_* bits, F_SEAL_SEAL last);
 *          u16 n and n bytes from offset 0 (for a pair: its page).
 *
 * Checked besides crashes, leaks and descriptors: COCARRIER returns
 * lengths within COCARRIER_MAXLEN, views that can be read whole (a view
 * past its memfd faults), errors only EAGAIN or EPIPE (EPIPE only with
 * the senders gone).  COPIPE: no receiver runs, so the send fails with
 * EAGAIN (or EPIPE, the receivers gone); the sender writes only pairs it
 * may take (PAIR_MAGIC, sealed against shrinking, writable), in those
 * only its own words (tx_pid, msglen, tx_sleeping, status) and at most
 * one area: the open one, within the memfd, and only if it holds the
 * message; a status it leaves is the one it found, from OPEN the next
 * round's OPEN (a fill or a TOOSMALL mark it took back) or TOOSMALL (an
 * area smaller than the message), or CLOSED of the same round for a
 * pair it does not keep (a second one from one receiver, or past
 * PAIRS_MAX).  (A pair's
 * rx_waiting is cleared: a non-blocking sender would wait for such a
 * receiver 20 ms, a matter of timing, not of parsing.)
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "coport_int.h"

#define MAXDGRAMS	16
#define MAXPAIRS	(MAXDGRAMS * 3)

static const size_t memfd_sizes[] = { 0, 1, 100, PAGE, PAGE + 100, 2 * PAGE,
    PAGE + 65536, PAGE + 70000 };
static const size_t msglens[] = { 0, 1, 100, 4095, 4096, 4097, 65536, 70000 };
static uint8_t msg[70000];

/* Pairs the input offered, as the receiver that made them sees them. */
static struct {
	const uint8_t	*map;		/* the memfd, read-only */
	uint8_t		*before;	/* its bytes before the send */
	size_t		 size;
	bool		 takable;	/* a sender may map and write it */
} pairs[MAXPAIRS];
static int npairs;

static int
make_memfd(struct rd *r, bool pipe)
{
	uint8_t how = rd_u8(r), seals = rd_u8(r);
	size_t size = memfd_sizes[how & 7], n;
	const uint8_t *p;
	int fd = memfd_create("fuzz-dgram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	FZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	FZ_CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate");
	n = rd_bytes(r, rd_u16(r), &p);
	if (n > size)
		n = size;
	FZ_CHECK(pwrite(fd, p, n, 0) == (ssize_t)n, "pwrite");
	(void)fcntl(fd, F_ADD_SEALS, seals & (F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
	if (seals & F_SEAL_SEAL)
		(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
	if (pipe && size > 0 && npairs < MAXPAIRS) {
		uint32_t zero = 0;
		int have = fcntl(fd, F_GET_SEALS);

		if (size >= PAGE)
			(void)pwrite(fd, &zero, sizeof(zero),
			    offsetof(struct pipe_pair, rx_waiting));
		pairs[npairs].map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		FZ_CHECK(pairs[npairs].map != MAP_FAILED, "mmap pair: %s",
		    strerror(errno));
		pairs[npairs].before = malloc(size);
		FZ_CHECK(pairs[npairs].before != NULL, "malloc");
		memcpy(pairs[npairs].before, pairs[npairs].map, size);
		pairs[npairs].size = size;
		pairs[npairs].takable = size >= PAGE && (have & F_SEAL_SHRINK) &&
		    !(have & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) &&
		    ((const struct pipe_pair *)pairs[npairs].map)->magic == PAIR_MAGIC;
		npairs++;
	}
	return fd;
}

static void
queue(int sock, struct rd *r, bool pipe)
{
	for (int i = 0; i < MAXDGRAMS && r->n > 0; i++) {
		uint8_t how = rd_u8(r);
		int nfds = how & 3, fds[3];
		struct port_dgram d;
		size_t len = sizeof(d), got;
		const uint8_t *p;

		if (how & 8)
			len = rd_u8(r) % (sizeof(d) + 1);
		memset(&d, 0, sizeof(d));
		got = rd_bytes(r, sizeof(d), &p);
		memcpy(&d, p, got);
		for (int k = 0; k < nfds; k++) {
			uint8_t kind = rd_u8(r) & 7;

			fds[k] = kind < 4 ? make_memfd(r, pipe) :
			    fz_fd(kind == 4 ? FZ_PIPE : kind == 5 ? FZ_NULL :
			    kind == 6 ? FZ_SOCK : FZ_SEALED);
		}
		if (how & 4) {
			d.magic = pipe ? TICKET_MAGIC : CARRIER_MAGIC;
			d.version = COPORT_SHM_VERSION;
		}
		(void)fd_sendmsg(sock, &d, len, NULL, 0, nfds ? fds : NULL, nfds,
		    MSG_DONTWAIT);
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
	}
}

/* What the sender did to the pairs the input offered (see the top). */
static void
check_pairs(size_t len)
{
	int written = 0;

	for (int k = 0; k < npairs; k++) {
		const uint8_t *now = pairs[k].map, *was = pairs[k].before;
		size_t size = pairs[k].size, line2 = offsetof(struct pipe_pair, msglen);
		uint32_t w0, w1, next;
		uint64_t off, cap;

		if (!pairs[k].takable) {
			FZ_CHECK(memcmp(now, was, size) == 0,
			    "pair %d: not takable, written", k);
			goto next;
		}
		FZ_CHECK(memcmp(now, was, line2) == 0,
		    "pair %d: the receiver's lines written", k);
		memcpy(&w0, was + offsetof(struct pipe_pair, status), sizeof(w0));
		memcpy(&w1, now + offsetof(struct pipe_pair, status), sizeof(w1));
		memcpy(&off, was + offsetof(struct pipe_pair, area_off), sizeof(off));
		memcpy(&cap, was + offsetof(struct pipe_pair, area_cap), sizeof(cap));
		next = PAIR_NEXT_ROUND(PAIR_ROUND(w0));
		FZ_CHECK(w1 == w0 || w1 == PAIR_WORD(PAIR_ROUND(w0), PAIR_CLOSED) ||
		    (PAIR_STATE(w0) == PAIR_OPEN && (w1 == PAIR_WORD(next, PAIR_OPEN) ||
		    (len > cap && w1 == PAIR_WORD(next, PAIR_TOOSMALL)))),
		    "pair %d: status %#x -> %#x", k, w0, w1);
		if (memcmp(now + PAGE, was + PAGE, size - PAGE) != 0) {
			size_t first = 0, last = 0;

			for (size_t i = PAGE; i < size; i++)
				if (now[i] != was[i]) {
					if (first == 0)
						first = i;
					last = i;
				}
			FZ_CHECK(++written == 1, "two areas written");
			FZ_CHECK(PAIR_STATE(w0) == PAIR_OPEN && len <= cap &&
			    off <= size - PAGE && len <= size - PAGE - off &&
			    first >= PAGE + off && last < PAGE + off + len,
			    "pair %d: bytes %zu..%zu written, area %llu+%llu of %zu",
			    k, first, last, (unsigned long long)off,
			    (unsigned long long)cap, size);
		}
next:
		munmap((void *)pairs[k].map, size);
		free(pairs[k].before);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd rd = { data, size };
	uint8_t mode = rd_u8(&rd);
	bool pipe = mode & 1, gone = mode & 2;
	struct port_obj o = { .take_sock = -1, .path_fd = -1, .put_sock = -1 };
	struct coport_state *state = calloc(1, sizeof(*state));
	struct coport_bell *bell = aligned_alloc(128, sizeof(*bell));
	int sv[2];

	FZ_CHECK(state != NULL && bell != NULL, "malloc");
	memset(bell, 0, sizeof(*bell));
	if (gone)
		state->flags = STATE_HAD_SENDER | STATE_HAD_RECEIVER;
	pthread_mutex_init(&o.lock, NULL);
	pthread_mutex_init(&o.tx_lock, NULL);
	o.type = pipe ? COPIPE : COCARRIER;
	o.rights = pipe ? COPORT_PERM_SEND : COPORT_PERM_RECV;
	o.state = state;
	o.bell = bell;
	FZ_CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0,
	    "socketpair: %s", strerror(errno));
	o.take_sock = sv[0];
	npairs = 0;
	queue(sv[1], &rd, pipe);

	if (pipe) {
		size_t len = msglens[(mode >> 2) & 7];
		ssize_t r;

		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 7 + 1);
		r = pipe_send(&o, msg, len, true);
		FZ_LOG("pipe_send %zu: %zd (%s)", len, r,
		    r < 0 ? strerror(errno) : "ok");
		FZ_CHECK(r < 0 && (errno == EAGAIN || (errno == EPIPE && gone)),
		    "pipe_send: %zd, errno %d", r, errno);
		check_pairs(len);
		pipe_free(&o);
	} else {
		for (int round = 0; round < MAXDGRAMS + 1; round++) {
			void *buf = NULL;
			ssize_t r = carrier_recv(&o, &buf, true);
			volatile uint8_t sum = 0;

			FZ_LOG("carrier_recv: %zd (%s)", r,
			    r < 0 ? strerror(errno) : "ok");
			if (r < 0) {
				FZ_CHECK(errno == EAGAIN || (errno == EPIPE && gone),
				    "carrier_recv: errno %d", errno);
				break;
			}
			FZ_CHECK((size_t)r <= COCARRIER_MAXLEN && buf != NULL,
			    "carrier_recv: %zd", r);
			for (ssize_t i = 0; i < r; i++)
				sum += ((const uint8_t *)buf)[i];
			(void)sum;
		}
		for (int i = 0; i < o.nviews; i++)
			if (o.views[i].map != NULL)
				munmap(o.views[i].map, o.views[i].maplen);
		free(o.views);
	}
	close(sv[0]);
	close(sv[1]);
	pthread_mutex_destroy(&o.lock);
	pthread_mutex_destroy(&o.tx_lock);
	free(state);
	free(bell);
	fz_done();
	return 0;
}
