/* Windows: opening and closing, adding and removing ranges change what another compartment can reach; process mode takes only window pointers. */
#include "compart_util.h"

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_a", "owner"), *b = cmp_load("cmp_a", "peer");
	long (*peek_b)(const long *), (*poke_b)(long *, long);
	void *(*alloc_a)(long);
	compart_window_t *w;
	long *page;

	CHECK((alloc_a = COMPART_FN(a, void *(*)(long), "heap_alloc")) != NULL);
	CHECK((peek_b = COMPART_FN(b, long (*)(const long *), "peek")) != NULL);
	CHECK((poke_b = COMPART_FN(b, long (*)(long *, long), "poke")) != NULL);

	if (mode == COMPART_PROCESS) {
		/* pointers must lead into windows open to the compartment */
		long x = 5;

		CHECK((w = compart_window_create(NULL)) != NULL);
		CHECK((page = compart_window_alloc(w, 8192)) != NULL);
		page[0] = 41;
		errno = 0;
		CHECK(peek_b(&x) == -1 && errno == EFAULT);
		errno = 0;
		CHECK(peek_b(page) == -1 && errno == EFAULT);	/* not open */
		CHECK(compart_window_open(w, b) == 0);
		CHECK(peek_b(page) == 41);
		CHECK(poke_b(page + 512, 99) == 99);	/* second page */
		CHECK(page[512] == 99);		/* shared memory */
		CHECK(compart_window_close(w, b) == 0);
		errno = 0;
		CHECK(peek_b(page) == -1 && errno == EFAULT);
		CHECK(compart_window_destroy(w) == 0);
		goto out;
	}

	/* a page of a's heap, holding a value */
	CHECK((page = alloc_a(3 * 4096)) != NULL);
	page = (long *)(((uintptr_t)page + 4095) & ~4095UL);
	page[0] = 1234;
	CHECK(peek_b(page) == -1 && errno == EFAULT);

	CHECK((w = compart_window_create(a)) != NULL);
	CHECK_ERR(compart_window_add(w, (char *)page + 1, 4096), EINVAL);
	CHECK_ERR(compart_window_add(w, (void *)4096, 4096), EINVAL);	/* not a's */
	CHECK(compart_window_add(w, page, 4096) == 0);
	CHECK_ERR(compart_window_add(w, page, 4096), EINVAL);	/* already in */
	CHECK(peek_b(page) == -1 && errno == EFAULT);		/* not open yet */
	CHECK(compart_window_open(w, b) == 0);
	CHECK(peek_b(page) == 1234);
	CHECK(poke_b(page, 4321) == 4321);
	CHECK(page[0] == 4321);
	/* the next page of a's heap stays private */
	CHECK(peek_b(page + 512) == -1 && errno == EFAULT);
	CHECK(compart_window_close(w, b) == 0);
	CHECK(peek_b(page) == -1 && errno == EFAULT);
	CHECK(compart_window_open(w, b) == 0);
	CHECK(peek_b(page) == 4321);
	CHECK(compart_window_remove(w, page, 4096) == 0);
	CHECK(peek_b(page) == -1 && errno == EFAULT);
	CHECK_ERR(compart_window_remove(w, page, 4096), EINVAL);
	CHECK(compart_window_add(w, page, 8192) == 0);
	CHECK(peek_b(page + 512) != -1);
	CHECK(compart_window_destroy(w) == 0);
	CHECK(peek_b(page) == -1 && errno == EFAULT);
	CHECK_ERR(compart_window_open(w, b), EINVAL);	/* destroyed */
out:
	CHECK(compart_unload(b) == 0);
	CHECK(compart_unload(a) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_MPROTECT, COMPART_MPK,
		COMPART_PROCESS, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
