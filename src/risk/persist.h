/* Internal to src/risk: the glue between the engine and the store (events
 * with their decisions, feature blobs, locks, audit, named lists). */
#ifndef KG_RISK_PERSIST_H
#define KG_RISK_PERSIST_H

#include "risk/entity.h"
#include "risk/risk_impl.h"
#include "store/store.h"

struct kg_store;

/* Everything one decided event writes. Strings live in the batch that
 * decided it (its arena), the caller's arena (the decision) or the
 * caller's event text, which outlive the write. */
struct kg_risk_record {
	const char *account, *id; /* NUL-terminated */
	uint32_t account_len, id_len;
	enum kg_event_type type;
	int64_t ts_ms;
	const char *raw;          /* the event as received (not NUL-terminated) */
	size_t raw_len;
	/* the typed decision: the write applies its lock (which may name a
	 * standing lock instead: d->lock.id) and stores its JSON */
	struct kg_decision *d;
	const void *blob;         /* the account's feature blob after its last
				   * event of the batch: on that event's record only */
	size_t blob_len;
	int64_t ver;              /* a shared store: its account's row version,
				   * read under the row's lock (write_job) */
	bool stored;              /* set by the write: the event row is new */
	bool new_row;             /* its account's blob (on its last record):
				   * the batch found no row of the account */
	bool unlooked;            /* decided without looking its stored decision
				   * up (kg_risk_prefetch): the write fails the
				   * job as stale if the row is there after all */
	bool pending;             /* the engine holds it as in flight ... */
	uint64_t h, h2;           /* ... under these hashes */
	uint64_t ah;              /* ... in the account of this kg_risk_hash */
	const void *acct;         /* ... in this account record (identity only) */
	uint8_t body_hash[KG_EVENT_HASH_BYTES]; /* kg_event_body_hash, stored with it */
	uint8_t ent_mask;         /* the entities it carries (bit per kind) ... */
	uint64_t ent_key[KG_ENT_COUNT]; /* ... and their keys */
	/* its decision's JSON, made while deciding, in kg_risk_write.json
	 * (json_len 0: made by the write, after the lock writer, which may
	 * change a lock's decision: kg_risk_decision_final) */
	size_t json_off, json_len;
};

/* Whether d is as it will be stored once decided: every decision but a
 * lock's, which the write's lock writer may change (a standing lock's id,
 * a breaker's hold). */
static inline bool kg_risk_decision_final(const struct kg_decision *d)
{
	return d->action != KG_ACT_LOCK || !d->has_lock;
}

/* An entity's state after the batch, merged into its row by the write. */
struct kg_risk_entity_blob {
	int kind;
	uint64_t key;
	const void *blob;
	size_t len;
	int64_t ver; /* a shared store: its row's version, read under its lock */
	bool row;    /* a row is expected (kg_entities_save_one): the cheaper write */
};

/* Fills rec's event fields from ev, copying account and id into a. */
int kg_risk_record_fill(struct kg_risk_record *rec, const kg_event *ev, kg_arena *a,
			struct kg_decision *d);
void kg_risk_record_release(struct kg_risk_record *rec);

/* What a kg_risk_prefetch gives the engine about one event before it is
 * decided (read in the batch's snapshot): its stored decision, and the
 * blob of its account when that was not in memory. */
struct kg_risk_prefetch {
	char *account, *id;  /* NULL: not looked up */
	bool want_blob;
	const char *stored;  /* stored decision, or NULL */
	const uint8_t *stored_hash; /* its event's body hash, NULL: none stored */
	size_t stored_hash_len;
	bool have_blob;      /* blob looked up (blob NULL: the account is new) */
	bool absent;         /* ... and the snapshot has no row of the account */
	bool unlooked;       /* the stored decision was not looked up: the
			      * account has no row, or it is own and the id
			      * not one it stored (kg_risk_record unlooked) */
	const void *blob;
	size_t blob_len;
	int64_t blob_ver;    /* the blob's row version (0: none) */
	bool hashed;         /* ah, idh: the event's account and id hashes, as
			      * kg_risk_decide_locked would compute them */
	uint64_t ah, idh[2];
};

