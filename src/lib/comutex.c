/*
 * Comutexes: named mutexes between processes.  comsgd hands out one page
 * per name (coport_shm.h, struct mutex_shm); locking is a CAS of our
 * thread id into its word, and futex only to sleep.  A waiter that finds
 * the holder's thread gone (checked each time a sleep slice ends) takes
 * the lock over and reports EOWNERDEAD.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "comsg/comutex.h"
#include "coport_int.h"

#define COMUTEX_MAX	1024
#define COMUTEX_LIVE	0x78746d6f63ull		/* "comtx" */

static pthread_mutex_t comutex_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct mutex_shm *shm;		/* NULL: slot free */
	uint64_t	 hold;
	uint64_t	 gen;		/* tells a stale comutex_t */
} comutexes[COMUTEX_MAX];

/* What comutex_t holds: COMUTEX_LIVE, slot, generation. */
struct comutex_ref {
	uint64_t	magic;
	uint64_t	slot;
	uint64_t	gen;
	uint64_t	unused;
};
_Static_assert(sizeof(struct comutex_ref) == sizeof(comutex_t), "comutex_t");

static __thread uint32_t my_tid;

static uint32_t
self_tid(void)
{
	if (my_tid == 0)
		my_tid = (uint32_t)gettid();
	return my_tid;
}

void comutexes_lock(void) { pthread_mutex_lock(&comutex_lock); }
void comutexes_unlock(void) { pthread_mutex_unlock(&comutex_lock); }

void
comutex_atfork_child(void)
{
	my_tid = 0;		/* the child's thread has another id */
}

static struct mutex_shm *
comutex_get(comutex_t *mtx, int *slotp)
{
	struct comutex_ref r;
	struct mutex_shm *m = NULL;

	if (mtx == NULL)
		return NULL;
	memcpy(&r, mtx, sizeof(r));
	if (r.magic != COMUTEX_LIVE || r.slot >= COMUTEX_MAX)
		return NULL;
	pthread_mutex_lock(&comutex_lock);
	if (comutexes[r.slot].gen == r.gen)
		m = comutexes[r.slot].shm;
	pthread_mutex_unlock(&comutex_lock);
	if (slotp != NULL)
		*slotp = (int)r.slot;
	return m;
}

int
comutex_init(const char *name, comutex_t *mtx)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_MUTEX };
	struct comutex_ref ref = { COMUTEX_LIVE, 0, 0, 0 };
	void *caps[1] = { NULL };
	int n = 1, fd = -1, slot, e;
	struct corp rp;
	void *p;

	if (mtx == NULL)
		return EINVAL;
	if (name_check(name, COPORT_NAMEMAX) < 0)
		return errno;
	strcpy(rq.name, name);
	if (kernel_call(&rq, NULL, 0, &rp, NULL, 0, caps, &n, true) < 0)
		return errno;
	if (n != 1 || caps[0] == NULL || captofd(caps[0], &fd) < 0 ||
	    memfd_sealed_map(fd, PAGE, &p) < 0 ||
	    LOAD_RLX(&((struct mutex_shm *)p)->magic) != MUTEX_MAGIC) {
		e = EPROTO;
		goto fail;
	}
	sys_close(fd);
	fd = -1;
	capfree(caps[0]);
	caps[0] = NULL;
	pthread_mutex_lock(&comutex_lock);
	for (slot = 0; slot < COMUTEX_MAX && comutexes[slot].shm != NULL; slot++)
		;
	if (slot == COMUTEX_MAX) {
		pthread_mutex_unlock(&comutex_lock);
		sys_munmap(p, PAGE);
		e = ENFILE;
		goto fail;
	}
	comutexes[slot].shm = p;
	comutexes[slot].hold = rp.handle;
	ref.gen = ++comutexes[slot].gen;
	ref.slot = (uint64_t)slot;
	pthread_mutex_unlock(&comutex_lock);
	memcpy(mtx, &ref, sizeof(ref));
	return 0;
fail:
	if (fd >= 0)
		sys_close(fd);
	if (caps[0] != NULL)
		capfree(caps[0]);
	{
		struct corq cq = { .magic = CORQ_MAGIC, .op = CORQ_CLOSE,
		    .handle = rp.handle };

		(void)kernel_call(&cq, NULL, 0, &rp, NULL, 0, NULL, NULL, false);
	}
	return e;
}

