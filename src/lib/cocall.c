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
#include <unistd.h>

#include "internal.h"
#include "msg.h"

static void
chan_close(struct caller_chan *ch)
{
	munmap(ch->shm, sizeof(struct chan_shm));
	close(ch->sock);
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

static int
errno_from_send(int e)
{
	return (e == EPIPE || e == ECONNREFUSED || e == ECONNRESET ||
	    e == ENOTCONN) ? ENOLINK : e;
}

/*
 * Set up this thread's channel to target c: a sealed memfd for the shared
 * pages and a socketpair for the slow path and liveness, sent through the
 * gate; then wait for the service to accept it.
 */
static struct caller_chan *
chan_connect(struct cothread *t, struct cap *c, int64_t deadline)
{
	struct wire_connect w = { WIRE_CONNECT, WIRE_VERSION, t->tid,
	    sizeof(struct chan_shm) };
	struct wire_accept ack;
	struct caller_chan *ch = NULL;
	int memfd = -1, sv[2] = { -1, -1 }, bufsz = 4 * COCALL_MAXLEN, e;
	void *shm = MAP_FAILED;

	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		goto fail;
	memfd = memfd_create("comsg-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, sizeof(struct chan_shm)) < 0 ||
	    fcntl(memfd, F_ADD_SEALS,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	shm = mmap(NULL, sizeof(struct chan_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED, memfd, 0);
	if (shm == MAP_FAILED)
		goto fail;
	ch->shm = shm;
	ch->shm->magic = CHAN_MAGIC;
	ch->shm->version = SHM_VERSION;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (msg_send_fds(c->fd[0], &w, sizeof(w), (int[]){ memfd, sv[1] }, 2,
	    deadline) < 0) {
		errno = errno_from_send(errno);
		goto fail;
	}
	close(memfd);
	close(sv[1]);
	memfd = sv[1] = -1;
	bell_ring(c->bell, true);
	for (;;) {
		struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
		int slice = deadline_left(deadline, 50), r;

		if (slice < 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		r = poll(&pfd, 1, slice);
		if (r < 0 && errno != EINTR)
			goto fail;
		if (r > 0)
			break;
		/* Not seen yet: the service may have slept through a ring
		 * that someone else undid.  Ring again. */
		bell_ring(c->bell, true);
	}
	e = (int)recv(sv[0], &ack, sizeof(ack), 0);
	if (e == 0 || (e < 0 && errno == ECONNRESET)) {
		errno = ENOLINK;
		goto fail;
	}
	if (e != sizeof(ack) || ack.magic != WIRE_ACCEPT ||
	    ack.version != WIRE_VERSION) {
		errno = EPROTO;
		goto fail;
	}
	if (ack.status != 0) {
		errno = (ack.status > 0 && ack.status < 4096) ? ack.status : EPROTO;
		goto fail;
	}
	ch->target = c;
	ch->gen = c->gen;
	ch->sock = sv[0];
	return ch;
fail:
	e = errno;
	if (shm != MAP_FAILED)
		munmap(shm, sizeof(struct chan_shm));
	if (memfd >= 0)
		close(memfd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
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

/* Forget a channel whose service is gone, so that a later call through a
 * target of the same name reconnects. */
static void
chan_drop(struct cothread *t, struct caller_chan *ch)
{
	t->chans[cap_index(ch->target)] = NULL;
	chan_close(ch);
}

/* Wait until the service published the reply to seq in shared memory:
 * spin, then sleep on rep_seq, checking that the service lives. */
static int
wait_reply_shm(struct caller_chan *ch, uint32_t seq, unsigned spins,
    int64_t deadline)
{
	struct chan_shm *s = ch->shm;
	unsigned i;

	for (i = 0; i < spins; i++) {
		if (LOAD_ACQ(&s->rep_seq) == seq)
			return 0;
		cpu_relax();
	}
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
		if (futex_wait(&s->rep_seq, v, slice) < 0 && errno == ETIMEDOUT) {
			if (sock_hungup(ch->sock)) {
				STORE_RLX(&s->caller_sleeping, 0);
				errno = ENOLINK;
				return -1;
			}
			/* The service may have missed our ring (someone
			 * else can rewind the doorbell): ring again. */
			if (LOAD_RLX(&s->service_sleeping))
				bell_ring(ch->target->bell, false);
		}
	}
	STORE_RLX(&s->caller_sleeping, 0);
	return 0;
}

ssize_t
cocallv(void *target, struct comsg *m, int flags, int timeout_ms)
{
	struct cap *c, *outcaps[COCALL_MAXCAPS];
	struct cothread *t;
	struct caller_chan *ch;
	struct chan_shm *s;
	int64_t deadline = -1;
	uint32_t seq, rflags;
	bool via_socket;
	ssize_t len;
	int i;

	if (m == NULL || (flags & ~COCALL_SLOW) != 0 ||
	    (m->out == NULL && m->outlen > 0) ||
	    (m->in == NULL && m->inlen > 0) ||
	    m->noutcaps < 0 || m->noutcaps > COCALL_MAXCAPS ||
	    (m->noutcaps > 0 && m->outcaps == NULL) ||
	    (m->nincaps > 0 && m->incaps == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (m->outlen > COCALL_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	for (i = 0; i < m->noutcaps; i++)
		if ((outcaps[i] = cap_get(m->outcaps[i], 0)) == NULL)
			return -1;
	if ((c = cap_get(target, CAP_TARGET)) == NULL)
		return -1;
	if ((t = cothread_get()) == NULL)
		return -1;
	if (c->server != NULL && c->server == t->acc) {
		errno = EDEADLK;
		return -1;
	}
	if (timeout_ms >= 0)
		deadline = now_ms() + timeout_ms;
	if ((ch = chan_for(t, c, deadline)) == NULL)
		return -1;
	s = ch->shm;
	seq = ch->seq + 1;
	if (seq == 0)		/* 0 is "nothing sent yet" */
		seq = 1;
	via_socket = (flags & COCALL_SLOW) || m->noutcaps > 0;
	if (via_socket) {
		if (msg_send_call(ch->sock, seq, m->out, m->outlen, outcaps,
		    m->noutcaps, deadline) < 0) {
			if (errno == EPIPE || errno == ECONNRESET) {
				chan_drop(t, ch);
				errno = ENOLINK;
			}
			return -1;
		}
	} else {
		memcpy(s->req, m->out, m->outlen);
	}
	STORE_RLX(&s->req_len, (uint32_t)m->outlen);
	STORE_RLX(&s->req_flags, via_socket ? CHAN_VIA_SOCKET : 0);
	/* Release: the bytes, length and flags are visible before seq. */
	STORE_REL(&s->req_seq, seq);
	ch->seq = seq;
	/* Dekker with the service going to sleep (see coaccept.c). */
	FENCE();
	if (LOAD_RLX(&s->service_sleeping))
		bell_ring(c->bell, false);

	if (flags & COCALL_SLOW) {
		len = msg_recv_call(ch->sock, seq, m->in, m->inlen, m->incaps,
		    &m->nincaps, deadline, c->bell, &s->service_sleeping);
	} else {
		if (wait_reply_shm(ch, seq, spin_budget(), deadline) < 0)
			len = -1;
		else if ((rflags = LOAD_RLX(&s->rep_flags)) & CHAN_VIA_SOCKET)
			len = msg_recv_call(ch->sock, seq, m->in, m->inlen,
			    m->incaps, &m->nincaps, deadline, c->bell,
			    &s->service_sleeping);
		else {
			len = LOAD_RLX(&s->rep_len);
			if (len > COCALL_MAXLEN) {
				errno = EPROTO;
				return -1;
			}
			memcpy(m->in, s->rep, (size_t)len < m->inlen ?
			    (size_t)len : m->inlen);
			m->nincaps = 0;
		}
	}
	if (len < 0 && errno == ENOLINK)
		chan_drop(t, ch);
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
