/*
 * The heap shim: loaded first into every compartment's namespace, with no
 * dependency at all, so that its definitions come first in the
 * namespace's scope.  It provides the compartment's allocator, working
 * in the heap region the manager maps for it, and a stub for each
 * intercepted function that hands the call to the manager.
 *
 * Built freestanding (no libc: the shim must not pull a libc in before
 * the compartment's own).  Allocator: size classes of 16 bytes up to
 * 512, then powers of two up to 1 MiB, each with a free list; larger
 * blocks are page runs on a first-fit list.  Blocks carry a 16-byte
 * header; memory comes from the region by bumping a pointer.
 */
#include <stddef.h>
#include <stdint.h>

#include "intercepts.h"

#define EXPORT		__attribute__((visibility("default")))
#define HDR		16
#define SMALL_MAX	512
#define NSMALL		(SMALL_MAX / 16)	/* classes 1..32: 16..512 */
#define NPOW		11			/* 1 KiB .. 1 MiB */
#define BIG_CLASS	255
#define ALIGNED_MAGIC	0xa11a11a11a11a11aULL
/* Largest request: no heap is larger (COMPART_SIZE_MAX), and checked
 * before any rounding, which near SIZE_MAX would wrap. */
#define ALLOC_MAX	((size_t)1 << 40)

struct hdr {
	uint64_t	 size;		/* usable bytes */
	uint64_t	 cls;		/* size class, BIG_CLASS, or ALIGNED_MAGIC */
};
struct free_blk { struct free_blk *next; };
struct big { struct big *next; uint64_t size; };	/* free page run */

static char *region, *bump, *region_end;
static struct free_blk *freelist[NSMALL + NPOW + 1];
static struct big *bigfree;
/* The allocator's lock: 0, or the thread pointer (%fs:0) of the thread
 * holding it, so that the manager can tell, after a fault inside the
 * allocator, that the faulting thread holds it (heap_fault_unlock). */
EXPORT volatile uintptr_t compart_shim_lock;
static long (*hook)(int, long, long, long, long, long, long);

