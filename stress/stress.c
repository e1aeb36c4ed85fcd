/*
 * stress: services and callers calling each other flat out, and senders
 * and receivers on a COCHANNEL port, while a driver kills random services,
 * callers, senders and comsgd itself with SIGKILL and starts them again.
 * Checked, and reported as violations: a call that blocks more than 100 ms
 * past the death of its service; a reply to the wrong call; a call
 * executed twice; a call acknowledged but never executed; a call to a
 * live service that takes seconds (a lost wakeup); a message received
 * twice, out of order, or acknowledged and never received; survivors
 * whose descriptors or memory grow; a comsgd not back at its descriptors
 * at rest once every user of the port is gone, or whose memory grew.
 * Prints the load held, the kills survived and comsgd's figures.
 *
 *	stress [-t secs] [-s services] [-c callers] [-p senders]
 *	    [-r receivers] [-k kill_ms] [-q]
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <comsg/cocall.h>
#include <comsg/coport.h>

#define MAX_SVC		16
#define MAX_CALLER	32
#define MAX_PORTUSER	8
#define PORT_NAME	"stress-chan"
#define WINDOW		65536		/* executed calls remembered per caller */
#define DEATH_MS	100		/* invariant 4 */
#define STALL_MS	2000		/* a live service this slow: lost wakeup */
#define SETTLE_MS	3000		/* comsgd at rest again: 3 idle reaping ticks */
#define COMSGD_KIB	4096		/* what comsgd's RSS may grow by */

struct req {
	uint32_t	id, seq;
};

struct rep {
	uint32_t	id, seq, svc, check;
};

/* Shared by the driver and every child (an anonymous shared mapping made
 * before the first fork). */
struct board {
	volatile int	 stop;
	uint64_t	 calls;
	uint64_t	 violations;
	uint64_t	 kill_ns[MAX_SVC];	/* when the service was last killed */
	uint32_t	 next_seq[MAX_CALLER];	/* survives a caller's death */
	uint32_t	 executed[MAX_CALLER][WINDOW];	/* seq + 1, by seq % WINDOW */
	char		 last[256];		/* the last violation, for the report */
	/* the port */
	uint64_t	 messages;
	uint32_t	 port_gen;		/* bumped when comsgd is killed */
	uint32_t	 sender_gen[MAX_PORTUSER];	/* the port each is on */
	uint32_t	 receiver_gen[MAX_PORTUSER];
	volatile int	 stop_send, drain;
	uint32_t	 next_mseq[MAX_PORTUSER];
	uint32_t	 sender_inc[MAX_PORTUSER];	/* incarnations */
	uint32_t	 acked[MAX_PORTUSER][WINDOW];	/* seq + 1 */
	uint32_t	 acked_gen[MAX_PORTUSER][WINDOW];	/* on which port */
	uint32_t	 received[MAX_PORTUSER][WINDOW];	/* seq + 1 */
};

struct msg {
	uint32_t	id, inc, seq, check;
};

static struct board *b;
static int nsvc = 4, ncaller = 8, nsender = 2, nreceiver = 2;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
violation(const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&b->violations, 1, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	vsnprintf(b->last, sizeof(b->last), fmt, ap);
	va_end(ap);
	fprintf(stderr, "stress: violation: %s\n", b->last);
}

static void
die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
}

static int
service(int i)
{
	char name[32];
	void *target;
	struct req r;
	struct rep out;
	size_t outlen = 0;

	die_with_parent();
	snprintf(name, sizeof(name), "svc-%d", i);
	/* The name may still be held by our killed predecessor's socket:
	 * coregister reclaims it once nobody listens. */
	while (coregister(name, &target) < 0) {
		if (errno != EEXIST)
			err(1, "coregister %s", name);
		usleep(1000);
	}
	for (;;) {
		ssize_t n = coaccept(NULL, &out, outlen, &r, sizeof(r));
		uint32_t *slot;

		if (n != sizeof(r) || r.id >= (uint32_t)ncaller) {
			outlen = 0;
			continue;
		}
		slot = &b->executed[r.id][r.seq % WINDOW];
		if (__atomic_exchange_n(slot, r.seq + 1, __ATOMIC_SEQ_CST) ==
		    r.seq + 1)
			violation("call %u.%u executed twice", r.id, r.seq);
		out = (struct rep){ r.id, r.seq, (uint32_t)i, r.seq * 2654435761u };
		outlen = sizeof(out);
	}
}

