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

	if (poll(&pfd, 1, 0) < 0)
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

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW)) {
		errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != size) {
		errno = EINVAL;
		return -1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	*mapp = p;
	return 0;
}
