/*
 * COCARRIER's two ways and its order rule (src/lib/cocarrier.c:
 * ring_send(), carrier_put(), view_get(), carrier_take(), carrier_look(),
 * carrier_recv(); src/lib/cochannel.c: chan_put_locked(), rx_take(),
 * chan_take(); docs/coports.md, "COCARRIER: messages no one can change")
 * in Promela: NSEND sending processes, each with its staging ring, and
 * NRECV receiving processes that take from every ring and from the
 * port's datagram socket.  Checked by model/run.sh (make model):
 *
 *  - assertions: each message delivered exactly once (got[]), whichever
 *    way it went; each receiver gets each sender's messages in the order
 *    sent (last[]: per receiver, per sender), across the two ways; what a
 *    receiver claims from a ring is the record written at the position it
 *    claimed; an honest ring never looks inconsistent (EPROTO) to an
 *    honest receiver;
 *  - end states: init waits for every message to have been delivered;
 *    only an idle receiver may wait for good (end_idle), so a message
 *    left on the socket or in a ring is an invalid end state;
 *  - the LTL property delivered, under weak fairness: every message is
 *    eventually delivered;
 *  - with HOSTILE, a receiver that moves cons back once, onto a record
 *    already taken: the honest receivers never claim a mixture of two
 *    messages (the `writing` seqlock: the sender stores the end of the
 *    record it is about to write before it writes; a receiver, after its
 *    copy, drops it if writing lies beyond what the ring holds past the
 *    record).  BROKEN_NO_WRITING leaves the store out.
 *
 * The sender.  cosend() is synchronous and holds tx_lock: one record in
 * flight per ring, and cons == prod when the next one is written.  For
 * each message ring_send() either goes to the socket at once (no
 * receiver in corecv() and none took its last record: a free choice
 * here), or writes the record (chan_put_locked(): record, then prod) and
 * waits for cons to move past it.  Whenever it likes (its spin budget
 * and deadlines expired, which the model does not time) it takes the
 * record back by CAS of cons from the record's start to its end: exactly
 * one of it and the receivers wins.  Then carrier_put(): carrier_sent is
 * counted, then the message is queued on the socket.
 *
 * The socket.  sock, a FIFO: the kernel's datagram queue gives each
 * datagram to exactly one receiver, in the order queued.  Its capacity
 * is every message: a full queue (carrier_put()'s EAGAIN, with its
 * carrier_sent--) is left out.
 *
 * The receiver.  corecv() again and again: carrier_look() is
 * chan_take() (the rings round-robin from rx_next, rx_take() on each:
 * load cons, load prod, read the header at cons and check it, view_get(),
 * copy the bytes, claim by CAS of cons; a lost CAS starts over on the
 * same ring), and, if no ring had a record, the socket, but only if the
 * counts differ (socket_may_hold()), or `always`, or socket_due() (a
 * slice since this receiver last looked there: any time, here).  view_get(), for a
 * record found: while the counts differ, take from the socket first; a
 * datagram taken is the message corecv() returns (EALREADY) and the
 * record stays; an empty socket (EAGAIN) lets it go on with the record.
 * carrier_take(): the datagram is taken (recvmsg), then counted in
 * carrier_received, in two steps.  socket_may_hold() loads carrier_sent,
 * then carrier_received: two steps.
 *
 * Sleeping.  The "in" bell's handshake is cochannel.pml's; here a
 * receiver that found nothing waits (end_idle) until carrier_recv()'s
 * sleep would not start or would end with a wake-up: a ring holds a
 * record (chan_ready()) or the counts differ (socket_may_hold()).  So
 * the counts alone must bring every queued message to a receiver: no
 * timeouts (a sleep slice that passes without a wake-up, and the look at
 * the socket after it, are left out; socket_due() is in).  But when
 * every sender is done (port_senders_gone(): the
 * EPIPE path), a receiver looks at the socket whatever the counts say
 * (always), as carrier_recv() does after chan_settle().
 *
 * What a step is.  carrier_sent and carrier_received are changed by
 * seq_cst read-modify-writes and loaded with acquire; prod is stored
 * release (or seq_cst) and loaded seq_cst; cons is claimed and taken
 * back by seq_cst CAS and loaded acquire; the record (hdr, data) is
 * written before prod is published and read after prod is loaded.  Each
 * shared access is its own step (an atomic block holds one shared access
 * and private bookkeeping), but an honest sender writes the record and
 * publishes prod in one step (no receiver reads the slot before it sees
 * prod past it, unless cons moved past it, and then its CAS fails).  The
 * order rule needs no stronger memory than the code has: every count of
 * a datagram queued before m, m's own included, happens before m's
 * sender publishes its next record (each count comes before its
 * sendmsg(), and the socket's lock orders the queueing), so a receiver
 * that acquired that prod loads a carrier_sent that holds them all,
 * while carrier_received counts only datagrams taken, and none behind m
 * is taken before m.
 *
 * Rings.  One slot (one record in flight), positions in records, never
 * wrapping: position p's record is the p-th that sender put in its ring
 * (messages that went to the socket at once take no position).  hdr is
 * the record's check (RING_REC_CHECK, which depends on its position),
 * data the message; posmsg[] (ghost) says which message was written at
 * which position.
 *
 * Left out: the "in" and "out" bells (cochannel.pml checks them; here a
 * perfect wake-up), the store buffers of membarrier-registered senders
 * (only about wake-ups), prod_seen (a cache of prod), the view memory
 * (ENOBUFS: the record stays, as when the receiver is slow), EMSGSIZE,
 * garbage datagrams (dropped, carrier_take() returns 0 and view_get()
 * loops), a full socket queue and the byte bounds (carrier_bound.c),
 * death and closing (but the EPIPE path's last look), threads of one
 * process (tx_lock, the port's lock: one thread each), and, unless
 * HOSTILE, the `writing` seqlock and receivers that move cons back.
 * With HOSTILE the record is written and copied in steps (the header, the
 * bytes' two halves), so a copy can be torn; a ring that looks
 * inconsistent while cons stays is broken for that receiver (EPROTO).
 *
 * Bounds (see docs/protocol.md, "The model"):
 *   NSEND  senders, each with its ring;   NRECV  receivers;
 *   MSGS   messages sender 0 sends;       MSGS1  messages each other sends.
 */

