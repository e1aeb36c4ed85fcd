/* binds(1) binds a caller's socket to the one port its policy allows and
 * refuses the rest in-band, called directly (cocallv) or through
 * libbinds.so under an unmodified bind(); malformed requests get in-band
 * errors; as root it lets an unprivileged caller bind a privileged port. */
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/un.h>
#include "harness.h"
#include "toolrun.h"

static int port_p, port_q, port_r;	/* allowed; refused; privileged */

static int
port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* A loopback port nobody uses now; stream sockets that never connected
 * leave nothing behind once closed. */
static int
free_port(int want)
{
	struct sockaddr_in sin = loopback(want);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	CHECK(s >= 0);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(s);
		return -1;
	}
	port = port_of(s);
	close(s);
	return port;
}

/* ---- the clients, run by binds ---- */

static ssize_t
call(void *target, const void *req, size_t len, void **caps, int ncaps,
    capv_binds_return_t *rep)
{
	struct comsg m = { .out = req, .outlen = len, .outcaps = caps,
	    .noutcaps = ncaps, .in = rep, .inlen = sizeof(*rep) };

	memset(rep, 0xa5, sizeof(*rep));
	return cocallv(target, &m, 0, -1);
}

/* A request to bind to sa, answered with error errno e (0: bound). */
static void
expect(void *target, const void *req, size_t len, void **caps,
    int ncaps, int e, int line)
{
	capv_binds_return_t rep;
	ssize_t n = call(target, req, len, caps, ncaps, &rep);

	if (n != sizeof(rep) || rep.len != sizeof(rep) ||
	    rep.error != (e ? -1 : 0) || (e && rep.errno_ != e)) {
		fprintf(stderr, "line %d: got n %zd len %zu op %d error %d "
		    "errno_ %d, want errno_ %d\n", line, n, rep.len, rep.op,
		    rep.error, rep.errno_, e);
		t_fail();
	}
}
#define EXPECT(req, len, caps, ncaps, e) \
	expect(target, req, len, caps, ncaps, e, __LINE__)

static capv_binds_t
request(const void *sa, socklen_t salen)
{
	capv_binds_t req;

	memset(&req, 0, sizeof(req));
	req.len = sizeof(req);
	req.op = CAPV_BINDS_BIND;
	req.addrlen = salen;
	memcpy(&req.addr, sa, salen);
	return req;
}

