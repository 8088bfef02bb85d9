/* SQLite operations on events (stored with their decision, for idempotency
 * and replay) and per-account feature state (an opaque blob). */
#include "store/sqlite_impl.h"

#include <string.h>

static const char SQL_EVENT_GET[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms, body_hash "
	"FROM events WHERE account_id = ?1 AND event_id = ?2";
static const char SQL_EVENT_DECISION[] =
	"SELECT decision, body_hash FROM events WHERE account_id = ?1 AND event_id = ?2";
static const char SQL_EVENT_INSERT[] =
	"INSERT INTO events (account_id, event_id, type, ts_ms, body, decision, created_ms, "
	"body_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_EVENT_SCAN_ALL[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, account_id, event_id";
static const char SQL_EVENT_SCAN_ACCOUNT[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE account_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, event_id";
static const char SQL_EVENT_LIST[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE account_id = ?1 ORDER BY ts_ms DESC, event_id DESC LIMIT ?2";
static const char SQL_FEATURES_GET[] =
	"SELECT state, updated_ms FROM features WHERE account_id = ?1";
static const char SQL_FEATURES_PUT[] =
	"INSERT INTO features (account_id, state, updated_ms) VALUES (?1, ?2, ?3) "
	"ON CONFLICT (account_id) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";

static const char SQL_ENTITY_GET[] =
	"SELECT state, updated_ms FROM entity_features WHERE kind = ?1 AND key = ?2";
static const char SQL_ENTITY_PUT[] =
	"INSERT INTO entity_features (kind, key, state, updated_ms) VALUES (?1, ?2, ?3, ?4) "
	"ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";

static void read_event(kg_arena *a, sqlite3_stmt *st, void *row);

static int event_get(kg_tx *tx, const char *account_id, const char *event_id,
		     kg_event_rec *out, kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, event_id);
	int rc = kg_sq_one(tx, st, a, read_event, out, sizeof(*out), err, "event get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no event \"%s\" for account \"%s\"",
				  event_id, account_id);
	return rc;
}

static void read_event(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_event_rec *out = row;
	out->account_id = kg_sq_col_text(a, st, 0);
	out->event_id = kg_sq_col_text(a, st, 1);
	out->type = kg_sq_col_text(a, st, 2);
	out->ts_ms = kg_sq_col_i64(st, 3);
	out->body = kg_sq_col_text(a, st, 4);
	out->decision = kg_sq_col_text(a, st, 5);
	out->created_ms = kg_sq_col_i64(st, 6);
	out->body_hash = NULL;
	out->body_hash_len = 0;
	if (sqlite3_column_count(st) > 7) /* (event get) */
		out->body_hash = kg_sq_col_blob(a, st, 7, &out->body_hash_len);
}

static int event_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		      kg_event_rec **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_event, sizeof(**out), (void **)out, n, err,
			  "event list");
}

static int event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err)
{
	if (!ev->account_id || !ev->event_id || !ev->type || !ev->body)
		return kg_err_set(err, KG_EINVAL,
				  "an event needs account, id, type and body");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_textn(st, 1, ev->account_id, ev->account_id_len);
	kg_sq_bind_textn(st, 2, ev->event_id, ev->event_id_len);
	kg_sq_bind_text(st, 3, ev->type);
	kg_sq_bind_i64(st, 4, ev->ts_ms);
	kg_sq_bind_textn(st, 5, ev->body, ev->body_len);
	kg_sq_bind_textn(st, 6, ev->decision, ev->decision_len);
	kg_sq_bind_i64(st, 7, kg_sq_or_now(ev->created_ms));
	kg_sq_bind_blob(st, 8, ev->body_hash_len ? ev->body_hash : NULL, ev->body_hash_len);
	int rc = kg_sq_exec_stmt(tx, st, err, "event insert");
	if (rc == KG_ECONFLICT)
		return kg_err_field(err, KG_ECONFLICT, "id",
				    "event \"%.*s\" of account \"%.*s\" is already stored",
				    (int)(ev->event_id_len ? ev->event_id_len : strlen(ev->event_id)),
				    ev->event_id,
				    (int)(ev->account_id_len ? ev->account_id_len
							     : strlen(ev->account_id)),
				    ev->account_id);
	return rc;
}

