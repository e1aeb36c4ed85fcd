/* One process opening ports until refused gets EMFILE at its bound
 * (COMSGD_HOLDS), and others keep being served at once; processes that
 * fill comsgd's share of descriptors together get ENFILE, while processes
 * that hold ports go on opening existing ones; comsgd raised its soft
 * descriptor limit, stays idle while flooded, and serves again as soon as
 * the flooders are gone. */
#include <sys/resource.h>
#include "coport_test.h"

#define HOLDS		24	/* COMSGD_HOLDS for this test */
#define AGENTS		10

/* What an agent is asked, and what it answers. */
struct ask {
	char	op;		/* 'F' flood, 'O' open new, 'E' open existing,
				   'Q' quit */
	char	name[32];
};

struct answer {
	int	rc;		/* 0, or -1 */
	int	err;
	int	count;		/* 'F': ports opened */
	int	merr;		/* 'F': comutex_init() after them */
	int64_t	ns;		/* how long it took ('F': the refusal) */
};

static int
agent(int sock)
{
	struct ask a;
	struct answer r;
	coport_t p;
	comutex_t m;
	char name[64];

	while (read(sock, &a, sizeof(a)) == sizeof(a)) {
		int64_t t0;

		memset(&r, 0, sizeof(r));
		switch (a.op) {
		case 'F':	/* ports until refused, then a comutex */
			for (;;) {
				snprintf(name, sizeof(name), "%s-%d", a.name,
				    r.count);
				t0 = t_now_ns();
				if (coopen(name, COCARRIER, &p) < 0)
					break;
				r.count++;
			}
			r.ns = t_now_ns() - t0;
			r.rc = -1;
			r.err = errno;
			snprintf(name, sizeof(name), "%s-m", a.name);
			r.merr = comutex_init(name, &m);
			break;
		case 'O':	/* a new port and a new comutex */
			t0 = t_now_ns();
			snprintf(name, sizeof(name), "%s-m", a.name);
			if (coopen(a.name, COCHANNEL, &p) < 0) {
				r.rc = -1;
				r.err = errno;
			} else if ((r.err = comutex_init(name, &m)) != 0) {
				r.rc = -1;
			}
			r.ns = t_now_ns() - t0;
			break;
		case 'E':	/* an existing port, and close it */
			t0 = t_now_ns();
			if (coopen(a.name, COCARRIER, &p) < 0 || coclose(p) < 0) {
				r.rc = -1;
				r.err = errno;
			}
			r.ns = t_now_ns() - t0;
			break;
		default:
			return T_PASS;
		}
		if (write(sock, &r, sizeof(r)) != sizeof(r))
			return T_FAIL;
	}
	return T_PASS;
}

static int agents[AGENTS];
static pid_t agent_pids[AGENTS];
static int nagents;

static int
agent_new(void)
{
	int sv[2];
	pid_t pid;

	CHECK(nagents < AGENTS);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid = t_fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(agent(sv[1]));
	}
	close(sv[1]);
	agents[nagents] = sv[0];
	agent_pids[nagents] = pid;
	return nagents++;
}

static struct answer
ask(int i, char op, const char *name)
{
	struct ask a;
	struct answer r;

	memset(&a, 0, sizeof(a));
	a.op = op;
	snprintf(a.name, sizeof(a.name), "%s", name);
	CHECK(write(agents[i], &a, sizeof(a)) == sizeof(a));
	CHECK(read(agents[i], &r, sizeof(r)) == sizeof(r));
	return r;
}

static void
agent_quit(int i)
{
	struct ask a = { .op = 'Q' };

	CHECK(write(agents[i], &a, sizeof(a)) == sizeof(a));
	CHECK(t_wait(agent_pids[i]) == 0);
	close(agents[i]);
}

/* Start comsgd from a process whose soft limit is lower than its hard
 * one, with our bound on holds. */
