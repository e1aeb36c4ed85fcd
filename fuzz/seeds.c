/*
 * Writes the seed corpora of the harnesses (make -C fuzz seeds): small
 * valid and nearly valid inputs in each harness's input format, built
 * from the real structures of wire.h, shm.h and capv.h, and of elf.h.
 *
 * usage: seeds DIR   (writes DIR/<harness>/<name>)
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "comsg/capv.h"
#include "comsg/cocall.h"
#include "coport_shm.h"
#include "shm.h"
#include "wire.h"

/* The kinds of descriptors, as fuzz.h numbers them. */
enum { GATE, BELL, CHAN, PIPE, NUL, MEMFD, SEALED, SOCK };
/* enum cap_kind, as internal.h numbers it. */
enum { K_TARGET = 1, K_FD = 2 };

static const char *dir;

struct buf {
	unsigned char	b[1 << 18];
	size_t		n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void
u16(struct buf *b, unsigned v)
{
	u8(b, v & 0xff);
	u8(b, v >> 8);
}

static void
u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

/* A message record of fz_send(): descriptors, length, bytes. */
static void
rec(struct buf *b, const char *fds, const void *p, size_t n)
{
	size_t i, k = strlen(fds);

	u8(b, (unsigned)k);
	for (i = 0; i < k; i++)
		u8(b, (unsigned)(fds[i] - '0'));
	u16(b, (unsigned)n);
	put(b, p, n);
}

static void
save(const char *harness, const char *name, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, harness, name);
	f = fopen(path, "w");
	if (f == NULL || fwrite(b->b, 1, b->n, f) != b->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static struct buf *
fresh(void)
{
	static struct buf b;

	b.n = 0;
	return &b;
}

static struct wire_call
call(uint32_t seq, uint32_t len, int ncaps, const uint8_t *kinds, int error)
{
	struct wire_call w;

	memset(&w, 0, sizeof(w));
	w.magic = WIRE_CALL;
	w.seq = seq;
	w.len = len;
	w.ncaps = (uint16_t)ncaps;
	w.error = (uint16_t)error;
	if (ncaps > 0)
		memcpy(w.kinds, kinds, ncaps);
	return w;
}

/* A wire_call and its body as one record. */
static void
callrec(struct buf *b, const char *fds, struct wire_call w, const char *body)
{
	unsigned char m[sizeof(w) + 256];
	size_t n = strlen(body);

	memcpy(m, &w, sizeof(w));
	memcpy(m + sizeof(w), body, n);
	rec(b, fds, m, sizeof(w) + n);
}

static void
seed_capv_env(void)
{
	/* n % 8: 0 gate, 1 doorbell, 2 pipe, 3 /dev/null, 4 memfd,
	 * 5 sealed memfd of the wrong size, 6 closed, 7 EPERM. */
	static const char *s[][2] = {
		{ "target", "8=t:8:9" },
		{ "fd", "10=f:11" },
		{ "both", "8=t:8:9,10=f:11" },
		{ "clocks-binds", "8=t:16:17,10=t:24:25,11=f:27" },
		{ "shared", "8=t:8:9,9=t:8:9" },
		{ "overlap", "8=t:16:17,9=f:16" },
		{ "repeat-slot", "8=f:11,8=f:12" },
		{ "bad-target", "8=t:9:8" },
		{ "closed", "8=t:14:9,9=f:14" },
		{ "eperm", "8=t:8:15" },
		/* found by fuzzing: EBADF then EPERM in one entry */
		{ "eperm-after-ebadf", "8=t:14:7" },
		{ "max-slot", "255=f:3" },
		{ "slot-range", "256=f:3" },
		{ "fd-max", "8=f:2147483647" },
		{ "fd-over", "8=f:2147483648" },
		{ "short", "8=t:8" },
		{ "trailing", "8=f:11," },
		{ "kind", "8=x:1" },
		{ "junk", "8=f:11;9=f:3" },
	};
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		struct buf *b = fresh();

		put(b, s[i][1], strlen(s[i][1]));
		save("capv_env", s[i][0], b);
	}
}

static void
seed_wire_call(void)
{
	static const uint8_t fd1[] = { K_FD }, tg1[] = { K_TARGET },
	    two[] = { K_TARGET, K_FD }, bad[] = { 7 };
	/* mode: rooms 65536 and 8; bit 0 the caller's side */
	struct buf *b;
	int side;

	for (side = 0; side < 2; side++) {
		const char *sfx = side ? "-caller" : "-service";
		char name[64];

#define SAVE(n) (snprintf(name, sizeof(name), "%s%s", n, sfx), \
		save("wire_call", name, b))
		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		callrec(b, "", call(1, 5, 0, NULL, 0), "hello");
		SAVE("bytes");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		callrec(b, "4", call(1, 2, 1, fd1, 0), "fd");
		SAVE("fd-cap");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		callrec(b, "014", call(1, 0, 2, two, 0), "");
		SAVE("target-and-fd");

		b = fresh();
		u8(b, 0x1c | side);		/* no room for capabilities */
		u32(b, 1);
		callrec(b, "01", call(1, 0, 1, tg1, 0), "");
		SAVE("no-room");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 7);
		callrec(b, "", call(6, 4, 0, NULL, 0), "late");
		callrec(b, "4", call(5, 0, 1, fd1, 0), "");
		callrec(b, "", call(7, 4, 0, NULL, 0), "mine");
		SAVE("stale");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		callrec(b, "", call(1, 0, 0, NULL, EPROTO), "");
		SAVE("error");

