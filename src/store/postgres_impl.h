/* Private to the PostgreSQL backend (src/store/postgres*.c): the connection
 * struct, parameters, and the helpers every domain file uses. Pattern of an
 * operation (see postgres_events.c):
 *
 *   kg_pg_args p = {0};
 *   kg_pg_text(&p, id); kg_pg_i64(&p, ms); ...
 *   PGresult *r = kg_pg_exec(tx, SQL_CONSTANT, &p, err, "x get");
 *   if (!r) return err->code;
 *   ... PQntuples(r), kg_pg_col_text(a, r, row, col) ...
 *   PQclear(r);
 *
 * Statements are prepared once per connection (named by their slot in the
 * connection's cache, which keys on the SQL pointer: string constants
 * only). Results come back as text; bytea columns are decoded by
 * kg_pg_col_blob. An insert that may meet an existing row uses ON CONFLICT
 * DO NOTHING and tells the conflict by the row count, so that the
 * transaction (several jobs of a group commit) is not aborted by it. */
#ifndef KG_POSTGRES_IMPL_H
#define KG_POSTGRES_IMPL_H

#include <libpq-fe.h>

#include "store/store_impl.h"

#define KG_PG_STMT_CACHE 256 /* distinct statements per connection */
#define KG_PG_ARGS_MAX 16
/* Statements sent in pipeline mode before their results are read: few
 * enough that the server's replies fit the socket buffers (a blocking
 * send never waits on a server that waits on us). */
#define KG_PG_PIPELINE_MAX 256

/* What to do with the result of a statement sent by kg_pg_send (fn NULL:
 * nothing but check it). */
typedef int (*kg_pg_result_fn)(void *ctx, size_t i, const PGresult *r, kg_err *err);

struct kg_store_conn {
	PGconn *pg;
	bool write;
	uint64_t changes; /* rows changed by statements run on it */
	struct {
		const char *sql;
	} cache[KG_PG_STMT_CACHE];
	bool pipeline;    /* in pipeline mode, with n_sent results to read */
	size_t n_sent;
	struct {
		kg_pg_result_fn fn;
		void *ctx;
		size_t i;
		const char *what;
	} sent[KG_PG_PIPELINE_MAX];
};

/* The parameters of one statement, in order ($1, $2, ...). Strings are not
 * copied: they must live until the statement has run. */
typedef struct kg_pg_args {
	int n;
	const char *v[KG_PG_ARGS_MAX];
	int len[KG_PG_ARGS_MAX];
	int fmt[KG_PG_ARGS_MAX]; /* 0 text, 1 binary (bytea) */
	char num[KG_PG_ARGS_MAX][24];
} kg_pg_args;

/* NULL binds NULL. */
void kg_pg_text(kg_pg_args *p, const char *s);
/* n bytes of s (n 0: up to its NUL); NULL binds NULL. */
void kg_pg_textn(kg_pg_args *p, const char *s, size_t n);
void kg_pg_i64(kg_pg_args *p, int64_t v);
/* 0 binds NULL (an optional time). */
void kg_pg_opt_ms(kg_pg_args *p, int64_t ms);
/* NULL binds NULL. */
void kg_pg_blob(kg_pg_args *p, const void *b, size_t n);

/* Runs sql (a constant) with p (may be NULL): the result (PQclear it) of a
 * statement that succeeded, or NULL with err set ("<what>: ..."). */
PGresult *kg_pg_exec(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_err *err,
		     const char *what);
/* As kg_pg_exec for a statement whose rows are not wanted: 0 or the error,
 * and the number of rows it changed in *changed (may be NULL). */
int kg_pg_run(kg_tx *tx, const char *sql, const kg_pg_args *p, uint64_t *changed, kg_err *err,
	      const char *what);

/* Sends sql with p in pipeline mode (libpq 14+) without waiting for its
 * result, which is read — fn(ctx, i, result) called on it — by the next
 * kg_pg_flush, at the latest when the job ends (the backend's flush) or
 * before any statement run by kg_pg_exec/kg_pg_run. A failed statement
 * fails that flush (and the statements after it in the pipeline are not
 * run). Many rows of one job thus cost one round trip per
 * KG_PG_PIPELINE_MAX statements instead of one each. */
int kg_pg_send(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_pg_result_fn fn, void *ctx,
	       size_t i, kg_err *err, const char *what);
/* Reads every result of what was sent; 0 or the first error. */
int kg_pg_flush(kg_tx *tx, kg_err *err);

/* Maps a failed result (SQLSTATE) to a kg_code and sets err. */
int kg_pg_fail(PGconn *pg, const PGresult *r, kg_err *err, const char *what);

/* Column reading into the caller's arena: NULL for SQL NULL. */
const char *kg_pg_col_text(kg_arena *a, const PGresult *r, int row, int col);
const uint8_t *kg_pg_col_blob(kg_arena *a, const PGresult *r, int row, int col, size_t *len);
/* 0 for SQL NULL. */
int64_t kg_pg_col_i64(const PGresult *r, int row, int col);

/* The domain tables of kg_postgres_ops (postgres.c). */
extern const struct kg_store_accounts_ops kg_postgres_accounts_ops;
extern const struct kg_store_events_ops kg_postgres_events_ops;
extern const struct kg_store_audit_ops kg_postgres_audit_ops;
extern const struct kg_store_queue_ops kg_postgres_queue_ops;
extern const struct kg_store_locks_ops kg_postgres_locks_ops;
extern const struct kg_store_messages_ops kg_postgres_messages_ops;
extern const struct kg_store_cases_ops kg_postgres_cases_ops;
extern const struct kg_store_checks_ops kg_postgres_checks_ops;
extern const struct kg_store_guard_ops kg_postgres_guard_ops;

static inline int64_t kg_pg_or_now(int64_t v) { return v ? v : kg_now_ms(); }

#endif
