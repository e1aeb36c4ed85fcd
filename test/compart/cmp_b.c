/* A test compartment that calls another compartment's entry through an
 * import (a weak reference the manager binds to the other's gate). */
#include <errno.h>
#include <stddef.h>

#include "comsg/compart.h"

extern long count(void) __attribute__((weak));
extern long peek(const long *) __attribute__((weak));

long
count_twice(void)
{
	if (count == NULL)
		return -1;
	count();
	return count();
}
COMPART_ENTRY(count_twice, "l()");

/* Reads through the other compartment's peek: the read happens there. */
long
peek_via(const long *p)
{
	return peek == NULL ? -1 : peek(p);
}
COMPART_ENTRY(peek_via, "l(p)");

/* The same, or otherwise if that call failed (EFAULT): a failure deeper
 * down that this compartment recovers from. */
long
peek_or(const long *p, long otherwise)
{
	long r;

	if (peek == NULL)
		return -1;
	errno = 0;
	r = peek(p);
	return r == -1 && errno == EFAULT ? otherwise : r;
}
COMPART_ENTRY(peek_or, "l(pl)");
