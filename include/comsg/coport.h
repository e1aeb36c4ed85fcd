/*
 * comsg: named IPC ports (coports) owned by the comsgd microkernel.
 *
 * coopen() asks comsgd (started on demand) for a port by name; from then
 * on messages move between the port's holders through shared memory and
 * descriptors they hold, without comsgd.  Three kinds:
 *   COCHANNEL  a short circular buffer per sender; each cosend() is one
 *              message copied in, each corecv() copies one out.  No system
 *              call while neither side has to sleep.
 *   COCARRIER  single copy: cosend() copies the message once into a buffer
 *              the kernel keeps immutable (a sealed memfd); corecv() gives
 *              a read-only view of it, released with coport_msg_free().
 *   COPIPE     rendezvous, single copy: corecv() publishes a buffer and
 *              waits; one sender copies its message straight into it.
 * All kinds are anycast: with several receivers each message reaches
 * exactly one; nothing is lost or duplicated; one sender's messages arrive
 * in the order sent.
 *
 * Every function returns -1 (or NULL, or 0 for coport_gettype(), as in
 * CheriBSD's comsg) and sets errno on failure, except make_pollcoport(),
 * which cannot fail; comutex.h returns error numbers instead (comsg(7),
 * Conventions).  A handle is owned by the process that opened it or
 * received it; it is not inherited across fork().
 */
#ifndef COMSG_COPORT_H
#define COMSG_COPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { COPIPE = 1, COCARRIER = 2, COCHANNEL = 3 } coport_type_t;
typedef struct coport *coport_t;

/* Longest port or comutex name, not counting the NUL: letters, digits,
 * '.', '_' and '-' (not "." or "..").  One less than COCALL_NAMEMAX: a
 * port's name travels to comsgd, and back in struct coport_info, in 64
 * bytes with its NUL.  Longer gives ENAMETOOLONG. */
#define COPORT_NAMEMAX		63

/* Rights of a handle. */
#define COPORT_PERM_SEND	0x1
#define COPORT_PERM_RECV	0x2
#define COPORT_PERM_ALL		(COPORT_PERM_SEND | COPORT_PERM_RECV)

/* Handle flags (coport_setflags). */
#define COPORT_NONBLOCK		0x1	/* cosend/corecv: EAGAIN, never wait */

/* COCHANNEL buffer per sender: default, smallest and largest (bytes; the
 * size is rounded up to a power of two).  A message takes its length
 * rounded up to 8, plus 8. */
#define COCHANNEL_SIZE		4096
#define COCHANNEL_MINSIZE	256
#define COCHANNEL_MAXSIZE	(16u << 20)
/* COCARRIER staging ring per sender, default (bytes; smallest and largest
 * as COCHANNEL's): a message it takes (its length rounded up to 8, plus
 * 8) is copied out of it by the receiver that takes it, a longer one goes
 * in a sealed memfd. */
#define COCARRIER_RING		(2u << 20)
/* Largest COCARRIER or COPIPE message. */
#define COCARRIER_MAXLEN	(256u << 20)
#define COPIPE_MAXLEN		(256u << 20)
/* COCARRIER: bytes of messages one sending process may have waiting in a
 * port's queue, default and largest; and in all the queues it sends on
 * together, by default (COMSG_CARRIER_BYTES sets it). */
#define COCARRIER_QUEUE		(64ull << 20)
#define COCARRIER_QUEUE_MAX	(16ull << 30)
#define COCARRIER_PROCESS	(256ull << 20)

/* Settings a port is created with (coopenv); zero fields take defaults. */
struct coport_attr {
	size_t	ring_size;	/* COCHANNEL: bytes of each sender's buffer;
				   COCARRIER: of each sender's staging ring */
	size_t	queue_bytes;	/* COCARRIER: bytes one sending process may
				   have waiting in its queue */
};

/*
 * Open the port called name, of the given type, creating it if no process
 * holds one of that name; store a handle with both rights in *portp.
 * Starts comsgd if none serves the domain.
 * Errors: EINVAL (bad name or type; the port exists with another type),
 * ENAMETOOLONG (name longer than COPORT_NAMEMAX), ENOPKG (no comsgd runs
 * and none could be found or started: set COMSGD to its path, or add its
 * directory to PATH; cops(1) says where it looked), ENOLINK (comsgd died
 * during the call), ENOMEM, EMFILE, ENFILE, and those of colookup(2)
 * about the domain.
 */
int	coopen(const char *name, coport_type_t type, coport_t *portp);

/* coopen() with creation settings, which apply only if the port is made
 * by this call (attr may be NULL).  Extra error: EINVAL (ring_size or
 * queue_bytes out of range). */
int	coopenv(const char *name, coport_type_t type,
	    const struct coport_attr *attr, coport_t *portp);

/*
 * Release a handle: it is invalid from then on (EINVAL).  When a process
 * has released every handle to a port (or died), comsgd drops its hold;
 * a port nobody holds is gone, with its name.  Messages a sender queued
 * stay receivable while the port lives.  Errors: EINVAL (not a live
 * handle), EBUSY (another thread of this process is sending or receiving
 * on it).
 */
int	coclose(coport_t port);

