/*
 * Per-thread state of cocall (the caller's channels, the acceptor), its
 * cleanup when a thread exits or the process forks, the spin budget, and
 * the library's start-up.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "kernel.h"

/* How long a waiter spins before it sleeps.  Long enough to cover a round
 * trip and a short service, short against a time slice. */

static pthread_key_t cothread_key;
static pthread_once_t cothread_once = PTHREAD_ONCE_INIT;
static __thread struct cothread *cothread_self;

/* Every thread's state, so that a child after fork can let go of the
 * descriptors of threads it does not have. */
static pthread_mutex_t cothreads_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct cothread **cothreads;
static int cothreads_n, cothreads_room;

static void
cothreads_remove(struct cothread *t)
{
	int i;

	pthread_mutex_lock(&cothreads_mutex);
	for (i = 0; i < cothreads_n; i++)
		if (cothreads[i] == t) {
			cothreads[i] = cothreads[--cothreads_n];
			break;
		}
	pthread_mutex_unlock(&cothreads_mutex);
}

static void
cothread_destroy(void *arg)
{
	struct cothread *t = arg;

	cothreads_remove(t);
	if (t->acc != NULL)
		acceptor_thread_exit(t->acc);
	caller_thread_exit(t);
	free(t->chans);
	free(t);
	cothread_self = NULL;
}

static void
cothread_key_init(void)
{
	(void)pthread_key_create(&cothread_key, cothread_destroy);
}

struct cothread *
cothread_get(void)
{
	struct cothread *t = cothread_self;

	if (t != NULL)
		return t;
	pthread_once(&cothread_once, cothread_key_init);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	t->chans = calloc(CAP_MAX, sizeof(*t->chans));
	if (t->chans == NULL)
		goto nomem;
	t->tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&cothreads_mutex);
	if (cothreads_n == cothreads_room) {
		int room = cothreads_room ? 2 * cothreads_room : 16;
		struct cothread **p = realloc(cothreads, room * sizeof(*p));

		if (p == NULL) {
			pthread_mutex_unlock(&cothreads_mutex);
			goto nomem;
		}
		cothreads = p;
		cothreads_room = room;
	}
	cothreads[cothreads_n++] = t;
	pthread_mutex_unlock(&cothreads_mutex);
	pthread_setspecific(cothread_key, t);
	cothread_self = t;
	return t;
nomem:
	if (t != NULL)
		free(t->chans);
	free(t);
	errno = ENOMEM;
	return NULL;
}

int
cosetup(int what)
{
	struct cothread *t;

	if (what != COSETUP_COCALL && what != COSETUP_COACCEPT) {
		errno = EINVAL;
		return -1;
	}
	t = cothread_get();
	if (t == NULL)
		return -1;
	(void)spin_budget();
	if (what == COSETUP_COACCEPT && acceptor_get(t) == NULL)
		return -1;
	return 0;
}

/*
 * Pause iterations worth SPIN_NS, measured once per process; none at all
 * on a machine with one CPU online, where spinning only delays the peer it
 * waits for.
 */
unsigned
spin_budget(void)
{
	static unsigned budget = UINT32_MAX;
	unsigned b = __atomic_load_n(&budget, __ATOMIC_RELAXED);
	struct timespec t0, t1;
	int64_t ns;
	unsigned i;

	if (b != UINT32_MAX)
		return b;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		b = 0;
	} else {
		mono_clock(&t0);
		for (i = 0; i < 2000; i++)
			cpu_relax();
		mono_clock(&t1);
		ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL +
		    (t1.tv_nsec - t0.tv_nsec);
		if (ns < 1)
			ns = 1;
		b = (unsigned)((int64_t)SPIN_NS * 2000 / ns);
		if (b < 100)
			b = 100;
	}
	__atomic_store_n(&budget, b, __ATOMIC_RELAXED);
	return b;
}

/* After this many waits in a row that ended asleep, stop spinning, and
 * try again once every PROBE_EVERY waits.  Two processes pinned to one CPU
 * settle on sleeping; on two CPUs spinning keeps paying and goes on. */
#define MISSES_MAX	4
#define PROBE_EVERY	32

unsigned
spin_start(struct spin *s)
{
	/* A probe spins briefly: enough to see a peer that answers from
	 * another CPU, little lost when the peer waits for ours. */
	if (s->misses >= MISSES_MAX)
		return ++s->probe % PROBE_EVERY == 0 ? spin_budget() / 8 : 0;
	return spin_budget();
}

void
spin_done(struct spin *s, bool slept)
{
	if (!slept)
		s->misses = 0;
	else if (s->misses < MISSES_MAX)
		s->misses++;
}

/*
 * fork(), for the whole library: take every lock, in the order the code
 * nests them (the leaf locks last: nothing is taken under those), so that
 * the child does not inherit one held by a thread it does not have; in
 * the child, let each module drop what belongs to the parent: every
 * thread's channels and served targets, the coport attachments, the
 * comutexes' thread ids.  The one lock not taken is the comsgd channel's
 * (kernel.c), held across a whole request to comsgd (up to its 10 s
 * timeout), which fork() must not wait for: the child makes it anew.
 */
static void
atfork_prepare(void)
{
	pthread_mutex_lock(&cothreads_mutex);
	names_lock();
	capv_lock();
	callers_lock();
	cap_lock();
	coports_lock();
	comutexes_lock();
	carrier_accts_lock();
}

static void
atfork_parent(void)
{
	carrier_accts_unlock();
	comutexes_unlock();
	coports_unlock();
	cap_unlock();
	callers_unlock();
	capv_unlock();
	names_unlock();
	pthread_mutex_unlock(&cothreads_mutex);
}

static void
atfork_child(void)
{
	struct cothread *self = cothread_self;
	int i;

	atfork_parent();
	names_atfork_child();
	callers_atfork_child();
	kernel_atfork_child();
	coports_atfork_child();
	comutex_atfork_child();
	for (i = 0; i < cothreads_n; i++) {
		struct cothread *t = cothreads[i];

		if (t->acc != NULL) {
			acceptor_atfork_child(t->acc);
			t->acc = NULL;
		}
		caller_atfork_child(t);
		if (t != self) {
			free(t->chans);
			free(t);
		}
	}
	cothreads_n = 0;
	if (self != NULL) {
		self->tid = (pid_t)syscall(SYS_gettid);
		cothreads[cothreads_n++] = self;
	}
}

/* Called once from the library's constructor (cap.c). */
void
thread_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
