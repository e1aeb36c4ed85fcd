/*
 * The domain: the co-processes of one user that share a runtime directory,
 * $COMSG_DIR, else $XDG_RUNTIME_DIR/comsg, else /tmp/comsg-$UID.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int
domain_dir(char *buf, size_t size)
{
	const char *d = getenv("COMSG_DIR"), *x;
	int n;

	if (d != NULL && d[0] != '\0') {
		/* Relative, the domain would change with the directory. */
		if (d[0] != '/') {
			errno = EINVAL;
			return -1;
		}
		n = snprintf(buf, size, "%s", d);
	}
	else if ((x = getenv("XDG_RUNTIME_DIR")) != NULL && x[0] == '/')
		n = snprintf(buf, size, "%s/comsg", x);
	else
		n = snprintf(buf, size, "/tmp/comsg-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
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