static int
caller(int id)
{
	void *cap[MAX_SVC] = { 0 };
	unsigned rnd = (unsigned)getpid();

	die_with_parent();
	while (!b->stop) {
		int s = (int)(rand_r(&rnd) % (unsigned)nsvc);
		struct req r;
		struct rep out;
		uint64_t t0, t1, killed;
		ssize_t n;

		if (cap[s] == NULL) {
			char name[32];

			snprintf(name, sizeof(name), "svc-%d", s);
			if (colookup(name, &cap[s]) < 0) {
				cap[s] = NULL;
				continue;	/* being restarted */
			}
		}
		r.id = (uint32_t)id;
		r.seq = __atomic_fetch_add(&b->next_seq[id], 1, __ATOMIC_RELAXED);
		t0 = now_ns();
		n = cocallv(cap[s], &(struct comsg){ .out = &r, .outlen = sizeof(r),
		    .in = &out, .inlen = sizeof(out) }, 0, 3 * STALL_MS);
		t1 = now_ns();
		if (n == sizeof(out)) {
			if (out.id != r.id || out.seq != r.seq ||
			    out.check != r.seq * 2654435761u)
				violation("call %u.%u answered with %u.%u", r.id,
				    r.seq, out.id, out.seq);
			else if (__atomic_load_n(&b->executed[id][r.seq % WINDOW],
			    __ATOMIC_SEQ_CST) != r.seq + 1)
				violation("call %u.%u acknowledged, not executed",
				    r.id, r.seq);
			if (t1 - t0 > (uint64_t)STALL_MS * 1000000)
				violation("call %u.%u to a live service took %.0f ms",
				    r.id, r.seq, (t1 - t0) / 1e6);
			__atomic_add_fetch(&b->calls, 1, __ATOMIC_RELAXED);
			continue;
		}
		killed = __atomic_load_n(&b->kill_ns[s], __ATOMIC_SEQ_CST);
		if (errno == ENOLINK) {
			/* Killed during our call: we must hear of it soon. */
			if (killed > t0 && t1 > killed &&
			    t1 - killed > (uint64_t)DEATH_MS * 1000000)
				violation("call %u.%u: ENOLINK %.0f ms after the "
				    "service's death", r.id, r.seq,
				    (t1 - killed) / 1e6);
		} else if (errno == ETIMEDOUT && killed < t0) {
			violation("call %u.%u to a live service timed out", r.id,
			    r.seq);
		} else if (errno != ETIMEDOUT) {
			violation("call %u.%u: %s", r.id, r.seq, strerror(errno));
		}
		capfree(cap[s]);
		cap[s] = NULL;
	}
	return 0;
}


/*
 * A sender: messages (id, incarnation, seq) on the port, each recorded as
 * acknowledged once cosend() returns.  After comsgd is killed the name is
 * gone with it: the sender moves to the port a new comsgd makes.
 */
