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
static const char SQL_FEATURES_UPDATE[] =
	"UPDATE features SET state = ?2, updated_ms = ?3 WHERE account_id = ?1";

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

static int event_check(const kg_event_rec *ev, kg_err *err)
{
	if (!ev->account_id || !ev->event_id || !ev->type || !ev->body)
		return kg_err_set(err, KG_EINVAL,
				  "an event needs account, id, type and body");
	return 0;
}

/* ev's eight columns as parameters at + 1 .. at + 8 (SQL_EVENT_INSERT's order) */
static void event_bind(sqlite3_stmt *st, int at, const kg_event_rec *ev)
{
	kg_sq_bind_textn(st, at + 1, ev->account_id, ev->account_id_len);
	kg_sq_bind_textn(st, at + 2, ev->event_id, ev->event_id_len);
	kg_sq_bind_text(st, at + 3, ev->type);
	kg_sq_bind_i64(st, at + 4, ev->ts_ms);
	kg_sq_bind_textn(st, at + 5, ev->body, ev->body_len);
	kg_sq_bind_textn(st, at + 6, ev->decision, ev->decision_len);
	kg_sq_bind_i64(st, at + 7, kg_sq_or_now(ev->created_ms));
	kg_sq_bind_blob(st, at + 8, ev->body_hash_len ? ev->body_hash : NULL, ev->body_hash_len);
}

static int event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err)
{
	int rc = event_check(ev, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_INSERT, err);
	if (!st)
		return err->code;
	event_bind(st, 0, ev);
	rc = kg_sq_exec_stmt(tx, st, err, "event insert");
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

/* ---- many events: up to 64 rows a statement -----------------------------------
 * A statement's own work (its cursors on the table and its two indexes
 * opened and closed, the step, the reset, the halt: ~5,000 instructions)
 * was about a third of a row's; a batch's rows go 64, then 16, to a
 * statement, the last few one by one. INSERT OR IGNORE: a row already
 * stored is skipped, as the one-row insert's conflict is (the other
 * constraints cannot fail: event_check, every column bound), and no
 * statement journal is needed (nothing aborts half-way). */
#define ROW1 "(?,?,?,?,?,?,?,?)"
#define ROW2 ROW1 "," ROW1
#define ROW4 ROW2 "," ROW2
#define ROW8 ROW4 "," ROW4
#define ROW16 ROW8 "," ROW8
#define ROW32 ROW16 "," ROW16
#define ROW64 ROW32 "," ROW32
#define EVENT_INSERT_ROWS                                                                   \
	"INSERT OR IGNORE INTO events (account_id, event_id, type, ts_ms, body, decision, " \
	"created_ms, body_hash) VALUES "
static const char SQL_EVENT_INSERT_64[] = EVENT_INSERT_ROWS ROW64;
static const char SQL_EVENT_INSERT_16[] = EVENT_INSERT_ROWS ROW16;
static const struct {
	const char *sql;
	size_t rows;
} event_rows[] = {{SQL_EVENT_INSERT_64, 64}, {SQL_EVENT_INSERT_16, 16}};
static const char SQL_EVENT_ROWID[] =
	"SELECT rowid FROM events WHERE account_id = ?1 AND event_id = ?2";

/* Strings of kg_event_rec (a length, 0: up to the NUL) */
static bool same_str(const char *a, size_t an, const char *b, size_t bn)
{
	an = an ? an : strlen(a);
	bn = bn ? bn : strlen(b);
	return an == bn && !memcmp(a, b, an);
}

/* After a statement of rows evs[0..n) inserted only `changes` of them, the
 * last with rowid `last`: a row is new if its rowid is one the statement
 * gave (rowids are handed out in order: the last `changes` ones), and
 * only its first copy if it repeats in evs. */
static int event_rows_stored(kg_tx *tx, const kg_event_rec *evs, size_t n, int64_t changes,
			     int64_t last, bool *stored, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_EVENT_ROWID, err);
	if (!st)
		return err->code;
	for (size_t i = 0; i < n; i++) {
		stored[i] = false;
		if (!changes)
			continue;
		kg_sq_bind_textn(st, 1, evs[i].account_id, evs[i].account_id_len);
		kg_sq_bind_textn(st, 2, evs[i].event_id, evs[i].event_id_len);
		int rc = sqlite3_step(st);
		int64_t rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return kg_sq_fail(tx, rc, err, "event insert");
		stored[i] = rc == SQLITE_ROW && rowid > last - changes && rowid <= last;
		for (size_t k = 0; k < i && stored[i]; k++)
			stored[i] = !(stored[k] && same_str(evs[k].account_id, evs[k].account_id_len,
							    evs[i].account_id, evs[i].account_id_len) &&
				      same_str(evs[k].event_id, evs[k].event_id_len, evs[i].event_id,
					       evs[i].event_id_len));
	}
	return 0;
}

