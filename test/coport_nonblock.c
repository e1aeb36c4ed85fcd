/* COPORT_NONBLOCK gives EAGAIN; copoll times out, wakes for each kind when a child sends, and reports COPOLL_CLOSED/EPIPE when the other side closed. */
#include "coport_test.h"

static const coport_type_t kinds[3] = { COCHANNEL, COCARRIER, COPIPE };
static int sv_s[2], sv_r[2];	/* to the sending child, the receiving one */

static void
open3(const char *prefix, coport_t *p)
{
	char name[32];

	for (int k = 0; k < 3; k++) {
		snprintf(name, sizeof(name), "%s-%d", prefix, kinds[k]);
		CHECK(coopen(name, kinds[k], &p[k]) == 0);
	}
}

/* copoll over p[0..2] for events; returns what it returned, and how long
 * it took (ms) in *ms. */
static int
poll3(coport_t *p, int events, int timeout, pollcoport_t *pc, int64_t *ms)
{
	int64_t t0 = t_now_ns();
	int r;

	for (int k = 0; k < 3; k++)
		pc[k] = make_pollcoport(p[k], events);
	r = copoll(pc, 3, timeout);
	*ms = (t_now_ns() - t0) / 1000000;
	return r;
}

/* The sending child: sends on the port of each kind the parent names,
 * then closes everything when told. */
static int
sending_child(void *arg)
{
	coport_t p[3];
	char c;

	(void)arg;
	for (int k = 0; k < 3; k++)
		p[k] = t_recv_port(sv_s[1]);
	while ((c = t_listen(sv_s[1])) != 'x') {
		int k = c - '0';

		CHECK(k >= 0 && k < 3);
		CHECK(cosend(p[k], "ping", 5) == 5);
	}
	for (int k = 0; k < 3; k++)
		CHECK(coclose(p[k]) == 0);
	t_say(sv_s[1], 'd');
	return T_PASS;
}

/* The receiving child: holds the receive right, and closes when told. */
static int
receiving_child(void *arg)
{
	coport_t p[3];

	(void)arg;
	for (int k = 0; k < 3; k++)
		p[k] = t_recv_port(sv_r[1]);
	CHECK(t_listen(sv_r[1]) == 'x');
	for (int k = 0; k < 3; k++)
		CHECK(coclose(p[k]) == 0);
	return T_PASS;
}