		b = fresh();
		u8(b, 0x0c | side);		/* 16 bytes of room */
		u32(b, 1);
		callrec(b, "44", call(1, 9, 1, fd1, 0), "truncated");
		SAVE("kinds-fds-mismatch");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		callrec(b, "", call(1, 9, 1, bad, 0), "bad kind");
		SAVE("bad-kind");

		b = fresh();
		u8(b, 0xfe | side);		/* SO_PASSCRED */
		u32(b, 1);
		callrec(b, "4444444444444444444", call(1, 0, 8,
		    (const uint8_t *)"\2\2\2\2\2\2\2\2", 0), "");
		SAVE("many-fds");

		b = fresh();
		u8(b, 0xfc | side);
		u32(b, 1);
		rec(b, "", "call", 4);
		SAVE("short");
#undef SAVE
	}
}

static void
seed_caprecv(void)
{
	struct wire_cap w = { WIRE_CAP, WIRE_VERSION, K_FD, 0 };
	struct wire_cap t = { WIRE_CAP, WIRE_VERSION, K_TARGET, 0 };
	struct buf *b;
	int type;

	for (type = 0; type < 3; type++) {
		const char *names[] = { "seqpacket", "stream", "dgram" };
		char name[64];

		b = fresh();
		u8(b, type);
		rec(b, "4", &w, sizeof(w));
		snprintf(name, sizeof(name), "fd-%s", names[type]);
		save("caprecv", name, b);

		b = fresh();
		u8(b, type);
		rec(b, "01", &t, sizeof(t));
		rec(b, "7", &w, sizeof(w));
		snprintf(name, sizeof(name), "target-then-fd-%s", names[type]);
		save("caprecv", name, b);
	}
	b = fresh();
	u8(b, 4);		/* SO_PASSCRED */
	rec(b, "3", &w, sizeof(w));
	save("caprecv", "passcred", b);

	b = fresh();
	u8(b, 0);
	rec(b, "10", &t, sizeof(t));
	save("caprecv", "target-fds-swapped", b);

	b = fresh();
	u8(b, 0);
	w.version = 2;
	rec(b, "4", &w, sizeof(w));
	w.version = WIRE_VERSION;
	w.kind = 300;
	rec(b, "4", &w, sizeof(w));
	w.kind = K_FD;
	rec(b, "", &w, sizeof(w));
	rec(b, "44", &w, sizeof(w));
	rec(b, "4", &w, sizeof(w) - 1);
	save("caprecv", "malformed", b);
}

static void
seed_connect(void)
{
	struct wire_connect w = { WIRE_CONNECT, WIRE_VERSION, 77,
	    sizeof(struct chan_shm) };
	struct buf *b;

	b = fresh();
	u8(b, 0x08);
	rec(b, "2", &w, sizeof(w));
	save("connect", "good-and-call", b);

	b = fresh();
	u8(b, 0x00);
	rec(b, "2", &w, sizeof(w));
	save("connect", "good", b);

	b = fresh();
	u8(b, 0x09);
	rec(b, "2", &w, sizeof(w));
	save("connect", "pending-then-good", b);

	b = fresh();
	u8(b, 0x18);
	rec(b, "2", &w, sizeof(w));
	save("connect", "no-ring", b);

	b = fresh();
	u8(b, 0x2a);
	rec(b, "2", &w, sizeof(w));
	rec(b, "2", &w, sizeof(w));
	save("connect", "two-then-shutdown", b);

	b = fresh();
	u8(b, 0x04);
	rec(b, "2", &w, sizeof(w));
	save("connect", "closed", b);

	b = fresh();
	u8(b, 0x01);
	save("connect", "silent", b);

	b = fresh();
	u8(b, 0x49);		/* flood first, then pending, then good */
	rec(b, "2", &w, sizeof(w));
	save("connect", "flood-then-good", b);

	b = fresh();
	u8(b, 0x08);
	rec(b, "1", &w, sizeof(w));
	save("connect", "doorbell-as-channel", b);

	b = fresh();
	u8(b, 0x08);
	rec(b, "5", &w, sizeof(w));
	save("connect", "unsealed", b);

	b = fresh();
	u8(b, 0x08);
	rec(b, "22", &w, sizeof(w));
	save("connect", "two-fds", b);

	b = fresh();
	u8(b, 0x08);
	w.chan_size = 4096;
	rec(b, "6", &w, sizeof(w));
	save("connect", "small-channel", b);

	b = fresh();
	u8(b, 0x08);
	w.chan_size = sizeof(struct chan_shm);
	w.tid = 0;
	rec(b, "2", &w, sizeof(w));
	save("connect", "tid-0", b);

	b = fresh();
	u8(b, 0x08);
	w.tid = 77;
	w.version = 2;
	rec(b, "2", &w, sizeof(w));
	save("connect", "version-2", b);
}

