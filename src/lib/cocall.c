/*
 * The caller's side of cocall: a private channel per (thread, target), set
 * up on the first call through the target's gate, then requests published
 * in shared memory (or sent on the channel's socket on the slow path) and
 * the reply awaited by spinning, then sleeping on a futex.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "msg.h"

static void
chan_close(struct caller_chan *ch)
{
	sys_munmap(ch->shm, sizeof(struct chan_shm));
	sys_munmap(ch->bell, sizeof(struct bell_shm));
	sys_close(ch->sock);
	free(ch);
}

/* Wake the service if it may sleep: any holder of the target may ring. */
static void
bell_ring(struct bell_shm *bell, bool connect)
{
	if (connect)
		__atomic_add_fetch(&bell->connects, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&bell->ring, 1, __ATOMIC_SEQ_CST);
	futex_wake(&bell->ring);
}

/* Is c served by the calling thread (through whichever handle)?  Its
 * doorbell is then this thread's own. */
static bool
served_here(struct cothread *t, struct cap *c)
{
	struct stat a, b;

	if (t->acc == NULL)
		return false;
	if (c->server == t->acc)
		return true;
	return sys_fstat(c->fd[1], &a) == 0 &&
	    sys_fstat(acceptor_bell_fd(t->acc), &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The service's answer to our connect, without waiting.  A service that
 * refused us and closed before it read our connect reset our end, and the
 * kernel reports the reset (once) before the answer it queued: look again
 * then. */
static ssize_t
recv_ack(int sock, struct wire_accept *ack)
{
	ssize_t n = sys_recv(sock, ack, sizeof(*ack), MSG_DONTWAIT);

	if (n < 0 && errno == ECONNRESET)
		n = sys_recv(sock, ack, sizeof(*ack), MSG_DONTWAIT);
	return n;
}

/* Ring the target and wait until its service answers our connect. */
static int
wait_ack(struct caller_chan *ch, int64_t deadline)
{
	bell_ring(ch->bell, true);
	for (;;) {
		struct pollfd pfd = { .fd = ch->sock, .events = POLLIN };
		int slice = deadline_left(deadline, 50), r;

		if (slice < 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = sys_poll(&pfd, 1, slice);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			return 0;
		/* Not seen yet: the service may have slept through a ring
		 * that someone else undid.  Ring again. */
		bell_ring(ch->bell, true);
	}
}

/* Connect to c's gate, ringing the service while its backlog is full
 * (it has not drained its gate): the socket, or -1 with errno. */
static int
chan_dial(struct caller_chan *ch, struct cap *c, int64_t deadline)
{
	int sock;

	while ((sock = gate_connect(c)) < 0) {
		if (errno != EAGAIN)
			return -1;
		bell_ring(ch->bell, true);
		if (deadline_left(deadline, 1) < 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		sys_poll(NULL, 0, 1);
	}
	return sock;
}

/* Read the service's answer to our connect: 0 taken, or -1 with errno
 * (ENOLINK: gone; EPROTO: not an answer; its refusal). */
static int
chan_answer(int sock)
{
	struct wire_accept ack;
	ssize_t n = recv_ack(sock, &ack);

	if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EAGAIN))) {
		errno = ENOLINK;
		return -1;
	}
	if (n != sizeof(ack) || ack.magic != WIRE_ACCEPT ||
	    ack.version != WIRE_VERSION) {
		errno = EPROTO;
		return -1;
	}
	if (ack.status != 0) {
		/* The service's word: believe only what a refusal can mean
		 * (EAGAIN: it is out of descriptors for now). */
		errno = (ack.status == EMFILE || ack.status == ENFILE ||
		    ack.status == ENOMEM || ack.status == EAGAIN) ?
		    ack.status : EPROTO;
		return -1;
	}
	return 0;
}

/*
 * Set up this thread's channel to target c: connect to its gate, map its
 * doorbell (our own mapping: the capability may be released while we
 * call), and send the shared pages, a sealed memfd; then wait for the
 * service to accept.
 */
static struct caller_chan *
chan_connect(struct cothread *t, struct cap *c, int64_t deadline)
{
	struct wire_connect w = { WIRE_CONNECT, WIRE_VERSION, t->tid,
	    sizeof(struct chan_shm) };
	struct caller_chan *ch;
	int memfd = -1, e, bufsz = 4 * COCALL_MAXLEN;

	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		return NULL;
	ch->sock = -1;
	ch->shm = MAP_FAILED;
	/* Under the lock: another thread may release c, and its descriptor
	 * numbers be reused, at any moment. */
	cap_lock();
	if (c->magic != CAP_LIVE || c->kind != CAP_TARGET) {
		cap_unlock();
		free(ch);
		errno = EINVAL;
		return NULL;
	}
	if (served_here(t, c)) {
		cap_unlock();
		free(ch);
		errno = EDEADLK;
		return NULL;
	}
	ch->bell = sys_mmap(NULL, sizeof(struct bell_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, c->fd[1], 0);
	cap_unlock();
	if (ch->bell == MAP_FAILED)
		goto fail;
	if ((ch->sock = chan_dial(ch, c, deadline)) < 0)
		goto fail;
	(void)sys_setsockopt(ch->sock, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	memfd = sys_memfd_create("comsg-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || sys_ftruncate(memfd, sizeof(struct chan_shm)) < 0 ||
	    sys_fcntl(memfd, F_ADD_SEALS,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	ch->shm = sys_mmap(NULL, sizeof(struct chan_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, memfd, 0);
	if (ch->shm == MAP_FAILED)
		goto fail;
	ch->shm->magic = CHAN_MAGIC;
	ch->shm->version = SHM_VERSION;
	if (msg_send_fds(ch->sock, &w, sizeof(w), &memfd, 1, deadline) < 0) {
		/* Gone, or it refused us before our connect came: then its
		 * answer waits to be read (below), or nothing does. */
		if (errno != EPIPE && errno != ECONNRESET)
			goto fail;
	} else {
		sys_close(memfd);
		memfd = -1;
		if (wait_ack(ch, deadline) < 0)
			goto fail;
	}
	if (chan_answer(ch->sock) < 0)
		goto fail;
	ch->target = c;
	ch->gen = c->gen;
	return ch;
fail:
	e = errno;
	if (ch->shm != MAP_FAILED)
		sys_munmap(ch->shm, sizeof(struct chan_shm));
	if (ch->bell != MAP_FAILED)
		sys_munmap(ch->bell, sizeof(struct bell_shm));
	if (memfd >= 0)
		sys_close(memfd);
	if (ch->sock >= 0)
		sys_close(ch->sock);
	free(ch);
	errno = e;
	return NULL;
}

static struct caller_chan *
chan_for(struct cothread *t, struct cap *c, int64_t deadline)
{
	int i = cap_index(c);
	struct caller_chan *ch = t->chans[i];

	if (ch != NULL && ch->target == c && ch->gen == c->gen)
		return ch;
	if (ch != NULL) {	/* the slot was freed and reused since */
		chan_close(ch);
		t->chans[i] = NULL;
	}
	ch = chan_connect(t, c, deadline);
	if (ch != NULL)
		t->chans[i] = ch;
	return ch;
}

/* Let go of a channel: its service is gone, or a call on it timed out
 * (its late reply must not be taken for the next call's).  The next call
 * through the same capability sets up a new one. */
static void
chan_drop(struct cothread *t, struct caller_chan *ch)
{
	t->chans[cap_index(ch->target)] = NULL;
	chan_close(ch);
}

/* Wait until the service published the reply to seq in shared memory:
 * spin while that pays, then sleep on rep_seq, checking that the service
 * lives. */
static int
wait_reply_shm(struct caller_chan *ch, uint32_t seq, int64_t deadline)
{
	struct chan_shm *s = ch->shm;
	unsigned i, spins = spin_start(&ch->spin);

	for (i = 0; i < spins; i++) {
		if (LOAD_ACQ(&s->rep_seq) == seq) {
			spin_done(&ch->spin, false);
			return 0;
		}
		cpu_relax();
	}
	spin_done(&ch->spin, true);
	for (;;) {
		uint32_t v;
		int slice;

		/* Dekker with the service's reply: it stores rep_seq, fences,
		 * then reads caller_sleeping; we store caller_sleeping, fence,
		 * then read rep_seq.  One of us sees the other. */
		STORE_RLX(&s->caller_sleeping, 1);
		FENCE();
		v = LOAD_ACQ(&s->rep_seq);
		if (v == seq)
			break;
		slice = deadline_left(deadline, SLEEP_SLICE_MS);
		if (slice < 0) {
			STORE_RLX(&s->caller_sleeping, 0);
			errno = ETIMEDOUT;
			return -1;
		}
		if (futex_wait(&s->rep_seq, v, slice) < 0 && errno == ETIMEDOUT &&
		    sock_hungup(ch->sock)) {
			STORE_RLX(&s->caller_sleeping, 0);
			errno = ENOLINK;
			return -1;
		}
		/* Back without the reply (a timeout, a signal): the service
		 * may have missed our ring, since anyone can rewind the
		 * doorbell.  Ring again. */
		if (LOAD_ACQ(&s->rep_seq) != seq && LOAD_RLX(&s->service_sleeping))
			bell_ring(ch->bell, false);
	}
	STORE_RLX(&s->caller_sleeping, 0);
	return 0;
}

/* The errno a service may report for a call it could not take; anything
 * else it says is a protocol error. */
static int
service_errno(uint32_t e)
{
	switch (e) {
	case EMFILE: case ENFILE: case ENOMEM: case EMSGSIZE: case EPROTO:
		return (int)e;
	}
	return EPROTO;
}

/* Send request seq on ch: its bytes through the channel's memory, or,
 * slow or with capabilities, on its socket; then publish it and ring the
 * service if it sleeps.  0, or -1 with errno (of the socket). */
static int
call_send(struct caller_chan *ch, uint32_t seq, const struct comsg *m,
    struct cap *const *outcaps, int flags, int64_t deadline)
{
	struct chan_shm *s = ch->shm;
	bool via_socket = (flags & COCALL_SLOW) || m->noutcaps > 0;

	if (via_socket) {
		if (msg_send_call(ch->sock, seq, m->out, m->outlen, outcaps,
		    m->noutcaps, 0, deadline) < 0)
			return -1;
	} else {
		copy_bytes(s->req, m->out, m->outlen);
	}
	STORE_RLX(&s->req_len, (uint32_t)m->outlen);
	STORE_RLX(&s->req_flags, via_socket ? CHAN_VIA_SOCKET : 0);
	/* Release: the bytes, length and flags are visible before seq. */
	STORE_REL(&s->req_seq, seq);
	ch->seq = seq;
	/* Dekker with the service going to sleep (see coaccept.c). */
	FENCE();
	if (LOAD_RLX(&s->service_sleeping))
		bell_ring(ch->bell, false);
	return 0;
}

/* Wait for the reply to seq and take it into m: its length, or -1 with
 * errno (the service's error, or the wait's). */
static ssize_t
call_reply(struct caller_chan *ch, uint32_t seq, struct comsg *m, int flags,
    int64_t deadline)
{
	struct chan_shm *s = ch->shm;
	uint32_t rflags;
	ssize_t len;

	if (!(flags & COCALL_SLOW)) {
		if (wait_reply_shm(ch, seq, deadline) < 0)
			return -1;
		if ((rflags = LOAD_RLX(&s->rep_flags)) & CHAN_ERROR) {
			errno = service_errno(LOAD_RLX(&s->rep_len));
			return -1;
		}
		if (!(rflags & CHAN_VIA_SOCKET)) {
			len = LOAD_RLX(&s->rep_len);
			if (len > COCALL_MAXLEN) {
				errno = EPROTO;
				return -1;
			}
			copy_bytes(m->in, s->rep, (size_t)len < m->inlen ?
			    (size_t)len : m->inlen);
			m->nincaps = 0;
			return len;
		}
	}
	/* slow, or a reply with capabilities: on the socket */
	len = msg_recv_call(ch->sock, seq, m->in, m->inlen, m->incaps,
	    &m->nincaps, deadline, ch->bell, &s->service_sleeping);
	if (len == MSG_PEER_ERROR) {
		errno = service_errno((uint32_t)errno);
		len = -1;
	}
	return len;
}

ssize_t
cocallv(void *target, struct comsg *m, int flags, int timeout_ms)
{
	struct cap *c, *outcaps[COCALL_MAXCAPS];
	struct cothread *t;
	struct caller_chan *ch;
	int64_t deadline = -1;
	uint32_t seq;
	ssize_t len;

	if (comsg_check(m, flags, outcaps) < 0)
		return -1;
	if ((c = cap_get(target, CAP_TARGET)) == NULL)
		return -1;
	if ((t = cothread_get()) == NULL)
		return -1;
	if (c->server != NULL && c->server == t->acc) {
		errno = EDEADLK;	/* the rest is checked at connect */
		return -1;
	}
	if (timeout_ms >= 0)
		deadline = now_ms() + timeout_ms;
	if ((ch = chan_for(t, c, deadline)) == NULL)
		return -1;
	seq = ch->seq + 1;
	if (seq == 0)		/* 0 is "nothing sent yet" */
		seq = 1;
	if (call_send(ch, seq, m, outcaps, flags, deadline) < 0) {
		int e = errno;

		if (e == EPIPE || e == ECONNRESET || e == ENOLINK)
			e = ENOLINK;
		if (e == ENOLINK || e == ETIMEDOUT)
			chan_drop(t, ch);
		errno = e;
		return -1;
	}
	len = call_reply(ch, seq, m, flags, deadline);
	/* A channel whose service is gone, or whose call timed out (its late
	 * reply must not meet the next call), is not used again. */
	if (len < 0 && (errno == ENOLINK || errno == ETIMEDOUT ||
	    errno == EPROTO)) {
		int e = errno;

		chan_drop(t, ch);
		errno = e;
	}
	return len;
}

static ssize_t
cocall_bytes(void *target, const void *outbuf, size_t outlen, void *inbuf,
    size_t inlen, int flags)
{
	struct comsg m = {
		.out = outbuf, .outlen = outlen, .in = inbuf, .inlen = inlen,
	};

	return cocallv(target, &m, flags, -1);
}

ssize_t
cocall(void *target, const void *outbuf, size_t outlen, void *inbuf,
    size_t inlen)
{
	return cocall_bytes(target, outbuf, outlen, inbuf, inlen, 0);
}

ssize_t
cocall_slow(void *target, const void *outbuf, size_t outlen, void *inbuf,
    size_t inlen)
{
	return cocall_bytes(target, outbuf, outlen, inbuf, inlen, COCALL_SLOW);
}

/* The thread is going away: its channels close, which the services see as
 * a hang-up. */
void
caller_thread_exit(struct cothread *t)
{
	int i;

	for (i = 0; i < CAP_MAX; i++)
		if (t->chans[i] != NULL) {
			chan_close(t->chans[i]);
			t->chans[i] = NULL;
		}
}

void
caller_atfork_child(struct cothread *t)
{
	caller_thread_exit(t);
}

/* c is being released: hang up this thread's channel to it now (other
 * threads notice the new generation at their next call). */
void
caller_forget(struct cothread *t, struct cap *c)
{
	struct caller_chan *ch = t->chans[cap_index(c)];

	if (ch != NULL && ch->target == c)
		chan_drop(t, ch);
}
