/*
 * Windows: page ranges of one owner's memory opened to chosen other
 * compartments.  Each window is a protection domain of its own (and, in
 * mpk mode, a protection key): opening and closing it changes only what
 * each compartment may touch, not the pages.  Memory for windows comes
 * from the window arena: an address range reserved in the host and, at
 * the same address, in every compartment process; each block of window
 * memory is a memfd of its own mapped there, and a compartment process is
 * given (and mapped) only the blocks of windows open to it or its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define ARENA_SIZE	(256UL << 20)
#define ARENA_PAGES	(ARENA_SIZE / PAGE)

struct blk { void *p; size_t len; int fd; };

struct compart_window {
	int		 slot;
	int		 dom;
	int		 owner;		/* compartment index, 0: host */
	uint32_t	 owner_gen;
	uint64_t	 open_to;	/* bit i: open to compartment i */
	struct blk	*blks;		/* from compart_window_alloc() */
	int		 nblks;
};

static struct compart_window *W[COMPART_WINDOWS_MAX];
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
static int
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
static void
arena_free(struct blk *b)
{
	size_t first = (size_t)((char *)b->p - arena) / PAGE, k;

	arena_map(b->p, b->len, -1);
	close(b->fd);
	for (k = first; k < first + b->len / PAGE; k++)
		arena_used[k / 8] &= (uint8_t)~(1 << (k % 8));
}

/* Process mode: the compartments whose processes have w's blocks mapped
 * (those it is open to, and its owner). */
static uint64_t
proc_viewers(const struct compart_window *w)
{
	uint64_t who = 0;
	int i;

	for (i = 1; i <= COMPART_MAX; i++)
		if (G.c[i] != NULL && G.c[i]->mode == COMPART_PROCESS &&
		    ((w->open_to & (1ULL << i)) || w->owner == i))
			who |= 1ULL << i;
	return who;
}

/* Map (or unmap) blocks [from, to) of w in the processes of who.  On a
 * failure to map, what this call mapped is unmapped again. */
static int
blks_show(struct compart_window *w, int from, int to, uint64_t who, bool map)
{
	int i, b;

	for (i = 1; i <= COMPART_MAX; i++) {
		if (!(who & (1ULL << i)))
			continue;
		for (b = from; b < to; b++) {
			if (!map) {
				proc_unmap(G.c[i], w->blks[b].p, w->blks[b].len);
			} else if (proc_map(G.c[i], w->blks[b].p,
			    w->blks[b].len, w->blks[b].fd) < 0) {
				uint64_t done = who & ((1ULL << i) - 1);

				while (--b >= from)
					proc_unmap(G.c[i], w->blks[b].p,
					    w->blks[b].len);
				blks_show(w, from, to, done, false);
				return -1;
			}
		}
	}
	return 0;
}

/* Domains each compartment reaches through windows: those open to it and
 * those it owns. */
void
windows_masks(uint64_t *masks)
{
	int i, k;

	memset(masks, 0, (COMPART_MAX + 1) * sizeof(*masks));
	for (k = 0; k < COMPART_WINDOWS_MAX; k++) {
		struct compart_window *w = W[k];

		if (w == NULL)
			continue;
		for (i = 1; i <= COMPART_MAX; i++)
			if ((w->open_to & (1ULL << i)) || w->owner == i)
				masks[i] |= 1ULL << w->dom;
	}
}

static struct compart_window *
win_get(compart_window_t *wp)
{
	int k;

	for (k = 0; k < COMPART_WINDOWS_MAX; k++)
		if (W[k] != NULL && W[k] == wp)
			return W[k];
	return NULL;
}

compart_window_t *
compart_window_create(compart_t *owner)
{
	struct compart_window *w;
	struct compart *c = NULL;
	int k;

	if (compart_thr.cur != 0) {
		set_err(EPERM, "only the host manages windows");
		return NULL;
	}
	pthread_mutex_lock(&G.lock);
	global_init();
	if (owner != NULL && (c = compart_get(owner)) == NULL) {
		set_err(EINVAL, "not a loaded compartment");
		goto fail;
	}
	for (k = 0; k < COMPART_WINDOWS_MAX; k++)
		if (W[k] == NULL)
			break;
	if (k == COMPART_WINDOWS_MAX) {
		set_err(ENFILE, "too many windows (at most %d)",
		    COMPART_WINDOWS_MAX);
		goto fail;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		set_err(ENOMEM, "out of memory");
		goto fail;
	}
	w->slot = k;
	w->dom = DOM_WIN0 + k;
	w->owner = c != NULL ? c->idx : 0;
	w->owner_gen = c != NULL ? c->gen : 0;
	G.dom[w->dom].owner = w->owner;
	G.dom[w->dom].used = true;
	if (iso_dom_key(w->dom) < 0) {
		G.dom[w->dom].used = false;
		free(w);
		goto fail;
	}
	W[k] = w;
	iso_recompute();
	pthread_mutex_unlock(&G.lock);
	return (compart_window_t *)w;
fail:
	pthread_mutex_unlock(&G.lock);
	return NULL;
}

