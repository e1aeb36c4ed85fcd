/* The tools give up on a service that never answers: a gate that listens
 * but never accepts, and one that accepts the channel but never replies.
 * capv, colookup -c, coping, cotrace and libclocks.so each report it (or
 * fall back) within their timeout: -t, $COMSG_TIMEOUT, or the default. */
#include <sys/mman.h>
#include <sys/un.h>
#include "harness.h"
#include "toolrun.h"
#include "../src/lib/wire.h"

/* A run that takes longer than this has hung. */
#define HUNG_MS		20000
/* Generous: the timeouts below are 0.5 s per call, 5 s by default. */
#define QUICK_MS	4000

struct fake {
	int	listen_fd;	/* the gate, listening */
	int	gate;		/* O_PATH to it: what holders have */
	int	bell;		/* a sealed page posing as the doorbell */
};

static void
fake_target(struct fake *f, const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    getenv("COMSG_DIR"), name);
	f->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(f->listen_fd >= 0);
	CHECK(bind(f->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(f->listen_fd, 64) == 0);
	/* Inherited by the tools, as a vector's descriptors are. */
	f->gate = open(sun.sun_path, O_PATH);
	f->bell = memfd_create("bell", MFD_ALLOW_SEALING);
	CHECK(f->gate >= 0 && f->bell >= 0);
	CHECK(ftruncate(f->bell, 4096) == 0);
	CHECK(fcntl(f->bell, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == 0);
}

/* Accept every channel, and never answer a call on it. */
static int
mute(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct wire_accept ack = { WIRE_ACCEPT, WIRE_VERSION, 0,
		    (int32_t)getpid() };
		struct wire_connect w;
		int s = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (s < 0)
			return T_FAIL;
		/* The descriptor that comes with it is closed on exec:
		 * leaving it unread is fine. */
		if (recv(s, &w, sizeof(w), 0) != sizeof(w)) {
			close(s);	/* a probe (cotargetpid) */
			continue;
		}
		if (send(s, &ack, sizeof(ack), MSG_NOSIGNAL) != sizeof(ack))
			close(s);
		/* Kept open: the caller must not see a hang-up. */
	}
}

/* Run argv with env; its output in out; its exit status, its time in
 * *msp.  A run still going after HUNG_MS is killed, and fails the test. */
static int
run(char *const argv[], const char *const env[], char *out, size_t size,
    int64_t *msp)
{
	int64_t t0 = t_now_ns(), left;
	size_t used = 0;
	int fd, rc;
	pid_t pid;

	pid = tr_start(argv, env, &fd);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		left = HUNG_MS - (t_now_ns() - t0) / 1000000;
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			t_wait(pid);
			out[used] = '\0';
			fprintf(stderr, "%s still running after %d ms\n",
			    argv[0], HUNG_MS);
			CHECK_OUT(false, out);
		}
		n = read(fd, out + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == size - 1)
			break;
	}
	out[used] = '\0';
	close(fd);
	rc = t_wait(pid);
	*msp = (t_now_ns() - t0) / 1000000;
	return rc;
}

