/*
 * Isolation: the process's mode; protection domains (sets of page ranges
 * accessible together, one per compartment and one per window: who owns
 * each, its key, which compartments it is open to), hence what each
 * compartment may touch; switching on every call (page permissions in
 * mprotect mode, the PKRU register in mpk mode, nothing in none mode);
 * and the SIGSEGV handler that turns a compartment's stray access into a
 * reported violation and an error for its caller.  The one file that
 * changes domains: the others reserve and release them, add and move
 * ranges, and open them, through the functions below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR	4
#endif
#define PKRU_DENY(k)	(3U << (2 * (k)))	/* access and write disable */

/* A range of pages and the protection it has when accessible. */
struct range {
	uintptr_t	 start, end;
	int		 prot;
};

/* A protection domain.  Domain i (1..COMPART_MAX) is compartment i's;
 * windows take the rest (DOM_WIN0 on).  reach: the compartments it is
 * open to besides its owner (windows). */
struct dom {
	bool		 used;
	int		 pkey;		/* mpk: its key, else -1 */
	int		 owner;		/* compartment index, 0 for the host */
	uint64_t	 reach;
	struct range	*r;		/* sorted, not overlapping */
	int		 n, cap;
};

/* All under the table lock, but read by the call path (mode, mask) and
 * the fault handler (dom) without it: they change only in the host while
 * no call is in progress. */
static int mode = -1;			/* -1: not chosen yet */
static struct dom dom[NDOMS];
static uint64_t mask[COMPART_MAX + 1];	/* domains each may touch */
static uint64_t open_now;		/* mprotect: domains accessible now */
uint32_t compart_pkru[COMPART_MAX + 1];
static bool handler_installed;
static struct sigaction old_segv, old_bus;

static const char *const mode_names[] = { "none", "mprotect", "mpk", "process" };

static void	iso_recompute(void);
static int	iso_handler_install(void);

static int
sys_pkey_alloc(void)
{
	return (int)syscall(SYS_pkey_alloc, 0UL, 0UL);
}

static int
sys_pkey_free(int k)
{
	return (int)syscall(SYS_pkey_free, (unsigned long)k);
}

static int
sys_pkey_mprotect(uintptr_t s, size_t len, int prot, int key)
{
	return (int)syscall(SYS_pkey_mprotect, s, len, (unsigned long)prot,
	    (unsigned long)key);
}

static inline void
wrpkru(uint32_t v)
{
	__asm__ volatile(".byte 0x0f,0x01,0xef" :: "a"(v), "c"(0), "d"(0)
	    : "memory");
}

static bool
cpu_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p;

		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (p = strtok(line, " \t\n"); p != NULL; p = strtok(NULL, " \t\n"))
			if (strcmp(p, flag) == 0)
				found = true;
		break;
	}
	fclose(f);
	return found;
}

int
compart_mpk_check(char *why, size_t len)
{
	int k, err;
	char buf[256];

	if (why == NULL || len == 0) {
		why = buf;
		len = sizeof(buf);
	}
	k = sys_pkey_alloc();
	if (k >= 0) {
		sys_pkey_free(k);
		snprintf(why, len, "protection keys work: the CPU has PKU, "
		    "the kernel enabled it (OSPKE) and gave key %d", k);
		return 1;
	}
	err = errno;
	if (err == ENOSYS)
		snprintf(why, len, "the kernel has no pkey_alloc system call "
		    "(too old, or built without protection keys)");
	else if (!cpu_flag("pku"))
		snprintf(why, len, "the CPU has no protection keys (no \"pku\" "
		    "in /proc/cpuinfo flags; pkey_alloc: %s)", strerror(err));
	else if (!cpu_flag("ospke"))
		snprintf(why, len, "the CPU has protection keys but the kernel "
		    "did not enable them (no \"ospke\" flag; pkey_alloc: %s)",
		    strerror(err));
	else if (err == ENOSPC)
		snprintf(why, len, "protection keys work, but none is free");
	else
		snprintf(why, len, "pkey_alloc failed: %s", strerror(err));
	return 0;
}

static int
mode_check(int m)
{
	char why[256];

	if (m == COMPART_MPK && !compart_mpk_check(why, sizeof(why)))
		return set_err(ENOTSUP, "mpk mode refused: %s", why);
	return 0;
}

static bool
colocated_mode(int m)
{
	return m == COMPART_MPROTECT || m == COMPART_MPK;
}

const char *
compart_mode_name(int m)
{
	if (m < 0 || m > COMPART_PROCESS) {
		errno = EINVAL;
		return NULL;
	}
	return mode_names[m];
}

