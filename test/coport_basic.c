/* Each coport kind between two processes: messages arrive whole, in order, once. */
#include "harness.h"
#include "comsg/coport.h"

#define N 2000

static int
sender(void *arg)
{
	coport_type_t type = (coport_type_t)(intptr_t)arg;
	coport_t p;
	char buf[256];

	CHECK(coopen("basic", type, &p) == 0);
	for (int i = 0; i < N; i++) {
		int len = snprintf(buf, sizeof(buf), "message %d", i);
		CHECK(cosend(p, buf, (size_t)len + 1) == len + 1);
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
run(coport_type_t type)
{
	coport_t p;
	pid_t pid;
	char want[256], room[256];

	CHECK(coopen("basic", type, &p) == 0);
	CHECK(coport_gettype(p) == type);
	pid = t_spawn(sender, (void *)(intptr_t)type);
	for (int i = 0; i < N; i++) {
		void *buf = room;
		ssize_t n = corecv(p, &buf, sizeof(room));

		snprintf(want, sizeof(want), "message %d", i);
		CHECK(n == (ssize_t)strlen(want) + 1);
		CHECK(memcmp(buf, want, (size_t)n) == 0);
		if (type == COCARRIER)
			CHECK(coport_msg_free(p, buf) == 0);
	}
	CHECK(t_wait(pid) == 0);
	CHECK(coclose(p) == 0);
	fprintf(stderr, "type %d: %d messages\n", type, N);
}

int
main(void)
{
	run(COCHANNEL);
	run(COCARRIER);
	run(COPIPE);
	return T_PASS;
}
