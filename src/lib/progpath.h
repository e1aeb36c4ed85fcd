/*
 * Finding a program of comsg's that a library starts (comsgd for libcomsg,
 * comsg-compart for libcompart): $ENV if set, else beside the library or
 * program that holds `anchor` (../tools/NAME, ../bin/NAME, NAME: the build
 * tree and an installation), else PREFIX/bin/NAME; and the environment
 * to give it.  Header-only: each
 * library carries its own copy, so neither exports it.
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
 * (COMSG_CAPV), for a program that inherits nothing of it: a calloc'd
 * array of the same strings, or NULL (ENOMEM). */
static inline char **
progpath_environ(void)
{
	char **envp;
	size_t n = 0;

	for (char **e = environ; *e != NULL; e++)
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	n = 0;
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, "COMSG_CAPV=", 11) != 0)
			envp[n++] = *e;
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

/* 0 with the path in out, or -1 with ENOENT. */
static inline int
progpath_find(const char *name, const char *env_var, const void *anchor,
    char *out, size_t size)
{
	static const char *const rel[] = { "../tools/", "../bin/", "" };
	const char *env = getenv(env_var);
	char self[PATH_MAX], path[PATH_MAX + 64];
	Dl_info info;

	if (env != NULL && env[0] != '\0')
		return progpath_try(env, out, size) ? 0 : (errno = ENOENT, -1);
	if (dladdr(anchor, &info) != 0 && info.dli_fname != NULL &&
	    realpath(info.dli_fname, self) != NULL) {
		char *slash = strrchr(self, '/');

		if (slash != NULL) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(path, sizeof(path), "%s/%s%s", self,
				    rel[i], name);
				if (progpath_try(path, out, size))
					return 0;
			}
		}
	}
	snprintf(path, sizeof(path), "%s/bin/%s", COMSG_PREFIX, name);
	if (progpath_try(path, out, size))
		return 0;
	errno = ENOENT;
	return -1;
}

#endif
