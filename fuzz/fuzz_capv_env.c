/*
 * fuzz_capv_env: capv_decode(), the parser of COMSG_CAPV ("8=t:5:6,10=f:7"),
 * which every process runs at start on what its parent put in its
 * environment.  The input is the variable's value.  It is decoded twice:
 * as capv_init() does (the numbers are our own descriptors, not ours to
 * close when they do not check out) and as coexecvpc() does (each number
 * fetched afresh from another process, ours to close).
 *
 * A descriptor number n stands for a descriptor of kind n % 8: a gate, a
 * doorbell, a pipe, /dev/null, an unsealed memfd, a sealed memfd of the
 * wrong size, a closed number, or (fetched) one we may not take (EPERM).
 * So "8=t:8:9" is a good target and "10=f:11" a good descriptor.
 *
 * Checked besides crashes and leaks: every slot holds a live capability
 * or nothing; no two capabilities rest on the same descriptor (releasing
 * one would close the other's); every descriptor is accounted for.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

enum { K_GATE, K_BELL, K_PIPE, K_NULL, K_MEMFD, K_SEALED, K_CLOSED, K_EPERM };

static const enum fz_fdkind as_fd[] = {
	[K_GATE] = FZ_GATE, [K_BELL] = FZ_BELL, [K_PIPE] = FZ_PIPE,
	[K_NULL] = FZ_NULL, [K_MEMFD] = FZ_MEMFD, [K_SEALED] = FZ_SEALED,
};

/* Inherited descriptors: one per distinct number, made on first use at
 * FZ_FDHIGH + k, so that numbers the library closes are never reused
 * within an input. */
#define NINH	64

static struct {
	long	num[NINH];
	int	n;
} inh;

static int
inherited_fd(int num, void *arg)
{
	int i, fd, k = num % 8;

	(void)arg;
	for (i = 0; i < inh.n; i++)
		if (inh.num[i] == num)
			return FZ_FDHIGH + i;
	if (inh.n == NINH) {
		errno = EBADF;
		return FZ_FDHIGH + NINH + 1;	/* never open */
	}
	i = inh.n++;
	inh.num[i] = num;
	if (k == K_CLOSED || k == K_EPERM)
		return FZ_FDHIGH + i;		/* a number nobody opened */
	fd = fz_fd(as_fd[k]);
	FZ_CHECK(dup3(fd, FZ_FDHIGH + i, O_CLOEXEC) == FZ_FDHIGH + i, "dup3");
	close(fd);
	return FZ_FDHIGH + i;
}

/* Fetched descriptors: a new one each time, like pidfd_getfd(). */
static int
fetched_fd(int num, void *arg)
{
	int k = num % 8;

	(void)arg;
	if (k == K_CLOSED) {
		errno = EBADF;
		return -1;
	}
	if (k == K_EPERM) {
		errno = EPERM;
		return -1;
	}
	return fz_fd(as_fd[k]);
}

/* Check the vector, then release it. */
static void
settle(void **v, int n)
{
	struct cap *seen[CAPV_MAX];
	int slot[CAPV_MAX], nseen = 0, i, j, k, l;

	FZ_CHECK(n >= 0 && n <= CAPV_MAX, "vector of %d slots", n);
	FZ_CHECK(n == 0 || v != NULL, "no array for %d slots", n);
	for (i = 0; i < n; i++) {
		struct cap *c = v[i];
		bool dup = false;

		if (c == NULL)
			continue;
		FZ_LOG("  slot %d: %s", i, cap_get(c, CAP_TARGET) ? "target" :
		    "descriptor");
		FZ_CHECK(cap_get(c, 0) == c, "slot %d: not a live capability", i);
		for (j = 0; j < nseen; j++)
			dup |= seen[j] == c;
		if (dup)
			continue;
		/* Descriptors of distinct capabilities are distinct. */
		for (j = 0; j < nseen; j++)
			for (k = 0; k < cap_nfds(c->kind); k++)
				for (l = 0; l < cap_nfds(seen[j]->kind); l++)
					FZ_CHECK(c->fd[k] != seen[j]->fd[l],
					    "slots %d and %d hold two capabilities "
					    "on one descriptor, %d", slot[j], i,
					    c->fd[k]);
		slot[nseen] = i;
		seen[nseen++] = c;
	}
	for (j = 0; j < nseen; j++)
		cap_release(seen[j]);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	void **v;
	int n, i;

	FZ_CHECK(s != NULL, "malloc");
	memcpy(s, data, size);
	s[size] = '\0';

	/* As at start-up: the numbers are ours. */
	inh.n = 0;
	if (capv_decode(s, &n, &v, inherited_fd, NULL, false) == 0) {
		FZ_LOG("inherited: %d slots", n);
		settle(v, n);
	} else {
		FZ_CHECK(errno == ENOMEM, "inherited: errno %d", errno);
	}
	for (i = 0; i < inh.n; i++)
		close(FZ_FDHIGH + i);	/* those no capability took */

	/* As coexecvpc(): fetched from elsewhere, ours to close. */
	if (capv_decode(s, &n, &v, fetched_fd, NULL, true) == 0) {
		FZ_LOG("fetched: %d slots", n);
		settle(v, n);
	} else {
		FZ_CHECK(errno == EPERM || errno == ENOMEM, "fetched: errno %d",
		    errno);
	}
	free(s);
	fz_done();
	return 0;
}
