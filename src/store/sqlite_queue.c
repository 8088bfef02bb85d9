/* SQLite operations on the two durable delivery queues: the mail outbox and
 * webhooks. Claiming leases an entry (pushes next_attempt_ms forward and
 * counts the attempt) instead of changing its state, so an entry claimed
 * by a process that then crashes is retried after the lease. */
#include "store/sqlite_impl.h"

#include <stddef.h>
#include <string.h>

/* ---- outbox -----------------------------------------------------------------*/
#define OUTBOX_COLS KG_SQ_OUTBOX_COLS

static const char SQL_OUTBOX_INSERT[] =
	"INSERT INTO outbox (" OUTBOX_COLS ") VALUES "
	"(?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, NULL, NULL, ?8)";
static const char SQL_OUTBOX_GET[] =
	"SELECT " OUTBOX_COLS " FROM outbox WHERE account_id = ?1 AND id = ?2";
static const char SQL_OUTBOX_DUE[] =
	"SELECT " OUTBOX_COLS " FROM outbox WHERE state = 'pending' AND next_attempt_ms <= ?1 "
	"ORDER BY next_attempt_ms, created_ms LIMIT ?2";
static const char SQL_OUTBOX_LEASE[] =
	"UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?3 "
	"WHERE account_id = ?1 AND id = ?2";
static const char SQL_OUTBOX_DELIVERED[] =
	"UPDATE outbox SET state = 'delivered', delivered_ms = ?3, last_error = NULL "
	"WHERE account_id = ?1 AND id = ?2 AND state = 'pending'";
static const char SQL_OUTBOX_FAILED[] =
	"UPDATE outbox SET state = CASE WHEN ?3 = 0 THEN 'failed' ELSE 'pending' END, "
	"next_attempt_ms = CASE WHEN ?3 = 0 THEN next_attempt_ms ELSE ?3 END, "
	"last_error = ?4 WHERE account_id = ?1 AND id = ?2 AND state = 'pending'";
static const char SQL_OUTBOX_LIST[] =
	"SELECT " OUTBOX_COLS " FROM outbox WHERE account_id = ?1 "
	"ORDER BY created_ms DESC, id DESC LIMIT ?2";

void kg_sq_read_outbox(kg_arena *a, sqlite3_stmt *st, kg_outbox *o)
{
	o->account_id = kg_sq_col_text(a, st, 0);
	o->id = kg_sq_col_text(a, st, 1);
	o->message_id = kg_sq_col_text(a, st, 2);
	o->rcpt = kg_sq_col_text(a, st, 3);
	o->subject = kg_sq_col_text(a, st, 4);
	o->mime = (const char *)kg_sq_col_blob(a, st, 5, &o->mime_len);
	o->state = kg_sq_col_text(a, st, 6);
	o->attempts = kg_sq_col_i64(st, 7);
	o->next_attempt_ms = kg_sq_col_i64(st, 8);
	o->delivered_ms = kg_sq_col_i64(st, 9);
	o->last_error = kg_sq_col_text(a, st, 10);
	o->created_ms = kg_sq_col_i64(st, 11);
}

static void rd_outbox(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_sq_read_outbox(a, st, row);
}

static int outbox_insert(kg_tx *tx, const kg_outbox *o, kg_err *err)
{
	if (!o->account_id || !o->rcpt || !o->mime)
		return kg_err_set(err, KG_EINVAL, "an outbox entry needs account, rcpt and mime");
	char id[KG_STORE_ID_MAX];
	int64_t now = kg_now_ms();
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_OUTBOX_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, o->account_id);
	kg_sq_bind_text(st, 2, o->id ? o->id : kg_store_new_id(id, "out"));
	kg_sq_bind_text(st, 3, o->message_id);
	kg_sq_bind_text(st, 4, o->rcpt);
	kg_sq_bind_text(st, 5, o->subject);
	kg_sq_bind_blob(st, 6, o->mime, o->mime_len ? o->mime_len : strlen(o->mime));
	kg_sq_bind_i64(st, 7, o->next_attempt_ms ? o->next_attempt_ms : now);
	kg_sq_bind_i64(st, 8, o->created_ms ? o->created_ms : now);
	return kg_sq_exec_stmt(tx, st, err, "outbox insert");
}

