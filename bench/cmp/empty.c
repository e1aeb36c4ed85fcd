/* The compartment of the call benchmark: entry points that do nothing. */
#include "comsg/compart.h"

void
empty(void)
{
}
COMPART_ENTRY(empty, "v()");

long
add1(long x)
{
	return x + 1;
}
COMPART_ENTRY(add1, "l(l)");
