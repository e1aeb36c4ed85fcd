/*
 * The service's side of cocall: an accepting thread owns its targets'
 * gates (listening sockets), the channels its callers set up through them,
 * and a doorbell every caller can ring.  coaccept replies to the previous
 * call, then scans the channels for the next request: spinning while that
 * pays, then sleeping on the doorbell.  Callers are identified by cookies
 * vouched for by the kernel.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "msg.h"

/* Idle acceptors look for callers that died this often. */
#define REAP_MS		1000
/* Connections accepted whose first message has not come yet, at most. */
#define PENDING_MAX	64
/* Connections accepted from one gate per pass, at most: a process
 * connecting without end must not keep us from serving calls. */
#define ACCEPT_BATCH	16
/* Channels one process may hold to one accepting thread, at most: a
 * process opening channels without end exhausts only its own share of the
 * service's descriptors. */
#define CHANS_PER_PID	256

struct svc_chan {
	struct chan_shm	*shm;
	int		 sock;
	uint32_t	 served;	/* last req_seq taken */
	struct cap	*target;
	struct caller	*caller;
	struct svc_chan	*caller_next;	/* the caller's other channels */
};

struct pending {
	int		 sock;
	struct cap	*target;
	pid_t		 pid;		/* who connected (the kernel's word) */
};

struct acceptor {
	int		 bell_fd;
	int		 spare_fd;	/* held back, to refuse when out of them */
	struct bell_shm	*bell;
	struct cap	**targets;
	int		 ntargets, targets_room;
	struct svc_chan	**chans;
	int		 nchans, chans_room;
	int		 rr;		/* where the next scan starts */
	bool		 flags_set;	/* service_sleeping set in the channels */
	uint32_t	 connects_seen;
	bool		 accept_more;	/* a gate had more than one batch */
	struct svc_chan	*pending;	/* the call to reply to */
	uint32_t	 pending_seq;
	bool		 pending_socket;
	struct pending	 conns[PENDING_MAX];	/* accepted, not yet set up */
	int		 nconns;
	struct spin	 spin;
};

/*
 * Callers: one record per calling thread (kernel-vouched pid, claimed tid),
 * shared by the process's acceptors.  A cookie is a pointer to a record,
 * checked against the table before use.
 */
#define CALLER_MAX	16384
#define CALLER_LIVE	0x636c6c72u

struct caller {
	uint32_t	 magic;
	pid_t		 pid, tid;
	int		 nchans;
	struct svc_chan	*chans;		/* any live one answers cogetpid */
};

static struct caller callers[CALLER_MAX];
static int callers_hi;
static pthread_mutex_t callers_mutex = PTHREAD_MUTEX_INITIALIZER;

void callers_lock(void) { pthread_mutex_lock(&callers_mutex); }
void callers_unlock(void) { pthread_mutex_unlock(&callers_mutex); }

/* In a child after fork the callers are the parent's. */
void
callers_atfork_child(void)
{
	memset(callers, 0, sizeof(callers));
	callers_hi = 0;
}

static struct caller *
caller_attach(pid_t pid, pid_t tid, struct svc_chan *ch)
{
	struct caller *c = NULL, *freeslot = NULL;
	int i;

	pthread_mutex_lock(&callers_mutex);
	for (i = 0; i < callers_hi; i++) {
		if (callers[i].magic != CALLER_LIVE) {
			if (freeslot == NULL)
				freeslot = &callers[i];
		} else if (callers[i].pid == pid && callers[i].tid == tid) {
			c = &callers[i];
			break;
		}
	}
	if (c == NULL) {
		if (freeslot == NULL && callers_hi < CALLER_MAX)
			freeslot = &callers[callers_hi++];
		c = freeslot;
		if (c != NULL) {
			memset(c, 0, sizeof(*c));
			c->pid = pid;
			c->tid = tid;
			c->magic = CALLER_LIVE;
		}
	}
	if (c != NULL) {
		c->nchans++;
		ch->caller_next = c->chans;
		c->chans = ch;
		ch->caller = c;
	}
	pthread_mutex_unlock(&callers_mutex);
	return c;
}

/* Close ch's socket and unlink it from its caller, freeing the caller's
 * record with its last channel.  Under the lock, so that cogetpid() never
 * asks a closed descriptor. */
