/* PostgreSQL operations of the one delivery queue, for both its kinds, as
 * sqlite_queue.c: each kind is a row of `kinds` (its SQL made from its
 * table and columns by one macro, how to bind and read its row), and every
 * operation is written once over a kind. Several nodes claim from one
 * queue: the due rows are selected FOR UPDATE SKIP LOCKED, so two workers
 * claiming at once get different rows, and a row's lease (attempts + 1,
 * next try later) is written in the same transaction. */
#include "store/postgres_impl.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OUTBOX_COLS                                                             \
	"account_id, id, message_id, rcpt, subject, mime, state, attempts, "    \
	"next_attempt_ms, delivered_ms, last_error, created_ms"
#define WEBHOOK_COLS                                                            \
	"account_id, id, event, url, body, state, attempts, next_attempt_ms, " \
	"delivered_ms, last_error, created_ms"

#define QUEUE_SQL(T, COLS)                                                                   \
	.get = "SELECT " COLS " FROM " T " WHERE account_id = $1 AND id = $2",               \
	.find = "SELECT " COLS " FROM " T " WHERE id = $1",                                  \
	.due = "SELECT " COLS " FROM " T " WHERE state = 'pending' AND next_attempt_ms <= $1 " \
	       "ORDER BY next_attempt_ms, created_ms LIMIT $2 FOR UPDATE SKIP LOCKED",       \
	.lease = "UPDATE " T " SET attempts = attempts + 1, next_attempt_ms = $3 "           \
		 "WHERE account_id = $1 AND id = $2",                                        \
	.delivered = "UPDATE " T " SET state = 'delivered', delivered_ms = $3, "             \
		     "last_error = NULL WHERE account_id = $1 AND id = $2 AND state = 'pending'", \
	.failed = "UPDATE " T " SET state = CASE WHEN $3::bigint = 0 THEN 'failed' ELSE "    \
		  "'pending' END, next_attempt_ms = CASE WHEN $3::bigint = 0 THEN "          \
		  "next_attempt_ms ELSE $3::bigint END, last_error = $4 "                    \
		  "WHERE account_id = $1 AND id = $2 AND state = 'pending'",                 \
	.list = "SELECT " COLS " FROM " T " WHERE ($1::text IS NULL OR state = $1) "        \
		"AND ($2::text IS NULL OR account_id = $2) "                                 \
		"ORDER BY created_ms DESC, id DESC LIMIT $3",                                \
	.retry = "UPDATE " T " SET state = 'pending', attempts = 0, next_attempt_ms = $2 "   \
		 "WHERE id = $1 AND state != 'delivered'",                                   \
	.state = "SELECT state FROM " T " WHERE id = $1"

struct kind {
	const char *name; /* in messages: "outbox", "webhook" */
	const char *insert, *get, *find, *due, *lease, *delivered, *failed, *list, *retry,
		*state;
	/* checks a row to insert and adds its parameters; a new id goes into
	 * id, which outlives the statement */
	int (*bind)(kg_pg_args *p, const void *row, int64_t now, char id[KG_STORE_ID_MAX],
		    kg_err *err);
	void (*read)(kg_arena *a, const PGresult *r, int row, void *out);
	size_t elem, off_account, off_id, off_attempts, off_next;
};

static int bind_outbox(kg_pg_args *p, const void *row, int64_t now, char id[KG_STORE_ID_MAX],
		       kg_err *err)
{
	const kg_outbox *o = row;
	if (!o->account_id || !o->rcpt || !o->mime)
		return kg_err_set(err, KG_EINVAL, "an outbox entry needs account, rcpt and mime");
	kg_pg_text(p, o->account_id);
	kg_pg_text(p, o->id ? o->id : kg_store_new_id(id, "out"));
	kg_pg_text(p, o->message_id);
	kg_pg_text(p, o->rcpt);
	kg_pg_text(p, o->subject);
	kg_pg_blob(p, o->mime, o->mime_len ? o->mime_len : strlen(o->mime));
	kg_pg_i64(p, o->next_attempt_ms ? o->next_attempt_ms : now);
	kg_pg_i64(p, o->created_ms ? o->created_ms : now);
	return 0;
}

static void read_outbox(kg_arena *a, const PGresult *r, int row, void *out)
{
	kg_outbox *o = out;
	o->account_id = kg_pg_col_text(a, r, row, 0);
	o->id = kg_pg_col_text(a, r, row, 1);
	o->message_id = kg_pg_col_text(a, r, row, 2);
	o->rcpt = kg_pg_col_text(a, r, row, 3);
	o->subject = kg_pg_col_text(a, r, row, 4);
	o->mime = (const char *)kg_pg_col_blob(a, r, row, 5, &o->mime_len);
	o->state = kg_pg_col_text(a, r, row, 6);
	o->attempts = kg_pg_col_i64(r, row, 7);
	o->next_attempt_ms = kg_pg_col_i64(r, row, 8);
	o->delivered_ms = kg_pg_col_i64(r, row, 9);
	o->last_error = kg_pg_col_text(a, r, row, 10);
	o->created_ms = kg_pg_col_i64(r, row, 11);
}

