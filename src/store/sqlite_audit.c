/* SQLite operations on the audit log: append (computing the hash chain and
 * moving the chain's recorded head), list, and the raw scans that
 * kg_store_audit_verify (store.c) walks. */
#include "store/sqlite_impl.h"

#include <string.h>

#define AUDIT_COLS "account_id, seq, ts_ms, actor, action, detail, prev_hash, hash"

static const char SQL_HEAD_GET[] =
	"SELECT seq, hash FROM audit_heads WHERE account_id = ?1";
static const char SQL_HEAD_PUT[] =
	"INSERT INTO audit_heads (account_id, seq, hash) VALUES (?1, ?2, ?3) "
	"ON CONFLICT (account_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
static const char SQL_AUDIT_INSERT[] =
	"INSERT INTO audit (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_AUDIT_LIST[] =
	"SELECT " AUDIT_COLS " FROM audit WHERE account_id = ?1 AND seq > ?2 "
	"ORDER BY seq LIMIT ?3";
static const char SQL_AUDIT_SCAN[] =
	"SELECT " AUDIT_COLS " FROM audit WHERE account_id = ?1 ORDER BY seq";
static const char SQL_AUDIT_CHAINS[] =
	"SELECT account_id FROM audit_heads UNION SELECT DISTINCT account_id FROM audit "
	"ORDER BY 1";

static int audit_head(kg_tx *tx, const char *account_id, int64_t *seq,
		      uint8_t hash[KG_AUDIT_HASH_BYTES], kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_HEAD_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*seq = 0;
		memset(hash, 0, KG_AUDIT_HASH_BYTES);
		return kg_err_set(err, KG_ENOTFOUND, "no audit chain for \"%s\"", account_id);
	}
	if (rc != SQLITE_ROW)
		return kg_sq_fail(tx, rc, err, "audit head");
	*seq = kg_sq_col_i64(st, 0);
	memset(hash, 0, KG_AUDIT_HASH_BYTES);
	int n = sqlite3_column_bytes(st, 1);
	const void *p = sqlite3_column_blob(st, 1);
	if (p && n > 0)
		memcpy(hash, p, n < KG_AUDIT_HASH_BYTES ? (size_t)n : KG_AUDIT_HASH_BYTES);
	sqlite3_reset(st);
	return 0;
}

static int audit_append(kg_tx *tx, const kg_audit_entry *in, int64_t *seq_out, kg_err *err)
{
	if (!in->account_id || !in->actor || !in->action)
		return kg_err_set(err, KG_EINVAL, "an audit entry needs account, actor and action");
	kg_audit_entry e = *in;
	int64_t seq = 0;
	int rc = audit_head(tx, e.account_id, &seq, e.prev_hash, err);
	if (rc && rc != KG_ENOTFOUND)
		return rc;
	kg_err_clear(err);
	e.seq = seq + 1;
	e.ts_ms = kg_sq_or_now(e.ts_ms);
	kg_store_audit_hash(&e, e.prev_hash, e.hash);

	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_AUDIT_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, e.account_id);
	kg_sq_bind_i64(st, 2, e.seq);
	kg_sq_bind_i64(st, 3, e.ts_ms);
	kg_sq_bind_text(st, 4, e.actor);
	kg_sq_bind_text(st, 5, e.action);
	kg_sq_bind_text(st, 6, e.detail);
	kg_sq_bind_blob(st, 7, e.prev_hash, KG_AUDIT_HASH_BYTES);
	kg_sq_bind_blob(st, 8, e.hash, KG_AUDIT_HASH_BYTES);
	rc = kg_sq_exec_stmt(tx, st, err, "audit append");
	if (rc)
		return rc;
	st = kg_sq_stmt(tx, SQL_HEAD_PUT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, e.account_id);
	kg_sq_bind_i64(st, 2, e.seq);
	kg_sq_bind_blob(st, 3, e.hash, KG_AUDIT_HASH_BYTES);
	rc = kg_sq_exec_stmt(tx, st, err, "audit head");
	if (!rc && seq_out)
		*seq_out = e.seq;
	return rc;
}

static void read_hash(sqlite3_stmt *st, int col, uint8_t out[KG_AUDIT_HASH_BYTES])
{
	memset(out, 0, KG_AUDIT_HASH_BYTES);
	int n = sqlite3_column_bytes(st, col);
	const void *p = sqlite3_column_blob(st, col);
	if (p && n > 0)
		memcpy(out, p, n < KG_AUDIT_HASH_BYTES ? (size_t)n : KG_AUDIT_HASH_BYTES);
}

static void read_entry(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_audit_entry *e = row;
	e->account_id = kg_sq_col_text(a, st, 0);
	e->seq = kg_sq_col_i64(st, 1);
	e->ts_ms = kg_sq_col_i64(st, 2);
	e->actor = kg_sq_col_text(a, st, 3);
	e->action = kg_sq_col_text(a, st, 4);
	e->detail = kg_sq_col_text(a, st, 5);
	read_hash(st, 6, e->prev_hash);
	read_hash(st, 7, e->hash);
}

static int audit_list(kg_tx *tx, const char *account_id, int64_t after_seq, size_t limit,
		      kg_arena *a, kg_audit_entry **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_AUDIT_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, after_seq);
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_entry, sizeof(**out), (void **)out, n, err,
			  "audit list");
}

static int audit_scan(kg_tx *tx, const char *account_id,
		      int (*cb)(const kg_audit_entry *, void *), void *ctx, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_AUDIT_SCAN, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	int rc, code = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		kg_audit_entry e = {
			.account_id = kg_sq_col_peek(st, 0),
			.seq = kg_sq_col_i64(st, 1),
			.ts_ms = kg_sq_col_i64(st, 2),
			.actor = kg_sq_col_peek(st, 3),
			.action = kg_sq_col_peek(st, 4),
			.detail = kg_sq_col_peek(st, 5),
		};
		read_hash(st, 6, e.prev_hash);
		read_hash(st, 7, e.hash);
		code = cb(&e, ctx);
		if (code)
			break;
	}
	if (!code && rc != SQLITE_DONE)
		code = kg_sq_fail(tx, rc, err, "audit scan");
	sqlite3_reset(st);
	return code;
}

static void read_chain(kg_arena *a, sqlite3_stmt *st, void *row)
{
	*(const char **)row = kg_sq_col_text(a, st, 0);
}

static int audit_chains(kg_tx *tx, kg_arena *a, const char ***out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_AUDIT_CHAINS, err);
	if (!st)
		return err->code;
	return kg_sq_rows(tx, st, a, read_chain, sizeof(**out), (void **)out, n, err,
			  "audit chains");
}

const struct kg_store_audit_ops kg_sqlite_audit_ops = {
	.append = audit_append,
	.list = audit_list,
	.scan = audit_scan,
	.head = audit_head,
	.chains = audit_chains,
};
