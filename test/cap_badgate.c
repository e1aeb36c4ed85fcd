/* A target capability whose gate is no gate (a stream or datagram socket, as a made-up vector entry can name) is refused as no target, EINVAL, the documented error, not an error of the socket layer's. */
#include <sys/mman.h>
#include <sys/un.h>
#include "harness.h"

/* In the child: call slot 8 of our vector. */
static int
call_slot8(void)
{
	char rep[16];
	void **capv;
	int capc;

	CHECK(capvfetch(&capc, &capv) == 0 && capc > 8 && capv[8] != NULL);
	CHECK_ERR(cocall(capv[8], "x", 1, rep, sizeof(rep)), EINVAL);
	CHECK_ERR(cocall_slow(capv[8], "x", 1, rep, sizeof(rep)), EINVAL);
	return T_PASS;
}

/* A listening socket of type at a path in the domain, reached by O_PATH
 * as a gate is, with a sealed page for a doorbell: slot 8 of a child's
 * vector.  The child's status. */
static int
try_gate(int type, const char *name, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char capv[64];
	int s, gate, bell, st;
	pid_t pid;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    getenv("COMSG_DIR"), name);
	CHECK((s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) >= 0);
	CHECK(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	if (type == SOCK_STREAM)
		CHECK(listen(s, 8) == 0);
	CHECK((gate = open(sun.sun_path, O_PATH)) >= 0);
	CHECK((bell = memfd_create("bell", MFD_ALLOW_SEALING)) >= 0);
	CHECK(ftruncate(bell, 4096) == 0);
	CHECK(fcntl(bell, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == 0);
	snprintf(capv, sizeof(capv), "8=t:%d:%d", gate, bell);
	pid = t_fork();
	if (pid == 0) {
		setenv("COMSG_CAPV", capv, 1);
		execv("/proc/self/exe", (char *[]){ argv[0], "child", NULL });
		_exit(T_FAIL);
	}
	st = t_wait(pid);
	close(s);
	close(gate);
	close(bell);
	return st;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return call_slot8();
	CHECK(try_gate(SOCK_STREAM, "stream", argv) == T_PASS);
	CHECK(try_gate(SOCK_DGRAM, "dgram", argv) == T_PASS);
	return T_PASS;
}
