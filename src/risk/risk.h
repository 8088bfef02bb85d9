/* kagi risk engine: account events in, decisions out.
 * event JSON → validate → per-account sliding-window features → compiled
 * policy (rules) → decision JSON. Not here: HTTP, storage engines, locks'
 * lifecycle after they are written (the account module owns that). */
#ifndef KG_RISK_H
#define KG_RISK_H

#include <stdio.h>

#include "base/base.h"

/* ---- events ------------------------------------------------------------ */
enum kg_event_type {
	KG_EV_ACCOUNT_CREATED,
	KG_EV_LOGIN,
	KG_EV_ORDER,
	KG_EV_PAYMENT,
	KG_EV_RETURN,
	KG_EV_SELLER_REPORT,
	KG_EV_PASSWORD_CHANGE,
	KG_EV_PROFILE_CHANGE,
	KG_EV_TYPE_COUNT
};

/* A string inside the parsed text (or the parser's scratch when it had
 * escapes). Not NUL-terminated. */
typedef struct kg_str {
	const char *p;
	uint32_t n;
} kg_str;

typedef struct kg_ev_address {
	kg_str postal_code, region, city, line1, line2, country;
} kg_ev_address;

typedef struct kg_ev_card {
	kg_str holder_name, last4, exp, fingerprint;
} kg_ev_card;

typedef struct kg_ev_item {
	kg_str sku, category;
	int64_t price, qty;
} kg_ev_item;

/* One validated event. Every string points into the text given to
 * kg_event_parse or into the parser; valid until the next parse. */
typedef struct kg_event {
	enum kg_event_type type;
	kg_str id, account;
	int64_t ts_ms;
	const char *raw; /* the event as received (unknown fields kept) */
	size_t raw_len;
	/* account.created */
	kg_str name, email, phone;
	kg_ev_address address;
	/* login, password_change */
	bool success;
	kg_str ip, device_id, country, user_agent, via;
	/* order, payment, return */
	kg_str order_id, currency, result, decline_code, seller_id, reason;
	int64_t amount;
	kg_ev_item *items;
	uint32_t n_items;
	kg_ev_address shipping_address, billing_address;
	kg_ev_card card;
	kg_str *seller_ids;
	uint32_t n_seller_ids;
	/* seller_report, profile_change */
	kg_str kind, field;
	/* derived: sum of price*qty of items whose category is gift_card */
	int64_t gift_card_amount;
} kg_event;

typedef struct kg_event_parser kg_event_parser;

/* A parser owns the token array and scratch of one thread; returns NULL
 * on allocation failure. Free with kg_event_parser_free. */
kg_event_parser *kg_event_parser_new(void);
void kg_event_parser_free(kg_event_parser *p);
/* Parses and validates one event (JSON object). Returns 0 and points *out
 * at the parser-owned event, or KG_EINVAL/KG_ELIMIT with err->field naming
 * the field at fault ("items[2].price") and err->msg saying why. */
int kg_event_parse(kg_event_parser *p, const char *json, size_t len,
		   const kg_event **out, kg_err *err);
/* "order", "login", ...; NULL for an out-of-range value. */
const char *kg_event_type_name(enum kg_event_type t);

/* Normalises a name or address part for comparison: NFKC + case fold (ICU),
 * hyphen/dash variants → '-', runs of white space → one space, trimmed.
 * Appends to out; returns 0 or a negative kg_code. */
int kg_risk_normalize(const char *s, size_t len, kg_buf *out);

/* ---- policy ------------------------------------------------------------
 * A compiled policy is immutable and reference-counted: any number of
 * threads evaluate it while a reload swaps in a new one. */
typedef struct kg_policy kg_policy;

/* Compiles policy text; `file` names it in errors (file:line:col).
 * Returns 0 and a policy with one reference, or KG_EINVAL. */
int kg_policy_compile(const char *text, size_t len, const char *file, kg_policy **out,
		      kg_err *err);
