/* Once set up, COCHANNEL and COPIPE cosend/corecv between two processes and uncontended colock/counlock make no system call but futex and a sleeping COCHANNEL receiver's membarrier (seccomp). */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include "coport_test.h"

#define ROUNDS	50000

/* Allowed: futex (sleep and wake), the membarrier a receiver makes
 * before it sleeps (cochannel.c: its senders publish without a fence),
 * and exit. */
static void
only_futex_and_exit(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0);
}

/* Leave without the exit path of libc or a sanitizer, which make system
 * calls of their own (see cocall_seccomp.c). */
static int
quit(int code)
{
	syscall(SYS_exit_group, code);
	return code;
}

/* ready[i]: side i has made its ring (each says so to the other). */
static struct t_gate ready[2];
static coport_type_t kind;

/*
 * Ping-pong: side 0 sends i on "ping" and waits for i + 1 on "pong"; side
 * 1 answers.  Each side also takes its own comutex around each round.
 */
static int
side(void *arg)
{
	int me = (int)(intptr_t)arg;
	coport_t ping, pong, out, in;
	comutex_t m;
	uint64_t v = 0, w;
	void *buf = &w;

	CHECK(coopen(kind == COPIPE ? "pipe-ping" : "ping", kind, &ping) == 0);
	CHECK(coopen(kind == COPIPE ? "pipe-pong" : "pong", kind, &pong) == 0);
	out = me == 0 ? ping : pong;
	in = me == 0 ? pong : ping;
	CHECK(comutex_init(me == 0 ? "mutex-0" : "mutex-1", &m) == 0);
	/* Setup, system calls allowed: the comutex's first use; COCHANNEL:
	 * our ring (made by our first cosend), the other's ring (fetched by
	 * our first corecv).  Both rings exist before either side first
	 * receives, so that neither finds the set of rings changed later
	 * (which would send it to comsgd for the new list: not steady
	 * state).  COPIPE: the pair of each direction, made by its receiver
	 * and taken by its sender in a first round trip (a rendezvous: one
	 * side sends first). */
	CHECK(colock(&m) == 0 && counlock(&m) == 0);
	v = (uint64_t)me;
	if (kind == COPIPE && me == 1)
		CHECK(corecv(in, &buf, sizeof(w)) == sizeof(w) && w == 0);
	CHECK(cosend(out, &v, sizeof(v)) == sizeof(v));
	if (kind != COPIPE) {
		t_gate_open(&ready[me]);
		t_gate_wait(&ready[1 - me]);
	}
	if (kind != COPIPE || me == 0)
		CHECK(corecv(in, &buf, sizeof(w)) == sizeof(w) &&
		    w == (uint64_t)(1 - me));
	only_futex_and_exit();
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		if (colock(&m) != 0)
			return quit(2);
		if (me == 0) {
			v = 2 * i;
			if (cosend(out, &v, sizeof(v)) != sizeof(v))
				return quit(3);
			if (corecv(in, &buf, sizeof(w)) != sizeof(w) || w != v + 1)
				return quit(4);
		} else {
			if (corecv(in, &buf, sizeof(w)) != sizeof(w) || w != 2 * i)
				return quit(5);
			w++;
			if (cosend(out, &w, sizeof(w)) != sizeof(w))
				return quit(6);
		}
		if (counlock(&m) != 0)
			return quit(7);
	}
	/* COCHANNEL, messages that come late: the receiver spins out its
	 * budget (30 us) and sleeps, calling membarrier first, then is
	 * woken.  The sender waits 200000 pauses first (a millisecond or
	 * more; no clock: it may be a system call). */
	for (uint64_t i = 0; kind == COCHANNEL && i < 20; i++) {
		if (me == 0) {
			for (int k = 0; k < 200000; k++)
				__builtin_ia32_pause();
			if (cosend(out, &i, sizeof(i)) != sizeof(i))
				return quit(10);
		} else if (corecv(in, &buf, sizeof(w)) != sizeof(w) || w != i) {
			return quit(11);
		}
	}
	/* A burst the other side has to drain: the ring fills and the
	 * sender sleeps on the bell (COPIPE: each message waits for the
	 * receiver, which sleeps when the sender is late). */
	for (uint64_t i = 0; i < 20 * ROUNDS / 10; i++) {
		if (me == 0 && cosend(out, &i, sizeof(i)) != sizeof(i))
			return quit(8);
		if (me == 1 && (corecv(in, &buf, sizeof(w)) != sizeof(w) || w != i))
			return quit(9);
	}
	return quit(0);
}

int
main(void)
{
	static const coport_type_t kinds[] = { COCHANNEL, COPIPE };

#ifndef __x86_64__
	printf("seccomp filter written for x86_64 only\n");
	return T_SKIP;
#endif
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int64_t t0 = t_now_ns();
		pid_t a, b;
		int ra, rb;

		kind = kinds[k];
		t_gate_init(&ready[0]);
		t_gate_init(&ready[1]);
		a = t_spawn(side, (void *)0);
		b = t_spawn(side, (void *)1);
		ra = t_wait(a);
		rb = t_wait(b);
		if (ra == 128 + SIGSYS || rb == 128 + SIGSYS)
			fprintf(stderr, "%s: side %d made a system call other "
			    "than futex or membarrier\n",
			    kind == COPIPE ? "COPIPE" : "COCHANNEL",
			    ra == 128 + SIGSYS ? 0 : 1);
		fprintf(stderr, "%s: %d round trips and %d streamed: %d %d, "
		    "%.2f s\n", kind == COPIPE ? "COPIPE" : "COCHANNEL", ROUNDS,
		    2 * ROUNDS, ra, rb, (double)(t_now_ns() - t0) / 1e9);
		CHECK(ra == 0);
		CHECK(rb == 0);
	}
	return T_PASS;
}
