/* Private to src/store: the backend table, the per-domain operation tables
 * and the store/transaction structs. Nothing outside src/store includes it.
 * To add a domain's operations see the recipe at the top of store.h. */
#ifndef KG_STORE_IMPL_H
#define KG_STORE_IMPL_H

#include <pthread.h>

#include "store/store.h"

/* ---- per-domain operation tables (one per backend) -------------------------
 * The public kg_tx_* wrappers call through these, picked by the running
 * backend's enum (KG_TX_OPS). A NULL table or entry means "not supported
 * by this backend" and the wrapper answers KG_EINTERNAL. */
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
	int (*entity_get)(kg_tx *, int, uint64_t, kg_arena *, const uint8_t **, size_t *,
			  kg_err *);
	int (*entity_put)(kg_tx *, int, uint64_t, const void *, size_t, int64_t, kg_err *);
	int (*event_list)(kg_tx *, const char *, size_t, kg_arena *, kg_event_rec **, size_t *,
			  kg_err *);
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

struct kg_store_queue_ops {
	int (*outbox_insert)(kg_tx *, const kg_outbox *, kg_err *);
	int (*outbox_get)(kg_tx *, const char *, const char *, kg_outbox *, kg_arena *,
			  kg_err *);
	int (*outbox_claim_due)(kg_tx *, int64_t, int64_t, size_t, kg_arena *, kg_outbox **,
				size_t *, kg_err *);
	int (*outbox_mark_delivered)(kg_tx *, const char *, const char *, int64_t, kg_err *);
	int (*outbox_mark_failed)(kg_tx *, const char *, const char *, int64_t, const char *,
				  kg_err *);
	int (*outbox_list)(kg_tx *, const char *, size_t, kg_arena *, kg_outbox **, size_t *,
			   kg_err *);
	int (*webhook_insert)(kg_tx *, const kg_webhook *, kg_err *);
	int (*webhook_claim_due)(kg_tx *, int64_t, int64_t, size_t, kg_arena *,
				 kg_webhook **, size_t *, kg_err *);
	int (*webhook_mark_delivered)(kg_tx *, const char *, const char *, int64_t, kg_err *);
	int (*webhook_mark_failed)(kg_tx *, const char *, const char *, int64_t, const char *,
				   kg_err *);
};

struct kg_store_notify_ops {
	int (*outbox_find)(kg_tx *, const char *, kg_outbox *, kg_arena *, kg_err *);
	int (*outbox_list_all)(kg_tx *, const char *, const char *, size_t, kg_arena *,
			       kg_outbox **, size_t *, kg_err *);
	int (*outbox_retry)(kg_tx *, const char *, int64_t, kg_err *);
	int (*webhook_find)(kg_tx *, const char *, kg_webhook *, kg_arena *, kg_err *);
	int (*webhook_list_all)(kg_tx *, const char *, const char *, size_t, kg_arena *,
				kg_webhook **, size_t *, kg_err *);
	int (*webhook_retry)(kg_tx *, const char *, int64_t, kg_err *);
};

/* (new domains: add `struct kg_store_<domain>_ops` here) */
struct kg_store_keys_ops {
	int (*list)(kg_tx *, size_t, kg_arena *, kg_credential **, size_t *, kg_err *);
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

extern const struct kg_store_cases_ops kg_sqlite_cases_ops;
extern const struct kg_store_checks_ops kg_sqlite_checks_ops;
extern const struct kg_store_keys_ops kg_sqlite_keys_ops;


extern const struct kg_store_accounts_ops kg_sqlite_accounts_ops;
extern const struct kg_store_events_ops kg_sqlite_events_ops;
extern const struct kg_store_locks_ops kg_sqlite_locks_ops;
extern const struct kg_store_audit_ops kg_sqlite_audit_ops;
extern const struct kg_store_messages_ops kg_sqlite_messages_ops;
extern const struct kg_store_queue_ops kg_sqlite_queue_ops;
extern const struct kg_store_notify_ops kg_sqlite_notify_ops;

/* ---- backend: connections and transaction control --------------------------*/
typedef struct kg_store_conn kg_store_conn; /* backend-defined */

struct kg_store_driver {
	const char *name;
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
	/* Copies the database, as of one snapshot, into a new file at dest. */
	int (*backup)(kg_store_conn *c, const char *dest, kg_err *err);
};

extern const struct kg_store_driver kg_sqlite_backend;

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
};

struct kg_store {
	enum kg_store_backend kind;
	const struct kg_store_driver *be;
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

/* Picks the operation table of the running backend for a domain:
 * KG_TX_OPS(tx, accounts) → &kg_sqlite_accounts_ops for SQLite. */
#define KG_TX_OPS(tx, domain)                          \
	((const struct kg_store_##domain##_ops *)kg_store_pick( \
		(tx), &kg_sqlite_##domain##_ops))

/* The table for the running backend among those given (one per enum). */
static inline const void *kg_store_pick(const kg_tx *tx, const void *sqlite_ops)
{
	switch (tx->s->kind) {
	case KG_STORE_SQLITE: return sqlite_ops;
	default: return NULL;
	}
}

/* In wrappers: call op of domain, or fail cleanly if unsupported. */
#define KG_TX_CALL(tx, err, domain, op, ...)                                      \
	(KG_TX_OPS(tx, domain) && KG_TX_OPS(tx, domain)->op                       \
		 ? KG_TX_OPS(tx, domain)->op(tx, __VA_ARGS__)                     \
		 : kg_err_set(err, KG_EINTERNAL, "store backend %s has no %s.%s", \
			      (tx)->s->be->name, #domain, #op))

/* As KG_TX_CALL for operations that write: a read-only transaction gets
 * KG_EINVAL. */
#define KG_TX_WCALL(tx, err, domain, op, ...)                                     \
	(!(tx)->write ? kg_tx_read_only(err, #domain, #op)                        \
		      : KG_TX_CALL(tx, err, domain, op, __VA_ARGS__))

/* Sets and returns KG_EINVAL: "<domain>.<op> needs a write transaction". */
int kg_tx_read_only(kg_err *err, const char *domain, const char *op);

/* BLAKE2b-256 over a domain tag, prev and the canonical form of e
 * (account, seq, ts_ms, actor, action, detail, each length-prefixed). */
void kg_store_audit_hash(const kg_audit_entry *e, const uint8_t prev[KG_AUDIT_HASH_BYTES],
			 uint8_t out[KG_AUDIT_HASH_BYTES]);

#endif
