/*
 * The kernel's confinement of a compartment's process (process mode):
 *
 * - Landlock, entered before the compartment's first instruction: the
 *   kernel then refuses the process ptrace, /proc/PID/mem,
 *   process_vm_readv and pidfd_getfd on any process outside its own
 *   sandbox - the host above all - and, from ABI 6, signals to them.
 * - seccomp filters, one per intercept group ("file", "net", "proc") the
 *   host denies whole: the system calls of that group fail with EACCES
 *   even when the compartment makes them itself, past its shim.  A filter
 *   cannot be lifted, so such a deny is final (sandbox_refuses()).
 *
 * Only the compartment's process calls these; they act on all its threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define NCALLS(a)	(sizeof(a) / sizeof(a[0]))

/*
 * Landlock.  Files are not restricted: the ruleset handles one access
 * (making block devices, ABI < 6) and allows it everywhere, or handles
 * none but the signal scope.  The layout is the kernel's; headers older
 * than ABI 6 lack `scoped`.
 */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_add_rule		445
#define SYS_landlock_restrict_self	446
#endif
struct ll_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;
	uint64_t	 scoped;
};
struct ll_path_beneath {
	uint64_t	 allowed_access;
	int32_t		 parent_fd;
} __attribute__((packed));
#define LL_CREATE_RULESET_VERSION	1U
#define LL_RULE_PATH_BENEATH		1
#define LL_ACCESS_FS_MAKE_BLOCK		(1ULL << 11)
#define LL_SCOPE_SIGNAL			(1ULL << 1)

int
sandbox_landlock(void)
{
	struct ll_ruleset_attr attr = { 0 };
	struct ll_path_beneath rule = { 0 };
	size_t size;
	long abi;
	int rs, err;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return set_err(errno, "no Landlock: %s", strerror(errno));
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	} else {
		attr.handled_access_fs = LL_ACCESS_FS_MAKE_BLOCK;
		size = sizeof(attr.handled_access_fs);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return set_err(errno, "landlock_create_ruleset: %s",
		    strerror(errno));
	if (abi < 6) {
		rule.allowed_access = LL_ACCESS_FS_MAKE_BLOCK;
		rule.parent_fd = open("/", O_PATH | O_CLOEXEC);
		if (rule.parent_fd < 0 || syscall(SYS_landlock_add_rule, rs,
		    LL_RULE_PATH_BENEATH, &rule, 0) < 0) {
			err = errno;
			if (rule.parent_fd >= 0)
				close(rule.parent_fd);
			close(rs);
			return set_err(err, "landlock_add_rule: %s", strerror(err));
		}
		close(rule.parent_fd);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
		err = errno;
		close(rs);
		return set_err(err, "landlock_restrict_self: %s", strerror(err));
	}
	close(rs);
	return 0;
}

/*
 * The system calls of each group (x86-64 numbers).  file: what names a
 * path to open, make, remove, rename, link or change (looking at one -
 * stat, readlink - stays allowed: fstat() goes through newfstatat);
 * net: what makes a socket or gives it an address; proc: new processes,
 * programs, and signals or tracing aimed at other processes.  io_uring
 * would reach all of these past the filter: every group refuses it.
 */
static const int file_calls[] = {
	SYS_open, SYS_openat, SYS_openat2, SYS_creat, SYS_truncate,
	SYS_unlink, SYS_unlinkat, SYS_rename, SYS_renameat, SYS_renameat2,
	SYS_mkdir, SYS_mkdirat, SYS_rmdir, SYS_link, SYS_linkat,
	SYS_symlink, SYS_symlinkat, SYS_chmod, SYS_fchmodat, SYS_chown,
	SYS_lchown, SYS_fchownat, SYS_mknod, SYS_mknodat, SYS_access,
	SYS_faccessat, SYS_faccessat2, SYS_utime, SYS_utimes, SYS_utimensat,
	SYS_futimesat, SYS_name_to_handle_at, SYS_open_by_handle_at,
	SYS_chroot,
};
static const int net_calls[] = {
	SYS_socket, SYS_socketpair, SYS_connect, SYS_bind, SYS_listen,
};
static const int proc_calls[] = {
	SYS_fork, SYS_vfork, SYS_execve, SYS_execveat, SYS_tkill,
	SYS_pidfd_open, SYS_pidfd_send_signal, SYS_pidfd_getfd, SYS_ptrace,
	SYS_process_vm_readv, SYS_process_vm_writev,
};
static const int uring_calls[] = {
	SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
};
/* proc: allowed only aimed at this process (first argument our pid). */
static const int proc_self_calls[] = {
	SYS_kill, SYS_tgkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
};

static const char *const group_name[] = { "file", "net", "proc" };

