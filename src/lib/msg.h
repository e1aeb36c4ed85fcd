/*
 * Messages of cocall on a channel's socket: the slow path, and any request
 * or reply that carries capabilities.
 */
#ifndef COMSG_MSG_H
#define COMSG_MSG_H

#include "internal.h"

#define MSG_PEER_ERROR	(-2)

/*
 * The arguments of cocallv() and coacceptv(): m well formed (EINVAL),
 * flags only COCALL_SLOW (EINVAL), m->outlen at most COCALL_MAXLEN
 * (EMSGSIZE), and each capability to send one of ours (EBADF), resolved
 * into outcaps.  0, or -1 with errno.
 */
HIDDEN int	comsg_check(const struct comsg *m, int flags,
		    struct cap **outcaps);

/* Send hdr with raw descriptors (which stay the caller's), waiting for
 * room until deadline (-1: none). */
HIDDEN int	msg_send_fds(int sock, const void *hdr, size_t len,
		    const int *fds, int nfds, int64_t deadline);

/* Send request or reply seq: len bytes of buf and ncaps capabilities, or
 * (a reply) the errno of a call that could not be taken.  deadline 0: do
 * not wait for room (EAGAIN). */
HIDDEN int	msg_send_call(int sock, uint32_t seq, const void *buf,
		    size_t len, struct cap *const *caps, int ncaps, int error,
		    int64_t deadline);

/*
 * Receive the message of seq, skipping stale ones: at most room bytes
 * (and never more than COCALL_MAXLEN) into buf, capabilities into caps (room *ncapsp, count stored back).  Returns
 * the message's full length.  deadline 0: take only what is already queued
 * (EAGAIN otherwise).  While waiting, ring bell again if *sleeping says the
 * service sleeps.  Errors: ENOLINK (peer gone), ETIMEDOUT, EPROTO, EMFILE
 * (descriptors lost for want of room); MSG_PEER_ERROR with errno set to
 * the error a reply reports (raw: the caller decides what to believe).
 */
HIDDEN ssize_t	msg_recv_call(int sock, uint32_t seq, void *buf, size_t room,
		    void **caps, int *ncapsp, int64_t deadline,
		    struct bell_shm *bell, const uint32_t *sleeping);

#endif
