/* kagi guard: protection against kagi's own mistakes (S9). The breaker
 * watches automatic locks per rule and in all on event time, in the
 * transaction of each lock (so every node of the store counts the same),
 * and once it trips turns decisions that would lock into holds; an incident
 * records the wave, and its revert lifts exactly the wave's locks with one
 * apology per account. Policy versions name the likely cause. Not here:
 * writing or lifting a lock (account), deciding (risk), rows (store).
 * docs/guard.md is the user's description. */
#ifndef KG_GUARD_H
#define KG_GUARD_H

#include <jansson.h>

#include "base/base.h"
#include "risk/risk.h"
#include "store/store.h"

/* ---- the detector --------------------------------------------------------
 * A one-sided Poisson CUSUM per rule (and one over all rules) on automatic
 * locks per event-time minute, against an EWMA baseline with a floor:
 *   S = max(0, S + x*ln(r) - lam0*(r-1)),  lam0 = max(floor, baseline),
 * alarm when S > h. The minute in progress counts as it goes (x so far), so
 * a wave trips inside its first minutes. The baseline learns each minute
 * that began with S == 0 (a wave does not become normal; a minute is not
 * chosen by its own count, which would bias it low), at most max(1,
 * 2*lam0) locks a minute (it follows a day's ramp, not a rule that comes
 * from nowhere), except in a new store's first day (KG_GUARD_YOUNG_MIN).
 * bench/guard_arl.py computes the
 * average run lengths of these parameters (docs/BENCHMARKS.md). */
#define KG_GUARD_CUSUM_H 10.0
#define KG_GUARD_CUSUM_RATIO 10.0
#define KG_GUARD_BASELINE_FLOOR 0.2   /* locks per minute, per rule */
#define KG_GUARD_BASELINE_FLOOR_ALL 1.0 /* ... over all rules ("*"): the sum of
					 * several rules' bursts is no wave */
#define KG_GUARD_EWMA_ALPHA (1.0 / 60) /* per closed minute */
#define KG_GUARD_WARMUP_MIN 60        /* a new store's first hour of event time
				       * (from its first automatic lock): the
				       * detectors learn their baselines and do
				       * not alarm; the hard cap applies */
#define KG_GUARD_WARMUP_ALPHA 0.1     /* the baseline's weight while learning */
#define KG_GUARD_YOUNG_MIN (23 * 60)  /* after the warm-up, the rest of a new
				       * store's first day (24 h from its first
				       * automatic lock): a detector that warmed
				       * up learns each minute uncapped (a rule's
				       * rate grows as the store's windows fill:
				       * return_ratio needs purchases first); a
				       * cold one (warm_until 0: the back-test's
				       * new rules) keeps the cap */

struct kg_guard_cusum {
	int64_t minute;  /* the minute in progress (event time / 60 s); 0: none yet */
	int64_t count;   /* its locks so far */
	double s;        /* S at the end of the previous minute */
	double base;     /* the EWMA baseline, locks per minute */
	int64_t onset;   /* the minute the current rise of S began; 0: S is 0 */
	double floor;    /* the baseline's floor (not stored: the caller's) */
	int64_t warm_until; /* minutes before this one only learn the baseline
			     * (S stays 0, no alarm); not stored: the caller's */
};

/* A detector with nothing counted, floor KG_GUARD_BASELINE_FLOOR or _ALL. */
void kg_guard_cusum_init(struct kg_guard_cusum *c, double floor);
/* Counts n locks at minute (minutes between the one in progress and this
 * one close first, empty ones included; a minute earlier than the one in
 * progress counts into it). Returns S as of now, with this minute's count
 * so far; the caller compares it with KG_GUARD_CUSUM_H. */
double kg_guard_cusum_add(struct kg_guard_cusum *c, int64_t minute, int64_t n);
/* S with the minutes up to `minute` closed, without changing c. */
double kg_guard_cusum_peek(const struct kg_guard_cusum *c, int64_t minute);
/* The text form kept in the store, and back (floor is kept as it is in
 * c: set it before parsing). Parse: 0 or KG_EINVAL. */
