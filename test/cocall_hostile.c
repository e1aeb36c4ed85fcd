/* Hostile holders of a target spoil only their own calls: junk and
 * descriptor floods on the gate, half-open connections, a scribbled
 * channel and a scribbled doorbell leave the service serving everyone else,
 * and its descriptors are not exhausted. */
#include <dirent.h>
#include <sys/mman.h>
#include <sys/un.h>
#include "harness.h"

#define GOOD_CALLS	2000
/* No honest call may wait longer than this, fresh connections included:
 * hostile holders add latency, they must not hold the service. */
#define STALL_MAX_NS	2000000000LL

static void *target;
static int gate_fd, bell_fd;
static int64_t longest;		/* the longest honest call, ns */

static int
count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
serve(void *arg)
{
	uint32_t in, out = 0;
	size_t outlen = 0;

	(void)arg;
	for (;;) {
		ssize_t n = coaccept(NULL, &out, outlen, &in, sizeof(in));

		if (n < 0)
			return T_FAIL;
		out = n == sizeof(in) ? in + 1 : 0;
		outlen = sizeof(out);
	}
}

static int
connect_gate(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d", gate_fd);
	if (s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Send n bytes of junk with k descriptors attached. */
static void
junk(int s, size_t n, int k)
{
	char buf[64] = { 0 }, cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { buf, n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[8];

	for (int i = 0; i < k; i++)
		fds[i] = 0;
	if (k > 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * k);
	}
	(void)sendmsg(s, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Abuse the gate: junk, descriptor floods, half-open and shut-down
 * connections, over and over, ringing the doorbell for each. */
static int
gate_abuser(void *arg)
{
	struct bell_ring { uint32_t m, v, ring, connects; } *bell;
	int nkept = 0;

	(void)arg;
	bell = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bell_fd, 0);
	CHECK(bell != MAP_FAILED);
	for (unsigned i = 0; ; i++) {
		int s = connect_gate();

		if (s < 0)
			continue;
		switch (i % 5) {
		case 0: junk(s, 0, 8); break;		/* empty, with descriptors */
		case 1: junk(s, 16, 8); break;		/* right size, wrong contents */
		case 2: junk(s, 3, 0); break;
		case 3: shutdown(s, SHUT_RDWR); break;
		case 4: break;				/* connect and say nothing */
		}
		__atomic_add_fetch(&bell->connects, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&bell->ring, 1, __ATOMIC_SEQ_CST);
		if (nkept < 32)
			nkept++;	/* the first ones stay open, half-set-up */
		else
			close(s);
	}
	return T_PASS;
}

/* Rewind and scramble the doorbell, as fast as it can. */
static int
bell_scribbler(void *arg)
{
	uint32_t *w;

	(void)arg;
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bell_fd, 0);
	CHECK(w != MAP_FAILED);
	for (uint32_t x = 1; ; x = x * 1103515245 + 12345)
		for (int i = 0; i < 1024; i++)
			w[i] = x ^ i;
	return T_PASS;
}

/* A caller that sets up its channel honestly, then writes garbage all
 * over the shared pages: sequence numbers, lengths, flags, bytes. */
static int
chan_scribbler(void *arg)
{
	uint32_t req = 0, rep;
	FILE *f;
	char line[512];
	uint32_t *chan = NULL;

	(void)arg;
	CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep));
	f = fopen("/proc/self/maps", "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "comsg-chan") != NULL) {
			unsigned long lo, hi;

			sscanf(line, "%lx-%lx", &lo, &hi);
			chan = (uint32_t *)lo;
		}
	fclose(f);
	CHECK(chan != NULL);
	for (uint32_t x = 7; ; x = x * 1664525 + 1013904223) {
		for (int i = 0; i < 80; i++)
			chan[i] = x + i * 0x9e3779b9u;	/* both control lines */
		chan[2] = x;		/* req_seq: "a new request" */
		chan[3] = x;		/* req_len: anything */
		chan[4] = x & 3;	/* req_flags: maybe "on the socket" */
	}
	return T_PASS;
}

/* An honest call on cap, checked and timed. */
static void
honest_call(void *cap, uint32_t req)
{
	int64_t t0 = t_now_ns(), t;
	uint32_t rep;

	CHECK(cocall(cap, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep));
	CHECK(rep == req + 1);
	t = t_now_ns() - t0;
	if (t > longest)
		longest = t;
}

int
main(void)
{
	char what[256];
	pid_t svc, bad[3];
	int sv[2], before, after;
	uint32_t req, rep;

	svc = t_service(serve, &target);
	/* A socketpair to make fresh capabilities from ours. */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	CHECK(capdescribe(target, what, sizeof(what)) == 0);
	CHECK(sscanf(strstr(what, "gate fd"), "gate fd %d, doorbell fd %d",
	    &gate_fd, &bell_fd) == 2);

	/* A call to warm up, then the service's descriptors at rest. */
	req = 1;
	CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep));
	before = count_fds(svc);

	bad[0] = t_spawn(gate_abuser, NULL);
	bad[1] = t_spawn(bell_scribbler, NULL);
	bad[2] = t_spawn(chan_scribbler, NULL);

	/* Meanwhile honest calls on our channel and, now and then, on a
	 * fresh capability: a new channel set up under fire. */
	for (int i = 0; i < GOOD_CALLS; i++) {
		honest_call(target, (uint32_t)i);
		if (i % 500 == 0) {
			void *fresh;

			CHECK(capsend(sv[0], target) == 0);
			CHECK(caprecv(sv[1], &fresh) == 0);
			honest_call(fresh, (uint32_t)i);
			CHECK(capfree(fresh) == 0);
		}
	}
	fprintf(stderr, "longest honest call under fire: %lld ms\n",
	    (long long)(longest / 1000000));
	CHECK(longest < STALL_MAX_NS);
	for (int i = 0; i < 3; i++) {
		kill(bad[i], SIGKILL);
		t_wait(bad[i]);
	}
	/* The service is alive and, once it has reaped the hostile
	 * connections, holds about what it held before. */
	CHECK(kill(svc, 0) == 0);
	req = 5;
	CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep) &&
	    rep == 6);
	{
		void *fresh;

		CHECK(capsend(sv[0], target) == 0);
		CHECK(caprecv(sv[1], &fresh) == 0);
		/* This connect makes the service reap the dead. */
		CHECK(cocall(fresh, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep));
		after = count_fds(svc);
		fprintf(stderr, "service descriptors: %d before, %d after\n",
		    before, after);
		/* Our second channel (+1); half-open connections of the dead
		 * abuser are dropped as their peers hang up. */
		CHECK(after <= before + 1 + 2);
	}
	return T_PASS;
}
