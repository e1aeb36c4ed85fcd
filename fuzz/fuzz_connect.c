/*
 * fuzz_connect: connect_one(), the service's reading of the first message
 * on a new connection to a gate (struct wire_connect and one memfd), reached
 * through the public API as any holder of a target reaches it: connect to
 * the gate through /proc/self/fd/N of its O_PATH descriptor, send, ring
 * the doorbell, and let coacceptv() (timeout 0) take the connection.
 *
 * Each input gets a fresh target, released at the end, so that the
 * service's state does not carry over.  After the hostile connection an
 * honest caller connects and calls: it must be accepted and served.  A
 * hostile connection the service accepted must work as a channel.
 *
 * Input:
 *   u8   flags: bit 0 send only after a first coacceptv() (the connection
 *        waits as pending), bit 1 shut down writing after sending, bit 2
 *        close the connection before the service looks, bit 3 call on the
 *        hostile channel if it was accepted, bit 4 do not ring, bit 5 send
 *        two messages, bit 6 first flood the gate with connections that
 *        say nothing (more than the service keeps pending)
 *   then messages as fz_send() reads them (fuzz.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#define HONEST_TID	424242
#define FLOOD		70	/* > PENDING_MAX (coaccept.c) */

static uint8_t in[COCALL_MAXLEN];

/* coacceptv(), timeout 0, replying with rep (NULL: nothing). */
static ssize_t
accept0(const char *rep, void **cookiep)
{
	struct comsg m = { .out = rep, .outlen = rep ? strlen(rep) : 0,
	    .in = in, .inlen = sizeof(in) };
	ssize_t n = coacceptv(cookiep, NULL, &m, 0, 0);

	if (n < 0)
		FZ_CHECK(errno == ETIMEDOUT, "coacceptv: errno %d", errno);
	return n;
}

/* The next call must be c's, with these bytes. */
static void
expect_call(struct fz_caller *c, const char *req, const char *rep)
{
	void *cookie;
	pid_t pid;
	ssize_t n;

	fz_caller_request(c, req, strlen(req), false, fz_bell());
	n = accept0(rep, &cookie);
	FZ_CHECK(n == (ssize_t)strlen(req) && memcmp(in, req, n) == 0,
	    "request \"%s\" not served (%zd)", req, n);
	FZ_CHECK(cocachedpid(&pid, cookie) == 0 && pid == getpid(),
	    "cookie of the call");
}

static void
expect_reply(struct fz_caller *c, const char *rep)
{
	struct chan_shm *s = c->shm;

	FZ_CHECK(LOAD_ACQ(&s->rep_seq) == c->seq && s->rep_flags == 0 &&
	    s->rep_len == strlen(rep) && memcmp(s->rep, rep, s->rep_len) == 0,
	    "reply to \"%s\" wrong", rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	uint8_t flags = rd_u8(&r);
	int gate, s, acked = -1, nmsg = flags & 0x20 ? 2 : 1;
	struct fz_caller honest, hostile = { -1, NULL, 0 };
	void *target = fz_target_new(&gate);
	int flood[FLOOD], nflood = 0, i;

	/* Silent connections: the service keeps a bounded number pending
	 * and drops the surplus. */
	if (flags & 0x40) {
		for (nflood = 0; nflood < FLOOD; nflood++) {
			flood[nflood] = fz_gate_connect(gate);
			FZ_CHECK(flood[nflood] >= 0, "flood: %s", strerror(errno));
		}
		fz_ring(fz_bell(), true);
		FZ_CHECK(accept0(NULL, NULL) < 0, "a call from nowhere");
	}

	s = fz_gate_connect(gate);
	FZ_CHECK(s >= 0, "connect to the gate: %s", strerror(errno));
	if (!(flags & 1)) {
		fz_send(s, &r, nmsg, 0);
	} else {
		/* Taken as pending first: the service sees it said nothing. */
		if (!(flags & 0x10))
			fz_ring(fz_bell(), true);
		FZ_CHECK(accept0(NULL, NULL) < 0, "a call from nowhere");
		fz_send(s, &r, nmsg, 0);
	}
	if (flags & 2)
		shutdown(s, SHUT_WR);
	if (flags & 4) {
		close(s);
		s = -1;
	}
	if (!(flags & 0x10))
		fz_ring(fz_bell(), true);
	FZ_CHECK(accept0(NULL, NULL) < 0, "a call from nowhere");

	/* An honest caller still gets through, and is served. */
	FZ_CHECK(fz_caller_connect(&honest, gate, HONEST_TID) == 0,
	    "honest connect: %s", strerror(errno));
	fz_ring(fz_bell(), true);
	FZ_CHECK(accept0(NULL, NULL) < 0, "a call from nowhere");
	FZ_CHECK(fz_caller_acked(&honest) == 0, "honest caller refused");
	expect_call(&honest, "honest request", NULL);

	/* What did the service say to the hostile connection? */
	if (s >= 0) {
		struct wire_accept a;
		ssize_t n = recv(s, &a, sizeof(a), MSG_DONTWAIT);

		if (n == sizeof(a)) {
			FZ_CHECK(a.magic == WIRE_ACCEPT &&
			    a.version == WIRE_VERSION, "malformed accept");
			acked = a.status;
		}
	}
	FZ_LOG("hostile connection: %s %d", acked < 0 ? "no answer" :
	    "answered", acked);

	/* Accepted, the hostile connection is a channel like any (unless it
	 * shut down its side: the service takes that as a hang-up): its
	 * memfd was the one descriptor of its first message, the first
	 * channel memfd made in this input. */
	if (acked == 0 && (flags & 8) && !(flags & 2)) {
		hostile.sock = s;
		hostile.shm = fz_chan_map(0);
		FZ_CHECK(hostile.shm != NULL, "accepted without a channel");
		expect_call(&hostile, "hostile request", "to honest");
		expect_reply(&honest, "to honest");
		FZ_CHECK(accept0("to hostile", NULL) < 0, "a call from nowhere");
		expect_reply(&hostile, "to hostile");
	} else {
		FZ_CHECK(accept0("to honest", NULL) < 0, "a call from nowhere");
		expect_reply(&honest, "to honest");
	}

	FZ_CHECK(capfree(target) == 0, "capfree: %s", strerror(errno));
	fz_caller_close(&honest);
	if (s >= 0)
		close(s);
	for (i = 0; i < nflood; i++)
		close(flood[i]);
	fz_done();
	return 0;
}
