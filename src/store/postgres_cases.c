/* PostgreSQL operations on support cases, their history and documents, and
 * the queue figures (position, recent handling time), as sqlite_cases.c.
 * A history append locks its case's row first, so two nodes appending to
 * one case take turns and number their entries 1, 2, ... without a gap or
 * a clash. */
#include "store/postgres_impl.h"

#include <string.h>

#define CASE_COLS \
	"account_id, case_id, state, subject, body, contact, lock_id, assignee, created_ms, updated_ms"

static const char SQL_CASE_INSERT[] =
	"INSERT INTO cases (" CASE_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	"ON CONFLICT DO NOTHING";
static const char SQL_CASE_GET[] = "SELECT " CASE_COLS " FROM cases WHERE case_id = $1";
static const char SQL_CASE_UPDATE[] =
	"UPDATE cases SET state = coalesce($3, state), assignee = coalesce($4, assignee), "
	"updated_ms = $5 WHERE account_id = $1 AND case_id = $2";
static const char SQL_CASE_LIST[] =
	"SELECT " CASE_COLS " FROM cases WHERE ($1::text IS NULL OR account_id = $1) "
	"AND ($2::text IS NULL OR state = $2) ORDER BY created_ms, case_id LIMIT $3";
static const char SQL_CASE_LOCK[] =
	"SELECT 1 FROM cases WHERE account_id = $1 AND case_id = $2 FOR UPDATE";
static const char SQL_HISTORY_APPEND[] =
	"INSERT INTO case_history (account_id, case_id, seq, ts_ms, actor, state, note) "
	"SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5, $6 FROM case_history "
	"WHERE account_id = $1 AND case_id = $2 RETURNING seq";
static const char SQL_HISTORY_LIST[] =
	"SELECT seq, ts_ms, actor, state, note FROM case_history "
	"WHERE account_id = $1 AND case_id = $2 ORDER BY seq";
static const char SQL_DOC_ADD[] =
	"INSERT INTO case_documents (account_id, case_id, doc_id, name, content_type, sha256, "
	"bytes, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
static const char SQL_DOC_LIST[] =
	"SELECT doc_id, name, content_type, sha256, length(bytes), created_ms FROM case_documents "
	"WHERE account_id = $1 AND case_id = $2 ORDER BY created_ms, doc_id";
static const char SQL_DOC_GET[] =
	"SELECT name, content_type, sha256, bytes, created_ms FROM case_documents "
	"WHERE account_id = $1 AND case_id = $2 AND doc_id = $3";
static const char SQL_CASE_WHERE[] =
	"SELECT state, created_ms FROM cases WHERE account_id = $1 AND case_id = $2";
static const char SQL_QUEUE_AHEAD[] =
	"SELECT count(*) FROM cases WHERE state IN ('open', 'in_review') "
	"AND (created_ms < $1 OR (created_ms = $1 AND case_id <= $2))";
static const char SQL_HANDLING[] =
	"SELECT trunc(coalesce(avg(updated_ms - created_ms), 0))::bigint, count(*) FROM "
	"(SELECT updated_ms, created_ms FROM cases WHERE state = 'resolved' "
	"ORDER BY updated_ms DESC LIMIT $1) AS recent";

static void read_case(kg_arena *a, const PGresult *r, int row, kg_case *c)
{
	c->account_id = kg_pg_col_text(a, r, row, 0);
	c->case_id = kg_pg_col_text(a, r, row, 1);
	c->state = kg_pg_col_text(a, r, row, 2);
	c->subject = kg_pg_col_text(a, r, row, 3);
	c->body = kg_pg_col_text(a, r, row, 4);
	c->contact = kg_pg_col_text(a, r, row, 5);
	c->lock_id = kg_pg_col_text(a, r, row, 6);
	c->assignee = kg_pg_col_text(a, r, row, 7);
	c->created_ms = kg_pg_col_i64(r, row, 8);
	c->updated_ms = kg_pg_col_i64(r, row, 9);
}