/* The caller's (or service's) line of struct chan_shm, 128 bytes. */
static void
line(struct buf *b, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
    uint32_t w4)
{
	unsigned char z[128];
	uint32_t w[5] = { w0, w1, w2, w3, w4 };

	memset(z, 0, sizeof(z));
	memcpy(z, w, sizeof(w));
	put(b, z, sizeof(z));
}

static void
seed_chan_state(void)
{
	static const uint8_t fd1[] = { K_FD };
	struct buf *b;

	/* The service's side: flags, room, caller's line, req[]. */
	b = fresh();
	u8(b, 0x00);
	u8(b, 0);
	line(b, CHAN_MAGIC, SHM_VERSION, 1, 5, 0);
	u16(b, 5);
	put(b, "hello", 5);
	save("chan_state", "svc-fast", b);

	b = fresh();
	u8(b, 0x14);		/* honest caller on the socket; ring */
	u8(b, 0);
	line(b, CHAN_MAGIC, SHM_VERSION, 1, 5, CHAN_VIA_SOCKET);
	u16(b, 0);
	callrec(b, "", call(1, 5, 0, NULL, 0), "hello");
	save("chan_state", "svc-socket", b);

	b = fresh();
	u8(b, 0x88);		/* accept slowly, reply with a capability */
	u8(b, 1);
	line(b, CHAN_MAGIC, SHM_VERSION, 1, 2, CHAN_VIA_SOCKET);
	u16(b, 0);
	callrec(b, "4", call(1, 2, 1, fd1, 0), "fd");
	save("chan_state", "svc-socket-cap", b);

	b = fresh();
	u8(b, 0x00);
	u8(b, 0);
	line(b, CHAN_MAGIC, SHM_VERSION, 9, COCALL_MAXLEN + 1, 0);
	u16(b, 0);
	save("chan_state", "svc-too-long", b);

	b = fresh();
	u8(b, 0x00);
	u8(b, 0);
	line(b, CHAN_MAGIC, SHM_VERSION, 1, 5, CHAN_VIA_SOCKET);
	u16(b, 0);
	save("chan_state", "svc-socket-missing", b);

	b = fresh();
	u8(b, 0x22);		/* service's line too; 16 bytes of room */
	u8(b, 0);
	line(b, 0, 0, 3, 40, 0xffffffff);
	line(b, 3, 0, 0, 1, 0);
	u16(b, 40);
	put(b, "forty bytes of request for sixteen bytes", 40);
	save("chan_state", "svc-scribble", b);

	b = fresh();
	u8(b, 0x00);
	u8(b, 0);
	line(b, CHAN_MAGIC, SHM_VERSION, 0, 5, 0);
	u16(b, 0);
	save("chan_state", "svc-idle", b);

	/* The caller's side: flags, service's line (rep_seq relative),
	 * rep[], the service's messages (seq relative). */
	b = fresh();
	u8(b, 0x01);
	line(b, 0, 4, 0, 0, 0);
	u16(b, 4);
	put(b, "pong", 4);
	save("chan_state", "call-fast", b);

	b = fresh();
	u8(b, 0x01);
	line(b, 0, 0, CHAN_VIA_SOCKET, 0, 0);
	u16(b, 0);
	callrec(b, "", call(0, 4, 0, NULL, 0), "pong");
	save("chan_state", "call-socket", b);

	b = fresh();
	u8(b, 0x0b);		/* slowly; room for one capability */
	line(b, 0, 0, CHAN_VIA_SOCKET, 0, 0);
	u16(b, 0);
	callrec(b, "4", call(0, 2, 1, fd1, 0), "fd");
	save("chan_state", "call-slow-cap", b);

	b = fresh();
	u8(b, 0x05);		/* with a capability */
	line(b, 0, EPROTO, CHAN_ERROR, 0, 0);
	u16(b, 0);
	save("chan_state", "call-error", b);

	b = fresh();
	u8(b, 0x41);		/* 16 bytes of room */
	line(b, 0, COCALL_MAXLEN + 1, 0, 0, 0);
	u16(b, 0);
	save("chan_state", "call-too-long", b);

	b = fresh();
	u8(b, 0x01);
	line(b, 1, 4, 0, 1, 0);
	u16(b, 4);
	put(b, "late", 4);
	save("chan_state", "call-wrong-seq", b);

	b = fresh();
	u8(b, 0x03);
	line(b, 0, 0, 0, 0, 0);
	u16(b, 0);
	callrec(b, "", call((uint32_t)-1, 4, 0, NULL, 0), "late");
	callrec(b, "", call(0, 0, 0, NULL, EMFILE), "");
	save("chan_state", "call-slow-stale-error", b);
}

