/* Private to the engine's files (src/risk/engine.c, policy_swap.c,
 * acct_cache.c, decide.c, batch.c, warm.c): the engine object, the
 * per-thread scratch, and the account cache's layout with its inline
 * lookups (decide.c's hot path). Nothing else includes it. */
#ifndef KG_RISK_ENGINE_IMPL_H
#define KG_RISK_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "risk/risk_impl.h"
#include "risk/persist.h"
#include "risk/entity.h"

#define STRIPES 256

/* Seeds of the two hashes of an event id (the first one is
 * kg_risk_pair_hash's, which lock ids are made of: it must not change). */
#define ID_SEED 0x51
#define ID_SEED2 0x8bb84b93962eacc9ull

/* ---- the account cache (acct_cache.c says how it works) ------------------- */
/* A decided event of an account: in memory for good without a store,
 * until committed with one. Looked up in its account's list (the account
 * id already matched exactly), by two independent 64-bit hashes of the
 * event id (a false match needs both to collide: about 2^-128); h also
 * mixes in the account, as pair_hash. decision (a deep copy:
 * kg_risk_decision_copy) NULL is the plain allow,
 * rebuilt from the retried event.
 * An account's entries are one block: cap_seen first hashes h (8 bytes an
 * entry), then cap_seen of the rest, read on a match only. Up to
 * SEEN_LINEAR_MAX entries every new event scans the hashes (a few cache
 * lines). A bigger block (a hot account: thousands of failed logins, or a
 * batch's in-flight entries) also holds an index of 2 * cap_seen slots
 * after the rest (8 more bytes an entry, load at most 1/2): open
 * addressing with linear probing by h, a slot 0 when empty, else the
 * entry's position + 1 in its low bits (below the slot mask) and h's top
 * bits above them, so that most slots of other entries are passed without
 * reading their hash. Deletion shifts the probe run back (no tombstones);
 * the index is rebuilt when the block grows. */
struct seen {
	uint64_t h2;
	struct kg_decision *decision;
	uint8_t body[KG_EVENT_HASH_BYTES]; /* the event's body hash */
};

/* One account in memory: its features and its decided events, together so
 * that one lookup finds both. */
struct acct {
	struct acct *next;
	uint64_t h;
	uint64_t *seen_h; /* the block of decided events (see struct seen) */
	uint32_t n_seen, cap_seen;
	uint32_t id_len;
	/* own: the store had no row of it when this process first read it
	 * (kg_risk_prefetch absent, a store not shared), so every event stored
	 * for it since is one this process decided, each in mine (the low 32
	 * bits of its id's second hash, n_mine of them; a power-of-two array
	 * from 4, at most MINE_MAX, past which own is dropped). An id not in
	 * mine is not stored: the batch skips its stored-decision lookup
	 * (kg_risk_acct_unstored), and the write checks it (persist.c). */
	uint16_t n_mine;
	bool own;
	uint32_t *mine;
	int64_t ver; /* a shared store: the version of the row f was read from or
		      * last written as (kg_risk_acct_version) */
	kg_features f;
	struct kg_entity_addr_memo addr_memo; /* its last shipping address (entity.h) */
	char id[]; /* NUL-terminated */
};

struct stripe {
	pthread_mutex_t mu;
	struct acct **accts;
	size_t acap, an;
	kg_arena arena; /* decisions of seen events (memory mode) */
};

/* ---- per-thread scratch and the engine (policy_swap.c, engine.c) ---------- */
struct scratch {
	kg_policy *pol;   /* this thread's reference to the current policy */
	unsigned pol_gen; /* ... as of this generation */
	kg_event_parser *parser;
	struct kg_verdict verdict;
	kg_buf blob;
	kg_buf text;      /* a decision read from the store */
	kg_buf norm;      /* the normalised address of an entity key */
	struct kg_entity_view ents; /* what the event saw of its entities */
	struct kg_tx *tx; /* the batch's read transaction while it decides */
};

struct kg_risk {
	pthread_mutex_t pol_mu;
	/* kg_risk_settle broadcasts here: a batch whose line repeats an event
	 * still in flight in another batch waits for it (batch.c) */
	pthread_mutex_t settle_mu;
	pthread_cond_t settle_cv;
	kg_policy *pol;
	atomic_uint pol_gen; /* bumped by every swap */
	/* store lists of the current policy; earlier snapshots stay until free */
	_Atomic(struct kg_risk_lists *) lists;
	struct kg_risk_lists **old_lists;
	size_t n_old_lists;
	struct kg_store *store;
	pthread_key_t tls;
	struct stripe stripes[STRIPES];
	kg_entities *ents; /* entity state (entity.c), its stripes after the account's */
	kg_risk_lock_fn lock_hook;
	void *lock_ctx;
	kg_risk_event_fn event_hook; /* NULL: none */
	void *event_ctx;
	pthread_mutex_t write_mu; /* a batch's blobs taken and its job queued (batch.c) */
	/* a big batch kept by kg_risk_batch_free for the next one (batch.c),
	 * NULL: none */
	_Atomic(struct kg_risk_batch *) spare_batch;
	atomic_size_t events; /* decided, counted under any stripe's lock */
	int64_t ts_ahead_max_ms; /* 0: any ts */
};

