/* Calls by name with string arguments (libffi), per-edge statistics and the DOT graph of calls and windows. */
#include "compart_util.h"

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_a", "a"), *b = cmp_load("cmp_b", "b");
	char res[128], buf[8192];
	char *mixargs[] = { "2", "0.5", "10", "0", "1", "0.25" };
	char *lenargs[] = { "hello world" };
	compart_window_t *w;
	long (*count_twice)(void);
	FILE *f;
	size_t n;

	(void)mode;
	/* by name: pointers as numbers (NULL here), strings as they are */
	if (compart_callv(a, "count", 0, NULL, res, sizeof(res)) < 0 &&
	    errno == ENOSYS) {
		printf("%s\n", compart_error());
		return T_SKIP;
	}
	CHECK(strcmp(res, "1") == 0);
	CHECK(compart_callv(a, "length", 1, lenargs, res, sizeof(res)) == 0);
	CHECK(strcmp(res, "11") == 0);
	CHECK_ERR(compart_callv(a, "length", 0, NULL, res, sizeof(res)), EINVAL);
	CHECK_ERR(compart_callv(a, "not_an_entry", 0, NULL, res, sizeof(res)),
	    EPERM);
	mixargs[3] = "x";
	CHECK_ERR(compart_callv(a, "mix", 6, mixargs, res, sizeof(res)), EINVAL);
	if (mode != COMPART_PROCESS) {
		CHECK(compart_callv(a, "hello", 0, NULL, res, sizeof(res)) == 0);
		CHECK(strcmp(res, "hello from cmp_a") == 0);
	}

	/* statistics: edges host -> a, b -> a */
	CHECK(compart_stats(1) == 0);
	if (mode != COMPART_PROCESS) {
		CHECK(compart_import(b, "count", a, "count") == 0);
		CHECK((count_twice = COMPART_FN(b, long (*)(void), "count_twice")) != NULL);
		CHECK(count_twice() == 3);
	}
	CHECK(compart_callv(a, "count", 0, NULL, res, sizeof(res)) == 0);
	CHECK((w = compart_window_create(a)) != NULL);
	CHECK(compart_window_open(w, b) == 0);
	CHECK((f = fmemopen(buf, sizeof(buf), "w")) != NULL);
	CHECK(compart_stats_print(f) == 0);
	CHECK(compart_dot(f) == 0);
	n = (size_t)ftell(f);
	fclose(f);
	buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = '\0';
	printf("%s", buf);
	CHECK(strstr(buf, "digraph compartments") != NULL);
	CHECK(strstr(buf, "host -> c") != NULL);
	CHECK(strstr(buf, "w1 [shape=note") != NULL);
	CHECK(strstr(buf, "label=\"open\"") != NULL);
	if (mode != COMPART_PROCESS) {
		CHECK(strstr(buf, "2 calls") != NULL);	/* b -> a */
		CHECK(strstr(buf, "\nb  ") != NULL || strstr(buf, "b ") != NULL);
	}
	CHECK(compart_stats(0) == 0);
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
	char res[8];

	if (compart_callv(NULL, "count", 0, NULL, res, sizeof(res)) < 0 &&
	    errno == ENOSYS) {
		printf("%s\n", compart_error());	/* names the package */
		return T_SKIP;
	}
	return cmp_each_mode(argc, argv, modes, scenario);
}
