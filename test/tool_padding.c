/* The tools send no uninitialised bytes: every byte of the capv_t header
 * they send a service (the answerback request of capv(1), colookup(1) -c
 * and coping(1), fast and slow, and coping's pings) beyond its fields is
 * zero. */
#include <stddef.h>
#include "harness.h"
#include "toolrun.h"

#define SLOT	5

struct tally {
	int	requests;	/* capv_t requests seen */
	int	dirty;		/* ... with a non-zero byte of padding */
};

/* Answer every request as a service would, and check its padding; a
 * one-byte request asks for the tally. */
static int
serve(void *target)
{
	static char in[COCALL_MAXLEN];
	static capv_answerback_t ab;
	struct tally t = { 0, 0 };
	const void *out = NULL;
	size_t outlen = 0, i;

	if (copublish("padcheck", target) < 0)
		return T_FAIL;
	for (;;) {
		ssize_t n = coaccept(NULL, out, outlen, in, sizeof(in));
		capv_t h;

		if (n < 0)
			return T_FAIL;
		if (n == 1) {
			out = &t;
			outlen = sizeof(t);
			continue;
		}
		t.requests++;
		if ((size_t)n != sizeof(h)) {
			t.dirty++;	/* not even the right size */
		} else {
			for (i = offsetof(capv_t, op) + sizeof(h.op);
			    i < sizeof(h); i++)
				if (in[i] != 0) {
					t.dirty++;
					break;
				}
		}
		memcpy(&h, in, (size_t)n < sizeof(h) ? (size_t)n : sizeof(h));
		memset(&ab, 0, sizeof(ab));
		ab.len = sizeof(ab);
		ab.op = h.op;
		snprintf(ab.answerback, sizeof(ab.answerback),
		    "padding checker");
		out = &ab;
		outlen = sizeof(ab);
	}
}

static void
run(char *const argv[])
{
	char out[8192];

	CHECK_OUT(tr_run(argv, out, sizeof(out)) == 0, out);
	CHECK_OUT(strstr(out, "padding checker") != NULL ||
	    strstr(out, "iterations") != NULL, out);
}

int
main(void)
{
	char slot[8] = "5";
	struct tally t;
	void *target, **capv;
	int capc, want = 0;

	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}
	t_service(serve, &target);
	CHECK(capvfetch(&capc, &capv) == 0);
	CHECK(capvset(&capc, &capv, SLOT, target) == 0);
	{
		char *a[] = { tr_tool("capv"), NULL };
		char *k[] = { tr_tool("capv"), "-k", NULL };

		run(a);
		run(k);
		want += 2;
	}
	{
		char *a[] = { tr_tool("coping"), "-v", "-c", "3", "-i", slot,
		    NULL };
		char *k[] = { tr_tool("coping"), "-k", "-c", "3", "-i", slot,
		    NULL };

		run(a);
		run(k);
		want += 4 + 3;
	}
	/* Published before the service first accepted: the runs above
	 * were answered, so it is there. */
	{
		char *a[] = { tr_tool("colookup"), "-c", "-n", "padcheck",
		    NULL };
		char *k[] = { tr_tool("colookup"), "-c", "-k", "-n", "padcheck",
		    NULL };

		run(a);
		run(k);
		want += 2;
	}
	CHECK(cocall(target, "R", 1, &t, sizeof(t)) == sizeof(t));
	if (t.dirty != 0)
		fprintf(stderr, "%d of %d requests had non-zero padding\n",
		    t.dirty, t.requests);
	CHECK(t.requests == want);
	CHECK(t.dirty == 0);
	return T_PASS;
}
