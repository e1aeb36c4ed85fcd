/*
 * Shared-memory layouts and request formats of the comsg microkernel:
 * a port's state page and bell page, a COCHANNEL sender's ring, a COPIPE
 * pair, a comutex page, and the requests comsgd answers.  Wire
 * formats: fixed-width fields, no pointers, checked at compile time,
 * described in docs/protocol.md.  Every field another process can write
 * is read once, bounded, and never trusted.
 */
#ifndef COMSG_COPORT_SHM_H
#define COMSG_COPORT_SHM_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "comsg/coport.h"

#define COPORT_SHM_VERSION	4u
#define PAGE			4096u

#define STATE_MAGIC	0x74617473u	/* "stat" */
#define RING_MAGIC	0x676e6972u	/* "ring" */
#define MUTEX_MAGIC	0x7874756du	/* "mutx" */
#define LIFE_MAGIC	0x6566696cu	/* "life" */

/* coport_state.flags */
#define STATE_HAD_SENDER	0x1u	/* some holder had the send right */
#define STATE_HAD_RECEIVER	0x2u
#define STATE_DEAD		0x4u	/* comsgd destroyed the port */

/*
 * Written by comsgd only; holders map it read-only (the memfd is sealed
 * against any new writable mapping once comsgd has its own).
 */
struct coport_state {
	uint32_t	magic;		/* STATE_MAGIC */
	uint32_t	version;
	uint32_t	type;		/* coport_type_t */
	uint32_t	ring_size;	/* COCHANNEL, COCARRIER: data bytes of
					   each ring */
	uint32_t	ring_gen;	/* bumped when the set of rings changes */
	uint32_t	senders;	/* processes holding the send right */
	uint32_t	receivers;	/* ... the receive right */
	uint32_t	flags;		/* STATE_* */
	uint64_t	queue_max;	/* COCARRIER: bytes one sender may have
					   waiting */
	uint8_t		pad[PAGE - 40];
};
_Static_assert(offsetof(struct coport_state, ring_gen) == 16, "state layout");
_Static_assert(offsetof(struct coport_state, flags) == 28, "state layout");
_Static_assert(offsetof(struct coport_state, queue_max) == 32, "state layout");
_Static_assert(sizeof(struct coport_state) == PAGE, "state layout");

/*
 * One per comsgd, mapped read-only by every holder of a port it made.
 * owner is the thread id of a comsgd thread that lives as long as comsgd,
 * and the word is on that thread's robust futex list: however comsgd ends
 * (killed included), the kernel sets FUTEX_OWNER_DIED in it.  From then on
 * the state pages of comsgd's ports no longer change, and the holders
 * decide the end of a stream by the port's presence pipe (coports.md).
 */
struct comsgd_life {
	uint32_t	magic;		/* LIFE_MAGIC */
	uint32_t	version;
	alignas(64) uint32_t owner;	/* tid; | FUTEX_OWNER_DIED once gone */
	uint8_t		pad[PAGE - 68];
};
_Static_assert(offsetof(struct comsgd_life, owner) == 64, "life layout");
_Static_assert(sizeof(struct comsgd_life) == PAGE, "life layout");

/*
 * Mapped read-write by every holder: only wake-up words, which any holder
 * can spoil for nothing more than a spurious wake-up or a sleep cut short
 * by the next slice.  "in" wakes those waiting to receive, "out" those
 * waiting to send; a waiter bumps *_sleepers, re-checks, then sleeps on
 * *_seq; a party that made progress bumps *_seq and wakes if sleepers.
 */
struct coport_bell {
	uint32_t	in_seq;
	uint32_t	in_sleepers;
	uint8_t		in_pad[120];
	alignas(128) uint32_t out_seq;
	uint32_t	out_sleepers;
	uint8_t		out_pad[120];
	alignas(128) uint32_t pipe_senders;	/* COPIPE senders waiting */
	uint32_t	pipe_wanted;		/* ... that ask for a new pair */
	/* COCARRIER: messages sent and received through the port's socket
	 * (not the rings): cops, and a receiver's order rule (cocarrier.c) */
	uint64_t	carrier_sent;
	uint64_t	carrier_received;
	uint32_t	pipe_offers;		/* bumped by a COPIPE receiver
						   that queued a ticket */
	/* COCARRIER: receivers' threads in corecv() (a sender whose record
	 * no one took waits for them rather than take it back) */
	alignas(64) uint32_t carrier_receiving;
	uint8_t		pad[PAGE - 324];
};
_Static_assert(offsetof(struct coport_bell, out_seq) == 128, "bell layout");
_Static_assert(offsetof(struct coport_bell, pipe_senders) == 256, "bell layout");
_Static_assert(offsetof(struct coport_bell, carrier_sent) == 264, "bell layout");
_Static_assert(offsetof(struct coport_bell, pipe_offers) == 280, "bell layout");
_Static_assert(offsetof(struct coport_bell, carrier_receiving) == 320, "bell layout");
_Static_assert(sizeof(struct coport_bell) == PAGE, "bell layout");

