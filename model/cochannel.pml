/*
 * The COCHANNEL ring (src/lib/cochannel.c) and the bell page's sleep/wake
 * handshake (src/lib/coport.c) in Promela: NSEND sending processes, each
 * with its own ring (struct ring_prod, struct ring_cons), and NRECV
 * receiving processes that take records from every ring by copy-then-CAS
 * on cons and sleep on the port's bell (struct coport_bell: in_seq and
 * in_sleepers; senders short of room on out_seq and out_sleepers).
 * Checked by model/run.sh (make model):
 *
 *  - assertions: a receiver returns exactly the record that was at cons
 *    when it claimed it (header and bytes, not torn, not an older or newer
 *    record of the same slot), each message exactly once (got[]), each
 *    sender's messages in order as each receiver sees them (next_pos[]);
 *    a sender never finds cons out of range and an honest ring never looks
 *    inconsistent to a receiver while cons stays (no EPROTO);
 *  - end states, with TIMEOUTS 0 (no futex_wait() returns early): no lost
 *    wakeup.  Only an idle receiver may sleep for good
 *    (end_futex_wait), and init waits for every message to have been
 *    received, so a state where everyone sleeps while a message waits, or
 *    where a sender sleeps for room that was made, is an invalid end
 *    state;
 *  - the LTL property delivered, under weak fairness, with and without
 *    timeouts: every message is eventually received.
 *
 * Records.  The C ring holds variable-size records at free-running byte
 * positions.  The model takes every record to be of one size, one unit of
 * the ring: a ring of SLOTS units (the C code's ring_size, a power of
 * two there, any size here), record number n at position n, in slot
 * n % SLOTS.  Positions do not wrap (a byte holds MSGS), so, as with the
 * C code's 64-bit positions, cons never comes back to a value a receiver
 * read (no ABA).  What the checks are about, the reuse of a slot once
 * cons has passed it and a receiver that copied a slot meanwhile
 * overwritten, needs only MSGS > SLOTS; variable sizes would add records
 * straddling the wrap and headers read at a position that is no record's
 * start any more, which the C code checks the same way (the header's
 * check, need > p - c) and which end the same way (a failed CAS or a
 * re-check of cons).  A slot holds the header (struct ring_rec: here the
 * number of the message whose header it is, 0 for a page never written,
 * whose check fails) and the bytes (the message's number): written in
 * one step (see ring_write below), read in two, header first (two
 * ring_read() calls), so a copy can be torn.
 *
 * Memory model.  Promela statements are sequentially consistent, and
 * every access of the handshakes is seq_cst in the code but one: a
 * sender whose process registered for membarrier (cochannel.c,
 * membarrier_register) publishes prod with a release store and then
 * loads the in bell's sleepers count with no barrier between, so the
 * load may be done while the store still waits in its store buffer.
 * The model gives each sender that buffer: publishing writes sb[s], the
 * prod the sender has stored, and the process drain() makes it visible
 * one record at a time, whenever it runs (in order, as the store
 * buffer's FIFO does; a weaker machine than that is still covered, as a
 * receiver reads nothing beyond the prod it sees; NSEND at most 3).  A
 * receiver about to sleep, between its increment of the sleepers count
 * and its re-check, calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED),
 * which runs a full barrier on every sender: here one step that drains
 * every buffer.  STRONG_PUBLISH models a sender that could not register
 * (a seq_cst store, straight to rings[s].prod); BROKEN_NOSYNC a receiver
 * that sleeps without the membarrier (a lost wakeup: it must fail).  The
 * other accesses: the record is published with prod (release) and read
 * after a load of prod (seq_cst, or LOAD_ACQ of cons and prod_seen, a
 * value of prod read before with acquire); the sender reuses a slot
 * only after a seq_cst load of cons that saw the CAS that passed it, and
 * the CAS (seq_cst) orders the receiver's reads of the slot before it;
 * the CAS before portbell_ring()'s load of the out bell's sleepers
 * count, portbell_arm()'s increment before its load of seq and the
 * re-check are seq_cst.  Each shared access is its own step (an atomic
 * block holds one shared access and private bookkeeping).
 *
 * Left out: the spinning in chan_wait() (it runs try() again with no
 * other store than the caches prod_seen and cons_seen, so it only delays
 * the sleep, which the scheduler already may), chan_refresh() (the set of
 * rings is fixed), closing and death (port_*_gone() stay false),
 * EMSGSIZE (every record fits every receiver's buffer, but see MSGSIZE
 * below: an open finding), and the threads
 * of one process (tx_lock and the port's lock: one thread each).
 *
 * Bounds (see docs/protocol.md, "The model"):
 *   NSEND  senders, each with its ring;        NRECV  receivers;
 *   MSGS   messages each sender sends;         SLOTS  records a ring holds.
 */

