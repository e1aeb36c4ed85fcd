/*
 * check-mpk: say whether memory protection keys (Intel MPK / PKU) work on
 * this machine, and why not when they do not; exit 0 if they do, 1 if
 * not.  With -v, also show that a key really protects: a page under a
 * key that access is denied to faults.
 */
#include <err.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <comsg/compart.h>

#include "toolutil.h"

static sigjmp_buf jb;

static void
on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: check-mpk [-v]\n");
	exit(EXIT_USAGE);
}

/* Deny access to key k, touch a page under it, allow again. */
static int
demo(void)
{
	volatile char *p;
	int k;
	unsigned pkru;

	k = (int)syscall(SYS_pkey_alloc, 0UL, 0UL);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k < 0 || p == MAP_FAILED ||
	    syscall(SYS_pkey_mprotect, p, 4096UL, (unsigned long)(PROT_READ |
	    PROT_WRITE), (unsigned long)k) < 0)
		return -1;
	p[0] = 1;
	signal(SIGSEGV, on_segv);
	__asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(pkru) : "c"(0) : "rdx");
	if (sigsetjmp(jb, 1) == 0) {
		unsigned deny = pkru | (3U << (2 * k));

		__asm__ volatile(".byte 0x0f,0x01,0xef" :: "a"(deny), "c"(0), "d"(0));
		(void)p[0];
		__asm__ volatile(".byte 0x0f,0x01,0xef" :: "a"(pkru), "c"(0), "d"(0));
		printf("check-mpk: key %d did NOT stop a read\n", k);
		return 1;
	}
	__asm__ volatile(".byte 0x0f,0x01,0xef" :: "a"(pkru), "c"(0), "d"(0));
	printf("check-mpk: a read of a page under key %d with access "
	    "denied faulted, as it should\n", k);
	return 0;
}

int
main(int argc, char **argv)
{
	char why[256];
	bool verbose = false;
	int ch, ok;

	while ((ch = getopt(argc, argv, "v")) != -1) {
		switch (ch) {
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	ok = compart_mpk_check(why, sizeof(why));
	printf("check-mpk: %s: %s\n", ok ? "yes" : "no", why);
	if (ok && verbose && demo() != 0)
		return 1;
	return ok ? 0 : 1;
}