int
compart_mode_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i <= COMPART_PROCESS; i++)
		if (strcmp(name, mode_names[i]) == 0)
			return i;
	errno = EINVAL;
	return -1;
}

/* Choose the mode from the environment if nobody chose; install the
 * fault handler.  Lock held. */
void
iso_init(void)
{
	if (mode < 0) {
		const char *env = getenv("COMPART_MODE");
		int m = env != NULL ? compart_mode_parse(env) : COMPART_NONE;

		if (m < 0 || mode_check(m) < 0) {
			fprintf(stderr, "compart: COMPART_MODE=%s unusable (%s); "
			    "using none\n", env, compart_error());
			m = COMPART_NONE;
		}
		mode = m;
	}
	iso_handler_install();
}

/* The process's mode (-1 before iso_init()). */
int
iso_mode(void)
{
	return mode;
}

int
compart_init(int m)
{
	int rc = 0;

	if (compart_mode_name(m) == NULL)
		return set_err(EINVAL, "no such mode %d", m);
	table_lock();
	if (mode == m)
		goto out;
	if (table_count() > 0) {
		rc = set_err(EBUSY, "compartments are loaded in mode %s",
		    compart_mode_name(mode));
		goto out;
	}
	if (mode_check(m) < 0) {
		rc = -1;
		goto out;
	}
	mode = m;
out:
	if (rc == 0)
		iso_handler_install();
	table_unlock();
	return rc;
}

int
compart_mode(void)
{
	int m;

	table_lock();
	iso_init();
	m = mode;
	table_unlock();
	return m;
}

/*
 * Domain d is taken, owned by compartment owner (0: the host), empty,
 * open to nobody else.  isolated: its pages are protected in this process
 * (a colocated compartment's, a window's; not those of a compartment in
 * a process of its own): in mpk mode it takes a protection key (ENOSPC
 * if none is left).  Lock held.
 */
int
dom_reserve(int d, int owner, bool isolated)
{
	struct dom *dm = &dom[d];

	dm->used = true;
	dm->owner = owner;
	dm->reach = 0;
	dm->pkey = -1;
	if (isolated && mode == COMPART_MPK) {
		dm->pkey = sys_pkey_alloc();
		if (dm->pkey < 0) {
			dm->pkey = -1;
			dm->used = false;
			return set_err(ENOSPC, "no protection key left: %s",
			    strerror(errno));
		}
	}
	iso_recompute();
	return 0;
}

/*
 * Domain d is free again: its ranges go back to the host, its key is
 * freed, and if it is a compartment's, the windows open to that
 * compartment are no longer.  Lock held.
 */
void
dom_release(int d)
{
	struct dom *dm = &dom[d];
	int k;

	dom_clear(d);
	if (dm->pkey > 0)
		sys_pkey_free(dm->pkey);
	dm->pkey = -1;
	dm->used = false;
	dm->reach = 0;
	if (d <= COMPART_MAX)
		for (k = 1; k < NDOMS; k++)
			dom[k].reach &= ~(1ULL << d);
	iso_recompute();
}

/* Open (or close) domain d to compartment idx.  Lock held. */
void
dom_reach_set(int d, int idx, bool on)
{
	if (on)
		dom[d].reach |= 1ULL << idx;
	else
		dom[d].reach &= ~(1ULL << idx);
	iso_recompute();
}

/* The compartments d is open to besides its owner. */
uint64_t
dom_reach(int d)
{
	return dom[d].reach;
}

/* Give a range its protection as seen from now: closed if its domain is
 * not open (mprotect), under its domain's key (mpk). */
static int
range_apply(int d, uintptr_t s, uintptr_t e, int prot)
{
	if (mode == COMPART_MPROTECT && !(open_now & (1ULL << d)))
		return mprotect((void *)s, e - s, PROT_NONE);
	if (mode == COMPART_MPK)
		return sys_pkey_mprotect(s, e - s, prot,
		    dom[d].pkey > 0 ? dom[d].pkey : 0);
	return 0;
}

/* Back to the host's: its protection, key 0. */
static void
range_release(uintptr_t s, uintptr_t e, int prot)
{
	if (mode == COMPART_MPK)
		sys_pkey_mprotect(s, e - s, prot, 0);
	else if (mode == COMPART_MPROTECT)
		mprotect((void *)s, e - s, prot);
}

