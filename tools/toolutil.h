/*
 * What the co-process tools share: reading the vector, asking a service
 * for its answerback, escaping bytes for display, and running a service
 * (clocks, binds, copong) over a command.
 */
#ifndef COMSG_TOOLUTIL_H
#define COMSG_TOOLUTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include <comsg/capv.h>
#include <comsg/cocall.h>

/* Exit codes, like the BSD tools: 0 fine, 1 failed, 2 bad usage. */
#define EXIT_USAGE	2

/* The op of a reply to a request of op op: minus it, without overflow (a
 * hostile INT_MIN stays INT_MIN). */
static inline int
tool_reply_op(int op)
{
	return (int)(0u - (unsigned)op);
}

/* The capability in slot index of our vector, or NULL. */
void	*tool_slot(int index);

/*
 * A call to a service we did not make ourselves may take this long, so
 * that one that never answers is reported, not waited for for ever: the
 * seconds of a tool's -t flag, else of $COMSG_TIMEOUT, else the default.
 * 0 seconds: no limit.
 */
#define TOOL_TIMEOUT_MS	5000

/* Milliseconds for a number of seconds ("2", "0.5"; "0": -1, no limit),
 * or -2 if s is not one. */
static inline int
tool_parse_timeout(const char *s)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -2;
	v = strtod(s, &end);
	if (*end != '\0' || !(v >= 0) || v > 2000000)
		return -2;
	if (v == 0)
		return -1;
	return v * 1000 < 1 ? 1 : (int)(v * 1000 + 0.5);
}

/* The same for a preload library, which must not exit: $COMSG_TIMEOUT,
 * or the default if it is unset or bad. */
static inline int
tool_env_timeout(void)
{
	int ms = tool_parse_timeout(getenv("COMSG_TIMEOUT"));

	return ms == -2 ? TOOL_TIMEOUT_MS : ms;
}

/* The timeout in milliseconds (-1: none): arg (a -t flag's, or NULL),
 * else $COMSG_TIMEOUT, else TOOL_TIMEOUT_MS.  Exits on a bad value. */
int	 tool_timeout(const char *arg);

/* Ask the service behind cap for its answerback (op 0) into buf, waiting
 * at most timeout_ms (-1: no limit).  Errors: those of cocallv(), and
 * the errno of an in-band error reply (an interposer's, cotrace(1)'s). */
int	 tool_answerback(void *cap, bool slow, int timeout_ms, char *buf,
	    size_t size);

/* Print n bytes as a C string body: printable ASCII as is, the rest
 * escaped (\0, \n, \020, ...).  At most max characters of output, then
 * "..." (max 0: no limit). */
void	 tool_vis(FILE *f, const void *p, size_t n, size_t max);

/* Parse a non-negative decimal slot number, or -1. */
int	 tool_slotarg(const char *s);

/* A service in the style of clocks(1): a target at a slot of the vector,
 * handed to a command that runs as our child. */
struct service {
	const char	*name;		/* "clocks" */
	int		 slot;		/* CAPV_CLOCKS */
	bool		 slow;		/* -k: accept through the kernel */
	bool		 verbose;	/* -v: log each call */
	bool		 nosandbox;	/* -C */
	char		*const *argv;	/* command to run */
	/* Describe the service (after "name(1), pid N, "). */
	void		(*describe)(struct service *, char *buf, size_t size);
	/* Answer one request (other than op 0; it is checked to hold at
	 * least a capv_t): fill out, return its length. */
	size_t		(*handle)(struct service *, const void *in, size_t len,
			    void **caps, int ncaps, void *out, size_t room);
	const int	*syscalls;	/* extra system calls the sandbox allows */
	void		*arg;
};

/* Run it: returns the command's exit status, or 1 if the service failed. */
int	 service_run(struct service *s);

/* Enter the sandbox, every thread of the process: only what serving calls
 * needs, plus extra (-1 ended); any other system call fails with EPERM. */
int	 tool_sandbox(const int *extra);

/* The path of a helper file installed next to the tools (a preload
 * library), or NULL. */
const char *tool_libpath(const char *file, char *buf, size_t size);

/* Add a preload library installed next to the tools (tool_libpath()) to
 * LD_PRELOAD, after what is there, for the commands we run.  Returns 0,
 * or -1 if the library is not found. */
int	 tool_preload(const char *file);

/* Find comsgd as libcomsg would to start it (comsgd(1)): true with its
 * path, else false after telling f (if not NULL) everywhere it looked
 * and what to do. */
bool	 tool_comsgd_where(FILE *f, char *path, size_t size);

#endif