void kg_guard_cusum_format(const struct kg_guard_cusum *c, char out[128]);
int kg_guard_cusum_parse(const char *s, struct kg_guard_cusum *c);

/* ---- the feed summary ------------------------------------------------------
 * Per node, in memory: which event fields' distributions moved, for an
 * incident whose rules did not change (docs/guard.md "The feed summary").
 * Per event-time minute of the last hour, a log-scale histogram (4 buckets
 * an octave) of each numeric field (order amount, items, item prices;
 * payment and return amounts) and the counts of each categorical field's
 * values (currencies, payment result, login country and success), plus a
 * slow baseline (minutes older than the hour, decayed 1/1440 a minute).
 * A numeric field moved when its median moved by KG_GUARD_FEED_SHIFT
 * buckets (x4 or /4); a categorical one when a value's share moved by
 * KG_GUARD_FEED_SHARE; each needs KG_GUARD_FEED_MIN_REF values before and
 * KG_GUARD_FEED_MIN_NOW since the onset. */
#define KG_GUARD_FEED_SHIFT 8     /* buckets: 2 octaves, a median x4 or /4 */
#define KG_GUARD_FEED_SHARE 0.2   /* a value's share, 20 points */
#define KG_GUARD_FEED_MIN_REF 100 /* values before the onset */
#define KG_GUARD_FEED_MIN_NOW 20  /* values from the onset to the trip */
#define KG_GUARD_FEED_CHUNK 5     /* values per step of the "since" search */

typedef struct kg_guard_feed kg_guard_feed;
/* An empty summary; 0 or KG_ENOMEM (*out NULL). */
int kg_guard_feed_new(kg_guard_feed **out);
void kg_guard_feed_free(kg_guard_feed *f);
/* Adds one decided event (thread-safe, O(1): a few relaxed atomic
 * increments; once per new minute a fold under a mutex). Events older than
 * the hour the summary holds are not counted. */
void kg_guard_feed_observe(kg_guard_feed *f, const kg_event *e);
/* What moved from the minute onset_min to now_min (event time) against
 * the baseline and the hour's minutes before the onset:
 * {"moved":[{"event","field","stat":"median"|"share","before","now",
 * "ratio"|"value","since","values_before","values_now","text"}],"from","to",
 * "events_before","events_now"}; NULL when out of memory. */
json_t *kg_guard_feed_moved(kg_guard_feed *f, int64_t onset_min, int64_t now_min);
/* The text kept in the store (baseline plus the hour), and back (replaces
 * the baseline; call before observing). Parse: 0 or KG_EINVAL. */
int kg_guard_feed_format(kg_guard_feed *f, kg_buf *out);
int kg_guard_feed_parse(kg_guard_feed *f, const char *text);
/* Minutes folded into the baseline since the last _saved (which resets it). */
int64_t kg_guard_feed_pending(kg_guard_feed *f);
int64_t kg_guard_feed_saved(kg_guard_feed *f);

/* ---- the breaker (the lock hook) -----------------------------------------*/
struct kg_guard_params {
	bool enabled;          /* breaker.enabled; false: it watches (counts,
				* trips, opens the incident, fires the
				* webhook) but never holds */
	int64_t max_locks;     /* breaker.max_locks automatic locks ... */
	int64_t window_s;      /* ... in breaker.window_s of event time: trips */
	int64_t half_open_s;   /* breaker.half_open_s: re-arms itself after this
				* long of event time without a hold (0: only an
				* admin's reset) */
};
void kg_guard_params_from_config(struct kg_guard_params *p, const kg_config *cfg);

typedef struct kg_guard kg_guard;
/* A breaker on store s with params p; notice_cfg (borrowed, may be NULL:
 * locks without notices, as kagi replay writes them) goes to the account
 * module's lock writer. Free with kg_guard_free. */