void *
compart_window_alloc(compart_window_t *wp, size_t len)
{
	struct compart_window *w;
	struct blk *b;
	void *p = NULL;

	if (compart_thr.cur != 0) {
		set_err(EPERM, "only the host manages windows");
		return NULL;
	}
	if (len == 0) {
		set_err(EINVAL, "empty window memory");
		return NULL;
	}
	pthread_mutex_lock(&G.lock);
	if ((w = win_get(wp)) == NULL) {
		set_err(EINVAL, "not a window");
		goto out;
	}
	b = realloc(w->blks, (size_t)(w->nblks + 1) * sizeof(*b));
	if (b == NULL) {
		set_err(ENOMEM, "out of memory");
		goto out;
	}
	w->blks = b;
	b = &w->blks[w->nblks];
	if (arena_alloc(len, b) < 0)
		goto out;
	if (dom_add(w->dom, (uintptr_t)b->p, (uintptr_t)b->p + b->len,
	    PROT_READ | PROT_WRITE) < 0) {
		arena_free(b);
		goto out;
	}
	w->nblks++;
	if (blks_show(w, w->nblks - 1, w->nblks, proc_viewers(w), true) < 0) {
		w->nblks--;
		dom_take(w->dom, -1, (uintptr_t)b->p, (uintptr_t)b->p + b->len);
		arena_free(b);
		goto out;
	}
	p = b->p;
out:
	pthread_mutex_unlock(&G.lock);
	return p;
}

static int
host_add_cb(void *arg, uintptr_t s, uintptr_t e, int prot)
{
	return dom_add(*(int *)arg, s, e, prot);
}

static int
mapped_cb(void *arg, uintptr_t s, uintptr_t e, int prot)
{
	(void)prot;
	*(uintptr_t *)arg += e - s;
	return 0;
}

int
compart_window_add(compart_window_t *wp, void *addr, size_t len)
{
	struct compart_window *w;
	uintptr_t s = (uintptr_t)addr, e = s + len, a, mapped = 0;
	int rc = -1;

	if (compart_thr.cur != 0)
		return set_err(EPERM, "only the host manages windows");
	if (len == 0 || s % PAGE != 0 || len % PAGE != 0 || e < s)
		return set_err(EINVAL, "window ranges are whole pages");
	pthread_mutex_lock(&G.lock);
	if ((w = win_get(wp)) == NULL) {
		set_err(EINVAL, "not a window");
		goto out;
	}
	if (w->owner != 0) {
		rc = dom_take(w->owner, w->dom, s, e);
		goto out;
	}
	/* The host's memory: mapped, and held by no compartment or window.
	 * Looked at range by range, never page by page: len may be up to
	 * the top of the address space. */
	if (dom_overlap(s, e, &a) >= 0) {
		set_err(EINVAL, "%#lx is not the host's to share",
		    (unsigned long)a);
		goto out;
	}
	/* The arena's pages, given out or not, are compart_window_alloc()'s
	 * to hand out: one added here could be another window's later. */
	if (arena != NULL && s < (uintptr_t)arena + ARENA_SIZE &&
	    e > (uintptr_t)arena) {
		set_err(EINVAL, "%#lx-%#lx is in the window arena: memory there "
		    "comes from compart_window_alloc()", (unsigned long)s,
		    (unsigned long)e);
		goto out;
	}
	if (maps_ranges(s, e, mapped_cb, &mapped) < 0)
		goto out;
	if (mapped != len) {
		set_err(EINVAL, "%#lx-%#lx is not all the host's memory "
		    "(not all mapped)", (unsigned long)s, (unsigned long)e);
		goto out;
	}
	rc = maps_ranges(s, e, host_add_cb, &w->dom);
out:
	if (rc == 0)
		iso_recompute();
	pthread_mutex_unlock(&G.lock);
	return rc;
}

int
compart_window_remove(compart_window_t *wp, void *addr, size_t len)
{
	struct compart_window *w;
	uintptr_t s = (uintptr_t)addr;
	int rc = -1, i;

	if (compart_thr.cur != 0)
		return set_err(EPERM, "only the host manages windows");
	if (len == 0 || s % PAGE != 0 || len % PAGE != 0 || s + len < s)
		return set_err(EINVAL, "window ranges are whole pages");
	pthread_mutex_lock(&G.lock);
	if ((w = win_get(wp)) == NULL) {
		set_err(EINVAL, "not a window");
		goto out;
	}
	for (i = 0; i < w->nblks; i++)
		if (s < (uintptr_t)w->blks[i].p + w->blks[i].len &&
		    s + len > (uintptr_t)w->blks[i].p) {
			set_err(EINVAL, "memory from compart_window_alloc() "
			    "leaves with the window");
			goto out;
		}
	rc = dom_take(w->dom, w->owner != 0 ? w->owner : -1, s, s + len);
out:
	if (rc == 0)
		iso_recompute();
	pthread_mutex_unlock(&G.lock);
	return rc;
}

