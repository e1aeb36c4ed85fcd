/*
 * comsgd's namespace: the names of the domain's coports and comutexes
 * (entries), who holds each (holds, and a pidfd per process with holds),
 * the COCHANNEL rings of each port, the tokens passed on, and the answer
 * to each request (handle_request() and the op_* functions).  Requests
 * come from any process of the domain: every field and capability they
 * carry is checked here.  Everything runs under ns_lock (namespace.h);
 * comsgd.c takes the requests and runs the reaper.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "namespace.h"

#define HOLDS_MAX	4096	/* the default bound on one process's holds */
#define HOLDS_MIN	16	/* ... however low comsgd's descriptor limit */
#define ENTRIES_MAX	65536	/* names in the domain */
#define RINGS_PER_HOLD	4
/* Descriptors one hold can make us keep: its entry's (state, bell,
 * socket and its O_PATH, the presence pipe's two ends, three tokens) and
 * its rings' (two each). */
#define FDS_PER_HOLD	(9 + 2 * RINGS_PER_HOLD)

struct ring {
	uint64_t	 id;
	uint64_t	 owner;		/* hold id of its sender; 0: gone */
	uint64_t	 proc;		/* id of the proc it is charged to */
	int		 prod_fd;	/* read-only, for receivers */
	int		 cons_fd;
	const struct ring_prod *prod;	/* our read-only mappings */
	const struct ring_cons *cons;
	size_t		 maplen;
};

struct hold {
	uint64_t	 id;
	pid_t		 pid;
	int		 rights;
	int		 nrings;
};

struct entry {
	char		 name[COPORT_NAMEMAX + 1];
	int		 type;		/* coport_type_t; 0: comutex */
	uint32_t	 ring_size;
	int		 state_fd;	/* read-only, for holders */
	struct coport_state *state;	/* ours, writable */
	int		 bell_fd;
	struct coport_bell *bell;
	int		 sock;		/* COCARRIER/COPIPE: the shared socket */
	int		 sock_path;	/* ... and an O_PATH to it */
	int		 pres[2];	/* presence pipe: read end for
					   receivers, write end for senders */
	int		 token[4];	/* by rights: capabilities to pass on */
	ino_t		 token_ino[4];
	int		 mutex_fd;	/* comutex page */
	struct hold	*holds;
	int		 nholds, holds_room;
	struct ring	*rings;
	int		 nrings, rings_room;
};

/* A process with holds.  What it holds counts against its bounds:
 * holds_max holds, and RINGS_PER_HOLD rings per hold it may have, which
 * also bounds the rings it left behind in ports others keep open. */
struct proc {
	pid_t		 pid;
	int		 pidfd;
	int		 nholds;
	int		 nrings;	/* rings charged to it, drained or not */
	uint64_t	 id;
};

pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
int reaper_wake = -1;
bool verbose;
static struct entry **entries;
static int nentries, entries_room;
static struct proc *procs;
static int nprocs, procs_room;
/* Ids of holds and rings.  They start at a random point, so that a hold
 * of a previous comsgd (a process that opened a port before it died) is
 * unknown here, not taken for another port's: ESTALE. */
static uint64_t next_id;
/* Descriptors the namespace keeps, and how many it may: the rest of
 * comsgd's limit is for connections of processes and for replies, so
 * that the namespace running full is an error to the requests that want
 * more (ENFILE), not a comsgd nobody can reach. */
static int nfds, fds_max = INT_MAX;
static int holds_max = HOLDS_MAX;
static int life_fd = -1;
static void **worker_targets;
static int nworkers;
static unsigned next_worker;

