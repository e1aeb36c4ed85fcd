/*
 * comsg: synchronous calls between co-processes (cocall/coaccept).
 *
 * A *target* is a capability naming one service thread.  A caller blocks
 * in cocall() until the service thread, looping in coaccept(), replies.
 * Requests and replies travel through shared memory private to the pair;
 * while both sides run, no system call is made.  The _slow variants carry
 * the same protocol through the kernel (a private socket).
 *
 * Every function returns -1 and sets errno on failure, like the system
 * calls of the same names it mirrors (comsg(7), Conventions, lists the
 * few functions of the API that do otherwise).
 */
#ifndef COMSG_COCALL_H
#define COMSG_COCALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest request or reply, in bytes; larger gives EMSGSIZE. */
#define COCALL_MAXLEN	65536
/* Most capabilities one request or reply can carry. */
#define COCALL_MAXCAPS	8
/* Longest name for coregister()/colookup()/copublish(), not counting the
 * NUL (a port's, COPORT_NAMEMAX, is one shorter: see coport.h). */
#define COCALL_NAMEMAX	64

#define COSETUP_COCALL   0
#define COSETUP_COACCEPT 1

/*
 * Prepare the calling thread to call (COSETUP_COCALL) or to accept
 * (COSETUP_COACCEPT).  Optional: the first cocall or coaccept of a thread
 * does it.  Errors: EINVAL (bad what), ENOMEM, EMFILE, ENFILE.
 */
int	cosetup(int what);

/*
 * Create a target served by the calling thread and store a capability to
 * it in *targetp.  With a name, the target is also published in the
 * domain under that name until the thread exits; name NULL gives an
 * anonymous target reachable only through the capability.  The capability
 * belongs to the process; it stays valid after the thread exits, and calls
 * through it then fail with ENOLINK.
 * Errors: EINVAL (bad name; COMSG_DIR not absolute), ENAMETOOLONG (name
 * longer than COCALL_NAMEMAX; the domain directory's path too long),
 * EEXIST (name taken by a live owner), ENFILE (capability table full),
 * EMFILE, ENOMEM, EAGAIN (no thread for answering names), EACCES (domain
 * directory not ours), ENOENT (COMSG_DIR's parent missing).
 */
int	coregister(const char *name, void **targetp);

/*
 * coregister() with a label: every call accepted through this target
 * reports the label (coacceptv()), so a service can tell which of its
 * targets, that is which object or right, a call came through.
 * coregister() gives label 0.
 */
int	coregister_label(const char *name, uint64_t label, void **targetp);

/*
 * Look up a target published under name in the domain; on success *targetp
 * is a new capability owned by the caller (release it with capfree()).
 * Errors: EINVAL (bad name), ENAMETOOLONG (longer than COCALL_NAMEMAX),
 * ESRCH (no live target of that name), ENFILE, EMFILE, ENOMEM, and those
 * of coregister() about the domain directory.
 */
int	colookup(const char *name, void **targetp);

/*
 * Publish target (any target capability this process holds, served here
 * or not) under name in the domain, for colookup(), until the capability
 * is released or the process ends.  Errors: EINVAL (bad name, not a live
 * target), ENAMETOOLONG (name longer than COCALL_NAMEMAX), EBUSY (the
 * capability already has a name), EEXIST, and those of coregister()
 * about the domain directory.
 */
int	copublish(const char *name, void *target);

/*
 * Call target: copy outlen bytes of outbuf to the service, wait for its
 * reply, copy at most inlen bytes of it into inbuf and return the reply's
 * full length (larger than inlen means it was truncated).  No reply is
 * longer than COCALL_MAXLEN: inlen may be anything up to SIZE_MAX.
 * The first call of a thread through a target sets up its channel.
 * Errors: EINVAL (target is not a live target capability, or a buffer is
 * NULL with a non-zero length), EMSGSIZE (outlen > COCALL_MAXLEN, up to
 * SIZE_MAX; nothing is sent),
 * ENOLINK (the service is gone, or died during the call), EDEADLK (the
 * target is served by the calling thread), EPROTO (the service broke the
 * protocol), ENOMEM, EMFILE, ENFILE (here or, for the call's
 * capabilities, at the service).
 */
ssize_t	cocall(void *target, const void *outbuf, size_t outlen,
	    void *inbuf, size_t inlen);

/*
 * Serve the targets registered by the calling thread: first deliver
 * outlen bytes of outbuf as the reply to the previous call accepted by
 * this thread (nothing if there is none, or its caller died), then wait
 * for the next call, copy at most inlen bytes of it into inbuf and return
 * its full length.  *cookiep (if cookiep is not NULL) identifies the
 * calling thread: the same for every call of that thread, different for
 * any two live threads.  A request that cannot be taken (malformed, or
 * carrying capabilities there is no room for) is answered with an error
 * for its caller and not returned.  inlen may be anything up to SIZE_MAX.
 * Errors: EINVAL (bad buffer), EMSGSIZE (outlen > COCALL_MAXLEN, up to
 * SIZE_MAX; nothing is delivered, and the previous call still waits for
 * its reply), ESRCH (the thread serves no target).
 */
ssize_t	coaccept(void **cookiep, const void *outbuf, size_t outlen,
	    void *inbuf, size_t inlen);

/* The same as cocall() and coaccept(), through the kernel: no spinning,
 * and what the slow side sends (cocall_slow's request, coaccept_slow's
 * reply) goes through the private socket.  Either side interoperates with
 * the other's fast or slow variant. */
ssize_t	cocall_slow(void *target, const void *outbuf, size_t outlen,
	    void *inbuf, size_t inlen);
