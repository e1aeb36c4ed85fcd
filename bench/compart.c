/*
 * Compartments: the cost of one empty cross-compartment call in each mode
 * against a plain indirect call, and the SQLite workload (bench/cmp:
 * SQLite, a RAM file system and a speedtest-style application, each in a
 * compartment of its own) split against the same workload unsplit.  The
 * isolation mode is the process's, so each mode runs in a child of its
 * own, which measures the unsplit baseline too, in the same rounds
 * (unsplit, split, unsplit, split, ...); ratios are per round, then the
 * median.  Prints a table, then one line starting with "JSON ".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comsg/compart.h"
#include "bench.h"

#ifdef HAVE_SQLITE3
#include <sqlite3.h>
#endif

#define MAXROUNDS	31
#define NTESTS		9
#define SQLITE_SO	"libsqlite3.so.0"

static const char *const test_name[NTESTS] = {
	"insert, no index", "insert, indexed", "select by key",
	"select by range", "update by range", "create index", "join",
	"select, full scan", "delete",
};

struct result {
	int		 mode;
	int		 calls_ok, sql_ok;
	double		 ind_ns, cmp_ns, call_ratio;
	double		 unsplit[NTESTS], split[NTESTS];	/* ms, medians */
	double		 tot_unsplit, tot_split, ratio;
	int		 rows;
	long		 sum_unsplit, sum_split;
	unsigned long long crossings;	/* gate calls in one split run */
	char		 err[200];
};

static int rounds = 7, rows = 5000, quiet, all_modes;
static char dir[PATH_MAX];

static double
now(void)
{
	return (double)now_ns();
}

/* The median of the n (at least 1) values of v, left in their order. */
static double
median(double *v, int n)
{
	double t[MAXROUNDS];
	struct stat3 s;

	memcpy(t, v, (size_t)n * sizeof(*v));
	return stats(t, n, &s) ? s.med : 0;
}

static void __attribute__((noinline))
host_empty(void)
{
	__asm__ volatile("");
}

static void (*volatile indirect)(void) = host_empty;

static char *
so(const char *name)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/cmp/%s.so", dir, name);
	return buf;
}

/* One empty call per mode against an indirect call, rounds interleaved. */
static void
bench_calls(struct result *r)
{
	double ind[MAXROUNDS], cmp[MAXROUNDS], ratio[MAXROUNDS];
	long iters = r->mode == COMPART_NONE || r->mode == COMPART_MPK ?
	    2000000 : r->mode == COMPART_MPROTECT ? 20000 : 20000;
	compart_t *c;
	void (*e)(void);
	int k;
	long i;

	if ((c = compart_load(so("empty"), NULL)) == NULL ||
	    (e = COMPART_FN(c, void (*)(void), "empty")) == NULL) {
		snprintf(r->err, sizeof(r->err), "%s", compart_error());
		return;
	}
	for (i = 0; i < iters / 10; i++)
		e();
	for (k = 0; k < rounds; k++) {
		double t0 = now();

		for (i = 0; i < 2000000; i++)
			indirect();
		ind[k] = (now() - t0) / 2000000;
		t0 = now();
		for (i = 0; i < iters; i++)
			e();
		cmp[k] = (now() - t0) / (double)iters;
		ratio[k] = cmp[k] / ind[k];
	}
	r->ind_ns = median(ind, rounds);
	r->cmp_ns = median(cmp, rounds);
	r->call_ratio = median(ratio, rounds);
	r->calls_ok = 1;
	compart_unload(c);
}

#ifdef HAVE_SQLITE3
/* The SQLite functions the application calls, with their signatures:
 * entry points declared for a library that cannot declare its own. */
static const char *const sq_entries[] = {
	"sqlite3_open_v2:i(spis)", "sqlite3_close:i(p)",
	"sqlite3_exec:i(psppp)", "sqlite3_prepare_v2:i(psipp)",
	"sqlite3_step:i(p)", "sqlite3_reset:i(p)", "sqlite3_finalize:i(p)",
	"sqlite3_bind_int:i(pii)", "sqlite3_column_int:i(pi)",
	"sqlite3_column_int64:l(pi)", "sqlite3_column_text:p(pi)",
	"sqlite3_vfs_register:i(pi)", NULL,
};

