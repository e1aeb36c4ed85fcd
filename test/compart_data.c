/* A compartment's statics are its own: another compartment handed a pointer to one faults, until a window of COMPART_REGION_DATA opens them; after the violation the caller's state (current compartment, stack, protection) is as before. */
#include "compart_util.h"

static int
scenario(int mode)
{
	compart_t *a = cmp_load("cmp_c", "owner"), *b = cmp_load("cmp_a", "peer");
	long *(*cell)(void), (*read_cell)(void), (*poke_cell)(long);
	long (*poke_b)(long *, long), (*count_b)(void);
	struct compart_violation v;
	compart_window_t *w;
	void *data, *st0, *st1;
	size_t len, sl0, sl1;

	CHECK((cell = COMPART_FN(a, long *(*)(void), "static_cell")) != NULL);
	CHECK((read_cell = COMPART_FN(a, long (*)(void), "read_cell")) != NULL);
	CHECK((poke_cell = COMPART_FN(a, long (*)(long), "poke_cell")) != NULL);
	CHECK((poke_b = COMPART_FN(b, long (*)(long *, long), "poke")) != NULL);
	CHECK((count_b = COMPART_FN(b, long (*)(void), "count")) != NULL);
	if (mode == COMPART_PROCESS) {
		CHECK_ERR(compart_region(a, COMPART_REGION_DATA, &data, &len),
		    ENOTSUP);
		goto out;
	}
	CHECK(compart_import(a, "poke", b, "poke") == 0);

	/* the region holds the static, in whole pages */
	CHECK(compart_region(a, COMPART_REGION_DATA, &data, &len) == 0);
	CHECK(((uintptr_t)data & 4095) == 0 && len > 0 && len % 4096 == 0);
	CHECK((char *)cell() >= (char *)data &&
	    (char *)cell() < (char *)data + len);
	CHECK(read_cell() == 0x5747);

	/* the owner hands its static to the peer: a violation in the
	 * peer, the owner's call gets -1 and carries on */
	CHECK(compart_region(a, COMPART_REGION_STACK, &st0, &sl0) == 0);
	compart_clear_violation();
	errno = 0;
	CHECK(poke_cell(7) == -1 && errno == EFAULT);
	CHECK(compart_last_violation(&v) == 0);
	CHECK(strcmp(v.accessor, "peer") == 0);
	CHECK(strcmp(v.owner, "'owner'") == 0);
	CHECK(v.addr == (void *)cell() && v.write == 1);
	CHECK(read_cell() == 0x5747);
	/* the state the violation crossed is back: the host runs, the
	 * owner's stack starts where it did, both compartments work */
	CHECK(compart_region(a, COMPART_REGION_STACK, &st1, &sl1) == 0);
	CHECK(st0 == st1 && sl0 == sl1);
	CHECK(count_b() == 1 && count_b() == 2);
	CHECK((w = compart_window_create(NULL)) != NULL);	/* host only */
	CHECK(compart_window_destroy(w) == 0);

	/* a window over the owner's statics, open to the peer */
	CHECK((w = compart_window_create(a)) != NULL);
	CHECK(compart_window_add(w, data, len) == 0);
	CHECK(compart_window_open(w, b) == 0);
	CHECK(poke_cell(9) == 9);
	CHECK(read_cell() == 9);
	CHECK(poke_b(cell(), 11) == 11);
	CHECK(read_cell() == 11);
	/* closed again: a violation again */
	CHECK(compart_window_close(w, b) == 0);
	errno = 0;
	CHECK(poke_cell(13) == -1 && errno == EFAULT);
	CHECK(read_cell() == 11);
	CHECK(compart_window_destroy(w) == 0);
	CHECK(read_cell() == 11);
	CHECK_ERR(compart_region(a, 99, &data, &len), EINVAL);
out:
	CHECK(compart_unload(a) == 0);
	CHECK_ERR(compart_unload(a), EINVAL);
	CHECK(compart_unload(b) == 0);
	return T_PASS;
}

int
main(int argc, char **argv)
{
	static const int modes[] = { COMPART_MPROTECT, COMPART_MPK,
		COMPART_PROCESS, -1 };

	return cmp_each_mode(argc, argv, modes, scenario);
}