static void
seed_capv_msgs(void)
{
	capv_clocks_t c = { sizeof(c), CAPV_CLOCKS_GETTIME, CLOCK_MONOTONIC };
	capv_t ab = { sizeof(ab), CAPV_ANSWERBACK };
	struct buf *b;
	int svc;

	for (svc = 0; svc < 2; svc++) {
		const char *nm = svc ? "binds" : "clocks";
		char name[64];

		b = fresh();
		u8(b, svc);
		put(b, &ab, sizeof(ab));
		snprintf(name, sizeof(name), "%s-answerback", nm);
		save("capv_msgs", name, b);

		b = fresh();
		u8(b, svc | 0x10);
		put(b, "op?", 3);
		snprintf(name, sizeof(name), "%s-short", nm);
		save("capv_msgs", name, b);

		b = fresh();
		u8(b, svc);
		ab.op = 7;
		put(b, &ab, sizeof(ab));
		ab.op = CAPV_ANSWERBACK;
		snprintf(name, sizeof(name), "%s-unknown-op", nm);
		save("capv_msgs", name, b);

		/* found by fuzzing: the reply's op, -op, overflowed */
		b = fresh();
		u8(b, svc);
		ab.op = INT_MIN;
		put(b, &ab, sizeof(ab));
		ab.op = CAPV_ANSWERBACK;
		snprintf(name, sizeof(name), "%s-op-int-min", nm);
		save("capv_msgs", name, b);
	}

	b = fresh();
	u8(b, 0);
	put(b, &c, sizeof(c));
	save("capv_msgs", "clocks-monotonic", b);

	b = fresh();
	u8(b, 0x10);
	c.clock_id = CLOCK_REALTIME;
	put(b, &c, sizeof(c));
	save("capv_msgs", "clocks-realtime-slow", b);

	b = fresh();
	u8(b, 0);
	c.clock_id = 12345;
	put(b, &c, sizeof(c));
	save("capv_msgs", "clocks-bad-id", b);

	b = fresh();
	u8(b, 0);
	c.len = 8;
	put(b, &c, sizeof(c));
	save("capv_msgs", "clocks-bad-len", b);

	{
		capv_binds_t r;
		struct sockaddr_in *sin = (struct sockaddr_in *)&r.addr;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r.addr;

		memset(&r, 0, sizeof(r));
		r.len = sizeof(r);
		r.op = CAPV_BINDS_BIND;
		r.addrlen = sizeof(*sin);
		sin->sin_family = AF_INET;
		b = fresh();
		u8(b, 1 | 1 << 1);	/* a UDP socket */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-inet", b);

		b = fresh();
		u8(b, 1 | 5 << 1);	/* two of them */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-two-caps", b);

		b = fresh();
		u8(b, 1 | 4 << 1);	/* a pipe */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-pipe", b);

		b = fresh();
		u8(b, 1);		/* nothing */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-no-cap", b);

		memset(&r.addr, 0, sizeof(r.addr));
		r.addrlen = sizeof(*sin6);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(8080);
		b = fresh();
		u8(b, 1 | 2 << 1 | 0x10);	/* TCP/IPv6, slowly */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-inet6", b);

		r.addrlen = 2;
		r.addr.ss_family = AF_UNIX;
		b = fresh();
		u8(b, 1 | 3 << 1);	/* a UNIX socket */
		put(b, &r, sizeof(r));
		save("capv_msgs", "binds-unix", b);
	}
}

/* ---- fuzz_comsgd: records of a ctl byte, capabilities, a corq ---- */

enum { RQ_FIX = 4, RQ_HANDLE = 8, RQ_SHORT = 16 };
enum { C_NONE, C_MEMFD, C_SAVED, C_SOCK, C_PIPE, C_NULL, C_SEALED, C_GATE };
#define RQ_CAPS(n)	((n) << 5)
#define RQ_PARENT	2
#define RQ_REAPER	3

static void
corq(struct buf *b, uint32_t magic, uint32_t op, uint32_t type,
    uint32_t rights, uint32_t ring_size, uint32_t first, const char *name)
{
	struct corq q;

	memset(&q, 0, sizeof(q));
	q.magic = magic;
	q.op = op;
	q.type = type;
	q.rights = rights;
	q.ring_size = ring_size;
	q.first = first;
	snprintf(q.name, sizeof(q.name), "%s", name);
	put(b, &q, sizeof(q));
}

/* A request with the magic fixed up, no capability; handle from an
 * earlier reply (hidx >= 0) or none. */
static void
rq(struct buf *b, int ctl, int hidx, uint32_t op, uint32_t type,
    uint32_t rights, uint32_t ring_size, const char *name)
{
	u8(b, (unsigned)(ctl | RQ_FIX | (hidx >= 0 ? RQ_HANDLE : 0)));
	if (hidx >= 0)
		u8(b, (unsigned)hidx);
	corq(b, CORQ_MAGIC, op, type, rights, ring_size, 0, name);
}

