/* The risk engine: per-account striped locks over an in-memory feature
 * cache, decisions made outside the store's writer thread, persistence of
 * each event (or batch) as one store job. Idempotent by (account, event id).
 * Not here: parsing (event.c), rules (rules.c), features (features.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk_impl.h"
#include "risk/persist.h"
#include "store/store.h"

#define STRIPES 256

/* A decided event of an account: in memory for good without a store,
 * until committed with one. Looked up in its account's list (the account
 * id already matched exactly), by two independent 64-bit hashes of the
 * event id (a false match needs both to collide: about 2^-128); h also
 * mixes in the account, as pair_hash. decision NULL is the plain allow,
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
	char *decision;
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
	kg_features f;
	char id[]; /* NUL-terminated */
};

struct stripe {
	pthread_mutex_t mu;
	struct acct **accts;
	size_t acap, an;
	kg_arena arena; /* decisions of seen events (memory mode) */
};

static void acct_free(kg_risk *r, struct acct *a);

struct scratch {
	kg_policy *pol;   /* this thread's reference to the current policy */
	unsigned pol_gen; /* ... as of this generation */
	kg_event_parser *parser;
	struct kg_verdict verdict;
	kg_buf blob;
};

struct kg_risk {
	pthread_mutex_t pol_mu;
	kg_policy *pol;
	atomic_uint pol_gen; /* bumped by every swap */
	/* store lists of the current policy; earlier snapshots stay until free */
	_Atomic(struct kg_risk_lists *) lists;
	struct kg_risk_lists **old_lists;
	size_t n_old_lists;
	struct kg_store *store;
	pthread_key_t tls;
	struct stripe stripes[STRIPES];
	kg_risk_lock_hook lock_hook;
	void *lock_ctx;
	atomic_size_t events; /* decided, counted under any stripe's lock */
	int64_t ts_ahead_max_ms; /* 0: any ts */
};

static void scratch_free(void *p)
{
	struct scratch *s = p;
	if (!s)
		return;
	kg_policy_unref(s->pol);
	kg_event_parser_free(s->parser);
	kg_verdict_release(&s->verdict);
	kg_buf_release(&s->blob);
	free(s);
}

static struct scratch *scratch_get(kg_risk *r)
{
	struct scratch *s = pthread_getspecific(r->tls);
	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->parser = kg_event_parser_new();
	if (!s->parser) {
		free(s);
		return NULL;
	}
	kg_verdict_init(&s->verdict);
	kg_buf_init(&s->blob, 16 * 1024 * 1024);
	pthread_setspecific(r->tls, s);
	return s;
}

int kg_risk_new(kg_policy *policy, struct kg_store *store, kg_risk **out, kg_err *err)
{
	kg_risk *r = calloc(1, sizeof(*r));
	if (!r)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	if (pthread_key_create(&r->tls, scratch_free)) {
		free(r);
		return kg_err_set(err, KG_ENOMEM, "no thread key");
	}
	pthread_mutex_init(&r->pol_mu, NULL);
	r->pol = kg_policy_ref(policy);
	r->store = store;
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&r->stripes[i].mu, NULL);
		kg_arena_init(&r->stripes[i].arena, 64 * 1024);
	}
	struct kg_risk_lists *l = NULL;
	if (store && kg_risk_lists_load(store, policy, &l, err)) {
		kg_risk_free(r);
		return err ? err->code : KG_EIO;
	}
	atomic_store(&r->lists, l);
	*out = r;
	return 0;
}

void kg_risk_free(kg_risk *r)
{
	if (!r)
		return;
	scratch_free(pthread_getspecific(r->tls));
	pthread_setspecific(r->tls, NULL);
	pthread_key_delete(r->tls);
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *st = &r->stripes[i];
		for (size_t k = 0; k < st->acap; k++)
			for (struct acct *a = st->accts[k], *n; a; a = n) {
				n = a->next;
				acct_free(r, a);
			}
		free(st->accts);
		kg_arena_release(&st->arena);
		pthread_mutex_destroy(&st->mu);
	}
	kg_policy_unref(r->pol);
	kg_risk_lists_free(atomic_load(&r->lists));
	for (size_t i = 0; i < r->n_old_lists; i++)
		kg_risk_lists_free(r->old_lists[i]);
	free(r->old_lists);
	pthread_mutex_destroy(&r->pol_mu);
	free(r);
}

void kg_risk_set_policy(kg_risk *r, kg_policy *policy)
{
	struct kg_risk_lists *l = NULL;
	kg_err err;
	kg_err_clear(&err);
	if (r->store && kg_risk_lists_load(r->store, policy, &l, &err))
		kg_log(KG_LOG_ERROR, "risk", "store lists not refreshed: %s", err.msg);
	kg_policy_ref(policy);
	pthread_mutex_lock(&r->pol_mu);
	if (!err.code) {
		struct kg_risk_lists *old = atomic_exchange(&r->lists, l);
		struct kg_risk_lists **ol = old ? realloc(r->old_lists,
							  (r->n_old_lists + 1) * sizeof(*ol)) : NULL;
		if (ol) {
			r->old_lists = ol;
			r->old_lists[r->n_old_lists++] = old;
		} else if (old) {
			kg_log(KG_LOG_WARN, "risk", "out of memory: an old list snapshot leaks");
		}
	}
	kg_policy *old = r->pol;
	r->pol = policy;
	atomic_fetch_add(&r->pol_gen, 1);
	pthread_mutex_unlock(&r->pol_mu);
	kg_policy_unref(old);
}

kg_policy *kg_risk_policy(kg_risk *r)
{
	pthread_mutex_lock(&r->pol_mu);
	kg_policy *p = kg_policy_ref(r->pol);
	pthread_mutex_unlock(&r->pol_mu);
	return p;
}

/* The policy for this thread's next event without taking the lock unless
 * it changed: the scratch keeps a reference until the generation moves. */
