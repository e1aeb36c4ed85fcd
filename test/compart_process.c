/* Process mode: the compartment's process is a fresh program, not a fork of the host: none of the host's memory (a secret on a page of its own) nor its descriptors are there; windows are, at the same address; a compartment whose process dies fails its calls with ENOLINK and unloads. */
#include <fcntl.h>
#include <sys/mman.h>

#include "compart_util.h"

int
main(void)
{
	long (*peek_addr)(long), (*peek)(const long *);
	int (*fd_open)(int);
	compart_window_t *w;
	compart_t *a;
	long *secret, *shared, got;
	int fd;

	CHECK(compart_init(COMPART_PROCESS) == 0);
	/* made before the compartment exists: a fork would copy both */
	secret = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(secret != MAP_FAILED);
	secret[0] = 0x5ec2e7;
	/* inheritable, at a number the compartment's process would not
	 * reach by its own opens */
	CHECK((fd = open("/dev/null", O_RDONLY)) >= 0);
	CHECK(dup2(fd, 200) == 200);
	close(fd);
	fd = 200;

	a = cmp_load("cmp_a", "alpha");
	CHECK((fd_open = COMPART_FN(a, int (*)(int), "fd_open")) != NULL);
	CHECK((peek_addr = COMPART_FN(a, long (*)(long), "peek_addr")) != NULL);
	CHECK((peek = COMPART_FN(a, long (*)(const long *), "peek")) != NULL);

	/* its own standard streams, and nothing else of ours */
	CHECK(fd_open(2) == 1);
	CHECK(fd_open(fd) == 0);

	/* windows are shared, at the same address */
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((shared = compart_window_alloc(w, sizeof(long))) != NULL);
	*shared = 4242;
	CHECK(compart_window_open(w, a) == 0);
	CHECK(peek(shared) == 4242);
	CHECK(peek_addr((long)shared) == 4242);
	/* a pointer outside windows is refused before the call */
	CHECK_ERR(peek(secret), EFAULT);

	/* the host's page is not in its process: reading the address
	 * kills that process (or finds something else there), never the
	 * secret */
	got = peek_addr((long)secret);
	CHECK(got != 0x5ec2e7);
	if (got == -1) {
		CHECK(errno == ENOLINK);
		CHECK_ERR(peek(shared), ENOLINK);
	}
	CHECK(compart_window_destroy(w) == 0);
	CHECK(compart_unload(a) == 0);
	close(fd);
	return T_PASS;
}
