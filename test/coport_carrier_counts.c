/* COCARRIER: a holder that forges the bell's socket counts (carrier_sent beyond carrier_received) does not keep an idle receiver awake: it still sleeps, and still receives what comes. */
#include "coport_test.h"
#include "../src/lib/coport_shm.h"

#define IDLE_MS		1000
#define BUSY_LIMIT	0.5	/* seconds of CPU in IDLE_MS: spinning is 1 */

static int sv[2];

static int
receiver(void *arg)
{
	coport_t p = t_recv_port(sv[1]);
	void *buf = NULL;

	(void)arg;
	CHECK(corecv(p, &buf, 0) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(coport_msg_free(p, buf) == 0);
	CHECK(coclose(p) == 0);
	return T_PASS;
}

/* CPU seconds process pid has used (user and system). */
static double
cpu_seconds(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	CHECK((f = fopen(path, "r")) != NULL);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	/* after the command's closing parenthesis: state, then fields
	 * 4 to 13, then utime and stime */
	CHECK((p = strrchr(line, ')')) != NULL);
	CHECK(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) == 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int
main(void)
{
	struct t_map m[2];
	struct coport_bell *bell;
	coport_t p;
	pid_t pid;
	double before, used;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(coopen("counts", COCARRIER, &p) == 0);
	pid = t_spawn(receiver, NULL);
	t_send_port(sv[0], p, COPORT_PERM_RECV);
	/* The port's bell page, as every holder maps it: forge the counts
	 * so that they say the socket holds a thousand messages. */
	CHECK(t_maps("coport-bell", m, 2) == 1);
	bell = (struct coport_bell *)m[0].start;
	__atomic_add_fetch(&bell->carrier_sent, 1000, __ATOMIC_SEQ_CST);
	before = cpu_seconds(pid);
	/* The window the receiver's CPU time is measured over (not a wait
	 * for anything: it is idle, in corecv(), all along). */
	{
		struct timespec ts = { IDLE_MS / 1000, (IDLE_MS % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	used = cpu_seconds(pid) - before;
	fprintf(stderr, "receiver used %.2f s of CPU in %d ms idle, counts "
	    "forged\n", used, IDLE_MS);
	CHECK(used < BUSY_LIMIT);
	CHECK(cosend(p, "hello", 5) == 5);
	CHECK(t_wait(pid) == T_PASS);
	CHECK(coclose(p) == 0);
	return T_PASS;
}
