/* PostgreSQL operations on one-time codes (hashed), fixed-window failure
 * counters and the identity-check state of an account, as
 * sqlite_checks.c. A counter hit is one INSERT ... ON CONFLICT DO UPDATE
 * ... RETURNING: atomic on its row, so hits from several nodes all count. */
#include "store/postgres_impl.h"

#include <string.h>

static const char SQL_CODE_PUT[] =
	"INSERT INTO codes (account_id, purpose, code_hash, expires_ms, attempts_left, "
	"created_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, purpose) DO UPDATE "
	"SET code_hash = excluded.code_hash, expires_ms = excluded.expires_ms, "
	"attempts_left = excluded.attempts_left, created_ms = excluded.created_ms";
static const char SQL_CODE_GET[] =
	"SELECT code_hash, expires_ms, attempts_left, created_ms FROM codes "
	"WHERE account_id = $1 AND purpose = $2";
static const char SQL_CODE_ATTEMPTS[] =
	"UPDATE codes SET attempts_left = $3 WHERE account_id = $1 AND purpose = $2";
static const char SQL_CODE_DELETE[] = "DELETE FROM codes WHERE account_id = $1 AND purpose = $2";
static const char SQL_COUNTER_HIT[] =
	"INSERT INTO counters AS c (account_id, kind, key, window_start_ms, count, updated_ms) "
	"VALUES ($1, $2, $3, $5, 1, $5) ON CONFLICT (account_id, kind, key) DO UPDATE SET "
	"count = CASE WHEN c.window_start_ms <= $5 - $4::bigint THEN 1 ELSE c.count + 1 END, "
	"window_start_ms = CASE WHEN c.window_start_ms <= $5 - $4::bigint THEN $5 "
	"ELSE c.window_start_ms END, updated_ms = $5 RETURNING count";
static const char SQL_COUNTER_GET[] =
	"SELECT CASE WHEN window_start_ms <= $5::bigint - $4::bigint THEN 0 ELSE count END "
	"FROM counters WHERE account_id = $1 AND kind = $2 AND key = $3";
static const char SQL_COUNTER_RESET[] =
	"DELETE FROM counters WHERE account_id = $1 AND kind = $2 AND key = $3";
static const char SQL_COUNTER_READ[] =
	"SELECT count, window_start_ms, updated_ms FROM counters "
	"WHERE account_id = $1 AND kind = $2 AND key = $3";
static const char SQL_COUNTER_PUT[] =
	"INSERT INTO counters (account_id, kind, key, window_start_ms, count, updated_ms) "
	"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, kind, key) DO UPDATE SET "
	"window_start_ms = excluded.window_start_ms, count = excluded.count, "
	"updated_ms = excluded.updated_ms";
static const char SQL_IDENTITY_GET[] =
	"SELECT failures, blocked_until_ms, passed_by, pass_until_ms, updated_ms "
	"FROM identity_checks WHERE account_id = $1";
static const char SQL_IDENTITY_PUT[] =
	"INSERT INTO identity_checks (account_id, failures, blocked_until_ms, passed_by, "
	"pass_until_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) "
	"DO UPDATE SET failures = excluded.failures, blocked_until_ms = excluded.blocked_until_ms, "
	"passed_by = excluded.passed_by, pass_until_ms = excluded.pass_until_ms, "
	"updated_ms = excluded.updated_ms";

/* Runs sql with (account, a second key[, a third]) and hands back its result. */
static PGresult *keyed(kg_tx *tx, const char *sql, const char *k1, const char *k2,
		       const char *k3, bool third, kg_err *err, const char *what)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, k1);
	if (k2)
		kg_pg_text(&p, k2);
	if (third)
		kg_pg_text(&p, k3 ? k3 : "");
	return kg_pg_exec(tx, sql, &p, err, what);
}

static int code_put(kg_tx *tx, const kg_code_rec *c, kg_err *err)
{
	if (!c->account_id || !c->purpose || !c->code_hash)
		return kg_err_set(err, KG_EINVAL, "a code needs an account, a purpose and a hash");
	kg_pg_args p = {0};
	kg_pg_text(&p, c->account_id);
	kg_pg_text(&p, c->purpose);
	kg_pg_text(&p, c->code_hash);
	kg_pg_i64(&p, c->expires_ms);
	kg_pg_i64(&p, c->attempts_left);
	kg_pg_i64(&p, kg_pg_or_now(c->created_ms));
	return kg_pg_run(tx, SQL_CODE_PUT, &p, NULL, err, "code put");
}

static int code_get(kg_tx *tx, const char *account_id, const char *purpose, kg_code_rec *out,
		    kg_arena *a, kg_err *err)
{
	PGresult *r = keyed(tx, SQL_CODE_GET, account_id, purpose, NULL, false, err, "code get");
	if (!r)
		return err->code;
	int rc = 0;
	if (!PQntuples(r)) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no %s code", purpose);
	} else {
		memset(out, 0, sizeof(*out));
		out->account_id = kg_arena_strdup(a, account_id);
		out->purpose = kg_arena_strdup(a, purpose);
		out->code_hash = kg_pg_col_text(a, r, 0, 0);
		out->expires_ms = kg_pg_col_i64(r, 0, 1);
		out->attempts_left = kg_pg_col_i64(r, 0, 2);
		out->created_ms = kg_pg_col_i64(r, 0, 3);
	}
	PQclear(r);
	return rc;
}