static kg_policy *scratch_policy(kg_risk *r, struct scratch *sc)
{
	unsigned gen = atomic_load(&r->pol_gen);
	if (sc->pol && sc->pol_gen == gen)
		return sc->pol;
	kg_policy *old = sc->pol;
	pthread_mutex_lock(&r->pol_mu);
	sc->pol = kg_policy_ref(r->pol);
	sc->pol_gen = atomic_load(&r->pol_gen);
	pthread_mutex_unlock(&r->pol_mu);
	kg_policy_unref(old);
	return sc->pol;
}

int kg_risk_reload(kg_risk *r, const char *path, kg_err *err)
{
	kg_policy *p = NULL;
	int rc = kg_policy_load(path, &p, err);
	if (rc)
		return rc;
	kg_risk_set_policy(r, p);
	kg_policy_unref(p);
	kg_log(KG_LOG_INFO, "risk", "policy %s loaded: %zu rules", path, kg_policy_rule_count(p));
	return 0;
}

void kg_risk_set_ts_ahead_max(kg_risk *r, int64_t ms)
{
	r->ts_ahead_max_ms = ms;
}

/* A parsed event's ts against the clock bound (kg_risk_set_ts_ahead_max). */
static int check_ts(const kg_risk *r, const kg_event *ev, kg_err *err)
{
	if (!r->ts_ahead_max_ms || ev->ts_ms <= kg_now_ms() + r->ts_ahead_max_ms)
		return 0;
	return kg_err_field(err, KG_EINVAL, "ts",
			    "ts: more than %lld s ahead of the server's clock",
			    (long long)(r->ts_ahead_max_ms / 1000));
}

void kg_risk_set_lock_hook(kg_risk *r, kg_risk_lock_hook fn, void *ctx)
{
	r->lock_hook = fn;
	r->lock_ctx = ctx;
}

/* ---- hash tables (chained, power-of-two, per stripe) ----------------------- */
/* Seeds of the two hashes of an event id. */
#define ID_SEED 0x51
#define ID_SEED2 0x8bb84b93962eacc9ull

/* (account, id): lock ids are made of it, so it must not change. */
static uint64_t pair_hash(kg_str account, kg_str id)
{
	return kg_risk_hash(account.p, account.n) * 31 + kg_risk_hash_seed(id.p, id.n, ID_SEED);
}

/* Doubles a chained hash table when it holds as many entries as buckets.
 * Entries carry their next pointer and 64-bit hash at the given offsets. */
static int grow_table(void ***tab, size_t *cap, size_t n, size_t next_off, size_t h_off)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	void **nt = calloc(nc, sizeof(void *));
	if (!nt)
		return KG_ENOMEM;
	for (size_t k = 0; k < *cap; k++)
		for (void *e = (*tab)[k], *next; e; e = next) {
			next = *(void **)((char *)e + next_off);
			uint64_t h = *(uint64_t *)((char *)e + h_off);
			size_t b = (h >> 8) & (nc - 1);
			*(void **)((char *)e + next_off) = nt[b];
			nt[b] = e;
		}
	free(*tab);
	*tab = nt;
	*cap = nc;
	return 0;
}

static struct seen *seen_rest(const struct acct *a)
{
	return (struct seen *)(a->seen_h + a->cap_seen);
}

/* Linear below this capacity, indexed above (see struct seen). */
#define SEEN_LINEAR_MAX 32u
/* A block's largest capacity: its index (2 * cap_seen slots) and an
 * entry's position + 1 in a slot both fit 32 bits. */
#define SEEN_CAP_MAX (1u << 30)

static bool seen_indexed(const struct acct *a)
{
	return a->cap_seen > SEEN_LINEAR_MAX;
}

/* The index of a block of cap entries (after its rest) and its slot mask. */
static uint32_t *seen_index(const struct acct *a)
{
	return (uint32_t *)(seen_rest(a) + a->cap_seen);
}

static uint32_t seen_mask(uint32_t cap)
{
	return 2 * cap - 1;
}

/* The slot where h's probe run starts; its tag (the bits of a slot above
 * the position). */
static uint32_t seen_home(uint64_t h, uint32_t mask)
{
	return (uint32_t)h & mask;
}

static uint32_t seen_tag(uint64_t h, uint32_t mask)
{
	return (uint32_t)(h >> 32) & ~mask;
}

/* The slot of h's entry at position pos (which is indexed). */
static uint32_t seen_slot_of(const struct acct *a, uint64_t h, uint32_t pos)
{
	const uint32_t *idx = seen_index(a);
	uint32_t mask = seen_mask(a->cap_seen);
	uint32_t j = seen_home(h, mask);
	while ((idx[j] & mask) != pos + 1)
		j = (j + 1) & mask;
	return j;
}

static void seen_index_put(struct acct *a, uint64_t h, uint32_t pos)
{
	uint32_t *idx = seen_index(a);
	uint32_t mask = seen_mask(a->cap_seen);
	uint32_t j = seen_home(h, mask);
	while (idx[j])
		j = (j + 1) & mask;
	idx[j] = seen_tag(h, mask) | (pos + 1);
}

/* Empties slot j, moving later entries of its probe run back so that
 * every entry stays reachable from its home slot. */
static void seen_index_del(struct acct *a, uint32_t j)
{
	uint32_t *idx = seen_index(a);
	uint32_t mask = seen_mask(a->cap_seen);
	for (uint32_t k = (j + 1) & mask; idx[k]; k = (k + 1) & mask) {
		uint32_t home = seen_home(a->seen_h[(idx[k] & mask) - 1], mask);
		if (((k - home) & mask) >= ((k - j) & mask)) {
			idx[j] = idx[k];
			j = k;
		}
	}
	idx[j] = 0;
}

/* The entry of (h, h2) in an indexed block, or NULL; *slot is its slot. */
static struct seen *seen_index_find(struct acct *a, uint64_t h, uint64_t h2, uint32_t *slot)
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
static struct seen *seen_find(struct acct *a, uint64_t h, uint64_t h2)
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

