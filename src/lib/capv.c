/*
 * The capability vector: which capabilities a process inherits.  Across
 * exec it travels as descriptors left open plus COMSG_CAPV in the
 * environment ("8=t:5:6,10=f:7": slot, kind, descriptor numbers), so it
 * passes through programs that know nothing of comsg, like sh -c.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "comsg/capv.h"
#include "internal.h"

static pthread_mutex_t capv_mutex = PTHREAD_MUTEX_INITIALIZER;
static void **capv_vec;		/* the process's vector, malloc'd */
static int capv_n;

static int
kind_letter(enum cap_kind k)
{
	return k == CAP_TARGET ? 't' : 'f';
}

char *
capv_encode(void **capv, int capc)
{
	size_t size = 1, used = 0;
	char *s;
	int i;

	for (i = 0; i < capc; i++)
		if (capv[i] != NULL)
			size += 40;
	s = malloc(size);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < capc; i++) {
		struct cap *c = capv[i];

		if (c == NULL)
			continue;
		if (c->kind == CAP_TARGET)
			used += snprintf(s + used, size - used, "%s%d=t:%d:%d",
			    used ? "," : "", i, c->fd[0], c->fd[1]);
		else
			used += snprintf(s + used, size - used, "%s%d=%c:%d",
			    used ? "," : "", i, kind_letter(c->kind), c->fd[0]);
	}
	return s;
}

static bool
in_vector(void **v, int n, struct cap *c)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i] == c)
			return true;
	return false;
}

/* A decimal number in [0, max] at *sp, advancing *sp; -1 if none. */
static long
parse_num(const char **sp, long max)
{
	const char *s = *sp;
	long v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		if (v > max)
			return -1;
	}
	*sp = s;
	return v;
}

/* One entry "SLOT=K:FD[:FD]" of a COMSG_CAPV value, and the comma after
 * it: true with *slotp, *kindp and fdn[] (the numbers as written), false
 * at the end or at a malformed entry. */
static bool
parse_entry(const char **sp, long *slotp, enum cap_kind *kindp, long fdn[2])
{
	const char *s = *sp;
	long slot = parse_num(&s, CAPV_MAX - 1);

	if (slot < 0 || *s++ != '=')
		return false;
	if (*s == 't')
		*kindp = CAP_TARGET;
	else if (*s == 'f')
		*kindp = CAP_FD;
	else
		return false;
	s++;
	fdn[0] = fdn[1] = -1;
	for (int i = 0; i < cap_nfds(*kindp); i++)
		if (*s++ != ':' || (fdn[i] = parse_num(&s, INT_MAX)) < 0)
			return false;
	if (*s == ',')
		s++;
	else if (*s != '\0')
		return false;
	*slotp = slot;
	*sp = s;
	return true;
}

struct capv_seen {
	long		 fd[2];		/* as written */
	struct cap	*c;		/* NULL: they did not check out */
};

/* The same descriptors in two slots: one capability, shared.  Compare
 * the numbers as written, before getfd maps them: 1 with *cp (seen
 * before), 0 new, -1 an entry that shares only some of another's
 * (nonsense: its slot stays empty). */
static int
seen_before(const struct capv_seen *seen, int nseen, const long fdn[2],
    struct cap **cp)
{
	for (int j = 0; j < nseen; j++) {
		bool overlap = false;

		if (seen[j].fd[0] == fdn[0] && seen[j].fd[1] == fdn[1]) {
			*cp = seen[j].c;
			return 1;
		}
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < 2; k++)
				if (fdn[i] >= 0 && fdn[i] == seen[j].fd[k])
					overlap = true;
		if (overlap)
			return -1;
	}
	return 0;
}

/* Put c in slot of the vector *vp of *np slots, growing it: 0, or -1
 * with ENOMEM.  A repeated slot: the last one wins. */