void
logmsg(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "comsgd[%d]: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t
id_new(void)
{
	if (next_id == 0) {
		if (getrandom(&next_id, sizeof(next_id), 0) != sizeof(next_id))
			next_id = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
		next_id = (next_id & (UINT64_MAX >> 2)) | 1;
	}
	return next_id++;
}

/* Grow an array of n elements of size sz to hold one more. */
static int
grow(void *arrp, int n, int *room, size_t sz)
{
	void **arr = arrp, *p;
	int r;

	if (n < *room)
		return 0;
	r = *room ? 2 * *room : 8;
	p = realloc(*arr, (size_t)r * sz);
	if (p == NULL)
		return -1;
	*arr = p;
	*room = r;
	return 0;
}

/* A reopened, read-only descriptor for memfd fd: whoever gets it cannot
 * write through it (and the seals refuse a writable reopening's maps). */
int
ns_reopen_ro(int fd)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int
memfd_page(const char *what, int seals, void **mapp)
{
	int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, PAGE) < 0 ||
	    (p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_ADD_SEALS, seals) < 0) {
		munmap(p, PAGE);
		close(fd);
		return -1;
	}
	*mapp = p;
	return fd;
}

/* The port's datagram socket, bound under the domain's gates directory
 * just long enough to open an O_PATH descriptor to it. */
static int
port_socket(int *pathp)
{
	static unsigned counter;
	struct sockaddr_un sun;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int s, n, dirfd;

	if (codomain(dir, sizeof(dir)) < 0)
		return -1;
	n = snprintf(path, sizeof(path), "%s/gates/port.%d.%u", dir,
	    (int)getpid(), ++counter);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unix_addr(path, &sun, &dirfd) < 0)
		return -1;
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		goto fail;
	(void)unlink(path);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 ||
	    (*pathp = open(path, O_PATH | O_CLOEXEC)) < 0)
		goto fail;
	unlink(path);
	if (dirfd >= 0)
		close(dirfd);
	return s;
fail:
	n = errno;
	unlink(path);
	if (s >= 0)
		close(s);
	if (dirfd >= 0)
		close(dirfd);
	errno = n;
	return -1;
}

static void
entry_free(struct entry *e)
{
	for (int i = 0; i < e->nrings; i++) {
		close(e->rings[i].prod_fd);
		close(e->rings[i].cons_fd);
		munmap((void *)e->rings[i].prod, e->rings[i].maplen);
		munmap((void *)e->rings[i].cons, PAGE);
	}
	free(e->rings);
	free(e->holds);
	for (int i = 0; i < 4; i++)
		if (e->token[i] >= 0)
			close(e->token[i]);
	if (e->state != NULL)
		munmap(e->state, PAGE);
	if (e->bell != NULL)
		munmap(e->bell, PAGE);
	if (e->state_fd >= 0)
		close(e->state_fd);
	if (e->bell_fd >= 0)
		close(e->bell_fd);
	if (e->sock >= 0)
		close(e->sock);
	if (e->sock_path >= 0)
		close(e->sock_path);
	for (int i = 0; i < 2; i++)
		if (e->pres[i] >= 0)
			close(e->pres[i]);
	if (e->mutex_fd >= 0)
		close(e->mutex_fd);
	free(e);
}

static struct entry *
entry_new(const char *name, int type, uint32_t ring_size, uint64_t queue_max)
{
	struct entry *e = calloc(1, sizeof(*e));
	int fd;

	if (e == NULL)
		return NULL;
	strcpy(e->name, name);
	e->type = type;
	e->ring_size = ring_size;
	e->state_fd = e->bell_fd = e->sock = e->sock_path = e->mutex_fd = -1;
	e->pres[0] = e->pres[1] = -1;
	for (int i = 0; i < 4; i++)
		e->token[i] = -1;
	if (type == 0) {
		struct mutex_shm *m;

		e->mutex_fd = memfd_page("comutex", F_SEAL_SHRINK | F_SEAL_GROW |
		    F_SEAL_SEAL, (void **)&m);
		if (e->mutex_fd < 0)
			goto fail;
		m->magic = MUTEX_MAGIC;
		m->version = COPORT_SHM_VERSION;
		munmap(m, PAGE);
		return e;
	}
	/* The state page: ours to write, sealed so that no one else can
	 * ever map it writable; holders get a read-only descriptor. */
	fd = memfd_page("coport-state", F_SEAL_SHRINK | F_SEAL_GROW, (void **)&e->state);
	if (fd < 0)
		goto fail;
	e->state->magic = STATE_MAGIC;
	e->state->version = COPORT_SHM_VERSION;
	e->state->type = (uint32_t)type;
	e->state->ring_size = ring_size;
	if (type == COCARRIER)
		e->state->queue_max = queue_max != 0 ? queue_max :
		    COCARRIER_QUEUE;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0 ||
	    (e->state_fd = ns_reopen_ro(fd)) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	e->bell_fd = memfd_page("coport-bell", F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL, (void **)&e->bell);
	if (e->bell_fd < 0)
		goto fail;
	if (type != COCHANNEL && (e->sock = port_socket(&e->sock_path)) < 0)
		goto fail;
	/* Every holder with the send right shares the write end, every one
	 * with the receive right the read end, and so do we: once we are
	 * gone, the kernel tells each side when no one holds the other's. */
	if (pipe2(e->pres, O_CLOEXEC) < 0)
		goto fail;
	return e;
fail:
	entry_free(e);
	return NULL;
}

