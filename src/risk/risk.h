/* kagi risk engine: account events in, decisions out.
 * event JSON → validate → per-account sliding-window features → compiled
 * policy (rules) → a typed decision (struct kg_decision), written as JSON by
 * kg_decision_write_json at the edges (HTTP, CLI, the events table). Not
 * here: HTTP, storage engines, writing locks (the account module's lock
 * writer, called through kg_risk_lock_fn). */
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

/* Strings of an event (kg_str, base.h) point into the parsed text, or the
 * parser's scratch when they had escapes. An address compares with
 * kg_address_same (base.h). */
typedef kg_addr_text kg_ev_address;

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
/* The policy's version: 16 hex digits of a hash of its text (policies have
 * no stored version numbers yet, so a version is what the text is). */
const char *kg_policy_version(const kg_policy *p);
void kg_policy_unref(kg_policy *p);
/* Number of rules; the file it came from (never NULL). */
size_t kg_policy_rule_count(const kg_policy *p);
const char *kg_policy_file(const kg_policy *p);

/* The gate (docs/guard.md, "Gated rollout"): a rule whose content is not
 * the promoted one runs *pending*, as a shadow rule (evaluated, listed in
 * the decision's shadow with "pending":true, no points, no action, no mark).
 * A rule's content is its hash: 16 hex digits of a hash of its normalised
 * text (from "rule" or "shadow rule" to its closing "}", comments dropped,
 * each run of white space outside strings one space), so a comment or an
 * indentation is no change. */
struct kg_policy_rule_info {
	const char *name;   /* valid as long as the policy */
	const char *hash;
	bool shadow;        /* declared shadow in the text: never acts */
	bool pending;       /* gated: waits for its promotion */
	int line;
};
/* The rules of p in file order into out (at most max); returns the count. */
size_t kg_policy_rules(const kg_policy *p, struct kg_policy_rule_info *out, size_t max);
/* A new policy (one reference) compiled from p's text in which the n named
 * rules run pending (names not in p are ignored) and every other rule as
 * written. Its version is p's text version when nothing is pending, else
 * a hash of the text and the pending rules' names, so a decision's
 * policy_version says which rules acted. */
int kg_policy_gated(const kg_policy *p, const char *const *pending, size_t n, kg_policy **out,
		    kg_err *err);
/* The number of pending rules of p. */
size_t kg_policy_pending_count(const kg_policy *p);

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

/* ---- decisions ---------------------------------------------------------
 * What the engine decided about one event, typed. It lives in the arena the
 * caller passed (strings included), so it outlives the engine's locks and
 * the policy. JSON is made of it in one place: kg_decision_write_json. */
enum kg_action { KG_ACT_ALLOW, KG_ACT_CHALLENGE, KG_ACT_HOLD, KG_ACT_LOCK };
extern const char *const kg_action_names[4];

/* A value a rule saw: the expression's text in the policy ("count(logins.
 * failed, 15m, ip)") and what it evaluated to. */
enum kg_value_type { KG_VAL_NULL, KG_VAL_INT, KG_VAL_FLOAT, KG_VAL_BOOL, KG_VAL_STR };
struct kg_value {
	kg_str name;
	enum kg_value_type type;
	int64_t i;  /* INT, BOOL */
	double f;   /* FLOAT */
	kg_str s;   /* STR */
};

/* A rule that fired (or a score threshold: rule "score"). */
struct kg_reason {
	kg_str rule;
	enum kg_action action;
	int64_t score;   /* the rule's points; a threshold's: the total */
	kg_str detail;   /* the reason text with its {expr} filled in */
	const struct kg_value *values;
	uint32_t n_values;
};

#define KG_LOCK_ID_MAX 48
#define KG_LOCK_REASON_MAX 32
struct kg_decision_lock {
	char id[KG_LOCK_ID_MAX];      /* kg_risk_lock_id of the event, or the
				       * standing lock the writer named instead */
	char reason[KG_LOCK_REASON_MAX];
	int64_t expires_ms;           /* 0: no expiry */
	bool written;                 /* set by the store write: a new lock row
				       * (and its notice) was written */
};

/* A shadow rule (declared shadow, or pending at the gate) that would have
 * fired. A type of its own on purpose: what acts on a decision (the
 * action and lock of the verdict, the lock hook, the breaker) takes
 * struct kg_reason and never this, so a shadow hit cannot lock, hold or
 * score by mistake: the compiler refuses it (docs/architecture.md). */
