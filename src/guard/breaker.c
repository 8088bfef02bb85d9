/* The breaker: the lock hook that counts automatic locks in their own
 * transaction, trips on the detector or the hard cap, and holds instead of
 * locking while tripped; its status and reset. Rows (store guard rows):
 *   breaker/state            n 1 tripped, value the incident, ts_ms since (wall)
 *   breaker/last_hold        ts_ms the event time of the last hold
 *   cusum/<rule> (rule "*": all)  the detector (kg_guard_cusum_format), n: locks counted
 *   bucket/<rule>|<minute>   locks of an event-time minute (rule "*": all)
 *   autolock/<rule>|<ts>|<lock>  value the account: the index a revert walks
 *   hold/<incident>|<ts>|<account>|<event>  value "<reason> <rule>", n 0 held,
 *                            1 released, 2 confirmed into a lock
 * Not here: incidents' views and revert (incident.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "guard/guard_impl.h"
#include "notify/notify.h"

void kg_guard_params_from_config(struct kg_guard_params *p, const kg_config *cfg)
{
	p->enabled = cfg->breaker_enabled;
	p->max_locks = cfg->breaker_max_locks;
	p->window_s = cfg->breaker_window_s;
	p->half_open_s = cfg->breaker_half_open_s;
}

int kg_guard_audit(kg_tx *tx, const char *actor, const char *action, json_t *detail,
		   kg_err *err)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	kg_audit_entry e = {.account_id = "", .actor = actor ? actor : "system:guard",
			    .action = action, .detail = text ? text : "{}", .ts_ms = kg_now_ms()};
	int rc = kg_tx_audit_append(tx, &e, NULL, err);
	free(text);
	return rc;
}

int kg_guard_webhook(kg_tx *tx, const char *type, json_t *data, kg_err *err)
{
	char *text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(data);
	int rc = text ? kg_notify_tx_enqueue_webhook(tx, type, "", text, err)
		      : kg_err_set(err, KG_ENOMEM, "out of memory");
	free(text);
	return rc;
}

double kg_guard_floor(const char *rule)
{
	return strcmp(rule, "*") ? KG_GUARD_BASELINE_FLOOR : KG_GUARD_BASELINE_FLOOR_ALL;
}

int64_t kg_guard_warm_until(const kg_guard_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].key, "*"))
			return rows[i].ts_ms / 60000 + KG_GUARD_WARMUP_MIN;
	return 0;
}

void kg_guard_key_bucket(char out[KG_GUARD_KEY_MAX], const char *rule, int64_t minute)
{
	snprintf(out, KG_GUARD_KEY_MAX, "%s|%012" PRId64, rule, minute);
}

/* The baseline a previous process (or another node) stored; a row that
 * does not parse is ignored (logged): the summary starts empty. */
static int feed_load_job(kg_tx *tx, void *ctx, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row r;
	int rc = kg_tx_guard_get(tx, "feed", "baseline", &r, &a, err);
	if (rc == KG_ENOTFOUND)
		rc = 0;
	else if (!rc && kg_guard_feed_parse(ctx, r.value))
		kg_log(KG_LOG_WARN, "guard", "the stored feed summary does not parse: starting empty");
	kg_arena_release(&a);
	return rc;
}