unsigned
sandbox_groups(const char *what, bool by_function)
{
	const char *group = NULL;
	unsigned i;
	int k;

	if (strcmp(what, "*") == 0)
		return SANDBOX_ALL;
	for (i = 0; i < NCALLS(group_name); i++)
		if (strcmp(what, group_name[i]) == 0)
			return 1u << i;
	if (!by_function || (k = intercept_index(what)) < 0)
		return 0;
	(void)compart_intercept_name(k, &group);
	return sandbox_groups(group, false);
}

/* Room for the longest filter: file's, 6 + 2 per call + 1 instructions. */
#define FILTER_MAX	(7 + 2 * (NCALLS(uring_calls) + NCALLS(file_calls)))
_Static_assert(7 + 2 * (NCALLS(uring_calls) + NCALLS(proc_calls)) + 7 +
    5 * NCALLS(proc_self_calls) <= FILTER_MAX, "room for the proc filter");
_Static_assert(NCALLS(net_calls) <= NCALLS(file_calls), "room for net's");
#define ARG0_LOW	(offsetof(struct seccomp_data, args[0]))	/* x86-64: little-endian */
#define LOAD(off)	((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define JUMP(op, v, t, f) ((struct sock_filter)BPF_JUMP(BPF_JMP | (op) | BPF_K, (v), (t), (f)))
#define RET(v)		((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))
#define REFUSE		RET(SECCOMP_RET_ERRNO | EACCES)

/* Refuse each of calls[n]. */
static int
filter_deny(struct sock_filter *f, int k, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		f[k++] = JUMP(BPF_JEQ, (uint32_t)calls[i], 0, 1);
		f[k++] = REFUSE;
	}
	return k;
}

/* Allow nr only when its first argument passes op (BPF_JEQ, BPF_JSET)
 * against v; refuse it otherwise. */
static int
filter_arg0(struct sock_filter *f, int k, int nr, int op, uint32_t v)
{
	f[k++] = JUMP(BPF_JEQ, (uint32_t)nr, 0, 4);
	f[k++] = LOAD(ARG0_LOW);
	f[k++] = JUMP(op, v, 0, 1);
	f[k++] = RET(SECCOMP_RET_ALLOW);
	f[k++] = REFUSE;
	return k;
}

static int
filter_build(struct sock_filter *f, unsigned group)
{
	int k = 0;

	/* Another architecture's system calls (int 0x80) and the x32
	 * numbers would pass under other numbers: refused whole. */
	f[k++] = LOAD(offsetof(struct seccomp_data, arch));
	f[k++] = JUMP(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = REFUSE;
	f[k++] = LOAD(offsetof(struct seccomp_data, nr));
	f[k++] = JUMP(BPF_JGE, __X32_SYSCALL_BIT, 0, 1);
	f[k++] = REFUSE;
	k = filter_deny(f, k, uring_calls, NCALLS(uring_calls));
	if (group == SANDBOX_FILE)
		k = filter_deny(f, k, file_calls, NCALLS(file_calls));
	if (group == SANDBOX_NET)
		k = filter_deny(f, k, net_calls, NCALLS(net_calls));
	if (group == SANDBOX_PROC) {
		k = filter_deny(f, k, proc_calls, NCALLS(proc_calls));
		/* clone: threads only */
		k = filter_arg0(f, k, SYS_clone, BPF_JSET, CLONE_THREAD);
		/* clone3's flags are behind a pointer the filter cannot
		 * follow: ENOSYS, on which libc falls back to clone. */
		f[k++] = JUMP(BPF_JEQ, SYS_clone3, 0, 1);
		f[k++] = RET(SECCOMP_RET_ERRNO | ENOSYS);
		for (size_t i = 0; i < NCALLS(proc_self_calls); i++)
			k = filter_arg0(f, k, proc_self_calls[i], BPF_JEQ,
			    (uint32_t)getpid());
	}
	f[k++] = RET(SECCOMP_RET_ALLOW);
	return k;
}

int
sandbox_deny(unsigned groups)
{
	struct sock_filter f[FILTER_MAX];
	struct sock_fprog prog = { 0, f };
	unsigned g;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return set_err(errno, "no_new_privs: %s", strerror(errno));
	for (g = 1; g & SANDBOX_ALL; g <<= 1) {
		if (!(groups & g))
			continue;
		prog.len = (unsigned short)filter_build(f, g);
		/* TSYNC: every thread of the process, the compartment's own
		 * included. */
		long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, &prog);

		if (r < 0)
			return set_err(errno, "seccomp: %s", strerror(errno));
		if (r > 0)	/* the id of a thread that could not follow */
			return set_err(EAGAIN, "seccomp: thread %ld differs", r);
	}
	return 0;
}
