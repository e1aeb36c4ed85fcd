/* Calls by name (libffi) tell a failed call from a function's own -1: a -1 the function returns is a result, in every mode, and so is what a compartment returns after recovering from a violation in a call of its own; a compartment whose process dies in the call is -1 with ENOLINK, and cohost says so and exits 1. */
#include "compart_util.h"

/* cohost, next to our directory: its exit status and what it printed. */
static int
run_cohost(char *const args[], char *out, size_t outsize)
{
	char cohost[PATH_MAX + 64], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int pfd[2];
	size_t len = 0;
	pid_t pid;

	CHECK(n > 0);
	exe[n] = '\0';
	snprintf(cohost, sizeof(cohost), "%s/../tools/cohost", dirname(exe));
	CHECK(pipe(pfd) == 0);
	pid = t_fork();
	if (pid == 0) {
		char *argv[16] = { cohost };
		int i;

		for (i = 0; args[i] != NULL && i < 14; i++)
			argv[i + 1] = args[i];
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(cohost, argv);
		_exit(127);
	}
	close(pfd[1]);
	while (len + 1 < outsize &&
	    (n = read(pfd[0], out + len, outsize - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	return t_wait(pid);
}

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_a", "a");
	compart_window_t *w;
	char res[128], addr[32], out[4096];
	char *args[] = { addr };
	long *word;

	/* a function returning -1 of its own: a result, not a failure */
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((word = compart_window_alloc(w, sizeof(*word))) != NULL);
	CHECK(compart_window_open(w, a) == 0);
	*word = -1;
	snprintf(addr, sizeof(addr), "%ld", (long)word);
	if (compart_callv(a, "peek_addr", 1, args, res, sizeof(res)) < 0 &&
	    errno == ENOSYS) {
		printf("%s\n", compart_error());
		return T_SKIP;
	}
	CHECK(strcmp(res, "-1") == 0);
	*word = 42;
	CHECK(compart_callv(a, "peek_addr", 1, args, res, sizeof(res)) == 0);
	CHECK(strcmp(res, "42") == 0);
	if (mode == COMPART_MPROTECT || mode == COMPART_MPK) {
		/* b reads at 0 through a: a violation in a, which b recovers
		 * from; the host's call through b succeeded */
		compart_t *b = cmp_load("cmp_b", "b");
		char *bargs[] = { "0", "1007" };

		CHECK(compart_import(b, "peek", a, "peek") == 0);
		CHECK(compart_callv(b, "peek_or", 2, bargs, res,
		    sizeof(res)) == 0);
		CHECK(strcmp(res, "1007") == 0);
	}
	if (mode != COMPART_PROCESS)
		return T_PASS;

	/* its process dies in the call (a read at 0) */
	args[0] = "0";
	res[0] = '\0';
	CHECK_ERR(compart_callv(a, "peek_addr", 1, args, res, sizeof(res)),
	    ENOLINK);
	CHECK(res[0] == '\0');
	CHECK_ERR(compart_callv(a, "peek_addr", 1, args, res, sizeof(res)),
	    ENOLINK);

	/* the same from the command line */
	{
		char *cargs[] = { "-m", "process", (char *)cmp_path("cmp_a"),
			"peek_addr", "0", NULL };
		int st = run_cohost(cargs, out, sizeof(out));

		if (st != 1 || strstr(out, "died in the call to peek_addr") == NULL ||
		    strstr(out, strerror(ENOLINK)) == NULL) {
			fprintf(stderr, "cohost exited %d, said:\n%s\n", st, out);
			return T_FAIL;
		}
	}
	return T_PASS;
}

int
main(int argc, char **argv)
{
	return cmp_each_mode(argc, argv, cmp_every_mode, scenario);
}