static int
dom_insert(struct dom *dm, uintptr_t s, uintptr_t e, int prot)
{
	int i;

	if (dm->n == dm->cap) {
		int cap = dm->cap ? dm->cap * 2 : 16;
		struct range *r = realloc(dm->r, (size_t)cap * sizeof(*r));

		if (r == NULL)
			return set_err(ENOMEM, "out of memory");
		dm->r = r;
		dm->cap = cap;
	}
	for (i = dm->n; i > 0 && dm->r[i - 1].start > s; i--)
		dm->r[i] = dm->r[i - 1];
	dm->r[i].start = s;
	dm->r[i].end = e;
	dm->r[i].prot = prot;
	dm->n++;
	return 0;
}

/* Add [s, e) with protection prot to domain d, and enforce it. */
int
dom_add(int d, uintptr_t s, uintptr_t e, int prot)
{
	struct dom *dm = &dom[d];

	if (s >= e)
		return 0;
	if (dom_insert(dm, s, e, prot) < 0)
		return -1;
	dm->used = true;
	if (compart_thr.cur == 0 && mode == COMPART_MPROTECT)
		open_now |= 1ULL << d;	/* the host runs: everything is open */
	if (range_apply(d, s, e, prot) < 0)
		return set_err(errno, "cannot protect %#lx-%#lx: %s",
		    (unsigned long)s, (unsigned long)e, strerror(errno));
	return 0;
}

/*
 * Move [s, e) from domain from to domain to (-1: back to the host), which
 * must hold it entirely.  Pieces keep their protection.
 */
int
dom_take(int from, int to, uintptr_t s, uintptr_t e)
{
	struct dom *dm = &dom[from];
	uintptr_t covered = 0;
	int i;

	for (i = 0; i < dm->n; i++) {
		struct range *r = &dm->r[i];

		if (r->end > s && r->start < e)
			covered += (r->end < e ? r->end : e) -
			    (r->start > s ? r->start : s);
	}
	if (covered != e - s)
		return set_err(EINVAL, "%#lx-%#lx is not all in %s memory",
		    (unsigned long)s, (unsigned long)e,
		    from < DOM_WIN0 ? "the owner's" : "the window's");
	for (i = 0; i < dm->n; i++) {
		struct range r = dm->r[i];
		uintptr_t a, b;

		if (r.end <= s || r.start >= e)
			continue;
		a = r.start > s ? r.start : s;
		b = r.end < e ? r.end : e;
		/* remove r, put back what lies outside [a, b) */
		memmove(&dm->r[i], &dm->r[i + 1],
		    (size_t)(dm->n - i - 1) * sizeof(r));
		dm->n--;
		if (r.start < a && dom_insert(dm, r.start, a, r.prot) < 0)
			return -1;
		if (b < r.end && dom_insert(dm, b, r.end, r.prot) < 0)
			return -1;
		if (to >= 0) {
			if (dom_add(to, a, b, r.prot) < 0)
				return -1;
		} else
			range_release(a, b, r.prot);
		i = -1;		/* the array changed: scan again */
	}
	return 0;
}

/* Move every range of d to domain to (-1: back to the host). */
void
dom_return(int d, int to)
{
	struct dom *dm = &dom[d];

	while (dm->n > 0) {
		struct range r = dm->r[0];

		if (dom_take(d, to, r.start, r.end) < 0)
			break;
	}
}

/* Give every range of d back to the host. */
void
dom_clear(int d)
{
	struct dom *dm = &dom[d];
	int i;

	for (i = 0; i < dm->n; i++)
		range_release(dm->r[i].start, dm->r[i].end, dm->r[i].prot);
	free(dm->r);
	dm->r = NULL;
	dm->n = dm->cap = 0;
	open_now &= ~(1ULL << d);
}

/* The protection of the range of d holding addr, and where that range
 * ends in *endp; -1 if d holds no addr. */
int
dom_prot_at(int d, uintptr_t addr, uintptr_t *endp)
{
	struct dom *dm = &dom[d];
	int i;

	for (i = 0; i < dm->n; i++)
		if (addr >= dm->r[i].start && addr < dm->r[i].end) {
			if (endp != NULL)
				*endp = dm->r[i].end;
			return dm->r[i].prot;
		}
	return -1;
}

/* [addr, addr+len) lies in domain d's readable ranges (one range: the
 * ranges of an object are pages next to each other, but a descriptor
 * does not straddle two protections). */
bool
dom_holds(int d, uintptr_t addr, size_t len)
{
	uintptr_t end;
	int prot = dom_prot_at(d, addr, &end);

	return prot >= 0 && len <= end - addr && (prot & PROT_READ);
}

/* Bytes in domain d. */
size_t
dom_size(int d)
{
	struct dom *dm = &dom[d];
	size_t n = 0;
	int i;

	for (i = 0; i < dm->n; i++)
		n += dm->r[i].end - dm->r[i].start;
	return n;
}

