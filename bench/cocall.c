/*
 * Round-trip latency between two processes: cocall and cocall_slow against
 * a pair of pipes, a UNIX socketpair, a futex ping-pong, a raw
 * shared-memory spin ping-pong and Eclipse iceoryx, with the two processes
 * on two cores and on one.  Prints a table, then one line starting with
 * "JSON ".  docs/performance.md says what each case measures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comsg/cocall.h"
#include "bench.h"

#ifdef HAVE_ICEORYX
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#endif

#define MAXMSG		COCALL_MAXLEN
#define MAXSIZES	16
#define MAXPAIRS	32
#define ICEORYX_APT	"apt-get install iceoryx libiceoryx-binding-c-dev"
#define IOX_RUNTIME	"comsg-bench-iox-"	/* and the pid: /tmp/<that> */

enum { C_COCALL, C_COCALL_SLOW, C_PIPE, C_SOCKET, C_FUTEX, C_SPIN, C_ICEORYX,
	NCASES };
enum { P_CROSS, P_SAME, NPLACES };
enum { SERVER, CLIENT };

static const char *const case_name[NCASES] = {
	"cocall", "cocall_slow", "pipe", "socketpair", "futex", "spin",
	"iceoryx",
};
static const char *const place_name[NPLACES] = { "cross", "same" };

/*
 * Targets, from docs/performance.md: each a ratio of the medians of two
 * cases measured in the same round.  A goal of 0 is shown for information.
 */
static const struct target {
	int		 place, num, den;
	bool		 at_most;
	double		 goal;
} targets[] = {
	{ P_CROSS, C_COCALL, C_SPIN, true, 1.5 },
	{ P_CROSS, C_PIPE, C_COCALL, false, 25 },
	{ P_CROSS, C_SOCKET, C_COCALL, false, 25 },
	{ P_CROSS, C_COCALL, C_ICEORYX, true, 0.25 },
	{ P_SAME, C_COCALL, C_FUTEX, true, 1.2 },
	{ P_SAME, C_PIPE, C_COCALL, false, 0 },
	{ P_CROSS, C_COCALL_SLOW, C_PIPE, true, 0 },
};
#define NTARGETS	(int)(sizeof(targets) / sizeof(targets[0]))

/*
 * Shared between the two processes of a pair (and set up by the parent):
 * the spin and futex ping-pongs' channel, laid out like libcomsg's (each
 * side writes only its own line, 128 bytes apart), and the batch's size.
 * req_seq with PARK set tells the spin server to sleep between batches.
 */
#define PARK		0x80000000u
#define QUIT		0xffffffffu
#define RUN		0u

struct pshm {
	alignas(128) uint32_t req_seq;	/* written by the client */
	uint32_t	req_len;
	alignas(128) uint32_t rep_seq;	/* written by the server */
	uint32_t	rep_len;
	alignas(128) uint32_t size;	/* this batch's message size */
	uint32_t	ctl;		/* iceoryx server: RUN, PARK, QUIT */
	alignas(128) uint8_t req[MAXMSG];
	alignas(128) uint8_t rep[MAXMSG];
};

struct pair {
	int		 kind, place;
	bool		 live;
	int		 cpu_srv, cpu_cli;
	pid_t		 srv, cli;
	int		 cmd_w, res_r;	/* the parent's ends */
	int		 cmd_r, res_w;	/* the client's ends */
	/* pipes: client to server 0 (read end), 1; server to client 2
	 * (read end), 3.  socketpair: 0 the server's end, 1 the client's. */
	int		 fd[4];
	struct pshm	*sh;
	char		 name[64];	/* cocall target, iceoryx instance */
	void		*target;	/* cocall: the client's capability */
	uint32_t	 seq;		/* spin, futex: the last call */
#ifdef HAVE_ICEORYX
	iox_pub_storage_t pubst;
	iox_sub_storage_t subst;
	iox_pub_t	 pub;
	iox_sub_t	 sub;
#endif
};

/* Parent -> client: run a batch; client -> parent: how many samples. */
struct cmd {
	uint32_t	size, max;
	int64_t		time_ns;
};
struct res {
	int32_t		n, err;
};

/* What a case does in each process; setups exit the child on failure. */
struct ops {
	void	(*srv_setup)(struct pair *);
	void	(*serve)(struct pair *);	/* returns to quit */
	void	(*cli_setup)(struct pair *);
	int	(*rt)(struct pair *, size_t);	/* one round trip */
	void	(*begin)(struct pair *, size_t);	/* before a batch */
	void	(*end)(struct pair *);		/* after a batch */
	void	(*quit)(struct pair *);
};

/* Settings. */
static bool want_case[NCASES], want_place[NPLACES];
static size_t sizes[MAXSIZES];
static int nsizes, rounds = 40, batch_ms = 20, max_samples = 10000;

/* Parent state; children get a copy and use only their pair. */
static pid_t parent_pid, roudi_pid, iox_pids[2 * NPLACES];
static int niox;
static char tmpdir[64], roudi_log[128];
static struct pair pairs[MAXPAIRS];
static int npairs, ncpus, cpus[2];
static uint32_t *samples;		/* shared: the client writes a batch */
static int64_t timer_ns;
static volatile sig_atomic_t stop_sig;
static char *notes[64];
static int nnotes;
static bool failed;

