/*
 * coexec: run a command colocated with another member of the domain: with
 * the vector that process was given, as if it had run the command itself.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "toolutil.h"

static void
usage(void)
{
	fprintf(stderr, "usage: coexec pid command [args ...]\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	char *end;
	long pid;

	if (getopt(argc, argv, "+") != -1)
		usage();
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	errno = 0;
	pid = strtol(argv[0], &end, 10);
	if (errno != 0 || end == argv[0] || *end != '\0' || pid <= 0 ||
	    (pid_t)pid != pid)
		errx(EXIT_USAGE, "bad pid: %s", argv[0]);
	coexecvpc((pid_t)pid, argv[1], argv + 1, NULL, 0);
	/* The pid's errors come before any exec is tried. */
	if (errno == EPERM)
		errx(1, "pid %ld: not ours to colocate with (another user, or "
		    "not to be inspected)", pid);
	if (errno == ESRCH)
		errx(1, "pid %ld: no such member of this domain", pid);
	err(errno == ENOENT ? 127 : 126, "%s", argv[1]);
}