static int bind_webhook(kg_pg_args *p, const void *row, int64_t now, char id[KG_STORE_ID_MAX],
			kg_err *err)
{
	const kg_webhook *w = row;
	if (!w->event || !w->body)
		return kg_err_set(err, KG_EINVAL, "a webhook needs an event and a body");
	kg_pg_text(p, w->account_id ? w->account_id : "");
	kg_pg_text(p, w->id ? w->id : kg_store_new_id(id, "whk"));
	kg_pg_text(p, w->event);
	kg_pg_text(p, w->url);
	kg_pg_text(p, w->body);
	kg_pg_i64(p, w->next_attempt_ms ? w->next_attempt_ms : now);
	kg_pg_i64(p, w->created_ms ? w->created_ms : now);
	return 0;
}

static void read_webhook(kg_arena *a, const PGresult *r, int row, void *out)
{
	kg_webhook *w = out;
	w->account_id = kg_pg_col_text(a, r, row, 0);
	w->id = kg_pg_col_text(a, r, row, 1);
	w->event = kg_pg_col_text(a, r, row, 2);
	w->url = kg_pg_col_text(a, r, row, 3);
	w->body = kg_pg_col_text(a, r, row, 4);
	w->state = kg_pg_col_text(a, r, row, 5);
	w->attempts = kg_pg_col_i64(r, row, 6);
	w->next_attempt_ms = kg_pg_col_i64(r, row, 7);
	w->delivered_ms = kg_pg_col_i64(r, row, 8);
	w->last_error = kg_pg_col_text(a, r, row, 9);
	w->created_ms = kg_pg_col_i64(r, row, 10);
}

static const struct kind kinds[] = {
	[KG_QUEUE_MAIL] = {
		.name = "outbox",
		.insert = "INSERT INTO outbox (" OUTBOX_COLS ") VALUES "
			  "($1, $2, $3, $4, $5, $6, 'pending', 0, $7, NULL, NULL, $8) "
			  "ON CONFLICT DO NOTHING",
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
			  "($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, NULL, $7) "
			  "ON CONFLICT DO NOTHING",
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

/* Reads every row of r into a new arena array of q's rows. */
static void read_rows(const struct kind *q, kg_arena *a, const PGresult *r, void **out,
		      size_t *n)
{
	*out = NULL;
	*n = 0;
	int rows = PQntuples(r);
	if (!rows)
		return;
	char *arr = kg_arena_alloc(a, (size_t)rows * q->elem);
	memset(arr, 0, (size_t)rows * q->elem);
	for (int i = 0; i < rows; i++)
		q->read(a, r, i, arr + (size_t)i * q->elem);
	*out = arr;
	*n = (size_t)rows;
}

static int queue_insert(kg_tx *tx, enum kg_queue_kind k, const void *row, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	kg_pg_args p = {0};
	char id[KG_STORE_ID_MAX];
	int rc = q->bind(&p, row, kg_now_ms(), id, err);
	if (rc)
		return rc;
	char what[32];
	snprintf(what, sizeof(what), "%s insert", q->name);
	uint64_t changed = 0;
	rc = kg_pg_run(tx, q->insert, &p, &changed, err, what);
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "%s: the entry already exists", what);
	return rc;
}

static int queue_get(kg_tx *tx, enum kg_queue_kind k, const char *account_id, const char *id,
		     void *out, kg_arena *a, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	kg_pg_args p = {0};
	if (account_id)
		kg_pg_text(&p, account_id);
	kg_pg_text(&p, id);
	char what[32];
	snprintf(what, sizeof(what), account_id ? "%s get" : "%s", q->name);
	PGresult *r = kg_pg_exec(tx, account_id ? q->get : q->find, &p, err, what);
	if (!r)
		return err->code;
	int rc = 0;
	if (PQntuples(r) == 0) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no %s entry \"%s\"", q->name, id);
	} else {
		memset(out, 0, q->elem);
		q->read(a, r, 0, out);
	}
	PQclear(r);
	return rc;
}