#ifndef NSEND
#define NSEND		2
#endif
#ifndef NRECV
#define NRECV		2
#endif
#ifndef MSGS
#define MSGS		2
#endif
/* Messages each sender but sender 0 sends (at most MSGS). */
#ifndef MSGS1
#define MSGS1		MSGS
#endif

#ifdef HOSTILE
#define HOSTILE_ON	1
#else
#define HOSTILE_ON	0
#endif

#define TOTAL		(MSGS + (NSEND - 1) * MSGS1)
#define NMSGS(s)	((s) == 0 -> MSGS : MSGS1)
/* Message n of sender s: distinct for every message, never 0. */
#define MSG(s, n)	((s) * MSGS + (n) + 1)
#define MSG_SENDER(m)	(((m) - 1) / MSGS)
#define MSG_SEQ(m)	(((m) - 1) % MSGS + 1)
/* The check of a record at position p (RING_REC_CHECK): never 0. */
#define CHECK(p)	((p) + 1)

/* A sender's ring: struct ring_prod (prod), struct ring_cons (cons) and
 * its one slot: the record's header (its check) and bytes. */
typedef ring {
	byte	prod;
	byte	cons;
	byte	writing;	/* ring_prod.writing (HOSTILE only) */
	byte	hdr;
	byte	data;
	byte	data2;		/* the bytes' second half (HOSTILE only) */
};
ring	rings[NSEND];

/* struct coport_bell's carrier_sent, carrier_received. */
byte	carrier_sent;
byte	carrier_received;

/* The port's datagram socket. */
chan	sock = [TOTAL] of { byte };

/* Ghosts, for the checks only. */
byte	posmsg[NSEND * MSGS];		/* message written at (s, position) */
bit	got[NSEND * MSGS];		/* message delivered */
byte	ndelivered;
byte	ndone;				/* senders done */

#if NSEND == 1
#define RING_HOLDS	(rings[0].cons != rings[0].prod)
#elif NSEND == 2
#define RING_HOLDS	(rings[0].cons != rings[0].prod || \
			 rings[1].cons != rings[1].prod)
#else
#define RING_HOLDS	(rings[0].cons != rings[0].prod || \
			 rings[1].cons != rings[1].prod || \
			 rings[2].cons != rings[2].prod)
#endif

/*
 * Receiver r's corecv() returns message m: never delivered before, and
 * after every message of its sender this receiver got before.
 */
inline deliver(m)
{
	assert(!got[m - 1]);
	got[m - 1] = 1;
	ndelivered++;
	assert(MSG_SEQ(m) > last[MSG_SENDER(m)]);
	last[MSG_SENDER(m)] = MSG_SEQ(m)
}

