/*
 * Windows: page ranges of one owner's memory opened to chosen other
 * compartments.  Each window is a protection domain of its own (and, in
 * mpk mode, a protection key): opening and closing it changes only what
 * each compartment may touch, not the pages.  Memory for windows comes
 * from the window arena, one shared memfd, which every compartment process
 * maps at the same address as the host.
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

struct blk { void *p; size_t len; };

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
static int arena_fd = -1;

int
arena_init(void)
{
	if (arena != NULL)
		return 0;
	arena_fd = memfd_create("compart-windows", MFD_CLOEXEC);
	if (arena_fd < 0)
		return set_err(errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(arena_fd, (off_t)ARENA_SIZE) < 0) {
		close(arena_fd);
		arena_fd = -1;
		return set_err(ENOMEM, "cannot size the window arena");
	}
	arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE, arena_fd, 0);
	if (arena == MAP_FAILED) {
		arena = NULL;
		close(arena_fd);
		arena_fd = -1;
		return set_err(ENOMEM, "cannot map the window arena");
	}
	return 0;
}

/* The arena, for a compartment's process (arena_init() first). */
void
arena_get(int *fd, void **addr, size_t *size)
{
	*fd = arena_fd;
	*addr = arena;
	*size = ARENA_SIZE;
}

/*
 * In a compartment's process: the host's arena, fd, mapped at addr as in
 * the host.  Takes fd.  EADDRINUSE if this process has something there.
 */
int
arena_adopt(int fd, void *addr, size_t size)
{
	void *p;

	if (arena != NULL || size != ARENA_SIZE || ((uintptr_t)addr & (PAGE - 1))) {
		close(fd);
		return set_err(EPROTO, "bad window arena from the host");
	}
	p = mmap(addr, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, fd, 0);
	if (p != addr) {
		int err = p == MAP_FAILED ? errno : EADDRINUSE;

		if (p != MAP_FAILED)
			munmap(p, size);
		close(fd);
		return set_err(err, "cannot map the window arena at %p in the "
		    "compartment's process: %s", addr, strerror(err));
	}
	arena = p;
	arena_fd = fd;
	return 0;
}

#define USED(i)		(arena_used[(i) / 8] & (1 << ((i) % 8)))

void *
arena_alloc(size_t len)
{
	size_t n = PAGE_UP(len) / PAGE, i, run = 0;

	if (n == 0 || arena_init() < 0)
		return NULL;
	for (i = 0; i < ARENA_PAGES; i++) {
		run = USED(i) ? 0 : run + 1;
		if (run == n) {
			size_t first = i + 1 - n, k;

			for (k = first; k <= i; k++)
				arena_used[k / 8] |= (uint8_t)(1 << (k % 8));
			return arena + first * PAGE;
		}
	}
	set_err(ENOMEM, "the window arena (%lu MiB) is full", ARENA_SIZE >> 20);
	return NULL;
}

/* Back to the arena, zeroed (the pages are given back to the kernel). */
void
arena_free(void *p, size_t len)
{
	size_t first = (size_t)((char *)p - arena) / PAGE, n = PAGE_UP(len) / PAGE;
	size_t k;

	fallocate(arena_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)(first * PAGE), (off_t)(n * PAGE));
	for (k = first; k < first + n; k++)
		arena_used[k / 8] &= (uint8_t)~(1 << (k % 8));
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
	p = arena_alloc(len);
	if (p == NULL)
		goto out;
	if (dom_add(w->dom, (uintptr_t)p, (uintptr_t)p + PAGE_UP(len),
	    PROT_READ | PROT_WRITE) < 0) {
		arena_free(p, len);
		p = NULL;
		goto out;
	}
	w->blks[w->nblks].p = p;
	w->blks[w->nblks].len = PAGE_UP(len);
	w->nblks++;
out:
	pthread_mutex_unlock(&G.lock);
	return p;
}

static int
host_add_cb(void *arg, uintptr_t s, uintptr_t e, int prot)
{
	return dom_add(*(int *)arg, s, e, prot);
}

int
compart_window_add(compart_window_t *wp, void *addr, size_t len)
{
	struct compart_window *w;
	uintptr_t s = (uintptr_t)addr, e = s + len, a;
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
	/* The host's memory: any that no compartment or window holds. */
	for (a = s; a < e; a += PAGE)
		if (dom_owner_of(a) >= 0) {
			set_err(EINVAL, "%#lx is not the host's to share",
			    (unsigned long)a);
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
		if (open)
			w->open_to |= 1ULL << c->idx;
		else
			w->open_to &= ~(1ULL << c->idx);
		stats_window(w->slot + 1, w->owner, c->idx, open);
		iso_recompute();
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

	for (i = 0; i < w->nblks; i++) {
		dom_take(w->dom, -1, (uintptr_t)w->blks[i].p,
		    (uintptr_t)w->blks[i].p + w->blks[i].len);
		arena_free(w->blks[i].p, w->blks[i].len);
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