/* Results: pooled samples, and each batch's median by round. */
struct pool {
	uint32_t	*v;
	size_t		 n, room;
};
static struct pool pooled[NPLACES][MAXSIZES][NCASES];
static double *medians;

static uint8_t obuf[MAXMSG], ibuf[MAXMSG];

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}


/* Shared futexes: the words live in memory mapped by both processes. */
static void
fwait(uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void
fwake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void
note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) >= 0 &&
	    nnotes < (int)(sizeof(notes) / sizeof(notes[0])))
		notes[nnotes++] = s;
	va_end(ap);
}

/* A child's error: say which, and go (the parent notices). */
static void __attribute__((noreturn))
child_die(struct pair *p, int role, const char *what)
{
	fprintf(stderr, "cocall: %s %s %s: %s: %s\n", case_name[p->kind],
	    place_name[p->place], role == SERVER ? "server" : "client", what,
	    strerror(errno));
	_exit(1);
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

/* ---- Eclipse iceoryx: publisher/subscriber ping-pong ---- */

#ifdef HAVE_ICEORYX
#define IOX_SERVICE	"comsg-bench"

static void
iox_setup(struct pair *p, int role)
{
	char rt[64], ping[80], pong[80];
	iox_pub_options_t po;
	iox_sub_options_t so;
	int64_t deadline;

	snprintf(rt, sizeof(rt), IOX_RUNTIME "%d", (int)getpid());
	snprintf(ping, sizeof(ping), "%s-ping", p->name);
	snprintf(pong, sizeof(pong), "%s-pong", p->name);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(rt);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	iox_sub_options_init(&so);
	so.queueCapacity = 4;
	so.historyRequest = 0;
	p->pub = iox_pub_init(&p->pubst, IOX_SERVICE,
	    role == CLIENT ? ping : pong, "rt", &po);
	p->sub = iox_sub_init(&p->subst, IOX_SERVICE,
	    role == CLIENT ? pong : ping, "rt", &so);
	if (p->pub == NULL || p->sub == NULL) {
		errno = ENOMEM;
		child_die(p, role, "iox_pub_init/iox_sub_init");
	}
	if (role == SERVER)
		return;
	/* The client is ready when it hears the server and is heard. */
	deadline = now_ns() + 10 * 1000000000LL;
	while (iox_sub_get_subscription_state(p->sub) !=
	    SubscribeState_SUBSCRIBED || !iox_pub_has_subscribers(p->pub)) {
		if (now_ns() > deadline) {
			errno = ETIMEDOUT;
			child_die(p, role, "iceoryx subscription");
		}
		usleep(1000);
	}
}

static void
iox_srv_setup(struct pair *p)
{
	iox_setup(p, SERVER);
}

static void
iox_cli_setup(struct pair *p)
{
	iox_setup(p, CLIENT);
}

/* Leave through exit(), whose destructors unregister the runtime from
 * RouDi: RouDi aborts at its own shutdown, leaving its shared memory
 * behind, if a process it still knows is gone. */
static void __attribute__((noreturn))
iox_close(struct pair *p)
{
	iox_sub_deinit(p->sub);
	iox_pub_deinit(p->pub);
	exit(0);
}

/*
 * The server echoes each request from the chunk it received into the
 * chunk it publishes: one copy fewer than the others, which is what a
 * zero-copy transport is for.  It polls without pause, at its best; it
 * checks ctl only when nothing came, so a batch never waits on it.
 */
static void
iox_serve(struct pair *p)
{
	for (;;) {
		enum iox_ChunkReceiveResult r;
		const void *in;
		void *out;
		uint32_t c, len;

		r = iox_sub_take_chunk(p->sub, &in);
		if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			c = LOAD_ACQ(&p->sh->ctl);
			if (c == QUIT)
				break;
			if (c == PARK)
				fwait(&p->sh->ctl, c);
			continue;
		}
		if (r != ChunkReceiveResult_SUCCESS) {
			errno = EIO;
			child_die(p, SERVER, "iox_sub_take_chunk");
		}
		/* Stored by the client before the batch began; the chunk
		 * it published since carries it over (release/acquire). */
		len = LOAD_RLX(&p->sh->size);
		if (iox_pub_loan_chunk(p->pub, &out, len) !=
		    AllocationResult_SUCCESS) {
			errno = ENOMEM;
			child_die(p, SERVER, "iox_pub_loan_chunk");
		}
		memcpy(out, in, len);
		iox_sub_release_chunk(p->sub, in);
		iox_pub_publish_chunk(p->pub, out);
	}
	iox_close(p);
}

static int
iox_rt(struct pair *p, size_t n)
{
	enum iox_ChunkReceiveResult r;
	const void *in;
	void *out;

	if (iox_pub_loan_chunk(p->pub, &out, (uint32_t)n) !=
	    AllocationResult_SUCCESS) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(out, obuf, n);
	iox_pub_publish_chunk(p->pub, out);
	while ((r = iox_sub_take_chunk(p->sub, &in)) ==
	    ChunkReceiveResult_NO_CHUNK_AVAILABLE)
		;
	if (r != ChunkReceiveResult_SUCCESS) {
		errno = EIO;
		return -1;
	}
	memcpy(ibuf, in, n);
	iox_sub_release_chunk(p->sub, in);
	return 0;
}

