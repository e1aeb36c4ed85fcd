/*
 * Each compartment's heap: a region mapped by the manager, handed to the
 * heap shim, a tiny allocator loaded first into the compartment's
 * namespace.  Being first, the shim heads the namespace's global scope,
 * so the compartment's malloc, free, calloc, realloc and the rest (and
 * those its own libc calls) bind to it, as LD_PRELOAD would; its
 * intercept stubs bind the same way.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

extern const char compart_shim_blob[] HIDDEN;
extern const char compart_shim_blob_end[] HIDDEN;

typedef int (*shim_init_fn)(void *, size_t,
    long (*)(int, long, long, long, long, long, long));

static int shim_fd = -1;

/* The shim as a file dlmopen() can open: a sealed memfd, made once. */
static int
shim_file(char *path, size_t len)
{
	if (shim_fd < 0) {
		size_t n = (size_t)(compart_shim_blob_end - compart_shim_blob);
		int fd = memfd_create("compart-shim.so", MFD_CLOEXEC |
		    MFD_ALLOW_SEALING);

		if (fd < 0)
			return set_err(errno, "memfd_create: %s", strerror(errno));
		if (write(fd, compart_shim_blob, n) != (ssize_t)n ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
		    F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
			close(fd);
			return set_err(EIO, "cannot write the heap shim");
		}
		shim_fd = fd;
	}
	snprintf(path, len, "/proc/self/fd/%d", shim_fd);
	return 0;
}

/* A new namespace headed by the shim, with c's heap region behind it. */
int
shim_load(struct compart *c)
{
	char path[64];
	shim_init_fn init;
	const char *msg;

	if (shim_file(path, sizeof(path)) < 0)
		return -1;
	c->heap = mmap(NULL, c->heap_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->heap == MAP_FAILED) {
		c->heap = NULL;
		return set_err(ENOMEM, "cannot map a heap of %zu bytes",
		    c->heap_size);
	}
	c->shim = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	if (c->shim == NULL) {
		msg = dlerror();
		munmap(c->heap, c->heap_size);
		c->heap = NULL;
		return set_err(msg != NULL && (strstr(msg, "namespace") ||
		    strstr(msg, "TLS")) ? EMFILE : ELIBACC,
		    "no new link-map namespace: %s", msg ? msg : "?");
	}
	if (dlinfo(c->shim, RTLD_DI_LMID, &c->lmid) < 0 ||
	    (init = (shim_init_fn)dlsym(c->shim, "compart_shim_init")) == NULL ||
	    (c->s_malloc = (void *(*)(size_t))dlsym(c->shim, "malloc")) == NULL ||
	    (c->s_free = (void (*)(void *))dlsym(c->shim, "free")) == NULL ||
	    (c->heap_lock = dlsym(c->shim, "compart_shim_lock")) == NULL ||
	    init(c->heap, c->heap_size, intercept_dispatch) < 0) {
		dlclose(c->shim);
		c->shim = NULL;
		munmap(c->heap, c->heap_size);
		c->heap = NULL;
		return set_err(ELIBACC, "the heap shim did not start");
	}
	return 0;
}

/*
 * A call into compartment idx faulted on this thread (still under its
 * protection: its memory reachable).  If it faulted inside its allocator,
 * the allocator's lock is this thread's: let go of it, or the
 * compartment's next malloc would spin for ever.  Its heap may be
 * inconsistent; that is its own state (a further fault is reported like
 * this one).  Runs on the manager's stack after the SIGSEGV handler.
 */
void
heap_fault_unlock(int idx)
{
	struct compart *c = compart_at((uint64_t)idx);
	uintptr_t me;

	if (c == NULL || c->heap_lock == NULL)
		return;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(me));
	__atomic_compare_exchange_n(c->heap_lock, &me, 0, false,
	    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}
