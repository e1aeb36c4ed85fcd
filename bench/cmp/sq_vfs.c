/*
 * The RAM file system of the SQLite benchmark, a compartment of its own:
 * an SQLite VFS whose files are chunks of this compartment's heap.  Its
 * entry points are installed as the methods of the VFS that SQLite uses;
 * every file operation of SQLite is a call into this compartment.
 */
#include <string.h>
#include <stdlib.h>
#include <sqlite3.h>

#include "comsg/compart.h"

#define CHUNK		65536
#define MAXFILES	16
#define MAXNAME		256

struct rfile {
	char		 name[MAXNAME];
	int		 used;
	sqlite3_int64	 size;
	char		**chunk;
	int		 nchunk;
};

struct ramfile {
	sqlite3_file	 base;
	struct rfile	*f;
};

static struct rfile files[MAXFILES];
static const sqlite3_io_methods *methods;

static struct rfile *
lookup(const char *name, int create)
{
	int i;

	for (i = 0; i < MAXFILES; i++)
		if (files[i].used && strcmp(files[i].name, name) == 0)
			return &files[i];
	if (!create)
		return NULL;
	for (i = 0; i < MAXFILES; i++)
		if (!files[i].used) {
			memset(&files[i], 0, sizeof(files[i]));
			strncpy(files[i].name, name, MAXNAME - 1);
			files[i].used = 1;
			return &files[i];
		}
	return NULL;
}

static void
rf_free(struct rfile *f)
{
	int i;

	for (i = 0; i < f->nchunk; i++)
		free(f->chunk[i]);
	free(f->chunk);
	memset(f, 0, sizeof(*f));
}

/* The methods table lives where SQLite can read it; the host says where. */
int
ramvfs_setup(const sqlite3_io_methods *m)
{
	methods = m;
	return (int)sizeof(struct ramfile);
}
COMPART_ENTRY(ramvfs_setup, "i(p)");

int
ramvfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
    int flags, int *outflags)
{
	struct ramfile *rf = (struct ramfile *)file;
	static int anon;
	char tmp[32];

	(void)vfs;
	if (name == NULL) {
		tmp[0] = 't';
		tmp[1] = 'm';
		tmp[2] = 'p';
		tmp[3] = (char)('a' + anon++ % 26);
		tmp[4] = '\0';
		name = tmp;
	}
	rf->f = lookup(name, flags & SQLITE_OPEN_CREATE);
	if (rf->f == NULL)
		return SQLITE_CANTOPEN;
	rf->base.pMethods = methods;
	if (outflags != NULL)
		*outflags = flags;
	return SQLITE_OK;
}
COMPART_ENTRY(ramvfs_open, "i(pspip)");

int
ramvfs_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	struct rfile *f = lookup(name, 0);

	(void)vfs;
	(void)syncdir;
	if (f != NULL)
		rf_free(f);
	return SQLITE_OK;
}
COMPART_ENTRY(ramvfs_delete, "i(psi)");

int
ramvfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *res)
{
	struct rfile *f = lookup(name, 0);

	(void)vfs;
	(void)flags;
	*res = f != NULL && f->size > 0;
	return SQLITE_OK;
}
COMPART_ENTRY(ramvfs_access, "i(psip)");

int
ramvfs_fullpathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	strncpy(out, name, (size_t)n - 1);
	out[n - 1] = '\0';
	return SQLITE_OK;
}
COMPART_ENTRY(ramvfs_fullpathname, "i(psip)");

int
ramvfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	static unsigned x = 12345;
	int i;

	(void)vfs;
	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (char)(x >> 16);
	}
	return n;
}
COMPART_ENTRY(ramvfs_randomness, "i(pip)");

int
ramvfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return us;
}
COMPART_ENTRY(ramvfs_sleep, "i(pi)");

int
ramvfs_currenttime(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	*t = 2461000.5;		/* a fixed Julian day: reproducible runs */
	return SQLITE_OK;
}
COMPART_ENTRY(ramvfs_currenttime, "i(pp)");

int
ramvfs_lasterror(sqlite3_vfs *vfs, int n, char *buf)
{
	(void)vfs;
	if (n > 0)
		buf[0] = '\0';
	return 0;
}
COMPART_ENTRY(ramvfs_lasterror, "i(pip)");

int
ramfile_close(sqlite3_file *file)
{
	(void)file;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_close, "i(p)");

int
ramfile_read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off)
{
	struct rfile *f = ((struct ramfile *)file)->f;
	char *out = buf;
	int got = 0;

	while (got < amt && off + got < f->size) {
		sqlite3_int64 pos = off + got;
		int k = (int)(pos / CHUNK), in = (int)(pos % CHUNK);
		int n = CHUNK - in;

		if (n > amt - got)
			n = amt - got;
		if (pos + n > f->size)
			n = (int)(f->size - pos);
		memcpy(out + got, f->chunk[k] + in, (size_t)n);
		got += n;
	}
	if (got < amt) {
		memset(out + got, 0, (size_t)(amt - got));
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_read, "i(ppil)");

int
ramfile_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
	struct rfile *f = ((struct ramfile *)file)->f;
	const char *in = buf;
	int done = 0;

	while (done < amt) {
		sqlite3_int64 pos = off + done;
		int k = (int)(pos / CHUNK), o = (int)(pos % CHUNK);
		int n = CHUNK - o;

		while (k >= f->nchunk) {
			char **c = realloc(f->chunk, (size_t)(f->nchunk + 1) *
			    sizeof(*c));

			if (c == NULL)
				return SQLITE_IOERR_WRITE;
			f->chunk = c;
			if ((c[f->nchunk] = calloc(1, CHUNK)) == NULL)
				return SQLITE_IOERR_WRITE;
			f->nchunk++;
		}
		if (n > amt - done)
			n = amt - done;
		memcpy(f->chunk[k] + o, in + done, (size_t)n);
		done += n;
	}
	if (off + amt > f->size)
		f->size = off + amt;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_write, "i(ppil)");

int
ramfile_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct rfile *f = ((struct ramfile *)file)->f;

	if (size < f->size)
		f->size = size;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_truncate, "i(pl)");

int
ramfile_sync(sqlite3_file *file, int flags)
{
	(void)file;
	(void)flags;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_sync, "i(pi)");

int
ramfile_size(sqlite3_file *file, sqlite3_int64 *size)
{
	*size = ((struct ramfile *)file)->f->size;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_size, "i(pp)");

int
ramfile_lock(sqlite3_file *file, int level)
{
	(void)file;
	(void)level;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_lock, "i(pi)");

int
ramfile_reserved(sqlite3_file *file, int *res)
{
	(void)file;
	*res = 0;
	return SQLITE_OK;
}
COMPART_ENTRY(ramfile_reserved, "i(pp)");

int
ramfile_control(sqlite3_file *file, int op, void *arg)
{
	(void)file;
	(void)op;
	(void)arg;
	return SQLITE_NOTFOUND;
}
COMPART_ENTRY(ramfile_control, "i(pip)");

int
ramfile_sector(sqlite3_file *file)
{
	(void)file;
	return 4096;
}
COMPART_ENTRY(ramfile_sector, "i(p)");

int
ramfile_devchar(sqlite3_file *file)
{
	(void)file;
	return 0;
}
COMPART_ENTRY(ramfile_devchar, "i(p)");
