/*
 * libcomsg internals shared between its mechanisms: the capability table,
 * per-thread state, and small system helpers.  Nothing here is exported.
 */
#ifndef COMSG_INTERNAL_H
#define COMSG_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "comsg/cocall.h"
#include "shm.h"
#include "wire.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Every system call of the library goes through sys.h, never through
 * libc's wrappers, which a program may replace with code that calls comsg
 * back while we hold a lock. */
#include "sys.h"

/* ---- capabilities (cap.c) ---- */

enum cap_kind {
	CAP_TARGET = 1,		/* fd[0] gate (O_PATH to a listening socket),
				   fd[1] doorbell memfd */
	CAP_FD = 2,		/* fd[0] the wrapped descriptor */
};

#define CAP_MAX		16384	/* capabilities one process can hold */
#define CAP_LIVE	0x6c697665u

struct acceptor;
struct svc_chan;

struct cap {
	uint32_t	 magic;		/* CAP_LIVE while the slot is in use */
	uint32_t	 gen;		/* bumped when freed: stale channels notice */
	enum cap_kind	 kind;
	int		 fd[2];		/* -1 where unused */
	/* targets this process serves (set by coregister, owner thread only) */
	struct acceptor	*server;	/* serving thread's state, NULL if none */
	int		 listen_fd;	/* the gate's listening socket */
	uint64_t	 label;
	int		 name_fd;	/* listening name socket, or -1 */
	char		 name[COCALL_NAMEMAX + 1];
	char		*name_path;	/* where name_fd is bound (malloc'd) */
};

HIDDEN int	 cap_nfds(enum cap_kind kind);
HIDDEN struct cap *cap_get(void *p, enum cap_kind kind);	/* NULL: EINVAL set */
HIDDEN int	 cap_index(const struct cap *c);
HIDDEN struct cap *cap_new(enum cap_kind kind, const int *fds);	/* takes fds */
HIDDEN struct cap *cap_import(enum cap_kind kind, const int *fds, bool owned);
HIDDEN int	 gate_connect(struct cap *c);
HIDDEN void	 cap_release(struct cap *c);
HIDDEN int	 cap_set_inherit(struct cap *c, bool inherit);
HIDDEN int	 fd_sendmsg(int sock, const void *hdr, size_t hdrlen,
		    const void *body, size_t bodylen, const int *fds, int nfds,
		    int flags);
HIDDEN int	 cap_sendmsg(int sock, const void *hdr, size_t hdrlen,
		    const void *body, size_t bodylen, struct cap *const *caps,
		    int ncaps, int flags);
HIDDEN ssize_t	 cap_recvmsg(int sock, struct iovec *iov, int iovcnt, int *fds,
		    int *nfds, bool *truncated, bool *ctrunc, int flags);
HIDDEN int	 cap_unpack(const uint8_t *kinds, int ncaps, int *fds, int nfds,
		    void **caps, int room);
HIDDEN void	 cap_lock(void);
HIDDEN void	 cap_unlock(void);

/* ---- domain (domain.c) ---- */

HIDDEN int	 domain_dir(char *buf, size_t size);	/* the domain's directory */
HIDDEN int	 domain_from(const char *comsg_dir, const char *xdg_runtime_dir,
		    const char *home, uid_t uid, char *buf, size_t size);
struct sockaddr_un;
HIDDEN int	 unix_addr(const char *path, struct sockaddr_un *sun,
		    int *dirfdp);
HIDDEN char	*proc_environ(pid_t pid, size_t *lenp, uid_t *uidp);
HIDDEN const char *env_lookup(const char *env, size_t len, const char *var);
HIDDEN int	 domain_subdir(const char *sub, char *buf, size_t size);
HIDDEN int	 name_check(const char *name, size_t max);

/* ---- fork (thread.c owns it; these are the other modules' parts) ----
 *
 * X_lock, X_unlock: a module's locks that nothing else is taken under
 * (leaf locks), taken before fork() so that the child finds its tables
 * whole; X_atfork_child: in the child, let go of what is the parent's.
 */
HIDDEN void	 coports_lock(void);		/* coport.c: the handles */
HIDDEN void	 coports_unlock(void);
HIDDEN void	 coports_atfork_child(void);
HIDDEN void	 comutexes_lock(void);		/* comutex.c */
HIDDEN void	 comutexes_unlock(void);
HIDDEN void	 comutex_atfork_child(void);
HIDDEN void	 carrier_accts_lock(void);	/* carrier_bound.c */
HIDDEN void	 carrier_accts_unlock(void);

