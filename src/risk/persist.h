/* Internal to src/risk: the glue between the engine and the store (events
 * with their decisions, feature blobs, locks, audit, named lists). */
#ifndef KG_RISK_PERSIST_H
#define KG_RISK_PERSIST_H

#include "risk/risk_impl.h"

struct kg_store;

/* Everything one decided event writes; strings are owned (malloc). */
struct kg_risk_record {
	char *account, *id;
	enum kg_event_type type;
	int64_t ts_ms;
	char *raw;
	size_t raw_len;
	char *decision;
	size_t decision_len;
	void *blob;
	size_t blob_len;
	enum kg_action action;
	char lock_reason[32];
	int64_t lock_ttl_s;
	char lock_id[24];
	/* set by the write: an active lock of the same reason existed, so the
	 * decision names it instead and no second lock (or notice) is written */
	bool lock_reused;
	size_t out_off, out_len; /* where the decision is in the answer */
	bool pending;    /* the engine holds it as in flight ... */
	uint64_t h, h2;  /* ... under these hashes */
};

int kg_risk_record_fill(struct kg_risk_record *rec, const kg_event *ev, const char *decision,
			size_t decision_len, const void *blob, size_t blob_len,
			const struct kg_verdict *v);
void kg_risk_record_release(struct kg_risk_record *rec);

/* What one read transaction learns about a batch before deciding it: the
 * stored decision of each (account, event id), the blob of each account. */
struct kg_risk_prefetch {
	char *account, *id;  /* NULL: the line did not parse */
	bool want_blob;      /* account not cached when the batch started */
	char *stored;        /* stored decision, or NULL */
	bool have_blob;      /* blob looked up (blob NULL: the account is new) */
	void *blob;
	size_t blob_len;
};
void kg_risk_prefetch_release(struct kg_risk_prefetch *p, size_t n);
/* Fills stored/blob for every entry in one read transaction. */
int kg_risk_persist_prefetch(struct kg_store *s, struct kg_risk_prefetch *p, size_t n,
			     kg_err *err);

/* Loads an account's feature blob (leaves f empty when there is none). */
int kg_risk_persist_load_features(struct kg_store *s, const char *account, kg_features *f,
				  kg_err *err);
/* Looks up a stored decision for (account, event id); *found says. */
int kg_risk_persist_find_decision(struct kg_store *s, const kg_event *ev, kg_buf *out,
				  bool *found, kg_err *err);
/* A snapshot of the store's named lists that a policy uses (read at start
 * and at each reload). */
struct kg_risk_lists;
int kg_risk_lists_load(struct kg_store *s, const kg_policy *p, struct kg_risk_lists **out,
		       kg_err *err);
void kg_risk_lists_free(struct kg_risk_lists *l);
/* kg_list_lookup_fn over a snapshot (ctx: the snapshot, may be NULL). */
bool kg_risk_lists_lookup(void *ctx, const char *list, const char *value, size_t len);
/* Writes the records in one transaction (group commit): events with their
 * decisions, feature blobs, locks, audit entries. */
int kg_risk_persist_records(struct kg_store *s, struct kg_risk_record *recs, size_t n,
			    kg_risk_lock_hook hook, void *hook_ctx, kg_err *err);

#if __has_include("store/store.h")
#include "store/store.h"
/* Writes a lock row, its audit entry, and calls the lock hook (the account
 * module's official notice), all inside tx. A lock id that exists already
 * (the same event decided twice) is not an error. */
int kg_risk_apply_lock(kg_tx *tx, const kg_lock *lk, kg_risk_lock_hook hook, void *hook_ctx,
		       kg_err *err);
#endif

#endif
