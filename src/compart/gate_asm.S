/*
 * The call gate: thunks (one per gate), the fast path for none mode, the
 * slow path that saves the arguments for the manager (gate.c), and
 * compart_invoke, which replays a saved call on a compartment's stack and
 * is where a fault inside a compartment unwinds to.  x86-64, System V.
 * Offsets are those of struct gate, struct frame, struct thr and struct
 * unwind in internal.h, checked there.
 */
#define NGATES		4096
#define G_FN		0
#define G_GATE		8
#define G_CALLEE	16
#define G_NSTACK	20
#define G_GEN		24
#define T_CUR		0
#define T_MGRSP		8
#define T_INVSP		16
#define T_TOP		32
#define T_GEN		168
#define F_XMM		48
#define F_G		112
#define F_CSP		120
#define F_NSTACK	128
#define F_FN		136
#define F_RAX		144
#define F_RDX		152
#define F_X0		160
#define F_X1		168
#define F_STACK		176
#define FRAME_SIZE	432
#define UW_PREV_INVSP	0
#define UW_PREV_MGRSP	8
#define UW_RESUME	16
#define UW_CALLER	24
#define UW_CALLER_TOP	32
#define UW_CALLER_SP	40
#define UW_SIZE		48

	.text

/* Thunk i: %r11 = &compart_gates[i]; on to the gate's path.  The argument
 * registers, %rax (vector count of variadic calls) and the stack are left
 * as the caller set them.  The thunks start on a cache line, and so the
 * paths after them keep their alignment wherever the linker puts this
 * file: an empty call's cost changed by a tenth with it. */
	.globl	compart_thunks
	.hidden	compart_thunks
	.type	compart_thunks, @function
	.balign	64
compart_thunks:
	.set	i, 0
	.rept	NGATES
	leaq	compart_gates+i*64(%rip), %r11
	jmp	*G_GATE(%r11)
	.balign	16, 0xcc
	.set	i, i+1
	.endr
	.size	compart_thunks, .-compart_thunks

/*
 * FAST_ENTER: what both fast paths do first.  Keep the callee-saved
 * registers they use (on the caller's stack), find this thread's struct
 * thr (%rbx), the callee (%rax) and its stack top on this thread (%r10);
 * go to the slow path (fast_to_slow) unless the callee has a stack here of
 * its current generation and the call has no stack arguments.  Leaves the
 * argument registers alone.
 */
	.macro	FAST_ENTER
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	compart_thr@gottpoff(%rip), %rbx
	addq	%fs:0, %rbx
	movl	G_CALLEE(%r11), %eax
	movq	T_TOP(%rbx,%rax,8), %r10
	testq	%r10, %r10
	jz	fast_to_slow		/* no stack in the callee yet */
	movl	G_GEN(%r11), %r12d
	cmpl	%r12d, T_GEN(%rbx,%rax,4)
	jne	fast_to_slow		/* a stack of an unloaded compartment */
	cmpl	$0, G_NSTACK(%r11)
	jne	fast_to_slow
	.endm

/* FAST_LEAVE: the registers FAST_ENTER kept, back (%rsp where it left it). */
	.macro	FAST_LEAVE
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	.endm

/*
 * Fast path (none mode, no statistics, no stack arguments, a stack ready
 * on this thread): switch stacks and call.  Nothing is isolated in this
 * mode, so the callee is trusted to keep the callee-saved registers that
 * carry our state across the call.
 */
	.globl	compart_gate_fast
	.hidden	compart_gate_fast
	.type	compart_gate_fast, @function
compart_gate_fast:
	FAST_ENTER			/* then %rsp is 16-byte aligned */
	movq	T_CUR(%rbx), %r12	/* caller */
	movq	T_TOP(%rbx,%r12,8), %r13 /* where its stack continued before */
	movq	%rsp, %r14
	movq	%r11, %r15
	movq	%rsp, T_TOP(%rbx,%r12,8) /* a call back into the caller goes below */
	movq	%rax, T_CUR(%rbx)
	movq	%r10, %rsp
	callq	*G_FN(%r15)
	movq	%r12, T_CUR(%rbx)
	movq	%r13, T_TOP(%rbx,%r12,8)
	movq	%r14, %rsp
	FAST_LEAVE
	ret
fast_to_slow:				/* from FAST_ENTER, either path */
	FAST_LEAVE
	jmp	compart_gate_slow
	.size	compart_gate_fast, .-compart_gate_fast

/*
 * MPK_BACK: with %rsp at compart_gate_mpk's unwind frame and %r11 the
 * thread's struct thr, put back the caller's PKRU (first: the rest of its
 * state may lie in its own memory), then the thread state the frame
 * saved.  Leaves the caller's index in %r10; uses %rax %rcx %rdx.
 */
	.macro	MPK_BACK
	movq	UW_CALLER(%rsp), %r10
	leaq	compart_pkru(%rip), %rax
	movl	(%rax,%r10,4), %eax
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	wrpkru
	movq	%r10, T_CUR(%r11)
	movq	UW_CALLER_TOP(%rsp), %rcx
	movq	%rcx, T_TOP(%r11,%r10,8)
	movq	UW_PREV_MGRSP(%rsp), %rcx
	movq	%rcx, T_MGRSP(%r11)
	movq	UW_PREV_INVSP(%rsp), %rcx
	movq	%rcx, T_INVSP(%r11)
	.endm
