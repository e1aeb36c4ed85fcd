/*
 * COPIPE's pairs (src/lib/copipe.c, struct pipe_pair in coport_shm.h) in
 * Promela: NSEND sending processes and NRECV receiving processes, one
 * pair per (sender, receiver), each with its status word (a round and a
 * state), the receiver's line (area_cap, rx_waiting), the sender's line
 * (msglen, tx_sleeping) and the area's bytes.  Receivers sleep on the
 * port's "in" bell, senders short of an open area on the "out" bell, and
 * a sender waiting for its message to be accepted on the pair's status
 * word (tx_sleeping: the sleepers flag).  Checked by model/run.sh (make
 * model):
 *
 *  - assertions: each message accepted exactly once (got[]), after every
 *    earlier one of its sender (per-sender order); what the receiver
 *    reads from the area after accepting is the message it accepted (the
 *    sender cannot write there any more) and the msglen it decided on is
 *    that message's length (messages differ in length, so a msglen read
 *    under a status word that came back would show); an honest sender
 *    never looks like a scribbler to its receiver (a msglen above the
 *    area); with MSGSIZE, a pair is TOOSMALL only while the cosend() of
 *    a message that made it is in progress;
 *  - end states, with TIMEOUTS 0 (no futex_wait() returns early): no lost
 *    wake-up on any of the three words.  Only an idle receiver may sleep
 *    for good (end_futex_wait), and init waits for every message to have
 *    been received;
 *  - the LTL property delivered, under weak fairness: every message is
 *    eventually received.
 *
 * What a step is.  Every change of status is a CAS (seq_cst), and the
 * handshakes are seq_cst on both sides: the sender's store of
 * tx_sleeping and the kernel's compare in futex_wait() against the
 * receiver's CAS and its load of tx_sleeping after it; portbell_arm()'s
 * increment and the re-check against a CAS and portbell_ring()'s load.
 * So sequential consistency is what the code has there, and each shared
 * access is its own step (an atomic block holds one shared access and
 * private bookkeeping).  A message's bytes are one value, written in one
 * step (copy_bytes() between the claim and the fill) and read in one
 * (after the acceptance): nobody else writes the area in between, which
 * the assertion on what is read checks.
 *
 * Rounds.  Every move out of OPEN(n) is to round n + 1 (the sender's
 * claim and TOOSMALL mark, the receiver's hold), and so is the
 * receiver's acceptance: a status word never comes back, and what a side
 * read under it (msglen, the area) is what a CAS from it decides on.
 * BROKEN_KEEP_ROUND claims and marks in round n: a sender that takes its
 * message back (FILLED(n) -> OPEN(n)) and fills the next one makes
 * FILLED(n) again, and a receiver accepts it with the first one's length.
 *
 * Sizes.  A message is 1 or 2 units long (a sender's messages alternate,
 * 1 first), a receiver's call takes 1 or 2, and an area's cap is the len
 * of the call that opened it.  Without MSGSIZE every call takes 2; with
 * it receiver 0's calls take 1 and 2 in turn, 1 first: it finds a
 * message of 2 TOOSMALL (the sender's mark in an area of 1, or its own
 * mark of what was FILLED in an area of 2), reports EMSGSIZE, and takes
 * it in its next call, unless another receiver does first.
 *
 * Closing.  With CLOSE, receiver 0 may leave between two calls
 * (pipe_release(): every pair to CLOSED, keeping the round, waking a
 * sender that sleeps on it): a message filled and not accepted goes back
 * to its sender, which takes it to another receiver.
 *
 * Left out: tickets (every pair exists from the start and stays; offers,
 * pipe_wanted, pipe_senders, PAIRS_MAX and eviction are about which pairs
 * exist, not about one pair's words), the pool's growth and the areas'
 * places (rx_fit(): an area is never one a view holds, by construction),
 * the spinning (it only delays the sleep, which the scheduler already
 * may), death (kill(pid, 0)), non-blocking calls, EPIPE, and the threads
 * of one process (tx_lock and pipe_rx_lock: one thread each).
 *
 * Bounds (see docs/protocol.md, "The model"):
 *   NSEND  senders;   NRECV  receivers;   MSGS  messages each sender sends.
 * Rounds are bytes here and never wrap (2^28 in the code: a word would
 * come back only after 2^28 moves while one side looks at it).
 */

