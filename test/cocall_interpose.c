/* A program whose socket calls are wrapped by a preloaded library that
 * itself calls comsg (test/preload/hook.c, binds(1)-style) registers and
 * looks up a name and makes first calls without deadlock: the library's
 * own system calls never reach the wrappers, which see exactly the
 * program's own calls; and its first port starts comsgd although stat(),
 * with which the library looks for comsgd, is wrapped with a request to
 * comsgd. */
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/un.h>
#include "harness.h"
#include "comsg/coport.h"

#define HOOK_SLOT	11	/* as in preload/hook.c */
#define CHILD_SECS	30	/* a deadlocked child is killed by SIGALRM */

static const char *const hooked[] = {
	"socket", "connect", "bind", "listen", "accept4", "sendmsg",
	"recvmsg", "memfd_create",
};
#define NHOOKED	(int)(sizeof(hooked) / sizeof(hooked[0]))

/* What the wrappers must have seen: the child's own calls, no more. */
static const char expected[] = "socket=2 connect=1 bind=1 listen=0 "
    "accept4=0 sendmsg=0 recvmsg=0 memfd_create=0 other=0";

/* The service the wrappers report to: counts each call; "report" gets
 * the counts. */
static int
broker(void *target)
{
	static char in[64], out[256];
	int counts[NHOOKED + 1] = { 0 }, i;
	void *caps[COCALL_MAXCAPS];
	size_t outlen = 0;

	(void)target;
	for (;;) {
		struct comsg m = { .out = out, .outlen = outlen, .in = in,
		    .inlen = sizeof(in) - 1, .incaps = caps,
		    .nincaps = COCALL_MAXCAPS };
		ssize_t n = coacceptv(NULL, NULL, &m, 0, -1);
		int used = 0;

		if (n < 0)
			return T_FAIL;
		for (i = 0; i < m.nincaps; i++)
			if (caps[i] != NULL)
				capfree(caps[i]);
		in[(size_t)n < sizeof(in) ? (size_t)n : sizeof(in) - 1] = '\0';
		outlen = 0;
		if (strcmp(in, "report") != 0) {
			for (i = 0; i < NHOOKED; i++)
				if (strcmp(in, hooked[i]) == 0)
					break;
			counts[i]++;
			continue;
		}
		for (i = 0; i <= NHOOKED; i++)
			used += snprintf(out + used, sizeof(out) - used,
			    "%s%s=%d", i ? " " : "",
			    i < NHOOKED ? hooked[i] : "other", counts[i]);
		outlen = (size_t)used + 1;
	}
}

/* ---- the child, run with hook.so preloaded ---- */

static pthread_mutex_t reg_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cond = PTHREAD_COND_INITIALIZER;
static int registered;

static void *
serve(void *arg)
{
	char in[64];
	size_t outlen = 0;
	void *t;

	(void)arg;
	CHECK(coregister("interposed", &t) == 0);
	pthread_mutex_lock(&reg_mutex);
	registered = 1;
	pthread_cond_signal(&reg_cond);
	pthread_mutex_unlock(&reg_mutex);
	for (;;) {
		CHECK(coaccept(NULL, "pong", outlen, in, sizeof(in)) >= 0);
		outlen = 4;
	}
	return NULL;
}

static int
child(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct comsg m;
	pthread_t th;
	socklen_t len;
	coport_t port;
	void *t, *fcap;
	char rep[8];
	int p[2], s, c;

	alarm(CHILD_SECS);
	CHECK(pthread_create(&th, NULL, serve, NULL) == 0);
	pthread_mutex_lock(&reg_mutex);
	while (!registered)
		pthread_cond_wait(&reg_cond, &reg_mutex);
	pthread_mutex_unlock(&reg_mutex);

	/* A name, a first call on the fast path, a call with a capability
	 * through the kernel. */
	CHECK(colookup("interposed", &t) == 0);
	CHECK(cocall(t, "ping", 4, rep, sizeof(rep)) == 4);
	CHECK(memcmp(rep, "pong", 4) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(capfromfd(&fcap, p[0]) == 0);
	memset(&m, 0, sizeof(m));
	m.out = "ping";
	m.outlen = 4;
	m.outcaps = &fcap;
	m.noutcaps = 1;
	m.in = rep;
	m.inlen = sizeof(rep);
	CHECK(cocallv(t, &m, COCALL_SLOW, -1) == 4);
	capfree(fcap);

	/* The program's own calls, which the wrappers report. */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "comsg-interpose-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(sun.sun_path + 1));
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	c = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0 && c >= 0);
	CHECK(bind(s, (struct sockaddr *)&sun, len) == 0);
	CHECK(connect(c, (struct sockaddr *)&sun, len) == 0);

	/* The first port starts comsgd, found with stat(), which the
	 * preload wraps with a request to comsgd of its own. */
	CHECK(coopen("interposed", COCHANNEL, &port) == 0);
	CHECK(coclose(port) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	char self[PATH_MAX], hook[PATH_MAX + 32], rep[256], *slash;
	char *args[] = { "cocall_interpose", "child", NULL };
	void *broker_target, **v = NULL;
	int n = 0, rc;
	ssize_t len;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child();
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(len > 0);
	self[len] = '\0';
	snprintf(hook, sizeof(hook), "%s", self);
	slash = strrchr(hook, '/');
	CHECK(slash != NULL);
	strcpy(slash, "/preload/hook.so");
	CHECK(access(hook, R_OK) == 0);

	t_service(broker, &broker_target);
	CHECK(capvset(&n, &v, HOOK_SLOT, broker_target) == 0);
	pid = t_fork();
	if (pid == 0) {
		setenv("LD_PRELOAD", hook, 1);
		/* Under AddressSanitizer, which would want to come first. */
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[512];

		snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
		    asan != NULL ? asan : "", asan != NULL ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		coexecvpc(0, self, args, v, n);
		_exit(127);
	}
	rc = t_wait(pid);
	if (rc == 128 + SIGALRM)
		fprintf(stderr, "the child hung for %d s: deadlocked\n",
		    CHILD_SECS);
	CHECK(rc == 0);
	CHECK(cocall(broker_target, "report", 6, rep, sizeof(rep)) > 0);
	rep[sizeof(rep) - 1] = '\0';
	if (strcmp(rep, expected) != 0)
		fprintf(stderr, "wrappers saw:  %s\nexpected:      %s\n", rep,
		    expected);
	CHECK(strcmp(rep, expected) == 0);
	free(v);
	return T_PASS;
}