/* One process alone: EAGAIN wherever it would wait; copoll timeouts. */
static void
alone(void)
{
	coport_t p[3];
	pollcoport_t pc[3];
	char room[64];
	void *buf;
	int64_t ms;
	int n;

	open3("nb-alone", p);
	/* Our own ring first (late_sender() checks a ring that comes after
	 * a receiver's first look). */
	CHECK(cosend(p[0], "first", 6) == 6);
	for (int k = 0; k < 3; k++) {
		CHECK(coport_getflags(p[k]) == 0);
		CHECK(coport_setflags(p[k], COPORT_NONBLOCK) == 0);
		CHECK(coport_getflags(p[k]) == COPORT_NONBLOCK);
		CHECK_ERR(coport_setflags(p[k], 0x100), EINVAL);
		buf = room;
		if (k == 0)
			CHECK(corecv(p[k], &buf, sizeof(room)) == 6);
		CHECK_ERR(corecv(p[k], &buf, sizeof(room)), EAGAIN);
	}
	/* COCHANNEL full: 4 KiB of 16-byte records (8 + 8). */
	for (n = 0; n < 1000; n++)
		if (cosend(p[0], "12345678", 8) < 0)
			break;
	CHECK(n == 4096 / 16 && errno == EAGAIN);
	CHECK_ERR(cosend(p[0], "x", 1), EAGAIN);
	pc[0] = make_pollcoport(p[0], COPOLL_OUT);
	CHECK(copoll(pc, 1, 0) == 0 && pc[0].revents == 0);
	buf = room;
	CHECK(corecv(p[0], &buf, sizeof(room)) == 8);
	CHECK(copoll(pc, 1, 0) == 1 && pc[0].revents == COPOLL_OUT);
	for (int i = 1; i < n; i++)
		CHECK(corecv(p[0], &buf, sizeof(room)) == 8);
	CHECK_ERR(corecv(p[0], &buf, sizeof(room)), EAGAIN);
	/* COCARRIER: its queue is the socket's, full after some messages. */
	for (n = 0; n < 100000; n++)
		if (cosend(p[1], "12345678", 8) < 0)
			break;
	CHECK(n < 100000 && errno == EAGAIN);
	for (int i = 0; i < n; i++) {
		buf = NULL;
		CHECK(corecv(p[1], &buf, 0) == 8);
		CHECK(coport_msg_free(p[1], buf) == 0);
	}
	CHECK_ERR(corecv(p[1], &buf, 0), EAGAIN);
	/* COPIPE: no receiver waits, no sender waits. */
	CHECK_ERR(cosend(p[2], "x", 1), EAGAIN);
	buf = room;
	CHECK_ERR(corecv(p[2], &buf, sizeof(room)), EAGAIN);

	/* copoll: nothing to receive; 0 at once, and after 50 ms. */
	CHECK(poll3(p, COPOLL_IN, 0, pc, &ms) == 0);
	CHECK(ms < 1000);
	for (int k = 0; k < 3; k++)
		CHECK(pc[k].revents == 0);
	CHECK(poll3(p, COPOLL_IN, 50, pc, &ms) == 0);
	fprintf(stderr, "copoll(50 ms) with nothing ready: %lld ms\n",
	    (long long)ms);
	CHECK(ms >= 49 && ms < 2000);
	CHECK_ERR(copoll(pc, -1, 0), EINVAL);
	CHECK_ERR(copoll(pc, 65, 0), EINVAL);
	for (int k = 0; k < 3; k++)
		CHECK(coclose(p[k]) == 0);
}

/* A child sends on each kind in turn: copoll wakes with that entry. */
static void
wake_and_close(void)
{
	coport_t full[3], p[3];
	pollcoport_t pc[3];
	char room[64];
	void *buf;
	int64_t ms;

	open3("nb-wake", full);
	for (int k = 0; k < 3; k++) {
		t_send_port(sv_s[0], full[k], COPORT_PERM_SEND);
		p[k] = t_narrow(full[k], COPORT_PERM_RECV);
		CHECK(coclose(full[k]) == 0);	/* the child: sole sender */
	}
	CHECK(poll3(p, COPOLL_IN, 0, pc, &ms) == 0);
	CHECK(poll3(p, COPOLL_IN, 50, pc, &ms) == 0);
	for (int k = 0; k < 3; k++) {
		t_say(sv_s[0], (char)('0' + k));
		CHECK(poll3(p, COPOLL_IN, 10000, pc, &ms) == 1);
		for (int j = 0; j < 3; j++)
			CHECK(pc[j].revents == (j == k ? COPOLL_IN : 0));
		buf = room;
		CHECK(corecv(p[k], &buf, sizeof(room)) == 5);
		CHECK(memcmp(buf, "ping", 5) == 0);
		if (kinds[k] == COCARRIER)
			CHECK(coport_msg_free(p[k], buf) == 0);
		fprintf(stderr, "%s: copoll woke after %lld ms\n",
		    t_kind(kinds[k]), (long long)ms);
	}
	/* A message sent before its sender closes stays receivable. */
	t_say(sv_s[0], '0');
	t_say(sv_s[0], '1');
	t_say(sv_s[0], 'x');
	CHECK(t_listen(sv_s[0]) == 'd');
	CHECK(poll3(p, COPOLL_IN, 0, pc, &ms) == 3);
	CHECK(pc[0].revents == COPOLL_IN && pc[1].revents == COPOLL_IN);
	CHECK(pc[2].revents == COPOLL_CLOSED);
	for (int k = 0; k < 2; k++) {
		buf = room;
		CHECK(corecv(p[k], &buf, sizeof(room)) == 5);
		if (kinds[k] == COCARRIER)
			CHECK(coport_msg_free(p[k], buf) == 0);
	}
	/* Then: closed for good. */
	CHECK(poll3(p, COPOLL_IN, 1000, pc, &ms) == 3);
	for (int k = 0; k < 3; k++) {
		CHECK(pc[k].revents == COPOLL_CLOSED);
		buf = room;
		CHECK_ERR(corecv(p[k], &buf, sizeof(room)), EPIPE);
		CHECK(coclose(p[k]) == 0);
	}
}

