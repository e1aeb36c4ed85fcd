/*
 * The manager's side of a call through a gate: making gates for entry
 * points, per-thread compartment stacks, and gate_enter(), which
 * switches protection, runs the call with compart_invoke() (or hands it
 * to the compartment's process), and turns a fault into an error for the
 * caller; whether gates time calls for the statistics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

_Static_assert(offsetof(struct thr, gen) == 168, "gate_asm.S T_GEN");
_Static_assert(FRAME_SIZE == 432, "gate_asm.S FRAME_SIZE");

/* Gates are made and retired under the table lock; the thunks and
 * gate_enter() read them without it (used is published last). */
struct gate compart_gates[NGATES];
static int gate_next;			/* round robin: retired gates rest */
static bool timing;			/* compart_stats(): the slow path
					 * for all, which counts */
static pthread_key_t thr_key;
static pthread_once_t thr_once = PTHREAD_ONCE_INIT;

#define ALTSTACK	(64 * 1024)
static __thread void *altstack;

static void *
gate_path(const struct compart *c)
{
	if (c->mode == COMPART_NONE && !timing)
		return (void *)compart_gate_fast;
	if (c->mode == COMPART_MPK && !timing)
		return (void *)compart_gate_mpk;
	return (void *)compart_gate_slow;
}

struct gate *
gate_make(struct compart *c, int eidx)
{
	struct entry *e = &c->entries[eidx];
	struct gate *g;
	int i;

	if (e->g != NULL)
		return e->g;
	for (i = 0; i < NGATES; i++) {
		g = &compart_gates[(gate_next + i) % NGATES];
		if (!g->used && g->name == NULL)
			break;
	}
	if (i == NGATES) {
		/* Every gate was used once: take back retired ones. */
		for (i = 0; i < NGATES; i++)
			if (!compart_gates[i].used)
				break;
		if (i == NGATES) {
			set_err(ENFILE, "no gate left (%d in use)", NGATES);
			return NULL;
		}
		g = &compart_gates[i];
	}
	gate_next = (int)(g - compart_gates) + 1;
	memset(g, 0, sizeof(*g));
	g->fn = e->fn;
	g->callee = (uint32_t)c->idx;
	g->gen = c->gen;
	if (sig_parse(e->sig, NULL, &g->nstack) < 0)
		return NULL;		/* checked at load */
	g->name = e->name;
	g->sig = e->sig;
	g->c = c;
	g->eidx = eidx;
	g->gate = gate_path(c);
	__atomic_store_n(&g->used, 1, __ATOMIC_RELEASE);
	e->g = g;
	return g;
}

/* Gates of an unloaded compartment keep their slot (a stale pointer
 * reaches gate_enter(), which refuses it) until every slot was used. */
void
gates_retire(struct compart *c)
{
	int i;

	for (i = 0; i < NGATES; i++) {
		struct gate *g = &compart_gates[i];

		if (g->used && g->c == c) {
			g->gate = (void *)compart_gate_slow;
			g->c = NULL;
			g->name = "";
			__atomic_store_n(&g->used, 0, __ATOMIC_RELEASE);
		}
	}
}

/* Statistics on or off: each gate's path is picked again. */
int
compart_stats(int on)
{
	int i;

	table_lock();
	timing = on != 0;
	for (i = 0; i < NGATES; i++) {
		struct gate *g = &compart_gates[i];

		if (g->used && g->c != NULL)
			g->gate = gate_path(g->c);
	}
	table_unlock();
	return 0;
}

/* A thread's stacks go when it ends. */
static void
thr_exit(void *arg)
{
	struct thr *t = arg;
	int i;

	table_lock();
	for (i = 1; i <= COMPART_MAX; i++) {
		struct compart *c = compart_at((uint64_t)i);
		struct stack **sp, *s;

		if (c == NULL)
			continue;
		for (sp = &c->stacks; (s = *sp) != NULL;) {
			if (s->thr == t) {
				*sp = s->next;
				dom_take(c->idx, -1, (uintptr_t)s->base + PAGE,
				    (uintptr_t)s->base + s->len);
				munmap(s->base, s->len);
				free(s);
			} else
				sp = &s->next;
		}
	}
	table_unlock();
	if (altstack != NULL) {
		stack_t ss = { .ss_flags = SS_DISABLE };

		sigaltstack(&ss, NULL);
		munmap(altstack, ALTSTACK);
		altstack = NULL;
	}
}

