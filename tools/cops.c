/*
 * cops: the members of the domain, like ps(1): for each process, its
 * capability vector (and who serves each slot), the targets it serves, the
 * names it publishes, and the channels open to and from it.  Everything is
 * read from what the kernel says in /proc, not from what members claim.
 */
#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comsg/coport.h"
#include "toolutil.h"

/* One line of /proc/net/unix: a UNIX socket's inode, whether it listens,
 * and the path it (or its listener) is bound to. */
struct usock {
	unsigned long	 ino;
	bool		 listening;
	char		*path;
};

static struct usock *socks;
static size_t nsocks;

struct member {
	pid_t		 pid;
	char		 vector[512];	/* "8:799,10:801" */
	int		 serves, names, chan_in, chan_out;
	char		 command[200];
};

static void
usage(void)
{
	fprintf(stderr, "usage: cops [-av] [-p pid]\n");
	exit(EXIT_USAGE);
}

static void
read_unix_sockets(void)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[PATH_MAX + 128];

	if (f == NULL)
		err(1, "/proc/net/unix");
	if (fgets(line, sizeof(line), f) == NULL) {	/* the header */
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long flags, ino;
		unsigned type, st;
		char path[PATH_MAX] = "";
		struct usock *p;

		if (sscanf(line, "%*s %*s %*s %lx %x %x %lu %4095s", &flags, &type,
		    &st, &ino, path) < 4)
			continue;
		p = realloc(socks, (nsocks + 1) * sizeof(*p));
		if (p == NULL)
			err(1, "realloc");
		socks = p;
		socks[nsocks].ino = ino;
		socks[nsocks].listening = (flags & 0x10000) != 0; /* __SO_ACCEPTCON */
		socks[nsocks].path = strdup(path);
		nsocks++;
	}
	fclose(f);
}

static const struct usock *
find_sock(unsigned long ino)
{
	size_t i;

	for (i = 0; i < nsocks; i++)
		if (socks[i].ino == ino)
			return &socks[i];
	return NULL;
}

/* A whole small /proc file, NUL-terminated; *lenp its length. */
static char *
slurp(const char *path, size_t *lenp)
{
	char *buf = NULL;
	size_t len = 0, room = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (len + 1 >= room) {
			char *p = realloc(buf, room ? 2 * room : 4096);

			if (p == NULL)
				break;
			buf = p;
			room = room ? 2 * room : 4096;
		}
		n = read(fd, buf + len, room - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf != NULL)
		buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

static const char *
env_get(const char *env, size_t len, const char *var)
{
	size_t vl = strlen(var), i = 0;

	while (env != NULL && i < len) {
		const char *e = env + i;
		size_t el = strnlen(e, len - i);

		if (el > vl && strncmp(e, var, vl) == 0 && e[vl] == '=')
			return e + vl + 1;
		i += el + 1;
	}
	return NULL;
}

static bool
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* The pid that made a gate: its file is named "<pid>.<n>" in gates/. */
static pid_t
gate_owner(const char *link, const char *gates)
{
	const char *base;

	if (!under(link, gates))
		return -1;
	base = link + strlen(gates) + 1;
	return isdigit((unsigned char)base[0]) ? (pid_t)atoi(base) : -1;
}

/* Append the slots of a COMSG_CAPV value to m->vector, "slot:server". */
static void
describe_vector(struct member *m, const char *capv, const char *gates)
{
	const char *s = capv;
	size_t used = 0;

	while (s != NULL && *s != '\0') {
		char link[PATH_MAX], path[64];
		int slot, fd0 = -1, n = 0;
		char kind;
		ssize_t l;
		pid_t owner = -1;

		if (sscanf(s, "%d=%c:%d%n", &slot, &kind, &fd0, &n) < 3)
			break;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)m->pid, fd0);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			owner = gate_owner(link, gates);
		}
		if (kind == 't' && owner > 0)
			used += snprintf(m->vector + used, sizeof(m->vector) - used,
			    "%s%d:%d", used ? "," : "", slot, (int)owner);
		else
			used += snprintf(m->vector + used, sizeof(m->vector) - used,
			    "%s%d%s", used ? "," : "", slot, kind == 'f' ? ":fd" : "");
		if (used >= sizeof(m->vector))
			break;
		s = strchr(s, ',');
		if (s != NULL)
			s++;
	}
}

/* Fill m from /proc/<pid>; false if the process is not of the domain or
 * cannot be read. */
