/*
 * The loader: checks that a file is an ELF shared object for this
 * machine, loads it into a link-map namespace of its own behind the heap
 * shim, finds its entry points, records its memory in its protection
 * domain, and unloads it.  Also the library's global state and errors.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define ENTRY_PREFIX	"__compart_entry_"
#define DEF_HEAP	(64UL << 20)
#define DEF_STACK	(1UL << 20)

struct compart_global G = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.mode = -1,
	.log_fd = 2,
};

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

static const char *const mode_names[] = { "none", "mprotect", "mpk", "process" };

const char *
compart_mode_name(int mode)
{
	if (mode < 0 || mode > COMPART_PROCESS)
		return NULL;
	return mode_names[mode];
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
 * fault handler.  Called with G.lock held. */
void
global_init(void)
{
	if (G.mode < 0) {
		const char *env = getenv("COMPART_MODE");
		int m = env != NULL ? compart_mode_parse(env) : COMPART_NONE;

		if (m < 0 || iso_mode_init(m) < 0) {
			fprintf(stderr, "compart: COMPART_MODE=%s unusable (%s); "
			    "using none\n", env, compart_error());
			m = COMPART_NONE;
		}
		G.mode = m;
	}
	iso_handler_install();
}

int
compart_init(int mode)
{
	int rc = 0;

	if (compart_mode_name(mode) == NULL)
		return set_err(EINVAL, "no such mode %d", mode);
	pthread_mutex_lock(&G.lock);
	if (G.mode == mode)
		goto out;
	if (G.nloaded > 0) {
		rc = set_err(EBUSY, "compartments are loaded in mode %s",
		    compart_mode_name(G.mode));
		goto out;
	}
	if (iso_mode_init(mode) < 0) {
		rc = -1;
		goto out;
	}
	G.mode = mode;
out:
	if (rc == 0)
		iso_handler_install();
	pthread_mutex_unlock(&G.lock);
	return rc;
}

int
compart_mode(void)
{
	int m;

	pthread_mutex_lock(&G.lock);
	global_init();
	m = G.mode;
	pthread_mutex_unlock(&G.lock);
	return m;
}

void
compart_attr_init(struct compart_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->mode = -1;
	attr->heap_size = DEF_HEAP;
	attr->stack_size = DEF_STACK;
}

struct compart *
compart_get(const compart_t *cp)
{
	const struct compart *c = (const struct compart *)cp;
	int i;

	for (i = 1; i <= COMPART_MAX; i++)
		if (G.c[i] != NULL && G.c[i] == c)
			return G.c[i];
	errno = EINVAL;
	return NULL;
}

bool
in_compart(const struct compart *c)
{
	(void)c;
	return compart_thr.cur != 0;
}

