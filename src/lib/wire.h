/*
 * Socket message formats of cocall: what travels through the kernel when a
 * channel is set up, on the slow path, and with capabilities.  Fixed-width,
 * checked at compile time, described in docs/protocol.md.  Every message
 * received is hostile input: sizes, magic and counts are checked first.
 */
#ifndef COMSG_WIRE_H
#define COMSG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "comsg/cocall.h"

#define WIRE_CONNECT	0x6e6e6f63u	/* "conn" */
#define WIRE_ACCEPT	0x74706361u	/* "acpt" */
#define WIRE_CALL	0x6c6c6163u	/* "call" */
#define WIRE_CAP	0x70616370u	/* "pcap" */
#define WIRE_VERSION	1u

/* Caller -> service, first message on a new connection to the target's
 * gate, with one descriptor: the channel memfd.  The connection itself is
 * the channel's socket from then on. */
struct wire_connect {
	uint32_t	magic;		/* WIRE_CONNECT */
	uint32_t	version;
	int32_t		tid;		/* calling thread, as the caller claims
					   (its process is the kernel's word) */
	uint32_t	chan_size;	/* sizeof(struct chan_shm) */
};
_Static_assert(sizeof(struct wire_connect) == 16, "wire layout");

/* Service -> caller on the new connection: 0 or an errno. */
struct wire_accept {
	uint32_t	magic;		/* WIRE_ACCEPT */
	uint32_t	version;
	int32_t		status;
	int32_t		pid;		/* service, for diagnostics only */
};
_Static_assert(sizeof(struct wire_accept) == 16, "wire layout");

/* A request or reply on the channel's socket: header, then len bytes;
 * the descriptors of the capabilities ride along (SCM_RIGHTS), in order,
 * each capability taking cap_nfds(kind) of them. */
struct wire_call {
	uint32_t	magic;		/* WIRE_CALL */
	uint32_t	seq;		/* the request's sequence number */
	uint32_t	len;		/* <= COCALL_MAXLEN */
	uint16_t	ncaps;		/* <= COCALL_MAXCAPS */
	uint16_t	error;		/* reply only: the call failed, errno */
	uint8_t		kinds[COCALL_MAXCAPS];	/* enum cap_kind of each */
};
_Static_assert(sizeof(struct wire_call) == 16 + COCALL_MAXCAPS, "wire layout");
_Static_assert(offsetof(struct wire_call, error) == 14, "wire layout");

/* One capability on any socket (capsend(), names, slot hand-over). */
struct wire_cap {
	uint32_t	magic;		/* WIRE_CAP */
	uint32_t	version;
	uint32_t	kind;
	uint32_t	pad;
};
_Static_assert(sizeof(struct wire_cap) == 16, "wire layout");

/* Largest SCM_RIGHTS payload any message above carries. */
#define WIRE_MAXFDS	(2 * COCALL_MAXCAPS)

#endif
