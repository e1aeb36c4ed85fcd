/*
 * binds: bind(2) as a service.  Serves at slot 10 of the vector and runs a
 * command with it; a caller sends its socket as a descriptor capability,
 * and binds binds it with its own privileges, as its policy allows.  With
 * libbinds.so preloaded into the command, bind() in unmodified programs is
 * answered here.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "toolutil.h"

struct policy {
	long	port;		/* the one port allowed, or -1: any */
};

static void
usage(void)
{
	fprintf(stderr, "usage: binds [-Ckv] [-p port] command [args ...]\n");
	exit(EXIT_USAGE);
}

static void
describe(struct service *s, char *buf, size_t size)
{
	const struct policy *p = s->arg;

	snprintf(buf, size, "allowed port %ld", p->port);
}

/* The port and a printable address of a request already checked to hold
 * a whole sockaddr_in or sockaddr_in6. */
static int
addr_port(const capv_binds_t *req, char *host, size_t size)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&req->addr;
	const struct sockaddr_in6 *sin6 =
	    (const struct sockaddr_in6 *)&req->addr;

	if (req->addr.ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)size);
		return ntohs(sin->sin_port);
	}
	inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)size);
	return ntohs(sin6->sin6_port);
}

/*
 * Check a request (untrusted: sizes, lengths, the family, the capability),
 * apply the policy, and bind.  Returns 0, or an errno for the reply.
 */
static int
do_bind(struct service *s, const capv_binds_t *req, size_t len, void **caps,
    int ncaps, char *what, size_t whatlen)
{
	const struct policy *p = s->arg;
	char host[INET6_ADDRSTRLEN] = "?";
	socklen_t optlen;
	struct stat st;
	int fd, domain, port, e;

	snprintf(what, whatlen, "malformed request");
	if (len != sizeof(*req) || req->len != sizeof(*req))
		return ENOMSG;
	if (req->addrlen < sizeof(sa_family_t) ||
	    req->addrlen > sizeof(req->addr))
		return EINVAL;
	if (req->addr.ss_family != AF_INET && req->addr.ss_family != AF_INET6)
		return EAFNOSUPPORT;
	/* Shorter than the kernel takes for the family: bind(2) would say
	 * EINVAL, and the port would lie past the address. */
	if ((req->addr.ss_family == AF_INET &&
	    req->addrlen < sizeof(struct sockaddr_in)) ||
	    (req->addr.ss_family == AF_INET6 &&
	    req->addrlen < offsetof(struct sockaddr_in6, sin6_scope_id)))
		return EINVAL;
	port = addr_port(req, host, sizeof(host));
	snprintf(what, whatlen, "%s%s%s port %d",
	    req->addr.ss_family == AF_INET6 ? "[" : "", host,
	    req->addr.ss_family == AF_INET6 ? "]" : "", port);
	/* Exactly one capability, a descriptor, a socket of the Internet. */
	if (ncaps > 1)
		return EINVAL;
	if (ncaps < 1 || caps[0] == NULL || captofd(caps[0], &fd) < 0)
		return EBADF;
	optlen = sizeof(domain);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return ENOTSOCK;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &optlen) < 0 ||
	    (domain != AF_INET && domain != AF_INET6)) {
		close(fd);
		return EAFNOSUPPORT;
	}
	if (p->port >= 0 && port != p->port) {
		close(fd);
		return EACCES;
	}
	e = bind(fd, (const struct sockaddr *)&req->addr, req->addrlen) < 0 ?
	    errno : 0;
	close(fd);
	return e;
}

static size_t
handle(struct service *s, const void *in, size_t len, void **caps, int ncaps,
    void *out, size_t room)
{
	const capv_binds_t *req = in;
	capv_binds_return_t *rep = out;
	char what[INET6_ADDRSTRLEN + 32];
	int e;

	(void)room;
	memset(rep, 0, sizeof(*rep));
	rep->len = sizeof(*rep);
	rep->op = tool_reply_op(req->op);
	if (req->op != CAPV_BINDS_BIND) {
		e = EOPNOTSUPP;
		snprintf(what, sizeof(what), "op %d", req->op);
	} else {
		e = do_bind(s, req, len, caps, ncaps, what, sizeof(what));
	}
	if (e != 0) {
		rep->error = -1;
		rep->errno_ = e;
	}
	if (s->verbose)
		fprintf(stderr, "binds: bind %s: %s\n", what,
		    e == 0 ? "done" : strerror(e));
	return sizeof(*rep);
}

int
main(int argc, char **argv)
{
	static const int extra[] = { SYS_bind, -1 };
	struct policy p = { -1 };
	struct service s = {
		.name = "binds", .slot = CAPV_BINDS, .describe = describe,
		.handle = handle, .syscalls = extra, .arg = &p,
	};
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "+Ckp:v")) != -1) {
		switch (ch) {
		case 'C': s.nosandbox = true; break;
		case 'k': s.slow = true; break;
		case 'p':
			errno = 0;
			p.port = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    p.port < -1 || p.port > 65535)
				errx(EXIT_USAGE, "bad port: %s", optarg);
			break;
		case 'v': s.verbose = true; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	s.argv = argv + optind;
	if (tool_preload("libbinds.so") < 0)
		warnx("libbinds.so not found: bind() is served only to "
		    "programs that call the service themselves");
	return service_run(&s);
}
