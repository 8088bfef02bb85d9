/* Private to src/guard: what breaker.c, incident.c and versions.c share. */
#ifndef KG_GUARD_IMPL_H
#define KG_GUARD_IMPL_H

#include <pthread.h>

#include "guard/guard.h"

#define KG_GUARD_KEY_MAX 192

struct kg_guard {
	kg_store *store;
	struct kg_guard_params p;
	const kg_config *notice_cfg;
	kg_guard_feed *feed; /* this node's summary of the events (feed.c) */
	/* the open incident whose feed section this node refreshes, and the
	 * event-time minute of its next refresh (breaker.c feed_refresh) */
	pthread_mutex_t feed_mu;
	char feed_inc[KG_STORE_ID_MAX];
	int64_t feed_due;
	/* /metrics: the gauges read from the store, rendered, kept for
	 * KG_GUARD_METRICS_CACHE_MS (metrics.c) */
	pthread_mutex_t metrics_mu;
	kg_buf metrics_text;
	uint64_t metrics_ns;  /* kg_mono_ns of the read; 0: none */
	uint64_t metrics_gen; /* kg_guard_metrics_changed's count then */
};

/* One entry in the system-wide audit chain (detail consumed). */
int kg_guard_audit(kg_tx *tx, const char *actor, const char *action, json_t *detail,
		   kg_err *err);
/* A webhook not about one account (data consumed). */
int kg_guard_webhook(kg_tx *tx, const char *type, json_t *data, kg_err *err);
/* The detector's baseline floor for rule ("*": all rules). */
double kg_guard_floor(const char *rule);
/* The end of the detectors' warm-up (kg_guard_cusum.warm_until): an hour
 * of event time from the all-rules row's creation (the store's first
 * automatic lock), found among the n detector rows; 0: no such row. */
int64_t kg_guard_warm_until(const kg_guard_row *rows, size_t n);
/* "<rule>|<minute, 12 digits>": the key of a bucket row. */
void kg_guard_key_bucket(char out[KG_GUARD_KEY_MAX], const char *rule, int64_t minute);
/* The likely cause of a trip of rules at now_ms (wall clock): the newest
 * policy version loaded in the 24 h before that changed one of the rules,
 * as {"rule","version","changed_at"}; NULL when none (or on error). */
json_t *kg_guard_suspect(kg_tx *tx, json_t *rules, int64_t now_ms, kg_arena *a, kg_err *err);

/* Records policy p (gated: kg_policy_gated) as a version in tx, by by,
 * with extra's members (a promotion's: "promoted", "forced", "reason",
 * "figures"; borrowed) in its row; no version when p's is the last one. */
int kg_guard_version_record(kg_tx *tx, const kg_policy *p, const char *by, json_t *extra,
			    kg_err *err);

/* Process-local counters for /metrics (metrics.c). Counted where the
 * breaker writes the trip or the hold (inside the lock's transaction) and
 * after each committed revert step. */
void kg_guard_metrics_trip(const char *trigger);
void kg_guard_metrics_hold(const char *reason, const char *rule);
void kg_guard_metrics_reverted(int64_t locks, int64_t apologies);
/* The breaker's state or an incident changed in this process: the next
 * scrape reads the store again instead of its cache. */
void kg_guard_metrics_changed(void);

#endif
