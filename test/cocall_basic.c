/* cocall between two processes: bytes both ways, sizes, truncation, errors. */
#include "harness.h"

static struct t_gate ready;

/* Reply with each request byte plus one, then the request's length. */
static int
service(void *arg)
{
	static uint8_t in[COCALL_MAXLEN], out[COCALL_MAXLEN + 8];
	size_t outlen = 0;
	void *target;
	ssize_t n;

	(void)arg;
	CHECK(coregister("echo", &target) == 0);
	t_gate_open(&ready);
	for (;;) {
		n = coaccept(NULL, out, outlen, in, sizeof(in));
		CHECK(n >= 0);
		for (ssize_t i = 0; i < n; i++)
			out[i] = in[i] + 1;
		outlen = (size_t)n;
	}
	return T_FAIL;
}

int
main(void)
{
	static uint8_t req[COCALL_MAXLEN + 1], rep[COCALL_MAXLEN];
	size_t sizes[] = { 0, 1, 7, 64, 4096, 65535, COCALL_MAXLEN };
	void *target, *dup;
	pid_t pid;
	ssize_t n;

	t_gate_init(&ready);
	pid = t_spawn(service, NULL);
	t_gate_wait(&ready);

	CHECK_ERR(colookup("no-such-name", &target), ESRCH);
	CHECK_ERR(colookup("bad/name", &target), EINVAL);
	CHECK_ERR(colookup("", &target), EINVAL);
	CHECK(colookup("echo", &target) == 0);
	/* A live name cannot be taken. */
	CHECK_ERR(coregister("echo", &dup), EEXIST);

	for (int slow = 0; slow < 2; slow++)
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			size_t len = sizes[k];

			for (size_t i = 0; i < len; i++)
				req[i] = (uint8_t)(i * 7 + k);
			memset(rep, 0, sizeof(rep));
			n = (slow ? cocall_slow : cocall)(target, req, len, rep,
			    sizeof(rep));
			CHECK(n == (ssize_t)len);
			for (size_t i = 0; i < len; i++)
				CHECK(rep[i] == (uint8_t)(req[i] + 1));
		}

	/* Truncation: the full length comes back, only inlen bytes copied. */
	memset(req, 5, 100);
	memset(rep, 0, sizeof(rep));
	n = cocall(target, req, 100, rep, 10);
	CHECK(n == 100);
	CHECK(rep[9] == 6 && rep[10] == 0);
	n = cocall_slow(target, req, 100, rep, 10);
	CHECK(n == 100);

	/* Bad input. */
	CHECK_ERR(cocall(target, req, COCALL_MAXLEN + 1, rep, sizeof(rep)), EMSGSIZE);
	CHECK_ERR(cocall((void *)req, req, 1, rep, 1), EINVAL);
	CHECK_ERR(cocall(NULL, req, 1, rep, 1), EINVAL);
	CHECK_ERR(cocall((char *)target + 1, req, 1, rep, 1), EINVAL);
	CHECK_ERR(cocall(target, NULL, 1, rep, 1), EINVAL);
	CHECK_ERR(cosetup(7), EINVAL);
	/* The service is still fine. */
	CHECK(cocall(target, req, 3, rep, 3) == 3);

	/* The owner dies: calls fail with ENOLINK, the name is reclaimed. */
	kill(pid, SIGKILL);
	CHECK(t_wait(pid) == 128 + SIGKILL);
	CHECK_ERR(cocall(target, req, 1, rep, 1), ENOLINK);
	CHECK_ERR(colookup("echo", &dup), ESRCH);
	CHECK(coregister("echo", &dup) == 0);
	CHECK(capfree(target) == 0);
	CHECK_ERR(cocall(target, req, 1, rep, 1), EINVAL);
	return T_PASS;
}