/* The VFS methods: field of the structures, entry of the RAM file system. */
struct workload {
	int	(*open)(void);
	int	(*close)(void);
	int	(*test)(int, int);
	long	(*checksum)(void);
	int	(*del)(sqlite3_vfs *, const char *, int);
};

typedef void *(*resolve_fn)(void *ctx, const char *name);

static void
fill_vfs(sqlite3_vfs *vfs, sqlite3_io_methods *m, resolve_fn res, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->iVersion = 1;
	m->xClose = res(ctx, "ramfile_close");
	m->xRead = res(ctx, "ramfile_read");
	m->xWrite = res(ctx, "ramfile_write");
	m->xTruncate = res(ctx, "ramfile_truncate");
	m->xSync = res(ctx, "ramfile_sync");
	m->xFileSize = res(ctx, "ramfile_size");
	m->xLock = res(ctx, "ramfile_lock");
	m->xUnlock = res(ctx, "ramfile_lock");
	m->xCheckReservedLock = res(ctx, "ramfile_reserved");
	m->xFileControl = res(ctx, "ramfile_control");
	m->xSectorSize = res(ctx, "ramfile_sector");
	m->xDeviceCharacteristics = res(ctx, "ramfile_devchar");
	memset(vfs, 0, sizeof(*vfs));
	vfs->iVersion = 1;
	vfs->mxPathname = 255;
	vfs->zName = "ramvfs";
	vfs->xOpen = res(ctx, "ramvfs_open");
	vfs->xDelete = res(ctx, "ramvfs_delete");
	vfs->xAccess = res(ctx, "ramvfs_access");
	vfs->xFullPathname = res(ctx, "ramvfs_fullpathname");
	vfs->xRandomness = res(ctx, "ramvfs_randomness");
	vfs->xSleep = res(ctx, "ramvfs_sleep");
	vfs->xCurrentTime = res(ctx, "ramvfs_currenttime");
	vfs->xGetLastError = res(ctx, "ramvfs_lasterror");
}

static void *
res_dl(void *h, const char *name)
{
	return dlsym(h, name);
}

static void *
res_cmp(void *c, const char *name)
{
	return compart_entry(c, name);
}

static sqlite3_vfs *the_vfs;

/* Run every test once; times in ms into t[]; 0 or an error. */
static int
run_workload(struct workload *w, double *t, long *sum, char *err, size_t len)
{
	int i, rc;

	if ((rc = w->open()) != 0) {
		snprintf(err, len, "open: SQLite error %d", rc);
		return -1;
	}
	for (i = 0; i < NTESTS; i++) {
		double t0 = now();

		rc = w->test(i, rows);
		t[i] = (now() - t0) / 1e6;
		if (rc != 0) {
			snprintf(err, len, "%s: SQLite error %d", test_name[i], rc);
			w->close();
			return -1;
		}
	}
	*sum = w->checksum();
	w->close();
	w->del(the_vfs, "bench.db", 0);
	w->del(the_vfs, "bench.db-journal", 0);
	return 0;
}

