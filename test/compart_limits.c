/* Compartment sizes and buffers at 0, the limit, one past it and the top of size_t: the documented error, never a wrapped size. */
#include "compart_util.h"

#define ARENA	(256UL << 20)	/* the window arena: all window memory */

static const size_t top[] = {
	(size_t)SSIZE_MAX, (size_t)SSIZE_MAX + 1, SIZE_MAX - 8192,
	SIZE_MAX - 4096, SIZE_MAX - 4095, SIZE_MAX - 14, SIZE_MAX - 1, SIZE_MAX,
};
#define NTOP	(sizeof(top) / sizeof(top[0]))

static compart_t *
load_sized(size_t heap, size_t stack)
{
	struct compart_attr a;

	compart_attr_init(&a);
	a.heap_size = heap;
	a.stack_size = stack;
	return compart_load(cmp_path("cmp_a"), &a);
}

static void
load_limits(void)
{
	long (*count)(void);
	void *(*alloc)(long);
	compart_t *c;

	CHECK_ERR(load_sized(0, 1 << 20) == NULL ? -1 : 0, EINVAL);
	CHECK_ERR(load_sized(COMPART_SIZE_MAX + 1, 1 << 20) == NULL ? -1 : 0,
	    EINVAL);
	CHECK_ERR(load_sized(64 << 20, COMPART_SIZE_MAX + 1) == NULL ? -1 : 0,
	    EINVAL);
	for (size_t i = 0; i < NTOP; i++) {
		CHECK_ERR(load_sized(top[i], 1 << 20) == NULL ? -1 : 0, EINVAL);
		CHECK_ERR(load_sized(64 << 20, top[i]) == NULL ? -1 : 0, EINVAL);
	}
	/* At the limit: a region that large is reserved, not committed. */
	c = load_sized(COMPART_SIZE_MAX, COMPART_SIZE_MAX);
	if (c == NULL)
		fprintf(stderr, "load at the limit: %s\n", compart_error());
	CHECK(c != NULL);
	CHECK((count = COMPART_FN(c, long (*)(void), "count")) != NULL);
	CHECK((alloc = COMPART_FN(c, void *(*)(long), "heap_alloc")) != NULL);
	CHECK(count() == 1 && count() == 2);
	CHECK(alloc(1 << 20) != NULL);
	CHECK(compart_unload(c) == 0);
}

static void
heap_limits(int mode)
{
	compart_t *c = cmp_load("cmp_alloc", "alloc");
	void *(*pv)(long), *(*ma)(long, long), *(*ca)(long, long);
	void *p;

	CHECK((pv = COMPART_FN(c, void *(*)(long), "heap_pvalloc")) != NULL);
	CHECK((ma = COMPART_FN(c, void *(*)(long, long), "heap_memalign")) != NULL);
	CHECK((ca = COMPART_FN(c, void *(*)(long, long), "heap_calloc")) != NULL);
	/* The compartment's own allocator, whatever it is asked. */
	for (size_t i = 0; i < NTOP; i++) {
		CHECK(pv((long)top[i]) == NULL);
		CHECK(ma(4096, (long)top[i]) == NULL);
		CHECK(ma((long)((size_t)SSIZE_MAX + 1), (long)top[i]) == NULL);
		CHECK(ca((long)top[i], 2) == NULL);
		CHECK(ca(2, (long)top[i]) == NULL);
	}
	CHECK(ma((long)((size_t)SSIZE_MAX + 1), 16) == NULL);
	CHECK((p = pv(4097)) != NULL && (uintptr_t)p % 4096 == 0);
	CHECK((p = ma(65536, 10)) != NULL && (uintptr_t)p % 65536 == 0);
	if (mode != COMPART_PROCESS) {
		/* and the host's way into it */
		CHECK((p = compart_malloc(c, 0)) != NULL);
		compart_free(c, p);
		for (size_t i = 0; i < NTOP; i++) {
			errno = 0;
			CHECK(compart_malloc(c, top[i]) == NULL && errno == ENOMEM);
		}
		CHECK((p = compart_malloc(c, 4096)) != NULL);
		compart_free(c, p);
	}
	CHECK(compart_unload(c) == 0);
}

