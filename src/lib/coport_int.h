/*
 * libcomsg internals of coports: a process's attachment to a port, the
 * handles onto it, and what each kind (cochannel.c, cocarrier.c,
 * copipe.c) provides to coport.c.
 */
#ifndef COMSG_COPORT_INT_H
#define COMSG_COPORT_INT_H

#include "internal.h"
#include "kernel.h"

/* A COCHANNEL ring this process sends on (its own). */
struct tx_ring {
	struct ring_prod *prod;		/* writable: ours alone */
	uint8_t		*data;
	struct ring_cons *cons;		/* receivers write cons */
	size_t		 maplen;
	uint32_t	 mask;		/* size - 1 */
	uint64_t	 cons_seen;	/* last cons read: room known free */
	bool		 light;		/* publish without a fence: our
					   process is registered for
					   membarrier (cochannel.c) */
};

/* A COCHANNEL ring this process receives from (any sender's). */
struct rx_ring {
	uint64_t	 id;		/* comsgd's */
	const struct ring_prod *prod;	/* read-only mapping */
	const uint8_t	*data;
	struct ring_cons *cons;
	size_t		 maplen;
	uint32_t	 mask;
	uint64_t	 prod_seen;	/* last prod read: records up to it
					   are published */
	bool		 broken;	/* its sender scribbled: skipped */
};

struct pool_range;

/* A COPIPE pair (coport_shm.h), as its receiver keeps it. */
struct rx_pair {
	struct pipe_pair *pg;		/* the page, then the pool */
	uint8_t		*pool;
	int		 fd;		/* to grow the pool */
	uint64_t	 size;		/* pool bytes the memfd has */
	uint32_t	 round;		/* the round it is in */
	uint64_t	 off, cap;	/* the area of that round */
	struct pool_range *views;	/* held by views, [start, end) */
	int		 nviews, views_room;
	bool		 closed;	/* CLOSED: freed once nviews is 0 */
	uint64_t	 used;		/* rxp_clock at its last message */
};

struct pool_range {
	uint64_t	 start, end;
};

/* A COPIPE pair, as its sender keeps it. */
struct tx_pair {
	struct pipe_pair *pg;
	uint8_t		*pool;
	int		 fd;		/* to learn the pool's size */
	uint64_t	 size;		/* pool bytes known to exist */
	uint64_t	 adopted;	/* txp_clock when we took it */
	uint64_t	 used;		/* ... at its last acceptance; 0 never */
};

/* A view handed out by corecv() (COCARRIER, COPIPE). */
struct view {
	void		*addr;		/* what the caller got */
	void		*map;		/* the mapping, for munmap */
	size_t		 maplen;
	struct rx_pair	*pair;		/* COPIPE: the pool it is in */
	bool		 cview;		/* COCARRIER: in our view memory */
};

/*
 * This process's attachment to one port: what comsgd gave it, shared by
 * the handles made from it (coport_clearperm).  Its rights are those of
 * its handles together: when the last handle with a right goes, the right
 * is given up, at comsgd and here (obj_unhold).  Freed with the last one.
 */
struct port_obj {
	pthread_mutex_t	 lock;		/* rings, views, descriptors below */
	int		 refs;		/* handles, and coclose() while it
					   gives up rights (handle lock) */
	int		 nsend, nrecv;	/* handles with each right (ditto) */
	uint64_t	 hold;		/* comsgd's name for our hold */
	coport_type_t	 type;
	int		 rights;	/* still held (handle lock) */
	uint32_t	 ring_size;
	const struct coport_state *state;	/* read-only */
	struct coport_bell *bell;
	const struct comsgd_life *life;	/* read-only: is its comsgd gone? */
	int		 pres_send;	/* presence pipe, write end: held
					   while we may send; or -1 */
	int		 pres_recv;	/* read end: while we may receive */
	/* COCHANNEL */
	pthread_mutex_t	 tx_lock;	/* one sender thread at a time */
	struct tx_ring	*tx;		/* made on the first cosend */
	struct rx_ring	*rx;		/* the port's rings, as last fetched */
	int		 nrx;
	uint32_t	 rx_gen;	/* state->ring_gen when fetched */
	bool		 rx_fetched;
	unsigned	 rx_next;	/* where the next scan starts */
	/* COCARRIER and COPIPE */
	int		 take_sock;	/* the port's shared socket, whose
					   queue we take from (COCARRIER
					   receivers, COPIPE senders), or -1 */
	int		 path_fd;	/* O_PATH to it, to put into its
					   queue (the other side), or -1 */
	int		 put_sock;	/* ours, connected through path_fd
					   on first use; -1 until then */
	struct carrier_acct *acct;	/* COCARRIER: what we sent and that
					   may wait (carrier_bound.c) */
	struct carrier_views *cviews;	/* COCARRIER: where we copy what we
					   take from rings (carrier_views.c) */
	bool		 carrier_kept_up;	/* COCARRIER: a receiver took
					   our last record (tx_lock) */
	uint32_t	 carrier_looks;		/* COCARRIER receivers: looks, */
	int64_t		 carrier_socket_ms;	/* and when at the socket */
	/* COPIPE (pipe_rx_lock: the receiver's pairs, one receiving
	 * thread at a time; tx_lock: the sender's) */
	pthread_mutex_t	 pipe_rx_lock;
	struct rx_pair	**rxp;		/* made by us, offered to senders */
	int		 nrxp;
	unsigned	 rxp_next;	/* where the next scan starts */
	uint64_t	 rxp_clock;	/* messages received */
	int		 rx_waiters;	/* our threads waiting in corecv() */
	struct tx_pair	**txp;		/* taken from receivers */
	int		 ntxp;
	uint64_t	 txp_clock;	/* pairs taken and messages sent */
	uint32_t	 offers_seen;	/* bell->pipe_offers when we last
					   took tickets */
	bool		 wants_pair;	/* counted in bell->pipe_wanted */
	struct view	*views;
	int		 nviews, views_room;
};