ssize_t	coaccept_slow(void **cookiep, const void *outbuf, size_t outlen,
	    void *inbuf, size_t inlen);

/*
 * A message with capabilities, for cocallv() and coacceptv(), like L4's
 * typed items: bytes plus a small array of capabilities.  Outgoing
 * capabilities stay owned by the sender (the receiver gets new ones to the
 * same objects).  On return nincaps is the number of positions of incaps
 * filled, each a new capability owned by the receiver, or NULL where one
 * did not check out; capabilities beyond the room given are released.
 */
struct comsg {
	const void	*out;		/* bytes to send */
	size_t		 outlen;
	void *const	*outcaps;	/* capabilities to send */
	int		 noutcaps;	/* at most COCALL_MAXCAPS */
	void		*in;		/* room for the bytes received */
	size_t		 inlen;
	void		**incaps;	/* room for capabilities received */
	int		 nincaps;	/* in: room in incaps; out: received */
};

#define COCALL_SLOW	0x1	/* take the kernel path */

/*
 * cocall() with capabilities, flags (COCALL_SLOW) and a timeout in
 * milliseconds (-1: none; 0: fail at once unless the reply is there).  The
 * timeout covers setting up the channel on a thread's first call.
 * Extra errors: ETIMEDOUT (no reply in time: the call may still be
 * delivered, and its reply is then discarded), EINVAL (more than
 * COCALL_MAXCAPS capabilities, or one that is not live).
 */
ssize_t	cocallv(void *target, struct comsg *msg, int flags, int timeout_ms);

/*
 * coaccept() with capabilities, flags, a timeout and the label of the
 * target the call came through (*labelp, if labelp is not NULL).  The
 * reply (msg->out, msg->outcaps) goes to the previous caller first.
 * Extra error: ETIMEDOUT (no call in time; the reply was delivered).
 */
ssize_t	coacceptv(void **cookiep, uint64_t *labelp, struct comsg *msg,
	    int flags, int timeout_ms);

/*
 * The pid of the process of the thread identified by cookie, as the
 * kernel vouches for it (not as the caller claims): the process that
 * connected.  cogetpid() asks the kernel each time (a system call);
 * cocachedpid() answers from what it said when that thread connected.
 * Errors: EINVAL (cookie not a live caller of this process's targets).
 */
int	cogetpid(void *cookie, pid_t *pidp);
int	cocachedpid(pid_t *pidp, void *cookie);

/*
 * Wrap a descriptor as a capability.  capfromfd() duplicates fd (the
 * caller keeps fd); captofd() gives a new descriptor for the wrapped one,
 * owned by the caller.  Errors: EBADF (fd not open), EINVAL (cap is not a
 * live descriptor capability), ENFILE, EMFILE.
 */
int	capfromfd(void **capp, int fd);
int	captofd(void *cap, int *fdp);

/*
 * Send one capability over a UNIX socket, and receive one: the SCM_CAPS
 * of comsg.  caprecv() gives a new capability owned by the caller.
 * Errors: EINVAL (not a live capability; a malformed message), EBADF,
 * EPIPE, ECONNRESET, and those of sendmsg(2)/recvmsg(2).
 */
int	capsend(int sockfd, void *cap);
int	caprecv(int sockfd, void **capp);

/*
 * Release a capability of this process: its descriptors are closed and
 * the pointer becomes invalid (EINVAL from then on; like a descriptor
 * number, the address may later name a new capability).  Calls through it
 * in progress in other threads finish.  Releasing a target the calling
 * thread serves also stops serving it: its name is withdrawn and its
 * callers get ENOLINK.  Errors: EINVAL, EBUSY (a target another thread
 * serves: only that thread can stop serving it).
 */
int	capfree(void *cap);

/*
 * The pid of the process serving target, as the kernel vouches for it
 * (the process that registered it).  Errors: EINVAL (not a live target),
 * ENOLINK (nobody serves it any more).
 */
int	cotargetpid(void *target, pid_t *pidp);

/*
 * The directory of the calling process's domain ($COMSG_DIR, else
 * $XDG_RUNTIME_DIR/comsg, else /run/user/UID/comsg if that directory is
 * the user's, else /tmp/comsg-UID unless another user made it first, then
 * $HOME/.comsg/HOSTNAME: see codomain(3)), written to buf (at most size
 * bytes, NUL included); it need not exist yet.  Errors: EINVAL (COMSG_DIR
 * not absolute), ENAMETOOLONG.
 */
int	codomain(char *buf, size_t size);

/*
 * The same for process pid, as its environment says (the one it started
 * with).  Errors: ESRCH (no such process), EPERM (its environment may not
 * be read), EINVAL, ENAMETOOLONG, ENOMEM.
 */
int	codomainof(pid_t pid, char *buf, size_t size);

/*
 * Describe a capability in words for people (tools, logs): its kind, the
 * descriptors it rests on, and for a target the pid serving it.  At most
 * size bytes, NUL included, are written to buf.  Errors: EINVAL.
 */
int	capdescribe(void *cap, char *buf, size_t size);

/*
 * What a capability is, for programs (capdescribe() is for people):
 * CAPKIND_TARGET, a target (cocall(), copublish()), or CAPKIND_FD, a
 * descriptor wrapped as a capability (capfromfd(); coport_tocap() makes
 * these too).  Only this process's table is read: no connection is made.
 * The capability stays the caller's.  Errors: EINVAL (not a live
 * capability).
 */
#define CAPKIND_TARGET	1
#define CAPKIND_FD	2
int	capkind(void *cap);

#ifdef __cplusplus
}
#endif
#endif