static int
open_close(compart_window_t *wp, compart_t *to, bool open)
{
	struct compart_window *w;
	struct compart *c;
	int rc = 0;

	if (compart_thr.cur != 0)
		return set_err(EPERM, "only the host manages windows");
	pthread_mutex_lock(&G.lock);
	w = win_get(wp);
	c = to != NULL ? compart_get(to) : NULL;
	if (w == NULL || (to != NULL && c == NULL)) {
		rc = set_err(EINVAL, "not a window or not a compartment");
	} else if (c != NULL) {
		uint64_t before = proc_viewers(w), after;

		if (open)
			w->open_to |= 1ULL << c->idx;
		else
			w->open_to &= ~(1ULL << c->idx);
		after = proc_viewers(w);
		if (blks_show(w, 0, w->nblks, after & ~before, true) < 0) {
			w->open_to &= ~(1ULL << c->idx);
			rc = -1;
		} else {
			blks_show(w, 0, w->nblks, before & ~after, false);
			stats_window(w->slot + 1, w->owner, c->idx, open);
			iso_recompute();
		}
	}
	/* the host reaches every window: nothing to do for NULL */
	pthread_mutex_unlock(&G.lock);
	return rc;
}

int
compart_window_open(compart_window_t *w, compart_t *to)
{
	return open_close(w, to, true);
}

int
compart_window_close(compart_window_t *w, compart_t *to)
{
	return open_close(w, to, false);
}

static void
destroy_locked(struct compart_window *w)
{
	struct dom *dm = &G.dom[w->dom];
	int i;

	blks_show(w, 0, w->nblks, proc_viewers(w), false);
	for (i = 0; i < w->nblks; i++) {
		dom_take(w->dom, -1, (uintptr_t)w->blks[i].p,
		    (uintptr_t)w->blks[i].p + w->blks[i].len);
		arena_free(&w->blks[i]);
	}
	/* what is left goes back to the owner */
	while (dm->n > 0) {
		struct range r = dm->r[0];

		if (dom_take(w->dom, w->owner != 0 && G.c[w->owner] != NULL ?
		    w->owner : -1, r.start, r.end) < 0)
			break;
	}
	dom_clear(w->dom);
	iso_dom_key_free(w->dom);
	dm->used = false;
	stats_window_gone(w->slot + 1);
	W[w->slot] = NULL;
	free(w->blks);
	free(w);
}

int
compart_window_destroy(compart_window_t *wp)
{
	struct compart_window *w;

	if (compart_thr.cur != 0)
		return set_err(EPERM, "only the host manages windows");
	pthread_mutex_lock(&G.lock);
	if ((w = win_get(wp)) == NULL) {
		pthread_mutex_unlock(&G.lock);
		return set_err(EINVAL, "not a window");
	}
	destroy_locked(w);
	iso_recompute();
	pthread_mutex_unlock(&G.lock);
	return 0;
}

/* Compartment idx is going: the windows it owns go with it. */
void
windows_drop_owner(int idx)
{
	int k;

	for (k = 0; k < COMPART_WINDOWS_MAX; k++)
		if (W[k] != NULL && W[k]->owner == idx)
			destroy_locked(W[k]);
}

void
windows_forget(int idx)
{
	int k;

	for (k = 0; k < COMPART_WINDOWS_MAX; k++)
		if (W[k] != NULL)
			W[k]->open_to &= ~(1ULL << idx);
}

/* Process mode: [addr, addr+len) lies in arena memory of one window open
 * to (or owned by) compartment to. */
bool
window_covers(int to, uintptr_t addr, size_t len)
{
	int k, i;

	if (len == 0)
		len = 1;
	for (k = 0; k < COMPART_WINDOWS_MAX; k++) {
		struct compart_window *w = W[k];

		if (w == NULL || !((w->open_to & (1ULL << to)) || w->owner == to))
			continue;
		for (i = 0; i < w->nblks; i++) {
			uintptr_t s = (uintptr_t)w->blks[i].p;

			if (addr >= s && addr - s < w->blks[i].len &&
			    len <= w->blks[i].len - (addr - s))
				return true;
		}
	}
	return false;
}

/* For the DOT graph: window k's owner, pages and who it is open to. */
int
window_info(int k, int *owner, size_t *pages, uint64_t *open_to)
{
	struct compart_window *w;
	struct dom *dm;
	size_t n = 0;
	int i;

	if (k < 0 || k >= COMPART_WINDOWS_MAX || (w = W[k]) == NULL)
		return -1;
	dm = &G.dom[w->dom];
	for (i = 0; i < dm->n; i++)
		n += (dm->r[i].end - dm->r[i].start) / PAGE;
	*owner = w->owner;
	*pages = n;
	*open_to = w->open_to;
	return 0;
}
