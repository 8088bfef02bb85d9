/* The PostgreSQL backend (libpq): connections, schema migrations (under an
 * advisory lock, so that nodes starting together migrate once), transaction
 * control for store.c's group commit (one write connection per node, each
 * job in a savepoint), prepared statements, SQLSTATE mapping, and the
 * backend's operations table (kg_postgres_ops, at the end). The store's
 * read pool (store.c) is this node's connection pool. Not here: the domain
 * operations (postgres_<domain>.c). */
#include "store/postgres_impl.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const kg_postgres_migrations[];
extern const int kg_postgres_migration_count;

/* The key of the advisory lock migrations run under ("kagi" in ASCII). */
#define MIGRATION_LOCK 0x6b616769

/* ---- error mapping --------------------------------------------------------*/
int kg_pg_fail(PGconn *pg, const PGresult *r, kg_err *err, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *m = r ? PQresultErrorMessage(r) : NULL;
	if (!m || !*m)
		m = pg ? PQerrorMessage(pg) : "no connection";
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", m);
	msg[strcspn(msg, "\n")] = '\0';
	if (!state || (pg && PQstatus(pg) != CONNECTION_OK))
		return kg_err_set(err, KG_EIO, "%s: lost the database connection (%s)", what, msg);
	if (!strcmp(state, "23505") || !strcmp(state, "23514") || !strcmp(state, "23502"))
		return kg_err_set(err, KG_ECONFLICT, "%s: already exists or not allowed (%s)", what,
				  msg);
	if (!strcmp(state, "23503"))
		return kg_err_set(err, KG_ENOTFOUND, "%s: refers to a missing row (%s)", what, msg);
	if (!strcmp(state, "53100"))
		return kg_err_set(err, KG_EFULL, "%s: storage full (%s)", what, msg);
	if (!strcmp(state, "53200"))
		return kg_err_set(err, KG_ENOMEM, "%s: out of memory (%s)", what, msg);
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
		return kg_err_set(err, KG_EBUSY, "%s: conflict with a concurrent transaction (%s)",
				  what, msg);
	if (!strncmp(state, "08", 2) || !strncmp(state, "57", 2) || !strncmp(state, "58", 2) ||
	    !strncmp(state, "XX", 2))
		return kg_err_set(err, KG_EIO, "%s: storage I/O error (%s)", what, msg);
	return kg_err_set(err, KG_EINTERNAL, "%s: postgres error %s (%s)", what, state, msg);
}

/* ---- parameters and statements ----------------------------------------------*/
static int next_arg(kg_pg_args *p)
{
	return p->n < KG_PG_ARGS_MAX ? p->n++ : KG_PG_ARGS_MAX - 1;
}

void kg_pg_textn(kg_pg_args *p, const char *s, size_t n)
{
	int i = next_arg(p);
	p->v[i] = s;
	p->len[i] = s ? (int)(n ? n : strlen(s)) : 0;
	/* text format needs a NUL at the end; a string of known length goes in
	 * binary format, which for text is the same bytes */
	p->fmt[i] = s && n ? 1 : 0;
}

void kg_pg_text(kg_pg_args *p, const char *s) { kg_pg_textn(p, s, 0); }

void kg_pg_i64(kg_pg_args *p, int64_t v)
{
	int i = next_arg(p);
	snprintf(p->num[i], sizeof(p->num[i]), "%lld", (long long)v);
	p->v[i] = p->num[i];
	p->len[i] = 0;
	p->fmt[i] = 0;
}

void kg_pg_opt_ms(kg_pg_args *p, int64_t ms)
{
	if (ms)
		kg_pg_i64(p, ms);
	else
		kg_pg_text(p, NULL);
}

void kg_pg_blob(kg_pg_args *p, const void *b, size_t n)
{
	int i = next_arg(p);
	p->v[i] = b ? (n ? b : "") : NULL;
	p->len[i] = (int)n;
	p->fmt[i] = 1;
}