/* A sender's ring (prod memfd, then cons memfd) of 256 bytes holding
 * two records, as capabilities of fuzz_comsgd. */
static void
ring_caps(struct buf *b, uint32_t prod_seals)
{
	unsigned char data[32];
	uint32_t r1[2] = { 5, ~5u }, r2[2] = { 3, ~3u };

	memset(data, 'x', sizeof(data));
	memcpy(data, r1, 8);
	memcpy(data + 16, r2, 8);
	u8(b, C_MEMFD);
	u8(b, 3 | 8 | 16);		/* 4096 + 256, header, content */
	u8(b, prod_seals);
	u32(b, 32);			/* prod */
	u16(b, sizeof(data));
	put(b, data, sizeof(data));
	u8(b, C_MEMFD);
	u8(b, 2 | 16);			/* 4096, content */
	u8(b, 0x7);			/* SEAL, SHRINK, GROW */
	u32(b, 0);			/* cons */
	u16(b, 0);
}

static void
seed_comsgd(void)
{
	static const uint32_t types[] = { COPIPE, COCARRIER, COCHANNEL };
	static const char *tnames[] = { "pipe", "carrier", "channel" };
	struct buf *b;

	b = fresh();
	rq(b, 0, -1, CORQ_HELLO, 0, 0, 0, "");
	save("comsgd", "hello", b);

	/* open, token, attach with the token, list, close: each kind */
	for (int t = 0; t < 3; t++) {
		char name[64];

		b = fresh();
		rq(b, 0, -1, CORQ_OPEN, types[t], 0, 4096, tnames[t]);
		rq(b, 0, 0, CORQ_TOKEN, 0, COPORT_PERM_RECV, 0, "");
		/* the token is the last capability saved */
		u8(b, RQ_FIX | RQ_CAPS(1));
		u8(b, C_SAVED);
		u8(b, t == COCHANNEL - 1 ? 2 : 4);
		corq(b, CORQ_MAGIC, CORQ_ATTACH, 0, 0, 0, 0, "");
		rq(b, 0, -1, CORQ_LIST, 0, 0, 0, "");
		rq(b, 0, 0, CORQ_CLOSE, 0, 0, 0, "");
		rq(b, 0, 1, CORQ_CLOSE, 0, 0, 0, "");
		snprintf(name, sizeof(name), "open-%s", tnames[t]);
		save("comsgd", name, b);
	}

	/* a sender's ring: add it, fetch it, count it, then the sender dies */
	b = fresh();
	rq(b, 0, -1, CORQ_OPEN, COCHANNEL, 0, 256, "ch");
	u8(b, RQ_FIX | RQ_HANDLE | RQ_CAPS(2));
	u8(b, 0);
	ring_caps(b, 0x17);		/* FUTURE_WRITE, SHRINK, GROW, SEAL */
	corq(b, CORQ_MAGIC, CORQ_ADDRING, 0, 0, 0, 0, "");
	rq(b, 0, 0, CORQ_RINGS, 0, 0, 0, "");
	rq(b, 0, -1, CORQ_LIST, 0, 0, 0, "");
	u8(b, RQ_REAPER);
	rq(b, 0, -1, CORQ_LIST, 0, 0, 0, "");
	save("comsgd", "addring", b);

	/* the same ring, not sealed against writes: refused */
	b = fresh();
	rq(b, 0, -1, CORQ_OPEN, COCHANNEL, 0, 256, "ch");
	u8(b, RQ_FIX | RQ_HANDLE | RQ_CAPS(2));
	u8(b, 0);
	ring_caps(b, 0x7);
	corq(b, CORQ_MAGIC, CORQ_ADDRING, 0, 0, 0, 0, "");
	save("comsgd", "addring-unsealed", b);

	b = fresh();
	rq(b, 0, -1, CORQ_MUTEX, 0, 0, 0, "lock");
	rq(b, 0, -1, CORQ_OPEN, 0, 0, 0, "lock");
	rq(b, 0, -1, CORQ_OPEN, COPIPE, 0, 0, "lock");
	rq(b, 0, 0, CORQ_CLOSE, 0, 0, 0, "");
	save("comsgd", "mutex", b);

	/* the parent's hold is not ours; then the parent dies */
	b = fresh();
	rq(b, RQ_PARENT, -1, CORQ_OPEN, COCARRIER, 0, 0, "theirs");
	rq(b, 0, 0, CORQ_CLOSE, 0, 0, 0, "");
	rq(b, 0, 0, CORQ_TOKEN, 0, COPORT_PERM_ALL, 0, "");
	rq(b, 0, -1, CORQ_OPEN, COCARRIER, 0, 0, "theirs");
	u8(b, RQ_REAPER | 4);
	rq(b, 0, -1, CORQ_LIST, 0, 0, 0, "");
	save("comsgd", "not-yours", b);

	/* near misses */
	b = fresh();
	u8(b, 0);
	corq(b, CORQ_MAGIC + 1, CORQ_OPEN, COPIPE, 0, 0, 0, "x");
	u8(b, RQ_FIX | RQ_SHORT);
	u8(b, 95);
	corq(b, CORQ_MAGIC, CORQ_OPEN, COPIPE, 0, 0, 0, "x");
	rq(b, 0, -1, CORQ_OPEN, COPIPE, 0, 0, "..");
	rq(b, 0, -1, CORQ_OPEN, COCHANNEL, 0, 300, "odd-size");
	rq(b, 0, -1, CORQ_OPEN, 4, 0, 0, "bad-type");
	rq(b, 0, -1, 99, 0, 0, 0, "");
	save("comsgd", "bad-requests", b);

	/* attach with what is not a token */
	b = fresh();
	rq(b, 0, -1, CORQ_OPEN, COPIPE, 0, 0, "p");
	u8(b, RQ_FIX | RQ_CAPS(1));
	u8(b, C_SAVED);
	u8(b, 0);			/* the state page */
	corq(b, CORQ_MAGIC, CORQ_ATTACH, 0, 0, 0, 0, "");
	u8(b, RQ_FIX | RQ_CAPS(2));
	u8(b, C_SOCK);
	u8(b, C_PIPE);
	corq(b, CORQ_MAGIC, CORQ_ATTACH, 0, 0, 0, 0, "");
	u8(b, RQ_FIX | RQ_CAPS(1));
	u8(b, C_MEMFD);
	u8(b, 0);
	u8(b, 0);
	corq(b, CORQ_MAGIC, CORQ_ATTACH, 0, 0, 0, 0, "");
	save("comsgd", "attach-not-token", b);
}

