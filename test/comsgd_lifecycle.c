/* comsgd: started by the first coopen (once, however many race), kill -9 of it: open ports keep working, close does not hang, a new one serves (stale name recovered); callers that find its name while it still starts its workers are served. */
#include "coport_test.h"

#include <dirent.h>
#include <sys/stat.h>

#define RACERS	4
#define EARLY	8
#define N	1000

static struct t_gate go;
static int sv[2];

/* Processes named comsgd serving our domain, alive (not zombies). */
static int
count_comsgd(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char want[128];
	int n = 0;

	snprintf(want, sizeof(want), "COMSG_DIR=%s", getenv("COMSG_DIR"));
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[4096], *p;
		ssize_t len;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strstr(buf, "(comsgd) ") == NULL ||
		    ((p = strrchr(buf, ')')) != NULL && (p[2] == 'Z' || p[2] == 'X')))
			continue;
		/* Its environment names the domain (readable: we are its
		 * user; comsgd is not dumpable, so root may be needed). */
		snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			n = -1000;	/* cannot tell */
			continue;
		}
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (p = buf; len > 0 && p < buf + len; p += strlen(p) + 1)
			if (strcmp(p, want) == 0)
				n++;
	}
	closedir(d);
	return n;
}

static int
racer(void *arg)
{
	coport_t p;
	pid_t pid;

	(void)arg;
	t_gate_wait(&go);
	CHECK(coopen("race", COCARRIER, &p) == 0);
	pid = t_comsgd_pid();
	CHECK(pid > 0);
	CHECK(write(sv[1], &pid, sizeof(pid)) == sizeof(pid));
	t_hear(sv[1], 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* A sender on a COCHANNEL that goes on sending after comsgd died. */
static int
sender(void *arg)
{
	coport_t p;

	(void)arg;
	CHECK(coopen("life", COCHANNEL, &p) == 0);
	CHECK(cosend(p, &(int){ -1 }, sizeof(int)) == sizeof(int));
	t_hear(sv[1], 'k');			/* comsgd is dead now */
	for (int i = 0; i < N; i++)
		CHECK(cosend(p, &i, sizeof(i)) == sizeof(i));
	t_hear(sv[1], 'q');
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* A caller that asks for its worker as soon as comsgd's name is bound
 * (coport_list does not start a comsgd: until then, ENOLINK). */
static int
early_caller(void *arg)
{
	int64_t until = t_now_ns() + 5000000000;

	(void)arg;
	while (coport_list(NULL, 0) < 0)
		CHECK(t_now_ns() < until);
	return T_PASS;
}

int
main(void)
{
	pid_t racers[RACERS], pids[RACERS], early[EARLY], d, d2, s;
	coport_t p, q;
	int64_t t0;
	char path[256];
	struct stat st;
	int n, x;
	void *buf;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	/* No comsgd before the first coopen; coport_list does not start one. */
	CHECK(t_comsgd_pid() == 0);
	CHECK_ERR(coport_list(NULL, 0), ENOLINK);
	CHECK(t_comsgd_pid() == 0);

	/* Processes racing their first coopen end up with one comsgd. */
	t_gate_init(&go);
	for (int i = 0; i < RACERS; i++)
		racers[i] = t_spawn(racer, NULL);
	for (int i = 0; i < RACERS; i++)
		t_gate_open(&go);
	for (int i = 0; i < RACERS; i++)
		CHECK(read(sv[0], &pids[i], sizeof(pid_t)) == sizeof(pid_t));
	d = t_comsgd_pid();
	for (int i = 0; i < RACERS; i++)
		CHECK(pids[i] == d);
	/* A comsgd that lost the race says so to its starter, then exits:
	 * it may take a moment to be gone (longer under the sanitizers). */
	t0 = t_now_ns();
	while ((n = count_comsgd()) > 1 && t_now_ns() - t0 < 5000000000)
		poll(NULL, 0, 10);
	fprintf(stderr, "%d racers: one comsgd, pid %d (%d found serving the "
	    "domain)\n", RACERS, (int)d, n);
	CHECK(n == 1 || n < -100);
	CHECK(coport_list(NULL, 0) == 1);	/* "race" */
	for (int i = 0; i < RACERS; i++)
		t_say(sv[0], 'q');
	for (int i = 0; i < RACERS; i++)
		CHECK(t_wait(racers[i]) == 0);
	CHECK(coport_list(NULL, 0) == 0);	/* gone with its holders */

	/* kill -9 of comsgd while a COCHANNEL is open between two processes. */
	CHECK(coopen("life", COCHANNEL, &p) == 0);
	s = t_spawn(sender, NULL);
	buf = &x;
	CHECK(corecv(p, &buf, sizeof(x)) == sizeof(x) && x == -1);
	CHECK(kill(d, SIGKILL) == 0);
	t_wait_gone(d, 5000);
	/* Its name socket is left behind, and answers no more. */
	CHECK(codomain(path, sizeof(path) - 16) == 0);
	strcat(path, "/names/comsgd");
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(t_comsgd_pid() == 0);
	t_say(sv[0], 'k');
	for (int i = 0; i < N; i++) {
		CHECK(corecv(p, &buf, sizeof(x)) == sizeof(x));
		CHECK(x == i);
	}
	/* What needs comsgd fails, at once, instead of hanging. */
	t0 = t_now_ns();
	CHECK_ERR(coport_list(NULL, 0), ENOLINK);
	CHECK_ERR(coport_tocap(p, &buf), ENOLINK);
	CHECK((t_now_ns() - t0) / 1000000 < 2000);
	t_say(sv[0], 'q');
	CHECK(t_wait(s) == 0);
	t0 = t_now_ns();
	CHECK(coclose(p) == 0);
	fprintf(stderr, "coclose with comsgd dead: %.1f ms\n",
	    (double)(t_now_ns() - t0) / 1e6);
	CHECK((t_now_ns() - t0) / 1000000 < 2000);

	/* The next coopen starts a new comsgd over the stale name. */
	t0 = t_now_ns();
	CHECK(coopen("after", COCARRIER, &q) == 0);
	d2 = t_comsgd_pid();
	fprintf(stderr, "new comsgd %d started in %.1f ms\n", (int)d2,
	    (double)(t_now_ns() - t0) / 1e6);
	CHECK(d2 > 0 && d2 != d);
	CHECK(cosend(q, "again", 6) == 6);
	buf = NULL;
	CHECK(corecv(q, &buf, 0) == 6 && memcmp(buf, "again", 6) == 0);
	CHECK(coport_msg_free(q, buf) == 0);
	CHECK(coport_list(NULL, 0) == 1);
	CHECK(coclose(q) == 0);
	n = count_comsgd();
	CHECK(n == 1 || n < -100);

	/* Callers that find the name of a comsgd still starting its workers
	 * (64, for a long start) are served, and it lives on: HELLO hands
	 * out only workers that serve already. */
	CHECK(kill(d2, SIGKILL) == 0);
	t_wait_gone(d2, 5000);
	for (int i = 0; i < EARLY; i++)
		early[i] = t_spawn(early_caller, NULL);
	n = (int)readlink("/proc/self/exe", path, sizeof(path) - 32);
	CHECK(n > 0 && n < (int)sizeof(path) - 32);
	path[n] = '\0';
	strcpy(strrchr(path, '/'), "/../tools/comsgd");
	if ((d = t_fork()) == 0) {
		execl(path, "comsgd", "-f", "-w", "64", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < EARLY; i++)
		CHECK(t_wait(early[i]) == 0);
	CHECK(waitpid(d, &x, WNOHANG) == 0);
	CHECK(kill(d, SIGKILL) == 0 && t_wait(d) == 128 + SIGKILL);
	return T_PASS;
}