const char *
compart_name(const compart_t *cp)
{
	return cp == NULL ? "host" : ((const struct compart *)cp)->name;
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

/*
 * The whole file, in memory of our own: a mapping of it would fault
 * (SIGBUS, in the host) if it were truncated while being read.  The
 * buffer is malloc'd, so aligned for any ELF structure.
 */
static unsigned char *
file_read(const char *path, size_t *szp)
{
	struct stat st;
	unsigned char *m;
	size_t sz, got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		set_err(ENOEXEC, "%s: not a regular file", path);
		return NULL;
	}
	sz = (size_t)st.st_size;
	if (sz < sizeof(Elf64_Ehdr)) {
		close(fd);
		set_err(ENOEXEC, "%s: too short for an ELF file", path);
		return NULL;
	}
	if ((m = malloc(sz)) == NULL) {
		close(fd);
		set_err(ENOMEM, "%s: no memory to read it (%zu bytes)", path, sz);
		return NULL;
	}
	while (got < sz) {
		ssize_t r = pread(fd, m + got, sz - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got < sz) {
		free(m);
		set_err(ENOEXEC, "%s: shorter than it was (changed while read)",
		    path);
		return NULL;
	}
	*szp = sz;
	return m;
}

/*
 * Check the file: an ELF shared object for x86-64.  Collect the names of
 * its entry descriptors from .dynsym (the file is untrusted: every offset
 * is checked against its size and alignment; only the first .dynsym
 * counts, as the gABI has one).  *namesp: a NULL-terminated array.
 */
static int
elf_check(const char *path, char ***namesp, const char *want, bool *found)
{
	unsigned char *m;
	const Elf64_Ehdr *eh;
	char **names = NULL;
	int n = 0, rc = -1;
	size_t sz, i;

	*namesp = NULL;
	if ((m = file_read(path, &sz)) == NULL)
		return -1;
	eh = (const Elf64_Ehdr *)m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		set_err(ENOEXEC, "%s: not an ELF file", path);
		goto out;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		set_err(ENOEXEC, "%s: ELF for another machine", path);
		goto out;
	}
	if (eh->e_type != ET_DYN) {
		set_err(ENOEXEC, "%s: not an ELF shared object", path);
		goto out;
	}
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > sz ||
	    eh->e_shoff % _Alignof(Elf64_Shdr) != 0 ||
	    (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > sz - eh->e_shoff) {
		set_err(ENOEXEC, "%s: bad section headers", path);
		goto out;
	}
	names = calloc(1, sizeof(*names));
	if (names == NULL) {
		set_err(ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(m + eh->e_shoff) + i;
		const Elf64_Shdr *str;
		const Elf64_Sym *sym;
		size_t k, nsym;

		if (sh->sh_type != SHT_DYNSYM)
			continue;
		if (sh->sh_link >= eh->e_shnum || sh->sh_offset > sz ||
		    sh->sh_offset % _Alignof(Elf64_Sym) != 0 ||
		    sh->sh_size > sz - sh->sh_offset) {
			set_err(ENOEXEC, "%s: bad .dynsym", path);
			goto out;
		}
		str = (const Elf64_Shdr *)(m + eh->e_shoff) + sh->sh_link;
		if (str->sh_offset > sz || str->sh_size > sz - str->sh_offset) {
			set_err(ENOEXEC, "%s: bad .dynstr", path);
			goto out;
		}
		sym = (const Elf64_Sym *)(m + sh->sh_offset);
		nsym = sh->sh_size / sizeof(Elf64_Sym);
		for (k = 0; k < nsym; k++) {
			const char *nm;
			char **nn;

			if (sym[k].st_name >= str->sh_size ||
			    sym[k].st_shndx == SHN_UNDEF)
				continue;
			nm = (const char *)m + str->sh_offset + sym[k].st_name;
			if (memchr(nm, '\0', str->sh_size - sym[k].st_name) == NULL)
				continue;
			if (want != NULL && strcmp(nm, want) == 0)
				*found = true;
			if (strncmp(nm, ENTRY_PREFIX, strlen(ENTRY_PREFIX)) != 0)
				continue;
			nn = realloc(names, (size_t)(n + 2) * sizeof(*names));
			if (nn == NULL) {
				set_err(ENOMEM, "out of memory");
				goto out;
			}
			names = nn;
			names[n] = strdup(nm + strlen(ENTRY_PREFIX));
			if (names[n] == NULL) {
				set_err(ENOMEM, "out of memory");
				goto out;
			}
			names[++n] = NULL;
		}
		break;
	}
	*namesp = names;
	names = NULL;
	rc = 0;
out:
	if (names != NULL) {
		for (i = 0; names[i] != NULL; i++)
			free(names[i]);
		free(names);
	}
	free(m);
	return rc;
}

static void
names_free(char **names)
{
	int i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

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

/* fn must be code of c: inside one of its executable ranges. */
static bool
is_code_of(struct compart *c, void *fn)
{
	struct dom *d = &G.dom[c->idx];
	int i;

	for (i = 0; i < d->n; i++)
		if ((uintptr_t)fn >= d->r[i].start && (uintptr_t)fn < d->r[i].end)
			return (d->r[i].prot & PROT_EXEC) != 0;
	return false;
}

/*
 * Copy the string at p, which must lie in c's readable memory, into buf
 * (at most len bytes, NUL included): -1 if p leads elsewhere or the
 * string does not end there.  The pointers of an entry descriptor are the
 * compartment's: never followed outside it (a descriptor pointing into
 * the host, or at unmapped memory, would make the host read it).
 */
static int
dom_string(struct compart *c, const char *p, char *buf, size_t len)
{
	struct dom *d = &G.dom[c->idx];
	uintptr_t a = (uintptr_t)p;
	int i;

	for (i = 0; i < d->n; i++) {
		size_t room, n;

		if (a < d->r[i].start || a >= d->r[i].end ||
		    !(d->r[i].prot & PROT_READ))
			continue;
		room = d->r[i].end - a;
		n = strnlen(p, room < len ? room : len);
		if (n == room || n == len)
			return -1;
		memcpy(buf, p, n + 1);
		return 0;
	}
	return -1;
}

/* [addr, addr+len) lies in domain d's readable ranges (one range: the
 * ranges of an object are pages next to each other, but a descriptor
 * does not straddle two protections). */
bool
dom_holds(int d, uintptr_t addr, size_t len)
{
	struct dom *dm = &G.dom[d];
	int i;

	for (i = 0; i < dm->n; i++)
		if (addr >= dm->r[i].start && addr < dm->r[i].end &&
		    len <= dm->r[i].end - addr)
			return (dm->r[i].prot & PROT_READ) != 0;
	return false;
}

/* Entry descriptors are read from the compartment's memory: bounded,
 * and the function must be its own code. */
static int
entries_collect(struct compart *c, char **names, const char *const *decl)
{
	char sym[256], name[128], sig[COMPART_MAXARGS + 8];
	int i;

	for (i = 0; names != NULL && names[i] != NULL; i++) {
		const struct compart_entry_desc *d;

		snprintf(sym, sizeof(sym), ENTRY_PREFIX "%s", names[i]);
		d = dlsym(c->handle, sym);
		if (d == NULL || !dom_holds(c->idx, (uintptr_t)d, sizeof(*d)) ||
		    d->magic != COMPART_ENTRY_MAGIC || d->version != 1 ||
		    dom_string(c, d->name, name, sizeof(name)) < 0 ||
		    dom_string(c, d->sig, sig, sizeof(sig)) < 0)
			return set_err(EINVAL, "%s: bad entry descriptor %s",
			    c->name, sym);
		if (strcmp(name, names[i]) != 0 || !is_code_of(c, d->fn))
			return set_err(EINVAL, "%s: entry descriptor %s does "
			    "not describe its own code", c->name, sym);
		if (entry_add(c, name, sig, d->fn) < 0)
			return -1;
	}
	for (i = 0; decl != NULL && decl[i] != NULL; i++) {
		const char *colon = strchr(decl[i], ':');
		void *fn;

		if (colon == NULL || (size_t)(colon - decl[i]) >= sizeof(name))
			return set_err(EINVAL, "entry declaration \"%s\" is not "
			    "name:signature", decl[i]);
		memcpy(name, decl[i], (size_t)(colon - decl[i]));
		name[colon - decl[i]] = '\0';
		fn = dlsym(c->handle, name);
		if (fn == NULL || !is_code_of(c, fn))
			return set_err(ELIBACC, "%s: declared entry %s is not "
			    "a function of it", c->name, name);
		if (entry_add(c, name, colon + 1, fn) < 0)
			return -1;
	}
	return 0;
}

/*
 * The pages an object spans, from its program headers.  dl_iterate_phdr()
 * sees only the caller's namespace, so they are read where the object is
 * mapped: a shared object maps its ELF header at its base (checked).
 */
static bool
object_span(const struct link_map *lm, uintptr_t *lo, uintptr_t *hi)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)lm->l_addr;
	const ElfW(Phdr) *ph;
	int i;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > PAGE)
		return false;
	ph = (const ElfW(Phdr) *)(lm->l_addr + eh->e_phoff);
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (lm->l_addr + ph[i].p_vaddr < *lo)
			*lo = lm->l_addr + ph[i].p_vaddr;
		if (lm->l_addr + ph[i].p_vaddr + ph[i].p_memsz > *hi)
			*hi = lm->l_addr + ph[i].p_vaddr + ph[i].p_memsz;
	}
	return *hi > *lo;
}

