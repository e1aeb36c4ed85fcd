/*
 * Shared-memory layouts of cocall: the channel (one per calling thread and
 * target) and the doorbell (one per accepting thread).  These are wire
 * formats: fixed-width fields, no pointers, checked at compile time and
 * described in docs/protocol.md.  Everything here can be written by the
 * other party at any moment: read each field once, bound it, never trust it.
 */
#ifndef COMSG_SHM_H
#define COMSG_SHM_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "comsg/cocall.h"

#define CHAN_MAGIC	0x6e616863u	/* "chan" */
#define BELL_MAGIC	0x6c6c6562u	/* "bell" */
#define SHM_VERSION	1u

/* rep_flags / req_flags: the bytes (and capabilities) travel on the socket. */
#define CHAN_VIA_SOCKET	0x1u
/* rep_flags: the service could not take the call; rep_len is the errno. */
#define CHAN_ERROR	0x2u

/*
 * The caller's line (offset 0) is written only by the caller, the
 * service's line (offset 128) only by the service; 128 bytes apart so that
 * an adjacent-line prefetcher never pairs them.  Sequence numbers are the
 * publication points: the bytes, length and flags are written before the
 * sequence number is stored with release order, and read after it is
 * loaded with acquire order.
 */
struct chan_shm {
	/* caller's line */
	uint32_t	magic;			/* CHAN_MAGIC */
	uint32_t	version;		/* SHM_VERSION */
	uint32_t	req_seq;		/* call number; futex-free */
	uint32_t	req_len;		/* <= COCALL_MAXLEN */
	uint32_t	req_flags;		/* CHAN_VIA_SOCKET */
	uint32_t	caller_sleeping;	/* 1: caller waits on rep_seq */
	uint8_t		caller_pad[104];
	/* service's line */
	alignas(128) uint32_t rep_seq;		/* futex word of the caller */
	uint32_t	rep_len;
	uint32_t	rep_flags;
	uint32_t	service_sleeping;	/* 1: ring the doorbell */
	uint8_t		service_pad[112];
	/* bytes */
	uint8_t		req[COCALL_MAXLEN];
	uint8_t		rep[COCALL_MAXLEN];
};

_Static_assert(offsetof(struct chan_shm, req_seq) == 8, "chan layout");
_Static_assert(offsetof(struct chan_shm, caller_sleeping) == 20, "chan layout");
_Static_assert(offsetof(struct chan_shm, rep_seq) == 128, "chan layout");
_Static_assert(offsetof(struct chan_shm, service_sleeping) == 140, "chan layout");
_Static_assert(offsetof(struct chan_shm, req) == 256, "chan layout");
_Static_assert(offsetof(struct chan_shm, rep) == 256 + COCALL_MAXLEN, "chan layout");
_Static_assert(sizeof(struct chan_shm) == 256 + 2 * COCALL_MAXLEN, "chan layout");

/*
 * The doorbell of an accepting thread, mapped by every holder of a
 * capability to any of its targets.  Anyone can ring it for nothing, and
 * nothing more: the service reads it only to decide whether to look.
 */
struct bell_shm {
	uint32_t	magic;		/* BELL_MAGIC */
	uint32_t	version;	/* SHM_VERSION */
	uint32_t	ring;		/* futex word of the service: bumped to wake it */
	uint32_t	connects;	/* bumped by a caller that sent a connect */
	uint8_t		pad[4080];
};

_Static_assert(offsetof(struct bell_shm, ring) == 8, "bell layout");
_Static_assert(offsetof(struct bell_shm, connects) == 12, "bell layout");
_Static_assert(sizeof(struct bell_shm) == 4096, "bell layout");

#endif
