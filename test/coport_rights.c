/* Rights: send-only and receive-only handles passed to other processes hold only what they can map; bad handles, names, types and sizes give clean errors. */
#include "coport_test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/un.h>

enum { CHAN_S, CHAN_R, CARR_S, CARR_R, PIPE_S, PIPE_R, NCHILD };
static int sv[NCHILD][2];

/*
 * What this process's descriptors let it do with the datagram socket of a
 * COCARRIER or COPIPE port: put into its queue (a connected datagram
 * socket, or an O_PATH descriptor one can connect through), take from it
 * (the port's socket itself, which is bound under gates/port.*).
 */
static void
socket_powers(bool *can_put, bool *can_take)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	*can_put = *can_take = false;
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name), type = 0, fl;
		socklen_t tl = sizeof(type);
		struct sockaddr_un sun;
		socklen_t sl = sizeof(sun);
		struct stat st;

		if (de->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0)
			continue;
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_PATH)) {
			int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			struct sockaddr_un to = { .sun_family = AF_UNIX };

			CHECK(s >= 0);
			snprintf(to.sun_path, sizeof(to.sun_path),
			    "/proc/self/fd/%d", fd);
			if (connect(s, (struct sockaddr *)&to, sizeof(to)) == 0)
				*can_put = true;
			close(s);
			continue;
		}
		if (!S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
		    type != SOCK_DGRAM)
			continue;
		memset(&sun, 0, sizeof(sun));
		if (getsockname(fd, (struct sockaddr *)&sun, &sl) == 0 &&
		    strstr(sun.sun_path, "/gates/port.") != NULL) {
			*can_take = true;
			/* The port's socket cannot be sent on: it is not
			 * connected and its name is unlinked. */
			CHECK(send(fd, "x", 1, MSG_DONTWAIT) < 0);
			CHECK(connect(fd, (struct sockaddr *)&sun, sl) < 0);
		}
		sl = sizeof(sun);
		if (getpeername(fd, (struct sockaddr *)&sun, &sl) == 0)
			*can_put = true;
	}
	closedir(d);
}

/* The COCHANNEL rings mapped here: total, and how many writable. */
static int
rings_mapped(int *writable)
{
	struct t_map m[16];
	int n = t_maps("memfd:cochannel-ring", m, 16);

	CHECK(n <= 16);
	*writable = 0;
	for (int i = 0; i < n; i++)
		*writable += m[i].perms[1] == 'w';
	return n;
}

