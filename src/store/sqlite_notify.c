/* SQLite operations the notify module adds to the delivery queues: listing
 * across accounts, finding by id, and re-queueing (kagi outbox|webhooks
 * list/show/retry). The queue basics are in sqlite_queue.c. */
#include "store/sqlite_impl.h"

#include <string.h>

static const char SQL_OUTBOX_FIND[] =
	"SELECT " KG_SQ_OUTBOX_COLS " FROM outbox WHERE id = ?1";
static const char SQL_OUTBOX_LIST_ALL[] =
	"SELECT " KG_SQ_OUTBOX_COLS " FROM outbox WHERE (?1 IS NULL OR state = ?1) "
	"AND (?2 IS NULL OR account_id = ?2) ORDER BY created_ms DESC, id DESC LIMIT ?3";
static const char SQL_OUTBOX_RETRY[] =
	"UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = ?2 "
	"WHERE id = ?1 AND state != 'delivered'";
static const char SQL_OUTBOX_STATE[] = "SELECT state FROM outbox WHERE id = ?1";

static const char SQL_WEBHOOK_FIND[] =
	"SELECT " KG_SQ_WEBHOOK_COLS " FROM webhooks WHERE id = ?1";
static const char SQL_WEBHOOK_LIST_ALL[] =
	"SELECT " KG_SQ_WEBHOOK_COLS " FROM webhooks WHERE (?1 IS NULL OR state = ?1) "
	"AND (?2 IS NULL OR account_id = ?2) ORDER BY created_ms DESC, id DESC LIMIT ?3";
static const char SQL_WEBHOOK_RETRY[] =
	"UPDATE webhooks SET state = 'pending', attempts = 0, next_attempt_ms = ?2 "
	"WHERE id = ?1 AND state != 'delivered'";
static const char SQL_WEBHOOK_STATE[] = "SELECT state FROM webhooks WHERE id = ?1";

typedef void (*read_fn)(kg_arena *, sqlite3_stmt *, void *);

static void read_outbox(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_sq_read_outbox(a, st, row);
}

static void read_webhook(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_sq_read_webhook(a, st, row);
}

static int find(kg_tx *tx, const char *sql, const char *id, void *out, size_t size,
		read_fn rd, kg_arena *a, const char *what, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no %s entry \"%s\"", what, id);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, what);
	memset(out, 0, size);
	rd(a, st, out);
	sqlite3_reset(st);
	return 0;
}

static int list_all(kg_tx *tx, const char *sql, const char *state, const char *account_id,
		    size_t limit, kg_arena *a, void **out, size_t *n, size_t size, read_fn rd,
		    const char *what, kg_err *err)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, state);
	kg_sq_bind_text(st, 2, account_id);
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : -1);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rd(a, st, kg_sq_grow(a, out, n, &cap, size));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, what);
}

static int retry(kg_tx *tx, const char *sql, const char *state_sql, const char *id,
		 int64_t now_ms, const char *what, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	kg_sq_bind_i64(st, 2, kg_sq_or_now(now_ms));
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	if (rc || sqlite3_changes(kg_sq_db(tx)) == 1)
		return rc;
	st = kg_sq_stmt(tx, state_sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return kg_err_set(err, KG_ECONFLICT, "%s: \"%s\" was already delivered", what, id);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "%s: no entry \"%s\"", what, id);
	return kg_sq_fail(tx, rc, err, what);
}

static int outbox_find(kg_tx *tx, const char *id, kg_outbox *out, kg_arena *a, kg_err *err)
{
	return find(tx, SQL_OUTBOX_FIND, id, out, sizeof(*out), read_outbox, a, "outbox", err);
}

static int outbox_list_all(kg_tx *tx, const char *state, const char *account_id, size_t limit,
			   kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return list_all(tx, SQL_OUTBOX_LIST_ALL, state, account_id, limit, a, (void **)out, n,
			sizeof(**out), read_outbox, "outbox list", err);
}

static int outbox_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return retry(tx, SQL_OUTBOX_RETRY, SQL_OUTBOX_STATE, id, now_ms, "outbox retry", err);
}

static int webhook_find(kg_tx *tx, const char *id, kg_webhook *out, kg_arena *a, kg_err *err)
{
	return find(tx, SQL_WEBHOOK_FIND, id, out, sizeof(*out), read_webhook, a, "webhook", err);
}

static int webhook_list_all(kg_tx *tx, const char *state, const char *account_id,
			    size_t limit, kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return list_all(tx, SQL_WEBHOOK_LIST_ALL, state, account_id, limit, a, (void **)out, n,
			sizeof(**out), read_webhook, "webhook list", err);
}

static int webhook_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return retry(tx, SQL_WEBHOOK_RETRY, SQL_WEBHOOK_STATE, id, now_ms, "webhook retry", err);
}

static const char SQL_COUNTS[] =
	"SELECT 'lock', reason, count(*) FROM locks GROUP BY reason "
	"UNION ALL SELECT 'outbox', state, count(*) FROM outbox GROUP BY state "
	"UNION ALL SELECT 'webhooks', state, count(*) FROM webhooks GROUP BY state";

static void read_count(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_store_count *c = row;
	c->what = kg_sq_col_text(a, st, 0);
	c->key = kg_sq_col_text(a, st, 1);
	c->n = kg_sq_col_i64(st, 2);
}

static int counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTS, err);
	if (!st)
		return err->code;
	return kg_sq_rows(tx, st, a, read_count, sizeof(**out), (void **)out, n, err, "counts");
}

const struct kg_store_notify_ops kg_sqlite_notify_ops = {
	.outbox_find = outbox_find,
	.outbox_list_all = outbox_list_all,
	.outbox_retry = outbox_retry,
	.webhook_find = webhook_find,
	.webhook_list_all = webhook_list_all,
	.webhook_retry = webhook_retry,
	.counts = counts,
};
