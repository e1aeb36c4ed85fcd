/*
 * The cocall fast path (src/lib/cocall.c, src/lib/coaccept.c) in Promela:
 * callers, each with its own channel (struct chan_shm), and one accepting
 * thread serving them all through one doorbell (struct bell_shm).  Included
 * by cocall.pml (honest callers) and ring.pml (one caller hostile).
 *
 * Memory model.  Promela statements are sequentially consistent: each one
 * is atomic and all processes see one order of them.  The code is not (its
 * loads and stores are relaxed, acquire or release), and the model takes
 * for granted exactly what the code's orderings buy:
 *
 *  - release/acquire publication: bytes, length and flags are stored
 *    before the sequence number (STORE_REL) and read after it (LOAD_ACQ);
 *    the model stores them in the step that stores the number and reads
 *    them in the step that reads it (the reader never looks at them
 *    before it sees the number change, see cocallv and publish below);
 *  - the store-buffering (Dekker) pattern: each side stores its own word,
 *    runs FENCE() (a seq_cst fence), then loads the other side's word, so
 *    at least one of the two loads sees the other side's store.  The model
 *    keeps each fence-separated store and load as separate statements in
 *    the order the code runs them; under sequential consistency that is
 *    exactly what the fences buy.  BROKEN_NOFENCE shows what is lost
 *    without one: the load may then pass the store.
 *
 * Loads that no fence orders may return older values than sequential
 * consistency allows, and the model does not explore that; each such
 * case only costs time: a stale caller_sleeping or service_sleeping of 1
 * a needless futex_wake() or ring; a stale ring read before sleeping a
 * futex_wait() that returns EAGAIN at once; a stale req_seq in the first
 * scan the rescan after the fence; a stale service_sleeping of 0 in the
 * re-ring after a timeout that re-ring, until the next slice reads it
 * again.
 *
 * Apart from those merges (and DEAD_STORE, below) every shared access is a
 * statement of its own
 * (an atomic block holds one shared access and private bookkeeping), so
 * the other processes can run between any two.  Names are the C code's.
 *
 * Bounds (see docs/protocol.md, "The model"):
 *   NCHAN    channels, one per calling thread, all served by one thread;
 *   CALLS    calls each honest caller makes;
 *   SEQMOD   sequence numbers modulo SEQMOD (3), 0 skipped as in cocallv():
 *            an honest caller has one call outstanding, so only the
 *            previous and the current number are ever compared, and two
 *            non-zero values are enough; channels start at SEQMOD - 1, so
 *            the first call wraps round;
 *   RINGMOD  the doorbell's ring modulo 2 * NCHAN + 1: between the
 *            service's read of ring and its futex_wait() an honest caller
 *            rings at most twice unless its futex_wait() returns early
 *            (late for a call already answered, then for its next call,
 *            whose answer needs the service), so without timeouts ring
 *            cannot come back to the value read.  (Modulo NCHAN + 1 it
 *            can, and the check reports that lost wakeup: run.sh's
 *            broken-ringmod.)
 */

#ifndef NCHAN
#define NCHAN		2
#endif
#ifndef NHONEST
#define NHONEST		NCHAN		/* channels 0..NHONEST-1 are honest */
#endif
#ifndef CALLS
#define CALLS		3
#endif
/* futex_wait() may return early: its timeout (SLEEP_SLICE_MS for the
 * caller, REAP_MS for the service) or a signal. */
#ifndef TIMEOUTS
#define TIMEOUTS	1
#endif
#ifndef SIGNALS
#define SIGNALS		1
#endif
#ifndef CALLER_TIMEOUT
#define CALLER_TIMEOUT	TIMEOUTS
#endif
#ifndef SERVICE_TIMEOUT
#define SERVICE_TIMEOUT	TIMEOUTS
#endif

#define SEQMOD		3
#ifndef RINGMOD
#define RINGMOD		(2 * NCHAN + 1)
#endif
#define CONNMOD		2
#define NONE		255

#define COCALL_MAXLEN	1		/* req_len 2 stands for any longer one */
#define CHAN_VIA_SOCKET	1
#define CHAN_ERROR	2
#define EPROTO_		71

/* The bytes of call n of caller i, and what the service replies to them
 * (an echo): distinct for every call of every caller. */
#define PAYLOAD(i, n)	((i) * CALLS + (n) + 1)
#define HOSTILE_PAYLOAD	200

mtype = { WOKEN, EAGAIN, ETIMEDOUT, EINTR };