/* Ports whose senders have rings (registered with comsgd). */
static inline int
port_has_rings(uint32_t type)
{
	return type == COCHANNEL || type == COCARRIER;
}

/*
 * A COCHANNEL or COCARRIER ring: one per sending process and port, in two
 * memfds.
 * The producer memfd (header page, then `size` data bytes) is written by
 * its sender through the one writable mapping it made before sealing
 * F_SEAL_FUTURE_WRITE; receivers map it read-only.  The consumer page is
 * written by receivers (and read by the sender).
 *
 * Records start 8-aligned at free-running byte positions: an 8-byte
 * header (length), then the bytes, padded to 8; a record may wrap.  The
 * sender writes a record, then stores prod (release).  A receiver loads
 * prod (acquire), copies the record at cons, then claims it by CAS on cons
 * (seq_cst): the sender reuses space only below cons, so a copy made
 * before a successful CAS was stable.  A receiver that fails the CAS
 * copied a record another took, and tries again.
 */
struct ring_prod {
	uint32_t	magic;		/* RING_MAGIC */
	uint32_t	version;
	uint32_t	size;		/* data bytes: a power of two */
	uint32_t	pad0;
	alignas(64) uint64_t prod;	/* end of the last published record */
	uint64_t	writing;	/* COCARRIER: end of the record the sender
					   is writing (stored before its bytes) */
	uint64_t	filled;		/* COCARRIER: end of its bytes written so
					   far (every CARRIER_CHUNK) */
	uint8_t		pad[PAGE - 88];
	/* data follows at offset PAGE */
};
_Static_assert(offsetof(struct ring_prod, prod) == 64, "ring layout");
_Static_assert(offsetof(struct ring_prod, writing) == 72, "ring layout");
_Static_assert(offsetof(struct ring_prod, filled) == 80, "ring layout");
/* COCARRIER: a record's bytes are published in pieces of this many, so a
 * receiver copies behind its sender. */
#define CARRIER_CHUNK	((uint64_t)64 << 10)
_Static_assert(sizeof(struct ring_prod) == PAGE, "ring layout");

struct ring_cons {
	uint64_t	cons;		/* start of the next unclaimed record */
	alignas(64) uint64_t taking;	/* COCARRIER: the record a receiver
					   started to copy (odd: none yet) */
	uint8_t		pad[PAGE - 72];
};
_Static_assert(offsetof(struct ring_cons, taking) == 64, "ring layout");
_Static_assert(sizeof(struct ring_cons) == PAGE, "ring layout");

struct ring_rec {
	uint32_t	len;		/* bytes that follow */
	uint32_t	check;		/* RING_REC_CHECK(len, its position) */
};
_Static_assert(sizeof(struct ring_rec) == 8, "ring layout");

/*
 * A record header's check: ~len, bound to the record's place in the ring
 * (its 8-byte slot, counted from the start).  A torn or foreign header
 * shows; so does what a receiver finds where a hostile one moved the
 * consumer position into a message's bytes, unless those bytes were made
 * to look like a header for that very place.
 */
#define RING_REC_CHECK(len, pos) \
	(~(uint32_t)(len) ^ (uint32_t)((uint64_t)(pos) >> 3))

/*
 * Bytes a record of len takes: computed in 64 bits, so exact for any len
 * up to UINT32_MAX (all a record header can say).  A length a caller
 * gives is checked against RING_MSG_MAX first: near SIZE_MAX the sum
 * would wrap to a small size.
 */
#define RING_REC_SIZE(len)	(8u + (((uint64_t)(len) + 7u) & ~(uint64_t)7u))
/* The longest message a ring of size bytes (a multiple of 8) takes. */
#define RING_MSG_MAX(size)	((uint64_t)(size) - sizeof(struct ring_rec))