/* Doubles a full block (re-indexing it when the new one is indexed). */
static int seen_grow(struct acct *a)
{
	if (a->cap_seen >= SEEN_CAP_MAX)
		return KG_ENOMEM;
	uint32_t nc = a->cap_seen ? a->cap_seen * 2 : 8;
	size_t bytes = (size_t)nc * (sizeof(uint64_t) + sizeof(struct seen));
	if (nc > SEEN_LINEAR_MAX)
		bytes += (size_t)2 * nc * sizeof(uint32_t);
	uint64_t *nh = malloc(bytes);
	if (!nh)
		return KG_ENOMEM;
	if (a->n_seen) {
		memcpy(nh, a->seen_h, a->n_seen * sizeof(uint64_t));
		memcpy(nh + nc, seen_rest(a), a->n_seen * sizeof(struct seen));
	}
	free(a->seen_h);
	a->seen_h = nh;
	a->cap_seen = nc;
	if (seen_indexed(a)) {
		memset(seen_index(a), 0, (size_t)2 * nc * sizeof(uint32_t));
		for (uint32_t i = 0; i < a->n_seen; i++)
			seen_index_put(a, a->seen_h[i], i);
	}
	return 0;
}

static int seen_add(kg_risk *r, struct stripe *st, struct acct *a, uint64_t h, uint64_t h2,
		    const uint8_t *body, const char *decision, size_t dlen)
{
	int rc;
	if (a->n_seen == a->cap_seen && (rc = seen_grow(a)))
		return rc;
	a->seen_h[a->n_seen] = h;
	struct seen *s = &seen_rest(a)[a->n_seen];
	s->h2 = h2;
	s->decision = NULL;
	memcpy(s->body, body, KG_EVENT_HASH_BYTES);
	if (decision) {
		s->decision = r->store ? strndup(decision, dlen)
				       : kg_arena_strndup(&st->arena, decision, dlen);
		if (!s->decision)
			return KG_ENOMEM;
	}
	if (seen_indexed(a))
		seen_index_put(a, h, a->n_seen);
	a->n_seen++;
	return 0;
}

/* Forgets (h, h2): the last entry moves into its place. */
static void seen_remove(kg_risk *r, struct acct *a, uint64_t h, uint64_t h2)
{
	uint32_t slot = 0;
	struct seen *s = NULL;
	if (seen_indexed(a)) /* (seen_find stays inlined in decide_locked) */
		s = seen_index_find(a, h, h2, &slot);
	else
		for (uint32_t k = 0; k < a->n_seen && !s; k++)
			if (a->seen_h[k] == h && seen_rest(a)[k].h2 == h2)
				s = &seen_rest(a)[k];
	if (!s)
		return;
	if (r->store)
		free(s->decision);
	uint32_t i = (uint32_t)(s - seen_rest(a)), last = a->n_seen - 1;
	if (seen_indexed(a)) {
		seen_index_del(a, slot);
		if (i != last) {
			uint32_t *idx = seen_index(a);
			uint32_t mask = seen_mask(a->cap_seen);
			uint32_t j = seen_slot_of(a, a->seen_h[last], last);
			idx[j] = (idx[j] & ~mask) | (i + 1);
		}
	}
	a->n_seen--;
	a->seen_h[i] = a->seen_h[last];
	*s = seen_rest(a)[last];
}

static void acct_free(kg_risk *r, struct acct *a)
{
	if (r->store)
		for (uint32_t i = 0; i < a->n_seen; i++)
			free(seen_rest(a)[i].decision);
	free(a->seen_h);
	kg_features_release(&a->f);
	free(a);
}

static struct acct *acct_find(struct stripe *st, uint64_t h, kg_str id)
{
	if (!st->acap)
		return NULL;
	for (struct acct *a = st->accts[(h >> 8) & (st->acap - 1)]; a; a = a->next)
		if (a->h == h && a->id_len == id.n && !memcmp(a->id, id.p, id.n))
			return a;
	return NULL;
}

static int acct_get(kg_risk *r, struct stripe *st, uint64_t h, kg_str id,
		    const struct kg_risk_prefetch *pre, struct acct **out, kg_err *err)
{
	struct acct *a = acct_find(st, h, id);
	if (a) {
		*out = a;
		return 0;
	}
	int rc = grow_table((void ***)&st->accts, &st->acap, st->an,
			    offsetof(struct acct, next), offsetof(struct acct, h));
	if (rc)
		return kg_err_set(err, rc, "out of memory");
	a = calloc(1, sizeof(*a) + id.n + 1);
	if (!a)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	memcpy(a->id, id.p, id.n);
	a->id_len = id.n;
	a->h = h;
	if (pre && pre->have_blob)
		rc = pre->blob ? kg_features_load(&a->f, pre->blob, pre->blob_len, err) : 0;
	else if (r->store)
		rc = kg_risk_persist_load_features(r->store, a->id, &a->f, err);
	if (rc) {
		acct_free(r, a);
		return rc;
	}
	size_t b = (h >> 8) & (st->acap - 1);
	a->next = st->accts[b];
	st->accts[b] = a;
	st->an++;
	*out = a;
	return 0;
}

static void acct_drop(kg_risk *r, struct stripe *st, uint64_t h, const char *id)
{
	if (!st->acap)
		return;
	struct acct **pp = &st->accts[(h >> 8) & (st->acap - 1)];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->h == h && !strcmp((*pp)->id, id)) {
			struct acct *a = *pp;
			*pp = a->next;
			st->an--;
			acct_free(r, a);
			return;
		}
	}
}

/* ---- warming the caches ahead of a decision --------------------------------
 * Deciding in memory is bound by cache misses on the account's state (100,000
 * accounts do not fit in the caches), and each of them waits for the one
 * before: table slot -> account record -> its vectors. A caller that knows
 * the next events' accounts (replay) calls this once per stage per event,
 * events apart, so that each stage only reads what the stage before it
 * loaded an event earlier and none of them waits on memory. A wrong hint
 * (an account that is not there yet) only wastes a prefetch. */