#ifndef NSEND
#define NSEND		1
#endif
#ifndef NRECV
#define NRECV		2
#endif
#ifndef MSGS
#define MSGS		2
#endif
#ifndef TIMEOUTS
#define TIMEOUTS	0
#endif
#ifdef CLOSE
#define CLOSING		1
#else
#define CLOSING		0
#endif
#ifdef MSGSIZE
#define SIZES		1
#else
#define SIZES		0
#endif

#define TOTAL		(NSEND * MSGS)
#define NPAIR		(NSEND * NRECV)
#define PI(s, r)	((s) * NRECV + (r))
/* Message n of sender s: distinct for every message, never 0. */
#define PAYLOAD(s, n)	((s) * MSGS + (n) + 1)
#define MSGLEN(s, n)	(1 + (n) % 2)
/* receiver r's first call; with MSGSIZE receiver 0 alternates */
#define CALLLEN(r)	(SIZES && (r) == 0 -> 1 : 2)
#define NEXTLEN(r, l)	(SIZES && (r) == 0 -> 3 - (l) : (l))
#ifdef BROKEN_KEEP_ROUND
#define NEXT(r)		(r)
#else
#define NEXT(r)		((r) + 1)
#endif

/* PAIR_* states */
#define OPEN		1
#define CLAIMED		2
#define FILLED		3
#define TOOSMALL	4
#define HELD		5
#define CLOSED		6

mtype = { WOKEN, EAGAIN, ETIMEDOUT };

/* struct pipe_pair, one per (sender, receiver).  status is st and rnd,
 * changed together, by CAS only. */
byte	st[NPAIR];
byte	rnd[NPAIR];
byte	area_cap[NPAIR];	/* receiver's line */
bit	rx_waiting[NPAIR];
byte	msglen[NPAIR];		/* sender's line */
bit	tx_sleeping[NPAIR];
byte	data[NPAIR];		/* the area's bytes: a message's number */

/*
 * struct coport_bell: in (receivers), out (senders).  A waiter compares
 * the seq with the value it read when it armed (snap); the seqs are
 * unbounded here (a receiver and a sender can ring each other forever
 * before the scheduler lets a message through), so instead of the seq
 * each waiter has a flag, cleared where it reads snap and set by every
 * ring: "seq != snap" without the count (and without the wrap, 2^32
 * rings in the code).
 */
byte	in_sleepers;
byte	out_sleepers;
bit	in_rung[NRECV];
bit	out_rung[NSEND];

/* The kernel's futex queues: receiver r on in_seq, sender s on out_seq,
 * the sender of pair p on its status. */
bit	queued_in[NRECV];
bit	queued_out[NSEND];
bit	queued_st[NPAIR];

/* Ghosts, for the checks only. */
bit	got[TOTAL];
byte	nreceived;
bit	long_pending[NSEND];	/* the cosend() of a message of 2 is in progress */

#define CAS(p, s0, r0, s1, r1)	(st[p] == (s0) && rnd[p] == (r0)) -> \
				st[p] = (s1); rnd[p] = (r1)

/* futex_wait() in two halves (see cochannel.pml): queue if the word
 * still holds the value, in one step, else EAGAIN: go on at eagain. */
#define futex_queue(cond, queued, ret, eagain)			\
	atomic {						\
		if						\
		:: cond -> queued = 1				\
		:: else -> ret = EAGAIN; goto eagain		\
		fi						\
	}

inline futex_sleep(queued, ret)
{
	if
	:: atomic { queued == 0 -> ret = WOKEN }
	:: atomic { TIMEOUTS && queued == 1 -> queued = 0; ret = ETIMEDOUT }
	fi
}

/* portbell_ring(): load sleepers; if any, bump seq and wake every
 * waiter (one step, see cochannel.pml). */
hidden byte wk;
inline portbell_ring_in()
{
	if
	:: in_sleepers != 0 ->
		atomic {
			for (wk : 0 .. NRECV - 1) {
				in_rung[wk] = 1;
				queued_in[wk] = 0
			};
			wk = 0
		}
	:: else
	fi
}

inline portbell_ring_out()
{
	if
	:: out_sleepers != 0 ->
		atomic {
			for (wk : 0 .. NSEND - 1) {
				out_rung[wk] = 1;
				queued_out[wk] = 0
			};
			wk = 0
		}
	:: else
	fi
}

/* wake_sender(), pair_close()'s end: after the CAS, load tx_sleeping;
 * if set, futex_wake(&status).  BROKEN_WAKE_FIRST loads it before the
 * CAS (the caller does), which loses the wake-up of a sender that sets
 * it in between. */