/* This thread's scratch (parser, verdict, buffers), made on first use;
 * NULL on allocation failure. kg_risk_scratch_free is the thread key's
 * destructor. */
struct scratch *kg_risk_scratch_get(kg_risk *r);
void kg_risk_scratch_free(void *p);
/* The policy for this thread's next event (policy_swap.c). */
kg_policy *kg_risk_scratch_policy(kg_risk *r, struct scratch *sc);
/* A parsed event's ts against the clock bound (kg_risk_set_ts_ahead_max). */
int kg_risk_check_ts(const kg_risk *r, const kg_event *ev, kg_err *err);

/* ---- account cache operations (acct_cache.c; under the stripe's lock) ------- */
static inline struct seen *seen_rest(const struct acct *a)
{
	return (struct seen *)(a->seen_h + a->cap_seen);
}

/* Linear below this capacity, indexed above (see struct seen). */
#define SEEN_LINEAR_MAX 32u
/* A block's largest capacity: its index (2 * cap_seen slots) and an
 * entry's position + 1 in a slot both fit 32 bits. */
#define SEEN_CAP_MAX (1u << 30)

static inline bool seen_indexed(const struct acct *a)
{
	return a->cap_seen > SEEN_LINEAR_MAX;
}

/* The index of a block of cap entries (after its rest) and its slot mask. */
static inline uint32_t *seen_index(const struct acct *a)
{
	return (uint32_t *)(seen_rest(a) + a->cap_seen);
}

static inline uint32_t seen_mask(uint32_t cap)
{
	return 2 * cap - 1;
}

/* The slot where h's probe run starts; its tag (the bits of a slot above
 * the position). */
static inline uint32_t seen_home(uint64_t h, uint32_t mask)
{
	return (uint32_t)h & mask;
}

static inline uint32_t seen_tag(uint64_t h, uint32_t mask)
{
	return (uint32_t)(h >> 32) & ~mask;
}

/* The entry of (h, h2) in an indexed block, or NULL; *slot is its slot. */
static inline struct seen *seen_index_find(struct acct *a, uint64_t h, uint64_t h2, uint32_t *slot)
{
	const uint32_t *idx = seen_index(a);
	uint32_t mask = seen_mask(a->cap_seen), tag = seen_tag(h, mask);
	for (uint32_t j = seen_home(h, mask); idx[j]; j = (j + 1) & mask) {
		if ((idx[j] & ~mask) != tag)
			continue;
		uint32_t i = (idx[j] & mask) - 1;
		if (a->seen_h[i] == h && seen_rest(a)[i].h2 == h2) {
			*slot = j;
			return &seen_rest(a)[i];
		}
	}
	return NULL;
}

/* The entry of (h, h2), or NULL. */
static inline struct seen *seen_find(struct acct *a, uint64_t h, uint64_t h2)
{
	if (seen_indexed(a)) {
		uint32_t slot;
		return seen_index_find(a, h, h2, &slot);
	}
	for (uint32_t i = a->n_seen; i > 0; i--)
		if (a->seen_h[i - 1] == h && seen_rest(a)[i - 1].h2 == h2)
			return &seen_rest(a)[i - 1];
	return NULL;
}

static inline struct acct *acct_find(struct stripe *st, uint64_t h, kg_str id)
{
	if (!st->acap)
		return NULL;
	for (struct acct *a = st->accts[(h >> 8) & (st->acap - 1)]; a; a = a->next)
		if (a->h == h && a->id_len == id.n && !memcmp(a->id, id.p, id.n))
			return a;
	return NULL;
}

int kg_risk_seen_add(kg_risk *r, struct stripe *st, struct acct *a, uint64_t h, uint64_t h2,
		     const uint8_t *body, const struct kg_decision *d);
/* The ids an own account's events were decided under (struct acct mine). */
#define MINE_MAX 1024u
void kg_risk_mine_add(struct acct *a, uint64_t h2);
/* Whether the store provably holds no event (account, id): the account
 * (ah: its kg_risk_hash) is cached and own, and the id's tag (the low 32
 * bits of its second hash, as kg_risk_decide_locked's h2) is not in its
 * mine (takes the stripe's lock). False is always safe: the id is then
 * looked up. */
bool kg_risk_acct_unstored(kg_risk *r, kg_str account, uint64_t ah, uint64_t h2);
/* kg_risk_acct_unstored, and in the same look at the cache (one lock, one
 * find) whether the account is cached (*cached). */
bool kg_risk_acct_unstored_cached(kg_risk *r, kg_str account, uint64_t ah, uint64_t h2,
				  bool *cached);
void kg_risk_seen_remove(kg_risk *r, struct acct *a, uint64_t h, uint64_t h2);
/* The account of (h, id), made (its blob loaded from pre, or the store)
 * when it is not cached. */
