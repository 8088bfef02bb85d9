/* Private to src/store: the backend operations table and the
 * store/transaction structs. Nothing outside src/store includes it. To add
 * a domain's operations see the recipe at the top of store.h; to add a
 * backend, see "A new backend" in docs/architecture.md (store). */
#ifndef KG_STORE_IMPL_H
#define KG_STORE_IMPL_H

#include <pthread.h>

#include "store/store.h"

/* ---- the backend's operations table ------------------------------------
 * One `struct kg_store_ops` per backend (kg_sqlite_ops, ...), chosen once by
 * kg_store_open from the backend enum or the URL scheme of the path; the
 * store keeps a pointer to it and every kg_tx_* call (tx.c) goes through it,
 * with no switch on the backend. The table is in two parts: connections and
 * transaction control (what store.c's group commit and read pool need), and
 * the domain operations, one sub-table per domain (each backend defines
 * them in its <backend>_<domain>.c). A NULL sub-table or entry means "not
 * supported by this backend": the kg_tx_* call answers KG_EINTERNAL. */
typedef struct kg_store_conn kg_store_conn; /* backend-defined */

struct kg_store_accounts_ops {
	int (*get)(kg_tx *, const char *id, kg_account *, kg_arena *, kg_err *);
	int (*get_by_email)(kg_tx *, const char *email, kg_account *, kg_arena *, kg_err *);
	int (*insert)(kg_tx *, const kg_account *, kg_err *);
	int (*update)(kg_tx *, const kg_account *, kg_err *);
	int (*card_add)(kg_tx *, const kg_card *, kg_err *);
	int (*card_list)(kg_tx *, const char *, kg_arena *, kg_card **, size_t *, kg_err *);
	int (*address_add)(kg_tx *, const kg_account_address *, kg_err *);
	int (*address_list)(kg_tx *, const char *, kg_arena *, kg_account_address **,
			    size_t *, kg_err *);
	int (*credential_insert)(kg_tx *, const kg_credential *, kg_err *);
	int (*credential_get)(kg_tx *, const char *, kg_credential *, kg_arena *, kg_err *);
	int (*credential_revoke)(kg_tx *, const char *, int64_t, kg_err *);
	int (*credential_revoke_account)(kg_tx *, const char *, const char *, int64_t, size_t *,
					 kg_err *);
	int (*credential_list_keys)(kg_tx *, size_t, kg_arena *, kg_credential **, size_t *,
				    kg_err *);
	int (*list_add)(kg_tx *, const char *, const char *, kg_err *);
	int (*list_remove)(kg_tx *, const char *, const char *, kg_err *);
	int (*list_contains)(kg_tx *, const char *, const char *, bool *, kg_err *);
	int (*list_values)(kg_tx *, const char *, kg_arena *, const char ***, size_t *,
			   kg_err *);
	int (*search)(kg_tx *, const char *, size_t, kg_arena *, kg_account **, size_t *,
		      kg_err *);
};