static int
port_sender(int id)
{
	coport_t p = NULL;
	uint32_t gen = 0, inc = __atomic_add_fetch(&b->sender_inc[id], 1,
	    __ATOMIC_SEQ_CST);

	die_with_parent();
	while (!b->stop_send) {
		uint32_t now = __atomic_load_n(&b->port_gen, __ATOMIC_ACQUIRE);
		struct msg m;

		if (p == NULL || gen != now) {
			if (p != NULL)
				coclose(p);
			p = NULL;
			if (coopen(PORT_NAME, COCHANNEL, &p) < 0) {
				p = NULL;
				continue;	/* comsgd starting again */
			}
			gen = now;
			/* Everything sent on the old port is acknowledged
			 * before receivers may drain it (they wait for this). */
			__atomic_store_n(&b->sender_gen[id], gen, __ATOMIC_RELEASE);
		}
		m.id = (uint32_t)id;
		m.inc = inc;
		m.seq = __atomic_fetch_add(&b->next_mseq[id], 1, __ATOMIC_RELAXED);
		m.check = m.seq * 2654435761u ^ m.inc;
		if (cosend(p, &m, sizeof(m)) != sizeof(m)) {
			if (errno != ENOLINK && errno != EPIPE)
				violation("cosend %u.%u: %s", m.id, m.seq,
				    strerror(errno));
			coclose(p);
			p = NULL;	/* comsgd gone before our first send */
			continue;
		}
		__atomic_store_n(&b->acked_gen[id][m.seq % WINDOW], gen,
		    __ATOMIC_RELAXED);
		__atomic_store_n(&b->acked[id][m.seq % WINDOW], m.seq + 1,
		    __ATOMIC_SEQ_CST);
	}
	return 0;
}

static bool
senders_moved_to(uint32_t gen)
{
	for (int i = 0; i < nsender; i++)
		if (__atomic_load_n(&b->sender_gen[i], __ATOMIC_ACQUIRE) != gen)
			return false;
	return true;
}

/* Take one message (non-blocking): 1, or 0 if none is there. */
static int
port_take(coport_t p, uint32_t *last_inc, uint32_t *last_seq)
{
	struct msg m;
	void *buf = &m;
	ssize_t n = corecv(p, &buf, sizeof(m));
	uint32_t *slot;

	if (n < 0) {
		/* ENOLINK: the port's comsgd died before we learnt of its
		 * rings (a documented limit); the next move replaces it. */
		if (errno != EAGAIN && errno != EPIPE && errno != ENOLINK)
			violation("corecv: %s", strerror(errno));
		return 0;
	}
	if (n != sizeof(m) || m.id >= (uint32_t)nsender ||
	    m.check != (m.seq * 2654435761u ^ m.inc)) {
		violation("a torn or foreign message (%zd bytes)", n);
		return 1;
	}
	slot = &b->received[m.id][m.seq % WINDOW];
	if (__atomic_exchange_n(slot, m.seq + 1, __ATOMIC_SEQ_CST) == m.seq + 1)
		violation("message %u.%u received twice", m.id, m.seq);
	/* Order holds per sending process (one incarnation). */
	if (m.inc == last_inc[m.id] && m.seq <= last_seq[m.id])
		violation("message %u.%u after %u", m.id, m.seq,
		    last_seq[m.id]);
	if (m.inc >= last_inc[m.id]) {
		last_inc[m.id] = m.inc;
		last_seq[m.id] = m.seq;
	}
	__atomic_add_fetch(&b->messages, 1, __ATOMIC_RELAXED);
	return 1;
}

/*
 * A receiver (never killed: what it takes is what was delivered).  When
 * comsgd was killed its names went with it: the receiver opens the port
 * the senders move to at once (so that what they queue there lives), and
 * drains the old one once every sender has moved on.
 */
static int
port_receiver(int id)
{
	uint32_t last_inc[MAX_PORTUSER] = { 0 }, last_seq[MAX_PORTUSER] = { 0 };
	uint32_t gen = __atomic_load_n(&b->port_gen, __ATOMIC_ACQUIRE);
	coport_t p, old = NULL;

	die_with_parent();
	while (coopen(PORT_NAME, COCHANNEL, &p) < 0)
		usleep(1000);
	coport_setflags(p, COPORT_NONBLOCK);
	__atomic_store_n(&b->receiver_gen[id], gen, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t now = __atomic_load_n(&b->port_gen, __ATOMIC_ACQUIRE);
		pollcoport_t pc = make_pollcoport(p, COPOLL_IN);
		int took = 0;

		if (now != gen && old == NULL) {
			coport_t np;

			if (coopen(PORT_NAME, COCHANNEL, &np) < 0)
				continue;	/* comsgd starting again */
			coport_setflags(np, COPORT_NONBLOCK);
			old = p;
			p = np;
			gen = now;
		}
		if (old != NULL) {
			took = port_take(old, last_inc, last_seq);
			if (!took && senders_moved_to(gen)) {
				while (port_take(old, last_inc, last_seq))
					;
				coclose(old);
				old = NULL;
				/* Moved: the driver may kill comsgd again. */
				__atomic_store_n(&b->receiver_gen[id], gen,
				    __ATOMIC_RELEASE);
			}
		}
		/* The new port only once the old one is drained: one
		 * sender's order holds per port. */
		if (old == NULL)
			took = port_take(p, last_inc, last_seq);
		if (took)
			continue;
		if (b->drain && old == NULL)
			break;
		(void)copoll(&pc, 1, 10);
	}
	coclose(p);
	return 0;
}

