/*
 * Requests to comsgd, for coports and comutexes (kernel.c).
 */
#ifndef COMSG_KERNEL_H
#define COMSG_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "coport_shm.h"

#define COMSGD_NAME		"comsgd"
#define KERNEL_TIMEOUT_MS	10000	/* a comsgd slower than this is wedged */

/*
 * Make request rq with capabilities outcaps (still the caller's); the
 * reply goes to rp, up to extralen more bytes of it to extra, and up to
 * *nin capabilities to incaps (the caller's; *nin becomes the count).
 * start: start comsgd if none runs (else ENOLINK).  Returns how many bytes
 * went to extra, or -1 with errno one of (kernel_errno() sees to it):
 * Errors: EINVAL, EMFILE, ENFILE (the reply's: a bad request, the caller's
 * bound, comsgd's), ENOLINK (comsgd died, or none runs and start is false),
 * ENOPKG (none runs, and none could be found or started), ETIMEDOUT
 * (comsgd does not answer), EPROTO (a reply that makes no sense), ENOMEM,
 * EFBIG (RLIMIT_FSIZE below the channel's shared memory), EACCES,
 * ENAMETOOLONG (the domain's directory).
 */
HIDDEN int	kernel_call(const struct corq *rq, void *const *outcaps, int nout,
		    struct corp *rp, void *extra, size_t extralen,
		    void **incaps, int *nin, bool start);
HIDDEN void	kernel_atfork_child(void);

#endif
