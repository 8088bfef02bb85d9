/* Warming the engine's caches ahead of a decision (replay), and the cheap
 * account hint of an event line it runs on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "risk/engine_impl.h"
#include "risk/entity.h"
#include "store/store.h"

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


void kg_risk_warm_entity(kg_risk *r, int kind, uint64_t key, int stage)
{
	kg_entities_warm(r->ents, (enum kg_entity_kind)kind, key, stage);
}

/* The first ':' in [p, e), or NULL: 16 bytes at a time (the colons of a
 * line lie some 30 bytes apart, too close for memchr's call to pay). */
static inline const char *next_colon(const char *p, const char *e)
{
#ifdef __SSE2__
	for (; e - p >= 16; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')));
		if (m)
			return p + __builtin_ctz(m);
	}
#endif
	for (; p < e; p++)
		if (*p == ':')
			return p;
	return NULL;
}

void kg_risk_entity_touch(kg_risk *r, uint8_t touch[KG_EV_TYPE_COUNT])
{
	struct scratch *sc = kg_risk_scratch_get(r);
	const kg_policy *pol = sc ? kg_risk_scratch_policy(r, sc) : NULL;
	for (int t = 0; t < KG_EV_TYPE_COUNT; t++) {
		touch[t] = 0;
		for (int k = 0; k < KG_ENT_COUNT; k++) {
			if (!(kg_entity_event_types((enum kg_entity_kind)k) >> t & 1))
				continue;
			if (!pol || kg_policy_entity_reads(pol, t) >> k & 1 ||
			    (kg_policy_entity_streams(pol, k) &
			     kg_entity_type_streams((enum kg_entity_kind)k, t)))
				touch[t] |= (uint8_t)(1u << k);
		}
	}
}

/* Each colon whose key, just before it, is one of the three (told apart
 * by the key's last letter first: most colons are not theirs). The
 * event's type, when met first (it usually is), says which kinds it can
 * touch (touch; NULL: the kinds it carries, entity.c
 * kg_entity_event_types): the scan stops when it has them, at once for a
 * type that touches none. */
int kg_risk_entity_hints(const char *line, size_t len, const uint8_t *touch,
			 uint8_t kinds[KG_RISK_ENT_HINTS], uint64_t keys[KG_RISK_ENT_HINTS])
{
	const char *s = line, *e = s + len;
	const unsigned hinted = 1u << KG_ENT_IP | 1u << KG_ENT_DEVICE | 1u << KG_ENT_CARD;
	unsigned want = 0;
	for (int t = 0; t < KG_EV_TYPE_COUNT; t++)
		want |= touch ? touch[t] : kg_entity_type_kinds(t);
	want &= hinted;
	bool typed = false;
	int n = 0;
	for (const char *p = s; want && n < KG_RISK_ENT_HINTS && (p = next_colon(p, e)); p++) {
		if (p - s < 4 || p[-1] != '"' || e - p < 2 || p[1] != '"')
			continue;
		const char *key;
		size_t kn;
		enum kg_entity_kind kind;
		switch (p[-2]) {
		case 'e':
			if (typed || p - s < 6 || memcmp(p - 6, "\"type\"", 6))
				continue;
			typed = true;
			want = 0;
			for (int t = 0; t < KG_EV_TYPE_COUNT; t++) {
				const char *name = kg_event_type_name((enum kg_event_type)t);
				size_t nn = strlen(name);
				if (p[2] != name[0] || (size_t)(e - p - 2) <= nn ||
				    memcmp(p + 2, name, nn) || p[2 + nn] != '"')
					continue;
				want = (touch ? touch[t] : kg_entity_type_kinds(t)) & hinted;
				break;
			}
			continue;
		case 'p': key = "\"ip\""; kn = 4; kind = KG_ENT_IP; break;
		case 'd': key = "\"device_id\""; kn = 11; kind = KG_ENT_DEVICE; break;
		case 't': key = "\"fingerprint\""; kn = 13; kind = KG_ENT_CARD; break;
		default: continue;
		}
		if (!(want & 1u << kind) || (size_t)(p - s) < kn || memcmp(p - kn, key, kn))
			continue;
		const char *a = p + 2, *q = memchr(a, '"', (size_t)(e - a));
		if (q && q > a) {
			kinds[n] = (uint8_t)kind;
			keys[n++] = kg_entity_key_of(kind, a, (size_t)(q - a));
			if (typed) /* one of each kind an event carries */
				want &= ~(1u << kind);
		}
	}
	return n;
}