/* ctl: release here pairs with the server's acquire when it idles. */
static void
iox_begin(struct pair *p, size_t n)
{
	STORE_REL(&p->sh->ctl, RUN);
	fwake(&p->sh->ctl);
}

static void
iox_end(struct pair *p)
{
	STORE_REL(&p->sh->ctl, PARK);
}

static void
iox_quit(struct pair *p)
{
	STORE_REL(&p->sh->ctl, QUIT);
	fwake(&p->sh->ctl);
	iox_close(p);
}
#endif

static const struct ops ops[NCASES] = {
	[C_COCALL] = { cocall_srv_setup, cocall_serve, cocall_cli_setup,
	    cocall_rt, NULL, NULL, NULL },
	[C_COCALL_SLOW] = { cocall_srv_setup, cocall_serve, cocall_cli_setup,
	    cocall_rt, NULL, NULL, NULL },
	[C_PIPE] = { NULL, pipe_serve, NULL, pipe_rt, NULL, NULL, NULL },
	[C_SOCKET] = { NULL, socket_serve, NULL, socket_rt, NULL, NULL, NULL },
	[C_FUTEX] = { NULL, shm_serve, NULL, shm_rt, shm_begin, shm_end,
	    shm_quit },
	[C_SPIN] = { NULL, shm_serve, NULL, shm_rt, shm_begin, shm_end,
	    shm_quit },
#ifdef HAVE_ICEORYX
	[C_ICEORYX] = { iox_srv_setup, iox_serve, iox_cli_setup, iox_rt,
	    iox_begin, iox_end, iox_quit },
#endif
};

/* ---- the two processes of a pair ---- */

static int
pin(int ncpu, const int *cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < ncpu; i++)
		CPU_SET(cpu[i], &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Pin the process to its core before anything in it uses libcomsg, as a
 * user would; libcomsg adapts its spinning to where its peer turns out to
 * run.
 */
static void
place_self(struct pair *p, int role)
{
	int mine = role == SERVER ? p->cpu_srv : p->cpu_cli;
	bool uses_comsg = p->kind == C_COCALL || p->kind == C_COCALL_SLOW;
	int what = role == SERVER ? COSETUP_COACCEPT : COSETUP_COCALL;

	if (pin(1, &mine) < 0)
		child_die(p, role, "sched_setaffinity");
	if (uses_comsg && cosetup(what) < 0)
		child_die(p, role, "cosetup");
}

static void
client_loop(struct pair *p)
{
	const struct ops *o = &ops[p->kind];
	struct cmd c;
	struct res r;

	for (;;) {
		int64_t t0, t1, warm_end, end, d;
		uint32_t k = 0;
		int i;

		if (read_full(p->cmd_r, &c, sizeof(c)) < 0)
			break;
		memset(&r, 0, sizeof(r));
		STORE_RLX(&p->sh->size, c.size);
		if (o->begin != NULL)
			o->begin(p, c.size);
		/* Warm up: the first calls after idling wake sleepers. */
		t0 = now_ns();
		warm_end = t0 + c.time_ns / 10;
		for (i = 0; i < 2 || now_ns() < warm_end; i++)
			if (o->rt(p, c.size) < 0)
				goto fail;
		t0 = now_ns();
		end = t0 + c.time_ns;
		while (k < c.max) {
			if (o->rt(p, c.size) < 0)
				goto fail;
			/* One clock read per round trip, its cost removed. */
			t1 = now_ns();
			d = t1 - t0 - timer_ns;
			samples[k++] = d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)d;
			t0 = t1;
			if (t1 >= end)
				break;
		}
		if (o->end != NULL)
			o->end(p);
		r.n = (int32_t)k;
		if (write_full(p->res_w, &r, sizeof(r)) < 0)
			break;
	}
	if (o->quit != NULL)
		o->quit(p);
	_exit(0);
fail:
	r.n = -1;
	r.err = errno;
	(void)write_full(p->res_w, &r, sizeof(r));
	_exit(1);
}


static pid_t
spawn(struct pair *p, int role, int *readyp)
{
	int rp[2], keep[8], nkeep = 0;
	const struct ops *o = &ops[p->kind];
	pid_t pid;

	if (pipe2(rp, O_CLOEXEC) < 0)
		return -1;
	/* iceoryx children leave through exit(), which flushes stdio. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(rp[0]);
		close(rp[1]);
		return -1;
	}
	if (pid > 0) {
		close(rp[1]);
		*readyp = rp[0];
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent_pid)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	keep[nkeep++] = rp[1];
	if (role == SERVER) {
		keep[nkeep++] = p->fd[0];
		keep[nkeep++] = p->fd[3];
	} else {
		keep[nkeep++] = p->cmd_r;
		keep[nkeep++] = p->res_w;
		keep[nkeep++] = p->fd[1];
		keep[nkeep++] = p->fd[2];
	}
	close_others(keep, nkeep);
	place_self(p, role);
	memset(obuf, 0x5a, sizeof(obuf));	/* fault the pages in now */
	memset(ibuf, 0, sizeof(ibuf));
	if (role == SERVER) {
		if (o->srv_setup != NULL)
			o->srv_setup(p);
		(void)write_full(rp[1], "R", 1);
		close(rp[1]);
		o->serve(p);
		_exit(0);
	}
	if (o->cli_setup != NULL)
		o->cli_setup(p);
	memset(samples, 0, (size_t)max_samples * sizeof(*samples));
	(void)write_full(rp[1], "R", 1);
	close(rp[1]);
	client_loop(p);
	_exit(0);
}