static void
thr_key_init(void)
{
	pthread_key_create(&thr_key, thr_exit);
}

/*
 * Make sure the calling thread has a stack in c, with a guard page below
 * it, in c's protection domain; and an alternate signal stack, so that a
 * compartment overflowing its stack is reported rather than fatal.
 */
int
stack_ensure(struct compart *c)
{
	struct thr *t = thr_self();
	struct stack *s;
	void *base;
	size_t len = PAGE_UP(c->stack_size) + PAGE;

	if (t->top[c->idx] != 0 && t->gen[c->idx] == c->gen)
		return 0;
	pthread_once(&thr_once, thr_key_init);
	if (!t->registered) {
		pthread_setspecific(thr_key, t);
		t->registered = true;
	}
	if (altstack == NULL && c->mode != COMPART_NONE) {
		stack_t ss;

		altstack = mmap(NULL, ALTSTACK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (altstack == MAP_FAILED) {
			altstack = NULL;
		} else {
			ss.ss_sp = altstack;
			ss.ss_size = ALTSTACK;
			ss.ss_flags = 0;
			sigaltstack(&ss, NULL);
		}
	}
	s = malloc(sizeof(*s));
	if (s == NULL)
		return set_err(ENOMEM, "no memory for a stack");
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED) {
		free(s);
		return set_err(ENOMEM, "cannot map a stack of %zu bytes", len);
	}
	mprotect(base, PAGE, PROT_NONE);
	table_lock();
	if (dom_add(c->idx, (uintptr_t)base + PAGE, (uintptr_t)base + len,
	    PROT_READ | PROT_WRITE) < 0) {
		table_unlock();
		munmap(base, len);
		free(s);
		return -1;
	}
	s->thr = t;
	s->base = base;
	s->len = len;
	s->next = c->stacks;
	c->stacks = s;
	table_unlock();
	t->top[c->idx] = ((uintptr_t)base + len) & ~15UL;
	t->gen[c->idx] = c->gen;
	return 0;
}

/* All stacks of c, at unload (its domain is cleared by the caller). */
void
stacks_free(struct compart *c)
{
	struct stack *s;

	while ((s = c->stacks) != NULL) {
		c->stacks = s->next;
		munmap(s->base, s->len);
		free(s);
	}
}

/* errno for the caller: the host's, and a calling compartment's own
 * libc's. */
static void
set_caller_errno(int from, int err)
{
	struct compart *x = compart_at((uint64_t)from);

	/* A function may return -1 of its own: this, not the value, says
	 * that the gate failed the host's call (compart_callv). */
	if (from == 0)
		thr_self()->host_call_err = err;
	errno = err;
	if (x != NULL && x->errno_loc != NULL)
		*x->errno_loc() = err;
}

/* A call from compartment from faulted: say so, EFAULT for the caller. */
void
gate_fault(int from)
{
	struct compart_violation *v = &thr_self()->viol;

	fprintf(stderr, "compart: violation: '%s' %s %p, memory of %s; "
	    "its call fails (EFAULT)\n", v->accessor,
	    v->write ? "wrote" : "read", v->addr, v->owner);
	set_caller_errno(from, EFAULT);
}

static void
fail_frame(struct frame *f, int from, int err)
{
	f->rax = (uint64_t)-1;
	f->rdx = 0;
	f->x0 = f->x1 = NAN;
	set_caller_errno(from, err);
}

/*
 * Run the call saved in f inside compartment c on this thread: protection
 * switched to c's, c's stack, back again.  A fault inside becomes EFAULT
 * for the caller.
 */
