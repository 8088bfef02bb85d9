/* The engine's current policy: swapped atomically by a reload while
 * requests in flight finish on the old one; each thread keeps a reference
 * until the generation moves, and its scratch (parser, verdict, buffers).
 * The store lists of a policy are snapshotted with it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/engine_impl.h"
#include "store/store.h"

void kg_risk_scratch_free(void *p)
{
	struct scratch *s = p;
	if (!s)
		return;
	kg_policy_unref(s->pol);
	kg_event_parser_free(s->parser);
	kg_verdict_release(&s->verdict);
	kg_buf_release(&s->blob);
	kg_buf_release(&s->text);
	kg_buf_release(&s->norm);
	free(s);
}

struct scratch *kg_risk_scratch_get(kg_risk *r)
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
	kg_buf_init(&s->text, KG_EVENT_BYTES_MAX * 4);
	kg_buf_init(&s->norm, KG_EVENT_BYTES_MAX * 4);
	pthread_setspecific(r->tls, s);
	return s;
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
kg_policy *kg_risk_scratch_policy(kg_risk *r, struct scratch *sc)
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