/* ---- names (names.c) ---- */

HIDDEN int	 names_publish(struct cap *c, const char *name);
HIDDEN void	 names_withdraw(struct cap *c);
HIDDEN void	 names_atfork_child(void);
HIDDEN void	 names_lock(void);
HIDDEN void	 names_unlock(void);

/* ---- capability vector (capv.c) ---- */

HIDDEN void	 capv_init(void);
HIDDEN void	 capv_lock(void);
HIDDEN void	 capv_unlock(void);
HIDDEN void	 capv_forget(struct cap *c);
HIDDEN char	*capv_encode(void **capv, int capc);	/* malloc'd */
HIDDEN int	 capv_decode(const char *s, int *capcp, void ***capvp,
		    int (*getfd)(int fd, void *arg), void *arg, bool owned);

/* ---- calls (cocall.c, coaccept.c) ---- */

/*
 * Adaptive spinning: spin while it pays (the peer answers within the
 * budget, so it runs on another CPU); after a few waits that ended asleep,
 * stop spinning and probe again now and then.  On one CPU, never spin.
 */
struct spin {
	uint8_t		 misses;	/* waits in a row that ended asleep */
	uint8_t		 probe;
};
HIDDEN unsigned	 spin_start(struct spin *s);	/* iterations to spin now */
HIDDEN void	 spin_done(struct spin *s, bool slept);

struct caller_chan {
	struct cap	*target;
	uint32_t	 gen;		/* target->gen when connected */
	struct chan_shm	*shm;
	struct bell_shm	*bell;		/* our own mapping of the doorbell */
	int		 sock;		/* our connection to the gate */
	uint32_t	 seq;		/* last request number sent */
	struct spin	 spin;
};

struct cothread {
	pid_t			 tid;
	struct caller_chan	**chans;	/* by cap index, CAP_MAX entries */
	struct acceptor		*acc;		/* NULL until coregister/coaccept */
};

HIDDEN struct cothread *cothread_get(void);	/* NULL: ENOMEM set */
HIDDEN void	 caller_thread_exit(struct cothread *t);
HIDDEN void	 caller_atfork_child(struct cothread *t);
HIDDEN void	 caller_forget(struct cothread *t, struct cap *c);
HIDDEN struct acceptor *acceptor_get(struct cothread *t);
HIDDEN int	 acceptor_add_target(struct acceptor *a, struct cap *c);
HIDDEN void	 acceptor_remove_target(struct acceptor *a, struct cap *c);
HIDDEN void	 acceptor_thread_exit(struct acceptor *a);
HIDDEN void	 acceptor_atfork_child(struct acceptor *a);
HIDDEN void	 callers_lock(void);
HIDDEN void	 callers_unlock(void);
HIDDEN void	 callers_atfork_child(void);
HIDDEN int	 acceptor_bell_fd(struct acceptor *a);

/* Spin budget, calibrated once: pause iterations worth about SPIN_NS. */
#define SPIN_NS		30000
HIDDEN unsigned	 spin_budget(void);
HIDDEN void	 thread_init(void);

/* ---- small system helpers (sys.c) ---- */

HIDDEN int	 futex_wait(uint32_t *word, uint32_t val, int timeout_ms);
HIDDEN void	 futex_wake(uint32_t *word);
HIDDEN int64_t	 now_ms(void);
HIDDEN int	 mono_clock(struct timespec *ts);	/* never interposed */
HIDDEN int	 deadline_left(int64_t deadline, int slice_ms);	/* -1: passed */
HIDDEN bool	 sock_hungup(int sock);
HIDDEN int	 memfd_sealed_map(int fd, size_t size, void **mapp);

/* memcpy that allows NULL with a zero length (memcpy itself does not). */
static inline void
copy_bytes(void *dst, const void *src, size_t n)
{
	if (n > 0)
		__builtin_memcpy(dst, src, n);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Shared-memory words are plain fixed-width fields; access them with these. */
#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define FENCE()		__atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Liveness is checked at least this often while sleeping. */
#define SLEEP_SLICE_MS	20

#endif
