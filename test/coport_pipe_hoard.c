/* COPIPE: a sender that takes every ticket a receiver offers, up to the receiver's bound of pairs, and never sends through them does not keep a new sender from that receiver; nor does a receiver that offers a sender more pairs than it keeps, none of which takes anything, keep that sender from an honest receiver: the pair longest unused makes room. */
#include "coport_test.h"
#include "../src/lib/coport_shm.h"

#include <dirent.h>
#include <linux/futex.h>
#include <sys/un.h>

#define PAIRS_BOUND	64	/* a receiving opening's pairs (copipe.c) */
#define N		100
#define DEADLINE_MS	30000

static int to_h[2], to_s[2];

/* The port's socket as a sender holds it: a datagram socket bound to
 * the port's path. */
static int
take_socket(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int s = -1;

	CHECK(d != NULL);
	while (s < 0 && (e = readdir(d)) != NULL) {
		struct sockaddr_un sun;
		socklen_t len = sizeof(sun);
		int fd = atoi(e->d_name), type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
		    type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&sun, &len) < 0 ||
		    len <= sizeof(sa_family_t) ||
		    strstr(sun.sun_path, "/gates/port.") == NULL)
			continue;
		s = fd;
	}
	closedir(d);
	CHECK(s >= 0);
	return s;
}

/* Take one ticket, if one is queued: map its pair and say we took it
 * (tx_pid), as the library does, and keep it. */
