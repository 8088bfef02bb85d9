/* The guard's series on GET /metrics (docs/operations.md "Metrics"). What
 * the store knows is read from it, so it is true across restarts and the
 * same on every node: the breaker's state, the open incidents, each rule's
 * detector (S and baseline, the rules of the policy loaded last only, and
 * "*" for all rules). That read is kept KG_GUARD_METRICS_CACHE_MS, or until
 * this process trips, re-arms, resets or reverts. What happens is counted
 * in this process, from 0 at its start: trips by trigger, holds by reason
 * and rule, locks lifted by reverts, apologies queued. */
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/counters.h"
#include "guard/guard_impl.h"

#define KG_GUARD_METRICS_CACHE_MS 5000
#define POLICY_RULES_MAX 4096 /* rules of a policy given a detector series */

static kg_counters trips = KG_COUNTERS_INIT(
	"kagi_guard_breaker_trips_total",
	"Trips of the breaker in this process, by trigger (cusum: a rule's or all rules' detector; max_locks: the hard cap).",
	"trigger", NULL);
static kg_counters holds = KG_COUNTERS_INIT(
	"kagi_guard_holds_total",
	"Decisions that would have locked, held by the tripped breaker in this process, by lock reason and rule.",
	"reason", "rule");
static _Atomic uint64_t reverted_locks, apologies_queued;
static _Atomic uint64_t generation;

void kg_guard_metrics_trip(const char *trigger)
{
	kg_counters_add(&trips, trigger, NULL, 1);
}

void kg_guard_metrics_hold(const char *reason, const char *rule)
{
	kg_counters_add(&holds, reason, rule, 1);
}

void kg_guard_metrics_reverted(int64_t locks, int64_t apologies)
{
	if (locks > 0)
		atomic_fetch_add_explicit(&reverted_locks, (uint64_t)locks, memory_order_relaxed);
	if (apologies > 0)
		atomic_fetch_add_explicit(&apologies_queued, (uint64_t)apologies, memory_order_relaxed);
}

void kg_guard_metrics_changed(void)
{
	atomic_fetch_add_explicit(&generation, 1, memory_order_relaxed);
}

/* A label value: \, " and newline escaped. */
static int put_label(kg_buf *out, const char *v)
{
	int rc = 0;
	for (const char *p = v; *p && rc == 0; p++)
		rc = *p == '\\' ? kg_buf_puts(out, "\\\\") : *p == '"' ? kg_buf_puts(out, "\\\"")
		   : *p == '\n' ? kg_buf_puts(out, "\\n") : kg_buf_putc(out, *p);
	return rc;
}

struct read_job {
	kg_buf *out;
};

/* The rules of the policy loaded last ({name: hash}; NULL: none recorded). */
static json_t *policy_rules(kg_tx *tx, kg_arena *a, kg_err *err)
{
	kg_guard_row last, v;
	if (kg_tx_guard_get(tx, "policy", "last", &last, a, err) || !last.value ||
	    kg_tx_guard_get(tx, "policy", last.value, &v, a, err)) {
		kg_err_clear(err);
		return NULL;
	}
	json_t *j = json_loads(v.value ? v.value : "{}", 0, NULL);
	json_t *rules = json_incref(json_object_get(j, "rules"));
	json_decref(j);
	return rules;
}

