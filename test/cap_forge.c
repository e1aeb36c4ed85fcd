/* Capabilities cannot be forged: a process that was not given one cannot
 * reach the object, whatever it guesses (names in other domains, the
 * gate's file, descriptor numbers, addresses, stale or dead handles); each
 * attempt gets an error, none gets a call through. */
#include <sys/stat.h>
#include <dirent.h>
#include <sys/un.h>
#include "harness.h"

static int
secret_service(void *target)
{
	char in[16];
	size_t outlen = 0;

	(void)target;
	for (;;) {
		if (coaccept(NULL, "secret", outlen, in, sizeof(in)) < 0)
			return T_FAIL;
		outlen = 7;
	}
}

/* Try to connect to a UNIX socket path; 0 if it connected. */
static int
try_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(s, (struct sockaddr *)&sun, sizeof(sun));
	close(s);
	return r;
}

/* A process given nothing: guess its way in. */
static int
outsider(void *arg)
{
	const char *gates = arg;
	char rep[16], path[108];
	void *t, *table_guess;
	struct dirent *e;
	DIR *d;
	int fd, hits = 0;

	/* Names: it was published in another domain only. */
	CHECK_ERR(colookup("secret", &t), ESRCH);
	/* The gate's file is gone from the file system. */
	d = opendir(gates);
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", gates, e->d_name) >=
		    (int)sizeof(path))
			continue;
		hits += try_connect(path) == 0;
	}
	closedir(d);
	CHECK(hits == 0);
	/* Descriptor numbers: none of ours is a capability. */
	for (fd = 0; fd < 64; fd++) {
		void *c;

		if (capfromfd(&c, fd) == 0) {
			/* Wrapping our own descriptor is fine, and is not a
			 * target. */
			CHECK_ERR(cocall(c, "x", 1, rep, sizeof(rep)), EINVAL);
			capfree(c);
		}
	}
	/* Addresses: pointers that are not live capabilities. */
	table_guess = &fd;
	CHECK_ERR(cocall(table_guess, "x", 1, rep, sizeof(rep)), EINVAL);
	CHECK_ERR(cocall((void *)(uintptr_t)0x1000, "x", 1, rep, sizeof(rep)), EINVAL);
	CHECK_ERR(cocall((void *)(uintptr_t)-1, "x", 1, rep, sizeof(rep)), EINVAL);
	return T_PASS;
}

int
main(void)
{
	char dir[96], gates[128], rep[16], other[128];
	void *target, *copy, **capv;
	int capc;
	pid_t svc, kid;

	svc = t_service(secret_service, &target);
	CHECK(cocall(target, "hi", 3, rep, sizeof(rep)) == 7 &&
	    strcmp(rep, "secret") == 0);

	/* The secret service publishes a name here... */
	CHECK(copublish("secret", target) == 0);
	CHECK(colookup("secret", &copy) == 0);
	CHECK(cocall(copy, "hi", 3, rep, sizeof(rep)) == 7);
	CHECK(capfree(copy) == 0);
	/* ...but an outsider lives in another domain and holds nothing. */
	CHECK(codomain(dir, sizeof(dir)) == 0);
	snprintf(gates, sizeof(gates), "%s/gates", dir);
	snprintf(other, sizeof(other), "%s-outside", dir);
	kid = t_fork();
	if (kid == 0) {
		setenv("COMSG_DIR", other, 1);
		capvfetch(&capc, &capv);
		_exit(outsider(gates));
	}
	CHECK(t_wait(kid) == T_PASS);
	{
		char cmd[sizeof(other) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
		CHECK(system(cmd) == 0);
	}
	/* The domain directories are private to their user. */
	{
		struct stat st;
		char names[160];

		snprintf(names, sizeof(names), "%s/names", dir);
		CHECK(stat(dir, &st) == 0 && (st.st_mode & 0077) == 0);
		CHECK(stat(names, &st) == 0 && (st.st_mode & 0077) == 0);
		CHECK(stat(gates, &st) == 0 && (st.st_mode & 0077) == 0);
	}

	/* Stale handles: released, the pointer is dead. */
	CHECK(colookup("secret", &copy) == 0);
	CHECK(capfree(copy) == 0);
	CHECK_ERR(cocall(copy, "hi", 3, rep, sizeof(rep)), EINVAL);
	CHECK_ERR(capfree(copy), EINVAL);
	CHECK_ERR(capsend(1, copy), EINVAL);

	/* Handles of a dead process: the service is gone; the handle, and
	 * the name we published for it, give ENOLINK, never another
	 * service. */
	kill(svc, SIGKILL);
	CHECK(t_wait(svc) == 128 + SIGKILL);
	CHECK_ERR(cocall(target, "hi", 3, rep, sizeof(rep)), ENOLINK);
	CHECK(colookup("secret", &copy) == 0);
	CHECK_ERR(cocall(copy, "hi", 3, rep, sizeof(rep)), ENOLINK);
	/* A new service in the dead one's place is not reached through the
	 * old handle. */
	{
		void *fresh;

		(void)t_service(secret_service, &fresh);
		CHECK(cocall(fresh, "hi", 3, rep, sizeof(rep)) == 7);
		CHECK_ERR(cocall(target, "hi", 3, rep, sizeof(rep)), ENOLINK);
	}
	return T_PASS;
}