/* evs[0..rows) in one statement (sql: of that many rows) */
static int event_insert_rows(kg_tx *tx, const char *sql, const kg_event_rec *evs, size_t rows,
			     bool *stored, kg_err *err)
{
	for (size_t k = 0; k < rows; k++) {
		int rc = event_check(&evs[k], err);
		if (rc)
			return rc;
	}
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	for (size_t k = 0; k < rows; k++)
		event_bind(st, (int)(8 * k), &evs[k]);
	int rc = kg_sq_exec_stmt(tx, st, err, "event insert");
	if (rc)
		return rc;
	sqlite3 *db = kg_sq_db(tx);
	int64_t changes = sqlite3_changes64(db);
	if (changes != (int64_t)rows)
		return event_rows_stored(tx, evs, rows, changes, sqlite3_last_insert_rowid(db),
					 stored, err);
	for (size_t k = 0; k < rows; k++)
		stored[k] = true;
	return 0;
}

static int event_insert_many(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			     kg_err *err)
{
	size_t i = 0;
	for (size_t s = 0; s < sizeof(event_rows) / sizeof(event_rows[0]); s++)
		for (; i + event_rows[s].rows <= n; i += event_rows[s].rows) {
			int rc = event_insert_rows(tx, event_rows[s].sql, evs + i, event_rows[s].rows,
						   stored + i, err);
			if (rc)
				return rc;
		}
	return kg_store_event_insert_each(tx, evs + i, n - i, stored + i, err);
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

/* An UPDATE of one row: KG_ENOTFOUND when there was none (nothing written) */
static int exec_update(kg_tx *tx, sqlite3_stmt *st, kg_err *err, const char *what)
{
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	if (!rc && !sqlite3_changes(kg_sq_db(tx)))
		rc = KG_ENOTFOUND;
	return rc;
}

static int features_update(kg_tx *tx, const char *account_id, const void *blob, size_t len,
			   int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_FEATURES_UPDATE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_blob(st, 2, len ? blob : "", len);
	kg_sq_bind_i64(st, 3, kg_sq_or_now(now_ms));
	return exec_update(tx, st, err, "features update");
}

static const char SQL_ENTITY_UPDATE[] =
	"UPDATE entity_features SET state = ?3, updated_ms = ?4 WHERE kind = ?1 AND key = ?2";

static int entity_update(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
			 int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ENTITY_UPDATE, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, kind);
	kg_sq_bind_i64(st, 2, (int64_t)key);
	kg_sq_bind_blob(st, 3, len ? blob : "", len);
	kg_sq_bind_i64(st, 4, kg_sq_or_now(now_ms));
	return exec_update(tx, st, err, "entity update");
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
		return KG_ENOTFOUND; /* the cheap miss (every first-met entity): no message */
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
	.entity_update = entity_update,
	.event_get = event_get,
	.event_insert = event_insert,
	.event_insert_many = event_insert_many,
	.event_decision = event_decision,
	.event_scan = event_scan,
	.features_get = features_get,
	.features_put = features_put,
	.features_update = features_update,
	.event_list = event_list,
};
