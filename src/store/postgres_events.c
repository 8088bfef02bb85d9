/* PostgreSQL operations on events (stored with their decision, for
 * idempotency and replay) and per-account feature state (an opaque blob),
 * as sqlite_events.c. Feature state read inside a write transaction is
 * read under the account's row lock (SELECT ... FOR UPDATE, the row made
 * first if missing), so that two nodes updating one account's windows take
 * turns: the second reads what the first wrote (docs/scaling.md).
 *
 * A batch's rows go set-based: each *_many operation is one statement per
 * table (its rows as arrays, unnested by the server), and the feature and
 * entity puts of a job wait in the connection (struct kg_pg_puts) until
 * its next statement or its flush, which writes them all with one upsert
 * per table. Per row, the server then runs an index probe and a heap
 * write, not a whole statement. */
#include "store/postgres_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_EVENT_GET[] =
	"SELECT account_id, event_id, type, ts_ms, body, decision, created_ms, body_hash "
	"FROM events WHERE account_id = $1 AND event_id = $2";
static const char SQL_EVENT_DECISION[] =
	"SELECT decision, body_hash FROM events WHERE account_id = $1 AND event_id = $2";
static const char SQL_EVENT_INSERT[] =
	"INSERT INTO events (account_id, event_id, type, ts_ms, body, decision, created_ms, "
	"body_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
/* the rows of a batch, in the order given; the new ones come back */
static const char SQL_EVENT_INSERT_MANY[] =
	"INSERT INTO events (account_id, event_id, type, ts_ms, body, decision, created_ms, "
	"body_hash) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
	"$5::text[], $6::text[], $7::bigint[], $8::bytea[]) "
	"ON CONFLICT DO NOTHING RETURNING account_id, event_id";
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
/* a job's puts (struct kg_pg_puts), the last of each account */
static const char SQL_FEATURES_PUT_MANY[] =
	"INSERT INTO features (account_id, state, updated_ms) "
	"SELECT DISTINCT ON (a) a, s, v FROM unnest($1::text[], $2::bytea[], $3::bigint[]) "
	"WITH ORDINALITY AS u(a, s, v, o) ORDER BY a, o DESC "
	"ON CONFLICT (account_id) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";
/* a batch's accounts (sorted, once each), in that order: each row made
 * (empty) if missing, or locked by an update that changes nothing (an
 * insert meeting another node's insert, or an update meeting its lock,
 * waits for that node's commit and then sees its row); the versions come
 * back. One statement, one order on every node. */
static const char SQL_FEATURES_LOCK_MANY[] =
	"INSERT INTO features AS f (account_id, state, updated_ms) "
	"SELECT a, NULL, 0 FROM unnest($1::text[]) AS u(a) "
	"ON CONFLICT (account_id) DO UPDATE SET updated_ms = f.updated_ms "
	"RETURNING account_id, updated_ms";

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

static size_t len_or(const char *s, size_t n) { return n ? n : strlen(s); }

/* A row of a batch by (account, event id), for matching the rows the
 * server says it inserted with the ones given. */
struct ev_key {
	const char *a, *e;
	size_t an, en;
	size_t i;
};

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static int cmp_ev_key(const void *x, const void *y)
{
	const struct ev_key *p = x, *q = y;
	int c = cmp_bytes(p->a, p->an, q->a, q->an);
	if (!c)
		c = cmp_bytes(p->e, p->en, q->e, q->en);
	return c ? c : (p->i > q->i) - (p->i < q->i);
}

struct stored_ctx {
	struct ev_key *keys; /* sorted */
	size_t n;
	bool *stored;
};

/* Each inserted row (RETURNING account_id, event_id) marks the first row
 * given with its key that is not marked yet (a key given twice: the first
 * was stored, the second met it). */
static int stored_rows(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)i;
	(void)err;
	struct stored_ctx *c = ctx;
	for (int row = 0; row < PQntuples(r); row++) {
		const char *a = PQgetvalue(r, row, 0), *e = PQgetvalue(r, row, 1);
		size_t an = (size_t)PQgetlength(r, row, 0), en = (size_t)PQgetlength(r, row, 1);
		size_t lo = 0, hi = c->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int cmp = cmp_bytes(c->keys[mid].a, c->keys[mid].an, a, an);
			if (!cmp)
				cmp = cmp_bytes(c->keys[mid].e, c->keys[mid].en, e, en);
			if (cmp < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t k = lo; k < c->n && !cmp_bytes(c->keys[k].a, c->keys[k].an, a, an) &&
				    !cmp_bytes(c->keys[k].e, c->keys[k].en, e, en);
		     k++)
			if (!c->stored[c->keys[k].i]) {
				c->stored[c->keys[k].i] = true;
				break;
			}
	}
	return 0;
}