static int
setup_unsplit(struct workload *w, char *err, size_t len)
{
	static sqlite3_vfs vfs;
	static sqlite3_io_methods m;
	void *sq, *fs, *app;
	int (*setup)(const sqlite3_io_methods *);
	int (*reg)(sqlite3_vfs *, int);

	/* SQLite global first, so that the application binds to it */
	if ((sq = dlopen(SQLITE_SO, RTLD_NOW | RTLD_GLOBAL)) == NULL ||
	    (fs = dlopen(so("sq_vfs"), RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (app = dlopen(so("sq_app"), RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, len, "%s", dlerror());
		return -1;
	}
	fill_vfs(&vfs, &m, res_dl, fs);
	setup = (int (*)(const sqlite3_io_methods *))dlsym(fs, "ramvfs_setup");
	reg = (int (*)(sqlite3_vfs *, int))dlsym(sq, "sqlite3_vfs_register");
	vfs.szOsFile = setup(&m);
	if (reg(&vfs, 1) != 0) {
		snprintf(err, len, "sqlite3_vfs_register failed");
		return -1;
	}
	the_vfs = &vfs;
	w->open = (int (*)(void))dlsym(app, "sq_open");
	w->close = (int (*)(void))dlsym(app, "sq_close");
	w->test = (int (*)(int, int))dlsym(app, "sq_test");
	w->checksum = (long (*)(void))dlsym(app, "sq_checksum");
	w->del = (int (*)(sqlite3_vfs *, const char *, int))dlsym(fs, "ramvfs_delete");
	return 0;
}

static compart_t *
load(const char *path, const char *name, size_t heap, const char *const *ent,
    char *err, size_t len)
{
	struct compart_attr a;
	compart_t *c;

	compart_attr_init(&a);
	a.name = name;
	a.heap_size = heap;
	a.entries = ent;
	if ((c = compart_load(path, &a)) == NULL)
		snprintf(err, len, "%s: %s", name, compart_error());
	return c;
}

/* Open owner's heap and stack (this thread's) to the others. */
static int
share(compart_t *owner, compart_t *to1, compart_t *to2)
{
	compart_window_t *w = compart_window_create(owner);
	void *p;
	size_t n;

	if (w == NULL)
		return -1;
	if (compart_region(owner, COMPART_REGION_HEAP, &p, &n) < 0 ||
	    compart_window_add(w, p, n) < 0 ||
	    compart_region(owner, COMPART_REGION_STACK, &p, &n) < 0 ||
	    compart_window_add(w, p, n) < 0 ||
	    compart_window_open(w, to1) < 0 ||
	    (to2 != NULL && compart_window_open(w, to2) < 0))
		return -1;
	return 0;
}

/* Open owner's writable statics (its object's .data and .bss) to to. */
static int
share_data(compart_t *owner, compart_t *to)
{
	compart_window_t *w = compart_window_create(owner);
	void *p;
	size_t n;

	if (w == NULL || compart_region(owner, COMPART_REGION_DATA, &p, &n) < 0 ||
	    compart_window_add(w, p, n) < 0 || compart_window_open(w, to) < 0)
		return -1;
	return 0;
}

static int
setup_split(struct workload *w, char *err, size_t len)
{
	static const char *const imports[] = {
		"sqlite3_open_v2", "sqlite3_close", "sqlite3_exec",
		"sqlite3_prepare_v2", "sqlite3_step", "sqlite3_reset",
		"sqlite3_finalize", "sqlite3_bind_int", "sqlite3_column_int64",
		"sqlite3_column_text", NULL,
	};
	compart_t *sq, *fs, *app;
	sqlite3_vfs *vfs;
	sqlite3_io_methods *m;
	int (*setup)(const sqlite3_io_methods *), (*reg)(sqlite3_vfs *, int);
	int i;

	if ((sq = load(SQLITE_SO, "sqlite", 256 << 20, sq_entries, err, len)) == NULL ||
	    (fs = load(so("sq_vfs"), "ramfs", 512 << 20, NULL, err, len)) == NULL ||
	    (app = load(so("sq_app"), "app", 64 << 20, NULL, err, len)) == NULL)
		return -1;
	for (i = 0; imports[i] != NULL; i++)
		if (compart_import(app, imports[i], sq, imports[i]) < 0) {
			snprintf(err, len, "import %s: %s", imports[i],
			    compart_error());
			return -1;
		}
	/* SQLite reads the VFS and its methods: they live in its heap */
	vfs = compart_malloc(sq, sizeof(*vfs) + 16);
	m = compart_malloc(sq, sizeof(*m));
	if (vfs == NULL || m == NULL) {
		snprintf(err, len, "compart_malloc: %s", compart_error());
		return -1;
	}
	fill_vfs(vfs, m, res_cmp, fs);
	strcpy((char *)(vfs + 1), "ramvfs");
	vfs->zName = (char *)(vfs + 1);
	/* SQLite also hands the file system a buffer among its statics:
	 * xRandomness fills the state of SQLite's PRNG (a static of
	 * libsqlite3).  That is SQLite's private memory unless a window
	 * shares it, as CubicleOS requires of every buffer passed across;
	 * without this one the first xRandomness is a violation (mprotect,
	 * mpk) and SQLite seeds its PRNG with whatever the failed call left. */
	if (share(sq, fs, app) < 0 || share(app, sq, NULL) < 0 ||
	    share_data(sq, fs) < 0) {
		snprintf(err, len, "windows: %s", compart_error());
		return -1;
	}
	setup = compart_entry(fs, "ramvfs_setup");
	reg = compart_entry(sq, "sqlite3_vfs_register");
	vfs->szOsFile = setup(m);
	if (reg(vfs, 1) != 0) {
		snprintf(err, len, "sqlite3_vfs_register failed");
		return -1;
	}
	the_vfs = vfs;
	w->open = compart_entry(app, "sq_open");
	w->close = compart_entry(app, "sq_close");
	w->test = compart_entry(app, "sq_test");
	w->checksum = compart_entry(app, "sq_checksum");
	w->del = compart_entry(fs, "ramvfs_delete");
	return 0;
}

/* Run the workload once with statistics on; *n: the calls through gates,
 * summed over the edges compart_stats_print() lists. */
static int
count_crossings(struct workload *w, unsigned long long *n, char *err,
    size_t len)
{
	double t[NTESTS];
	char *text = NULL, *line;
	size_t size = 0;
	long sum;
	FILE *f;
	int rc;

	if (compart_stats(1) < 0) {
		snprintf(err, len, "compart_stats: %s", compart_error());
		return -1;
	}
	rc = run_workload(w, t, &sum, err, len);
	compart_stats(0);
	if (rc < 0)
		return -1;
	if ((f = open_memstream(&text, &size)) == NULL ||
	    compart_stats_print(f) < 0 || fclose(f) != 0) {
		snprintf(err, len, "compart_stats_print: %s", strerror(errno));
		free(text);
		return -1;
	}
	*n = 0;
	line = strchr(text, '\n');	/* below the heading */
	while (line != NULL && line[1] != '\0') {
		unsigned long long calls;

		if (sscanf(line + 1, "%*s %*s %llu", &calls) == 1)
			*n += calls;
		line = strchr(line + 1, '\n');
	}
	free(text);
	return 0;
}

static void
bench_sqlite(struct result *r)
{
	struct workload un, sp;
	double tu[MAXROUNDS][NTESTS], ts[MAXROUNDS][NTESTS];
	double col[MAXROUNDS], ratio[MAXROUNDS];
	sqlite3_vfs *vfs_un;
	struct compart_violation v;
	int k, i;

	r->rows = rows;
	if (setup_unsplit(&un, r->err, sizeof(r->err)) < 0)
		return;
	vfs_un = the_vfs;
	if (setup_split(&sp, r->err, sizeof(r->err)) < 0)
		return;
	for (k = 0; k < rounds; k++) {
		double su = 0, ss = 0;

		the_vfs = vfs_un;
		if (run_workload(&un, tu[k], &r->sum_unsplit, r->err,
		    sizeof(r->err)) < 0)
			return;
		the_vfs = NULL;
		compart_clear_violation();
		if (run_workload(&sp, ts[k], &r->sum_split, r->err,
		    sizeof(r->err)) < 0)
			return;
		/* A violation is a failed call that SQLite may ignore (it
		 * does for xRandomness): the run is not valid. */
		if (compart_last_violation(&v) == 0) {
			snprintf(r->err, sizeof(r->err), "violation: '%s' %s "
			    "%p, memory of %s", v.accessor, v.write ? "wrote" :
			    "read", v.addr, v.owner);
			return;
		}
		for (i = 0; i < NTESTS; i++) {
			su += tu[k][i];
			ss += ts[k][i];
		}
		ratio[k] = ss / su;
		if (!quiet)
			fprintf(stderr, "  %s round %d: unsplit %.1f ms, split "
			    "%.1f ms\n", compart_mode_name(r->mode), k + 1, su, ss);
	}
	for (i = 0; i < NTESTS; i++) {
		for (k = 0; k < rounds; k++)
			col[k] = tu[k][i];
		r->unsplit[i] = median(col, rounds);
		r->tot_unsplit += r->unsplit[i];
		for (k = 0; k < rounds; k++)
			col[k] = ts[k][i];
		r->split[i] = median(col, rounds);
		r->tot_split += r->split[i];
	}
	r->ratio = median(ratio, rounds);
	/* One more split run, untimed, counting the calls through gates. */
	if (count_crossings(&sp, &r->crossings, r->err, sizeof(r->err)) < 0)
		return;
	r->sql_ok = r->sum_split == r->sum_unsplit;
	if (!r->sql_ok)
		snprintf(r->err, sizeof(r->err), "split and unsplit results "
		    "differ (checksum %ld, %ld)", r->sum_split, r->sum_unsplit);
}
#endif

/* In a child: everything measured in mode m, written to fd. */
static int
child(int m, int fd)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	r.mode = m;
	if (compart_init(m) < 0) {
		snprintf(r.err, sizeof(r.err), "%s", compart_error());
	} else {
		bench_calls(&r);
#ifdef HAVE_SQLITE3
		/* SQLite hands the RAM file system pointers into its private
		 * heap and stack: that needs colocation */
		if (m == COMPART_MPROTECT && !all_modes)
			snprintf(r.err, sizeof(r.err), "skipped (thousands of "
			    "times slower; -a runs it)");
		else if (m != COMPART_PROCESS)
			bench_sqlite(&r);
#else
		snprintf(r.err, sizeof(r.err), "built without SQLite "
		    "(apt-get install libsqlite3-dev)");
#endif
	}
	return write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: compart [-aq] [-n rows] [-r rounds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct result res[4];
	int modes[4], nmodes = 0, ch, i, j, status = 0;
	char exe[PATH_MAX];
	ssize_t n;
	bool first;

	while ((ch = getopt(argc, argv, "aqn:r:")) != -1) {
		switch (ch) {
		case 'a': all_modes = 1; break;
		case 'q': quiet = 1; break;
		case 'n': rows = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default: usage();
		}
	}
	if (rows < 10 || rounds < 1 || rounds > MAXROUNDS)
		usage();
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return 1;
	exe[n] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(exe));
	for (i = COMPART_NONE; i <= COMPART_PROCESS; i++) {
		char why[256];

		if (i == COMPART_MPK && !compart_mpk_check(why, sizeof(why))) {
			printf("mpk: not measured: %s\n", why);
			continue;
		}
		modes[nmodes++] = i;
	}
	for (j = 0; j < nmodes; j++) {
		int pfd[2];
		pid_t pid;

		memset(&res[j], 0, sizeof(res[j]));
		res[j].mode = modes[j];
		if (pipe(pfd) < 0)
			return 1;
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			_exit(child(modes[j], pfd[1]));
		}
		close(pfd[1]);
		if (read(pfd[0], &res[j], sizeof(res[j])) != (ssize_t)sizeof(res[j]))
			snprintf(res[j].err, sizeof(res[j].err), "the %s child "
			    "died", compart_mode_name(modes[j]));
		close(pfd[0]);
		waitpid(pid, NULL, 0);
	}

	printf("\nEmpty cross-compartment call against a plain indirect call "
	    "(ns per call, median of %d rounds)\n", rounds);
	printf("%-10s %10s %10s %8s  %s\n", "mode", "indirect", "compart",
	    "ratio", "goal");
	for (j = 0; j < nmodes; j++) {
		struct result *r = &res[j];

		if (!r->calls_ok) {
			printf("%-10s failed: %s\n", compart_mode_name(r->mode),
			    r->err);
			status = 1;
			continue;
		}
		printf("%-10s %10.2f %10.2f %7.1fx  %s\n",
		    compart_mode_name(r->mode), r->ind_ns, r->cmp_ns,
		    r->call_ratio, r->mode == COMPART_NONE ? "<= 3x" :
		    r->mode == COMPART_MPK ? "< 100 cycles" : "");
	}
	printf("\nSQLite workload, %d rows: SQLite, RAM file system and "
	    "application in 3 compartments\n(ms, median of %d rounds; "
	    "process mode: not run, see docs/compartments.md)\n", rows, rounds);
	printf("%-18s %9s", "test", "unsplit");
	for (j = 0; j < nmodes; j++)
		if (res[j].sql_ok)
			printf(" %9s", compart_mode_name(res[j].mode));
	printf("\n");
	for (i = 0; i <= NTESTS; i++) {
		bool any = false;

		for (j = 0; j < nmodes; j++)
			if (res[j].sql_ok) {
				if (!any)
					printf("%-18s %9.2f", i < NTESTS ?
					    test_name[i] : "total", i < NTESTS ?
					    res[j].unsplit[i] : res[j].tot_unsplit);
				any = true;
				printf(" %9.2f", i < NTESTS ? res[j].split[i] :
				    res[j].tot_split);
			}
		if (any)
			printf("\n");
	}
	printf("%-18s %9s", "ratio to unsplit", "1.00x");
	for (j = 0; j < nmodes; j++)
		if (res[j].sql_ok)
			printf(" %8.2fx", res[j].ratio);
	printf("\n");
	for (j = 0; j < nmodes; j++)
		if (!res[j].sql_ok && res[j].mode != COMPART_PROCESS) {
			printf("%s: SQLite workload not measured: %s\n",
			    compart_mode_name(res[j].mode), res[j].err);
			if (res[j].calls_ok && strstr(res[j].err, "without") == NULL &&
			    strstr(res[j].err, "skipped") == NULL)
				status = 1;
		}
	printf("goal: none and mpk modes at most 1.3x unsplit\n");
	for (j = 0; j < nmodes; j++) {
		struct result *r = &res[j];
		double margin;

		if (!r->sql_ok || r->crossings == 0)
			continue;
		/* What each call through a gate may cost on top of this mode's
		 * before the split reaches 1.3x: the margin a slower switch
		 * (mpk's two WRPKRU) has, where it cannot be measured. */
		margin = (1.3 * r->tot_unsplit - r->tot_split) * 1e6 /
		    (double)r->crossings;
		printf("%s: %llu calls through gates per split run; ",
		    compart_mode_name(r->mode), r->crossings);
		if (margin >= 0)
			printf("each may cost %.0f ns more before 1.3x\n", margin);
		else
			printf("beyond 1.3x by %.0f ns per call\n", -margin);
	}

	printf("JSON {\"bench\":\"compart\",\"rows\":%d,\"rounds\":%d,\"modes\":[",
	    rows, rounds);
	for (j = 0, first = true; j < nmodes; j++) {
		struct result *r = &res[j];

		printf("%s{\"mode\":\"%s\",\"indirect_ns\":%.3f,\"call_ns\":%.3f,"
		    "\"call_ratio\":%.3f", first ? "" : ",",
		    compart_mode_name(r->mode), r->ind_ns, r->cmp_ns,
		    r->call_ratio);
		if (r->sql_ok) {
			printf(",\"sqlite_unsplit_ms\":%.3f,\"sqlite_split_ms\":%.3f,"
			    "\"sqlite_ratio\":%.3f,\"crossings\":%llu,\"tests\":{",
			    r->tot_unsplit, r->tot_split, r->ratio, r->crossings);
			for (i = 0; i < NTESTS; i++)
				printf("%s\"%s\":[%.3f,%.3f]", i ? "," : "",
				    test_name[i], r->unsplit[i], r->split[i]);
			printf("}");
		}
		printf("}");
		first = false;
	}
	printf("]}\n");
	return status;
}
