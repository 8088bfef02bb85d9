/* SQLite operations on one-time codes (hashed), fixed-window failure
 * counters and the identity-check state of an account. */
#include "store/sqlite_impl.h"

#include <string.h>

static const char SQL_CODE_PUT[] =
	"INSERT OR REPLACE INTO codes (account_id, purpose, code_hash, expires_ms, attempts_left, "
	"created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_CODE_GET[] =
	"SELECT code_hash, expires_ms, attempts_left, created_ms FROM codes "
	"WHERE account_id = ?1 AND purpose = ?2";
static const char SQL_CODE_ATTEMPTS[] =
	"UPDATE codes SET attempts_left = ?3 WHERE account_id = ?1 AND purpose = ?2";
static const char SQL_CODE_DELETE[] = "DELETE FROM codes WHERE account_id = ?1 AND purpose = ?2";
static const char SQL_COUNTER_HIT[] =
	"INSERT INTO counters (account_id, kind, key, window_start_ms, count, updated_ms) "
	"VALUES (?1, ?2, ?3, ?5, 1, ?5) ON CONFLICT (account_id, kind, key) DO UPDATE SET "
	"count = CASE WHEN window_start_ms <= ?5 - ?4 THEN 1 ELSE count + 1 END, "
	"window_start_ms = CASE WHEN window_start_ms <= ?5 - ?4 THEN ?5 ELSE window_start_ms END, "
	"updated_ms = ?5 RETURNING count";
static const char SQL_COUNTER_GET[] =
	"SELECT CASE WHEN window_start_ms <= ?5 - ?4 THEN 0 ELSE count END FROM counters "
	"WHERE account_id = ?1 AND kind = ?2 AND key = ?3";
static const char SQL_COUNTER_RESET[] =
	"DELETE FROM counters WHERE account_id = ?1 AND kind = ?2 AND key = ?3";
static const char SQL_COUNTER_READ[] =
	"SELECT count, window_start_ms, updated_ms FROM counters "
	"WHERE account_id = ?1 AND kind = ?2 AND key = ?3";
static const char SQL_COUNTER_PUT[] =
	"INSERT OR REPLACE INTO counters (account_id, kind, key, window_start_ms, count, updated_ms) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_IDENTITY_GET[] =
	"SELECT failures, blocked_until_ms, passed_by, pass_until_ms, updated_ms "
	"FROM identity_checks WHERE account_id = ?1";
static const char SQL_IDENTITY_PUT[] =
	"INSERT OR REPLACE INTO identity_checks (account_id, failures, blocked_until_ms, passed_by, "
	"pass_until_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static int code_put(kg_tx *tx, const kg_code_rec *c, kg_err *err)
{
	if (!c->account_id || !c->purpose || !c->code_hash)
		return kg_err_set(err, KG_EINVAL, "a code needs an account, a purpose and a hash");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CODE_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, c->account_id);
	kg_sq_bind_text(st, 2, c->purpose);
	kg_sq_bind_text(st, 3, c->code_hash);
	kg_sq_bind_i64(st, 4, c->expires_ms);
	kg_sq_bind_i64(st, 5, c->attempts_left);
	kg_sq_bind_i64(st, 6, kg_sq_or_now(c->created_ms));
	return kg_sq_exec_stmt(tx, st, err, "code put");
}

static int code_get(kg_tx *tx, const char *account_id, const char *purpose, kg_code_rec *out,
		    kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CODE_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, purpose);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no %s code", purpose);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "code get");
	memset(out, 0, sizeof(*out));
	out->account_id = kg_arena_strdup(a, account_id);
	out->purpose = kg_arena_strdup(a, purpose);
	out->code_hash = kg_sq_col_text(a, st, 0);
	out->expires_ms = kg_sq_col_i64(st, 1);
	out->attempts_left = kg_sq_col_i64(st, 2);
	out->created_ms = kg_sq_col_i64(st, 3);
	sqlite3_reset(st);
	return 0;
}

static int code_set_attempts(kg_tx *tx, const char *account_id, const char *purpose,
			     int64_t attempts_left, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CODE_ATTEMPTS, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, purpose);
	kg_sq_bind_i64(st, 3, attempts_left);
	int rc = kg_sq_exec_stmt(tx, st, err, "code attempts");
	if (!rc && sqlite3_changes(kg_sq_db(tx)) == 0)
		return kg_err_set(err, KG_ENOTFOUND, "no %s code", purpose);
	return rc;
}

