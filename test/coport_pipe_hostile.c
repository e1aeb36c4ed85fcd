/* COPIPE against hostile holders: forged tickets (hugetlbfs, unsealed, not a memfd, floods), pairs whose words lie or change at random, a receiver that holds a filled message, a sender that scribbles over its pairs or dies mid-claim: honest senders and receivers never crash nor hang, and get every message once, intact. */
#include "coport_test.h"
#include "../src/lib/coport_shm.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/un.h>

/*
 * Port "victim": an honest sender S and an honest receiver R, with a
 * hostile receiver HR (its pairs made by hand) in phases 1 and 2, and a
 * hostile sender HS (pairs taken through the library, grown, holes
 * punched in them, then scribbled over) in phase 3.  Every message of S carries its number and a sum; R
 * checks each is whole, new, and in order.  Phase 4: a sender that dies
 * with a pair CLAIMED, even left a zombie, does not keep the receiver
 * from its EPIPE.
 */

#define N1	40	/* messages in each phase */
#define N2	200
#define N3	2000
#define MAXDATA	600
#define DEADLINE_MS	60000
#define PAIRS_BOUND	64	/* pairs an opening keeps (copipe.c) */

struct smsg {
	uint32_t	magic;
	uint32_t	seq;
	uint32_t	len;
	uint32_t	sum;
	uint8_t		data[MAXDATA];
};
#define SMSG_MAGIC	0x676e7373u

static int to_s[2], to_r[2], to_h[2];

static uint32_t
msg_sum(const struct smsg *m)
{
	uint32_t h = 2166136261u ^ m->seq ^ (m->len << 12);

	for (uint32_t i = 0; i < m->len && i < MAXDATA; i++)
		h = (h ^ m->data[i]) * 16777619u;
	return h;
}

static size_t
make_msg(struct smsg *m, uint32_t seq)
{
	m->magic = SMSG_MAGIC;
	m->seq = seq;
	m->len = (seq * 131) % MAXDATA;
	for (uint32_t i = 0; i < m->len; i++)
		m->data[i] = (uint8_t)(seq * 7 + i);
	m->sum = msg_sum(m);
	return 16 + m->len;
}

/* ---- what a hostile holder finds in itself ---- */


static struct coport_bell *
bell_page(void)
{
	struct t_map m[2];

	CHECK(t_maps("coport-bell", m, 2) == 1);
	return (struct coport_bell *)m[0].start;
}

/* Send a ticket: the header, and fds (nfd of them) with it.  False if
 * the socket's queue is full (flags MSG_DONTWAIT). */
static bool
ticket_flags(int s, uint32_t magic, uint64_t len, const int *fds, int nfd,
    int flags)
{
	struct port_dgram d = { magic, COPORT_SHM_VERSION, len };
	struct iovec iov = { &d, sizeof(d) };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfd > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfd * sizeof(int));
	}
	if (sendmsg(s, &mh, flags) == (ssize_t)sizeof(d))
		return true;
	CHECK(flags != 0);
	return false;
}

static void
ticket(int s, uint32_t magic, uint64_t len, const int *fds, int nfd)
{
	(void)ticket_flags(s, magic, len, fds, nfd, 0);
}

/* A pair page made by hand: size bytes in all, sealed as asked. */
static int
forged_pair(size_t size, int seals, struct pipe_pair **pgp)
{
	int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct pipe_pair *pg;
	static uint32_t id;

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	pg = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(pg != MAP_FAILED);
	pg->magic = PAIR_MAGIC;
	pg->version = COPORT_SHM_VERSION;
	pg->rx_pid = (uint32_t)getpid();
	pg->rx_id = ++id;	/* a pair each */
	pg->area_off = 0;
	pg->area_cap = 64 << 10;
	pg->rx_waiting = 1;
	pg->status = PAIR_WORD(1, PAIR_OPEN);
	if (seals != 0)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	*pgp = pg;
	return fd;
}

/* ---- the hostile receiver ---- */

static volatile bool scribbling;

static void *
scribble(void *arg)
{
	struct pipe_pair **pgs = arg;
	uint64_t x = 88172645463325252ull;

	while (__atomic_load_n(&scribbling, __ATOMIC_RELAXED))
		for (int i = 0; pgs[i] != NULL; i++) {
			uint32_t *w = (uint32_t *)pgs[i];

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w[(x >> 32) % (PAGE / 4)] = (uint32_t)x;
			/* now and then a status a sender may take */
			if ((x & 7) == 0)
				pgs[i]->status = PAIR_WORD(x >> 40, x % 8);
		}
	return NULL;
}

/* More pairs than a sender keeps, none of which takes anything: the
 * sender must still make room for an honest receiver's. */
