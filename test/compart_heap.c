/* Two compartments of one object have separate heaps, statics and stacks; a compartment's malloc comes from its own region. */
#include "compart_util.h"

static bool
inside(const void *p, const void *base, size_t len)
{
	return (const char *)p >= (const char *)base &&
	    (const char *)p < (const char *)base + len;
}

int
main(void)
{
	compart_t *a, *b;
	void *(*alloc_a)(long), *(*alloc_b)(long), *ha, *hb, *sa, *sb, *p, *q;
	long (*count_a)(void), (*count_b)(void);
	size_t la, lb, ls;
	int i;

	CHECK(compart_init(COMPART_MPROTECT) == 0);
	a = cmp_load("cmp_a", "a");
	b = cmp_load("cmp_a", "b");
	CHECK(compart_region(a, COMPART_REGION_HEAP, &ha, &la) == 0);
	CHECK(compart_region(b, COMPART_REGION_HEAP, &hb, &lb) == 0);
	CHECK(la == 8 << 20 && lb == 8 << 20);
	CHECK(!inside(ha, hb, lb) && !inside(hb, ha, la));
	CHECK(compart_region(a, COMPART_REGION_STACK, &sa, &ls) == 0);
	CHECK(ls == 256 << 10);
	CHECK(compart_region(b, COMPART_REGION_STACK, &sb, &ls) == 0);
	CHECK(sa != sb);
	CHECK_ERR(compart_region(a, 9, &sa, &ls), EINVAL);

	CHECK((alloc_a = COMPART_FN(a, void *(*)(long), "heap_alloc")) != NULL);
	CHECK((alloc_b = COMPART_FN(b, void *(*)(long), "heap_alloc")) != NULL);
	for (i = 0; i < 100; i++) {
		long n = 1 + i * 997 % 70000;

		CHECK((p = alloc_a(n)) != NULL && inside(p, ha, la));
		CHECK((q = alloc_b(n)) != NULL && inside(q, hb, lb));
		CHECK(((uintptr_t)p & 15) == 0);
		CHECK(((unsigned char *)p)[n - 1] == 0xa5);
	}
	/* larger than the region: NULL, not another heap */
	CHECK(alloc_a(9 << 20) == NULL);
	/* the host allocates in a compartment's heap */
	CHECK((p = compart_malloc(a, 100)) != NULL && inside(p, ha, la));
	compart_free(a, p);

	CHECK((count_a = COMPART_FN(a, long (*)(void), "count")) != NULL);
	CHECK((count_b = COMPART_FN(b, long (*)(void), "count")) != NULL);
	CHECK(count_a() == 1 && count_a() == 2 && count_b() == 1);
	CHECK(compart_unload(a) == 0);
	CHECK(count_b() == 2);
	CHECK(compart_unload(b) == 0);
	return T_PASS;
}
