/* SQLite operations on support cases, their history and documents, and the
 * queue figures (position, recent handling time). */
#include "store/sqlite_impl.h"

#include <string.h>

#define CASE_COLS \
	"account_id, case_id, state, subject, body, contact, lock_id, assignee, created_ms, updated_ms"

static const char SQL_CASE_INSERT[] =
	"INSERT INTO cases (" CASE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_CASE_GET[] = "SELECT " CASE_COLS " FROM cases WHERE case_id = ?1";
static const char SQL_CASE_UPDATE[] =
	"UPDATE cases SET state = coalesce(?3, state), assignee = coalesce(?4, assignee), "
	"updated_ms = ?5 WHERE account_id = ?1 AND case_id = ?2";
static const char SQL_CASE_LIST[] =
	"SELECT " CASE_COLS " FROM cases WHERE (?1 IS NULL OR account_id = ?1) "
	"AND (?2 IS NULL OR state = ?2) ORDER BY created_ms, case_id LIMIT ?3";
static const char SQL_HISTORY_APPEND[] =
	"INSERT INTO case_history (account_id, case_id, seq, ts_ms, actor, state, note) "
	"SELECT ?1, ?2, coalesce(max(seq), 0) + 1, ?3, ?4, ?5, ?6 FROM case_history "
	"WHERE account_id = ?1 AND case_id = ?2 RETURNING seq";
static const char SQL_HISTORY_LIST[] =
	"SELECT seq, ts_ms, actor, state, note FROM case_history "
	"WHERE account_id = ?1 AND case_id = ?2 ORDER BY seq";
static const char SQL_DOC_ADD[] =
	"INSERT INTO case_documents (account_id, case_id, doc_id, name, content_type, sha256, "
	"bytes, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_DOC_LIST[] =
	"SELECT doc_id, name, content_type, sha256, length(bytes), created_ms FROM case_documents "
	"WHERE account_id = ?1 AND case_id = ?2 ORDER BY created_ms, doc_id";
static const char SQL_DOC_GET[] =
	"SELECT name, content_type, sha256, bytes, created_ms FROM case_documents "
	"WHERE account_id = ?1 AND case_id = ?2 AND doc_id = ?3";
static const char SQL_CASE_WHERE[] =
	"SELECT state, created_ms FROM cases WHERE account_id = ?1 AND case_id = ?2";
static const char SQL_QUEUE_AHEAD[] =
	"SELECT count(*) FROM cases WHERE state IN ('open', 'in_review') "
	"AND (created_ms < ?1 OR (created_ms = ?1 AND case_id <= ?2))";
static const char SQL_HANDLING[] =
	"SELECT coalesce(avg(updated_ms - created_ms), 0), count(*) FROM "
	"(SELECT updated_ms, created_ms FROM cases WHERE state = 'resolved' "
	"ORDER BY updated_ms DESC LIMIT ?1)";

static void read_case(kg_arena *a, sqlite3_stmt *st, kg_case *c)
{
	c->account_id = kg_sq_col_text(a, st, 0);
	c->case_id = kg_sq_col_text(a, st, 1);
	c->state = kg_sq_col_text(a, st, 2);
	c->subject = kg_sq_col_text(a, st, 3);
	c->body = kg_sq_col_text(a, st, 4);
	c->contact = kg_sq_col_text(a, st, 5);
	c->lock_id = kg_sq_col_text(a, st, 6);
	c->assignee = kg_sq_col_text(a, st, 7);
	c->created_ms = kg_sq_col_i64(st, 8);
	c->updated_ms = kg_sq_col_i64(st, 9);
}

static int case_insert(kg_tx *tx, const kg_case *c, kg_err *err)
{
	if (!c->account_id || !c->case_id || !c->state)
		return kg_err_set(err, KG_EINVAL, "a case needs an account, an id and a state");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CASE_INSERT, err);
	if (!st)
		return err->code;
	int64_t now = kg_sq_or_now(c->created_ms);
	kg_sq_bind_text(st, 1, c->account_id);
	kg_sq_bind_text(st, 2, c->case_id);
	kg_sq_bind_text(st, 3, c->state);
	kg_sq_bind_text(st, 4, c->subject);
	kg_sq_bind_text(st, 5, c->body);
	kg_sq_bind_text(st, 6, c->contact);
	kg_sq_bind_text(st, 7, c->lock_id);
	kg_sq_bind_text(st, 8, c->assignee);
	kg_sq_bind_i64(st, 9, now);
	kg_sq_bind_i64(st, 10, c->updated_ms ? c->updated_ms : now);
	return kg_sq_exec_stmt(tx, st, err, "case insert");
}

static int case_get(kg_tx *tx, const char *case_id, kg_case *out, kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CASE_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, case_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "case get");
	memset(out, 0, sizeof(*out));
	read_case(a, st, out);
	sqlite3_reset(st);
	return 0;
}

static int case_update(kg_tx *tx, const char *account_id, const char *case_id, const char *state,
		       const char *assignee, int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CASE_UPDATE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	kg_sq_bind_text(st, 3, state);
	kg_sq_bind_text(st, 4, assignee);
	kg_sq_bind_i64(st, 5, kg_sq_or_now(now_ms));
	int rc = kg_sq_exec_stmt(tx, st, err, "case update");
	if (!rc && sqlite3_changes(kg_sq_db(tx)) == 0)
		return kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	return rc;
}