struct kg_store_events_ops {
	int (*event_get)(kg_tx *, const char *, const char *, kg_event_rec *, kg_arena *,
			 kg_err *);
	int (*event_insert)(kg_tx *, const kg_event_rec *, kg_err *);
	int (*event_decision)(kg_tx *, const char *, size_t, const char *, size_t, kg_arena *,
			      const char **, size_t *, const uint8_t **, size_t *, kg_err *);
	int (*event_scan)(kg_tx *, const char *, int64_t, int64_t, kg_event_cb, void *,
			  kg_err *);
	int (*features_get)(kg_tx *, const char *, kg_arena *, const uint8_t **, size_t *,
			    int64_t *, kg_err *);
	int (*features_put)(kg_tx *, const char *, const void *, size_t, int64_t, kg_err *);
	/* As features_put for a row that is there; KG_ENOTFOUND (nothing
	 * written) when it is not. NULL: kg_tx_features_replace puts. */
	int (*features_update)(kg_tx *, const char *, const void *, size_t, int64_t, kg_err *);
	/* A backend several processes write (PostgreSQL) only; NULL else. */
	int (*features_lock)(kg_tx *, const char *, int64_t *, kg_err *);
	int (*entity_get)(kg_tx *, int, uint64_t, kg_arena *, const uint8_t **, size_t *,
			  int64_t *, kg_err *);
	/* A shared backend only (as features_lock); NULL else. */
	int (*entity_lock)(kg_tx *, int, uint64_t, int64_t *, kg_err *);
	/* Many rows at once (a backend that can save round trips); NULL: the
	 * kg_tx_*_many call loops over the one-row operation. */
	int (*event_insert_many)(kg_tx *, const kg_event_rec *, size_t, bool *, kg_err *);
	int (*features_lock_many)(kg_tx *, const char *const *, size_t, int64_t *, kg_err *);
	int (*entity_lock_many)(kg_tx *, const int *, const uint64_t *, size_t, int64_t *,
				kg_err *);
	int (*entity_put)(kg_tx *, int, uint64_t, const void *, size_t, int64_t, kg_err *);
	/* As features_update, for entity_put. */
	int (*entity_update)(kg_tx *, int, uint64_t, const void *, size_t, int64_t, kg_err *);
	int (*event_list)(kg_tx *, const char *, size_t, kg_arena *, kg_event_rec **, size_t *,
			  kg_err *);
	/* kg_tx_read_ahead; NULL: reads are local, nothing to do. */
	int (*read_ahead)(kg_tx *, const kg_read_ahead *, kg_err *);
};

struct kg_store_locks_ops {
	int (*insert)(kg_tx *, const kg_lock *, kg_err *);
	int (*get)(kg_tx *, const char *, const char *, kg_lock *, kg_arena *, kg_err *);
	int (*list_active)(kg_tx *, const char *, int64_t, kg_arena *, kg_lock **, size_t *,
			   kg_err *);
	int (*list)(kg_tx *, const char *, size_t, kg_arena *, kg_lock **, size_t *, kg_err *);
	int (*lift)(kg_tx *, const char *, const char *, int64_t, const char *, const char *,
		    kg_err *);
	int (*expire_due)(kg_tx *, int64_t, size_t *, kg_err *);
	int (*list_due)(kg_tx *, int64_t, size_t, kg_arena *, kg_lock **, size_t *, kg_err *);
	int (*count_since)(kg_tx *, int64_t, int64_t *, kg_err *);
	int (*tag_incident)(kg_tx *, const char *, int64_t, int64_t, size_t *, kg_err *);
	int (*list_incident)(kg_tx *, const char *, kg_arena *, kg_lock **, size_t *,
			     kg_err *);
	int (*list_recent)(kg_tx *, const char *, int64_t, size_t, kg_arena *, kg_lock **,
			   size_t *, kg_err *);
	int (*counts)(kg_tx *, int64_t, int64_t, size_t, int64_t *, kg_err *);
	int (*incident_insert)(kg_tx *, const kg_incident *, kg_err *);
	int (*incident_get)(kg_tx *, const char *, kg_incident *, kg_arena *, kg_err *);
	int (*incident_update)(kg_tx *, const kg_incident *, kg_err *);
	int (*incident_list)(kg_tx *, const char *, size_t, kg_arena *, kg_incident **,
			     size_t *, kg_err *);
};

struct kg_store_audit_ops {
	int (*append)(kg_tx *, const kg_audit_entry *, int64_t *, kg_err *);
	int (*list)(kg_tx *, const char *, int64_t, size_t, kg_arena *, kg_audit_entry **,
		    size_t *, kg_err *);
	/* Every entry of one chain (account_id) or all chains (NULL), ordered
	 * by (account_id, seq); plus each chain's recorded head. */
	int (*scan)(kg_tx *, const char *account_id,
		    int (*cb)(const kg_audit_entry *, void *), void *ctx, kg_err *);
	int (*head)(kg_tx *, const char *account_id, int64_t *seq,
		    uint8_t hash[KG_AUDIT_HASH_BYTES], kg_err *);
	/* Every account id that has a head or entries (NULL-terminated arena array). */
	int (*chains)(kg_tx *, kg_arena *, const char ***, size_t *, kg_err *);
};

