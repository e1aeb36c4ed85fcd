/*
 * The functions a compartment reaches only through the manager: name,
 * group, and how the log shows the first argument (1: a path).  Shared by
 * the shim (which defines a stub for each) and intercept.c (the policy and
 * the real call); the index in this list is the number they agree on.
 */
#define COMPART_INTERCEPTS(X)					\
	X(open, file, 1)	X(open64, file, 1)		\
	X(openat, file, 0)	X(openat64, file, 0)		\
	X(creat, file, 1)	X(creat64, file, 1)		\
	X(read, file, 0)	X(write, file, 0)		\
	X(pread, file, 0)	X(pread64, file, 0)		\
	X(pwrite, file, 0)	X(pwrite64, file, 0)		\
	X(close, file, 0)	X(lseek, file, 0)		\
	X(lseek64, file, 0)	X(fsync, file, 0)		\
	X(fdatasync, file, 0)	X(ftruncate, file, 0)		\
	X(ftruncate64, file, 0)	X(truncate, file, 1)		\
	X(unlink, file, 1)	X(unlinkat, file, 0)		\
	X(rename, file, 1)	X(mkdir, file, 1)		\
	X(rmdir, file, 1)	X(access, file, 1)		\
	X(stat, file, 1)	X(lstat, file, 1)		\
	X(fstat, file, 0)	X(fopen, file, 1)		\
	X(fopen64, file, 1)	X(opendir, file, 1)		\
	X(time, time, 0)	X(clock_gettime, time, 0)	\
	X(gettimeofday, time, 0)				\
	X(socket, net, 0)	X(connect, net, 0)		\
	X(bind, net, 0)		X(listen, net, 0)		\
	X(accept, net, 0)	X(accept4, net, 0)		\
	X(sendto, net, 0)	X(recvfrom, net, 0)		\
	X(getpid, proc, 0)	X(kill, proc, 0)		\
	X(fork, proc, 0)	X(execve, proc, 1)		\
	X(system, proc, 1)
