/*
 * A compartment's life: loading it (into this process, loader.c, or into
 * a process of its own, process.c), its entry points, its heap and
 * regions, its policy, imports between compartments, and unloading it.
 * The library's API on top of the modules: it takes the table lock, finds
 * the compartment, and asks each module for its part.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEF_HEAP	(64UL << 20)
#define DEF_STACK	(1UL << 20)

void
compart_attr_init(struct compart_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->mode = -1;
	attr->heap_size = DEF_HEAP;
	attr->stack_size = DEF_STACK;
}

const char *
compart_name(const compart_t *cp)
{
	return cp == NULL ? "host" : ((const struct compart *)cp)->name;
}

static void
compart_free_struct(struct compart *c)
{
	int i;

	for (i = 0; i < c->nentries; i++) {
		free(c->entries[i].name);
		free(c->entries[i].sig);
	}
	free(c->entries);
	free(c->path);
	free(c);
}

/* Bounded before PAGE_UP() and the stack's guard page are added: near
 * SIZE_MAX they would wrap to a tiny region. */
static int
attr_check(const struct compart_attr *attr)
{
	if (attr->heap_size == 0 || attr->heap_size > COMPART_SIZE_MAX ||
	    attr->stack_size < 16 * 1024 ||
	    attr->stack_size > COMPART_SIZE_MAX ||
	    attr->mode < -1 || attr->mode > COMPART_PROCESS)
		return set_err(EINVAL, "bad attributes (heap %zu, stack %zu, "
		    "mode %d)", attr->heap_size, attr->stack_size, attr->mode);
	return 0;
}

/* A new compartment at index idx, loaded from path as attr says; not in
 * the table yet.  Lock held. */
static struct compart *
compart_new(int idx, const char *path, const struct compart_attr *attr)
{
	static uint32_t gen;
	struct compart *c;
	const char *base;
	int mode = iso_mode();

	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->path = strdup(path)) == NULL) {
		free(c);
		set_err(ENOMEM, "out of memory");
		return NULL;
	}
	c->idx = idx;
	c->gen = ++gen;
	c->mode = attr->mode >= 0 ? attr->mode : mode;
	if (c->mode != COMPART_PROCESS && mode == COMPART_PROCESS)
		c->mode = COMPART_NONE;
	if (c->mode != COMPART_PROCESS && c->mode != mode) {
		set_err(EINVAL, "colocated compartments share the process's "
		    "mode (%s)", compart_mode_name(mode));
		compart_free_struct(c);
		return NULL;
	}
	base = strrchr(path, '/');
	snprintf(c->name, sizeof(c->name), "%.63s",
	    attr->name != NULL ? attr->name : base != NULL ? base + 1 : path);
	c->heap_size = PAGE_UP(attr->heap_size);
	c->stack_size = PAGE_UP(attr->stack_size);
	return c;
}

compart_t *
compart_load(const char *path, const struct compart_attr *attrp)
{
	char found[PATH_MAX];
	struct compart_attr attr;
	struct compart *c = NULL;
	char **names = NULL;
	int idx = -1, rc;

	if (path == NULL) {
		set_err(EINVAL, "no path");
		return NULL;
	}
	if (compart_thr.cur != 0) {
		set_err(EPERM, "compartments cannot load compartments");
		return NULL;
	}
	path = lib_search(path, found, sizeof(found));
	if (attrp != NULL)
		attr = *attrp;
	else
		compart_attr_init(&attr);
	if (attr_check(&attr) < 0 || elf_check(path, &names, NULL, NULL) < 0)
		return NULL;
	table_lock();
	iso_init();
	if ((idx = table_reserve()) < 0 ||
	    (c = compart_new(idx, path, &attr)) == NULL ||
	    dom_reserve(idx, idx, c->mode != COMPART_PROCESS) < 0)
		goto fail;
	if (c->mode == COMPART_PROCESS)
		rc = proc_start(c, &attr);
	else
		rc = loader_load(c, names, &attr);
	if (rc < 0) {
		dom_release(idx);
		goto fail;
	}
	table_set(idx, c);
	table_unlock();
	names_free(names);
	return (compart_t *)c;
fail:
	if (idx >= 0)
		table_release(idx);
	table_unlock();
	names_free(names);
	if (c != NULL)
		compart_free_struct(c);
	return NULL;
}

int
compart_unload(compart_t *cp)
{
	struct compart *c;
	void *fflush_fn;
	int idx;

	if (compart_thr.cur != 0)
		return set_err(EPERM, "only the host unloads compartments");
	table_lock();
	c = compart_get(cp);
	if (c == NULL || c->unloading) {
		table_unlock();
		return set_err(EINVAL, "not a loaded compartment");
	}
	/* The lock is dropped for the flush below: a second unload of the
	 * same compartment meanwhile must not free it twice. */
	c->unloading = true;
	idx = c->idx;
	table_unlock();
	/* What it printed and did not flush yet: its stdio is its own. */
	if (c->mode != COMPART_PROCESS &&
	    (fflush_fn = dlsym(c->handle, "fflush")) != NULL) {
		uint64_t arg = 0;

		call_in(c, fflush_fn, 1, &arg, NULL);
	}
	table_lock();
	windows_drop_owner(idx);
	windows_forget(idx);
	gates_retire(c);
	stats_forget(idx);
	table_set(idx, NULL);
	/* Its memory back to the host before it is unmapped; the windows
	 * open to it are no longer. */
	dom_release(idx);
	if (c->mode == COMPART_PROCESS) {
		proc_stop(c);
	} else {
		stacks_free(c);
		loader_unload(c);
	}
	table_release(idx);
	table_unlock();
	compart_free_struct(c);
	return 0;
}