/*
 * Fast path in mpk mode (no statistics, no stack arguments, a stack ready
 * on this thread): the none-mode switch, plus the PKRU, plus an unwind
 * frame so that a fault in the callee comes back here.  The callee is not
 * trusted with any register, nor with %rsp: after it returns, everything
 * is found again from the thread state and the unwind frame, which lie in
 * host memory (key 0, reachable under any compartment's PKRU; not
 * protected from compartments, see docs/compartments.md).  The caller's
 * callee-saved registers are kept on the caller's own stack, which the
 * callee cannot reach; they are read back only after the caller's PKRU is
 * in force again.
 */
	.globl	compart_gate_mpk
	.hidden	compart_gate_mpk
	.type	compart_gate_mpk, @function
compart_gate_mpk:
	FAST_ENTER
	/* The unwind frame goes below the innermost one, or below this
	 * stack if there is none (the host calls: this is the host stack). */
	movq	T_MGRSP(%rbx), %r13
	testq	%r13, %r13
	cmovzq	%rsp, %r13
	subq	$UW_SIZE, %r13
	andq	$-16, %r13
	movq	T_INVSP(%rbx), %r14
	movq	%r14, UW_PREV_INVSP(%r13)
	movq	T_MGRSP(%rbx), %r14
	movq	%r14, UW_PREV_MGRSP(%r13)
	leaq	compart_gate_mpk_fault(%rip), %r14
	movq	%r14, UW_RESUME(%r13)
	movq	T_CUR(%rbx), %r12	/* the caller */
	movq	%r12, UW_CALLER(%r13)
	movq	T_TOP(%rbx,%r12,8), %r14
	movq	%r14, UW_CALLER_TOP(%r13)
	movq	%rsp, UW_CALLER_SP(%r13)
	movq	%rsp, T_TOP(%rbx,%r12,8) /* a call back into the caller goes below */
	movq	%r13, T_MGRSP(%rbx)
	movq	%r13, T_INVSP(%rbx)
	movq	%rax, T_CUR(%rbx)
	/* PKRU := the callee's.  WRPKRU writes %eax and needs %ecx = %edx =
	 * 0: two argument registers wait in %r14, %r15. */
	movq	%rcx, %r14
	movq	%rdx, %r15
	leaq	compart_pkru(%rip), %rcx
	movl	(%rcx,%rax,4), %eax
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	wrpkru
	movq	%r14, %rcx
	movq	%r15, %rdx
	movq	%r10, %rsp
	movl	$8, %eax		/* as for a variadic callee */
	callq	*G_FN(%r11)
	cld
	movq	compart_thr@gottpoff(%rip), %r11
	addq	%fs:0, %r11
	movq	T_INVSP(%r11), %rsp
	movq	%rax, %r8		/* the results: %rax %rdx %xmm0 %xmm1 */
	movq	%rdx, %r9
	MPK_BACK
	movq	%r8, %rax
	movq	%r9, %rdx
2:	movq	UW_CALLER_SP(%rsp), %rsp	/* back on the caller's stack */
	FAST_LEAVE
	ret

/* A fault in the callee: the SIGSEGV handler resumes here with %rsp at
 * the unwind frame and the callee's PKRU.  The callee's allocator lock
 * if it held it (heap_fault_unlock), back to the caller's state, report
 * (gate_fault: the violation, EFAULT for the caller), and return -1 (and
 * NaN) to the caller. */
compart_gate_mpk_fault:
	cld
	movq	compart_thr@gottpoff(%rip), %r11
	addq	%fs:0, %r11
	movl	T_CUR(%r11), %edi
	callq	heap_fault_unlock	/* under the callee's PKRU still */
	movq	compart_thr@gottpoff(%rip), %r11
	addq	%fs:0, %r11
	MPK_BACK
	movq	%r10, %rdi
	callq	gate_fault		/* %rsp is the 16-byte aligned frame */
	movq	$-1, %rax
	xorl	%edx, %edx
	pcmpeqd	%xmm0, %xmm0		/* all ones: a NaN */
	movapd	%xmm0, %xmm1
	jmp	2b
	.size	compart_gate_mpk, .-compart_gate_mpk

/*
 * Slow path: save the arguments in a struct frame on the manager's stack
 * (the host stack below the innermost compart_invoke, or the caller's
 * stack when the host calls), and let gate_enter() do the call; then
 * return its results.  The caller's stack arguments start at 8(%rsp).
 */
	.globl	compart_gate_slow
	.hidden	compart_gate_slow
	.type	compart_gate_slow, @function
