/* PostgreSQL operations on the guard's rows, as sqlite_guard.c. In a
 * write transaction a row read is locked (FOR UPDATE), and an add is an
 * upsert (which locks the row), so several nodes counting the same bucket
 * serialise on it. */
#include "store/postgres_impl.h"

#include <string.h>

static const char SQL_GUARD_GET[] =
	"SELECT kind, key, value, n, ts_ms FROM guard_rows WHERE kind = $1 AND key = $2";
static const char SQL_GUARD_GET_LOCK[] =
	"SELECT kind, key, value, n, ts_ms FROM guard_rows WHERE kind = $1 AND key = $2 "
	"FOR UPDATE";
static const char SQL_GUARD_PUT[] =
	"INSERT INTO guard_rows (kind, key, value, n, ts_ms) VALUES ($1, $2, $3, $4, $5) "
	"ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, n = excluded.n, "
	"ts_ms = excluded.ts_ms";
static const char SQL_GUARD_ADD[] =
	"INSERT INTO guard_rows AS g (kind, key, value, n, ts_ms) VALUES ($1, $2, NULL, $3, $4) "
	"ON CONFLICT (kind, key) DO UPDATE SET n = g.n + excluded.n RETURNING n";
static const char SQL_GUARD_LIST[] =
	"SELECT kind, key, value, n, ts_ms FROM guard_rows WHERE kind = $1 AND key >= $2 "
	"AND key < $3 ORDER BY key LIMIT $4";
static const char SQL_GUARD_DEL[] =
	"DELETE FROM guard_rows WHERE kind = $1 AND key >= $2 AND key < $3";

static int guard_rows(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_arena *a,
		      kg_guard_row **out, size_t *n, kg_err *err, const char *what)
{
	*out = NULL;
	*n = 0;
	PGresult *r = kg_pg_exec(tx, sql, p, err, what);
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		if (!*out) {
			PQclear(r);
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		}
		for (int i = 0; i < rows; i++) {
			kg_guard_row *g = &(*out)[i];
			g->kind = kg_pg_col_text(a, r, i, 0);
			g->key = kg_pg_col_text(a, r, i, 1);
			g->value = kg_pg_col_text(a, r, i, 2);
			g->n = kg_pg_col_i64(r, i, 3);
			g->ts_ms = kg_pg_col_i64(r, i, 4);
		}
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int guard_get(kg_tx *tx, const char *kind, const char *key, kg_guard_row *out,
		     kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, kind);
	kg_pg_text(&p, key);
	kg_guard_row *rows;
	size_t n;
	int rc = guard_rows(tx, kg_tx_writable(tx) ? SQL_GUARD_GET_LOCK : SQL_GUARD_GET, &p, a,
			    &rows, &n, err, "guard get");
	if (rc)
		return rc;
	if (!n)
		return KG_ENOTFOUND;
	*out = rows[0];
	return 0;
}

static int guard_put(kg_tx *tx, const kg_guard_row *g, kg_err *err)
{
	if (!g->kind || !g->key)
		return kg_err_set(err, KG_EINVAL, "a guard row needs kind and key");
	kg_pg_args p = {0};
	kg_pg_text(&p, g->kind);
	kg_pg_text(&p, g->key);
	kg_pg_text(&p, g->value);
	kg_pg_i64(&p, g->n);
	kg_pg_i64(&p, g->ts_ms);
	return kg_pg_run(tx, SQL_GUARD_PUT, &p, NULL, err, "guard put");
}

static int guard_add(kg_tx *tx, const char *kind, const char *key, int64_t delta,
		     int64_t ts_ms, int64_t *n_out, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, kind);
	kg_pg_text(&p, key);
	kg_pg_i64(&p, delta);
	kg_pg_i64(&p, ts_ms);
	PGresult *r = kg_pg_exec(tx, SQL_GUARD_ADD, &p, err, "guard add");
	if (!r)
		return err->code;
	int rc = PQntuples(r) == 1 ? 0 : kg_err_set(err, KG_EINTERNAL, "guard add: no row returned");
	if (!rc && n_out)
		*n_out = kg_pg_col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static int guard_list(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		      size_t limit, kg_arena *a, kg_guard_row **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, kind);
	kg_pg_text(&p, from_key);
	kg_pg_text(&p, to_key);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	return guard_rows(tx, SQL_GUARD_LIST, &p, a, out, n, err, "guard list");
}

static int guard_del(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		     size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, kind);
	kg_pg_text(&p, from_key);
	kg_pg_text(&p, to_key);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_GUARD_DEL, &p, &changed, err, "guard delete");
	if (n)
		*n = rc ? 0 : (size_t)changed;
	return rc;
}

const struct kg_store_guard_ops kg_postgres_guard_ops = {
	.get = guard_get,
	.put = guard_put,
	.add = guard_add,
	.list = guard_list,
	.del = guard_del,
};
