/* Capabilities travel with calls both ways: a service hands each caller a
 * fresh labelled target for its session, a caller hands the service a
 * descriptor; capsend/caprecv carry one over any UNIX socket. */
#include "harness.h"

enum { OP_OPEN = 1, OP_WRITE = 2, OP_SESSION = 3 };

struct req {
	int		op;
	char		text[32];
};

static void *front;

/*
 * The service: OP_OPEN makes a new target labelled with a session number
 * and returns it; a call through a session target reports its label; a
 * call with a descriptor writes text into it.
 */
static int
service(void *arg)
{
	uint64_t next_session = 100, label;
	struct req r;
	char out[64];
	void *caps_in[COCALL_MAXCAPS], *caps_out[1];
	struct comsg m = { 0 };

	(void)arg;
	for (;;) {
		m.in = &r;
		m.inlen = sizeof(r);
		m.incaps = caps_in;
		m.nincaps = COCALL_MAXCAPS;
		CHECK(coacceptv(NULL, &label, &m, 0, -1) == sizeof(r));
		m.out = out;
		m.outcaps = NULL;
		m.noutcaps = 0;
		if (r.op == OP_OPEN) {
			CHECK(label == 0 && m.nincaps == 0);
			CHECK(coregister_label(NULL, next_session++, &caps_out[0]) == 0);
			m.outcaps = caps_out;
			m.noutcaps = 1;
			m.outlen = (size_t)snprintf(out, sizeof(out), "session") + 1;
		} else if (r.op == OP_SESSION) {
			m.outlen = (size_t)snprintf(out, sizeof(out), "label %llu",
			    (unsigned long long)label) + 1;
		} else if (r.op == OP_WRITE) {
			int fd;

			CHECK(m.nincaps == 1);
			CHECK(captofd(caps_in[0], &fd) == 0);
			CHECK(write(fd, r.text, strlen(r.text)) == (ssize_t)strlen(r.text));
			close(fd);
			CHECK(capfree(caps_in[0]) == 0);
			m.outlen = (size_t)snprintf(out, sizeof(out), "written") + 1;
		} else {
			m.outlen = 0;
		}
	}
	return T_FAIL;
}

int
main(void)
{
	struct req r = { 0 };
	char rep[64];
	void *sess[2], *got[COCALL_MAXCAPS], *fdcap, *cap2;
	struct comsg m = { 0 };
	int p[2], sv[2], fd;

	(void)t_service(service, &front);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);

	/* Two sessions, each a new target with its own label. */
	for (int i = 0; i < 2; i++) {
		r.op = OP_OPEN;
		m = (struct comsg){ .out = &r, .outlen = sizeof(r), .in = rep,
		    .inlen = sizeof(rep), .incaps = got, .nincaps = COCALL_MAXCAPS };
		CHECK(cocallv(front, &m, 0, -1) == 8 && strcmp(rep, "session") == 0);
		CHECK(m.nincaps == 1);
		sess[i] = got[0];
	}
	CHECK(sess[0] != sess[1]);
	r.op = OP_SESSION;
	CHECK(cocall(sess[1], &r, sizeof(r), rep, sizeof(rep)) > 0);
	CHECK(strcmp(rep, "label 101") == 0);
	CHECK(cocall_slow(sess[0], &r, sizeof(r), rep, sizeof(rep)) > 0);
	CHECK(strcmp(rep, "label 100") == 0);
	CHECK(cocall(front, &r, sizeof(r), rep, sizeof(rep)) > 0);
	CHECK(strcmp(rep, "label 0") == 0);

	/* A descriptor to the service: it writes into our pipe. */
	CHECK(pipe(p) == 0);
	CHECK(capfromfd(&fdcap, p[1]) == 0);
	close(p[1]);		/* the capability holds its own duplicate */
	r.op = OP_WRITE;
	snprintf(r.text, sizeof(r.text), "hello through a capability");
	m = (struct comsg){ .out = &r, .outlen = sizeof(r), .in = rep,
	    .inlen = sizeof(rep), .outcaps = &fdcap, .noutcaps = 1 };
	CHECK(cocallv(sess[0], &m, 0, -1) > 0 && strcmp(rep, "written") == 0);
	CHECK(m.nincaps == 0);
	CHECK(capfree(fdcap) == 0);	/* the last write end: EOF follows */
	{
		char buf[64] = "";
		ssize_t n = read(p[0], buf, sizeof(buf) - 1);

		CHECK(n == (ssize_t)strlen(r.text) && strcmp(buf, r.text) == 0);
		CHECK(read(p[0], buf, 1) == 0);
	}

	/* Bad capabilities in a message are refused before anything moves. */
	m.outcaps = (void *[]){ &r };
	CHECK_ERR(cocallv(sess[0], &m, 0, -1), EINVAL);
	m.noutcaps = COCALL_MAXCAPS + 1;
	CHECK_ERR(cocallv(sess[0], &m, 0, -1), EINVAL);

	/* capsend/caprecv over a plain socketpair. */
	CHECK(capfromfd(&fdcap, 1) == 0);
	CHECK(capsend(sv[0], fdcap) == 0);
	CHECK(caprecv(sv[1], &cap2) == 0);
	CHECK(cap2 != fdcap);
	CHECK(captofd(cap2, &fd) == 0 && fd >= 0);
	close(fd);
	CHECK_ERR(captofd(sess[0], &fd), EINVAL);	/* not a descriptor cap */
	CHECK_ERR(capfromfd(&cap2, -1), EBADF);
	CHECK_ERR(capsend(sv[0], &r), EINVAL);
	CHECK(send(sv[0], "junk", 4, 0) == 4);
	CHECK_ERR(caprecv(sv[1], &cap2), EINVAL);
	return T_PASS;
}