void kg_risk_warm(kg_risk *r, uint64_t ah, kg_str account, int stage)
{
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	if (!st->acap)
		goto cleanup;
	struct acct **slot = &st->accts[(ah >> 8) & (st->acap - 1)];
	if (stage == 0) {
		__builtin_prefetch(slot);
	} else if (stage == 1) {
		/* the chain's first record (most chains have one): its head, id
		 * and feature header */
		const char *a = (const char *)*slot;
		if (a)
			for (size_t off = 0; off < sizeof(struct acct) + account.n + 63; off += 64)
				__builtin_prefetch(a + off);
	} else {
		struct acct *a = acct_find(st, ah, account);
		if (a) {
			kg_features_prefetch(&a->f);
			/* the hashes a new event scans; an indexed block is read at
			 * the event's own slot, not known here */
			for (size_t off = 0; !seen_indexed(a) && a->n_seen &&
					     off < a->n_seen * sizeof(uint64_t) + 63;
			     off += 64)
				__builtin_prefetch((const char *)a->seen_h + off);
		}
	}
cleanup:
	pthread_mutex_unlock(&st->mu);
}

/* Keys are found by their colon: an event has fewer colons than quotes
 * before it. */
bool kg_risk_account_hint(const char *line, size_t len, kg_str *account)
{
	static const char key[] = "\"account\"";
	const size_t kn = sizeof(key) - 1;
	const char *s = line, *e = s + len;
	for (const char *p = s; (p = memchr(p, ':', (size_t)(e - p))); p++) {
		if ((size_t)(p - s) < kn || memcmp(p - kn, key, kn))
			continue;
		if (e - p < 2 || p[1] != '"')
			return false;
		const char *a = p + 2, *q = memchr(a, '"', (size_t)(e - a));
		if (!q)
			return false;
		*account = (kg_str){a, (uint32_t)(q - a)};
		return true;
	}
	return false;
}