static bool
hoard_one(int s)
{
	struct port_dgram d;
	struct iovec iov = { &d, sizeof(d) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	struct pipe_pair *pg;
	int fd;

	if (recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) {
		CHECK(errno == EAGAIN);
		return false;
	}
	CHECK(d.magic == TICKET_MAGIC);
	CHECK((c = CMSG_FIRSTHDR(&mh)) != NULL && c->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	pg = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(pg != MAP_FAILED);
	__atomic_store_n(&pg->tx_pid, (uint32_t)getpid(), __ATOMIC_RELAXED);
	return true;
}

static coport_t
sender_handle(void)
{
	coport_t full, p;

	CHECK(coopen("hoard", COPIPE, &full) == 0);
	p = t_narrow(full, COPORT_PERM_SEND);
	CHECK(coclose(full) == 0);
	return p;
}

static int
hoarder(void *arg)
{
	struct t_map m[2];
	struct coport_bell *bell;
	int64_t start = t_now_ns();
	coport_t p;
	int s, taken = 0;

	(void)arg;
	p = sender_handle();
	t_say(to_h[1], 'o');
	s = take_socket();
	CHECK(t_maps("coport-bell", m, 2) == 1);
	bell = (struct coport_bell *)m[0].start;
	/* say a sender waits and asks for pairs, for good, and take every
	 * ticket offered */
	__atomic_add_fetch(&bell->pipe_senders, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&bell->pipe_wanted, 1, __ATOMIC_SEQ_CST);
	while (taken < PAIRS_BOUND) {
		struct pollfd pf = { s, POLLIN, 0 };

		CHECK((t_now_ns() - start) / 1000000 < DEADLINE_MS);
		if (poll(&pf, 1, 20) == 1 && hoard_one(s)) {
			taken++;
			continue;
		}
		/* wake the receiver: it offers on its way to sleep */
		__atomic_add_fetch(&bell->in_seq, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &bell->in_seq, FUTEX_WAKE, INT32_MAX,
		    NULL, NULL, 0);
	}
	t_say(to_h[1], 'h');
	t_hear(to_h[1], 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* ---- a receiver offering pairs that take nothing ---- */


/* Offer pairs made by hand (open, an area in reach, nobody waiting),
 * one after another, until told to stop. */
static int
faker(void *arg)
{
	struct t_map m[2];
	struct coport_bell *bell;
	coport_t full, p;
	uint32_t id = 0;
	int s;

	(void)arg;
	CHECK(coopen("fakes", COPIPE, &full) == 0);
	p = t_narrow(full, COPORT_PERM_RECV);
	CHECK(coclose(full) == 0);
	s = t_put_socket();
	CHECK(t_maps("coport-bell", m, 2) == 1);
	bell = (struct coport_bell *)m[0].start;
	t_say(to_h[1], 'o');
	for (;;) {
		struct pollfd pf[2] = { { s, POLLOUT, 0 }, { to_h[1], POLLIN, 0 } };
		struct port_dgram d = { TICKET_MAGIC, COPORT_SHM_VERSION, 4096 };
		struct iovec iov = { &d, sizeof(d) };
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		struct pipe_pair *pg;
		int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);

		CHECK(poll(pf, 2, -1) > 0);
		if (pf[1].revents)
			break;
		CHECK(fd >= 0 && ftruncate(fd, PAGE + (64 << 10)) == 0);
		pg = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(pg != MAP_FAILED);
		*pg = (struct pipe_pair){ .magic = PAIR_MAGIC,
		    .version = COPORT_SHM_VERSION, .rx_pid = (uint32_t)getpid(),
		    .rx_id = ++id, .area_cap = 4096,
		    .status = PAIR_WORD(1, PAIR_OPEN) };
		munmap(pg, PAGE);
		CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
		if (sendmsg(s, &mh, MSG_DONTWAIT) == (ssize_t)sizeof(d))
			__atomic_add_fetch(&bell->pipe_offers, 1, __ATOMIC_SEQ_CST);
		else
			CHECK(errno == EAGAIN);
		close(fd);
	}
	t_hear(to_h[1], 's');
	t_hear(to_h[1], 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static int
receiver(void *arg)
{
	coport_t full, p;

	(void)arg;
	CHECK(coopen("fakes", COPIPE, &full) == 0);
	p = t_narrow(full, COPORT_PERM_RECV);
	CHECK(coclose(full) == 0);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t x = UINT32_MAX;
		void *b = &x;

		CHECK(corecv(p, &b, sizeof(x)) == (ssize_t)sizeof(x));
		CHECK(x == i);
	}
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static int
sender(void *arg)
{
	coport_t p;

	(void)arg;
	p = sender_handle();
	t_say(to_s[1], 'o');
	t_hear(to_s[1], 'g');
	for (uint32_t i = 0; i < N; i++)
		CHECK(cosend(p, &i, sizeof(i)) == (ssize_t)sizeof(i));
	CHECK(coclose(p) == 0);
	return T_PASS;
}

int
main(void)
{
	coport_t p, full;
	pid_t h, s, r;
	int64_t start;

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_h) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, to_s) == 0);
	CHECK(coopen("hoard", COPIPE, &full) == 0);
	p = t_narrow(full, COPORT_PERM_RECV);
	CHECK(coclose(full) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	h = t_spawn(hoarder, NULL);
	s = t_spawn(sender, NULL);
	t_hear(to_h[0], 'o');
	t_hear(to_s[0], 'o');

	/* Offer pairs (on the way to each short sleep) until the hoarder
	 * has all we keep. */
	for (;;) {
		struct pollfd pf = { to_h[0], POLLIN, 0 };
		uint32_t x;
		void *b = &x;

		CHECK_ERR(corecv(p, &b, sizeof(x)), EAGAIN);
		if (poll(&pf, 1, 0) == 1)
			break;
	}
	t_hear(to_h[0], 'h');

	/* A new sender: every message comes. */
	CHECK(coport_setflags(p, 0) == 0);
	t_say(to_s[0], 'g');
	start = t_now_ns();
	for (uint32_t i = 0; i < N; i++) {
		uint32_t x = UINT32_MAX;
		void *b = &x;

		CHECK(corecv(p, &b, sizeof(x)) == (ssize_t)sizeof(x));
		CHECK(x == i);
		if ((t_now_ns() - start) / 1000000 >= DEADLINE_MS) {
			fprintf(stderr, "%u messages in %d ms\n", i, DEADLINE_MS);
			t_fail();
		}
	}
	CHECK(t_wait(s) == T_PASS);
	t_say(to_h[0], 'q');
	CHECK(t_wait(h) == T_PASS);
	CHECK(coclose(p) == 0);

	/* Take pairs (non-blocking sends that find nobody) until we hold
	 * as many as we keep, all the faker's. */
	CHECK(coopen("fakes", COPIPE, &full) == 0);
	p = t_narrow(full, COPORT_PERM_SEND);
	CHECK(coclose(full) == 0);
	CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
	h = t_spawn(faker, NULL);
	t_hear(to_h[0], 'o');
	start = t_now_ns();
	while (t_maps("forged", NULL, 0) < PAIRS_BOUND) {
		uint32_t x = 0;

		CHECK_ERR(cosend(p, &x, sizeof(x)), EAGAIN);
		CHECK((t_now_ns() - start) / 1000000 < DEADLINE_MS);
	}
	t_say(to_h[0], 's');
	CHECK(t_maps("forged", NULL, 0) == PAIRS_BOUND);
	/* An honest receiver: every message goes to it. */
	CHECK(coport_setflags(p, 0) == 0);
	r = t_spawn(receiver, NULL);
	for (uint32_t i = 0; i < N; i++)
		CHECK(cosend(p, &i, sizeof(i)) == (ssize_t)sizeof(i));
	CHECK(t_wait(r) == T_PASS);
	CHECK(t_maps("forged", NULL, 0) + t_maps("copipe-pair", NULL, 0) <=
	    PAIRS_BOUND);
	t_say(to_h[0], 'q');
	CHECK(t_wait(h) == T_PASS);
	CHECK(coclose(p) == 0);
	return T_PASS;
}