/*
 * Send len bytes of buf as one message, waiting for room (COCHANNEL), for
 * the queue (COCARRIER: room for len more bytes in the port's queue and
 * in what this process has waiting in all its COCARRIER queues) or for a
 * receiver (COPIPE) unless the handle is non-blocking.  Returns len once
 * the message is queued (COPIPE: once it is in the receiver's buffer);
 * the caller keeps buf.
 * Errors: EINVAL (bad handle; buf NULL with len > 0), EPERM (the handle
 * lacks COPORT_PERM_SEND), EMSGSIZE (larger than the port takes, up to
 * SIZE_MAX, and nothing is sent: a COCHANNEL message is at most its
 * buffer's size less 8 bytes, a COCARRIER message at most its port's
 * queue and the process's bound), EPIPE (every receiver has
 * closed), EAGAIN (non-blocking, no room now), EPROTO (a receiver broke
 * the port's shared state), ENOLINK (comsgd is needed, and gone),
 * ENOMEM, EMFILE.
 */
ssize_t	cosend(coport_t port, const void *buf, size_t len);

/*
 * Receive the next message.  COCHANNEL copies it into *bufp (room for len
 * bytes); a message longer than len gives EMSGSIZE and stays queued.
 * COCARRIER replaces *bufp with a read-only view of the message (len is
 * not used).  COPIPE publishes a buffer of len bytes and waits for a
 * sender to fill it: with *bufp NULL, *bufp becomes that buffer (a view,
 * writable by the receiver only), else the message is copied to *bufp.
 * Views stay valid until coport_msg_free(); they belong to the receiver
 * (a COPIPE view is the area the sender wrote: a sender that does not
 * follow the protocol could still change its own message there).
 * Returns the message's length.
 * Errors: EINVAL (bad handle; bufp NULL), EPERM (no COPORT_PERM_RECV),
 * EMSGSIZE (does not fit: COCHANNEL and COPIPE; COPIPE len larger than
 * COPIPE_MAXLEN, up to SIZE_MAX), EPIPE (nothing queued
 * and every sender has closed), EAGAIN (non-blocking, nothing now),
 * ENOLINK (comsgd is needed, and gone), ENOMEM, EMFILE.
 */
ssize_t	corecv(coport_t port, void **bufp, size_t len);

/* Release a view given by corecv() (COCARRIER, COPIPE).  Errors: EINVAL
 * (not a live view of this handle's port). */
int	coport_msg_free(coport_t port, void *msg);

/* The type of port; 0 with EINVAL for a bad handle. */
coport_type_t coport_gettype(coport_t port);

/*
 * A new handle to the same port without the rights in perms
 * (COPORT_PERM_SEND, COPORT_PERM_RECV); port keeps its own.  Passed on
 * with coport_tocap(), it carries only what it has left.  Returns NULL
 * with EINVAL (bad handle or perms) or ENOMEM/ENFILE.  Release it with
 * coclose().
 */
coport_t coport_clearperm(coport_t port, int perms);

/* The rights of a handle (COPORT_PERM_*); -1 with EINVAL. */
int	coport_getperm(coport_t port);

/* Set or read the handle's flags (COPORT_NONBLOCK).  Errors: EINVAL. */
int	coport_setflags(coport_t port, int flags);
int	coport_getflags(coport_t port);

/*
 * A capability to the port with exactly the handle's rights, to pass to
 * another process (in its capability vector, or with cocallv()).  The
 * capability is a new one owned by the caller (release it with capfree()).
 * Errors: EINVAL, ENOLINK (comsgd is gone), ENOMEM, ENFILE.
 */
int	coport_tocap(coport_t port, void **capp);

/*
 * Open the port a capability made by coport_tocap() names, with the
 * rights it carries; *portp is a new handle.  The capability stays the
 * caller's.  Errors: EINVAL (not such a capability, or its port is gone),
 * ENOLINK, ENOMEM, EMFILE.
 */
int	coport_fromcap(void *cap, coport_t *portp);

#define COPOLL_CLOSED	1	/* the other side has closed for good */
#define COPOLL_IN	2	/* corecv would not wait */
#define COPOLL_OUT	4	/* cosend would not wait */
#define COPOLL_RERR	8	/* receiving is not possible on this handle */
#define COPOLL_WERR	16	/* sending is not possible on this handle */

typedef struct {
	coport_t	coport;
	int		events;		/* COPOLL_IN, COPOLL_OUT */
	int		revents;	/* set by copoll() */
} pollcoport_t;

/* An entry for copoll(). */
pollcoport_t make_pollcoport(coport_t port, int events);

/*
 * Wait until one of the ports is ready for what its entry asks, or until
 * timeout_ms passes (-1: forever; 0: just look).  Returns the number of
 * entries with revents non-zero, 0 on timeout.  An entry asking for
 * COPOLL_IN (COPOLL_OUT) also gets COPOLL_RERR (COPOLL_WERR) if the handle
 * lacks the right, and COPOLL_CLOSED if the other side has closed for good
 * (and, for COPOLL_IN, nothing is queued).  COPOLL_IN
 * on a COPIPE means a sender is waiting for a receiver; COPOLL_OUT that a
 * receiver is.  Errors: EINVAL (bad handle, nports < 0 or > 64).
 */
int	copoll(pollcoport_t *ports, int nports, int timeout_ms);

/* A port or comutex of the domain, as comsgd sees it (coport_list). */
struct coport_info {
	char		name[COPORT_NAMEMAX + 1];
	int		type;		/* coport_type_t; 0 for a comutex */
	unsigned	holders;	/* processes holding it */
	unsigned	senders;	/* ... with the send right */
	unsigned	receivers;	/* ... with the receive right */
	uint64_t	queued;		/* messages waiting to be received */
};

/*
 * Describe the domain's ports and comutexes into info (room for max);
 * returns how many there are (more than max: only max were written).
 * Does not start comsgd.  Errors: EINVAL, ENOLINK (no comsgd runs),
 * ENOMEM.
 */
int	coport_list(struct coport_info *info, int max);

#ifdef __cplusplus
}
#endif
#endif
