/*
 * bench/cocall's iceoryx case, a publisher/subscriber ping-pong, and
 * iox-roudi, the iceoryx daemon it needs, started and stopped here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cocall.h"

#ifdef HAVE_ICEORYX
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/runtime.h>
#endif

#define IOX_RUNTIME	"comsg-bench-iox-"	/* and the pid: /tmp/<that> */

static pid_t roudi_pid, iox_pids[2 * NPLACES];
static int niox;
static char roudi_log[128];

/* ---- Eclipse iceoryx: publisher/subscriber ping-pong ---- */

#ifdef HAVE_ICEORYX
#define IOX_SERVICE	"comsg-bench"

static void
iox_setup(struct pair *p, int role)
{
	char rt[64], ping[80], pong[80];
	iox_pub_options_t po;
	iox_sub_options_t so;
	int64_t deadline;

	snprintf(rt, sizeof(rt), IOX_RUNTIME "%d", (int)getpid());
	snprintf(ping, sizeof(ping), "%s-ping", p->name);
	snprintf(pong, sizeof(pong), "%s-pong", p->name);
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(rt);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	iox_sub_options_init(&so);
	so.queueCapacity = 4;
	so.historyRequest = 0;
	p->pub = iox_pub_init(&p->pubst, IOX_SERVICE,
	    role == CLIENT ? ping : pong, "rt", &po);
	p->sub = iox_sub_init(&p->subst, IOX_SERVICE,
	    role == CLIENT ? pong : ping, "rt", &so);
	if (p->pub == NULL || p->sub == NULL) {
		errno = ENOMEM;
		child_die(p, role, "iox_pub_init/iox_sub_init");
	}
	if (role == SERVER)
		return;
	/* The client is ready when it hears the server and is heard. */
	deadline = now_ns() + 10 * 1000000000LL;
	while (iox_sub_get_subscription_state(p->sub) !=
	    SubscribeState_SUBSCRIBED || !iox_pub_has_subscribers(p->pub)) {
		if (now_ns() > deadline) {
			errno = ETIMEDOUT;
			child_die(p, role, "iceoryx subscription");
		}
		usleep(1000);
	}
}

static void
iox_srv_setup(struct pair *p)
{
	iox_setup(p, SERVER);
}

static void
iox_cli_setup(struct pair *p)
{
	iox_setup(p, CLIENT);
}

/* Leave through exit(), whose destructors unregister the runtime from
 * RouDi: RouDi aborts at its own shutdown, leaving its shared memory
 * behind, if a process it still knows is gone. */
static void __attribute__((noreturn))
iox_close(struct pair *p)
{
	iox_sub_deinit(p->sub);
	iox_pub_deinit(p->pub);
	exit(0);
}

/*
 * The server echoes each request from the chunk it received into the
 * chunk it publishes: one copy fewer than the others, which is what a
 * zero-copy transport is for.  It polls without pause, at its best; it
 * checks ctl only when nothing came, so a batch never waits on it.
 */
static void
iox_serve(struct pair *p)
{
	for (;;) {
		enum iox_ChunkReceiveResult r;
		const void *in;
		void *out;
		uint32_t c, len;

		r = iox_sub_take_chunk(p->sub, &in);
		if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
			c = LOAD_ACQ(&p->sh->ctl);
			if (c == QUIT)
				break;
			if (c == PARK)
				fwait(&p->sh->ctl, c);
			continue;
		}
		if (r != ChunkReceiveResult_SUCCESS) {
			errno = EIO;
			child_die(p, SERVER, "iox_sub_take_chunk");
		}
		/* Stored by the client before the batch began; the chunk
		 * it published since carries it over (release/acquire). */
		len = LOAD_RLX(&p->sh->size);
		if (iox_pub_loan_chunk(p->pub, &out, len) !=
		    AllocationResult_SUCCESS) {
			errno = ENOMEM;
			child_die(p, SERVER, "iox_pub_loan_chunk");
		}
		memcpy(out, in, len);
		iox_sub_release_chunk(p->sub, in);
		iox_pub_publish_chunk(p->pub, out);
	}
	iox_close(p);
}

static int
iox_rt(struct pair *p, size_t n)
{
	enum iox_ChunkReceiveResult r;
	const void *in;
	void *out;

	if (iox_pub_loan_chunk(p->pub, &out, (uint32_t)n) !=
	    AllocationResult_SUCCESS) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(out, obuf, n);
	iox_pub_publish_chunk(p->pub, out);
	while ((r = iox_sub_take_chunk(p->sub, &in)) ==
	    ChunkReceiveResult_NO_CHUNK_AVAILABLE)
		;
	if (r != ChunkReceiveResult_SUCCESS) {
		errno = EIO;
		return -1;
	}
	memcpy(ibuf, in, n);
	iox_sub_release_chunk(p->sub, in);
	return 0;
}

/* ctl: release here pairs with the server's acquire when it idles. */
static void
iox_begin(struct pair *p, size_t n)
{
	STORE_REL(&p->sh->ctl, RUN);
	fwake(&p->sh->ctl);
}

static void
iox_end(struct pair *p)
{
	STORE_REL(&p->sh->ctl, PARK);
}

static void
iox_quit(struct pair *p)
{
	STORE_REL(&p->sh->ctl, QUIT);
	fwake(&p->sh->ctl);
	iox_close(p);
}

