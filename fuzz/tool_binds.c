/*
 * binds(1), compiled as it is with its main() renamed, so that
 * fuzz_capv_msgs can run the real tool (options, policy, service_run())
 * in a thread of the fuzzer and call it.
 */
#define main binds_main
#include "binds.c"	/* tools/binds.c: -I tools */
