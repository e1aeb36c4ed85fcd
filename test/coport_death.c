/* Death is an event: a receiver blocked on a port whose only sender is killed, and a sender blocked on one whose only receiver is, get EPIPE soon after, whether comsgd lives or was killed first. */
#include "coport_test.h"

#define LIMIT_MS	1000	/* the design says 100 ms; generous here */

struct board {
	int64_t	 done_ms;	/* when the blocked side returned */
	int	 err;		/* its errno */
	ssize_t	 ret;
};

static struct board *b;
static coport_type_t kind;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open the port holding only the right in keep, then say so on sock. */
static coport_t
open_only(int keep, int sock)
{
	coport_t all, p;

	CHECK(coopen("death", kind, &all) == 0);
	p = t_narrow(all, keep);
	CHECK(coclose(all) == 0);
	CHECK(write(sock, "r", 1) == 1);
	return p;
}

/* The side that blocks: a receiver waiting for a message, or a sender
 * waiting for room (COCHANNEL, COCARRIER: filled first) or a receiver
 * (COPIPE). */
static int
blocked(void *arg)
{
	int sock = *(int *)arg, keep = *((int *)arg + 1);
	coport_t p = open_only(keep, sock);
	char buf[64] = { 0 };
	void *bp = buf;
	char c;

	CHECK(read(sock, &c, 1) == 1);		/* the other side is there */
	if (keep == COPORT_PERM_SEND && kind != COPIPE) {
		CHECK(coport_setflags(p, COPORT_NONBLOCK) == 0);
		while (cosend(p, buf, sizeof(buf)) == sizeof(buf))
			;
		CHECK(errno == EAGAIN);
		CHECK(coport_setflags(p, 0) == 0);
	}
	CHECK(write(sock, "b", 1) == 1);	/* about to block */
	b->ret = keep == COPORT_PERM_SEND ? cosend(p, buf, sizeof(buf)) :
	    corecv(p, &bp, sizeof(buf));
	b->err = errno;
	b->done_ms = mono_ms();
	return T_PASS;
}

/* The side that dies: holds the other right and waits to be killed. */
static int
victim(void *arg)
{
	int sock = *(int *)arg, keep = *((int *)arg + 1);
	char c;

	(void)open_only(keep, sock);
	CHECK(read(sock, &c, 1) == 0);		/* until killed */
	return T_PASS;
}

/* Is process pid asleep (state S) now? */
static bool
asleep(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'S';
}

static void
run(coport_type_t k, int blocked_right, bool comsgd_first)
{
	int bs[2], vs[2], barg[2], varg[2];
	pid_t bp, vp;
	int64_t t0, deadline;
	char c;

	kind = k;
	memset(b, 0, sizeof(*b));
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, bs) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, vs) == 0);
	barg[0] = bs[1];
	barg[1] = blocked_right;
	varg[0] = vs[1];
	varg[1] = COPORT_PERM_ALL & ~blocked_right;
	bp = t_spawn(blocked, barg);
	vp = t_spawn(victim, varg);
	CHECK(read(bs[0], &c, 1) == 1 && read(vs[0], &c, 1) == 1);
	CHECK(write(bs[0], "g", 1) == 1);
	CHECK(read(bs[0], &c, 1) == 1);		/* it is about to block */
	/* Watch it fall asleep in the call (it spins a little first). */
	deadline = mono_ms() + 5000;
	while (!asleep(bp))
		CHECK(mono_ms() < deadline);
	if (comsgd_first) {
		/* Its count of the port stops with it: the kernel's tells. */
		pid_t d = t_comsgd_pid();

		CHECK(d > 0 && kill(d, SIGKILL) == 0);
		t_wait_gone(d, 5000);
	}
	t0 = mono_ms();
	kill(vp, SIGKILL);
	CHECK(t_wait(vp) == 128 + SIGKILL);
	t_wait_gone(bp, 5000);		/* not blocked for ever */
	CHECK(t_wait(bp) == T_PASS);
	fprintf(stderr, "%s, %s blocked%s: %s %lld ms after the other side's "
	    "death\n", t_kind(k), blocked_right == COPORT_PERM_SEND ?
	    "sender" : "receiver", comsgd_first ? ", comsgd killed first" : "",
	    b->ret < 0 ? strerror(b->err) : "returned",
	    (long long)(b->done_ms - t0));
	CHECK(b->ret == -1 && b->err == EPIPE);
	CHECK(b->done_ms - t0 < LIMIT_MS);
	close(bs[0]);
	close(bs[1]);
	close(vs[0]);
	close(vs[1]);
}

int
main(void)
{
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(b != MAP_FAILED);
	for (coport_type_t k = COPIPE; k <= COCHANNEL; k++) {
		run(k, COPORT_PERM_RECV, false);
		run(k, COPORT_PERM_SEND, false);
		run(k, COPORT_PERM_RECV, true);
		run(k, COPORT_PERM_SEND, true);
	}
	return T_PASS;
}