/*
 * Each mapping of /proc/self/maps overlapping [start, end), clipped to
 * it, with its protection: fn(arg, start, end, prot).
 */
int
maps_ranges(uintptr_t start, uintptr_t end,
    int (*fn)(void *, uintptr_t, uintptr_t, int), void *arg)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int rc = 0;

	if (f == NULL)
		return set_err(errno, "cannot read /proc/self/maps");
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned long s, e;
		char perm[8];
		int prot = 0;

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) != 3)
			continue;
		if (e <= start || s >= end)
			continue;
		if (perm[0] == 'r')
			prot |= PROT_READ;
		if (perm[1] == 'w')
			prot |= PROT_WRITE;
		if (perm[2] == 'x')
			prot |= PROT_EXEC;
		rc = fn(arg, s < start ? start : s, e > end ? end : e, prot);
		/* a line longer than the buffer: skip its rest */
		while (strchr(line, '\n') == NULL &&
		    fgets(line, sizeof(line), f) != NULL)
			;
	}
	fclose(f);
	return rc;
}

static int
add_mapped_cb(void *arg, uintptr_t s, uintptr_t e, int prot)
{
	return dom_add(*(int *)arg, s, e, prot);
}

/* Add what is mapped of [s, e) to domain d, each mapping with the
 * protection it has. */
int
dom_add_mapped(int d, uintptr_t s, uintptr_t e)
{
	return maps_ranges(s, e, add_mapped_cb, &d);
}

/* A domain holding some of [s, e), and an address of it in *atp; -1 if
 * none.  Range by range: [s, e) may span the whole address space.  Takes
 * no lock: the fault handler asks it too (dom_owner_of()). */
int
dom_overlap(uintptr_t s, uintptr_t e, uintptr_t *atp)
{
	int d, i;

	for (d = 1; d < NDOMS; d++) {
		struct dom *dm = &dom[d];

		if (!dm->used)
			continue;
		for (i = 0; i < dm->n; i++)
			if (dm->r[i].start < e && dm->r[i].end > s) {
				*atp = dm->r[i].start > s ? dm->r[i].start : s;
				return d;
			}
	}
	return -1;
}

/* The domain holding addr, or -1 (lock-free: called by the handler). */
static int
dom_owner_of(uintptr_t addr)
{
	uintptr_t at;

	return addr == UINTPTR_MAX ? -1 : dom_overlap(addr, addr + 1, &at);
}

/* Domains or who reaches them changed: what each compartment may touch
 * (its own domain, and the windows it owns or that are open to it), and
 * its PKRU. */
static void
iso_recompute(void)
{
	int i, d;

	for (i = 1; i <= COMPART_MAX; i++) {
		uint32_t pkru = 0;
		int k;

		mask[i] = 1ULL << i;
		for (d = DOM_WIN0; d < NDOMS; d++)
			if (dom[d].used && (dom[d].owner == i ||
			    (dom[d].reach & (1ULL << i))))
				mask[i] |= 1ULL << d;
		for (k = 1; k < 16; k++) {
			bool allowed = false;

			for (d = 1; d < NDOMS; d++)
				if (dom[d].used && dom[d].pkey == k &&
				    (mask[i] & (1ULL << d)))
					allowed = true;
			if (!allowed)
				pkru |= PKRU_DENY(k);
		}
		compart_pkru[i] = pkru;
	}
}

static void
dom_protect(int d, bool open)
{
	struct dom *dm = &dom[d];
	int i = 0;

	while (i < dm->n) {
		uintptr_t s = dm->r[i].start, e = dm->r[i].end;
		int prot = dm->r[i].prot;

		/* closing: adjacent ranges go in one call */
		for (i++; i < dm->n && dm->r[i].start == e &&
		    (!open || dm->r[i].prot == prot); i++)
			e = dm->r[i].end;
		if (mprotect((void *)s, e - s, open ? prot : PROT_NONE) < 0) {
			fprintf(stderr, "compart: mprotect %#lx-%#lx: %s\n",
			    (unsigned long)s, (unsigned long)e, strerror(errno));
			abort();
		}
	}
}

/* From compartment from to compartment to (0: the host). */
void
iso_switch(int from, int to)
{
	uint64_t want, used = 0;
	int d;

	if (from == to || mode == COMPART_NONE || mode == COMPART_PROCESS)
		return;
	if (mode == COMPART_MPK) {
		wrpkru(compart_pkru[to]);
		return;
	}
	for (d = 1; d < NDOMS; d++)
		if (dom[d].used)
			used |= 1ULL << d;
	want = to != 0 ? mask[to] & used : used;
	for (d = 1; d < NDOMS; d++) {
		uint64_t bit = 1ULL << d;

		if ((open_now & bit) && !(want & bit))
			dom_protect(d, false);
		else if (!(open_now & bit) && (want & bit))
			dom_protect(d, true);
	}
	open_now = want;
}