struct kg_store_messages_ops {
	int (*insert)(kg_tx *, const kg_message *, kg_err *);
	int (*list)(kg_tx *, const char *, size_t, kg_arena *, kg_message **, size_t *,
		    kg_err *);
	int (*get)(kg_tx *, const char *, const char *, kg_message *, kg_arena *, kg_err *);
	int (*find_by_message_id)(kg_tx *, const char *, kg_message *, kg_arena *, kg_err *);
	int (*find_by_fingerprint)(kg_tx *, const char *, const char *, kg_message *,
				   kg_arena *, kg_err *);
};

/* The one delivery queue, of two kinds (store.h, enum kg_queue_kind). A row
 * is a kg_outbox for KG_QUEUE_MAIL and a kg_webhook for KG_QUEUE_WEBHOOK;
 * `void *` rows and arrays are of that type. */
struct kg_store_queue_ops {
	int (*insert)(kg_tx *, enum kg_queue_kind, const void *row, kg_err *);
	/* By (account, id) when account_id is set, else by id alone. */
	int (*get)(kg_tx *, enum kg_queue_kind, const char *account_id, const char *id,
		   void *out, kg_arena *, kg_err *);
	int (*claim_due)(kg_tx *, enum kg_queue_kind, int64_t now_ms, int64_t lease_ms,
			 size_t limit, kg_arena *, void **out, size_t *n, kg_err *);
	/* retry_at_ms: delivered: the delivery time; failed: 0 gives up. */
	int (*mark)(kg_tx *, enum kg_queue_kind, const char *account_id, const char *id,
		    bool delivered, int64_t ms, const char *error, kg_err *);
	int (*list)(kg_tx *, enum kg_queue_kind, const char *state, const char *account_id,
		    size_t limit, kg_arena *, void **out, size_t *n, kg_err *);
	int (*retry)(kg_tx *, enum kg_queue_kind, const char *id, int64_t now_ms, kg_err *);
	/* Row counts for /metrics (kg_tx_store_counts). */
	int (*counts)(kg_tx *, kg_arena *, kg_store_count **, size_t *, kg_err *);
};

struct kg_store_cases_ops {
	int (*insert)(kg_tx *, const kg_case *, kg_err *);
	int (*get)(kg_tx *, const char *, kg_case *, kg_arena *, kg_err *);
	int (*update)(kg_tx *, const char *, const char *, const char *, const char *, int64_t,
		      kg_err *);
	int (*list)(kg_tx *, const char *, const char *, size_t, kg_arena *, kg_case **, size_t *,
		    kg_err *);
	int (*history_append)(kg_tx *, const char *, const char *, const kg_case_event *,
			      int64_t *, kg_err *);
	int (*history_list)(kg_tx *, const char *, const char *, kg_arena *, kg_case_event **,
			    size_t *, kg_err *);
	int (*document_add)(kg_tx *, const kg_case_document *, kg_err *);
	int (*document_list)(kg_tx *, const char *, const char *, kg_arena *,
			     kg_case_document **, size_t *, kg_err *);
	int (*document_get)(kg_tx *, const char *, const char *, const char *, kg_case_document *,
			    kg_arena *, kg_err *);
	int (*queue_position)(kg_tx *, const char *, const char *, int64_t *, kg_err *);
	int (*handling_time)(kg_tx *, size_t, int64_t *, size_t *, kg_err *);
};