void *
compart_entry(compart_t *cp, const char *name)
{
	struct compart *c;
	struct gate *g;
	int i;

	table_lock();
	c = compart_get(cp);
	if (c == NULL || name == NULL) {
		table_unlock();
		set_err(EINVAL, "not a loaded compartment");
		return NULL;
	}
	i = entry_find(c, name);
	if (i < 0) {
		bool exists = loader_defines(c, name);

		table_unlock();
		if (exists)
			set_err(EPERM, "%s: %s is not an entry point", c->name,
			    name);
		else
			set_err(ENOENT, "%s: no entry point %s", c->name, name);
		return NULL;
	}
	g = gate_make(c, i);
	table_unlock();
	if (g == NULL)
		return NULL;
	return compart_thunks + (g - compart_gates) * THUNK_SIZE;
}

const char *
compart_entry_sig(compart_t *cp, const char *name)
{
	struct compart *c;
	const char *sig = NULL;
	int i;

	table_lock();
	c = compart_get(cp);
	if (c != NULL && name != NULL && (i = entry_find(c, name)) >= 0)
		sig = c->entries[i].sig;
	table_unlock();
	if (sig == NULL && c != NULL && name != NULL)
		set_err(ENOENT, "%s: no entry point %s", c->name, name);
	else if (sig == NULL)
		set_err(EINVAL, "not a loaded compartment");
	return sig;
}

const char *
compart_entry_name(compart_t *cp, int i)
{
	struct compart *c;
	const char *n = NULL;

	table_lock();
	c = compart_get(cp);
	if (c != NULL && i >= 0 && i < c->nentries)
		n = c->entries[i].name;
	table_unlock();
	if (n == NULL)
		set_err(c == NULL ? EINVAL : ENOENT, "no entry %d", i);
	return n;
}

/* Rebind every reference of into's object to sym to the gate of from's
 * entry. */
int
compart_import(compart_t *intop, const char *sym, compart_t *fromp,
    const char *entry)
{
	struct compart *into;
	void *thunk;
	int rc;

	if (sym == NULL || entry == NULL)
		return set_err(EINVAL, "no symbol");
	thunk = compart_entry(fromp, entry);
	if (thunk == NULL)
		return -1;
	table_lock();
	into = compart_get(intop);
	rc = into == NULL || into->mode == COMPART_PROCESS ?
	    set_err(EINVAL, "imports need a colocated compartment") :
	    loader_import(into, sym, thunk);
	table_unlock();
	return rc;
}

void *
compart_malloc(compart_t *cp, size_t size)
{
	struct compart *c;
	uint64_t arg = size, ret = 0;

	table_lock();
	c = compart_get(cp);
	table_unlock();
	if (c == NULL) {
		set_err(EINVAL, "not a loaded compartment");
		return NULL;
	}
	if (c->mode == COMPART_PROCESS) {
		set_err(ENOTSUP, "%s runs in its own process: use a window",
		    c->name);
		return NULL;
	}
	if (call_in(c, (void *)c->s_malloc, 1, &arg, &ret) < 0)
		return NULL;
	if (ret == 0)
		set_err(ENOMEM, "%s: heap exhausted", c->name);
	return (void *)ret;
}

void
compart_free(compart_t *cp, void *p)
{
	struct compart *c;
	uint64_t arg = (uint64_t)p;

	table_lock();
	c = compart_get(cp);
	table_unlock();
	if (c == NULL || c->mode == COMPART_PROCESS || p == NULL)
		return;
	call_in(c, (void *)c->s_free, 1, &arg, NULL);
}

int
compart_region(compart_t *cp, int which, void **addrp, size_t *lenp)
{
	struct compart *c;

	table_lock();
	c = compart_get(cp);
	table_unlock();
	if (c == NULL || addrp == NULL || lenp == NULL)
		return set_err(EINVAL, "bad arguments");
	if (c->mode == COMPART_PROCESS)
		return set_err(ENOTSUP, "%s runs in its own process", c->name);
	switch (which) {
	case COMPART_REGION_HEAP:
		*addrp = c->heap;
		*lenp = c->heap_size;
		return 0;
	case COMPART_REGION_DATA:
		return data_region(c, addrp, lenp);
	case COMPART_REGION_STACK:
		if (stack_ensure(c) < 0)
			return -1;
		*lenp = PAGE_UP(c->stack_size);
		*addrp = (void *)(compart_thr.top[c->idx] - *lenp);
		return 0;
	}
	return set_err(EINVAL, "no such region %d", which);
}

int
compart_policy(compart_t *cp, const char *what, int action)
{
	struct compart *c;
	bool process;
	int rc;

	if (what == NULL || (action & ~(COMPART_DENY | COMPART_LOG)) != 0)
		return set_err(EINVAL, "bad policy");
	table_lock();
	c = compart_get(cp);
	process = c != NULL && c->mode == COMPART_PROCESS;
	table_unlock();
	/* Process mode: the compartment's process decides first (it refuses
	 * to allow again what the kernel refuses it); our copy follows. */
	if (process && proc_policy(c, what, action) < 0)
		return -1;
	table_lock();
	c = compart_get(cp);
	rc = c != NULL ? policy_apply(c, what, action) :
	    set_err(EINVAL, "not a loaded compartment");
	table_unlock();
	return rc;
}
