/* comutexes: EOWNERDEAD (within 2 s) after kill -9 of a holder, comutex_consistent, ENOTRECOVERABLE without it; EDEADLK, EPERM, EBUSY, EINVAL. */
#include "coport_test.h"

#define BOUND_MS	2000

struct shared {
	int	 result;	/* the waiter's colock */
	int64_t	 done_ns;	/* when it returned */
};
static struct shared *sh;
static int sv[2];

/* Locks name, says so, and waits to be killed. */
static int
holder(void *arg)
{
	comutex_t m;
	char c;

	CHECK(comutex_init(arg, &m) == 0);
	CHECK(colock(&m) == 0);
	t_say(sv[1], 'l');
	(void)!read(sv[1], &c, 1);	/* killed here */
	return T_FAIL;
}

static pid_t
start_holder(const char *name)
{
	pid_t pid = t_spawn(holder, (void *)name);

	t_hear(sv[0], 'l');
	return pid;
}

/* Waits on the comutex while its holder is killed; repairs it. */
static int
waiter(void *arg)
{
	comutex_t m;

	CHECK(comutex_init(arg, &m) == 0);
	t_say(sv[1], 'r');
	sh->result = colock(&m);
	sh->done_ns = t_now_ns();
	if (sh->result == EOWNERDEAD) {
		CHECK(comutex_consistent(&m) == 0);
		CHECK(comutex_consistent(&m) == EINVAL);	/* done already */
		CHECK(counlock(&m) == 0);
	}
	return T_PASS;
}

/* Another process: the comutex is held by someone else. */
static int
other(void *arg)
{
	comutex_t m;

	CHECK(comutex_init(arg, &m) == 0);
	CHECK(cotrylock(&m) == EBUSY);
	CHECK(counlock(&m) == EPERM);
	CHECK(comutex_consistent(&m) == EINVAL);
	return T_PASS;
}

static int
other_unrecoverable(void *arg)
{
	comutex_t m;

	CHECK(comutex_init(arg, &m) == 0);
	CHECK(colock(&m) == ENOTRECOVERABLE);
	CHECK(cotrylock(&m) == ENOTRECOVERABLE);
	return T_PASS;
}

static void
errors(void)
{
	comutex_t m, bad;
	char name[80];

	CHECK(comutex_init("", &m) == EINVAL);
	CHECK(comutex_init(NULL, &m) == EINVAL);
	CHECK(comutex_init("a/b", &m) == EINVAL);
	CHECK(comutex_init("x", NULL) == EINVAL);
	memset(name, 'm', sizeof(name));
	name[COPORT_NAMEMAX + 1] = '\0';
	CHECK(comutex_init(name, &m) == ENAMETOOLONG);
	memset(&bad, 0, sizeof(bad));
	CHECK(colock(&bad) == EINVAL);
	CHECK(colock(NULL) == EINVAL);
	memset(&bad, 0xa5, sizeof(bad));
	CHECK(colock(&bad) == EINVAL);
	CHECK(cotrylock(&bad) == EINVAL);
	CHECK(counlock(&bad) == EINVAL);
	CHECK(comutex_consistent(&bad) == EINVAL);
	CHECK(comutex_destroy(&bad) == EINVAL);

	CHECK(comutex_init("od-basic", &m) == 0);
	CHECK(counlock(&m) == EPERM);			/* nobody holds it */
	CHECK(cotrylock(&m) == 0);
	CHECK(colock(&m) == EDEADLK);
	CHECK(comutex_consistent(&m) == EINVAL);	/* not after EOWNERDEAD */
	CHECK(comutex_destroy(&m) == EBUSY);
	CHECK(t_wait(t_spawn(other, "od-basic")) == 0);
	CHECK(counlock(&m) == 0);
	CHECK(counlock(&m) == EPERM);
	CHECK(colock(&m) == 0);
	CHECK(counlock(&m) == 0);
	CHECK(comutex_destroy(&m) == 0);
	CHECK(colock(&m) == EINVAL);			/* destroyed */
}

int
main(void)
{
	comutex_t m;
	pid_t h, w;
	int64_t t0, ms;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	errors();

	/* A waiter already there when the holder is killed. */
	h = start_holder("od");
	w = t_spawn(waiter, "od");
	t_hear(sv[0], 'r');
	t0 = t_now_ns();
	CHECK(kill(h, SIGKILL) == 0);
	CHECK(t_wait(w) == 0);
	ms = (sh->done_ns - t0) / 1000000;
	fprintf(stderr, "waiter: %s %lld ms after the kill\n",
	    strerror(sh->result), (long long)ms);
	CHECK(sh->result == EOWNERDEAD);
	CHECK(ms < BOUND_MS);
	CHECK(t_wait(h) == 128 + SIGKILL);
	/* Repaired: an ordinary lock again. */
	CHECK(comutex_init("od", &m) == 0);
	CHECK(colock(&m) == 0);
	CHECK(counlock(&m) == 0);

	/* The holder dead and reaped before we lock. */
	h = start_holder("od");
	CHECK(kill(h, SIGKILL) == 0);
	CHECK(t_wait(h) == 128 + SIGKILL);
	t0 = t_now_ns();
	CHECK(colock(&m) == EOWNERDEAD);
	ms = (t_now_ns() - t0) / 1000000;
	fprintf(stderr, "colock after the holder was reaped: %lld ms\n",
	    (long long)ms);
	CHECK(ms < BOUND_MS);
	CHECK(comutex_consistent(&m) == 0);
	CHECK(counlock(&m) == 0);
	CHECK(colock(&m) == 0);
	CHECK(cotrylock(&m) == EDEADLK);
	CHECK(counlock(&m) == 0);
	CHECK(cotrylock(&m) == 0);
	CHECK(counlock(&m) == 0);
	CHECK(comutex_destroy(&m) == 0);

	/* Not repaired: everyone after gets ENOTRECOVERABLE. */
	CHECK(comutex_init("od-lost", &m) == 0);
	h = start_holder("od-lost");
	CHECK(kill(h, SIGKILL) == 0);
	t0 = t_now_ns();
	CHECK(colock(&m) == EOWNERDEAD);
	CHECK((t_now_ns() - t0) / 1000000 < BOUND_MS);
	CHECK(t_wait(h) == 128 + SIGKILL);
	CHECK(counlock(&m) == 0);
	CHECK(colock(&m) == ENOTRECOVERABLE);
	CHECK(cotrylock(&m) == ENOTRECOVERABLE);
	CHECK(t_wait(t_spawn(other_unrecoverable, "od-lost")) == 0);
	CHECK(comutex_destroy(&m) == 0);
	return T_PASS;
}
