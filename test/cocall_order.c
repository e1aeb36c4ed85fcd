/* coaccept replies to the previous caller, then takes the next one. */
#include "harness.h"

static void *target;
static struct t_gate go_b;

/* Call with msg; exit 0 only if the reply is "reply-to-" msg. */
static int
caller(void *arg)
{
	const char *msg = arg;
	char want[32], got[32] = "";
	ssize_t n;

	if (msg[0] == 'B')
		t_gate_wait(&go_b);
	snprintf(want, sizeof(want), "reply-to-%s", msg);
	n = cocall(target, msg, strlen(msg) + 1, got, sizeof(got));
	CHECK(n == (ssize_t)strlen(want) + 1);
	CHECK(strcmp(got, want) == 0);
	return T_PASS;
}

int
main(void)
{
	char in[32];
	void *cookie_a, *cookie_b;
	struct comsg m = { 0 };
	pid_t a, b;
	ssize_t n;

	t_gate_init(&go_b);
	CHECK(coregister(NULL, &target) == 0);
	a = t_spawn(caller, "A");
	b = t_spawn(caller, "B");

	/* First coaccept of the thread: there is nobody to reply to, and the
	 * outbuf goes nowhere. */
	n = coaccept(&cookie_a, "to-nobody", 10, in, sizeof(in));
	CHECK(n == 2 && strcmp(in, "A") == 0);

	/* B calls while A still waits for its reply. */
	t_gate_open(&go_b);
	n = coaccept(&cookie_b, "reply-to-A", 11, in, sizeof(in));
	CHECK(n == 2 && strcmp(in, "B") == 0);
	CHECK(cookie_a != cookie_b);
	/* A got its reply when we took B's call. */
	CHECK(t_wait(a) == T_PASS);

	/* Reply to B and look for another call without waiting. */
	m.out = "reply-to-B";
	m.outlen = 11;
	m.in = in;
	m.inlen = sizeof(in);
	CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 0), ETIMEDOUT);
	CHECK(t_wait(b) == T_PASS);
	return T_PASS;
}
