/* PostgreSQL operations on events (stored with their decision, for
 * idempotency and replay) and per-account feature state (an opaque blob),
 * as sqlite_events.c. Feature state read inside a write transaction is
 * read under the account's row lock (SELECT ... FOR UPDATE, the row made
 * first if missing), so that two nodes updating one account's windows take
 * turns: the second reads what the first wrote (docs/scaling.md). */
#include "store/postgres_impl.h"

#include <stdint.h>
#include <string.h>

static const char SQL_EVENT_GET[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms, body_hash "
	"FROM events WHERE account_id = $1 AND event_id = $2";
static const char SQL_EVENT_DECISION[] =
	"SELECT decision, body_hash FROM events WHERE account_id = $1 AND event_id = $2";
static const char SQL_EVENT_INSERT[] =
	"INSERT INTO events (account_id, event_id, type, ts_ms, body, decision, created_ms, "
	"body_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
static const char SQL_EVENT_SCAN_ALL[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE ts_ms >= $1 AND ts_ms < $2 ORDER BY ts_ms, account_id, event_id";
static const char SQL_EVENT_SCAN_ACCOUNT[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE account_id = $3 AND ts_ms >= $1 AND ts_ms < $2 ORDER BY ts_ms, event_id";
static const char SQL_EVENT_LIST[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms FROM events "
	"WHERE account_id = $1 ORDER BY ts_ms DESC, event_id DESC LIMIT $2";
static const char SQL_FEATURES_GET[] =
	"SELECT state, updated_ms FROM features WHERE account_id = $1";
/* in a write transaction: the account's row, locked until the commit */
static const char SQL_FEATURES_SEED[] =
	"INSERT INTO features (account_id, state, updated_ms) VALUES ($1, NULL, 0) "
	"ON CONFLICT DO NOTHING";
static const char SQL_FEATURES_LOCK[] =
	"SELECT state, updated_ms FROM features WHERE account_id = $1 FOR UPDATE";
static const char SQL_FEATURES_VERSION[] =
	"SELECT updated_ms FROM features WHERE account_id = $1 FOR UPDATE";
static const char SQL_FEATURES_PUT[] =
	"INSERT INTO features (account_id, state, updated_ms) VALUES ($1, $2, $3) "
	"ON CONFLICT (account_id) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";

static void read_event(kg_arena *a, const PGresult *r, int row, kg_event_rec *out)
{
	out->account_id = kg_pg_col_text(a, r, row, 0);
	out->event_id = kg_pg_col_text(a, r, row, 1);
	out->type = kg_pg_col_text(a, r, row, 2);
	out->ts_ms = kg_pg_col_i64(r, row, 3);
	out->body = kg_pg_col_text(a, r, row, 4);
	out->decision = kg_pg_col_text(a, r, row, 5);
	out->created_ms = kg_pg_col_i64(r, row, 6);
	out->body_hash = NULL;
	out->body_hash_len = 0;
	if (PQnfields(r) > 7) /* (event get) */
		out->body_hash = kg_pg_col_blob(a, r, row, 7, &out->body_hash_len);
}

static int event_get(kg_tx *tx, const char *account_id, const char *event_id,
		     kg_event_rec *out, kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, event_id);
	PGresult *r = kg_pg_exec(tx, SQL_EVENT_GET, &p, err, "event get");
	if (!r)
		return err->code;
	int rc = 0;
	if (PQntuples(r) == 0) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no event \"%s\" for account \"%s\"", event_id,
				account_id);
	} else {
		memset(out, 0, sizeof(*out));
		read_event(a, r, 0, out);
	}
	PQclear(r);
	return rc;
}

static int event_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		      kg_event_rec **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL); /* LIMIT NULL: all */
	PGresult *r = kg_pg_exec(tx, SQL_EVENT_LIST, &p, err, "event list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_event(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err)
{
	if (!ev->account_id || !ev->event_id || !ev->type || !ev->body)
		return kg_err_set(err, KG_EINVAL, "an event needs account, id, type and body");
	kg_pg_args p = {0};
	kg_pg_textn(&p, ev->account_id, ev->account_id_len);
	kg_pg_textn(&p, ev->event_id, ev->event_id_len);
	kg_pg_text(&p, ev->type);
	kg_pg_i64(&p, ev->ts_ms);
	kg_pg_textn(&p, ev->body, ev->body_len);
	kg_pg_textn(&p, ev->decision, ev->decision_len);
	kg_pg_i64(&p, kg_pg_or_now(ev->created_ms));
	kg_pg_blob(&p, ev->body_hash_len ? ev->body_hash : NULL, ev->body_hash_len);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_EVENT_INSERT, &p, &changed, err, "event insert");
	if (!rc && changed == 0)
		return kg_err_field(err, KG_ECONFLICT, "id",
				    "event \"%.*s\" of account \"%.*s\" is already stored",
				    (int)(ev->event_id_len ? ev->event_id_len : strlen(ev->event_id)),
				    ev->event_id,
				    (int)(ev->account_id_len ? ev->account_id_len
							     : strlen(ev->account_id)),
				    ev->account_id);
	return rc;
}

