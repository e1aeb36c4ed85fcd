/*
 * comsg-compart: the process a compartment in process mode runs in.
 * libcompart starts it with a socket as descriptor 3 and its own pid as
 * the argument; it dies with that process.  Not for running by hand.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"

int
main(int argc, char **argv)
{
	char *end;
	long parent;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	parent = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	if (argc != 2 || *end != '\0' || parent != (long)getppid()) {
		fprintf(stderr, "comsg-compart: started by libcompart for a "
		    "compartment in process mode, not by hand\n");
		return 2;
	}
	proc_serve();
}
