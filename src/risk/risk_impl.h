/* Internal to src/risk: feature state layout and the compiled policy's
 * evaluation entry points. Nothing outside src/risk includes this. */
#ifndef KG_RISK_IMPL_H
#define KG_RISK_IMPL_H

#include "risk/risk.h"

/* Counter streams: each holds time buckets of (count, sum). */
enum kg_stream_id {
	KG_S_EVENTS,
	KG_S_LOGINS,
	KG_S_LOGINS_FAILED,
	KG_S_LOGINS_SUCCESS,
	KG_S_ORDERS,
	KG_S_ORDERS_GIFT_CARD,
	KG_S_PAYMENTS,
	KG_S_PAYMENTS_DECLINED,
	KG_S_PAYMENTS_APPROVED,
	KG_S_RETURNS,
	KG_S_SELLER_REPORTS,
	KG_S_PASSWORD_CHANGES,
	KG_S_PROFILE_CHANGES,
	KG_S_COUNT
};
extern const char *const kg_stream_names[KG_S_COUNT];

/* Distinct-value sets: (hash, first seen, last seen). */
enum kg_set_id {
	KG_SET_DEVICES,
	KG_SET_COUNTRIES,
	KG_SET_IPS,
	KG_SET_CARDS,
	KG_SET_SELLERS,
	KG_SET_SELLERS_REPORTING,
	KG_SET_SELLERS_RETURNED,
	KG_SET_COUNT
};
extern const char *const kg_set_names[KG_SET_COUNT];

#define KG_SET_CAP 32          /* entries per set; least recently seen goes */
#define KG_RECS_CAP 64         /* failed logins by IP, order amounts */
#define KG_MARKS_MAX 8
#define KG_STATE_HORIZON_S (367 * 86400) /* older buckets are dropped */

typedef struct { uint32_t t, n; int64_t sum; } kg_bucket;
typedef struct { uint64_t h; uint32_t first, last; } kg_setent;
typedef struct { uint32_t t; uint32_t key; int64_t val; } kg_rec;
/* Every vector element is 16 bytes, so all of them share one block. */
typedef union { kg_bucket b; kg_setent e; kg_rec r; } kg_slot;

/* The vectors of an account, in their order in the block. */
enum {
	KG_V_SETS = 0,                                 /* + kg_set_id */
	KG_V_FAILED_LOGINS = KG_V_SETS + KG_SET_COUNT, /* key = IP hash */
	KG_V_ORDER_AMOUNTS,                            /* val = amount */
	KG_V_STREAMS,                                  /* see KG_V_STREAM */
	KG_V_COUNT = KG_V_STREAMS + KG_S_COUNT
};
/* Stream s's vector: streams lie in reverse order, so that "events", which
 * every event adds to, is the block's last vector and adding a bucket to
 * it moves nothing. */
#define KG_V_STREAM(s) (KG_V_COUNT - 1 - (int)(s))

#define KG_VEC_LEN_BITS 14 /* a vector holds at most 8192 (+1) elements */

/* An account's feature state. Its vectors (buckets of each stream, set
 * entries, records) lie one after the other in one block, so that deciding
 * an event touches a few adjacent cache lines and no allocation happens
 * until the block is full (then it grows by half). Vector k owns the
 * slots from its start to the next one's and uses the first of them: a
 * vector grows geometrically, so adding to or removing from a long one (an
 * account under attack) does not move the others. */
struct kg_features {
	uint32_t first_seen, last_seen, now; /* s; now = latest event time seen */
	uint32_t created_at;
	uint32_t total[KG_S_COUNT];           /* lifetime counts */
	uint32_t vecs[KG_V_COUNT];            /* start slot << KG_VEC_LEN_BITS | length */
	uint32_t used;                        /* slots owned by vectors */
	uint32_t cap;                         /* slots in mem */
	kg_slot *mem;
	struct { uint32_t h, t; } marks[KG_MARKS_MAX];
	uint32_t n_marks;
	uint32_t name_len;
	char *name; /* normalised registered name, or NULL */
};

