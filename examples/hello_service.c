/*
 * hello_service: a co-process service.  It registers a target, puts it in
 * slot 9 of its capability vector, runs a command with that vector, and
 * answers each call with a greeting naming the caller's pid as the kernel
 * vouches for it.
 *
 *	hello_service command [args ...]
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <comsg/capv.h>
#include <comsg/cocall.h>

#define HELLO_SLOT	9

int
main(int argc, char **argv)
{
	char in[256], out[512];
	void *target, *cookie, **capv;
	size_t outlen = 0;
	int capc, status;
	pid_t child, caller;
	ssize_t n;

	if (argc < 2) {
		fprintf(stderr, "usage: hello_service command [args ...]\n");
		return 2;
	}
	if (coregister(NULL, &target) < 0)
		err(1, "coregister");
	if (capvfetch(&capc, &capv) < 0 ||
	    capvset(&capc, &capv, HELLO_SLOT, target) < 0)
		err(1, "capvset");
	child = fork();
	if (child < 0)
		err(1, "fork");
	if (child == 0) {
		/* The child inherits the vector, slot 9 included. */
		execvp(argv[1], argv + 1);
		err(127, "%s", argv[1]);
	}
	printf("hello_service: pid %d serving slot %d, running %s (pid %d)\n",
	    (int)getpid(), HELLO_SLOT, argv[1], (int)child);
	fflush(stdout);
	for (;;) {
		struct comsg m = { .out = out, .outlen = outlen, .in = in,
		    .inlen = sizeof(in) - 1 };

		/* Wake up now and then to see whether the command is done. */
		n = coacceptv(&cookie, NULL, &m, 0, 200);
		if (n < 0 && errno == ETIMEDOUT) {
			outlen = 0;
			if (waitpid(child, &status, WNOHANG) == child)
				break;
			continue;
		}
		if (n < 0)
			err(1, "coaccept");
		if ((size_t)n > sizeof(in) - 1)
			n = sizeof(in) - 1;
		in[n] = '\0';
		if (cocachedpid(&caller, cookie) < 0)
			caller = -1;
		outlen = (size_t)snprintf(out, sizeof(out),
		    "hello %s, pid %d; this is hello_service, pid %d",
		    in, (int)caller, (int)getpid()) + 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
