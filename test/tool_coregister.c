/* coregister(1) hands a capability of its vector to a process that is not
 * its descendant, and colookup(1) puts it in a vector: on a UNIX socket
 * (-f), with stale sockets replaced and other files left alone, and by
 * name in the domain (-n); SIGTERM, or the end of the service that runs
 * it, ends coregister cleanly. */
#include <sys/stat.h>
#include "harness.h"
#include "toolrun.h"

/* A service running coregister: clocks -v coregister -v -i 8 (-f|-n) where.
 * Returns clocks' pid; *regp coregister's, once it is ready; *fdp their
 * output. */
static pid_t
start_pair(const char *flag, const char *where, pid_t *regp, int *fdp)
{
	char *argv[] = { tr_tool("clocks"), "-v", tr_tool("coregister"), "-v",
	    "-i", "8", (char *)flag, (char *)where, NULL };
	char line[1024], want[64];
	pid_t clocks = tr_start(argv, NULL, fdp);
	int reg;

	CHECK_OUT(tr_expect(*fdp, "coregister: pid ", line, sizeof(line)) == 0,
	    line);
	CHECK(sscanf(line, "coregister: pid %d:", &reg) == 1);
	t_track(reg);
	/* It says what it hands out: the service's answerback. */
	snprintf(want, sizeof(want), "\"clocks(1), pid %d, ", (int)clocks);
	CHECK_OUT(strstr(line, want) != NULL, line);
	*regp = reg;
	return clocks;
}

/* End coregister with sig; clocks ends with its exit status. */
static int
stop_pair(pid_t clocks, pid_t reg, int sig, int fd)
{
	char rest[4096];

	CHECK(kill(reg, sig) == 0);
	tr_slurp(fd, rest, sizeof(rest));
	close(fd);
	return t_wait(clocks);
}

