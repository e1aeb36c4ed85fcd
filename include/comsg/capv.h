/*
 * comsg: the capability vector, an array of capabilities a process
 * inherits from its parent across fork and exec, like open files.
 */
#ifndef COMSG_CAPV_H
#define COMSG_CAPV_H

#include <sys/types.h>

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

#ifdef __cplusplus
}
#endif
#endif