/* ---- decisions -------------------------------------------------------------- */
static bool plain_json_str(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* kg_buf_json_str with a fast path for the common string that needs no
 * escaping (ids, account ids). */
static int put_json_str(kg_buf *out, const char *s, size_t n)
{
	if (!plain_json_str(s, n))
		return kg_buf_json_str(out, s, n);
	int rc = kg_buf_putc(out, '"');
	rc = rc ? rc : kg_buf_append(out, s, n);
	return rc ? rc : kg_buf_putc(out, '"');
}

static int put_plain_allow(kg_buf *out, const char *id, size_t idn, const char *acct,
			   size_t an)
{
	static const char p1[] = "{\"event\":\"", p2[] = "\",\"account\":\"",
			  p3[] = "\",\"action\":\"allow\",\"score\":0,\"reasons\":[],\"shadow\":[]}";
	char line[256];
	size_t n = sizeof(p1) - 1 + idn + sizeof(p2) - 1 + an + sizeof(p3) - 1;
	if (n <= sizeof(line) && plain_json_str(id, idn) && plain_json_str(acct, an)) {
		/* the answer to most events, assembled here and appended at once
		 * (the appends below cost several hundred instructions) */
		size_t at = 0;
		memcpy(line + at, p1, sizeof(p1) - 1);
		at += sizeof(p1) - 1;
		memcpy(line + at, id, idn);
		at += idn;
		memcpy(line + at, p2, sizeof(p2) - 1);
		at += sizeof(p2) - 1;
		memcpy(line + at, acct, an);
		at += an;
		memcpy(line + at, p3, sizeof(p3) - 1);
		return kg_buf_append(out, line, n);
	}
	int rc = kg_buf_puts(out, "{\"event\":");
	rc = rc ? rc : put_json_str(out, id, idn);
	rc = rc ? rc : kg_buf_puts(out, ",\"account\":");
	rc = rc ? rc : put_json_str(out, acct, an);
	rc = rc ? rc : kg_buf_puts(out, p3 + 1);
	return rc;
}

static void lock_id(const kg_event *ev, char out[24])
{
	uint64_t h = pair_hash(ev->account, ev->id);
	snprintf(out, 24, "lk_%016llx", (unsigned long long)h);
}

static int put_decision(const kg_event *ev, const struct kg_verdict *v, kg_buf *out)
{
	if (v->action == KG_ACT_ALLOW && !v->n_reasons && !v->n_shadow)
		return put_plain_allow(out, ev->id.p, ev->id.n, ev->account.p, ev->account.n);
	int rc = kg_buf_puts(out, "{\"event\":");
	rc = rc ? rc : put_json_str(out, ev->id.p, ev->id.n);
	rc = rc ? rc : kg_buf_puts(out, ",\"account\":");
	rc = rc ? rc : put_json_str(out, ev->account.p, ev->account.n);
	rc = rc ? rc : kg_buf_printf(out, ",\"action\":\"%s\",\"score\":%lld,\"reasons\":[",
				     kg_action_names[v->action], (long long)v->score);
	rc = rc ? rc : kg_buf_append(out, v->reasons.data ? v->reasons.data : "", v->reasons.len);
	rc = rc ? rc : kg_buf_putc(out, ']');
	if (!rc && v->action == KG_ACT_LOCK) {
		char id[24], ts[KG_TIME_STR_MAX];
		lock_id(ev, id);
		rc = kg_buf_printf(out, ",\"lock\":{\"id\":\"%s\",\"reason\":\"%s\"", id,
				   v->lock_reason);
		if (!rc && v->lock_ttl_s)
			rc = kg_buf_printf(out, ",\"expires\":\"%s\"",
					   kg_time_format(ev->ts_ms + v->lock_ttl_s * 1000, ts));
		rc = rc ? rc : kg_buf_putc(out, '}');
	}
	rc = rc ? rc : kg_buf_puts(out, ",\"shadow\":[");
	rc = rc ? rc : kg_buf_append(out, v->shadow.data ? v->shadow.data : "", v->shadow.len);
	rc = rc ? rc : kg_buf_puts(out, "]}");
	return rc;
}

int kg_risk_error_json(const kg_err *err, kg_buf *out)
{
	int rc = kg_buf_printf(out, "{\"error\":{\"code\":\"%s\",\"message\":",
			       kg_code_name(err->code));
	rc = rc ? rc : kg_buf_json_str(out, err->msg, strlen(err->msg));
	rc = rc ? rc : kg_buf_puts(out, ",\"field\":");
	rc = rc ? rc : kg_buf_json_str(out, err->field, strlen(err->field));
	rc = rc ? rc : kg_buf_puts(out, "}}");
	return rc;
}

/* A retry of an event id must carry the body it was decided on: another
 * body (by hash; a stored event without one, from before hashes were kept,
 * compares equal) is a conflict naming the id, and the first decision
 * stands. */
static int check_body(const kg_event *ev, const uint8_t *stored, size_t stored_len,
		      const uint8_t *body, kg_err *err)
{
	if (!stored || stored_len != KG_EVENT_HASH_BYTES ||
	    !memcmp(stored, body, KG_EVENT_HASH_BYTES))
		return 0;
	return kg_err_field(err, KG_ECONFLICT, "id",
			    "id: event \"%.*s\" of account \"%.*s\" was sent before with another "
			    "body (the first one was decided)",
			    (int)ev->id.n, ev->id.p, (int)ev->account.n, ev->account.p);
}

/* Decides one parsed event (body: its body hash) under its stripe lock.
 * Appends the decision to out; when persisting, fills rec (owned strings)
 * for the store job. */
static int decide_locked(kg_risk *r, struct scratch *sc, const kg_event *ev, kg_policy *pol,
			 const uint8_t *body, const struct kg_risk_prefetch *pre,
			 const struct kg_risk_prefetch *blob, kg_buf *out,
			 struct kg_risk_record *rec, bool *dup, kg_err *err)
{
	uint64_t ah = kg_risk_hash(ev->account.p, ev->account.n);
	uint64_t idh[2];
	kg_risk_hash_seed2(ev->id.p, ev->id.n, ID_SEED, ID_SEED2, idh);
	uint64_t h = ah * 31 + idh[0], h2 = idh[1]; /* h is pair_hash */
	struct stripe *st = &r->stripes[ah % STRIPES];
	int rc = 0;
	*dup = false;
	pthread_mutex_lock(&st->mu);
	struct acct *a = NULL;
	if ((rc = acct_get(r, st, ah, ev->account, blob, &a, err)))
		goto cleanup;
	struct seen *s = seen_find(a, h, h2);
	if (s) { /* decided in this process (and, with a store, maybe in flight) */
		if ((rc = check_body(ev, s->body, sizeof(s->body), body, err)))
			goto cleanup;
		*dup = true;
		rc = s->decision ? kg_buf_puts(out, s->decision)
				 : put_plain_allow(out, ev->id.p, ev->id.n, ev->account.p,
						   ev->account.n);
		goto cleanup;
	}
	if (pre && pre->account) {
		/* committed earlier (or by another node), as read before the batch */
		if (pre->stored) {
			if ((rc = check_body(ev, pre->stored_hash, pre->stored_hash_len, body, err)))
				goto cleanup;
			*dup = true;
			rc = kg_buf_puts(out, pre->stored);
			goto cleanup;
		}
	} else if (r->store) {
		size_t at = out->len;
		uint8_t stored[KG_EVENT_HASH_BYTES];
		size_t stored_len = 0;
		rc = kg_risk_persist_find_decision(r->store, ev, out, stored, &stored_len, dup, err);
		if (!rc && *dup && (rc = check_body(ev, stored, stored_len, body, err))) {
			*dup = false;
			out->len = at;
			if (out->data)
				out->data[at] = '\0';
		}
		if (rc || *dup)
			goto cleanup;
	}
	struct kg_update_info info;
	if ((rc = kg_features_update(&a->f, ev, &info))) {
		kg_err_set(err, rc, "feature update failed");
		acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	struct kg_eval_env env = {ev, &a->f, &info, kg_risk_lists_lookup, atomic_load(&r->lists)};
	if ((rc = kg_policy_eval(pol, &env, &sc->verdict))) {
		kg_err_set(err, rc, "policy evaluation failed");
		acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	size_t start = out->len;
	if ((rc = put_decision(ev, &sc->verdict, out))) {
		kg_err_set(err, rc, "decision too large");
		acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	bool plain = sc->verdict.action == KG_ACT_ALLOW && !sc->verdict.n_reasons &&
		     !sc->verdict.n_shadow;
	if ((rc = seen_add(r, st, a, h, h2, body, plain ? NULL : out->data + start,
			   out->len - start))) {
		kg_err_set(err, rc, "out of memory");
		acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	atomic_fetch_add_explicit(&r->events, 1, memory_order_relaxed);
	if (rec) { /* the batch fills the rest (kg_risk_record_fill) */
		if (sc->verdict.action == KG_ACT_LOCK)
			lock_id(ev, rec->lock_id);
		rec->out_off = start;
		rec->out_len = out->len - start;
		rec->pending = true;
		rec->h = h;
		rec->h2 = h2;
		rec->acct = a;
		memcpy(rec->body_hash, body, KG_EVENT_HASH_BYTES);
	}
cleanup:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* After the store job: forget pending entries (the store has them now); on
 * failure also the accounts' cached state (it holds the events that were
 * not stored). */
static void settle(kg_risk *r, struct kg_risk_record *recs, size_t n, bool ok)
{
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].pending)
			continue;
		kg_str id = {recs[i].account, recs[i].account_len};
		uint64_t ah = kg_risk_hash(id.p, id.n);
		struct stripe *st = &r->stripes[ah % STRIPES];
		pthread_mutex_lock(&st->mu);
		struct acct *a = acct_find(st, ah, id);
		if (a && ok)
			seen_remove(r, a, recs[i].h, recs[i].h2);
		else if (a)
			acct_drop(r, st, ah, a->id);
		pthread_mutex_unlock(&st->mu);
		recs[i].pending = false;
	}
}

/* ---- batches with a store -----------------------------------------------------
 * A batch is decided in one read transaction of the store (one snapshot):
 * each line is parsed once, its stored decision looked up (a retry of an
 * event committed earlier, maybe by another process), the blob of an
 * account not in memory read, then the event decided. The feature blob of
 * each account is taken once, after the batch's last event of it. Then the
 * whole batch is queued as one write job; its answer is given out only
 * once that commit is durable (kg_risk_batch_finish). A caller may decide
 * its next batch while this one commits, on top of this one's in-memory
 * state: that batch's job is queued "after" this one and fails unrun if
 * this one fails (the store checks), so nothing decided on lost state is
 * ever written or answered. */

/* An account of the batch: whether the snapshot has it at all, and its
 * last record. */
struct batch_acct {
	uint64_t ah;        /* 0: free slot */
	const char *id;     /* the first record's copy (NUL-terminated) */
	uint32_t id_len;
	bool absent;        /* no blob in the snapshot: no stored events either */
	uint32_t last;      /* its last record, UINT32_MAX: none yet */
};

struct kg_risk_batch {
	kg_risk *r;
	const char *const *events;
	const size_t *lens;
	size_t n;
	struct kg_risk_record *recs;
	size_t nrec;
	kg_arena arena;   /* account and id copies, looked-up decisions */
	kg_arena scratch; /* blobs read from the store (reset as it grows) */
	kg_buf out;       /* the answer */
	kg_buf blobs;     /* the accounts' feature blobs */
	struct batch_acct *accts;
	size_t acap;
	uint32_t *blob_recs;
	size_t n_blob;
	struct kg_risk_write w;
	kg_store_ticket *ticket;
	struct kg_risk_batch *after;
	bool settled;
	kg_err parse_err; /* a batch of one: why its line was refused */
};

static struct batch_acct *batch_acct(struct kg_risk_batch *b, uint64_t ah, kg_str id, bool *fresh)
{
	uint64_t key = ah ? ah : 1;
	size_t k = key & (b->acap - 1);
	while (b->accts[k].ah && (b->accts[k].ah != key || b->accts[k].id_len != id.n ||
				  memcmp(b->accts[k].id, id.p, id.n)))
		k = (k + 1) & (b->acap - 1);
	*fresh = !b->accts[k].ah;
	if (*fresh) {
		b->accts[k].ah = key;
		b->accts[k].id = kg_arena_strndup(&b->arena, id.p, id.n);
		b->accts[k].id_len = id.n;
		b->accts[k].last = UINT32_MAX;
	}
	return &b->accts[k];
}

static bool acct_cached(kg_risk *r, kg_str account)
{
	uint64_t ah = kg_risk_hash(account.p, account.n);
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	bool cached = acct_find(st, ah, account) != NULL;
	pthread_mutex_unlock(&st->mu);
	return cached;
}

/* What the snapshot says about ev before it is decided (pre), reading
 * through tx. */
static int batch_lookup(struct kg_risk_batch *b, kg_tx *tx, const kg_event *ev,
			struct batch_acct *ba, bool fresh, struct kg_risk_prefetch *pre,
			kg_err *err)
{
	int rc = 0;
	*pre = (struct kg_risk_prefetch){.account = (char *)ba->id};
	if (fresh && !acct_cached(b->r, ev->account)) {
		bool found;
		if (b->scratch.total_bytes > (1u << 22)) {
			kg_arena_release(&b->scratch);
			kg_arena_init(&b->scratch, 64 * 1024);
		}
		rc = kg_risk_persist_blob(tx, ba->id, &b->scratch, &pre->blob, &pre->blob_len,
					  &found, err);
		if (rc)
			return rc;
		pre->have_blob = true;
		ba->absent = !found;
	}
	if (!ba->absent) {
		bool found;
		rc = kg_risk_persist_lookup(tx, ev->account.p, ev->account.n, ev->id.p, ev->id.n,
					    &b->arena, &pre->stored, &pre->stored_hash,
					    &pre->stored_hash_len, &found, err);
		if (!found)
			pre->stored = NULL;
	}
	return rc;
}

static int batch_decide(struct kg_risk_batch *b, kg_tx *tx, kg_err *err)
{
	kg_risk *r = b->r;
	struct scratch *sc = scratch_get(r);
	if (!sc)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	kg_policy *pol = scratch_policy(r, sc);
	int rc = 0;
	/* the accounts of the next lines are warmed while this one is decided,
	 * in three stages one line apart (kg_risk_warm) */
	struct { bool ok; uint64_t ah; kg_str a; } hint[3] = {{0}};
	for (size_t k = 0; k < 2 && k < b->n; k++) {
		hint[k].ok = kg_risk_account_hint(b->events[k], b->lens[k], &hint[k].a);
		hint[k].ah = hint[k].ok ? kg_risk_hash(hint[k].a.p, hint[k].a.n) : 0;
	}
	for (size_t i = 0; i < b->n && !rc; i++) {
		if (i + 2 < b->n) {
			size_t k = (i + 2) % 3;
			hint[k].ok = kg_risk_account_hint(b->events[i + 2], b->lens[i + 2], &hint[k].a);
			hint[k].ah = hint[k].ok ? kg_risk_hash(hint[k].a.p, hint[k].a.n) : 0;
		}
		for (int stage = 0; stage < 3; stage++) {
			size_t k = i + 2 - (size_t)stage;
			if (k < b->n && hint[k % 3].ok)
				kg_risk_warm(r, hint[k % 3].ah, hint[k % 3].a, stage);
		}
		const kg_event *ev;
		kg_err e;
		kg_err_clear(&e);
		int prc = kg_event_parse(sc->parser, b->events[i], b->lens[i], &ev, &e);
		uint8_t body[KG_EVENT_HASH_BYTES];
		if (!prc)
			prc = check_ts(r, ev, &e);
		if (!prc && (prc = kg_event_body_hash(sc->parser, body)))
			kg_err_field(&e, prc, "", "the event cannot be hashed");
		if (prc) {
			if (b->n == 1)
				b->parse_err = e;
			rc = kg_risk_error_json(&e, &b->out);
			rc = rc ? rc : kg_buf_putc(&b->out, '\n');
			continue;
		}
		struct kg_risk_prefetch pre = {0};
		struct batch_acct *ba = NULL;
		struct kg_risk_record *rec = NULL;
		if (tx) {
			uint64_t ah = kg_risk_hash(ev->account.p, ev->account.n);
			bool fresh;
			ba = batch_acct(b, ah, ev->account, &fresh);
			if ((rc = batch_lookup(b, tx, ev, ba, fresh, &pre, err)))
				break;
			rec = &b->recs[b->nrec];
		}
		bool dup;
		size_t start = b->out.len;
		prc = decide_locked(r, sc, ev, pol, body, tx ? &pre : NULL, tx ? &pre : NULL, &b->out,
				    rec, &dup, &e);
		if (prc) {
			if (prc == KG_EIO || prc == KG_ENOMEM || prc == KG_EFULL) {
				rc = kg_err_set(err, prc, "%s", e.msg);
				break;
			}
			if (tx && (ba->last != UINT32_MAX || b->after) && !acct_cached(r, ev->account)) {
				/* the failure dropped the account's state, which held
				 * events of this batch (or of the one committing before
				 * it, which this snapshot does not show): deciding on
				 * would count without them */
				rc = kg_err_set(err, prc, "%s (nothing of the batch was written)", e.msg);
				break;
			}
			if (b->n == 1)
				b->parse_err = e;
			rc = kg_risk_error_json(&e, &b->out);
		} else if (rec && !dup) {
			b->nrec++; /* pending from here: settle() forgets it */
			int frc = kg_risk_record_fill(rec, ev, &b->arena, b->out.data + start,
						      b->out.len - start, &sc->verdict);
			if (frc) {
				rc = kg_err_set(err, frc, "out of memory");
				break;
			}
			ba->last = (uint32_t)(b->nrec - 1);
		}
		rc = rc ? rc : kg_buf_putc(&b->out, '\n');
	}
	return rc;
}

static int batch_decide_job(kg_tx *tx, void *ctx, kg_err *err)
{
	return batch_decide(ctx, tx, err);
}

struct blob_key {
	const char *account;
	uint32_t rec;
};

static int cmp_blob_key(const void *x, const void *y)
{
	return strcmp(((const struct blob_key *)x)->account, ((const struct blob_key *)y)->account);
}

/* The blob of each account after its last event of the batch, on that
 * event's record; the write takes them in account order. An account whose
 * record went (or came back) from under the batch — a failed write of
 * another caller dropped it — fails the batch: its events may be missing
 * from what would be written. */
static int batch_snapshot(struct kg_risk_batch *b, kg_err *err)
{
	kg_risk *r = b->r;
	struct scratch *sc = scratch_get(r);
	if (!sc)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	if (!(b->blob_recs = malloc((b->nrec ? b->nrec : 1) * sizeof(*b->blob_recs))))
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	size_t *offs = malloc((b->nrec ? b->nrec : 1) * sizeof(*offs));
	if (!offs)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t k = 0; k < b->acap && !rc; k++) {
		struct batch_acct *ba = &b->accts[k];
		if (!ba->ah || ba->last == UINT32_MAX)
			continue;
		struct kg_risk_record *rec = &b->recs[ba->last];
		kg_str id = {rec->account, rec->account_len};
		uint64_t ah = kg_risk_hash(id.p, id.n);
		struct stripe *st = &r->stripes[ah % STRIPES];
		pthread_mutex_lock(&st->mu);
		struct acct *a = acct_find(st, ah, id);
		size_t off = b->blobs.len;
		if (a != rec->acct)
			rc = kg_err_set(err, KG_EBUSY,
					"account %s changed under the batch (a concurrent write "
					"failed); nothing of the batch was written", rec->account);
		else if ((rc = kg_features_save(&a->f, &b->blobs)))
			kg_err_set(err, rc, "feature state too large");
		pthread_mutex_unlock(&st->mu);
		offs[b->n_blob] = off;
		rec->blob_len = b->blobs.len - off;
		b->blob_recs[b->n_blob++] = ba->last;
	}
	for (size_t i = 0; i < b->n_blob && !rc; i++) /* blobs has stopped moving */
		b->recs[b->blob_recs[i]].blob = b->blobs.data + offs[i];
	free(offs);
	struct blob_key *keys = rc ? NULL : malloc((b->n_blob ? b->n_blob : 1) * sizeof(*keys));
	if (!rc && !keys)
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < b->n_blob; i++)
		keys[i] = (struct blob_key){b->recs[b->blob_recs[i]].account, b->blob_recs[i]};
	if (!rc)
		qsort(keys, b->n_blob, sizeof(*keys), cmp_blob_key);
	for (size_t i = 0; !rc && i < b->n_blob; i++)
		b->blob_recs[i] = keys[i].rec;
	free(keys);
	return rc;
}