int kg_guard_new(kg_store *s, const struct kg_guard_params *p, const kg_config *notice_cfg,
		 kg_guard **out, kg_err *err);
void kg_guard_free(kg_guard *g);
/* The lock hook to give the risk engine (kg_risk_set_lock_hook(r,
 * kg_guard_lock_hook, g)): armed, it writes the lock through the account
 * module (kg_account_risk_lock_hook) and counts it; the count that trips
 * opens an incident and fires breaker.tripped; tripped, it writes a hold
 * row instead and turns the decision into a hold (kg_decision.breaker). */
int kg_guard_lock_hook(void *ctx, void *txn, const struct kg_risk_lock_order *o,
		       struct kg_decision_lock *lock, kg_err *err);
/* The event observer to give the risk engine (kg_risk_set_event_hook(r,
 * kg_guard_event_hook, g)): the feed summary of this node. */
void kg_guard_event_hook(void *ctx, const kg_event *e);
/* Stores the feed summary's baseline (feed/baseline), e.g. at the end of a
 * replay or a shutdown; the breaker also stores it from a lock's
 * transaction once an hour of event time. */
int kg_guard_feed_save(kg_guard *g, kg_err *err);

/* GET /v1/guard: {"state":"armed"|"tripped","since","incident"?,"rules":[{"rule",
 * "locks_window","baseline_per_min","cusum"}],"max_locks","window_s"}. *out is a new
 * reference. */
int kg_guard_status(kg_store *s, const struct kg_guard_params *p, json_t **out, kg_err *err);
/* Re-arms the breaker (every detector's S back to 0), audited in the
 * system chain by actor with reason (required: KG_EINVAL naming "reason").
 * KG_ECONFLICT when it is armed. */
int kg_guard_reset(kg_store *s, const char *actor, const char *reason, kg_err *err);

/* ---- metrics ---------------------------------------------------------------*/
/* Appends the guard's series for GET /metrics (docs/operations.md
 * "Metrics"): from the store (read at most every 5 s, and again after this
 * process trips, re-arms, resets or reverts) the breaker's state, the open
 * incidents and the detectors of the rules of the policy loaded last; from
 * this process the trips, holds, reverted locks and apologies it counted,
 * and breaker.enabled. A failed store read leaves a comment line instead of
 * the store's series. */
int kg_guard_metrics_render(kg_guard *g, kg_buf *out);

/* ---- incidents -------------------------------------------------------------*/
/* GET /v1/incidents: newest first, at most limit (0: 100). */
int kg_guard_incidents(kg_store *s, size_t limit, json_t **out, kg_err *err);
/* GET /v1/incidents/{id}: the incident with its timeline and affected
 * accounts. KG_ENOTFOUND. */
int kg_guard_incident(kg_store *s, const char *id, json_t **out, kg_err *err);

struct kg_guard_revert_opts {
	bool dry_run;
	const char *actor, *reason;  /* reason required for a real run */
	size_t step;                 /* accounts per transaction (0: 200) */
	int64_t mail_per_min;        /* apology mails per minute (0: 600) */
	const kg_config *cfg;        /* notices */
	/* NULL, or called after each committed step */
	void (*progress)(void *ctx, size_t done, size_t already);
	void *progress_ctx;
};
/* Lifts the automatic locks of the incident's rules from its onset on
 * (method revert) and releases its holds, one apology per account, in steps
 * whose progress is stored: run again after a crash, it goes on where the
 * last committed step ended, and lifts nothing twice. *out: dry run
 * {"would_unlock":[ids],"count":N}, else {"unlocked":N,"already":M,
 * "apologies":K,"holds_released":H}. KG_ENOTFOUND. */
int kg_guard_revert(kg_store *s, const char *id, const struct kg_guard_revert_opts *o,
		    json_t **out, kg_err *err);
/* An admin who looked confirms the incident's holds into locks (each a
 * staff lock of the hold's reason, audited, with its notice). *confirmed:
 * how many. */