int kg_risk_acct_get(kg_risk *r, struct stripe *st, uint64_t h, kg_str id,
		     const struct kg_risk_prefetch *pre, struct acct **out, kg_err *err);
void kg_risk_acct_drop(kg_risk *r, struct stripe *st, uint64_t h, const char *id);
void kg_risk_acct_free(kg_risk *r, struct acct *a);
/* Whether the account is cached (takes its stripe's lock). */
bool kg_risk_acct_cached(kg_risk *r, kg_str account);
/* kg_risk_version_fn over the cache (ctx: the kg_risk; takes the stripe's
 * lock). */
bool kg_risk_acct_version(void *ctx, const struct kg_risk_record *rec, int64_t expect,
			  int64_t next);

/* ---- warming (warm.c) ------------------------------------------------------- */
/* What kg_risk_warm_acct's last stage prefetches of a cached account
 * (bits), besides its record: */
#define WARM_FEATURES 1u /* its feature block (kg_features_prefetch) */
#define WARM_SEEN 2u     /* the hashes of its decided events (struct seen) */
#define WARM_MINE 4u     /* an own account's ids (kg_risk_acct_unstored) */
#define WARM_BLOB 8u     /* its whole feature block (kg_features_prefetch_blob) */
/* kg_risk_warm's stages for an account (ah: kg_risk_hash of its id), the
 * last one prefetching what (WARM_*): for the engine's own passes over a
 * batch's accounts (batch_snapshot, kg_risk_settle), which would
 * otherwise wait on memory for each account in turn. kg_risk_warm is
 * what = all of them. Reads only; any hint is safe. */
void kg_risk_warm_acct(kg_risk *r, uint64_t ah, kg_str account, int stage, unsigned what);
/* kg_risk_warm_acct under st's lock, held by the caller (st: ah's stripe):
 * a pass that takes each stripe's lock once for all its accounts
 * (kg_risk_settle, batch_snapshot). */
void kg_risk_warm_locked(struct stripe *st, uint64_t ah, kg_str account, int stage,
			 unsigned what);
/* Groups the n items of a batch by account stripe: out[start[s] ..
 * start[s + 1]) are the indexes of the items in stripe s, in their order
 * (skip(i): not grouped); stripe_of(i) is item i's stripe (a counting
 * sort). */
static inline void kg_risk_by_stripe(size_t n, uint32_t *out, uint32_t start[STRIPES + 1],
				     unsigned (*stripe_of)(const void *ctx, size_t i),
				     bool (*skip)(const void *ctx, size_t i), const void *ctx)
{
	uint32_t fill[STRIPES];
	memset(start, 0, (STRIPES + 1) * sizeof(*start));
	for (size_t i = 0; i < n; i++)
		if (!skip || !skip(ctx, i))
			start[stripe_of(ctx, i) + 1]++;
	for (int s = 0; s < STRIPES; s++)
		start[s + 1] += start[s];
	memcpy(fill, start, sizeof(fill));
	for (size_t i = 0; i < n; i++)
		if (!skip || !skip(ctx, i))
			out[fill[stripe_of(ctx, i)]++] = (uint32_t)i;
}

/* ---- deciding (decide.c) ------------------------------------------------------ */
/* Decides one parsed event (body: its body hash) under its stripe lock
 * into d (in da); when persisting, fills rec for the store job. The
 * account and id hashes come from pre when it has them (hashed). */
int kg_risk_decide_locked(kg_risk *r, struct scratch *sc, const kg_event *ev, kg_policy *pol,
			  const uint8_t *body, const struct kg_risk_prefetch *pre,
			  const struct kg_risk_prefetch *blob, kg_arena *da, struct kg_decision *d,
			  struct kg_risk_record *rec, bool *dup, bool *inflight, kg_err *err);
/* After the store job: forget pending entries; on failure also the
 * accounts' cached state. */
void kg_risk_settle(kg_risk *r, struct kg_risk_record *recs, size_t n, bool ok);
/* Whether an event (account; h, h2 as kg_risk_decide_locked hashes it) is
 * still in flight: decided in this process, its write not settled. */
bool kg_risk_seen_inflight(kg_risk *r, kg_str account, uint64_t h, uint64_t h2);
/* Frees the batch kg_risk_batch_free kept for the next one (kg_risk_free). */
void kg_risk_batch_spare_free(kg_risk *r);
/* A batch of one's refusal (batch.c): its line's error, code 0 when none. */
const kg_err *kg_risk_batch_refusal(const kg_risk_batch *b);
/* (kg_risk_batch_try, kg_risk_batch_stale: risk_impl.h, for replay too) */
/* How often kg_risk_decide and kg_risk_decide_batch decide a stale batch
 * again before they give up with its KG_EBUSY. */
#define KG_RISK_STALE_RETRIES 16
/* The pause before the attempt-th retry of a stale batch. */
void kg_risk_stale_backoff(int attempt);

#endif
