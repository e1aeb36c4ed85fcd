/*
 * comsg: compartments, co-processes colocated inside one host process.
 *
 * A compartment is an ELF shared object loaded into its own link-map
 * namespace (dlmopen), with its own heap region and its own stacks.  Other
 * parts of the program reach it only through the entry points it declares,
 * and share memory with it only through windows.  How strongly that is
 * enforced depends on the isolation mode, chosen at run time:
 *
 *   none      calls and windows work; nothing is isolated.
 *   mprotect  page permissions change on every switch (slow; one thread).
 *   mpk       a protection key per compartment; a switch writes PKRU.
 *   process   the compartment runs in its own process, reached by cocall;
 *             pointer arguments must point into windows.
 *
 * Every function that can fail returns -1 (or NULL) and sets errno on
 * failure (comsg(7), Conventions); a longer explanation of the last
 * failure of the calling thread is available from compart_error().  The
 * host (the program that loads compartments) is written as NULL wherever
 * a compartment is expected.
 */
#ifndef COMSG_COMPART_H
#define COMSG_COMPART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Isolation modes (compart_init(), compart_attr.mode). */
#define COMPART_NONE		0
#define COMPART_MPROTECT	1
#define COMPART_MPK		2
#define COMPART_PROCESS		3

/* Most compartments loaded at once in one process. */
#define COMPART_MAX		16
/* Most windows in existence at once. */
#define COMPART_WINDOWS_MAX	40
/* Most arguments of an entry point. */
#define COMPART_MAXARGS		32
/* Largest heap_size and stack_size (1 TiB); larger gives EINVAL. */
#define COMPART_SIZE_MAX	((size_t)1 << 40)

/*
 * Entry points.  A compartment declares each function others may call,
 * with its signature: the return type, then the argument types in
 * parentheses, one letter each:
 *   v void (return only)  i int  l long  p pointer  s string (char *)
 *   d double
 * e.g. COMPART_ENTRY(mix, "d(ipdpdl)").  Nothing else in the compartment
 * can be called from outside.
 */