#ifndef NSEND
#define NSEND		2
#endif
#ifndef NRECV
#define NRECV		2
#endif
#ifndef MSGS
#define MSGS		3
#endif
#ifndef SLOTS
#define SLOTS		2
#endif
/* futex_wait() may return early: the 20 ms slice (SLEEP_SLICE_MS) of
 * portbell_sleep(), or a signal; chan_wait() does the same either way. */
#ifndef TIMEOUTS
#define TIMEOUTS	1
#endif

#define TOTAL		(NSEND * MSGS)
/*
 * MSGSIZE: the last message of sender 0 is longer than receiver 0's
 * buffer (every other message fits every buffer), so rx_take() of
 * receiver 0 returns EMSGSIZE when it reads that message's header; the
 * caller then gives up, and receiver 1 must take everything.  The check:
 * the header that made EMSGSIZE was that of the record at cons when it
 * was read.  FIX_MSGSIZE re-checks cons first, as the EPROTO path does.
 */
#define LONGMSG		PAYLOAD(0, MSGS - 1)
/* Message n of sender s: its number, and what its header says; distinct
 * for every message of every sender, never 0 (a blank page). */
#define PAYLOAD(s, n)	((s) * MSGS + (n) + 1)

mtype = { WOKEN, EAGAIN, ETIMEDOUT };

/* A sender's ring: struct ring_prod (prod, then the data) and struct
 * ring_cons (cons); a slot is a struct ring_rec and the bytes. */
typedef ring {
	byte	prod;			/* ring_prod.prod */
	byte	cons;			/* ring_cons.cons */
	byte	hdr[SLOTS];		/* struct ring_rec at the slot */
	byte	data[SLOTS];		/* the bytes */
};
ring	rings[NSEND];
/* What each sender has stored to its ring_prod.prod, visible to the
 * others once drain() has moved rings[s].prod up to it. */
byte	sb[NSEND];

/* struct coport_bell.  The seqs only grow, by one per ring of the bell,
 * at most TOTAL times each: no wrap, as with 2^32 in the code. */
byte	in_seq;
byte	in_sleepers;
byte	out_seq;
byte	out_sleepers;

/* The kernel's futex wait queues: 1 while receiver r is queued on in_seq,
 * sender s on out_seq. */
bit	queued_in[NRECV];
bit	queued_out[NSEND];

/* Ghosts, for the checks only. */
bit	got[TOTAL];			/* message received */
byte	nreceived;

/*
 * futex_wait(word, val, timeout) (sys.c) in two halves, so that a
 * receiver's sleep can carry an end label.  futex_queue(): in one step, as
 * the kernel does under its hash-bucket lock, queue the thread if word
 * still equals val, else EAGAIN: go on at label eagain.
 */
#define futex_queue(word, val, queued, ret, eagain)		\
	atomic {						\
		if						\
		:: word == val -> queued = 1			\
		:: else -> ret = EAGAIN; goto eagain		\
		fi						\
	}

/* futex_sleep(): block until futex_wake() dequeues us; with timeouts,
 * return at any moment with ETIMEDOUT (the slice, or EINTR: the same to
 * chan_wait()). */
inline futex_sleep(queued, ret)
{
	if
	:: atomic { queued == 0 -> ret = WOKEN }
	:: atomic { TIMEOUTS && queued == 1 -> queued = 0; ret = ETIMEDOUT }
	fi
}

