/*
 * The domain: the co-processes of one user that share a runtime directory.
 * Which directory is domain_from()'s comment; why the default one never
 * rests on a path another user can make, default_dir()'s.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
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

/* Is home a directory that uid owns and only uid may write, so that no
 * other user can create or replace an entry in it?  A link is followed:
 * $HOME is the user's own setting, and a link of the user's may lead to
 * the real home. */
static bool
home_of(const char *home, uid_t uid)
{
	struct stat st;

	return home != NULL && home[0] == '/' && sys_stat(home, &st) == 0 &&
	    S_ISDIR(st.st_mode) && st.st_uid == uid && (st.st_mode & 0022) == 0;
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
		    "(another user may have made it) and $HOME is no "
		    "directory of yours that only you can write, to fall "
		    "back on: set XDG_RUNTIME_DIR or COMSG_DIR to a directory "
		    "only you can write\n", taken);
}

/*
 * The default domain's directory of a process of user uid whose COMSG_DIR
 * and XDG_RUNTIME_DIR are unset, the first of:
 *   1. /run/user/UID/comsg, if /run/user/UID is uid's private directory
 *      (what XDG_RUNTIME_DIR would be where the variable was lost, as
 *      under su or cron; only root can make it);
 *   2. /tmp/comsg-UID, if absent (the library makes it, 0700) or uid's
 *      private directory, and not refused by this process before (tmp_no);
 *   3. $HOME/.comsg/HOSTNAME, if $HOME is a directory of uid's that only
 *      uid can write: /tmp/comsg-UID was made by someone else (any user
 *      can make that name in /tmp, and uid cannot remove it).
 * So a path another user can make is used only while it is uid's own,
 * and another user making it first moves the domain, never into a place
 * of theirs.  If 3 is not possible either, 2 is returned (the library
 * refuses it with EACCES).  *in_home: 3 was chosen; *taken: 2 was taken
 * by someone else (for warn_default_taken()).  No libc function a program
 * could wrap is called here: a lock of ours may be held.
 */
static int
default_dir(const char *home, uid_t uid, bool tmp_no, char *buf, size_t size,
    bool *in_home, bool *taken)
{
	char tmp[64], run[64];
	struct utsname u;
	struct stat st;
	int n;

	*in_home = *taken = false;
	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)uid);
	if (dir_private_to(run, uid)) {
		n = snprintf(buf, size, "%s/comsg", run);
		goto done;
	}
	snprintf(tmp, sizeof(tmp), "/tmp/comsg-%u", (unsigned)uid);
	if (!tmp_no && ((sys_lstat(tmp, &st) < 0 && errno == ENOENT) ||
	    dir_private_to(tmp, uid))) {
		n = snprintf(buf, size, "%s", tmp);
		goto done;
	}
	*taken = true;
	if (home_of(home, uid) && sys_uname(&u) == 0 &&
	    u.nodename[0] != '\0' && u.nodename[0] != '.' &&
	    memchr(u.nodename, '/', sizeof(u.nodename)) == NULL &&
	    memchr(u.nodename, '\0', sizeof(u.nodename)) != NULL) {
		n = snprintf(buf, size, "%s/.comsg/%s", home, u.nodename);
		*in_home = true;
		goto done;
	}
	n = snprintf(buf, size, "%s", tmp);
done:
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The domain's directory of a process of user uid, from the values of its
 * COMSG_DIR, XDG_RUNTIME_DIR and HOME (any NULL): $COMSG_DIR, which must
 * be absolute; else $XDG_RUNTIME_DIR/comsg, if absolute; else the default
 * (default_dir()), as it would be chosen now.
 */
int
domain_from(const char *d, const char *x, const char *home, uid_t uid,
    char *buf, size_t size)
{
	bool in_home, taken;
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
	} else
		return default_dir(home, uid, false, buf, size, &in_home, &taken);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * This process's default domain, chosen once and kept while it lives (and
 * in its forks): another user who makes or removes /tmp/comsg-UID later
 * must not move a running process away from the names it published.  A
 * new choice only where the user changed (setuid) or $HOME did, or where
 * /tmp/comsg-UID turned out not to be ours after all (default_refuse_tmp).
 */
static pthread_mutex_t default_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char	 dir[PATH_MAX];		/* "": not chosen yet */
	char	 home[PATH_MAX];	/* the $HOME it was chosen with */
	uid_t	 uid;
	bool	 in_home;		/* $HOME/.comsg/HOSTNAME */
	bool	 tmp_no;		/* /tmp/comsg-UID refused */
} dflt;