/* ---- array parameters -------------------------------------------------------
 * Binary array format: ndim (1), has-nulls flag, element OID, then per
 * dimension its size and lower bound (1), then each element as a length
 * (-1: NULL) and its bytes; all integers big-endian. */
#define ARRAY_HEADER 20

void kg_pg_array_init(kg_pg_array *a, uint32_t oid)
{
	kg_buf_init(&a->b, (size_t)1 << 30); /* PostgreSQL's limit of a value */
	a->oid = oid;
	kg_pg_array_reset(a);
}

void kg_pg_array_reset(kg_pg_array *a)
{
	static const char zero[ARRAY_HEADER];
	kg_buf_reset(&a->b);
	kg_buf_append(&a->b, zero, sizeof(zero)); /* fails only without memory: add fails then */
	a->n = 0;
	a->nulls = false;
}

void kg_pg_array_release(kg_pg_array *a) { kg_buf_release(&a->b); }

int kg_pg_array_add(kg_pg_array *a, const void *v, size_t len)
{
	if (a->b.len < ARRAY_HEADER || len > INT32_MAX)
		return KG_ENOMEM;
	uint32_t l = htonl(v ? (uint32_t)len : UINT32_MAX);
	int rc = kg_buf_append(&a->b, &l, 4);
	if (!rc && v && len && (rc = kg_buf_append(&a->b, v, len)))
		a->b.len -= 4;
	if (rc)
		return rc;
	a->nulls |= !v;
	a->n++;
	return 0;
}

int kg_pg_array_i64(kg_pg_array *a, int64_t v)
{
	uint32_t be[2] = {htonl((uint32_t)((uint64_t)v >> 32)), htonl((uint32_t)v)};
	return kg_pg_array_add(a, be, 8);
}

int kg_pg_array_i32(kg_pg_array *a, int32_t v)
{
	uint32_t be = htonl((uint32_t)v);
	return kg_pg_array_add(a, &be, 4);
}

void kg_pg_array_bind(kg_pg_args *p, kg_pg_array *a)
{
	uint32_t h[5] = {htonl(1), htonl(a->nulls ? 1 : 0), htonl(a->oid), htonl(a->n), htonl(1)};
	memcpy(a->b.data, h, sizeof(h));
	kg_pg_blob(p, a->b.data, a->b.len);
}

/* The prepared statement of sql on c (prepared on first use): its name in
 * name, or -1 with err set. */
static int conn_stmt(kg_store_conn *c, const char *sql, char name[16], kg_err *err)
{
	size_t h = ((uintptr_t)sql >> 3) % KG_PG_STMT_CACHE;
	for (size_t i = 0; i < KG_PG_STMT_CACHE; i++) {
		size_t k = (h + i) % KG_PG_STMT_CACHE;
		snprintf(name, 16, "kg%zu", k);
		if (c->cache[k].sql == sql)
			return 0;
		if (!c->cache[k].sql) {
			PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
			int code = PQresultStatus(r) == PGRES_COMMAND_OK
					   ? 0
					   : kg_pg_fail(c->pg, r, err, "prepare statement");
			PQclear(r);
			if (code)
				return code;
			c->cache[k].sql = sql;
			return 0;
		}
	}
	return kg_err_set(err, KG_EINTERNAL, "statement cache full (raise KG_PG_STMT_CACHE)");
}

/* Reads the results of every statement sent in pipeline mode, up to the
 * sync point, and leaves pipeline mode: 0 or the first failure. */