/* ---- fuzz_coport_shm: rings, then operations ---- */

static void
shm_ring(struct buf *b, uint64_t cons, uint32_t delta, const void *p, size_t n)
{
	u32(b, (uint32_t)cons);
	u32(b, (uint32_t)(cons >> 32));
	u32(b, delta);
	u16(b, (unsigned)n);
	put(b, p, n);
}

/* n records of lengths lens[] as a sender writes them, into out. */
static size_t
records(unsigned char *out, const uint32_t *lens, int n)
{
	size_t at = 0;

	for (int i = 0; i < n; i++) {
		uint32_t h[2] = { lens[i], ~lens[i] };

		memcpy(out + at, h, 8);
		memset(out + at + 8, 'a' + i, lens[i]);
		at += 8 + ((lens[i] + 7) & ~7u);
	}
	return at;
}

static void
seed_coport_shm(void)
{
	static const uint32_t lens[] = { 5, 0, 64, 200 };
	unsigned char data[512];
	struct buf *b;
	size_t n = records(data, lens, 4);

	b = fresh();
	u8(b, 0 | 0 << 2);		/* one ring of 256 */
	shm_ring(b, 0, (uint32_t)n - 216, data, n - 216);
	for (int i = 0; i < 4; i++)
		u8(b, 0 | 6 << 2);	/* receive into 4096 */
	save("coport_shm", "one-ring", b);

	/* records that wrap, near the end of the 64-bit positions */
	b = fresh();
	u8(b, 0 | 1 << 2);		/* one ring of 512 */
	shm_ring(b, UINT64_MAX - 31, (uint32_t)n, data, n);
	u8(b, 0 | 1 << 2);		/* into 1: EMSGSIZE */
	u8(b, 3);			/* exactly the length */
	u8(b, 3);
	u8(b, 3);
	u8(b, 3);
	save("coport_shm", "wrap", b);

	/* two rings; the sender publishes more; a scribbled header */
	b = fresh();
	u8(b, 1 | 0 << 2);
	shm_ring(b, 8, 16, data, 16);
	data[0] ^= 1;
	shm_ring(b, 0, 16, data, 16);
	data[0] ^= 1;
	u8(b, 0 | 6 << 2);
	u8(b, 0 | 6 << 2);
	u8(b, 1 | 0 << 2);		/* ring 0 publishes a record */
	u32(b, 80);
	u16(b, 80);
	put(b, data + 16, 80);
	u8(b, 0 | 6 << 2);
	u8(b, 2 | 1 << 2);		/* ring 1: cons moved by another */
	u32(b, 8);
	u8(b, 0 | 6 << 2);
	save("coport_shm", "two-rings", b);

	/* prod behind cons, prod past a ring ahead, cons misaligned */
	b = fresh();
	u8(b, 2 | 0 << 2);
	shm_ring(b, 64, 0x80000008u, data, 0);
	shm_ring(b, 0, 1024, data, n);
	shm_ring(b, 4, 16, data, 16);
	u8(b, 0 | 7 << 2);
	u8(b, 0 | 7 << 2);
	save("coport_shm", "inconsistent", b);
}

/* ---- fuzz_coport_dgram: a mode, then datagrams ---- */

static void
dgram(struct buf *b, int nfds, uint32_t magic, uint64_t len)
{
	struct port_dgram d = { magic, COPORT_SHM_VERSION, len };

	u8(b, (unsigned)nfds);
	put(b, &d, sizeof(d));
}