inline wake_sender(p)
{
	if
	:: tx_sleeping[p] -> queued_st[p] = 0
	:: else
	fi
}

/*
 * A sending process: cosend() of MSGS messages.  pipe_send(): tx_try()
 * (pairs whose receiver waits first, then any: tx_fill() on each), and
 * with a pair filled, tx_wait(); with none, portbell_arm() on the out
 * bell, tx_ready(), sleep for a slice, disarm, and over again.
 */
proctype sender(byte s)
{
	byte	n;		/* messages sent */
	byte	mlen;		/* message n's length */
	byte	i, j, pass, p, ls, lr, cap, round;
	byte	mine;		/* FILLED, or TOOSMALL: the receiver's mark */
	bit	waits, marked, timed;
	mtype	ret;

next:
	atomic {
		mlen = MSGLEN(s, n);
		long_pending[s] = mlen == 2;
		i = 0; pass = 0
	}
tx_try:
	/* pass 0: only pairs whose receiver waits in corecv() */
	if
	:: atomic {
		pass == 0 ->
		waits = rx_waiting[PI(s, i)];
		if
		:: !waits -> goto try_next
		:: else -> waits = 0
		fi
	   }
	:: atomic { pass == 1 }
	fi;
	/* tx_fill(): status (acquire), then the area */
	atomic {
		p = PI(s, i);
		ls = st[p];
		lr = rnd[p];
		if
		:: ls != OPEN -> goto try_next
		:: else
		fi
	}
	atomic {
		cap = area_cap[p];
		if
		:: mlen > cap -> goto toosmall
		:: else
		fi
	}
	atomic {
		if
		:: CAS(p, OPEN, lr, CLAIMED, NEXT(lr)) -> lr = NEXT(lr)
		:: else -> goto try_next
		fi
	}
	data[p] = PAYLOAD(s, n);		/* copy_bytes() */
	msglen[p] = mlen;
	atomic {
		if
		:: CAS(p, CLAIMED, lr, FILLED, lr) -> round = lr; mine = FILLED
		:: else -> goto try_next	/* its receiver left */
		fi
	}
	portbell_ring_in();
#ifdef BROKEN_NOWAIT
	/* Returns once filled: a receiver that leaves now loses it. */
	goto sent;
#endif
	goto tx_wait;
toosmall:
	msglen[p] = mlen;
	atomic {
		if
		:: CAS(p, OPEN, lr, TOOSMALL, NEXT(lr)) -> marked = 1
		:: else -> goto try_next
		fi
	}
	portbell_ring_in();
try_next:
	atomic {
		i++; p = 0; ls = 0; lr = 0; cap = 0;
		if
		:: i < NRECV -> goto tx_try
		:: i == NRECV && pass == 0 -> i = 0; pass = 1; goto tx_try
		:: else -> i = 0; pass = 0
		fi
	}
	/* Nothing to fill: arm the out bell, tx_ready() (an open pair
	 * whose receiver waits), sleep for a slice, disarm. */
	/* portbell_arm(): the increment, then the load of seq */
	out_sleepers++;
	out_rung[s] = 0;
ready:
	atomic { waits = rx_waiting[PI(s, j)] }
	atomic {
		if
		:: waits && st[PI(s, j)] == OPEN -> goto out_disarm
		:: else
		fi;
		waits = 0;
		j++;
		if
		:: j < NRECV -> goto ready
		:: else -> j = 0
		fi
	}
	futex_queue(!out_rung[s], queued_out[s], ret, out_disarm);
	futex_sleep(queued_out[s], ret);
out_disarm:
	atomic {
		out_sleepers--;
		ret = 0; j = 0; waits = 0;
		goto tx_try
	}

	/*
	 * tx_wait(): load status and rx_waiting.  Our message is in the
	 * pair while it is FILLED(round), or TOOSMALL(round) (its receiver's
	 * call could not take it: it may take it in its next one).  A later
	 * round is an acceptance; OPEN or CLOSED of our round, it came back
	 * to us.  Else,
	 * if this receiver is not in corecv() (or, with timeouts, says it
	 * is but did not take it for WANT_PAIR_MS) and another pair's is,
	 * with an open area, take it back (FILLED -> OPEN) and fill that
	 * one; else set tx_sleeping and sleep on status.
	 */
tx_wait:
	atomic { ls = st[p]; lr = rnd[p] }
	waits = rx_waiting[p];
	atomic {
		if
		:: (ls == FILLED || ls == TOOSMALL) && lr == round -> mine = ls
		:: else ->
#ifdef BROKEN_STATE_ONLY
			/* any change taken for an acceptance */
			goto sent
#else
			if
			:: lr != round -> goto sent
			:: else ->	/* withdrawn: fill again, from the
					   waiting receivers on */
				i = 0; pass = 0; p = 0; ls = 0; lr = 0;
				round = 0; waits = 0; mine = 0;
				goto tx_try
			fi
#endif
		fi;
		ls = 0; lr = 0;
		if
		:: waits -> waits = 0; goto tx_sleep
		/* with timeouts: WANT_PAIR_MS passed and it did not take it.
		 * Once per message: an honest receiver in corecv() takes a
		 * message within microseconds, so its sender never waits
		 * 60 ms twice for the same one (without that bound the
		 * model would take it back from each in turn forever) */
		:: TIMEOUTS && waits && !timed -> waits = 0; j = 0; timed = 1
		:: else -> j = 0
		fi
	}
	/* tx_other_waits(): rx_waiting, then status, of each other pair */
other:
	if
	:: atomic { j == i -> goto other_next }
	:: else
	fi;
	atomic { waits = rx_waiting[PI(s, j)] }
	atomic {
		if
		:: waits && st[PI(s, j)] == OPEN -> waits = 0; goto withdraw
		:: else -> waits = 0
		fi
	}
other_next:
	atomic {
		j++;
		if
		:: j < NRECV -> goto other
		:: else -> j = 0; goto tx_sleep
		fi
	}
withdraw:
	atomic {
		j = 0;
		if
		:: CAS(p, mine, round, OPEN, round) ->
			i = 0; pass = 0; p = 0; round = 0; mine = 0;
			goto tx_try
		:: else -> goto tx_wait		/* it moved first */
		fi
	}
tx_sleep:
	tx_sleeping[p] = 1;			/* seq_cst */
	futex_queue(st[p] == mine && rnd[p] == round, queued_st[p], ret,
	    tx_woke);
	futex_sleep(queued_st[p], ret);
tx_woke:
	atomic { tx_sleeping[p] = 0; ret = 0; goto tx_wait }

sent:
	/* pipe_send() returns: the TOOSMALL marks of this message go
	 * (tx_unmark()): each pair in TOOSMALL back to OPEN, by CAS. */
#ifndef BROKEN_KEEP_TOOSMALL
	if
	:: atomic { marked -> j = 0 }
unmark:
		atomic { ls = st[PI(s, j)]; lr = rnd[PI(s, j)] }
		atomic {
			if
			:: ls == TOOSMALL ->
				if
				:: CAS(PI(s, j), TOOSMALL, lr, OPEN, lr)
				:: else
				fi
			:: else
			fi;
			ls = 0; lr = 0;
			j++;
			if
			:: j < NRECV -> goto unmark
			:: else -> j = 0
			fi
		}
	:: atomic { !marked }
	fi;
#endif
	atomic {
		long_pending[s] = 0;
		n++;
		i = 0; pass = 0; p = 0; round = 0; marked = 0; cap = 0;
		timed = 0; mine = 0;
		ls = 0; lr = 0; waits = 0;
		if
		:: n < MSGS -> goto next
		:: else
		fi
	}
}