static int queue_claim_due(kg_tx *tx, enum kg_queue_kind k, int64_t now_ms, int64_t lease_ms,
			   size_t limit, kg_arena *a, void **out, size_t *n, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	kg_pg_args p = {0};
	kg_pg_i64(&p, now_ms);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	char what[32];
	snprintf(what, sizeof(what), "%s claim", q->name);
	PGresult *r = kg_pg_exec(tx, q->due, &p, err, what);
	if (!r)
		return err->code;
	read_rows(q, a, r, out, n);
	PQclear(r);
	int rc = 0;
	for (size_t i = 0; !rc && i < *n; i++) {
		char *row = (char *)*out + i * q->elem;
		int64_t *attempts = (int64_t *)(row + q->off_attempts);
		int64_t *next = (int64_t *)(row + q->off_next);
		(*attempts)++;
		*next = now_ms + lease_ms;
		p = (kg_pg_args){0};
		kg_pg_text(&p, *(const char **)(row + q->off_account));
		kg_pg_text(&p, *(const char **)(row + q->off_id));
		kg_pg_i64(&p, *next);
		rc = kg_pg_run(tx, q->lease, &p, NULL, err, "queue lease");
	}
	return rc;
}

static int queue_mark(kg_tx *tx, enum kg_queue_kind k, const char *account_id, const char *id,
		      bool delivered, int64_t ms, const char *error, kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	char what[32];
	snprintf(what, sizeof(what), "%s %s", q->name, delivered ? "delivered" : "failed");
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, id);
	kg_pg_i64(&p, ms);
	if (!delivered)
		kg_pg_text(&p, error);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, delivered ? q->delivered : q->failed, &p, &changed, err, what);
	if (rc || changed == 1)
		return rc;
	p = (kg_pg_args){0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, id);
	PGresult *r = kg_pg_exec(tx, q->get, &p, err, what);
	if (!r)
		return err->code;
	bool there = PQntuples(r) > 0;
	PQclear(r);
	if (there)
		return kg_err_set(err, KG_ECONFLICT, "%s: entry \"%s\" is not pending", what, id);
	return kg_err_set(err, KG_ENOTFOUND, "%s: no entry \"%s\"", what, id);
}

static int queue_list(kg_tx *tx, enum kg_queue_kind k, const char *state,
		      const char *account_id, size_t limit, kg_arena *a, void **out, size_t *n,
		      kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	kg_pg_args p = {0};
	kg_pg_text(&p, state);
	kg_pg_text(&p, account_id);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	char what[32];
	snprintf(what, sizeof(what), "%s list", q->name);
	PGresult *r = kg_pg_exec(tx, q->list, &p, err, what);
	if (!r)
		return err->code;
	read_rows(q, a, r, out, n);
	PQclear(r);
	return 0;
}

static int queue_retry(kg_tx *tx, enum kg_queue_kind k, const char *id, int64_t now_ms,
		       kg_err *err)
{
	KIND_OR_FAIL(q, k, err);
	char what[32];
	snprintf(what, sizeof(what), "%s retry", q->name);
	kg_pg_args p = {0};
	kg_pg_text(&p, id);
	kg_pg_i64(&p, now_ms);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, q->retry, &p, &changed, err, what);
	if (rc || changed == 1)
		return rc;
	p = (kg_pg_args){0};
	kg_pg_text(&p, id);
	PGresult *r = kg_pg_exec(tx, q->state, &p, err, what);
	if (!r)
		return err->code;
	bool there = PQntuples(r) > 0;
	PQclear(r);
	if (there)
		return kg_err_set(err, KG_ECONFLICT, "%s: \"%s\" was already delivered", what, id);
	return kg_err_set(err, KG_ENOTFOUND, "%s: no entry \"%s\"", what, id);
}

/* Row counts for /metrics: locks by reason (every lock ever written), the
 * queues by state. */
static const char SQL_COUNTS[] =
	"SELECT 'lock', reason, count(*) FROM locks GROUP BY reason "
	"UNION ALL SELECT 'outbox', state, count(*) FROM outbox GROUP BY state "
	"UNION ALL SELECT 'webhooks', state, count(*) FROM webhooks GROUP BY state";

static int queue_counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	PGresult *r = kg_pg_exec(tx, SQL_COUNTS, &p, err, "counts");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	kg_store_count *c = rows ? kg_arena_alloc(a, (size_t)rows * sizeof(*c)) : NULL;
	if (rows && !c) {
		PQclear(r);
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	}
	for (int i = 0; i < rows; i++) {
		c[i].what = kg_pg_col_text(a, r, i, 0);
		c[i].key = kg_pg_col_text(a, r, i, 1);
		c[i].n = kg_pg_col_i64(r, i, 2);
	}
	PQclear(r);
	*out = c;
	*n = (size_t)rows;
	return 0;
}

const struct kg_store_queue_ops kg_postgres_queue_ops = {
	.insert = queue_insert,
	.get = queue_get,
	.claim_due = queue_claim_due,
	.mark = queue_mark,
	.list = queue_list,
	.retry = queue_retry,
	.counts = queue_counts,
};