static int
default_domain(char *buf, size_t size, bool *in_home)
{
	const char *home = getenv("HOME");
	uid_t uid = geteuid();
	bool taken = false;
	int r = 0;

	pthread_mutex_lock(&default_mutex);
	if (dflt.dir[0] == '\0' || dflt.uid != uid ||
	    strcmp(dflt.home, home != NULL ? home : "") != 0) {
		if (dflt.uid != uid)
			dflt.tmp_no = false;
		r = default_dir(home, uid, dflt.tmp_no, dflt.dir,
		    sizeof(dflt.dir), &dflt.in_home, &taken);
		if (r < 0)
			dflt.dir[0] = '\0';
		dflt.uid = uid;
		snprintf(dflt.home, sizeof(dflt.home), "%s",
		    home != NULL ? home : "");
	}
	if (r == 0) {
		*in_home = dflt.in_home;
		if (snprintf(buf, size, "%s", dflt.dir) >= (int)size) {
			errno = ENAMETOOLONG;
			r = -1;
		}
	}
	pthread_mutex_unlock(&default_mutex);
	/* after the lock: a program may wrap what dprintf() calls */
	if (taken) {
		char tmp[64];

		snprintf(tmp, sizeof(tmp), "/tmp/comsg-%u", (unsigned)uid);
		warn_default_taken(tmp, r == 0 && *in_home ? buf : NULL);
	}
	return r;
}

/* /tmp/comsg-UID, chosen as the default, could not be made ours (another
 * user made or removed it between our look and our mkdir): choose again,
 * without it. */
static void
default_refuse_tmp(void)
{
	pthread_mutex_lock(&default_mutex);
	dflt.tmp_no = true;
	dflt.dir[0] = '\0';
	pthread_mutex_unlock(&default_mutex);
}

static int
own_domain(char *buf, size_t size, bool *is_default, bool *in_home)
{
	const char *d = getenv("COMSG_DIR"), *x = getenv("XDG_RUNTIME_DIR");

	*is_default = (d == NULL || d[0] == '\0') && (x == NULL || x[0] != '/');
	*in_home = false;
	if (*is_default)
		return default_domain(buf, size, in_home);
	return domain_from(d, x, NULL, geteuid(), buf, size);
}

int
domain_dir(char *buf, size_t size)
{
	bool is_default, in_home;

	return own_domain(buf, size, &is_default, &in_home);
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
	    env_lookup(env, len, "HOME"), uid, buf, size);
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
	bool is_default, in_home;
	char dir[PATH_MAX];
	int n, tries;

	for (tries = 0;; tries++) {
		if (own_domain(dir, sizeof(dir), &is_default, &in_home) < 0)
			return -1;
		if (in_home) {
			/* $HOME/.comsg, the parent: made only when used */
			char *slash = strrchr(dir, '/');

			*slash = '\0';
			(void)sys_mkdir(dir, 0700);
			*slash = '/';
		}
		if (private_dir(dir) == 0)
			break;
		/* The default /tmp/comsg-UID, taken or dropped by another
		 * user between our look and our mkdir: choose again. */
		if (!is_default || in_home || strncmp(dir, "/tmp/", 5) != 0 ||
		    tries > 0)
			return -1;
		default_refuse_tmp();
	}
	n = snprintf(buf, size, "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return private_dir(buf);
}

/*
 * The address of the UNIX socket at path.  A path too long for sun_path
 * (a deep $COMSG_DIR or home) is reached through a descriptor of its
 * directory, as /proc/self/fd/N/LEAF: *dirfdp is then that descriptor, to
 * be closed once the bind or connect is done, else -1.
 */
int
unix_addr(const char *path, struct sockaddr_un *sun, int *dirfdp)
{
	const char *leaf = strrchr(path, '/');
	size_t len = strlen(path);
	char dir[PATH_MAX];
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	*dirfdp = -1;
	if (len < sizeof(sun->sun_path)) {
		memcpy(sun->sun_path, path, len + 1);
		return 0;
	}
	if (leaf == NULL || leaf == path || (size_t)(leaf - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(leaf - path));
	dir[leaf - path] = '\0';
	*dirfdp = sys_open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (*dirfdp < 0)
		return -1;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d%s",
	    *dirfdp, leaf);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
		sys_close(*dirfdp);
		*dirfdp = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The one rule for the names of targets (max COCALL_NAMEMAX) and of ports
 * and comutexes (max COPORT_NAMEMAX): 1 to max characters, the NUL not
 * counted, of [A-Za-z0-9._-], not "." or "..".  A name longer than max is
 * ENAMETOOLONG whatever its characters (only max + 1 are read); any other
 * bad name EINVAL.
 */
int
name_check(const char *name, size_t max)
{
	size_t i;

	if (name == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (strnlen(name, max + 1) > max) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-')) {
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}
