/* What comsg(7) says under Conventions: which functions fail with -1 (or NULL) and errno, which return an error number, the odd ones, and the name limits (the NUL not counted). */
#include "coport_test.h"
#include "comsg/compart.h"

/* A name of len characters. */
static const char *
name_of(size_t len)
{
	static char buf[COCALL_NAMEMAX + COPORT_NAMEMAX + 2];

	memset(buf, 'n', len);
	buf[len] = '\0';
	return buf;
}

int
main(void)
{
	struct coport_info info[4];
	const char *group;
	pollcoport_t pe;
	comutex_t m, bad;
	coport_t p;
	void *t, *u;
	int n;

	/* -1, or NULL, with errno. */
	CHECK_ERR(capkind(&bad), EINVAL);
	CHECK_ERR(coport_getperm(NULL), EINVAL);
	CHECK_ERR(coport_getflags(NULL), EINVAL);
	CHECK_ERR(copoll(NULL, -1, 0), EINVAL);
	CHECK_ERR(coport_list(NULL, -1), EINVAL);
	errno = 0;
	CHECK(coport_clearperm(NULL, 0) == NULL && errno == EINVAL);

	/* coport_gettype(): 0 with errno, as CheriBSD's comsg. */
	errno = 0;
	CHECK(coport_gettype(NULL) == 0 && errno == EINVAL);

	/* make_pollcoport() cannot fail. */
	pe = make_pollcoport(NULL, COPOLL_IN);
	CHECK(pe.coport == NULL && pe.events == COPOLL_IN && pe.revents == 0);

	/* Comutexes: 0 or an error number, never -1. */
	memset(&bad, 0, sizeof(bad));
	CHECK(colock(&bad) == EINVAL);
	CHECK(cotrylock(&bad) == EINVAL);
	CHECK(counlock(&bad) == EINVAL);
	CHECK(comutex_consistent(&bad) == EINVAL);
	CHECK(comutex_destroy(&bad) == EINVAL);
	CHECK(comutex_init(NULL, &m) == EINVAL);
	CHECK(comutex_init("a/b", &m) == EINVAL);
	CHECK(comutex_init(name_of(COPORT_NAMEMAX + 1), &m) == ENAMETOOLONG);
	CHECK(comutex_init("conventions", &m) == 0);
	CHECK(colock(&m) == 0);
	CHECK(colock(&m) == EDEADLK);
	CHECK(cotrylock(&m) == EDEADLK);
	CHECK(comutex_destroy(&m) == EBUSY);
	CHECK(counlock(&m) == 0);
	CHECK(counlock(&m) == EPERM);
	CHECK(comutex_consistent(&m) == EINVAL);
	CHECK(comutex_destroy(&m) == 0);
	CHECK(colock(&m) == EINVAL);

	/* Target names: 1 to COCALL_NAMEMAX characters; longer is
	 * ENAMETOOLONG, as for ports, whatever the characters. */
	CHECK(coregister(name_of(COCALL_NAMEMAX), &t) == 0);
	CHECK(colookup(name_of(COCALL_NAMEMAX), &u) == 0);
	CHECK(capfree(u) == 0);
	CHECK_ERR(coregister(name_of(COCALL_NAMEMAX + 1), &u), ENAMETOOLONG);
	CHECK_ERR(coregister_label(name_of(COCALL_NAMEMAX + 1), 1, &u),
	    ENAMETOOLONG);
	CHECK_ERR(colookup(name_of(COCALL_NAMEMAX + 1), &u), ENAMETOOLONG);
	CHECK_ERR(copublish(name_of(COCALL_NAMEMAX + 1), t), ENAMETOOLONG);
	CHECK_ERR(colookup("a/b", &u), EINVAL);
	CHECK(capfree(t) == 0);

	/* Port and comutex names: 1 to COPORT_NAMEMAX characters, which
	 * struct coport_info holds with their NUL; longer is ENAMETOOLONG. */
	CHECK_ERR(coopen(name_of(COPORT_NAMEMAX + 1), COCHANNEL, &p),
	    ENAMETOOLONG);
	CHECK(coopen(name_of(COPORT_NAMEMAX), COCHANNEL, &p) == 0);
	n = coport_list(info, 4);
	CHECK(n >= 1 && n <= 4);
	while (n-- > 0 && strcmp(info[n].name, name_of(COPORT_NAMEMAX)) != 0)
		;
	CHECK(n >= 0);
	CHECK(coclose(p) == 0);

	/* libcompart: -1 or NULL with errno; the queries that cannot fail. */
	errno = 0;
	CHECK(compart_mode_name(-1) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(compart_mode_name(COMPART_PROCESS + 1) == NULL && errno == EINVAL);
	CHECK(compart_mode_name(COMPART_NONE) != NULL);
	CHECK_ERR(compart_mode_parse("nonesuch"), EINVAL);
	CHECK(compart_mode_parse(compart_mode_name(COMPART_MPK)) == COMPART_MPK);
	errno = 0;
	CHECK(compart_intercept_name(-1, &group) == NULL && errno == ENOENT);
	errno = 0;
	CHECK(compart_entry_name(NULL, 0) == NULL && errno == EINVAL);
	CHECK_ERR(compart_last_violation(NULL), ENOENT);
	CHECK_ERR(compart_log_fd(-1), EBADF);
	n = compart_mpk_check(NULL, 0);
	CHECK(n == 0 || n == 1);
	CHECK(strcmp(compart_name(NULL), "host") == 0);
	CHECK(compart_error() != NULL);
	return T_PASS;
}