void kg_risk_batch_free(kg_risk_batch *b)
{
	if (!b)
		return;
	if (b->ticket && !b->settled) /* not finished: wait (the write reads b) */
		kg_risk_batch_finish(b->r, b, NULL, NULL);
	kg_store_ticket_free(b->ticket);
	for (size_t i = 0; i < b->nrec; i++)
		kg_risk_record_release(&b->recs[i]);
	free(b->recs);
	free(b->accts);
	free(b->blob_recs);
	kg_arena_release(&b->arena);
	kg_arena_release(&b->scratch);
	kg_buf_release(&b->out);
	kg_buf_release(&b->blobs);
	free(b);
}

int kg_risk_batch_start(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
			kg_risk_batch *after, kg_risk_batch **out, kg_err *err)
{
	*out = NULL;
	kg_risk_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	b->r = r;
	b->events = events;
	b->lens = lens;
	b->n = n;
	b->after = after;
	kg_arena_init(&b->arena, n < 1024 ? 16 * 1024 : 256 * 1024); /* ids, decisions */
	kg_arena_init(&b->scratch, 64 * 1024);
	kg_buf_init(&b->out, KG_HTTP_BATCH_BODY_MAX);
	kg_buf_init(&b->blobs, SIZE_MAX / 2);
	int rc = 0;
	if (!r->store) {
		rc = batch_decide(b, NULL, err);
		goto done;
	}
	b->acap = 16;
	while (b->acap < n * 2)
		b->acap *= 2;
	b->recs = calloc(n ? n : 1, sizeof(*b->recs));
	b->accts = calloc(b->acap, sizeof(*b->accts));
	if (!b->recs || !b->accts) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto done;
	}
	rc = kg_store_read(r->store, batch_decide_job, b, err);
	if (!rc)
		rc = batch_snapshot(b, err);
	if (!rc && (b->nrec || after)) {
		for (size_t i = 0; i < b->nrec; i++)
			if (!b->recs[i].own_decision)
				b->recs[i].decision = b->out.data + b->recs[i].out_off;
		b->w = (struct kg_risk_write){b->recs, b->nrec, b->blob_recs, b->n_blob,
					      r->lock_hook, r->lock_ctx};
		rc = kg_risk_persist_start(r->store, &b->w, after ? after->ticket : NULL,
					   &b->ticket, err);
	}