static int read_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct read_job *j = ctx;
	kg_buf *out = j->out;
	kg_arena a;
	kg_arena_init(&a, 4096);
	json_t *rules = NULL;
	kg_guard_row st;
	int rc = kg_tx_guard_get(tx, "breaker", "state", &st, &a, err);
	if (rc == KG_ENOTFOUND) { /* before the store's first automatic lock */
		kg_err_clear(err);
		st = (kg_guard_row){"breaker", "state", NULL, 0, 0};
		rc = 0;
	}
	kg_incident *incs = NULL;
	size_t ninc = 0;
	if (rc || (rc = kg_tx_incident_list(tx, "open", 0, &a, &incs, &ninc, err)))
		goto cleanup;
	int64_t oldest = 0;
	for (size_t i = 0; i < ninc; i++) {
		int64_t t = incs[i].detected_ms ? incs[i].detected_ms : incs[i].created_ms;
		if (!oldest || t < oldest)
			oldest = t;
	}
	rc = kg_buf_printf(out,
			   "# HELP kagi_guard_breaker_tripped The breaker's state in the store: 0 armed, 1 tripped.\n"
			   "# TYPE kagi_guard_breaker_tripped gauge\nkagi_guard_breaker_tripped %d\n"
			   "# HELP kagi_guard_incidents_open Incidents of the store in state open (not reverted or closed).\n"
			   "# TYPE kagi_guard_incidents_open gauge\nkagi_guard_incidents_open %zu\n"
			   "# HELP kagi_guard_oldest_open_incident_timestamp_seconds When the oldest open incident was opened (Unix time; 0: none open).\n"
			   "# TYPE kagi_guard_oldest_open_incident_timestamp_seconds gauge\n"
			   "kagi_guard_oldest_open_incident_timestamp_seconds %.3f\n",
			   st.n == 1 ? 1 : 0, ninc, (double)oldest / 1e3);
	kg_guard_row *rows = NULL;
	size_t n = 0;
	if (rc || (rc = kg_tx_guard_list(tx, "cusum", "", "~", 0, &a, &rows, &n, err)))
		goto cleanup;
	rules = policy_rules(tx, &a, err);
	double *s = kg_arena_alloc(&a, (n ? n : 1) * sizeof(*s));
	double *base = kg_arena_alloc(&a, (n ? n : 1) * sizeof(*base));
	bool *keep = kg_arena_alloc(&a, (n ? n : 1) * sizeof(*keep));
	if (!s || !base || !keep) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	size_t kept = 0;
	int64_t warm_until = kg_guard_warm_until(rows, n);
	for (size_t i = 0; i < n; i++) {
		struct kg_guard_cusum c;
		c.floor = kg_guard_floor(rows[i].key);
		c.warm_until = warm_until;
		keep[i] = rows[i].value && !kg_guard_cusum_parse(rows[i].value, &c) &&
			  (!strcmp(rows[i].key, "*") ||
			   (json_object_get(rules, rows[i].key) && kept < POLICY_RULES_MAX));
		if (!keep[i])
			continue;
		kept++;
		/* as GET /v1/guard gives it: as of the minute of the last lock counted */
		s[i] = kg_guard_cusum_peek(&c, c.minute);
		base[i] = c.base > c.floor ? c.base : c.floor;
	}
	rc = kg_buf_puts(out, "# HELP kagi_guard_cusum_statistic The detector's S of each rule of the policy (rule \"*\": all rules), as of the event-time minute of its last automatic lock; it trips above kagi_guard_cusum_threshold.\n"
			      "# TYPE kagi_guard_cusum_statistic gauge\n");
	for (size_t i = 0; i < n && !rc; i++)
		if (keep[i]) {
			rc = kg_buf_puts(out, "kagi_guard_cusum_statistic{rule=\"");
			rc = rc ? rc : put_label(out, rows[i].key);
			rc = rc ? rc : kg_buf_printf(out, "\"} %.6g\n", s[i]);
		}
	rc = rc ? rc : kg_buf_puts(out, "# HELP kagi_guard_cusum_baseline_locks_per_minute The detector's baseline of each rule of the policy (rule \"*\": all rules): automatic locks per minute, at least the floor.\n"
				   "# TYPE kagi_guard_cusum_baseline_locks_per_minute gauge\n");
	for (size_t i = 0; i < n && !rc; i++)
		if (keep[i]) {
			rc = kg_buf_puts(out, "kagi_guard_cusum_baseline_locks_per_minute{rule=\"");
			rc = rc ? rc : put_label(out, rows[i].key);
			rc = rc ? rc : kg_buf_printf(out, "\"} %.6g\n", base[i]);
		}
cleanup:
	json_decref(rules);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_metrics_render(kg_guard *g, kg_buf *out)
{
	int rc = 0;
	pthread_mutex_lock(&g->metrics_mu);
	uint64_t now = kg_mono_ns(), gen = atomic_load(&generation);
	if (!g->metrics_ns || now - g->metrics_ns >= (uint64_t)KG_GUARD_METRICS_CACHE_MS * 1000000u ||
	    gen != g->metrics_gen) {
		kg_err err;
		kg_err_clear(&err);
		g->metrics_text.len = 0;
		struct read_job j = {&g->metrics_text};
		if (kg_store_read(g->store, read_job, &j, &err)) {
			g->metrics_ns = 0; /* not kept: the next scrape reads again */
			rc = kg_buf_printf(out, "# guard state not read: %s\n", kg_code_name(err.code));
		} else {
			g->metrics_ns = now ? now : 1;
			g->metrics_gen = gen;
		}
	}
	if (g->metrics_ns)
		rc = kg_buf_append(out, g->metrics_text.data, g->metrics_text.len);
	pthread_mutex_unlock(&g->metrics_mu);
	rc = rc ? rc : kg_buf_printf(out,
			   "# HELP kagi_guard_breaker_enabled breaker.enabled: 1 holds decisions that would lock while tripped, 0 only watches.\n"
			   "# TYPE kagi_guard_breaker_enabled gauge\nkagi_guard_breaker_enabled %d\n"
			   "# HELP kagi_guard_cusum_threshold The detector's h: a rule trips when its S is above it.\n"
			   "# TYPE kagi_guard_cusum_threshold gauge\nkagi_guard_cusum_threshold %g\n",
			   g->p.enabled ? 1 : 0, KG_GUARD_CUSUM_H);
	kg_counters_add(&trips, "cusum", NULL, 0); /* both triggers, 0 until seen */
	kg_counters_add(&trips, "max_locks", NULL, 0);
	rc = rc ? rc : kg_counters_render(&trips, out);
	rc = rc ? rc : kg_counters_render(&holds, out);
	return rc ? rc : kg_buf_printf(out,
			   "# HELP kagi_guard_reverted_locks_total Automatic locks lifted by incident reverts run in this process.\n"
			   "# TYPE kagi_guard_reverted_locks_total counter\nkagi_guard_reverted_locks_total %llu\n"
			   "# HELP kagi_guard_apologies_queued_total Apologies (message and mail) queued by incident reverts run in this process.\n"
			   "# TYPE kagi_guard_apologies_queued_total counter\nkagi_guard_apologies_queued_total %llu\n",
			   (unsigned long long)atomic_load(&reverted_locks),
			   (unsigned long long)atomic_load(&apologies_queued));
}
