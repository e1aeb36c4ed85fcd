/*
 * Small wrappers around the kernel: futex sleep and wake on shared words,
 * deadlines, liveness of a socket, mapping a sealed memfd safely.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Sleep while *word == val, at most timeout_ms (-1: no limit).  Shared
 * (not FUTEX_PRIVATE): the word lives in memory mapped by two processes. */
int
futex_wait(uint32_t *word, uint32_t val, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	return (int)syscall(SYS_futex, word, FUTEX_WAIT, val, tsp, NULL, 0);
}

void
futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * The monotonic clock, read through the kernel's vDSO directly rather than
 * through clock_gettime(): a program may interpose clock_gettime() (the
 * clocks(1) preload library does, with a cocall), and the library must not
 * call itself back in the middle of a call.
 */
typedef int (*vdso_gettime_t)(clockid_t, struct timespec *);

static vdso_gettime_t
vdso_lookup(void)
{
	static const char *const names[] = {
		"__vdso_clock_gettime", "__kernel_clock_gettime",
	};
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR), load = 0;
	const ElfW(Ehdr) *eh = (const void *)base;
	const ElfW(Phdr) *ph;
	const ElfW(Dyn) *dyn = NULL, *d;
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	const ElfW(Word) *hash = NULL;
	bool have_load = false;
	size_t i, k;

	if (base == 0)
		return NULL;
	ph = (const void *)(base + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			load = base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)(base + ph[i].p_offset);
		}
	}
	if (!have_load || dyn == NULL)
		return NULL;
	for (d = dyn; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			sym = (const void *)(load + d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			str = (const void *)(load + d->d_un.d_ptr);
		else if (d->d_tag == DT_HASH)
			hash = (const void *)(load + d->d_un.d_ptr);
	}
	if (sym == NULL || str == NULL || hash == NULL)
		return NULL;
	/* DT_HASH: nbucket, nchain; nchain is the number of symbols. */
	for (i = 0; i < hash[1]; i++) {
		if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC ||
		    sym[i].st_shndx == SHN_UNDEF)
			continue;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strcmp(str + sym[i].st_name, names[k]) == 0)
				return (vdso_gettime_t)(load + sym[i].st_value);
	}
	return NULL;
}

int
mono_clock(struct timespec *ts)
{
	static vdso_gettime_t found;
	static bool looked;
	vdso_gettime_t fn;

	/* Threads may look it up at once: each finds the same function, and
	 * the stores are atomic, so whichever lands is right. */
	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&found, vdso_lookup(), __ATOMIC_RELAXED);
		__atomic_store_n(&looked, true, __ATOMIC_RELEASE);
	}
	fn = __atomic_load_n(&found, __ATOMIC_RELAXED);
	if (fn != NULL)
		return fn(CLOCK_MONOTONIC, ts);
	return (int)syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ts);
}

int64_t
now_ms(void)
{
	struct timespec ts;

	mono_clock(&ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds to sleep next: at most slice_ms, less if the deadline is
 * nearer; -1 if the deadline has passed.  deadline < 0 means none. */
int
deadline_left(int64_t deadline, int slice_ms)
{
	int64_t left;

	if (deadline < 0)
		return slice_ms;
	left = deadline - now_ms();
	if (left <= 0)
		return -1;
	return left < slice_ms ? (int)left : slice_ms;
}

/* True once the other end of a connected socket is closed: the peer died
 * or let go of the channel. */
bool
sock_hungup(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLRDHUP };

	if (sys_poll(&pfd, 1, 0) < 0)
		return false;
	return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

/*
 * Map a memfd received from another process, shared and writable, only if
 * it is sealed against shrinking and growing and has exactly the size we
 * expect: otherwise the sender could truncate it under us and turn every
 * access into SIGBUS.
 */
int
memfd_sealed_map(int fd, size_t size, void **mapp)
{
	struct stat st;
	int seals;
	void *p;

	seals = sys_fcntl(fd, F_GET_SEALS, 0);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW)) {
		errno = EINVAL;
		return -1;
	}
	if (sys_fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != size) {
		errno = EINVAL;
		return -1;
	}
	p = sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*mapp = p;
	return 0;
}