/* What updating with an event learnt (for new(...) in rules). */
struct kg_entity_view;
struct kg_update_info {
	bool new_set[KG_SET_COUNT]; /* this event's key was not in the set */
	uint64_t key[KG_SET_COUNT]; /* this event's key per set (0: none) */
	bool has_key[KG_SET_COUNT];
	uint32_t prev_last[KG_SET_COUNT]; /* when the key was last seen before (0: new) */
	uint32_t ip_hash;
	struct kg_entity_view *ents; /* the event's entities (entity.h: read as rules ask); NULL: none */
};

/* Starts loading (prefetch) the vectors f points to. */
void kg_features_prefetch(const kg_features *f);
/* Starts loading what kg_features_save reads of f (its whole block, up to
 * 64 lines). */
void kg_features_prefetch_blob(const kg_features *f);
/* Replay's cache warming: stage 0, 1, 2 for an account (hash ah =
 * kg_risk_hash of its id), one event apart, the last just before the event
 * is decided (engine.c says why). Reads only; any hint is safe. */
void kg_risk_warm(kg_risk *r, uint64_t ah, kg_str account, int stage);
/* The account of an event line, found by looking for its "account" key
 * without parsing: only a hint for warming (the parser decides). Returns
 * false when there is none; *account points into line. */
bool kg_risk_account_hint(const char *line, size_t len, kg_str *account);
/* Frees what f holds (not f); f is empty after. */
void kg_features_release(kg_features *f);
uint64_t kg_risk_hash(const char *s, size_t n);
uint64_t kg_risk_hash_seed(const char *s, size_t n, uint64_t seed);
/* out[0], out[1]: kg_risk_hash_seed of s with seed_a, seed_b (one pass). */
void kg_risk_hash_seed2(const char *s, size_t n, uint64_t seed_a, uint64_t seed_b,
			uint64_t out[2]);
/* Adds ev to f (windows include the event being decided). */
int kg_features_update(kg_features *f, const kg_event *ev, struct kg_update_info *info);
/* Count/sum of stream over (now_s - window_s, now_s]. */
void kg_features_window(const kg_features *f, enum kg_stream_id s, uint32_t now_s,
			uint32_t window_s, int64_t *count, int64_t *sum);
int64_t kg_features_failed_by_ip(const kg_features *f, uint32_t ip_hash, uint32_t now_s,
				 uint32_t window_s);
int64_t kg_features_distinct(const kg_features *f, enum kg_set_id s, uint32_t now_s,
			     uint32_t window_s);
/* Median of order amounts in the window; false when there are none. */
bool kg_features_median(const kg_features *f, uint32_t now_s, uint32_t window_s,
			double *out);
/* Set entry of key, or NULL. */
const kg_setent *kg_features_set_find(const kg_features *f, enum kg_set_id s, uint64_t h);
/* Time of the mark (name hash), 0 when never set. */
uint32_t kg_features_mark_time(const kg_features *f, uint32_t name_hash);
void kg_features_set_mark(kg_features *f, uint32_t name_hash, uint32_t t);

/* ---- policy evaluation ---------------------------------------------------- */
/* Looks a value up in a named list kept in the store; false when absent. */
typedef bool (*kg_list_lookup_fn)(void *ctx, const char *list, const char *value,
				  size_t len);

struct kg_eval_env {
	const kg_event *ev;
	kg_features *f;
	const struct kg_update_info *info;
	kg_list_lookup_fn list_lookup;
	void *list_ctx;
};

/* Names of the policy's `list NAME from store` lists (at most max). */
size_t kg_policy_store_lists(const kg_policy *p, const char **names, size_t max);
/* What the policy's rules - live, shadow and pending alike - read of
 * entity state (entity.h): per entity kind (enum kg_entity_kind), the
 * streams some rule reads (bits of enum kg_entity_stream). The engine
 * keeps only those (docs/rules.md, "Entities"). */
const uint8_t *kg_policy_entity_streams(const kg_policy *p);

/* Result of evaluating the policy on one event: the reasons are typed,
 * their strings and values allocated in a (set by the caller before each
 * evaluation: the decision's arena); the arrays are the verdict's own,
 * reused from event to event. */
struct kg_verdict {
	enum kg_action action;
	int64_t score;
	char lock_reason[KG_LOCK_REASON_MAX];
	int64_t lock_ttl_s; /* 0: no expiry */
	kg_arena *a;
	struct kg_reason *reasons;
	struct kg_shadow_hit *shadow; /* never acts: see struct kg_shadow_hit */
	uint32_t n_reasons, n_shadow;
	uint32_t cap_reasons, cap_shadow;
};