static int outbox_get(kg_tx *tx, const char *account_id, const char *id, kg_outbox *out,
		      kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_OUTBOX_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	int rc = kg_sq_one(tx, st, a, rd_outbox, out, sizeof(*out), err, "outbox get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no outbox entry \"%s\"", id);
	return rc;
}

/* Leases every row of a claimed batch: attempts + 1, next try after lease. */
static int lease(kg_tx *tx, const char *sql, const char *account_id, const char *id,
		 int64_t until_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	kg_sq_bind_i64(st, 3, until_ms);
	return kg_sq_exec_stmt(tx, st, err, "queue lease");
}

/* One delivery queue's shape for claim(): its SQL and where the lease
 * fields are in its row struct. */
struct queue {
	const char *due_sql, *lease_sql, *what;
	kg_sq_row_fn read;
	size_t elem, off_account, off_id, off_attempts, off_next;
};

/* Due entries of a queue, oldest first, each leased (see the top). */
static int claim(kg_tx *tx, const struct queue *q, int64_t now_ms, int64_t lease_ms,
		 size_t limit, kg_arena *a, void **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, q->due_sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, now_ms);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	int rc = kg_sq_rows(tx, st, a, q->read, q->elem, out, n, err, q->what);
	for (size_t i = 0; !rc && i < *n; i++) {
		char *row = (char *)*out + i * q->elem;
		int64_t *attempts = (int64_t *)(row + q->off_attempts);
		int64_t *next = (int64_t *)(row + q->off_next);
		(*attempts)++;
		*next = now_ms + lease_ms;
		rc = lease(tx, q->lease_sql, *(const char **)(row + q->off_account),
			   *(const char **)(row + q->off_id), *next, err);
	}
	return rc;
}

static const struct queue outbox_queue = {
	SQL_OUTBOX_DUE, SQL_OUTBOX_LEASE, "outbox claim", rd_outbox, sizeof(kg_outbox),
	offsetof(kg_outbox, account_id), offsetof(kg_outbox, id),
	offsetof(kg_outbox, attempts), offsetof(kg_outbox, next_attempt_ms),
};

static int outbox_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			    kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return claim(tx, &outbox_queue, now_ms, lease_ms, limit, a, (void **)out, n, err);
}

/* Runs a state-changing UPDATE on one pending entry; KG_ENOTFOUND or
 * KG_ECONFLICT (not pending) when it changed nothing. */
static int finish(kg_tx *tx, const char *sql, const char *get_sql, const char *account_id,
		  const char *id, int64_t ms, const char *error, const char *what, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	kg_sq_bind_i64(st, 3, ms);
	if (error)
		kg_sq_bind_text(st, 4, error);
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	if (rc || sqlite3_changes(kg_sq_db(tx)) == 1)
		return rc;
	st = kg_sq_stmt(tx, get_sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return kg_err_set(err, KG_ECONFLICT, "%s: entry \"%s\" is not pending", what, id);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "%s: no entry \"%s\"", what, id);
	return kg_sq_fail(tx, rc, err, what);
}

static int outbox_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				 int64_t now_ms, kg_err *err)
{
	return finish(tx, SQL_OUTBOX_DELIVERED, SQL_OUTBOX_GET, account_id, id,
		      kg_sq_or_now(now_ms), NULL, "outbox delivered", err);
}

static int outbox_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			      int64_t retry_at_ms, const char *error, kg_err *err)
{
	return finish(tx, SQL_OUTBOX_FAILED, SQL_OUTBOX_GET, account_id, id, retry_at_ms,
		      error ? error : "", "outbox failed", err);
}

static int outbox_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		       kg_outbox **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_OUTBOX_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, rd_outbox, sizeof(**out), (void **)out, n, err,
			  "outbox list");
}

/* ---- webhooks ---------------------------------------------------------------*/
#define WEBHOOK_COLS KG_SQ_WEBHOOK_COLS

static const char SQL_WEBHOOK_INSERT[] =
	"INSERT INTO webhooks (" WEBHOOK_COLS ") VALUES "
	"(?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, NULL, NULL, ?7)";
static const char SQL_WEBHOOK_GET[] =
	"SELECT " WEBHOOK_COLS " FROM webhooks WHERE account_id = ?1 AND id = ?2";
static const char SQL_WEBHOOK_DUE[] =
	"SELECT " WEBHOOK_COLS " FROM webhooks WHERE state = 'pending' "
	"AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, created_ms LIMIT ?2";