static void
window_limits(void)
{
	compart_window_t *w = compart_window_create(NULL);
	char *p;

	CHECK(w != NULL);
	CHECK_ERR(compart_window_alloc(w, 0) == NULL ? -1 : 0, EINVAL);
	CHECK_ERR(compart_window_alloc(w, ARENA + 1) == NULL ? -1 : 0, ENOMEM);
	for (size_t i = 0; i < NTOP; i++)
		CHECK_ERR(compart_window_alloc(w, top[i]) == NULL ? -1 : 0,
		    ENOMEM);
	/* The whole arena, then nothing more, then it is back. */
	CHECK((p = compart_window_alloc(w, ARENA)) != NULL);
	p[0] = 1;
	p[ARENA - 1] = 2;
	CHECK_ERR(compart_window_alloc(w, 1) == NULL ? -1 : 0, ENOMEM);
	CHECK(compart_window_destroy(w) == 0);
	CHECK((w = compart_window_create(NULL)) != NULL);
	CHECK((p = compart_window_alloc(w, 1)) != NULL);
	/* Ranges that would end past the top of the address space. */
	for (size_t i = 0; i < NTOP; i++) {
		CHECK_ERR(compart_window_add(w, (void *)4096, top[i]), EINVAL);
		CHECK_ERR(compart_window_remove(w, (void *)4096, top[i]), EINVAL);
		CHECK_ERR(compart_window_add(w, p, top[i]), EINVAL);
		CHECK_ERR(compart_window_remove(w, p, top[i]), EINVAL);
	}
	/* Arena pages are compart_window_alloc()'s alone, given out or not:
	 * added to another window, they could be a third's later. */
	{
		compart_window_t *w2 = compart_window_create(NULL);

		CHECK(w2 != NULL);
		CHECK_ERR(compart_window_add(w2, p, 4096), EINVAL);
		CHECK_ERR(compart_window_add(w2, p + 4096, 16 * 4096), EINVAL);
		CHECK(compart_window_destroy(w2) == 0);
	}
	CHECK(compart_window_destroy(w) == 0);
}

static void
buffer_limits(void)
{
	compart_t *c = cmp_load("cmp_a", "a");
	char res[64], why[256];
	char *const one[] = { "1" };
	int r;

	CHECK((r = compart_mpk_check(why, sizeof(why))) >= 0);
	CHECK(compart_mpk_check(why, 0) == r);
	CHECK(compart_mpk_check(why, 1) == r && why[0] == '\0');
	CHECK(compart_mpk_check(why, SIZE_MAX) == r && strlen(why) > 0);
	r = compart_callv(c, "count", 0, NULL, res, sizeof(res));
	if (r < 0 && errno == ENOSYS) {
		printf("compart_callv: built without libffi\n");
	} else {
		CHECK(r == 0 && strcmp(res, "1") == 0);
		CHECK_ERR(compart_callv(c, "hello", 0, NULL, res, 0), EINVAL);
		CHECK_ERR(compart_callv(c, "count", -1, NULL, res,
		    sizeof(res)), EINVAL);
		CHECK_ERR(compart_callv(c, "count", INT_MAX, NULL, res,
		    sizeof(res)), EINVAL);
		CHECK(compart_callv(c, "count", 0, NULL, res, 1) == 0 &&
		    res[0] == '\0');
		CHECK(compart_callv(c, "count", 0, NULL, res, SIZE_MAX) == 0 &&
		    strcmp(res, "3") == 0);
		CHECK_ERR(compart_callv(c, "heap_alloc", INT_MAX, one, res,
		    sizeof(res)), EINVAL);
	}
	CHECK(compart_unload(c) == 0);
}

static int
scenario(int mode)
{
	load_limits();
	heap_limits(mode);
	window_limits();
	buffer_limits();
	return T_PASS;
}

int
main(int argc, char **argv)
{
	return cmp_each_mode(argc, argv, cmp_every_mode, scenario);
}
