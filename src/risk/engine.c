/* The risk engine object: made on a policy (and a store), freed, its
 * settings, and counts over its cache. Its parts, one concern a file:
 * policy_swap.c (the current policy, per-thread scratch), acct_cache.c (the
 * account cache), decide.c (one event), batch.c (batches with a store),
 * warm.c (cache warming). Not here: parsing (event.c), rules (rules.c),
 * features (features.c), the JSON of a decision (decision.c). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/engine_impl.h"
#include "store/store.h"

int kg_risk_new(kg_policy *policy, struct kg_store *store, kg_risk **out, kg_err *err)
{
	kg_risk *r = calloc(1, sizeof(*r));
	if (!r)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	if (pthread_key_create(&r->tls, kg_risk_scratch_free)) {
		free(r);
		return kg_err_set(err, KG_ENOMEM, "no thread key");
	}
	pthread_mutex_init(&r->pol_mu, NULL);
	pthread_mutex_init(&r->settle_mu, NULL);
	pthread_cond_init(&r->settle_cv, NULL);
	pthread_mutex_init(&r->write_mu, NULL);
	r->pol = kg_policy_ref(policy);
	r->store = store;
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&r->stripes[i].mu, NULL);
		kg_arena_init(&r->stripes[i].arena, 64 * 1024);
	}
	if (kg_entities_new(&r->ents)) {
		kg_risk_free(r);
		return kg_err_set(err, KG_ENOMEM, "out of memory");
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
	kg_risk_batch_spare_free(r);
	kg_risk_scratch_free(pthread_getspecific(r->tls));
	pthread_setspecific(r->tls, NULL);
	pthread_key_delete(r->tls);
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *st = &r->stripes[i];
		for (size_t k = 0; k < st->acap; k++)
			for (struct acct *a = st->accts[k], *n; a; a = n) {
				n = a->next;
				kg_risk_acct_free(r, a);
			}
		free(st->accts);
		kg_arena_release(&st->arena);
		pthread_mutex_destroy(&st->mu);
	}
	kg_entities_free(r->ents);
	kg_policy_unref(r->pol);
	kg_risk_lists_free(atomic_load(&r->lists));
	for (size_t i = 0; i < r->n_old_lists; i++)
		kg_risk_lists_free(r->old_lists[i]);
	free(r->old_lists);
	pthread_mutex_destroy(&r->pol_mu);
	pthread_mutex_destroy(&r->settle_mu);
	pthread_cond_destroy(&r->settle_cv);
	pthread_mutex_destroy(&r->write_mu);
	free(r);
}

void kg_risk_set_ts_ahead_max(kg_risk *r, int64_t ms)
{
	r->ts_ahead_max_ms = ms;
}

/* A parsed event's ts against the clock bound (kg_risk_set_ts_ahead_max). */
int kg_risk_check_ts(const kg_risk *r, const kg_event *ev, kg_err *err)
{
	if (!r->ts_ahead_max_ms || ev->ts_ms <= kg_now_ms() + r->ts_ahead_max_ms)
		return 0;
	return kg_err_field(err, KG_EINVAL, "ts",
			    "ts: more than %lld s ahead of the server's clock",
			    (long long)(r->ts_ahead_max_ms / 1000));
}

void kg_risk_set_lock_hook(kg_risk *r, kg_risk_lock_fn fn, void *ctx)
{
	r->lock_hook = fn;
	r->lock_ctx = ctx;
}

void kg_risk_set_event_hook(kg_risk *r, kg_risk_event_fn fn, void *ctx)
{
	r->event_hook = fn;
	r->event_ctx = ctx;
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
	return rc ? rc : kg_entities_roundtrip(r->ents, err);
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
	kg_entities_stats(r->ents, &out->entities, &out->entity_mem_bytes, &out->entity_blob_bytes);
	kg_buf_release(&b);
}