static int case_list(kg_tx *tx, const char *account_id, const char *state, size_t limit,
		     kg_arena *a, kg_case **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CASE_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, state);
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : -1);
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		read_case(a, st, kg_sq_grow(a, (void **)out, n, &cap, sizeof(**out)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "case list");
}

static int history_append(kg_tx *tx, const char *account_id, const char *case_id,
			  const kg_case_event *ev, int64_t *seq_out, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_HISTORY_APPEND, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	kg_sq_bind_i64(st, 3, kg_sq_or_now(ev->ts_ms));
	kg_sq_bind_text(st, 4, ev->actor ? ev->actor : "system");
	kg_sq_bind_text(st, 5, ev->state);
	kg_sq_bind_text(st, 6, ev->note);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "case history append");
	if (seq_out)
		*seq_out = kg_sq_col_i64(st, 0);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "case history append");
}

static int history_list(kg_tx *tx, const char *account_id, const char *case_id, kg_arena *a,
			kg_case_event **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_HISTORY_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		kg_case_event *e = kg_sq_grow(a, (void **)out, n, &cap, sizeof(**out));
		e->seq = kg_sq_col_i64(st, 0);
		e->ts_ms = kg_sq_col_i64(st, 1);
		e->actor = kg_sq_col_text(a, st, 2);
		e->state = kg_sq_col_text(a, st, 3);
		e->note = kg_sq_col_text(a, st, 4);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "case history list");
}

static int document_add(kg_tx *tx, const kg_case_document *d, kg_err *err)
{
	if (!d->account_id || !d->case_id || !d->content_type || !d->bytes)
		return kg_err_set(err, KG_EINVAL, "a document needs a case, a type and bytes");
	char id[KG_STORE_ID_MAX];
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_DOC_ADD, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, d->account_id);
	kg_sq_bind_text(st, 2, d->case_id);
	kg_sq_bind_text(st, 3, d->doc_id ? d->doc_id : kg_store_new_id(id, "doc"));
	kg_sq_bind_text(st, 4, d->name);
	kg_sq_bind_text(st, 5, d->content_type);
	kg_sq_bind_blob(st, 6, d->sha256, sizeof(d->sha256));
	kg_sq_bind_blob(st, 7, d->bytes, d->len);
	kg_sq_bind_i64(st, 8, kg_sq_or_now(d->created_ms));
	return kg_sq_exec_stmt(tx, st, err, "case document add");
}

static int document_list(kg_tx *tx, const char *account_id, const char *case_id, kg_arena *a,
			 kg_case_document **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_DOC_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		kg_case_document *d = kg_sq_grow(a, (void **)out, n, &cap, sizeof(**out));
		d->account_id = kg_arena_strdup(a, account_id);
		d->case_id = kg_arena_strdup(a, case_id);
		d->doc_id = kg_sq_col_text(a, st, 0);
		d->name = kg_sq_col_text(a, st, 1);
		d->content_type = kg_sq_col_text(a, st, 2);
		size_t hl = 0;
		const uint8_t *h = kg_sq_col_blob(a, st, 3, &hl);
		if (h && hl == sizeof(d->sha256))
			memcpy(d->sha256, h, hl);
		d->len = (size_t)kg_sq_col_i64(st, 4);
		d->created_ms = kg_sq_col_i64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "case document list");
}

static int document_get(kg_tx *tx, const char *account_id, const char *case_id,
			const char *doc_id, kg_case_document *d, kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_DOC_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	kg_sq_bind_text(st, 3, doc_id);
	memset(d, 0, sizeof(*d));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		d->account_id = kg_arena_strdup(a, account_id);
		d->case_id = kg_arena_strdup(a, case_id);
		d->doc_id = kg_arena_strdup(a, doc_id);
		d->name = kg_sq_col_text(a, st, 0);
		d->content_type = kg_sq_col_text(a, st, 1);
		size_t hl = 0;
		const uint8_t *h = kg_sq_col_blob(a, st, 2, &hl);
		if (h && hl == sizeof(d->sha256))
			memcpy(d->sha256, h, hl);
		d->bytes = kg_sq_col_blob(a, st, 3, &d->len);
		d->created_ms = kg_sq_col_i64(st, 4);
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE && !d->doc_id)
		return kg_err_field(err, KG_ENOTFOUND, "doc", "no document \"%s\" in case \"%s\"",
				    doc_id, case_id);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "case document get");
}

static int queue_position(kg_tx *tx, const char *account_id, const char *case_id, int64_t *pos,
			  kg_err *err)
{
	*pos = 0;
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CASE_WHERE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, case_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no case \"%s\"", case_id);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "case queue position");
	const char *state = kg_sq_col_peek(st, 0);
	bool waiting = state && (!strcmp(state, "open") || !strcmp(state, "in_review"));
	int64_t created = kg_sq_col_i64(st, 1);
	sqlite3_reset(st);
	if (!waiting)
		return 0;
	if (!(st = kg_sq_stmt(tx, SQL_QUEUE_AHEAD, err)))
		return err->code;
	kg_sq_bind_i64(st, 1, created);
	kg_sq_bind_text(st, 2, case_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "case queue position");
	*pos = kg_sq_col_i64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int handling_time(kg_tx *tx, size_t limit, int64_t *mean_ms, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_HANDLING, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, limit ? (int64_t)limit : -1);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "case handling time");
	*mean_ms = (int64_t)sqlite3_column_double(st, 0);
	*n = (size_t)kg_sq_col_i64(st, 1);
	sqlite3_reset(st);
	return 0;
}

const struct kg_store_cases_ops kg_sqlite_cases_ops = {
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
