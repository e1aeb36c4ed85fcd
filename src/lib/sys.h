/*
 * The system calls of the library, made straight to the kernel.  A
 * program may interpose on libc's wrappers (a preloaded connect() or
 * bind() that itself calls comsg, as binds(1) does): the library must not
 * call itself back through them, in the middle of a call and maybe with
 * one of its locks held.  So it calls these instead; each does what the
 * libc function of the same name does, minus cancellation, with -1 and
 * errno on failure.  test/lib_imports.sh keeps libc's wrappers out.
 */
#ifndef COMSG_SYS_H
#define COMSG_SYS_H

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#ifndef HIDDEN
#define HIDDEN __attribute__((visibility("hidden")))
#endif

HIDDEN int	 sys_socket(int domain, int type, int protocol);
HIDDEN int	 sys_connect(int fd, const struct sockaddr *addr, socklen_t len);
HIDDEN int	 sys_bind(int fd, const struct sockaddr *addr, socklen_t len);
HIDDEN int	 sys_listen(int fd, int backlog);
HIDDEN int	 sys_accept4(int fd, struct sockaddr *addr, socklen_t *lenp,
		    int flags);
HIDDEN ssize_t	 sys_sendmsg(int fd, const struct msghdr *mh, int flags);
HIDDEN ssize_t	 sys_recvmsg(int fd, struct msghdr *mh, int flags);
HIDDEN ssize_t	 sys_send(int fd, const void *buf, size_t len, int flags);
HIDDEN ssize_t	 sys_recv(int fd, void *buf, size_t len, int flags);
HIDDEN int	 sys_getsockopt(int fd, int level, int name, void *val,
		    socklen_t *lenp);
HIDDEN int	 sys_setsockopt(int fd, int level, int name, const void *val,
		    socklen_t len);
HIDDEN int	 sys_ioctl(int fd, unsigned long req, void *arg);
HIDDEN int	 sys_poll(struct pollfd *pfd, nfds_t n, int timeout_ms);
HIDDEN int	 sys_close(int fd);
HIDDEN ssize_t	 sys_read(int fd, void *buf, size_t len);
HIDDEN ssize_t	 sys_write(int fd, const void *buf, size_t len);
HIDDEN int	 sys_fcntl(int fd, int cmd, long arg);
HIDDEN int	 sys_fstat(int fd, struct stat *st);
HIDDEN int	 sys_fstatfs(int fd, struct statfs *st);
HIDDEN int	 sys_stat(const char *path, struct stat *st);
HIDDEN int	 sys_lstat(const char *path, struct stat *st);
HIDDEN int	 sys_open(const char *path, int flags, mode_t mode);
HIDDEN int	 sys_unlink(const char *path);
HIDDEN int	 sys_mkdir(const char *path, mode_t mode);
HIDDEN int	 sys_chmod(const char *path, mode_t mode);
HIDDEN int	 sys_flock(int fd, int op);
HIDDEN int	 sys_pipe2(int fds[2], int flags);
HIDDEN int	 sys_eventfd(unsigned initval, int flags);
HIDDEN int	 sys_memfd_create(const char *name, unsigned flags);
HIDDEN int	 sys_ftruncate(int fd, off_t len);
HIDDEN void	*sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);
HIDDEN int	 sys_munmap(void *addr, size_t len);
HIDDEN int	 sys_kill(pid_t pid, int sig);
HIDDEN int	 sys_pidfd_open(pid_t pid, unsigned flags);
HIDDEN pid_t	 sys_waitpid(pid_t pid, int *status, int options);
HIDDEN int	 sys_nanosleep(const struct timespec *ts);
struct utsname;
HIDDEN int	 sys_uname(struct utsname *u);

#endif