static int conn_flush(kg_store_conn *c, kg_err *err)
{
	int code = kg_pg_puts_send(c, err);
	if (!c->pipeline)
		return code;
	if (PQpipelineSync(c->pg) != 1 && !code)
		code = kg_err_set(err, KG_EIO, "pipeline sync: %s", PQerrorMessage(c->pg));
	/* every statement's results, then NULL; after a failure the rest
	 * answer PGRES_PIPELINE_ABORTED */
	for (size_t k = 0; k < c->n_sent; k++) {
		PGresult *r;
		bool got = false;
		while ((r = PQgetResult(c->pg))) { /* then NULL: the end of statement k */
			got = true;
			ExecStatusType st = PQresultStatus(r);
			if (code) {
			} else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
				const char *t = PQcmdTuples(r);
				if (st == PGRES_COMMAND_OK && t && *t)
					c->changes += strtoull(t, NULL, 10);
				if (c->sent[k].fn)
					code = c->sent[k].fn(c->sent[k].ctx, c->sent[k].i, r, err);
			} else {
				code = kg_pg_fail(c->pg, r, err, c->sent[k].what);
			}
			PQclear(r);
		}
		if (!got && !code)
			code = kg_err_set(err, KG_EIO, "%s: no result: %s", c->sent[k].what,
					  PQerrorMessage(c->pg));
	}
	/* the sync point's result (NULL: the connection is gone) */
	PGresult *sync = PQgetResult(c->pg);
	if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && !code)
		code = kg_err_set(err, KG_EIO, "pipeline sync: %s", PQerrorMessage(c->pg));
	PQclear(sync);
	c->n_sent = 0;
	c->pipeline = false;
	if (PQexitPipelineMode(c->pg) != 1 && !code)
		code = kg_err_set(err, KG_EIO, "pipeline end: %s", PQerrorMessage(c->pg));
	return code;
}

int kg_pg_flush(kg_tx *tx, kg_err *err)
{
	return conn_flush(tx->conn, err);
}

int kg_pg_send(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_pg_result_fn fn, void *ctx,
	       size_t i, kg_err *err, const char *what)
{
	int rc = kg_pg_puts_send(tx->conn, err);
	return rc ? rc : kg_pg_conn_send(tx->conn, sql, p, fn, ctx, i, err, what);
}

int kg_pg_conn_send(kg_store_conn *c, const char *sql, const kg_pg_args *p, kg_pg_result_fn fn,
		    void *ctx, size_t i, kg_err *err, const char *what)
{
	char name[16];
	int rc;
	if (c->n_sent == KG_PG_PIPELINE_MAX && (rc = conn_flush(c, err)))
		return rc;
	size_t k = ((uintptr_t)sql >> 3) % KG_PG_STMT_CACHE;
	bool prepared = false; /* preparing waits for the server: not in a pipeline */
	for (size_t j = 0; j < KG_PG_STMT_CACHE && !prepared; j++)
		prepared = c->cache[(k + j) % KG_PG_STMT_CACHE].sql == sql;
	if (!prepared && (rc = conn_flush(c, err)))
		return rc;
	if (conn_stmt(c, sql, name, err))
		return err->code ? err->code : KG_EINTERNAL;
	if (!c->pipeline) {
		if (PQenterPipelineMode(c->pg) != 1)
			return kg_err_set(err, KG_EIO, "pipeline: %s", PQerrorMessage(c->pg));
		c->pipeline = true;
	}
	static const kg_pg_args none;
	if (!p)
		p = &none;
	if (PQsendQueryPrepared(c->pg, name, p->n, p->v, p->len, p->fmt, 0) != 1) {
		kg_err e2;
		conn_flush(c, &e2);
		return kg_err_set(err, KG_EIO, "%s: %s", what, PQerrorMessage(c->pg));
	}
	c->sent[c->n_sent].fn = fn;
	c->sent[c->n_sent].ctx = ctx;
	c->sent[c->n_sent].i = i;
	c->sent[c->n_sent++].what = what;
	return 0;
}