/* ---- the parent ---- */

static void
on_signal(int sig)
{
	int i;

	/* Unblock whatever the parent waits for; it exits at the next check. */
	stop_sig = sig;
	for (i = 0; i < npairs; i++) {
		if (pairs[i].cli > 0)
			kill(pairs[i].cli, SIGKILL);
		if (pairs[i].srv > 0)
			kill(pairs[i].srv, SIGKILL);
	}
}

static void
check_stop(void)
{
	if (stop_sig != 0) {
		fprintf(stderr, "cocall: interrupted\n");
		exit(128 + stop_sig);	/* cleanup() runs */
	}
}


static void
pair_close_fds(struct pair *p)
{
	int *fds[] = { &p->cmd_w, &p->res_r, &p->cmd_r, &p->res_w, &p->fd[0],
	    &p->fd[1], &p->fd[2], &p->fd[3] };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static void
pair_kill(struct pair *p)
{
	if (p->cli > 0)
		kill(p->cli, SIGKILL);
	if (p->srv > 0)
		kill(p->srv, SIGKILL);
	reap(&p->cli, 1000);
	reap(&p->srv, 1000);
	pair_close_fds(p);
	p->live = false;
}

static void
pair_fail(struct pair *p, const char *why)
{
	note("%s %s: %s", case_name[p->kind], place_name[p->place], why);
	fprintf(stderr, "cocall: %s %s: %s\n", case_name[p->kind],
	    place_name[p->place], why);
	failed = true;
	pair_kill(p);
}

static bool
wait_ready(int fd, int64_t deadline)
{
	char c;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (deadline - now_ns()) / 1000000;
		int r;

		check_stop();
		if (left <= 0)
			return false;
		r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0)
			return read(fd, &c, 1) == 1;
	}
}

static int
pair_init(struct pair *p, int kind, int place)
{
	int cmd[2], res[2];

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->place = place;
	p->cmd_w = p->res_r = p->cmd_r = p->res_w = -1;
	p->fd[0] = p->fd[1] = p->fd[2] = p->fd[3] = -1;
	p->cpu_cli = cpus[0];
	p->cpu_srv = place == P_CROSS ? cpus[1] : cpus[0];
	snprintf(p->name, sizeof(p->name), "bench-%s-%s", case_name[kind],
	    place_name[place]);
	p->sh = mmap(NULL, sizeof(struct pshm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -1;
	}
	/* Spinning servers start asleep. */
	p->sh->req_seq = PARK;
	p->sh->ctl = PARK;
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -1;
	p->cmd_r = cmd[0];
	p->cmd_w = cmd[1];
	if (pipe2(res, O_CLOEXEC) < 0)
		return -1;
	p->res_r = res[0];
	p->res_w = res[1];
	if (kind == C_PIPE) {
		if (pipe2(&p->fd[0], O_CLOEXEC) < 0 ||
		    pipe2(&p->fd[2], O_CLOEXEC) < 0)
			return -1;
	} else if (kind == C_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    p->fd) < 0)
			return -1;
	}
	p->live = true;
	return 0;
}

/* Start every pair: servers first (clients look them up), all at once. */
static void
start_pairs(void)
{
	int ready[MAXPAIRS], i, role;
	int64_t deadline;

	for (role = SERVER; role <= CLIENT; role++) {
		for (i = 0; i < npairs; i++) {
			struct pair *p = &pairs[i];
			pid_t pid;

			ready[i] = -1;
			if (!p->live)
				continue;
			pid = spawn(p, role, &ready[i]);
			if (pid < 0) {
				pair_fail(p, "fork failed");
				continue;
			}
			if (role == SERVER)
				p->srv = pid;
			else
				p->cli = pid;
			if (p->kind == C_ICEORYX)
				iox_pids[niox++] = pid;
		}
		/* iceoryx takes a few discovery cycles of RouDi to connect. */
		deadline = now_ns() + 20 * 1000000000LL;
		for (i = 0; i < npairs; i++) {
			if (ready[i] < 0)
				continue;
			if (pairs[i].live && !wait_ready(ready[i], deadline))
				pair_fail(&pairs[i], role == SERVER ?
				    "server did not start" :
				    "client did not start");
			close(ready[i]);
		}
	}
	/* The parent keeps only its ends of the control pipes. */
	for (i = 0; i < npairs; i++) {
		struct pair *p = &pairs[i];
		int j;

		if (!p->live)
			continue;
		close(p->cmd_r);
		close(p->res_w);
		p->cmd_r = p->res_w = -1;
		for (j = 0; j < 4; j++)
			if (p->fd[j] >= 0) {
				close(p->fd[j]);
				p->fd[j] = -1;
			}
	}
}