static int
child(void *arg)
{
	int who = (int)(intptr_t)arg, fd = sv[who][1];
	bool sends = who == CHAN_S || who == CARR_S || who == PIPE_S;
	coport_t p = t_recv_port(fd);
	char room[64];
	void *buf = room;
	pollcoport_t pc = make_pollcoport(p, sends ? COPOLL_IN : COPOLL_OUT);
	bool can_put, can_take;
	ssize_t n;

	CHECK(coport_getperm(p) == (sends ? COPORT_PERM_SEND : COPORT_PERM_RECV));
	/* The right it lacks: refused, and copoll says so. */
	if (sends)
		CHECK_ERR(corecv(p, &buf, sizeof(room)), EPERM);
	else
		CHECK_ERR(cosend(p, "x", 1), EPERM);
	CHECK(copoll(&pc, 1, 0) == 1);
	CHECK(pc.revents & (sends ? COPOLL_RERR : COPOLL_WERR));
	/* Cannot widen itself either. */
	{
		coport_t q = coport_clearperm(p, 0);
		void *cap;
		coport_t r;

		CHECK(q != NULL && coport_getperm(q) == coport_getperm(p));
		CHECK(coport_tocap(q, &cap) == 0);
		CHECK(coport_fromcap(cap, &r) == 0);
		CHECK(coport_getperm(r) == coport_getperm(p));
		CHECK(coclose(r) == 0 && coclose(q) == 0 && capfree(cap) == 0);
	}

	t_hear(fd, 'g');
	if (sends) {
		CHECK(cosend(p, "from child", 11) == 11);
	} else {
		CHECK((n = corecv(p, &buf, sizeof(room))) == 12);
		CHECK(memcmp(buf, "from parent", 12) == 0);
		if (who == CARR_R)
			CHECK(coport_msg_free(p, buf) == 0);
	}

	if (who == CHAN_S) {
		int w, rings = rings_mapped(&w);

		/* Its own ring only: the parent's is not mapped here. */
		if (rings != 1 || w != 1)
			fprintf(stderr, "send-only: %d rings mapped, %d writable\n",
			    rings, w);
		CHECK(rings == 1 && w == 1);
		CHECK(t_maps("memfd:cochannel-cons", NULL, 0) == 1);
	} else if (who == CHAN_R) {
		struct t_map m[16];
		int w, rings = rings_mapped(&w);

		/* The parent's ring and the send-only child's: read-only,
		 * and no way to make them writable. */
		fprintf(stderr, "COCHANNEL receive-only: %d rings mapped, "
		    "%d writable\n", rings, w);
		CHECK(rings == 2 && w == 0);
		CHECK(t_maps("memfd:cochannel-ring", m, 16) == rings);
		for (int i = 0; i < rings; i++) {
			char path[80];
			int rfd;

			CHECK_ERR(mprotect((void *)m[i].start, m[i].end - m[i].start,
			    PROT_READ | PROT_WRITE), EACCES);
			CHECK(t_write_faults((uint8_t *)m[i].start + 64));
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
			    (unsigned long)m[i].start, (unsigned long)m[i].end);
			if ((rfd = open(path, O_RDWR | O_CLOEXEC)) < 0)
				continue;	/* needs CAP_SYS_ADMIN */
			CHECK_ERR(pwrite(rfd, "x", 1, 64), EPERM);
			CHECK_ERR((intptr_t)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED, rfd, 0) == (intptr_t)MAP_FAILED ? -1 : 0,
			    EPERM);
			close(rfd);
		}
	} else {
		socket_powers(&can_put, &can_take);
		fprintf(stderr, "%s %s-only: can put %d, can take %d\n",
		    who < PIPE_S ? "COCARRIER" : "COPIPE", sends ? "send" : "receive",
		    can_put, can_take);
		switch (who) {
		case CARR_S:	/* puts messages, cannot take any */
			CHECK(can_put && !can_take);
			break;
		case CARR_R:	/* takes messages, cannot put any */
			CHECK(!can_put && can_take);
			break;
		case PIPE_S:	/* takes receivers' areas, cannot publish any */
			CHECK(!can_put && can_take);
			break;
		case PIPE_R:	/* publishes areas, cannot take another's */
			CHECK(can_put && !can_take);
			break;
		}
	}
	t_say(fd, 'd');
	t_hear(fd, 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
rights(pid_t *pids)
{
	coport_t chan, carr, pipe_;
	char room[64];
	void *buf;
	int got = 0;

	/* COCHANNEL: the parent's ring exists before the children come. */
	CHECK(coopen("rights-chan", COCHANNEL, &chan) == 0);
	CHECK(cosend(chan, "early", 6) == 6);
	t_send_port(sv[CHAN_S][0], chan, COPORT_PERM_SEND);
	t_send_port(sv[CHAN_R][0], chan, COPORT_PERM_RECV);
	t_say(sv[CHAN_S][0], 'g');
	t_hear(sv[CHAN_S][0], 'd');
	for (int i = 0; i < 2; i++) {
		buf = room;
		CHECK(corecv(chan, &buf, sizeof(room)) > 0);
		got |= strcmp(room, "early") == 0 ? 1 :
		    strcmp(room, "from child") == 0 ? 2 : 4;
	}
	CHECK(got == 3);
	CHECK(cosend(chan, "from parent", 12) == 12);
	t_say(sv[CHAN_R][0], 'g');
	t_hear(sv[CHAN_R][0], 'd');

	/* COCARRIER */
	CHECK(coopen("rights-carr", COCARRIER, &carr) == 0);
	t_send_port(sv[CARR_S][0], carr, COPORT_PERM_SEND);
	t_send_port(sv[CARR_R][0], carr, COPORT_PERM_RECV);
	t_say(sv[CARR_S][0], 'g');
	t_hear(sv[CARR_S][0], 'd');
	buf = NULL;
	CHECK(corecv(carr, &buf, 0) == 11 && memcmp(buf, "from child", 11) == 0);
	CHECK(coport_msg_free(carr, buf) == 0);
	CHECK(cosend(carr, "from parent", 12) == 12);
	t_say(sv[CARR_R][0], 'g');
	t_hear(sv[CARR_R][0], 'd');

	/* COPIPE: each side waits for the other. */
	CHECK(coopen("rights-pipe", COPIPE, &pipe_) == 0);
	t_send_port(sv[PIPE_S][0], pipe_, COPORT_PERM_SEND);
	t_send_port(sv[PIPE_R][0], pipe_, COPORT_PERM_RECV);
	t_say(sv[PIPE_S][0], 'g');
	buf = room;
	CHECK(corecv(pipe_, &buf, sizeof(room)) == 11 &&
	    memcmp(room, "from child", 11) == 0);
	t_hear(sv[PIPE_S][0], 'd');
	t_say(sv[PIPE_R][0], 'g');
	CHECK(cosend(pipe_, "from parent", 12) == 12);
	t_hear(sv[PIPE_R][0], 'd');

	for (int i = 0; i < NCHILD; i++) {
		t_say(sv[i][0], 'q');
		CHECK(t_wait(pids[i]) == 0);
	}
	CHECK(coclose(chan) == 0);
	CHECK(coclose(carr) == 0);
	CHECK(coclose(pipe_) == 0);
}

/* Anything but a live handle: EINVAL, no crash. */
static void
bogus(coport_t h)
{
	char room[8];
	void *buf = room, *cap;
	pollcoport_t pc = make_pollcoport(h, COPOLL_IN);

	CHECK_ERR(cosend(h, "x", 1), EINVAL);
	CHECK_ERR(corecv(h, &buf, sizeof(room)), EINVAL);
	CHECK_ERR(coport_msg_free(h, room), EINVAL);
	CHECK_ERR(coport_getperm(h), EINVAL);
	CHECK_ERR(coport_setflags(h, COPORT_NONBLOCK), EINVAL);
	CHECK_ERR(coport_getflags(h), EINVAL);
	CHECK_ERR(coport_tocap(h, &cap), EINVAL);
	CHECK_ERR(copoll(&pc, 1, 0), EINVAL);
	errno = 0;
	CHECK(coport_gettype(h) == 0 && errno == EINVAL);
	errno = 0;
	CHECK(coport_clearperm(h, COPORT_PERM_SEND) == NULL && errno == EINVAL);
	CHECK_ERR(coclose(h), EINVAL);
}

static void
errors(void)
{
	char name[128], big[8192], room[128];
	coport_t p, q, freed;
	void *buf, *cap;
	int local;

	/* Bogus handles. */
	CHECK(coopen("errors-live", COCHANNEL, &p) == 0);
	CHECK(coopen("errors-freed", COCARRIER, &freed) == 0);
	CHECK(coclose(freed) == 0);
	bogus(NULL);
	bogus((coport_t)(uintptr_t)0x1234);
	bogus((coport_t)&local);
	bogus((coport_t)((char *)p + 4));
	bogus((coport_t)((char *)p - 1));
	bogus(freed);
	CHECK(coport_clearperm(p, 0x40) == NULL && errno == EINVAL);
	CHECK_ERR(coport_fromcap(NULL, &q), EINVAL);
	CHECK_ERR(coport_fromcap((void *)&local, &q), EINVAL);
	{
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		CHECK(fd >= 0 && capfromfd(&cap, fd) == 0);
		CHECK_ERR(coport_fromcap(cap, &q), EINVAL);	/* not a token */
		capfree(cap);
		close(fd);
	}
	/* The live handle was not disturbed. */
	CHECK(cosend(p, "still", 6) == 6);
	buf = room;
	CHECK(corecv(p, &buf, sizeof(room)) == 6 && strcmp(room, "still") == 0);

	/* Names and types. */
	CHECK_ERR(coopen("", COCHANNEL, &q), EINVAL);
	CHECK_ERR(coopen(NULL, COCHANNEL, &q), EINVAL);
	CHECK_ERR(coopen("a/b", COCHANNEL, &q), EINVAL);
	CHECK_ERR(coopen("..", COCHANNEL, &q), EINVAL);
	CHECK_ERR(coopen("ok", 0, &q), EINVAL);
	CHECK_ERR(coopen("ok", 4, &q), EINVAL);
	CHECK_ERR(coopen("ok", COCHANNEL, NULL), EINVAL);
	memset(name, 'n', sizeof(name));
	name[COPORT_NAMEMAX + 1] = '\0';		/* 64 characters */
	CHECK_ERR(coopen(name, COCHANNEL, &q), ENAMETOOLONG);
	name[COPORT_NAMEMAX + 20] = '\0';
	memset(name, 'n', COPORT_NAMEMAX + 20);
	CHECK_ERR(coopen(name, COCHANNEL, &q), ENAMETOOLONG);
	name[COPORT_NAMEMAX] = '\0';			/* 63: fine */
	CHECK(coopen(name, COCHANNEL, &q) == 0);
	CHECK(coclose(q) == 0);
	/* An existing name with another type. */
	CHECK_ERR(coopen("errors-live", COCARRIER, &q), EINVAL);
	CHECK_ERR(coopen("errors-live", COPIPE, &q), EINVAL);
	CHECK(coopen("errors-live", COCHANNEL, &q) == 0);
	CHECK(coclose(q) == 0);
	{
		struct coport_attr a = { .ring_size = 16 };

		CHECK_ERR(coopenv("errors-ring", COCHANNEL, &a, &q), EINVAL);
		a.ring_size = (size_t)COCHANNEL_MAXSIZE * 2;
		CHECK_ERR(coopenv("errors-ring", COCHANNEL, &a, &q), EINVAL);
	}

	/* COCHANNEL: a message must fit the ring (4 KiB: 8 bytes of
	 * header, the message padded to 8). */
	memset(big, 'b', sizeof(big));
	CHECK_ERR(cosend(p, big, 4089), EMSGSIZE);
	CHECK_ERR(cosend(p, big, sizeof(big)), EMSGSIZE);
	CHECK(cosend(p, big, 4088) == 4088);
	buf = big;
	CHECK(corecv(p, &buf, sizeof(big)) == 4088);
	/* Too small a buffer: EMSGSIZE, and the message stays. */
	CHECK(cosend(p, "0123456789", 10) == 10);
	buf = room;
	CHECK_ERR(corecv(p, &buf, 9), EMSGSIZE);
	CHECK_ERR(corecv(p, &buf, 0), EMSGSIZE);
	CHECK(corecv(p, &buf, sizeof(room)) == 10 && memcmp(room, "0123456789", 10) == 0);
	CHECK(coclose(p) == 0);
}

/* COPIPE: a receiver's buffer too small for the sender's message gives
 * it EMSGSIZE; the message stays with its sender for the next one. */
static int
pipe_sender(void *arg)
{
	coport_t p;

	(void)arg;
	CHECK(coopen("errors-pipe", COPIPE, &p) == 0);
	CHECK(cosend(p, "0123456789abcdef", 16) == 16);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

static void
pipe_too_small(void)
{
	char room[64];
	void *buf = room;
	coport_t p;
	pid_t pid;

	CHECK(coopen("errors-pipe", COPIPE, &p) == 0);
	pid = t_spawn(pipe_sender, NULL);
	CHECK_ERR(corecv(p, &buf, 8), EMSGSIZE);
	CHECK(corecv(p, &buf, sizeof(room)) == 16);
	CHECK(memcmp(room, "0123456789abcdef", 16) == 0);
	CHECK(t_wait(pid) == 0);
	CHECK(coclose(p) == 0);
}

int
main(void)
{
	pid_t pids[NCHILD];

	/* The children come before the parent opens anything: they inherit
	 * no descriptor or mapping of its ports. */
	for (int i = 0; i < NCHILD; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]) == 0);
		pids[i] = t_spawn(child, (void *)(intptr_t)i);
	}
	rights(pids);
	errors();
	pipe_too_small();
	return T_PASS;
}
