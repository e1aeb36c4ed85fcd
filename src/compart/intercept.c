/*
 * Intercepts: the stubs of the shim hand every call a compartment makes to
 * a privileged function (intercepts.h) to intercept_dispatch(), which
 * applies the calling compartment's policy (allow, deny, log) and then
 * calls the real function: the one the compartment's own libc provides,
 * so that its descriptors, FILEs and errno stay its own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "intercepts.h"

static const struct icpt {
	const char	*name, *group;
	int		 path;
} icpt[] = {
#define X(name, group, path)	{ #name, #group, path },
	COMPART_INTERCEPTS(X)
#undef X
};
#define NICPT	(int)(sizeof(icpt) / sizeof(icpt[0]))
_Static_assert(NICPT <= NINTERCEPTS, "room for every intercept");

static int log_fd = 2;		/* compart_log_fd() */

int
intercept_index(const char *name)
{
	int i;

	for (i = 0; i < NICPT; i++)
		if (strcmp(icpt[i].name, name) == 0)
			return i;
	return -1;
}

const char *
compart_intercept_name(int i, const char **groupp)
{
	if (i < 0 || i >= NICPT) {
		errno = ENOENT;
		return NULL;
	}
	if (groupp != NULL)
		*groupp = icpt[i].group;
	return icpt[i].name;
}

/* The real functions: the definitions that follow the shim's in c's
 * namespace, that is its libc's. */
int
intercepts_bind(struct compart *c)
{
	void *libc = dlmopen(c->lmid, "libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	int i;

	for (i = 0; i < NICPT; i++)
		c->next_fn[i] = libc != NULL ? dlsym(libc, icpt[i].name) : NULL;
	if (libc != NULL)
		dlclose(libc);
	return 0;
}

int
policy_apply(struct compart *c, const char *what, int action)
{
	int i, n = 0;

	for (i = 0; i < NICPT; i++)
		if (strcmp(what, "*") == 0 || strcmp(what, icpt[i].name) == 0 ||
		    strcmp(what, icpt[i].group) == 0) {
			__atomic_store_n(&c->policy[i], (uint8_t)action,
			    __ATOMIC_RELAXED);
			n++;
		}
	if (n == 0)
		return set_err(EINVAL, "no intercepted function or group %s",
		    what);
	return 0;
}

int
compart_log_fd(int fd)
{
	if (fd < 0)
		return set_err(EBADF, "bad descriptor");
	log_fd = fd;
	return 0;
}

int
intercept_log_fd(void)
{
	return log_fd;
}

/* A path argument for the log: the compartment's memory, so bounded. */
static void
log_call(struct compart *c, int i, long a0, long a1, long a2, bool denied)
{
	char arg[96];

	if (icpt[i].path && a0 != 0) {
		const char *p = (const char *)a0;
		size_t n = strnlen(p, 64);

		snprintf(arg, sizeof(arg), "\"%.*s\"%s", (int)n, p,
		    n == 64 ? "..." : "");
	} else
		snprintf(arg, sizeof(arg), "%#lx", (unsigned long)a0);
	dprintf(log_fd, "compart: %s: %s(%s, %#lx, %#lx) %s\n", c->name,
	    icpt[i].name, arg, (unsigned long)a1, (unsigned long)a2,
	    denied ? "denied" : "allowed");
}

/* Runs on the compartment's stack, with its protection in force. */
long
intercept_dispatch(int i, long a0, long a1, long a2, long a3, long a4,
    long a5)
{
	struct compart *c = compart_at(compart_thr.cur);
	long (*fn)(long, long, long, long, long, long);
	int action;

	if (c == NULL || i < 0 || i >= NICPT) {
		errno = EPERM;
		return -1;
	}
	action = __atomic_load_n(&c->policy[i], __ATOMIC_RELAXED);
	if (action & COMPART_LOG)
		log_call(c, i, a0, a1, a2, action & COMPART_DENY);
	fn = (long (*)(long, long, long, long, long, long))c->next_fn[i];
	if ((action & COMPART_DENY) || fn == NULL) {
		int err = (action & COMPART_DENY) ? EACCES : ENOSYS;

		if (c->errno_loc != NULL)
			*c->errno_loc() = err;
		errno = err;
		/* fopen(), opendir() fail with NULL: 0 here */
		return strcmp(icpt[i].name, "fopen") == 0 ||
		    strcmp(icpt[i].name, "fopen64") == 0 ||
		    strcmp(icpt[i].name, "opendir") == 0 ? 0 : -1;
	}
	return fn(a0, a1, a2, a3, a4, a5);
}
