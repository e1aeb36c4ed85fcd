/* A test compartment with statics it hands to others (as SQLite hands
 * its PRNG state to its VFS), and a call into another compartment made
 * from deep in its own stack. */
#include "comsg/compart.h"

static long cell[4] = { 0x5747 };
extern long poke(long *, long) __attribute__((weak));

/* The address of one of its statics. */
void *
static_cell(void)
{
	return cell;
}
COMPART_ENTRY(static_cell, "p()");

long
read_cell(void)
{
	return cell[0];
}
COMPART_ENTRY(read_cell, "l()");

/* Asks the imported poke (another compartment) to write its static. */
long
poke_cell(long v)
{
	return poke == NULL ? -2 : poke(cell, v);
}
COMPART_ENTRY(poke_cell, "l(l)");