static bool
inspect(struct member *m, const char *domain, bool all)
{
	char path[64], mine[PATH_MAX], gates[PATH_MAX + 8], names[PATH_MAX + 8];
	char *env, *maps, *cmd, *line;
	size_t envlen, cmdlen, i;
	struct stat st;
	const char *capv;
	DIR *d;
	struct dirent *e;
	int chans = 0;

	snprintf(path, sizeof(path), "/proc/%d", (int)m->pid);
	if (stat(path, &st) < 0 || (st.st_uid != geteuid() && geteuid() != 0))
		return false;
	if (codomainof(m->pid, mine, sizeof(mine)) < 0 ||
	    (!all && strcmp(mine, domain) != 0))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)m->pid);
	env = slurp(path, &envlen);
	if (env == NULL)
		return false;
	snprintf(gates, sizeof(gates), "%s/gates", mine);
	snprintf(names, sizeof(names), "%s/names", mine);
	capv = env_get(env, envlen, "COMSG_CAPV");
	if (capv != NULL)
		describe_vector(m, capv, gates);
	free(env);

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)m->pid);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char fdpath[sizeof(path) + sizeof(e->d_name) + 1], link[PATH_MAX];
		unsigned long ino;
		ssize_t l;
		const struct usock *u;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		l = readlink(fdpath, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1 ||
		    (u = find_sock(ino)) == NULL)
			continue;
		/* comsgd binds its coports' datagram sockets there too */
		if (under(u->path, gates) && strstr(u->path, "/port.") == NULL)
			u->listening ? m->serves++ : m->chan_in++;
		else if (under(u->path, names) && u->listening)
			m->names++;
	}
	if (d != NULL)
		closedir(d);

	/* Both ends of a channel map its pages; the service's ends are the
	 * connections it accepted, counted above. */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)m->pid);
	maps = slurp(path, NULL);
	for (line = maps; line != NULL && *line != '\0'; ) {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, "memfd:comsg-chan") != NULL)
			chans++;
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(maps);
	m->chan_out = chans > m->chan_in ? chans - m->chan_in : 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)m->pid);
	cmd = slurp(path, &cmdlen);
	if (cmd != NULL) {
		for (i = 0; i + 1 < cmdlen; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		snprintf(m->command, sizeof(m->command), "%.199s", cmd);
		free(cmd);
	}
	return m->vector[0] != '\0' || m->serves || m->names || m->chan_in ||
	    m->chan_out;
}

/* The domain's coports and comutexes, as its comsgd (if one runs) says. */
static void
show_coports(bool verbose)
{
	static const char *const types[] = { "comutex", "COPIPE", "COCARRIER",
	    "COCHANNEL" };
	struct coport_info *info = NULL;
	int n, room = 0;

	while ((n = coport_list(info, room)) > room) {
		free(info);
		room = n + 16;
		if ((info = calloc((size_t)room, sizeof(*info))) == NULL)
			err(1, "calloc");
	}
	if (n < 0 && errno != ENOLINK)
		warn("comsgd");
	if (n < 0 && errno == ENOLINK) {
		char path[PATH_MAX];

		/* None serves: would the next coopen() start one? */
		if (tool_comsgd_where(NULL, path, sizeof(path))) {
			if (verbose)
				printf("\nno comsgd serves the domain; the first "
				    "coopen would start %s\n", path);
		} else {
			fprintf(stderr, "cops: no comsgd serves the domain, "
			    "and none could be started: ");
			(void)tool_comsgd_where(stderr, path, sizeof(path));
		}
	}
	if (n > 0) {
		printf("\n%-24s %-9s %7s %7s %9s %8s\n", "COPORT", "TYPE",
		    "HOLDERS", "SENDERS", "RECEIVERS", "QUEUED");
		for (int i = 0; i < n; i++) {
			int t = info[i].type >= 0 && info[i].type <= 3 ?
			    info[i].type : 0;

			if (t == 0)
				printf("%-24s %-9s %7u %7s %9s %8s\n",
				    info[i].name, types[0], info[i].holders,
				    "-", "-", "-");
			else
				printf("%-24s %-9s %7u %7u %9u %8llu\n",
				    info[i].name, types[t], info[i].holders,
				    info[i].senders, info[i].receivers,
				    (unsigned long long)info[i].queued);
		}
	}
	free(info);
}

int
main(int argc, char **argv)
{
	char domain[PATH_MAX];
	bool all = false, verbose = false;
	pid_t only = 0;
	DIR *d;
	struct dirent *e;
	int ch, shown = 0;

	while ((ch = getopt(argc, argv, "ap:v")) != -1) {
		switch (ch) {
		case 'a': all = true; break;
		case 'p':
			only = (pid_t)atoi(optarg);
			if (only <= 0)
				errx(EXIT_USAGE, "bad pid: %s", optarg);
			break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (codomain(domain, sizeof(domain)) < 0)
		err(1, "codomain");
	read_unix_sockets();
	if (verbose)
		printf("domain %s\n", domain);
	printf("%7s %-20s %6s %5s %5s %5s  %s\n", "PID", "VECTOR", "SERVES",
	    "NAMES", "IN", "OUT", "COMMAND");
	d = opendir("/proc");
	if (d == NULL)
		err(1, "/proc");
	while ((e = readdir(d)) != NULL) {
		struct member m;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		memset(&m, 0, sizeof(m));
		m.pid = (pid_t)atoi(e->d_name);
		if ((only != 0 && m.pid != only) || !inspect(&m, domain, all))
			continue;
		printf("%7d %-20s %6d %5d %5d %5d  %s\n", (int)m.pid,
		    m.vector[0] ? m.vector : "-", m.serves, m.names, m.chan_in,
		    m.chan_out, m.command);
		shown++;
	}
	closedir(d);
	if (only != 0 && shown == 0)
		errx(1, "pid %d: not a member of the domain", (int)only);
	if (only == 0 && !all)
		show_coports(verbose);
	return 0;
}
