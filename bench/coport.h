/*
 * bench/coport's parts: the two processes of a pair (coport_child.c), the
 * parent's side of them (coport_pair.c), the report and the data for
 * plots (coport_report.c), the settings and the rounds (coport.c).
 */
#ifndef COMSG_BENCH_COPORT_H
#define COMSG_BENCH_COPORT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "comsg/coport.h"
#include "bench.h"

#define MAXSIZES	32
#define MAXSIZE		(64u << 20)	/* largest -s size */
#define MEMCPY_SIZE	(1u << 20)
#define MB		1e6		/* MB/s: 10^6 bytes per second */

enum { C_CHANNEL, C_CARRIER, C_COPIPE, C_PIPE, C_SOCKET, C_RAWRING, NCASES };
#define C_MEMCPY	NCASES		/* a process of its own, no pair */
#define NKINDS		(NCASES + 1)
/* The ping-pong pair of case k is pairs[PP(k)]: its own processes and
 * ports; its results are round-trip times, at the same index. */
#define PP(k)		(NKINDS + (k))
#define NPAIRS		(NKINDS + NCASES)
/* In a ping-pong pair, SENDER starts each round trip, RECEIVER answers. */
enum { SENDER, RECEIVER };

extern const char *const case_name[NKINDS];

/* Shared by the two processes of a streaming pair: the receiver tells the
 * sender to stop (and the sender then sends one last message, marked). */
struct pshm {
	alignas(128) uint32_t stop;
};

/*
 * The yardstick for COCHANNEL: the bare ring, as fast as shared memory
 * goes between these two CPUs.  One sender, one receiver, both spinning
 * (never sleeping), no handles, no locks, no checks; records as in a
 * COCHANNEL ring (8-byte header, bytes padded to 8), of the same size.
 * Ping-pong: two of them, one each way.
 */
struct rawring {
	alignas(128) uint64_t prod;
	alignas(128) uint64_t cons;
	alignas(128) uint8_t data[];	/* COCHANNEL_MAXSIZE */
};

/*
 * A pair of processes.  Its messages go forth, from SENDER to RECEIVER;
 * in a ping-pong pair the answers come back the other way, through the
 * back pipe, ring or ports (the socket's back is the same socketpair,
 * the other way: back[] are duplicates of its ends).
 */
struct pair {
	int		 kind;
	bool		 pp;		/* ping-pong */
	bool		 live;
	pid_t		 pid[2];	/* SENDER, RECEIVER */
	int		 cmd_w[2], res_r[2];	/* the parent's ends */
	int		 cmd_r[2], res_w[2];	/* the children's ends */
	int		 fd[2];		/* pipe: 0 read, 1 write; socket: 0, 1 */
	int		 back[2];	/* ping-pong: the same, the other way */
	struct pshm	*sh;
	struct rawring	*raw, *raw_back;	/* C_RAWRING */
	/* In the children: the ports (cochannel: one per size). */
	coport_t	 port[MAXSIZES], port_back[MAXSIZES];
};

/* Parent -> child: run a batch; child -> parent: what it measured. */
struct cmd {
	uint64_t	size, count;
	int64_t		time_ns;
	int32_t		si, pad;
};
struct res {
	int64_t		n, ns;		/* messages (copies) and time measured */
	int32_t		err;		/* 0, or it failed: what says how */
	char		what[200];
};

/* The COCHANNEL ring for messages of len bytes: room for four, at least
 * 4096, a power of two, at most COCHANNEL_MAXSIZE; a message takes its
 * length rounded up to 8, plus 8.  Inline: the raw ring sizes itself with
 * it at each message. */
static inline size_t
ring_for(size_t len)
{
	size_t want = 4 * (len + 16), r = 4096;

	while (r < want && r < COCHANNEL_MAXSIZE)
		r *= 2;
	return r;
}

static inline bool
ring_fits(size_t len)
{
	return 8 + ((len + 7) & ~(size_t)7) <= ring_for(len);
}

/* coport.c: the settings. */
extern bool want_case[NCASES], want_stream, want_pp;
extern size_t sizes[MAXSIZES], maxsize;
extern int nsizes, rounds, batch_ms;
extern uint64_t batch_count;		/* -n: messages per batch, not time */
extern const char *datafile;

/* coport_child.c */
pid_t	spawn(struct pair *p, int role, int *readyp);

/* coport_pair.c: the pairs (ping-pong ones at PP(k)) and their figures:
 * messages (memcpy: copies) per second, by round, size, pair; for a
 * ping-pong pair nanoseconds per round trip; 0 where there is none.
 * memcpy sits at size index 0. */
extern struct pair pairs[NPAIRS];
int	pair_init(struct pair *p, int kind, bool pp);
void	pair_kill(struct pair *p);
void	kill_pairs(void);
void	start_pairs(void);
void	stop_pairs(void);
bool	runs_at(int kind, size_t len);
int	rates_init(void);
double	*rate_at(int round, int si, int kind);
void	run_batch(struct pair *p, int r, int si);

/* coport_report.c */
const char *size_str(size_t n, char *buf, size_t room);
void	note_missing_targets(void);
void	report(int64_t elapsed_ms);
void	write_data(void);
const char *default_datafile(void);

#endif
