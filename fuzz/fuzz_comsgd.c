/*
 * fuzz_comsgd: comsgd's answer to requests (src/comsgd/namespace.c:
 * handle_request(), the op_* functions, and ring_queued() under
 * CORQ_LIST, rings_sweep() and the dropping of a dead process's holds
 * under the reaper's calls).  Any process of the domain can send any
 * struct corq with any capabilities; comsgd knows the pid from the
 * kernel.  The harness links namespace.c as it is and calls
 * handle_request() as a worker does, with the same freeing of the
 * capabilities it was given and of those of a failed reply.
 *
 * Input: up to 24 records, each
 *   u8   ctl: bits 0-1 who: 0 or 1 this process (getpid()), 2 the parent
 *        (getppid(): holds that are "not yours" to this process), 3 no
 *        request but the reaper: drop every hold of this process (bit 2
 *        clear) or of the parent (bit 2 set), then sweep the rings; no
 *        more bytes follow.
 *        bit 2 fix up: magic CORQ_MAGIC, the name NUL-terminated at its
 *        last byte (so that the fuzzer reaches the ops early);
 *        bit 3 the handle is the one of an earlier reply (u8 index
 *        follows), not the request's bytes;
 *        bit 4 short request: u8 follows, the length is it modulo 104;
 *        bits 5-7 number of capabilities (0 to 7), each:
 *          u8 kind (low 3 bits): 0 none (a NULL slot), 1 a memfd, 2 a
 *          capability an earlier reply gave (u8 index follows), 3 a
 *          socket, 4 a pipe, 5 /dev/null, 6 a sealed memfd of 8192
 *          bytes, 7 an O_PATH gate.  A memfd is followed by
 *            u8 bits 0-2 size (0, 8, 4096, 4096+256, 4096+4096,
 *               4096+65536, 8192, 4096+255), bit 3 a ring header
 *               (RING_MAGIC, version, size - 4096), bit 4 content:
 *               u32 (written as u64 at offset 64 with a header, else
 *               at 0: prod or cons), u16 n and n bytes at offset 4096,
 *               within the size;
 *            u8 seals (F_SEAL_* bits, F_SEAL_SEAL applied last).
 *   then the 104 bytes of struct corq (zeros once the input ends).
 *
 * Checked besides crashes and leaks: only the errors comsgd can answer
 * (EPROTO, EINVAL, ESTALE, EMFILE, ENFILE, ENOMEM, ESRCH, ENAMETOOLONG); a
 * reply's capabilities within COCALL_MAXCAPS and as many as its op gives
 * (docs/coports.md); CORQ_RINGS and CORQ_LIST counts within their
 * maxima, entries NUL-terminated with holders; after each input
 * ns_reset() leaves no name and no process, and no descriptor open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "../src/comsgd/namespace.h"

#define MAXRECS		24
#define MAXSAVED	64

static const size_t memfd_sizes[] = { 0, 8, PAGE, PAGE + 256, PAGE + 4096,
    PAGE + 65536, 2 * PAGE, PAGE + 255 };
static const int errs[] = { EPROTO, EINVAL, ESTALE, EMFILE, ENFILE, ENOMEM, ESRCH,
    ENAMETOOLONG };

static void *worker;			/* what CORQ_HELLO hands out */
static struct reply reply;

static void *saved[MAXSAVED];		/* capabilities replies gave */
static int nsaved;
static uint64_t handles[MAXSAVED];	/* holds replies named */
static int nhandles;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int life;

	fz_init();
	FZ_CHECK(coregister(NULL, &worker) == 0, "coregister: %s",
	    strerror(errno));
	ns_workers_set(&worker, 1);
	/* comsgd's life page, as comsgd.c makes it at start */
	life = memfd_create("comsgd-life", MFD_CLOEXEC);
	FZ_CHECK(life >= 0 && ftruncate(life, PAGE) == 0, "life page: %s",
	    strerror(errno));
	ns_life_set(life);
	fz_fd_baseline();
	return 0;
}

