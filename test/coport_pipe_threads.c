/* COPIPE with threads: two sender threads on one opening and a sender process, two receiver threads on one opening (one blocking, one through copoll), views held across calls and freed by a third thread: every message once, in its sender's order, and a view never changes while held. */
#include "coport_test.h"

#include <pthread.h>

#define M		3000	/* messages per sender */
#define NSEND		3	/* two threads of one process, and another */
#define MAXDATA		3000
#define HELD		16	/* views the freeing thread keeps */

struct tmsg {
	uint32_t	sender;
	uint32_t	seq;
	uint32_t	len;
	uint32_t	sum;
	uint8_t		data[MAXDATA];
};

static uint32_t
msg_sum(const struct tmsg *m)
{
	uint32_t h = 2166136261u ^ m->sender ^ (m->seq << 8);

	for (uint32_t i = 0; i < m->len; i++)
		h = (h ^ m->data[i]) * 16777619u;
	return h;
}

static size_t
make_msg(struct tmsg *m, uint32_t sender, uint32_t seq)
{
	m->sender = sender;
	m->seq = seq;
	m->len = (seq * 389 + sender * 1000) % MAXDATA;
	for (uint32_t i = 0; i < m->len; i++)
		m->data[i] = (uint8_t)(seq * 5 + i + sender);
	m->sum = msg_sum(m);
	return 16 + m->len;
}

/* ---- senders ---- */

static struct t_gate opened;	/* a sender holds the port */

struct sarg {
	coport_t	port;
	uint32_t	id;
};

static void *
send_all(void *arg)
{
	struct sarg *a = arg;
	struct tmsg m;

	for (uint32_t i = 0; i < M; i++) {
		size_t len = make_msg(&m, a->id, i);

		CHECK(cosend(a->port, &m, len) == (ssize_t)len);
	}
	return NULL;
}

static int
two_threads(void *arg)
{
	struct sarg a[2];
	pthread_t t;
	coport_t full;

	(void)arg;
	CHECK(coopen("threads", COPIPE, &full) == 0);
	a[0].port = a[1].port = t_narrow(full, COPORT_PERM_SEND);
	CHECK(coclose(full) == 0);
	t_gate_open(&opened);
	a[0].id = 0;
	a[1].id = 1;
	CHECK(pthread_create(&t, NULL, send_all, &a[1]) == 0);
	send_all(&a[0]);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(coclose(a[0].port) == 0);
	return T_PASS;
}

static int
one_thread(void *arg)
{
	struct sarg a = { .id = 2 };
	coport_t full;

	(void)arg;
	CHECK(coopen("threads", COPIPE, &full) == 0);
	a.port = t_narrow(full, COPORT_PERM_SEND);
	CHECK(coclose(full) == 0);
	t_gate_open(&opened);
	send_all(&a);
	CHECK(coclose(a.port) == 0);
	return T_PASS;
}

/* ---- receivers ---- */

static coport_t rx;
static uint8_t got[NSEND][M];
static uint32_t received;

/* Views handed to the freeing thread, with the sum they had. */
static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	struct tmsg	*v[4 * HELD];
	int		n;
	bool		done;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0,
    false };

static bool
intact(const struct tmsg *m, ssize_t n)
{
	return n >= 16 && m->sender < NSEND && m->seq < M &&
	    m->len == (size_t)n - 16 && m->sum == msg_sum(m);
}

/* A view received: check it, count it, hand it over. */
static void
took(struct tmsg *m, ssize_t n, uint32_t *last)
{
	if (!intact(m, n)) {
		fprintf(stderr, "a broken message (%zd bytes)\n", n);
		t_fail();
	}
	if (__atomic_exchange_n(&got[m->sender][m->seq], 1, __ATOMIC_RELAXED)) {
		fprintf(stderr, "message %u of %u twice\n", m->seq, m->sender);
		t_fail();
	}
	/* this thread's messages of one sender come in its order */
	CHECK(last[m->sender] == UINT32_MAX || m->seq > last[m->sender]);
	last[m->sender] = m->seq;
	__atomic_add_fetch(&received, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&q.lock);
	while (q.n == (int)(sizeof(q.v) / sizeof(q.v[0])))
		pthread_cond_wait(&q.cond, &q.lock);
	q.v[q.n++] = m;
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
}

static void *
blocking_receiver(void *arg)
{
	uint32_t last[NSEND];

	(void)arg;
	memset(last, 0xff, sizeof(last));
	for (;;) {
		void *b = NULL;
		ssize_t n = corecv(rx, &b, sizeof(struct tmsg));

		if (n < 0) {
			CHECK(errno == EPIPE);
			return NULL;
		}
		took(b, n, last);
	}
}

/* copoll, then a non-blocking corecv through a handle of its own. */
static void *
polling_receiver(void *arg)
{
	coport_t h = arg;
	uint32_t last[NSEND];

	memset(last, 0xff, sizeof(last));
	for (;;) {
		pollcoport_t pc = make_pollcoport(h, COPOLL_IN);
		void *b = NULL;
		ssize_t n;

		CHECK(copoll(&pc, 1, 10000) == 1);
		n = corecv(h, &b, sizeof(struct tmsg));
		if (n >= 0) {
			took(b, n, last);
			continue;
		}
		if (errno == EPIPE)
			return NULL;
		CHECK(errno == EAGAIN);	/* the other thread took it */
	}
}

/* Keep HELD views, freeing the oldest: each unchanged while held. */
static void *
freer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (q.n <= HELD && !q.done)
			pthread_cond_wait(&q.cond, &q.lock);
		if (q.n == 0)
			break;
		struct tmsg *m = q.v[0];

		memmove(&q.v[0], &q.v[1], (size_t)(--q.n) * sizeof(q.v[0]));
		pthread_cond_broadcast(&q.cond);
		pthread_mutex_unlock(&q.lock);
		if (!intact(m, 16 + (ssize_t)m->len)) {
			fprintf(stderr, "a held view changed\n");
			t_fail();
		}
		CHECK(coport_msg_free(rx, m) == 0);
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

int
main(void)
{
	pthread_t r0, r1, f;
	coport_t full, h2;
	pid_t a, b;

	CHECK(coopen("threads", COPIPE, &full) == 0);
	rx = t_narrow(full, COPORT_PERM_RECV);
	h2 = coport_clearperm(rx, 0);	/* a second handle, same opening */
	CHECK(h2 != NULL);
	CHECK(coport_setflags(h2, COPORT_NONBLOCK) == 0);
	t_gate_init(&opened);
	a = t_spawn(two_threads, NULL);
	b = t_spawn(one_thread, NULL);
	t_gate_wait(&opened);
	t_gate_wait(&opened);
	CHECK(coclose(full) == 0);
	CHECK(pthread_create(&f, NULL, freer, NULL) == 0);
	CHECK(pthread_create(&r0, NULL, blocking_receiver, NULL) == 0);
	CHECK(pthread_create(&r1, NULL, polling_receiver, h2) == 0);
	CHECK(t_wait(a) == T_PASS);
	CHECK(t_wait(b) == T_PASS);
	CHECK(pthread_join(r0, NULL) == 0);
	CHECK(pthread_join(r1, NULL) == 0);
	pthread_mutex_lock(&q.lock);
	q.done = true;
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
	CHECK(pthread_join(f, NULL) == 0);
	CHECK(received == NSEND * M);
	for (int s = 0; s < NSEND; s++)
		for (int i = 0; i < M; i++)
			CHECK(got[s][i]);
	CHECK(coclose(h2) == 0);
	CHECK(coclose(rx) == 0);
	return T_PASS;
}