/* futex_wake(word): INT_MAX, every waiter; in one step. */
hidden byte wk;
#define futex_wake_in()	\
	atomic { for (wk : 0 .. NRECV - 1) { queued_in[wk] = 0 }; wk = 0 }
#define futex_wake_out() \
	atomic { for (wk : 0 .. NSEND - 1) { queued_out[wk] = 0 }; wk = 0 }

/* portbell_arm(): the increment (seq_cst), then the load of seq (seq_cst):
 * two steps. */
inline portbell_arm(sleepers, seq, snap)
{
	sleepers++;
	snap = seq
}

/* portbell_disarm() */
#define portbell_disarm(sleepers)	sleepers--

/*
 * portbell_ring(): after the caller's publication, load sleepers
 * (seq_cst); if non-zero, bump seq and futex_wake().  For the in bell
 * (receivers wait there) and the out bell (senders).  The bump and the
 * wake are one step here: a waiter that would queue between them, with
 * the bumped value, would only be woken for nothing; with timeouts a
 * queued waiter may return at any moment anyway, and without them
 * leaving that wake out can only make a lost wakeup easier to find.
 */
inline portbell_ring_in()
{
	if
	:: in_sleepers != 0 ->
		atomic { in_seq++; futex_wake_in() }
	:: else
	fi
}

inline portbell_ring_out()
{
	if
	:: out_sleepers != 0 ->
		atomic { out_seq++; futex_wake_out() }
	:: else
	fi
}

/*
 * chan_send_try()'s ring_write() of the header, then of the bytes, at
 * position pos: one step here; a receiver reads them in two, so it can
 * still see a record half old, half new.  BROKEN_PUBLISH_FIRST: prod is
 * stored first, in its own step.
 */
#ifdef BROKEN_PUBLISH_FIRST
#define ring_write()							\
	sb[s] = pos + 1;						\
	rings[s].prod = pos + 1;					\
	atomic {							\
		rings[s].hdr[pos % SLOTS] = PAYLOAD(s, pos);		\
		rings[s].data[pos % SLOTS] = PAYLOAD(s, pos)		\
	}
#else
#define ring_write()							\
	rings[s].hdr[pos % SLOTS] = PAYLOAD(s, pos);			\
	rings[s].data[pos % SLOTS] = PAYLOAD(s, pos)
#endif

/*
 * A sending process: cosend() of MSGS messages, each through chan_wait(o,
 * true, ...): chan_send_try(); on EAGAIN portbell_arm() on the out bell
 * (sleepers, then seq: two steps), chan_send_try() again (the re-check),
 * portbell_sleep() for one slice, portbell_disarm(), and over again.
 * Message n goes to position n: pos is ring_prod.prod, which only we
 * write.
 */
proctype sender(byte s)
{
	byte	pos;		/* ring_prod.prod: ours alone */
	byte	cons_seen;	/* tx_ring.cons_seen */
	byte	c, snap;
	bit	armed;
	mtype	ret;

chan_wait:
	/* chan_send_try(): room known, else load cons */
	if
	:: atomic {
		pos - cons_seen >= SLOTS ->		/* room < need */
		c = rings[s].cons;			/* seq_cst */
		/* else EPROTO: a receiver scribbled on cons */
		assert(c <= pos && pos - c <= SLOTS);
		cons_seen = c;
		c = 0;
		if
		:: pos - cons_seen >= SLOTS -> goto eagain
		:: else -> goto write
		fi
	   }
	:: atomic { pos - cons_seen < SLOTS -> ring_write() }
	fi;
	goto publish;
write:
	ring_write();
publish:
	atomic {
#ifndef BROKEN_PUBLISH_FIRST
		/* Publish: the record before prod.  A release store into
		 * our store buffer, or a seq_cst one. */
		sb[s] = pos + 1;
#ifdef STRONG_PUBLISH
		rings[s].prod = pos + 1;
#endif
#endif
		pos++
	}
	portbell_ring_in();
	/* sent: chan_wait() returns, disarming if it had armed */
	if
	:: atomic {
		armed ->
		portbell_disarm(out_sleepers);
		armed = 0;
		if
		:: pos < MSGS -> goto chan_wait
		:: else -> goto done
		fi
	   }
	:: atomic { !armed && pos < MSGS -> goto chan_wait }
	:: atomic { !armed && pos == MSGS -> goto done }
	fi;
eagain:
	if
	:: !armed ->
		portbell_arm(out_sleepers, out_seq, snap);
		armed = 1;
#ifndef BROKEN_NORECHECK
		goto chan_wait			/* try() again */
#endif
	:: else
	fi;
	/* portbell_sleep() */
	futex_queue(out_seq, snap, queued_out[s], ret, sender_disarm);
	futex_sleep(queued_out[s], ret);
sender_disarm:
	atomic {
		portbell_disarm(out_sleepers);
		armed = 0; ret = 0; snap = 0;
		goto chan_wait
	};
done:
	skip
}