/* A memfd as the input describes it, as a capability. */
static void *
make_memfd(struct rd *r)
{
	uint8_t how = rd_u8(r), seals = rd_u8(r);
	size_t size = memfd_sizes[how & 7];
	int fd = memfd_create("fuzz-comsgd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *cap = NULL;

	FZ_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	FZ_CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate");
	if ((how & 8) && size >= sizeof(struct ring_prod)) {
		struct ring_prod h = { .magic = RING_MAGIC,
		    .version = COPORT_SHM_VERSION,
		    .size = (uint32_t)(size - PAGE) };

		FZ_CHECK(pwrite(fd, &h, 16, 0) == 16, "pwrite");
	}
	if (how & 16) {
		uint64_t w = rd_u32(r);
		off_t at = (how & 8) ? 64 : 0;
		const uint8_t *p;
		size_t n = rd_bytes(r, rd_u16(r), &p);

		if ((size_t)at + 8 <= size)
			FZ_CHECK(pwrite(fd, &w, 8, at) == 8, "pwrite");
		if (size > PAGE) {
			if (n > size - PAGE)
				n = size - PAGE;
			FZ_CHECK(pwrite(fd, p, n, PAGE) == (ssize_t)n, "pwrite");
		}
	}
	(void)fcntl(fd, F_ADD_SEALS, seals & (F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
	if (seals & F_SEAL_SEAL)
		(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
	FZ_CHECK(capfromfd(&cap, fd) == 0, "capfromfd: %s", strerror(errno));
	close(fd);
	return cap;
}

static void *
make_cap(struct rd *r)
{
	uint8_t kind = rd_u8(r) & 7;
	void *cap = NULL;
	int fd;

	switch (kind) {
	case 0:
		return NULL;
	case 1:
		return make_memfd(r);
	case 2: {
		uint8_t i = rd_u8(r);

		if (nsaved == 0 || captofd(saved[i % nsaved], &fd) < 0)
			return NULL;
		break;
	}
	case 3:
		fd = fz_fd(FZ_SOCK);
		break;
	case 4:
		fd = fz_fd(FZ_PIPE);
		break;
	case 5:
		fd = fz_fd(FZ_NULL);
		break;
	case 6:
		fd = fz_fd(FZ_SEALED);
		break;
	default:
		fd = fz_fd(FZ_GATE);
		break;
	}
	FZ_CHECK(capfromfd(&cap, fd) == 0, "capfromfd: %s", strerror(errno));
	close(fd);
	return cap;
}

static void
check_list(const struct reply *r)
{
	const struct corq_entry *e = (const struct corq_entry *)r->extra;

	FZ_CHECK(r->rp.count <= CORQ_LIST_MAX, "list count %u", r->rp.count);
	FZ_CHECK(r->len == r->rp.count * sizeof(*e), "list len %zu, count %u",
	    r->len, r->rp.count);
	FZ_CHECK(r->rp.more <= 1, "more %u", r->rp.more);
	for (uint32_t i = 0; i < r->rp.count; i++) {
		FZ_CHECK(memchr(e[i].name, '\0', sizeof(e[i].name)) != NULL &&
		    e[i].name[0] != '\0', "entry %u: bad name", i);
		FZ_CHECK(e[i].type <= COCHANNEL, "entry %u: type %u", i,
		    e[i].type);
		FZ_CHECK(e[i].holders >= 1 && e[i].senders <= e[i].holders &&
		    e[i].receivers <= e[i].holders, "entry %u: %u holders, "
		    "%u senders, %u receivers", i, e[i].holders, e[i].senders,
		    e[i].receivers);
		/* rings: at most 4 per hold, each of at most MAXSIZE / 8
		 * records */
		if (e[i].type == COCHANNEL)
			FZ_CHECK(e[i].queued <= (uint64_t)4 * MAXRECS *
			    (COCHANNEL_MAXSIZE / 8), "entry %u: %llu queued", i,
			    (unsigned long long)e[i].queued);
	}
}

/* What a successful reply to q must carry. */
static void
check_reply(const struct corq *q, const struct reply *r)
{
	int takes, puts;

	switch (q->op) {
	case CORQ_HELLO:
		FZ_CHECK(r->ncaps == -1 && r->caps[0] == worker,
		    "hello: %d caps", r->ncaps);
		return;
	case CORQ_OPEN:
	case CORQ_ATTACH:
		/* type 0 (a comutex) is refused: CORQ_MUTEX is the way */
		FZ_CHECK(q->op != CORQ_OPEN || q->type != 0, "open of type 0 taken");
		FZ_CHECK(r->rp.type >= COPIPE && r->rp.type <= COCHANNEL,
		    "type %u", r->rp.type);
		FZ_CHECK(r->rp.rights >= 1 && r->rp.rights <= COPORT_PERM_ALL,
		    "rights %u", r->rp.rights);
		FZ_CHECK(q->op != CORQ_OPEN || (r->rp.type == q->type &&
		    r->rp.rights == COPORT_PERM_ALL), "open: type %u rights %u",
		    r->rp.type, r->rp.rights);
		takes = (r->rp.type == COCARRIER && (r->rp.rights & COPORT_PERM_RECV)) ||
		    (r->rp.type == COPIPE && (r->rp.rights & COPORT_PERM_SEND));
		puts = (r->rp.type == COCARRIER && (r->rp.rights & COPORT_PERM_SEND)) ||
		    (r->rp.type == COPIPE && (r->rp.rights & COPORT_PERM_RECV));
		FZ_CHECK(r->ncaps == 3 + takes + puts +
		    !!(r->rp.rights & COPORT_PERM_SEND) +
		    !!(r->rp.rights & COPORT_PERM_RECV), "port: %d caps for "
		    "type %u rights %u", r->ncaps, r->rp.type, r->rp.rights);
		FZ_CHECK(r->rp.handle != 0, "hold 0");
		return;
	case CORQ_MUTEX:
	case CORQ_TOKEN:
		FZ_CHECK(r->ncaps == 1, "op %u: %d caps", q->op, r->ncaps);
		return;
	case CORQ_CLOSE:
	case CORQ_ADDRING:
	case CORQ_DROP:
		FZ_CHECK(r->ncaps == 0, "op %u: %d caps", q->op, r->ncaps);
		return;
	case CORQ_RINGS:
		FZ_CHECK(r->rp.count <= CORQ_RINGS_MAX &&
		    r->ncaps == 2 * (int)r->rp.count && r->rp.more <= 1,
		    "rings: count %u, %d caps, more %u", r->rp.count, r->ncaps,
		    r->rp.more);
		for (uint32_t i = 0; i < r->rp.count; i++)
			FZ_CHECK(r->caps[2 * i] != NULL &&
			    r->caps[2 * i + 1] != NULL, "ring %u: no cap", i);
		return;
	case CORQ_LIST:
		FZ_CHECK(r->ncaps == 0, "list: %d caps", r->ncaps);
		check_list(r);
		return;
	}
	FZ_CHECK(0, "op %u answered 0", q->op);
}

static void
one_request(struct rd *rd, uint8_t ctl)
{
	struct reply *r = &reply;
	void *caps[COCALL_MAXCAPS];
	int ncaps = ctl >> 5, err, i;
	struct corq q;
	ssize_t n = sizeof(q);
	pid_t pid = (ctl & 3) == 2 ? getppid() : getpid();
	uint8_t hidx = 0;
	const uint8_t *p;
	size_t got;

	if (ctl & 8)
		hidx = rd_u8(rd);
	if (ctl & 16)
		n = rd_u8(rd) % sizeof(q);
	for (i = 0; i < ncaps; i++)
		caps[i] = make_cap(rd);
	memset(&q, 0, sizeof(q));
	got = rd_bytes(rd, sizeof(q), &p);
	memcpy(&q, p, got);
	if (ctl & 4) {
		q.magic = CORQ_MAGIC;
		q.name[sizeof(q.name) - 1] = '\0';
	}
	if ((ctl & 8) && nhandles > 0)
		q.handle = handles[hidx % nhandles];

	memset(&r->rp, 0, sizeof(r->rp));
	r->len = 0;
	r->ncaps = 0;
	err = handle_request(&q, n, pid, caps, ncaps, r);
	FZ_LOG("op %u pid %s, %d caps: %d (%s), %d caps back", q.op,
	    pid == getpid() ? "ours" : "parent's", ncaps, err,
	    err ? strerror(err) : "ok", r->ncaps);
	/* The worker frees what it was given. */
	for (i = 0; i < ncaps; i++)
		if (caps[i] != NULL)
			capfree(caps[i]);
	FZ_CHECK(r->ncaps >= -1 && r->ncaps <= COCALL_MAXCAPS, "%d caps",
	    r->ncaps);
	FZ_CHECK(r->len <= sizeof(r->extra), "len %zu", r->len);
	if (err != 0) {
		FZ_CHECK(fz_errno_in(err, errs, sizeof(errs) / sizeof(errs[0])),
		    "op %u: undocumented error %d", q.op, err);
		FZ_CHECK(r->ncaps >= 0, "error with a kept capability");
		for (i = 0; i < r->ncaps; i++)
			capfree(r->caps[i]);
		return;
	}
	FZ_CHECK(n == sizeof(q) && q.magic == CORQ_MAGIC,
	    "a request of %zd bytes, magic %#x answered", n, q.magic);
	check_reply(&q, r);
	if ((q.op == CORQ_OPEN || q.op == CORQ_ATTACH || q.op == CORQ_MUTEX) &&
	    nhandles < MAXSAVED)
		handles[nhandles++] = r->rp.handle;
	/* What the caller got: kept for later requests of the input. */
	for (i = 0; i < r->ncaps; i++) {
		if (nsaved < MAXSAVED)
			saved[nsaved++] = r->caps[i];
		else
			capfree(r->caps[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd rd = { data, size };

	for (int k = 0; k < MAXRECS && rd.n > 0; k++) {
		uint8_t ctl = rd_u8(&rd);

		if ((ctl & 3) == 3) {
			pid_t pid = (ctl & 4) ? getppid() : getpid();

			FZ_LOG("reaper: pid %s dies", (ctl & 4) ?
			    "parent's" : "ours");
			ns_drop_pid(pid);
			FZ_CHECK(ns_pidfd(pid) < 0, "pid still has a pidfd");
			ns_sweep();
			continue;
		}
		one_request(&rd, ctl);
	}
	while (nsaved > 0)
		capfree(saved[--nsaved]);
	nhandles = 0;
	ns_reset();
	FZ_CHECK(ns_nentries() == 0 && ns_nprocs() == 0, "reset left %d "
	    "names, %d processes", ns_nentries(), ns_nprocs());
	fz_done();
	return 0;
}