/* Orderly end: clients quit (telling parked servers to), then the rest. */
static void
stop_pairs(void)
{
	int i;

	for (i = 0; i < npairs; i++)
		if (pairs[i].cmd_w >= 0) {
			close(pairs[i].cmd_w);
			pairs[i].cmd_w = -1;
		}
	for (i = 0; i < npairs; i++)
		reap(&pairs[i].cli, 2000);
	for (i = 0; i < npairs; i++) {
		struct pair *p = &pairs[i];

		/* A cocall service has no reason to stop; the others do. */
		if (p->srv > 0 && (p->kind == C_COCALL ||
		    p->kind == C_COCALL_SLOW))
			kill(p->srv, SIGKILL);
		reap(&p->srv, 3000);
		pair_close_fds(p);
	}
}

static int
pool_add(struct pool *pl, const uint32_t *v, size_t n)
{
	if (pl->n + n > pl->room) {
		size_t room = pl->room ? pl->room : 4096;
		uint32_t *nv;

		while (room < pl->n + n)
			room *= 2;
		if ((nv = realloc(pl->v, room * sizeof(*nv))) == NULL)
			return -1;
		pl->v = nv;
		pl->room = room;
	}
	memcpy(pl->v + pl->n, v, n * sizeof(*v));
	pl->n += n;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}


