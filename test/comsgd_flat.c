/* 100,000 coopen/coclose cycles (every kind, some with messages, some comutexes) leave comsgd's descriptors and memory flat. */
#include "coport_test.h"

#include <dirent.h>

#define CYCLES		100000
#define WARMUP		1000
#define FD_MARGIN	4
#define RSS_MARGIN_KB	2048

static int
count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* One cycle: open a port (or comutex) of a fresh name, maybe use it,
 * close it. */
static void
cycle(int i)
{
	static const coport_type_t kinds[3] = { COCHANNEL, COCARRIER, COPIPE };
	char name[32], room[16];
	void *buf = room;
	coport_t p;

	snprintf(name, sizeof(name), "flat-%d", i);
	if (i % 16 == 15) {
		comutex_t m;

		CHECK(comutex_init(name, &m) == 0);
		CHECK(colock(&m) == 0 && counlock(&m) == 0);
		CHECK(comutex_destroy(&m) == 0);
		return;
	}
	CHECK(coopen(name, kinds[i % 3], &p) == 0);
	if (i % 8 == 0) {
		/* messages: a COCHANNEL ring, a COCARRIER memfd */
		if (kinds[i % 3] == COCHANNEL) {
			CHECK(cosend(p, "m", 2) == 2);
			CHECK(corecv(p, &buf, sizeof(room)) == 2);
		} else if (kinds[i % 3] == COCARRIER) {
			CHECK(cosend(p, "m", 2) == 2);
			buf = NULL;
			CHECK(corecv(p, &buf, 0) == 2);
			CHECK(coport_msg_free(p, buf) == 0);
		}
	}
	if (i % 8 == 4) {
		/* a narrowed handle passed as a capability and opened */
		coport_t q = coport_clearperm(p, COPORT_PERM_SEND), r;
		void *cap;

		CHECK(q != NULL && coport_tocap(q, &cap) == 0);
		CHECK(coport_fromcap(cap, &r) == 0);
		CHECK(capfree(cap) == 0 && coclose(r) == 0 && coclose(q) == 0);
	}
	CHECK(coclose(p) == 0);
}

int
main(void)
{
	int fds0, fds1, i;
	long rss0, rss1;
	int64_t t0 = t_now_ns();
	pid_t d;

	for (i = 0; i < WARMUP; i++)
		cycle(i);
	d = t_comsgd_pid();
	CHECK(d > 0);
	fds0 = count_fds(d);
	rss0 = rss_kb(d);
	if (fds0 < 0 || rss0 < 0) {
		printf("cannot read /proc/%d (comsgd is not dumpable: run as "
		    "root)\n", (int)d);
		return T_SKIP;
	}
	for (; i < CYCLES; i++) {
		cycle(i);
		if ((i + 1) % 20000 == 0)
			fprintf(stderr, "after %d: %d fds, %ld kB, %.1f s\n", i + 1,
			    count_fds(d), rss_kb(d),
			    (double)(t_now_ns() - t0) / 1e9);
	}
	CHECK(t_comsgd_pid() == d);
	fds1 = count_fds(d);
	rss1 = rss_kb(d);
	fprintf(stderr, "%d cycles in %.1f s; comsgd after %d: %d fds, %ld kB; "
	    "after %d: %d fds, %ld kB\n", CYCLES,
	    (double)(t_now_ns() - t0) / 1e9, WARMUP, fds0, rss0, CYCLES, fds1,
	    rss1);
	CHECK(coport_list(NULL, 0) == 0);	/* every name is gone */
	CHECK(fds1 <= fds0 + FD_MARGIN);
#ifdef __SANITIZE_ADDRESS__
	/* comsgd built with AddressSanitizer keeps freed memory in its
	 * quarantine (256 MiB by default): its RSS says nothing here. */
	fprintf(stderr, "AddressSanitizer build: comsgd's RSS not compared\n");
#else
	CHECK(rss1 <= rss0 + RSS_MARGIN_KB);
#endif
	return T_PASS;
}
