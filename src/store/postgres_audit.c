/* PostgreSQL operations on the audit log, as sqlite_audit.c: append
 * (computing the hash chain and moving the chain's recorded head), list,
 * and the raw scans kg_store_audit_verify (store.c) walks. Nodes append to
 * one chain in turn: the append reads the chain's head under its row lock
 * (the head row made first if missing), so two nodes never give two entries
 * the same seq or chain both onto one predecessor. */
#include "store/postgres_impl.h"

#include <string.h>

#define AUDIT_COLS "account_id, seq, ts_ms, actor, action, detail, prev_hash, hash"

static const char SQL_HEAD_GET[] =
	"SELECT seq, hash FROM audit_heads WHERE account_id = $1";
static const char SQL_HEAD_SEED[] =
	"INSERT INTO audit_heads (account_id, seq, hash) VALUES ($1, 0, $2) "
	"ON CONFLICT DO NOTHING";
static const char SQL_HEAD_LOCK[] =
	"SELECT seq, hash FROM audit_heads WHERE account_id = $1 FOR UPDATE";
static const char SQL_HEAD_PUT[] =
	"UPDATE audit_heads SET seq = $2, hash = $3 WHERE account_id = $1";
static const char SQL_AUDIT_INSERT[] =
	"INSERT INTO audit (" AUDIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_AUDIT_LIST[] =
	"SELECT " AUDIT_COLS " FROM audit WHERE account_id = $1 AND seq > $2 "
	"ORDER BY seq LIMIT $3";
static const char SQL_AUDIT_SCAN[] =
	"SELECT " AUDIT_COLS " FROM audit WHERE account_id = $1 ORDER BY seq";
static const char SQL_AUDIT_CHAINS[] =
	"SELECT account_id FROM audit_heads WHERE seq > 0 UNION "
	"SELECT DISTINCT account_id FROM audit ORDER BY 1";

static void read_hash(kg_arena *a, const PGresult *r, int row, int col,
		      uint8_t out[KG_AUDIT_HASH_BYTES])
{
	memset(out, 0, KG_AUDIT_HASH_BYTES);
	size_t n = 0;
	const uint8_t *p = kg_pg_col_blob(a, r, row, col, &n);
	if (p && n)
		memcpy(out, p, n < KG_AUDIT_HASH_BYTES ? n : KG_AUDIT_HASH_BYTES);
}

/* The recorded head of a chain; a head of seq 0 (a placeholder made to be
 * locked) is no chain. */
static int head_read(kg_tx *tx, const char *sql, const char *account_id, int64_t *seq,
		     uint8_t hash[KG_AUDIT_HASH_BYTES], kg_err *err)
{
	*seq = 0;
	memset(hash, 0, KG_AUDIT_HASH_BYTES);
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	PGresult *r = kg_pg_exec(tx, sql, &p, err, "audit head");
	if (!r)
		return err->code;
	int rc = 0;
	if (PQntuples(r) == 0 || kg_pg_col_i64(r, 0, 0) == 0) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no audit chain for \"%s\"", account_id);
	} else {
		kg_arena a;
		kg_arena_init(&a, 256);
		*seq = kg_pg_col_i64(r, 0, 0);
		read_hash(&a, r, 0, 1, hash);
		kg_arena_release(&a);
	}
	PQclear(r);
	return rc;
}

static int audit_head(kg_tx *tx, const char *account_id, int64_t *seq,
		      uint8_t hash[KG_AUDIT_HASH_BYTES], kg_err *err)
{
	return head_read(tx, SQL_HEAD_GET, account_id, seq, hash, err);
}

