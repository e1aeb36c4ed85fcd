/* The default domain cannot be taken from a user: another user who makes
 * /tmp/comsg-UID first (a directory of any mode, a symbolic link, a file)
 * moves the victim's domain to a place of the victim's own, with a message
 * saying so, and names still work (also the longest, from a home too deep
 * for a socket's path); never EACCES for as long as the other user likes;
 * and a running process keeps its domain when the other user removes what
 * they made.  Needs root, to be two users. */
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include "harness.h"
#include "comsg/coport.h"

static uid_t attacker, victim;
static char home[64], tmpdir[64], rundir[64], errpath[64];
static bool made_run_user;	/* /run/user was not there: ours to remove */
static const char *victim_home = home;	/* $HOME of the victim */
static const char *victim_name = "victim";
/* Run by the test between the victim's publishing and its lookup. */
static void (*between)(void);

/* Two user ids nobody uses: no passwd entry, no /tmp/comsg-UID of a real
 * user to spoil. */
static uid_t
free_uid(uid_t from)
{
	uid_t u;

	for (u = from; u < from + 2000; u++)
		if (getpwuid(u) == NULL)
			return u;
	return 0;
}

static void
become(uid_t u)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setgid(u) == 0);
	CHECK(setuid(u) == 0);
}

/* A message through a port of the domain, which starts its comsgd (in
 * the domain we are in, whatever it would choose now); then it goes. */
static int
port_round_trip(void)
{
	char buf[8], *b = buf;
	coport_t p;
	void *k;
	pid_t d;
	int r = -1;

	if (coopen("victim.port", COCHANNEL, &p) < 0) {
		perror("victim: coopen");
		return -1;
	}
	if (cosend(p, "ping", 5) == 5 &&
	    corecv(p, (void **)&b, sizeof(buf)) == 5 && strcmp(buf, "ping") == 0)
		r = 0;
	coclose(p);
	if (colookup("comsgd", &k) == 0 && cotargetpid(k, &d) == 0)
		kill(d, SIGKILL);
	return r;
}

/* As the victim, in the default domain: publish a name, have a second
 * process of ours look it up and find us, use a port, and report the
 * domain's directory through fd out.  0 when all of that worked. */
static int
victim_run(int out, bool with_home, struct t_gate *published,
    struct t_gate *go)
{
	char dir[512];
	void *t, *k;
	pid_t me, child, found;
	int st;

	become(victim);
	unsetenv("COMSG_DIR");
	unsetenv("XDG_RUNTIME_DIR");
	if (with_home)
		setenv("HOME", victim_home, 1);
	else
		unsetenv("HOME");
	if (coregister(victim_name, &t) < 0) {
		perror("victim: coregister");
		return 2;
	}
	t_gate_open(published);
	t_gate_wait(go);
	me = getpid();
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (colookup(victim_name, &k) < 0 ||
		    cotargetpid(k, &found) < 0 || found != me) {
			perror("victim: colookup");
			_exit(3);
		}
		_exit(0);
	}
	if (child < 0 || waitpid(child, &st, 0) != child ||
	    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 3;
	if (port_round_trip() < 0)
		return 6;
	if (codomain(dir, sizeof(dir)) < 0)
		return 4;
	if (write(out, dir, strlen(dir) + 1) < 0)
		return 5;
	return 0;
}

/* Run the victim; its domain's directory in dir, its stderr in err.
 * Returns the victim's exit status. */