static int event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			  const char *event_id, size_t event_id_len, kg_arena *a,
			  const char **decision, size_t *decision_len, const uint8_t **body_hash,
			  size_t *body_hash_len, kg_err *err)
{
	*body_hash = NULL;
	*body_hash_len = 0;
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_DECISION, err);
	if (!st)
		return err->code;
	sqlite3_bind_text64(st, 1, account_id, account_len, SQLITE_STATIC, SQLITE_UTF8);
	sqlite3_bind_text64(st, 2, event_id, event_id_len, SQLITE_STATIC, SQLITE_UTF8);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return KG_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		int code = kg_sq_fail(tx, rc, err, "event decision");
		sqlite3_reset(st);
		return code;
	}
	const char *d = kg_sq_col_text(a, st, 0);
	*decision = d ? d : "{}";
	*decision_len = strlen(*decision);
	*body_hash = kg_sq_col_blob(a, st, 1, body_hash_len);
	sqlite3_reset(st);
	return 0;
}

static int event_scan(kg_tx *tx, const char *account_id, int64_t from_ms, int64_t to_ms,
		      kg_event_cb cb, void *ctx, kg_err *err)
{
	sqlite3_stmt *st =
		kg_sq_stmt(tx, account_id ? SQL_EVENT_SCAN_ACCOUNT : SQL_EVENT_SCAN_ALL, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, from_ms);
	kg_sq_bind_i64(st, 3, to_ms ? to_ms : INT64_MAX);
	int rc, code = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		kg_event_rec ev = {
			.account_id = kg_sq_col_peek(st, 0),
			.event_id = kg_sq_col_peek(st, 1),
			.type = kg_sq_col_peek(st, 2),
			.ts_ms = kg_sq_col_i64(st, 3),
			.body = kg_sq_col_peek(st, 4),
			.decision = kg_sq_col_peek(st, 5),
			.created_ms = kg_sq_col_i64(st, 6),
		};
		code = cb(&ev, ctx);
		if (code)
			break;
	}
	if (!code && rc != SQLITE_DONE)
		code = kg_sq_fail(tx, rc, err, "event scan");
	else if (code && !err->code)
		kg_err_set(err, code, "event scan stopped by its callback");
	sqlite3_reset(st);
	return code;
}

static int features_get(kg_tx *tx, const char *account_id, kg_arena *a,
			const uint8_t **blob, size_t *len, int64_t *updated_ms, kg_err *err)
{
	*blob = NULL;
	*len = 0;
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_FEATURES_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no feature state for account \"%s\"",
				  account_id);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "features get");
	*blob = kg_sq_col_blob(a, st, 0, len);
	if (*len == 0)
		*blob = NULL;
	if (updated_ms)
		*updated_ms = kg_sq_col_i64(st, 1);
	sqlite3_reset(st);
	return 0;
}

static int features_put(kg_tx *tx, const char *account_id, const void *blob, size_t len,
			int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_FEATURES_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_blob(st, 2, len ? blob : "", len);
	kg_sq_bind_i64(st, 3, kg_sq_or_now(now_ms));
	return kg_sq_exec_stmt(tx, st, err, "features put");
}

static int entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		      size_t *len, int64_t *updated_ms, kg_err *err)
{
	*blob = NULL;
	*len = 0;
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ENTITY_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, kind);
	kg_sq_bind_i64(st, 2, (int64_t)key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return kg_err_set(err, KG_ENOTFOUND, "no state for entity %d:%016llx", kind,
				  (unsigned long long)key);
	}
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "entity get");
	*blob = kg_sq_col_blob(a, st, 0, len);
	if (*len == 0)
		*blob = NULL;
	if (updated_ms)
		*updated_ms = kg_sq_col_i64(st, 1);
	sqlite3_reset(st);
	return 0;
}

static int entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		      int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ENTITY_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, kind);
	kg_sq_bind_i64(st, 2, (int64_t)key);
	kg_sq_bind_blob(st, 3, len ? blob : "", len);
	kg_sq_bind_i64(st, 4, kg_sq_or_now(now_ms));
	return kg_sq_exec_stmt(tx, st, err, "entity put");
}

const struct kg_store_events_ops kg_sqlite_events_ops = {
	.entity_get = entity_get,
	.entity_put = entity_put,
	.event_get = event_get,
	.event_insert = event_insert,
	.event_decision = event_decision,
	.event_scan = event_scan,
	.features_get = features_get,
	.features_put = features_put,
	.event_list = event_list,
};