/* A memfd of fuzz_coport_dgram: size index, seals, bytes at 0. */
static void
dg_memfd(struct buf *b, unsigned size, unsigned seals, const void *p, size_t n)
{
	u8(b, 0);
	u8(b, size);
	u8(b, seals);
	u16(b, (unsigned)n);
	put(b, p, n);
}

/* The part of a pair's page that holds words (the rest is padding). */
#define PAIR_PAGE_USED	(offsetof(struct pipe_pair, status) + 4)

static void
seed_coport_dgram(void)
{
	static struct pipe_pair pp;
	struct buf *b;

	/* COCARRIER: a message of 100 bytes, sealed; an empty one; then
	 * an unsealed one, two descriptors, a pipe, a short datagram */
	b = fresh();
	u8(b, 0);
	dgram(b, 1, CARRIER_MAGIC, 100);
	dg_memfd(b, 2, 0xf, "hello", 5);
	dgram(b, 1, CARRIER_MAGIC, 0);
	dg_memfd(b, 0, 0xf, "", 0);
	dgram(b, 1, CARRIER_MAGIC, 100);
	dg_memfd(b, 2, 0x0, "x", 1);
	dgram(b, 2, CARRIER_MAGIC, 1);
	dg_memfd(b, 1, 0xf, "x", 1);
	dg_memfd(b, 1, 0xf, "y", 1);
	dgram(b, 1, CARRIER_MAGIC, 1);
	u8(b, 4);
	u8(b, 8 | 1);
	u8(b, 8);
	put(b, "carr\1\0\0\0\0\0\0\0\0\0\0\0", 16);
	dg_memfd(b, 1, 0xf, "z", 1);
	save("coport_dgram", "carrier", b);

	/* COCARRIER: a length past the memfd; the senders are gone */
	b = fresh();
	u8(b, 2);
	dgram(b, 1, CARRIER_MAGIC, 4096);
	dg_memfd(b, 2, 0xf, "short", 5);
	save("coport_dgram", "carrier-past-end", b);

	/* COPIPE: a pair open with an area of 100 bytes, sealed against
	 * shrinking (size index 4: a page and 100 bytes) */
	memset(&pp, 0, sizeof(pp));
	pp.magic = PAIR_MAGIC;
	pp.version = COPORT_SHM_VERSION;
	pp.rx_pid = 1;
	pp.area_cap = 100;
	pp.status = PAIR_WORD(1, PAIR_OPEN);
	b = fresh();
	u8(b, 1 | 2 << 2);		/* send 100 bytes */
	dgram(b, 1, TICKET_MAGIC, 100);
	dg_memfd(b, 4, 0x3, &pp, PAIR_PAGE_USED);
	save("coport_dgram", "pipe", b);

	/* COPIPE: a closed pair, one too small, one whose area lies past
	 * its memfd, one that claims a huge area, then a good one */
	b = fresh();
	u8(b, 1 | 2 << 2);
	pp.status = PAIR_WORD(1, PAIR_CLOSED);
	dgram(b, 1, TICKET_MAGIC, 100);
	dg_memfd(b, 4, 0x3, &pp, PAIR_PAGE_USED);
	pp.status = PAIR_WORD(1, PAIR_OPEN);
	pp.area_cap = 10;
	dgram(b, 1, TICKET_MAGIC, 10);
	dg_memfd(b, 4, 0x3, &pp, PAIR_PAGE_USED);
	pp.area_cap = 100;
	pp.area_off = 1u << 20;
	dgram(b, 1, TICKET_MAGIC, 100);
	dg_memfd(b, 4, 0x3, &pp, PAIR_PAGE_USED);
	pp.area_off = 0;
	pp.area_cap = 1u << 30;
	dgram(b, 1, TICKET_MAGIC, 100);
	dg_memfd(b, 3, 0x3, &pp, PAIR_PAGE_USED);
	pp.area_cap = 100;
	dgram(b, 1, TICKET_MAGIC, 100);
	dg_memfd(b, 4, 0x3, &pp, PAIR_PAGE_USED);
	save("coport_dgram", "pipe-tickets", b);

	/* COPIPE: a pair not sealed against shrinking, and no ticket */
	b = fresh();
	u8(b, 1 | 3 << 2);
	dgram(b, 1, TICKET_MAGIC, 4095);
	dg_memfd(b, 6, 0x0, &pp, PAIR_PAGE_USED);
	save("coport_dgram", "pipe-unsealed", b);
}

/*
 * A small ELF shared object as elf_check() reads one: the header, .dynstr,
 * .dynsym, and section headers (null, .dynsym, .dynstr).  Two entries
 * (hello, add), a symbol that is not one, an entry that is undefined.
 */
#define ELF_STR	"\0__compart_entry_hello\0__compart_entry_add\0helper\0" \
		"__compart_entry_undef\0"
