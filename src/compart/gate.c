/*
 * The manager's side of a call through a gate: making gates for entry
 * points, signatures, per-thread compartment stacks, and gate_enter(),
 * which switches protection, runs the call with compart_invoke() and
 * turns a fault into an error for the caller.
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

__thread struct thr compart_thr __attribute__((tls_model("initial-exec")));
struct gate compart_gates[NGATES];
static int gate_next;			/* round robin: retired gates rest */
static pthread_key_t thr_key;
static pthread_once_t thr_once = PTHREAD_ONCE_INIT;

#define ALTSTACK	(64 * 1024)
static __thread void *altstack;

/*
 * Parse a signature "r(a...)": r one of v i l p s d, each a one of
 * i l p s d.  *nstack gets the bytes of arguments passed on the stack.
 */
int
sig_parse(const char *sig, int *nargs, uint32_t *nstack)
{
	int ni = 0, nd = 0, n = 0;
	const char *p;

	if (sig == NULL || strchr("vilpsd", sig[0]) == NULL || sig[0] == '\0' ||
	    sig[1] != '(')
		return -1;
	for (p = sig + 2; *p != ')'; p++) {
		if (*p == '\0' || strchr("ilpsd", *p) == NULL)
			return -1;
		if (*p == 'd')
			nd++;
		else
			ni++;
		if (++n > COMPART_MAXARGS)
			return -1;
	}
	if (p[1] != '\0')
		return -1;
	if (nargs != NULL)
		*nargs = n;
	if (nstack != NULL)
		*nstack = 8 * ((ni > 6 ? ni - 6 : 0) + (nd > 8 ? nd - 8 : 0));
	return 0;
}

static void *
gate_path(const struct compart *c)
{
	if (c->mode == COMPART_NONE && !G.stats)
		return (void *)compart_gate_fast;
	if (c->mode == COMPART_MPK && !G.stats)
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

/* Statistics were switched: pick each gate's path again. */
void
gates_refresh(void)
{
	int i;

	for (i = 0; i < NGATES; i++) {
		struct gate *g = &compart_gates[i];

		if (g->used && g->c != NULL)
			g->gate = gate_path(g->c);
	}
}

int
entry_find(struct compart *c, const char *name)
{
	int i;

	for (i = 0; i < c->nentries; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return i;
	return -1;
}

/* A thread's stacks go when it ends. */
static void
thr_exit(void *arg)
{
	struct thr *t = arg;
	int i;

	pthread_mutex_lock(&G.lock);
	for (i = 1; i <= COMPART_MAX; i++) {
		struct compart *c = G.c[i];
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
	pthread_mutex_unlock(&G.lock);
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
	pthread_mutex_lock(&G.lock);
	if (dom_add(c->idx, (uintptr_t)base + PAGE, (uintptr_t)base + len,
	    PROT_READ | PROT_WRITE) < 0) {
		pthread_mutex_unlock(&G.lock);
		munmap(base, len);
		free(s);
		return -1;
	}
	s->thr = t;
	s->base = base;
	s->len = len;
	s->next = c->stacks;
	c->stacks = s;
	pthread_mutex_unlock(&G.lock);
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
void
set_caller_errno(int from, int err)
{
	struct compart *x = from ? G.c[from] : NULL;

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

/* The gate's slow path (compart_gate_slow) lands here. */
void
gate_enter(struct frame *f)
{
	struct gate *g = f->g;
	struct thr *t = thr_self();
	int from = (int)t->cur;
	struct compart *c;
	uint64_t t0 = 0;

	if (!__atomic_load_n(&g->used, __ATOMIC_ACQUIRE) ||
	    g->callee == 0 || g->callee > COMPART_MAX ||
	    (c = G.c[g->callee]) == NULL || c->gen != g->gen) {
		fail_frame(f, from, EINVAL);
		return;
	}
	if (G.stats)
		t0 = now_ns();
	if (c->mode == COMPART_PROCESS) {
		f->nstack = g->nstack;
		memcpy(f->stack, (void *)(f->caller_sp + 8), g->nstack);
		proc_call(f);
	} else {
		f->fn = g->fn;
		f->nstack = g->nstack;
		/* Read now: the caller's stack may be closed once c runs. */
		memcpy(f->stack, (void *)(f->caller_sp + 8), g->nstack);
		run_in(c, f);
	}
	if (G.stats)
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
