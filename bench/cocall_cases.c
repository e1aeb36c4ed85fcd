/*
 * bench/cocall's cases but iceoryx: what each does in the server and in
 * the client, on the message buffers of cocall.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cocall.h"

/* Cache-line aligned, as the shared areas they are copied to and from are:
 * the copies of the larger sizes cost more from a misaligned buffer. */
alignas(64) uint8_t obuf[MAXMSG], ibuf[MAXMSG];

/* Shared futexes: the words live in memory mapped by both processes. */
void
fwait(uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

void
fwake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* ---- cocall and cocall_slow ---- */

static void
cocall_srv_setup(struct pair *p)
{
	void *target;

	if (coregister(p->name, &target) < 0)
		child_die(p, SERVER, "coregister");
}

static void
cocall_serve(struct pair *p)
{
	ssize_t (*acc)(void **, const void *, size_t, void *, size_t) =
	    p->kind == C_COCALL ? coaccept : coaccept_slow;
	ssize_t n = 0;

	/* Echo: each call's bytes are the next reply. */
	for (;;) {
		n = acc(NULL, ibuf, (size_t)n, ibuf, sizeof(ibuf));
		if (n < 0)
			child_die(p, SERVER, "coaccept");
		if (n > MAXMSG)
			n = MAXMSG;
	}
}

static int
cocall_rt(struct pair *p, size_t n)
{
	ssize_t r = (p->kind == C_COCALL ? cocall : cocall_slow)(p->target,
	    obuf, n, ibuf, sizeof(ibuf));

	if (r == (ssize_t)n)
		return 0;
	if (r >= 0)
		errno = EPROTO;
	return -1;
}

static void
cocall_cli_setup(struct pair *p)
{
	if (colookup(p->name, &p->target) < 0)
		child_die(p, CLIENT, "colookup");
	/* The first call sets up the channel: keep it out of the batches. */
	if (cocall_rt(p, 0) < 0)
		child_die(p, CLIENT, "cocall");
}

/* ---- a pair of pipes ---- */

static void
pipe_serve(struct pair *p)
{
	for (;;) {
		ssize_t n = read(p->fd[0], ibuf, sizeof(ibuf));
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		/* The client stored the size before writing: the pipe
		 * orders it. */
		len = LOAD_RLX(&p->sh->size);
		len = len == 0 ? 1 : len > MAXMSG ? MAXMSG : len;
		if ((size_t)n < len &&
		    read_full(p->fd[0], ibuf + n, len - n) < 0)
			return;
		if (write_full(p->fd[3], ibuf, len) < 0)
			return;
	}
}

/* A pipe cannot carry an empty message: size 0 sends one byte. */
static int
pipe_rt(struct pair *p, size_t n)
{
	if (n == 0)
		n = 1;
	if (write_full(p->fd[1], obuf, n) < 0 ||
	    read_full(p->fd[2], ibuf, n) < 0)
		return -1;
	return 0;
}

/* ---- socketpair(AF_UNIX, SOCK_SEQPACKET) ---- */

static void
socket_serve(struct pair *p)
{
	for (;;) {
		/* 0 is an empty message, or the end: send() then fails. */
		ssize_t n = recv(p->fd[0], ibuf, sizeof(ibuf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || send(p->fd[0], ibuf, (size_t)n, MSG_NOSIGNAL) != n)
			return;
	}
}

static int
socket_rt(struct pair *p, size_t n)
{
	ssize_t r;

	if (send(p->fd[1], obuf, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	r = recv(p->fd[1], ibuf, sizeof(ibuf), 0);
	if (r == (ssize_t)n)
		return 0;
	if (r >= 0)
		errno = EPROTO;
	return -1;
}

/* ---- futex and spin ping-pong on shared words ---- */

/*
 * The same copies as cocall: the client copies its bytes in, the server
 * copies them out and its reply in, the client copies the reply out.
 * Sequence numbers publish (release) and are awaited (acquire) as in
 * libcomsg.  The futex server always wakes the client; the spin pair
 * never sleeps within a batch.
 */
static void
shm_serve(struct pair *p)
{
	struct pshm *s = p->sh;
	bool spin = p->kind == C_SPIN;
	uint32_t served = 0, v, len;

	for (;;) {
		v = LOAD_ACQ(&s->req_seq);
		if (v == served) {
			if (spin)
				cpu_relax();
			else
				fwait(&s->req_seq, v);
			continue;
		}
		if (v & PARK) {
			if (v == QUIT)
				return;
			fwait(&s->req_seq, v);
			continue;
		}
		len = LOAD_RLX(&s->req_len);
		if (len > MAXMSG)
			len = MAXMSG;
		memcpy(ibuf, s->req, len);
		memcpy(s->rep, ibuf, len);
		STORE_RLX(&s->rep_len, len);
		STORE_REL(&s->rep_seq, v);
		if (!spin)
			fwake(&s->rep_seq);
		served = v;
	}
}

static int
shm_rt(struct pair *p, size_t n)
{
	struct pshm *s = p->sh;
	/* Never 0, the server's start, and never near PARK and QUIT. */
	uint32_t seq = (p->seq + 1) & 0x3fffffffu, v, len;

	if (seq == 0)
		seq = 1;
	memcpy(s->req, obuf, n);
	STORE_RLX(&s->req_len, (uint32_t)n);
	STORE_REL(&s->req_seq, seq);
	if (p->kind == C_SPIN) {
		while (LOAD_ACQ(&s->rep_seq) != seq)
			cpu_relax();
	} else {
		fwake(&s->req_seq);
		while ((v = LOAD_ACQ(&s->rep_seq)) != seq)
			fwait(&s->rep_seq, v);
	}
	len = LOAD_RLX(&s->rep_len);
	memcpy(ibuf, s->rep, len < MAXMSG ? len : MAXMSG);
	p->seq = seq;
	return 0;
}

/* The server sleeps between batches (PARK): wake it to spin again. */
static void
shm_begin(struct pair *p, size_t n)
{
	STORE_REL(&p->sh->req_seq, p->seq);
	fwake(&p->sh->req_seq);
}

static void
shm_end(struct pair *p)
{
	STORE_REL(&p->sh->req_seq, p->seq | PARK);
}

static void
shm_quit(struct pair *p)
{
	STORE_REL(&p->sh->req_seq, QUIT);
	fwake(&p->sh->req_seq);
}

static const struct ops cocall_ops = { cocall_srv_setup, cocall_serve,
	cocall_cli_setup, cocall_rt, NULL, NULL, NULL };
static const struct ops pipe_ops = { NULL, pipe_serve, NULL, pipe_rt, NULL,
	NULL, NULL };
static const struct ops socket_ops = { NULL, socket_serve, NULL, socket_rt,
	NULL, NULL, NULL };
static const struct ops shm_ops = { NULL, shm_serve, NULL, shm_rt, shm_begin,
	shm_end, shm_quit };

const struct ops *const ops[NCASES] = {
	[C_COCALL] = &cocall_ops,
	[C_COCALL_SLOW] = &cocall_ops,
	[C_PIPE] = &pipe_ops,
	[C_SOCKET] = &socket_ops,
	[C_FUTEX] = &shm_ops,
	[C_SPIN] = &shm_ops,
#ifdef HAVE_ICEORYX
	[C_ICEORYX] = &iox_ops,
#endif
};