/* The senders' store buffers: a sender's stores of prod become visible
 * in order, at any time (and all at once in a receiver's membarrier).
 * One process for all (spin's fairness counts processes). */
#define drain_one(s)	:: atomic { rings[s].prod < sb[s] -> rings[s].prod++ }
proctype drain()
{
end_drain:
	do
	drain_one(0)
#if NSEND > 1
	drain_one(1)
#endif
#if NSEND > 2
	drain_one(2)
#endif
	od
}

/* membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): a full barrier on every
 * sender, so every prod it stored is visible. */
hidden byte mb;
#define membarrier()							\
	atomic { for (mb : 0 .. NSEND - 1) { rings[mb].prod = sb[mb] }; mb = 0 }

/*
 * The ghost bookkeeping of a successful CAS of cons from c to c + 1 on
 * ring i, in the CAS's step: the record at c is claimed once, and after
 * every earlier one of its ring (so each receiver, too, takes a sender's
 * messages in order).
 */
inline claim(i)
{
	assert(!got[PAYLOAD(i, c) - 1]);
	assert(c == 0 || got[PAYLOAD(i, c) - 2]);
	got[PAYLOAD(i, c) - 1] = 1;
	nreceived++
}

/*
 * What rx_take() returns, its header and bytes as copied, must be the
 * record sent at the position it claimed, whole.  Then chan_recv_try()
 * moves rx_next past the ring.
 */
inline taken(i)
{
	assert(h == PAYLOAD(i, c) && d == PAYLOAD(i, c));
	rx_next = (i + 1) % NSEND;
	c = 0; p = 0; h = 0; d = 0; i = 0; k = 0
}

/*
 * A receiving process: corecv() again and again, each through
 * chan_wait(o, false, ...): chan_recv_try(); on EAGAIN portbell_arm() on
 * the in bell, chan_recv_try() again, portbell_sleep() for one slice,
 * portbell_disarm(), and over again.  A receiver that finds nothing more
 * sleeps for good (end_futex_wait); init checks that it may.
 *
 * chan_recv_try() looks at every ring once, round-robin from rx_next
 * (k: rings looked at), with rx_take() on each: load cons, and prod if
 * prod_seen is used up; read the header at cons, check it, read the
 * bytes, then claim by CAS of cons.  A lost CAS, or an inconsistency
 * while cons moved, starts over on the same ring.
 */