/*
 * A COPIPE pair: one per (receiving opening, sending opening) of a port,
 * made by the receiver (a memfd: this page, then the pool), offered to
 * the senders as a ticket on the port's socket, and kept by the sender
 * that takes it.  Only those two map it, both read-write, so a sender
 * writes only into pools its receivers gave it alone, and no sender can
 * touch another's messages.  The receiver grows the pool (ftruncate) and
 * sealed it against shrinking; both map PAIR_POOL_MAX bytes of pool at
 * once, and the sender touches only what fstat() showed it exists.
 *
 * status is the one word both change, always by CAS: a round number
 * (PAIR_ROUND) and a state (PAIR_STATE).  The receiver opens an area
 * (area_off, area_cap: written first, published by the CAS that makes
 * OPEN(n)); one sender claims it (OPEN(n)->CLAIMED(n+1)), copies its
 * message in, writes msglen and fills it (CLAIMED->FILLED).  The message
 * is received when the receiver accepts it (FILLED(m)->HELD(m+1)): the
 * sender waits for the round to move past m.  Until then either side may
 * undo it (the receiver: CLAIMED of a dead claimer ->HELD(m+1); the
 * sender: FILLED->OPEN to take it elsewhere, or ->CLOSED), so a message
 * is received exactly once or stays with its sender.  A message the
 * receiver's call is too small for stays, marked (FILLED(m)->TOOSMALL(m))
 * until a later call accepts it (->HELD(m+1)) or its sender takes it back
 * (->OPEN(m)); a message too long for the area is the sender's mark
 * (OPEN(n)->TOOSMALL(n+1)), taken back when its cosend() returns.  Every
 * move out of OPEN, and every acceptance, goes to the next round, so a
 * word never comes back (short of 2^28 moves): what a side read under a
 * word (msglen, the area) is what a CAS from that word decides on.
 * CLOSED keeps the round it had: a sender whose FILLED(m) became
 * CLOSED(m) was not received; CLOSED(m+1) was.
 */
#define PAIR_MAGIC	0x72696170u	/* "pair" */
#define PAIR_POOL_MAX	((uint64_t)1 << 29)	/* the pool's reach */

#define PAIR_OPEN	1u	/* receiver: the area takes the next message */
#define PAIR_CLAIMED	2u	/* a sender copies into it */
#define PAIR_FILLED	3u	/* msglen bytes there, not yet accepted */
#define PAIR_TOOSMALL	4u	/* the sender's message (msglen) did not fit */
#define PAIR_HELD	5u	/* the receiver's: accepted, or between areas */
#define PAIR_CLOSED	6u	/* one side left the pair: for good */
#define PAIR_STATE(w)	((w) & 0xfu)
#define PAIR_ROUND(w)	((w) >> 4)
#define PAIR_WORD(round, state)	(((uint32_t)(round) << 4) | (state))
#define PAIR_NEXT_ROUND(round)	(((round) + 1) & 0x0fffffffu)

struct pipe_pair {
	uint32_t	magic;		/* PAIR_MAGIC */
	uint32_t	version;
	uint32_t	rx_pid;		/* the receiver's process */
	uint32_t	rx_id;		/* which of its openings of the port */
	/* the receiver's line */
	alignas(128) uint64_t area_off;	/* in the pool */
	uint64_t	area_cap;	/* bytes the area takes */
	uint32_t	rx_waiting;	/* 1: the receiver is in corecv() */
	uint32_t	pad1;
	/* the sender's line */
	alignas(128) uint64_t msglen;	/* FILLED, TOOSMALL: its message */
	uint32_t	tx_pid;		/* the sender's process, once taken */
	uint32_t	tx_sleeping;	/* the sender sleeps on status */
	alignas(128) uint32_t status;	/* PAIR_WORD(round, state) */
	uint8_t		pad[PAGE - 388];
	/* the pool follows at offset PAGE */
};
_Static_assert(offsetof(struct pipe_pair, area_off) == 128, "pair layout");
_Static_assert(offsetof(struct pipe_pair, msglen) == 256, "pair layout");
_Static_assert(offsetof(struct pipe_pair, status) == 384, "pair layout");
_Static_assert(sizeof(struct pipe_pair) == PAGE, "pair layout");

/* mutex_shm.state */
#define MUTEX_CONSISTENT	0u
#define MUTEX_INCONSISTENT	1u	/* taken with EOWNERDEAD, not repaired */
#define MUTEX_NOTRECOVERABLE	2u

/*
 * A comutex page, read-write for every holder.  word is the futex: 0 when
 * free, else the holder's thread id, with MUTEX_WAITERS set when someone
 * sleeps on it.  A waiter that finds the holder's thread gone takes the
 * word over by CAS and reports EOWNERDEAD.
 */
