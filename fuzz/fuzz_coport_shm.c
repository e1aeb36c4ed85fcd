/*
 * fuzz_coport_shm: the parsing of COCHANNEL rings, which their senders
 * write (coport_shm.h): a receiver's chan_recv_try() and rx_take()
 * (cochannel.c), the real code, through a struct port_obj set up by hand
 * with its rings already fetched (and ring_gen unchanged: no CORQ_RINGS); and comsgd's count of the records
 * waiting, ring_queued() (src/comsgd/namespace.c), on the same rings.
 * Each ring is one malloc'd block of exactly 4096 + size bytes (header
 * page, then the data) and a consumer page, so that AddressSanitizer
 * sees any read outside it.  Everything runs in the fuzz thread.
 *
 * Input:
 *   u8   bits 0-1 number of rings less one, bits 2-4 ring size (256 << n)
 *   per ring:
 *     u64  cons
 *     u32  prod - cons, or with bit 31 set cons - prod (low 31 bits)
 *     u16  n, then n bytes of data written from cons on (wrapping)
 *   then up to 64 operations, each a u8:
 *     bits 0-1 0: receive into a buffer of (bits 2-4) 0, 1, 7, 8, 64,
 *                 256, 4096 or 65536 bytes
 *              1: the sender of ring (bits 2-3) publishes: u32 added to
 *                 prod, u16 n and n bytes written at the old prod
 *              2: another receiver (or a scribbler) of ring (bits 2-3)
 *                 adds a u32 (sign-extended) to cons
 *              3: receive into a buffer of exactly the length the
 *                 header at cons of ring (bits 2-3) claims
 *
 * Checked besides crashes: chan_recv_try() fails only with EAGAIN or
 * EMSGSIZE, and then moves no cons; EAGAIN only if every ring holding a
 * record ring_queued() counts is marked broken; EMSGSIZE only if some
 * ring not broken has a well-formed record at cons longer than the
 * buffer; a length returned is within the buffer and the ring, is what
 * the header at the old cons of exactly one ring said, that ring's cons
 * moved past that record and no other moved, and the bytes are the
 * record's; ring_queued() counts at most size / 8 records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "coport_int.h"
#include "../src/comsgd/namespace.h"

#define MAXRINGS	4
#define MAXOPS		64

static const size_t bufsizes[] = { 0, 1, 7, 8, 64, 256, 4096, 65536 };
static uint8_t *out;			/* where a record is expected */

struct fring {
	uint8_t			*block;	/* header page + data */
	struct ring_cons	*cons;
	uint32_t		 size;
};

/* Copy n bytes into (or out of) ring data at pos, wrapping. */
static void
ring_put(uint8_t *data, uint32_t size, uint64_t pos, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < size; i++)
		data[(pos + i) & (size - 1)] = p[i];
}

static void
ring_get(uint8_t *dst, const uint8_t *data, uint32_t size, uint64_t pos,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = data[(pos + i) & (size - 1)];
}

static uint64_t
prod_of(const struct fring *f)
{
	return ((const struct ring_prod *)f->block)->prod;
}

/* The record at cons of ring f, if well formed, as the receiver of rx
 * checks it: against the prod it saw last while that is ahead of cons
 * and within the ring (rx_take() reads prod again only then). */
static bool
record_at(const struct fring *f, const struct rx_ring *rx, struct ring_rec *rec)
{
	uint64_t c = f->cons->cons, p = rx->prod_seen;

	if (c >= p || p - c > f->size)
		p = prod_of(f);

	if (p <= c || p - c > f->size || (c & 7))
		return false;
	ring_get((uint8_t *)rec, f->block + PAGE, f->size, c, sizeof(*rec));
	return rec->check == RING_REC_CHECK(rec->len, c) &&
	    RING_REC_SIZE(rec->len) <= p - c;
}

