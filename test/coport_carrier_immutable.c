/* COCARRIER: a sent message cannot be changed by anyone, the sender included (sealed memfd, or the receiver's own sealed view memory for what it copied from the sender's ring); 1 B to 3 MiB arrive intact; small messages sent while the receiver waits go through the rings, their views read-only too. */
#include "coport_test.h"

#include <linux/falloc.h>
#include <sys/stat.h>

#define SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define RING_VIEW_SEALS	(F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | \
			 F_SEAL_SEAL)

static const size_t sizes[] = { 1, 4096, 2u << 20, 3u << 20 };
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))
#define STREAM	2000	/* small messages, in step: through the rings */

static uint8_t
pattern(size_t size, size_t i)
{
	return (uint8_t)(i * 131 + size + (i >> 12));
}

static int sv[2];

static int
sender(void *arg)
{
	coport_t p = t_recv_port(sv[1]);
	uint8_t *buf = malloc(sizes[NSIZES - 1]);

	(void)arg;
	CHECK(buf != NULL);
	for (size_t k = 0; k < NSIZES; k++) {
		for (size_t i = 0; i < sizes[k]; i++)
			buf[i] = pattern(sizes[k], i);
		CHECK(cosend(p, buf, sizes[k]) == (ssize_t)sizes[k]);
		/* The caller keeps buf: changing it now changes nothing sent. */
		memset(buf, 0xee, sizes[k]);
	}
	for (size_t k = 0; k < STREAM; k++) {
		for (size_t i = 0; i < 64; i++)
			buf[i] = pattern(k, i);
		/* the receiver is about to wait in corecv() */
		t_hear(sv[1], 'k');
		CHECK(cosend(p, buf, 64) == 64);
		memset(buf, 0xee, 64);
	}
	free(buf);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* The receiver's view of a message: read-only, and no way found through
 * it makes it writable. */
static void
check_view(uint8_t *v, size_t len)
{
	size_t maplen = (len + 4095) & ~(size_t)4095;
	struct t_map m[4];
	char path[64];
	int fd;

	CHECK(t_write_faults(v));
	CHECK(t_write_faults(v + len - 1));
	CHECK_ERR(mprotect(v, maplen, PROT_READ | PROT_WRITE), EACCES);
	CHECK(t_write_faults(v));
	/* Reopening the mapped file (/proc/self/map_files needs
	 * CAP_SYS_ADMIN) gives a descriptor the seals still refuse. */
	CHECK(t_maps("memfd:cocarrier", m, 4) >= 1);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
	    (unsigned long)(uintptr_t)v, (unsigned long)(uintptr_t)v + maplen);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		CHECK(errno == EPERM || errno == EACCES || errno == ENOENT);
		fprintf(stderr, "%zu bytes: cannot reopen the view (%s): "
		    "that part skipped\n", len, strerror(errno));
		return;
	}
	CHECK((fcntl(fd, F_GET_SEALS) & SEALS) == SEALS);
	CHECK_ERR(pwrite(fd, "x", 1, 0), EPERM);
	CHECK_ERR(ftruncate(fd, 0), EPERM);
	CHECK_ERR(ftruncate(fd, (off_t)len + 4096), EPERM);
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    (off_t)len), EPERM);
	CHECK_ERR((intptr_t)mmap(NULL, maplen, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0) == (intptr_t)MAP_FAILED ? -1 : 0, EPERM);
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0), EPERM);	/* F_SEAL_SEAL */
	close(fd);
	fprintf(stderr, "%zu bytes: intact; view and its reopened file "
	    "refuse every write\n", len);
}

/* A view the receiver copied from a sender's ring into its view memory
 * (the mapping m holds it): read-only, cannot be made writable, and the
 * memory's file refuses every write. */
static void
check_ring_view(uint8_t *v, size_t len, const struct t_map *m)
{
	uintptr_t page = (uintptr_t)v & ~(uintptr_t)4095;
	char path[64];
	int fd;

	CHECK(strcmp(m->perms, "r--s") == 0);
	CHECK(t_write_faults(v));
	CHECK(t_write_faults(v + len - 1));
	CHECK_ERR(mprotect((void *)page, 4096, PROT_READ | PROT_WRITE), EACCES);
	CHECK(t_write_faults(v));
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
	    (unsigned long)m->start, (unsigned long)m->end);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		CHECK(errno == EPERM || errno == EACCES);
		fprintf(stderr, "ring view: cannot reopen its memory (%s): "
		    "that part skipped\n", strerror(errno));
		return;
	}
	CHECK((fcntl(fd, F_GET_SEALS) & RING_VIEW_SEALS) == RING_VIEW_SEALS);
	CHECK_ERR(pwrite(fd, "x", 1, (off_t)(page - m->start)), EPERM);
	CHECK_ERR(ftruncate(fd, 0), EPERM);
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    4096), EPERM);
	CHECK_ERR((intptr_t)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0) == (intptr_t)MAP_FAILED ? -1 : 0, EPERM);
	close(fd);
}

