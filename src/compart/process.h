/*
 * Process placement's wire formats: what the host (process.c) and the
 * compartment's process (comsg-compart, proc_main.c) say to each other.
 * At start, on the socket the process finds as descriptor PROC_FD: the
 * host's struct pm_setup (with the declared entry points after it), the
 * process's struct pm_hello, its target (capsend), its entry list
 * ("name\0sig\0" each).  Then calls: a struct pm_req by cocall, a struct
 * pm_rep back.  Every field is read by the other side as untrusted.
 */
#ifndef COMPART_PROCESS_H
#define COMPART_PROCESS_H

#include <limits.h>
#include <stdint.h>

#include "comsg/cocall.h"

/* OP_MAP: gp[0], gp[1] the address and length of window memory whose
 * memfd was just sent on the socket; OP_UNMAP: the same, to let go. */
enum { OP_CALL = 1, OP_POLICY, OP_EXIT, OP_MAP, OP_UNMAP };

struct pm_req {
	uint32_t	 op;
	uint32_t	 entry;		/* OP_CALL: index; OP_POLICY: action */
	uint32_t	 nstack;
	uint32_t	 pad;
	uint64_t	 gp[6];
	double		 xmm[8];
	uint64_t	 stack[MAXSTACKARGS];
	char		 arg[64];	/* OP_POLICY: what */
};

struct pm_rep {
	int32_t		 status;	/* 0, or -1 with err */
	int32_t		 err;
	uint64_t	 rax, rdx;
	double		 x0, x1;
};

struct pm_hello {
	int32_t		 err;
	char		 msg[252];
};

#define LIST_MAX	COCALL_MAXLEN

/*
 * The first message to the compartment's process, with the window
 * arena's memfd attached: what to load and how, where the arena goes;
 * then the entry points declared by the host ("name:sig\0" each,
 * ndeclared of them) up to the message's end.
 */
#define PM_MAGIC	0x31706d63	/* "cmp1" */
struct pm_setup {
	uint32_t	 magic;
	uint32_t	 ndeclared;
	uint64_t	 heap_size, stack_size;
	uint64_t	 arena, arena_size;
	char		 name[64];
	char		 path[PATH_MAX];
};
#define SETUP_MAX	(sizeof(struct pm_setup) + LIST_MAX)
#define PROC_FD		3	/* the socket, in comsg-compart */
#define PROC_LOG_FD	4	/* where COMPART_LOG lines go */

#endif
