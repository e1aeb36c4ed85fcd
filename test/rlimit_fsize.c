/* A process whose file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) is below the shared memory a call makes gets EFBIG, as the man pages say, and nothing else breaks: a first cocall (its channel), a COCARRIER message, a first COCHANNEL send (its ring); with the limit raised again, the same calls work. */
#include <sys/resource.h>
#include "coport_test.h"

static int
echo(void *target)
{
	char in[64];
	size_t outlen = 0;

	(void)target;
	for (;;) {
		ssize_t n = coaccept(NULL, in, outlen, in, sizeof(in));

		if (n < 0)
			return T_FAIL;
		outlen = (size_t)n;
	}
}

int
main(void)
{
	struct rlimit low = { 4096, RLIM_INFINITY }, old;
	static char big[65536];
	coport_t car, chan;
	char rep[8];
	void *t;

	t_service(echo, &t);
	CHECK(coopen("fsize.carrier", COCARRIER, &car) == 0);
	CHECK(coopen("fsize.channel", COCHANNEL, &chan) == 0);
	CHECK(coport_setflags(car, COPORT_NONBLOCK) == 0);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_IGN);
	CHECK(setrlimit(RLIMIT_FSIZE, &low) == 0);
	CHECK_ERR(cocall(t, "ping", 4, rep, sizeof(rep)), EFBIG);
	CHECK_ERR(cosend(car, big, sizeof(big)), EFBIG);
	CHECK_ERR(cosend(chan, "x", 1), EFBIG);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(cocall(t, "ping", 4, rep, sizeof(rep)) == 4);
	CHECK(cosend(car, big, sizeof(big)) == (ssize_t)sizeof(big));
	CHECK(cosend(chan, "x", 1) == 1);
	CHECK(coclose(car) == 0 && coclose(chan) == 0);
	return T_PASS;
}