static int
run_in(struct compart *c, struct frame *f)
{
	struct thr *t = thr_self();
	int from = (int)t->cur, to = c->idx;
	uint64_t saved_top = t->top[from];
	int faulted;

	if (stack_ensure(c) < 0) {
		fail_frame(f, from, ENOMEM);
		return -1;
	}
	if (from != 0)
		t->top[from] = f->caller_sp & ~15UL;
	t->cur = (uint64_t)to;
	iso_switch(from, to);
	faulted = compart_invoke(f, t->top[to]);
	if (faulted)
		heap_fault_unlock(to);	/* before c's memory is closed again */
	iso_switch(to, from);
	t->cur = (uint64_t)from;
	t->top[from] = saved_top;
	if (faulted) {
		gate_fault(from);
		fail_frame(f, from, EFAULT);
		return -1;
	}
	return 0;
}

/*
 * A call into c's process: pointers must lead into windows open to c,
 * nothing else of ours exists there.  0, or the errno for the caller.
 */
static int
proc_args_check(struct compart *c, const struct entry *e,
    const struct frame *f)
{
	const char *p;
	int gi = 0, di = 0, si = 0;

	for (p = e->sig + 2; *p != ')'; p++) {
		uint64_t v;

		if (*p == 'd') {
			if (di++ >= 8)
				si++;
			continue;
		}
		v = gi < 6 ? f->gp[gi++] : f->stack[si++];
		if ((*p == 'p' || *p == 's') && v != 0 &&
		    !window_covers(c->idx, (uintptr_t)v, 1)) {
			set_err(EFAULT, "%s: argument %d of %s (%#llx) is not "
			    "in a window open to it", c->name,
			    (int)(p - e->sig - 2) + 1, e->name,
			    (unsigned long long)v);
			return EFAULT;
		}
	}
	return 0;
}

/* The gate's slow path (compart_gate_slow) lands here. */
void
gate_enter(struct frame *f)
{
	struct gate *g = f->g;
	struct thr *t = thr_self();
	int from = (int)t->cur, err;
	struct compart *c;
	uint64_t t0 = 0;

	if (!__atomic_load_n(&g->used, __ATOMIC_ACQUIRE) ||
	    (c = compart_at(g->callee)) == NULL || c->gen != g->gen) {
		fail_frame(f, from, EINVAL);
		return;
	}
	if (timing)
		t0 = now_ns();
	if (c->mode == COMPART_PROCESS) {
		f->nstack = g->nstack;
		memcpy(f->stack, (void *)(f->caller_sp + 8), g->nstack);
		if ((err = proc_args_check(c, &c->entries[g->eidx], f)) != 0 ||
		    (err = proc_call(f)) != 0)
			fail_frame(f, from, err);
	} else {
		f->fn = g->fn;
		f->nstack = g->nstack;
		/* Read now: the caller's stack may be closed once c runs. */
		memcpy(f->stack, (void *)(f->caller_sp + 8), g->nstack);
		run_in(c, f);
	}
	if (timing)
		stats_add(from, c->idx, now_ns() - t0);
}

/* Run a call whose stack arguments are already in f (process mode's
 * service side). */
void
gate_run_frame(struct frame *f)
{
	struct gate *g = f->g;
	struct compart *c = g->c;

	f->fn = g->fn;
	f->nstack = g->nstack;
	f->caller_sp = (uint64_t)__builtin_frame_address(0);
	run_in(c, f);
}

/*
 * Call fn, a function of c taking up to 6 integer arguments, inside c
 * (the shim's allocator, the compartment's fflush): 0, or -1 if it
 * faulted.
 */
int
call_in(struct compart *c, void *fn, int nargs, const uint64_t *args,
    uint64_t *ret)
{
	struct frame f;
	int i;

	memset(&f, 0, sizeof(f));
	for (i = 0; i < nargs && i < 6; i++)
		f.gp[i] = args[i];
	f.fn = fn;
	f.caller_sp = (uint64_t)__builtin_frame_address(0);
	if (run_in(c, &f) < 0)
		return -1;
	if (ret != NULL)
		*ret = f.rax;
	return 0;
}
