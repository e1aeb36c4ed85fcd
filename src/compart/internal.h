/*
 * What the mechanisms of libcompart share: the structures of a
 * compartment, a gate and a thread, the offsets the assembly in
 * gate_asm.S relies on (checked below with _Static_assert), and each
 * module's interface.  Each piece of state is a static of the one module
 * that changes it; the modules are declared below from the bottom up, and
 * each calls only those declared before it (docs/design.md has the
 * picture).
 */
#ifndef COMPART_INTERNAL_H
#define COMPART_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "comsg/compart.h"

#define HIDDEN		__attribute__((visibility("hidden")))
#define PAGE		4096UL
#define PAGE_DOWN(x)	((uintptr_t)(x) & ~(PAGE - 1))
#define PAGE_UP(x)	(((uintptr_t)(x) + PAGE - 1) & ~(PAGE - 1))

#define NGATES		4096		/* gates (entry, compartment) in all */
#define MAXSTACKARGS	32		/* 8-byte words of stack arguments */
#define NDOMS		64		/* protection domains: bit masks */
#define DOM_WIN0	(COMPART_MAX + 1) /* first domain of a window */

/*
 * A gate: what a call through one entry point's thunk needs.  The thunk
 * (gate_asm.S) loads the gate's address into %r11 and jumps to gate->gate:
 * without statistics, compart_gate_fast in none mode and compart_gate_mpk
 * in mpk mode, else compart_gate_slow.  Fields read by gate_asm.S come
 * first.
 */
struct gate {
	void		*fn;		/* 0: the entry in the callee */
	void		*gate;		/* 8: fast or slow path */
	uint32_t	 callee;	/* 16: compartment index */
	uint32_t	 nstack;	/* 20: bytes of stack arguments */
	uint32_t	 gen;		/* 24: callee's generation */
	uint32_t	 used;		/* 28 */
	const char	*name;		/* 32 */
	const char	*sig;		/* 40 */
	struct compart	*c;		/* 48 */
	int		 eidx;		/* 56: index in c->entries */
	int		 pad;
};
_Static_assert(sizeof(struct gate) == 64, "gate size known to gate_asm.S");
_Static_assert(offsetof(struct gate, callee) == 16, "gate_asm.S");
_Static_assert(offsetof(struct gate, nstack) == 20, "gate_asm.S");
_Static_assert(offsetof(struct gate, gen) == 24, "gate_asm.S");

/* The arguments and results of a call, saved by compart_gate_slow and
 * replayed by compart_invoke. */
struct frame {
	uint64_t	 gp[6];		/* 0: rdi rsi rdx rcx r8 r9 */
	double		 xmm[8];	/* 48 */
	struct gate	*g;		/* 112 */
	uint64_t	 caller_sp;	/* 120: %rsp at the gate (return address) */
	uint64_t	 nstack;	/* 128: bytes in stack[] */
	void		*fn;		/* 136 */
	uint64_t	 rax, rdx;	/* 144, 152: results */
	double		 x0, x1;	/* 160, 168 */
	uint64_t	 stack[MAXSTACKARGS]; /* 176 */
};
_Static_assert(offsetof(struct frame, xmm) == 48, "gate_asm.S");
_Static_assert(offsetof(struct frame, g) == 112, "gate_asm.S");
_Static_assert(offsetof(struct frame, caller_sp) == 120, "gate_asm.S");
_Static_assert(offsetof(struct frame, nstack) == 128, "gate_asm.S");
_Static_assert(offsetof(struct frame, fn) == 136, "gate_asm.S");
_Static_assert(offsetof(struct frame, rax) == 144, "gate_asm.S");
_Static_assert(offsetof(struct frame, x0) == 160, "gate_asm.S");
_Static_assert(offsetof(struct frame, stack) == 176, "gate_asm.S");
#define FRAME_SIZE	((sizeof(struct frame) + 15) & ~15UL)

/*
 * Per-thread state (defined in table.c; one block, for gate_asm.S).  cur
 * is the compartment running (0: the host); top[i] is where compartment
 * i's stack continues on this thread (0: no stack yet), valid while gen[i]
 * matches the compartment's generation.  mgr_sp is where the manager may
 * put frames while a compartment runs (the host stack below the innermost
 * unwind frame); inv_sp is that unwind frame, where a fault unwinds to.
 * Those are written by the gates (gate.c, gate_asm.S; the loader sets cur
 * while a compartment's constructors run); viol and has_viol by the fault
 * handler (iso.c); host_call_err by the gates, cleared by compart_callv;
 * err by set_err() (table.c).
 */