/* struct chan_shm (shm.h); req[] and rep[] are one byte each. */
typedef chan_shm {
	/* caller's line */
	byte	req_seq;
	byte	req_len;
	byte	req_flags;
	bit	caller_sleeping;
	/* service's line */
	byte	rep_seq;
	byte	rep_len;
	byte	rep_flags;
	bit	service_sleeping;
	/* bytes */
	byte	req;
	byte	rep;
};

chan_shm shm[NCHAN];

/* struct bell_shm (shm.h) */
byte	ring;
byte	connects;

/* The kernel's futex wait queues: 1 while the thread is queued on the
 * word (the service on ring, caller i on shm[i].rep_seq). */
bit	queued_ring;
bit	queued_rep_seq[NCHAN];

/* Ghosts, for the checks only. */
byte	finished;		/* honest callers done with all their calls */
byte	ntaken[NCHAN];		/* calls of channel i taken by the service */

/*
 * futex_wait(word, val, timeout) (sys.c), in two halves so that the
 * service's sleep can carry an end label.  futex_queue(): in one step, as
 * the kernel does under its hash-bucket lock, queue the thread if word
 * still equals val, else return EAGAIN.
 */
inline futex_queue(word, val, queued, ret)
{
	atomic {
		if
		:: word == val -> queued = 1
		:: else -> ret = EAGAIN
		fi
	}
}

/* futex_sleep(): block until futex_wake() dequeues us; with timeouts,
 * return at any moment with ETIMEDOUT, or with EINTR (a signal handler
 * ran; SIGNALS 0 leaves that out). */
inline futex_sleep(queued, ret, may_time_out)
{
	if
	:: atomic { queued == 0 -> ret = WOKEN }
	:: atomic { may_time_out && queued == 1 -> queued = 0; ret = ETIMEDOUT }
	:: atomic {
		may_time_out && SIGNALS && queued == 1 -> queued = 0; ret = EINTR
	   }
	fi
}

/* Channels set up (chan_connect(), connect_one()) and used once: call
 * number SEQMOD - 1 answered, so that the next call number wraps round. */
inline chan_init()
{
	for (k : 0 .. NCHAN - 1) {
		shm[k].req_seq = SEQMOD - 1;
		shm[k].req_len = 1;
		shm[k].rep_seq = SEQMOD - 1;
		shm[k].rep_len = 1
	}
}

/* futex_wake(word) with INT_MAX: dequeue every waiter. */
#define futex_wake(queued)	queued = 0

/* bell_ring(bell, false) (cocall.c) */
inline bell_ring()
{
	ring = (ring + 1) % RINGMOD;	/* __atomic_add_fetch, seq_cst */
	futex_wake(queued_ring)
}

/*
 * A caller: cocallv() on the fast path, CALLS times, on its channel i,
 * with no deadline (timeout_ms -1); the service never hangs up
 * (sock_hungup() is false).  The channel starts as one whose last call
 * was number SEQMOD - 1, answered, so that the first call wraps round.
 */
proctype caller(byte i)
{
	byte	seq = SEQMOD - 1;	/* caller_chan.seq */
	byte	n;			/* ghost: calls made */
	byte	v;
	mtype	ret;
#ifdef BROKEN_NOFENCE
	bit	sl;
#endif

	do
	:: atomic {
		n < CALLS ->
cocallv:
		seq = (seq + 1) % SEQMOD;
		if
		:: seq == 0 -> seq = 1		/* 0 is "nothing sent yet" */
		:: else
		fi;
		/* memcpy(s->req), req_len, req_flags, then req_seq
		 * (STORE_REL).  One step: the service reads them only
		 * after it sees req_seq change, and it does not look
		 * before this call's number is published. */
		shm[i].req = PAYLOAD(i, n);
		shm[i].req_len = 1;
		shm[i].req_flags = 0;
#ifndef BROKEN_NOFENCE
		shm[i].req_seq = seq
	   }
		/* FENCE(): Dekker with coacceptv() going to sleep */
		if
		:: shm[i].service_sleeping -> bell_ring()	/* LOAD_RLX */
		:: else
		fi;
#else
	   }
		/* Without the fence the load may pass the buffered store. */
		if
		:: shm[i].req_seq = seq;
		   sl = shm[i].service_sleeping
		:: sl = shm[i].service_sleeping;
		   shm[i].req_seq = seq
		fi;
		if
		:: sl -> sl = 0; bell_ring()
		:: else
		fi;