static int audit_append(kg_tx *tx, const kg_audit_entry *in, int64_t *seq_out, kg_err *err)
{
	if (!in->account_id || !in->actor || !in->action)
		return kg_err_set(err, KG_EINVAL, "an audit entry needs account, actor and action");
	kg_audit_entry e = *in;
	static const uint8_t zero[KG_AUDIT_HASH_BYTES];
	kg_pg_args p = {0};
	kg_pg_text(&p, e.account_id);
	kg_pg_blob(&p, zero, sizeof(zero));
	int rc = kg_pg_run(tx, SQL_HEAD_SEED, &p, NULL, err, "audit head");
	if (rc)
		return rc;
	int64_t seq = 0;
	rc = head_read(tx, SQL_HEAD_LOCK, e.account_id, &seq, e.prev_hash, err);
	if (rc && rc != KG_ENOTFOUND)
		return rc;
	kg_err_clear(err);
	e.seq = seq + 1;
	e.ts_ms = kg_pg_or_now(e.ts_ms);
	kg_store_audit_hash(&e, e.prev_hash, e.hash);

	p = (kg_pg_args){0};
	kg_pg_text(&p, e.account_id);
	kg_pg_i64(&p, e.seq);
	kg_pg_i64(&p, e.ts_ms);
	kg_pg_text(&p, e.actor);
	kg_pg_text(&p, e.action);
	kg_pg_text(&p, e.detail);
	kg_pg_blob(&p, e.prev_hash, KG_AUDIT_HASH_BYTES);
	kg_pg_blob(&p, e.hash, KG_AUDIT_HASH_BYTES);
	if ((rc = kg_pg_run(tx, SQL_AUDIT_INSERT, &p, NULL, err, "audit append")))
		return rc;
	p = (kg_pg_args){0};
	kg_pg_text(&p, e.account_id);
	kg_pg_i64(&p, e.seq);
	kg_pg_blob(&p, e.hash, KG_AUDIT_HASH_BYTES);
	rc = kg_pg_run(tx, SQL_HEAD_PUT, &p, NULL, err, "audit head");
	if (!rc && seq_out)
		*seq_out = e.seq;
	return rc;
}

static void read_entry(kg_arena *a, const PGresult *r, int row, kg_audit_entry *e)
{
	e->account_id = kg_pg_col_text(a, r, row, 0);
	e->seq = kg_pg_col_i64(r, row, 1);
	e->ts_ms = kg_pg_col_i64(r, row, 2);
	e->actor = kg_pg_col_text(a, r, row, 3);
	e->action = kg_pg_col_text(a, r, row, 4);
	e->detail = kg_pg_col_text(a, r, row, 5);
	read_hash(a, r, row, 6, e->prev_hash);
	read_hash(a, r, row, 7, e->hash);
}

static int audit_list(kg_tx *tx, const char *account_id, int64_t after_seq, size_t limit,
		      kg_arena *a, kg_audit_entry **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_i64(&p, after_seq);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	PGresult *r = kg_pg_exec(tx, SQL_AUDIT_LIST, &p, err, "audit list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_entry(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int audit_scan(kg_tx *tx, const char *account_id,
		      int (*cb)(const kg_audit_entry *, void *), void *ctx, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	PGresult *r = kg_pg_exec(tx, SQL_AUDIT_SCAN, &p, err, "audit scan");
	if (!r)
		return err->code;
	int code = 0;
	kg_arena a;
	kg_arena_init(&a, 4096);
	for (int i = 0; !code && i < PQntuples(r); i++) {
		kg_audit_entry e = {0};
		read_entry(&a, r, i, &e);
		code = cb(&e, ctx);
	}
	kg_arena_release(&a);
	PQclear(r);
	return code;
}

static int audit_chains(kg_tx *tx, kg_arena *a, const char ***out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r = kg_pg_exec(tx, SQL_AUDIT_CHAINS, NULL, err, "audit chains");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			(*out)[i] = kg_pg_col_text(a, r, i, 0);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

const struct kg_store_audit_ops kg_postgres_audit_ops = {
	.append = audit_append,
	.list = audit_list,
	.scan = audit_scan,
	.head = audit_head,
	.chains = audit_chains,
};