struct thr {
	uint64_t	 cur;		/* 0 */
	uint64_t	 mgr_sp;	/* 8 */
	uint64_t	 inv_sp;	/* 16 */
	uint64_t	 pad;		/* 24 */
	uint64_t	 top[COMPART_MAX + 1];	/* 32 */
	uint32_t	 gen[COMPART_MAX + 1];
	struct compart_violation viol;
	bool		 has_viol;
	int		 host_call_err;	/* errno of the last call of the
					 * host's that a gate failed, or 0 */
	bool		 registered;
	char		 err[256];	/* compart_error() */
};
_Static_assert(offsetof(struct thr, mgr_sp) == 8, "gate_asm.S");
_Static_assert(offsetof(struct thr, inv_sp) == 16, "gate_asm.S");
_Static_assert(offsetof(struct thr, top) == 32, "gate_asm.S");
extern __thread struct thr compart_thr
    __attribute__((tls_model("initial-exec"))) HIDDEN;

/*
 * An unwind frame: what a gate leaves on the host stack while a colocated
 * compartment runs, at thr.inv_sp.  compart_invoke's has the first three
 * words (then its struct frame pointer, not a caller); compart_gate_mpk's
 * all six.  On a fault the SIGSEGV
 * handler resumes at `resume` with %rsp at the frame; that code puts the
 * thread state back from the frame.
 */
struct unwind {
	uint64_t	 prev_inv_sp;	/* 0 */
	uint64_t	 prev_mgr_sp;	/* 8 */
	uint64_t	 resume;	/* 16 */
	uint64_t	 caller;	/* 24: compartment index (0: the host) */
	uint64_t	 caller_top;	/* 32: its thr.top[] before the call */
	uint64_t	 caller_sp;	/* 40: %rsp to return on (its stack) */
};
_Static_assert(offsetof(struct unwind, resume) == 16, "gate_asm.S");
_Static_assert(offsetof(struct unwind, caller_sp) == 40, "gate_asm.S");

/*
 * The calling thread's state, as a pointer.  The empty asm hides how the
 * address was computed.  Without it, GCC 12 under -fsanitize=null checks
 * the pointer with the flags of the addq that adds the initial-exec TLS
 * offset (addq compart_thr@gottpoff(%rip), %reg; je <null>), and GNU ld
 * relaxes that addq into a leaq when it links the library into an
 * executable: leaq sets no flags, the je tests whatever came before, and
 * UBSan reports "member access within null pointer of type 'struct thr'"
 * (loader.c, t->cur) although the pointer is never null.  A toolchain
 * false positive, not a bug of ours; with the asm the compiler tests the
 * register itself.
 */
static inline struct thr *
thr_self(void)
{
	struct thr *t = &compart_thr;

	__asm__("" : "+r"(t));
	return t;
}

struct entry {
	char		*name;
	char		*sig;
	void		*fn;		/* NULL in process mode */
	int		 remote;	/* process mode: the child's index */
	struct gate	*g;		/* made on first compart_entry() */
};

struct stack {
	struct stack	*next;
	struct thr	*thr;		/* the thread it belongs to */
	void		*base;		/* the mapping, guard page first */
	size_t		 len;
};

#define NINTERCEPTS	64

/* A compartment.  compart_load() (compart.c) makes it, with the loader's
 * part filled in by loader.c, heap.c and intercept.c, or process
 * placement's by process.c; once it is in the table only its stacks and
 * entries' gates (gate.c), its policy (intercept.c) and unloading
 * change. */
