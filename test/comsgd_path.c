/* A program built outside the tree finds comsgd through PATH; with comsgd
 * nowhere (relative PATH entries do not count), or one that does not
 * start, coopen() and comutex_init() fail at once with ENOPKG, and cops(1)
 * says where it looked. */
#include <sys/stat.h>
#include "coport_test.h"
#include "toolrun.h"

static char tmp[64] = "/tmp/comsgd-path-XXXXXX";

static void
remove_tmp(void)
{
	char cmd[128];

	if (getpid() == t_main_pid && strchr(tmp, 'X') == NULL) {
		(void)!chdir("/");
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		(void)!system(cmd);
	}
}

/* Child mode: open a port and a comutex (only a comutex with what
 * "mutex"); print "ok" or the call and its errno. */
static int
child(const char *what)
{
	coport_t p;
	comutex_t m;
	int e;

	if (strcmp(what, "mutex") != 0 &&
	    coopen("path-port", COCARRIER, &p) < 0) {
		printf("coopen errno %d\n", errno);
		return 1;
	}
	/* An error number, like pthread_mutex_init(). */
	if ((e = comutex_init("path-mutex", &m)) != 0) {
		printf("comutex_init errno %d\n", e);
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* Run the copy of ourselves in child mode what, with env; its output in
 * out; returns the time taken in ms. */
static int64_t
run_copy(const char *prog, const char *what, const char *const env[],
    char *out, size_t size, int *rcp)
{
	char *argv[] = { (char *)prog, "child", (char *)what, NULL };
	int64_t t0 = t_now_ns();

	*rcp = tr_runenv(argv, env, out, size);
	return (t_now_ns() - t0) / 1000000;
}

/* Copy file from to to, executable. */
static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	CHECK(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	CHECK(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	CHECK(n == 0);
	close(in);
	close(out);
}

int
main(int argc, char **argv)
{
	char prog[128], dom[128], rel[128], path[PATH_MAX + 64], out[4096];
	char want[64], envdom[160], envtest[160], envpath[PATH_MAX + 64];
	int rc;
	int64_t ms;

	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child(argv[2]);
	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}
	snprintf(path, sizeof(path), "%s/comsgd", tr_dir);
	if (access(path, X_OK) < 0 || access("/usr/local/bin/comsgd", F_OK) == 0) {
		printf("no comsgd built, or one installed where every program "
		    "finds it\n");
		return T_SKIP;
	}
	CHECK(mkdtemp(tmp) != NULL);
	atexit(remove_tmp);
	/* tmp/a/b/prog: nothing at ../tools, ../bin or beside it. */
	snprintf(prog, sizeof(prog), "%s/a", tmp);
	CHECK(mkdir(prog, 0700) == 0);
	snprintf(prog, sizeof(prog), "%s/a/b", tmp);
	CHECK(mkdir(prog, 0700) == 0);
	snprintf(prog, sizeof(prog), "%s/a/b/prog", tmp);
	copy_file(tr_self, prog);

	/* Only through PATH: it starts, in our domain. */
	snprintf(envpath, sizeof(envpath), "PATH=/nonexistent:%s:/usr/bin:/bin",
	    tr_dir);
	{
		const char *env[] = { "COMSGD=", envpath, NULL };

		ms = run_copy(prog, "port", env, out, sizeof(out), &rc);
		CHECK_OUT(rc == 0 && strcmp(out, "ok\n") == 0, out);
		printf("found through PATH: started and served in %lld ms\n",
		    (long long)ms);
	}

	/* Nowhere: a fresh domain, comsgd only in a relative PATH entry. */
	snprintf(dom, sizeof(dom), "%s/dom", tmp);
	CHECK(mkdir(dom, 0700) == 0);
	snprintf(rel, sizeof(rel), "%s/rel", tmp);
	CHECK(mkdir(rel, 0700) == 0);
	snprintf(rel, sizeof(rel), "%s/rel/comsgd", tmp);
	CHECK(symlink(path, rel) == 0);
	CHECK(chdir(tmp) == 0);
	snprintf(envdom, sizeof(envdom), "COMSG_DIR=%s", dom);
	snprintf(envtest, sizeof(envtest), "COMSG_TEST_DIR=%s", dom);
	snprintf(want, sizeof(want), "coopen errno %d\n", ENOPKG);
	{
		const char *env[] = { "COMSGD=", "PATH=rel:/nonexistent",
		    envdom, envtest, NULL };

		ms = run_copy(prog, "port", env, out, sizeof(out), &rc);
		CHECK_OUT(rc == 1 && strcmp(out, want) == 0, out);
		CHECK(ms < 2000);
		printf("found nowhere: ENOPKG in %lld ms\n", (long long)ms);
	}
	/* Found, but it does not start: COMSGD names a program that exits,
	 * or a file that is not executable. */
	{
		const char *env1[] = { "COMSGD=/bin/false", envdom, envtest, NULL };
		const char *env2[] = { "COMSGD=/etc/passwd", envdom, envtest, NULL };

		ms = run_copy(prog, "port", env1, out, sizeof(out), &rc);
		CHECK_OUT(rc == 1 && strcmp(out, want) == 0, out);
		CHECK(ms < 2000);
		printf("one that exits at once: ENOPKG in %lld ms\n",
		    (long long)ms);
		ms = run_copy(prog, "port", env2, out, sizeof(out), &rc);
		CHECK_OUT(rc == 1 && strcmp(out, want) == 0, out);
	}
	/* comutex_init() says the same. */
	{
		const char *env[] = { "COMSGD=/bin/false", envdom, envtest, NULL };

		snprintf(want, sizeof(want), "comutex_init errno %d\n", ENOPKG);
		(void)run_copy(prog, "mutex", env, out, sizeof(out), &rc);
		CHECK_OUT(rc == 1 && strcmp(out, want) == 0, out);
	}
	/* cops says where it looked, and what to do.  It runs with the
	 * shared library of the build, beside which comsgd is: only a wrong
	 * COMSGD hides it from cops. */
	{
		char *cops[] = { tr_tool("cops"), NULL };
		const char *env[] = { "COMSGD=/nonexistent/comsgd", envdom,
		    envtest, NULL };

		rc = tr_runenv(cops, env, out, sizeof(out));
		CHECK_OUT(rc == 0, out);
		CHECK_OUT(strstr(out, "comsgd not found; looked in:\n"
		    "  COMSGD: /nonexistent/comsgd\n") != NULL, out);
		CHECK_OUT(strstr(out, "set COMSGD") != NULL, out);
	}
	return T_PASS;
}