struct kg_store_checks_ops {
	int (*code_put)(kg_tx *, const kg_code_rec *, kg_err *);
	int (*code_get)(kg_tx *, const char *, const char *, kg_code_rec *, kg_arena *, kg_err *);
	int (*code_set_attempts)(kg_tx *, const char *, const char *, int64_t, kg_err *);
	int (*code_delete)(kg_tx *, const char *, const char *, kg_err *);
	int (*counter_hit)(kg_tx *, const char *, const char *, const char *, int64_t, int64_t,
			   int64_t *, kg_err *);
	int (*counter_get)(kg_tx *, const char *, const char *, const char *, int64_t, int64_t,
			   int64_t *, kg_err *);
	int (*counter_reset)(kg_tx *, const char *, const char *, const char *, kg_err *);
	int (*counter_read)(kg_tx *, const char *, const char *, const char *, kg_counter_row *,
			    kg_err *);
	int (*counter_put)(kg_tx *, const char *, const char *, const char *,
			   const kg_counter_row *, kg_err *);
	int (*identity_get)(kg_tx *, const char *, kg_identity_state *, kg_arena *, kg_err *);
	int (*identity_put)(kg_tx *, const kg_identity_state *, kg_err *);
};

struct kg_store_guard_ops {
	int (*get)(kg_tx *, const char *, const char *, kg_guard_row *, kg_arena *, kg_err *);
	int (*put)(kg_tx *, const kg_guard_row *, kg_err *);
	int (*add)(kg_tx *, const char *, const char *, int64_t, int64_t, int64_t *, kg_err *);
	int (*list)(kg_tx *, const char *, const char *, const char *, size_t, kg_arena *,
		    kg_guard_row **, size_t *, kg_err *);
	int (*del)(kg_tx *, const char *, const char *, const char *, size_t *, kg_err *);
};

/* (a new domain: its `struct kg_store_<domain>_ops` here and a member below) */

struct kg_store_ops {
	const char *name;
	/* Several processes (kagid nodes) may write the database at once:
	 * kg_store_shared. */
	bool shared;

	/* -- connections and transaction control -- */
	/* Once per kg_store_open, before anything else (may be NULL). */
	void (*global_init)(void);
	/* Opens the write connection, configures it and migrates the schema. */
	int (*open)(kg_store *s, const char *path, kg_store_conn **wconn, kg_err *err);
	/* Opens one more read-only connection. */
	int (*open_reader)(kg_store *s, kg_store_conn **conn, kg_err *err);
	/* Closes a connection; checkpoint: the last one (flush WAL into the db). */
	void (*close_conn)(kg_store_conn *c, bool checkpoint);
	int (*begin)(kg_store_conn *c, bool write, kg_err *err);
	int (*commit)(kg_store_conn *c, kg_err *err);
	void (*rollback)(kg_store_conn *c);
	int (*savepoint)(kg_store_conn *c, kg_err *err);
	int (*release)(kg_store_conn *c, kg_err *err);
	int (*rollback_to)(kg_store_conn *c, kg_err *err);
	/* True if the backend aborted the open transaction by itself (after
	 * SQLITE_FULL / IOERR): nothing of it will commit. */
	bool (*tx_aborted)(kg_store_conn *c);
	int (*integrity_check)(kg_store_conn *c, kg_err *err);
	int (*schema_version)(kg_store_conn *c, int *version, kg_err *err);
	/* Rows changed so far on this connection (a counter; differences
	 * tell whether a job wrote anything). */
	uint64_t (*changes)(kg_store_conn *c);
	/* In a write transaction: true when no other connection (of this or
	 * another process) has committed to the database since the store
	 * opened it, so every row is as this store's jobs left it. NULL: never
	 * known (kg_tx_sole_writer answers false). */
	bool (*sole_writer)(kg_store_conn *c);
	/* Ends what the job left in flight (statements sent without waiting):
	 * their failure is the job's. NULL: nothing is ever in flight. */
	int (*flush)(kg_store_conn *c, kg_err *err);
	/* Copies the database, as of one snapshot, into a new file at dest. */
	int (*backup)(kg_store_conn *c, const char *dest, kg_err *err);
	/* Test-only fault injection (kg_store_fault); NULL: not supported. */
	int (*fault_arm)(const char *spec, kg_err *err);