struct compart {
	int		 idx;		/* 1..COMPART_MAX */
	uint32_t	 gen;
	int		 mode;		/* COMPART_PROCESS or the process mode */
	char		 name[64];
	char		*path;
	void		*handle;	/* dlmopen handle of the object */
	void		*shim;		/* dlmopen handle of the shim */
	volatile uintptr_t *heap_lock;	/* the shim's allocator lock */
	long		 lmid;
	void		*heap;		/* heap region */
	size_t		 heap_size;
	size_t		 stack_size;
	struct entry	*entries;
	int		 nentries;
	struct stack	*stacks;
	/* shim functions, run in the compartment */
	void		*(*s_malloc)(size_t);
	void		 (*s_free)(void *);
	int		*(*errno_loc)(void);	/* the compartment's libc's */
	void		*next_fn[NINTERCEPTS];	/* the real functions */
	uint8_t		 policy[NINTERCEPTS];
	/* process mode */
	pid_t		 pid;
	int		 sock;		/* to its process: window memory */
	void		*target;
	bool		 unloading;	/* compart_unload() has begun */
};

/* ---- table.c: the compartment table, its lock, entry points, errors ---- */
int	set_err(int err, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3))) HIDDEN;
void	err_clear(void) HIDDEN;
bool	err_pending(void) HIDDEN;
void	table_lock(void) HIDDEN;
void	table_unlock(void) HIDDEN;
int	table_reserve(void) HIDDEN;
void	table_set(int idx, struct compart *c) HIDDEN;
void	table_release(int idx) HIDDEN;
int	table_count(void) HIDDEN;
struct compart *compart_at(uint64_t idx) HIDDEN;
struct compart *compart_get(const compart_t *c) HIDDEN;
int	sig_parse(const char *sig, int *nargs, uint32_t *nstack) HIDDEN;
int	entry_find(struct compart *c, const char *name) HIDDEN;
int	entry_add(struct compart *c, const char *name, const char *sig,
	    void *fn) HIDDEN;

/* ---- stats.c: calls and violations per edge (caller, callee) ---- */
uint64_t now_ns(void) HIDDEN;
void	stats_add(int from, int to, uint64_t ns) HIDDEN;
void	stats_violation(int accessor, int owner) HIDDEN;
void	stats_forget(int idx) HIDDEN;
bool	stats_edge(int from, int to, uint64_t *calls, uint64_t *ns,
	    uint64_t *violations) HIDDEN;

/* ---- arena.c: where window memory lives, in every process ---- */
struct blk { void *p; size_t len; int fd; };
int	arena_init(void) HIDDEN;
void	arena_get(void **addr, size_t *size) HIDDEN;
int	arena_adopt(void *addr, size_t size) HIDDEN;
bool	arena_holds(uintptr_t p, size_t len) HIDDEN;
bool	arena_overlaps(uintptr_t s, uintptr_t e) HIDDEN;
int	arena_map(void *p, size_t len, int fd) HIDDEN;
int	arena_alloc(size_t len, struct blk *b) HIDDEN;
void	arena_free(struct blk *b) HIDDEN;

/* ---- intercept.c: intercepted functions, policies, the log ---- */
int	intercepts_bind(struct compart *c) HIDDEN;
long	intercept_dispatch(int i, long a0, long a1, long a2, long a3,
	    long a4, long a5) HIDDEN;
int	intercept_index(const char *name) HIDDEN;
int	policy_apply(struct compart *c, const char *what, int action) HIDDEN;
int	intercept_log_fd(void) HIDDEN;

/*
 * sandbox.c, in a compartment's process only.  sandbox_landlock(): out of
 * reach of the processes outside (0, or -1: ENOSYS/EOPNOTSUPP without
 * Landlock, else a failure).  sandbox_groups(): the groups what names
 * ("*", a group, or with by_function a function's group), 0 for none
 * (time).  sandbox_deny(): the kernel refuses those groups' system calls
 * to every thread, for good (0, or -1 with errno).
 */
#define SANDBOX_FILE	1u
#define SANDBOX_NET	2u
#define SANDBOX_PROC	4u
#define SANDBOX_ALL	7u
int	 sandbox_landlock(void) HIDDEN;
unsigned sandbox_groups(const char *what, bool by_function) HIDDEN;
int	 sandbox_deny(unsigned groups) HIDDEN;

