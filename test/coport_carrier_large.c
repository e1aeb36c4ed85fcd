/* COCARRIER: messages of up to 1.5 MiB streamed through the staging rings (copied behind their sender as it writes them) and through the socket arrive whole, intact, once and in order, to two receivers. */
#include "coport_test.h"

#define MSGS	300
#define MAXLEN	((size_t)3 << 19)	/* 1.5 MiB: the 2 MiB ring takes it */

static int sv[3][2];

static size_t
msg_len(uint32_t seq)
{
	/* small to 1.5 MiB, not multiples of 8 */
	return 8 + ((size_t)seq * 104729u * 61u) % (MAXLEN - 8);
}

static uint8_t
byte_at(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 29 + i * 7 + (i >> 16));
}

static int
sender(void *arg)
{
	coport_t p = t_recv_port(sv[0][1]);
	uint8_t *buf = malloc(MAXLEN);

	(void)arg;
	CHECK(buf != NULL);
	for (uint32_t seq = 0; seq < MSGS; seq++) {
		size_t len = msg_len(seq);

		memcpy(buf, &seq, sizeof(seq));
		for (size_t i = sizeof(seq); i < len; i++)
			buf[i] = byte_at(seq, i);
		CHECK(cosend(p, buf, len) == (ssize_t)len);
	}
	free(buf);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* Shared: how often each message arrived. */
static uint8_t *got;

static int
receiver(void *arg)
{
	int id = (int)(intptr_t)arg;
	coport_t p = t_recv_port(sv[id][1]);
	int64_t last = -1;
	ssize_t n;

	for (;;) {
		void *buf = NULL;
		const uint8_t *v;
		uint32_t seq;

		if ((n = corecv(p, &buf, 0)) < 0)
			break;
		v = buf;
		CHECK(n >= 8);
		memcpy(&seq, v, sizeof(seq));
		CHECK(seq < MSGS && (size_t)n == msg_len(seq));
		for (size_t i = sizeof(seq); i < (size_t)n; i++)
			if (v[i] != byte_at(seq, i)) {
				fprintf(stderr, "receiver %d: message %u (%zd "
				    "bytes) differs at %zu\n", id, seq, n, i);
				t_fail();
			}
		CHECK((int64_t)seq > last);	/* in order */
		last = seq;
		__atomic_add_fetch(&got[seq], 1, __ATOMIC_RELAXED);
		CHECK(coport_msg_free(p, buf) == 0);
	}
	CHECK(errno == EPIPE);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

int
main(void)
{
	pid_t pids[3];
	coport_t p;

	got = mmap(NULL, MSGS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	CHECK(got != MAP_FAILED);
	for (int i = 0; i < 3; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) == 0);
		pids[i] = t_spawn(i == 0 ? sender : receiver, (void *)(intptr_t)i);
	}
	CHECK(coopen("large", COCARRIER, &p) == 0);
	t_send_port(sv[0][0], p, COPORT_PERM_SEND);
	t_send_port(sv[1][0], p, COPORT_PERM_RECV);
	t_send_port(sv[2][0], p, COPORT_PERM_RECV);
	CHECK(coclose(p) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(t_wait(pids[i]) == T_PASS);
	for (int s = 0; s < MSGS; s++)
		if (got[s] != 1) {
			fprintf(stderr, "message %d arrived %d times\n", s, got[s]);
			t_fail();
		}
	return T_PASS;
}
