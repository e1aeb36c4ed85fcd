/* A right given up is given up where the end of a stream is decided: a process that opened a port by name and dropped its send right receives exactly the real sender's messages, then EPIPE (comsgd alive or killed); one that dropped its receive right gets EPIPE once the real receiver closes. */
#include "coport_test.h"

#define N		200	/* messages of the real sender */
#define LIMIT_MS	2000	/* the design says 100 ms; generous here */
#define STUCK_S		10	/* still blocked after this: the test fails */

static coport_type_t kind;
static char name[32];

static void
stuck(int sig)
{
	static const char msg[] = "still blocked: the end of the stream never came\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	exit(T_FAIL);		/* atexit cleans up */
}

/* Open the port by name (both rights), then keep only those in keep. */
static coport_t
open_keeping(int keep)
{
	coport_t all, p;

	CHECK(coopen(name, kind, &all) == 0);
	CHECK((p = coport_clearperm(all, COPORT_PERM_ALL & ~keep)) != NULL);
	CHECK(coclose(all) == 0);
	CHECK(coport_getperm(p) == keep);
	return p;
}

/* Receive one message into *v (COCARRIER gives a view: copied, freed). */
static ssize_t
recv_one(coport_t p, uint32_t *v)
{
	void *buf = v;
	ssize_t n = corecv(p, &buf, sizeof(*v));

	if (n >= 0 && buf != v) {
		CHECK(n == sizeof(*v));
		memcpy(v, buf, sizeof(*v));
		CHECK(coport_msg_free(p, buf) == 0);
	}
	return n;
}

/* The only real sender: N messages, then it closes when told. */
static int
sender(void *arg)
{
	int sock = *(int *)arg;
	coport_t p = open_keeping(COPORT_PERM_SEND);

	t_say(sock, 'r');
	for (uint32_t i = 0; i < N; i++)
		CHECK(cosend(p, &i, sizeof(i)) == sizeof(i));
	t_hear(sock, 'c');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* The only real receiver: one message, then it closes. */
static int
receiver(void *arg)
{
	int sock = *(int *)arg;
	coport_t p = open_keeping(COPORT_PERM_RECV);
	uint32_t v;

	t_say(sock, 'r');
	CHECK(recv_one(p, &v) == sizeof(v) && v == 7);
	CHECK(coclose(p) == 0);
	t_say(sock, 'c');
	return T_PASS;
}

/* Receive until EPIPE, having dropped the send right; kill comsgd half
 * way if asked. */
static void
drop_send(bool kill_comsgd)
{
	coport_t p = open_keeping(COPORT_PERM_RECV);
	int sv[2];
	uint32_t got = 0, v;
	int64_t t0 = 0;
	pid_t s;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	s = t_spawn(sender, &sv[1]);
	t_hear(sv[0], 'r');
	for (;;) {
		if (got == N / 2 && kill_comsgd) {
			pid_t d = t_comsgd_pid();

			CHECK(d > 0 && kill(d, SIGKILL) == 0);
			t_wait_gone(d, 5000);
		}
		if (got == N) {
			/* all there: the sender may close now */
			t_say(sv[0], 'c');
			t0 = t_now_ns();
			alarm(STUCK_S);
		}
		if (recv_one(p, &v) < 0)
			break;
		CHECK(v == got);	/* each once, in order */
		got++;
	}
	alarm(0);
	CHECK(errno == EPIPE);
	CHECK(got == N);
	fprintf(stderr, "%s, comsgd %s: %u messages, then EPIPE %.1f ms after "
	    "the sender was told to close\n", t_kind(kind),
	    kill_comsgd ? "killed" : "alive", got,
	    (double)(t_now_ns() - t0) / 1e6);
	CHECK(t_now_ns() - t0 < LIMIT_MS * 1000000LL);
	CHECK(t_wait(s) == T_PASS);
	CHECK(coclose(p) == 0);
	close(sv[0]);
	close(sv[1]);
}

/* Send after the real receiver closed, having dropped the receive
 * right: EPIPE. */
static void
drop_recv(void)
{
	coport_t p = open_keeping(COPORT_PERM_SEND);
	uint32_t v = 7;
	int sv[2];
	pid_t r;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	r = t_spawn(receiver, &sv[1]);
	t_hear(sv[0], 'r');
	CHECK(cosend(p, &v, sizeof(v)) == sizeof(v));
	t_hear(sv[0], 'c');
	alarm(STUCK_S);
	CHECK_ERR(cosend(p, &v, sizeof(v)), EPIPE);
	alarm(0);
	CHECK(t_wait(r) == T_PASS);
	CHECK(coclose(p) == 0);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	static const coport_type_t kinds[3] = { COCHANNEL, COCARRIER, COPIPE };

	signal(SIGALRM, stuck);
	for (int k = 0; k < 3; k++) {
		kind = kinds[k];
		snprintf(name, sizeof(name), "drop-send-%d", (int)kind);
		drop_send(false);
		snprintf(name, sizeof(name), "drop-recv-%d", (int)kind);
		drop_recv();
		/* last: the next coopen starts a new comsgd */
		snprintf(name, sizeof(name), "drop-killed-%d", (int)kind);
		drop_send(true);
	}
	return T_PASS;
}