#endif
wait_reply_shm:
		/* Spin: spin_start() gave a budget or none; a budget used up
		 * is the same as none, only later. */
		if
		:: atomic { shm[i].rep_seq == seq -> goto got }	/* LOAD_ACQ */
		:: true
		fi;
		do
		:: shm[i].caller_sleeping = 1;			/* STORE_RLX */
		   /* FENCE(): Dekker with publish() */
		   atomic {
			v = shm[i].rep_seq;			/* LOAD_ACQ */
			if
			:: v == seq -> v = 0; break
			:: else
			fi
		   }
		   futex_queue(shm[i].rep_seq, v, queued_rep_seq[i], ret);
		   if
		   :: atomic { ret == EAGAIN -> ret = 0; v = 0 }
		   :: else -> futex_sleep(queued_rep_seq[i], ret, CALLER_TIMEOUT)
		   fi;
		   v = 0;
#ifndef NO_RERING
		   /* Back without the reply (a timeout, a signal, a wake for
		    * nothing): the service may have slept through our ring
		    * (someone can rewind the doorbell): ring again. */
		   ret = 0;
		   if
		   :: shm[i].rep_seq != seq ->			/* LOAD_ACQ */
			if
			:: shm[i].service_sleeping -> bell_ring()	/* LOAD_RLX */
			:: else
			fi
		   :: else
		   fi
#else
		   ret = 0
#endif
		od;
		shm[i].caller_sleeping = 0;			/* STORE_RLX */
got:
		/* rep_flags, rep_len, rep[]: read after rep_seq (acquire).
		 * The reply must be this call's, and whole. */
		atomic {
			assert(shm[i].rep_seq == seq);
			assert(shm[i].rep_flags == 0);
			assert(shm[i].rep_len == 1);
			assert(shm[i].rep == PAYLOAD(i, n));
			n++
		}
	:: atomic { else -> break }
	od;
	finished++
}

/*
 * find_request(): the first channel from rr whose req_seq != served; one
 * step per channel looked at.  k and j are 0 outside.
 */
inline find_request(found)
{
	do
	:: atomic {
		j = (rr + k) % NCHAN;
		if
		:: shm[j].req_seq != served[j] ->	/* LOAD_RLX */
			rr = (j + 1) % NCHAN;
			found = j;
			k = 0;
			j = 0;
			break
		:: else ->
			k++;
			if
			:: k == NCHAN -> found = NONE; k = 0; j = 0; break
			:: else
			fi
		fi
	   }
	od
}

/* set_sleeping(): service_sleeping = v in every channel, one by one. */
inline set_sleeping(v)
{
	do
	:: atomic {
		if
		:: k >= NHONEST		/* DEAD_STORE */
		:: else -> shm[k].service_sleeping = v	/* STORE_RLX */
		fi;
		k++;
		if
		:: k == NCHAN -> k = 0; flags_set = v; break
		:: else
		fi
	   }
	od
}

/*
 * DEAD_STORE: the service's stores to a hostile caller's service line
 * (ring.pml) still take their step, but leave the value out: nobody in the
 * model reads that line (the service never does, and the hostile caller's
 * moves do not depend on it), so the values would only multiply states.
 */

/*
 * publish(): the reply (or refusal, err != 0) to call sq on channel c.
 * The bytes, rep_len and rep_flags are stored in the step that stores
 * rep_seq (STORE_REL): the caller reads them only after it sees its own
 * number there, and nothing else reads them.  On the socket (via),
 * msg_send_call() may fail, and then nothing is published.
 */
inline publish(c, sq, via, o, err)
{
	if
	:: via -> skip			/* msg_send_call() failed: return */
	:: atomic {
		true ->
		if
		:: c >= NHONEST		/* DEAD_STORE */
		:: else ->
			if
			:: err == 0 && !via -> shm[c].rep = o	/* memcpy(s->rep) */
			:: else
			fi;
			if
			:: err -> shm[c].rep_len = err
			:: else -> shm[c].rep_len = 1
			fi;
			shm[c].rep_flags = (via -> CHAN_VIA_SOCKET : 0) |
			    (err -> CHAN_ERROR : 0);
			shm[c].rep_seq = sq			/* STORE_REL */
		fi
	   }
		/* FENCE(): Dekker with wait_reply_shm() */
		if
		:: shm[c].caller_sleeping ->		/* LOAD_RLX */
			futex_wake(queued_rep_seq[c])
		:: else
		fi
	fi
}

/*
 * take(): read the request on channel c, each word once (req_seq with
 * acquire, then the rest); a lie (on the socket but not there, or longer
 * than COCALL_MAXLEN) gets an error reply and ok = 0.
 */