static int stored_row(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)err;
	const char *t = PQcmdTuples((PGresult *)r);
	((bool *)ctx)[i] = t && *t && strcmp(t, "0");
	return 0;
}

static int event_insert_many(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			     kg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const kg_event_rec *ev = &evs[i];
		if (!ev->account_id || !ev->event_id || !ev->type || !ev->body)
			return kg_err_set(err, KG_EINVAL, "an event needs account, id, type and body");
		kg_pg_args p = {0};
		kg_pg_textn(&p, ev->account_id, ev->account_id_len);
		kg_pg_textn(&p, ev->event_id, ev->event_id_len);
		kg_pg_text(&p, ev->type);
		kg_pg_i64(&p, ev->ts_ms);
		kg_pg_textn(&p, ev->body, ev->body_len);
		kg_pg_textn(&p, ev->decision, ev->decision_len);
		kg_pg_i64(&p, kg_pg_or_now(ev->created_ms));
		kg_pg_blob(&p, ev->body_hash_len ? ev->body_hash : NULL, ev->body_hash_len);
		stored[i] = false;
		int rc = kg_pg_send(tx, SQL_EVENT_INSERT, &p, stored_row, stored, i, err,
				    "event insert");
		if (rc)
			return rc;
	}
	return kg_pg_flush(tx, err);
}

static int event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			  const char *event_id, size_t event_id_len, kg_arena *a,
			  const char **decision, size_t *decision_len, const uint8_t **body_hash,
			  size_t *body_hash_len, kg_err *err)
{
	*body_hash = NULL;
	*body_hash_len = 0;
	kg_pg_args p = {0};
	kg_pg_textn(&p, account_id, account_len);
	kg_pg_textn(&p, event_id, event_id_len);
	PGresult *r = kg_pg_exec(tx, SQL_EVENT_DECISION, &p, err, "event decision");
	if (!r)
		return err->code;
	int rc = 0;
	if (PQntuples(r) == 0) {
		rc = KG_ENOTFOUND; /* the cheap miss: no message */
	} else {
		const char *d = kg_pg_col_text(a, r, 0, 0);
		*decision = d ? d : "{}";
		*decision_len = strlen(*decision);
		*body_hash = kg_pg_col_blob(a, r, 0, 1, body_hash_len);
	}
	PQclear(r);
	return rc;
}