/* ---- iso.c: the mode, protection domains, switching, faults ---- */
void	iso_init(void) HIDDEN;
int	iso_mode(void) HIDDEN;
int	dom_reserve(int d, int owner, bool isolated) HIDDEN;
void	dom_release(int d) HIDDEN;
void	dom_reach_set(int d, int idx, bool on) HIDDEN;
uint64_t dom_reach(int d) HIDDEN;
int	dom_add(int d, uintptr_t start, uintptr_t end, int prot) HIDDEN;
int	dom_add_mapped(int d, uintptr_t start, uintptr_t end) HIDDEN;
int	dom_take(int from, int to, uintptr_t start, uintptr_t end) HIDDEN;
void	dom_return(int d, int to) HIDDEN;
void	dom_clear(int d) HIDDEN;
int	dom_prot_at(int d, uintptr_t addr, uintptr_t *endp) HIDDEN;
bool	dom_holds(int d, uintptr_t addr, size_t len) HIDDEN;
size_t	dom_size(int d) HIDDEN;
int	dom_overlap(uintptr_t start, uintptr_t end, uintptr_t *atp) HIDDEN;
int	maps_ranges(uintptr_t start, uintptr_t end,
	    int (*fn)(void *, uintptr_t, uintptr_t, int), void *arg) HIDDEN;
void	iso_switch(int from, int to) HIDDEN;
/* mpk: the PKRU each compartment runs with (0: the host's, all allowed);
 * read by compart_gate_mpk. */
extern uint32_t compart_pkru[COMPART_MAX + 1] HIDDEN;

/* ---- heap.c, shim_blob.S: the heap shim ---- */
int	shim_load(struct compart *c) HIDDEN;
void	heap_fault_unlock(int idx) HIDDEN;

/* ---- process.c: process placement, the host's side ---- */
int	proc_start(struct compart *c, const struct compart_attr *attr) HIDDEN;
void	proc_stop(struct compart *c) HIDDEN;
int	proc_call(struct frame *f) HIDDEN;
int	proc_policy(struct compart *c, const char *what, int action) HIDDEN;
int	proc_map(struct compart *c, void *p, size_t len, int fd) HIDDEN;
void	proc_unmap(struct compart *c, void *p, size_t len) HIDDEN;

/* ---- window.c: windows ---- */
void	windows_drop_owner(int idx) HIDDEN;
void	windows_forget(int idx) HIDDEN;
bool	window_covers(int to, uintptr_t addr, size_t len) HIDDEN;
int	window_info(int k, int *owner, size_t *pages, uint64_t *open_to,
	    uint64_t *was_open) HIDDEN;

/* ---- gate.c, gate_asm.S: gates, calls, stacks ---- */
extern struct gate compart_gates[NGATES] HIDDEN;
extern char compart_thunks[] HIDDEN;
#define THUNK_SIZE	16
void	compart_gate_fast(void) HIDDEN;
void	compart_gate_slow(void) HIDDEN;
void	compart_gate_mpk(void) HIDDEN;
int	compart_invoke(struct frame *f, uint64_t newsp) HIDDEN;
void	gate_enter(struct frame *f) HIDDEN;
void	gate_fault(int from) HIDDEN;
struct gate *gate_make(struct compart *c, int eidx) HIDDEN;
void	gates_retire(struct compart *c) HIDDEN;
void	gate_run_frame(struct frame *f) HIDDEN;
int	call_in(struct compart *c, void *fn, int nargs, const uint64_t *args,
	    uint64_t *ret) HIDDEN;
int	stack_ensure(struct compart *c) HIDDEN;
void	stacks_free(struct compart *c) HIDDEN;

/* ---- loader.c: ELF objects into namespaces and domains, and out ---- */
const char *lib_search(const char *name, char *buf, size_t len) HIDDEN;
int	elf_check(const char *path, char ***namesp, const char *want,
	    bool *found) HIDDEN;
void	names_free(char **names) HIDDEN;
int	loader_load(struct compart *c, char **names,
	    const struct compart_attr *attr) HIDDEN;
void	loader_unload(struct compart *c) HIDDEN;
bool	loader_defines(struct compart *c, const char *name) HIDDEN;
int	data_region(struct compart *c, void **addrp, size_t *lenp) HIDDEN;
int	loader_import(struct compart *into, const char *sym, void *thunk)
	    HIDDEN;

/* On top, called by nothing above: compart.c (the life cycle: load,
 * unload, entries, heap, regions, policies), report.c (statistics
 * printed), ffi.c (calls by name); and comsg-compart (proc_main.c), the
 * program of a compartment's process. */

#endif