int kg_guard_new(kg_store *s, const struct kg_guard_params *p, const kg_config *notice_cfg,
		 kg_guard **out, kg_err *err)
{
	*out = NULL;
	kg_guard *g = calloc(1, sizeof(*g));
	if (!g)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	g->store = s;
	g->p = *p;
	g->notice_cfg = notice_cfg;
	pthread_mutex_init(&g->metrics_mu, NULL);
	pthread_mutex_init(&g->feed_mu, NULL);
	g->metrics_text = (kg_buf)KG_BUF_INIT(256 * 1024);
	if (kg_guard_feed_new(&g->feed)) {
		kg_guard_free(g);
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	}
	int rc = kg_store_read(s, feed_load_job, g->feed, err);
	if (rc) {
		kg_guard_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void kg_guard_event_hook(void *ctx, const kg_event *e)
{
	kg_guard *g = ctx;
	kg_guard_feed_observe(g->feed, e);
}

static int feed_save_tx(kg_tx *tx, kg_guard_feed *f, kg_err *err)
{
	kg_buf b = KG_BUF_INIT(1024 * 1024);
	int rc = kg_guard_feed_format(f, &b);
	if (rc)
		rc = kg_err_set(err, rc, "guard: the feed summary does not fit");
	else
		rc = kg_tx_guard_put(tx, &(kg_guard_row){"feed", "baseline", b.data, 0, kg_now_ms()},
				     err);
	if (!rc)
		kg_guard_feed_saved(f);
	kg_buf_release(&b);
	return rc;
}

static int feed_save_job(kg_tx *tx, void *ctx, kg_err *err)
{
	return feed_save_tx(tx, ctx, err);
}

int kg_guard_feed_save(kg_guard *g, kg_err *err)
{
	return kg_store_write(g->store, feed_save_job, g->feed, err);
}

void kg_guard_free(kg_guard *g)
{
	if (!g)
		return;
	kg_guard_feed_free(g->feed);
	kg_buf_release(&g->metrics_text);
	pthread_mutex_destroy(&g->metrics_mu);
	pthread_mutex_destroy(&g->feed_mu);
	free(g);
}

/* The decision becomes a hold of the breaker's incident; its hold row. */
static int hold(kg_tx *tx, const struct kg_risk_lock_order *o, const char *incident,
		kg_err *err)
{
	struct kg_decision *d = o->decision;
	d->action = KG_ACT_HOLD;
	d->has_lock = false;
	snprintf(d->breaker.incident, sizeof(d->breaker.incident), "%s", incident);
	snprintf(d->breaker.reason, sizeof(d->breaker.reason), "%s", o->reason);
	char key[KG_GUARD_KEY_MAX * 2], val[KG_GUARD_KEY_MAX];
	snprintf(key, sizeof(key), "%s|%015" PRId64 "|%s|%s", incident, o->ts_ms, o->account,
		 o->event_id);
	snprintf(val, sizeof(val), "%s %s", o->reason, o->rule);
	int rc = kg_tx_guard_put(tx, &(kg_guard_row){"hold", key, val, 0, o->ts_ms}, err);
	if (!rc)
		rc = kg_tx_guard_put(tx, &(kg_guard_row){"breaker", "last_hold", incident, 0, o->ts_ms},
				     err);
	if (!rc)
		kg_guard_metrics_hold(o->reason, o->rule);
	return rc;
}

/* Reads (and, in a write, locks) the detector of rule, counts one lock at
 * minute, writes it back; *s_out: S now, *onset: its onset minute. */
static int count_in(kg_tx *tx, const char *rule, int64_t minute, int64_t *warm_until,
		    double *s_out, int64_t *onset, kg_arena *a, kg_err *err)
{
	int rc = kg_tx_guard_add(tx, "cusum", rule, 1, minute * 60000, NULL, err);
	kg_guard_row r;
	if (!rc)
		rc = kg_tx_guard_get(tx, "cusum", rule, &r, a, err);
	if (rc == KG_ENOTFOUND)
		rc = kg_err_set(err, KG_EINTERNAL, "guard: detector row of %s vanished", rule);
	if (rc)
		return rc;
	/* the all-rules row was created by the store's first automatic lock:
	 * its time starts the warm-up of every detector */
	if (!strcmp(rule, "*"))
		*warm_until = r.ts_ms / 60000 + KG_GUARD_WARMUP_MIN;
	struct kg_guard_cusum c;
	kg_guard_cusum_init(&c, kg_guard_floor(rule));
	c.warm_until = *warm_until;
	if (r.value && kg_guard_cusum_parse(r.value, &c))
		kg_guard_cusum_init(&c, kg_guard_floor(rule));
	c.warm_until = *warm_until;
	*s_out = kg_guard_cusum_add(&c, minute, 1);
	*onset = c.onset ? c.onset : minute;
	char text[128];
	kg_guard_cusum_format(&c, text);
	r.value = text;
	if ((rc = kg_tx_guard_put(tx, &r, err)))
		return rc;
	char key[KG_GUARD_KEY_MAX];
	kg_guard_key_bucket(key, rule, minute);
	return kg_tx_guard_add(tx, "bucket", key, 1, minute * 60000, NULL, err);
}

/* The rules a trip names: the one that tripped, and every other whose
 * detector is at least halfway to h (a wave across rules). */
static json_t *trip_rules(kg_tx *tx, const char *rule, int64_t minute, int64_t *onset,
			  kg_arena *a, kg_err *err)
{
	json_t *rules = json_array();
	if (strcmp(rule, "*"))
		json_array_append_new(rules, json_string(rule));
	kg_guard_row *rows = NULL;
	size_t n = 0;
	if (kg_tx_guard_list(tx, "cusum", "", "~", 0, a, &rows, &n, err)) {
		json_decref(rules);
		return NULL;
	}
	int64_t warm_until = kg_guard_warm_until(rows, n);
	for (size_t i = 0; i < n; i++) {
		struct kg_guard_cusum c;
		c.floor = kg_guard_floor(rows[i].key);
		c.warm_until = warm_until;
		if (!strcmp(rows[i].key, "*") || !strcmp(rows[i].key, rule) || !rows[i].value ||
		    kg_guard_cusum_parse(rows[i].value, &c))
			continue;
		if (kg_guard_cusum_peek(&c, minute) >= KG_GUARD_CUSUM_H / 2) {
			json_array_append_new(rules, json_string(rows[i].key));
			if (c.onset && c.onset < *onset)
				*onset = c.onset;
		}
	}
	return rules;
}

/* A re-trip after a reset starts after the earlier incidents of its rules:
 * no earlier than the event time just after their trips (their locks up to
 * there stay theirs; incident.c ends each span at the next onset). */
static int64_t after_earlier(kg_tx *tx, json_t *rules, int64_t onset_ms, kg_arena *a,
			     kg_err *err)
{
	kg_incident *all = NULL;
	size_t n = 0;
	if (kg_tx_incident_list(tx, NULL, 0, a, &all, &n, err)) {
		kg_err_clear(err);
		return onset_ms;
	}
	for (size_t i = 0; i < n; i++) {
		if (!all[i].kind || strcmp(all[i].kind, "lock_wave"))
			continue;
		json_t *d = json_loads(all[i].detail ? all[i].detail : "{}", 0, NULL), *r, *q;
		int64_t trip_ms = json_integer_value(json_object_get(d, "trip_ms"));
		size_t k, l;
		json_array_foreach(json_object_get(d, "rules"), k, r)
			json_array_foreach(rules, l, q)
				if (json_equal(r, q) && trip_ms >= onset_ms)
					onset_ms = trip_ms + 1;
		json_decref(d);
	}
	return onset_ms;
}

/* Opens the incident of a trip and trips the breaker. */
static int trip(kg_guard *g, kg_tx *tx, const struct kg_risk_lock_order *o, const char *rule,
		const char *why, int64_t onset_min, char incident[KG_STORE_ID_MAX], kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	int64_t minute = o->ts_ms / 60000;
	json_t *rules = trip_rules(tx, rule, minute, &onset_min, &a, err);
	int rc = 0;
	char *detail = NULL;
	if (!rules) {
		rc = err->code ? err->code : KG_ENOMEM;
		goto cleanup;
	}
	if (!json_array_size(rules)) /* the total tripped with no rule halfway: this one */
		json_array_append_new(rules, json_string(o->rule));
	int64_t onset_ms = after_earlier(tx, rules, onset_min * 60000, &a, err);
	kg_store_new_id(incident, "inc");
	int64_t now = kg_now_ms();
	json_t *suspect = kg_guard_suspect(tx, rules, now, &a, err);
	/* the rules did not change: which fields of the feed moved */
	json_t *feed = suspect ? NULL : kg_guard_feed_moved(g->feed, onset_ms / 60000, minute);
	json_t *d = json_pack("{s:O, s:I, s:I, s:s, s:s, s:s, s:o, s:o?}", "rules", rules,
			      "onset_ms", (json_int_t)onset_ms, "trip_ms",
			      (json_int_t)o->ts_ms, "trip", why, "rule", rule, "event", o->event_id,
			      "suspect", suspect ? suspect : json_null(), "feed", feed);
	detail = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	char summary[256];
	snprintf(summary, sizeof(summary), "lock wave (%s) of %s", why, rule);
	kg_incident inc = {.id = incident, .kind = "lock_wave", .state = "open", .summary = summary,
			   .detail = detail ? detail : "{}", .started_ms = onset_ms,
			   .detected_ms = now};
	if ((rc = kg_tx_incident_insert(tx, &inc, err)))
		goto cleanup;
	if ((rc = kg_tx_guard_put(tx, &(kg_guard_row){"breaker", "state", incident, 1, now}, err)))
		goto cleanup;
	json_t *w = json_pack("{s:s, s:O, s:s, s:s, s:I, s:I}", "incident", incident, "rules", rules,
			      "reason", why, "rule", rule, "onset_ms", (json_int_t)onset_ms,
			      "trip_ms", (json_int_t)o->ts_ms);
	if ((rc = kg_guard_audit(tx, "system:guard", "breaker_trip", json_deep_copy(w), err)))
		goto cleanup;
	rc = kg_guard_webhook(tx, "breaker.tripped", w, err);
	kg_log(KG_LOG_WARN, "guard", "breaker tripped (%s, rule %s): incident %s", why, rule,
	       incident);
	pthread_mutex_lock(&g->feed_mu); /* its feed section again a minute on */
	snprintf(g->feed_inc, sizeof(g->feed_inc), "%s", incident);
	g->feed_due = feed ? minute + 1 : INT64_MAX;
	pthread_mutex_unlock(&g->feed_mu);
cleanup:
	json_decref(rules);
	free(detail);
	kg_arena_release(&a);
	return rc;
}

/* While tripped, the incident's feed section again with the minutes since
 * its onset (a trip inside a quiet minute has seen few values): at 1, 2, 4,
 * ... minutes of event time after the onset, up to the hour the summary
 * holds. Only an incident that has one (no suspect). */
static int feed_refresh(kg_guard *g, kg_tx *tx, const char *incident, int64_t minute,
			kg_arena *a, kg_err *err)
{
	pthread_mutex_lock(&g->feed_mu);
	bool same = !strcmp(g->feed_inc, incident);
	int64_t due = same ? g->feed_due : 0;
	pthread_mutex_unlock(&g->feed_mu);
	if (same && minute < due)
		return 0;
	kg_incident inc;
	int rc = kg_tx_incident_get(tx, incident, &inc, a, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	json_t *d = json_loads(inc.detail ? inc.detail : "{}", 0, NULL);
	int64_t onset = inc.started_ms / 60000, span = minute - onset;
	int64_t next = INT64_MAX;
	if (d && json_object_get(d, "feed") && span >= 0 && span < 64 && inc.state &&
	    !strcmp(inc.state, "open")) {
		json_t *feed = kg_guard_feed_moved(g->feed, onset, minute);
		char *text = NULL;
		if (feed && !json_object_set_new(d, "feed", feed) &&
		    (text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS))) {
			inc.detail = text;
			inc.updated_ms = 0;
			rc = kg_tx_incident_update(tx, &inc, err);
		}
		free(text);
		next = onset + 2 * (span > 0 ? span : 1);
	}
	json_decref(d);
	if (!rc) {
		pthread_mutex_lock(&g->feed_mu);
		snprintf(g->feed_inc, sizeof(g->feed_inc), "%s", incident);
		g->feed_due = next;
		pthread_mutex_unlock(&g->feed_mu);
	}
	return rc;
}

int kg_guard_lock_hook(void *ctx, void *txn, const struct kg_risk_lock_order *o,
		       struct kg_decision_lock *lock, kg_err *err)
{
	kg_guard *g = ctx;
	kg_tx *tx = txn;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row st;
	int rc = kg_tx_guard_get(tx, "breaker", "state", &st, &a, err);
	if (rc == KG_ENOTFOUND) { /* the store's first automatic lock: the row
				   * every later lock's transaction reads and locks */
		st = (kg_guard_row){"breaker", "state", NULL, 0, kg_now_ms()};
		rc = kg_tx_guard_put(tx, &st, err);
	}
	if (rc)
		goto cleanup;
	bool tripped = st.n == 1 && st.value;
	if (tripped && (rc = feed_refresh(g, tx, st.value, o->ts_ms / 60000, &a, err)))
		goto cleanup;
	if (tripped && g->p.enabled) {
		kg_guard_row last;
		bool half_open = false;
		if (g->p.half_open_s &&
		    !kg_tx_guard_get(tx, "breaker", "last_hold", &last, &a, err) &&
		    o->ts_ms - last.ts_ms >= g->p.half_open_s * 1000) {
			/* quiet for half_open_s of event time: armed again */
			half_open = true;
			rc = kg_tx_guard_put(tx, &(kg_guard_row){"breaker", "state", NULL, 0, kg_now_ms()},
					     err);
			if (!rc)
				rc = kg_guard_audit(tx, "system:guard", "breaker_half_open",
						    json_pack("{s:s}", "incident", st.value), err);
			if (rc)
				goto cleanup;
			kg_guard_metrics_changed();
		}
		tripped = !half_open;
		if (!half_open) {
			/* an account already locked for this reason: the writer names
			 * that lock (no new one), as it would armed */
			kg_lock *act = NULL;
			size_t n = 0;
			if ((rc = kg_tx_lock_list_active(tx, o->account, o->ts_ms, &a, &act, &n, err)))
				goto cleanup;
			for (size_t i = 0; i < n; i++)
				if (!strcmp(act[i].reason, o->reason)) {
					rc = kg_account_risk_lock_hook((void *)g->notice_cfg, txn, o, lock,
								       err);
					goto cleanup;
				}
			rc = hold(tx, o, st.value, err);
			goto cleanup;
		}
	}
	if ((rc = kg_account_risk_lock_hook((void *)g->notice_cfg, txn, o, lock, err)) ||
	    !lock->written)
		goto cleanup;
	char key[KG_GUARD_KEY_MAX * 2];
	snprintf(key, sizeof(key), "%s|%015" PRId64 "|%s", o->rule, o->ts_ms, lock->id);
	if ((rc = kg_tx_guard_put(tx, &(kg_guard_row){"autolock", key, o->account, 0, o->ts_ms},
				  err)))
		goto cleanup;
	int64_t minute = o->ts_ms / 60000, onset_rule, onset_all;
	double s_rule, s_all;
	int64_t warm_until = 0;
	if ((rc = count_in(tx, "*", minute, &warm_until, &s_all, &onset_all, &a, err)) ||
	    (rc = count_in(tx, o->rule, minute, &warm_until, &s_rule, &onset_rule, &a, err)))
		goto cleanup;
	const char *why = NULL, *by = o->rule;
	int64_t onset = onset_rule;
	if (s_rule > KG_GUARD_CUSUM_H) {
		why = "cusum";
	} else if (s_all > KG_GUARD_CUSUM_H) {
		why = "cusum";
		by = "*";
		onset = onset_all;
	} else if (g->p.max_locks > 0) {
		int64_t wmin = g->p.window_s / 60 > 0 ? g->p.window_s / 60 : 1;
		char from[KG_GUARD_KEY_MAX], to[KG_GUARD_KEY_MAX];
		kg_guard_key_bucket(from, "*", minute - wmin + 1);
		kg_guard_key_bucket(to, "*", minute + 1);
		kg_guard_row *rows = NULL;
		size_t n = 0;
		if ((rc = kg_tx_guard_list(tx, "bucket", from, to, 0, &a, &rows, &n, err)))
			goto cleanup;
		int64_t sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += rows[i].n;
		if (sum >= g->p.max_locks) {
			why = "max_locks";
			by = "*";
			/* the wave's start: the window's first minute with a lock */
			onset = minute;
			for (size_t i = 0; i < n; i++)
				if (rows[i].n > 0) {
					onset = rows[i].ts_ms / 60000;
					break;
				}
		}
	}
	if (kg_guard_feed_pending(g->feed) >= 60 && (rc = feed_save_tx(tx, g->feed, err)))
		goto cleanup; /* (an hour of event time folded since it was stored) */
	if (why && !tripped) { /* (watching only, breaker.enabled false: the lock stays) */
		char incident[KG_STORE_ID_MAX];
		if (!(rc = trip(g, tx, o, by, why, onset, incident, err))) {
			kg_guard_metrics_trip(why);
			kg_guard_metrics_changed();
		}
	}
cleanup:
	kg_arena_release(&a);
	return rc;
}

/* ---- status and reset --------------------------------------------------------*/
struct status_job {
	const struct kg_guard_params *p;
	json_t *out;
};

static int status_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct status_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row st;
	char t[KG_TIME_STR_MAX];
	int rc = kg_tx_guard_get(tx, "breaker", "state", &st, &a, err);
	if (rc == KG_ENOTFOUND) {
		st = (kg_guard_row){"breaker", "state", NULL, 0, 0};
		rc = 0;
	}
	kg_guard_row *rows = NULL;
	size_t n = 0;
	if (rc || (rc = kg_tx_guard_list(tx, "cusum", "", "~", 0, &a, &rows, &n, err)))
		goto cleanup;
	json_t *rules = json_array();
	int64_t wmin = j->p->window_s / 60 > 0 ? j->p->window_s / 60 : 1;
	int64_t warm_until = kg_guard_warm_until(rows, n);
	for (size_t i = 0; i < n; i++) {
		struct kg_guard_cusum c;
		c.floor = kg_guard_floor(rows[i].key);
		c.warm_until = warm_until;
		if (!rows[i].value || kg_guard_cusum_parse(rows[i].value, &c))
			continue;
		char from[KG_GUARD_KEY_MAX], to[KG_GUARD_KEY_MAX];
		kg_guard_key_bucket(from, rows[i].key, c.minute - wmin + 1);
		kg_guard_key_bucket(to, rows[i].key, c.minute + 1);
		kg_guard_row *b = NULL;
		size_t nb = 0;
		if ((rc = kg_tx_guard_list(tx, "bucket", from, to, 0, &a, &b, &nb, err))) {
			json_decref(rules);
			goto cleanup;
		}
		int64_t sum = 0;
		for (size_t k = 0; k < nb; k++)
			sum += b[k].n;
		double base = c.base > c.floor ? c.base : c.floor;
		json_array_append_new(
			rules, json_pack("{s:s, s:I, s:f, s:f, s:I}", "rule", rows[i].key, "locks_window",
					 (json_int_t)sum, "baseline_per_min", round(base * 1000) / 1000,
					 "cusum", round(kg_guard_cusum_peek(&c, c.minute) * 1000) / 1000,
					 "locks_counted", (json_int_t)rows[i].n));
	}
	j->out = json_pack("{s:s, s:o, s:b, s:I, s:I, s:I, s:f}", "state",
			   st.n == 1 ? "tripped" : "armed", "rules", rules, "enabled",
			   j->p->enabled, "max_locks", (json_int_t)j->p->max_locks, "window_s",
			   (json_int_t)j->p->window_s, "half_open_s", (json_int_t)j->p->half_open_s,
			   "cusum_h", KG_GUARD_CUSUM_H);
	if (j->out && st.ts_ms) /* (no row before the store's first automatic lock) */
		json_object_set_new(j->out, "since", json_string(kg_time_format(st.ts_ms, t)));
	if (j->out && st.n == 1 && st.value)
		json_object_set_new(j->out, "incident", json_string(st.value));
	if (!j->out)
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_guard_status(kg_store *s, const struct kg_guard_params *p, json_t **out, kg_err *err)
{
	struct status_job j = {p, NULL};
	int rc = kg_store_read(s, status_job, &j, err);
	*out = rc ? NULL : j.out;
	if (rc)
		json_decref(j.out);
	return rc;
}

struct reset_job {
	const char *actor, *reason;
};

static int reset_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct reset_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row st;
	int rc = kg_tx_guard_get(tx, "breaker", "state", &st, &a, err);
	if (rc == KG_ENOTFOUND || (!rc && st.n != 1)) {
		rc = kg_err_set(err, KG_ECONFLICT, "the breaker is armed: nothing to reset");
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	const char *incident = st.value ? kg_arena_strdup(&a, st.value) : NULL;
	kg_guard_row *rows = NULL;
	size_t n = 0;
	if ((rc = kg_tx_guard_list(tx, "cusum", "", "~", 0, &a, &rows, &n, err)))
		goto cleanup;
	for (size_t i = 0; i < n && !rc; i++) {
		struct kg_guard_cusum c;
		c.floor = kg_guard_floor(rows[i].key);
		c.warm_until = 0; /* (not stored) */
		if (!rows[i].value || kg_guard_cusum_parse(rows[i].value, &c))
			continue;
		c.s = 0;
		c.onset = 0;
		c.count = 0; /* the minute in progress starts again */
		char text[128];
		kg_guard_cusum_format(&c, text);
		rows[i].value = text;
		rc = kg_tx_guard_put(tx, &rows[i], err);
	}
	if (!rc)
		rc = kg_tx_guard_put(tx, &(kg_guard_row){"breaker", "state", NULL, 0, kg_now_ms()}, err);
	if (!rc)
		rc = kg_guard_audit(tx, j->actor, "breaker_reset",
				    json_pack("{s:s?, s:s}", "incident", incident, "reason", j->reason),
				    err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_guard_reset(kg_store *s, const char *actor, const char *reason, kg_err *err)
{
	if (!reason || !*reason)
		return kg_err_field(err, KG_EINVAL, "reason", "a reset needs a reason");
	struct reset_job j = {actor, reason};
	int rc = kg_store_write(s, reset_job, &j, err);
	if (!rc)
		kg_guard_metrics_changed();
	return rc;
}
