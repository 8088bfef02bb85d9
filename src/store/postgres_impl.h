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

typedef struct kg_pg_args kg_pg_args;

/* A one-dimensional array in PostgreSQL's binary array format, bound as
 * one parameter (kg_pg_array_bind) of a statement that unnests it
 * ($1::text[], ...): one statement for a batch's rows instead of one a
 * row (postgres_events.c). Element types by OID: */
enum {
	KG_PG_OID_BYTEA = 17,
	KG_PG_OID_INT8 = 20,
	KG_PG_OID_INT4 = 23,
	KG_PG_OID_TEXT = 25,
};
typedef struct kg_pg_array {
	kg_buf b;      /* the header (written by bind), then the elements */
	uint32_t oid;
	uint32_t n;
	bool nulls;
} kg_pg_array;

void kg_pg_array_init(kg_pg_array *a, uint32_t oid);
void kg_pg_array_reset(kg_pg_array *a); /* no elements; keeps its memory */
void kg_pg_array_release(kg_pg_array *a);
/* An element of len bytes (text, bytea); v NULL: SQL NULL. KG_ENOMEM or
 * KG_ELIMIT (as kg_buf). */
int kg_pg_array_add(kg_pg_array *a, const void *v, size_t len);
int kg_pg_array_i64(kg_pg_array *a, int64_t v);
int kg_pg_array_i32(kg_pg_array *a, int32_t v);
/* Writes the header and binds the array (binary) as p's next parameter: a
 * must not change until the statement is sent. */
void kg_pg_array_bind(kg_pg_args *p, kg_pg_array *a);

/* A job's feature or entity puts, kept until the next statement of the
 * connection (or the job's flush) and written then by one upsert of them
 * all (postgres_events.c): columns as arrays, the last put of a key wins. */
struct kg_pg_puts {
	kg_pg_array key;  /* features: account id (text); entities: kind (int4) */
	kg_pg_array key2; /* entities: key (int8) */
	kg_pg_array state;
	kg_pg_array ver;
};

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
	struct kg_pg_puts fputs, eputs; /* write connection: puts not sent yet */
	bool puts_sending;
	struct kg_pg_ahead *ahead;      /* read transaction: rows read ahead (NULL: none) */
};

/* The parameters of one statement, in order ($1, $2, ...). Strings are not
 * copied: they must live until the statement has run. */
struct kg_pg_args {
	int n;
	const char *v[KG_PG_ARGS_MAX];
	int len[KG_PG_ARGS_MAX];
	int fmt[KG_PG_ARGS_MAX]; /* 0 text, 1 binary (bytea) */
	char num[KG_PG_ARGS_MAX][24];
};

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
/* As kg_pg_send on a connection, without sending the pending puts first
 * (for the statement that sends them). */
int kg_pg_conn_send(kg_store_conn *c, const char *sql, const kg_pg_args *p, kg_pg_result_fn fn,
		    void *ctx, size_t i, kg_err *err, const char *what);

/* The connection's pending puts (postgres_events.c): init/release with the
 * connection; send: queue their upserts in the pipeline (0 when there are
 * none; called before any other statement, and by every flush); drop:
 * forget them (a rollback). */
void kg_pg_puts_init(kg_store_conn *c);
void kg_pg_puts_release(kg_store_conn *c);
int kg_pg_puts_send(kg_store_conn *c, kg_err *err);
void kg_pg_puts_drop(kg_store_conn *c);

/* Maps a failed result (SQLSTATE) to a kg_code and sets err. */
int kg_pg_fail(PGconn *pg, const PGresult *r, kg_err *err, const char *what);

/* Column reading into the caller's arena: NULL for SQL NULL. */
const char *kg_pg_col_text(kg_arena *a, const PGresult *r, int row, int col);
const uint8_t *kg_pg_col_blob(kg_arena *a, const PGresult *r, int row, int col, size_t *len);
/* 0 for SQL NULL. */
int64_t kg_pg_col_i64(const PGresult *r, int row, int col);

/* ---- read-ahead (postgres_ahead.c) ----
 * The rows kg_tx_read_ahead read, kept until the transaction ends (clear:
 * at its begin and end; free: with the connection). A lookup returns true
 * when it has the key (*found: whether the row is there; values copied
 * into a), false when it was not read ahead (ask the server). */
struct kg_pg_ahead;
int kg_pg_read_ahead(kg_tx *tx, const kg_read_ahead *ra, kg_err *err);
void kg_pg_ahead_clear(kg_store_conn *c);
void kg_pg_ahead_free(kg_store_conn *c);
bool kg_pg_ahead_features(kg_store_conn *c, const char *account, kg_arena *a,
			  const uint8_t **blob, size_t *len, int64_t *version, bool *found);
bool kg_pg_ahead_event(kg_store_conn *c, const char *account, size_t account_len,
		       const char *id, size_t id_len, kg_arena *a, const char **decision,
		       size_t *decision_len, const uint8_t **hash, size_t *hash_len, bool *found);
bool kg_pg_ahead_entity(kg_store_conn *c, int kind, uint64_t key, kg_arena *a,
			const uint8_t **blob, size_t *len, int64_t *version, bool *found);

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
