/*
 * comsg: the capability vector, an array of capabilities a process
 * inherits from its parent across fork and exec, like open files.
 *
 * Every function returns -1 and sets errno on failure (coexecvpc()
 * returns only then).  Services found in a vector report their errors in
 * their replies instead (capv_return_t below).
 */
#ifndef COMSG_CAPV_H
#define COMSG_CAPV_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest vector: slots 0 .. CAPV_MAX - 1. */
#define CAPV_MAX	256

/*
 * The calling process's vector: *capcp slots at *capvp, NULL where a slot
 * is empty; capc 0 when there is none.  The array belongs to the library:
 * read it, or pass it to capvset() to change the process's vector, never
 * free it.
 * Errors: EINVAL (a NULL argument).
 */
int	capvfetch(int *capcp, void ***capvp);

/*
 * Store cap (or NULL) in slot index of the vector (*capcp, *capvp),
 * growing it as needed; *capvp must be NULL, an array from malloc(3) or
 * capvset(), or the process's own vector from capvfetch().  On the
 * process's own vector the change is the process's: its children started
 * from then on inherit it.  Errors: EINVAL (index out of 0..CAPV_MAX-1,
 * cap not a live capability), ENOMEM.
 */
int	capvset(int *capcp, void ***capvp, int index, void *cap);

/*
 * Replace the calling process with file (searched in PATH like execvp(3))
 * run with argv and the vector (capv, capc).  pid names whose vector
 * capv NULL stands for: 0 the caller's own, or another member of the
 * caller's domain (a process of the same user whose COMSG_DIR is the
 * caller's), whose vector as it was given to it at exec is taken.
 * Returns only on failure.  Errors: EPERM (pid belongs to another user or
 * may not be inspected), ESRCH (no such process, or not in the caller's
 * domain), EINVAL (capc out of range, a slot not a live capability),
 * and those of execvp(3).
 */
int	coexecvpc(pid_t pid, const char *file, char *const argv[],
	    void **capv, int capc);

/*
 * Message conventions of services found in a vector.  Every request and
 * reply starts with len (of the whole message) and op; a reply's op is
 * minus the request's.  Op 0 asks any service to describe itself (the
 * answerback).  Errors travel in the reply (error -1 and errno_), never as
 * a failed cocall; a request of the wrong size is answered with errno_
 * ENOMSG.  Services check every request as untrusted input.
 */
typedef struct {
	size_t	len;
	int	op;
} capv_t;

#define CAPV_ANSWERBACK		0
#define CAPV_ANSWERBACK_MAX	1024

typedef struct {
	size_t	len;
	int	op;			/* 0 */
	char	answerback[CAPV_ANSWERBACK_MAX];	/* NUL-terminated */
} capv_answerback_t;

/* An in-band error reply, for any op. */
typedef struct {
	size_t	len;
	int	op;
	int	error;			/* 0, or -1 with errno_ set */
	int	errno_;
} capv_return_t;

/* Well-known slots: even ones are reserved for well-known services, odd
 * ones are free for anyone. */
#define CAPV_CLOCKS		8
#define CAPV_BINDS		10

/* clocks(1): clock_gettime(2) as a service. */
#define CAPV_CLOCKS_GETTIME	1

typedef struct {
	size_t		len;
	int		op;		/* CAPV_CLOCKS_GETTIME */
	clockid_t	clock_id;
} capv_clocks_t;

typedef struct {
	size_t		len;
	int		op;		/* -CAPV_CLOCKS_GETTIME */
	int		error;
	int		errno_;
	struct timespec	ts;
} capv_clocks_return_t;

/* binds(1): bind(2) as a service; the socket travels as a descriptor
 * capability with the call (cocallv()). */
#define CAPV_BINDS_BIND		1

typedef struct {
	size_t		len;
	int		op;		/* CAPV_BINDS_BIND */
	socklen_t	addrlen;
	struct sockaddr_storage	addr;
} capv_binds_t;

typedef capv_return_t capv_binds_return_t;	/* op -CAPV_BINDS_BIND */

#ifdef __cplusplus
}
#endif
#endif