inline take(c, ok)
{
	atomic {
		seq = shm[c].req_seq;			/* LOAD_ACQ */
		flags = shm[c].req_flags;		/* LOAD_RLX */
		len_ = shm[c].req_len;			/* LOAD_RLX */
		served[c] = seq;
		in = shm[c].req;			/* memcpy(m->in, s->req) */
		ok = (flags & CHAN_VIA_SOCKET) == 0 && len_ <= COCALL_MAXLEN
	}
	if
	:: ok
	:: atomic {
		/* msg_recv_call(..., deadline 0) found the message */
		!ok && (flags & CHAN_VIA_SOCKET) -> in = HOSTILE_PAYLOAD; ok = 1
	   }
	:: !ok ->
		/* not there, or too long: EPROTO */
		publish(c, seq, (flags & CHAN_VIA_SOCKET) != 0, 0, EPROTO_)
	fi;
	atomic {
		/* Exactly once, in order: the k-th call taken on an honest
		 * channel is the k-th call its caller made. */
		if
		:: ok && c < NHONEST ->
			assert(in == PAYLOAD(c, ntaken[c]));
			ntaken[c]++
		:: else
		fi;
		if
		:: ok ->
			pending = c;
			pending_seq = seq;
			pending_socket = (flags & CHAN_VIA_SOCKET) != 0
		:: else
		fi;
		seq = 0;
		flags = 0;
		len_ = 0
	}
}

/*
 * The accepting thread: coacceptv() called again and again with no
 * deadline (timeout_ms -1), the application answering each call with the
 * bytes it got (an echo).  Only a hostile caller (ring.pml) bumps
 * connects; connect_all() and reap() add and drop no channel here.
 */
proctype service()
{
	/* struct acceptor */
	byte	rr;
	bit	flags_set;
	byte	pending = NONE;
	byte	pending_seq;
	bit	pending_socket;
#ifdef HOSTILE
	byte	connects_seen;
#endif
	/* struct svc_chan */
	byte	served[NCHAN];
	/* coacceptv() */
	byte	r;			/* uint32_t ring */
	byte	ch = NONE;		/* struct svc_chan *ch */
	bit	ok;
	mtype	ret;
	/* take() */
	byte	seq, flags, len_;	/* len_: len in take() */
	/* the message: m->in, m->out */
	byte	in, out;
	byte	k, j;

	/* The channels were set up with one call answered (see caller). */
	atomic {
		for (k : 0 .. NCHAN - 1) {
			served[k] = SEQMOD - 1
		}
		k = 0
	}
coacceptv:
	/* reply() */
	if
	:: pending != NONE ->
		publish(pending, pending_seq, pending_socket, out, 0)
	:: else
	fi;
	atomic {
		pending = NONE;
		pending_seq = 0;
		pending_socket = 0;
		out = 0
	}
	do
	:: skip ->
#ifdef HOSTILE
		/* New callers first. */
		atomic {
			if
			:: connects != connects_seen ->		/* LOAD_RLX */
				connects_seen = connects	/* connect_all() */
			:: else
			fi
		}
#endif
		find_request(ch);
		if
		:: ch != NONE ->
			if
			:: flags_set -> set_sleeping(0)
			:: else
			fi;
			take(ch, ok);
			if
			:: ok -> break			/* return len */
			:: else -> goto again		/* continue */
			fi
		:: else
		fi;
		/*
		 * Spinning (spins < budget: cpu_relax(), continue) runs the
		 * scan above again with no store in between: it only delays
		 * the sleep below, which the model's scheduler already may.
		 *
		 * Sleep: Dekker with the callers.  ring is read before
		 * service_sleeping is set, so a ring after it fails the wait.
		 */
		r = ring;				/* LOAD_ACQ */
		if
		:: !flags_set -> set_sleeping(1)
		:: else
		fi;
		/* FENCE() */
#ifndef BROKEN_NORESCAN
		find_request(ch);
		if
		:: ch != NONE -> goto again
		:: else
		fi;
#endif
#ifdef HOSTILE
		if
		:: connects != connects_seen -> goto again	/* LOAD_RLX */
		:: else
		fi;
#endif
		futex_queue(ring, r, queued_ring, ret);
		if
		:: ret == EAGAIN
		:: else ->
end_futex_wait:
			futex_sleep(queued_ring, ret, SERVICE_TIMEOUT)
		fi;
		if
		:: ret == ETIMEDOUT -> skip		/* reap(); connect_all() */
		:: else -> find_request(ch)		/* NULL: connect_all() */
		fi;
again:
		atomic { ch = NONE; r = 0; ret = 0; ok = 0 }
	od;
	/* The call is the application's; it answers with what it got. */
	atomic {
		ch = NONE;
		ok = 0;
		out = in;
		in = 0
	}
	goto coacceptv
}
