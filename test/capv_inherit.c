/* The capability vector survives fork and exec, also through programs that
 * know nothing of comsg (sh -c), and coexecvpc() sets or borrows one. */
#include <sys/stat.h>
#include "harness.h"

static const char *self;

/* Child mode: slot N must hold a live target answering "pong". */
static int
check_slot(int slot, int want_capc_max)
{
	void **capv;
	int capc;
	char rep[8] = "";

	CHECK(capvfetch(&capc, &capv) == 0);
	CHECK(capc > slot && capc <= want_capc_max);
	CHECK(capv[slot] != NULL);
	for (int i = 0; i < capc; i++)
		if (i != slot)
			CHECK(capv[i] == NULL);
	CHECK(cocall(capv[slot], "ping", 5, rep, sizeof(rep)) == 5);
	CHECK(strcmp(rep, "pong") == 0);
	return T_PASS;
}

/* Does Yama keep ptrace (and so pidfd_getfd) to descendants here? */
static bool
yama_restricts(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
	int scope = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
	}
	return scope >= 1;
}

static int
run(const char *cmd)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return t_wait(pid);
}

static int
serve(void *target)
{
	char in[8];
	size_t outlen = 0;

	(void)target;
	for (;;) {
		CHECK(coaccept(NULL, "pong", outlen, in, sizeof(in)) >= 0);
		outlen = 5;
	}
	return T_FAIL;
}

int
main(int argc, char **argv)
{
	void **capv, *target, *bogus[1];
	int capc;
	char cmd[512];
	pid_t member, stranger;

	self = argv[0];
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check_slot(atoi(argv[2]), atoi(argv[2]) + 1);
	if (argc == 3 && strcmp(argv[1], "wait") == 0) {
		/* A member of the domain that holds its vector (of the size
		 * given) until killed. */
		CHECK(capvfetch(&capc, &capv) == 0 && capc == atoi(argv[2]));
		for (;;)
			pause();
	}

	CHECK(capvfetch(&capc, &capv) == 0);
	CHECK(capc == 0 && capv != NULL);

	/* A service in a child; its target comes back over a socket. */
	(void)t_service(serve, &target);

	/* Put it in our own vector at slot 8: children inherit it. */
	CHECK(capvset(&capc, &capv, 8, target) == 0);
	CHECK(capc == 9 && capv[8] == target);
	CHECK(capvfetch(&capc, &capv) == 0 && capc == 9 && capv[8] == target);
	CHECK(getenv("COMSG_CAPV") != NULL);

	/* Through sh -c, exec'd directly and forked by the shell. */
	snprintf(cmd, sizeof(cmd), "exec '%s' check 8", self);
	CHECK(run(cmd) == T_PASS);
	snprintf(cmd, sizeof(cmd), "'%s' check 8; exit $?", self);
	CHECK(run(cmd) == T_PASS);
	snprintf(cmd, sizeof(cmd), "sh -c \"'%s' check 8\"", self);
	CHECK(run(cmd) == T_PASS);

	/* coexecvpc with a vector of our choosing: slot 3 only. */
	{
		void **v = NULL;
		int n = 0;
		pid_t pid;

		CHECK(capvset(&n, &v, 3, target) == 0 && n == 4);
		CHECK_ERR(capvset(&n, &v, CAPV_MAX, target), EINVAL);
		CHECK_ERR(capvset(&n, &v, 1, (void *)v), EINVAL);
		pid = t_fork();
		if (pid == 0) {
			char *args[] = { (char *)self, "check", "3", NULL };

			coexecvpc(0, self, args, v, n);
			_exit(126);
		}
		CHECK(t_wait(pid) == T_PASS);
		free(v);
	}

	/* coexecvpc borrowing another member's vector. */
	member = t_fork();
	if (member == 0) {
		execl(self, self, "wait", "9", (char *)NULL);
		_exit(127);
	}
	/* Drop slot 8 from our own vector first, so the slot can only come
	 * from the member. */
	CHECK(capvset(&capc, &capv, 8, NULL) == 0);
	{
		pid_t pid = t_fork();

		if (pid == 0) {
			char *args[] = { (char *)self, "check", "8", NULL };

			coexecvpc(member, self, args, NULL, 0);
			_exit(errno == ESRCH ? 125 : errno == EPERM ? 124 : 126);
		}
		/* The member may not have reached exec yet (ESRCH: its
		 * environment is still ours) -- retry until it did. */
		int rc = t_wait(pid);

		for (int tries = 0; rc == 125 && tries < 500; tries++) {
			usleep(10000);
			pid = t_fork();
			if (pid == 0) {
				char *args[] = { (char *)self, "check", "8", NULL };

				coexecvpc(member, self, args, NULL, 0);
				_exit(errno == ESRCH ? 125 : errno == EPERM ? 124 : 126);
			}
			rc = t_wait(pid);
		}
		if (rc == 124 && yama_restricts()) {
			/* Copying a sibling's descriptors takes ptrace rights,
			 * which Yama keeps to ancestors here. */
			fprintf(stderr, "coexecvpc(member): EPERM under Yama "
			    "ptrace_scope; that part not checked\n");
		} else {
			CHECK(rc == T_PASS);
		}
	}

	/* Errors: no such process, another domain, another user. */
	{
		char *args[] = { "true", NULL };
		pid_t gone = t_fork();

		if (gone == 0)
			_exit(0);
		t_wait(gone);
		CHECK_ERR(coexecvpc(gone, "true", args, NULL, 0), ESRCH);
		CHECK_ERR(coexecvpc(0, "true", args, NULL, -1), EINVAL);
		bogus[0] = &capc;	/* an address, not a capability */
		CHECK_ERR(coexecvpc(0, "true", args, bogus, 1), EINVAL);

		stranger = t_fork();
		if (stranger == 0) {
			setenv("COMSG_DIR", "/tmp/comsg-elsewhere", 1);
			execl(self, self, "wait", "0", (char *)NULL);
			_exit(127);
		}
		/* Once it has exec'd, its environment names another domain. */
		for (int tries = 0; tries < 500; tries++) {
			errno = 0;
			if (coexecvpc(stranger, "true", args, NULL, 0) < 0 &&
			    errno == ESRCH) {
				char path[64], buf[4096];
				int fd;
				ssize_t n;

				snprintf(path, sizeof(path), "/proc/%d/environ", stranger);
				fd = open(path, O_RDONLY);
				n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
				if (fd >= 0)
					close(fd);
				if (n > 0 && memmem(buf, n, "comsg-elsewhere", 15))
					break;
			}
			usleep(10000);
		}
		CHECK_ERR(coexecvpc(stranger, "true", args, NULL, 0), ESRCH);
		if (getuid() == 0) {
			pid_t nobody = t_fork();

			if (nobody == 0) {
				if (setuid(65534) < 0)
					_exit(1);
				for (;;)
					pause();
			}
			for (int tries = 0; tries < 500; tries++) {
				struct stat st;
				char path[64];

				snprintf(path, sizeof(path), "/proc/%d", nobody);
				if (stat(path, &st) == 0 && st.st_uid == 65534)
					break;
				usleep(10000);
			}
			CHECK_ERR(coexecvpc(nobody, "true", args, NULL, 0), EPERM);
		} else {
			CHECK_ERR(coexecvpc(1, "true", args, NULL, 0), EPERM);
		}
	}
	return T_PASS;
}
