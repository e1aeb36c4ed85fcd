/*
 * fuzz_coport_dgram: the datagrams of COCARRIER and COPIPE ports
 * (struct port_dgram and its descriptor), as the real code takes them
 * from the port's socket: carrier_recv() and carrier_take() (cocarrier.c:
 * a message, a sealed memfd, from any sender), pipe_send() and
 * pipe_deliver() (copipe.c: a ticket, a receive area, from any receiver,
 * whose header the receiver goes on writing).  The port is a struct
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
 *          u16 n and n bytes from offset 0 (for an area: its header).
 *
 * Checked besides crashes, leaks and descriptors: COCARRIER returns
 * lengths within COCARRIER_MAXLEN, views that can be read whole (a view
 * past its memfd faults), errors only EAGAIN or EPIPE (EPIPE only with
 * the senders gone).  COPIPE delivers into at most one area, the one
 * whose status it moved from AREA_WAITING to AREA_FILLED, with msglen
 * and the bytes of the message, and only if its capacity (bounded by
 * the memfd's size) holds it; it returns the length exactly then, else
 * EAGAIN or EPIPE; an area too small for the message is AREA_TOOSMALL.
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
#define MAXAREAS	(MAXDGRAMS * 3)

static const size_t memfd_sizes[] = { 0, 1, 100, PAGE, PAGE + 100, 2 * PAGE,
    PAGE + 65536, PAGE + 70000 };
static const size_t msglens[] = { 0, 1, 100, 4095, 4096, 4097, 65536, 70000 };
static uint8_t msg[70000];

/* Areas the input sent, as the receiver that made them keeps them. */
static struct {
	struct pipe_area *a;
	size_t		 size;
	uint32_t	 status;	/* before the send */
	uint64_t	 capacity;
} areas[MAXAREAS];
static int nareas;

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
	if (pipe && size >= PAGE && nareas < MAXAREAS) {
		void *a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

		FZ_CHECK(a != MAP_FAILED, "mmap area: %s", strerror(errno));
		areas[nareas].a = a;
		areas[nareas].size = size;
		areas[nareas].status = areas[nareas].a->status;
		areas[nareas].capacity = areas[nareas].a->capacity;
		nareas++;
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
		if (how & 4)
			d.magic = pipe ? TICKET_MAGIC : CARRIER_MAGIC;
		(void)fd_sendmsg(sock, &d, len, NULL, 0, nfds ? fds : NULL, nfds,
		    MSG_DONTWAIT);
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
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
	nareas = 0;
	queue(sv[1], &rd, pipe);

	if (pipe) {
		size_t len = msglens[(mode >> 2) & 7];
		ssize_t r;
		int filled = -1;

		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 7 + 1);
		r = pipe_send(&o, msg, len, true);
		FZ_LOG("pipe_send %zu: %zd (%s)", len, r,
		    r < 0 ? strerror(errno) : "ok");
		FZ_CHECK(r < 0 ? errno == EAGAIN || errno == EPIPE :
		    (size_t)r == len, "pipe_send: %zd, errno %d", r, errno);
		FZ_CHECK(r >= 0 || errno != EPIPE || gone, "EPIPE, receivers here");
		for (int k = 0; k < nareas; k++) {
			struct pipe_area *a = areas[k].a;
			uint64_t cap = areas[k].capacity;

			if (cap > areas[k].size - PAGE)
				cap = areas[k].size - PAGE;
			if (areas[k].status == AREA_WAITING && a->status == AREA_FILLED) {
				FZ_CHECK(filled < 0, "two areas filled");
				filled = k;
				FZ_CHECK(a->msglen == len && len <= cap,
				    "area %d: msglen %llu for %zu, capacity %llu",
				    k, (unsigned long long)a->msglen, len,
				    (unsigned long long)cap);
				FZ_CHECK(memcmp((uint8_t *)a + PAGE, msg, len) == 0,
				    "area %d: other bytes", k);
			}
			if (areas[k].status == AREA_WAITING && a->status == AREA_TOOSMALL)
				FZ_CHECK(len > cap, "area %d: too small (%llu) for %zu",
				    k, (unsigned long long)cap, len);
			munmap(a, areas[k].size);
		}
		FZ_CHECK((r >= 0) == (filled >= 0), "returned %zd, area %d filled",
		    r, filled);
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
