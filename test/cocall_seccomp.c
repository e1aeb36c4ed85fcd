/* Invariant 1: once set up, cocall and coaccept make no system call but
 * futex.  Both sides run 100,000 calls under a seccomp filter that lets
 * only futex and exit through; any other system call traps, is counted
 * and fails.  The liveness checks of a wait that outlasts its 20 ms slice
 * (a side descheduled on a loaded machine) may make a few; a system call
 * per call would make 100,000. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include "harness.h"

#define CALLS		100000
#define SLOW_MAX	(CALLS / 1000)	/* slow-path system calls allowed */

/* Trapped system calls, by side (shared with the parent). */
static unsigned *trapped;
static int side;

static void
on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	__atomic_add_fetch(&trapped[side], 1, __ATOMIC_RELAXED);
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;	/* the call fails */
}

static void
only_futex_and_exit(int which)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	side = which;
	CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

static int sv[2];

/* Leave at once: the exit path of a sanitizer runtime makes system calls
 * of its own, which are not what this test is about. */
static int
quit(int code)
{
	/* Not marked noreturn: a sanitizer would make system calls before
	 * a call to a noreturn function. */
	syscall(SYS_exit_group, code);
	return code;
}

static int
service(void *arg)
{
	struct comsg m = { 0 };
	uint32_t in, out = 0;
	void *target;

	(void)arg;
	CHECK(coregister(NULL, &target) == 0);
	CHECK(capsend(sv[1], target) == 0);
	/* The first call sets up the channel (system calls allowed). */
	CHECK(coaccept(NULL, NULL, 0, &in, sizeof(in)) == sizeof(in));
	only_futex_and_exit(0);
	for (;;) {
		out = in + 1;
		if (coaccept(NULL, &out, sizeof(out), &in, sizeof(in)) != sizeof(in))
			return quit(2);
		if (in == UINT32_MAX)
			break;
	}
	/* Deliver the last reply without waiting for another call. */
	out = 0;
	m.out = &out;
	m.outlen = sizeof(out);
	m.in = &in;
	m.inlen = sizeof(in);
	if (coacceptv(NULL, NULL, &m, 0, 0) != -1 || errno != ETIMEDOUT)
		return quit(3);
	return quit(0);
}

static int
caller(void *arg)
{
	uint32_t req = 0, rep;
	void *target;

	(void)arg;
	CHECK(caprecv(sv[0], &target) == 0);
	CHECK(cocall(target, &req, sizeof(req), &rep, sizeof(rep)) == sizeof(rep));
	only_futex_and_exit(1);
	for (req = 1; req <= CALLS; req++)
		if (cocall(target, &req, sizeof(req), &rep, sizeof(rep)) !=
		    sizeof(rep) || rep != req + 1)
			return quit(4);
	req = UINT32_MAX;
	if (cocall(target, &req, sizeof(req), &rep, sizeof(rep)) != sizeof(rep) ||
	    rep != 0)
		return quit(5);
	return quit(0);
}

int
main(void)
{
	pid_t s, c;
	int rs, rc;

#ifndef __x86_64__
	printf("seccomp filter written for x86_64 only\n");
	return T_SKIP;
#endif
	trapped = mmap(NULL, 2 * sizeof(*trapped), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(trapped != MAP_FAILED);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	s = t_spawn(service, NULL);
	c = t_spawn(caller, NULL);
	rc = t_wait(c);
	rs = t_wait(s);
	fprintf(stderr, "%d calls: system calls other than futex: service %u, "
	    "caller %u\n", CALLS, trapped[0], trapped[1]);
	CHECK(rc == 0);
	CHECK(rs == 0);
	CHECK(trapped[0] <= SLOW_MAX && trapped[1] <= SLOW_MAX);
	return T_PASS;
}
