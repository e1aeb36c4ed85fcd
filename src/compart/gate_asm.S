/*
 * The call gate: thunks (one per gate), the fast path for none mode, the
 * slow path that saves the arguments for the manager (gate.c), and
 * compart_invoke, which replays a saved call on a compartment's stack and
 * is where a fault inside a compartment unwinds to.  x86-64, System V.
 * Offsets are those of struct gate, struct frame and struct thr in
 * internal.h, checked there.
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

	.text

/* Thunk i: %r11 = &compart_gates[i]; on to the gate's path.  The argument
 * registers, %rax (vector count of variadic calls) and the stack are left
 * as the caller set them. */
	.globl	compart_thunks
	.hidden	compart_thunks
	.type	compart_thunks, @function
	.balign	16
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
 * Fast path (none mode, no statistics, no stack arguments, a stack ready
 * on this thread): switch stacks and call.  Nothing is isolated in this
 * mode, so the callee is trusted to keep the callee-saved registers that
 * carry our state across the call.
 */
	.globl	compart_gate_fast
	.hidden	compart_gate_fast
	.type	compart_gate_fast, @function
compart_gate_fast:
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15			/* %rsp is 16-byte aligned */
	movq	compart_thr@gottpoff(%rip), %rbx
	addq	%fs:0, %rbx		/* %rbx = this thread's struct thr */
	movl	G_CALLEE(%r11), %eax
	movq	T_TOP(%rbx,%rax,8), %r10
	testq	%r10, %r10
	jz	1f			/* no stack in the callee yet */
	movl	G_GEN(%r11), %r12d
	cmpl	%r12d, T_GEN(%rbx,%rax,4)
	jne	1f			/* a stack of an unloaded compartment */
	cmpl	$0, G_NSTACK(%r11)
	jne	1f
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
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	ret
1:	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	jmp	compart_gate_slow
	.size	compart_gate_fast, .-compart_gate_fast

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
 * SIGSEGV handler resumes at compart_invoke_fault with %rsp at the saved
 * inv_sp, and 1 is returned.  The callee is not trusted with any register:
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
	pushq	%rdi			/* the frame, at inv_sp + 16 */
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
	movq	16(%rsp), %rbx
	movq	%rax, F_RAX(%rbx)
	movq	%rdx, F_RDX(%rbx)
	movsd	%xmm0, F_X0(%rbx)
	movsd	%xmm1, F_X1(%rbx)
	xorl	%eax, %eax
5:	movq	compart_thr@gottpoff(%rip), %r12
	addq	%fs:0, %r12
	popq	T_INVSP(%r12)
	popq	T_MGRSP(%r12)
	popq	%rdi
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret

	.globl	compart_invoke_fault
	.hidden	compart_invoke_fault
compart_invoke_fault:
	cld
	movl	$1, %eax
	jmp	5b
	.size	compart_invoke, .-compart_invoke

	.section .note.GNU-stack,"",@progbits
