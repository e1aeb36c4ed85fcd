/*
 * The window arena: an address range reserved in the host and, at the
 * same address, in every compartment process, where all window memory
 * lives.  Each block of it is a memfd of its own mapped there, so that a
 * compartment process can be given (and map) only the blocks it may see.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define ARENA_SIZE	(256UL << 20)
#define ARENA_PAGES	(ARENA_SIZE / PAGE)

/* Lock held (or, in a compartment's process, its one thread). */
static char *arena;
static uint8_t arena_used[ARENA_PAGES / 8];

/* Reserve the arena's addresses (no memory behind them yet). */
int
arena_init(void)
{
	void *p;

	if (arena != NULL)
		return 0;
	p = mmap(NULL, ARENA_SIZE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return set_err(ENOMEM, "cannot reserve the window arena");
	arena = p;
	return 0;
}

/* Where the arena is, for a compartment's process (arena_init() first). */
void
arena_get(void **addr, size_t *size)
{
	*addr = arena;
	*size = ARENA_SIZE;
}

/* In a compartment's process: reserve the arena at addr, as in the host.
 * EADDRINUSE if this process has something there. */
int
arena_adopt(void *addr, size_t size)
{
	void *p;

	if (arena != NULL || size != ARENA_SIZE || ((uintptr_t)addr & (PAGE - 1)))
		return set_err(EPROTO, "bad window arena from the host");
	p = mmap(addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != addr) {
		int err = p == MAP_FAILED && errno != EEXIST ? errno : EADDRINUSE;

		if (p != MAP_FAILED)
			munmap(p, size);
		return set_err(err, "cannot reserve the window arena at %p in "
		    "the compartment's process: %s", addr, strerror(err));
	}
	arena = p;
	return 0;
}

/* Does [p, p+len) lie in the arena, in whole pages? */
bool
arena_holds(uintptr_t p, size_t len)
{
	uintptr_t a = (uintptr_t)arena;

	return arena != NULL && p % PAGE == 0 && len % PAGE == 0 && len > 0 &&
	    p >= a && p - a <= ARENA_SIZE && len <= ARENA_SIZE - (p - a);
}

/* Does [s, e) meet the arena, its pages given out or not? */
bool
arena_overlaps(uintptr_t s, uintptr_t e)
{
	return arena != NULL && s < (uintptr_t)arena + ARENA_SIZE &&
	    e > (uintptr_t)arena;
}

/* Put fd's memory at p (fd -1: nothing, the reservation again). */
int
arena_map(void *p, size_t len, int fd)
{
	void *q = fd >= 0 ?
	    mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) :
	    mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE | MAP_FIXED, -1, 0);

	return q == p ? 0 : set_err(errno, "mmap of window memory: %s",
	    strerror(errno));
}

#define USED(i)		(arena_used[(i) / 8] & (1 << ((i) % 8)))

/* A block of window memory: its own memfd, mapped in the arena. */
int
arena_alloc(size_t len, struct blk *b)
{
	size_t n, i, run = 0, first, k;
	int fd;

	/* Before rounding: near SIZE_MAX, PAGE_UP() wraps to 0. */
	if (len > ARENA_SIZE)
		return set_err(ENOMEM, "%zu bytes: more than the window arena "
		    "(%lu MiB)", len, ARENA_SIZE >> 20);
	n = PAGE_UP(len) / PAGE;
	if (arena_init() < 0)
		return -1;
	for (i = 0; i < ARENA_PAGES; i++) {
		run = USED(i) ? 0 : run + 1;
		if (run == n)
			break;
	}
	if (i == ARENA_PAGES)
		return set_err(ENOMEM, "the window arena (%lu MiB) is full",
		    ARENA_SIZE >> 20);
	first = i + 1 - n;
	fd = memfd_create("compart-window", MFD_CLOEXEC);
	if (fd < 0)
		return set_err(errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)(n * PAGE)) < 0 ||
	    arena_map(arena + first * PAGE, n * PAGE, fd) < 0) {
		close(fd);
		return set_err(ENOMEM, "no memory for a window");
	}
	for (k = first; k <= i; k++)
		arena_used[k / 8] |= (uint8_t)(1 << (k % 8));
	b->p = arena + first * PAGE;
	b->len = n * PAGE;
	b->fd = fd;
	return 0;
}

/* Back to the arena (the memory goes with the last mapping of it). */
void
arena_free(struct blk *b)
{
	size_t first = (size_t)((char *)b->p - arena) / PAGE, k;

	arena_map(b->p, b->len, -1);
	close(b->fd);
	for (k = first; k < first + b->len / PAGE; k++)
		arena_used[k / 8] &= (uint8_t)~(1 << (k % 8));
}