/* Reads and compiles a policy file (at most KG_RULES_FILE_MAX bytes). */
int kg_policy_load(const char *path, kg_policy **out, kg_err *err);
kg_policy *kg_policy_ref(kg_policy *p);
void kg_policy_unref(kg_policy *p);
/* Number of rules; the file it came from (never NULL). */
size_t kg_policy_rule_count(const kg_policy *p);
const char *kg_policy_file(const kg_policy *p);

/* ---- features ----------------------------------------------------------
 * Per-account state over sliding windows; docs/rules.md describes the
 * buckets and their exactness. */
typedef struct kg_features kg_features;
kg_features *kg_features_new(void);
void kg_features_free(kg_features *f);
/* Appends the compact blob of f to out. */
int kg_features_save(const kg_features *f, kg_buf *out);
/* Replaces f's contents with the blob's; KG_EINVAL on a corrupt blob. */
int kg_features_load(kg_features *f, const void *blob, size_t len, kg_err *err);
/* Bytes of heap memory held by f (struct included). */
size_t kg_features_mem_bytes(const kg_features *f);

/* ---- engine ------------------------------------------------------------ */
typedef struct kg_risk kg_risk;
struct kg_store;

/* ---- the store's named lists (`list NAME from store`, lists.c) ----------
 * An edit is one durable write with one audit entry in the system-wide
 * chain ("") by actor: action "list_add" or "list_remove", detail
 * {"list":NAME,"values":[the values it changed]} (none changed: no entry).
 * Adding a value already there is no change; removing one that is not
 * there is KG_ENOTFOUND and changes nothing. *changed (may be NULL) gets the
 * count of values changed. A running kagid sees edits at its next reload. */
int kg_risk_list_edit(struct kg_store *s, const char *name, bool add, const char *const *values,
		      size_t n, const char *actor, size_t *changed, kg_err *err);
/* The values of list name, sorted: *out an array of *n strings in a. */
int kg_risk_list_values(struct kg_store *s, const char *name, kg_arena *a, const char ***out,
			size_t *n, kg_err *err);

/* Creates an engine on a policy (takes its own reference). With store NULL
 * everything stays in memory (replay, rules test); with a store every
 * decided event, its feature blob, locks and audit entries are written in
 * one transaction through kg_store_write. */
int kg_risk_new(kg_policy *policy, struct kg_store *store, kg_risk **out, kg_err *err);
void kg_risk_free(kg_risk *r);
/* Swaps the policy atomically; requests in flight finish on the old one. */
void kg_risk_set_policy(kg_risk *r, kg_policy *policy);
/* Returns a new reference to the current policy. */
kg_policy *kg_risk_policy(kg_risk *r);
/* Compiles path and swaps it in; on error the running policy stays. */
int kg_risk_reload(kg_risk *r, const char *path, kg_err *err);

/* Refuses events whose ts is more than ms ahead of the clock (KG_EINVAL
 * naming "ts"), as the live endpoints do; 0 (the default) accepts any ts,
 * as replay and back-tests do (they run on event time). */
void kg_risk_set_ts_ahead_max(kg_risk *r, int64_t ms);

/* Decides one event (JSON text); appends the decision JSON (one line, no
 * newline) to out. A repeated event id appends the stored decision and
 * changes nothing. Bad input: KG_EINVAL/KG_ELIMIT with err naming the
 * field; nothing is stored. Thread-safe. */
int kg_risk_decide(kg_risk *r, const char *json, size_t len, kg_buf *out, kg_err *err);

/* Decides a batch of events and persists all of them in one transaction.
 * For line i, out gets one line: the decision, or {"error":{...},"line":i}.
 * Returns 0 when the batch was processed (per-line errors included), or a
 * negative code when nothing was stored (storage failure). */
int kg_risk_decide_batch(kg_risk *r, const char *const *events, const size_t *lens,
			 size_t n, kg_buf *out, kg_err *err);