static inline uintptr_t
self(void)
{
	uintptr_t tp;

	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

static void
acquire(void)
{
	uintptr_t me = self(), free_ = 0;

	while (!__atomic_compare_exchange_n(&compart_shim_lock, &free_, me,
	    0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		free_ = 0;
		while (__atomic_load_n(&compart_shim_lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	}
}

static void
release(void)
{
	__atomic_store_n(&compart_shim_lock, 0, __ATOMIC_RELEASE);
}

static void
copy(void *d, const void *s, size_t n)
{
	char *dp = d;
	const char *sp = s;

	while (n--)
		*dp++ = *sp++;
}

static void
zero(void *d, size_t n)
{
	uint64_t *q = d;

	/* blocks are 16-aligned and their sizes multiples of 16 */
	for (n /= 8; n > 0; n--)
		*q++ = 0;
}

EXPORT int
compart_shim_init(void *base, size_t size,
    long (*h)(int, long, long, long, long, long, long))
{
	if (region != NULL)
		return -1;
	region = bump = base;
	region_end = (char *)base + size;
	hook = h;
	return 0;
}

static unsigned
size_class(size_t n, size_t *cap)
{
	unsigned c;
	size_t s;

	if (n <= SMALL_MAX) {
		c = (unsigned)((n + 15) / 16);
		if (c == 0)
			c = 1;
		*cap = (size_t)c * 16;
		return c;
	}
	for (c = NSMALL + 1, s = 1024; c <= NSMALL + NPOW; c++, s <<= 1)
		if (n <= s) {
			*cap = s;
			return c;
		}
	*cap = (n + HDR + 4095) / 4096 * 4096 - HDR;
	return BIG_CLASS;
}

static void *
carve(size_t total)
{
	char *p;

	if ((size_t)(region_end - bump) < total)
		return NULL;
	p = bump;
	bump += total;
	return p;
}

static void *
alloc_locked(size_t n)
{
	size_t cap;
	unsigned c;
	struct hdr *h;

	if (region == NULL || n > ALLOC_MAX)
		return NULL;
	c = size_class(n, &cap);
	if (c != BIG_CLASS) {
		struct free_blk *f = freelist[c];

		if (f != NULL) {
			freelist[c] = f->next;
			return f;
		}
		h = carve(cap + HDR);
	} else {
		struct big **bp, *b;

		for (bp = &bigfree; (b = *bp) != NULL; bp = &b->next)
			if (b->size >= cap + HDR)
				break;
		if (b != NULL) {
			uint64_t rest = b->size - (cap + HDR);

			if (rest >= 4096) {
				struct big *r = (struct big *)((char *)b + cap + HDR);

				r->size = rest;
				r->next = b->next;
				*bp = r;
			} else {
				*bp = b->next;
				cap = b->size - HDR;
			}
			h = (struct hdr *)b;
		} else {
			/* page runs start on a page */
			size_t pad = (size_t)(-(uintptr_t)bump & 4095);

			if (pad != 0) {
				char *p = carve(pad);

				if (p == NULL)
					return NULL;
				/* the gap is too small to keep */
			}
			h = carve(cap + HDR);
		}
	}
	if (h == NULL)
		return NULL;
	h->size = cap;
	h->cls = c;
	return h + 1;
}

static void
free_locked(void *p)
{
	struct hdr *h = (struct hdr *)p - 1;

	if ((char *)p < region + HDR || (char *)p >= bump)
		return;		/* not ours: ignored, as a double free would be */
	if (h->cls == ALIGNED_MAGIC) {
		free_locked((void *)(uintptr_t)h->size);
		return;
	}
	if (h->cls >= 1 && h->cls <= NSMALL + NPOW) {
		struct free_blk *f = p;

		f->next = freelist[h->cls];
		freelist[h->cls] = f;
	} else if (h->cls == BIG_CLASS) {
		struct big *b = (struct big *)h, **bp, *n;
		uint64_t size = h->size + HDR;

		/* keep the list sorted by address and merge neighbours */
		for (bp = &bigfree; (n = *bp) != NULL && n < b; bp = &n->next)
			;
		b->size = size;
		b->next = n;
		*bp = b;
		if (n != NULL && (char *)b + b->size == (char *)n) {
			b->size += n->size;
			b->next = n->next;
		}
		if (bp != &bigfree) {
			struct big *prev = (struct big *)((char *)bp -
			    offsetof(struct big, next));

			if ((char *)prev + prev->size == (char *)b) {
				prev->size += b->size;
				prev->next = b->next;
			}
		}
	}
}

EXPORT void *
malloc(size_t n)
{
	void *p;

	acquire();
	p = alloc_locked(n);
	release();
	return p;
}

EXPORT void
free(void *p)
{
	if (p == NULL)
		return;
	acquire();
	free_locked(p);
	release();
}

EXPORT void *
calloc(size_t n, size_t m)
{
	void *p;
	size_t total;

	if (__builtin_mul_overflow(n, m, &total))
		return NULL;
	p = malloc(total);
	if (p != NULL)
		zero(p, ((struct hdr *)p - 1)->size);
	return p;
}

static size_t
usable(void *p)
{
	struct hdr *h = (struct hdr *)p - 1;

	if (h->cls == ALIGNED_MAGIC) {
		struct hdr *o = (struct hdr *)(uintptr_t)h->size - 1;

		return o->size - (size_t)((char *)p - (char *)(o + 1));
	}
	return h->size;
}

EXPORT size_t
malloc_usable_size(void *p)
{
	return p == NULL ? 0 : usable(p);
}

EXPORT void *
realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	old = usable(p);
	if (n <= old && ((struct hdr *)p - 1)->cls != ALIGNED_MAGIC)
		return p;
	q = malloc(n);
	if (q == NULL)
		return NULL;
	copy(q, p, old < n ? old : n);
	free(p);
	return q;
}

EXPORT void *
reallocarray(void *p, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total))
		return NULL;
	return realloc(p, total);
}

EXPORT void *
memalign(size_t align, size_t n)
{
	char *raw, *p;
	struct hdr *h;

	if (align <= HDR)
		return malloc(n);
	if ((align & (align - 1)) != 0 || align > ALLOC_MAX || n > ALLOC_MAX)
		return NULL;
	raw = malloc(n + align + HDR);
	if (raw == NULL)
		return NULL;
	p = (char *)(((uintptr_t)raw + HDR + align - 1) & ~(uintptr_t)(align - 1));
	h = (struct hdr *)p - 1;
	h->size = (uint64_t)(uintptr_t)raw;
	h->cls = ALIGNED_MAGIC;
	return p;
}

EXPORT int
posix_memalign(void **pp, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return 22;	/* EINVAL */
	p = memalign(align, n);
	if (p == NULL)
		return 12;	/* ENOMEM */
	*pp = p;
	return 0;
}

EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

EXPORT void *
valloc(size_t n)
{
	return memalign(4096, n);
}

EXPORT void *
pvalloc(size_t n)
{
	if (n > ALLOC_MAX)
		return NULL;
	return memalign(4096, (n + 4095) & ~(size_t)4095);
}

/*
 * Intercept stubs.  Every intercepted function takes at most six integer
 * or pointer arguments, so a stub taking six longs receives all of them
 * in their registers whatever the real prototype (a variadic open()'s
 * mode included) and the manager passes them on unchanged.
 */
enum {
#define X(name, group, path)	I_##name,
	COMPART_INTERCEPTS(X)
#undef X
};

#define X(name, group, path)						\
	EXPORT long name(long a0, long a1, long a2, long a3, long a4,	\
	    long a5)							\
	{								\
		return hook(I_##name, a0, a1, a2, a3, a4, a5);		\
	}
COMPART_INTERCEPTS(X)
#undef X