int
main(void)
{
	char out[8192], want[128], sock[256], reg_path[256];
	char *capv_argv[2] = { NULL };
	pid_t clocks, reg, look;
	int fd, ofd, rc;
	struct stat st;

	if (tr_init() < 0) {
		printf("tools not built\n");
		return T_SKIP;
	}
	capv_argv[0] = tr_tool("capv");
	snprintf(sock, sizeof(sock), "%s/sock", getenv("COMSG_DIR"));
	snprintf(reg_path, sizeof(reg_path), "%s/file", getenv("COMSG_DIR"));

	/* We have no vector: whatever the lookups' commands have comes
	 * from coregister. */
	rc = tr_run(capv_argv, out, sizeof(out));
	CHECK_OUT(rc == 1, out);

	/* ---- -f: a socket in the file system ---- */
	clocks = start_pair("-f", sock, &reg, &fd);
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	{
		char *argv[] = { tr_tool("colookup"), "-f", sock, "-i", "8",
		    tr_tool("capv"), NULL };
		char line[512];

		look = tr_start(argv, NULL, &ofd);
		tr_slurp(ofd, out, sizeof(out));
		close(ofd);
		CHECK_OUT(t_wait(look) == 0, out);
		snprintf(want, sizeof(want),
		    "8:\t\"clocks(1), pid %d, responding to clock_gettime()",
		    (int)clocks);
		CHECK_OUT(strstr(out, want) != NULL, out);
		/* -v names the client, as the kernel says (SO_PEERCRED). */
		snprintf(want, sizeof(want), "coregister: capv[8] to pid %d",
		    (int)look);
		CHECK_OUT(tr_expect(fd, want, line, sizeof(line)) == 0, line);
	}
	{
		char *argv[] = { tr_tool("colookup"), "-c", "-f", sock, NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 0, out);
		snprintf(want, sizeof(want), "target of pid %d", (int)clocks);
		CHECK_OUT(strncmp(out, want, strlen(want)) == 0, out);
		CHECK_OUT(strstr(out, ":\t\"clocks(1), pid ") != NULL, out);
	}
	/* A second coregister may not take a socket in use. */
	{
		char *argv[] = { tr_tool("clocks"), tr_tool("coregister"), "-i",
		    "8", "-f", sock, NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "in use") != NULL, out);
	}
	/* Killed outright, it leaves a stale socket ... */
	CHECK(stop_pair(clocks, reg, SIGKILL, fd) == 128 + SIGKILL);
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
	{
		char *argv[] = { tr_tool("colookup"), "-f", sock, "-i", "8",
		    tr_tool("capv"), NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "nobody") != NULL, out);
	}
	/* ... that the next one replaces; SIGTERM ends it with 0 and takes
	 * the socket away. */
	clocks = start_pair("-f", sock, &reg, &fd);
	{
		char *argv[] = { tr_tool("colookup"), "-f", sock, "-i", "9",
		    tr_tool("capv"), NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 0, out);
		snprintf(want, sizeof(want), "9:\t\"clocks(1), pid %d,",
		    (int)clocks);
		CHECK_OUT(strstr(out, want) != NULL, out);
	}
	CHECK(stop_pair(clocks, reg, SIGTERM, fd) == 0);
	CHECK(access(sock, F_OK) < 0 && errno == ENOENT);

	/* Run by the service it hands out, it ends with it. */
	clocks = start_pair("-f", sock, &reg, &fd);
	CHECK(kill(clocks, SIGTERM) == 0);
	CHECK(t_wait(clocks) == 128 + SIGTERM);
	CHECK(t_wait(reg) == 0);	/* ours now: we are the subreaper */
	close(fd);
	CHECK(access(sock, F_OK) < 0 && errno == ENOENT);

	/* Other files are never clobbered. */
	{
		char *argv[] = { tr_tool("clocks"), tr_tool("coregister"), "-i",
		    "8", "-f", reg_path, NULL };
		char buf[16] = "";
		int f = open(reg_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);

		CHECK(f >= 0 && write(f, "keep", 4) == 4);
		close(f);
		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "not a socket") != NULL, out);
		f = open(reg_path, O_RDONLY);
		CHECK(f >= 0 && read(f, buf, sizeof(buf)) == 4);
		CHECK(memcmp(buf, "keep", 4) == 0);
		close(f);
	}

	/* ---- -n: a name in the domain ---- */
	clocks = start_pair("-n", "clk", &reg, &fd);
	{
		char *argv[] = { tr_tool("colookup"), "-n", "clk", "-i", "8",
		    tr_tool("capv"), NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 0, out);
		snprintf(want, sizeof(want),
		    "8:\t\"clocks(1), pid %d, responding to clock_gettime()",
		    (int)clocks);
		CHECK_OUT(strstr(out, want) != NULL, out);
	}
	{
		char *argv[] = { tr_tool("clocks"), tr_tool("coregister"), "-i",
		    "8", "-n", "clk", NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "taken") != NULL, out);
	}
	CHECK(stop_pair(clocks, reg, SIGTERM, fd) == 0);
	{
		char *argv[] = { tr_tool("colookup"), "-c", "-n", "clk", NULL };

		CHECK_OUT(tr_run(argv, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "no such name") != NULL, out);
	}

	/* ---- errors ---- */
	{
		char *nope[] = { tr_tool("colookup"), "-n", "nope", "-i", "8",
		    "true", NULL };
		char *notsock[] = { tr_tool("colookup"), "-f", reg_path, "-i",
		    "8", "true", NULL };
		char *empty[] = { tr_tool("coregister"), "-i", "8", "-n", "x",
		    NULL };
		char *use1[] = { tr_tool("coregister"), "-i", "8", NULL };
		char *use2[] = { tr_tool("colookup"), "-n", "x", "true", NULL };
		char *use3[] = { tr_tool("colookup"), "-c", "-n", "x", "-i",
		    "8", NULL };

		CHECK_OUT(tr_run(nope, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "no such name") != NULL, out);
		CHECK_OUT(tr_run(notsock, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "not a socket") != NULL, out);
		CHECK_OUT(tr_run(empty, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "empty") != NULL, out);
		CHECK_OUT(tr_run(use1, out, sizeof(out)) == 2, out);
		CHECK_OUT(strstr(out, "usage:") != NULL, out);
		CHECK_OUT(tr_run(use2, out, sizeof(out)) == 2, out);
		CHECK_OUT(tr_run(use3, out, sizeof(out)) == 2, out);
	}

	/* A descriptor capability goes through a socket but takes no name. */
	{
		void **capv, *fdcap;
		int capc, p[2];
		char *named[] = { tr_tool("coregister"), "-i", "11", "-n", "fd",
		    NULL };
		char *served[] = { tr_tool("coregister"), "-v", "-i", "11",
		    "-f", sock, NULL };
		char *look_argv[] = { tr_tool("colookup"), "-c", "-f", sock,
		    NULL };
		char line[512];

		CHECK(pipe(p) == 0 && capfromfd(&fdcap, p[1]) == 0);
		CHECK(capvfetch(&capc, &capv) == 0);
		CHECK(capvset(&capc, &capv, 11, fdcap) == 0);
		CHECK_OUT(tr_run(named, out, sizeof(out)) == 1, out);
		CHECK_OUT(strstr(out, "only targets") != NULL, out);
		reg = tr_start(served, NULL, &fd);
		CHECK_OUT(tr_expect(fd, "coregister: pid ", line,
		    sizeof(line)) == 0, line);
		CHECK_OUT(strstr(line, "pipe (fd ") != NULL, line);
		CHECK_OUT(tr_run(look_argv, out, sizeof(out)) == 0, out);
		CHECK_OUT(strncmp(out, "pipe (fd ", 9) == 0, out);
		CHECK(kill(reg, SIGINT) == 0);
		tr_slurp(fd, out, sizeof(out));
		close(fd);
		CHECK(t_wait(reg) == 0);
		CHECK(access(sock, F_OK) < 0);
		rc = capvset(&capc, &capv, 11, NULL);
		CHECK(rc == 0);
	}
	return T_PASS;
}
