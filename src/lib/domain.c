/*
 * The domain: the co-processes of one user that share a runtime directory,
 * $COMSG_DIR, else $XDG_RUNTIME_DIR/comsg, else /tmp/comsg-$UID.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The domain's directory, from the values of COMSG_DIR and
 * XDG_RUNTIME_DIR (either NULL) of a process of user uid. */
int
domain_from(const char *d, const char *x, uid_t uid, char *buf, size_t size)
{
	int n;

	if (d != NULL && d[0] != '\0') {
		/* Relative, the domain would change with the directory. */
		if (d[0] != '/') {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(buf, size, "%s", d);
	} else if (x != NULL && x[0] == '/') {
		n = snprintf(buf, size, "%s/comsg", x);
	} else {
		n = snprintf(buf, size, "/tmp/comsg-%u", (unsigned)uid);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
domain_dir(char *buf, size_t size)
{
	return domain_from(getenv("COMSG_DIR"), getenv("XDG_RUNTIME_DIR"),
	    geteuid(), buf, size);
}

/* The environment another process started with (NUL-separated, malloc'd,
 * *lenp bytes) and its owner.  Errors: ESRCH (no such process), EPERM
 * (may not be read), ENOMEM. */
char *
proc_environ(pid_t pid, size_t *lenp, uid_t *uidp)
{
	char path[64], *env = NULL;
	size_t len = 0, room = 0;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (pid <= 0 || stat(path, &st) < 0) {
		errno = ESRCH;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = errno == ENOENT ? ESRCH : EPERM;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= room) {
			char *p = realloc(env, room ? 2 * room : 4096);

			if (p == NULL) {
				free(env);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			env = p;
			room = room ? 2 * room : 4096;
		}
		n = read(fd, env + len, room - len - 1);
		if (n < 0) {
			free(env);
			close(fd);
			errno = EPERM;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	env[len] = '\0';
	*lenp = len;
	*uidp = st.st_uid;
	return env;
}

/* The value of var in a NUL-separated environment block, or NULL. */
const char *
env_lookup(const char *env, size_t len, const char *var)
{
	size_t vl = strlen(var), i = 0;

	while (i < len) {
		const char *e = env + i;
		size_t el = strnlen(e, len - i);

		if (el > vl && strncmp(e, var, vl) == 0 && e[vl] == '=')
			return e + vl + 1;
		i += el + 1;
	}
	return NULL;
}

int
codomainof(pid_t pid, char *buf, size_t size)
{
	size_t len;
	uid_t uid;
	char *env;
	int r;

	if (buf == NULL || size == 0) {
		errno = EINVAL;
		return -1;
	}
	env = proc_environ(pid, &len, &uid);
	if (env == NULL)
		return -1;
	r = domain_from(env_lookup(env, len, "COMSG_DIR"),
	    env_lookup(env, len, "XDG_RUNTIME_DIR"), uid, buf, size);
	free(env);
	return r;
}

int
codomain(char *buf, size_t size)
{
	if (buf == NULL || size == 0) {
		errno = EINVAL;
		return -1;
	}
	return domain_dir(buf, size);
}

/* Create dir (mode 0700) if missing; refuse one that another user owns or
 * that others can enter, since the names in it are how capabilities are
 * found. */
static int
private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 0077) != 0) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* The domain's subdirectory sub ("names", "gates"), created if needed. */
int
domain_subdir(const char *sub, char *buf, size_t size)
{
	char dir[4096];
	int n;

	if (domain_dir(dir, sizeof(dir)) < 0 || private_dir(dir) < 0)
		return -1;
	n = snprintf(buf, size, "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return private_dir(buf);
}

/* Names: [A-Za-z0-9._-], 1 to COCALL_NAMEMAX characters, not "." or "..". */
bool
name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];

		if (i >= COCALL_NAMEMAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return false;
	}
	return true;
}
