/* Internal to src/risk: state kept per entity (an IP, a device id, a card
 * fingerprint, a normalised shipping address) across all the accounts
 * whose events carry it. docs/rules.md ("Entities") says what is kept and
 * how exact it is; docs/architecture.md the locking order. */
#ifndef KG_RISK_ENTITY_H
#define KG_RISK_ENTITY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "risk/risk.h"

enum kg_entity_kind { KG_ENT_IP, KG_ENT_DEVICE, KG_ENT_CARD, KG_ENT_ADDRESS, KG_ENT_COUNT };
extern const char *const kg_entity_kind_names[KG_ENT_COUNT];

/* The streams of an entity whose distinct accounts are kept. */
enum kg_entity_stream { KG_ES_EVENTS, KG_ES_LOGINS_FAILED, KG_ES_ORDERS_GIFT_CARD, KG_ES_COUNT };
extern const char *const kg_entity_stream_names[KG_ES_COUNT];
/* Whether the entity kind keeps that stream (ip, device: events,
 * logins.failed; card: events; address: events, orders.gift_card). */
bool kg_entity_has_stream(enum kg_entity_kind k, enum kg_entity_stream s);
/* The event types that carry the kind (bits of enum kg_event_type). */
uint32_t kg_entity_event_types(enum kg_entity_kind k);

/* Distinct accounts kept per entity and stream: the most recently seen
 * ones, above the largest threshold of the default policy (30), so that
 * a count up to it is exact; beyond, a count saturates at the cap. */
#define KG_ENTITY_ACCTS_CAP 64

/* The streams the engine keeps, per kind (bits of enum kg_entity_stream):
 * those some rule of the policy reads (kg_policy_entity_streams). */
typedef uint8_t kg_entity_keep[KG_ENT_COUNT];

typedef struct kg_entities kg_entities;

/* Reads the stored blob of an entity not in memory (its first event since
 * the start): 0 with *blob (in a; NULL, len 0: stored empty), KG_ENOTFOUND
 * when there is none, or an error. */
typedef int (*kg_entity_load_fn)(void *ctx, int kind, uint64_t key, kg_arena *a,
				 const uint8_t **blob, size_t *len, int64_t *version,
				 kg_err *err);

struct kg_entity_addr_memo;

/* What one event sees of its entities: per kind and stream, the last-seen
 * times (Unix s, ascending) of the accounts kept. A stream the event added
 * to is copied as of its own update (kg_entities_observe); any other is
 * read when a rule first asks for it (kg_entity_view_distinct), so an
 * entity no rule of the event's reads is never looked up, nor its key
 * computed (an address's normal form). Lives in the deciding thread's
 * scratch; used under the event's account stripe lock. */
struct kg_entity_view {
	/* where a stream is read from when first asked (set by observe) */
	kg_entities *t;
	const kg_event *ev;
	kg_buf *norm;
	struct kg_entity_addr_memo *memo;
	kg_entity_load_fn load;
	void *load_ctx;
	kg_err *err;
	int rc;        /* a read that failed (err says): the decision fails */
	uint8_t keyed; /* kinds whose key was looked for ... */
	uint8_t has;   /* ... and that the event carries: key[k] */
	uint8_t added; /* kinds the event added to */
	uint8_t read;  /* kinds read when a rule asked */
	uint8_t ready[KG_ENT_COUNT]; /* streams in n and last */
	uint64_t key[KG_ENT_COUNT];
	uint32_t n[KG_ENT_COUNT][KG_ES_COUNT];
	uint32_t last[KG_ENT_COUNT][KG_ES_COUNT][KG_ENTITY_ACCTS_CAP];
};

/* Distinct accounts of the view's entity of kind k on stream s with a
 * last-seen time in (now - window_s, now]: 0 when the event has none (or
 * the read failed: v->rc). */
int64_t kg_entity_view_distinct(struct kg_entity_view *v, enum kg_entity_kind k,
				enum kg_entity_stream s, uint32_t now, uint32_t window_s);
/* The kinds the batch writes for the event: those it added to, and on a
 * shared store those it read too (their versions are checked). */
static inline unsigned kg_entity_view_written(const struct kg_entity_view *v, bool shared)
{
	return v->added | (shared ? v->read : 0);
}

int kg_entities_new(kg_entities **out);
void kg_entities_free(kg_entities *t);

/* The last shipping address of an account's orders, by two hashes of its
 * parts as sent, and its key: the normaliser runs once per address an
 * account ships to, not once per order (a false match needs both hashes to
 * collide: about 2^-128). Kept with the account, under its stripe lock. */
