/*
 * hello_client: calls the service in slot 9 of its capability vector,
 * which it inherited from whoever started it, on the fast path and on the
 * kernel path, and says how long a call took on each.
 *
 *	hello_client [name]
 */
#include <err.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <comsg/capv.h>
#include <comsg/cocall.h>

#define HELLO_SLOT	9
#define ROUNDS		20000

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "world";
	char reply[512];
	void **capv;
	int capc, slow;
	ssize_t n;

	if (capvfetch(&capc, &capv) < 0 || capc <= HELLO_SLOT ||
	    capv[HELLO_SLOT] == NULL)
		errx(1, "no service in slot %d of the capability vector", HELLO_SLOT);
	n = cocall(capv[HELLO_SLOT], name, strlen(name), reply, sizeof(reply));
	if (n < 0)
		err(1, "cocall");
	printf("hello_client: pid %d got: \"%s\"\n", (int)getpid(), reply);
	for (slow = 0; slow < 2; slow++) {
		double t0 = now_us();

		for (int i = 0; i < ROUNDS; i++)
			if ((slow ? cocall_slow : cocall)(capv[HELLO_SLOT], name,
			    strlen(name), reply, sizeof(reply)) < 0)
				err(1, "cocall");
		printf("hello_client: %d calls through %-11s %7.2f us each\n",
		    ROUNDS, slow ? "cocall_slow:" : "cocall:",
		    (now_us() - t0) / ROUNDS);
	}
	return 0;
}
