/*
 * Windows: page ranges of one owner's memory opened to chosen other
 * compartments.  Each window is a protection domain of its own (and, in
 * mpk mode, a protection key), which iso.c keeps with who it is open to:
 * opening and closing it changes only what each compartment may touch,
 * not the pages.  Memory for windows comes from the window arena
 * (arena.c); a compartment process is given (and mapped) only the blocks
 * of windows open to it or its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct compart_window {
	int		 slot;
	int		 dom;		/* its protection domain */
	int		 owner;		/* compartment index, 0: host */
	uint64_t	 was_open;	/* bit i: ever open to compartment i
					 * (for the graph, compart_dot) */
	struct blk	*blks;		/* from compart_window_alloc() */
	int		 nblks;
};

/* Under the table lock. */
static struct compart_window *W[COMPART_WINDOWS_MAX];

/* Compartment i has w's memory within reach: w is open to it, or its. */
static bool
reaches(const struct compart_window *w, int i)
{
	return (dom_reach(w->dom) & (1ULL << i)) || w->owner == i;
}

/* Process mode: the compartments whose processes have w's blocks mapped
 * (those it is open to, and its owner). */
static uint64_t
proc_viewers(const struct compart_window *w)
{
	uint64_t who = 0;
	int i;

	for (i = 1; i <= COMPART_MAX; i++)
		if (compart_at((uint64_t)i) != NULL &&
		    compart_at((uint64_t)i)->mode == COMPART_PROCESS &&
		    reaches(w, i))
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
		struct compart *c = compart_at((uint64_t)i);

		if (!(who & (1ULL << i)))
			continue;
		for (b = from; b < to; b++) {
			if (!map) {
				proc_unmap(c, w->blks[b].p, w->blks[b].len);
			} else if (proc_map(c, w->blks[b].p,
			    w->blks[b].len, w->blks[b].fd) < 0) {
				uint64_t done = who & ((1ULL << i) - 1);

				while (--b >= from)
					proc_unmap(c, w->blks[b].p,
					    w->blks[b].len);
				blks_show(w, from, to, done, false);
				return -1;
			}
		}
	}
	return 0;
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
	table_lock();
	iso_init();
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
	if (dom_reserve(w->dom, w->owner, true) < 0) {
		free(w);
		goto fail;
	}
	W[k] = w;
	table_unlock();
	return (compart_window_t *)w;
fail:
	table_unlock();
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
	table_lock();
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
	table_unlock();
	return p;
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
	table_lock();
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
	if (arena_overlaps(s, e)) {
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
	rc = dom_add_mapped(w->dom, s, e);
out:
	table_unlock();
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
	table_lock();
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
	table_unlock();
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
	table_lock();
	w = win_get(wp);
	c = to != NULL ? compart_get(to) : NULL;
	if (w == NULL || (to != NULL && c == NULL)) {
		rc = set_err(EINVAL, "not a window or not a compartment");
	} else if (c != NULL) {
		uint64_t before = proc_viewers(w), after;

		dom_reach_set(w->dom, c->idx, open);
		after = proc_viewers(w);
		if (blks_show(w, 0, w->nblks, after & ~before, true) < 0) {
			dom_reach_set(w->dom, c->idx, false);
			rc = -1;
		} else {
			blks_show(w, 0, w->nblks, before & ~after, false);
			if (open)
				w->was_open |= 1ULL << c->idx;
		}
	}
	/* the host reaches every window: nothing to do for NULL */
	table_unlock();
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
	int i;

	blks_show(w, 0, w->nblks, proc_viewers(w), false);
	for (i = 0; i < w->nblks; i++) {
		dom_take(w->dom, -1, (uintptr_t)w->blks[i].p,
		    (uintptr_t)w->blks[i].p + w->blks[i].len);
		arena_free(&w->blks[i]);
	}
	/* what is left goes back to the owner */
	dom_return(w->dom, w->owner != 0 &&
	    compart_at((uint64_t)w->owner) != NULL ? w->owner : -1);
	dom_release(w->dom);
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
	table_lock();
	if ((w = win_get(wp)) == NULL) {
		table_unlock();
		return set_err(EINVAL, "not a window");
	}
	destroy_locked(w);
	table_unlock();
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

/* Compartment idx is going: the graph forgets it saw the others' windows
 * (iso.c closes them to it). */
void
windows_forget(int idx)
{
	int k;

	for (k = 0; k < COMPART_WINDOWS_MAX; k++)
		if (W[k] != NULL)
			W[k]->was_open &= ~(1ULL << idx);
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

		if (w == NULL || !reaches(w, to))
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

/* For the DOT graph: window k's owner, pages, who it is open to and who
 * it ever was.  Lock held. */
int
window_info(int k, int *owner, size_t *pages, uint64_t *open_to,
    uint64_t *was_open)
{
	struct compart_window *w;

	if (k < 0 || k >= COMPART_WINDOWS_MAX || (w = W[k]) == NULL)
		return -1;
	*owner = w->owner;
	*pages = dom_size(w->dom) / PAGE;
	*open_to = dom_reach(w->dom);
	*was_open = w->was_open;
	return 0;
}