static void
caller_detach(struct svc_chan *ch)
{
	struct caller *c = ch->caller;
	struct svc_chan **pp;

	pthread_mutex_lock(&callers_mutex);
	for (pp = &c->chans; *pp != NULL; pp = &(*pp)->caller_next)
		if (*pp == ch) {
			*pp = ch->caller_next;
			break;
		}
	sys_close(ch->sock);
	if (--c->nchans == 0)
		c->magic = 0;
	pthread_mutex_unlock(&callers_mutex);
}

static struct caller *
caller_get(void *cookie)
{
	uintptr_t a = (uintptr_t)cookie, base = (uintptr_t)callers;

	if (a < base || a >= base + sizeof(callers) ||
	    (a - base) % sizeof(struct caller) != 0 ||
	    ((struct caller *)cookie)->magic != CALLER_LIVE)
		return NULL;
	return cookie;
}

int
cogetpid(void *cookie, pid_t *pidp)
{
	struct caller *c;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int r = -1;

	if (pidp == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&callers_mutex);
	c = caller_get(cookie);
	if (c == NULL || c->chans == NULL)
		errno = EINVAL;
	/* The kernel's peer credentials of a connection we accepted are
	 * those of the process that connected. */
	else if (sys_getsockopt(c->chans->sock, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == 0) {
		*pidp = cr.pid;
		r = 0;
	}
	pthread_mutex_unlock(&callers_mutex);
	return r;
}

int
cocachedpid(pid_t *pidp, void *cookie)
{
	struct caller *c;
	int r = -1;

	if (pidp == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&callers_mutex);
	c = caller_get(cookie);
	if (c == NULL) {
		errno = EINVAL;
	} else {
		*pidp = c->pid;
		r = 0;
	}
	pthread_mutex_unlock(&callers_mutex);
	return r;
}

struct acceptor *
acceptor_get(struct cothread *t)
{
	struct acceptor *a;
	int fd;

	if (t->acc != NULL)
		return t->acc;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	fd = sys_memfd_create("comsg-bell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || sys_ftruncate(fd, sizeof(struct bell_shm)) < 0 ||
	    sys_fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	a->bell = sys_mmap(NULL, sizeof(struct bell_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (a->bell == MAP_FAILED)
		goto fail;
	a->bell->magic = BELL_MAGIC;
	a->bell->version = SHM_VERSION;
	a->bell_fd = fd;
	a->spare_fd = sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	t->acc = a;
	return a;
fail:
	if (fd >= 0)
		sys_close(fd);
	free(a);
	return NULL;
}

int
acceptor_bell_fd(struct acceptor *a)
{
	return a->bell_fd;
}

int
acceptor_add_target(struct acceptor *a, struct cap *c)
{
	if (a->ntargets == a->targets_room) {
		int room = a->targets_room ? 2 * a->targets_room : 4;
		struct cap **p = realloc(a->targets, room * sizeof(*p));

		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		a->targets = p;
		a->targets_room = room;
	}
	a->targets[a->ntargets++] = c;
	c->server = a;
	return 0;
}

static void
chan_remove(struct acceptor *a, int i)
{
	struct svc_chan *ch = a->chans[i];

	if (a->pending == ch)
		a->pending = NULL;
	a->chans[i] = a->chans[--a->nchans];
	if (a->rr > a->nchans)
		a->rr = 0;
	sys_munmap(ch->shm, sizeof(struct chan_shm));
	caller_detach(ch);
	free(ch);
}

/* Stop serving c: its channels hang up, its gate stops listening, so its
 * callers get ENOLINK. */
void
acceptor_remove_target(struct acceptor *a, struct cap *c)
{
	int i;

	for (i = a->nchans - 1; i >= 0; i--)
		if (a->chans[i]->target == c)
			chan_remove(a, i);
	for (i = a->nconns - 1; i >= 0; i--)
		if (a->conns[i].target == c) {
			sys_close(a->conns[i].sock);
			a->conns[i] = a->conns[--a->nconns];
		}
	for (i = 0; i < a->ntargets; i++)
		if (a->targets[i] == c) {
			a->targets[i] = a->targets[--a->ntargets];
			break;
		}
	if (c->listen_fd >= 0)
		sys_close(c->listen_fd);
	c->listen_fd = -1;
	c->server = NULL;
}

/* Drop the channels whose callers hung up (died, or their thread ended). */
static void
reap(struct acceptor *a)
{
	struct pollfd pfd[256];
	int base, i, n;

	for (base = 0; base < a->nchans; base += n) {
		n = a->nchans - base < 256 ? a->nchans - base : 256;
		for (i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = a->chans[base + i]->sock,
			    .events = POLLRDHUP };
		if (sys_poll(pfd, n, 0) <= 0)
			continue;
		for (i = n - 1; i >= 0; i--)
			if (pfd[i].revents & (POLLHUP | POLLRDHUP | POLLERR |
			    POLLNVAL))
				chan_remove(a, base + i);
	}
}

static void
ack(int sock, int status)
{
	struct wire_accept w = { WIRE_ACCEPT, WIRE_VERSION, status,
	    (int32_t)getpid() };

	(void)sys_send(sock, &w, sizeof(w), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int
chans_of(struct acceptor *a, pid_t pid)
{
	int i, n = 0;

	for (i = 0; i < a->nchans; i++)
		n += a->chans[i]->caller->pid == pid;
	return n;
}

/*
 * Set up the channel a new connection asks for, if its first message has
 * come: returns false if not yet.  The message, its descriptor and the
 * shared pages are all the caller's to forge: check each, and let a bad
 * one cost only itself.  The caller's pid is the kernel's word (the peer
 * credentials of the connection); only its thread id is its claim.
 */
static bool
connect_one(struct acceptor *a, int sock, struct cap *c)
{
	struct wire_connect w;
	struct iovec iov = { &w, sizeof(w) };
	struct ucred peer;
	socklen_t len = sizeof(peer);
	int fds[WIRE_MAXFDS], nfds = 0, i, status = 0;
	struct svc_chan *ch = NULL;
	void *shm = NULL;
	bool trunc, ctrunc;
	ssize_t n;

	n = cap_recvmsg(sock, &iov, 1, fds, &nfds, &trunc, &ctrunc,
	    MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	/* The channel's memfd lost on the way: we are out of descriptors,
	 * not the caller at fault.  Some channels may be dead: drop them, so
	 * that the caller's next try finds room. */
	if (n == sizeof(w) && ctrunc) {
		status = EAGAIN;
		reap(a);
		goto bad;
	}
	if (n != sizeof(w) || trunc || nfds != 1 || w.magic != WIRE_CONNECT ||
	    w.version != WIRE_VERSION || w.chan_size != sizeof(struct chan_shm) ||
	    w.tid <= 0)
		goto bad;
	/* pid 0: a process outside our pid namespace, which we cannot tell
	 * apart from others. */
	if (sys_getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 ||
	    peer.pid <= 0)
		goto bad;
	if (memfd_sealed_map(fds[0], sizeof(struct chan_shm), &shm) < 0) {
		if (errno == ENOMEM)
			status = ENOMEM;
		goto bad;
	}
	if (chans_of(a, peer.pid) >= CHANS_PER_PID) {
		status = EMFILE;
		reap(a);	/* some may be dead already */
		if (chans_of(a, peer.pid) >= CHANS_PER_PID)
			goto bad;
	}
	status = ENOMEM;
	if (a->nchans == a->chans_room) {
		int room = a->chans_room ? 2 * a->chans_room : 8;
		struct svc_chan **p = realloc(a->chans, room * sizeof(*p));

		if (p == NULL)
			goto bad;
		a->chans = p;
		a->chans_room = room;
	}
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		goto bad;
	ch->shm = shm;
	ch->sock = sock;
	ch->target = c;
	ch->served = LOAD_ACQ(&ch->shm->req_seq);
	if (caller_attach(peer.pid, w.tid, ch) == NULL)
		goto bad;
	if (a->flags_set)
		STORE_RLX(&ch->shm->service_sleeping, 1);
	a->chans[a->nchans++] = ch;
	sys_close(fds[0]);
	ack(sock, 0);
	return true;
bad:
	free(ch);
	if (shm != NULL)
		sys_munmap(shm, sizeof(struct chan_shm));
	for (i = 0; i < nfds; i++)
		sys_close(fds[i]);
	if (status != 0)
		ack(sock, status);
	sys_close(sock);
	return true;
}

/* Too many connections that said nothing yet: drop one of the process
 * that has the most, so that one process flooding the gate crowds out
 * only itself. */
static void
pending_evict(struct acceptor *a)
{
	int i, j, best = 0, most = 0;

	for (i = 0; i < a->nconns; i++) {
		int n = 0;

		for (j = 0; j < a->nconns; j++)
			n += a->conns[j].pid == a->conns[i].pid;
		if (n > most) {
			most = n;
			best = i;
		}
	}
	sys_close(a->conns[best].sock);
	a->conns[best] = a->conns[--a->nconns];
}

/*
 * Out of descriptors, accept4() leaves a connection in the backlog, where
 * its caller would wait for nothing.  Take it with the spare descriptor
 * instead and refuse it (EAGAIN: the service is alive, and keeps serving
 * the channels it has), then hold a spare again.  Without a spare (another
 * thread took the one we freed), the connection waits for the next pass,
 * which only a ring or the idle tick starts: never a busy loop.
 */
static int
refuse_one(struct acceptor *a, struct cap *c)
{
	int s;

	if (a->spare_fd < 0)
		return -1;
	sys_close(a->spare_fd);
	s = sys_accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s >= 0) {
		struct wire_connect w;

		/* Read the connect if it came (its descriptors, which there
		 * is no room for, are dropped): closing over unread data
		 * would reset the caller's end, and a reset is reported
		 * before our answer. */
		(void)sys_recv(s, &w, sizeof(w), MSG_DONTWAIT);
		ack(s, EAGAIN);
		sys_close(s);
	}
	a->spare_fd = sys_fcntl(a->bell_fd, F_DUPFD_CLOEXEC, 0);
	return s;
}

/* Accept the connections waiting at our gates (a batch from each), and
 * set up the channels of those whose first message has come. */
static void
connect_all(struct acceptor *a)
{
	int i, before = a->nchans;
	bool reaped = false;

	a->accept_more = false;
	if (a->spare_fd < 0)
		a->spare_fd = sys_fcntl(a->bell_fd, F_DUPFD_CLOEXEC, 0);

	for (i = a->nconns - 1; i >= 0; i--)
		if (connect_one(a, a->conns[i].sock, a->conns[i].target))
			a->conns[i] = a->conns[--a->nconns];
	for (i = 0; i < a->ntargets; i++) {
		struct cap *c = a->targets[i];
		struct ucred peer;
		socklen_t len = sizeof(peer);
		int s, batch = 0;

		while (batch < ACCEPT_BATCH) {
			s = sys_accept4(c->listen_fd, NULL, NULL,
			    SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (s < 0 && (errno == EMFILE || errno == ENFILE)) {
				/* Some channels may be dead already. */
				if (!reaped) {
					reaped = true;
					reap(a);
					continue;
				}
				if (refuse_one(a, c) < 0)
					break;
				batch++;
				continue;
			}
			if (s < 0)
				break;
			batch++;
			/* An honest caller sends its first message before it
			 * rings: usually it is there already. */
			if (connect_one(a, s, c))
				continue;
			if (sys_getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
				peer.pid = 0;
			if (a->nconns == PENDING_MAX)
				pending_evict(a);
			a->conns[a->nconns++] = (struct pending){ s, c, peer.pid };
		}
		if (batch == ACCEPT_BATCH)
			a->accept_more = true;
	}
	if (a->nchans != before)
		reap(a);
}

/* A channel with a request not yet taken, scanning round-robin so that no
 * caller can starve the others. */
static struct svc_chan *
find_request(struct acceptor *a)
{
	int i, n = a->nchans;

	for (i = 0; i < n; i++) {
		int k = (a->rr + i) % n;
		struct svc_chan *ch = a->chans[k];

		if (LOAD_RLX(&ch->shm->req_seq) != ch->served) {
			a->rr = (k + 1) % n;
			return ch;
		}
	}
	return NULL;
}

static void
set_sleeping(struct acceptor *a, uint32_t v)
{
	int i;

	for (i = 0; i < a->nchans; i++)
		STORE_RLX(&a->chans[i]->shm->service_sleeping, v);
	a->flags_set = v != 0;
}

/* Publish a reply (or a refusal, error != 0) to call seq on ch: bytes and
 * capabilities on the socket when via_socket, then the sequence number in
 * shared memory, waking the caller if it sleeps.  Never blocks: a caller
 * that does not read its socket loses only its own reply. */
static void
publish(struct svc_chan *ch, uint32_t seq, bool via_socket,
    const struct comsg *m, struct cap *const *caps, int error)
{
	struct chan_shm *s = ch->shm;

	if (via_socket) {
		if (msg_send_call(ch->sock, seq, error ? NULL : m->out,
		    error ? 0 : m->outlen, caps, error ? 0 : m->noutcaps,
		    error, 0) < 0)
			return;
	} else if (!error) {
		copy_bytes(s->rep, m->out, m->outlen);
	}
	STORE_RLX(&s->rep_len, error ? (uint32_t)error : (uint32_t)m->outlen);
	STORE_RLX(&s->rep_flags, (via_socket ? CHAN_VIA_SOCKET : 0) |
	    (error ? CHAN_ERROR : 0));
	/* Release: bytes, length, flags before the sequence number. */
	STORE_REL(&s->rep_seq, seq);
	/* Dekker with the caller going to sleep (wait_reply_shm()). */
	FENCE();
	if (LOAD_RLX(&s->caller_sleeping))
		futex_wake(&s->rep_seq);
}

/* Deliver the reply to the pending call, if any: through the kernel when
 * the call came that way, carries capabilities, or we accept slowly. */
static void
reply(struct acceptor *a, const struct comsg *m, struct cap *const *caps,
    bool slow)
{
	struct svc_chan *ch = a->pending;

	a->pending = NULL;
	if (ch != NULL)
		publish(ch, a->pending_seq,
		    slow || a->pending_socket || m->noutcaps > 0, m, caps, 0);
}

/* Take the request on ch into m.  If it cannot be taken (a lie: a request
 * said to be on the socket that is not there, a length out of bounds; or
 * capabilities we have no room for), the caller gets an error instead and
 * we return false. */
static bool
take(struct acceptor *a, struct svc_chan *ch, struct comsg *m, ssize_t *lenp)
{
	struct chan_shm *s = ch->shm;
	uint32_t seq = LOAD_ACQ(&s->req_seq);
	uint32_t flags = LOAD_RLX(&s->req_flags);
	uint32_t len = LOAD_RLX(&s->req_len);
	bool via_socket = (flags & CHAN_VIA_SOCKET) != 0;
	int room = m->nincaps;
	ssize_t n;

	ch->served = seq;
	if (via_socket) {
		n = msg_recv_call(ch->sock, seq, m->in, m->inlen, m->incaps,
		    &room, 0, NULL, NULL);
		if (n < 0) {
			publish(ch, seq, true, m, NULL,
			    errno == EMFILE ? EMFILE : EPROTO);
			return false;
		}
		m->nincaps = room;
	} else {
		if (len > COCALL_MAXLEN) {
			publish(ch, seq, false, m, NULL, EPROTO);
			return false;
		}
		copy_bytes(m->in, s->req, len < m->inlen ? len : m->inlen);
		m->nincaps = 0;
		n = len;
	}
	a->pending = ch;
	a->pending_seq = seq;
	a->pending_socket = via_socket;
	*lenp = n;
	return true;
}

/*
 * Sleep on the target's bell until a caller rings it, for at most a
 * slice: 0 (look again), or -1 with ETIMEDOUT past the deadline.  Dekker
 * with the callers: we set service_sleeping in every channel, fence, and
 * look once more; a caller stores req_seq, fences, and rings if it sees
 * the flag.  The ring value is read before, so a ring in between fails
 * the wait.
 */
static int
accept_sleep(struct acceptor *a, int64_t deadline)
{
	uint32_t ring = LOAD_ACQ(&a->bell->ring);
	int slice;

	if (!a->flags_set)
		set_sleeping(a, 1);
	FENCE();
	if (find_request(a) != NULL || a->accept_more ||
	    LOAD_RLX(&a->bell->connects) != a->connects_seen)
		return 0;
	slice = deadline_left(deadline, REAP_MS);
	if (slice < 0) {
		set_sleeping(a, 0);
		errno = ETIMEDOUT;
		return -1;
	}
	if (futex_wait(&a->bell->ring, ring, slice) < 0 && errno == ETIMEDOUT) {
		/* Idle for a while: a good time to find the dead, and
		 * connects whose ring someone undid. */
		reap(a);
		connect_all(a);
	} else if (find_request(a) == NULL) {
		/* Woken for nothing we can see: maybe a connect whose ring
		 * was rewound. */
		connect_all(a);
	}
	return 0;
}

ssize_t
coacceptv(void **cookiep, uint64_t *labelp, struct comsg *m, int flags,
    int timeout_ms)
{
	struct cap *outcaps[COCALL_MAXCAPS];
	struct cothread *t;
	struct acceptor *a;
	int64_t deadline = -1;
	unsigned spins, budget;

	if (comsg_check(m, flags, outcaps) < 0)
		return -1;
	if ((t = cothread_get()) == NULL)
		return -1;
	if ((a = acceptor_get(t)) == NULL)
		return -1;
	reply(a, m, outcaps, (flags & COCALL_SLOW) != 0);
	if (a->ntargets == 0) {
		errno = ESRCH;
		return -1;
	}
	if (timeout_ms > 0)
		deadline = now_ms() + timeout_ms;
	budget = (flags & COCALL_SLOW) ? 0 : spin_start(&a->spin);
	spins = 0;
	for (;;) {
		struct svc_chan *ch;
		uint32_t conn;
		ssize_t len;

		/* New callers first: a busy service must not starve them.
		 * The word changes rarely, so this load is nearly free. */
		conn = LOAD_RLX(&a->bell->connects);
		if (conn != a->connects_seen || a->accept_more) {
			a->connects_seen = conn;
			connect_all(a);
		}
		ch = find_request(a);
		if (ch != NULL) {
			if (a->flags_set)
				set_sleeping(a, 0);
			if (!take(a, ch, m, &len)) {
				if (deadline >= 0 && now_ms() >= deadline) {
					errno = ETIMEDOUT;
					return -1;
				}
				continue;
			}
			if (budget > 0)
				spin_done(&a->spin, spins >= budget);
			if (cookiep != NULL)
				*cookiep = ch->caller;
			if (labelp != NULL)
				*labelp = ch->target->label;
			return len;
		}
		if (spins < budget) {
			spins++;
			cpu_relax();
			continue;
		}
		if (timeout_ms == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		/* spins == budget: spin_done() learns this wait slept */
		if (accept_sleep(a, deadline) < 0)
			return -1;
	}
}

ssize_t
coaccept(void **cookiep, const void *outbuf, size_t outlen, void *inbuf,
    size_t inlen)
{
	struct comsg m = {
		.out = outbuf, .outlen = outlen, .in = inbuf, .inlen = inlen,
	};

	return coacceptv(cookiep, NULL, &m, 0, -1);
}

ssize_t
coaccept_slow(void **cookiep, const void *outbuf, size_t outlen, void *inbuf,
    size_t inlen)
{
	struct comsg m = {
		.out = outbuf, .outlen = outlen, .in = inbuf, .inlen = inlen,
	};

	return coacceptv(cookiep, NULL, &m, COCALL_SLOW, -1);
}

static void
acceptor_free(struct acceptor *a)
{
	sys_munmap(a->bell, sizeof(struct bell_shm));
	sys_close(a->bell_fd);
	if (a->spare_fd >= 0)
		sys_close(a->spare_fd);
	free(a->targets);
	free(a->chans);
	free(a);
}

/* The serving thread ends: its names go, its targets stop being served
 * (calls through them get ENOLINK), its channels hang up. */
void
acceptor_thread_exit(struct acceptor *a)
{
	while (a->ntargets > 0) {
		struct cap *c = a->targets[a->ntargets - 1];

		names_withdraw(c);
		acceptor_remove_target(a, c);
	}
	while (a->nchans > 0)
		chan_remove(a, a->nchans - 1);
	while (a->nconns > 0)
		sys_close(a->conns[--a->nconns].sock);
	acceptor_free(a);
}

/* In a child after fork: these are the parent's; let go of the
 * descriptors without touching names or callers' records. */
void
acceptor_atfork_child(struct acceptor *a)
{
	int i;

	for (i = 0; i < a->nconns; i++)
		sys_close(a->conns[i].sock);
	for (i = 0; i < a->nchans; i++) {
		sys_munmap(a->chans[i]->shm, sizeof(struct chan_shm));
		sys_close(a->chans[i]->sock);
		free(a->chans[i]);
	}
	for (i = 0; i < a->ntargets; i++) {
		struct cap *c = a->targets[i];

		if (c->listen_fd >= 0)
			sys_close(c->listen_fd);
		c->listen_fd = -1;
		c->server = NULL;
	}
	acceptor_free(a);
}