struct compart_entry_desc {
	uint32_t	 magic;		/* COMPART_ENTRY_MAGIC */
	uint32_t	 version;	/* 1 */
	const char	*name;
	void		*fn;
	const char	*sig;
};
#define COMPART_ENTRY_MAGIC	0x43505445u	/* "ETPC" */
#define COMPART_ENTRY(fn, sig)						\
	__attribute__((visibility("default"), used))			\
	const struct compart_entry_desc __compart_entry_##fn =		\
	    { COMPART_ENTRY_MAGIC, 1, #fn, (void *)(fn), sig }

/* What compart_load() is told about a compartment; start from
 * compart_attr_init(). */
struct compart_attr {
	const char	*name;		/* for messages; default: file name */
	int		 mode;		/* -1: the process's mode */
	size_t		 heap_size;	/* bytes of heap region (default 64 MiB) */
	size_t		 stack_size;	/* bytes per stack (default 1 MiB);
					   both at most COMPART_SIZE_MAX */
	/* Entry points declared for the object by whoever loads it, for
	 * objects that cannot carry COMPART_ENTRY (a system library):
	 * "name:sig" strings, NULL-terminated; NULL for none. */
	const char *const *entries;
};

typedef struct compart compart_t;
typedef struct compart_window compart_window_t;

/*
 * Choose the isolation mode of the process before loading the first
 * compartment (without a call, the mode is COMPART_MODE from the
 * environment, else none).  Prints nothing; tools print
 * compart_mode_name(compart_mode()) themselves.
 * Errors: EINVAL (no such mode), EBUSY (compartments are loaded under
 * another mode), ENOTSUP (mpk: this CPU or kernel has no protection keys;
 * compart_error() says which).
 */
int	compart_init(int mode);

/* The isolation mode of the process, and the name of a mode ("none",
 * "mprotect", "mpk", "process"; NULL with EINVAL for no such mode); parse
 * a name, -1 with EINVAL for an unknown one. */
int	compart_mode(void);
const char *compart_mode_name(int mode);
int	compart_mode_parse(const char *name);

/*
 * Whether protection keys work here: 1 yes, 0 no, with the reason
 * written to why (at most len bytes, NUL included) either way.
 */
int	compart_mpk_check(char *why, size_t len);

/* The reason for the calling thread's last failure, in words (never NULL;
 * owned by the library, valid until the thread's next call). */
const char *compart_error(void);

void	compart_attr_init(struct compart_attr *attr);

/*
 * Load the shared object at path as a new compartment.  attr may be NULL
 * for the defaults.  The compartment belongs to the caller until
 * compart_unload().
 * Errors: ENOENT (no such file), ENOEXEC (not an ELF shared object for
 * this machine), ELIBACC (a library it needs, or a symbol, is missing),
 * EINVAL (bad attr: sizes 0 or above COMPART_SIZE_MAX, a stack under
 * 16 KiB; a bad entry declaration), EMFILE (too many
 * compartments: COMPART_MAX, the link-map namespaces or the static TLS
 * of this process), ENOSPC (mpk: no protection key left), ENOMEM,
 * ENOLINK (process mode: the compartment's process died while starting).
 */
compart_t *compart_load(const char *path, const struct compart_attr *attr);

/*
 * Unload a compartment; calls through its entry points fail from then on
 * (EINVAL) and windows it owns are destroyed.  No call into it may be in
 * progress.  Errors: EINVAL (not a loaded compartment), EPERM (called
 * from inside a compartment).
 */
int	compart_unload(compart_t *c);

/* The compartment's name, or "host" for NULL (owned by the library). */
const char *compart_name(const compart_t *c);

/*
 * A function pointer through which entry point name of c is called, with
 * the entry's own C type: cast it (COMPART_FN()).  The pointer stays
 * valid until c is unloaded.  A call that the compartment does not finish
 * (a violation of isolation, its process died, a pointer argument outside
 * any window in process mode) returns -1 (NaN for a double) with errno
 * EFAULT, ENOLINK or ENOMEM (no stack for the thread in c);
 * compart_last_violation() says more.
 * Errors: ENOENT (no such symbol), EPERM (the symbol exists but is not an
 * entry point), EINVAL (c is not loaded), ENFILE (no gate left).
 */
void	*compart_entry(compart_t *c, const char *name);
#define COMPART_FN(c, type, name)	((type)compart_entry((c), (name)))

/* The signature of an entry point (owned by the library); NULL with EINVAL
 * (c is not loaded) or ENOENT (no such entry point). */
const char *compart_entry_sig(compart_t *c, const char *name);

/*
 * The name of the i-th entry point of c (0, 1, ...), NULL with ENOENT
 * past the last one.
 */
const char *compart_entry_name(compart_t *c, int i);

/*
 * Call entry point name of c with arguments given as strings, converted
 * following its signature ("s" arguments are passed as they are; in
 * process mode they are copied into a window first).  The result is
 * written to res (at most reslen bytes, NUL included) in words: a number,
 * a pointer, or the string an "s" entry returned.  Needs libffi.
 * Errors: those of compart_entry(), EINVAL (wrong number of arguments, a
 * string that is not a number of the type), ENOSYS (built without
 * libffi), and those of the call.
 */
int	compart_callv(compart_t *c, const char *name, int argc,
	    char *const argv[], char *res, size_t reslen);

/*
 * Make the calls that compartment into makes to function sym go to entry
 * point entry of compartment from, through its gate: every reference to
 * sym in into's own object (declare it weak there, so that it may load
 * unresolved) is rebound.  Errors: ENOENT (into has no reference to sym),
 * those of compart_entry() for entry, EINVAL.
 */
int	compart_import(compart_t *into, const char *sym, compart_t *from,
	    const char *entry);

/*
 * Allocate and free memory in c's heap, from the host (for data handed to
 * c, e.g. structures it keeps).  The memory belongs to c: other
 * compartments reach it only through a window.  Errors: EINVAL, ENOMEM,
 * ENOTSUP (process mode: use a window).
 */
void	*compart_malloc(compart_t *c, size_t size);
void	 compart_free(compart_t *c, void *p);

/* Regions of a compartment, for compart_region(). */
#define COMPART_REGION_HEAP	0
#define COMPART_REGION_STACK	1	/* the calling thread's stack in c */
#define COMPART_REGION_DATA	2	/* the writable data (.data, .bss) of
					   c's own object, whole pages */

/*
 * Where a region of c lies: *addrp, *lenp.  Errors: EINVAL, ENOTSUP
 * (process mode), ENOMEM (no stack could be made).
 */
int	compart_region(compart_t *c, int which, void **addrp, size_t *lenp);

/*
 * Intercepts.  The calls c makes to functions that need the manager's
 * authority (system-call wrappers for files, sockets and processes; the
 * clock) go through the manager, which allows, denies (the call fails
 * with EACCES; time functions return -1) or logs them, each under c's
 * own policy.  what is a function name ("open"), a group ("file",
 * "net", "time", "proc") or "*".  The default is COMPART_ALLOW.  In
 * process mode, denying a whole group other than "time" also has the
 * kernel refuse its system calls to the compartment's process, for good.
 * Errors: EINVAL (no such function or group, bad action), EPERM (process
 * mode: allowing again what the kernel refuses), ENOLINK.
 */
#define COMPART_ALLOW	0
#define COMPART_DENY	1
#define COMPART_LOG	2	/* may be or'ed with the other two */
int	compart_policy(compart_t *c, const char *what, int action);

/* Where COMPART_LOG lines go (default: standard error). */
int	compart_log_fd(int fd);

/*
 * The names of the intercepted functions, one at a time (0, 1, ...), and
 * the group of each; NULL with ENOENT past the last.
 */
const char *compart_intercept_name(int i, const char **groupp);

/*
 * Windows.  A window is a set of page ranges of its owner's memory
 * (owner NULL: the host) that the owner opens to chosen compartments and
 * can take back.  Memory outside windows is private to its compartment.
 * Ranges are whole pages.  A window belongs to the caller until
 * compart_window_destroy(), which returns its ranges to the owner (and
 * unmaps what compart_window_alloc() gave).
 * compart_window_create errors: EINVAL, ENFILE (COMPART_WINDOWS_MAX),
 * ENOSPC (mpk: no protection key left).
 * compart_window_alloc: len bytes of fresh zeroed shared memory, rounded
 * up to pages, added to w: the memory to use for pointer arguments in
 * process mode.  Errors: EINVAL (len 0), ENOMEM (the arena, 256 MiB for
 * all windows, has no room: any len up to SIZE_MAX).
 * compart_window_add/remove errors: EINVAL (not whole pages; past the
 * top of the address space; not the owner's memory: for the host, not
 * all mapped or held by another; already in a window; not in this
 * window).
 * compart_window_open/close errors: EINVAL (bad window or compartment).
 */
compart_window_t *compart_window_create(compart_t *owner);
void	*compart_window_alloc(compart_window_t *w, size_t len);
int	compart_window_add(compart_window_t *w, void *addr, size_t len);
int	compart_window_remove(compart_window_t *w, void *addr, size_t len);
int	compart_window_open(compart_window_t *w, compart_t *to);
int	compart_window_close(compart_window_t *w, compart_t *to);
int	compart_window_destroy(compart_window_t *w);

/*
 * A violation of isolation: a compartment touched memory it may not.  It
 * is reported on standard error, and the call into the compartment that
 * did it fails (EFAULT).  compart_last_violation() copies the calling
 * thread's last one into *v; 0 if there is one, -1 with ENOENT if none.
 */
struct compart_violation {
	char		 accessor[64];	/* the compartment that touched */
	char		 owner[64];	/* whose memory it was */
	void		*addr;
	int		 write;		/* 1: a write, 0: a read */
	int		 pkey;		/* mpk: the key of the page; else -1 */
};
int	compart_last_violation(struct compart_violation *v);
void	compart_clear_violation(void);

/*
 * Statistics: when on, every call through a gate counts on its edge
 * (caller, callee) with its time, at the price of a slower gate.
 * compart_stats_print() writes a table; compart_dot() a DOT graph of
 * who called whom and which windows are open to whom.  compart_stats()
 * cannot fail; the other two fail with EIO when writing fails.
 */
int	compart_stats(int on);
int	compart_stats_print(FILE *f);
int	compart_dot(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