/*
 * The ghost bookkeeping of an acceptance of pair p (sender s): the
 * message in its area is taken once, after every earlier one of s, and
 * msglen is its length.
 */
inline claim(p, s)
{
	m = data[p];
	assert(m >= PAYLOAD(s, 0) && m <= PAYLOAD(s, MSGS - 1));
	assert(!got[m - 1]);
	assert(m == PAYLOAD(s, 0) || got[m - 2]);
	assert(n == MSGLEN(s, m - PAYLOAD(s, 0)));
	got[m - 1] = 1;
	nreceived++
}

/* rx_open(): write the area (area_cap), then HELD -> OPEN; ring the out
 * bell if that was us. */
inline rx_open(p, s)
{
	atomic { area_cap[p] = clen; cap[s] = clen }
	if
	:: atomic { CAS(p, HELD, round[s], OPEN, round[s]) }
		portbell_ring_out()
	:: else
	fi
}

/* rx_waiting(): the flag in every pair still in use, then (if set) the
 * out bell. */
inline rx_set_waiting(v)
{
	for (k : 0 .. NSEND - 1) {
		if
		:: !closed[k] -> rx_waiting[PI(k, r)] = v
		:: else
		fi
	}
	k = 0
}

/*
 * A receiving process: corecv() again and again (pipe_recv()): rx_scan()
 * over its pairs round-robin from rx_next (rx_look() on each); nothing:
 * rx_waiting(1) once, then portbell_arm() on the in bell, rx_scan()
 * again (the re-check), sleep for a slice, disarm, and over again.  A
 * message accepted: rx_waiting(0), read it, open the pair again.
 */