static PGresult *conn_exec(kg_store_conn *c, const char *sql, const kg_pg_args *p, kg_err *err,
			   const char *what)
{
	char name[16];
	if ((c->pipeline || c->fputs.key.n || c->eputs.key.n) && conn_flush(c, err))
		return NULL;
	if (conn_stmt(c, sql, name, err))
		return NULL;
	static const kg_pg_args none;
	if (!p)
		p = &none;
	PGresult *r = PQexecPrepared(c->pg, name, p->n, p->v, p->len, p->fmt, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		kg_pg_fail(c->pg, r, err, what);
		PQclear(r);
		return NULL;
	}
	const char *t = PQcmdTuples(r);
	if (st == PGRES_COMMAND_OK && t && *t)
		c->changes += strtoull(t, NULL, 10);
	return r;
}

PGresult *kg_pg_exec(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_err *err,
		     const char *what)
{
	return conn_exec(tx->conn, sql, p, err, what);
}

int kg_pg_run(kg_tx *tx, const char *sql, const kg_pg_args *p, uint64_t *changed, kg_err *err,
	      const char *what)
{
	PGresult *r = kg_pg_exec(tx, sql, p, err, what);
	if (!r)
		return err->code ? err->code : KG_EINTERNAL;
	if (changed) {
		const char *t = PQcmdTuples(r);
		*changed = t && *t ? strtoull(t, NULL, 10) : 0;
	}
	PQclear(r);
	return 0;
}

/* ---- columns ----------------------------------------------------------------*/
const char *kg_pg_col_text(kg_arena *a, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return kg_arena_strndup(a, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

const uint8_t *kg_pg_col_blob(kg_arena *a, const PGresult *r, int row, int col, size_t *len)
{
	*len = 0;
	if (PQgetisnull(r, row, col))
		return NULL;
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	if (!raw)
		return NULL;
	/* one spare NUL so text stored as a blob can be read as a string */
	uint8_t *out = kg_arena_alloc(a, n + 1);
	if (n)
		memcpy(out, raw, n);
	out[n] = 0;
	PQfreemem(raw);
	*len = n;
	return out;
}

int64_t kg_pg_col_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ---- connections --------------------------------------------------------------*/
/* Runs sql (several statements allowed) with the simple protocol. */
static int exec_simple(PGconn *pg, const char *sql, kg_err *err, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int code = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : kg_pg_fail(pg, r, err, what);
	PQclear(r);
	return code;
}

static void conn_free(kg_store_conn *c)
{
	if (!c)
		return;
	if (c->pg)
		PQfinish(c->pg);
	kg_pg_puts_release(c);
	kg_pg_ahead_free(c);
	free(c);
}

static int conn_open(const char *url, bool write, kg_store_conn **out, kg_err *err)
{
	*out = NULL;
	kg_store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	c->write = write;
	kg_pg_puts_init(c);
	c->pg = PQconnectdb(url);
	int code = 0;
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		code = kg_err_set(err, KG_EIO, "cannot connect to the postgres store: %s", msg);
		goto cleanup;
	}
	/* times and counts are exchanged as text; no locale surprises */
	code = exec_simple(c->pg, "SET client_encoding = 'UTF8'; SET synchronous_commit = on; "
			   "SET client_min_messages = warning;",
			   err, "configure connection");
cleanup:
	if (code) {
		conn_free(c);
		return code;
	}
	*out = c;
	return 0;
}

static void migration_checksum(int v, char out[33])
{
	uint8_t h[16];
	const char *sql = kg_postgres_migrations[v - 1];
	crypto_generichash(h, sizeof(h), (const unsigned char *)sql, strlen(sql), NULL, 0);
	kg_hex(h, sizeof(h), out);
}

static int db_version(PGconn *pg, int *version, kg_err *err)
{
	PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	int code = 0;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		*version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		code = kg_pg_fail(pg, r, err, "read schema version");
	PQclear(r);
	return code;
}

/* Refuses a database on which an applied migration differs from the one
 * compiled in, as the SQLite backend does. */
static int check_applied(PGconn *pg, kg_err *err)
{
	PGresult *r = PQexec(pg, "SELECT version, checksum FROM schema_migrations ORDER BY version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		int code = kg_pg_fail(pg, r, err, "read schema_migrations");
		PQclear(r);
		return code;
	}
	int code = 0;
	for (int i = 0; !code && i < PQntuples(r); i++) {
		int v = (int)strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (v < 1 || v > kg_postgres_migration_count)
			continue;
		char want[33];
		migration_checksum(v, want);
		if (strcmp(PQgetvalue(r, i, 1), want) != 0)
			code = kg_err_set(err, KG_EINVAL,
					  "postgres store: schema migration %d differs from the one "
					  "applied to this database (an applied migration was edited; "
					  "add a new migration instead)",
					  v);
	}
	PQclear(r);
	return code;
}

static int migrate(PGconn *pg, kg_err *err)
{
	int code = exec_simple(pg, "BEGIN", err, "begin migration");
	if (code)
		return code;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT pg_advisory_xact_lock(%d);"
		 "CREATE TABLE IF NOT EXISTS schema_migrations ("
		 " version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL, checksum TEXT)",
		 MIGRATION_LOCK);
	code = exec_simple(pg, sql, err, "lock for migration");
	int version = 0;
	if (!code)
		code = db_version(pg, &version, err);
	if (!code && version > kg_postgres_migration_count)
		code = kg_err_set(err, KG_EINVAL,
				  "postgres store: database schema v%d is newer than this kagi (v%d)",
				  version, kg_postgres_migration_count);
	if (!code)
		code = check_applied(pg, err);
	for (int v = version + 1; !code && v <= kg_postgres_migration_count; v++) {
		char what[64];
		snprintf(what, sizeof(what), "schema migration %d", v);
		code = exec_simple(pg, kg_postgres_migrations[v - 1], err, what);
		if (code)
			break;
		char sum[33];
		migration_checksum(v, sum);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO schema_migrations(version, applied_ms, checksum) "
			 "VALUES (%d, %lld, '%s')",
			 v, (long long)kg_now_ms(), sum);
		code = exec_simple(pg, sql, err, what);
	}
	if (!code)
		code = exec_simple(pg, "COMMIT", err, "commit migrations");
	if (code)
		PQclear(PQexec(pg, "ROLLBACK"));
	return code;
}