#define COPORT_LIVE	0x74726f70u	/* "port" */

struct coport {
	uint32_t	 magic;		/* COPORT_LIVE while in use */
	int		 users;		/* calls in progress; -1: closing */
	int		 rights;	/* never more than obj->rights */
	int		 flags;		/* COPORT_NONBLOCK */
	struct port_obj	*obj;
};

/* Waiting on a bell: arm (count ourselves, take the value to sleep on),
 * re-check, sleep, disarm.  Ring after progress. */
HIDDEN uint32_t	 portbell_arm(uint32_t *sleepers, uint32_t *seq);
HIDDEN void	 portbell_disarm(uint32_t *sleepers);
HIDDEN void	 portbell_ring(uint32_t *sleepers, uint32_t *seq);
/* Sleep on *seq while it holds snap, up to the deadline (-1: none).
 * Returns -1 with ETIMEDOUT once the deadline has passed. */
HIDDEN int	 portbell_sleep(uint32_t *seq, uint32_t snap, int64_t deadline);

/* The other side has closed for good (EPIPE). */
HIDDEN bool	 port_senders_gone(const struct port_obj *o);
HIDDEN bool	 port_receivers_gone(const struct port_obj *o);
/* The comsgd that made the port is gone: its state page says no more. */
HIDDEN bool	 port_comsgd_gone(const struct port_obj *o);

/*
 * Each kind's operations.  *_try: one attempt that never waits; returns
 * the result, or -1 with EAGAIN when it would have to wait.  *_ready:
 * COPOLL_IN/COPOLL_OUT now.
 */
HIDDEN ssize_t	 chan_send_try(struct port_obj *o, const void *buf, size_t len);
HIDDEN ssize_t	 chan_recv_try(struct port_obj *o, void *buf, size_t len);
/*
 * The rings, for COCARRIER too.  chan_put_locked(): o->tx_lock held; make
 * our ring if need be, write a record of len bytes at its producer
 * position (*posp; announce: in `writing` first) and publish it: 0, or -1
 * with errno (EAGAIN: no room; EMSGSIZE: longer than the ring takes;
 * EPROTO: a receiver scribbled on its consumer page; those of making the
 * ring: ENOLINK, ENOMEM, EMFILE...).  chan_take(): take one record from
 * the rings, round-robin, to where d says (d->get, under o->lock: NULL
 * with errno to leave the record; then d->done, claimed or not): its
 * length, or -1 with EAGAIN (none), ENOLINK (comsgd gone before we knew
 * the rings), or d->get's errno.
 */
struct chan_dest {
	void	*(*get)(struct chan_dest *d, struct port_obj *o, size_t len);
	void	 (*done)(struct chan_dest *d, struct port_obj *o, void *to,
		    bool claimed);
	bool	 carrier;	/* announce `taking`, check `writing` */
};
HIDDEN int	 chan_put_locked(struct port_obj *o, const void *buf, size_t len,
		    bool announce, uint64_t *posp);
HIDDEN ssize_t	 chan_take(struct port_obj *o, struct chan_dest *d);
/* Is a sender writing a record into one of the rings (COCARRIER)? */
HIDDEN bool	 chan_underway(struct port_obj *o);
HIDDEN int	 chan_ready(struct port_obj *o, int events);
/* Free bytes in our ring now (its size before the first send). */
HIDDEN uint64_t chan_room(struct port_obj *o);
HIDDEN int	 chan_refresh(struct port_obj *o, bool force);
/* A receiver's last look for rings, once the senders are gone: 0 if it
 * knows every ring of the port, else -1 with errno (ENOLINK: comsgd died
 * before telling us of one). */