static int
run_victim(bool with_home, char *dir, size_t dirsize, char *err,
    size_t errsize)
{
	struct t_gate published, go;
	int pfd[2], efd, st;
	ssize_t n;
	pid_t pid;

	t_gate_init(&published);
	t_gate_init(&go);
	CHECK(pipe(pfd) == 0);
	efd = open(errpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(efd >= 0);
	pid = t_fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(efd, 2);
		_exit(victim_run(pfd[1], with_home, &published, &go));
	}
	close(pfd[1]);
	close(published.fd[1]);
	{
		char c;

		if (read(published.fd[0], &c, 1) == 1) {
			if (between != NULL)
				between();
			t_gate_open(&go);
		}
	}
	close(published.fd[0]);
	close(go.fd[0]);
	close(go.fd[1]);
	n = read(pfd[0], dir, dirsize - 1);
	dir[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	st = t_wait(pid);
	n = pread(efd, err, errsize - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(efd);
	return st;
}

static void
cleanup(void)
{
	char cmd[320];

	if (getpid() != t_main_pid || home[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s' '%s'", home, tmpdir,
	    rundir, errpath);
	if (system(cmd) != 0)
		fprintf(stderr, "could not clean up\n");
	if (made_run_user)
		(void)rmdir("/run/user");
}

/* As the attacker, make /tmp/comsg-VICTIM one of the ways. */
static void
plant(const char *how)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		become(attacker);
		if (strcmp(how, "dir0700") == 0)
			_exit(mkdir(tmpdir, 0700) == 0 ? 0 : 1);
		if (strcmp(how, "dir0777") == 0)
			_exit(mkdir(tmpdir, 0777) == 0 &&
			    chmod(tmpdir, 0777) == 0 ? 0 : 1);
		if (strcmp(how, "link-to-victim-home") == 0)
			_exit(symlink(home, tmpdir) == 0 ? 0 : 1);
		if (strcmp(how, "file") == 0) {
			int fd = open(tmpdir, O_WRONLY | O_CREAT | O_EXCL, 0644);

			_exit(fd >= 0 ? 0 : 1);
		}
		_exit(1);
	}
	CHECK(t_wait(pid) == 0);
}

static void
unplant(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	CHECK(system(cmd) == 0);
}

int
main(void)
{
	static const char *const ways[] = {
		"dir0700", "dir0777", "link-to-victim-home", "file",
	};
	char dir[512], err[1024], host[256], want[512];
	struct stat st;
	size_t i;

	if (geteuid() != 0) {
		printf("needs root, to act as two users\n");
		return T_SKIP;
	}
	attacker = free_uid(61000);
	victim = free_uid(attacker + 1);
	CHECK(attacker != 0 && victim != 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/comsg-%u", (unsigned)victim);
	snprintf(rundir, sizeof(rundir), "/run/user/%u", (unsigned)victim);
	snprintf(home, sizeof(home), "/tmp/comsg-test-home-%u",
	    (unsigned)victim);
	snprintf(errpath, sizeof(errpath), "/tmp/comsg-test-err-%u",
	    (unsigned)victim);
	atexit(cleanup);
	cleanup();	/* leftovers of a run that was killed */
	CHECK(mkdir(home, 0700) == 0 && chown(home, victim, victim) == 0);
	CHECK(gethostname(host, sizeof(host)) == 0);
	snprintf(want, sizeof(want), "%s/.comsg/%s", home, host);

	/* Nothing planted: /tmp/comsg-UID, made private, no message. */
	CHECK(run_victim(true, dir, sizeof(dir), err, sizeof(err)) == 0);
	CHECK(strcmp(dir, tmpdir) == 0);
	CHECK(lstat(tmpdir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == victim && (st.st_mode & 0777) == 0700);
	CHECK(err[0] == '\0');
	unplant();

	/* Planted every way: the domain moves to the victim's home. */
	for (i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		plant(ways[i]);
		if (run_victim(true, dir, sizeof(dir), err, sizeof(err)) != 0 ||
		    strcmp(dir, want) != 0 ||
		    strstr(err, "is not a private directory") == NULL ||
		    strstr(err, want) == NULL) {
			fprintf(stderr, "planted %s: domain '%s', said '%s'\n",
			    ways[i], dir, err);
			t_fail();
		}
		/* Nothing of the victim's went into what the attacker made. */
		if (strcmp(ways[i], "dir0777") == 0) {
			char names[128];

			snprintf(names, sizeof(names), "%s/names", tmpdir);
			CHECK(lstat(names, &st) < 0 && errno == ENOENT);
		}
		unplant();
	}

	/* The other user removes what they made while the victim runs: the
	 * victim's processes stay where they were, and find each other. */
	plant("dir0777");
	between = unplant;
	CHECK(run_victim(true, dir, sizeof(dir), err, sizeof(err)) == 0);
	CHECK(strcmp(dir, want) == 0);
	between = NULL;

	/* A home so deep that the longest name's socket path does not fit
	 * in a socket address (108 bytes): still every name. */
	{
		static char deep[256], longname[COCALL_NAMEMAX + 1];
		char deepwant[600];

		snprintf(deep, sizeof(deep), "%s/%s", home,
		    "a-home-deep-enough-that-no-socket-address-holds-a-name-"
		    "of-the-longest-kind-under-it");
		CHECK(mkdir(deep, 0700) == 0 && chown(deep, victim, victim) == 0);
		memset(longname, 'n', COCALL_NAMEMAX);
		victim_home = deep;
		victim_name = longname;
		plant("dir0700");
		CHECK(run_victim(true, dir, sizeof(dir), err, sizeof(err)) == 0);
		snprintf(deepwant, sizeof(deepwant), "%s/.comsg/%s", deep, host);
		CHECK(strlen(deepwant) + 7 + COCALL_NAMEMAX >= 108);
		CHECK(strcmp(dir, deepwant) == 0);
		unplant();
		victim_home = home;
		victim_name = "victim";
	}

	/* /run/user/UID, which only root makes, comes before /tmp. */
	plant("dir0777");
	/* a machine without logins' runtime directories (a container) */
	if (mkdir("/run/user", 0755) == 0)
		made_run_user = true;
	CHECK(mkdir(rundir, 0700) == 0 && chown(rundir, victim, victim) == 0);
	CHECK(run_victim(true, dir, sizeof(dir), err, sizeof(err)) == 0);
	snprintf(want, sizeof(want), "%s/comsg", rundir);
	CHECK(strcmp(dir, want) == 0);
	CHECK(err[0] == '\0');

	/* Planted, and no home to fall back on: refused, and told what to
	 * do about it. */
	snprintf(want, sizeof(want), "rm -rf '%s'", rundir);
	CHECK(system(want) == 0);
	CHECK(run_victim(false, dir, sizeof(dir), err, sizeof(err)) == 2);
	CHECK(strstr(err, "COMSG_DIR") != NULL);
	unplant();
	return T_PASS;
}