/* Of sorted values: the median, and a quantile by nearest rank. */
static double
median_sorted(const uint32_t *v, size_t n)
{
	return n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint32_t
rank_sorted(const uint32_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

static double *
median_at(int round, int place, int size, int kind)
{
	return &medians[((round * NPLACES + place) * MAXSIZES + size) * NCASES +
	    kind];
}

/* One batch of pair p at size index si in round r. */
static void
run_batch(struct pair *p, int r, int si)
{
	struct cmd c = { (uint32_t)sizes[si], (uint32_t)max_samples,
	    (int64_t)batch_ms * 1000000 };
	struct pollfd pfd = { .fd = p->res_r, .events = POLLIN };
	int64_t deadline = now_ns() + (int64_t)batch_ms * 2000000 +
	    10 * 1000000000LL;
	uint32_t *copy;
	struct res res;
	char why[160];

	if (write_full(p->cmd_w, &c, sizeof(c)) < 0) {
		pair_fail(p, "client is gone");
		return;
	}
	for (;;) {
		int64_t left = (deadline - now_ns()) / 1000000;
		int n;

		check_stop();
		if (left <= 0) {
			pair_fail(p, "batch timed out (a process is stuck)");
			return;
		}
		n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			pair_fail(p, "poll failed");
			return;
		}
	}
	if (read_full(p->res_r, &res, sizeof(res)) < 0) {
		check_stop();
		pair_fail(p, "client died");
		return;
	}
	if (res.n < 0 || res.n > max_samples) {
		snprintf(why, sizeof(why), "round trip failed: %s",
		    strerror(res.err));
		pair_fail(p, why);
		return;
	}
	if (res.n == 0)
		return;
	if (pool_add(&pooled[p->place][si][p->kind], samples, res.n) < 0 ||
	    (copy = malloc(res.n * sizeof(*copy))) == NULL) {
		fprintf(stderr, "cocall: out of memory\n");
		exit(1);
	}
	memcpy(copy, samples, res.n * sizeof(*copy));
	qsort(copy, res.n, sizeof(*copy), cmp_u32);
	*median_at(r, p->place, si, p->kind) = median_sorted(copy, res.n);
	free(copy);
}

/* ---- iox-roudi, the iceoryx daemon, started and stopped here ---- */

static bool
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		size_t n = strcspn(path, ":");

		if (n > 0 && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path,
		    prog) < (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* The last line of the RouDi log with anything unprintable dropped. */
static void
roudi_last_line(char *out, size_t size)
{
	char buf[4096], *s, *e;
	ssize_t n;
	size_t k = 0;
	int fd = open(roudi_log, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	s = strrchr(buf, '\n');
	s = s == NULL ? buf : s + 1;
	for (e = s; *e != '\0' && k + 1 < size; e++) {
		if (*e == 033) {	/* colour: ESC [ ... m */
			while (*e != '\0' && *e != 'm')
				e++;
			if (*e == '\0')
				break;
			continue;
		}
		if (*e >= ' ' && *e < 0x7f)
			out[k++] = *e;
	}
	out[k] = '\0';
}

static bool
roudi_ready(void)
{
	char buf[8192];
	ssize_t n;
	int fd = open(roudi_log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "RouDi is ready for clients") != NULL;
}

/*
 * Start iox-roudi with a small configuration of our own (mempools for the
 * sizes measured, not the default 200 MB) and wait until it serves.  It
 * gets SIGTERM, which it answers by cleaning up, if we die.
 */
static bool
roudi_start(void)
{
	static const char cfg[] =
	    "[general]\nversion = 1\n\n[[segment]]\n\n"
	    "[[segment.mempool]]\nsize = 128\ncount = 64\n\n"
	    "[[segment.mempool]]\nsize = 4096\ncount = 64\n\n"
	    "[[segment.mempool]]\nsize = 65536\ncount = 32\n";
	char cfgpath[128], line[256];
	int64_t deadline;
	int fd, st;
	pid_t pid;

	if (!in_path("iox-roudi")) {
		note("iceoryx skipped: iox-roudi not found: %s", ICEORYX_APT);
		return false;
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/roudi.toml", tmpdir);
	snprintf(roudi_log, sizeof(roudi_log), "%s/roudi.log", tmpdir);
	fd = open(cfgpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, cfg, sizeof(cfg) - 1) < 0) {
		if (fd >= 0)
			close(fd);
		note("iceoryx skipped: cannot write %s", cfgpath);
		return false;
	}
	close(fd);
	fprintf(stderr, "cocall: starting iox-roudi\n");
	pid = fork();
	if (pid < 0) {
		note("iceoryx skipped: fork failed");
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent_pid)
			_exit(1);
		fd = open(roudi_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		close_others(NULL, 0);
		signal(SIGPIPE, SIG_DFL);
		execlp("iox-roudi", "iox-roudi", "-c", cfgpath, "-l", "warning",
		    (char *)NULL);
		_exit(127);
	}
	roudi_pid = pid;
	deadline = now_ns() + 10 * 1000000000LL;
	while (!roudi_ready()) {
		check_stop();
		if (waitpid(pid, &st, WNOHANG) == pid) {
			roudi_pid = 0;
			roudi_last_line(line, sizeof(line));
			note("iceoryx skipped: iox-roudi exited (is another "
			    "RouDi running?): %s", line);
			return false;
		}
		if (now_ns() > deadline) {
			note("iceoryx skipped: iox-roudi did not become ready");
			return false;	/* cleanup() stops it */
		}
		usleep(5000);
	}
	return true;
}

/* What an iox-roudi that did not shut down cleanly leaves: the names are
 * fixed in iceoryx 2, and the lock it held while running proves that
 * these were its own. */
static void
roudi_leftovers(void)
{
	struct passwd *pw;
	char path[PATH_MAX];

	unlink("/dev/shm/iceoryx_mgmt");
	if ((pw = getpwuid(geteuid())) != NULL) {
		snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
		unlink(path);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
	unlink("/tmp/iox-unique-roudi.lock");
}

static void
roudi_stop(void)
{
	int64_t deadline = now_ns() + 5 * 1000000000LL;
	char path[PATH_MAX];
	int st = 0, i;
	pid_t r;

	if (roudi_pid > 0) {
		kill(roudi_pid, SIGTERM);
		while ((r = waitpid(roudi_pid, &st, WNOHANG)) == 0 &&
		    now_ns() < deadline)
			usleep(10000);
		if (r == 0) {
			kill(roudi_pid, SIGKILL);
			waitpid(roudi_pid, &st, 0);
		}
		roudi_pid = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			roudi_leftovers();
	}
	/* Each iceoryx process's socket, left if it did not exit cleanly. */
	for (i = 0; i < niox; i++) {
		snprintf(path, sizeof(path), "/tmp/%s%d", IOX_RUNTIME,
		    (int)iox_pids[i]);
		unlink(path);
		snprintf(path, sizeof(path), "/tmp/%s%d.lock", IOX_RUNTIME,
		    (int)iox_pids[i]);
		unlink(path);
	}
	niox = 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
cleanup(void)
{
	int i;

	if (getpid() != parent_pid)
		return;
	for (i = 0; i < npairs; i++)
		pair_kill(&pairs[i]);
	roudi_stop();
	if (tmpdir[0] != '\0') {
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		tmpdir[0] = '\0';
	}
}

/* ---- output ---- */

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct ratio {
	double		 med, q1, q3;
	int		 n;
};

/* The median, over rounds, of the ratio of two cases' medians. */
static bool
ratio_of(const struct target *t, int si, struct ratio *out)
{
	double *v = malloc(rounds * sizeof(*v));
	int r, n = 0;

	if (v == NULL)
		return false;
	for (r = 0; r < rounds; r++) {
		double a = *median_at(r, t->place, si, t->num);
		double b = *median_at(r, t->place, si, t->den);

		if (a > 0 && b > 0)
			v[n++] = a / b;
	}
	if (n == 0) {
		free(v);
		return false;
	}
	qsort(v, n, sizeof(*v), cmp_dbl);
	out->n = n;
	out->med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out->q1 = v[n / 4];
	out->q3 = v[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
	free(v);
	return true;
}

static void
report(void)
{
	int pl, si, k, t, i;
	bool first;

	printf("round-trip latency between two processes, ns "
	    "(min, median, 99th percentile)\n");
	if (ncpus > 1)
		printf("cpus %d and %d", cpus[0], cpus[1]);
	else
		printf("cpu %d only", cpus[0]);
	printf("; %d rounds, %d ms per case per round; clock cost %lld ns "
	    "removed from each sample\n", rounds, batch_ms,
	    (long long)timer_ns);
	printf("socketpair is AF_UNIX SOCK_SEQPACKET; pipe sends 1 byte "
	    "for size 0\n");
	for (i = 0; i < nnotes; i++)
		printf("note: %s\n", notes[i]);
	printf("\n%-6s %-12s %6s %9s %9s %9s %8s\n", "place", "case", "size",
	    "min", "median", "p99", "samples");
	for (pl = 0; pl < NPLACES; pl++)
		for (si = 0; si < nsizes; si++)
			for (k = 0; k < NCASES; k++) {
				struct pool *p = &pooled[pl][si][k];

				if (p->n == 0)
					continue;
				qsort(p->v, p->n, sizeof(*p->v), cmp_u32);
				printf("%-6s %-12s %6zu %9u %9.0f %9u %8zu\n",
				    place_name[pl], case_name[k], sizes[si],
				    p->v[0], median_sorted(p->v, p->n),
				    rank_sorted(p->v, p->n, 0.99), p->n);
			}
	printf("\nratios: median over rounds of the ratio of the two "
	    "medians of a round [quartiles]\n");
	printf("%-6s %6s %-20s %8s %17s %8s %s\n", "place", "size", "ratio",
	    "value", "[q1 - q3]", "target", "");
	for (t = 0; t < NTARGETS; t++)
		for (si = 0; si < nsizes; si++) {
			const struct target *g = &targets[t];
			struct ratio r;
			char name[40], goal[16] = "-", q[40];
			const char *mark = "";

			if (!ratio_of(g, si, &r))
				continue;
			snprintf(name, sizeof(name), "%s/%s", case_name[g->num],
			    case_name[g->den]);
			if (g->goal > 0) {
				snprintf(goal, sizeof(goal), "%s %g",
				    g->at_most ? "<=" : ">=", g->goal);
				mark = (g->at_most ? r.med <= g->goal :
				    r.med >= g->goal) ? "pass" : "miss";
			}
			snprintf(q, sizeof(q), "[%.3g - %.3g]", r.q1, r.q3);
			printf("%-6s %6zu %-20s %8.3g %17s %8s %s\n",
			    place_name[g->place], sizes[si], name, r.med, q,
			    goal, mark);
		}

	/* The machine-readable copy, one line. */
	printf("JSON {\"bench\":\"cocall\",\"unit\":\"ns\",\"cpus\":[%d",
	    cpus[0]);
	if (ncpus > 1)
		printf(",%d", cpus[1]);
	printf("],\"rounds\":%d,\"batch_ms\":%d,\"clock_ns\":%lld,"
	    "\"socket\":\"SOCK_SEQPACKET\",\"notes\":[",
	    rounds, batch_ms, (long long)timer_ns);
	for (i = 0; i < nnotes; i++) {
		if (i > 0)
			putchar(',');
		json_str(stdout, notes[i]);
	}
	printf("],\"results\":[");
	first = true;
	for (pl = 0; pl < NPLACES; pl++)
		for (si = 0; si < nsizes; si++)
			for (k = 0; k < NCASES; k++) {
				struct pool *p = &pooled[pl][si][k];

				if (p->n == 0)
					continue;
				printf("%s{\"placement\":\"%s\",\"case\":\"%s\","
				    "\"size\":%zu,\"min\":%u,\"median\":%.1f,"
				    "\"p99\":%u,\"samples\":%zu}",
				    first ? "" : ",", place_name[pl],
				    case_name[k], sizes[si], p->v[0],
				    median_sorted(p->v, p->n),
				    rank_sorted(p->v, p->n, 0.99), p->n);
				first = false;
			}
	printf("],\"ratios\":[");
	first = true;
	for (t = 0; t < NTARGETS; t++)
		for (si = 0; si < nsizes; si++) {
			const struct target *g = &targets[t];
			struct ratio r;

			if (!ratio_of(g, si, &r))
				continue;
			printf("%s{\"placement\":\"%s\",\"size\":%zu,"
			    "\"ratio\":\"%s/%s\",\"value\":%.4g,\"q1\":%.4g,"
			    "\"q3\":%.4g,\"rounds\":%d", first ? "" : ",",
			    place_name[g->place], sizes[si], case_name[g->num],
			    case_name[g->den], r.med, r.q1, r.q3, r.n);
			if (g->goal > 0)
				printf(",\"target\":\"%s %g\",\"pass\":%s",
				    g->at_most ? "<=" : ">=", g->goal,
				    (g->at_most ? r.med <= g->goal :
				    r.med >= g->goal) ? "true" : "false");
			putchar('}');
			first = false;
		}
	printf("]}\n");
}

/* ---- options and main ---- */

/* -h: the synopsis and what each option does; a bad flag: the synopsis. */
static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
	    "usage: cocall [-hqx] [-c cases] [-p same|cross|both] [-r rounds]\n"
	    "              [-s sizes] [-t ms]\n");
	if (status == 0)
		fprintf(f,
		    "  -c  cases, comma-separated (default all): cocall,cocall_slow,\n"
		    "      pipe,socketpair,futex,spin,iceoryx\n"
		    "  -p  placement: cross (two cores), same (one core), both (default)\n"
		    "  -q  quick: 3 rounds of 4 ms per case (a few seconds in all)\n"
		    "  -r  rounds; each runs every case once, in turn (default 40)\n"
		    "  -s  message sizes in bytes, comma-separated (default 0,64,4096,65536)\n"
		    "  -t  milliseconds per case per round (default 20)\n"
		    "Prints a table, then a last line: \"JSON \" and the results as one\n"
		    "JSON object.  See docs/performance.md.\n");
	exit(status);
}

static void
parse_cases(char *arg)
{
	char *tok, *save = NULL;
	int k;

	memset(want_case, 0, sizeof(want_case));
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < NCASES; k++)
			if (strcmp(tok, case_name[k]) == 0)
				break;
		if (k == NCASES) {
			fprintf(stderr, "cocall: unknown case: %s\n", tok);
			usage(2);
		}
		want_case[k] = true;
	}
}

static void
parse_sizes(char *arg)
{
	char *tok, *save = NULL, *end;

	nsizes = 0;
	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno != 0 || *end != '\0' || end == tok || v > MAXMSG ||
		    nsizes == MAXSIZES) {
			fprintf(stderr, "cocall: bad size: %s (0 to %d, at most "
			    "%d sizes)\n", tok, MAXMSG, MAXSIZES);
			usage(2);
		}
		sizes[nsizes++] = v;
	}
	if (nsizes == 0)
		usage(2);
}

