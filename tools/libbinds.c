/*
 * libbinds.so: preloaded by binds(1) into the programs it runs, it answers
 * bind() of Internet sockets by sending the socket to the service at slot
 * 10 of the vector.  Other families, no service there, a service that
 * cannot be reached or does not answer within $COMSG_TIMEOUT (seconds,
 * default 5), or a call from inside comsg itself: the real bind().
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "toolutil.h"

static __thread int busy;	/* we are inside our own call */
static int timeout = -2;	/* ms, from the environment once */

static int
real_bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);

	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
		    RTLD_NEXT, "bind");
	if (real == NULL)
		return (int)syscall(SYS_bind, fd, addr, addrlen);
	return real(fd, addr, addrlen);
}

int
bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	capv_binds_t req;
	capv_binds_return_t rep;
	struct comsg m;
	void **capv, *cap;
	int capc, e = errno;
	ssize_t n;

	if (busy || addr == NULL || addrlen < sizeof(sa_family_t) ||
	    addrlen > sizeof(req.addr) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
	    capvfetch(&capc, &capv) < 0 || capc <= CAPV_BINDS ||
	    capv[CAPV_BINDS] == NULL)
		return real_bind(fd, addr, addrlen);
	busy = 1;
	if (capfromfd(&cap, fd) < 0) {
		/* Not a descriptor (EBADF), or none to spare: bind(2) says. */
		busy = 0;
		errno = e;
		return real_bind(fd, addr, addrlen);
	}
	memset(&req, 0, sizeof(req));
	req.len = sizeof(req);
	req.op = CAPV_BINDS_BIND;
	req.addrlen = addrlen;
	memcpy(&req.addr, addr, addrlen);
	memset(&rep, 0, sizeof(rep));
	m = (struct comsg){ .out = &req, .outlen = sizeof(req),
	    .outcaps = &cap, .noutcaps = 1, .in = &rep, .inlen = sizeof(rep) };
	if (timeout == -2)
		timeout = tool_env_timeout();
	n = cocallv(capv[CAPV_BINDS], &m, 0, timeout);
	capfree(cap);
	busy = 0;
	if (n != sizeof(rep) || rep.len != sizeof(rep) ||
	    rep.op != -CAPV_BINDS_BIND) {
		/* No answer we can trust: bind it ourselves, then. */
		errno = e;
		return real_bind(fd, addr, addrlen);
	}
	if (rep.error == 0) {
		errno = e;
		return 0;
	}
	/* The service's word: an errno it cannot express is a broken one. */
	errno = rep.error == -1 && rep.errno_ > 0 ? rep.errno_ : EPROTO;
	return -1;
}