static struct entry *
entry_find(const char *name)
{
	for (int i = 0; i < nentries; i++)
		if (strcmp(entries[i]->name, name) == 0)
			return entries[i];
	return NULL;
}

/* The descriptors we keep for e. */
static int
entry_fds(const struct entry *e)
{
	int n = 2 * e->nrings + (e->state_fd >= 0) + (e->bell_fd >= 0) +
	    (e->sock >= 0) + (e->sock_path >= 0) + (e->mutex_fd >= 0) +
	    (e->pres[0] >= 0) + (e->pres[1] >= 0);

	for (int i = 0; i < 4; i++)
		n += e->token[i] >= 0;
	return n;
}

static void ring_uncharge(const struct ring *r);

static void
entry_remove(struct entry *e)
{
	for (int i = 0; i < nentries; i++)
		if (entries[i] == e) {
			entries[i] = entries[--nentries];
			break;
		}
	logmsg("%s is gone", e->name);
	for (int i = 0; i < e->nrings; i++)
		ring_uncharge(&e->rings[i]);
	nfds -= entry_fds(e);
	entry_free(e);
}

/* The entry and index of hold id, if it belongs to pid. */
static struct entry *
hold_find(uint64_t id, pid_t pid, int *idx)
{
	for (int i = 0; i < nentries; i++)
		for (int k = 0; k < entries[i]->nholds; k++)
			if (entries[i]->holds[k].id == id) {
				if (entries[i]->holds[k].pid != pid)
					return NULL;
				*idx = k;
				return entries[i];
			}
	return NULL;
}

static struct proc *
proc_find(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/* Forget process p: it holds nothing and owns no ring, or it is dead. */
static void
proc_forget(struct proc *p)
{
	close(p->pidfd);
	nfds--;
	*p = procs[--nprocs];
	(void)!write(reaper_wake, &(uint64_t){ 1 }, sizeof(uint64_t));
}

/* A ring is gone: its process may have another.  A process is kept on
 * the books while it owns a ring, holds or not: else closing its last
 * hold and opening again would start its count of rings afresh, and one
 * process could pile up rings by the thousand. */
static void
ring_uncharge(const struct ring *r)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].id == r->proc) {
			if (--procs[i].nrings == 0 && procs[i].nholds == 0)
				proc_forget(&procs[i]);
			return;
		}
}

/* Count the processes with each right into the state page, and wake
 * every waiter so that it looks (the other side may be gone). */
static void
entry_publish(struct entry *e)
{
	uint32_t senders = 0, receivers = 0, flags;

	if (e->state == NULL)
		return;
	for (int k = 0; k < e->nholds; k++) {
		bool first_s = true, first_r = true;

		for (int j = 0; j < k; j++) {
			if (e->holds[j].pid != e->holds[k].pid)
				continue;
			if (e->holds[j].rights & COPORT_PERM_SEND)
				first_s = false;
			if (e->holds[j].rights & COPORT_PERM_RECV)
				first_r = false;
		}
		senders += first_s && (e->holds[k].rights & COPORT_PERM_SEND);
		receivers += first_r && (e->holds[k].rights & COPORT_PERM_RECV);
	}
	flags = LOAD_RLX(&e->state->flags);
	if (senders)
		flags |= STATE_HAD_SENDER;
	if (receivers)
		flags |= STATE_HAD_RECEIVER;
	STORE_REL(&e->state->senders, senders);
	STORE_REL(&e->state->receivers, receivers);
	STORE_REL(&e->state->flags, flags);
	__atomic_add_fetch(&e->bell->in_seq, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&e->bell->out_seq, 1, __ATOMIC_SEQ_CST);
	futex_wake(&e->bell->in_seq);
	futex_wake(&e->bell->out_seq);
}

