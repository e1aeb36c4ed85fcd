/*
 * clocks: clock_gettime(2) as a service.  Serves at slot 8 of the vector
 * and runs a command with it; with libclocks.so preloaded into the
 * command, clock_gettime() in unmodified programs is answered here.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "toolutil.h"

static void
usage(void)
{
	fprintf(stderr, "usage: clocks [-Ckv] command [args ...]\n");
	exit(EXIT_USAGE);
}

static void
describe(struct service *s, char *buf, size_t size)
{
	(void)s;
	snprintf(buf, size, "responding to clock_gettime()");
}

static size_t
handle(struct service *s, const void *in, size_t len, void **caps, int ncaps,
    void *out, size_t room)
{
	const capv_clocks_t *req = in;
	capv_clocks_return_t *rep = out;

	(void)s;
	(void)caps;
	(void)ncaps;
	(void)room;
	memset(rep, 0, sizeof(*rep));
	rep->len = sizeof(*rep);
	rep->op = tool_reply_op(req->op);
	if (req->op != CAPV_CLOCKS_GETTIME) {
		rep->error = -1;
		rep->errno_ = EOPNOTSUPP;
	} else if (len != sizeof(*req) || req->len != sizeof(*req)) {
		rep->error = -1;
		rep->errno_ = ENOMSG;
	} else if (clock_gettime(req->clock_id, &rep->ts) < 0) {
		rep->error = -1;
		rep->errno_ = errno;
	}
	return sizeof(*rep);
}

int
main(int argc, char **argv)
{
	static const int extra[] = { -1 };
	struct service s = {
		.name = "clocks", .slot = CAPV_CLOCKS, .describe = describe,
		.handle = handle, .syscalls = extra,
	};
	int ch;

	while ((ch = getopt(argc, argv, "+Ckv")) != -1) {
		switch (ch) {
		case 'C': s.nosandbox = true; break;
		case 'k': s.slow = true; break;
		case 'v': s.verbose = true; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	s.argv = argv + optind;
	/* Preload the client side into the command, after what is there. */
	if (tool_preload("libclocks.so") < 0)
		warnx("libclocks.so not found: clock_gettime() is served only "
		    "to programs that call the service themselves");
	return service_run(&s);
}
