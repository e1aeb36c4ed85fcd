/* Timed calls: ETIMEDOUT when no reply comes in time; a late reply is
 * discarded, never taken for the next call's; a timed coaccept returns
 * ETIMEDOUT when nobody calls. */
#include "harness.h"

static void *target;
static struct t_gate late;

/* Hold the first call until told, reply to it late, then echo. */
static int
service(void *t)
{
	uint32_t in, out = 0;
	size_t outlen = 0;
	int calls = 0;

	(void)t;
	for (;;) {
		CHECK(coaccept(NULL, &out, outlen, &in, sizeof(in)) == sizeof(in));
		if (calls++ == 0 || calls == 3)
			t_gate_wait(&late);	/* the caller gives up meanwhile */
		out = in + 1000;
		outlen = sizeof(out);
	}
	return T_FAIL;
}

int
main(void)
{
	struct comsg m = { 0 };
	uint32_t req, rep;
	int64_t t0, el;

	CHECK(coregister(NULL, &target) == 0);
	/* Nobody calls: a timed coaccept gives up. */
	m.in = &req;
	m.inlen = sizeof(req);
	t0 = t_now_ns();
	CHECK_ERR(coacceptv(NULL, NULL, &m, 0, 50), ETIMEDOUT);
	el = t_now_ns() - t0;
	CHECK(el >= 40000000);
	CHECK(capfree(target) == 0);

	t_gate_init(&late);
	(void)t_service(service, &target);
	for (int slow = 0; slow < 2; slow++) {
		memset(&m, 0, sizeof(m));
		req = 1 + slow * 10;
		m.out = &req;
		m.outlen = sizeof(req);
		m.in = &rep;
		m.inlen = sizeof(rep);
		t0 = t_now_ns();
		CHECK_ERR(cocallv(target, &m, slow ? COCALL_SLOW : 0, 100), ETIMEDOUT);
		CHECK(t_now_ns() - t0 >= 90000000);
		t_gate_open(&late);		/* the reply to req comes now */
		req = 2 + slow * 10;
		rep = 0;
		CHECK(cocallv(target, &m, slow ? COCALL_SLOW : 0, -1) == sizeof(rep));
		CHECK(rep == req + 1000);	/* its own reply, not the stale one */
	}
	return T_PASS;
}