static int
hold_new(struct entry *e, pid_t pid, int rights, uint64_t *idp)
{
	struct proc *p = proc_find(pid);

	if (p != NULL && p->nholds >= holds_max) {
		logmsg("pid %d holds %d: refused", (int)pid, p->nholds);
		errno = EDQUOT;
		return -1;
	}
	if (p == NULL) {
		int fd;

		if (nfds + 1 > fds_max) {
			errno = ENFILE;
			return -1;
		}
		if (grow(&procs, nprocs, &procs_room, sizeof(*procs)) < 0)
			return -1;
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0)
			return -1;
		nfds++;
		p = &procs[nprocs++];
		*p = (struct proc){ pid, fd, 0, 0, id_new() };
		uint64_t one = 1;
		(void)!write(reaper_wake, &one, sizeof(one));
	}
	if (grow(&e->holds, e->nholds, &e->holds_room, sizeof(*e->holds)) < 0)
		return -1;
	*idp = id_new();
	e->holds[e->nholds++] = (struct hold){ *idp, pid, rights, 0 };
	p->nholds++;
	entry_publish(e);
	return 0;
}

/* Drop hold k of e: its rings stay until drained; an entry no one holds
 * is gone. */
static void
hold_drop(struct entry *e, int k)
{
	struct hold h = e->holds[k];
	struct proc *p = proc_find(h.pid);

	e->holds[k] = e->holds[--e->nholds];
	for (int i = 0; i < e->nrings; i++)
		if (e->rings[i].owner == h.id)
			e->rings[i].owner = 0;
	if (p != NULL && --p->nholds == 0 && p->nrings == 0)
		proc_forget(p);
	logmsg("pid %d drops %s", (int)h.pid, e->name);
	if (e->nholds > 0)
		entry_publish(e);
	else
		entry_remove(e);
}

/* Drop one hold of pid, if it has any left. */
static bool
proc_drop_one(pid_t pid)
{
	for (int j = 0; j < nentries; j++)
		for (int k = 0; k < entries[j]->nholds; k++)
			if (entries[j]->holds[k].pid == pid) {
				hold_drop(entries[j], k);
				return true;
			}
	return false;
}

/* Remove the rings whose sender is gone and that are drained. */
static void
rings_sweep(struct entry *e)
{
	bool changed = false;

	for (int i = 0; i < e->nrings;) {
		struct ring *r = &e->rings[i];

		if (r->owner == 0 && LOAD_ACQ(&r->cons->cons) ==
		    LOAD_ACQ(&r->prod->prod)) {
			ring_uncharge(r);
			nfds -= 2;
			close(r->prod_fd);
			close(r->cons_fd);
			munmap((void *)r->prod, r->maplen);
			munmap((void *)r->cons, PAGE);
			*r = e->rings[--e->nrings];
			changed = true;
		} else {
			i++;
		}
	}
	if (changed)
		__atomic_add_fetch(&e->state->ring_gen, 1, __ATOMIC_RELEASE);
}

/* Messages waiting in a ring, counted by walking its records (each
 * bounded: the sender may have scribbled). */
uint64_t
ring_queued(const struct ring_prod *prod, const struct ring_cons *cons,
    uint32_t size)
{
	uint64_t c = LOAD_ACQ(&cons->cons), p = LOAD_ACQ(&prod->prod), n = 0;
	const uint8_t *data = (const uint8_t *)prod + PAGE;

	if (p < c || p - c > size || (c & 7))
		return 0;
	while (c < p) {
		struct ring_rec rec;

		memcpy(&rec, data + (c & (size - 1)), sizeof(rec));
		if (rec.check != RING_REC_CHECK(rec.len, c) ||
		    RING_REC_SIZE(rec.len) > p - c)
			break;
		c += RING_REC_SIZE(rec.len);
		n++;
	}
	return n;
}