/* kg_risk_decide_batch in two halves, so that a caller (replay) decides
 * its next batch while this one commits. kg_risk_batch_start decides the
 * events (which must stay valid until the batch is freed) and queues their
 * write; after is the caller's previous batch, not finished yet, or NULL:
 * this batch was decided on top of its state, so if its write fails this
 * one fails too (nothing written). Returns 0 and *out, or an error (then
 * nothing of the batch is kept). Without a store the batch is decided in
 * memory and finish just gives the answer. */
typedef struct kg_risk_batch kg_risk_batch;
int kg_risk_batch_start(kg_risk *r, const char *const *events, const size_t *lens,
			size_t n, kg_risk_batch *after, kg_risk_batch **out, kg_err *err);
/* Waits until the batch's write is durable and appends its answer to out
 * (as kg_risk_decide_batch does; out NULL: dropped). On a storage failure
 * returns the error and appends nothing. Finish batches in the order they
 * were started. */
int kg_risk_batch_finish(kg_risk *r, kg_risk_batch *b, kg_buf *out, kg_err *err);
/* For a batch of one event: 0 when it was decided, or the code of its
 * refusal (parse error, conflict: nothing stored for it) with err set — what
 * kg_risk_decide would return. */
int kg_risk_batch_refusal(const kg_risk_batch *b, kg_err *err);
/* Frees a batch (finishing it first if needed). A batch that another was
 * started after must be freed only once that one is finished. */
void kg_risk_batch_free(kg_risk_batch *b);

/* Writes {"error":{"code","message","field"}} for err into out. */
int kg_risk_error_json(const kg_err *err, kg_buf *out);

/* Test support: serialises every cached account's features and rebuilds
 * them from the blobs, as a restart would. */
int kg_risk_roundtrip_state(kg_risk *r, kg_err *err);

struct kg_risk_stats {
	size_t accounts, events;
	size_t feature_mem_bytes, feature_blob_bytes;
};
/* Counts over the in-memory accounts. */
void kg_risk_stats(kg_risk *r, struct kg_risk_stats *out);

/* ---- replay ----------------------------------------------------------------
 * The caller owns the files, the terminal and the store: it hands in the
 * stream to read, where the decisions go, and gets the figures back. */
struct kg_risk_replay_opts {
	kg_policy *policy;      /* borrowed */
	struct kg_store *store; /* NULL: in memory; else written to (borrowed) */
	FILE *in;               /* the NDJSON stream, read to its end */
	const char *in_name;    /* its name in error messages ("-": stdin) */
	FILE *out;              /* one decision or error JSON line per event */
	size_t batch;           /* events per transaction with a store */
	bool quiet;             /* no decisions on out */
	bool stats;             /* measure each decision's latency */
	/* NULL, or called with the count of events decided so far, every few
	 * hundred KiB of input in memory, every batch with a store */
	void (*progress)(void *ctx, uint64_t events);
	void *progress_ctx;
};
struct kg_risk_replay_stats {
	size_t events, accounts;
	double seconds, cpu_seconds;   /* wall and CPU time of the replay */
	double feature_mem_bytes_per_account, feature_blob_bytes_per_account;
	bool latency;                  /* with opts.stats, in memory */
	double p50_us, p99_us, p999_us, max_us;
};
/* Decides every line of o->in in order, writing one decision or error JSON
 * line per non-blank input line to o->out (flushed). Fills *st (may be
 * NULL). Returns 0, or an error for unreadable input, an unwritable output
 * or a store failure. */
int kg_risk_replay(const struct kg_risk_replay_opts *o, struct kg_risk_replay_stats *st,
		   kg_err *err);

/* Called once for every lock a decision writes, inside the transaction of
 * the event (the account module's official notice plugs in here). */
typedef int (*kg_risk_lock_hook)(void *ctx, void *txn, const char *account,
				 const char *lock_id, const char *reason,
				 const char *decision_json, kg_err *err);
void kg_risk_set_lock_hook(kg_risk *r, kg_risk_lock_hook fn, void *ctx);

#endif