done:
	if (rc) {
		settle(r, b->recs, b->nrec, false);
		b->settled = true;
		kg_risk_batch_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Puts the stored form of decisions whose lock was an existing one (the
 * write named it) into the answer. */
static int patch_reused_locks(kg_buf *out, size_t out_start, struct kg_risk_record *recs,
			      size_t n, kg_err *err)
{
	size_t k = 0;
	while (k < n && !recs[k].lock_reused)
		k++;
	if (k == n)
		return 0;
	kg_buf nb = KG_BUF_INIT(out->max);
	size_t at = out_start;
	int rc = kg_buf_append(&nb, out->data, out_start);
	for (; !rc && k < n; k++) {
		if (!recs[k].lock_reused)
			continue;
		rc = kg_buf_append(&nb, out->data + at, recs[k].out_off - at);
		rc = rc ? rc : kg_buf_append(&nb, recs[k].decision, recs[k].decision_len);
		at = recs[k].out_off + recs[k].out_len;
	}
	rc = rc ? rc : kg_buf_append(&nb, out->data + at, out->len - at);
	if (rc) {
		kg_buf_release(&nb);
		return kg_err_set(err, rc, "answer too large");
	}
	kg_buf_release(out);
	*out = nb;
	return 0;
}

int kg_risk_batch_finish(kg_risk *r, kg_risk_batch *b, kg_buf *out, kg_err *err)
{
	int rc = 0;
	/* a batch queued after this one may still point at the ticket: it is
	 * freed with the batch */
	if (b->ticket)
		rc = kg_store_write_wait(r->store, b->ticket, err);
	if (!b->settled) {
		settle(r, b->recs, b->nrec, rc == 0);
		b->settled = true;
	}
	if (!rc)
		rc = patch_reused_locks(&b->out, 0, b->recs, b->nrec, err);
	if (!rc && out && (rc = kg_buf_append(out, b->out.data ? b->out.data : "", b->out.len)))
		kg_err_set(err, rc, "answer too large");
	return rc;
}

int kg_risk_batch_refusal(const kg_risk_batch *b, kg_err *err)
{
	if (b->parse_err.code && err)
		*err = b->parse_err;
	return b->parse_err.code;
}

int kg_risk_decide_batch(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
			 kg_buf *out, kg_err *err)
{
	kg_risk_batch *b = NULL;
	int rc = kg_risk_batch_start(r, events, lens, n, NULL, &b, err);
	if (!rc)
		rc = kg_risk_batch_finish(r, b, out, err);
	kg_risk_batch_free(b);
	return rc;
}

int kg_risk_decide(kg_risk *r, const char *json, size_t len, kg_buf *out, kg_err *err)
{
	const char *one[1] = {json};
	size_t lens[1] = {len};
	if (!r->store) {
		struct scratch *sc = scratch_get(r);
		const kg_event *ev;
		bool dup;
		if (!sc)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		uint8_t body[KG_EVENT_HASH_BYTES];
		int rc = kg_event_parse(sc->parser, json, len, &ev, err);
		if (!rc)
			rc = check_ts(r, ev, err);
		if (!rc && (rc = kg_event_body_hash(sc->parser, body)))
			kg_err_field(err, rc, "", "the event cannot be hashed");
		if (rc)
			return rc;
		return decide_locked(r, sc, ev, scratch_policy(r, sc), body, NULL, NULL, out, NULL,
				     &dup, err);
	}
	/* with a store: a batch of one, whose refusal (parse error, conflict)
	 * comes back as an error (nothing was stored for it) */
	size_t start = out->len;
	kg_risk_batch *b = NULL;
	int rc = kg_risk_batch_start(r, one, lens, 1, NULL, &b, err);
	if (!rc && b->parse_err.code) {
		rc = b->parse_err.code;
		if (err)
			*err = b->parse_err;
	} else if (!rc) {
		rc = kg_risk_batch_finish(r, b, out, err);
	}
	kg_risk_batch_free(b);
	if (!rc && out->len > start && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
	return rc;
}

int kg_risk_roundtrip_state(kg_risk *r, kg_err *err)
{
	kg_buf b = KG_BUF_INIT(64 * 1024 * 1024);
	int rc = 0;
	for (int i = 0; i < STRIPES && !rc; i++) {
		struct stripe *st = &r->stripes[i];
		pthread_mutex_lock(&st->mu);
		for (size_t k = 0; k < st->acap && !rc; k++)
			for (struct acct *a = st->accts[k]; a && !rc; a = a->next) {
				kg_buf_reset(&b);
				rc = kg_features_save(&a->f, &b);
				if (!rc)
					rc = kg_features_load(&a->f, b.data, b.len, err);
			}
		pthread_mutex_unlock(&st->mu);
	}
	kg_buf_release(&b);
	return rc;
}

void kg_risk_stats(kg_risk *r, struct kg_risk_stats *out)
{
	memset(out, 0, sizeof(*out));
	kg_buf b = KG_BUF_INIT(64 * 1024 * 1024);
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *st = &r->stripes[i];
		pthread_mutex_lock(&st->mu);
		for (size_t k = 0; k < st->acap; k++)
			for (struct acct *a = st->accts[k]; a; a = a->next) {
				out->accounts++;
				out->feature_mem_bytes += kg_features_mem_bytes(&a->f);
				kg_buf_reset(&b);
				if (!kg_features_save(&a->f, &b))
					out->feature_blob_bytes += b.len;
			}
		pthread_mutex_unlock(&st->mu);
	}
	out->events = atomic_load_explicit(&r->events, memory_order_relaxed);
	kg_buf_release(&b);
}