/* ---- system calls, without libc's wrappers (see sys.h) ---- */

int
sys_socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type, protocol);
}

int
sys_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, addr, len);
}

int
sys_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (int)syscall(SYS_bind, fd, addr, len);
}

int
sys_listen(int fd, int backlog)
{
	return (int)syscall(SYS_listen, fd, backlog);
}

int
sys_accept4(int fd, struct sockaddr *addr, socklen_t *lenp, int flags)
{
	return (int)syscall(SYS_accept4, fd, addr, lenp, flags);
}

ssize_t
sys_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	return syscall(SYS_sendmsg, fd, mh, flags);
}

ssize_t
sys_recvmsg(int fd, struct msghdr *mh, int flags)
{
	return syscall(SYS_recvmsg, fd, mh, flags);
}

ssize_t
sys_send(int fd, const void *buf, size_t len, int flags)
{
	return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t
sys_recv(int fd, void *buf, size_t len, int flags)
{
	return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

int
sys_getsockopt(int fd, int level, int name, void *val, socklen_t *lenp)
{
	return (int)syscall(SYS_getsockopt, fd, level, name, val, lenp);
}

int
sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

int
sys_ioctl(int fd, unsigned long req, void *arg)
{
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

int
sys_poll(struct pollfd *pfd, nfds_t n, int timeout_ms)
{
#ifdef SYS_poll
	return (int)syscall(SYS_poll, pfd, n, timeout_ms);
#else
	struct timespec ts = { timeout_ms / 1000,
	    (long)(timeout_ms % 1000) * 1000000 };

	return (int)syscall(SYS_ppoll, pfd, n, timeout_ms < 0 ? NULL : &ts,
	    NULL, 0);
#endif
}

int
sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

ssize_t
sys_read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

ssize_t
sys_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

int
sys_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

/* The kernel's struct stat is libc's on the 64-bit platforms we build
 * for. */
int
sys_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

int
sys_fstatfs(int fd, struct statfs *st)
{
	return (int)syscall(SYS_fstatfs, fd, st);
}

int
sys_stat(const char *path, struct stat *st)
{
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
}

int
sys_lstat(const char *path, struct stat *st)
{
	return (int)syscall(SYS_newfstatat, AT_FDCWD, path, st,
	    AT_SYMLINK_NOFOLLOW);
}

int
sys_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int
sys_unlink(const char *path)
{
	return (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

int
sys_mkdir(const char *path, mode_t mode)
{
	return (int)syscall(SYS_mkdirat, AT_FDCWD, path, mode);
}

int
sys_chmod(const char *path, mode_t mode)
{
	return (int)syscall(SYS_fchmodat, AT_FDCWD, path, mode);
}

int
sys_flock(int fd, int op)
{
	return (int)syscall(SYS_flock, fd, op);
}

int
sys_pipe2(int fds[2], int flags)
{
	return (int)syscall(SYS_pipe2, fds, flags);
}

int
sys_eventfd(unsigned initval, int flags)
{
	return (int)syscall(SYS_eventfd2, initval, flags);
}

int
sys_memfd_create(const char *name, unsigned flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

int
sys_ftruncate(int fd, off_t len)
{
	return (int)syscall(SYS_ftruncate, fd, len);
}

void *
sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int
sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

int
sys_kill(pid_t pid, int sig)
{
	return (int)syscall(SYS_kill, pid, sig);
}

int
sys_pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

pid_t
sys_waitpid(pid_t pid, int *status, int options)
{
	return (pid_t)syscall(SYS_wait4, pid, status, options, NULL);
}

int
sys_nanosleep(const struct timespec *ts)
{
	return (int)syscall(SYS_nanosleep, ts, NULL);
}

int
sys_uname(struct utsname *u)
{
	return (int)syscall(SYS_uname, u);
}