static int
parse_int(const char *arg, int lo, int hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || v < lo || v > hi) {
		fprintf(stderr, "cocall: bad number: %s (%d to %d)\n", arg, lo,
		    hi);
		usage(2);
	}
	return (int)v;
}

/* The clock's cost per read, as the measuring loop pays it. */
static int64_t
clock_cost(void)
{
	int64_t t0, t1;
	int i, n = 100000;

	t0 = now_ns();
	for (i = 0; i < n; i++)
		(void)now_ns();
	t1 = now_ns();
	return (t1 - t0) / n;
}

int
main(int argc, char **argv)
{
	static const size_t default_sizes[] = { 0, 64, 4096, 65536 };
	struct sigaction sa;
	cpu_set_t set;
	bool rounds_set = false, time_set = false, quick = false;
	int ch, i, k, pl, r, si;
	int64_t t_start;

	for (k = 0; k < NCASES; k++)
		want_case[k] = true;
	want_place[P_CROSS] = want_place[P_SAME] = true;
	for (i = 0; i < 4; i++)
		sizes[i] = default_sizes[i];
	nsizes = 4;
	while ((ch = getopt(argc, argv, "c:hp:qr:s:t:")) != -1) {
		switch (ch) {
		case 'c':
			parse_cases(optarg);
			break;
		case 'h':
			usage(0);
		case 'p':
			want_place[P_CROSS] = strcmp(optarg, "cross") == 0 ||
			    strcmp(optarg, "both") == 0;
			want_place[P_SAME] = strcmp(optarg, "same") == 0 ||
			    strcmp(optarg, "both") == 0;
			if (!want_place[P_CROSS] && !want_place[P_SAME])
				usage(2);
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			rounds = parse_int(optarg, 1, 100000);
			rounds_set = true;
			break;
		case 's':
			parse_sizes(optarg);
			break;
		case 't':
			batch_ms = parse_int(optarg, 1, 60000);
			time_set = true;
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (quick) {
		if (!rounds_set)
			rounds = 3;
		if (!time_set)
			batch_ms = 4;
	}
	parent_pid = getpid();
	t_start = now_ns();

	/* The first two CPUs we may use. */
	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		perror("cocall: sched_getaffinity");
		return 1;
	}
	for (i = 0; i < CPU_SETSIZE && ncpus < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	if (ncpus < 2 && want_place[P_CROSS]) {
		want_place[P_CROSS] = false;
		note("cross-core placement skipped: only one CPU available");
	}
#ifndef HAVE_ICEORYX
	if (want_case[C_ICEORYX]) {
		want_case[C_ICEORYX] = false;
		note("iceoryx skipped: built without iceoryx: %s, then rebuild",
		    ICEORYX_APT);
	}
#endif

	/* A private domain, and room for RouDi's configuration and log. */
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/comsg-bench-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("cocall: mkdtemp");
		tmpdir[0] = '\0';
		return 1;
	}
	setenv("COMSG_DIR", tmpdir, 1);
	atexit(cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	samples = mmap(NULL, (size_t)max_samples * sizeof(*samples),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	medians = calloc((size_t)rounds * NPLACES * MAXSIZES * NCASES,
	    sizeof(*medians));
	if (samples == MAP_FAILED || medians == NULL) {
		perror("cocall: memory");
		return 1;
	}
	timer_ns = clock_cost();

	if (want_case[C_ICEORYX] && !roudi_start())
		want_case[C_ICEORYX] = false;
	for (pl = 0; pl < NPLACES; pl++)
		for (k = 0; k < NCASES; k++) {
			if (!want_place[pl] || !want_case[k])
				continue;
			if (pair_init(&pairs[npairs], k, pl) < 0) {
				perror("cocall: setting up a pair");
				return 1;
			}
			npairs++;
		}
	fprintf(stderr, "cocall: starting %d pairs of processes\n", npairs);
	start_pairs();

	/* Rounds: every case once per round, in turn, the order reversed
	 * every other round, so that drift hits all cases alike. */
	for (r = 0; r < rounds; r++) {
		int64_t el = (now_ns() - t_start) / 1000000;

		fprintf(stderr, "cocall: round %d/%d (%lld.%llds)\n", r + 1,
		    rounds, (long long)(el / 1000),
		    (long long)(el % 1000 / 100));
		for (pl = 0; pl < NPLACES; pl++)
			for (si = 0; si < nsizes; si++)
				for (i = 0; i < npairs; i++) {
					struct pair *p = &pairs[r % 2 ?
					    npairs - 1 - i : i];

					if (p->live && p->place == pl)
						run_batch(p, r, si);
				}
	}
	stop_pairs();
	roudi_stop();
	report();
	fflush(stdout);
	return failed ? 1 : 0;
}