/* Through the API: capfromfd() and cocallv() against slot 10. */
static int
client_api(void)
{
	struct sockaddr_in p = loopback(port_p), q = loopback(port_q);
	capv_binds_t req, bad;
	capv_binds_return_t rep;
	char ab[CAPV_ANSWERBACK_MAX], want[64], big[sizeof(req) + 8];
	void **capv, *target, *cap, *two[2], *pcap;
	int capc, s, s2, pfd[2], u;

	CHECK(capvfetch(&capc, &capv) == 0 && capc > CAPV_BINDS);
	target = capv[CAPV_BINDS];
	CHECK(target != NULL);
	{
		capv_t q0 = { sizeof(q0), CAPV_ANSWERBACK };
		capv_answerback_t a;

		CHECK(cocall(target, &q0, sizeof(q0), &a, sizeof(a)) ==
		    sizeof(a));
		a.answerback[sizeof(a.answerback) - 1] = '\0';
		snprintf(ab, sizeof(ab), "%s", a.answerback);
	}
	snprintf(want, sizeof(want), ", allowed port %d", port_p);
	CHECK(strncmp(ab, "binds(1), pid ", 14) == 0 && strstr(ab, want));

	/* The allowed port: bound by the service, seen here. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0 && capfromfd(&cap, s) == 0);
	req = request(&p, sizeof(p));
	EXPECT(&req, sizeof(req), &cap, 1, 0);
	CHECK(port_of(s) == port_p);
	EXPECT(&req, sizeof(req), &cap, 1, EINVAL);	/* bound already */
	CHECK(capfree(cap) == 0);
	close(s);

	/* Another port, and the ephemeral one: refused, nothing bound. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0 && capfromfd(&cap, s) == 0);
	req = request(&q, sizeof(q));
	EXPECT(&req, sizeof(req), &cap, 1, EACCES);
	q.sin_port = 0;
	req = request(&q, sizeof(q));
	EXPECT(&req, sizeof(req), &cap, 1, EACCES);
	CHECK(port_of(s) == 0);

	/* IPv6, where there is some. */
	s2 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s2 >= 0) {
		struct sockaddr_in6 six = { .sin6_family = AF_INET6,
		    .sin6_addr = IN6ADDR_ANY_INIT,
		    .sin6_port = htons((uint16_t)port_q) };
		void *c6;

		CHECK(capfromfd(&c6, s2) == 0);
		req = request(&six, sizeof(six));
		EXPECT(&req, sizeof(req), &c6, 1, EACCES);
		six.sin6_port = htons((uint16_t)port_p);
		req = request(&six, sizeof(six));
		EXPECT(&req, sizeof(req), &c6, 1, 0);
		CHECK(port_of(s2) == port_p);
		CHECK(capfree(c6) == 0);
		close(s2);
	}

	/* Malformed: every size must be exact. */
	req = request(&p, sizeof(p));
	bad = req;
	bad.len = sizeof(bad) - 1;
	EXPECT(&bad, sizeof(bad), &cap, 1, ENOMSG);
	EXPECT(&req, sizeof(req) - 8, &cap, 1, ENOMSG);
	memset(big, 0, sizeof(big));
	memcpy(big, &req, sizeof(req));
	((capv_binds_t *)big)->len = sizeof(big);
	EXPECT(big, sizeof(big), &cap, 1, ENOMSG);
	EXPECT(&req, sizeof(capv_t), &cap, 1, ENOMSG);
	CHECK(call(target, "tiny", 4, &cap, 1, &rep) == sizeof(rep));
	CHECK(rep.error == -1 && rep.errno_ == ENOMSG);
	bad = req;
	bad.op = 99;
	CHECK(call(target, &bad, sizeof(bad), &cap, 1, &rep) == sizeof(rep));
	CHECK(rep.op == -99 && rep.error == -1 && rep.errno_ == EOPNOTSUPP);

	/* Bad addresses. */
	bad = req;
	bad.addrlen = 0;
	EXPECT(&bad, sizeof(bad), &cap, 1, EINVAL);
	bad.addrlen = sizeof(bad.addr) + 1;
	EXPECT(&bad, sizeof(bad), &cap, 1, EINVAL);
	bad.addrlen = 8;	/* shorter than a sockaddr_in */
	EXPECT(&bad, sizeof(bad), &cap, 1, EINVAL);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/binds-no");
		bad = request(&sun, sizeof(sun));
		EXPECT(&bad, sizeof(bad), &cap, 1, EAFNOSUPPORT);
		CHECK(access(sun.sun_path, F_OK) < 0);
	}

	/* Bad capabilities: none, two, not a socket, not a descriptor, a
	 * socket of another family. */
	EXPECT(&req, sizeof(req), NULL, 0, EBADF);
	two[0] = two[1] = cap;
	EXPECT(&req, sizeof(req), two, 2, EINVAL);
	CHECK(pipe(pfd) == 0 && capfromfd(&pcap, pfd[0]) == 0);
	EXPECT(&req, sizeof(req), &pcap, 1, ENOTSOCK);
	EXPECT(&req, sizeof(req), &target, 1, EBADF);
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(u >= 0);
	CHECK(capfromfd(&two[0], u) == 0);
	EXPECT(&req, sizeof(req), &two[0], 1, EAFNOSUPPORT);

	/* None of that bound anything, and the service still serves. */
	CHECK(port_of(s) == 0);
	EXPECT(&req, sizeof(req), &cap, 1, 0);
	CHECK(port_of(s) == port_p);
	return T_PASS;
}

