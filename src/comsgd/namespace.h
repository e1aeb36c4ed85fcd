/*
 * What crosses between comsgd's two halves: comsgd.c (main, options, the
 * worker threads that take requests, the reaper) and namespace.c (the
 * names, holds, rings and tokens, and the answer to each request).  The
 * namespace is guarded by ns_lock: every ns_* function and
 * handle_request() but logmsg(), ns_reopen_ro(), ns_life_set() and
 * ns_workers_set() is called with it held.
 */
#ifndef COMSGD_NAMESPACE_H
#define COMSGD_NAMESPACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/coport_int.h"

extern pthread_mutex_t ns_lock;
extern int	 reaper_wake;	/* eventfd, -1 if none: written when the
				   set of processes with holds changes */
extern bool	 verbose;	/* -v: logmsg() says what happens */

void		 logmsg(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* A reply being made: header, entries (CORQ_LIST), capabilities (ours
 * to free once delivered; ncaps -1: caps[0] is kept, not freed). */
struct reply {
	struct corp	 rp;
	uint8_t		 extra[COCALL_MAXLEN - sizeof(struct corp)];
	size_t		 len;
	void		*caps[COCALL_MAXCAPS];
	int		 ncaps;
};

/* Bounds, set once before the first request: nofile is comsgd's limit
 * on descriptors, of which the namespace keeps at most about three
 * quarters (less what nworker workers need); holds, the ports and
 * comutexes one process may hold (0: a default from nofile, at most
 * 4096).  Past its bound a process gets EMFILE; a request that would
 * take the namespace past its share, ENFILE. */
void		 ns_limits_set(long nofile, int nworker, int holds);
/* A read-only reopening of memfd fd, or -1. */
int		 ns_reopen_ro(int fd);
/* The life page to hand every holder (read-only; set once at start). */
void		 ns_life_set(int fd);

/* The workers' targets CORQ_HELLO spreads callers over (n of them; the
 * array may be filled in later, before the first request). */
void		 ns_workers_set(void **targets, int n);

/*
 * Answer request q (n bytes, from process pid, with ncaps capabilities,
 * which stay the caller's) into r: 0 or an errno.  On an error r may
 * hold capabilities already, which the caller frees.
 */
int		 handle_request(const struct corq *q, ssize_t n, pid_t pid,
		    void **caps, int ncaps, struct reply *r);

/* The reaper's view: processes with holds, by index (0 .. ns_nprocs()-1),
 * and the current pidfd of pid (-1 if it has no hold). */
int		 ns_nprocs(void);
void		 ns_proc(int i, pid_t *pidp, int *pidfdp);
int		 ns_pidfd(pid_t pid);
/* Drop every hold of pid (it died). */
void		 ns_drop_pid(pid_t pid);
/* Remove the drained rings whose senders are gone, in every port. */
void		 ns_sweep(void);

/* Messages waiting in a ring of size data bytes (a power of two), whose
 * data follow prod's header page, counted by walking its records, each
 * bounded (the sender may have scribbled). */
uint64_t	 ring_queued(const struct ring_prod *prod,
		    const struct ring_cons *cons, uint32_t size);

/* For the fuzz harness only: drop every name, hold, ring and process,
 * closing all their descriptors, as a fresh comsgd would start. */
void		 ns_reset(void);
/* Names and processes with holds now. */
int		 ns_nentries(void);

#endif