static const char SQL_WEBHOOK_LEASE[] =
	"UPDATE webhooks SET attempts = attempts + 1, next_attempt_ms = ?3 "
	"WHERE account_id = ?1 AND id = ?2";
static const char SQL_WEBHOOK_DELIVERED[] =
	"UPDATE webhooks SET state = 'delivered', delivered_ms = ?3, last_error = NULL "
	"WHERE account_id = ?1 AND id = ?2 AND state = 'pending'";
static const char SQL_WEBHOOK_FAILED[] =
	"UPDATE webhooks SET state = CASE WHEN ?3 = 0 THEN 'failed' ELSE 'pending' END, "
	"next_attempt_ms = CASE WHEN ?3 = 0 THEN next_attempt_ms ELSE ?3 END, "
	"last_error = ?4 WHERE account_id = ?1 AND id = ?2 AND state = 'pending'";

void kg_sq_read_webhook(kg_arena *a, sqlite3_stmt *st, kg_webhook *w)
{
	w->account_id = kg_sq_col_text(a, st, 0);
	w->id = kg_sq_col_text(a, st, 1);
	w->event = kg_sq_col_text(a, st, 2);
	w->url = kg_sq_col_text(a, st, 3);
	w->body = kg_sq_col_text(a, st, 4);
	w->state = kg_sq_col_text(a, st, 5);
	w->attempts = kg_sq_col_i64(st, 6);
	w->next_attempt_ms = kg_sq_col_i64(st, 7);
	w->delivered_ms = kg_sq_col_i64(st, 8);
	w->last_error = kg_sq_col_text(a, st, 9);
	w->created_ms = kg_sq_col_i64(st, 10);
}

static int webhook_insert(kg_tx *tx, const kg_webhook *w, kg_err *err)
{
	if (!w->event || !w->body)
		return kg_err_set(err, KG_EINVAL, "a webhook needs an event and a body");
	char id[KG_STORE_ID_MAX];
	int64_t now = kg_now_ms();
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_WEBHOOK_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, w->account_id ? w->account_id : "");
	kg_sq_bind_text(st, 2, w->id ? w->id : kg_store_new_id(id, "whk"));
	kg_sq_bind_text(st, 3, w->event);
	kg_sq_bind_text(st, 4, w->url);
	kg_sq_bind_text(st, 5, w->body);
	kg_sq_bind_i64(st, 6, w->next_attempt_ms ? w->next_attempt_ms : now);
	kg_sq_bind_i64(st, 7, w->created_ms ? w->created_ms : now);
	return kg_sq_exec_stmt(tx, st, err, "webhook insert");
}

static void rd_webhook(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_sq_read_webhook(a, st, row);
}

static const struct queue webhook_queue = {
	SQL_WEBHOOK_DUE, SQL_WEBHOOK_LEASE, "webhook claim", rd_webhook, sizeof(kg_webhook),
	offsetof(kg_webhook, account_id), offsetof(kg_webhook, id),
	offsetof(kg_webhook, attempts), offsetof(kg_webhook, next_attempt_ms),
};

static int webhook_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			     kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return claim(tx, &webhook_queue, now_ms, lease_ms, limit, a, (void **)out, n, err);
}

static int webhook_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				  int64_t now_ms, kg_err *err)
{
	return finish(tx, SQL_WEBHOOK_DELIVERED, SQL_WEBHOOK_GET, account_id, id,
		      kg_sq_or_now(now_ms), NULL, "webhook delivered", err);
}

static int webhook_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			       int64_t retry_at_ms, const char *error, kg_err *err)
{
	return finish(tx, SQL_WEBHOOK_FAILED, SQL_WEBHOOK_GET, account_id, id, retry_at_ms,
		      error ? error : "", "webhook failed", err);
}

const struct kg_store_queue_ops kg_sqlite_queue_ops = {
	.outbox_insert = outbox_insert,
	.outbox_get = outbox_get,
	.outbox_claim_due = outbox_claim_due,
	.outbox_mark_delivered = outbox_mark_delivered,
	.outbox_mark_failed = outbox_mark_failed,
	.outbox_list = outbox_list,
	.webhook_insert = webhook_insert,
	.webhook_claim_due = webhook_claim_due,
	.webhook_mark_delivered = webhook_mark_delivered,
	.webhook_mark_failed = webhook_mark_failed,
};
