/* Only declared entry points are callable; bad ELF, missing files and symbols, too many compartments give clear errors. */
#include "compart_util.h"

int
main(void)
{
	compart_t *a, *b, *cs[COMPART_MAX + 1];
	char bad[] = "/tmp/comsg-compart-bad-XXXXXX";
	int fd, i, n;
	long (*count_twice)(void);

	a = cmp_load("cmp_a", "a");
	/* exported, but not an entry point */
	errno = 0;
	CHECK(compart_entry(a, "not_an_entry") == NULL && errno == EPERM);
	CHECK(strstr(compart_error(), "not an entry point") != NULL);
	/* a libc function the compartment can reach: not an entry either */
	errno = 0;
	CHECK(compart_entry(a, "malloc") == NULL && errno == EPERM);
	errno = 0;
	CHECK(compart_entry(a, "no_such_function") == NULL && errno == ENOENT);
	errno = 0;
	CHECK(compart_entry(NULL, "mix") == NULL && errno == EINVAL);
	CHECK(compart_entry_sig(a, "count") != NULL);
	for (n = 0; compart_entry_name(a, n) != NULL; n++)
		;
	CHECK(n == 15);
	CHECK(errno == ENOENT);

	/* not ELF; missing file; missing symbol */
	CHECK((fd = mkstemp(bad)) >= 0);
	CHECK(write(fd, "#!/bin/sh\necho not a library\n", 29) == 29);
	close(fd);
	CHECK_ERR(compart_load(bad, NULL) == NULL ? -1 : 0, ENOEXEC);
	unlink(bad);
	CHECK_ERR(compart_load("/nonexistent/lib.so", NULL) == NULL ? -1 : 0,
	    ENOENT);
	CHECK_ERR(compart_load(cmp_path("cmp_missing"), NULL) == NULL ? -1 : 0,
	    ELIBACC);
	CHECK(strstr(compart_error(), "compart_test_nowhere_defined") != NULL);

	/* a call from one compartment into another's entry, by import */
	b = cmp_load("cmp_b", "b");
	CHECK_ERR(compart_import(b, "no_reference", a, "count"), ENOENT);
	CHECK_ERR(compart_import(b, "count", a, "not_an_entry"), EPERM);
	CHECK(compart_import(b, "count", a, "count") == 0);
	CHECK((count_twice = COMPART_FN(b, long (*)(void), "count_twice")) != NULL);
	CHECK(count_twice() == 2);
	CHECK(count_twice() == 4);

	/* too many: a clear EMFILE, and those loaded still work */
	for (i = 0; i <= COMPART_MAX; i++) {
		struct compart_attr at;

		compart_attr_init(&at);
		at.heap_size = 1 << 20;
		at.stack_size = 64 << 10;
		cs[i] = compart_load(cmp_path("cmp_a"), &at);
		if (cs[i] == NULL)
			break;
	}
	CHECK(i < COMPART_MAX + 1 && errno == EMFILE);
	printf("%d more compartments loaded, then: %s\n", i, compart_error());
	CHECK(count_twice() == 6);
	while (i-- > 0)
		CHECK(compart_unload(cs[i]) == 0);
	CHECK(compart_unload(b) == 0);
	CHECK(compart_unload(a) == 0);
	CHECK_ERR(compart_unload(a), EINVAL);
	return T_PASS;
}