struct kg_shadow_hit {
	kg_str rule;
	enum kg_action would;  /* the rule's action had it been live */
	int64_t points;        /* the points it would have added */
	kg_str detail;
	const struct kg_value *values;
	uint32_t n_values;
	bool pending;          /* gated (waits for promotion), not declared shadow */
};

struct kg_decision {
	kg_str event, account;
	int64_t ts_ms;
	enum kg_action action;
	int64_t score;
	const struct kg_reason *reasons;
	const struct kg_shadow_hit *shadow;       /* would have fired */
	uint32_t n_reasons, n_shadow;
	bool has_lock;                            /* action lock: lock says which */
	struct kg_decision_lock lock;
	char policy_version[17];                  /* kg_policy_version; "" for a retry */
	/* Set by the guard's breaker (src/guard) in the write of a decision
	 * that would have locked while the breaker is tripped: action is hold,
	 * has_lock false, and the JSON carries "breaker":{"incident","would":
	 * "lock","reason"}. incident[0] == '\0': not held by the breaker. */
	struct {
		char incident[KG_LOCK_ID_MAX];
		char reason[KG_LOCK_REASON_MAX];
	} breaker;
	/* A retry of an event committed before (read from the store): the
	 * first decision as it was answered and stored, verbatim (action,
	 * score and lock are read from it; reasons are not). Empty for a new
	 * decision, and for a retry of one this process decided (that gives
	 * a copy of the first decision, typed). */
	kg_str stored;
};

/* Appends d as the decision JSON of docs/api.md (one line, no newline):
 * the only place a decision becomes text. 0 or KG_EFULL. */
int kg_decision_write_json(const struct kg_decision *d, kg_buf *out);

/* The one lock-id scheme: "lk_" and 16 hex digits of a hash of (account,
 * source), where source is the event whose decision asked for the lock, or
 * a fresh random id for a lock set by staff. out holds KG_LOCK_ID_MAX. Ids
 * are opaque strings: ids stored under an earlier scheme stay valid. */
void kg_risk_lock_id(const char *account, size_t account_len, const char *source,
		     size_t source_len, char out[KG_LOCK_ID_MAX]);

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

/* Decides one event (JSON text) into *out, allocated in a (the caller's
 * arena; the decision stays valid as long as a). A repeated event id gives
 * the first decision (see kg_decision.stored) and changes nothing. Bad input:
 * KG_EINVAL/KG_ELIMIT with err naming the field; nothing is stored.
 * Thread-safe. */
int kg_risk_decide(kg_risk *r, const char *json, size_t len, kg_arena *a,
		   struct kg_decision *out, kg_err *err);

/* One line of a batch's answer: its decision, or (d NULL) why it was
 * refused. Both in the caller's arena. */
struct kg_risk_answer {
	struct kg_decision *d;
	kg_err *err;
};
/* Appends the answer's JSON: kg_decision_write_json, or the error's
 * kg_risk_error_json. */
int kg_risk_answer_write_json(const struct kg_risk_answer *ans, kg_buf *out);

/* Decides a batch of events and persists all of them in one transaction;
 * out[i] (the caller's array of n) gets line i's answer, in a. Returns 0
 * when the batch was processed (per-line refusals included), or a negative
 * code when nothing was stored (storage failure). */
int kg_risk_decide_batch(kg_risk *r, const char *const *events, const size_t *lens,
			 size_t n, kg_arena *a, struct kg_risk_answer *out, kg_err *err);

/* kg_risk_decide_batch in two halves, so that a caller (replay) decides
 * its next batch while this one commits. kg_risk_batch_start decides the
 * events (which must stay valid until the batch is freed) into out (n
 * answers in a, the caller's, which must also stay until then) and queues
 * their write; after is the caller's previous batch, not finished yet, or
 * NULL: this batch was decided on top of its state, so if its write fails
 * this one fails too (nothing written). Returns 0 and *b, or an error
 * (then nothing of the batch is kept). Without a store the batch is
 * decided in memory and finish just returns. */
typedef struct kg_risk_batch kg_risk_batch;
int kg_risk_batch_start(kg_risk *r, const char *const *events, const size_t *lens,
			size_t n, kg_arena *a, struct kg_risk_answer *out, kg_risk_batch *after,
			kg_risk_batch **b, kg_err *err);