/*
 * carrier_put(): counted, then queued (BROKEN_COUNT_AFTER: queued, then
 * counted: a receiver may take it and count it received while another
 * message, counted, waits behind it, so that the counts are equal with
 * a message queued).
 */
inline carrier_put(m)
{
#ifdef BROKEN_COUNT_AFTER
	sock!m;
	carrier_sent++
#else
	carrier_sent++;
	sock!m
#endif
}

/*
 * A sending process: cosend() of NMSGS(s) messages.  pos is ring_prod.prod
 * (ours alone), n the message.
 */
proctype sender(byte s)
{
	byte	pos, n;

next:
	if
	:: n == NMSGS(s) -> goto done
	:: else
	fi;
	if
	:: goto socket			/* RING_LEFT at once */
	:: skip
	fi;
	/* cons != prod: a receiver scribbled on cons, the socket only
	 * (never so with honest receivers). */
	atomic {
		if
		:: rings[s].cons == pos
		:: else -> assert(HOSTILE_ON); goto socket
		fi
	}
#ifdef HOSTILE
	/* chan_put_locked(o, ..., announce): writing (a release fence
	 * after it), the header, the bytes in two halves, then prod. */
#ifndef BROKEN_NO_WRITING
	rings[s].writing = pos + 1;
#endif
	rings[s].hdr = CHECK(pos);
	rings[s].data = MSG(s, n);
	rings[s].data2 = MSG(s, n);
	atomic {
		posmsg[s * MSGS + pos] = MSG(s, n);
		rings[s].prod = pos + 1
	}
#else
	/* chan_put_locked(): the record, then prod (release).  One step:
	 * a receiver reads the slot only after it saw prod past it, or
	 * with a cons that has moved (its CAS will fail). */
	atomic {
		rings[s].hdr = CHECK(pos);
		rings[s].data = MSG(s, n);
		posmsg[s * MSGS + pos] = MSG(s, n);
		rings[s].prod = pos + 1
	}
#endif
	/* Wait for cons to move past the record, or take it back. */
	if
	:: atomic {
		rings[s].cons != pos ->		/* claimed */
		pos++; n++; goto next
	   }
#ifdef BROKEN_NO_CAS_WITHDRAW
	/* A load, then a plain store: a receiver may claim in between. */
	:: rings[s].cons == pos ->
		rings[s].cons = pos + 1;
		pos++;
		goto socket
#else
	:: atomic {
		if				/* CAS(cons, pos, pos + 1) */
		:: rings[s].cons == pos ->
			rings[s].cons = pos + 1; pos++; goto socket
		:: else ->			/* a receiver won */
			pos++; n++; goto next
		fi
	   }
#endif
	fi;
socket:
	/* memfd, seals, then carrier_put() */
	carrier_put(MSG(s, n));
	n++;
	goto next;
done:
	ndone++
}

/*
 * A receiving process: corecv() again and again.  last[s]: the sequence
 * of the last message of sender s it got (ghost).
 */
