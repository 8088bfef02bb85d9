/* Deciding one event: under its account's stripe lock, a retry answers
 * the first decision, a new event updates the features, is evaluated and
 * becomes a typed decision in the caller's arena. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/engine_impl.h"
#include "risk/metrics.h"
#include "store/store.h"

/* ---- decisions -------------------------------------------------------------- */
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

/* The verdict as a decision of ev, in a (the verdict's strings already
 * are: kg_verdict.a). */
static int verdict_decision(const kg_event *ev, const struct kg_verdict *v, kg_policy *pol,
			    kg_arena *a, struct kg_decision *d)
{
	if (kg_risk_decision_plain(ev, a, d))
		return KG_ENOMEM;
	memcpy(d->policy_version, kg_policy_version(pol), sizeof(d->policy_version));
	d->action = v->action;
	d->score = v->score;
	if (v->n_reasons) {
		struct kg_reason *rs = kg_arena_alloc(a, v->n_reasons * sizeof(*rs));
		if (!rs)
			return KG_ENOMEM;
		memcpy(rs, v->reasons, v->n_reasons * sizeof(*rs));
		d->reasons = rs;
		d->n_reasons = v->n_reasons;
	}
	if (v->n_shadow) {
		struct kg_shadow_hit *hs = kg_arena_alloc(a, v->n_shadow * sizeof(*hs));
		if (!hs)
			return KG_ENOMEM;
		memcpy(hs, v->shadow, v->n_shadow * sizeof(*hs));
		d->shadow = hs;
		d->n_shadow = v->n_shadow;
	}
	if (v->action == KG_ACT_LOCK) {
		d->has_lock = true;
		kg_risk_lock_id(ev->account.p, ev->account.n, ev->id.p, ev->id.n, d->lock.id);
		memcpy(d->lock.reason, v->lock_reason, sizeof(d->lock.reason));
		d->lock.expires_ms = v->lock_ttl_s ? ev->ts_ms + v->lock_ttl_s * 1000 : 0;
	}
	return 0;
}

/* Decides one parsed event (body: its body hash) under its stripe lock
 * into d (in a); when persisting, fills rec for the store job. */
