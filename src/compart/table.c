/*
 * The compartment table: which compartments exist, the lock that guards
 * the library's tables, each compartment's entry points and signatures,
 * each thread's state (struct thr) and its last error.  The one file that
 * changes the table: everything else looks compartments up here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

__thread struct thr compart_thr __attribute__((tls_model("initial-exec")));

/* lock guards the table and the other modules' tables.  The call path
 * and the fault handler read table[] without it: it changes only in the
 * host while no call is in progress, a documented rule of the API. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct compart *table[COMPART_MAX + 1];
static uint64_t reserved;	/* bit i: index i is taken (loading or loaded) */

int
set_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(compart_thr.err, sizeof(compart_thr.err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

const char *
compart_error(void)
{
	if (compart_thr.err[0] == '\0')
		return "no error";
	return compart_thr.err;
}

/* Forget the calling thread's last message (a caller about to learn
 * whether a call leaves one). */
void
err_clear(void)
{
	compart_thr.err[0] = '\0';
}

bool
err_pending(void)
{
	return compart_thr.err[0] != '\0';
}

void
table_lock(void)
{
	pthread_mutex_lock(&lock);
}

void
table_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

/* A free index, taken until table_release(): -1 with EMFILE if none.
 * Lock held. */
int
table_reserve(void)
{
	int idx;

	for (idx = 1; idx <= COMPART_MAX; idx++)
		if (!(reserved & (1ULL << idx))) {
			reserved |= 1ULL << idx;
			return idx;
		}
	return set_err(EMFILE, "too many compartments (at most %d)",
	    COMPART_MAX);
}

/* What index idx (reserved) names now: c, or NULL (found by nobody).
 * Lock held. */
void
table_set(int idx, struct compart *c)
{
	table[idx] = c;
}

/* Index idx is free again.  Lock held. */
void
table_release(int idx)
{
	table[idx] = NULL;
	reserved &= ~(1ULL << idx);
}

/* Compartments loading or loaded: a load holds the lock throughout, so
 * to anyone else holding it these are the loaded ones. */
int
table_count(void)
{
	return __builtin_popcountll(reserved);
}

/* The compartment at idx, or NULL.  Without the lock: the call path and
 * the fault handler ask too. */
struct compart *
compart_at(uint64_t idx)
{
	return idx >= 1 && idx <= COMPART_MAX ? table[idx] : NULL;
}

/* cp, if it is a loaded compartment (EINVAL if not).  Lock held. */
struct compart *
compart_get(const compart_t *cp)
{
	const struct compart *c = (const struct compart *)cp;
	int i;

	for (i = 1; i <= COMPART_MAX; i++)
		if (table[i] != NULL && table[i] == c)
			return table[i];
	errno = EINVAL;
	return NULL;
}

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

int
entry_find(struct compart *c, const char *name)
{
	int i;

	for (i = 0; i < c->nentries; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return i;
	return -1;
}

/* One more entry point of c, unless it has one of that name. */
int
entry_add(struct compart *c, const char *name, const char *sig, void *fn)
{
	struct entry *e;

	if (sig_parse(sig, NULL, NULL) < 0)
		return set_err(EINVAL, "%s: entry %s has a bad signature \"%.40s\"",
		    c->name, name, sig);
	if (entry_find(c, name) >= 0)
		return 0;
	e = realloc(c->entries, (size_t)(c->nentries + 1) * sizeof(*e));
	if (e == NULL)
		return set_err(ENOMEM, "out of memory");
	c->entries = e;
	e = &c->entries[c->nentries];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	e->sig = strdup(sig);
	e->fn = fn;
	e->remote = c->nentries;
	if (e->name == NULL || e->sig == NULL) {
		free(e->name);
		free(e->sig);
		return set_err(ENOMEM, "out of memory");
	}
	c->nentries++;
	return 0;
}
