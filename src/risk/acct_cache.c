/* The account cache: STRIPES stripes, each a mutex over a chained,
 * power-of-two hash table of accounts (struct acct, keyed by
 * kg_risk_hash of the id; bucket = (h >> 8) & (cap - 1), doubled when it
 * holds as many accounts as buckets), and in each account the block of its
 * decided events (struct seen; engine_impl.h draws it).
 * Invariants, checked where they matter:
 * - an account is in exactly one stripe, h % STRIPES, and found by (h, id);
 * - every operation here runs under that stripe's lock;
 * - with a store a seen entry is pending (in flight) from its decision to
 *   the end of its batch's write: then it is forgotten (the store has it)
 *   or, if the write failed, the whole account is dropped (its state holds
 *   events that were not stored) — kg_risk_settle;
 * - without a store entries stay for good and their decisions live in the
 *   stripe's arena.
 * kg_risk_check_cache walks the whole cache and checks them (the tests
 * call it after concurrent runs). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/engine_impl.h"
#include "store/store.h"

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

int kg_risk_seen_add(kg_risk *r, struct stripe *st, struct acct *a, uint64_t h, uint64_t h2,
		     const uint8_t *body, const struct kg_decision *d)
{
	int rc;
	if (a->n_seen == a->cap_seen && (rc = seen_grow(a)))
		return rc;
	a->seen_h[a->n_seen] = h;
	struct seen *s = &seen_rest(a)[a->n_seen];
	s->h2 = h2;
	s->decision = NULL;
	memcpy(s->body, body, KG_EVENT_HASH_BYTES);
	if (d) {
		size_t size = kg_risk_decision_size(d);
		void *block = r->store ? malloc(size) : kg_arena_alloc(&st->arena, size);
		s->decision = block ? kg_risk_decision_copy(d, block) : NULL;
		if (!s->decision)
			return KG_ENOMEM;
	}
	if (seen_indexed(a))
		seen_index_put(a, h, a->n_seen);
	a->n_seen++;
	return 0;
}

/* Forgets (h, h2): the last entry moves into its place. */
void kg_risk_seen_remove(kg_risk *r, struct acct *a, uint64_t h, uint64_t h2)
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

void kg_risk_acct_free(kg_risk *r, struct acct *a)
{
	if (r->store)
		for (uint32_t i = 0; i < a->n_seen; i++)
			free(seen_rest(a)[i].decision);
	free(a->seen_h);
	free(a->mine);
	kg_features_release(&a->f);
	free(a);
}

void kg_risk_mine_add(struct acct *a, uint64_t h2)
{
	if (!a->own)
		return;
	uint32_t n = a->n_mine;
	if (n == MINE_MAX || (n >= 4 && !(n & (n - 1))) || !n) { /* full: twice as large */
		uint32_t *m = n < MINE_MAX ? realloc(a->mine, (n ? 2 * n : 4) * sizeof(*m)) : NULL;
		if (!m) { /* past the bound (or no memory): look every id up again */
			free(a->mine);
			a->mine = NULL;
			a->n_mine = 0;
			a->own = false;
			return;
		}
		a->mine = m;
	}
	a->mine[a->n_mine++] = (uint32_t)h2;
}

bool kg_risk_acct_unstored(kg_risk *r, kg_str account, uint64_t ah, uint64_t h2)
{
	bool cached;
	return kg_risk_acct_unstored_cached(r, account, ah, h2, &cached);
}

bool kg_risk_acct_unstored_cached(kg_risk *r, kg_str account, uint64_t ah, uint64_t h2,
				  bool *cached)
{
	struct stripe *st = &r->stripes[ah % STRIPES];
	bool unstored = false;
	pthread_mutex_lock(&st->mu);
	struct acct *a = acct_find(st, ah, account);
	*cached = a != NULL;
	if (a && a->own) {
		uint32_t tag = (uint32_t)h2;
		unstored = true;
		for (uint32_t i = 0; i < a->n_mine && unstored; i++)
			unstored = a->mine[i] != tag;
	}
	pthread_mutex_unlock(&st->mu);
	return unstored;
}