/* The only receiver closes: senders get EPIPE, copoll COPOLL_CLOSED. */
static void
receiver_closes(pid_t child)
{
	coport_t full[3], p[3];
	pollcoport_t pc[3];
	int64_t ms;

	open3("nb-rclose", full);
	for (int k = 0; k < 3; k++) {
		t_send_port(sv_r[0], full[k], COPORT_PERM_RECV);
		p[k] = t_narrow(full[k], COPORT_PERM_SEND);
		CHECK(coclose(full[k]) == 0);
	}
	/* COCHANNEL and COCARRIER have room; COPIPE has no receiver
	 * waiting. */
	CHECK(poll3(p, COPOLL_OUT, 0, pc, &ms) == 2);
	CHECK(pc[0].revents == COPOLL_OUT && pc[1].revents == COPOLL_OUT &&
	    pc[2].revents == 0);
	t_say(sv_r[0], 'x');
	CHECK(t_wait(child) == 0);
	CHECK(poll3(p, COPOLL_OUT, 0, pc, &ms) == 3);
	for (int k = 0; k < 3; k++) {
		CHECK(pc[k].revents == COPOLL_CLOSED);
		CHECK_ERR(cosend(p[k], "x", 1), EPIPE);
		CHECK(coport_setflags(p[k], COPORT_NONBLOCK) == 0);
		CHECK_ERR(cosend(p[k], "x", 1), EPIPE);
		CHECK(coclose(p[k]) == 0);
	}
}

/*
 * A non-blocking COCHANNEL receiver that looked before a sender came:
 * the sender's first message is in its (new) ring when cosend returns,
 * so the receiver's next non-blocking corecv must find it.
 */
static int late_sv[2];

static int
late_child(void *arg)
{
	coport_t p = t_recv_port(late_sv[1]);

	(void)arg;
	CHECK(t_listen(late_sv[1]) == 'g');
	CHECK(cosend(p, "late", 5) == 5);
	t_say(late_sv[1], 'd');
	CHECK(t_listen(late_sv[1]) == 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
late_sender(void)
{
	coport_t full, p;
	char room[64];
	void *buf = room;
	pid_t pid;
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, late_sv) == 0);
	pid = t_spawn(late_child, NULL);
	CHECK(coopen("nb-late", COCHANNEL, &full) == 0);
	t_send_port(late_sv[0], full, COPORT_PERM_SEND);
	p = t_narrow(full, COPORT_PERM_RECV);
	CHECK(coclose(full) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	CHECK_ERR(corecv(p, &buf, sizeof(room)), EAGAIN);
	t_say(late_sv[0], 'g');
	CHECK(t_listen(late_sv[0]) == 'd');
	n = corecv(p, &buf, sizeof(room));
	if (n < 0)
		fprintf(stderr, "non-blocking corecv misses the ring of a sender "
		    "that came after its first look: %s\n", strerror(errno));
	CHECK(n == 5 && memcmp(room, "late", 5) == 0);
	t_say(late_sv[0], 'q');
	CHECK(t_wait(pid) == 0);
	CHECK(coclose(p) == 0);
}

int
main(void)
{
	pid_t s, r;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_s) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_r) == 0);
	s = t_spawn(sending_child, NULL);
	r = t_spawn(receiving_child, NULL);
	alone();
	wake_and_close();
	CHECK(t_wait(s) == 0);
	receiver_closes(r);
	late_sender();
	return T_PASS;
}
