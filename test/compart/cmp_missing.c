/* A test compartment that needs a function nobody defines: loading it
 * must fail with a clear error. */
#include "comsg/compart.h"

extern int compart_test_nowhere_defined(int);

int
calls_nowhere(int x)
{
	return compart_test_nowhere_defined(x);
}
COMPART_ENTRY(calls_nowhere, "i(i)");
