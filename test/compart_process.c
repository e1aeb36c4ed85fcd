/* Process mode: the compartment's process is a fresh program, not a fork of the host: none of the host's memory (a secret on a page of its own) nor its descriptors are there, and (Landlock) it may not read the host's through /proc/PID/mem; of the window memory, only that of windows open to it, at the same address, and only while they are open; a compartment whose process dies fails its calls with ENOLINK and unloads. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "compart_util.h"

static long (*peek_addr)(long), (*peek)(const long *), (*proc_mem)(long, long);
static int (*fd_open)(int);

static compart_t *
load(const char *as)
{
	compart_t *a = cmp_load("cmp_a", as);

	CHECK((fd_open = COMPART_FN(a, int (*)(int), "fd_open")) != NULL);
	CHECK((peek_addr = COMPART_FN(a, long (*)(long), "peek_addr")) != NULL);
	CHECK((peek = COMPART_FN(a, long (*)(const long *), "peek")) != NULL);
	CHECK((proc_mem = COMPART_FN(a, long (*)(long, long), "proc_mem")) != NULL);
	return a;
}

/* Reading addr kills the compartment's process: nothing is mapped there
 * for it.  Its calls fail from then on. */
static void
unreachable(long addr)
{
	CHECK_ERR(peek_addr(addr), ENOLINK);
	CHECK_ERR(fd_open(2), ENOLINK);
}

int
main(void)
{
	compart_window_t *w, *hidden;
	compart_t *a;
	long *secret, *shared, *other, got;
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

	a = load("alpha");
	/* its own standard streams, and nothing else of ours */
	CHECK(fd_open(2) == 1);
	CHECK(fd_open(fd) == 0);
	/* the host's page is not in its process: reading the address there
	 * finds nothing (the process dies) or something else, never the
	 * secret */
	got = peek_addr((long)secret);
	CHECK(got != 0x5ec2e7);
	CHECK(got != -1 || errno == ENOLINK);
	CHECK(compart_unload(a) == 0);

	/* nor through the kernel, where it has Landlock: its process may
	 * not read ours by /proc/PID/mem (nor ptrace us) */
	a = load("delta");
	got = proc_mem((long)getpid(), (long)secret);
	if (syscall(444 /* landlock_create_ruleset */, NULL, 0, 1) < 0) {
		printf("no Landlock here (%s): the host's memory is readable "
		    "from the compartment's process, as docs/security.md "
		    "says\n", strerror(errno));
	} else {
		CHECK(got != 0x5ec2e7);
		CHECK(got == -EACCES || got == -EPERM);
	}
	CHECK(compart_unload(a) == 0);

	/* window memory: shared at the same address once open, whether
	 * allocated before or after opening */
	a = load("beta");
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((shared = compart_window_alloc(w, sizeof(long))) != NULL);
	*shared = 4242;
	CHECK(compart_window_open(w, a) == 0);
	CHECK(peek(shared) == 4242);
	CHECK(peek_addr((long)shared) == 4242);
	CHECK((other = compart_window_alloc(w, 3 * 4096)) != NULL);
	other[1024] = 77;
	CHECK(peek(&other[1024]) == 77);
	/* a pointer outside windows is refused before the call */
	CHECK_ERR(peek(secret), EFAULT);
	/* memory of a window not open to it is not in its process */
	CHECK((hidden = compart_window_create(NULL)) != NULL);
	CHECK((other = compart_window_alloc(hidden, sizeof(long))) != NULL);
	*other = 99;
	CHECK_ERR(peek(other), EFAULT);
	unreachable((long)other);
	CHECK(compart_unload(a) == 0);

	/* closed again: gone from its process */
	a = load("gamma");
	CHECK(compart_window_open(w, a) == 0);
	CHECK(peek(shared) == 4242);
	CHECK(compart_window_close(w, a) == 0);
	CHECK_ERR(peek(shared), EFAULT);
	unreachable((long)shared);
	CHECK(compart_unload(a) == 0);

	CHECK(compart_window_destroy(hidden) == 0);
	CHECK(compart_window_destroy(w) == 0);
	close(fd);
	return T_PASS;
}