static void
recv_one(struct port_obj *o, struct fring *fr, int n, size_t len)
{
	uint64_t before[MAXRINGS], queued[MAXRINGS];
	struct ring_rec recs[MAXRINGS];
	bool valid[MAXRINGS];
	uint8_t *buf = malloc(len ? len : 1);
	ssize_t r;
	int moved = -1;

	FZ_CHECK(buf != NULL, "malloc");
	for (int k = 0; k < n; k++) {
		before[k] = fr[k].cons->cons;
		valid[k] = record_at(&fr[k], &o->rx[k], &recs[k]);
		queued[k] = ring_queued((struct ring_prod *)fr[k].block,
		    fr[k].cons, fr[k].size);
		FZ_CHECK(queued[k] <= fr[k].size / 8, "ring %d: %llu queued",
		    k, (unsigned long long)queued[k]);
	}
	errno = 0;
	r = chan_recv_try(o, buf, len);
	FZ_LOG("recv into %zu: %zd (%s)", len, r, r < 0 ? strerror(errno) : "ok");
	for (int k = 0; k < n; k++)
		if (fr[k].cons->cons != before[k]) {
			FZ_CHECK(moved < 0, "two rings' cons moved");
			moved = k;
		}
	if (r < 0) {
		int e = errno;

		FZ_CHECK(e == EAGAIN || e == EMSGSIZE, "undocumented errno %d", e);
		FZ_CHECK(moved < 0, "failure (%d) moved cons of ring %d", e, moved);
		if (e == EAGAIN) {
			for (int k = 0; k < n; k++)
				FZ_CHECK(queued[k] == 0 || o->rx[k].broken,
				    "EAGAIN, ring %d holds %llu and is not broken",
				    k, (unsigned long long)queued[k]);
		} else {
			bool some = false;

			for (int k = 0; k < n; k++)
				some |= !o->rx[k].broken && valid[k] &&
				    recs[k].len > len;
			FZ_CHECK(some, "EMSGSIZE with no record longer than %zu",
			    len);
		}
		free(buf);
		return;
	}
	FZ_CHECK((size_t)r <= len, "length %zd for a buffer of %zu", r, len);
	FZ_CHECK(moved >= 0, "a message of %zd and no cons moved", r);
	FZ_CHECK(valid[moved] && recs[moved].len == (size_t)r,
	    "ring %d: took %zd, header said %u (%s)", moved, r,
	    recs[moved].len, valid[moved] ? "valid" : "not valid");
	FZ_CHECK(fr[moved].cons->cons == before[moved] + RING_REC_SIZE(r),
	    "ring %d: cons moved by %llu for %zd bytes", moved,
	    (unsigned long long)(fr[moved].cons->cons - before[moved]), r);
	FZ_CHECK((uint64_t)r + 8 <= fr[moved].size, "length %zd, ring of %u",
	    r, fr[moved].size);
	ring_get(out, fr[moved].block + PAGE, fr[moved].size, before[moved] + 8,
	    (size_t)r);
	FZ_CHECK(memcmp(out, buf, (size_t)r) == 0, "ring %d: other bytes", moved);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd rd = { data, size };
	uint8_t setup = rd_u8(&rd);
	int n = (setup & 3) + 1;
	uint32_t rsize = 256u << ((setup >> 2) & 7);
	struct fring fr[MAXRINGS];
	struct port_obj *o = calloc(1, sizeof(*o));
	struct coport_bell *bell = aligned_alloc(128, sizeof(*bell));
	struct coport_state *state = calloc(1, sizeof(*state));
	const uint8_t *p;

	if (out == NULL)
		out = malloc(65536);
	FZ_CHECK(o != NULL && bell != NULL && state != NULL && out != NULL,
	    "malloc");
	memset(bell, 0, sizeof(*bell));
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->tx_lock, NULL);
	o->type = COCHANNEL;
	o->rights = COPORT_PERM_RECV;
	o->ring_size = rsize;
	o->bell = bell;
	/* ring_gen as fetched: the receiver asks comsgd nothing */
	state->magic = STATE_MAGIC;
	state->type = COCHANNEL;
	state->ring_size = rsize;
	o->state = state;
	o->take_sock = o->path_fd = o->put_sock = -1;
	o->rx = calloc(MAXRINGS, sizeof(*o->rx));
	o->nrx = n;
	o->rx_fetched = true;		/* no CORQ_RINGS: these are the rings */
	o->rx_gen = state->ring_gen;
	FZ_CHECK(o->rx != NULL, "malloc");
	for (int k = 0; k < n; k++) {
		struct ring_prod *h;
		uint64_t c = (uint64_t)rd_u32(&rd) | (uint64_t)rd_u32(&rd) << 32;
		uint32_t d = rd_u32(&rd);
		size_t len;

		fr[k].size = rsize;
		fr[k].block = calloc(1, PAGE + rsize);
		fr[k].cons = calloc(1, sizeof(struct ring_cons));
		FZ_CHECK(fr[k].block != NULL && fr[k].cons != NULL, "malloc");
		h = (struct ring_prod *)fr[k].block;
		h->magic = RING_MAGIC;
		h->version = COPORT_SHM_VERSION;
		h->size = rsize;
		h->prod = (d & 0x80000000u) ? c - (d & 0x7fffffffu) : c + d;
		fr[k].cons->cons = c;
		len = rd_bytes(&rd, rd_u16(&rd), &p);
		ring_put(fr[k].block + PAGE, rsize, c, p, len);
		o->rx[k] = (struct rx_ring){ .id = (uint64_t)k + 1, .prod = h,
		    .data = fr[k].block + PAGE, .cons = fr[k].cons,
		    .maplen = PAGE + rsize, .mask = rsize - 1 };
	}
	for (int i = 0; i < MAXOPS && rd.n > 0; i++) {
		uint8_t op = rd_u8(&rd);
		struct fring *f = &fr[((op >> 2) & 3) % n];
		struct ring_rec rec;

		switch (op & 3) {
		case 0:
			recv_one(o, fr, n, bufsizes[(op >> 2) & 7]);
			break;
		case 1: {
			struct ring_prod *h = (struct ring_prod *)f->block;
			uint64_t at = h->prod;
			size_t len;

			h->prod = at + rd_u32(&rd);
			len = rd_bytes(&rd, rd_u16(&rd), &p);
			ring_put(f->block + PAGE, f->size, at, p, len);
			break;
		}
		case 2:
			f->cons->cons += (uint64_t)(int64_t)(int32_t)rd_u32(&rd);
			break;
		default:
			ring_get((uint8_t *)&rec, f->block + PAGE, f->size,
			    f->cons->cons & ~(uint64_t)7, sizeof(rec));
			recv_one(o, fr, n, rec.len > 65536 ? 65536 : rec.len);
			break;
		}
	}
	for (int k = 0; k < n; k++)
		FZ_CHECK(ring_queued((struct ring_prod *)fr[k].block, fr[k].cons,
		    fr[k].size) <= rsize / 8, "queued");
	/* The rings are ours, not mappings: chan_release() is not for them. */
	for (int k = 0; k < n; k++) {
		free(fr[k].block);
		free(fr[k].cons);
	}
	free(o->rx);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->tx_lock);
	free(o);
	free(bell);
	free(state);
	return 0;
}