/*
 * What the violation path writes runs in the SIGSEGV handler: no stdio,
 * no locks, no allocation.  A bounded copy and a small decimal will do.
 */
static size_t
scopy(char *dst, size_t len, size_t at, const char *src)
{
	while (src != NULL && *src != '\0' && at + 1 < len)
		dst[at++] = *src++;
	dst[at < len ? at : len - 1] = '\0';
	return at;
}

static void
name_of(int d, char *buf, size_t len)
{
	size_t at = 0;
	int owner;

	if (d < 0) {
		scopy(buf, len, 0, "nobody (unmapped)");
		return;
	}
	owner = dom[d].owner;
	if (d >= DOM_WIN0) {
		char num[4];
		int k = d - DOM_WIN0 + 1, n = 0;

		/* k <= COMPART_WINDOWS_MAX: at most 2 digits */
		if (k >= 10)
			num[n++] = (char)('0' + k / 10 % 10);
		num[n++] = (char)('0' + k % 10);
		num[n] = '\0';
		at = scopy(buf, len, at, "window ");
		at = scopy(buf, len, at, num);
		at = scopy(buf, len, at, " of ");
		scopy(buf, len, at, owner == 0 ? "host" :
		    compart_at((uint64_t)owner) != NULL ?
		    compart_at((uint64_t)owner)->name : "?");
	} else {
		at = scopy(buf, len, at, "'");
		at = scopy(buf, len, at, compart_at((uint64_t)d) != NULL ?
		    compart_at((uint64_t)d)->name : "?");
		scopy(buf, len, at, "'");
	}
}

/* From the SIGSEGV handler: async-signal-safe (see scopy). */
static void
violation_report(struct thr *t, int accessor, uintptr_t addr, int write,
    int pkey)
{
	struct compart_violation *v = &t->viol;
	struct compart *c = compart_at((uint64_t)accessor);
	int owner = dom_owner_of(addr);

	memset(v, 0, sizeof(*v));
	scopy(v->accessor, sizeof(v->accessor), 0, c ? c->name : "?");
	name_of(owner, v->owner, sizeof(v->owner));
	v->addr = (void *)addr;
	v->write = write;
	v->pkey = pkey;
	t->has_viol = true;
	stats_violation(accessor, owner < 0 ? 0 : dom[owner].owner);
}

static void
chain(struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL)
		old->sa_sigaction(sig, si, uc);
	else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
		old->sa_handler(sig);
	else
		signal(sig, SIG_DFL);	/* the access repeats and kills */
}

/*
 * A fault while a compartment runs (isolated modes): record it and resume
 * where the innermost unwind frame says (compart_invoke_fault or
 * compart_gate_mpk_fault), on the manager's stack, which makes the call
 * fail.  Anything else is not ours.
 */
static void
on_fault(int sig, siginfo_t *si, void *ucv)
{
	struct thr *t = thr_self();
	ucontext_t *uc = ucv;
	uint64_t cur = t->cur;
	int saved = errno;

	if (t->inv_sp != 0 && compart_at(cur) != NULL &&
	    colocated_mode(compart_at(cur)->mode)) {
		int write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
		int pkey = -1;

#ifdef SEGV_PKUERR
		if (si->si_code == SEGV_PKUERR)
			pkey = (int)si->si_pkey;
#endif
		violation_report(t, (int)cur, (uintptr_t)si->si_addr, write,
		    pkey);
		uc->uc_mcontext.gregs[REG_RSP] = (greg_t)t->inv_sp;
		uc->uc_mcontext.gregs[REG_RIP] =
		    (greg_t)((struct unwind *)t->inv_sp)->resume;
		errno = saved;
		return;
	}
	chain(sig == SIGBUS ? &old_bus : &old_segv, sig, si, ucv);
	errno = saved;
}

static int
iso_handler_install(void)
{
	struct sigaction sa;

	if (handler_installed || !colocated_mode(mode))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) < 0 ||
	    sigaction(SIGBUS, &sa, &old_bus) < 0)
		return set_err(errno, "sigaction: %s", strerror(errno));
	handler_installed = true;
	return 0;
}

int
compart_last_violation(struct compart_violation *v)
{
	if (!compart_thr.has_viol) {
		errno = ENOENT;
		return -1;
	}
	if (v != NULL)
		*v = compart_thr.viol;
	return 0;
}

void
compart_clear_violation(void)
{
	compart_thr.has_viol = false;
}