enum { EV_ACCOUNT, EV_ID, EV_TYPE, EV_TS, EV_BODY, EV_DECISION, EV_CREATED, EV_HASH, EV_COLS };

/* The rows as one INSERT of arrays (SQL_EVENT_INSERT_MANY). */
static int event_insert_many(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			     kg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const kg_event_rec *ev = &evs[i];
		if (!ev->account_id || !ev->event_id || !ev->type || !ev->body)
			return kg_err_set(err, KG_EINVAL, "an event needs account, id, type and body");
		stored[i] = false;
	}
	if (!n)
		return 0;
	static const uint32_t oids[EV_COLS] = {KG_PG_OID_TEXT, KG_PG_OID_TEXT, KG_PG_OID_TEXT,
					       KG_PG_OID_INT8, KG_PG_OID_TEXT, KG_PG_OID_TEXT,
					       KG_PG_OID_INT8, KG_PG_OID_BYTEA};
	kg_pg_array col[EV_COLS];
	for (int k = 0; k < EV_COLS; k++)
		kg_pg_array_init(&col[k], oids[k]);
	struct ev_key *keys = malloc(n * sizeof(*keys));
	int rc = keys ? 0 : KG_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		keys[i] = (struct ev_key){evs[i].account_id, evs[i].event_id,
					  len_or(evs[i].account_id, evs[i].account_id_len),
					  len_or(evs[i].event_id, evs[i].event_id_len), i};
	/* in key order (the primary key's): the index is walked once, and of
	 * two rows with one key the first given is inserted */
	if (!rc)
		qsort(keys, n, sizeof(*keys), cmp_ev_key);
	for (size_t j = 0; j < n && !rc; j++) {
		const struct ev_key *ki = &keys[j];
		const kg_event_rec *ev = &evs[ki->i];
		const char *d = ev->decision;
		rc = kg_pg_array_add(&col[EV_ACCOUNT], ki->a, ki->an);
		if (!rc)
			rc = kg_pg_array_add(&col[EV_ID], ki->e, ki->en);
		if (!rc)
			rc = kg_pg_array_add(&col[EV_TYPE], ev->type, strlen(ev->type));
		if (!rc)
			rc = kg_pg_array_i64(&col[EV_TS], ev->ts_ms);
		if (!rc)
			rc = kg_pg_array_add(&col[EV_BODY], ev->body, len_or(ev->body, ev->body_len));
		if (!rc)
			rc = kg_pg_array_add(&col[EV_DECISION], d, d ? len_or(d, ev->decision_len) : 0);
		if (!rc)
			rc = kg_pg_array_i64(&col[EV_CREATED], kg_pg_or_now(ev->created_ms));
		if (!rc)
			rc = kg_pg_array_add(&col[EV_HASH], ev->body_hash_len ? ev->body_hash : NULL,
					     ev->body_hash_len);
	}
	if (rc) {
		kg_err_set(err, rc, "event insert: %s",
			   rc == KG_ELIMIT ? "the batch is too large for one statement" : "out of memory");
	} else {
		kg_pg_args p = {0};
		for (int k = 0; k < EV_COLS; k++)
			kg_pg_array_bind(&p, &col[k]);
		struct stored_ctx sc = {keys, n, stored};
		rc = kg_pg_send(tx, SQL_EVENT_INSERT_MANY, &p, stored_rows, &sc, 0, err, "event insert");
		if (!rc)
			rc = kg_pg_flush(tx, err);
	}
	for (int k = 0; k < EV_COLS; k++)
		kg_pg_array_release(&col[k]);
	free(keys);
	return rc;
}