proctype receiver(byte r)
{
	byte	rx_next;		/* port_obj.rx_next */
	byte	prod_seen[NSEND];	/* rx_ring.prod_seen */
	byte	c, p, h, d;		/* rx_take(): c, p, rec, buf */
	byte	i, k, snap;
	bit	armed;
	mtype	ret;
#ifdef MSGSIZE
	bit	stale;			/* ghost: cons moved before the
					   header was read */
#endif

chan_wait:
rx_take:
	atomic {
		i = (rx_next + k) % NSEND;
		c = rings[i].cons;			/* LOAD_ACQ */
		p = prod_seen[i];
		if
		:: c < p && p - c <= SLOTS -> goto rx_read	/* p will do */
		:: else
		fi
	}
	atomic {
		p = rings[i].prod;			/* seq_cst */
		prod_seen[i] = p;
		if
		:: c == p ->				/* EAGAIN */
			c = 0; p = 0; i = 0; k++;
			if
			:: k < NSEND -> goto rx_take	/* the next ring */
			:: else -> k = 0; goto rx_empty
			fi
		:: p < c || p - c > SLOTS -> goto rx_inconsistent
		:: else
		fi
	}
rx_read:
#ifdef BROKEN_CLAIM_FIRST
	/* Claim, then copy: the sender may reuse the slot as soon as cons
	 * has passed it. */
	atomic {
		if
		:: rings[i].cons == c -> rings[i].cons = c + 1; claim(i); p = 0
		:: else -> c = 0; p = 0; goto rx_take
		fi
	}
	h = rings[i].hdr[c % SLOTS];
	d = rings[i].data[c % SLOTS];
	atomic { taken(i); goto rx_taken };
#endif
	atomic {
		h = rings[i].hdr[c % SLOTS];		/* ring_read(&rec) */
#ifdef MSGSIZE
		stale = (rings[i].cons != c);		/* ghost */
#endif
		p = 0;
		if
		:: h == 0 -> goto rx_inconsistent	/* rec.check != ~rec.len */
#ifdef MSGSIZE
		:: r == 0 && h == LONGMSG -> goto rx_msgsize	/* rec.len > len */
#endif
		:: else
		fi
	}
	d = rings[i].data[c % SLOTS];			/* ring_read(buf) */
	atomic {
		/* Claim what we copied (CAS, seq_cst). */
		if
		:: rings[i].cons == c ->
			rings[i].cons = c + 1;
			claim(i);
			taken(i);
			goto rx_taken
		:: else ->				/* another took it */
			c = 0; h = 0; d = 0;
			goto rx_take
		fi
	}
rx_inconsistent:
	/* Only if cons did not move meanwhile: else EPROTO, which an honest
	 * sender's ring must never show. */
	atomic {
		assert(rings[i].cons != c);
		c = 0; p = 0; h = 0; d = 0;
		goto rx_take
	}
#ifdef MSGSIZE
rx_msgsize:
#ifdef FIX_MSGSIZE
	/* The fix: EMSGSIZE, as EPROTO, only if cons did not move. */
	atomic {
		if
		:: rings[i].cons != c -> c = 0; h = 0; stale = 0; goto rx_take
		:: else
		fi
	}
#endif
	/* EMSGSIZE: the header read was the record at cons when read (the
	 * next message), not one another receiver had taken meanwhile.
	 * The caller gives up (disarming if it had armed). */
	atomic {
		assert(!stale);
		c = 0; h = 0; i = 0; k = 0;
		if
		:: armed -> portbell_disarm(in_sleepers); armed = 0
		:: else
		fi;
		goto rx_gone
	}
#endif
rx_taken:
	/* chan_recv_try(), after the CAS: ring out; chan_wait() returns,
	 * disarming if it had armed. */
	portbell_ring_out();
	if
	:: atomic {
		armed ->
		portbell_disarm(in_sleepers);
		armed = 0;
		goto chan_wait
	   }
	:: atomic { !armed -> goto chan_wait }
	fi;
rx_empty:
	if
	:: !armed ->
		portbell_arm(in_sleepers, in_seq, snap);
		armed = 1;
#ifndef BROKEN_NOSYNC
		membarrier();			/* chan_sync_senders() */
#endif
#ifndef BROKEN_NORECHECK
		goto chan_wait			/* try() again */
#endif
	:: else
	fi;
	/* portbell_sleep() */
	futex_queue(in_seq, snap, queued_in[r], ret, receiver_disarm);
end_futex_wait:
	futex_sleep(queued_in[r], ret);
receiver_disarm:
	atomic {
		portbell_disarm(in_sleepers);
		armed = 0; ret = 0; snap = 0;
		goto chan_wait
	};
rx_gone:
	skip
}

ltl delivered { <> (nreceived == TOTAL) }

init {
	byte k;

	atomic {
		for (k : 0 .. NSEND - 1) {
			run sender(k)
		}
		run drain();
		for (k : 0 .. NRECV - 1) {
			run receiver(k)
		}
		k = 0
	}
	/* Every message received: blocked here for good is a message lost
	 * (or a lost wakeup), an invalid end state. */
	nreceived == TOTAL
}
