/*
 * fuzz_capv_msgs: the capv.h message formats as the tools' services read
 * them: service_run()'s checks (tools/toolutil.c), then clocks(1)'s and
 * binds(1)'s handle().
 *
 * The tools are compiled as they are, their main() renamed (tool_*.c),
 * and each is started as its command line would start it ("clocks -C
 * tail -f /dev/null --pid=OURS"), in a thread of the fuzzer: the real
 * option parsing, the real struct service, the real service_run() loop,
 * serving at its slot of our vector.  Each input is one cocallv() to it.
 * -C leaves seccomp off: the filter would only confine that thread, and
 * is not what is fuzzed here.  binds(1) runs in a network namespace of
 * its own where we can make one (it binds what it is sent), else with
 * -p 0.  A service that is missing (tools/binds.c) is skipped.
 *
 * Input:
 *   u8   bit 0 binds (else clocks); bits 1-3 the capability sent with the
 *        call: none, UDP/IPv4 socket, TCP/IPv6 socket, UNIX socket, pipe,
 *        two UDP sockets, a target (the service's own), /dev/null;
 *        bit 4 call slowly
 *   then the request, as is.
 *
 * Checked besides crashes (UBSan included) and leaks: every request gets
 * a reply, as capv.h says: its len is the reply's length, its op minus
 * the request's, errors in-band (error -1 and errno_ set), ENOMSG for a
 * request shorter than capv_t, the answerback NUL-terminated.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

int	clocks_main(int argc, char **argv);
int	binds_main(int argc, char **argv);

struct svc {
	const char	*name;
	int		 slot;
	int		(*main)(int, char **);
	char		*argv[12];
	void		*target;
};

static struct svc svcs[2];
static int nsvcs;
static char pidarg[32];
static _Alignas(16) uint8_t req[COCALL_MAXLEN], rep[COCALL_MAXLEN];

static void *
run(void *arg)
{
	struct svc *s = arg;
	int argc = 0, r;

	while (s->argv[argc] != NULL)
		argc++;
	r = s->main(argc, s->argv);
	FZ_CHECK(0, "%s(1) ended (%d)", s->name, r);
	return NULL;
}

/* Start the tool in a thread, and wait until it serves at its slot. */
static void
start(struct svc *s)
{
	struct timespec ts = { 0, 1000000 };
	pthread_t t;
	int i;

	optind = 0;		/* a fresh getopt() for this main() */
	FZ_CHECK(pthread_create(&t, NULL, run, s) == 0, "thread");
	pthread_detach(t);
	for (i = 0; i < 10000; i++) {
		void **capv;
		int capc;

		if (capvfetch(&capc, &capv) == 0 && capc > s->slot &&
		    capv[s->slot] != NULL) {
			s->target = capv[s->slot];
			return;
		}
		nanosleep(&ts, NULL);
	}
	FZ_CHECK(0, "%s(1) does not serve", s->name);
}

