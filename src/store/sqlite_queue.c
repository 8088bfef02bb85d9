/* SQLite operations of the one delivery queue (store.h, "the delivery
 * queue"), for both its kinds: mail (table outbox, rows kg_outbox) and
 * webhooks (table webhooks, rows kg_webhook). Each kind is a row of
 * `kinds` below: its SQL, built from its table and columns by one macro, how
 * to insert and read one of its rows, and where the fields every kind has
 * are in its row struct. Every operation is written once, over a kind.
 * Claiming leases an entry (pushes next_attempt_ms forward and counts the
 * attempt) instead of changing its state, so an entry claimed by a process
 * that then crashes is retried after the lease. */
#include "store/sqlite_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OUTBOX_COLS                                                             \
	"account_id, id, message_id, rcpt, subject, mime, state, attempts, "    \
	"next_attempt_ms, delivered_ms, last_error, created_ms"
#define WEBHOOK_COLS                                                            \
	"account_id, id, event, url, body, state, attempts, next_attempt_ms, " \
	"delivered_ms, last_error, created_ms"

/* The statements of a kind whose table is T with columns COLS (the first
 * two account_id, id). Bindings: see the operations below. */
#define QUEUE_SQL(T, COLS)                                                                   \
	.get = "SELECT " COLS " FROM " T " WHERE account_id = ?1 AND id = ?2",               \
	.find = "SELECT " COLS " FROM " T " WHERE id = ?1",                                  \
	.due = "SELECT " COLS " FROM " T " WHERE state = 'pending' AND next_attempt_ms <= ?1 " \
	       "ORDER BY next_attempt_ms, created_ms LIMIT ?2",                              \
	.lease = "UPDATE " T " SET attempts = attempts + 1, next_attempt_ms = ?3 "           \
		 "WHERE account_id = ?1 AND id = ?2",                                        \
	.delivered = "UPDATE " T " SET state = 'delivered', delivered_ms = ?3, "             \
		     "last_error = NULL WHERE account_id = ?1 AND id = ?2 AND state = 'pending'", \
	.failed = "UPDATE " T " SET state = CASE WHEN ?3 = 0 THEN 'failed' ELSE 'pending' END, " \
		  "next_attempt_ms = CASE WHEN ?3 = 0 THEN next_attempt_ms ELSE ?3 END, "    \
		  "last_error = ?4 WHERE account_id = ?1 AND id = ?2 AND state = 'pending'", \
	.list = "SELECT " COLS " FROM " T " WHERE (?1 IS NULL OR state = ?1) "              \
		"AND (?2 IS NULL OR account_id = ?2) ORDER BY created_ms DESC, id DESC LIMIT ?3", \
	.retry = "UPDATE " T " SET state = 'pending', attempts = 0, next_attempt_ms = ?2 "   \
		 "WHERE id = ?1 AND state != 'delivered'",                                   \
	.state = "SELECT state FROM " T " WHERE id = ?1"

/* One kind of the queue. */
struct kind {
	const char *name; /* in messages: "outbox", "webhook" */
	const char *insert, *get, *find, *due, *lease, *delivered, *failed, *list, *retry,
		*state;
	/* checks a row to insert and binds its columns (those of insert); a
	 * new id goes into id, which outlives the statement's step */
	int (*bind)(sqlite3_stmt *st, const void *row, int64_t now, char id[KG_STORE_ID_MAX],
		    kg_err *err);
	kg_sq_row_fn read;
	size_t elem, off_account, off_id, off_attempts, off_next;
};

/* ---- mail: the outbox ---------------------------------------------------------*/
static int bind_outbox(sqlite3_stmt *st, const void *row, int64_t now,
		       char id[KG_STORE_ID_MAX], kg_err *err)
{
	const kg_outbox *o = row;
	if (!o->account_id || !o->rcpt || !o->mime)
		return kg_err_set(err, KG_EINVAL, "an outbox entry needs account, rcpt and mime");
	kg_sq_bind_text(st, 1, o->account_id);
	kg_sq_bind_text(st, 2, o->id ? o->id : kg_store_new_id(id, "out"));
	kg_sq_bind_text(st, 3, o->message_id);
	kg_sq_bind_text(st, 4, o->rcpt);
	kg_sq_bind_text(st, 5, o->subject);
	kg_sq_bind_blob(st, 6, o->mime, o->mime_len ? o->mime_len : strlen(o->mime));
	kg_sq_bind_i64(st, 7, o->next_attempt_ms ? o->next_attempt_ms : now);
	kg_sq_bind_i64(st, 8, o->created_ms ? o->created_ms : now);
	return 0;
}