static bool
receivers_moved_to(uint32_t gen)
{
	for (int i = 0; i < nreceiver; i++)
		if (__atomic_load_n(&b->receiver_gen[i], __ATOMIC_ACQUIRE) != gen)
			return false;
	return true;
}

/* The pid of the domain's comsgd, or 0 if none serves. */
static pid_t
comsgd_pid(void)
{
	void *t;
	pid_t pid = 0;

	if (colookup("comsgd", &t) < 0)
		return 0;
	if (cotargetpid(t, &pid) < 0)
		pid = 0;
	capfree(t);
	return pid;
}

/* Kill the domain's comsgd; the ports it made go on, its names do not. */
static bool
kill_comsgd(void)
{
	pid_t pid = comsgd_pid();
	int fd;

	if (pid == 0 || (fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
		return false;
	if (kill(pid, SIGKILL) == 0) {
		/* Only once it is gone may the users move: until then it
		 * still answers, and a port opened now would be its. */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		(void)poll(&pfd, 1, 5000);
		close(fd);
		(void)waitpid(pid, NULL, WNOHANG);	/* the first is ours */
		__atomic_add_fetch(&b->port_gen, 1, __ATOMIC_SEQ_CST);
		return true;
	}
	close(fd);
	return false;
}

/*
 * Start the domain's first comsgd as the library does (comsgd -R: the
 * standard streams on /dev/null, readiness on descriptor 3, nothing else
 * of ours), but in the foreground, so that we know its pid and can take its
 * figures at rest before any client has reached it.  The program is the
 * one the library finds too: $COMSGD, else the build tree's, beside us.
 * 0 if it cannot start.
 */
static pid_t
comsgd_start(void)
{
	char prog[PATH_MAX], c;
	int p[2], fd;
	ssize_t n;
	pid_t pid;

	if (getenv("COMSGD") != NULL) {
		snprintf(prog, sizeof(prog), "%s", getenv("COMSGD"));
	} else {
		n = readlink("/proc/self/exe", prog, sizeof(prog) - 20);
		if (n <= 0)
			return 0;
		prog[n] = '\0';
		strcpy(strrchr(prog, '/'), "/../tools/comsgd");
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		err(1, "pipe2");
	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0 ||
		    dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || dup2(p[1], 3) < 0)
			_exit(127);
		closefrom(4);
		execl(prog, "comsgd", "-f", "-R", "3", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* A byte once it serves, end of file once it has closed its end:
	 * from then on it opens nothing until a client comes. */
	if (read(p[0], &c, 1) != 1 || read(p[0], &c, 1) != 0) {
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 0;
	}
	close(p[0]);
	return pid;
}

static pid_t
spawn(int (*fn)(int), int i)
{
	pid_t pid = fork();

	if (pid < 0)
		err(1, "fork");
	if (pid == 0)
		_exit(fn(i));
	return pid;
}

/* Descriptors and resident pages of a process, private ones only unless
 * all (the services' shared pages include the board, which they fill as
 * they go); -1 if its descriptors cannot be read (gone, or not dumpable
 * and we are not root, as comsgd). */
static int
usage_of(pid_t pid, int *fds, long *pages, bool all)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	FILE *f;

	*fds = 0;
	*pages = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		*fds += e->d_name[0] != '.';
	closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		long size, resident, shared;

		if (fscanf(f, "%ld %ld %ld", &size, &resident, &shared) == 3)
			*pages = all ? resident : resident - shared;
		fclose(f);
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: stress [-q] [-t secs] [-s services] [-c callers] "
	    "[-p senders] [-r receivers] [-k kill_ms]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	pid_t svc[MAX_SVC], cal[MAX_CALLER], snd[MAX_PORTUSER], rcv[MAX_PORTUSER];
	int secs = 30, kill_ms = 50, ch, i, kills = 0, svc_kills = 0;
	int sender_kills = 0, comsgd_kills = 0;
	uint64_t stranded = 0;
	uint64_t msgs0;
	int fds0[MAX_SVC], fds1, quiet = 0, dfds0 = -1, dfds1 = -1;
	long pages0[MAX_SVC], pages1, dpages0 = 0, dpages1 = 0;
	long kib = sysconf(_SC_PAGESIZE) / 1024;
	char dir[] = "/tmp/comsg-stress-XXXXXX", cmd[64];
	pid_t d;
	uint64_t t_start, t_end, calls0;
	unsigned rnd = (unsigned)time(NULL);

	while ((ch = getopt(argc, argv, "c:k:p:qr:s:t:")) != -1) {
		switch (ch) {
		case 'c': ncaller = atoi(optarg); break;
		case 'p': nsender = atoi(optarg); break;
		case 'r': nreceiver = atoi(optarg); break;
		case 'k': kill_ms = atoi(optarg); break;
		case 'q': quiet = 1; break;
		case 's': nsvc = atoi(optarg); break;
		case 't': secs = atoi(optarg); break;
		default: usage();
		}
	}
	if (nsvc < 1 || nsvc > MAX_SVC || ncaller < 1 || ncaller > MAX_CALLER ||
	    nsender < 1 || nsender > MAX_PORTUSER || nreceiver < 1 ||
	    nreceiver > MAX_PORTUSER ||
	    secs < 1 || kill_ms < 1 || optind != argc)
		usage();
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp");
	setenv("COMSG_DIR", dir, 1);
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		err(1, "mmap");
	/* comsgd's figures at rest, before anyone uses it.  Every comsgd of
	 * the run is this program started this way (by the library, after a
	 * kill), so these are the figures any of them has at rest. */
	if ((d = comsgd_start()) == 0)
		warnx("cannot start comsgd: its figures are not checked");
	else if (usage_of(d, &dfds0, &dpages0, true) < 0)
		warnx("cannot read comsgd's descriptors (not dumpable: run as "
		    "root): its figures are not checked");
	for (i = 0; i < nsvc; i++)
		svc[i] = spawn(service, i);
	for (i = 0; i < ncaller; i++)
		cal[i] = spawn(caller, i);
	for (i = 0; i < nreceiver; i++)
		rcv[i] = spawn(port_receiver, i);
	for (i = 0; i < nsender; i++)
		snd[i] = spawn(port_sender, i);

	/* Warm up, then the survivors' figures at rest: services that will
	 * live to the end are those we never kill (the first half). */
	usleep(500000);
	for (i = 0; i < nsvc; i++)
		usage_of(svc[i], &fds0[i], &pages0[i], false);
	t_start = now_ns();
	calls0 = b->calls;
	msgs0 = b->messages;
	fprintf(stderr, "stress: %d services, %d callers, %d senders and %d "
	    "receivers on a COCHANNEL, a kill every %d ms, %d s\n", nsvc,
	    ncaller, nsender, nreceiver, kill_ms, secs);
	while (now_ns() - t_start < (uint64_t)secs * 1000000000u) {
		int v = (int)(rand_r(&rnd) % (unsigned)(nsvc + ncaller + nsender + 1));
		int st;

		usleep((useconds_t)kill_ms * 1000);
		if (v == nsvc + ncaller + nsender) {
			/* One move at a time: every receiver has drained the
			 * port before the last, so every sender has moved. */
			if (receivers_moved_to(__atomic_load_n(&b->port_gen,
			    __ATOMIC_ACQUIRE))) {
				comsgd_kills += kill_comsgd();
				kills++;
			}
			continue;
		}
		if (v >= nsvc + ncaller) {
			v -= nsvc + ncaller;
			kill(snd[v], SIGKILL);
			waitpid(snd[v], &st, 0);
			snd[v] = spawn(port_sender, v);
			sender_kills++;
			kills++;
			continue;
		}
		/* Half the services are never killed: they are the survivors
		 * whose descriptors and memory are checked. */
		if (v < nsvc && v < nsvc / 2)
			continue;
		if (v < nsvc) {
			__atomic_store_n(&b->kill_ns[v], now_ns(), __ATOMIC_SEQ_CST);
			kill(svc[v], SIGKILL);
			waitpid(svc[v], &st, 0);
			svc[v] = spawn(service, v);
			svc_kills++;
		} else {
			v -= nsvc;
			kill(cal[v], SIGKILL);
			waitpid(cal[v], &st, 0);
			cal[v] = spawn(caller, v);
		}
		kills++;
		if (!quiet && kills % 50 == 0)
			fprintf(stderr, "stress: %d kills, %llu calls\n", kills,
			    (unsigned long long)b->calls);
	}
	t_end = now_ns();

	/* The port: once the receivers hold the port the senders use, stop
	 * the senders, let the receivers drain, then check that every
	 * acknowledged message of the last window arrived. */
	{
		uint64_t until = now_ns() + 5000000000u;

		while (!receivers_moved_to(__atomic_load_n(&b->port_gen,
		    __ATOMIC_ACQUIRE)) && now_ns() < until)
			usleep(1000);
	}
	b->stop_send = 1;
	for (i = 0; i < nsender; i++)
		waitpid(snd[i], NULL, 0);
	b->drain = 1;
	for (i = 0; i < nreceiver; i++)
		waitpid(rcv[i], NULL, 0);
	for (i = 0; i < nsender; i++) {
		uint32_t end = b->next_mseq[i];
		uint32_t from = end > WINDOW ? end - WINDOW : 0;

		for (uint32_t q = from; q < end; q++) {
			if (b->acked[i][q % WINDOW] != q + 1 ||
			    b->received[i][q % WINDOW] == q + 1)
				continue;
			/* On a port whose comsgd was killed before the
			 * receivers learnt of that sender's ring: stranded,
			 * a documented limit (docs/coports.md). */
			if (b->acked_gen[i][q % WINDOW] != b->port_gen) {
				stranded++;
				continue;
			}
			violation("message %d.%u acknowledged, never received",
			    i, q);
			break;
		}
	}

	/* Quiet: no more kills; let every caller connect anew once (a new
	 * connect makes a service reap its dead callers), then stop. */
	for (i = 0; i < ncaller; i++) {
		kill(cal[i], SIGKILL);
		waitpid(cal[i], NULL, 0);
		cal[i] = spawn(caller, i);
	}
	usleep(1500000);	/* the services' idle reaping tick, and more */
	b->stop = 1;
	for (i = 0; i < ncaller; i++)
		waitpid(cal[i], NULL, 0);
	usleep(1500000);	/* idle: the services reap their callers */
	for (i = 0; i < nsvc / 2; i++) {
		usage_of(svc[i], &fds1, &pages1, false);
		if (fds1 > fds0[i])
			violation("service %d: %d descriptors, %d at rest before",
			    i, fds1, fds0[i]);
		if (pages1 > pages0[i] + 256)
			violation("service %d: %ld resident pages, %ld before", i,
			    pages1, pages0[i]);
	}
	/*
	 * comsgd: every user of the port has exited.  Once the reaper has
	 * dropped their holds (at once, on their pidfds) and each worker its
	 * channels to them (on its idle tick, a second after its last
	 * request), the comsgd serving now, first or not, must hold the
	 * descriptors it had at rest.  Its memory cannot come back as
	 * exactly: malloc keeps what was freed, in an arena per worker
	 * thread, and code and stack pages touched stay resident (under
	 * 0.5 MiB more here, with 2 workers or 16).  The bound is a few MiB,
	 * so that it never flaps: it catches a gross leak only; a slow one
	 * is for test/comsgd_flat (100,000 opens, 2 MiB).
	 */
	if (dfds0 >= 0) {
		uint64_t until = now_ns() + (uint64_t)SETTLE_MS * 1000000;

		while ((d = comsgd_pid()) == 0 && now_ns() < until)
			usleep(10000);
		while (d != 0 && usage_of(d, &dfds1, &dpages1, true) == 0 &&
		    dfds1 != dfds0 && now_ns() < until)
			usleep(10000);
		if (d == 0)
			violation("comsgd: none serves at the end");
		else if (dfds1 != dfds0)
			violation("comsgd: %d descriptors, %d at rest (waited %d "
			    "ms)", dfds1, dfds0, SETTLE_MS);
#ifndef __SANITIZE_ADDRESS__
		/* (AddressSanitizer's quarantine keeps freed memory.) */
		else if ((dpages1 - dpages0) * kib > COMSGD_KIB)
			violation("comsgd: %ld KiB resident, %ld at rest",
			    dpages1 * kib, dpages0 * kib);
#endif
	}
	for (i = 0; i < nsvc; i++) {
		kill(svc[i], SIGKILL);
		waitpid(svc[i], NULL, 0);
	}
	/* comsgd goes with its domain; a comsgd still starting (a user
	 * killed after it began one) may add files under the directory
	 * while it is removed: kill and remove until both are done. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' 2>/dev/null", dir);
	for (i = 0; i < 10; i++) {
		while (kill_comsgd())
			;
		if (system(cmd) == 0 && access(dir, F_OK) < 0)
			break;
	}
	if (i == 10)
		warnx("could not remove %s", dir);

	{
		double secs_run = (t_end - t_start) / 1e9;
		double cps = (b->calls - calls0) / secs_run;
		double mps = (b->messages - msgs0) / secs_run;
		int caller_kills = kills - svc_kills - sender_kills - comsgd_kills;

		printf("stress: %.0f calls/s and %.0f messages/s held over %d s, "
		    "%d kills survived (%d services, %d callers, %d senders, "
		    "%d comsgd), %llu violations", cps, mps, secs, kills,
		    svc_kills, caller_kills, sender_kills, comsgd_kills,
		    (unsigned long long)b->violations);
		if (stranded > 0)
			printf(" (%llu messages stranded on ports of a killed "
			    "comsgd)", (unsigned long long)stranded);
		printf("\n");
		if (dfds0 >= 0)
			printf("stress: comsgd at rest, before the run and after: "
			    "fds %d -> %d, rss %.1f -> %.1f MiB\n", dfds0, dfds1,
			    dpages0 * kib / 1024.0, dpages1 * kib / 1024.0);
		printf("JSON {\"bench\":\"stress\",\"seconds\":%d,\"services\":%d,"
		    "\"callers\":%d,\"senders\":%d,\"receivers\":%d,"
		    "\"kill_ms\":%d,\"calls_per_s\":%.0f,\"messages_per_s\":%.0f,"
		    "\"kills\":%d,\"service_kills\":%d,\"sender_kills\":%d,"
		    "\"comsgd_kills\":%d,\"stranded\":%llu,\"violations\":%llu,"
		    "\"comsgd_fds\":[%d,%d],\"comsgd_rss_kib\":[%ld,%ld]}\n",
		    secs, nsvc, ncaller, nsender, nreceiver, kill_ms, cps, mps,
		    kills, svc_kills, sender_kills, comsgd_kills,
		    (unsigned long long)stranded, (unsigned long long)b->violations,
		    dfds0, dfds1, dpages0 * kib, dpages1 * kib);
	}
	return b->violations == 0 ? 0 : 1;
}