static int case_insert(kg_tx *tx, const kg_case *c, kg_err *err)
{
	if (!c->account_id || !c->case_id || !c->state)
		return kg_err_set(err, KG_EINVAL, "a case needs an account, an id and a state");
	int64_t now = kg_pg_or_now(c->created_ms);
	kg_pg_args p = {0};
	kg_pg_text(&p, c->account_id);
	kg_pg_text(&p, c->case_id);
	kg_pg_text(&p, c->state);
	kg_pg_text(&p, c->subject);
	kg_pg_text(&p, c->body);
	kg_pg_text(&p, c->contact);
	kg_pg_text(&p, c->lock_id);
	kg_pg_text(&p, c->assignee);
	kg_pg_i64(&p, now);
	kg_pg_i64(&p, c->updated_ms ? c->updated_ms : now);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CASE_INSERT, &p, &changed, err, "case insert");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "case insert: case \"%s\" already exists", c->case_id);
	return rc;
}

static int case_get(kg_tx *tx, const char *case_id, kg_case *out, kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, case_id);
	PGresult *r = kg_pg_exec(tx, SQL_CASE_GET, &p, err, "case get");
	if (!r)
		return err->code;
	int rc = 0;
	if (!PQntuples(r)) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	} else {
		memset(out, 0, sizeof(*out));
		read_case(a, r, 0, out);
	}
	PQclear(r);
	return rc;
}

static int case_update(kg_tx *tx, const char *account_id, const char *case_id, const char *state,
		       const char *assignee, int64_t now_ms, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	kg_pg_text(&p, state);
	kg_pg_text(&p, assignee);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CASE_UPDATE, &p, &changed, err, "case update");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	return rc;
}