#define FAKES	100
static volatile bool faking;

struct fakes {
	int			sock;
	struct coport_bell	*bell;
};

static void *
fake_pairs(void *arg)
{
	struct fakes *f = arg;

	for (int i = 0; i < FAKES && __atomic_load_n(&faking, __ATOMIC_RELAXED);) {
		struct pipe_pair *pg;
		int fd = forged_pair(PAGE + (64 << 10), F_SEAL_SHRINK, &pg);
		struct pollfd pf = { f->sock, POLLOUT, 0 };

		pg->rx_waiting = 0;
		munmap(pg, PAGE);
		if (ticket_flags(f->sock, TICKET_MAGIC, 4096, &fd, 1,
		    MSG_DONTWAIT)) {
			__atomic_add_fetch(&f->bell->pipe_offers, 1,
			    __ATOMIC_SEQ_CST);
			i++;
		} else {
			(void)poll(&pf, 1, 10);
		}
		close(fd);
	}
	return NULL;
}

static int
hostile_receiver(void *arg)
{
	int sock = to_h[1], s, fd, pipefd[2], fds[2];
	struct pipe_pair *pg[16] = { 0 }, *junk;
	struct coport_bell *bell;
	struct fakes fk;
	pthread_t th, fth;
	coport_t p;
	int n = 0;

	(void)arg;
	CHECK(coopen("victim", COPIPE, &p) == 0);
	s = t_put_socket();
	bell = bell_page();

	/* Phase 1: tickets S must refuse, or take and use only within
	 * what they say; a flood of one. */
	fd = memfd_create("huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
	if (fd >= 0) {
		/* no huge page behind it: SIGBUS where touched */
		CHECK(ftruncate(fd, 4 << 20) == 0);
		CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
		ticket(s, TICKET_MAGIC, 4096, &fd, 1);
		close(fd);
	}
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	ticket(s, TICKET_MAGIC, 4096, pipefd, 1);		/* not a memfd */
	ticket(s, TICKET_MAGIC, 4096, pipefd, 2);		/* two */
	ticket(s, TICKET_MAGIC, 4096, NULL, 0);			/* none */
	fd = forged_pair(PAGE + (64 << 10), 0, &junk);		/* unsealed */
	ticket(s, TICKET_MAGIC, 4096, &fd, 1);
	ticket(s, 0x12345678, UINT64_MAX, &fd, 1);		/* not a ticket */
	close(fd);
	fd = forged_pair(PAGE / 2, F_SEAL_SHRINK, &junk);	/* too short */
	ticket(s, TICKET_MAGIC, 4096, &fd, 1);
	close(fd);
	/* sealed pairs whose areas lie: beyond the pool's reach; beyond
	 * the memfd's end (the sender must not fault); and one that says
	 * its receiver waits but never takes what is filled */
	fds[0] = forged_pair(PAGE + (64 << 10), F_SEAL_SHRINK, &pg[n]);
	pg[n]->area_off = PAIR_POOL_MAX - 64;
	pg[n++]->area_cap = 1 << 20;
	fds[1] = forged_pair(PAGE, F_SEAL_SHRINK, &pg[n++]);
	ticket(s, TICKET_MAGIC, 4096, &fds[0], 1);
	ticket(s, TICKET_MAGIC, 4096, &fds[1], 1);
	fd = forged_pair(PAGE + (64 << 10), F_SEAL_SHRINK, &pg[n++]);
	ticket(s, TICKET_MAGIC, 4096, &fd, 1);
	close(fd);
	/* a flood of one pair, as long as the socket takes it */
	fd = forged_pair(PAGE + (64 << 10), F_SEAL_SHRINK, &pg[n++]);
	for (int i = 0; i < 1000 &&
	    ticket_flags(s, TICKET_MAGIC, UINT64_MAX, &fd, 1, MSG_DONTWAIT); i++)
		;
	close(fd);
	__atomic_add_fetch(&bell->pipe_offers, 1000, __ATOMIC_SEQ_CST);
	faking = true;
	fk = (struct fakes){ s, bell };
	CHECK(pthread_create(&fth, NULL, fake_pairs, &fk) == 0);
	t_say(sock, '1');

	/* Phase 2: every word of our pairs at random. */
	t_hear(sock, '2');
	scribbling = true;
	CHECK(pthread_create(&th, NULL, scribble, pg) == 0);
	t_hear(sock, 'x');
	scribbling = false;
	CHECK(pthread_join(th, NULL) == 0);
	faking = false;
	CHECK(pthread_join(fth, NULL) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* ---- the hostile sender ---- */

static int
hostile_sender(void *arg)
{
	int sock = to_h[1], nmaps;
	struct t_map m[8];
	struct pipe_pair *pg[8] = { 0 };
	char hello[16] = "hostile";
	pthread_t th;
	coport_t p;

	(void)arg;
	CHECK(coopen("victim", COPIPE, &p) == 0);
	/* a pair of our own with R, the honest way */
	CHECK(cosend(p, hello, sizeof(hello)) == (ssize_t)sizeof(hello));
	nmaps = t_maps("copipe-pair", m, 8);
	CHECK(nmaps >= 1 && nmaps <= 7);
	for (int i = 0; i < nmaps; i++) {
		char path[64], link[256];
		DIR *d;
		struct dirent *e;

		pg[i] = (struct pipe_pair *)m[i].start;
		/* the pool cannot shrink (R would fault on it); growing
		 * it, or punching holes in it, is ours to do */
		CHECK((d = opendir("/proc/self/fd")) != NULL);
		while ((e = readdir(d)) != NULL) {
			ssize_t n;
			struct stat st;
			int fd = atoi(e->d_name);

			snprintf(path, sizeof(path), "/proc/self/fd/%.20s", e->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strstr(link, "copipe-pair") == NULL)
				continue;
			CHECK(fstat(fd, &st) == 0);
			CHECK_ERR(ftruncate(fd, PAGE), EPERM);
			CHECK(ftruncate(fd, st.st_size + (1 << 20)) == 0);
			/* the pool's pages, gone: they read as zeros */
			CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
			    FALLOC_FL_KEEP_SIZE, PAGE, st.st_size) == 0);
		}
		closedir(d);
	}
	t_say(sock, 'h');
	scribbling = true;
	CHECK(pthread_create(&th, NULL, scribble, pg) == 0);
	t_hear(sock, 'x');
	scribbling = false;
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* ---- the honest ones ---- */

static int
honest_sender(void *arg)
{
	struct smsg m;
	coport_t p;
	uint32_t seq = 0;

	(void)arg;
	CHECK(coopen("victim", COPIPE, &p) == 0);
	for (int phase = 1; phase <= 3; phase++) {
		uint32_t end = seq + (phase == 1 ? N1 : phase == 2 ? N2 : N3);

		t_hear(to_s[1], (char)('0' + phase));
		for (; seq < end; seq++) {
			size_t len = make_msg(&m, seq);

			if (phase == 2 && seq == end - 1) {
				/* the last once the scribbler is gone */
				t_say(to_s[1], 'd');
				t_hear(to_s[1], 'L');
			}
			CHECK(cosend(p, &m, len) == (ssize_t)len);
		}
		/* the pairs we keep stay bounded */
		CHECK(t_maps("copipe-pair", NULL, 0) +
		    t_maps("forged", NULL, 0) <= PAIRS_BOUND);
		t_say(to_s[1], 'd');
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* Receive until S's message end - 1 has come: each whole, new, in
 * order; with gaps only where a hostile receiver's scribbles took some
 * (S saw them accepted).  Messages of others (HS's, or made of its
 * scribbles) are counted, never taken for S's. */
static void
receive_until(coport_t p, uint32_t *next, uint32_t end, bool gaps,
    uint32_t *foreign)
{
	int64_t start = t_now_ns();

	while (*next < end) {
		struct smsg room;
		void *b = &room;
		ssize_t n = corecv(p, &b, sizeof(room));
		struct smsg m;

		CHECK((t_now_ns() - start) / 1000000 < DEADLINE_MS);
		if (n < 0) {
			/* a hostile sender's TOOSMALL mark */
			CHECK(errno == EMSGSIZE);
			continue;
		}
		memset(&m, 0, sizeof(m));
		memcpy(&m, b, (size_t)n);
		if (n < 16 || m.magic != SMSG_MAGIC || m.len != (size_t)n - 16 ||
		    m.sum != msg_sum(&m)) {
			(*foreign)++;
			continue;
		}
		if (m.seq < *next || (m.seq > *next && !gaps) || m.seq >= end) {
			fprintf(stderr, "message %u where %u was due\n", m.seq,
			    *next);
			t_fail();
		}
		*next = m.seq + 1;
	}
}

static int
honest_receiver(void *arg)
{
	uint32_t next = 0, foreign = 0;
	coport_t p;

	(void)arg;
	CHECK(coopen("victim", COPIPE, &p) == 0);
	t_say(to_r[1], 'r');
	for (int phase = 1; phase <= 3; phase++) {
		uint32_t end = phase == 1 ? N1 : phase == 2 ? N1 + N2 :
		    N1 + N2 + N3;

		receive_until(p, &next, end, phase == 2, &foreign);
		t_say(to_r[1], 'd');
	}
	fprintf(stderr, "R: %u messages of S, %u others\n", next, foreign);
	t_hear(to_r[1], 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* Phase 4: takes a pair, claims it by hand, and dies. */
static int
dies_claiming(void *arg)
{
	struct t_map m[2];
	struct pipe_pair *pg;
	uint32_t w;
	coport_t p;

	CHECK(coopen(arg, COPIPE, &p) == 0);
	t_say(to_h[1], 'o');
	CHECK(cosend(p, "x", 1) == 1);
	CHECK(t_maps("copipe-pair", m, 2) == 1);
	pg = (struct pipe_pair *)m[0].start;
	do
		w = __atomic_load_n(&pg->status, __ATOMIC_ACQUIRE);
	while (PAIR_STATE(w) != PAIR_OPEN);
	CHECK(__atomic_compare_exchange_n(&pg->status, &w,
	    PAIR_WORD(PAIR_ROUND(w), PAIR_CLAIMED), false, __ATOMIC_SEQ_CST,
	    __ATOMIC_RELAXED));
	kill(getpid(), SIGKILL);
	return T_FAIL;
}

static pid_t honest[2];

/* Wait for S (0) or R (1) to say it is done, within the deadline; a
 * crash is told as one. */
static void
done(int who)
{
	int fd = (int)syscall(SYS_pidfd_open, honest[who], 0);
	struct pollfd pf[2] = { { who == 0 ? to_s[0] : to_r[0], POLLIN, 0 },
	    { fd, POLLIN, 0 } };

	CHECK(fd >= 0);
	if (poll(pf, 2, DEADLINE_MS) < 1 || !(pf[0].revents & POLLIN)) {
		int st = pf[1].revents ? t_wait(honest[who]) : -1;

		fprintf(stderr, "%s %s %d\n", who == 0 ? "S" : "R",
		    st < 0 ? "hangs" : st > 128 ? "killed by signal" : "exit",
		    st > 128 ? st - 128 : st);
		t_fail();
	}
	close(fd);
	t_hear(pf[0].fd, 'd');
}

static void
phase_done(void)
{
	done(0);
	done(1);
}

int
main(void)
{
	pid_t s, r, hr, hs, d;
	coport_t p;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_s) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_r) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_h) == 0);
	CHECK(coopen("victim", COPIPE, &p) == 0);
	s = honest[0] = t_spawn(honest_sender, NULL);
	r = honest[1] = t_spawn(honest_receiver, NULL);
	t_hear(to_r[0], 'r');

	/* 1: forged tickets, and a receiver that never takes */
	hr = t_spawn(hostile_receiver, NULL);
	t_hear(to_h[0], '1');
	t_say(to_s[0], '1');
	phase_done();
	/* 2: its pairs' words at random; the last message once it is gone */
	t_say(to_h[0], '2');
	t_say(to_s[0], '2');
	done(0);
	t_say(to_h[0], 'x');
	CHECK(t_wait(hr) == T_PASS);
	t_say(to_s[0], 'L');
	phase_done();

	/* 3: a sender scribbling over its pairs with R */
	hs = t_spawn(hostile_sender, NULL);
	t_hear(to_h[0], 'h');
	t_say(to_s[0], '3');
	phase_done();
	t_say(to_h[0], 'x');
	CHECK(t_wait(hs) == T_PASS);
	t_say(to_r[0], 'q');
	CHECK(t_wait(s) == T_PASS);
	CHECK(t_wait(r) == T_PASS);
	CHECK(coclose(p) == 0);

	/* 4: a sender that dies with a pair CLAIMED: the receiver, alone
	 * with it, still learns every sender has gone. */
	CHECK(coopen("claimed", COPIPE, &p) == 0);
	{
		coport_t full = p;

		p = t_narrow(full, COPORT_PERM_RECV);
		CHECK(coclose(full) == 0);
	}
	d = t_spawn(dies_claiming, "claimed");
	t_hear(to_h[0], 'o');
	{
		char buf[16];
		void *b = buf;
		int64_t t0;

		siginfo_t si;

		CHECK(corecv(p, &b, sizeof(buf)) == 1 && buf[0] == 'x');
		/* dead, and left unreaped: a zombie, which kill() still
		 * finds */
		CHECK(waitid(P_PID, (id_t)d, &si, WEXITED | WNOWAIT) == 0);
		t0 = t_now_ns();
		CHECK_ERR(corecv(p, &b, sizeof(buf)), EPIPE);
		CHECK((t_now_ns() - t0) / 1000000 < DEADLINE_MS);
		CHECK(t_wait(d) == 128 + SIGKILL);
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}