static int
starter(void *arg)
{
	struct rlimit rl = { 100, 400 };
	coport_t p;

	(void)arg;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    setenv("COMSGD_HOLDS", "24", 1) < 0 ||
	    coopen("start", COCHANNEL, &p) < 0) {
		perror("starter");
		return T_FAIL;
	}
	return T_PASS;
}

int
main(void)
{
	char path[64], line[256];
	struct answer r;
	pid_t comsgd;
	bool raised = false, enfile = false;
	long ms;
	int64_t t0, left;
	FILE *f;
	int a, v, w, i;

	CHECK(t_wait(t_spawn(starter, NULL)) == 0);
	CHECK((comsgd = t_comsgd_pid()) > 0);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)comsgd);
	CHECK((f = fopen(path, "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0) {
			unsigned long soft, hard;

			CHECK(sscanf(line + 14, " %lu %lu", &soft, &hard) == 2);
			raised = soft == 400 && hard == 400;
		}
	fclose(f);
	CHECK(raised);

	/* One flooder: refused at its bound, ports and comutexes alike. */
	a = agent_new();
	r = ask(a, 'F', "a");
	printf("flooder: %d ports, then %s after %lld us\n", r.count,
	    strerror(r.err), (long long)(r.ns / 1000));
	CHECK(r.count == HOLDS && r.err == EMFILE && r.merr == EMFILE);
	CHECK(r.ns < 1000000000);

	/* Another process is served as before. */
	v = agent_new();
	r = ask(v, 'O', "v");
	printf("another process: new port and comutex in %lld us\n",
	    (long long)(r.ns / 1000));
	CHECK(r.rc == 0);
	CHECK(r.ns < 1000000000);

	/* More flooders, until comsgd's share of descriptors is full. */
	for (i = 0; i < AGENTS - 3 && !enfile; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%d", i);
		r = ask(agent_new(), 'F', name);
		printf("flooder %d: %d ports, then %s\n", i + 2, r.count,
		    strerror(r.err));
		CHECK(r.err == EMFILE || r.err == ENFILE);
		CHECK(r.err == EMFILE ? r.count == HOLDS : r.count < HOLDS);
		enfile = r.err == ENFILE;
	}
	CHECK(enfile);

	/* Now a new process cannot hold anything new: ENFILE at once (not
	 * ENOLINK, not after a timeout); one that holds ports already can
	 * still open existing ones. */
	w = agent_new();
	r = ask(w, 'O', "w");
	printf("a new process, comsgd full: %s in %lld us\n",
	    strerror(r.err), (long long)(r.ns / 1000));
	CHECK(r.rc == -1 && r.err == ENFILE);
	CHECK(r.ns < 1000000000);
	r = ask(v, 'E', "a-0");
	printf("a holder, comsgd full: existing port in %lld us\n",
	    (long long)(r.ns / 1000));
	CHECK(r.rc == 0);
	CHECK(r.ns < 1000000000);

	/* Flooded, comsgd does nothing between requests. */
	ms = t_cpu_ms(comsgd);
	poll(NULL, 0, 500);
	ms = t_cpu_ms(comsgd) - ms;
	printf("comsgd flooded: %ld ms of CPU in 500 ms\n", ms);
	CHECK(ms < 100);

	/* The flooders go: their descriptors come back at once. */
	for (i = 0; i < nagents; i++)
		if (i != v && i != w)
			agent_quit(i);
	t0 = t_now_ns();
	do {
		r = ask(w, 'O', "w");
		left = 2000000000 - (t_now_ns() - t0);
		if (r.rc < 0 && left > 0)
			poll(NULL, 0, 5);
	} while (r.rc < 0 && r.err == ENFILE && left > 0);
	printf("flooders gone: served again after %lld us\n",
	    (long long)((t_now_ns() - t0) / 1000));
	CHECK(r.rc == 0);
	agent_quit(v);
	agent_quit(w);
	return T_PASS;
}
