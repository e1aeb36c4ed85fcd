/*
 * COCARRIER's bounds on queued bytes.  A message waiting in a port's
 * queue pins its whole memfd, and the kernel bounds a datagram queue in
 * messages only, so a sending process bounds the bytes it has waiting:
 * in each port (the state page's queue_max, which only comsgd writes),
 * and in all the ports it sends on together (COMSG_CARRIER_BYTES).
 *
 * Each attachment that sent keeps a record: the port (its socket's inode),
 * bytes being sent, and bytes sent that may still wait; a port's bound is
 * on the sum of its records (other attachments of ours, closed ones whose
 * messages still wait).  The second is an upper bound, brought to 0
 * when the kernel says our socket has nothing queued any more (SIOCOUTQ:
 * a datagram is charged to its sender's socket until a receiver takes
 * it), which we ask only when a bound would be passed.  So a sender that
 * reaches a bound while receivers keep up waits until its queue drains.
 * The record outlives a closed attachment, keeping its socket, until its
 * messages are taken: closing does not free room.
 *
 * Only this process's own state and the kernel's word count: no holder
 * of the port can spoil them.  Nothing here binds a sender that does not
 * use this library, which can queue on the socket directly: the bounds
 * keep honest and runaway programs from pinning memory without end, not
 * hostile ones.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "coport_int.h"

struct carrier_acct {
	struct carrier_acct *next;
	struct port_obj	*obj;		/* NULL once its attachment closed */
	int		 sock;		/* then: its socket, until drained */
	dev_t		 dev;		/* the port: its socket's file */
	ino_t		 ino;
	uint64_t	 sending;	/* room taken, not queued yet */
	uint64_t	 sent;		/* queued, maybe not taken yet */
};

static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct carrier_acct *accts;
static uint64_t used;			/* sum of sending + sent */
static uint64_t limit;			/* 0 until read */

/* COMSG_CARRIER_BYTES: a number of bytes, with K, M or G after it. */
static uint64_t
limit_get(void)
{
	const char *s;
	char *end;
	unsigned long long v;

	if (limit != 0)
		return limit;
	limit = COCARRIER_PROCESS;
	if ((s = getenv("COMSG_CARRIER_BYTES")) == NULL || !isdigit(*s))
		return limit;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return limit;
	switch (*end) {
	case 'G': v = v > UINT64_MAX >> 30 ? 0 : v << 30; end++; break;
	case 'M': v = v > UINT64_MAX >> 20 ? 0 : v << 20; end++; break;
	case 'K': v = v > UINT64_MAX >> 10 ? 0 : v << 10; end++; break;
	}
	if (*end == '\0' && v != 0)
		limit = v;
	return limit;
}

/* Forget what a's socket no longer has queued.  Under acct_lock. */
static void
acct_refresh(struct carrier_acct *a)
{
	int sock = a->obj != NULL ? a->obj->put_sock : a->sock, queued;

	if (a->sent > 0 && sock >= 0 && sys_ioctl(sock, SIOCOUTQ, &queued) == 0 &&
	    queued == 0) {
		used -= a->sent;
		a->sent = 0;
	}
}

/* Refresh every record; drop those of closed attachments that are
 * drained. */
static void
acct_refresh_all(void)
{
	for (struct carrier_acct **pp = &accts, *a; (a = *pp) != NULL;) {
		acct_refresh(a);
		if (a->obj == NULL && a->sent == 0) {
			if (a->sock >= 0)
				sys_close(a->sock);
			*pp = a->next;
			free(a);
		} else {
			pp = &a->next;
		}
	}
}

/* Bytes this process has waiting in a's port, every record of it
 * together.  Under acct_lock. */
static uint64_t
port_used(const struct carrier_acct *a)
{
	uint64_t n = 0;

	for (const struct carrier_acct *b = accts; b != NULL; b = b->next)
		if (b->dev == a->dev && b->ino == a->ino)
			n += b->sending + b->sent;
	return n;
}

int
carrier_fits(struct port_obj *o, size_t len)
{
	uint64_t max = LOAD_RLX(&o->state->queue_max);

	if ((max != 0 && len > max) || len > limit_get()) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
carrier_reserve(struct port_obj *o, size_t len)
{
	uint64_t max = LOAD_RLX(&o->state->queue_max);
	struct carrier_acct *a;

	pthread_mutex_lock(&acct_lock);
	if ((a = o->acct) == NULL) {
		struct stat st;

		if (sys_fstat(o->path_fd, &st) < 0 ||
		    (a = calloc(1, sizeof(*a))) == NULL) {
			pthread_mutex_unlock(&acct_lock);
			return -1;
		}
		a->obj = o;
		a->sock = -1;
		a->dev = st.st_dev;
		a->ino = st.st_ino;
		a->next = accts;
		accts = a;
		o->acct = a;
	}
	if (max != 0 && port_used(a) + len > max)
		acct_refresh_all();
	if (max != 0 && port_used(a) + len > max)
		goto full;
	if (used + len > limit_get())
		acct_refresh_all();
	if (used + len > limit_get())
		goto full;
	a->sending += len;
	used += len;
	pthread_mutex_unlock(&acct_lock);
	return 0;
full:
	pthread_mutex_unlock(&acct_lock);
	errno = EAGAIN;
	return -1;
}

void
carrier_unreserve(struct port_obj *o, size_t len)
{
	pthread_mutex_lock(&acct_lock);
	o->acct->sending -= len;
	used -= len;
	pthread_mutex_unlock(&acct_lock);
}

void
carrier_queued(struct port_obj *o, size_t len)
{
	pthread_mutex_lock(&acct_lock);
	o->acct->sending -= len;
	o->acct->sent += len;
	pthread_mutex_unlock(&acct_lock);
}

void
carrier_forget(struct port_obj *o)
{
	struct carrier_acct *a = o->acct;

	if (a == NULL)
		return;
	pthread_mutex_lock(&acct_lock);
	acct_refresh(a);
	/* Its messages still wait: they count until taken, which its
	 * socket will tell. */
	a->obj = NULL;
	if (a->sent > 0 && o->put_sock >= 0) {
		a->sock = o->put_sock;
		o->put_sock = -1;
	} else {
		used -= a->sent;
		a->sent = 0;
	}
	o->acct = NULL;
	acct_refresh_all();
	pthread_mutex_unlock(&acct_lock);
}

void carrier_accts_lock(void) { pthread_mutex_lock(&acct_lock); }
void carrier_accts_unlock(void) { pthread_mutex_unlock(&acct_lock); }

void
carrier_atfork_child(void)
{
	/* What the parent queued is the parent's to count. */
	while (accts != NULL) {
		struct carrier_acct *a = accts;

		accts = a->next;
		if (a->obj != NULL)
			a->obj->acct = NULL;
		if (a->sock >= 0)
			sys_close(a->sock);
		free(a);
	}
	used = 0;
}
