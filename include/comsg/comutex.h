/*
 * comsg: named mutexes shared between processes (comutexes), made by the
 * comsgd microkernel.  Uncontended colock()/counlock() make no system
 * call; a holder that dies leaves the next locker with EOWNERDEAD, never
 * a deadlock.  Functions return 0, or an errno value (like pthread
 * mutexes), never -1, and do not report through errno: "Errors" below
 * are the values returned (comsg(7), Conventions).
 */
#ifndef COMSG_COMUTEX_H
#define COMSG_COMUTEX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-allocated; its contents belong to the library. */
struct comutex {
	uint64_t	opaque[4];
};
typedef struct comutex comutex_t;

/*
 * Open the comutex called name (COPORT_NAMEMAX characters at most, as for
 * ports), creating it unlocked if no process holds one; starts comsgd if
 * none runs.  The process holds it until comutex_destroy() or exit.
 * Errors: EINVAL (bad name or mtx), ENAMETOOLONG (name longer than
 * COPORT_NAMEMAX), ENOPKG (no comsgd runs, and none could be found or
 * started), ENOLINK, ENOMEM, EMFILE, ENFILE, EPROTO, and those of
 * coopen(2) about the domain.
 */
int	comutex_init(const char *name, comutex_t *mtx);

/*
 * Lock, waiting as long as another thread (of any process) holds it.
 * Returns 0, or EOWNERDEAD: the holder died holding it; the caller now
 * holds it, and should repair the protected state and call
 * comutex_consistent() before counlock(), or every later locker gets
 * ENOTRECOVERABLE.  Errors: EINVAL (not an open comutex), EDEADLK (the
 * caller holds it already), ENOTRECOVERABLE.
 */
int	colock(comutex_t *mtx);

/* colock() without waiting: EBUSY if another thread holds it. */
int	cotrylock(comutex_t *mtx);

/* Unlock.  Errors: EINVAL, EPERM (the caller does not hold it). */
int	counlock(comutex_t *mtx);

/* Mark a comutex taken with EOWNERDEAD consistent again.  Errors: EINVAL
 * (the caller does not hold it after EOWNERDEAD). */
int	comutex_consistent(comutex_t *mtx);

/* Close the comutex (it must not be held by the caller): mtx becomes
 * invalid.  A comutex nobody holds open is gone, with its name.
 * Errors: EINVAL, EBUSY (the caller holds it locked). */
int	comutex_destroy(comutex_t *mtx);

#ifdef __cplusplus
}
#endif
#endif