/*
 * COMPART_REGION_DATA: the pages of the writable PT_LOAD segment of c's
 * own object (its .data and .bss; the RELRO part at its start keeps its
 * read-only protection in a window).  The statics a compartment hands
 * to others (SQLite's PRNG state, filled by the VFS's xRandomness) can
 * be shared through a window only if the host can find them.
 */
int
data_region(struct compart *c, void **addrp, size_t *lenp)
{
	struct link_map *lm;
	const ElfW(Ehdr) *eh;
	const ElfW(Phdr) *ph;
	int i;

	if (dlinfo(c->handle, RTLD_DI_LINKMAP, &lm) < 0)
		return set_err(EINVAL, "dlinfo: %s", dlerror());
	eh = (const ElfW(Ehdr) *)lm->l_addr;
	/* the headers were checked at load (object_span) */
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > PAGE)
		return set_err(ENOEXEC, "%s: no program headers", c->name);
	ph = (const ElfW(Phdr) *)(lm->l_addr + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		uintptr_t s, e;

		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_W) ||
		    ph[i].p_memsz == 0)
			continue;
		s = PAGE_DOWN(lm->l_addr + ph[i].p_vaddr);
		e = PAGE_UP(lm->l_addr + ph[i].p_vaddr + ph[i].p_memsz);
		*addrp = (void *)s;
		*lenp = e - s;
		return 0;
	}
	return set_err(ENOENT, "%s has no writable data", c->name);
}

