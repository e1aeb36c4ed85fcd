/* Intercepts: per-compartment policy denies, logs or allows file and time calls made by a compartment. */
#include "compart_util.h"

static int
scenario(int mode)
{
	compart_t *a, *b;
	int (*open_a)(const char *), (*open_b)(const char *);
	long (*now_a)(void), (*now_b)(void);
	compart_window_t *w;
	char *path, log[4096];
	int pfd[2];
	ssize_t n;

	(void)mode;
	/* before loading: a compartment's process keeps the log descriptor
	 * it was started with */
	CHECK(pipe2(pfd, O_NONBLOCK) == 0);
	CHECK(compart_log_fd(pfd[1]) == 0);
	a = cmp_load("cmp_a", "a");
	b = cmp_load("cmp_a", "b");
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((path = compart_window_alloc(w, 64)) != NULL);
	strcpy(path, "/proc/self/status");
	CHECK(compart_window_open(w, a) == 0 && compart_window_open(w, b) == 0);
	CHECK((open_a = COMPART_FN(a, int (*)(const char *), "open_close")) != NULL);
	CHECK((open_b = COMPART_FN(b, int (*)(const char *), "open_close")) != NULL);
	CHECK((now_a = COMPART_FN(a, long (*)(void), "now")) != NULL);
	CHECK((now_b = COMPART_FN(b, long (*)(void), "now")) != NULL);

	/* default: allowed */
	CHECK(open_a(path) == 0);
	CHECK(now_a() >= time(NULL) - 5);

	/* deny for a only */
	CHECK(compart_policy(a, "open", COMPART_DENY) == 0);
	CHECK(open_a(path) == -EACCES);
	CHECK(open_b(path) == 0);
	CHECK(compart_policy(a, "time", COMPART_DENY) == 0);
	CHECK(now_a() == -EACCES);
	CHECK(now_b() > 0);

	/* log: one line per call, with the path, allowed or denied */
	CHECK(compart_policy(b, "file", COMPART_LOG) == 0);
	CHECK(compart_policy(a, "open", COMPART_DENY | COMPART_LOG) == 0);
	CHECK(open_b(path) == 0);
	CHECK(open_a(path) == -EACCES);
	n = read(pfd[0], log, sizeof(log) - 1);
	CHECK(n > 0);
	log[n] = '\0';
	printf("%s", log);
	CHECK(strstr(log, "compart: b: open(\"/proc/self/status\"") != NULL);
	CHECK(strstr(log, "b: close(") != NULL);
	CHECK(strstr(log, "compart: a: open(\"/proc/self/status\", 0, 0) denied") != NULL ||
	    strstr(log, "compart: a: open(\"/proc/self/status\"") != NULL);
	CHECK(strstr(log, "denied") != NULL);

	/* back to allow; bad policies refused */
	CHECK(compart_policy(a, "*", COMPART_ALLOW) == 0);
	CHECK(open_a(path) == 0);
	CHECK_ERR(compart_policy(a, "no_such_call", COMPART_DENY), EINVAL);
	CHECK_ERR(compart_policy(a, "open", 8), EINVAL);
	CHECK(compart_intercept_name(0, NULL) != NULL);
	compart_log_fd(2);
	close(pfd[0]);
	close(pfd[1]);
	CHECK(compart_window_destroy(w) == 0);
	CHECK(compart_unload(b) == 0);
	CHECK(compart_unload(a) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_NONE, COMPART_MPROTECT,
		COMPART_PROCESS, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
