/*
 * Finding a program of comsg's that a library starts (comsgd for libcomsg,
 * comsg-compart for libcompart), in the order of progpath_each(), and the
 * environment to give it.  Header-only: each library (and a tool that
 * says where it looked) carries its own copy, so none exports it.
 */
#ifndef COMSG_PROGPATH_H
#define COMSG_PROGPATH_H

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COMSG_PREFIX
#define COMSG_PREFIX "/usr/local"
#endif

extern char **environ;

/* This process's environment without its capability vector
 * (COMSG_CAPV), for a program that inherits nothing of it, with add
 * ("NAME=value", or NULL) in place of any NAME of ours: a calloc'd array
 * of the same strings, or NULL (ENOMEM). */
static inline char **
progpath_environ(const char *add)
{
	size_t n = 0, addlen = add != NULL ? strcspn(add, "=") + 1 : 0;
	char **envp;

	for (char **e = environ; *e != NULL; e++)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	n = 0;
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, "COMSG_CAPV=", 11) != 0 &&
		    (add == NULL || strncmp(*e, add, addlen) != 0))
			envp[n++] = *e;
	if (add != NULL)
		envp[n] = (char *)add;
	return envp;
}

/* Is path an executable regular file?  Then copy it to out. */
static inline bool
progpath_try(const char *path, char *out, size_t size)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    access(path, X_OK) < 0 || strlen(path) >= size)
		return false;
	strcpy(out, path);
	return true;
}

/*
 * The places name is looked for, in order, each given to fn until fn
 * returns true (then so do we): the value of env_var alone, if set and
 * not empty; else ../tools/NAME, ../bin/NAME and NAME beside the library
 * or program that holds `anchor` (the build tree, an installation); each
 * absolute directory of PATH (a relative one would make a daemon started
 * by a library depend on the working directory); PREFIX/bin/NAME.
 * what says which rule a place comes from ("$COMSGD", "beside ...",
 * "PATH", "prefix"), for a tool that explains where it looked.
 */
static inline bool
progpath_each(const char *name, const char *env_var, const void *anchor,
    bool (*fn)(const char *path, const char *what, void *arg), void *arg)
{
	static const char *const rel[] = { "../tools/", "../bin/", "" };
	const char *env = getenv(env_var), *dirs = getenv("PATH");
	char self[PATH_MAX], path[PATH_MAX + 64];
	Dl_info info;

	if (env != NULL && env[0] != '\0')
		return fn(env, env_var, arg);
	if (dladdr(anchor, &info) != 0 && info.dli_fname != NULL &&
	    realpath(info.dli_fname, self) != NULL) {
		char *slash = strrchr(self, '/');

		if (slash != NULL) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(path, sizeof(path), "%s/%s%s", self,
				    rel[i], name);
				if (fn(path, "beside the library or program", arg))
					return true;
			}
		}
	}
	while (dirs != NULL && *dirs != '\0') {
		size_t n = strcspn(dirs, ":");

		if (dirs[0] == '/' && n < PATH_MAX) {
			snprintf(path, sizeof(path), "%.*s/%s", (int)n, dirs,
			    name);
			if (fn(path, "PATH", arg))
				return true;
		}
		dirs += n + (dirs[n] == ':');
	}
	snprintf(path, sizeof(path), "%s/bin/%s", COMSG_PREFIX, name);
	return fn(path, "prefix", arg);
}

struct progpath_out {
	char	*out;
	size_t	 size;
};

static inline bool
progpath_found(const char *path, const char *what, void *arg)
{
	struct progpath_out *o = arg;

	(void)what;
	return progpath_try(path, o->out, o->size);
}

/* 0 with the path in out, or -1 with ENOENT. */
static inline int
progpath_find(const char *name, const char *env_var, const void *anchor,
    char *out, size_t size)
{
	struct progpath_out o = { out, size };

	if (progpath_each(name, env_var, anchor, progpath_found, &o))
		return 0;
	errno = ENOENT;
	return -1;
}

#endif
