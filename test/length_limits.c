/* Every length a caller gives, at 0, the limit, one past it and the top of its type: the documented outcome, nothing sent, the port or service usable after. */
#include "harness.h"
#include "comsg/coport.h"

#include <limits.h>
#include <sys/mman.h>

/* Past every limit: the arithmetic on them is where wraps hide. */
static const size_t too_long[] = {
	(size_t)SSIZE_MAX, (size_t)SSIZE_MAX + 1, SIZE_MAX - 14, SIZE_MAX - 8,
	SIZE_MAX - 7, SIZE_MAX - 1, SIZE_MAX,
};
#define NTOO	(sizeof(too_long) / sizeof(too_long[0]))

/* Room given for what comes back: at the limit, past it, at the top. */
static const size_t rooms[] = {
	COCALL_MAXLEN, COCALL_MAXLEN + 1, (size_t)SSIZE_MAX,
	(size_t)SSIZE_MAX + 1, SIZE_MAX - 14, SIZE_MAX - 1, SIZE_MAX,
};
#define NROOMS	(sizeof(rooms) / sizeof(rooms[0]))

static uint8_t
req_byte(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

static uint8_t
rep_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

/* A request's first 4 bytes say how long a reply it wants; ASK_COUNT
 * asks for the number of calls taken so far (8 bytes). */
#define ASK_COUNT	UINT32_MAX

/* ---- cocall ---- */

/*
 * The service: before each reply it tries replies that are too long
 * (refused, and the call still waits for its reply); it takes each
 * request with another room, up to SIZE_MAX, fast and slow in turn, and
 * checks the bytes.
 */
static int
serve(void *target)
{
	static uint8_t in[COCALL_MAXLEN], out[COCALL_MAXLEN];
	size_t outlen = 0;
	uint64_t calls = 0;

	(void)target;
	for (unsigned k = 0;; k++) {
		struct comsg m = { .out = out, .outlen = outlen, .in = in,
		    .inlen = rooms[k % NROOMS] };
		uint32_t want = 0;
		ssize_t n;

		for (size_t i = 0; i < NTOO; i++)
			CHECK_ERR(coaccept(NULL, out, too_long[i], in, sizeof(in)),
			    EMSGSIZE);
		CHECK_ERR(coaccept(NULL, out, COCALL_MAXLEN + 1, in, sizeof(in)),
		    EMSGSIZE);
		n = coacceptv(NULL, NULL, &m, (k & 1) ? COCALL_SLOW : 0, -1);
		CHECK(n >= 0 && n <= COCALL_MAXLEN);
		calls++;
		if (n >= 4)
			memcpy(&want, in, 4);
		for (ssize_t i = 4; i < n; i++)
			CHECK(in[i] == req_byte((size_t)i));
		if (want == ASK_COUNT) {
			memcpy(out, &calls, sizeof(calls));
			outlen = sizeof(calls);
			continue;
		}
		CHECK(want <= COCALL_MAXLEN);
		for (size_t i = 0; i < want; i++)
			out[i] = rep_byte(i);
		outlen = want;
	}
	return T_FAIL;
}

static ssize_t
call(void *target, bool slow, const void *out, size_t outlen, void *in,
    size_t inlen)
{
	return (slow ? cocall_slow : cocall)(target, out, outlen, in, inlen);
}

static uint64_t
calls_taken(void *target)
{
	uint32_t ask = ASK_COUNT;
	uint64_t n = 0;

	CHECK(cocall(target, &ask, sizeof(ask), &n, sizeof(n)) == sizeof(n));
	return n;
}

/* One call with a request of outlen bytes asking for a reply of want,
 * given inlen of room in a buffer of COCALL_MAXLEN. */
static void
one_call(void *target, bool slow, size_t outlen, uint32_t want, size_t inlen)
{
	static uint8_t out[COCALL_MAXLEN], in[COCALL_MAXLEN];
	size_t got;
	ssize_t n;

	for (size_t i = 4; i < outlen; i++)
		out[i] = req_byte(i);
	if (outlen >= 4)
		memcpy(out, &want, 4);
	else
		want = 0;
	memset(in, 0xee, sizeof(in));
	n = call(target, slow, out, outlen, in, inlen);
	if (n != (ssize_t)want)
		fprintf(stderr, "%s out %zu in %zu: got %zd, want %u\n",
		    slow ? "slow" : "fast", outlen, inlen, n, want);
	CHECK(n == (ssize_t)want);
	got = inlen < want ? inlen : want;
	for (size_t i = 0; i < got; i++)
		CHECK(in[i] == rep_byte(i));
	for (size_t i = got; i < sizeof(in); i++)
		CHECK(in[i] == 0xee);
}

static void
cocall_limits(void)
{
	static uint8_t out[COCALL_MAXLEN], in[COCALL_MAXLEN];
	void *target;
	uint64_t before;

	(void)t_service(serve, &target);
	for (int slow = 0; slow < 2; slow++) {
		struct comsg m = { .out = out, .in = in, .inlen = sizeof(in) };

		before = calls_taken(target);
		/* Too long: refused before anything is sent. */
		CHECK_ERR(call(target, slow, out, COCALL_MAXLEN + 1, in,
		    sizeof(in)), EMSGSIZE);
		for (size_t i = 0; i < NTOO; i++) {
			CHECK_ERR(call(target, slow, out, too_long[i], in,
			    sizeof(in)), EMSGSIZE);
			m.outlen = too_long[i];
			CHECK_ERR(cocallv(target, &m, slow ? COCALL_SLOW : 0,
			    1000), EMSGSIZE);
		}
		CHECK(calls_taken(target) == before + 1);
		/* 0 and the limit, with any room up to SIZE_MAX: the reply's
		 * full length, at most the room copied. */
		one_call(target, slow, 0, 0, 0);
		one_call(target, slow, 0, 0, SIZE_MAX);
		one_call(target, slow, 4, COCALL_MAXLEN, 0);
		one_call(target, slow, 4, COCALL_MAXLEN, 100);
		one_call(target, slow, COCALL_MAXLEN, 0, 0);
		for (size_t r = 0; r < NROOMS; r++) {
			one_call(target, slow, COCALL_MAXLEN, COCALL_MAXLEN,
			    rooms[r]);
			one_call(target, slow, 4, COCALL_MAXLEN, rooms[r]);
		}
		CHECK(calls_taken(target) == before + 1 + 5 + 2 * NROOMS + 1);
	}
	CHECK(capfree(target) == 0);
}

/* ---- coports ---- */

static void
send_too_long(coport_t p, const void *buf)
{
	for (size_t i = 0; i < NTOO; i++)
		CHECK_ERR(cosend(p, buf, too_long[i]), EMSGSIZE);
}

static void
expect_empty(coport_t p)
{
	char room[8];
	void *b = room;

	CHECK_ERR(corecv(p, &b, sizeof(room)), EAGAIN);
}

/* A COCHANNEL of ring bytes per sender: messages up to ring - 8. */
static void
chan_limits(const char *name, size_t ring)
{
	struct coport_attr attr = { .ring_size = ring };
	size_t max = ring - 8;
	uint8_t *msg = malloc(ring), *room = malloc(ring);
	coport_t p;
	void *b;

	CHECK(msg != NULL && room != NULL);
	for (size_t i = 0; i < ring; i++)
		msg[i] = req_byte(i);
	CHECK(coopenv(name, COCHANNEL, &attr, &p) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	/* Each time exactly the message sent, whole (a message at the
	 * limit fills the ring); any room up to SIZE_MAX. */
	b = room;
	CHECK(cosend(p, msg, 0) == 0);
	CHECK_ERR(cosend(p, msg, max + 1), EMSGSIZE);
	send_too_long(p, msg);
	CHECK(corecv(p, &b, SIZE_MAX) == 0);
	expect_empty(p);
	CHECK(cosend(p, msg, max) == (ssize_t)max);
	send_too_long(p, msg);
	CHECK_ERR(cosend(p, msg, max + 1), EMSGSIZE);
	CHECK_ERR(corecv(p, &b, max - 1), EMSGSIZE);	/* it stays */
	CHECK(corecv(p, &b, SIZE_MAX) == (ssize_t)max);
	CHECK(b == room && memcmp(room, msg, max) == 0);
	expect_empty(p);
	/* Still usable. */
	CHECK(cosend(p, msg, max) == (ssize_t)max);
	memset(room, 0, ring);
	CHECK(corecv(p, &b, max) == (ssize_t)max);
	CHECK(memcmp(room, msg, max) == 0);
	expect_empty(p);
	CHECK(coclose(p) == 0);
	free(msg);
	free(room);
}

static void
carrier_limits(void)
{
	uint8_t *msg = mmap(NULL, COCARRIER_MAXLEN + 1, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	/* A queue that takes the largest message (a process's own bound,
	 * COCARRIER_PROCESS, does too). */
	struct coport_attr attr = { .queue_bytes = COCARRIER_MAXLEN };
	coport_t p;
	void *b;

	CHECK(msg != MAP_FAILED);
	msg[0] = 1;
	msg[COCARRIER_MAXLEN - 1] = 2;
	CHECK(coopenv("len-carrier", COCARRIER, &attr, &p) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	CHECK(cosend(p, msg, 0) == 0);
	CHECK_ERR(cosend(p, msg, COCARRIER_MAXLEN + 1), EMSGSIZE);
	send_too_long(p, msg);
	CHECK(cosend(p, msg, COCARRIER_MAXLEN) == (ssize_t)COCARRIER_MAXLEN);
	send_too_long(p, msg);
	/* len is not used by COCARRIER receivers: any value. */
	CHECK(corecv(p, &b, SIZE_MAX) == 0);
	CHECK(coport_msg_free(p, b) == 0);
	CHECK(corecv(p, &b, 0) == (ssize_t)COCARRIER_MAXLEN);
	CHECK(((uint8_t *)b)[0] == 1 && ((uint8_t *)b)[COCARRIER_MAXLEN - 1] == 2);
	CHECK(coport_msg_free(p, b) == 0);
	expect_empty(p);
	CHECK(cosend(p, "after", 5) == 5);
	CHECK(corecv(p, &b, SIZE_MAX) == 5 && memcmp(b, "after", 5) == 0);
	CHECK(coport_msg_free(p, b) == 0);
	CHECK(coclose(p) == 0);
	munmap(msg, COCARRIER_MAXLEN + 1);
}

/* The COPIPE receiver: rooms past the limit are refused before a buffer
 * is published; then the limit (a view), then 0, then one after. */
static int
pipe_receiver(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char small[8];
	coport_t p;
	void *b = NULL;

	CHECK(coopen("len-pipe", COPIPE, &p) == 0);
	CHECK_ERR(corecv(p, &b, COPIPE_MAXLEN + 1), EMSGSIZE);
	for (size_t i = 0; i < NTOO; i++) {
		b = NULL;
		CHECK_ERR(corecv(p, &b, too_long[i]), EMSGSIZE);
		b = small;
		CHECK_ERR(corecv(p, &b, too_long[i]), EMSGSIZE);
	}
	CHECK(write(fd, "r", 1) == 1);
	b = NULL;
	CHECK(corecv(p, &b, COPIPE_MAXLEN) == (ssize_t)COPIPE_MAXLEN);
	CHECK(((uint8_t *)b)[0] == 1 && ((uint8_t *)b)[COPIPE_MAXLEN - 1] == 2);
	CHECK(coport_msg_free(p, b) == 0);
	b = small;
	CHECK(corecv(p, &b, 0) == 0);
	CHECK(corecv(p, &b, sizeof(small)) == 5 && memcmp(small, "after", 5) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
pipe_limits(void)
{
	uint8_t *msg = mmap(NULL, COPIPE_MAXLEN + 1, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int sv[2];
	coport_t p;
	pid_t pid;
	char c;

	CHECK(msg != MAP_FAILED);
	msg[0] = 1;
	msg[COPIPE_MAXLEN - 1] = 2;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(coopen("len-pipe", COPIPE, &p) == 0);
	pid = t_spawn(pipe_receiver, (void *)(intptr_t)sv[1]);
	/* Refused at once, receiver or not, blocking or not. */
	CHECK_ERR(cosend(p, msg, COPIPE_MAXLEN + 1), EMSGSIZE);
	send_too_long(p, msg);
	CHECK(read(sv[0], &c, 1) == 1);
	CHECK(cosend(p, msg, COPIPE_MAXLEN) == (ssize_t)COPIPE_MAXLEN);
	send_too_long(p, msg);
	CHECK(cosend(p, msg, 0) == 0);
	CHECK(cosend(p, "after", 5) == 5);
	CHECK(t_wait(pid) == T_PASS);
	CHECK(coclose(p) == 0);
	close(sv[0]);
	close(sv[1]);
	munmap(msg, COPIPE_MAXLEN + 1);
}

static void
coopenv_limits(void)
{
	static const size_t bad[] = {
		COCHANNEL_MINSIZE - 1, COCHANNEL_MAXSIZE + 1,
		(size_t)SSIZE_MAX, (size_t)SSIZE_MAX + 1, SIZE_MAX - 14,
		SIZE_MAX - 1, SIZE_MAX,
	};
	struct coport_attr attr;
	coport_t p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		attr.ring_size = bad[i];
		CHECK_ERR(coopenv("len-ring", COCHANNEL, &attr, &p), EINVAL);
	}
	/* Not a power of two: rounded up (here to the largest). */
	attr.ring_size = COCHANNEL_MAXSIZE / 2 + 1;
	CHECK(coopenv("len-ring", COCHANNEL, &attr, &p) == 0);
	CHECK(cosend(p, "x", 1) == 1);
	CHECK(coclose(p) == 0);
}

/* ---- buffers for names and descriptions ---- */

static void
buffer_limits(void)
{
	char buf[PATH_MAX];
	size_t len;
	void *cap;

	CHECK_ERR(codomain(buf, 0), EINVAL);
	CHECK(codomain(buf, SIZE_MAX) == 0);
	len = strlen(buf);
	CHECK(len > 0 && strcmp(buf, getenv("COMSG_DIR")) == 0);
	CHECK(codomain(buf, len + 1) == 0);
	CHECK_ERR(codomain(buf, len), ENAMETOOLONG);
	CHECK_ERR(codomainof(getpid(), buf, 0), EINVAL);
	CHECK(codomainof(getpid(), buf, sizeof(buf)) == 0);
	len = strlen(buf);
	CHECK(codomainof(getpid(), buf, SIZE_MAX) == 0 && strlen(buf) == len);
	CHECK_ERR(codomainof(getpid(), buf, len), ENAMETOOLONG);
	CHECK(capfromfd(&cap, 0) == 0);
	CHECK_ERR(capdescribe(cap, buf, 0), EINVAL);
	CHECK(capdescribe(cap, buf, 1) == 0 && buf[0] == '\0');
	CHECK(capdescribe(cap, buf, SIZE_MAX) == 0 && strlen(buf) > 0);
	CHECK(capfree(cap) == 0);
}

int
main(void)
{
	cocall_limits();
	chan_limits("len-chan", COCHANNEL_SIZE);
	chan_limits("len-chan-min", COCHANNEL_MINSIZE);
	chan_limits("len-chan-max", COCHANNEL_MAXSIZE);
	carrier_limits();
	pipe_limits();
	coopenv_limits();
	buffer_limits();
	return T_PASS;
}
