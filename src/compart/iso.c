/*
 * Isolation: protection domains (sets of page ranges accessible together,
 * one per compartment and one per window), what each compartment may
 * touch, switching on every call (page permissions in mprotect mode, the
 * PKRU register in mpk mode, nothing in none mode), and the SIGSEGV
 * handler that turns a compartment's stray access into a reported
 * violation and an error for its caller.
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

uint32_t compart_pkru[COMPART_MAX + 1];
static bool handler_installed;
static struct sigaction old_segv, old_bus;

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

int
iso_mode_init(int mode)
{
	char why[256];

	if (mode == COMPART_MPK && !compart_mpk_check(why, sizeof(why)))
		return set_err(ENOTSUP, "mpk mode refused: %s", why);
	return 0;
}

static bool
colocated_mode(int m)
{
	return m == COMPART_MPROTECT || m == COMPART_MPK;
}

/* In mpk mode every compartment domain has its key. */
int
iso_dom_key(int d)
{
	G.dom[d].pkey = -1;
	if (G.mode != COMPART_MPK)
		return 0;
	G.dom[d].pkey = sys_pkey_alloc();
	if (G.dom[d].pkey < 0)
		return set_err(ENOSPC, "no protection key left: %s",
		    strerror(errno));
	return 0;
}

void
iso_dom_key_free(int d)
{
	if (G.dom[d].pkey > 0)
		sys_pkey_free(G.dom[d].pkey);
	G.dom[d].pkey = -1;
}

/* Give a range its protection as seen from now: closed if its domain is
 * not open (mprotect), under its domain's key (mpk). */
static int
range_apply(int d, uintptr_t s, uintptr_t e, int prot)
{
	if (G.mode == COMPART_MPROTECT && !(G.open & (1ULL << d)))
		return mprotect((void *)s, e - s, PROT_NONE);
	if (G.mode == COMPART_MPK)
		return sys_pkey_mprotect(s, e - s, prot,
		    G.dom[d].pkey > 0 ? G.dom[d].pkey : 0);
	return 0;
}

/* Back to the host's: its protection, key 0. */
static void
range_release(uintptr_t s, uintptr_t e, int prot)
{
	if (G.mode == COMPART_MPK)
		sys_pkey_mprotect(s, e - s, prot, 0);
	else if (G.mode == COMPART_MPROTECT)
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
	struct dom *dm = &G.dom[d];

	if (s >= e)
		return 0;
	if (dom_insert(dm, s, e, prot) < 0)
		return -1;
	dm->used = true;
	if (compart_thr.cur == 0 && G.mode == COMPART_MPROTECT)
		G.open |= 1ULL << d;	/* the host runs: everything is open */
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
	struct dom *dm = &G.dom[from];
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

/* Give every range of d back to the host. */
void
dom_clear(int d)
{
	struct dom *dm = &G.dom[d];
	int i;

	for (i = 0; i < dm->n; i++)
		range_release(dm->r[i].start, dm->r[i].end, dm->r[i].prot);
	free(dm->r);
	dm->r = NULL;
	dm->n = dm->cap = 0;
	G.open &= ~(1ULL << d);
}

/* A domain holding some of [s, e), and an address of it in *atp; -1 if
 * none.  Range by range: [s, e) may span the whole address space.  Takes
 * no lock: the fault handler asks it too (dom_owner_of()). */
int
dom_overlap(uintptr_t s, uintptr_t e, uintptr_t *atp)
{
	int d, i;

	for (d = 1; d < NDOMS; d++) {
		struct dom *dm = &G.dom[d];

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
int
dom_owner_of(uintptr_t addr)
{
	uintptr_t at;

	return addr == UINTPTR_MAX ? -1 : dom_overlap(addr, addr + 1, &at);
}

/* Windows changed: what each compartment may touch, and its PKRU. */
void
iso_recompute(void)
{
	uint64_t windows[COMPART_MAX + 1];
	int i, d;

	windows_masks(windows);
	for (i = 1; i <= COMPART_MAX; i++) {
		uint32_t pkru = 0;
		int k;

		G.mask[i] = (1ULL << i) | windows[i];
		for (k = 1; k < 16; k++) {
			bool allowed = false;

			for (d = 1; d < NDOMS; d++)
				if (G.dom[d].used && G.dom[d].pkey == k &&
				    (G.mask[i] & (1ULL << d)))
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
	struct dom *dm = &G.dom[d];
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

	if (from == to || G.mode == COMPART_NONE ||
	    G.mode == COMPART_PROCESS)
		return;
	if (G.mode == COMPART_MPK) {
		wrpkru(compart_pkru[to]);
		return;
	}
	for (d = 1; d < NDOMS; d++)
		if (G.dom[d].used)
			used |= 1ULL << d;
	want = to != 0 ? G.mask[to] & used : used;
	for (d = 1; d < NDOMS; d++) {
		uint64_t bit = 1ULL << d;

		if ((G.open & bit) && !(want & bit))
			dom_protect(d, false);
		else if (!(G.open & bit) && (want & bit))
			dom_protect(d, true);
	}
	G.open = want;
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
	owner = G.dom[d].owner;
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
		    owner <= COMPART_MAX && G.c[owner] ? G.c[owner]->name : "?");
	} else {
		at = scopy(buf, len, at, "'");
		at = scopy(buf, len, at, G.c[d] ? G.c[d]->name : "?");
		scopy(buf, len, at, "'");
	}
}

/* From the SIGSEGV handler: async-signal-safe (see scopy). */
void
violation_report(struct thr *t, int accessor, uintptr_t addr, int write,
    int pkey)
{
	struct compart_violation *v = &t->viol;
	struct compart *c = G.c[accessor];
	int owner = dom_owner_of(addr);

	memset(v, 0, sizeof(*v));
	scopy(v->accessor, sizeof(v->accessor), 0, c ? c->name : "?");
	name_of(owner, v->owner, sizeof(v->owner));
	v->addr = (void *)addr;
	v->write = write;
	v->pkey = pkey;
	t->has_viol = true;
	stats_violation(accessor, owner);
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

	if (cur != 0 && cur <= COMPART_MAX && t->inv_sp != 0 &&
	    G.c[cur] != NULL && colocated_mode(G.c[cur]->mode)) {
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

int
iso_handler_install(void)
{
	struct sigaction sa;

	if (handler_installed || !colocated_mode(G.mode))
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