/* The mapping of ours that holds p, named what (NULL: any). */
static bool
mapping_of(const void *p, const char *what, struct t_map *m)
{
	struct t_map maps[512];
	int n = t_maps(what, maps, 512);

	for (int i = 0; i < n && i < 512; i++)
		if ((uintptr_t)p >= maps[i].start && (uintptr_t)p < maps[i].end) {
			*m = maps[i];
			return true;
		}
	return false;
}

/* What a sender could do to a memfd it made and sealed as libcomsg
 * does, if it kept it: every way to change it fails. */
static void
crafted_memfd(void)
{
	const size_t len = 8192;
	int fd = memfd_create("cocarrier", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint8_t *w, *r, *priv;
	uint8_t buf[8192];
	char path[64];
	int fd2;

	CHECK(fd >= 0);
	memset(buf, 'a', sizeof(buf));
	CHECK(write(fd, buf, len) == (ssize_t)len);
	/* Sealing is refused while a writable shared mapping exists: a
	 * sender cannot keep one past the seal. */
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(w != MAP_FAILED);
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	CHECK(munmap(w, len) == 0);
	CHECK(fcntl(fd, F_ADD_SEALS, SEALS) == 0);
	r = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(r != MAP_FAILED);

	CHECK_ERR(write(fd, "x", 1), EPERM);
	CHECK_ERR(pwrite(fd, "x", 1, 0), EPERM);
	CHECK_ERR(ftruncate(fd, 0), EPERM);
	CHECK_ERR(ftruncate(fd, (off_t)len * 2), EPERM);
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    (off_t)len), EPERM);
	CHECK_ERR(fallocate(fd, 0, 0, (off_t)len * 2), EPERM);
	CHECK_ERR((intptr_t)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0) == (intptr_t)MAP_FAILED ? -1 : 0, EPERM);
	CHECK_ERR(mprotect(r, len, PROT_READ | PROT_WRITE), EACCES);
	CHECK(t_write_faults(r));
	CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0), EPERM);
	/* Nor through another open of the same file. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd2 >= 0);
	CHECK_ERR(write(fd2, "x", 1), EPERM);
	CHECK_ERR((intptr_t)mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd2, 0) == (intptr_t)MAP_FAILED ? -1 : 0, EPERM);
	close(fd2);
	/* A private writable mapping is allowed, and changes only itself. */
	priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED);
	memset(priv, 'z', len);
	CHECK(memcmp(r, buf, len) == 0);
	CHECK(pread(fd, buf, len, 0) == (ssize_t)len && buf[0] == 'a' &&
	    buf[len - 1] == 'a');
	munmap(priv, len);
	munmap(r, len);
	close(fd);
}

int
main(void)
{
	coport_t p;
	pid_t pid;

	crafted_memfd();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_spawn(sender, NULL);
	CHECK(coopen("immutable", COCARRIER, &p) == 0);
	t_send_port(sv[0], p, COPORT_PERM_SEND);
	for (size_t k = 0; k < NSIZES; k++) {
		void *buf = NULL;
		uint8_t *v;
		ssize_t n = corecv(p, &buf, 0);
		size_t bad = 0;

		CHECK(n == (ssize_t)sizes[k]);
		v = buf;
		for (size_t i = 0; i < sizes[k]; i++)
			bad += v[i] != pattern(sizes[k], i);
		if (bad != 0)
			fprintf(stderr, "%zu bytes: %zu differ\n", sizes[k], bad);
		CHECK(bad == 0);
		{
			struct t_map m;

			if (mapping_of(v, "memfd:cocarrier-views", &m))
				check_ring_view(v, sizes[k], &m);
			else
				check_view(v, sizes[k]);
		}
		/* Still intact after all that. */
		for (size_t i = 0; i < sizes[k]; i++)
			bad += v[i] != pattern(sizes[k], i);
		CHECK(bad == 0);
		CHECK(coport_msg_free(p, buf) == 0);
		CHECK_ERR(coport_msg_free(p, buf), EINVAL);
	}
	{
		int through_ring = 0;
		struct t_map views = { 0 };

		for (size_t k = 0; k < STREAM; k++) {
			void *buf = NULL;
			uint8_t *v;

			t_say(sv[0], 'k');
			CHECK(corecv(p, &buf, 0) == 64);
			v = buf;
			for (size_t i = 0; i < 64; i++)
				CHECK(v[i] == pattern(k, i));
			/* the view memory, once it exists, stays where it is */
			if (views.end == 0)
				(void)mapping_of(v, "memfd:cocarrier-views", &views);
			if ((uintptr_t)v >= views.start && (uintptr_t)v < views.end &&
			    through_ring++ < 3)
				check_ring_view(v, 64, &views);
			CHECK(coport_msg_free(p, buf) == 0);
		}
		fprintf(stderr, "%d small messages, %d through the rings\n",
		    STREAM, through_ring);
		CHECK(through_ring > 0);
	}
	CHECK(t_wait(pid) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}
