/* capkind() tells targets from descriptors without asking the service (a
 * dead one's target is still a target), and refuses what is not a live
 * capability. */
#include "harness.h"
#include "comsg/coport.h"

static int
idle_service(void *target)
{
	(void)target;
	pause();
	return T_PASS;
}

int
main(void)
{
	void *own, *theirs, *fdcap, *portcap, *stale;
	char buf[8];
	coport_t port;
	pid_t pid;
	int p[2];

	CHECK(coregister(NULL, &own) == 0);
	CHECK(capkind(own) == CAPKIND_TARGET);

	pid = t_service(idle_service, &theirs);
	CHECK(capkind(theirs) == CAPKIND_TARGET);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(t_wait(pid) == 128 + SIGKILL);
	CHECK(capkind(theirs) == CAPKIND_TARGET);

	CHECK(pipe(p) == 0);
	CHECK(capfromfd(&fdcap, p[0]) == 0);
	CHECK(capkind(fdcap) == CAPKIND_FD);
	/* The capability stays the caller's and works as before. */
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(capkind(fdcap) == CAPKIND_FD);

	CHECK(coopen("kind", COCHANNEL, &port) == 0);
	CHECK(coport_tocap(port, &portcap) == 0);
	CHECK(capkind(portcap) == CAPKIND_FD);

	/* Not live: released, never one, nothing. */
	CHECK(capfromfd(&stale, p[1]) == 0);
	CHECK(capfree(stale) == 0);
	CHECK_ERR(capkind(stale), EINVAL);
	CHECK_ERR(capkind(NULL), EINVAL);
	CHECK_ERR(capkind(buf), EINVAL);
	CHECK_ERR(capkind((char *)own + 1), EINVAL);

	CHECK(capfree(portcap) == 0);
	CHECK(coclose(port) == 0);
	CHECK(capfree(fdcap) == 0);
	CHECK(capfree(theirs) == 0);
	CHECK(capfree(own) == 0);
	return T_PASS;
}