proctype receiver(byte r)
{
	byte	round[NSEND];	/* rx_pair.round */
	byte	cap[NSEND];	/* rx_pair.cap */
	bit	closed[NSEND];	/* rx_pair.closed */
	byte	rx_next, k, s, p, ls, lr, n, m, d, clen;
	bit	waiting, armed, toolong;
#ifdef BROKEN_WAKE_FIRST
	bit	sl;
#endif
	mtype	ret;

	atomic {
		for (k : 0 .. NSEND - 1) {
			round[k] = 1;
			cap[k] = CALLLEN(r)
		}
		k = 0;
		clen = CALLLEN(r)
	}
corecv:
	if
	:: atomic { CLOSING && r == 0 -> goto rx_close }
	:: atomic { true }
	fi;
rx_scan:
	atomic {
		s = (rx_next + k) % NSEND;
		p = PI(s, r);
		if
		:: closed[s] -> goto look_next
		:: else
		fi
	}
	/* rx_look() */
	atomic {
		ls = st[p];				/* acquire */
		lr = rnd[p];
		if
		:: ls == CLOSED -> closed[s] = 1; goto look_next
		:: else
		fi;
		/* an honest sender never looks like one that scribbled */
		assert(ls >= OPEN && ls <= CLOSED);
		/* TOOSMALL only while a message of 2 is being sent: a mark
		 * that outlives its cosend() makes EMSGSIZE for a message
		 * nobody sends, and hides the pair from the next */
		assert(ls != TOOSMALL || long_pending[s]);
		if
		:: ls == FILLED || ls == TOOSMALL -> skip
		:: ls == CLAIMED -> goto look_next	/* busy */
		:: ls == OPEN && cap[s] == clen -> goto look_next
		:: ls == OPEN && cap[s] != clen -> goto hold_reopen
		:: ls == HELD -> goto reopen
		fi
	}
	n = msglen[p];
	atomic {
		if
		:: ls == FILLED && n > cap[s] -> goto look_scribbled
		:: ls == FILLED && n > clen -> goto look_mark
		/* TOOSMALL with a message the area holds: our own mark */
		:: ls == TOOSMALL && n <= cap[s] && n > clen -> goto look_toolong
		/* else the sender's mark: its message is not in the area */
		:: ls == TOOSMALL && n > cap[s] && n > clen -> goto look_toolong
		:: ls == TOOSMALL && n > cap[s] && n <= clen -> goto hold_reopen
		:: else		/* FILLED, or our mark, and this call takes it */
		fi
	}
	/* Accept it (FILLED(n) or TOOSMALL(n) -> HELD(n + 1)), then
	 * wake_sender().  BROKEN_WAKE_FIRST loads tx_sleeping before the
	 * CAS. */
#ifdef BROKEN_WAKE_FIRST
	sl = tx_sleeping[p];
	atomic {
		if
		:: CAS(p, ls, lr, HELD, lr + 1) -> claim(p, s)
		:: else -> sl = 0; goto look_next
		fi
	}
	round[s] = lr + 1;
	atomic {
		if
		:: sl -> queued_st[p] = 0
		:: else
		fi;
		sl = 0
	}
	goto accepted;
#endif
#ifdef BROKEN_STORE_ACCEPT
	/* a plain store where the sender may have taken it back */
	atomic { st[p] = HELD; rnd[p] = lr + 1; claim(p, s) }
#else
	atomic {
		if
		:: CAS(p, ls, lr, HELD, lr + 1) -> claim(p, s)
		:: else -> goto look_next	/* its sender took it back */
		fi
	}
#endif
	round[s] = lr + 1;
	wake_sender(p);
accepted:
	atomic {
		rx_next = (s + 1) % NSEND;
		k = 0; ls = 0; lr = 0;
		goto taken
	}
look_scribbled:
	/* msglen above the area: the sender scribbled, if status is still
	 * what we read it with (else msglen may be that of the sender's next
	 * message, or of its TOOSMALL mark: honest); BROKEN_STALE_MSGLEN
	 * closes the pair without that check. */
	atomic {
#ifdef BROKEN_STALE_MSGLEN
		assert(false);
#endif
		if
		:: CAS(p, FILLED, lr, CLOSED, lr) -> assert(false)
		:: else -> goto look_next
		fi
	}
look_mark:
	/* longer than this call takes: FILLED -> TOOSMALL, keeping the
	 * round (the message stays in the area, its sender's until we
	 * accept it), and EMSGSIZE.  Else the sender moved: look again. */
	if
	:: atomic {
		CAS(p, FILLED, lr, TOOSMALL, lr) -> assert(long_pending[s])
	   }
		wake_sender(p)
	:: atomic { else -> goto look_next }
	fi;
	atomic { toolong = 1; n = 0; goto look_next }
look_toolong:
	/* a mark still there: EMSGSIZE, while the message that made it is
	 * still being sent.  Else the sender moved: look again. */
	if
	:: atomic {
		st[p] == TOOSMALL && rnd[p] == lr -> assert(long_pending[s])
	   }
	:: atomic { else -> goto look_next }
	fi;
	atomic { toolong = 1; n = 0; goto look_next }
hold_reopen:
	atomic {
		n = 0;
		if
		:: CAS(p, ls, lr, HELD, lr + 1) -> round[s] = lr + 1
		:: else -> goto look_next
		fi
	}
reopen:
	rx_open(p, s);
look_next:
	atomic {
		ls = 0; lr = 0; n = 0; p = 0;
		k++;
		if
		:: k < NSEND -> goto rx_scan
		:: else -> k = 0; s = 0
		fi;
		if
		:: toolong -> goto msgsize
		:: else
		fi
	}
	/* nothing: say we wait (once), then arm, scan again, sleep */
	if
	:: atomic { !waiting -> waiting = 1 }
		rx_set_waiting(1);
		portbell_ring_out();
		goto rx_scan
	:: atomic { waiting && !armed ->
		in_sleepers++; armed = 1 }
		in_rung[r] = 0;
#ifndef BROKEN_NORECHECK
		goto rx_scan
#endif
	:: atomic { waiting && armed }
	fi;
	futex_queue(!in_rung[r], queued_in[r], ret, rx_disarm);
end_futex_wait:
	futex_sleep(queued_in[r], ret);
rx_disarm:
	atomic {
		in_sleepers--;
		armed = 0; ret = 0;
		goto rx_scan
	}
msgsize:
	/* EMSGSIZE (and the call starts over) */
	atomic {
		assert(SIZES);
		toolong = 0;
		if
		:: armed -> in_sleepers--; armed = 0
		:: else
		fi
	}
	if
	:: atomic { waiting -> waiting = 0 }
		rx_set_waiting(0)
	:: atomic { !waiting }
	fi;
	atomic { clen = NEXTLEN(r, clen); goto corecv }
taken:
	if
	:: atomic { armed -> in_sleepers--; armed = 0 }
	:: atomic { !armed }
	fi;
	if
	:: atomic { waiting -> waiting = 0 }
		rx_set_waiting(0)
	:: atomic { !waiting }
	fi;
	/* the bytes, where they lie: still the message accepted */
	atomic { d = data[p]; assert(d == m); d = 0; m = 0 }
	rx_open(p, s);
	atomic { p = 0; s = 0; clen = NEXTLEN(r, clen); goto corecv }

	/* pipe_release(): every pair to CLOSED, keeping its round
	 * (pair_close()), waking a sender that sleeps on it. */
rx_close:
	for (s : 0 .. NSEND - 1) {
		atomic {
			p = PI(s, r);
			if
			:: st[p] != CLOSED -> st[p] = CLOSED
			:: else
			fi
		}
		wake_sender(p)
	}
}

ltl delivered { <> (nreceived == TOTAL) }

init {
	byte k;

	atomic {
		for (k : 0 .. NPAIR - 1) {
			st[k] = OPEN;
			rnd[k] = 1;
			area_cap[k] = CALLLEN(k % NRECV)
		}
		for (k : 0 .. NSEND - 1) {
			run sender(k)
		}
		for (k : 0 .. NRECV - 1) {
			run receiver(k)
		}
		k = 0
	}
	/* Every message received: blocked here for good is a message lost
	 * (or a lost wake-up), an invalid end state. */
	nreceived == TOTAL
}