struct elf_seed {
	Elf64_Ehdr	eh;
	char		str[(sizeof(ELF_STR) + 7) & ~7];
	Elf64_Sym	sym[5];
	Elf64_Shdr	sh[4];	/* the 4th: another .dynsym ("two-dynsym") */
};

static void
elf_seed(struct elf_seed *e)
{
	static const unsigned names[] = { 0, 1, 23, 43, 50 };
	int i;

	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_ident[EI_VERSION] = EV_CURRENT;
	e->eh.e_type = ET_DYN;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_version = EV_CURRENT;
	e->eh.e_ehsize = sizeof(Elf64_Ehdr);
	e->eh.e_shoff = offsetof(struct elf_seed, sh);
	e->eh.e_shentsize = sizeof(Elf64_Shdr);
	e->eh.e_shnum = 3;
	memcpy(e->str, ELF_STR, sizeof(ELF_STR));
	for (i = 1; i < 5; i++) {
		e->sym[i].st_name = names[i];
		e->sym[i].st_info = ELF64_ST_INFO(STB_GLOBAL,
		    i == 3 ? STT_FUNC : STT_OBJECT);
		e->sym[i].st_shndx = i == 4 ? SHN_UNDEF : 1;
	}
	e->sh[1].sh_type = SHT_DYNSYM;
	e->sh[1].sh_offset = offsetof(struct elf_seed, sym);
	e->sh[1].sh_size = sizeof(e->sym);
	e->sh[1].sh_link = 2;
	e->sh[1].sh_entsize = sizeof(Elf64_Sym);
	e->sh[2].sh_type = SHT_STRTAB;
	e->sh[2].sh_offset = offsetof(struct elf_seed, str);
	e->sh[2].sh_size = sizeof(ELF_STR);
	e->sh[3] = e->sh[1];
}

static void
elf_save(const char *name, const struct elf_seed *e, size_t n)
{
	struct buf *b = fresh();

	put(b, e, n);
	save("elf", name, b);
}

/* Besides these, corpus/elf holds two real test compartments (make
 * seeds builds them). */
static void
seed_elf(void)
{
	const size_t full = offsetof(struct elf_seed, sh[3]);
	struct elf_seed e;

	elf_seed(&e);
	elf_save("min", &e, full);
	elf_save("short", &e, sizeof(Elf64_Ehdr) - 1);
	elf_save("header-only", &e, sizeof(Elf64_Ehdr));
	elf_save("truncated", &e, full - sizeof(Elf64_Shdr) / 2);
	e.eh.e_shoff = 0;
	e.eh.e_shnum = 0;
	elf_save("no-sections", &e, full);

	elf_seed(&e);
	e.eh.e_shnum = 4;
	elf_save("two-dynsym", &e, sizeof(e));
	e.sh[3].sh_link = 1;		/* .dynsym as its strings */
	elf_save("dynsym-as-dynstr", &e, sizeof(e));

	elf_seed(&e);
	e.eh.e_ident[EI_CLASS] = ELFCLASS32;
	elf_save("class32", &e, full);
	elf_seed(&e);
	e.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	elf_save("big-endian", &e, full);
	elf_seed(&e);
	e.eh.e_machine = EM_AARCH64;
	elf_save("aarch64", &e, full);
	elf_seed(&e);
	e.eh.e_type = ET_EXEC;
	elf_save("executable", &e, full);
	elf_seed(&e);
	e.eh.e_ident[EI_MAG3] = 'f';
	elf_save("not-elf", &e, full);

	elf_seed(&e);
	e.eh.e_shentsize = sizeof(Elf64_Shdr) - 8;
	elf_save("shentsize", &e, full);
	elf_seed(&e);
	e.eh.e_shnum = 4;		/* one more than the file holds */
	elf_save("shnum-past-end", &e, full);
	elf_seed(&e);
	e.eh.e_shoff = full + 64;
	elf_save("shoff-past-end", &e, full);

	elf_seed(&e);
	e.sh[1].sh_size = full - e.sh[1].sh_offset + 1;
	elf_save("dynsym-past-end", &e, full);
	elf_seed(&e);
	e.sh[1].sh_offset = UINT64_MAX - 7;
	elf_save("dynsym-offset-wraps", &e, full);
	elf_seed(&e);
	e.sh[1].sh_link = 3;
	elf_save("dynstr-link-out", &e, full);
	elf_seed(&e);
	e.sh[2].sh_size = full;
	elf_save("dynstr-past-end", &e, full);
	elf_seed(&e);
	e.sh[2].sh_size = 30;		/* in the name of add: no NUL */
	elf_save("name-unterminated", &e, full);
	elf_seed(&e);
	e.sym[2].st_name = (Elf64_Word)sizeof(ELF_STR);
	e.sym[3].st_name = UINT32_MAX;
	elf_save("name-past-dynstr", &e, full);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);
	seed_capv_env();
	seed_wire_call();
	seed_caprecv();
	seed_connect();
	seed_chan_state();
	seed_capv_msgs();
	seed_comsgd();
	seed_coport_shm();
	seed_coport_dgram();
	seed_elf();
	return 0;
}
