/*
 * The loader: checks that a file is an ELF shared object for this
 * machine, loads it into a link-map namespace of its own behind the heap
 * shim, finds its entry points, records its memory in its protection
 * domain, rebinds its references to other compartments' entries
 * (imports), and unloads it.  It changes only the compartment it is
 * given, through iso.c its domain, and through table.c what its reserved
 * index names while it loads.
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

/* The ELF header: a shared object for x86-64, with section headers
 * inside the file and aligned. */
static int
elf_header_check(const unsigned char *m, size_t sz, const char *path)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return set_err(ENOEXEC, "%s: not an ELF file", path);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return set_err(ENOEXEC, "%s: ELF for another machine", path);
	if (eh->e_type != ET_DYN)
		return set_err(ENOEXEC, "%s: not an ELF shared object", path);
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > sz ||
	    eh->e_shoff % _Alignof(Elf64_Shdr) != 0 ||
	    (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > sz - eh->e_shoff)
		return set_err(ENOEXEC, "%s: bad section headers", path);
	return 0;
}

/* Append a copy of name to the NULL-terminated array *namesp of *np. */
static int
names_add(char ***namesp, int *np, const char *name)
{
	char **nn = realloc(*namesp, (size_t)(*np + 2) * sizeof(**namesp));

	if (nn == NULL)
		return set_err(ENOMEM, "out of memory");
	*namesp = nn;
	nn[*np] = strdup(name);
	if (nn[*np] == NULL)
		return set_err(ENOMEM, "out of memory");
	nn[++*np] = NULL;
	return 0;
}

/* The names of the entry descriptors among the symbols of .dynsym sh
 * (strings in its linked section), into *namesp; *found if want is one
 * of the symbols. */
static int
dynsym_scan(const unsigned char *m, size_t sz, const Elf64_Shdr *sh,
    const char *path, char ***namesp, const char *want, bool *found)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m;
	const Elf64_Shdr *str;
	const Elf64_Sym *sym;
	size_t k, nsym;
	int n = 0;

	if (sh->sh_link >= eh->e_shnum || sh->sh_offset > sz ||
	    sh->sh_offset % _Alignof(Elf64_Sym) != 0 ||
	    sh->sh_size > sz - sh->sh_offset)
		return set_err(ENOEXEC, "%s: bad .dynsym", path);
	str = (const Elf64_Shdr *)(m + eh->e_shoff) + sh->sh_link;
	if (str->sh_offset > sz || str->sh_size > sz - str->sh_offset)
		return set_err(ENOEXEC, "%s: bad .dynstr", path);
	sym = (const Elf64_Sym *)(m + sh->sh_offset);
	nsym = sh->sh_size / sizeof(Elf64_Sym);
	for (k = 0; k < nsym; k++) {
		const char *nm;

		if (sym[k].st_name >= str->sh_size ||
		    sym[k].st_shndx == SHN_UNDEF)
			continue;
		nm = (const char *)m + str->sh_offset + sym[k].st_name;
		if (memchr(nm, '\0', str->sh_size - sym[k].st_name) == NULL)
			continue;
		if (want != NULL && strcmp(nm, want) == 0)
			*found = true;
		if (strncmp(nm, ENTRY_PREFIX, strlen(ENTRY_PREFIX)) == 0 &&
		    names_add(namesp, &n, nm + strlen(ENTRY_PREFIX)) < 0)
			return -1;
	}
	return 0;
}

/*
 * Check the file: an ELF shared object for x86-64.  Collect the names of
 * its entry descriptors from .dynsym (the file is untrusted: every offset
 * is checked against its size and alignment; only the first .dynsym
 * counts, as the gABI has one).  *namesp: a NULL-terminated array.
 */