struct kg_entity_addr_memo {
	uint64_t raw[2];
	uint64_t key;
};

/* Adds ev (of the account whose id hashes to ah) to the streams in keep of
 * each entity it carries, and readies view for the rules (the streams it
 * added to copied, the rest read when asked). Takes one entity stripe lock
 * at a time (never two), called under the account's stripe lock, as the
 * view's reads are. norm: scratch for the address key; memo: the
 * account's; load (NULL: none) reads an entity met for the first time
 * (in memory alone, an entity only read and not there is not made). */
int kg_entities_observe(kg_entities *t, const kg_event *ev, uint64_t ah,
			const kg_entity_keep keep, kg_buf *norm,
			struct kg_entity_addr_memo *memo, kg_entity_load_fn load, void *load_ctx,
			struct kg_entity_view *view, kg_err *err);
/* kg_entities_observe in two steps, for a caller with other work between
 * them (the account's features update): kg_entities_begin readies the view
 * and finds the keys of the kinds in keep the event carries, and starts
 * loading their table slots (reads only, each stripe lock in turn);
 * kg_entities_add, on that view, then does the rest (the adding and what
 * the view copies). */
void kg_entities_begin(kg_entities *t, const kg_event *ev, const kg_entity_keep keep,
		       kg_buf *norm, struct kg_entity_addr_memo *memo, kg_entity_load_fn load,
		       void *load_ctx, struct kg_entity_view *view, kg_err *err);
int kg_entities_add(kg_entities *t, const kg_event *ev, uint64_t ah, const kg_entity_keep keep,
		    struct kg_entity_view *view, kg_err *err);
/* Appends the blob of entity (kind, key) to out; KG_ENOTFOUND when it is
 * not in memory. *row: whether a row of it is expected in the store by the
 * time this write runs (one was found when it was first met, or an earlier
 * write took its state): a hint of the write's cost only
 * (kg_tx_entity_replace), never of what it writes. */
int kg_entities_save_one(kg_entities *t, int kind, uint64_t key, kg_buf *out, bool *row);
/* Forgets entity (kind, key) (a failed write: it is read again from the
 * store when next met). */
void kg_entities_drop(kg_entities *t, int kind, uint64_t key);
/* Whether any entity was ever dropped from t (kg_entities_drop). Until
 * then every entity in t was read from the store once, when first met, and
 * holds everything its row does that this process did not write itself
 * (persist.c writes such a row without reading it first). */
bool kg_entities_dropped(kg_entities *t);
/* Compare-and-set of the version of entity (kind, key) as held in memory
 * (the version of the stored row it was read from or last written as; a
 * shared store's write job checks it: docs/scaling.md): if the entity is
 * in memory with version expect, it becomes next and true is returned. */
bool kg_entities_version(kg_entities *t, int kind, uint64_t key, int64_t expect, int64_t next);
/* The union of two blobs of one entity into out: per stream, each account
 * at the later of its two times, the latest KG_ENTITY_ACCTS_CAP kept.
 * Commutative and idempotent, so writers in any order (threads, nodes)
 * end at the same row. KG_EINVAL (err says) for a corrupt blob. */
int kg_entity_blob_merge(int kind, const void *a, size_t alen, const void *b, size_t blen,
			 kg_buf *out, kg_err *err);

/* The entity key of kind k for ev (false: the event carries none); memo
 * (NULL: none) remembers an address's key. */
bool kg_entity_key(const kg_event *ev, enum kg_entity_kind k, kg_buf *norm,
		   struct kg_entity_addr_memo *memo, uint64_t *key);

/* The key of an entity of kind k (not an address) whose value is the n
 * bytes at s: kg_entity_key's for that value. */
uint64_t kg_entity_key_of(enum kg_entity_kind k, const char *s, size_t n);
/* Saves every entity and loads it back (kagi rules test's restart). */
int kg_entities_roundtrip(kg_entities *t, kg_err *err);
/* Counts over the table: entities, bytes they hold in memory, bytes of
 * their blobs. */
void kg_entities_stats(kg_entities *t, size_t *n, size_t *mem_bytes, size_t *blob_bytes);
/* The distinct accounts kept for (kind, key, stream): a test's view. */
uint32_t kg_entities_count(kg_entities *t, enum kg_entity_kind k, uint64_t key,
			   enum kg_entity_stream s);

#endif