#define MUTEX_WAITERS	0x80000000u
#define MUTEX_TID	0x3fffffffu
struct mutex_shm {
	uint32_t	magic;		/* MUTEX_MAGIC */
	uint32_t	version;
	alignas(64) uint32_t word;
	uint32_t	state;		/* MUTEX_* */
	uint8_t		pad[PAGE - 72];
};
_Static_assert(offsetof(struct mutex_shm, word) == 64, "mutex layout");
_Static_assert(sizeof(struct mutex_shm) == PAGE, "mutex layout");

/*
 * What travels on a COCARRIER socket (a message: the sealed memfd rides
 * along) and on a COPIPE socket (a ticket: a new pair's memfd).
 * One descriptor per datagram; anything else is dropped.  A COPIPE
 * ticket's len is the capacity of the pair's first area.
 */
#define CARRIER_MAGIC	0x72726163u	/* "carr" */
#define TICKET_MAGIC	0x74656b74u	/* "tket" */
struct port_dgram {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	len;		/* message length / area capacity */
};
_Static_assert(sizeof(struct port_dgram) == 16, "dgram layout");

/* ---- requests to comsgd (cocallv; descriptors ride as capabilities) ---- */

#define CORQ_MAGIC	0x7172736du	/* "msrq" */

enum corq_op {
	CORQ_HELLO = 1,		/* -> cap: the worker target to use */
	CORQ_OPEN,		/* name, type, ring_size -> port */
	CORQ_ATTACH,		/* cap: token -> port */
	CORQ_CLOSE,		/* handle */
	CORQ_TOKEN,		/* handle, rights -> cap: token */
	CORQ_ADDRING,		/* handle; caps: prod, cons -> ring id */
	CORQ_RINGS,		/* handle, first -> rings from first */
	CORQ_MUTEX,		/* name -> handle; cap: mutex page */
	CORQ_LIST,		/* first -> corq_entry[] from first */
	CORQ_DROP,		/* handle, rights: the hold gives them up */
};

struct corq {
	uint32_t	magic;		/* CORQ_MAGIC */
	uint32_t	op;		/* enum corq_op */
	uint32_t	type;		/* coport_type_t */
	uint32_t	rights;		/* COPORT_PERM_* */
	uint64_t	handle;		/* comsgd's name for a hold */
	uint32_t	ring_size;
	uint32_t	first;		/* CORQ_RINGS, CORQ_LIST: from which */
	char		name[COPORT_NAMEMAX + 1];
	uint64_t	queue_max;	/* CORQ_OPEN of a COCARRIER; 0: default */
};
_Static_assert(offsetof(struct corq, handle) == 16, "corq layout");
_Static_assert(offsetof(struct corq, name) == 32, "corq layout");
_Static_assert(sizeof(struct corq) == 104, "corq layout");

/*
 * The reply: error 0 or an errno.  CORQ_OPEN and CORQ_ATTACH give caps:
 * state page (read-only), bell page, comsgd's life page (read-only), then
 * COCARRIER/COPIPE the socket (receivers of COCARRIER and senders of
 * COPIPE: the shared socket; the other side: an O_PATH descriptor to
 * connect to it), then the presence pipe's write end if the hold has the
 * send right, and its read end if it has the receive right.  CORQ_RINGS gives
 * count rings as (prod read-only, cons) pairs with their ids in ids[].
 */
#define CORQ_RINGS_MAX	3
struct corp {
	uint32_t	magic;		/* CORQ_MAGIC */
	int32_t		error;
	uint32_t	type;
	uint32_t	rights;
	uint64_t	handle;
	uint32_t	ring_size;
	uint32_t	count;		/* CORQ_RINGS / CORQ_LIST entries */
	uint32_t	more;		/* 1: ask again from first + count */
	uint32_t	pad;
	uint64_t	ids[CORQ_RINGS_MAX];
};
_Static_assert(offsetof(struct corp, handle) == 16, "corp layout");
_Static_assert(sizeof(struct corp) == 64, "corp layout");

/* CORQ_LIST: count of these follow the reply header. */
struct corq_entry {
	char		name[COPORT_NAMEMAX + 1];
	uint32_t	type;		/* coport_type_t, 0: a comutex */
	uint32_t	holders;	/* processes */
	uint32_t	senders;
	uint32_t	receivers;
	uint64_t	queued;		/* messages waiting */
	uint64_t	pad;
};
_Static_assert(sizeof(struct corq_entry) == 96, "entry layout");
#define CORQ_LIST_MAX	((COCALL_MAXLEN - sizeof(struct corp)) / sizeof(struct corq_entry))

#endif