static int event_scan(kg_tx *tx, const char *account_id, int64_t from_ms, int64_t to_ms,
		      kg_event_cb cb, void *ctx, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, from_ms);
	kg_pg_i64(&p, to_ms ? to_ms : INT64_MAX);
	if (account_id)
		kg_pg_text(&p, account_id);
	PGresult *r = kg_pg_exec(tx, account_id ? SQL_EVENT_SCAN_ACCOUNT : SQL_EVENT_SCAN_ALL, &p,
				 err, "event scan");
	if (!r)
		return err->code;
	int code = 0;
	for (int i = 0; !code && i < PQntuples(r); i++) {
		kg_event_rec ev = {
			.account_id = PQgetvalue(r, i, 0),
			.event_id = PQgetvalue(r, i, 1),
			.type = PQgetvalue(r, i, 2),
			.ts_ms = kg_pg_col_i64(r, i, 3),
			.body = PQgetvalue(r, i, 4),
			.decision = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
			.created_ms = kg_pg_col_i64(r, i, 6),
		};
		code = cb(&ev, ctx);
	}
	if (code && !err->code)
		kg_err_set(err, code, "event scan stopped by its callback");
	PQclear(r);
	return code;
}

static int features_get(kg_tx *tx, const char *account_id, kg_arena *a,
			const uint8_t **blob, size_t *len, int64_t *updated_ms, kg_err *err)
{
	*blob = NULL;
	*len = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	if (tx->write) {
		int rc = kg_pg_run(tx, SQL_FEATURES_SEED, &p, NULL, err, "features lock");
		if (rc)
			return rc;
	}
	PGresult *r = kg_pg_exec(tx, tx->write ? SQL_FEATURES_LOCK : SQL_FEATURES_GET, &p, err,
				 "features get");
	if (!r)
		return err->code;
	int rc = 0;
	/* no row, or the locked placeholder of an account with no state yet */
	if (PQntuples(r) == 0 || (PQgetisnull(r, 0, 0) && kg_pg_col_i64(r, 0, 1) == 0)) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no feature state for account \"%s\"", account_id);
	} else {
		*blob = kg_pg_col_blob(a, r, 0, 0, len);
		if (*len == 0)
			*blob = NULL;
		if (updated_ms)
			*updated_ms = kg_pg_col_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

/* Sent without waiting (kg_pg_send): its result is checked by the job's
 * flush. */
static int features_put(kg_tx *tx, const char *account_id, const void *blob, size_t len,
			int64_t now_ms, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_blob(&p, len ? blob : "", len);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	return kg_pg_send(tx, SQL_FEATURES_PUT, &p, NULL, NULL, 0, err, "features put");
}

/* Locks the row that select (FOR UPDATE) finds with p's arguments, and
 * reads its version: the lock first (one round trip for a row that is
 * there); a missing row is seeded (seed inserts an empty one, locked by
 * that), then — if another node inserted it meanwhile (no row inserted) —
 * locked by the select again. */
static int lock_row(kg_tx *tx, const char *select, const char *seed, const kg_pg_args *p,
		    const char *what, int64_t *version, kg_err *err)
{
	*version = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r = kg_pg_exec(tx, select, p, err, what);
		if (!r)
			return err->code;
		bool have = PQntuples(r) > 0;
		if (have)
			*version = kg_pg_col_i64(r, 0, 0);
		PQclear(r);
		if (have || attempt)
			return 0;
		uint64_t changed = 0;
		int rc = kg_pg_run(tx, seed, p, &changed, err, what);
		if (rc || changed)
			return rc;
	}
	return 0;
}

static int features_lock(kg_tx *tx, const char *account_id, int64_t *version, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	return lock_row(tx, SQL_FEATURES_VERSION, SQL_FEATURES_SEED, &p, "features lock", version,
			err);
}

/* The version of row i into ((int64_t *)ctx)[i]. */
static int version_row(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	if (PQntuples(r) != 1)
		return kg_err_set(err, KG_EINTERNAL, "lock: the row seeded before is gone");
	((int64_t *)ctx)[i] = kg_pg_col_i64(r, 0, 0);
	return 0;
}

/* Each row seeded (if new: an insert that another node's concurrent insert
 * makes wait and then do nothing) and locked, one after the other in the
 * order given, all in one pipeline. */
