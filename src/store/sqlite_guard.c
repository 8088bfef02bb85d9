/* SQLite operations on the guard's rows (src/guard): keyed by (kind, key),
 * a text value, a count and a time. Not here: what the rows mean. */
#include "store/sqlite_impl.h"

#include <string.h>

static const char SQL_GUARD_GET[] =
	"SELECT kind, key, value, n, ts_ms FROM guard_rows WHERE kind = ?1 AND key = ?2";
/* A row is updated, or inserted when there is none, in two one-row
 * statements rather than one INSERT ... ON CONFLICT DO UPDATE ...
 * RETURNING: SQLite runs RETURNING as a trigger, and so that statement
 * with a statement journal, which copies each page it changes first; once
 * a page split had spilled that journal to a temporary file (past 64 KiB),
 * every later upsert of the transaction wrote its 16 KiB page there — on
 * the lock path of a durable replay, 87 MB in 10,000 writes to /var/tmp
 * (docs/BENCHMARKS.md, "The store's writer of a durable replay, once
 * more"). A one-row UPDATE or INSERT by the whole key needs none. The
 * write connection is the file's only writer inside its transaction, so
 * the row cannot appear between the two. */
static const char SQL_GUARD_SET[] =
	"UPDATE guard_rows SET value = ?3, n = ?4, ts_ms = ?5 WHERE kind = ?1 AND key = ?2";
static const char SQL_GUARD_INSERT[] =
	"INSERT INTO guard_rows (kind, key, value, n, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_GUARD_N[] = "SELECT n FROM guard_rows WHERE kind = ?1 AND key = ?2";
static const char SQL_GUARD_SET_N[] =
	"UPDATE guard_rows SET n = ?3 WHERE kind = ?1 AND key = ?2";
static const char SQL_GUARD_LIST[] =
	"SELECT kind, key, value, n, ts_ms FROM guard_rows WHERE kind = ?1 AND key >= ?2 "
	"AND key < ?3 ORDER BY key LIMIT ?4";
static const char SQL_GUARD_DEL[] =
	"DELETE FROM guard_rows WHERE kind = ?1 AND key >= ?2 AND key < ?3";

static void read_row(kg_arena *a, sqlite3_stmt *st, void *p)
{
	kg_guard_row *r = p;
	r->kind = kg_sq_col_text(a, st, 0);
	r->key = kg_sq_col_text(a, st, 1);
	r->value = kg_sq_col_text(a, st, 2);
	r->n = kg_sq_col_i64(st, 3);
	r->ts_ms = kg_sq_col_i64(st, 4);
}

static int guard_get(kg_tx *tx, const char *kind, const char *key, kg_guard_row *out,
		     kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_GUARD_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, kind);
	kg_sq_bind_text(st, 2, key);
	return kg_sq_one(tx, st, a, read_row, out, sizeof(*out), err, "guard get");
}

/* Runs SQL_GUARD_SET or SQL_GUARD_INSERT (the same five parameters) for r. */
static int write_row(kg_tx *tx, const char *sql, const kg_guard_row *r, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, r->kind);
	kg_sq_bind_text(st, 2, r->key);
	kg_sq_bind_text(st, 3, r->value);
	kg_sq_bind_i64(st, 4, r->n);
	kg_sq_bind_i64(st, 5, r->ts_ms);
	return kg_sq_exec_stmt(tx, st, err, "guard put");
}

static int guard_put(kg_tx *tx, const kg_guard_row *r, kg_err *err)
{
	if (!r->kind || !r->key)
		return kg_err_set(err, KG_EINVAL, "a guard row needs kind and key");
	int rc = write_row(tx, SQL_GUARD_SET, r, err);
	if (!rc && sqlite3_changes(kg_sq_db(tx)) == 0)
		rc = write_row(tx, SQL_GUARD_INSERT, r, err);
	return rc;
}

static void read_n(kg_arena *a, sqlite3_stmt *st, void *p)
{
	(void)a;
	*(int64_t *)p = kg_sq_col_i64(st, 0);
}

static int guard_add(kg_tx *tx, const char *kind, const char *key, int64_t delta,
		     int64_t ts_ms, int64_t *n_out, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_GUARD_N, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, kind);
	kg_sq_bind_text(st, 2, key);
	int64_t n = 0;
	int rc = kg_sq_one(tx, st, NULL, read_n, &n, sizeof(n), err, "guard add");
	if (rc == KG_ENOTFOUND) { /* no row yet: it starts at delta */
		n = delta;
		rc = write_row(tx, SQL_GUARD_INSERT, &(kg_guard_row){kind, key, NULL, n, ts_ms}, err);
	} else if (!rc) {
		n += delta;
		if (!(st = kg_sq_stmt(tx, SQL_GUARD_SET_N, err)))
			return err->code;
		kg_sq_bind_text(st, 1, kind);
		kg_sq_bind_text(st, 2, key);
		kg_sq_bind_i64(st, 3, n);
		rc = kg_sq_exec_stmt(tx, st, err, "guard add");
	}
	if (!rc && n_out)
		*n_out = n;
	return rc;
}

static int guard_list(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		      size_t limit, kg_arena *a, kg_guard_row **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_GUARD_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, kind);
	kg_sq_bind_text(st, 2, from_key);
	kg_sq_bind_text(st, 3, to_key);
	kg_sq_bind_i64(st, 4, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_row, sizeof(**out), (void **)out, n, err, "guard list");
}

static int guard_del(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		     size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_GUARD_DEL, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, kind);
	kg_sq_bind_text(st, 2, from_key);
	kg_sq_bind_text(st, 3, to_key);
	int rc = kg_sq_exec_stmt(tx, st, err, "guard delete");
	if (n)
		*n = rc ? 0 : (size_t)sqlite3_changes(kg_sq_db(tx));
	return rc;
}

const struct kg_store_guard_ops kg_sqlite_guard_ops = {
	.get = guard_get,
	.put = guard_put,
	.add = guard_add,
	.list = guard_list,
	.del = guard_del,
};