	/* -- domain operations -- */
	const struct kg_store_accounts_ops *accounts;
	const struct kg_store_events_ops *events;
	const struct kg_store_locks_ops *locks;
	const struct kg_store_audit_ops *audit;
	const struct kg_store_messages_ops *messages;
	const struct kg_store_queue_ops *queue;
	const struct kg_store_cases_ops *cases;
	const struct kg_store_checks_ops *checks;
	const struct kg_store_guard_ops *guard;
};

extern const struct kg_store_ops kg_sqlite_ops;
extern const struct kg_store_ops kg_postgres_ops;

/* ---- the store and a transaction ----------------------------------------*/
struct kg_store_job {
	kg_tx_fn fn;
	void *ctx;
	kg_err err;
	int rc;
	bool done;
	bool waited;               /* the ticket's owner has its result */
	struct kg_store_job *after; /* queued earlier; its failure fails this job */
	struct kg_store_job *next;
	/* kg_store_write_start_then: called on the writer thread once done */
	void (*then)(void *then_ctx);
	void *then_ctx;
	struct kg_store_job *then_next; /* the group's jobs with a then, done */
};

struct kg_store {
	const struct kg_store_ops *ops; /* the backend's table, chosen at open */
	int group_max;
	int busy_timeout_ms;
	bool fault_vfs;           /* connections use the fault-injection VFS */
	char *path;

	kg_store_conn *wconn;     /* owned by the writer thread */
	pthread_t writer;
	bool writer_started;

	pthread_mutex_t mu;       /* queue, readers, stats */
	pthread_cond_t work_cv;   /* writer: jobs queued or stop */
	pthread_cond_t done_cv;   /* waiters: a group finished */
	struct kg_store_job *head, *tail;
	size_t queued;
	bool stopping;            /* close started: writes are refused */
	bool closing_reads;       /* writer stopped: reads are refused too */
	size_t users;             /* threads inside kg_store_write/read */
	pthread_cond_t idle_cv;   /* close: users dropped to 0 */

	kg_store_conn **idle;     /* idle read connections */
	size_t n_idle, cap_idle;

	kg_store_stats stats;
	int schema_version;
	uint64_t log_next_ns;     /* writer: commit errors logged at most 1/s */
	uint64_t log_suppressed;
};

struct kg_tx {
	kg_store *s;
	kg_store_conn *conn;
	bool write;
};

/* In kg_tx_* calls (tx.c): call op of domain in the backend's table, or
 * fail cleanly if the backend has none. */
#define KG_TX_CALL(tx, err, domain, op, ...)                                      \
	((tx)->s->ops->domain && (tx)->s->ops->domain->op                         \
		 ? (tx)->s->ops->domain->op(tx, __VA_ARGS__)                      \
		 : kg_err_set(err, KG_EINTERNAL, "store backend %s has no %s.%s", \
			      (tx)->s->ops->name, #domain, #op))

/* As KG_TX_CALL for operations that write: a read-only transaction gets
 * KG_EINVAL. */
#define KG_TX_WCALL(tx, err, domain, op, ...)                                     \
	(!(tx)->write ? kg_tx_read_only(err, #domain, #op)                        \
		      : KG_TX_CALL(tx, err, domain, op, __VA_ARGS__))

/* Sets and returns KG_EINVAL: "<domain>.<op> needs a write transaction". */
int kg_tx_read_only(kg_err *err, const char *domain, const char *op);

/* kg_tx_event_insert_many one row at a time (the one-row operation;
 * stored[i]: new, false for one already stored): the call's own loop, and
 * the rows a backend's event_insert_many leaves past its whole statements. */
int kg_store_event_insert_each(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			       kg_err *err);

/* BLAKE2b-256 over a domain tag, prev and the canonical form of e
 * (account, seq, ts_ms, actor, action, detail, each length-prefixed). */
void kg_store_audit_hash(const kg_audit_entry *e, const uint8_t prev[KG_AUDIT_HASH_BYTES],
			 uint8_t out[KG_AUDIT_HASH_BYTES]);

#endif
