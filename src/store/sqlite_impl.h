/* Private to the SQLite backend (src/store/sqlite_*.c): the connection
 * struct, the statement cache and small helpers that every domain file
 * uses. Pattern of an operation (see sqlite_accounts.c):
 *
 *   sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CONSTANT, err);   // cached, reset
 *   if (!st) return err->code;
 *   kg_sq_bind_text(st, 1, id); ...
 *   one row:  rc = kg_sq_one(tx, st, a, read_x, out, sizeof(*out), err, "x get");
 *             if (rc == KG_ENOTFOUND) return kg_err_set(err, rc, "no x \"%s\"", id);
 *   a list:   return kg_sq_rows(tx, st, a, read_x, sizeof(**out), (void **)out, n,
 *                               err, "x list");
 *   no rows:  return kg_sq_exec_stmt(tx, st, err, "x insert");
 * where read_x(kg_arena *a, sqlite3_stmt *st, void *row) fills one struct
 * with kg_sq_col_*(a, st, i).
 *
 * Statements must be string constants (the cache keys on the pointer). */
#ifndef KG_SQLITE_IMPL_H
#define KG_SQLITE_IMPL_H

#include <sqlite3.h>

#include "store/store_impl.h"

#define KG_SQ_STMT_CACHE 512 /* distinct statements per connection */

struct kg_store_conn {
	sqlite3 *db;
	bool write;
	/* the write connection: PRAGMA data_version once opened and migrated,
	 * and whether another connection has committed since (sq_sole_writer) */
	int64_t data_version;
	bool foreign_commit;
	struct kg_sq_ckpt *ckpt; /* the write connection: its checkpointer */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[KG_SQ_STMT_CACHE];
};

/* The connection of a transaction. */
static inline sqlite3 *kg_sq_db(kg_tx *tx) { return tx->conn->db; }

/* Returns the cached prepared statement for sql (reset, bindings cleared),
 * or NULL with err set. */
sqlite3_stmt *kg_sq_stmt(kg_tx *tx, const char *sql, kg_err *err);

/* Maps a SQLite result to a kg_code and sets err: "<what>: <sqlite message>".
 * SQLITE_FULL → KG_EFULL, IOERR/CORRUPT/NOTADB/CANTOPEN/READONLY → KG_EIO,
 * CONSTRAINT → KG_ECONFLICT (FOREIGNKEY → KG_ENOTFOUND), BUSY/LOCKED →
 * KG_EBUSY, NOMEM → KG_ENOMEM, else KG_EINTERNAL. Returns the code. */
int kg_sq_fail(kg_tx *tx, int rc, kg_err *err, const char *what);
int kg_sq_fail_db(sqlite3 *db, int rc, kg_err *err, const char *what);

/* Steps a statement that returns no rows: 0 or the mapped error. */
int kg_sq_exec_stmt(kg_tx *tx, sqlite3_stmt *st, kg_err *err, const char *what);

/* Binding: NULL text binds NULL; 0 for an "optional" time binds NULL. */
void kg_sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Binds n bytes of s (n 0: up to its NUL); NULL binds NULL. */
void kg_sq_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t n);
void kg_sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n);
void kg_sq_bind_i64(sqlite3_stmt *st, int i, int64_t v);
void kg_sq_bind_opt_ms(sqlite3_stmt *st, int i, int64_t ms);

/* Column reading into the caller's arena: NULL for SQL NULL. */
const char *kg_sq_col_text(kg_arena *a, sqlite3_stmt *st, int i);
const uint8_t *kg_sq_col_blob(kg_arena *a, sqlite3_stmt *st, int i, size_t *len);
/* Text of a column valid only until the next step (no copy). */
static inline const char *kg_sq_col_peek(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}
/* 0 for SQL NULL. */
static inline int64_t kg_sq_col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

/* Reads the current row of st into row (a struct of the caller's type). */
typedef void (*kg_sq_row_fn)(kg_arena *a, sqlite3_stmt *st, void *row);

/* Steps st to the end, reading each row with read into a new arena array
 * of elem-byte rows (*out, *n; NULL and 0 when none). Resets st. Returns 0
 * or the mapped error ("<what>: ..."). */
int kg_sq_rows(kg_tx *tx, sqlite3_stmt *st, kg_arena *a, kg_sq_row_fn read, size_t elem,
	       void **out, size_t *n, kg_err *err, const char *what);

/* Steps st once: 0 with the row read into *row (zeroed first),
 * KG_ENOTFOUND with err untouched (the caller says what is missing), or
 * the mapped error. Resets st. */
int kg_sq_one(kg_tx *tx, sqlite3_stmt *st, kg_arena *a, kg_sq_row_fn read, void *row,
	      size_t elem, kg_err *err, const char *what);

/* A growable arena array for list results: kg_sq_grow returns the next
 * slot (zeroed), doubling capacity in the arena as needed. */
void *kg_sq_grow(kg_arena *a, void **arr, size_t *n, size_t *cap, size_t elem);

/* The domain tables of kg_sqlite_ops (sqlite.c), one per sqlite_<domain>.c. */
extern const struct kg_store_accounts_ops kg_sqlite_accounts_ops;
extern const struct kg_store_events_ops kg_sqlite_events_ops;
extern const struct kg_store_locks_ops kg_sqlite_locks_ops;
extern const struct kg_store_audit_ops kg_sqlite_audit_ops;
extern const struct kg_store_messages_ops kg_sqlite_messages_ops;
extern const struct kg_store_queue_ops kg_sqlite_queue_ops;
extern const struct kg_store_cases_ops kg_sqlite_cases_ops;
extern const struct kg_store_checks_ops kg_sqlite_checks_ops;
extern const struct kg_store_guard_ops kg_sqlite_guard_ops;

/* Current time if v is 0. */
static inline int64_t kg_sq_or_now(int64_t v) { return v ? v : kg_now_ms(); }

#endif