const struct ops iox_ops = { iox_srv_setup, iox_serve, iox_cli_setup, iox_rt,
	iox_begin, iox_end, iox_quit };
#endif

/* ---- iox-roudi ---- */

static bool
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		size_t n = strcspn(path, ":");

		if (n > 0 && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path,
		    prog) < (int)sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* The last line of the RouDi log with anything unprintable dropped. */
static void
roudi_last_line(char *out, size_t size)
{
	char buf[4096], *s, *e;
	ssize_t n;
	size_t k = 0;
	int fd = open(roudi_log, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	s = strrchr(buf, '\n');
	s = s == NULL ? buf : s + 1;
	for (e = s; *e != '\0' && k + 1 < size; e++) {
		if (*e == 033) {	/* colour: ESC [ ... m */
			while (*e != '\0' && *e != 'm')
				e++;
			if (*e == '\0')
				break;
			continue;
		}
		if (*e >= ' ' && *e < 0x7f)
			out[k++] = *e;
	}
	out[k] = '\0';
}

static bool
roudi_ready(void)
{
	char buf[8192];
	ssize_t n;
	int fd = open(roudi_log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "RouDi is ready for clients") != NULL;
}

/*
 * Start iox-roudi with a small configuration of our own (mempools for the
 * sizes measured, not the default 200 MB) and wait until it serves.  It
 * gets SIGTERM, which it answers by cleaning up, if we die.
 */
bool
roudi_start(void)
{
	static const char cfg[] =
	    "[general]\nversion = 1\n\n[[segment]]\n\n"
	    "[[segment.mempool]]\nsize = 128\ncount = 64\n\n"
	    "[[segment.mempool]]\nsize = 4096\ncount = 64\n\n"
	    "[[segment.mempool]]\nsize = 65536\ncount = 32\n";
	char cfgpath[128], line[256];
	int64_t deadline;
	int fd, st;
	pid_t pid;

	if (!in_path("iox-roudi")) {
		note("iceoryx skipped: iox-roudi not found: %s", ICEORYX_APT);
		return false;
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/roudi.toml", bench_dir);
	snprintf(roudi_log, sizeof(roudi_log), "%s/roudi.log", bench_dir);
	fd = open(cfgpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, cfg, sizeof(cfg) - 1) < 0) {
		if (fd >= 0)
			close(fd);
		note("iceoryx skipped: cannot write %s", cfgpath);
		return false;
	}
	close(fd);
	fprintf(stderr, "cocall: starting iox-roudi\n");
	pid = fork();
	if (pid < 0) {
		note("iceoryx skipped: fork failed");
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent_pid)
			_exit(1);
		fd = open(roudi_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		close_others(NULL, 0);
		signal(SIGPIPE, SIG_DFL);
		execlp("iox-roudi", "iox-roudi", "-c", cfgpath, "-l", "warning",
		    (char *)NULL);
		_exit(127);
	}
	roudi_pid = pid;
	deadline = now_ns() + 10 * 1000000000LL;
	while (!roudi_ready()) {
		check_stop();
		if (waitpid(pid, &st, WNOHANG) == pid) {
			roudi_pid = 0;
			roudi_last_line(line, sizeof(line));
			note("iceoryx skipped: iox-roudi exited (is another "
			    "RouDi running?): %s", line);
			return false;
		}
		if (now_ns() > deadline) {
			note("iceoryx skipped: iox-roudi did not become ready");
			return false;	/* cleanup() stops it */
		}
		usleep(5000);
	}
	return true;
}

void
roudi_child(pid_t pid)
{
	if (niox < (int)(sizeof(iox_pids) / sizeof(iox_pids[0])))
		iox_pids[niox++] = pid;
}

/* What an iox-roudi that did not shut down cleanly leaves: the names are
 * fixed in iceoryx 2, and the lock it held while running proves that
 * these were its own. */
static void
roudi_leftovers(void)
{
	struct passwd *pw;
	char path[PATH_MAX];

	unlink("/dev/shm/iceoryx_mgmt");
	if ((pw = getpwuid(geteuid())) != NULL) {
		snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
		unlink(path);
	}
	unlink("/tmp/roudi");
	unlink("/tmp/roudi.lock");
	unlink("/tmp/iox-unique-roudi.lock");
}

void
roudi_stop(void)
{
	int64_t deadline = now_ns() + 5 * 1000000000LL;
	char path[PATH_MAX];
	int st = 0, i;
	pid_t r;

	if (roudi_pid > 0) {
		kill(roudi_pid, SIGTERM);
		while ((r = waitpid(roudi_pid, &st, WNOHANG)) == 0 &&
		    now_ns() < deadline)
			usleep(10000);
		if (r == 0) {
			kill(roudi_pid, SIGKILL);
			waitpid(roudi_pid, &st, 0);
		}
		roudi_pid = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			roudi_leftovers();
	}
	/* Each iceoryx process's socket, left if it did not exit cleanly. */
	for (i = 0; i < niox; i++) {
		snprintf(path, sizeof(path), "/tmp/%s%d", IOX_RUNTIME,
		    (int)iox_pids[i]);
		unlink(path);
		snprintf(path, sizeof(path), "/tmp/%s%d.lock", IOX_RUNTIME,
		    (int)iox_pids[i]);
		unlink(path);
	}
	niox = 0;
}