static int features_lock_many(kg_tx *tx, const char *const *ids, size_t n, int64_t *versions,
			      kg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		kg_pg_args p = {0};
		kg_pg_text(&p, ids[i]);
		int rc = kg_pg_send(tx, SQL_FEATURES_SEED, &p, NULL, NULL, 0, err, "features lock");
		if (!rc)
			rc = kg_pg_send(tx, SQL_FEATURES_VERSION, &p, version_row, versions, i, err,
					"features lock");
		if (rc)
			return rc;
	}
	return kg_pg_flush(tx, err);
}

static const char SQL_ENTITY_GET[] =
	"SELECT state, updated_ms FROM entity_features WHERE kind = $1 AND key = $2";
static const char SQL_ENTITY_VERSION[] =
	"SELECT updated_ms FROM entity_features WHERE kind = $1 AND key = $2 FOR UPDATE";
static const char SQL_ENTITY_SEED[] =
	"INSERT INTO entity_features (kind, key, state, updated_ms) VALUES ($1, $2, NULL, 0) "
	"ON CONFLICT DO NOTHING";
static const char SQL_ENTITY_PUT[] =
	"INSERT INTO entity_features (kind, key, state, updated_ms) VALUES ($1, $2, $3, $4) "
	"ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";

static int entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		      size_t *len, int64_t *updated_ms, kg_err *err)
{
	*blob = NULL;
	*len = 0;
	kg_pg_args p = {0};
	kg_pg_i64(&p, kind);
	kg_pg_i64(&p, (int64_t)key);
	PGresult *r = kg_pg_exec(tx, SQL_ENTITY_GET, &p, err, "entity get");
	if (!r)
		return err->code;
	int rc = 0;
	/* no row, or the locked placeholder of an entity with no state yet */
	if (PQntuples(r) == 0 || (PQgetisnull(r, 0, 0) && kg_pg_col_i64(r, 0, 1) == 0)) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no state for entity %d:%016llx", kind,
				(unsigned long long)key);
	} else {
		*blob = kg_pg_col_blob(a, r, 0, 0, len);
		if (*len == 0)
			*blob = NULL;
		if (updated_ms)
			*updated_ms = kg_pg_col_i64(r, 0, 1);
	}
	PQclear(r);
	return rc;
}

static int entity_lock(kg_tx *tx, int kind, uint64_t key, int64_t *version, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, kind);
	kg_pg_i64(&p, (int64_t)key);
	return lock_row(tx, SQL_ENTITY_VERSION, SQL_ENTITY_SEED, &p, "entity lock", version, err);
}

static int entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		      int64_t now_ms, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, kind);
	kg_pg_i64(&p, (int64_t)key);
	kg_pg_blob(&p, len ? blob : "", len);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	return kg_pg_send(tx, SQL_ENTITY_PUT, &p, NULL, NULL, 0, err, "entity put"); /* as features_put */
}

/* As features_lock_many. */
static int entity_lock_many(kg_tx *tx, const int *kinds, const uint64_t *keys, size_t n,
			    int64_t *versions, kg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		kg_pg_args p = {0};
		kg_pg_i64(&p, kinds[i]);
		kg_pg_i64(&p, (int64_t)keys[i]);
		int rc = kg_pg_send(tx, SQL_ENTITY_SEED, &p, NULL, NULL, 0, err, "entity lock");
		if (!rc)
			rc = kg_pg_send(tx, SQL_ENTITY_VERSION, &p, version_row, versions, i, err,
					"entity lock");
		if (rc)
			return rc;
	}
	return kg_pg_flush(tx, err);
}

const struct kg_store_events_ops kg_postgres_events_ops = {
	.entity_get = entity_get,
	.entity_lock = entity_lock,
	.entity_put = entity_put,
	.event_get = event_get,
	.event_insert = event_insert,
	.event_decision = event_decision,
	.event_scan = event_scan,
	.features_get = features_get,
	.features_put = features_put,
	.features_lock = features_lock,
	.event_insert_many = event_insert_many,
	.features_lock_many = features_lock_many,
	.entity_lock_many = entity_lock_many,
	.event_list = event_list,
};