static bool
preloaded(void)
{
	char maps[1 << 16];
	int fd = open("/proc/self/maps", O_RDONLY);

	CHECK(fd >= 0);
	tr_slurp(fd, maps, sizeof(maps));
	close(fd);
	return strstr(maps, "/libbinds.so") != NULL;
}

/* Through libbinds.so: plain bind() calls. */
static int
client_preload(void)
{
	struct sockaddr_in p = loopback(port_p), q = loopback(port_q);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, pfd[2];

	CHECK(preloaded());
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	CHECK_ERR(bind(s, (struct sockaddr *)&q, sizeof(q)), EACCES);
	CHECK(port_of(s) == 0);
	errno = EINTR;
	CHECK(bind(s, (struct sockaddr *)&p, sizeof(p)) == 0);
	CHECK(errno == EINTR);		/* untouched on success */
	CHECK(port_of(s) == port_p);
	CHECK(listen(s, 1) == 0);
	close(s);

	/* Not the service's business: other families, bad descriptors. */
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "binds-%d",
	    (int)getpid());
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(s);
	CHECK_ERR(bind(-1, (struct sockaddr *)&p, sizeof(p)), EBADF);
	CHECK(pipe(pfd) == 0);
	CHECK_ERR(bind(pfd[0], (struct sockaddr *)&p, sizeof(p)), ENOTSOCK);
	return T_PASS;
}

/* libbinds.so with no service to ask, or one that is gone: bind(2). */
static int
client_fallback(void)
{
	struct sockaddr_in q = loopback(port_q);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(preloaded());
	CHECK(s >= 0);
	CHECK(bind(s, (struct sockaddr *)&q, sizeof(q)) == 0);
	CHECK(port_of(s) == port_q);
	return T_PASS;
}

/* As nobody: the privileged port the policy allows, and nothing else. */
static int
client_nobody(void)
{
	struct sockaddr_in r = loopback(port_r), q = loopback(port_q);
	struct sockaddr_in r2 = loopback(port_r == 1 ? 2 : port_r - 1);
	int s;

	CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 &&
	    setuid(65534) == 0);
	CHECK(preloaded());
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	CHECK_ERR(bind(s, (struct sockaddr *)&r2, sizeof(r2)), EACCES);
	CHECK_ERR(bind(s, (struct sockaddr *)&q, sizeof(q)), EACCES);
	CHECK(bind(s, (struct sockaddr *)&r, sizeof(r)) == 0);
	CHECK(port_of(s) == port_r);
	return T_PASS;
}

/* ---- the test ---- */

static void
run_client(const char *mode, const char *port, const char *const env[],
    bool under_binds, int want)
{
	char out[8192], ps[16], qs[16], rs[16];
	char *binds[] = { tr_tool("binds"), "-p", (char *)port, tr_self,
	    (char *)mode, ps, qs, rs, NULL };
	int rc;

	snprintf(ps, sizeof(ps), "%d", port_p);
	snprintf(qs, sizeof(qs), "%d", port_q);
	snprintf(rs, sizeof(rs), "%d", port_r);
	rc = tr_runenv(under_binds ? binds : binds + 3, env, out, sizeof(out));
	if (rc != want)
		fprintf(stderr, "client %s: exit %d, want %d\n", mode, rc,
		    want);
	CHECK_OUT(rc == want, out);
}