proctype receiver(byte r)
{
	byte	last[NSEND];
	byte	rx_next;		/* port_obj.rx_next */
	byte	i, k, c, p, h, d, m, ls;
	bit	always;
#ifdef HOSTILE
	bit	broken[NSEND];		/* rx_ring.broken */
#endif

look:
	/* carrier_look(always) */
#ifdef BROKEN_LOOK_FIRST
	/* The socket first, before the record is seen: what a sender
	 * queues after this look and before its next record escapes it. */
	ls = carrier_sent;
	if
	:: atomic { ls == carrier_received -> ls = 0 }
	:: else ->
		ls = 0;
		if
		:: atomic { sock?m -> deliver(m); m = 0; goto sock_taken }
		:: atomic { empty(sock) -> skip }
		fi
	fi;
#endif
	/* chan_take(): each ring once, from rx_next. */
	k = 0;
rx_take:
	atomic {
		i = (rx_next + k) % NSEND;
#ifdef HOSTILE
		if
		:: broken[i] -> goto rx_next_ring
		:: else
		fi;
#endif
		c = rings[i].cons			/* LOAD_ACQ */
	}
	atomic {
		p = rings[i].prod;			/* seq_cst */
		if
		:: c == p ->				/* EAGAIN */
rx_next_ring:
			c = 0; p = 0; i = 0; k++;
			if
			:: k < NSEND -> goto rx_take	/* the next ring */
			:: else -> k = 0; goto rx_empty
			fi
		:: p < c || p - c > 1 -> p = 0; goto rx_inconsistent
		:: else -> p = 0
		fi
	}
	atomic {
		h = rings[i].hdr;			/* ring_read(&rec) */
		if
		:: h != CHECK(c) -> h = 0; goto rx_inconsistent
		:: else -> h = 0
		fi
	}
#ifndef BROKEN_LOOK_FIRST
	/* view_get(): while the counts differ, the socket first. */
	ls = carrier_sent;				/* LOAD_ACQ */
	if
	:: atomic { ls == carrier_received -> ls = 0 }
	:: else ->
		ls = 0;
		if
		:: atomic {				/* EALREADY */
			sock?m -> deliver(m); m = 0; c = 0; i = 0; k = 0;
			goto sock_taken
		   }
		:: atomic { empty(sock) -> skip }	/* EAGAIN */
		fi
	fi;
#endif
	d = rings[i].data;				/* ring_read(to) */
#ifdef HOSTILE
	h = rings[i].data2;
	/* The seqlock's second half: after an acquire fence, writing.  A
	 * record being written beyond what the ring holds past c: the
	 * copy may be torn, drop it. */
	atomic {
		if
		:: rings[i].writing > c + 1 -> d = 0; h = 0; goto rx_inconsistent
		:: else
		fi
	}
#endif
	atomic {
		/* Claim what we copied (CAS, seq_cst). */
		if
		:: rings[i].cons == c ->
			rings[i].cons = c + 1;
#ifdef HOSTILE
			/* Whole: one message, not a mixture of two (cons
			 * may have been moved back onto it: taken before). */
			assert(d == h);
			c = 0; d = 0; h = 0; i = 0; k = 0;
			goto look
#else
			assert(d == posmsg[i * MSGS + c]);
			deliver(d);
			rx_next = (i + 1) % NSEND;
			c = 0; d = 0; i = 0; k = 0;
			goto look
#endif
		:: else ->				/* another took it */
			c = 0; d = 0;
			goto rx_take
		fi
	}
rx_inconsistent:
	/* Only if cons did not move meanwhile: else EPROTO, which an honest
	 * ring must never show (with a receiver that moves cons back: the
	 * ring is broken, and never looked at again). */
	atomic {
#ifdef HOSTILE
		if
		:: rings[i].cons == c -> broken[i] = 1; goto rx_next_ring
		:: else
		fi;
#else
		assert(rings[i].cons != c);
#endif
		c = 0;
		goto rx_take
	}
rx_empty:
	/* No record: the socket, if its counts say it may hold one, or if
	 * socket_due() (a slice since our last look: a free choice here). */
	if
	:: atomic { always -> always = 0 }
	:: atomic {
		!always ->
		ls = carrier_sent			/* LOAD_ACQ */
	   };
		if
		:: atomic { ls == carrier_received -> ls = 0; goto idle }
		:: atomic { ls == carrier_received -> ls = 0 }	/* due */
		:: else -> ls = 0
		fi
	fi;
	if
	:: atomic { sock?m -> deliver(m); m = 0; goto sock_taken }
	:: atomic { empty(sock) -> goto idle }		/* EAGAIN */
	fi;
sock_taken:
	/* carrier_take(): after recvmsg() and the mapping, the count. */
	carrier_received++;
	goto look;
idle:
	/* carrier_recv()'s sleep, until there is something to look for;
	 * with every sender gone, one look at the socket whatever the
	 * counts say (chan_settle(), then carrier_look(o, true, ...)). */
end_idle:
	if
	:: atomic { RING_HOLDS || carrier_sent != carrier_received -> skip }
	:: atomic { ndone == NSEND && len(sock) > 0 -> always = 1 }
	fi;
	goto look
}

#ifdef HOSTILE
/*
 * A receiver that moves cons back, by one record, once, whenever: onto
 * a record already taken, whose space its sender may be rewriting.  It
 * may make messages go twice or be lost (the sender takes a moved cons
 * for a claim), so the checks left are that the honest receiver never
 * claims a mixture of two messages, and that the socket's messages are
 * delivered once and in order.
 */
proctype hostile()
{
end_hostile:
	atomic { rings[0].cons > 0 -> rings[0].cons-- }
}
#endif

ltl delivered { <> (ndelivered == TOTAL) }

init {
	byte k;

	atomic {
		for (k : 0 .. NSEND - 1) {
			run sender(k)
		}
		for (k : 0 .. NRECV - 1) {
			run receiver(k)
		}
#ifdef HOSTILE
		run hostile();
#endif
		k = 0
	}
#ifdef HOSTILE
	skip
#else
	/* Every message delivered: blocked here for good is a message lost,
	 * an invalid end state. */
	ndelivered == TOTAL
#endif
}