compart_gate_slow:
	movq	compart_thr@gottpoff(%rip), %r10
	addq	%fs:0, %r10
	movq	T_MGRSP(%r10), %rax
	testq	%rax, %rax
	jnz	1f
	movq	%rsp, %rax
1:	subq	$FRAME_SIZE+16, %rax
	andq	$-16, %rax
	movq	%rdi, 0(%rax)
	movq	%rsi, 8(%rax)
	movq	%rdx, 16(%rax)
	movq	%rcx, 24(%rax)
	movq	%r8, 32(%rax)
	movq	%r9, 40(%rax)
	movsd	%xmm0, F_XMM+0(%rax)
	movsd	%xmm1, F_XMM+8(%rax)
	movsd	%xmm2, F_XMM+16(%rax)
	movsd	%xmm3, F_XMM+24(%rax)
	movsd	%xmm4, F_XMM+32(%rax)
	movsd	%xmm5, F_XMM+40(%rax)
	movsd	%xmm6, F_XMM+48(%rax)
	movsd	%xmm7, F_XMM+56(%rax)
	movq	%r11, F_G(%rax)
	movq	%rsp, F_CSP(%rax)
	movq	%rax, %rsp
	movq	%rsp, %rdi
	callq	gate_enter
	movq	F_RAX(%rsp), %rax
	movq	F_RDX(%rsp), %rdx
	movsd	F_X0(%rsp), %xmm0
	movsd	F_X1(%rsp), %xmm1
	movq	F_CSP(%rsp), %rsp
	ret
	.size	compart_gate_slow, .-compart_gate_slow

/*
 * int compart_invoke(struct frame *f, uint64_t newsp): call f->fn with
 * the registers and stack arguments saved in f, on the stack at newsp (0:
 * this one); store its results in f; return 0.  If the callee faults, the
 * SIGSEGV handler resumes at compart_invoke_fault (the frame's resume)
 * with %rsp at the unwind frame, and 1 is returned.  The callee is not trusted with any register:
 * everything is found again from the thread state.
 */
	.globl	compart_invoke
	.hidden	compart_invoke
	.type	compart_invoke, @function
compart_invoke:
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	pushq	%rdi			/* the frame, at inv_sp + 24 */
	leaq	compart_invoke_fault(%rip), %rax
	pushq	%rax			/* the unwind frame (struct unwind) */
	movq	compart_thr@gottpoff(%rip), %r12
	addq	%fs:0, %r12
	pushq	T_MGRSP(%r12)
	pushq	T_INVSP(%r12)		/* %rsp is 16-byte aligned */
	movq	%rsp, T_MGRSP(%r12)
	movq	%rsp, T_INVSP(%r12)
	movq	%rdi, %rbx
	testq	%rsi, %rsi
	jz	2f
	movq	%rsi, %rsp
2:	movq	F_NSTACK(%rbx), %rcx
	leaq	15(%rcx), %rax
	andq	$-16, %rax
	subq	%rax, %rsp
	xorl	%eax, %eax
3:	cmpq	%rcx, %rax
	jae	4f
	movq	F_STACK(%rbx,%rax), %rdx
	movq	%rdx, (%rsp,%rax)
	addq	$8, %rax
	jmp	3b
4:	movsd	F_XMM+0(%rbx), %xmm0
	movsd	F_XMM+8(%rbx), %xmm1
	movsd	F_XMM+16(%rbx), %xmm2
	movsd	F_XMM+24(%rbx), %xmm3
	movsd	F_XMM+32(%rbx), %xmm4
	movsd	F_XMM+40(%rbx), %xmm5
	movsd	F_XMM+48(%rbx), %xmm6
	movsd	F_XMM+56(%rbx), %xmm7
	movq	F_FN(%rbx), %r11
	movq	0(%rbx), %rdi
	movq	8(%rbx), %rsi
	movq	16(%rbx), %rdx
	movq	24(%rbx), %rcx
	movq	32(%rbx), %r8
	movq	40(%rbx), %r9
	movl	$8, %eax
	callq	*%r11
	movq	compart_thr@gottpoff(%rip), %r12
	addq	%fs:0, %r12
	movq	T_INVSP(%r12), %rsp
	movq	24(%rsp), %rbx
	movq	%rax, F_RAX(%rbx)
	movq	%rdx, F_RDX(%rbx)
	movsd	%xmm0, F_X0(%rbx)
	movsd	%xmm1, F_X1(%rbx)
	xorl	%eax, %eax
5:	movq	compart_thr@gottpoff(%rip), %r12
	addq	%fs:0, %r12
	popq	T_INVSP(%r12)
	popq	T_MGRSP(%r12)
	addq	$8, %rsp		/* resume */
	popq	%rdi
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret

compart_invoke_fault:
	cld
	movl	$1, %eax
	jmp	5b
	.size	compart_invoke, .-compart_invoke

	.section .note.GNU-stack,"",@progbits