int
main(int argc, char **argv)
{
	char ps[16], lib[PATH_MAX + 32];
	const char *env[3] = { NULL };

	if (argc == 5) {
		port_p = atoi(argv[2]);
		port_q = atoi(argv[3]);
		port_r = atoi(argv[4]);
		if (strcmp(argv[1], "api") == 0) {
			/* One libcomsg, ours, not also the preload's. */
			if (getenv("LD_PRELOAD") != NULL) {
				unsetenv("LD_PRELOAD");
				execv("/proc/self/exe", argv);
				_exit(126);
			}
			return client_api();
		}
		if (strcmp(argv[1], "preload") == 0)
			return client_preload();
		if (strcmp(argv[1], "fallback") == 0)
			return client_fallback();
		if (strcmp(argv[1], "nobody") == 0)
			return client_nobody();
		return T_FAIL;
	}
	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}
	/* Two ports free at the same time, so different. */
	{
		struct sockaddr_in any = loopback(0);
		int a = socket(AF_INET, SOCK_STREAM, 0);
		int b = socket(AF_INET, SOCK_STREAM, 0);

		CHECK(a >= 0 && b >= 0);
		CHECK(bind(a, (struct sockaddr *)&any, sizeof(any)) == 0);
		CHECK(bind(b, (struct sockaddr *)&any, sizeof(any)) == 0);
		port_p = port_of(a);
		port_q = port_of(b);
		close(a);
		close(b);
	}
	snprintf(ps, sizeof(ps), "%d", port_p);

	run_client("api", ps, NULL, true, T_PASS);
	run_client("preload", ps, NULL, true, T_PASS);

	/* The preload library alone, no service: the real bind(). */
	snprintf(lib, sizeof(lib), "LD_PRELOAD=%s", tr_tool("libbinds.so"));
	env[0] = lib;
	run_client("fallback", ps, env, false, T_PASS);

	/* A service that is gone: the real bind() too. */
	{
		void *dead, **capv;
		int sv[2], capc;
		pid_t kid;

		CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
		kid = fork();
		CHECK(kid >= 0);
		if (kid == 0) {
			void *t;

			if (coregister(NULL, &t) < 0 || capsend(sv[1], t) < 0)
				_exit(T_FAIL);
			_exit(T_PASS);
		}
		CHECK(caprecv(sv[0], &dead) == 0);
		CHECK(t_wait(kid) == T_PASS);
		CHECK(capvfetch(&capc, &capv) == 0);
		CHECK(capvset(&capc, &capv, CAPV_BINDS, dead) == 0);
		run_client("fallback", ps, env, false, T_PASS);
		CHECK(capfree(dead) == 0);
		CHECK(capvfetch(&capc, &capv) == 0 && capv[CAPV_BINDS] == NULL);
		close(sv[0]);
		close(sv[1]);
	}

	if (getuid() != 0) {
		printf("not root: skipping the privileged-port part\n");
		return T_PASS;
	}
	/* As root: a free privileged port, that nobody may not bind... */
	for (port_r = 1023; port_r > 600 && free_port(port_r) < 0; port_r--)
		;
	CHECK(port_r > 600);
	{
		FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start",
		    "r");
		int start = 1024;
		pid_t kid;

		if (f != NULL) {
			if (fscanf(f, "%d", &start) != 1)
				start = 1024;
			fclose(f);
		}
		if (port_r < start) {
			kid = fork();
			CHECK(kid >= 0);
			if (kid == 0) {
				struct sockaddr_in r = loopback(port_r);
				int s;

				if (setgid(65534) < 0 || setuid(65534) < 0)
					_exit(T_FAIL);
				s = socket(AF_INET, SOCK_STREAM, 0);
				_exit(bind(s, (struct sockaddr *)&r,
				    sizeof(r)) < 0 && errno == EACCES ?
				    T_PASS : T_FAIL);
			}
			CHECK(t_wait(kid) == T_PASS);
		} else {
			printf("ports from %d are anyone's: port %d proves "
			    "less\n", start, port_r);
		}
	}
	/* ... but may through binds (root) allowing that one port. */
	snprintf(ps, sizeof(ps), "%d", port_r);
	run_client("nobody", ps, NULL, true, T_PASS);
	return T_PASS;
}
