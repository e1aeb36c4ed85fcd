/*
 * COCARRIER view memory: where a receiver copies the messages it takes
 * out of the senders' staging rings (cocarrier.c), one memfd per
 * receiving attachment, mapped twice: writable, for the library's copy,
 * and read-only, for the views corecv() returns.  The memfd is sealed
 * against writing (F_SEAL_FUTURE_WRITE: the one writable mapping, made
 * before, stays), shrinking and growing before the read-only mapping is
 * made, so a view cannot be made writable (mprotect() refuses: EACCES)
 * and no descriptor to the file can write it; no other process has it.
 *
 * It is VIEWS_SIZE bytes of address space, reserved (MAP_NORESERVE):
 * pages are allocated as messages first touch them, and stay (the seal
 * forbids punching holes).  A message goes at the lowest place clear of
 * the views held, so what stays allocated is the most this attachment
 * held at once.  All under o->lock.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "coport_int.h"

#define VIEWS_SIZE	((size_t)256 << 20)
#define VIEW_ALIGN	64u

struct carrier_views {
	uint8_t		*rw;		/* the library's mapping */
	const uint8_t	*ro;		/* the views' */
	struct pool_range *held;	/* [start, end) of each view held */
	int		 nheld, room;
};

#define ROUND_UP(n, a)	(((n) + (a) - 1) & ~(uint64_t)((a) - 1))

static int
views_make(struct port_obj *o)
{
	struct carrier_views *v = calloc(1, sizeof(*v));
	void *rw = MAP_FAILED, *ro = MAP_FAILED;
	int fd, e;

	if (v == NULL)
		return -1;
	fd = sys_memfd_create("cocarrier-views", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto fail;
	if (sys_ftruncate(fd, (off_t)VIEWS_SIZE) < 0 ||
	    (rw = sys_mmap(NULL, VIEWS_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE, fd, 0)) == MAP_FAILED ||
	    sys_fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (ro = sys_mmap(NULL, VIEWS_SIZE, PROT_READ, MAP_SHARED | MAP_NORESERVE,
	    fd, 0)) == MAP_FAILED)
		goto fail;
	sys_close(fd);
	v->rw = rw;
	v->ro = ro;
	o->cviews = v;
	return 0;
fail:
	e = errno;
	if (rw != MAP_FAILED)
		sys_munmap(rw, VIEWS_SIZE);
	if (fd >= 0)
		sys_close(fd);
	free(v);
	errno = e;
	return -1;
}

/* The lowest place for len bytes clear of the views held: an offset, or
 * VIEWS_SIZE if there is none. */
static uint64_t
views_fit(const struct carrier_views *v, uint64_t len)
{
	uint64_t best = VIEWS_SIZE;

	for (int c = -1; c < v->nheld; c++) {
		uint64_t at = c < 0 ? 0 : ROUND_UP(v->held[c].end, VIEW_ALIGN);
		bool clear = at < best && len <= VIEWS_SIZE - at;

		for (int i = 0; i < v->nheld && clear; i++)
			clear = at + len <= v->held[i].start ||
			    at >= v->held[i].end;
		if (clear)
			best = at;
	}
	return best;
}

void *
cview_alloc_locked(struct port_obj *o, size_t len, void **rwp)
{
	struct carrier_views *v;
	uint64_t at, n = len > 0 ? len : 1;	/* each view its own address */

	if (o->cviews == NULL && views_make(o) < 0)
		return NULL;
	v = o->cviews;
	if (views_grow_locked(o) < 0)
		return NULL;
	if (v->nheld == v->room) {
		int room = v->room ? 2 * v->room : 8;
		struct pool_range *h = realloc(v->held, (size_t)room * sizeof(*h));

		if (h == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		v->held = h;
		v->room = room;
	}
	if ((at = views_fit(v, n)) == VIEWS_SIZE) {
		errno = ENOBUFS;	/* views held fill it */
		return NULL;
	}
	v->held[v->nheld++] = (struct pool_range){ at, at + n };
	*rwp = v->rw + at;
	return (void *)(v->ro + at);
}

void
cview_commit_locked(struct port_obj *o, void *view)
{
	o->views[o->nviews++] = (struct view){ .addr = view, .cview = true };
}

void
cview_free_locked(struct port_obj *o, void *view)
{
	struct carrier_views *v = o->cviews;
	uint64_t at = (uint64_t)((const uint8_t *)view - v->ro);

	for (int i = 0; i < v->nheld; i++)
		if (v->held[i].start == at) {
			v->held[i] = v->held[--v->nheld];
			return;
		}
}

void
cview_destroy(struct port_obj *o)
{
	struct carrier_views *v = o->cviews;

	if (v == NULL)
		return;
	sys_munmap(v->rw, VIEWS_SIZE);
	sys_munmap((void *)v->ro, VIEWS_SIZE);
	free(v->held);
	free(v);
	o->cviews = NULL;
}
