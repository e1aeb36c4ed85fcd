/*
 * bench/cocall's parts: the cases (cocall_cases.c, cocall_iceoryx.c), the
 * two processes of a pair and the parent's side of them (cocall_pair.c),
 * the report (cocall_report.c), the settings and the rounds (cocall.c).
 */
#ifndef COMSG_BENCH_COCALL_H
#define COMSG_BENCH_COCALL_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "comsg/cocall.h"
#include "bench.h"

#ifdef HAVE_ICEORYX
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/subscriber.h>
#endif

#define MAXMSG		COCALL_MAXLEN
#define MAXSIZES	16
#define MAXPAIRS	32
#define ICEORYX_APT	"apt-get install iceoryx libiceoryx-binding-c-dev"

enum { C_COCALL, C_COCALL_SLOW, C_PIPE, C_SOCKET, C_FUTEX, C_SPIN, C_ICEORYX,
	NCASES };
enum { P_CROSS, P_SAME, NPLACES };
enum { SERVER, CLIENT };

extern const char *const case_name[NCASES];
extern const char *const place_name[NPLACES];

/*
 * Shared between the two processes of a pair (and set up by the parent):
 * the spin and futex ping-pongs' channel, laid out like libcomsg's (each
 * side writes only its own line, 128 bytes apart), and the batch's size.
 * req_seq with PARK set tells the spin server to sleep between batches.
 */
#define PARK		0x80000000u
#define QUIT		0xffffffffu
#define RUN		0u

struct pshm {
	alignas(128) uint32_t req_seq;	/* written by the client */
	uint32_t	req_len;
	alignas(128) uint32_t rep_seq;	/* written by the server */
	uint32_t	rep_len;
	alignas(128) uint32_t size;	/* this batch's message size */
	uint32_t	ctl;		/* iceoryx server: RUN, PARK, QUIT */
	alignas(128) uint8_t req[MAXMSG];
	alignas(128) uint8_t rep[MAXMSG];
};

struct pair {
	int		 kind, place;
	bool		 live;
	int		 cpu_srv, cpu_cli;
	pid_t		 srv, cli;
	int		 cmd_w, res_r;	/* the parent's ends */
	int		 cmd_r, res_w;	/* the client's ends */
	/* pipes: client to server 0 (read end), 1; server to client 2
	 * (read end), 3.  socketpair: 0 the server's end, 1 the client's. */
	int		 fd[4];
	struct pshm	*sh;
	char		 name[64];	/* cocall target, iceoryx instance */
	void		*target;	/* cocall: the client's capability */
	uint32_t	 seq;		/* spin, futex: the last call */
#ifdef HAVE_ICEORYX
	iox_pub_storage_t pubst;
	iox_sub_storage_t subst;
	iox_pub_t	 pub;
	iox_sub_t	 sub;
#endif
};

/* What a case does in each process; setups exit the child on failure. */
struct ops {
	void	(*srv_setup)(struct pair *);
	void	(*serve)(struct pair *);	/* returns to quit */
	void	(*cli_setup)(struct pair *);
	int	(*rt)(struct pair *, size_t);	/* one round trip */
	void	(*begin)(struct pair *, size_t);	/* before a batch */
	void	(*end)(struct pair *);		/* after a batch */
	void	(*quit)(struct pair *);
};

/* cocall_cases.c, cocall_iceoryx.c: each case's ops (none: NULL). */
extern const struct ops *const ops[NCASES];
extern const struct ops iox_ops;
/* The two processes' message buffers, filled before setup. */
extern uint8_t obuf[MAXMSG], ibuf[MAXMSG];

/* Shared futexes: the words live in memory mapped by both processes. */
void	fwait(uint32_t *w, uint32_t v);
void	fwake(uint32_t *w);

/* cocall_iceoryx.c: iox-roudi, the iceoryx daemon, started and stopped
 * here; roudi_child() remembers an iceoryx process, whose leftovers
 * roudi_stop() removes. */
bool	roudi_start(void);
void	roudi_stop(void);
void	roudi_child(pid_t pid);

/* cocall.c: the settings. */
extern bool want_case[NCASES], want_place[NPLACES];
extern size_t sizes[MAXSIZES];
extern int nsizes, rounds, batch_ms, max_samples;

/* cocall_pair.c: the pairs, their samples and the clock's cost. */
extern struct pair pairs[MAXPAIRS];
extern int npairs;
extern int64_t timer_ns;

void	child_die(struct pair *p, int role, const char *what)
	    __attribute__((noreturn));
int	pair_init(struct pair *p, int kind, int place);
void	pair_kill(struct pair *p);
void	kill_pairs(void);
void	start_pairs(void);
void	stop_pairs(void);
int	results_init(void);
void	run_batch(struct pair *p, int r, int si);
int64_t	clock_cost(void);

/* Results: pooled samples, and each batch's median by round. */
struct pool {
	uint32_t	*v;
	size_t		 n, room;
};
extern struct pool pooled[NPLACES][MAXSIZES][NCASES];
double	*median_at(int round, int place, int size, int kind);
int	cmp_u32(const void *a, const void *b);
double	median_sorted(const uint32_t *v, size_t n);
uint32_t rank_sorted(const uint32_t *v, size_t n, double q);

/* cocall_report.c */
void	report(void);

#endif