static int
token_rights(int fd, struct entry **ep)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	for (int i = 0; i < nentries; i++)
		for (int r = 1; r < 4; r++)
			if (entries[i]->token[r] >= 0 &&
			    entries[i]->token_ino[r] == st.st_ino) {
				*ep = entries[i];
				return r;
			}
	return -1;
}

/* ---- requests ---- */
static int
reply_fd(struct reply *r, int fd)
{
	if (r->ncaps == COCALL_MAXCAPS || capfromfd(&r->caps[r->ncaps], fd) < 0)
		return -1;
	r->ncaps++;
	return 0;
}

static int
reply_port(struct reply *r, struct entry *e, uint64_t hold, int rights)
{
	bool takes = (e->type == COCARRIER && (rights & COPORT_PERM_RECV)) ||
	    (e->type == COPIPE && (rights & COPORT_PERM_SEND));
	bool puts = (e->type == COCARRIER && (rights & COPORT_PERM_SEND)) ||
	    (e->type == COPIPE && (rights & COPORT_PERM_RECV));

	r->rp.type = (uint32_t)e->type;
	r->rp.rights = (uint32_t)rights;
	r->rp.handle = hold;
	r->rp.ring_size = e->ring_size;
	if (reply_fd(r, e->state_fd) < 0 || reply_fd(r, e->bell_fd) < 0 ||
	    reply_fd(r, life_fd) < 0 ||
	    (takes && reply_fd(r, e->sock) < 0) ||
	    (puts && reply_fd(r, e->sock_path) < 0) ||
	    ((rights & COPORT_PERM_SEND) && reply_fd(r, e->pres[1]) < 0) ||
	    ((rights & COPORT_PERM_RECV) && reply_fd(r, e->pres[0]) < 0))
		return -1;
	return 0;
}