int
main(void)
{
	static struct fake silent, dumb;
	char out[8192], both[64], one[64], clocks8[64], lib[PATH_MAX + 16];
	int64_t ms;
	void *cap;
	int sv[2];

	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}
	fake_target(&silent, "silent");
	fake_target(&dumb, "mute");
	t_spawn(mute, &dumb);
	snprintf(both, sizeof(both), "COMSG_CAPV=5=t:%d:%d,7=t:%d:%d",
	    silent.gate, silent.bell, dumb.gate, dumb.bell);
	snprintf(one, sizeof(one), "COMSG_CAPV=7=t:%d:%d", dumb.gate,
	    dumb.bell);
	snprintf(clocks8, sizeof(clocks8), "COMSG_CAPV=8=t:%d:%d", dumb.gate,
	    dumb.bell);

	/* capv: -t, then the environment, fast and slow. */
	{
		char *argv_[] = { tr_tool("capv"), "-t", "0.5", NULL };
		const char *env[] = { both, NULL };

		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(strstr(out, "5:\t(no answer: Connection timed out)") &&
		    strstr(out, "7:\t(no answer: Connection timed out)"), out);
		CHECK(ms < QUICK_MS);
	}
	{
		char *argv_[] = { tr_tool("capv"), "-k", NULL };
		const char *env[] = { both, "COMSG_TIMEOUT=0.5", NULL };

		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(strstr(out, "5:\t(no answer: Connection timed out)") &&
		    strstr(out, "7:\t(no answer: Connection timed out)"), out);
		CHECK(ms < QUICK_MS);
	}
	/* The default: a few seconds, not for ever. */
	{
		char *argv_[] = { tr_tool("capv"), NULL };
		const char *env[] = { one, "COMSG_TIMEOUT=", NULL };

		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(strstr(out, "7:\t(no answer: Connection timed out)"),
		    out);
	}
	{
		char *argv_[] = { tr_tool("capv"), "-t", "soon", NULL };
		const char *env[] = { one, NULL };

		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 2,
		    out);
	}

	/* coping: each slot fails, in time. */
	{
		char *a5[] = { tr_tool("coping"), "-t", "0.5", "-c", "1", "-i",
		    "5", NULL };
		char *a7[] = { tr_tool("coping"), "-t", "0.5", "-c", "1", "-i",
		    "7", NULL };
		const char *env[] = { both, NULL };

		CHECK_OUT(run(a5, env, out, sizeof(out), &ms) == 1, out);
		CHECK_OUT(strstr(out, "timed out") != NULL, out);
		CHECK(ms < QUICK_MS);
		CHECK_OUT(run(a7, env, out, sizeof(out), &ms) == 1, out);
		CHECK_OUT(strstr(out, "timed out") != NULL, out);
		CHECK(ms < QUICK_MS);
	}

	/* cotrace forwards to them within its own timeout; capv hears of
	 * it in-band. */
	{
		char *argv_[] = { tr_tool("cotrace"), "-C", "-t", "0.5",
		    tr_tool("capv"), "-t", "10", NULL };
		const char *env[] = { both, NULL };

		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(strstr(out, "5:\t(no answer: Connection timed out)") &&
		    strstr(out, "7:\t(no answer: Connection timed out)"), out);
		CHECK(ms < QUICK_MS);
	}

	/* colookup -c on a name that hands out the mute target. */
	{
		struct wire_cap w = { WIRE_CAP, WIRE_VERSION, 1, 0 };
		int fds[2] = { dumb.gate, dumb.bell };
		char *argv_[] = { tr_tool("colookup"), "-c", "-t", "0.5", "-n",
		    "mute", NULL };
		union {
			struct cmsghdr	h;
			char		buf[CMSG_SPACE(sizeof(fds))];
		} cm;
		struct iovec iov = { &w, sizeof(w) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };

		memset(&cm, 0, sizeof(cm));
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(fds));
		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
		CHECK(sendmsg(sv[0], &mh, 0) == sizeof(w));
		CHECK(caprecv(sv[1], &cap) == 0);
		CHECK(copublish("mute", cap) == 0);
		CHECK_OUT(run(argv_, NULL, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(strstr(out, "(no answer: Connection timed out)"), out);
		CHECK(ms < QUICK_MS);
	}

	/* An unmodified program under libclocks.so: the real clock answers
	 * once the service has had its time. */
	{
		char *argv_[] = { "/bin/sh", "-c", "exec date +%s", NULL };
		const char *env[] = { clocks8, "COMSG_TIMEOUT=0.5", lib, NULL };

		snprintf(lib, sizeof(lib), "LD_PRELOAD=%s",
		    tr_tool("libclocks.so"));
		CHECK_OUT(run(argv_, env, out, sizeof(out), &ms) == 0, out);
		CHECK_OUT(atol(out) > 1000000000L, out);
		CHECK(ms < QUICK_MS);
	}
	return T_PASS;
}