int kg_risk_decide_locked(kg_risk *r, struct scratch *sc, const kg_event *ev, kg_policy *pol,
			 const uint8_t *body, const struct kg_risk_prefetch *pre,
			 const struct kg_risk_prefetch *blob, kg_arena *da, struct kg_decision *d,
			 struct kg_risk_record *rec, bool *dup, bool *inflight, kg_err *err)
{
	uint64_t ah, idh[2];
	if (pre && pre->hashed) {
		ah = pre->ah;
		idh[0] = pre->idh[0];
		idh[1] = pre->idh[1];
	} else {
		ah = kg_risk_hash(ev->account.p, ev->account.n);
		kg_risk_hash_seed2(ev->id.p, ev->id.n, ID_SEED, ID_SEED2, idh);
	}
	uint64_t h = ah * 31 + idh[0], h2 = idh[1]; /* h is kg_risk_pair_hash */
	struct stripe *st = &r->stripes[ah % STRIPES];
	int rc = 0;
	*dup = false;
	*inflight = false;
	pthread_mutex_lock(&st->mu);
	struct acct *a = NULL;
	if ((rc = kg_risk_acct_get(r, st, ah, ev->account, blob, &a, err)))
		goto cleanup;
	struct seen *s = seen_find(a, h, h2);
	if (s) { /* decided in this process (and, with a store, maybe in flight) */
		if ((rc = check_body(ev, s->body, sizeof(s->body), body, err)))
			goto cleanup;
		*dup = true;
		/* with a store, an entry stays only while its write is in
		 * flight: the apply step may still change that decision (a
		 * breaker hold), and it is not durable yet */
		*inflight = r->store != NULL;
		if (s->decision) {
			void *block = kg_arena_alloc(da, kg_risk_decision_size(s->decision));
			*d = *kg_risk_decision_copy(s->decision, block);
		} else {
			rc = kg_risk_decision_plain(ev, da, d);
		}
		if (rc)
			kg_err_set(err, rc, "out of memory");
		goto cleanup;
	}
	if (pre && pre->account) {
		/* committed earlier (or by another node), as read before the batch */
		if (pre->stored) {
			if ((rc = check_body(ev, pre->stored_hash, pre->stored_hash_len, body, err)))
				goto cleanup;
			*dup = true;
			if ((rc = kg_risk_decision_stored(ev, pre->stored, strlen(pre->stored), da, d)))
				kg_err_set(err, rc, "out of memory");
			goto cleanup;
		}
	} else if (r->store) {
		kg_buf_reset(&sc->text);
		uint8_t stored[KG_EVENT_HASH_BYTES];
		size_t stored_len = 0;
		rc = kg_risk_persist_find_decision(r->store, ev, &sc->text, stored, &stored_len, dup,
						   err);
		if (!rc && *dup && (rc = check_body(ev, stored, stored_len, body, err)))
			*dup = false;
		if (!rc && *dup &&
		    (rc = kg_risk_decision_stored(ev, sc->text.data, sc->text.len, da, d)))
			kg_err_set(err, rc, "out of memory");
		if (rc || *dup)
			goto cleanup;
	}
	/* the entities' table slots load while the features are updated */
	kg_entities_begin(r->ents, ev, kg_policy_entity_streams(pol), &sc->norm, &a->addr_memo,
			  sc->tx ? kg_risk_persist_entity_load : NULL, sc->tx, &sc->ents, err);
	struct kg_update_info info;
	if ((rc = kg_features_update(&a->f, ev, &info))) {
		kg_err_set(err, rc, "feature update failed");
		kg_risk_acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	/* only the streams some rule reads */
	if ((rc = kg_entities_add(r->ents, ev, ah, kg_policy_entity_streams(pol), &sc->ents,
				  err))) {
		kg_risk_acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	info.ents = &sc->ents;
	struct kg_eval_env env = {ev, &a->f, &info, kg_risk_lists_lookup, atomic_load(&r->lists)};
	sc->verdict.a = da;
	if ((rc = kg_policy_eval(pol, &env, &sc->verdict)) || (rc = sc->ents.rc) ||
	    (rc = verdict_decision(ev, &sc->verdict, pol, da, d))) {
		if (!sc->ents.rc) /* an entity's read says what failed itself */
			kg_err_set(err, rc, "policy evaluation failed");
		kg_risk_acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	bool plain = d->action == KG_ACT_ALLOW && !d->n_reasons && !d->n_shadow;
	if ((rc = kg_risk_seen_add(r, st, a, h, h2, body, plain ? NULL : d))) {
		kg_err_set(err, rc, "out of memory");
		kg_risk_acct_drop(r, st, ah, a->id);
		goto cleanup;
	}
	atomic_fetch_add_explicit(&r->events, 1, memory_order_relaxed);
	if (r->store) /* the live engine's (kagid's) counters; not a back-test's */
		kg_risk_metrics_count(d);
	if (rec) { /* the batch fills the rest (kg_risk_record_fill) */
		kg_risk_mine_add(a, h2);
		rec->pending = true;
		rec->h = h;
		rec->h2 = h2;
		rec->ah = ah;
		rec->acct = a;
		memcpy(rec->body_hash, body, KG_EVENT_HASH_BYTES);
		rec->ent_mask = (uint8_t)kg_entity_view_written(&sc->ents, kg_store_shared(r->store));
		for (int k = 0; k < KG_ENT_COUNT; k++)
			if (rec->ent_mask >> k & 1)
				rec->ent_key[k] = sc->ents.key[k];
	}
cleanup:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* After the store job: forget pending entries (the store has them now); on
 * failure also the accounts' cached state (it holds the events that were
 * not stored). */
/* rec's entry forgotten (ok) or its account dropped, under st's lock. */
static void settle_locked(kg_risk *r, struct stripe *st, const struct kg_risk_record *rec, bool ok)
{
	struct acct *a = acct_find(st, rec->ah, (kg_str){rec->account, rec->account_len});
	if (a && ok)
		kg_risk_seen_remove(r, a, rec->h, rec->h2);
	else if (a)
		kg_risk_acct_drop(r, st, rec->ah, a->id);
}

static void settle_entities(kg_risk *r, struct kg_risk_record *rec, bool ok)
{
	for (int k = 0; k < KG_ENT_COUNT && !ok; k++) /* read again from the store */
		if (rec->ent_mask & (1u << k))
			kg_entities_drop(r->ents, k, rec->ent_key[k]);
	rec->pending = false;
}

static unsigned rec_stripe(const void *ctx, size_t i)
{
	return (unsigned)(((const struct kg_risk_record *)ctx)[i].ah % STRIPES);
}

static bool rec_settled(const void *ctx, size_t i)
{
	return !((const struct kg_risk_record *)ctx)[i].pending;
}

/* A batch at least this large is settled stripe by stripe. */
#define SETTLE_GROUPED_MIN 256

void kg_risk_settle(kg_risk *r, struct kg_risk_record *recs, size_t n, bool ok)
{
	uint32_t *order = n >= SETTLE_GROUPED_MIN && n < UINT32_MAX ? malloc(n * sizeof(*order))
								   : NULL;
	if (!order) { /* a small batch (or no memory for the order) */
		for (size_t i = 0; i < n; i++) {
			if (!recs[i].pending)
				continue;
			struct stripe *st = &r->stripes[recs[i].ah % STRIPES];
			pthread_mutex_lock(&st->mu);
			settle_locked(r, st, &recs[i], ok);
			pthread_mutex_unlock(&st->mu);
			settle_entities(r, &recs[i], ok);
		}
	} else {
		/* a big batch's accounts have left the caches by now: its records
		 * are settled stripe by stripe, one lock each; each record and its
		 * account id are loaded, then its account warmed in three stages
		 * (bucket, record, event hashes), SETTLE_AHEAD records apart,
		 * before its entry is forgotten (step j settles record j - 4 *
		 * SETTLE_AHEAD) */
		enum { SETTLE_AHEAD = 4 };
		uint32_t start[STRIPES + 1];
		kg_risk_by_stripe(n, order, start, rec_stripe, rec_settled, recs);
		for (int s = 0; s < STRIPES; s++) {
			const uint32_t *o = order + start[s];
			size_t m = start[s + 1] - start[s];
			if (!m)
				continue;
			struct stripe *st = &r->stripes[s];
			pthread_mutex_lock(&st->mu);
			for (size_t j = 0; j < m + 4 * SETTLE_AHEAD; j++) {
				if (j < m)
					for (size_t off = 0; off < sizeof(*recs) + 63; off += 64)
						__builtin_prefetch((const char *)&recs[o[j]] + off);
				if (j >= SETTLE_AHEAD && j - SETTLE_AHEAD < m)
					__builtin_prefetch(recs[o[j - SETTLE_AHEAD]].account);
				for (size_t stage = 0; stage < 3; stage++) {
					size_t k = j - (stage + 1) * SETTLE_AHEAD;
					const struct kg_risk_record *rk = &recs[o[k < m ? k : 0]];
					if (j >= (stage + 1) * SETTLE_AHEAD && k < m)
						kg_risk_warm_locked(st, rk->ah,
								    (kg_str){rk->account, rk->account_len},
								    (int)stage, WARM_SEEN);
				}
				if (j >= 4 * SETTLE_AHEAD)
					settle_locked(r, st, &recs[o[j - 4 * SETTLE_AHEAD]], ok);
			}
			pthread_mutex_unlock(&st->mu);
			for (size_t j = 0; j < m; j++)
				settle_entities(r, &recs[o[j]], ok);
		}
		free(order);
	}
	pthread_mutex_lock(&r->settle_mu);
	pthread_cond_broadcast(&r->settle_cv);
	pthread_mutex_unlock(&r->settle_mu);
}

bool kg_risk_seen_inflight(kg_risk *r, kg_str account, uint64_t h, uint64_t h2)
{
	uint64_t ah = kg_risk_hash(account.p, account.n);
	struct stripe *st = &r->stripes[ah % STRIPES];
	pthread_mutex_lock(&st->mu);
	struct acct *a = acct_find(st, ah, account);
	bool there = a && seen_find(a, h, h2);
	pthread_mutex_unlock(&st->mu);
	return there;
}

int kg_risk_decide(kg_risk *r, const char *json, size_t len, kg_arena *a,
		   struct kg_decision *out, kg_err *err)
{
	const char *one[1] = {json};
	size_t lens[1] = {len};
	if (!r->store) {
		struct scratch *sc = kg_risk_scratch_get(r);
		const kg_event *ev;
		bool dup, inflight;
		if (!sc)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		uint8_t body[KG_EVENT_HASH_BYTES];
		int rc = kg_event_parse(sc->parser, json, len, &ev, err);
		if (!rc)
			rc = kg_risk_check_ts(r, ev, err);
		if (!rc && (rc = kg_event_body_hash(sc->parser, body)))
			kg_err_field(err, rc, "", "the event cannot be hashed");
		if (rc)
			return rc;
		return kg_risk_decide_locked(r, sc, ev, kg_risk_scratch_policy(r, sc), body, NULL, NULL, a, out,
				     NULL, &dup, &inflight, err);
	}
	/* with a store: a batch of one, whose refusal (parse error, conflict)
	 * comes back as an error (nothing was stored for it) */
	struct kg_risk_answer ans;
	int rc;
	for (int attempt = 0;; attempt++) { /* again when stale: kg_risk_decide_batch */
		kg_risk_batch *b = NULL;
		bool stale;
		rc = kg_risk_batch_try(r, one, lens, 1, a, &ans, NULL, &b, &stale, err);
		if (!rc && kg_risk_batch_refusal(b)->code) {
			rc = kg_risk_batch_refusal(b)->code;
			if (err)
				*err = *kg_risk_batch_refusal(b);
		} else if (!rc) {
			rc = kg_risk_batch_finish(r, b, err);
		}
		bool again = rc == KG_EBUSY && (stale || kg_risk_batch_stale(b)) &&
			     attempt < KG_RISK_STALE_RETRIES;
		kg_risk_batch_free(b);
		if (!again)
			break;
		kg_err_clear(err);
		kg_risk_stale_backoff(attempt);
	}
	if (!rc && !ans.d)
		rc = kg_err_set(err, KG_EINTERNAL, "no decision");
	if (!rc)
		*out = *ans.d;
	return rc;
}

