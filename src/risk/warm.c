/* Warming the engine's caches ahead of a decision (replay), and the cheap
 * account hint of an event line it runs on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/engine_impl.h"
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
	kg_risk_warm_acct(r, ah, account, stage, WARM_FEATURES | WARM_SEEN | WARM_MINE);
}

void kg_risk_warm_acct(kg_risk *r, uint64_t ah, kg_str account, int stage, unsigned what)
{
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	kg_risk_warm_locked(st, ah, account, stage, what);
	pthread_mutex_unlock(&st->mu);
}

void kg_risk_warm_locked(struct stripe *st, uint64_t ah, kg_str account, int stage,
			 unsigned what)
{
	if (!st->acap)
		return;
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
		if (a && (what & WARM_FEATURES))
			kg_features_prefetch(&a->f);
		if (a && (what & WARM_BLOB))
			kg_features_prefetch_blob(&a->f);
		/* the hashes a new event scans (or a settled one is looked for
		 * in); an indexed block is read at the event's own slot, not
		 * known here */
		for (size_t off = 0; a && (what & WARM_SEEN) && !seen_indexed(a) && a->n_seen &&
				     off < a->n_seen * sizeof(uint64_t) + 63;
		     off += 64)
			__builtin_prefetch((const char *)a->seen_h + off);
		/* an own account's ids, scanned before its event is decided
		 * (kg_risk_acct_unstored) */
		for (size_t off = 0; a && (what & WARM_MINE) && a->own && a->mine &&
				     off < a->n_mine * sizeof(uint32_t) && off < 4 * 64;
		     off += 64)
			__builtin_prefetch((const char *)a->mine + off);
	}
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