static int code_set_attempts(kg_tx *tx, const char *account_id, const char *purpose,
			     int64_t attempts_left, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, purpose);
	kg_pg_i64(&p, attempts_left);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CODE_ATTEMPTS, &p, &changed, err, "code attempts");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ENOTFOUND, "no %s code", purpose);
	return rc;
}

static int code_delete(kg_tx *tx, const char *account_id, const char *purpose, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, purpose);
	return kg_pg_run(tx, SQL_CODE_DELETE, &p, NULL, err, "code delete");
}

static void counter_args(kg_pg_args *p, const char *account_id, const char *kind,
			 const char *key, int64_t window_ms, int64_t now_ms)
{
	kg_pg_text(p, account_id);
	kg_pg_text(p, kind);
	kg_pg_text(p, key ? key : "");
	kg_pg_i64(p, window_ms);
	kg_pg_i64(p, kg_pg_or_now(now_ms));
}

static int counter_hit(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	kg_pg_args p = {0};
	counter_args(&p, account_id, kind, key, window_ms, now_ms);
	PGresult *r = kg_pg_exec(tx, SQL_COUNTER_HIT, &p, err, "counter hit");
	if (!r)
		return err->code;
	if (count_out)
		*count_out = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int counter_get(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	kg_pg_args p = {0};
	counter_args(&p, account_id, kind, key, window_ms, now_ms);
	PGresult *r = kg_pg_exec(tx, SQL_COUNTER_GET, &p, err, "counter get");
	if (!r)
		return err->code;
	*count_out = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int counter_reset(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			 kg_err *err)
{
	PGresult *r = keyed(tx, SQL_COUNTER_RESET, account_id, kind, key, true, err,
			    "counter reset");
	if (!r)
		return err->code;
	PQclear(r);
	return 0;
}

static int counter_read(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			kg_counter_row *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	PGresult *r = keyed(tx, SQL_COUNTER_READ, account_id, kind, key, true, err, "counter read");
	if (!r)
		return err->code;
	if (PQntuples(r)) {
		out->count = kg_pg_col_i64(r, 0, 0);
		out->window_start_ms = kg_pg_col_i64(r, 0, 1);
		out->updated_ms = kg_pg_col_i64(r, 0, 2);
	}
	PQclear(r);
	return 0;
}

static int counter_put(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       const kg_counter_row *row, kg_err *err)
{
	if (row->count <= 0)
		return counter_reset(tx, account_id, kind, key, err);
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, kind);
	kg_pg_text(&p, key ? key : "");
	kg_pg_i64(&p, row->window_start_ms);
	kg_pg_i64(&p, row->count);
	kg_pg_i64(&p, kg_pg_or_now(row->updated_ms));
	return kg_pg_run(tx, SQL_COUNTER_PUT, &p, NULL, err, "counter put");
}

static int identity_get(kg_tx *tx, const char *account_id, kg_identity_state *out, kg_arena *a,
			kg_err *err)
{
	PGresult *r = keyed(tx, SQL_IDENTITY_GET, account_id, NULL, NULL, false, err,
			    "identity get");
	if (!r)
		return err->code;
	int rc = 0;
	if (!PQntuples(r)) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no identity checks on account \"%s\"",
				account_id);
	} else {
		memset(out, 0, sizeof(*out));
		out->account_id = kg_arena_strdup(a, account_id);
		out->failures = kg_pg_col_i64(r, 0, 0);
		out->blocked_until_ms = kg_pg_col_i64(r, 0, 1);
		out->passed_by = kg_pg_col_text(a, r, 0, 2);
		out->pass_until_ms = kg_pg_col_i64(r, 0, 3);
		out->updated_ms = kg_pg_col_i64(r, 0, 4);
	}
	PQclear(r);
	return rc;
}

static int identity_put(kg_tx *tx, const kg_identity_state *s, kg_err *err)
{
	if (!s->account_id)
		return kg_err_set(err, KG_EINVAL, "identity state needs an account");
	kg_pg_args p = {0};
	kg_pg_text(&p, s->account_id);
	kg_pg_i64(&p, s->failures);
	kg_pg_opt_ms(&p, s->blocked_until_ms);
	kg_pg_text(&p, s->passed_by);
	kg_pg_opt_ms(&p, s->pass_until_ms);
	kg_pg_i64(&p, kg_pg_or_now(s->updated_ms));
	return kg_pg_run(tx, SQL_IDENTITY_PUT, &p, NULL, err, "identity put");
}

const struct kg_store_checks_ops kg_postgres_checks_ops = {
	.code_put = code_put,
	.code_get = code_get,
	.code_set_attempts = code_set_attempts,
	.code_delete = code_delete,
	.counter_hit = counter_hit,
	.counter_get = counter_get,
	.counter_reset = counter_reset,
	.counter_read = counter_read,
	.counter_put = counter_put,
	.identity_get = identity_get,
	.identity_put = identity_put,
};