int kg_guard_confirm_holds(kg_store *s, const kg_config *cfg, const char *id,
			   const char *actor, const char *reason, size_t *confirmed, kg_err *err);

/* ---- policy versions -------------------------------------------------------*/
/* Records a policy load (version = kg_policy_version of the gated policy,
 * who, the rules that changed against the previous version: their content
 * hash, or whether they run pending) unless it is the version loaded last. */
int kg_guard_policy_loaded(kg_store *s, const kg_policy *p, const char *by, kg_err *err);
/* GET /v1/rules/versions: newest first. */
int kg_guard_policy_versions(kg_store *s, json_t **out, kg_err *err);

/* ---- gated rollout (rollout.c) ---------------------------------------------
 * The store keeps which content (kg_policy_rule_info.hash) of each rule is
 * promoted; a rule of a loaded policy whose content is not the promoted
 * one runs pending (as shadow: no points, no action). All nodes of a
 * PostgreSQL store share the promotions. */
/* The gate at a policy load by `by`: a store without promotions (a new one,
 * or one from before the gate) promotes p whole first (audited
 * rules_promote, "first"); *out: a new reference to p gated. */
int kg_guard_gate(kg_store *s, const kg_policy *p, const char *by, kg_policy **out, kg_err *err);
/* The promotions' generation: moves with each promotion or demotion; a
 * node whose policy was gated at another generation gates it again. */
int kg_guard_rollout_gen(kg_store *s, int64_t *gen, kg_err *err);
/* GET /v1/rules/pending: {"policy","pending":[{"rule","hash","line",
 * "change":"new"|"changed","promoted"?:{"hash","at","by"}}],"live":[names]}
 * of policy p (its text's rules against the store's promotions). */
int kg_guard_rules_pending(kg_store *s, const kg_policy *p, json_t **out, kg_err *err);

struct kg_guard_promote_opts {
	const char *const *rules;   /* rule names of the policy */
	size_t n_rules;
	int64_t days;               /* the back-test: the last days of stored events (0: 7) */
	bool dry_run;               /* the figures only, nothing changes */
	bool force;                 /* promote though the figures refuse it (needs reason) */
	const char *actor, *reason;
	int64_t max_locks_per_day;  /* rules.promote_max_locks_per_day */
	const struct kg_guard_params *breaker; /* the detector of the back-test */
	int64_t now_ms;             /* the back-test's end (0: the clock) */
};
/* Promotes pending rules of p after a back-test over the last o->days of
 * stored events (on event time) of p gated as now against p gated with
 * them live: {"rules","days","span_days" (the days the window's
 * events span, which the rates are per),"from","to","events",
 * "events_refused","locks_added",
 * "holds_added","locks_per_day","holds_per_day","by_rule":{rule:{"fired",
 * "locks_added","locks_per_day"}},"breaker":{"would_trip","trigger"?,
 * "rule"?,"at"?,"trips_without"},"max_locks_per_day","version","refused",
 * "dry_run","promoted"?,"forced"?}. Refused (KG_ECONFLICT naming the rules
 * and why) above max_locks_per_day, or when the breaker would have tripped
 * (and would not without them), unless forced with a reason. A rule not in
 * p, declared shadow (KG_EINVAL) or live already (KG_ECONFLICT) changes
 * nothing. A promotion is one transaction: the promoted rows, an audit
 * entry rules_promote (who, rules, figures, forced, reason) and a policy
 * version. The caller gates its running policy again (kg_guard_gate). */
int kg_guard_promote(kg_store *s, const kg_policy *p, const struct kg_guard_promote_opts *o,
		     json_t **out, kg_err *err);
/* Demotes live rules of p back to pending (o->rules, o->actor, a reason
 * needed; no back-test): audited rules_demote, a policy version. */
int kg_guard_demote(kg_store *s, const kg_policy *p, const struct kg_guard_promote_opts *o,
		    json_t **out, kg_err *err);

#endif