HIDDEN int	 chan_settle(struct port_obj *o);
/* Unmap our ring (rights has the send right), the rings we receive from
 * (the receive right). */
HIDDEN void	 chan_release(struct port_obj *o, int rights);
/* A receiver about to sleep: after arming the in bell, before its
 * re-check, make the senders' published positions visible to it (their
 * processes run a full barrier: membarrier).  -1 if it cannot: then it
 * sleeps at most CHAN_UNSYNCED_SLICE_MS at a time. */
HIDDEN int	 chan_sync_senders(void);
#define CHAN_UNSYNCED_SLICE_MS	2

HIDDEN ssize_t	 carrier_send(struct port_obj *o, const void *buf, size_t len,
		    bool nonblock);
HIDDEN ssize_t	 carrier_recv(struct port_obj *o, void **bufp, bool nonblock);
HIDDEN int	 carrier_ready(struct port_obj *o, int events);

/*
 * COCARRIER's bounds on the bytes a sender has queued (carrier_bound.c).
 * carrier_fits(): EMSGSIZE if len could never be queued on o.
 * carrier_reserve(): take room for len bytes in what this process may
 * have waiting in o's queue and in all, or EAGAIN (none now: wait on
 * out_seq, in slices) or ENOMEM; then exactly one of carrier_queued()
 * (the message is in the queue) or carrier_unreserve().
 * carrier_forget(): o goes (its put_sock may be kept until drained);
 * carrier_atfork_child(): in a child, before its attachments go.
 */
struct carrier_acct;
HIDDEN int	 carrier_fits(struct port_obj *o, size_t len);
HIDDEN int	 carrier_reserve(struct port_obj *o, size_t len);
HIDDEN void	 carrier_unreserve(struct port_obj *o, size_t len);
HIDDEN void	 carrier_queued(struct port_obj *o, size_t len);
HIDDEN void	 carrier_forget(struct port_obj *o);
HIDDEN void	 carrier_atfork_child(void);

HIDDEN ssize_t	 pipe_send(struct port_obj *o, const void *buf, size_t len,
		    bool nonblock);
HIDDEN ssize_t	 pipe_recv(struct port_obj *o, void **bufp, size_t len,
		    bool nonblock);
HIDDEN int	 pipe_ready(struct port_obj *o, int events);
/* Leave our pairs (rights: the sides given up; tell: mark them CLOSED
 * for the other side, not in a child after fork, where they are the
 * parent's); pipe_free(): unmap what views still held. */
HIDDEN void	 pipe_release(struct port_obj *o, int rights, bool tell);
HIDDEN void	 pipe_free(struct port_obj *o);
/* The view at addr into a pair's pool was released. */
HIDDEN void	 pipe_view_free(struct port_obj *o, struct rx_pair *p, void *addr);

/* Views (coport.c): remember one; 0 or -1 (ENOMEM, and it is unmapped,
 * or for a view into a pair's pool, the caller gives it back). */
HIDDEN int	 view_add(struct port_obj *o, void *addr, void *map, size_t maplen,
		    struct rx_pair *pair);
/* Make sure the next view_add() has room: 0, or -1 with ENOMEM. */
HIDDEN int	 view_room(struct port_obj *o);
/* The same two, o->lock held. */
HIDDEN int	 views_grow_locked(struct port_obj *o);
HIDDEN int	 view_add_locked(struct port_obj *o, void *addr, void *map,
		    size_t maplen, struct rx_pair *pair);

/*
 * COCARRIER view memory (carrier_views.c), all under o->lock.
 * cview_alloc_locked(): room for a message of len bytes and for its view
 * in o->views: the read-only address the caller will get, and in *rwp
 * where to copy it; NULL with errno (ENOMEM, ENOBUFS: the views held fill
 * it, EMFILE...).  Then cview_commit_locked() (it is a view now) or
 * cview_free_locked() (the copy was not claimed).  cview_free_locked()
 * also when a view is released; cview_destroy() when o goes.
 */
struct carrier_views;
HIDDEN void	*cview_alloc_locked(struct port_obj *o, size_t len, void **rwp);
HIDDEN void	 cview_commit_locked(struct port_obj *o, void *view);
HIDDEN void	 cview_free_locked(struct port_obj *o, void *view);
HIDDEN void	 cview_destroy(struct port_obj *o);
/* Connect a datagram socket of ours through o->path_fd (COCARRIER
 * senders, COPIPE receivers), once.  Returns it, or -1. */
HIDDEN int	 port_own_socket(struct port_obj *o);
/* Is fd a (shmem) memfd sealed at least with seals, of at least size
 * bytes? */
HIDDEN bool	 memfd_check(int fd, int seals, size_t size, size_t *sizep);

#endif