int kg_risk_acct_get(kg_risk *r, struct stripe *st, uint64_t h, kg_str id,
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
	if (pre && pre->have_blob) {
		a->ver = pre->blob_ver;
		a->own = pre->absent && !kg_store_shared(r->store);
		rc = pre->blob ? kg_features_load(&a->f, pre->blob, pre->blob_len, err) : 0;
	} else if (r->store) {
		rc = kg_risk_persist_load_features(r->store, a->id, &a->f, &a->ver, err);
	}
	if (rc) {
		kg_risk_acct_free(r, a);
		return rc;
	}
	size_t b = (h >> 8) & (st->acap - 1);
	a->next = st->accts[b];
	st->accts[b] = a;
	st->an++;
	*out = a;
	return 0;
}

void kg_risk_acct_drop(kg_risk *r, struct stripe *st, uint64_t h, const char *id)
{
	if (!st->acap)
		return;
	struct acct **pp = &st->accts[(h >> 8) & (st->acap - 1)];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->h == h && !strcmp((*pp)->id, id)) {
			struct acct *a = *pp;
			*pp = a->next;
			st->an--;
			kg_risk_acct_free(r, a);
			return;
		}
	}
}

bool kg_risk_acct_version(void *ctx, const struct kg_risk_record *rec, int64_t expect,
			  int64_t next)
{
	kg_risk *r = ctx;
	kg_str id = {rec->account, rec->account_len};
	uint64_t ah = kg_risk_hash(id.p, id.n);
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	struct acct *a = acct_find(st, ah, id);
	bool ok = a && a == rec->acct && a->ver == expect;
	if (ok)
		a->ver = next;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

bool kg_risk_acct_cached(kg_risk *r, kg_str account)
{
	uint64_t ah = kg_risk_hash(account.p, account.n);
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	bool cached = acct_find(st, ah, account) != NULL;
	pthread_mutex_unlock(&st->mu);
	return cached;
}


/* The invariants of one account's seen block: each entry is found by its
 * hashes, through the index when there is one. */
static int check_seen(struct acct *a, kg_err *err)
{
	if (a->n_seen > a->cap_seen)
		return kg_err_set(err, KG_EINTERNAL, "account %s: %u seen entries in %u", a->id,
				  a->n_seen, a->cap_seen);
	for (uint32_t i = 0; i < a->n_seen; i++)
		if (seen_find(a, a->seen_h[i], seen_rest(a)[i].h2) != &seen_rest(a)[i])
			return kg_err_set(err, KG_EINTERNAL, "account %s: seen entry %u not found",
					  a->id, i);
	return 0;
}

int kg_risk_check_cache(kg_risk *r, kg_err *err)
{
	int rc = 0;
	for (int i = 0; i < STRIPES && !rc; i++) {
		struct stripe *st = &r->stripes[i];
		pthread_mutex_lock(&st->mu);
		size_t n = 0;
		if (st->acap & (st->acap - 1))
			rc = kg_err_set(err, KG_EINTERNAL, "stripe %d: %zu buckets", i, st->acap);
		for (size_t k = 0; k < st->acap && !rc; k++)
			for (struct acct *a = st->accts[k]; a && !rc; a = a->next, n++) {
				if (a->h != kg_risk_hash(a->id, a->id_len) || a->h % STRIPES != (uint64_t)i ||
				    ((a->h >> 8) & (st->acap - 1)) != k)
					rc = kg_err_set(err, KG_EINTERNAL,
							"account %s in the wrong stripe or bucket", a->id);
				else if (acct_find(st, a->h, (kg_str){a->id, a->id_len}) != a)
					rc = kg_err_set(err, KG_EINTERNAL, "account %s not found", a->id);
				else
					rc = check_seen(a, err);
			}
		if (!rc && n != st->an)
			rc = kg_err_set(err, KG_EINTERNAL, "stripe %d counts %zu accounts, holds %zu", i,
					st->an, n);
		pthread_mutex_unlock(&st->mu);
	}
	return rc;
}
