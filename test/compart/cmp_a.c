/* A test compartment: arithmetic over mixed arguments, its own heap and
 * statics, memory probes, and calls that the manager intercepts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comsg/compart.h"

static long counter;
static long *secret;

/* Six mixed arguments; writes into the window p points to. */
double
mix(int a, double b, long c, double *p, int d, double e)
{
	p[1] = a * 2 + b;
	return a + b + (double)c + p[0] + d + e;
}
COMPART_ENTRY(mix, "d(idlpid)");

/* Beyond the registers: 8 integers and 10 doubles. */
double
many(long a, long b, long c, long d, long e, long f, long g, long h,
    double x0, double x1, double x2, double x3, double x4, double x5,
    double x6, double x7, double x8, double x9)
{
	return (double)(a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g +
	    8 * h) + x0 + 2 * x1 + 3 * x2 + 4 * x3 + 5 * x4 + 6 * x5 + 7 * x6 +
	    8 * x7 + 9 * x8 + 10 * x9;
}
COMPART_ENTRY(many, "d(lllllllldddddddddd)");

long
count(void)
{
	return ++counter;
}
COMPART_ENTRY(count, "l()");

/* Memory from its own heap, holding a secret. */
void *
get_secret(void)
{
	if (secret == NULL) {
		secret = malloc(4 * sizeof(long));
		if (secret == NULL)
			return NULL;
		secret[0] = 0x5ec2e7;
	}
	return secret;
}
COMPART_ENTRY(get_secret, "p()");

void *
heap_alloc(long n)
{
	char *p = malloc((size_t)n);

	if (p != NULL)
		memset(p, 0xa5, (size_t)n);
	return p;
}
COMPART_ENTRY(heap_alloc, "p(l)");

long
peek(const long *p)
{
	return *(const volatile long *)p;
}
COMPART_ENTRY(peek, "l(p)");

long
poke(long *p, long v)
{
	*(volatile long *)p = v;
	return v;
}
COMPART_ENTRY(poke, "l(pl)");

/* Opens a file: -errno when refused. */
int
open_close(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
COMPART_ENTRY(open_close, "i(s)");

long
now(void)
{
	time_t t = time(NULL);

	return t == (time_t)-1 ? -errno : (long)t;
}
COMPART_ENTRY(now, "l()");

long
length(const char *s)
{
	return (long)strlen(s);
}
COMPART_ENTRY(length, "l(s)");

/* A bug of its own: a stray write over a freed block's free-list link,
 * so that the second allocation of that size after this faults inside
 * the compartment's allocator. */
long
heap_break(void)
{
	long *p = malloc(48), *stale = p;

	if (p == NULL)
		return -1;
	__asm__("" : "+r"(stale));	/* the bug is meant */
	free(p);
	*(volatile long *)stale = 0x10;
	return 0;
}
COMPART_ENTRY(heap_break, "l()");

/* Probes of what the compartment's process holds: a word at an address
 * given as a number (no window check applies), a descriptor number. */
long
peek_addr(long addr)
{
	return *(const volatile long *)addr;
}
COMPART_ENTRY(peek_addr, "l(l)");

/* A word of another process's memory, through /proc/PID/mem: the word,
 * or -errno. */
long
proc_mem(long pid, long addr)
{
	char path[64];
	long word;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -errno;
	n = pread(fd, &word, sizeof(word), (off_t)addr);
	close(fd);
	return n == (ssize_t)sizeof(word) ? word : n < 0 ? -errno : -EIO;
}
COMPART_ENTRY(proc_mem, "l(ll)");

int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}
COMPART_ENTRY(fd_open, "i(i)");

const char *
hello(void)
{
	return "hello from cmp_a";
}
COMPART_ENTRY(hello, "s()");

/* Exported, but not an entry point: nobody outside may call it. */
int
not_an_entry(void)
{
	return 42;
}