static int case_list(kg_tx *tx, const char *account_id, const char *state, size_t limit,
		     kg_arena *a, kg_case **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, state);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	PGresult *r = kg_pg_exec(tx, SQL_CASE_LIST, &p, err, "case list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_case(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int history_append(kg_tx *tx, const char *account_id, const char *case_id,
			  const kg_case_event *ev, int64_t *seq_out, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	if (tx->write) {
		int rc = kg_pg_run(tx, SQL_CASE_LOCK, &p, NULL, err, "case history append");
		if (rc)
			return rc;
	}
	kg_pg_i64(&p, kg_pg_or_now(ev->ts_ms));
	kg_pg_text(&p, ev->actor ? ev->actor : "system");
	kg_pg_text(&p, ev->state);
	kg_pg_text(&p, ev->note);
	PGresult *r = kg_pg_exec(tx, SQL_HISTORY_APPEND, &p, err, "case history append");
	if (!r)
		return err->code;
	if (seq_out)
		*seq_out = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int history_list(kg_tx *tx, const char *account_id, const char *case_id, kg_arena *a,
			kg_case_event **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	PGresult *r = kg_pg_exec(tx, SQL_HISTORY_LIST, &p, err, "case history list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++) {
			kg_case_event *e = &(*out)[i];
			e->seq = kg_pg_col_i64(r, i, 0);
			e->ts_ms = kg_pg_col_i64(r, i, 1);
			e->actor = kg_pg_col_text(a, r, i, 2);
			e->state = kg_pg_col_text(a, r, i, 3);
			e->note = kg_pg_col_text(a, r, i, 4);
		}
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int document_add(kg_tx *tx, const kg_case_document *d, kg_err *err)
{
	if (!d->account_id || !d->case_id || !d->content_type || !d->bytes)
		return kg_err_set(err, KG_EINVAL, "a document needs a case, a type and bytes");
	char id[KG_STORE_ID_MAX];
	kg_pg_args p = {0};
	kg_pg_text(&p, d->account_id);
	kg_pg_text(&p, d->case_id);
	kg_pg_text(&p, d->doc_id ? d->doc_id : kg_store_new_id(id, "doc"));
	kg_pg_text(&p, d->name);
	kg_pg_text(&p, d->content_type);
	kg_pg_blob(&p, d->sha256, sizeof(d->sha256));
	kg_pg_blob(&p, d->bytes, d->len);
	kg_pg_i64(&p, kg_pg_or_now(d->created_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_DOC_ADD, &p, &changed, err, "case document add");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "case document add: the document already exists");
	return rc;
}

static void read_sha(kg_arena *a, const PGresult *r, int row, int col, uint8_t out[32])
{
	size_t hl = 0;
	const uint8_t *h = kg_pg_col_blob(a, r, row, col, &hl);
	if (h && hl == 32)
		memcpy(out, h, hl);
}

static int document_list(kg_tx *tx, const char *account_id, const char *case_id, kg_arena *a,
			 kg_case_document **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	PGresult *r = kg_pg_exec(tx, SQL_DOC_LIST, &p, err, "case document list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++) {
			kg_case_document *d = &(*out)[i];
			d->account_id = kg_arena_strdup(a, account_id);
			d->case_id = kg_arena_strdup(a, case_id);
			d->doc_id = kg_pg_col_text(a, r, i, 0);
			d->name = kg_pg_col_text(a, r, i, 1);
			d->content_type = kg_pg_col_text(a, r, i, 2);
			read_sha(a, r, i, 3, d->sha256);
			d->len = (size_t)kg_pg_col_i64(r, i, 4);
			d->created_ms = kg_pg_col_i64(r, i, 5);
		}
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int document_get(kg_tx *tx, const char *account_id, const char *case_id,
			const char *doc_id, kg_case_document *d, kg_arena *a, kg_err *err)
{
	memset(d, 0, sizeof(*d));
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	kg_pg_text(&p, doc_id);
	PGresult *r = kg_pg_exec(tx, SQL_DOC_GET, &p, err, "case document get");
	if (!r)
		return err->code;
	int rc = 0;
	if (!PQntuples(r)) {
		rc = kg_err_field(err, KG_ENOTFOUND, "doc", "no document \"%s\" in case \"%s\"", doc_id,
				  case_id);
	} else {
		d->account_id = kg_arena_strdup(a, account_id);
		d->case_id = kg_arena_strdup(a, case_id);
		d->doc_id = kg_arena_strdup(a, doc_id);
		d->name = kg_pg_col_text(a, r, 0, 0);
		d->content_type = kg_pg_col_text(a, r, 0, 1);
		read_sha(a, r, 0, 2, d->sha256);
		d->bytes = kg_pg_col_blob(a, r, 0, 3, &d->len);
		d->created_ms = kg_pg_col_i64(r, 0, 4);
	}
	PQclear(r);
	return rc;
}

static int queue_position(kg_tx *tx, const char *account_id, const char *case_id, int64_t *pos,
			  kg_err *err)
{
	*pos = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, case_id);
	PGresult *r = kg_pg_exec(tx, SQL_CASE_WHERE, &p, err, "case queue position");
	if (!r)
		return err->code;
	if (!PQntuples(r)) {
		PQclear(r);
		return kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	}
	const char *state = PQgetvalue(r, 0, 0);
	bool waiting = !strcmp(state, "open") || !strcmp(state, "in_review");
	int64_t created = kg_pg_col_i64(r, 0, 1);
	PQclear(r);
	if (!waiting)
		return 0;
	p = (kg_pg_args){0};
	kg_pg_i64(&p, created);
	kg_pg_text(&p, case_id);
	if (!(r = kg_pg_exec(tx, SQL_QUEUE_AHEAD, &p, err, "case queue position")))
		return err->code;
	*pos = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int handling_time(kg_tx *tx, size_t limit, int64_t *mean_ms, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	PGresult *r = kg_pg_exec(tx, SQL_HANDLING, &p, err, "case handling time");
	if (!r)
		return err->code;
	*mean_ms = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	*n = PQntuples(r) ? (size_t)kg_pg_col_i64(r, 0, 1) : 0;
	PQclear(r);
	return 0;
}

const struct kg_store_cases_ops kg_postgres_cases_ops = {
	.insert = case_insert,
	.get = case_get,
	.update = case_update,
	.list = case_list,
	.history_append = history_append,
	.history_list = history_list,
	.document_add = document_add,
	.document_list = document_list,
	.document_get = document_get,
	.queue_position = queue_position,
	.handling_time = handling_time,
};