static int code_delete(kg_tx *tx, const char *account_id, const char *purpose, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CODE_DELETE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, purpose);
	return kg_sq_exec_stmt(tx, st, err, "code delete");
}

static void bind_counter(sqlite3_stmt *st, const char *account_id, const char *kind,
			 const char *key, int64_t window_ms, int64_t now_ms)
{
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, kind);
	kg_sq_bind_text(st, 3, key ? key : "");
	kg_sq_bind_i64(st, 4, window_ms);
	kg_sq_bind_i64(st, 5, kg_sq_or_now(now_ms));
}

static int counter_hit(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTER_HIT, err);
	if (!st)
		return err->code;
	bind_counter(st, account_id, kind, key, window_ms, now_ms);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "counter hit");
	if (count_out)
		*count_out = kg_sq_col_i64(st, 0);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "counter hit");
}

static int counter_get(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTER_GET, err);
	if (!st)
		return err->code;
	bind_counter(st, account_id, kind, key, window_ms, now_ms);
	int rc = sqlite3_step(st);
	*count_out = 0;
	if (rc == SQLITE_ROW)
		*count_out = kg_sq_col_i64(st, 0);
	else if (rc != SQLITE_DONE)
		return kg_sq_fail(tx, rc, err, "counter get");
	sqlite3_reset(st);
	return 0;
}

static int counter_reset(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			 kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTER_RESET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, kind);
	kg_sq_bind_text(st, 3, key ? key : "");
	return kg_sq_exec_stmt(tx, st, err, "counter reset");
}

static int counter_read(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			kg_counter_row *out, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTER_READ, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, kind);
	kg_sq_bind_text(st, 3, key ? key : "");
	memset(out, 0, sizeof(*out));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->count = kg_sq_col_i64(st, 0);
		out->window_start_ms = kg_sq_col_i64(st, 1);
		out->updated_ms = kg_sq_col_i64(st, 2);
	} else if (rc != SQLITE_DONE) {
		return kg_sq_fail(tx, rc, err, "counter read");
	}
	sqlite3_reset(st);
	return 0;
}

static int counter_put(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       const kg_counter_row *row, kg_err *err)
{
	if (row->count <= 0)
		return counter_reset(tx, account_id, kind, key, err);
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_COUNTER_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, kind);
	kg_sq_bind_text(st, 3, key ? key : "");
	kg_sq_bind_i64(st, 4, row->window_start_ms);
	kg_sq_bind_i64(st, 5, row->count);
	kg_sq_bind_i64(st, 6, kg_sq_or_now(row->updated_ms));
	return kg_sq_exec_stmt(tx, st, err, "counter put");
}

static int identity_get(kg_tx *tx, const char *account_id, kg_identity_state *out, kg_arena *a,
			kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_IDENTITY_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return kg_err_set(err, KG_ENOTFOUND, "no identity checks on account \"%s\"", account_id);
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "identity get");
	memset(out, 0, sizeof(*out));
	out->account_id = kg_arena_strdup(a, account_id);
	out->failures = kg_sq_col_i64(st, 0);
	out->blocked_until_ms = kg_sq_col_i64(st, 1);
	out->passed_by = kg_sq_col_text(a, st, 2);
	out->pass_until_ms = kg_sq_col_i64(st, 3);
	out->updated_ms = kg_sq_col_i64(st, 4);
	sqlite3_reset(st);
	return 0;
}

static int identity_put(kg_tx *tx, const kg_identity_state *s, kg_err *err)
{
	if (!s->account_id)
		return kg_err_set(err, KG_EINVAL, "identity state needs an account");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_IDENTITY_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, s->account_id);
	kg_sq_bind_i64(st, 2, s->failures);
	kg_sq_bind_opt_ms(st, 3, s->blocked_until_ms);
	kg_sq_bind_text(st, 4, s->passed_by);
	kg_sq_bind_opt_ms(st, 5, s->pass_until_ms);
	kg_sq_bind_i64(st, 6, kg_sq_or_now(s->updated_ms));
	return kg_sq_exec_stmt(tx, st, err, "identity put");
}

const struct kg_store_checks_ops kg_sqlite_checks_ops = {
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