static int
add_range_cb(void *arg, uintptr_t s, uintptr_t e, int prot)
{
	return dom_add(*(int *)arg, s, e, prot);
}

/* Every object of c's namespace but the dynamic linker (shared by all
 * namespaces, and the host's) goes into c's domain. */
static int
ranges_collect(struct compart *c)
{
	struct link_map *lm, *head;
	uintptr_t rtld = (uintptr_t)getauxval(AT_BASE);
	int idx = c->idx;

	if (dlinfo(c->shim, RTLD_DI_LINKMAP, &head) < 0)
		return set_err(ELIBACC, "dlinfo: %s", dlerror());
	while (head->l_prev != NULL)
		head = head->l_prev;
	for (lm = head; lm != NULL; lm = lm->l_next) {
		uintptr_t lo, hi;

		if (lm->l_addr == rtld || lm->l_addr == 0 ||
		    !object_span(lm, &lo, &hi))
			continue;
		if (maps_ranges(PAGE_DOWN(lo), PAGE_UP(hi), add_range_cb,
		    &idx) < 0)
			return -1;
	}
	return dom_add(idx, (uintptr_t)c->heap,
	    (uintptr_t)c->heap + c->heap_size, PROT_READ | PROT_WRITE);
}

static int
dl_errno(const char *msg)
{
	if (msg == NULL)
		return ELIBACC;
	if (strstr(msg, "static TLS") != NULL ||
	    strstr(msg, "namespace") != NULL)
		return EMFILE;
	if (strstr(msg, "invalid ELF") != NULL ||
	    strstr(msg, "ELF class") != NULL ||
	    strstr(msg, "ELF file") != NULL)
		return ENOEXEC;
	return ELIBACC;
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

/* Colocated: the shim, the object, its entries and memory.  G.lock held;
 * c->idx reserved. */
static int
load_colocated(struct compart *c, char **names,
    const struct compart_attr *attr)
{
	struct thr *t = thr_self();
	uint64_t saved = t->cur;
	const char *msg;

	if (shim_load(c) < 0)
		return -1;
	/* Constructors run as the compartment (its intercepts apply). */
	t->cur = (uint64_t)c->idx;
	G.c[c->idx] = c;
	c->handle = dlmopen(c->lmid, c->path, RTLD_NOW | RTLD_LOCAL);
	t->cur = saved;
	if (c->handle == NULL) {
		msg = dlerror();
		set_err(dl_errno(msg), "%s", msg != NULL ? msg : "dlmopen failed");
		goto fail;
	}
	c->errno_loc = (int *(*)(void))dlsym(c->handle, "__errno_location");
	if (intercepts_bind(c) < 0 || ranges_collect(c) < 0 ||
	    entries_collect(c, names, attr->entries) < 0)
		goto fail;
	return 0;
fail:
	G.c[c->idx] = NULL;
	dom_clear(c->idx);
	if (c->handle != NULL)
		dlclose(c->handle);
	c->handle = NULL;
	if (c->shim != NULL)
		dlclose(c->shim);
	c->shim = NULL;
	munmap(c->heap, c->heap_size);
	return -1;
}

/*
 * A name without a slash is looked for where the dynamic linker would
 * look by default: LD_LIBRARY_PATH, then the system's library directories.
 */
static const char *
lib_search(const char *name, char *buf, size_t len)
{
	static const char *const sys[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
		"/lib64", "/usr/lib64", "/lib", "/usr/lib",
		"/usr/local/lib", NULL,
	};
	const char *env = getenv("LD_LIBRARY_PATH");
	char dirs[4096];
	char *d, *save = NULL;
	int i;

	if (strchr(name, '/') != NULL)
		return name;
	snprintf(dirs, sizeof(dirs), "%s", env != NULL ? env : "");
	for (d = strtok_r(dirs, ":", &save); d != NULL;
	    d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/%s", d, name);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	for (i = 0; sys[i] != NULL; i++) {
		snprintf(buf, len, "%s/%s", sys[i], name);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return name;
}

compart_t *
compart_load(const char *path, const struct compart_attr *attrp)
{
	char found[PATH_MAX];
	static uint32_t gen;
	struct compart_attr attr;
	struct compart *c = NULL;
	char **names = NULL;
	const char *base;
	int idx, rc;

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
	/* Bounded before PAGE_UP() and the stack's guard page are added:
	 * near SIZE_MAX they would wrap to a tiny region. */
	if (attr.heap_size == 0 || attr.heap_size > COMPART_SIZE_MAX ||
	    attr.stack_size < 16 * 1024 || attr.stack_size > COMPART_SIZE_MAX ||
	    attr.mode < -1 || attr.mode > COMPART_PROCESS) {
		set_err(EINVAL, "bad attributes (heap %zu, stack %zu, mode %d)",
		    attr.heap_size, attr.stack_size, attr.mode);
		return NULL;
	}
	if (elf_check(path, &names, NULL, NULL) < 0)
		return NULL;
	pthread_mutex_lock(&G.lock);
	global_init();
	for (idx = 1; idx <= COMPART_MAX; idx++)
		if (G.c[idx] == NULL && !G.dom[idx].used)
			break;
	if (idx > COMPART_MAX) {
		set_err(EMFILE, "too many compartments (at most %d)",
		    COMPART_MAX);
		goto fail;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->path = strdup(path)) == NULL) {
		set_err(ENOMEM, "out of memory");
		goto fail;
	}
	c->idx = idx;
	c->gen = ++gen;
	c->mode = attr.mode >= 0 ? attr.mode : G.mode;
	if (c->mode != COMPART_PROCESS && G.mode == COMPART_PROCESS)
		c->mode = COMPART_NONE;
	if (c->mode != COMPART_PROCESS && c->mode != G.mode) {
		set_err(EINVAL, "colocated compartments share the process's "
		    "mode (%s)", compart_mode_name(G.mode));
		goto fail;
	}
	base = strrchr(path, '/');
	snprintf(c->name, sizeof(c->name), "%.63s",
	    attr.name != NULL ? attr.name : base != NULL ? base + 1 : path);
	c->heap_size = PAGE_UP(attr.heap_size);
	c->stack_size = PAGE_UP(attr.stack_size);
	G.dom[idx].used = true;
	G.dom[idx].owner = idx;
	G.dom[idx].pkey = -1;
	if (c->mode == COMPART_PROCESS) {
		rc = proc_start(c, &attr);
	} else {
		rc = iso_dom_key(idx);
		if (rc == 0)
			rc = load_colocated(c, names, &attr);
	}
	if (rc < 0) {
		G.dom[idx].used = false;
		iso_dom_key_free(idx);
		goto fail;
	}
	G.c[idx] = c;
	G.nloaded++;
	iso_recompute();
	pthread_mutex_unlock(&G.lock);
	names_free(names);
	return (compart_t *)c;
fail:
	pthread_mutex_unlock(&G.lock);
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
	pthread_mutex_lock(&G.lock);
	c = compart_get(cp);
	if (c == NULL || c->unloading) {
		pthread_mutex_unlock(&G.lock);
		return set_err(EINVAL, "not a loaded compartment");
	}
	/* The lock is dropped for the flush below: a second unload of the
	 * same compartment meanwhile must not free it twice. */
	c->unloading = true;
	idx = c->idx;
	pthread_mutex_unlock(&G.lock);
	/* What it printed and did not flush yet: its stdio is its own. */
	if (c->mode != COMPART_PROCESS &&
	    (fflush_fn = dlsym(c->handle, "fflush")) != NULL) {
		uint64_t arg = 0;

		call_in(c, fflush_fn, 1, &arg, NULL);
	}
	pthread_mutex_lock(&G.lock);
	windows_drop_owner(idx);
	windows_forget(idx);
	gates_retire(c);
	stats_forget(idx);
	G.c[idx] = NULL;
	G.nloaded--;
	if (c->mode == COMPART_PROCESS) {
		proc_stop(c);
	} else {
		dom_clear(idx);
		stacks_free(c);
		dlclose(c->handle);
		dlclose(c->shim);
		munmap(c->heap, c->heap_size);
	}
	iso_dom_key_free(idx);
	G.dom[idx].used = false;
	iso_recompute();
	pthread_mutex_unlock(&G.lock);
	compart_free_struct(c);
	return 0;
}

void *
compart_entry(compart_t *cp, const char *name)
{
	struct compart *c;
	struct gate *g;
	int i;

	pthread_mutex_lock(&G.lock);
	c = compart_get(cp);
	if (c == NULL || name == NULL) {
		pthread_mutex_unlock(&G.lock);
		set_err(EINVAL, "not a loaded compartment");
		return NULL;
	}
	i = entry_find(c, name);
	if (i < 0) {
		bool exists = false;
		char **names = NULL;

		if (c->handle != NULL)
			exists = dlsym(c->handle, name) != NULL;
		else if (elf_check(c->path, &names, name, &exists) == 0)
			names_free(names);

		pthread_mutex_unlock(&G.lock);
		if (exists)
			set_err(EPERM, "%s: %s is not an entry point", c->name,
			    name);
		else
			set_err(ENOENT, "%s: no entry point %s", c->name, name);
		return NULL;
	}
	g = gate_make(c, i);
	pthread_mutex_unlock(&G.lock);
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

	pthread_mutex_lock(&G.lock);
	c = compart_get(cp);
	if (c != NULL && name != NULL && (i = entry_find(c, name)) >= 0)
		sig = c->entries[i].sig;
	pthread_mutex_unlock(&G.lock);
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

	pthread_mutex_lock(&G.lock);
	c = compart_get(cp);
	if (c != NULL && i >= 0 && i < c->nentries)
		n = c->entries[i].name;
	pthread_mutex_unlock(&G.lock);
	if (n == NULL)
		set_err(c == NULL ? EINVAL : ENOENT, "no entry %d", i);
	return n;
}

/* Rebind every reference of into's object to sym (a relocation against
 * it in the GOT or data) to the gate of from's entry. */
int
compart_import(compart_t *intop, const char *sym, compart_t *fromp,
    const char *entry)
{
	struct compart *into;
	struct link_map *lm;
	void *thunk;
	const ElfW(Dyn) *d;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *rel[2] = { NULL, NULL };
	size_t relsz[2] = { 0, 0 }, strsz = 0;
	int done = 0, k;

	if (sym == NULL || entry == NULL)
		return set_err(EINVAL, "no symbol");
	thunk = compart_entry(fromp, entry);
	if (thunk == NULL)
		return -1;
	pthread_mutex_lock(&G.lock);
	into = compart_get(intop);
	if (into == NULL || into->mode == COMPART_PROCESS) {
		pthread_mutex_unlock(&G.lock);
		return set_err(EINVAL, "imports need a colocated compartment");
	}
	if (dlinfo(into->handle, RTLD_DI_LINKMAP, &lm) < 0) {
		pthread_mutex_unlock(&G.lock);
		return set_err(EINVAL, "dlinfo: %s", dlerror());
	}
#define ADJ(v)	((uintptr_t)(v) < lm->l_addr ? lm->l_addr + (uintptr_t)(v) : (uintptr_t)(v))
	for (d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_STRTAB: strtab = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_STRSZ:	strsz = d->d_un.d_val; break;
		case DT_RELA:	rel[0] = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_RELASZ:	relsz[0] = d->d_un.d_val; break;
		case DT_JMPREL:	rel[1] = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_PLTRELSZ: relsz[1] = d->d_un.d_val; break;
		}
	}
#undef ADJ
	for (k = 0; k < 2 && symtab != NULL && strtab != NULL; k++) {
		size_t j, n = relsz[k] / sizeof(ElfW(Rela));

		for (j = 0; rel[k] != NULL && j < n; j++) {
			const ElfW(Rela) *r = &rel[k][j];
			unsigned type = ELF64_R_TYPE(r->r_info);
			const ElfW(Sym) *s = &symtab[ELF64_R_SYM(r->r_info)];
			uintptr_t where = lm->l_addr + r->r_offset, page;
			int prot;

			if (type != R_X86_64_JUMP_SLOT &&
			    type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
				continue;
			if (ELF64_R_SYM(r->r_info) == 0 || s->st_name >= strsz ||
			    strcmp(strtab + s->st_name, sym) != 0)
				continue;
			/* The GOT may be read-only after relocation.  The
			 * relocation comes from the (untrusted) file: the
			 * word it names must be into's own memory, never the
			 * host's or another compartment's. */
			page = PAGE_DOWN(where);
			prot = -1;
			for (int q = 0; q < G.dom[into->idx].n; q++)
				if (page >= G.dom[into->idx].r[q].start &&
				    page < G.dom[into->idx].r[q].end &&
				    where + sizeof(uintptr_t) <=
				    G.dom[into->idx].r[q].end)
					prot = G.dom[into->idx].r[q].prot;
			if (prot < 0 || (where & (sizeof(uintptr_t) - 1)) != 0 ||
			    mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE) < 0)
				continue;
			*(uintptr_t *)where = (uintptr_t)thunk +
			    (type == R_X86_64_64 ? (uintptr_t)r->r_addend : 0);
			mprotect((void *)page, PAGE, prot);
			done++;
		}
	}
	pthread_mutex_unlock(&G.lock);
	if (done == 0)
		return set_err(ENOENT, "%s makes no reference to %s",
		    into->name, sym);
	return 0;
}