int
elf_check(const char *path, char ***namesp, const char *want, bool *found)
{
	unsigned char *m;
	const Elf64_Ehdr *eh;
	char **names = NULL;
	int rc = -1;
	size_t sz, i;

	*namesp = NULL;
	if ((m = file_read(path, &sz)) == NULL)
		return -1;
	if (elf_header_check(m, sz, path) < 0)
		goto out;
	eh = (const Elf64_Ehdr *)m;
	names = calloc(1, sizeof(*names));
	if (names == NULL) {
		set_err(ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(m + eh->e_shoff) + i;

		if (sh->sh_type != SHT_DYNSYM)
			continue;
		if (dynsym_scan(m, sz, sh, path, &names, want, found) < 0)
			goto out;
		break;
	}
	*namesp = names;
	names = NULL;
	rc = 0;
out:
	names_free(names);
	free(m);
	return rc;
}

void
names_free(char **names)
{
	int i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* fn must be code of c: inside one of its executable ranges. */
static bool
is_code_of(struct compart *c, void *fn)
{
	int prot = dom_prot_at(c->idx, (uintptr_t)fn, NULL);

	return prot >= 0 && (prot & PROT_EXEC) != 0;
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
	uintptr_t a = (uintptr_t)p, end;
	int prot = dom_prot_at(c->idx, a, &end);
	size_t room, n;

	if (prot < 0 || !(prot & PROT_READ))
		return -1;
	room = end - a;
	n = strnlen(p, room < len ? room : len);
	if (n == room || n == len)
		return -1;
	memcpy(buf, p, n + 1);
	return 0;
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
		if (dom_add_mapped(idx, PAGE_DOWN(lo), PAGE_UP(hi)) < 0)
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

/* Colocated: the shim, the object, its entries and memory.  Lock held;
 * c->idx reserved, and its domain. */
int
loader_load(struct compart *c, char **names, const struct compart_attr *attr)
{
	struct thr *t = thr_self();
	uint64_t saved = t->cur;
	const char *msg;

	if (shim_load(c) < 0)
		return -1;
	/* Constructors run as the compartment (its intercepts apply, and
	 * intercept_dispatch() finds it in the table). */
	t->cur = (uint64_t)c->idx;
	table_set(c->idx, c);
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
	table_set(c->idx, NULL);
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
const char *
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


/* Unload c's object, its shim, its heap (its domain cleared first and
 * its stacks freed, by the caller).  Lock held. */
void
loader_unload(struct compart *c)
{
	dlclose(c->handle);
	dlclose(c->shim);
	munmap(c->heap, c->heap_size);
}

/* Does c's object define name (be it an entry point or not)? */
bool
loader_defines(struct compart *c, const char *name)
{
	bool exists = false;
	char **names = NULL;

	if (c->handle != NULL)
		exists = dlsym(c->handle, name) != NULL;
	else if (elf_check(c->path, &names, name, &exists) == 0)
		names_free(names);
	return exists;
}

/* What an import needs of an object's dynamic section: its symbols and
 * its two tables of relocations with addends. */
struct dyn {
	const ElfW(Sym)	*symtab;
	const char	*strtab;
	size_t		 strsz;
	const ElfW(Rela) *rel[2];
	size_t		 relsz[2];
};

static void
dyn_read(const struct link_map *lm, struct dyn *dy)
{
	const ElfW(Dyn) *d;

	memset(dy, 0, sizeof(*dy));
#define ADJ(v)	((uintptr_t)(v) < lm->l_addr ? lm->l_addr + (uintptr_t)(v) : (uintptr_t)(v))
	for (d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: dy->symtab = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_STRTAB: dy->strtab = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_STRSZ:	dy->strsz = d->d_un.d_val; break;
		case DT_RELA:	dy->rel[0] = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_RELASZ:	dy->relsz[0] = d->d_un.d_val; break;
		case DT_JMPREL:	dy->rel[1] = (const void *)ADJ(d->d_un.d_ptr); break;
		case DT_PLTRELSZ: dy->relsz[1] = d->d_un.d_val; break;
		}
	}
#undef ADJ
}

/* Point the word that relocation r of into's object fills at thunk: 0,
 * or -1 if that word is not into's own memory. */
static int
reloc_rebind(struct compart *into, uintptr_t base, const ElfW(Rela) *r,
    void *thunk)
{
	uintptr_t where = base + r->r_offset, page = PAGE_DOWN(where), end;
	int prot;

	/* The GOT may be read-only after relocation.  The relocation comes
	 * from the (untrusted) file: the word it names must be into's own
	 * memory, never the host's or another compartment's. */
	prot = dom_prot_at(into->idx, page, &end);
	if (prot < 0 || where + sizeof(uintptr_t) > end ||
	    (where & (sizeof(uintptr_t) - 1)) != 0 ||
	    mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE) < 0)
		return -1;
	*(uintptr_t *)where = (uintptr_t)thunk +
	    (ELF64_R_TYPE(r->r_info) == R_X86_64_64 ? (uintptr_t)r->r_addend : 0);
	mprotect((void *)page, PAGE, prot);
	return 0;
}

/* Rebind every reference of into's object to sym (a relocation against
 * it in the GOT or data) to thunk.  Lock held. */
int
loader_import(struct compart *into, const char *sym, void *thunk)
{
	struct link_map *lm;
	struct dyn dy;
	int done = 0, k;

	if (dlinfo(into->handle, RTLD_DI_LINKMAP, &lm) < 0)
		return set_err(EINVAL, "dlinfo: %s", dlerror());
	dyn_read(lm, &dy);
	for (k = 0; k < 2 && dy.symtab != NULL && dy.strtab != NULL; k++) {
		size_t j, n = dy.relsz[k] / sizeof(ElfW(Rela));

		for (j = 0; dy.rel[k] != NULL && j < n; j++) {
			const ElfW(Rela) *r = &dy.rel[k][j];
			unsigned type = ELF64_R_TYPE(r->r_info);
			const ElfW(Sym) *s = &dy.symtab[ELF64_R_SYM(r->r_info)];

			if (type != R_X86_64_JUMP_SLOT &&
			    type != R_X86_64_GLOB_DAT && type != R_X86_64_64)
				continue;
			if (ELF64_R_SYM(r->r_info) == 0 || s->st_name >= dy.strsz ||
			    strcmp(dy.strtab + s->st_name, sym) != 0)
				continue;
			if (reloc_rebind(into, lm->l_addr, r, thunk) == 0)
				done++;
		}
	}
	if (done == 0)
		return set_err(ENOENT, "%s makes no reference to %s",
		    into->name, sym);
	return 0;
}