/* decision.c: a plain allow for ev (ids copied into a); a retry's
 * decision from its stored text (copied into a, action and lock read
 * back); the (account, event id) hash lock ids are made of. */
int kg_risk_decision_plain(const kg_event *ev, kg_arena *a, struct kg_decision *d);
int kg_risk_decision_stored(const kg_event *ev, const char *text, size_t len, kg_arena *a,
			    struct kg_decision *d);
/* A deep copy of d in one block of kg_risk_decision_size(d) bytes (8-byte
 * aligned): the engine keeps decided events' decisions so. */
size_t kg_risk_decision_size(const struct kg_decision *d);
struct kg_decision *kg_risk_decision_copy(const struct kg_decision *d, void *block);
uint64_t kg_risk_pair_hash(const char *account, size_t account_len, const char *id,
			   size_t id_len);

void kg_verdict_init(struct kg_verdict *v);
void kg_verdict_reset(struct kg_verdict *v);
void kg_verdict_release(struct kg_verdict *v);
/* Evaluates every rule for env->ev; marks of fired rules are set in env->f. */
int kg_policy_eval(const kg_policy *p, struct kg_eval_env *env, struct kg_verdict *out);

/* The body hash of the event kg_event_parse parsed last with p (call it
 * before the next parse): a 128-bit hash (stable across versions and
 * platforms: it is stored) of what the event says - the whole object,
 * unknown fields included, its members in any order at every level,
 * strings decoded, other values as written, arrays in order; event.c says
 * exactly - so that a retry with other whitespace, key order or escapes
 * has the same hash. 0, or KG_EINVAL (cannot happen after a successful
 * parse). */
#define KG_EVENT_HASH_BYTES 16
int kg_event_body_hash(kg_event_parser *p, uint8_t out[KG_EVENT_HASH_BYTES]);
/* The same hash by its own walk over the tokens, never the one the parse
 * took on its way (kg_event_body_hash answers that one when it could):
 * tests compare the two. */
int kg_event_body_hash_walk(kg_event_parser *p, uint8_t out[KG_EVENT_HASH_BYTES]);
/* Whether the parse's own tokenizer agrees with jsmn (strict, with parent
 * links: what it stands in for) on [js, js + len): 1 when it took the text
 * and gave jsmn's tokens (the parent links aside) for text jsmn takes
 * whole, 0 when it left the text to jsmn, -1 when they differ (or memory
 * ran out). Tests. */
int kg_event_tokens_check(kg_event_parser *p, const char *js, size_t len);

/* event_lax.c: jsmn (strict) without parent links, whose tokens define
 * kg_event_parse's messages about text that is not JSON (event.c tokenizes
 * with parent links). */
typedef struct kg_event_lax kg_event_lax;
kg_event_lax *kg_event_lax_new(void); /* NULL on allocation failure */
void kg_event_lax_free(kg_event_lax *l);
/* jsmn_parse over [js, js + len) into KG_JSON_TOKENS_MAX tokens: returns
 * what it returns; *pos is where it stopped. */
int kg_event_lax_parse(kg_event_lax *l, const char *js, size_t len, unsigned *pos);
/* Token i of the last parse as type (a jsmntype_t), start, end, size. */
void kg_event_lax_token(const kg_event_lax *l, int i, int out[4]);
/* The error for event text [js, js + len) that is not JSON: where and why
 * as every JSON route of kagid says it (kg_err_json, jansson's position),
 * or, for text jansson reads as JSON, "WHAT at byte BYTE". Returns
 * KG_EINVAL. */
int kg_event_syntax_error(kg_err *err, const char *js, size_t len, int byte, const char *what);

/* ---- batches on a shared store (batch.c; replay.c retries with them) */
/* kg_risk_batch_start, and on its failure *stale says whether it failed
 * only as kg_risk_batch_stale says (deciding it again may succeed). */
int kg_risk_batch_try(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
		      kg_arena *a, struct kg_risk_answer *ans, kg_risk_batch *after,
		      kg_risk_batch **out, bool *stale, kg_err *err);
/* Whether the batch failed only because another node wrote one of its
 * accounts meanwhile (a shared store): deciding it again reads the
 * account as it is now. */
bool kg_risk_batch_stale(const kg_risk_batch *b);

#endif
