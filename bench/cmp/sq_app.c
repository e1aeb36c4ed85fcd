/*
 * The application of the SQLite benchmark, a compartment of its own: a
 * speedtest-style workload (inserts with and without an index, selects by
 * key and by range, updates, an index build, a join, deletes).  Its calls
 * to SQLite are weak references that the host binds: to SQLite's gates
 * when split, to SQLite itself when not.  SQL text and out-arguments live
 * in this compartment's heap and stack, the memory it opens to SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "comsg/compart.h"

#pragma weak sqlite3_open_v2
#pragma weak sqlite3_close
#pragma weak sqlite3_exec
#pragma weak sqlite3_prepare_v2
#pragma weak sqlite3_step
#pragma weak sqlite3_reset
#pragma weak sqlite3_finalize
#pragma weak sqlite3_bind_int
#pragma weak sqlite3_column_int
#pragma weak sqlite3_column_int64
#pragma weak sqlite3_column_text

static sqlite3 *db;
static long checksum;
static unsigned rnd = 1;

static unsigned
next(void)
{
	rnd = rnd * 1103515245u + 12345u;
	return (rnd >> 8) & 0xffffff;
}

/* SQL goes through the heap: the host's windows cover it. */
static int
run(const char *sql)
{
	char *s = strdup(sql);
	int rc;

	if (s == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_exec(db, s, NULL, NULL, NULL);
	free(s);
	return rc;
}

static int
prepare(const char *sql, sqlite3_stmt **st)
{
	char *s = strdup(sql);
	int rc;

	if (s == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_prepare_v2(db, s, -1, st, NULL);
	free(s);
	return rc;
}

/* Step a statement to its end, adding its first column to the checksum. */
static int
drain(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t;

		checksum += sqlite3_column_int64(st, 0);
		t = sqlite3_column_text(st, 1);
		if (t != NULL)
			checksum += t[0];
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

int
sq_open(void)
{
	char *name = strdup("bench.db"), *vfs = strdup("ramvfs");
	sqlite3 *h = NULL;	/* on the stack: the window SQLite writes to */
	int rc;

	if (name == NULL || vfs == NULL)
		return SQLITE_NOMEM;
	rc = sqlite3_open_v2(name, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, vfs);
	db = h;
	free(name);
	free(vfs);
	checksum = 0;
	rnd = 1;
	if (rc == 0)
		rc = run("PRAGMA cache_size=2000");
	return rc;
}
COMPART_ENTRY(sq_open, "i()");

int
sq_close(void)
{
	int rc = sqlite3_close(db);

	db = NULL;
	return rc;
}
COMPART_ENTRY(sq_close, "i()");

long
sq_checksum(void)
{
	return checksum;
}
COMPART_ENTRY(sq_checksum, "l()");

static int
insert(const char *table, int n)
{
	char sql[128];
	sqlite3_stmt *st;
	int i, rc;

	snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES(?1, ?2, "
	    "printf('%%d-%%d-row', ?1, ?2))", table);
	if ((rc = run("BEGIN")) != 0 || (rc = prepare(sql, &st)) != 0)
		return rc;
	for (i = 1; i <= n && rc == 0; i++) {
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_int(st, 2, (int)(next() % (unsigned)(n * 4)));
		rc = drain(st);
	}
	sqlite3_finalize(st);
	return rc != 0 ? rc : run("COMMIT");
}

static int
queries(const char *sql, int count, int n, int span)
{
	sqlite3_stmt *st;
	int i, rc;

	if ((rc = prepare(sql, &st)) != 0)
		return rc;
	for (i = 0; i < count && rc == 0; i++) {
		int k = (int)(next() % (unsigned)n) + 1;

		sqlite3_bind_int(st, 1, k);
		sqlite3_bind_int(st, 2, k + span);
		rc = drain(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Test i of the workload at size n. */
int
sq_test(int i, int n)
{
	int rc;

	switch (i) {
	case 0:		/* insert, no index */
		rc = run("CREATE TABLE t1(a INTEGER, b INTEGER, c TEXT)");
		return rc != 0 ? rc : insert("t1", n);
	case 1:		/* insert, indexed */
		rc = run("CREATE TABLE t2(a INTEGER PRIMARY KEY, b INTEGER, "
		    "c TEXT); CREATE INDEX t2b ON t2(b)");
		return rc != 0 ? rc : insert("t2", n);
	case 2:		/* select by key */
		return queries("SELECT b, c FROM t2 WHERE a = ?1 AND ?2 > 0",
		    n, n, 1);
	case 3:		/* select by range (indexed) */
		return queries("SELECT count(*), max(c) FROM t2 WHERE b "
		    "BETWEEN ?1 AND ?2", n / 5 + 1, n * 4, 40);
	case 4:		/* update by range */
		if ((rc = run("BEGIN")) != 0)
			return rc;
		rc = queries("UPDATE t2 SET b = b + 1 WHERE a BETWEEN ?1 "
		    "AND ?2", n / 5 + 1, n, 10);
		return rc != 0 ? rc : run("COMMIT");
	case 5:		/* index build */
		return run("CREATE INDEX t1b ON t1(b)");
	case 6:		/* join */
		return queries("SELECT count(*), max(t2.c) FROM t1, t2 WHERE "
		    "t1.a = t2.a AND t1.b BETWEEN ?1 AND ?2", n / 20 + 1,
		    n * 4, n / 10);
	case 7:		/* full scan */
		return queries("SELECT count(*), max(c) FROM t1 WHERE c LIKE "
		    "'%7%' AND ?1 > 0 AND ?2 > 0", 10, n, 1);
	case 8:		/* delete */
		if ((rc = run("BEGIN; DELETE FROM t1 WHERE a % 3 = 0; "
		    "DELETE FROM t2 WHERE b % 5 = 0")) != 0)
			return rc;
		return run("COMMIT");
	}
	return SQLITE_MISUSE;
}
COMPART_ENTRY(sq_test, "i(ii)");
