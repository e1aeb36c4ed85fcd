/*
 * What the fuzz harnesses share: a private domain, a pool of descriptors
 * of every kind a hostile peer can send, a reader for the fuzz input,
 * a sender of crafted socket messages, honest raw-protocol callers, and
 * a check that an input left no descriptor open and closed none of ours.
 */
#ifndef COMSG_FUZZ_H
#define COMSG_FUZZ_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "comsg/capv.h"
#include "comsg/cocall.h"
#include "internal.h"
#include "msg.h"

/* The harness's own invariants: a failure is a finding, like a crash. */
#define FZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: FZ_CHECK(%s) failed: ",	\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* FZ_DEBUG=1 in the environment: say what each input did (to replay
 * one input and see what the harness made of it). */
extern bool fz_debug;
#define FZ_LOG(...) do {						\
	if (fz_debug) {							\
		fprintf(stderr, "fuzz: " __VA_ARGS__);			\
		fputc('\n', stderr);					\
	}								\
} while (0)

/* ---- reading the input ---- */

struct rd {
	const uint8_t	*p;
	size_t		 n;
};

uint8_t		 rd_u8(struct rd *r);		/* 0 once exhausted */
uint16_t	 rd_u16(struct rd *r);		/* little-endian */
uint32_t	 rd_u32(struct rd *r);
/* Up to want bytes: *pp points at them, the count is returned. */
size_t		 rd_bytes(struct rd *r, size_t want, const uint8_t **pp);

/* ---- descriptors ---- */

/* Kinds of descriptors a hostile peer can pass; fz_fd() makes one. */
enum fz_fdkind {
	FZ_GATE,	/* O_PATH to a live gate (a real target's) */
	FZ_BELL,	/* a real doorbell memfd: sealed, 4096 bytes */
	FZ_CHAN,	/* a fresh channel memfd: sealed, sizeof(chan_shm) */
	FZ_PIPE,	/* read end of a pipe */
	FZ_NULL,	/* /dev/null */
	FZ_MEMFD,	/* a memfd of 4096 bytes, not sealed */
	FZ_SEALED,	/* a sealed memfd of the wrong size (8192) */
	FZ_SOCK,	/* a UNIX socket */
	FZ_NKINDS
};

/* Set up once: a COMSG_DIR of our own ($TMPDIR/comsg-fuzz-UID), the
 * calling thread as an acceptor, a target to take gates and doorbells
 * from, the pool; SIGPIPE ignored. */
void		 fz_init(void);

/* Descriptor numbers fuzz_capv_env uses for inherited descriptors. */
#define FZ_FDHIGH	600

/* A new descriptor (close-on-exec, the caller's) of a kind. */
int		 fz_fd(enum fz_fdkind kind);

/* The i-th channel memfd fz_fd() made since fz_chan_reset(), mapped
 * (NULL if none): what a hostile sender keeps of what it sent.
 * fz_chan_reset() unmaps them. */
struct chan_shm	*fz_chan_map(int i);
void		 fz_chan_reset(void);

/* The doorbell of the calling (fuzz) thread's acceptor, mapped. */
struct bell_shm	*fz_bell(void);
void		 fz_ring(struct bell_shm *bell, bool connect);

/*
 * Record the descriptors open now (after set-up).  fz_done() ends an
 * input: it unmaps the channels fz_fd() made (fz_chan_reset()), then
 * aborts if a descriptor is open that was not, or closed that was.
 */
void		 fz_fd_baseline(void);
void		 fz_done(void);

/*
 * Send crafted messages on sock (non-blocking, no SIGPIPE), at most
 * maxmsgs, each read from the input as a record:
 *   u8 nfds (low 5 bits), nfds bytes (enum fz_fdkind, modulo FZ_NKINDS),
 *   u16 length, that many bytes (fewer if the input ends).
 * With seqadd != 0, seqadd is added to the 32-bit word at offset 4 of
 * each message at least 8 bytes long (the seq of struct wire_call), so
 * that inputs can name a sequence number relative to the expected one.
 * Returns the number of messages sent.
 */
int		 fz_send(int sock, struct rd *r, int maxmsgs, uint32_t seqadd);

/* A SOCK_SEQPACKET connection to a gate through /proc/self/fd/N, as any
 * holder of the target capability can make; -1 on failure. */
int		 fz_gate_connect(int gate_fd);

/*
 * An honest caller that speaks the protocol by hand (docs/protocol.md,
 * section 5): its connection, its channel mapped.  fz_caller_connect()
 * sends the connect message; fz_caller_acked() reads the service's answer
 * (non-blocking): 0 accepted, an errno refused, -1 nothing (yet).
 */
struct fz_caller {
	int		 sock;
	struct chan_shm	*shm;
	uint32_t	 seq;
};
int		 fz_caller_connect(struct fz_caller *c, int gate_fd, int32_t tid);
int		 fz_caller_acked(struct fz_caller *c);
/* Publish request bytes (in shared memory, or on the socket). */
void		 fz_caller_request(struct fz_caller *c, const void *buf,
		    size_t len, bool via_socket, struct bell_shm *bell);
void		 fz_caller_close(struct fz_caller *c);

/* A target served by the calling thread, and its gate descriptor. */
void		*fz_target_new(int *gate_fdp);

/* Is errno one of the n given? */
bool		 fz_errno_in(int e, const int *set, size_t n);

#endif