static int
vector_put(void ***vp, int *np, long slot, struct cap *c)
{
	if (slot >= *np) {
		void **p = realloc(*vp, (size_t)(slot + 1) * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		memset(p + *np, 0, (size_t)(slot + 1 - *np) * sizeof(*p));
		*vp = p;
		*np = (int)slot + 1;
	}
	(*vp)[slot] = c;
	return 0;
}

/*
 * Parse a COMSG_CAPV value (untrusted: it comes from whoever ran us) into
 * a new malloc'd vector.  getfd turns each descriptor number into one of
 * ours (or -1); owned says whether those are ours to close when they do
 * not check out.  Parsing stops at the first malformed entry; an entry
 * whose descriptors are not what it claims leaves its slot empty.
 * Returns 0, or -1 (ENOMEM, or getfd's error when it sets fail).
 */
int
capv_decode(const char *s, int *capcp, void ***capvp,
    int (*getfd)(int fd, void *arg), void *arg, bool owned)
{
	struct capv_seen seen[CAPV_MAX];
	void **v = NULL;
	int n = 0, nseen = 0, e;
	long slot, fdn[2];
	enum cap_kind kind;

	*capcp = 0;
	*capvp = NULL;
	while (s != NULL && parse_entry(&s, &slot, &kind, fdn)) {
		int fds[2] = { -1, -1 }, nf = cap_nfds(kind);
		struct cap *c = NULL;

		if (seen_before(seen, nseen, fdn, &c) < 0)
			continue;
		if (c == NULL && nseen < CAPV_MAX) {
			for (int i = 0; i < nf; i++) {
				fds[i] = getfd((int)fdn[i], arg);
				if (fds[i] < 0 && errno == EPERM) {
					for (int j = 0; owned && j < i; j++)
						if (fds[j] >= 0)
							sys_close(fds[j]);
					errno = EPERM;
					goto fail;
				}
			}
			c = cap_import(kind, fds, owned);
			if (c != NULL)
				cap_set_inherit(c, true);
			seen[nseen].fd[0] = fdn[0];
			seen[nseen].fd[1] = fdn[1];
			seen[nseen++].c = c;
		}
		if (c != NULL && vector_put(&v, &n, slot, c) < 0)
			goto fail;
	}
	/* A slot written twice may have left a capability in no slot: let it
	 * go, without closing descriptors that are not ours to close. */
	for (int j = 0; j < nseen; j++)
		if (seen[j].c != NULL && !in_vector(v, n, seen[j].c)) {
			if (!owned)
				seen[j].c->fd[0] = seen[j].c->fd[1] = -1;
			cap_release(seen[j].c);
		}
	*capcp = n;
	*capvp = v;
	return 0;
fail:
	e = errno;
	for (int j = 0; j < nseen; j++)
		if (seen[j].c != NULL && owned)
			cap_release(seen[j].c);
	free(v);
	errno = e;
	return -1;
}

static int
own_fd(int fd, void *arg)
{
	(void)arg;
	return fd;
}

void
capv_init(void)
{
	const char *s = getenv("COMSG_CAPV");

	if (s != NULL)
		(void)capv_decode(s, &capv_n, &capv_vec, own_fd, NULL, false);
	/* Never NULL, so that capvset() can tell the process's own vector
	 * from any other array, also while it is empty. */
	if (capv_vec == NULL)
		capv_vec = calloc(1, sizeof(void *));
}

void capv_lock(void) { pthread_mutex_lock(&capv_mutex); }
void capv_unlock(void) { pthread_mutex_unlock(&capv_mutex); }

/* Make the environment say what the vector holds, for children to come. */
static int
capv_export(void)
{
	char *s = capv_encode(capv_vec, capv_n);
	int r;

	if (s == NULL)
		return -1;
	r = s[0] ? setenv("COMSG_CAPV", s, 1) : unsetenv("COMSG_CAPV");
	free(s);
	return r;
}

int
capvfetch(int *capcp, void ***capvp)
{
	if (capcp == NULL || capvp == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&capv_mutex);
	*capcp = capv_n;
	*capvp = capv_vec;
	pthread_mutex_unlock(&capv_mutex);
	return 0;
}

int
capvset(int *capcp, void ***capvp, int index, void *cap)
{
	struct cap *c = NULL, *old;
	bool own;
	void **v;
	int n;

	if (capcp == NULL || capvp == NULL || index < 0 || index >= CAPV_MAX ||
	    *capcp < 0 || (*capcp > 0 && *capvp == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (cap != NULL && (c = cap_get(cap, 0)) == NULL)
		return -1;
	pthread_mutex_lock(&capv_mutex);
	own = *capvp != NULL && *capvp == capv_vec;
	v = *capvp;
	n = *capcp;
	if (index >= n) {
		void **p = realloc(v, (index + 1) * sizeof(*p));

		if (p == NULL) {
			pthread_mutex_unlock(&capv_mutex);
			errno = ENOMEM;
			return -1;
		}
		memset(p + n, 0, (index + 1 - n) * sizeof(*p));
		v = p;
		n = index + 1;
	}
	old = v[index];
	v[index] = c;
	*capvp = v;
	*capcp = n;
	if (own) {
		capv_vec = v;
		capv_n = n;
		/* Descriptors of the vector survive exec; the rest do not. */
		if (c != NULL)
			cap_set_inherit(c, true);
		if (old != NULL && old != c && !in_vector(v, n, old))
			cap_set_inherit(old, false);
		capv_export();
	}
	pthread_mutex_unlock(&capv_mutex);
	return 0;
}

void
capv_forget(struct cap *c)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&capv_mutex);
	for (i = 0; i < capv_n; i++)
		if (capv_vec[i] == c) {
			capv_vec[i] = NULL;
			found = true;
		}
	if (found)
		capv_export();
	pthread_mutex_unlock(&capv_mutex);
}

/* ---- coexecvpc ---- */

struct other {
	int pidfd;
};

/* A copy of another process's descriptor.  Refused (no ptrace rights):
 * EPERM, which fails the whole fetch rather than leave a slot empty. */
static int
other_fd(int fd, void *arg)
{
	struct other *o = arg;
	int r = (int)syscall(SYS_pidfd_getfd, o->pidfd, fd, 0);

	if (r < 0 && errno != EPERM && errno != EACCES)
		errno = EBADF;	/* closed since: the slot stays empty */
	else if (r < 0)
		errno = EPERM;
	return r;
}

/* Fetch the vector of another member of our domain: its environment says
 * which descriptors, and pidfd_getfd() copies them (the kernel checks we
 * may: same user, ptrace rights). */
static int
fetch_other(pid_t pid, int *capcp, void ***capvp)
{
	/* capcp NULL: only check that pid is a member of our domain. */
	char mine[4096], theirs[4096], *env = NULL;
	struct other o = { -1 };
	const char *s;
	size_t len = 0;
	uid_t uid;
	int r = -1;

	env = proc_environ(pid, &len, &uid);
	if (env == NULL)
		return -1;
	if (uid != geteuid()) {
		errno = EPERM;
		goto out;
	}
	if (domain_dir(mine, sizeof(mine)) < 0)
		goto out;
	if (domain_from(env_lookup(env, len, "COMSG_DIR"),
	    env_lookup(env, len, "XDG_RUNTIME_DIR"),
	    env_lookup(env, len, "HOME"), uid, theirs, sizeof(theirs)) < 0 || strcmp(mine, theirs) != 0) {
		errno = ESRCH;
		goto out;
	}
	if (capcp == NULL) {
		r = 0;
		goto out;
	}
	o.pidfd = sys_pidfd_open(pid, 0);
	if (o.pidfd < 0) {
		if (errno == ESRCH || errno == EINVAL)
			errno = ESRCH;
		goto out;
	}
	s = env_lookup(env, len, "COMSG_CAPV");
	if (s != NULL) {
		char *copy = strndup(s, env + len - s);

		if (copy == NULL)
			goto out;
		r = capv_decode(copy, capcp, capvp, other_fd, &o, true);
		free(copy);
	} else {
		*capcp = 0;
		*capvp = NULL;
		r = 0;
	}
out:
	if (o.pidfd >= 0)
		sys_close(o.pidfd);
	free(env);
	return r;
}

int
coexecvpc(pid_t pid, const char *file, char *const argv[], void **capv,
    int capc)
{
	void **own_v, **fetched = NULL;
	int own_n, i, e;
	char *enc;

	if (file == NULL || argv == NULL || capc < 0 || capc > CAPV_MAX ||
	    (capv == NULL && capc > 0) || pid < 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < capc; i++)
		if (capv[i] != NULL && cap_get(capv[i], 0) == NULL)
			return -1;
	if (capv == NULL && pid != 0 && pid != getpid()) {
		if (fetch_other(pid, &capc, &fetched) < 0)
			return -1;
		capv = fetched;
	} else if (capv == NULL) {
		capvfetch(&capc, &capv);
	}
	/* A given vector, and another pid: it must still be of our domain. */
	if (pid != 0 && pid != getpid() && fetched == NULL &&
	    fetch_other(pid, NULL, NULL) < 0)
		return -1;
	enc = capv_encode(capv, capc);
	if (enc == NULL)
		goto fail;
	/* Exactly the new vector's descriptors survive the exec. */
	capvfetch(&own_n, &own_v);
	for (i = 0; i < own_n; i++)
		if (own_v[i] != NULL && !in_vector(capv, capc, own_v[i]))
			cap_set_inherit(own_v[i], false);
	for (i = 0; i < capc; i++)
		if (capv[i] != NULL)
			cap_set_inherit(capv[i], true);
	if ((enc[0] ? setenv("COMSG_CAPV", enc, 1) : unsetenv("COMSG_CAPV")) == 0)
		execvp(file, argv);
	e = errno;
	/* Still here: put things back as they were. */
	for (i = 0; i < capc; i++)
		if (capv[i] != NULL && !in_vector(own_v, own_n, capv[i]))
			cap_set_inherit(capv[i], false);
	for (i = 0; i < own_n; i++)
		if (own_v[i] != NULL)
			cap_set_inherit(own_v[i], true);
	capv_export();
	free(enc);
	errno = e;
fail:
	e = errno;
	if (fetched != NULL) {
		for (i = 0; i < capc; i++)
			if (fetched[i] != NULL && !in_vector(fetched, i, fetched[i]))
				cap_release(fetched[i]);
		free(fetched);
	}
	errno = e;
	return -1;
}