static int pg_open(kg_store *s, const char *url, kg_store_conn **wconn, kg_err *err)
{
	(void)s;
	kg_store_conn *c = NULL;
	int code = conn_open(url, true, &c, err);
	if (code)
		return code;
	code = migrate(c->pg, err);
	if (code) {
		conn_free(c);
		return code;
	}
	*wconn = c;
	return 0;
}

static int pg_open_reader(kg_store *s, kg_store_conn **out, kg_err *err)
{
	return conn_open(s->path, false, out, err);
}

static void pg_close_conn(kg_store_conn *c, bool checkpoint)
{
	(void)checkpoint; /* the server checkpoints by itself */
	conn_free(c);
}

/* ---- transaction control --------------------------------------------------------*/
static const char SQL_BEGIN_WRITE[] = "BEGIN ISOLATION LEVEL READ COMMITTED";
static const char SQL_BEGIN_READ[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE SAVEPOINT job";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT job";

static int tx_stmt(kg_store_conn *c, const char *sql, kg_err *err, const char *what)
{
	PGresult *r = conn_exec(c, sql, NULL, err, what);
	if (!r)
		return err && err->code ? err->code : KG_EIO;
	PQclear(r);
	return 0;
}

static int pg_begin(kg_store_conn *c, bool write, kg_err *err)
{
	kg_pg_puts_drop(c);
	kg_pg_ahead_clear(c);
	return tx_stmt(c, write ? SQL_BEGIN_WRITE : SQL_BEGIN_READ, err, "begin transaction");
}

static int pg_commit(kg_store_conn *c, kg_err *err)
{
	/* COMMIT of a transaction that failed answers ROLLBACK: nothing was kept */
	kg_pg_ahead_clear(c);
	bool failed = PQtransactionStatus(c->pg) == PQTRANS_INERROR;
	PGresult *r = conn_exec(c, SQL_COMMIT, NULL, err, "commit");
	if (!r)
		return err->code ? err->code : KG_EIO;
	bool rolled_back = !strcmp(PQcmdStatus(r), "ROLLBACK");
	PQclear(r);
	if (failed || rolled_back)
		return kg_err_set(err, KG_EIO, "commit: the transaction had failed and was rolled back");
	return 0;
}

static void pg_rollback(kg_store_conn *c)
{
	kg_pg_puts_drop(c);
	kg_pg_ahead_clear(c);
	kg_err e;
	conn_flush(c, &e);
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		PQclear(PQexec(c->pg, "ROLLBACK"));
}

static int pg_savepoint(kg_store_conn *c, kg_err *err)
{
	return tx_stmt(c, SQL_SAVEPOINT, err, "savepoint");
}

static int pg_release(kg_store_conn *c, kg_err *err)
{
	return tx_stmt(c, SQL_RELEASE, err, "release savepoint");
}

static int pg_rollback_to(kg_store_conn *c, kg_err *err)
{
	kg_pg_puts_drop(c);
	int rc = tx_stmt(c, SQL_ROLLBACK_TO, err, "roll back savepoint");
	return rc ? rc : tx_stmt(c, SQL_RELEASE, err, "release savepoint");
}

/* The transaction is gone (the connection broke, or the server ended it):
 * nothing of it will commit. One only in error is not: a savepoint
 * rolls it back to health. */
static bool pg_tx_aborted(kg_store_conn *c)
{
	PGTransactionStatusType t = PQtransactionStatus(c->pg);
	return t == PQTRANS_IDLE || t == PQTRANS_UNKNOWN;
}

static int pg_integrity_check(kg_store_conn *c, kg_err *err)
{
	/* the server keeps its own pages sound (data checksums, amcheck);
	 * here: that the schema is there and answers */
	PGresult *r = conn_exec(c, "SELECT count(*) FROM schema_migrations", NULL, err,
				"integrity check");
	if (!r)
		return err->code;
	PQclear(r);
	return 0;
}

static int pg_schema_version(kg_store_conn *c, int *version, kg_err *err)
{
	return db_version(c->pg, version, err);
}

static uint64_t pg_changes(kg_store_conn *c) { return c->changes; }

static int pg_flush(kg_store_conn *c, kg_err *err) { return conn_flush(c, err); }

static int pg_backup(kg_store_conn *c, const char *dest, kg_err *err)
{
	(void)c;
	(void)dest;
	return kg_err_set(err, KG_EINVAL,
			  "a postgres store is backed up with the server's tools (pg_dump, "
			  "pg_basebackup), not kagi backup");
}

const struct kg_store_ops kg_postgres_ops = {
	.name = "postgres",
	.shared = true,
	.open = pg_open,
	.open_reader = pg_open_reader,
	.close_conn = pg_close_conn,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.release = pg_release,
	.rollback_to = pg_rollback_to,
	.tx_aborted = pg_tx_aborted,
	.integrity_check = pg_integrity_check,
	.schema_version = pg_schema_version,
	.changes = pg_changes,
	.flush = pg_flush,
	.backup = pg_backup,

	.accounts = &kg_postgres_accounts_ops,
	.events = &kg_postgres_events_ops,
	.locks = &kg_postgres_locks_ops,
	.audit = &kg_postgres_audit_ops,
	.messages = &kg_postgres_messages_ops,
	.queue = &kg_postgres_queue_ops,
	.cases = &kg_postgres_cases_ops,
	.checks = &kg_postgres_checks_ops,
	.guard = &kg_postgres_guard_ops,
};