static void read_outbox(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_outbox *o = row;
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

/* ---- webhooks -------------------------------------------------------------------*/
static int bind_webhook(sqlite3_stmt *st, const void *row, int64_t now,
		       char id[KG_STORE_ID_MAX], kg_err *err)
{
	const kg_webhook *w = row;
	if (!w->event || !w->body)
		return kg_err_set(err, KG_EINVAL, "a webhook needs an event and a body");
	kg_sq_bind_text(st, 1, w->account_id ? w->account_id : "");
	kg_sq_bind_text(st, 2, w->id ? w->id : kg_store_new_id(id, "whk"));
	kg_sq_bind_text(st, 3, w->event);
	kg_sq_bind_text(st, 4, w->url);
	kg_sq_bind_text(st, 5, w->body);
	kg_sq_bind_i64(st, 6, w->next_attempt_ms ? w->next_attempt_ms : now);
	kg_sq_bind_i64(st, 7, w->created_ms ? w->created_ms : now);
	return 0;
}

static void read_webhook(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_webhook *w = row;
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

static const struct kind kinds[] = {
	[KG_QUEUE_MAIL] = {
		.name = "outbox",
		.insert = "INSERT INTO outbox (" OUTBOX_COLS ") VALUES "
			  "(?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, NULL, NULL, ?8)",
		QUEUE_SQL("outbox", OUTBOX_COLS),
		.bind = bind_outbox,
		.read = read_outbox,
		.elem = sizeof(kg_outbox),
		.off_account = offsetof(kg_outbox, account_id),
		.off_id = offsetof(kg_outbox, id),
		.off_attempts = offsetof(kg_outbox, attempts),
		.off_next = offsetof(kg_outbox, next_attempt_ms),
	},
	[KG_QUEUE_WEBHOOK] = {
		.name = "webhook",
		.insert = "INSERT INTO webhooks (" WEBHOOK_COLS ") VALUES "
			  "(?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, NULL, NULL, ?7)",
		QUEUE_SQL("webhooks", WEBHOOK_COLS),
		.bind = bind_webhook,
		.read = read_webhook,
		.elem = sizeof(kg_webhook),
		.off_account = offsetof(kg_webhook, account_id),
		.off_id = offsetof(kg_webhook, id),
		.off_attempts = offsetof(kg_webhook, attempts),
		.off_next = offsetof(kg_webhook, next_attempt_ms),
	},
};

static const struct kind *kind_of(enum kg_queue_kind k)
{
	return (unsigned)k < KG_ARRAY_LEN(kinds) ? &kinds[k] : NULL;
}

#define KIND_OR_FAIL(q, k, err)                                                    \
	const struct kind *q = kind_of(k);                                         \
	if (!q)                                                                    \
		return kg_err_set(err, KG_EINVAL, "unknown queue kind %d", (int)(k))

/* ---- the operations, once for every kind ------------------------------------------*/
static int queue_insert(kg_tx *tx, enum kg_queue_kind k, const void *row, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	sqlite3_stmt *st = kg_sq_stmt(tx, q->insert, err);
	if (!st)
		return err->code;
	char id[KG_STORE_ID_MAX];
	int rc = q->bind(st, row, kg_now_ms(), id, err);
	if (rc)
		return rc;
	char what[32];
	snprintf(what, sizeof(what), "%s insert", q->name);
	return kg_sq_exec_stmt(tx, st, err, what);
}

static int queue_get(kg_tx *tx, enum kg_queue_kind k, const char *account_id, const char *id,
		     void *out, kg_arena *a, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	sqlite3_stmt *st = kg_sq_stmt(tx, account_id ? q->get : q->find, err);
	if (!st)
		return err->code;
	int i = 1;
	if (account_id)
		kg_sq_bind_text(st, i++, account_id);
	kg_sq_bind_text(st, i, id);
	char what[32];
	snprintf(what, sizeof(what), account_id ? "%s get" : "%s", q->name);
	int rc = kg_sq_one(tx, st, a, q->read, out, q->elem, err, what);
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no %s entry \"%s\"", q->name, id);
	return rc;
}

/* Due entries of a kind, oldest first, each leased (see the top). */
static int queue_claim_due(kg_tx *tx, enum kg_queue_kind k, int64_t now_ms, int64_t lease_ms,
			   size_t limit, kg_arena *a, void **out, size_t *n, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	sqlite3_stmt *st = kg_sq_stmt(tx, q->due, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, now_ms);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	char what[32];
	snprintf(what, sizeof(what), "%s claim", q->name);
	int rc = kg_sq_rows(tx, st, a, q->read, q->elem, out, n, err, what);
	for (size_t i = 0; !rc && i < *n; i++) {
		char *row = (char *)*out + i * q->elem;
		int64_t *attempts = (int64_t *)(row + q->off_attempts);
		int64_t *next = (int64_t *)(row + q->off_next);
		(*attempts)++;
		*next = now_ms + lease_ms;
		if (!(st = kg_sq_stmt(tx, q->lease, err)))
			return err->code;
		kg_sq_bind_text(st, 1, *(const char **)(row + q->off_account));
		kg_sq_bind_text(st, 2, *(const char **)(row + q->off_id));
		kg_sq_bind_i64(st, 3, *next);
		rc = kg_sq_exec_stmt(tx, st, err, "queue lease");
	}
	return rc;
}

/* Delivered or failed, on one pending entry; KG_ENOTFOUND or KG_ECONFLICT
 * (not pending) when it changed nothing. */
static int queue_mark(kg_tx *tx, enum kg_queue_kind k, const char *account_id, const char *id,
		      bool delivered, int64_t ms, const char *error, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	char what[32];
	snprintf(what, sizeof(what), "%s %s", q->name, delivered ? "delivered" : "failed");
	sqlite3_stmt *st = kg_sq_stmt(tx, delivered ? q->delivered : q->failed, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	kg_sq_bind_i64(st, 3, ms);
	if (!delivered)
		kg_sq_bind_text(st, 4, error);
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	if (rc || sqlite3_changes(kg_sq_db(tx)) == 1)
		return rc;
	if (!(st = kg_sq_stmt(tx, q->get, err)))
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

static int queue_list(kg_tx *tx, enum kg_queue_kind k, const char *state,
		      const char *account_id, size_t limit, kg_arena *a, void **out, size_t *n,
		      kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	sqlite3_stmt *st = kg_sq_stmt(tx, q->list, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, state);
	kg_sq_bind_text(st, 2, account_id);
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : -1);
	char what[32];
	snprintf(what, sizeof(what), "%s list", q->name);
	return kg_sq_rows(tx, st, a, q->read, q->elem, out, n, err, what);
}

static int queue_retry(kg_tx *tx, enum kg_queue_kind k, const char *id, int64_t now_ms,
		       kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	char what[32];
	snprintf(what, sizeof(what), "%s retry", q->name);
	sqlite3_stmt *st = kg_sq_stmt(tx, q->retry, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	kg_sq_bind_i64(st, 2, now_ms);
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	if (rc || sqlite3_changes(kg_sq_db(tx)) == 1)
		return rc;
	if (!(st = kg_sq_stmt(tx, q->state, err)))
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

/* Row counts for /metrics: locks by reason (every lock ever written), the
 * queues by state. */
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

static int queue_counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTS, err);
	if (!st)
		return err->code;
	return kg_sq_rows(tx, st, a, read_count, sizeof(**out), (void **)out, n, err, "counts");
}

const struct kg_store_queue_ops kg_sqlite_queue_ops = {
	.insert = queue_insert,
	.get = queue_get,
	.claim_due = queue_claim_due,
	.mark = queue_mark,
	.list = queue_list,
	.retry = queue_retry,
	.counts = queue_counts,
};