static void
add(const char *name, int slot, int (*fn)(int, char **), const char *policy)
{
	struct svc *s = &svcs[nsvcs++];
	int n = 0;

	s->name = name;
	s->slot = slot;
	s->main = fn;
	s->argv[n++] = (char *)name;
	s->argv[n++] = "-C";
	if (policy != NULL) {
		s->argv[n++] = "-p";
		s->argv[n++] = (char *)policy;
	}
	/* A command that lives as long as we do. */
	s->argv[n++] = "tail";
	s->argv[n++] = "-f";
	s->argv[n++] = "/dev/null";
	s->argv[n++] = pidarg;
	s->argv[n] = NULL;
	start(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	snprintf(pidarg, sizeof(pidarg), "--pid=%d", (int)getpid());
	add("clocks", CAPV_CLOCKS, clocks_main, NULL);
#ifdef HAVE_BINDS
	/* binds binds the sockets it is sent: keep that away from the
	 * machine's ports if we can. */
	add("binds", CAPV_BINDS, binds_main,
	    unshare(CLONE_NEWNET) == 0 ? NULL : "0");
#endif
	/* Our channels to them stay (one per thread and target): set them
	 * up before counting descriptors. */
	for (int i = 0; i < nsvcs; i++) {
		capv_t ab = { sizeof(ab), CAPV_ANSWERBACK };

		FZ_CHECK(cocall(svcs[i].target, &ab, sizeof(ab), rep,
		    sizeof(rep)) == sizeof(capv_answerback_t), "%s(1) does not "
		    "answer", svcs[i].name);
	}
	fz_fd_baseline();
	return 0;
}

/* The capabilities sent with the call. */
static int
make_caps(int kind, struct svc *s, void **caps)
{
	static const int dom[] = { 0, AF_INET, AF_INET6, AF_UNIX };
	static const int type[] = { 0, SOCK_DGRAM, SOCK_STREAM, SOCK_DGRAM };
	int n = 0, fd = -1, i;

	switch (kind) {
	case 0:
		return 0;
	case 1: case 2: case 3: case 5:
		for (i = 0; i < (kind == 5 ? 2 : 1); i++) {
			fd = socket(dom[kind == 5 ? 1 : kind],
			    type[kind == 5 ? 1 : kind] | SOCK_CLOEXEC, 0);
			if (fd < 0)
				break;
			FZ_CHECK(capfromfd(&caps[n++], fd) == 0, "capfromfd");
			close(fd);
		}
		return n;
	case 4:
		fd = fz_fd(FZ_PIPE);
		break;
	case 6:
		caps[0] = s->target;
		return 1;
	case 7:
		fd = fz_fd(FZ_NULL);
		break;
	}
	FZ_CHECK(capfromfd(&caps[0], fd) == 0, "capfromfd");
	close(fd);
	return 1;
}

static void
check_reply(struct svc *s, size_t len, ssize_t got)
{
	capv_return_t r;
	capv_t h;

	FZ_CHECK(got >= (ssize_t)sizeof(capv_return_t) &&
	    got <= (ssize_t)sizeof(rep), "%s: reply of %zd bytes", s->name, got);
	memcpy(&r, rep, sizeof(r));
	FZ_CHECK(r.len == (size_t)got, "%s: reply says len %zu, is %zd",
	    s->name, r.len, got);
	if (len < sizeof(capv_t)) {
		FZ_CHECK(r.error == -1 && r.errno_ == ENOMSG,
		    "%s: short request not refused with ENOMSG", s->name);
		return;
	}
	memcpy(&h, req, sizeof(h));
	if (h.op == CAPV_ANSWERBACK) {
		capv_answerback_t *ab = (capv_answerback_t *)rep;

		FZ_CHECK(got == sizeof(*ab) && ab->op == CAPV_ANSWERBACK &&
		    memchr(ab->answerback, '\0', sizeof(ab->answerback)) != NULL,
		    "%s: answerback malformed", s->name);
		return;
	}
	FZ_CHECK(r.op == (int)(0u - (unsigned)h.op), "%s: reply op %d to op %d",
	    s->name, r.op, h.op);
	FZ_CHECK((r.error == 0 && r.errno_ == 0) ||
	    (r.error == -1 && r.errno_ > 0), "%s: error %d errno_ %d", s->name,
	    r.error, r.errno_);
	if (h.op != 1)
		FZ_CHECK(r.error == -1 && r.errno_ == EOPNOTSUPP,
		    "%s: op %d not refused", s->name, h.op);
	if (s->slot == CAPV_CLOCKS && r.error == 0) {
		capv_clocks_return_t *c = (capv_clocks_return_t *)rep;

		FZ_CHECK(got == sizeof(*c) && c->ts.tv_nsec >= 0 &&
		    c->ts.tv_nsec < 1000000000, "clocks: bad time");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	uint8_t sel = rd_u8(&r);
	struct svc *s = &svcs[(sel & 1) % nsvcs];
	void *caps[2], *incaps[COCALL_MAXCAPS];
	const uint8_t *p;
	size_t len = rd_bytes(&r, sizeof(req), &p);
	struct comsg m;
	ssize_t got;
	int ncaps = make_caps((sel >> 1) & 7, s, caps), i;

	memcpy(req, p, len);
	memset(rep, 0, sizeof(capv_answerback_t));
	m = (struct comsg){ .out = req, .outlen = len, .outcaps = caps,
	    .noutcaps = ncaps, .in = rep, .inlen = sizeof(rep),
	    .incaps = incaps, .nincaps = COCALL_MAXCAPS };
	got = cocallv(s->target, &m, sel & 0x10 ? COCALL_SLOW : 0, 10000);
	FZ_LOG("%s: %zu bytes, %d caps -> %zd bytes, error %d errno_ %d",
	    s->name, len, ncaps, got, got >= 24 ? ((capv_return_t *)rep)->error
	    : 0, got >= 24 ? ((capv_return_t *)rep)->errno_ : 0);
	FZ_CHECK(got >= 0, "%s: call failed, errno %d", s->name, errno);
	FZ_CHECK(m.nincaps == 0, "%s: %d capabilities in the reply", s->name,
	    m.nincaps);
	check_reply(s, len, got);
	for (i = 0; i < ncaps; i++)
		if (caps[i] != s->target)
			capfree(caps[i]);
	fz_done();
	return 0;
}
