/* Helpers for the store's unit tests (tests/unit/test_store*.c): a fresh
 * SQLite file per test in a temporary directory, and a raw sqlite3 handle
 * for tests that look under the store (tampering, state snapshots).
 * Header-only so each test program can include it. */
#ifndef KG_STORE_TESTUTIL_H
#define KG_STORE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"

static char kg_test_dir[512];

/* Creates the temporary directory (once per program). */
static inline void kg_test_dir_init(void)
{
	if (kg_test_dir[0])
		return;
	const char *tmp = getenv("TMPDIR");
	snprintf(kg_test_dir, sizeof(kg_test_dir), "%s/kg_store_XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(kg_test_dir)) {
		perror("mkdtemp");
		abort();
	}
}

/* Removes the temporary directory and its files. */
static inline void kg_test_dir_cleanup(void)
{
	if (!kg_test_dir[0])
		return;
	char cmd[640];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kg_test_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", kg_test_dir);
}

/* Path of a database file named name in the test directory. */
static inline const char *kg_test_db(const char *name)
{
	static char path[640];
	kg_test_dir_init();
	snprintf(path, sizeof(path), "%s/%s.db", kg_test_dir, name);
	unlink(path);
	char side[700];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	return path;
}

/* Opens a store (fault: as kg_store_options.fault) and fails the test on error. */
static inline kg_store *kg_test_open(const char *path, const char *fault)
{
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.fault = fault;
	kg_store *s = NULL;
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_store_open(&s, path, &opt, &err);
	if (rc)
		fail_msg("kg_store_open(%s): %s", path, err.msg);
	return s;
}

/* A raw connection to the same file, outside the store. */
static inline sqlite3 *kg_test_raw(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static inline void kg_test_raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static inline int64_t kg_test_raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Every row of every table, as text: equal snapshots mean equal state. */
static inline char *kg_test_snapshot(const char *path)
{
	sqlite3 *db = kg_test_raw(path);
	kg_buf out = KG_BUF_INIT(256 * 1024 * 1024);
	sqlite3_stmt *tables = NULL;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT name FROM sqlite_master WHERE type = 'table' "
					    "ORDER BY name",
					    -1, &tables, NULL),
			 SQLITE_OK);
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tables, 0);
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1, 2", t);
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		kg_buf_printf(&out, "[%s]\n", t);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);
				kg_buf_printf(&out, "%s|", v ? (const char *)v : "NULL");
			}
			kg_buf_putc(&out, '\n');
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	return kg_buf_detach(&out, NULL);
}

#endif