/* Waits until the batch's write is durable; only then are its answers
 * final (a lock decision names the lock the write kept). On a storage
 * failure returns the error (the answers must not be given out). Finish
 * batches in the order they were started. */
int kg_risk_batch_finish(kg_risk *r, kg_risk_batch *b, kg_err *err);
/* Frees a batch (finishing it first if needed). A batch that another was
 * started after must be freed only once that one is finished. */
void kg_risk_batch_free(kg_risk_batch *b);

/* Writes {"error":{"code","message","field"}} for err into out. */
int kg_risk_error_json(const kg_err *err, kg_buf *out);

/* Test support: serialises every cached account's features and rebuilds
 * them from the blobs, as a restart would. */
int kg_risk_roundtrip_state(kg_risk *r, kg_err *err);
/* Test support: checks the account cache's invariants (src/risk
 * acct_cache.c lists them); KG_EINTERNAL naming the first broken one. */
int kg_risk_check_cache(kg_risk *r, kg_err *err);

struct kg_risk_stats {
	size_t accounts, events;
	size_t feature_mem_bytes, feature_blob_bytes;
	size_t entities, entity_mem_bytes, entity_blob_bytes; /* IPs, devices, cards, addresses */
};
/* Counts over the in-memory accounts and entities. */
void kg_risk_stats(kg_risk *r, struct kg_risk_stats *out);
/* Appends the live engine's decision counters (by action, by rule and
 * action, lock decisions by reason, shadow rules) as Prometheus text. */
int kg_risk_metrics_render(kg_buf *out);

/* ---- locks ---------------------------------------------------------------
 * A lock decision is applied by the account module's lock writer, called
 * through this hook inside the transaction of the event, before the event
 * row is written. The writer reads the typed decision (action, lock); it
 * may name a standing lock of the same reason instead of writing a new one
 * (it sets lock->id), and sets lock->written when it wrote a lock row. */
struct kg_risk_lock_order {
	const char *account, *event_id; /* NUL-terminated */
	const char *reason;             /* lock->reason */
	const char *rule;               /* the rule that asked for the lock ("score"
					 * for a threshold), NUL-terminated */
	struct kg_decision *decision;   /* the evidence: reasons and values; a
					 * guard in front of the writer may turn
					 * it into a breaker hold (kg_decision
					 * .breaker) and write no lock */
	int64_t ts_ms;                  /* the event's time */
	int64_t expires_ms;             /* 0: no expiry */
};
typedef int (*kg_risk_lock_fn)(void *ctx, void *txn, const struct kg_risk_lock_order *o,
			       struct kg_decision_lock *lock, kg_err *err);
/* With a store a hook is needed for lock decisions to be applied: without
 * one, no lock row is written (the decision still says lock). */
void kg_risk_set_lock_hook(kg_risk *r, kg_risk_lock_fn fn, void *ctx);

/* ---- the event observer ----------------------------------------------------
 * Called with every event the engine decided (not a refused one, not a
 * retry of one already decided), on the deciding thread, before the batch's
 * write: the guard's summary of the feed (docs/guard.md). It must be cheap
 * and thread-safe; the event is valid only during the call. */
typedef void (*kg_risk_event_fn)(void *ctx, const kg_event *e);
void kg_risk_set_event_hook(kg_risk *r, kg_risk_event_fn fn, void *ctx);

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
	kg_risk_lock_fn lock_fn; /* with a store: the lock writer (NULL: locks not applied) */
	void *lock_ctx;
	kg_risk_event_fn event_fn; /* NULL, or the event observer */
	void *event_ctx;
};
struct kg_risk_replay_stats {
	size_t events, accounts;       /* accounts and below: with opts.stats only */
	double seconds, cpu_seconds;   /* wall and CPU time of the replay */
	double feature_mem_bytes_per_account, feature_blob_bytes_per_account;
	size_t entities; /* IPs, devices, cards, addresses in memory */
	double entity_mem_bytes_per_entity, entity_blob_bytes_per_entity;
	bool latency;                  /* with opts.stats, in memory */
	double p50_us, p99_us, p999_us, max_us;
};
/* Decides every line of o->in in order, writing one decision or error JSON
 * line per non-blank input line to o->out (flushed). Fills *st (may be
 * NULL). Returns 0, or an error for unreadable input, an unwritable output
 * or a store failure. */
int kg_risk_replay(const struct kg_risk_replay_opts *o, struct kg_risk_replay_stats *st,
		   kg_err *err);

#endif
