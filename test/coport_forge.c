/* Coport handles cannot be forged: another user, guessed tokens, stale handles and tokens of ports gone all fail. */
#include <grp.h>
#include "coport_test.h"

/* Another user, pointed at our domain, can neither open our ports by
 * name nor reach our comsgd.  (It starts with no capability of ours: a
 * process that had one, to comsgd included, keeps it across setuid like
 * any descriptor.) */
static int
other_user(void *arg)
{
	coport_t p;
	comutex_t m;
	void *k;

	(void)arg;
	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 2;
	CHECK(getuid() == 65534);
	CHECK_ERR(coopen("ours", COCHANNEL, &p), EACCES);
	CHECK(comutex_init("ours.lock", &m) == EACCES);
	CHECK_ERR(colookup("comsgd", &k), EACCES);
	CHECK_ERR(coport_list(NULL, 0), EACCES);
	return T_PASS;
}

/* A child that opens "ours" (starting comsgd), says so, and waits. */
static int
opener(void *arg)
{
	int sock = *(int *)arg;
	coport_t p;
	char c;

	CHECK(coopen("ours", COCHANNEL, &p) == 0);
	CHECK(write(sock, "o", 1) == 1);
	CHECK(read(sock, &c, 1) == 0);	/* until killed */
	return T_PASS;
}

/* A child that opens a port, hands us a token for it, and waits. */
static int
holder(void *arg)
{
	int sock = *(int *)arg;
	coport_t p;
	char c;

	CHECK(coopen("theirs", COCARRIER, &p) == 0);
	t_send_port(sock, p, COPORT_PERM_RECV);
	CHECK(read(sock, &c, 1) == 0);	/* until killed */
	return T_PASS;
}

int
main(void)
{
	int sv[2], fd, st;
	coport_t p, q, stale;
	void *cap, *fake;
	pid_t pid;
	char c;

	/* 1. Another user (needs root to become one), while the port and
	 * comsgd live, held by a child: we hold nothing yet to pass on. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_spawn(opener, &sv[1]);
	CHECK(read(sv[0], &c, 1) == 1);
	if (geteuid() == 0) {
		st = t_wait(t_spawn(other_user, NULL));
		CHECK(st == T_PASS);
	} else {
		fprintf(stderr, "not root: the other-user case is not run\n");
	}
	kill(pid, SIGKILL);
	CHECK(t_wait(pid) == 128 + SIGKILL);
	close(sv[0]);
	close(sv[1]);
	CHECK(coopen("ours", COCHANNEL, &p) == 0);

	/* 2. A token we made up: an empty memfd like a real one. */
	fd = memfd_create("coport-token", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(capfromfd(&fake, fd) == 0);
	CHECK_ERR(coport_fromcap(fake, &q), EINVAL);
	/* Any other descriptor as a token: the port's own state page is
	 * not one either. */
	CHECK(capfree(fake) == 0);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(capfromfd(&fake, fd) == 0);
	CHECK_ERR(coport_fromcap(fake, &q), EINVAL);
	CHECK(capfree(fake) == 0);
	close(fd);
	CHECK_ERR(coport_fromcap(NULL, &q), EINVAL);
	CHECK_ERR(coport_fromcap((void *)&fd, &q), EINVAL);

	/* 3. A stale handle: once closed, every use of it fails. */
	CHECK(coopen("short", COCARRIER, &stale) == 0);
	CHECK(coclose(stale) == 0);
	CHECK_ERR(cosend(stale, "x", 1), EINVAL);
	CHECK_ERR(coport_tocap(stale, &cap), EINVAL);
	CHECK_ERR(coclose(stale), EINVAL);
	CHECK(coport_gettype(stale) == 0);

	/* 4. A token of a port whose only holder died: the port is gone. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_spawn(holder, &sv[1]);
	CHECK(caprecv(sv[0], &cap) == 0);
	CHECK(coport_fromcap(cap, &q) == 0);	/* alive: it works */
	CHECK(coport_getperm(q) == COPORT_PERM_RECV);
	CHECK_ERR(cosend(q, "x", 1), EPERM);
	CHECK(coclose(q) == 0);
	CHECK(write(sv[0], "k", 1) == 1);
	kill(pid, SIGKILL);
	CHECK(t_wait(pid) == 128 + SIGKILL);
	/* comsgd drops the dead holder's hold (its reaper, within its poll):
	 * from then on the token names nothing. */
	{
		int64_t end = 0;
		struct timespec ts;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		end = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 2000;
		for (;;) {
			r = coport_fromcap(cap, &q);
			if (r < 0)
				break;
			CHECK(coclose(q) == 0);	/* not yet reaped */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			CHECK(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < end);
		}
		CHECK(errno == EINVAL);
	}
	CHECK(capfree(cap) == 0);
	close(sv[0]);
	close(sv[1]);
	CHECK(coclose(p) == 0);
	return T_PASS;
}