static bool
req_name_ok(const struct corq *q)
{
	return memchr(q->name, '\0', sizeof(q->name)) != NULL &&
	    q->name[0] != '\0' && strcmp(q->name, ".") != 0 &&
	    strcmp(q->name, "..") != 0 &&
	    strspn(q->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == strlen(q->name);
}

static int
op_open(const struct corq *q, pid_t pid, struct reply *r, int type)
{
	struct entry *e;
	uint64_t id;

	if (!req_name_ok(q))
		return EINVAL;
	if (type != 0 && (type < COPIPE || type > COCHANNEL ||
	    (port_has_rings(type) && (q->ring_size < COCHANNEL_MINSIZE ||
	    q->ring_size > COCHANNEL_MAXSIZE ||
	    (q->ring_size & (q->ring_size - 1)) != 0)) ||
	    q->queue_max > COCARRIER_QUEUE_MAX))
		return EINVAL;
	e = entry_find(q->name);
	if (e != NULL && e->type != type)
		return EINVAL;
	if (e == NULL) {
		/* Its descriptors (the page of a comutex; a port's state,
		 * bell, presence pipe, and socket with its O_PATH), and a
		 * pidfd for a first hold. */
		int fds = (type == 0 ? 1 : type == COCHANNEL ? 4 : 6) +
		    (proc_find(pid) == NULL);

		if (nentries >= ENTRIES_MAX || nfds + fds > fds_max)
			return ENFILE;
		if (grow(&entries, nentries, &entries_room, sizeof(*entries)) < 0 ||
		    (e = entry_new(q->name, type, port_has_rings(type) ?
		    q->ring_size : 0, q->queue_max)) == NULL)
			return errno;
		entries[nentries++] = e;
		nfds += entry_fds(e);
		logmsg("pid %d creates %s (type %d)", (int)pid, e->name, type);
	}
	if (hold_new(e, pid, COPORT_PERM_ALL, &id) < 0) {
		int err = errno;

		if (e->nholds == 0)
			entry_remove(e);
		return err;
	}
	logmsg("pid %d holds %s", (int)pid, e->name);
	if (type == 0) {
		r->rp.handle = id;
		return reply_fd(r, e->mutex_fd) < 0 ? errno : 0;
	}
	return reply_port(r, e, id, COPORT_PERM_ALL) < 0 ? errno : 0;
}

static int
op_attach(pid_t pid, void *cap, struct reply *r)
{
	struct entry *e = NULL;
	uint64_t id;
	int fd, rights;

	if (cap == NULL || captofd(cap, &fd) < 0)
		return EINVAL;
	rights = token_rights(fd, &e);
	close(fd);
	if (rights < 0)
		return EINVAL;		/* not a token, or its port is gone */
	if (hold_new(e, pid, rights, &id) < 0)
		return errno;
	return reply_port(r, e, id, rights) < 0 ? errno : 0;
}

static int
op_token(const struct corq *q, pid_t pid, struct reply *r)
{
	int k, rights = (int)q->rights;
	struct entry *e = hold_find(q->handle, pid, &k);
	struct stat st;

	if (e == NULL)
		return ESTALE;
	if (e->type == 0 || rights <= 0 || rights > 3 ||
	    (rights & ~e->holds[k].rights) != 0)
		return EINVAL;
	if (e->token[rights] < 0) {
		int fd;

		if (nfds + 1 > fds_max)
			return ENFILE;
		if ((fd = memfd_create("coport-token", MFD_CLOEXEC)) < 0 ||
		    fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			return errno;
		}
		e->token[rights] = fd;
		e->token_ino[rights] = st.st_ino;
		nfds++;
	}
	return reply_fd(r, e->token[rights]) < 0 ? errno : 0;
}

static int
op_addring(const struct corq *q, pid_t pid, void **caps, int ncaps)
{
	int k, pfd = -1, cfd = -1, rofd = -1, err = EINVAL;
	struct entry *e = hold_find(q->handle, pid, &k);
	struct proc *pr = proc_find(pid);
	void *p = MAP_FAILED, *c = MAP_FAILED;
	size_t size = 0;
	struct ring *r;

	if (e == NULL || pr == NULL)
		return ESTALE;
	if (!port_has_rings(e->type) || ncaps != 2 ||
	    !(e->holds[k].rights & COPORT_PERM_SEND) ||
	    e->holds[k].nrings >= RINGS_PER_HOLD)
		return EINVAL;
	if (pr->nrings >= RINGS_PER_HOLD * holds_max) {
		/* Drained rings leave the count at the next sweep: sweep
		 * now, not refuse a sender that has nothing waiting.  (A
		 * sweep may forget other processes and move pr.) */
		ns_sweep();
		if ((pr = proc_find(pid)) == NULL ||
		    pr->nrings >= RINGS_PER_HOLD * holds_max)
			return EDQUOT;
	}
	if (nfds + 2 > fds_max)
		return ENFILE;
	if (captofd(caps[0], &pfd) < 0 || captofd(caps[1], &cfd) < 0)
		goto out;
	if (!memfd_check(pfd, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL, PAGE + e->ring_size, &size) || size != PAGE + e->ring_size ||
	    !memfd_check(cfd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, PAGE, &size) ||
	    size != PAGE)
		goto out;
	p = mmap(NULL, PAGE + e->ring_size, PROT_READ, MAP_SHARED, pfd, 0);
	c = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, cfd, 0);
	if (p == MAP_FAILED || c == MAP_FAILED ||
	    LOAD_RLX(&((struct ring_prod *)p)->magic) != RING_MAGIC ||
	    LOAD_RLX(&((struct ring_prod *)p)->size) != e->ring_size)
		goto out;
	if ((rofd = ns_reopen_ro(pfd)) < 0 ||
	    grow(&e->rings, e->nrings, &e->rings_room, sizeof(*e->rings)) < 0) {
		err = errno;
		goto out;
	}
	r = &e->rings[e->nrings++];
	*r = (struct ring){ id_new(), q->handle, pr->id, rofd, cfd, p, c,
	    PAGE + e->ring_size };
	e->holds[k].nrings++;
	pr->nrings++;
	nfds += 2;
	close(pfd);
	__atomic_add_fetch(&e->state->ring_gen, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&e->bell->in_seq, 1, __ATOMIC_SEQ_CST);
	futex_wake(&e->bell->in_seq);
	logmsg("pid %d sends on %s (ring %llu)", (int)pid, e->name,
	    (unsigned long long)r->id);
	return 0;
out:
	if (p != MAP_FAILED)
		munmap(p, PAGE + e->ring_size);
	if (c != MAP_FAILED)
		munmap(c, PAGE);
	if (pfd >= 0)
		close(pfd);
	if (cfd >= 0)
		close(cfd);
	if (rofd >= 0)
		close(rofd);
	return err;
}