static int event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			  const char *event_id, size_t event_id_len, kg_arena *a,
			  const char **decision, size_t *decision_len, const uint8_t **body_hash,
			  size_t *body_hash_len, kg_err *err)
{
	*body_hash = NULL;
	*body_hash_len = 0;
	bool found;
	if (kg_pg_ahead_event(tx->conn, account_id, account_len, event_id, event_id_len, a, decision,
			      decision_len, body_hash, body_hash_len, &found))
		return found ? 0 : KG_ENOTFOUND;
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
	bool found;
	if (!tx->write && kg_pg_ahead_features(tx->conn, account_id, a, blob, len, updated_ms, &found))
		return found ? 0
			     : kg_err_set(err, KG_ENOTFOUND, "no feature state for account \"%s\"",
					  account_id);
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

/* Kept in the connection's puts (struct kg_pg_puts) and written with the
 * job's others by one statement, before the job's next statement or at its
 * flush (kg_pg_puts_send): its failure is the job's. */
static int features_put(kg_tx *tx, const char *account_id, const void *blob, size_t len,
			int64_t now_ms, kg_err *err)
{
	struct kg_pg_puts *u = &tx->conn->fputs;
	/* NULL: fails on the server (NOT NULL), at the job's flush */
	int rc = kg_pg_array_add(&u->key, account_id, account_id ? strlen(account_id) : 0);
	if (!rc)
		rc = kg_pg_array_add(&u->state, len ? blob : "", len);
	if (!rc)
		rc = kg_pg_array_i64(&u->ver, kg_pg_or_now(now_ms));
	if (rc) { /* the arrays no longer line up: the job fails (and drops them) */
		kg_pg_puts_drop(tx->conn);
		return kg_err_set(err, rc, "features put: out of memory");
	}
	return 0;
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

/* The rows a batch locks: each key once, sorted (the order the rows are
 * seeded in), with the index of its first caller's entry and the version
 * read. */
struct lock_key {
	const char *id;       /* accounts */
	int kind;             /* entities */
	int64_t key;
	size_t i;             /* position in the caller's arrays */
	size_t u;             /* its unique key's position in the sorted array */
	int64_t version;
	bool found;
};

static int cmp_lock_account(const void *x, const void *y)
{
	const struct lock_key *p = x, *q = y;
	int c = strcmp(p->id, q->id);
	return c ? c : (p->i > q->i) - (p->i < q->i);
}

static int cmp_lock_entity(const void *x, const void *y)
{
	const struct lock_key *p = x, *q = y;
	if (p->kind != q->kind)
		return p->kind < q->kind ? -1 : 1;
	if (p->key != q->key)
		return p->key < q->key ? -1 : 1;
	return (p->i > q->i) - (p->i < q->i);
}

struct lock_ctx {
	struct lock_key *k; /* sorted; the first of each key is its unique entry */
	size_t n;
	bool entity;
};

/* The rows the lock returns (the key's columns, then updated_ms): each
 * one's version on its key's entries. */
static int lock_rows_read(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)i;
	(void)err;
	struct lock_ctx *c = ctx;
	int vcol = c->entity ? 2 : 1;
	for (int row = 0; row < PQntuples(r); row++) {
		struct lock_key want = {.i = 0};
		if (c->entity) {
			want.kind = (int)kg_pg_col_i64(r, row, 0);
			want.key = kg_pg_col_i64(r, row, 1);
		} else {
			want.id = PQgetvalue(r, row, 0);
		}
		size_t lo = 0, hi = c->n; /* the first entry of the key */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if ((c->entity ? cmp_lock_entity : cmp_lock_account)(&c->k[mid], &want) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		int64_t v = kg_pg_col_i64(r, row, vcol);
		for (size_t k = lo; k < c->n; k++) {
			struct lock_key *e = &c->k[k];
			if (c->entity ? e->kind != want.kind || e->key != want.key : strcmp(e->id, want.id))
				break;
			e->version = v;
			e->found = true;
		}
	}
	return 0;
}

/* Makes or locks the rows of keys (lock: one statement, one array per
 * column of the key): the versions into versions[] in the caller's
 * order. */
static int lock_many(kg_tx *tx, struct lock_ctx *c, const char *lock, kg_pg_array *cols,
		     int ncols, int64_t *versions, const char *what, kg_err *err)
{
	kg_pg_args p = {0};
	for (int k = 0; k < ncols; k++)
		kg_pg_array_bind(&p, &cols[k]);
	int rc = kg_pg_send(tx, lock, &p, lock_rows_read, c, 0, err, what);
	if (!rc)
		rc = kg_pg_flush(tx, err);
	for (size_t k = 0; k < c->n && !rc; k++) {
		if (!c->k[k].found)
			rc = kg_err_set(err, KG_EINTERNAL, "%s: a row neither made nor locked", what);
		else
			versions[c->k[k].i] = c->k[k].version;
	}
	return rc;
}

/* The accounts' rows seeded (a missing one; an insert that another node's
 * concurrent insert makes wait and then do nothing) and locked in account
 * order: two statements of arrays, one round trip. */
static int features_lock_many(kg_tx *tx, const char *const *ids, size_t n, int64_t *versions,
			      kg_err *err)
{
	if (!n)
		return 0;
	struct lock_key *keys = calloc(n, sizeof(*keys));
	if (!keys)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct lock_key){.id = ids[i], .i = i};
	qsort(keys, n, sizeof(*keys), cmp_lock_account);
	kg_pg_array col;
	kg_pg_array_init(&col, KG_PG_OID_TEXT);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (!i || strcmp(keys[i - 1].id, keys[i].id))
			rc = kg_pg_array_add(&col, keys[i].id, strlen(keys[i].id));
	struct lock_ctx c = {keys, n, false};
	if (rc)
		kg_err_set(err, rc, "features lock: out of memory");
	else
		rc = lock_many(tx, &c, SQL_FEATURES_LOCK_MANY, &col, 1, versions, "features lock",
			       err);
	kg_pg_array_release(&col);
	free(keys);
	return rc;
}

static const char SQL_ENTITY_GET[] =
	"SELECT state, updated_ms FROM entity_features WHERE kind = $1 AND key = $2";
static const char SQL_ENTITY_VERSION[] =
	"SELECT updated_ms FROM entity_features WHERE kind = $1 AND key = $2 FOR UPDATE";
static const char SQL_ENTITY_SEED[] =
	"INSERT INTO entity_features (kind, key, state, updated_ms) VALUES ($1, $2, NULL, 0) "
	"ON CONFLICT DO NOTHING";
/* as the features' */
static const char SQL_ENTITY_PUT_MANY[] =
	"INSERT INTO entity_features (kind, key, state, updated_ms) "
	"SELECT DISTINCT ON (k, y) k, y, s, v FROM unnest($1::int[], $2::bigint[], $3::bytea[], "
	"$4::bigint[]) WITH ORDINALITY AS u(k, y, s, v, o) ORDER BY k, y, o DESC "
	"ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, "
	"updated_ms = excluded.updated_ms";
static const char SQL_ENTITY_LOCK_MANY[] =
	"INSERT INTO entity_features AS e (kind, key, state, updated_ms) "
	"SELECT k, y, NULL, 0 FROM unnest($1::int[], $2::bigint[]) AS u(k, y) "
	"ON CONFLICT (kind, key) DO UPDATE SET updated_ms = e.updated_ms "
	"RETURNING kind, key, updated_ms";

static int entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		      size_t *len, int64_t *updated_ms, kg_err *err)
{
	*blob = NULL;
	*len = 0;
	bool found;
	if (kg_pg_ahead_entity(tx->conn, kind, key, a, blob, len, updated_ms, &found))
		return found ? 0 : KG_ENOTFOUND; /* the cheap miss: no message */
	kg_pg_args p = {0};
	kg_pg_i64(&p, kind);
	kg_pg_i64(&p, (int64_t)key);
	PGresult *r = kg_pg_exec(tx, SQL_ENTITY_GET, &p, err, "entity get");
	if (!r)
		return err->code;
	int rc = 0;
	/* no row, or the locked placeholder of an entity with no state yet */
	if (PQntuples(r) == 0 || (PQgetisnull(r, 0, 0) && kg_pg_col_i64(r, 0, 1) == 0)) {
		rc = KG_ENOTFOUND; /* the cheap miss: no message */
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

/* As features_put. */
static int entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		      int64_t now_ms, kg_err *err)
{
	struct kg_pg_puts *u = &tx->conn->eputs;
	int rc = kg_pg_array_i32(&u->key, kind);
	if (!rc)
		rc = kg_pg_array_i64(&u->key2, (int64_t)key);
	if (!rc)
		rc = kg_pg_array_add(&u->state, len ? blob : "", len);
	if (!rc)
		rc = kg_pg_array_i64(&u->ver, kg_pg_or_now(now_ms));
	if (rc) {
		kg_pg_puts_drop(tx->conn);
		return kg_err_set(err, rc, "entity put: out of memory");
	}
	return 0;
}

/* As features_lock_many, in (kind, key) order. */
static int entity_lock_many(kg_tx *tx, const int *kinds, const uint64_t *keys, size_t n,
			    int64_t *versions, kg_err *err)
{
	if (!n)
		return 0;
	struct lock_key *k = calloc(n, sizeof(*k));
	if (!k)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		k[i] = (struct lock_key){.kind = kinds[i], .key = (int64_t)keys[i], .i = i};
	qsort(k, n, sizeof(*k), cmp_lock_entity);
	kg_pg_array cols[2];
	kg_pg_array_init(&cols[0], KG_PG_OID_INT4);
	kg_pg_array_init(&cols[1], KG_PG_OID_INT8);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (!i || k[i - 1].kind != k[i].kind || k[i - 1].key != k[i].key) {
			rc = kg_pg_array_i32(&cols[0], k[i].kind);
			if (!rc)
				rc = kg_pg_array_i64(&cols[1], k[i].key);
		}
	struct lock_ctx c = {k, n, true};
	if (rc)
		kg_err_set(err, rc, "entity lock: out of memory");
	else
		rc = lock_many(tx, &c, SQL_ENTITY_LOCK_MANY, cols, 2, versions, "entity lock", err);
	kg_pg_array_release(&cols[0]);
	kg_pg_array_release(&cols[1]);
	free(k);
	return rc;
}

/* ---- the connection's pending puts ----------------------------------------*/
void kg_pg_puts_init(kg_store_conn *c)
{
	kg_pg_array_init(&c->fputs.key, KG_PG_OID_TEXT);
	kg_pg_array_init(&c->fputs.key2, KG_PG_OID_INT8); /* unused */
	kg_pg_array_init(&c->fputs.state, KG_PG_OID_BYTEA);
	kg_pg_array_init(&c->fputs.ver, KG_PG_OID_INT8);
	kg_pg_array_init(&c->eputs.key, KG_PG_OID_INT4);
	kg_pg_array_init(&c->eputs.key2, KG_PG_OID_INT8);
	kg_pg_array_init(&c->eputs.state, KG_PG_OID_BYTEA);
	kg_pg_array_init(&c->eputs.ver, KG_PG_OID_INT8);
}

static void puts_each(kg_store_conn *c, void (*fn)(kg_pg_array *))
{
	struct kg_pg_puts *u[2] = {&c->fputs, &c->eputs};
	for (int k = 0; k < 2; k++) {
		fn(&u[k]->key);
		fn(&u[k]->key2);
		fn(&u[k]->state);
		fn(&u[k]->ver);
	}
}

void kg_pg_puts_release(kg_store_conn *c) { puts_each(c, kg_pg_array_release); }

void kg_pg_puts_drop(kg_store_conn *c) { puts_each(c, kg_pg_array_reset); }

int kg_pg_puts_send(kg_store_conn *c, kg_err *err)
{
	if (c->puts_sending || (!c->fputs.key.n && !c->eputs.key.n))
		return 0;
	c->puts_sending = true; /* the send may flush the pipeline, which calls here */
	int rc = 0;
	if (c->fputs.key.n) {
		kg_pg_args p = {0};
		kg_pg_array_bind(&p, &c->fputs.key);
		kg_pg_array_bind(&p, &c->fputs.state);
		kg_pg_array_bind(&p, &c->fputs.ver);
		rc = kg_pg_conn_send(c, SQL_FEATURES_PUT_MANY, &p, NULL, NULL, 0, err, "features put");
	}
	if (!rc && c->eputs.key.n) {
		kg_pg_args p = {0};
		kg_pg_array_bind(&p, &c->eputs.key);
		kg_pg_array_bind(&p, &c->eputs.key2);
		kg_pg_array_bind(&p, &c->eputs.state);
		kg_pg_array_bind(&p, &c->eputs.ver);
		rc = kg_pg_conn_send(c, SQL_ENTITY_PUT_MANY, &p, NULL, NULL, 0, err, "entity put");
	}
	kg_pg_puts_drop(c); /* sent (libpq copied them), or the job fails */
	c->puts_sending = false;
	return rc;
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
	.read_ahead = kg_pg_read_ahead,
};