/* Is thread tid gone (or a zombie)?  /proc/TID works for any thread. */
static bool
owner_gone(uint32_t tid)
{
	char path[32], buf[512];
	const char *p;
	ssize_t n;
	int fd;

	if (tid == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/stat", tid);
	fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH;
	n = sys_read(fd, buf, sizeof(buf) - 1);
	sys_close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* We hold it now: what to report. */
static int
acquired(struct mutex_shm *m, bool owner_died)
{
	uint32_t st = LOAD_ACQ(&m->state);

	if (owner_died) {
		STORE_REL(&m->state, MUTEX_INCONSISTENT);
		return EOWNERDEAD;
	}
	if (st == MUTEX_NOTRECOVERABLE) {
		STORE_REL(&m->word, 0);
		futex_wake(&m->word);
		return ENOTRECOVERABLE;
	}
	/* INCONSISTENT here: its repairer died too; ours to repair now. */
	return st == MUTEX_INCONSISTENT ? EOWNERDEAD : 0;
}

static int
lock_common(comutex_t *mtx, bool wait)
{
	struct mutex_shm *m = comutex_get(mtx, NULL);
	uint32_t tid = self_tid(), w = 0;
	bool checked = false;

	if (m == NULL)
		return EINVAL;
	/* Acquire pairs with the release of the previous holder's unlock. */
	if (__atomic_compare_exchange_n(&m->word, &w, tid, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return acquired(m, false);
	if (LOAD_RLX(&m->state) == MUTEX_NOTRECOVERABLE)
		return ENOTRECOVERABLE;
	if ((w & MUTEX_TID) == tid)
		return EDEADLK;
	for (;;) {
		w = LOAD_ACQ(&m->word);
		if (w == 0) {
			/* Others may sleep: keep the waiters bit. */
			if (__atomic_compare_exchange_n(&m->word, &w,
			    tid | MUTEX_WAITERS, false, __ATOMIC_ACQUIRE,
			    __ATOMIC_RELAXED))
				return acquired(m, false);
			continue;
		}
		if (!wait || checked) {
			if (owner_gone(w & MUTEX_TID)) {
				if (__atomic_compare_exchange_n(&m->word, &w,
				    tid | MUTEX_WAITERS, false, __ATOMIC_ACQUIRE,
				    __ATOMIC_RELAXED))
					return acquired(m, true);
				continue;
			}
			if (!wait)
				return EBUSY;
		}
		if (!(w & MUTEX_WAITERS) &&
		    !__atomic_compare_exchange_n(&m->word, &w, w | MUTEX_WAITERS,
		    false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		/* A slice that ends without a wake-up has the holder
		 * checked for life before the next sleep. */
		checked = futex_wait(&m->word, w | MUTEX_WAITERS,
		    SLEEP_SLICE_MS) < 0 && errno == ETIMEDOUT;
	}
}

int
colock(comutex_t *mtx)
{
	return lock_common(mtx, true);
}

int
cotrylock(comutex_t *mtx)
{
	return lock_common(mtx, false);
}

int
counlock(comutex_t *mtx)
{
	struct mutex_shm *m = comutex_get(mtx, NULL);
	uint32_t tid = self_tid(), w;

	if (m == NULL)
		return EINVAL;
	w = LOAD_RLX(&m->word);
	if ((w & MUTEX_TID) != tid)
		return EPERM;
	if (LOAD_RLX(&m->state) == MUTEX_INCONSISTENT)
		STORE_RLX(&m->state, MUTEX_NOTRECOVERABLE);
	/* Release: what we did under the lock before the next holder.  The
	 * CAS fails only if a waiter set MUTEX_WAITERS meanwhile: again.
	 * Never a plain store of 0: a waiter may already hold it again. */
	while (!__atomic_compare_exchange_n(&m->word, &w, 0, false,
	    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		if ((w & MUTEX_TID) != tid)
			return EPERM;	/* taken over: we were thought dead */
	if (w & MUTEX_WAITERS)
		futex_wake(&m->word);
	return 0;
}

int
comutex_consistent(comutex_t *mtx)
{
	struct mutex_shm *m = comutex_get(mtx, NULL);

	if (m == NULL || (LOAD_RLX(&m->word) & MUTEX_TID) != self_tid() ||
	    LOAD_RLX(&m->state) != MUTEX_INCONSISTENT)
		return EINVAL;
	STORE_REL(&m->state, MUTEX_CONSISTENT);
	return 0;
}

int
comutex_destroy(comutex_t *mtx)
{
	struct corq rq = { .magic = CORQ_MAGIC, .op = CORQ_CLOSE };
	struct mutex_shm *m;
	struct corp rp;
	int slot;

	if ((m = comutex_get(mtx, &slot)) == NULL)
		return EINVAL;
	if ((LOAD_RLX(&m->word) & MUTEX_TID) == self_tid())
		return EBUSY;
	pthread_mutex_lock(&comutex_lock);
	if (comutexes[slot].shm != m) {
		pthread_mutex_unlock(&comutex_lock);
		return EINVAL;
	}
	rq.handle = comutexes[slot].hold;
	comutexes[slot].shm = NULL;
	comutexes[slot].gen++;
	pthread_mutex_unlock(&comutex_lock);
	sys_munmap(m, PAGE);
	memset(mtx, 0, sizeof(*mtx));
	(void)kernel_call(&rq, NULL, 0, &rp, NULL, 0, NULL, NULL, false);
	return 0;
}