/* The hold gives up rights: the others stop counting it (EPIPE), and its
 * rings go once drained. */
static int
op_drop(const struct corq *q, pid_t pid)
{
	int k, drop = (int)q->rights;
	struct entry *e = hold_find(q->handle, pid, &k);

	if (e == NULL)
		return ESTALE;
	if (e->type == 0 || (drop & ~COPORT_PERM_ALL) != 0)
		return EINVAL;
	e->holds[k].rights &= ~drop;
	if (drop & COPORT_PERM_SEND)
		for (int i = 0; i < e->nrings; i++)
			if (e->rings[i].owner == e->holds[k].id)
				e->rings[i].owner = 0;
	logmsg("pid %d gives up rights %d of %s", (int)pid, drop, e->name);
	entry_publish(e);
	return 0;
}

static int
op_rings(const struct corq *q, pid_t pid, struct reply *r)
{
	int k;
	struct entry *e = hold_find(q->handle, pid, &k);
	uint32_t i;

	if (e == NULL)
		return ESTALE;
	if (!port_has_rings(e->type) || !(e->holds[k].rights & COPORT_PERM_RECV))
		return EINVAL;
	if (q->first == 0)
		rings_sweep(e);
	for (i = q->first; i < (uint32_t)e->nrings &&
	    r->rp.count < CORQ_RINGS_MAX; i++) {
		if (reply_fd(r, e->rings[i].prod_fd) < 0 ||
		    reply_fd(r, e->rings[i].cons_fd) < 0)
			return errno;
		r->rp.ids[r->rp.count++] = e->rings[i].id;
	}
	r->rp.more = i < (uint32_t)e->nrings;
	return 0;
}

static int
op_list(const struct corq *q, struct reply *r)
{
	struct corq_entry *out = (struct corq_entry *)r->extra;
	uint32_t i;

	for (i = q->first; i < (uint32_t)nentries && r->rp.count < CORQ_LIST_MAX;
	    i++) {
		struct entry *e = entries[i];
		struct corq_entry *o = &out[r->rp.count++];
		int holders = 0;

		memset(o, 0, sizeof(*o));
		strcpy(o->name, e->name);
		o->type = (uint32_t)e->type;
		for (int k = 0; k < e->nholds; k++) {
			bool first = true;

			for (int j = 0; j < k; j++)
				first &= e->holds[j].pid != e->holds[k].pid;
			holders += first;
		}
		o->holders = (uint32_t)holders;
		if (e->state != NULL) {
			o->senders = LOAD_RLX(&e->state->senders);
			o->receivers = LOAD_RLX(&e->state->receivers);
		}
		for (int k = 0; k < e->nrings; k++)
			o->queued += ring_queued(e->rings[k].prod,
			    e->rings[k].cons,
			    (uint32_t)(e->rings[k].maplen - PAGE));
		if (e->type == COCARRIER) {
			uint64_t s = LOAD_RLX(&e->bell->carrier_sent);
			uint64_t g = LOAD_RLX(&e->bell->carrier_received);

			o->queued += s > g ? s - g : 0;
		}
	}
	r->rp.more = i < (uint32_t)nentries;
	r->len = r->rp.count * sizeof(struct corq_entry);
	return 0;
}

