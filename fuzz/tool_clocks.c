/*
 * clocks(1), compiled as it is with its main() renamed, so that
 * fuzz_capv_msgs can run the real tool (options, service table,
 * service_run()) in a thread of the fuzzer and call it.
 */
#define main clocks_main
#include "clocks.c"	/* tools/clocks.c: -I tools */
