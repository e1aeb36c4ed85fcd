/* A test compartment: its heap's allocation functions, called with any
 * size, as a compartment's code may call them. */
#include <malloc.h>
#include <stdlib.h>

#include "comsg/compart.h"

/* pvalloc(3): whole pages, n rounded up. */
void *
heap_pvalloc(long n)
{
	return pvalloc((size_t)n);
}
COMPART_ENTRY(heap_pvalloc, "p(l)");

/* memalign(3) of n bytes aligned to align. */
void *
heap_memalign(long align, long n)
{
	return memalign((size_t)align, (size_t)n);
}
COMPART_ENTRY(heap_memalign, "p(ll)");

/* calloc(3) of n elements of size bytes. */
void *
heap_calloc(long n, long size)
{
	return calloc((size_t)n, (size_t)size);
}
COMPART_ENTRY(heap_calloc, "p(ll)");