static int
request(const struct corq *q, ssize_t n, pid_t pid, void **caps,
    int ncaps, struct reply *r)
{
	int k;
	struct entry *e;

	if (n != (ssize_t)sizeof(*q) || q->magic != CORQ_MAGIC)
		return EPROTO;
	switch (q->op) {
	case CORQ_HELLO:
		/* Spread the callers over the workers. */
		r->caps[0] = worker_targets[__atomic_fetch_add(&next_worker, 1,
		    __ATOMIC_RELAXED) % (unsigned)nworkers];
		r->ncaps = -1;		/* a capability we keep */
		return 0;
	case CORQ_OPEN:
		if (q->type == 0)	/* comutexes have their own request */
			return EINVAL;
		return op_open(q, pid, r, (int)q->type);
	case CORQ_MUTEX:
		return op_open(q, pid, r, 0);
	case CORQ_ATTACH:
		return op_attach(pid, ncaps == 1 ? caps[0] : NULL, r);
	case CORQ_CLOSE:
		if ((e = hold_find(q->handle, pid, &k)) == NULL)
			return ESTALE;
		hold_drop(e, k);
		return 0;
	case CORQ_TOKEN:
		return op_token(q, pid, r);
	case CORQ_ADDRING:
		return op_addring(q, pid, caps, ncaps);
	case CORQ_RINGS:
		return op_rings(q, pid, r);
	case CORQ_LIST:
		return op_list(q, r);
	case CORQ_DROP:
		return op_drop(q, pid);
	}
	return EINVAL;
}

int
handle_request(const struct corq *q, ssize_t n, pid_t pid, void **caps,
    int ncaps, struct reply *r)
{
	int err = request(q, n, pid, caps, ncaps, r);

	/* A system call of ours out of descriptors (EMFILE) is comsgd's
	 * shortage, everyone's: ENFILE.  The asking process past its own
	 * bound (EDQUOT here) hears EMFILE, as from a full descriptor
	 * table of its own. */
	if (err == EMFILE)
		return ENFILE;
	return err == EDQUOT ? EMFILE : err;
}

/* ---- what the rest of comsgd sees (namespace.h) ---- */

void
ns_limits_set(long nofile, int nworker, int holds)
{
	/* Kept for the rest: standard streams, eventfds, the names thread,
	 * each worker's target (gate, its O_PATH, doorbell) and reply, and
	 * a quarter for connections. */
	long fds = nofile - nofile / 4 - 16 - 4L * nworker;

	fds_max = fds < 0 ? 0 : fds > INT_MAX ? INT_MAX : (int)fds;
	if (holds <= 0) {
		/* One process alone may take a quarter of our share. */
		long h = fds / 4 / FDS_PER_HOLD;

		holds = h < HOLDS_MIN ? HOLDS_MIN : h > HOLDS_MAX ? HOLDS_MAX :
		    (int)h;
	}
	holds_max = holds;
	logmsg("%ld descriptors, of which the namespace keeps at most %d; "
	    "%d holds per process", nofile, fds_max, holds_max);
}

void
ns_life_set(int fd)
{
	life_fd = fd;
}

void
ns_workers_set(void **targets, int n)
{
	worker_targets = targets;
	nworkers = n;
}

int
ns_nprocs(void)
{
	return nprocs;
}

void
ns_proc(int i, pid_t *pidp, int *pidfdp)
{
	*pidp = procs[i].pid;
	*pidfdp = procs[i].pidfd;
}

int
ns_pidfd(pid_t pid)
{
	struct proc *p = proc_find(pid);

	return p != NULL ? p->pidfd : -1;
}

void
ns_drop_pid(pid_t pid)
{
	struct proc *p;

	while (proc_drop_one(pid))
		;
	/* Dead: its rings stay until drained, charged to no one. */
	if ((p = proc_find(pid)) != NULL)
		proc_forget(p);
}

void
ns_sweep(void)
{
	for (int j = 0; j < nentries; j++)
		if (port_has_rings(entries[j]->type))
			rings_sweep(entries[j]);
}

void
ns_reset(void)
{
	while (nentries > 0)
		entry_remove(entries[nentries - 1]);
	for (int i = 0; i < nprocs; i++)
		close(procs[i].pidfd);
	free(entries);
	free(procs);
	entries = NULL;
	procs = NULL;
	entries_room = procs_room = nprocs = 0;
	next_id = 0;
	nfds = 0;
}

int
ns_nentries(void)
{
	return nentries;
}