/* Compare-and-set of the version of rec's account as the engine holds it
 * (the version of the stored row its in-memory state was read from or
 * last written as): if the engine still holds rec's account record and
 * its version is expect, the version becomes next and true is returned. */
typedef bool (*kg_risk_version_fn)(void *ctx, const struct kg_risk_record *rec, int64_t expect,
				   int64_t next);

/* One batch's write: its records, and which of them carry their
 * account's blob (indexes into recs, in account order). */
struct kg_risk_write {
	struct kg_risk_record *recs;
	size_t n;
	const uint32_t *blob_recs;
	size_t n_blob;
	kg_risk_lock_fn hook;
	void *hook_ctx;
	const char *json; /* the records' decisions' JSON (json_off, json_len) */
	struct kg_risk_entity_blob *ents; /* each entity of the batch once */
	size_t n_ents;
	kg_buf merged;  /* an entity's row merged with its blob */
	/* a shared store (kg_store_shared): each account's row is locked and
	 * its version checked against the engine's before anything is
	 * written; a row another node moved fails the job with KG_EBUSY and
	 * sets stale (the batch is decided again: kg_risk_decide) */
	bool shared;
	kg_risk_version_fn version;
	void *version_ctx;
	kg_entities *ent_table; /* ... and each entity's (kg_entities_version) */
	bool stale;
};

/* Loads an account's feature blob (leaves f empty when there is none) and
 * its row version (0: none). */
int kg_risk_persist_load_features(struct kg_store *s, const char *account, kg_features *f,
				  int64_t *version, kg_err *err);
/* Looks up a stored decision for (account, event id) into out, its body
 * hash into hash (*hash_len 0: none stored); *found says. */
int kg_risk_persist_find_decision(struct kg_store *s, const kg_event *ev, kg_buf *out,
				  uint8_t hash[KG_EVENT_HASH_BYTES], size_t *hash_len,
				  bool *found, kg_err *err);
/* A snapshot of the store's named lists that a policy uses (read at start
 * and at each reload). */
struct kg_risk_lists;
int kg_risk_lists_load(struct kg_store *s, const kg_policy *p, struct kg_risk_lists **out,
		       kg_err *err);
void kg_risk_lists_free(struct kg_risk_lists *l);
/* kg_list_lookup_fn over a snapshot (ctx: the snapshot, may be NULL). */
bool kg_risk_lists_lookup(void *ctx, const char *list, const char *value, size_t len);
/* Queues w's write (events with their decisions, blobs, locks, audit) as
 * one store job (group commit) after the job of ticket after (NULL: none):
 * kg_store_write_start. w must live until the wait. */
int kg_risk_persist_start(struct kg_store *s, struct kg_risk_write *w, kg_store_ticket *after,
			  kg_store_ticket **out, kg_err *err);
/* In a read transaction: the stored decision of (account, id) and its
 * event's body hash (NULL when none was stored), *found says; both live in
 * a (the decision NUL-terminated). */
int kg_risk_persist_lookup(kg_tx *tx, const char *account, size_t account_len,
			   const char *id, size_t id_len, kg_arena *a, const char **decision,
			   const uint8_t **hash, size_t *hash_len, bool *found, kg_err *err);
/* kg_entity_load_fn in a transaction (ctx: the kg_tx). */
int kg_risk_persist_entity_load(void *ctx, int kind, uint64_t key, kg_arena *a,
				const uint8_t **blob, size_t *len, int64_t *version, kg_err *err);
/* In a read transaction: the blob of an account (NUL-terminated id), in
 * a, and its row version; *found false when it has none (version 0). */
int kg_risk_persist_blob(kg_tx *tx, const char *account, kg_arena *a, const void **blob,
			 size_t *len, int64_t *version, bool *found, kg_err *err);

#endif
