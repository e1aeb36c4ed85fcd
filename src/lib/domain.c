/*
 * The domain: the co-processes of one user that share a runtime directory.
 * Which directory, and why it never depends on a path another user can
 * make, is domain_from()'s comment.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Is path a directory (not a symbolic link) that uid owns and that no one
 * else may enter?  lstat() only: a link another user planted is "no". */
static bool
dir_private_to(const char *path, uid_t uid)
{
	struct stat st;

	return sys_lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == uid && (st.st_mode & 0077) == 0;
}

/* Is path a directory (not a link) that uid owns and only uid may write,
 * so that no other user can create or replace an entry in it? */
static bool
dir_owned_by(const char *path, uid_t uid)
{
	struct stat st;

	return sys_lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == uid && (st.st_mode & 0022) == 0;
}

/* Say once per process, on stderr, that the shared default was taken by
 * someone else and where the domain is instead: the user has to know, or
 * processes started with XDG_RUNTIME_DIR or COMSG_DIR would seem to be
 * in another domain for no reason. */
static void
warn_default_taken(const char *taken, const char *instead)
{
	static atomic_bool said;

	if (atomic_exchange(&said, true))
		return;
	if (instead != NULL)
		dprintf(2, "comsg: %s is not a private directory of yours "
		    "(another user may have made it): using %s instead; set "
		    "XDG_RUNTIME_DIR or COMSG_DIR to choose the domain\n",
		    taken, instead);
	else
		dprintf(2, "comsg: %s is not a private directory of yours "
		    "(another user may have made it) and $HOME is no place "
		    "of yours to fall back on: set XDG_RUNTIME_DIR or "
		    "COMSG_DIR to a directory only you can write\n", taken);
}

/*
 * The domain's directory of a process of user uid, from the values of its
 * COMSG_DIR, XDG_RUNTIME_DIR and HOME (any NULL), the first of:
 *   1. $COMSG_DIR, which must be absolute;
 *   2. $XDG_RUNTIME_DIR/comsg, if absolute;
 *   3. /run/user/UID/comsg, if /run/user/UID is uid's private directory
 *      (what XDG_RUNTIME_DIR would be where the variable was lost, as
 *      under su or cron; only root can make it);
 *   4. /tmp/comsg-UID, if absent (the library makes it, 0700) or uid's
 *      private directory;
 *   5. $HOME/.comsg/HOSTNAME, if $HOME is a directory of uid's that only
 *      uid can write: /tmp/comsg-UID was made by someone else (any user
 *      can make that name in /tmp, and uid cannot remove it).
 * So a path another user can make is used only while it is uid's own,
 * and another user making it first moves the domain, never locks uid out.
 * If 5 is not possible either, 4 is returned and the library refuses it
 * (EACCES) with a message.  warn: the calling process's own domain: make
 * $HOME/.comsg for 5, and say on stderr when 4 was taken.
 */
int
domain_from(const char *d, const char *x, const char *home, uid_t uid,
    char *buf, size_t size, bool warn)
{
	char tmp[64], run[64], host[256];
	struct stat st;
	int n;

	if (d != NULL && d[0] != '\0') {
		/* Relative, the domain would change with the directory. */
		if (d[0] != '/') {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(buf, size, "%s", d);
		goto done;
	}
	if (x != NULL && x[0] == '/') {
		n = snprintf(buf, size, "%s/comsg", x);
		goto done;
	}
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)uid);
	if (dir_private_to(run, uid)) {
		n = snprintf(buf, size, "%s/comsg", run);
		goto done;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/comsg-%u", (unsigned)uid);
	if ((sys_lstat(tmp, &st) < 0 && errno == ENOENT) ||
	    dir_private_to(tmp, uid)) {
		n = snprintf(buf, size, "%s", tmp);
		goto done;
	}
	if (home != NULL && home[0] == '/' && dir_owned_by(home, uid) &&
	    gethostname(host, sizeof(host)) == 0 && host[0] != '\0' &&
	    strchr(host, '/') == NULL) {
		host[sizeof(host) - 1] = '\0';
		n = snprintf(buf, size, "%s/.comsg", home);
		if (warn && n >= 0 && (size_t)n < size)
			(void)sys_mkdir(buf, 0700);	/* the domain's parent */
		n = snprintf(buf, size, "%s/.comsg/%s", home, host);
		if (warn && n >= 0 && (size_t)n < size)
			warn_default_taken(tmp, buf);
		goto done;
	}
	if (warn)
		warn_default_taken(tmp, NULL);
	n = snprintf(buf, size, "%s", tmp);
done:
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
	    getenv("HOME"), geteuid(), buf, size, true);
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
	if (pid <= 0 || sys_stat(path, &st) < 0) {
		errno = ESRCH;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		errno = errno == ENOENT ? ESRCH : EPERM;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= room) {
			char *p = realloc(env, room ? 2 * room : 4096);

			if (p == NULL) {
				free(env);
				sys_close(fd);
				errno = ENOMEM;
				return NULL;
			}
			env = p;
			room = room ? 2 * room : 4096;
		}
		n = sys_read(fd, env + len, room - len - 1);
		if (n < 0) {
			free(env);
			sys_close(fd);
			errno = EPERM;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	sys_close(fd);
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
	    env_lookup(env, len, "XDG_RUNTIME_DIR"),
	    env_lookup(env, len, "HOME"), uid, buf, size, false);
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

	if (sys_mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (sys_lstat(dir, &st) < 0)
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
