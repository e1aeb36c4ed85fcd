/*
 * Helpers shared by the coport, comutex and comsgd tests: narrowed
 * handles passed between processes, the maps of a process, and comsgd's
 * pid.  Include instead of harness.h.
 */
#ifndef COMSG_COPORT_TEST_H
#define COMSG_COPORT_TEST_H

#include "harness.h"
#include "comsg/comutex.h"
#include "comsg/coport.h"

#include <dirent.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/un.h>

static T_UNUSED const char *
t_kind(coport_type_t type)
{
	return type == COCHANNEL ? "COCHANNEL" : type == COCARRIER ?
	    "COCARRIER" : type == COPIPE ? "COPIPE" : "?";
}

/* A COCARRIER sender's or COPIPE receiver's way into the port's socket
 * (an O_PATH to it, found among our descriptors): a socket of our own
 * connected to it, as a holder that bypasses the library would make. */
static T_UNUSED int
t_put_socket(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int s = -1;

	CHECK(d != NULL);
	while (s < 0 && (e = readdir(d)) != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		char path[64], link[256];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%.20s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strstr(link, "/gates/port.") == NULL)
			continue;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		CHECK((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
		CHECK(connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	}
	closedir(d);
	CHECK(s >= 0);
	return s;
}

/* One byte on a socket between a test and its children, to order them:
 * say it, hear the one expected, or listen for whichever comes. */
static T_UNUSED void
t_say(int fd, char c)
{
	CHECK(write(fd, &c, 1) == 1);
}

static T_UNUSED char
t_listen(int fd)
{
	char c = 0;

	CHECK(read(fd, &c, 1) == 1);
	return c;
}

static T_UNUSED void
t_hear(int fd, char want)
{
	CHECK(t_listen(fd) == want);
}

/* Send a capability to port with only the rights in keep over sock, and
 * wait until the other side holds it (t_recv_port). */
static T_UNUSED void
t_send_port(int sock, coport_t port, int keep)
{
	coport_t narrow = coport_clearperm(port, COPORT_PERM_ALL & ~keep);
	void *cap;
	char c;

	CHECK(narrow != NULL);
	CHECK(coport_getperm(narrow) == keep);
	CHECK(coport_tocap(narrow, &cap) == 0);
	CHECK(capsend(sock, cap) == 0);
	CHECK(capfree(cap) == 0);
	CHECK(coclose(narrow) == 0);
	CHECK(read(sock, &c, 1) == 1);
}

/* Receive a port capability from sock, open it, and say so. */
static T_UNUSED coport_t
t_recv_port(int sock)
{
	coport_t p;
	void *cap;

	CHECK(caprecv(sock, &cap) == 0);
	CHECK(coport_fromcap(cap, &p) == 0);
	CHECK(capfree(cap) == 0);
	CHECK(write(sock, "k", 1) == 1);
	return p;
}

/*
 * A handle of this process to port with only the rights in keep, in an
 * opening of its own (a coport_clearperm() handle shares the opening of
 * the original, which keeps every right while the original is open).
 */
static T_UNUSED coport_t
t_narrow(coport_t port, int keep)
{
	coport_t narrow = coport_clearperm(port, COPORT_PERM_ALL & ~keep), p;
	void *cap;

	CHECK(narrow != NULL);
	CHECK(coport_tocap(narrow, &cap) == 0);
	CHECK(coport_fromcap(cap, &p) == 0);
	CHECK(capfree(cap) == 0);
	CHECK(coclose(narrow) == 0);
	CHECK(coport_getperm(p) == keep);
	return p;
}

/* The pid of the domain's comsgd, or 0 if none answers. */
static T_UNUSED pid_t
t_comsgd_pid(void)
{
	void *t;
	pid_t pid = 0;

	if (colookup("comsgd", &t) < 0)
		return 0;
	if (cotargetpid(t, &pid) < 0)
		pid = 0;
	capfree(t);
	return pid;
}

/* Wait (poll on a pidfd, no sleeping) until process pid has exited. */
static T_UNUSED void
t_wait_gone(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;

	if (fd < 0) {
		CHECK(errno == ESRCH);
		return;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, timeout_ms) == 1);
	close(fd);
}

/* One line of /proc/self/maps. */
struct t_map {
	uintptr_t	start, end;
	char		perms[5];
	char		name[256];
};

/* The mappings of this process whose name contains what (NULL: all);
 * returns how many (at most max are stored). */
static T_UNUSED int
t_maps(const char *what, struct t_map *maps, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		struct t_map m = { 0 };
		unsigned long s, e;
		int off = 0;

		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &s, &e, m.perms,
		    &off) < 3)
			continue;
		if (off > 0)
			snprintf(m.name, sizeof(m.name), "%s", line + off);
		m.name[strcspn(m.name, "\n")] = '\0';
		if (what != NULL && strstr(m.name, what) == NULL)
			continue;
		m.start = s;
		m.end = e;
		if (n < max)
			maps[n] = m;
		n++;
	}
	fclose(f);
	return n;
}

/* A SIGSEGV/SIGBUS probe: does writing a byte at p fault? */
static sigjmp_buf t_probe_jmp;

static void
t_probe_handler(int sig)
{
	(void)sig;
	siglongjmp(t_probe_jmp, 1);
}

static T_UNUSED bool
t_write_faults(volatile uint8_t *p)
{
	struct sigaction sa = { .sa_handler = t_probe_handler }, osegv, obus;
	volatile bool faulted = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &osegv);
	sigaction(SIGBUS, &sa, &obus);
	if (sigsetjmp(t_probe_jmp, 1) == 0)
		*p = (uint8_t)(*p + 1);
	else
		faulted = true;
	sigaction(SIGSEGV, &osegv, NULL);
	sigaction(SIGBUS, &obus, NULL);
	return faulted;
}

#endif
