/* The gated rollout (docs/guard.md, "Gated rollout"): which rule contents
 * are promoted (live), the gate that runs every other rule pending, and
 * the promotion after a back-test over the last days of stored events.
 * Rows (guard_rows, kind "rollout", shared by every node of the store):
 *   gen            n: moves with each promotion or demotion (nodes re-gate)
 *   init           the first policy, promoted whole: {"version","by"}
 *   rule:<name>    the promoted content: {"hash","version","by","forced",
 *                  "reason"}; ts_ms when. */
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard_impl.h"

#define RULE_KEY_FROM "rule:"
#define RULE_KEY_TO "rule;" /* ':' + 1 */

static void rule_key(char out[KG_GUARD_KEY_MAX], const char *name)
{
	snprintf(out, KG_GUARD_KEY_MAX, RULE_KEY_FROM "%s", name);
}

/* {name: hash} of the promoted rows (in a). */
static int promoted_rows(kg_tx *tx, kg_arena *a, json_t **out, kg_err *err)
{
	kg_guard_row *rows = NULL;
	size_t n = 0;
	int rc = kg_tx_guard_list(tx, "rollout", RULE_KEY_FROM, RULE_KEY_TO, 0, a, &rows, &n, err);
	*out = json_object();
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *v = json_loads(rows[i].value ? rows[i].value : "{}", 0, NULL);
		json_t *h = json_object_get(v, "hash");
		if (json_is_string(h))
			json_object_set(*out, rows[i].key + strlen(RULE_KEY_FROM), h);
		json_decref(v);
	}
	return rc;
}

/* The rules of p that are not declared shadow and whose hash is not the
 * promoted one, as a JSON array of names (in file order). */
static json_t *pending_of(const kg_policy *p, json_t *promoted)
{
	struct kg_policy_rule_info info[KG_RULES_MAX];
	size_t n = kg_policy_rules(p, info, KG_RULES_MAX);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string_value(json_object_get(promoted, info[i].name));
		if (!info[i].shadow && (!h || strcmp(h, info[i].hash)))
			json_array_append_new(out, json_string(info[i].name));
	}
	return out;
}

static int gated(const kg_policy *p, json_t *pending, kg_policy **out, kg_err *err)
{
	size_t n = json_array_size(pending);
	const char **names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		names[i] = json_string_value(json_array_get(pending, i));
	int rc = kg_policy_gated(p, names, n, out, err);
	free(names);
	return rc;
}

/* Promotes the rules (names) of p as they are in p, in tx. */
static int put_promoted(kg_tx *tx, const kg_policy *p, json_t *names, const char *version,
			const char *by, bool forced, const char *reason, int64_t now, kg_err *err)
{
	struct kg_policy_rule_info info[KG_RULES_MAX];
	size_t n = kg_policy_rules(p, info, KG_RULES_MAX);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		bool want = false;
		json_t *x;
		size_t k;
		json_array_foreach(names, k, x)
			want = want || !strcmp(json_string_value(x), info[i].name);
		if (!want)
			continue;
		json_t *v = json_pack("{s:s, s:s, s:s, s:b, s:s?}", "hash", info[i].hash, "version",
				      version, "by", by, "forced", forced, "reason", reason);
		char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(v);
		char key[KG_GUARD_KEY_MAX];
		rule_key(key, info[i].name);
		rc = text ? kg_tx_guard_put(tx, &(kg_guard_row){"rollout", key, text, 0, now}, err)
			  : kg_err_set(err, KG_ENOMEM, "out of memory");
		free(text);
	}
	return rc;
}

/* The rules of p that are not promoted, as read in tx (promoted_rows). */
static int read_pending(kg_tx *tx, const kg_policy *p, kg_arena *a, json_t **pending, kg_err *err)
{
	json_t *promoted = NULL;
	int rc = promoted_rows(tx, a, &promoted, err);
	if (!rc)
		*pending = pending_of(p, promoted);
	json_decref(promoted);
	return rc;
}

/* ---- the gate at a policy load --------------------------------------------*/
struct gate_job {
	const kg_policy *p;
	const char *by;
	json_t *pending; /* out */
};

static int gate_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct gate_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row init;
	/* the gen row first: it serialises the first load of two nodes */
	int rc = kg_tx_guard_add(tx, "rollout", "gen", 0, kg_now_ms(), NULL, err);
	rc = rc ? rc : kg_tx_guard_get(tx, "rollout", "init", &init, &a, err);
	if (rc == KG_ENOTFOUND) { /* a new store (or one from before the gate): all live */
		int64_t now = kg_now_ms();
		const char *v = kg_policy_version(j->p);
		json_t *all = json_array(), *iv = json_pack("{s:s, s:s}", "version", v, "by", j->by);
		struct kg_policy_rule_info info[KG_RULES_MAX];
		size_t n = kg_policy_rules(j->p, info, KG_RULES_MAX);
		for (size_t i = 0; i < n; i++)
			if (!info[i].shadow)
				json_array_append_new(all, json_string(info[i].name));
		char *text = iv ? json_dumps(iv, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		rc = text ? kg_tx_guard_put(tx, &(kg_guard_row){"rollout", "init", text, 0, now}, err)
			  : kg_err_set(err, KG_ENOMEM, "out of memory");
		rc = rc ? rc : put_promoted(tx, j->p, all, v, j->by, false, NULL, now, err);
		rc = rc ? rc : kg_tx_guard_add(tx, "rollout", "gen", 1, now, NULL, err);
		rc = rc ? rc : kg_guard_audit(tx, j->by, "rules_promote",
					      json_pack("{s:s, s:O, s:b}", "version", v, "rules", all,
							"first", 1), err);
		free(text);
		json_decref(iv);
		json_decref(all);
	}
	rc = rc ? rc : read_pending(tx, j->p, &a, &j->pending, err);
	kg_arena_release(&a);
	return rc;
}

/* The read-only gate: a store that has its first promotion. */
static int gate_read_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct gate_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row init;
	int rc = kg_tx_guard_get(tx, "rollout", "init", &init, &a, err);
	rc = rc ? rc : read_pending(tx, j->p, &a, &j->pending, err);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_gate(kg_store *s, const kg_policy *p, const char *by, kg_policy **out, kg_err *err)
{
	struct gate_job j = {p, by ? by : "system", NULL};
	int rc = kg_store_read(s, gate_read_job, &j, err);
	if (rc == KG_ENOTFOUND) /* the first policy: promoted whole, in a write */
		rc = kg_store_write(s, gate_job, &j, err);
	rc = rc ? rc : gated(p, j.pending, out, err);
	json_decref(j.pending);
	return rc;
}

struct gen_job {
	int64_t gen;
};

static int gen_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct gen_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 512);
	kg_guard_row r;
	int rc = kg_tx_guard_get(tx, "rollout", "gen", &r, &a, err);
	j->gen = rc ? 0 : r.n;
	kg_arena_release(&a);
	return rc == KG_ENOTFOUND ? 0 : rc;
}

int kg_guard_rollout_gen(kg_store *s, int64_t *gen, kg_err *err)
{
	struct gen_job j = {0};
	int rc = kg_store_read(s, gen_job, &j, err);
	*gen = j.gen;
	return rc;
}

/* ---- pending rules --------------------------------------------------------*/
struct pending_job {
	const kg_policy *p;
	json_t *out;
};

static int pending_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct pending_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row *rows = NULL;
	size_t n = 0;
	int rc = kg_tx_guard_list(tx, "rollout", RULE_KEY_FROM, RULE_KEY_TO, 0, &a, &rows, &n, err);
	struct kg_policy_rule_info info[KG_RULES_MAX];
	size_t m = kg_policy_rules(j->p, info, KG_RULES_MAX);
	json_t *pending = json_array(), *live = json_array();
	for (size_t i = 0; !rc && i < m; i++) {
		if (info[i].shadow)
			continue;
		json_t *was = NULL;
		int64_t at = 0;
		for (size_t k = 0; k < n && !was; k++)
			if (!strcmp(rows[k].key + strlen(RULE_KEY_FROM), info[i].name)) {
				was = json_loads(rows[k].value ? rows[k].value : "{}", 0, NULL);
				at = rows[k].ts_ms;
			}
		const char *h = json_string_value(json_object_get(was, "hash"));
		if (h && !strcmp(h, info[i].hash)) {
			json_array_append_new(live, json_string(info[i].name));
		} else {
			char t[KG_TIME_STR_MAX];
			json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "rule", info[i].name, "hash",
					      info[i].hash, "line", info[i].line, "change",
					      was ? "changed" : "new");
			if (was)
				json_object_set_new(o, "promoted",
						    json_pack("{s:O?, s:s, s:O?}", "hash",
							      json_object_get(was, "hash"), "at",
							      kg_time_format(at, t), "by",
							      json_object_get(was, "by")));
			json_array_append_new(pending, o);
		}
		json_decref(was);
	}
	if (!rc)
		j->out = json_pack("{s:s, s:O, s:O}", "policy", kg_policy_file(j->p), "pending", pending,
				   "live", live);
	json_decref(pending);
	json_decref(live);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_rules_pending(kg_store *s, const kg_policy *p, json_t **out, kg_err *err)
{
	struct pending_job j = {p, NULL};
	int rc = kg_store_read(s, pending_job, &j, err);
	if (rc) {
		json_decref(j.out);
		j.out = NULL;
	}
	*out = j.out;
	return rc;
}

/* ---- the back-test of a promotion -----------------------------------------*/
static bool names_has(json_t *names, const char *s, size_t n)
{
	json_t *x;
	size_t i;
	json_array_foreach(names, i, x)
		if (strlen(json_string_value(x)) == n && !memcmp(json_string_value(x), s, n))
			return true;
	return false;
}


/* The breaker's detectors over a stream of automatic locks on event time,
 * as they would have counted them: like a new store's, they learn their
 * baselines in the first hour from the first lock (KG_GUARD_WARMUP_MIN),
 * except the detectors of the rules promoted, which start at their floor
 * at once - on the live store they never locked (they were pending), so
 * their baseline is the floor there too. The hard cap counts throughout. */
struct sim_det {
	char rule[KG_ID_MAX + 1];
	struct kg_guard_cusum c;
};
#define SIM_CAP_MINUTES 1440
struct breaker_sim {
	struct sim_det det[KG_RULES_MAX + 2];
	size_t n;
	int64_t cap_min[SIM_CAP_MINUTES], cap_n[SIM_CAP_MINUTES]; /* by minute % SIM_CAP_MINUTES */
	const struct kg_guard_params *p;
	json_t *cold;       /* rules whose detectors do not warm up (borrowed) */
	int64_t warm_until; /* the warm-up's end (minute); 0: no lock yet */
	bool tripped;
	char trigger[16], rule[KG_ID_MAX + 1];
	int64_t at_ms;
};

static struct kg_guard_cusum *sim_det(struct breaker_sim *b, const char *rule)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->det[i].rule, rule))
			return &b->det[i].c;
	if (b->n == KG_ARRAY_LEN(b->det))
		return NULL;
	struct sim_det *d = &b->det[b->n++];
	snprintf(d->rule, sizeof(d->rule), "%s", rule);
	kg_guard_cusum_init(&d->c, kg_guard_floor(rule));
	d->c.warm_until = names_has(b->cold, rule, strlen(rule)) ? 0 : b->warm_until;
	return &d->c;
}

static void sim_trip(struct breaker_sim *b, const char *trigger, const char *rule, int64_t ts)
{
	b->tripped = true;
	snprintf(b->trigger, sizeof(b->trigger), "%s", trigger);
	snprintf(b->rule, sizeof(b->rule), "%s", rule);
	b->at_ms = ts;
}

static void sim_lock(struct breaker_sim *b, const char *rule, int64_t ts_ms)
{
	if (b->tripped)
		return;
	int64_t minute = ts_ms / 60000;
	if (!b->warm_until)
		b->warm_until = minute + KG_GUARD_WARMUP_MIN;
	struct kg_guard_cusum *cr = sim_det(b, rule), *ca = sim_det(b, "*");
	double s_rule = cr ? kg_guard_cusum_add(cr, minute, 1) : 0;
	double s_all = ca ? kg_guard_cusum_add(ca, minute, 1) : 0;
	if (s_rule > KG_GUARD_CUSUM_H)
		return sim_trip(b, "cusum", rule, ts_ms);
	if (s_all > KG_GUARD_CUSUM_H)
		return sim_trip(b, "cusum", "*", ts_ms);
	if (b->p->max_locks <= 0)
		return;
	int64_t wmin = b->p->window_s / 60 > 0 ? b->p->window_s / 60 : 1;
	if (wmin > SIM_CAP_MINUTES)
		wmin = SIM_CAP_MINUTES;
	size_t slot = (size_t)(minute % SIM_CAP_MINUTES);
	if (b->cap_min[slot] != minute)
		b->cap_min[slot] = minute, b->cap_n[slot] = 0;
	b->cap_n[slot]++;
	int64_t sum = 0;
	for (int64_t m = minute - wmin + 1; m <= minute; m++) {
		size_t k = (size_t)(((m % SIM_CAP_MINUTES) + SIM_CAP_MINUTES) % SIM_CAP_MINUTES);
		if (b->cap_min[k] == m)
			sum += b->cap_n[k];
	}
	if (sum >= b->p->max_locks)
		sim_trip(b, "max_locks", "*", ts_ms);
}

static json_t *sim_json(const struct breaker_sim *b)
{
	char t[KG_TIME_STR_MAX];
	if (!b->tripped)
		return json_pack("{s:b}", "would_trip", 0);
	return json_pack("{s:b, s:s, s:s, s:s}", "would_trip", 1, "trigger", b->trigger, "rule",
			 b->rule, "at", kg_time_format(b->at_ms, t));
}

/* The rule a lock decision is counted under (the lock writer's). */
static void lock_rule(const struct kg_decision *d, char out[KG_ID_MAX + 1])
{
	snprintf(out, KG_ID_MAX + 1, "score");
	for (uint32_t i = 0; i < d->n_reasons; i++)
		if (d->reasons[i].action == KG_ACT_LOCK) {
			snprintf(out, KG_ID_MAX + 1, "%.*s", (int)d->reasons[i].rule.n,
				 d->reasons[i].rule.p);
			return;
		}
}

/* The (account, lock reason) pairs a simulated policy has locked: a lock
 * decision on an account it locked already for that reason names that
 * lock and writes none (the lock writer's rule), so it is no new lock. */
struct locked_set {
	uint64_t *slot; /* 0: empty */
	size_t cap, n;
};

/* Adds the pair; true when it was new (or on no memory: counted). */
static bool locked_add(struct locked_set *ls, const struct kg_decision *d)
{
	uint64_t h = 0;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)d->account.p, d->account.n);
	crypto_generichash_update(&st, (const unsigned char *)"", 1);
	crypto_generichash_update(&st, (const unsigned char *)d->lock.reason, strlen(d->lock.reason));
	crypto_generichash_final(&st, (unsigned char *)&h, sizeof(h));
	h |= 1;
	if (2 * (ls->n + 1) > ls->cap) {
		size_t cap = ls->cap ? 2 * ls->cap : 1024;
		uint64_t *ns = calloc(cap, sizeof(*ns));
		if (!ns)
			return true;
		for (size_t i = 0; i < ls->cap; i++)
			if (ls->slot[i])
				for (size_t k = ls->slot[i] & (cap - 1);; k = (k + 1) & (cap - 1))
					if (!ns[k]) {
						ns[k] = ls->slot[i];
						break;
					}
		free(ls->slot);
		ls->slot = ns;
		ls->cap = cap;
	}
	for (size_t k = h & (ls->cap - 1);; k = (k + 1) & (ls->cap - 1)) {
		if (ls->slot[k] == h)
			return false;
		if (!ls->slot[k]) {
			ls->slot[k] = h;
			ls->n++;
			return true;
		}
	}
}

struct backtest {
	struct locked_set locked_now, locked_after;
	kg_risk *now, *after;      /* in memory: they decide, never act */
	json_t *rules;             /* the rules promoted */
	int64_t from_ms, to_ms;
	kg_arena a;
	size_t events, refused, locks_added, holds_added;
	int64_t first_ms, last_ms; /* event times of the window's first and last events */
	json_t *by_rule;           /* {rule: {"fired","locks_added"}} */
	struct breaker_sim *sim_now, *sim_after;
};

static void bump(json_t *by_rule, const char *rule, const char *what)
{
	json_t *o = json_object_get(by_rule, rule);
	json_t *v = json_object_get(o, what);
	json_object_set_new(o, what, json_integer(json_integer_value(v) + 1));
}

/* The action of a stored decision (allow when none was stored). */
static enum kg_action stored_action(const char *decision)
{
	json_t *j = decision ? json_loads(decision, 0, NULL) : NULL;
	const char *a = json_string_value(json_object_get(j, "action"));
	enum kg_action out = KG_ACT_ALLOW;
	for (int i = 0; a && i < 4; i++)
		if (!strcmp(a, kg_action_names[i]))
			out = (enum kg_action)i;
	json_decref(j);
	return out;
}

static int backtest_event(const kg_event_rec *ev, void *ctx)
{
	struct backtest *b = ctx;
	kg_err e;
	kg_err_clear(&e);
	kg_arena_reset(&b->a);
	struct kg_decision dn, da;
	size_t len = strlen(ev->body);
	if (kg_risk_decide(b->now, ev->body, len, &b->a, &dn, &e) ||
	    kg_risk_decide(b->after, ev->body, len, &b->a, &da, &e)) {
		b->refused++;
		return 0;
	}
	if (!b->events++)
		b->first_ms = da.ts_ms;
	b->last_ms = da.ts_ms;
	char rule[KG_ID_MAX + 1];
	bool new_now = dn.action == KG_ACT_LOCK && locked_add(&b->locked_now, &dn);
	bool new_after = da.action == KG_ACT_LOCK && locked_add(&b->locked_after, &da);
	if (new_now) {
		lock_rule(&dn, rule);
		sim_lock(b->sim_now, rule, da.ts_ms);
	}
	if (new_after) {
		lock_rule(&da, rule);
		sim_lock(b->sim_after, rule, da.ts_ms);
	}
	/* added: a new lock that neither the policy as it runs now nor the
	 * stored decision (a changed rule's old content, gone from the text,
	 * locked it) made */
	enum kg_action was = stored_action(ev->decision);
	bool lock_added = new_after && dn.action != KG_ACT_LOCK && was != KG_ACT_LOCK;
	b->locks_added += lock_added;
	b->holds_added += da.action == KG_ACT_HOLD && dn.action < KG_ACT_HOLD && was < KG_ACT_HOLD;
	for (uint32_t i = 0; i < da.n_reasons; i++) {
		const struct kg_reason *r = &da.reasons[i];
		if (!names_has(b->rules, r->rule.p, r->rule.n))
			continue;
		snprintf(rule, sizeof(rule), "%.*s", (int)r->rule.n, r->rule.p);
		bump(b->by_rule, rule, "fired");
		if (lock_added)
			bump(b->by_rule, rule, "locks_added");
	}
	return 0;
}

static int backtest_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct backtest *b = ctx;
	return kg_tx_event_scan(tx, NULL, b->from_ms, b->to_ms, backtest_event, b, err);
}

/* The figures of promoting o->rules of p (pending now: pending) over the
 * last o->days of stored events. */
static int backtest(kg_store *s, const kg_policy *p, json_t *pending,
		    const struct kg_guard_promote_opts *o, json_t *rules, json_t **out, kg_err *err)
{
	json_t *after_pending = json_array(), *x;
	size_t i;
	json_array_foreach(pending, i, x)
		if (!names_has(rules, json_string_value(x), strlen(json_string_value(x))))
			json_array_append(after_pending, x);
	int64_t days = o->days > 0 ? o->days : 7;
	int64_t to = o->now_ms ? o->now_ms : kg_now_ms();
	struct backtest b = {.rules = rules, .from_ms = to - days * 86400000LL, .to_ms = to + 1};
	b.by_rule = json_object();
	json_array_foreach(rules, i, x)
		json_object_set_new(b.by_rule, json_string_value(x),
				    json_pack("{s:i, s:i}", "fired", 0, "locks_added", 0));
	b.sim_now = calloc(1, sizeof(*b.sim_now));
	b.sim_after = calloc(1, sizeof(*b.sim_after));
	kg_arena_init(&b.a, 16 * 1024);
	kg_policy *pn = NULL, *pa = NULL;
	int rc = (b.sim_now && b.sim_after) ? 0 : kg_err_set(err, KG_ENOMEM, "out of memory");
	if (!rc) {
		b.sim_now->p = b.sim_after->p = o->breaker;
		b.sim_after->cold = rules;
		rc = gated(p, pending, &pn, err);
	}
	rc = rc ? rc : gated(p, after_pending, &pa, err);
	rc = rc ? rc : kg_risk_new(pn, NULL, &b.now, err);
	rc = rc ? rc : kg_risk_new(pa, NULL, &b.after, err);
	rc = rc ? rc : kg_store_read(s, backtest_job, &b, err);
	if (!rc) {
		char f[KG_TIME_STR_MAX], t[KG_TIME_STR_MAX];
		/* per day of the events there are: a shop with two days of
		 * events in a window of seven gets its two days' rate */
		int64_t span = (b.last_ms - b.first_ms + 86400000LL - 1) / 86400000LL;
		span = span < 1 ? 1 : span > days ? days : span;
		double lpd = (double)b.locks_added / (double)span;
		double hpd = (double)b.holds_added / (double)span;
		json_t *v;
		const char *k;
		json_object_foreach(b.by_rule, k, v) {
			double n = (double)json_integer_value(json_object_get(v, "locks_added"));
			json_object_set_new(v, "locks_per_day",
					    json_real(round(100.0 * n / (double)span) / 100.0));
		}
		json_t *bn = sim_json(b.sim_now), *ba = sim_json(b.sim_after);
		json_object_set(ba, "trips_without", json_object_get(bn, "would_trip"));
		*out = json_pack("{s:O, s:I, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:O, s:o, s:I, s:s}",
				 "rules", rules, "days", (json_int_t)days, "span_days", (json_int_t)span, "from",
				 kg_time_format(b.from_ms, f), "to", kg_time_format(to, t), "events",
				 (json_int_t)b.events, "events_refused", (json_int_t)b.refused, "locks_added",
				 (json_int_t)b.locks_added, "holds_added", (json_int_t)b.holds_added,
				 "locks_per_day", round(lpd * 100) / 100, "holds_per_day",
				 round(hpd * 100) / 100, "by_rule", b.by_rule, "breaker", ba,
				 "max_locks_per_day", (json_int_t)o->max_locks_per_day, "version",
				 kg_policy_version(pa));
		json_decref(bn);
	}
	kg_risk_free(b.now);
	kg_risk_free(b.after);
	kg_policy_unref(pn);
	kg_policy_unref(pa);
	kg_arena_release(&b.a);
	free(b.sim_now);
	free(b.sim_after);
	free(b.locked_now.slot);
	free(b.locked_after.slot);
	json_decref(b.by_rule);
	json_decref(after_pending);
	return rc;
}

/* ---- promotion -------------------------------------------------------------*/
struct promote_job {
	const kg_policy *p, *after; /* after: p gated as it will be */
	json_t *rules, *figures;
	const struct kg_guard_promote_opts *o;
	bool demote, forced; /* forced: refused by the figures, promoted by force */
	json_t *pending; /* read: the pending rules now */
};

static int read_pending_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct promote_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	int rc = read_pending(tx, j->p, &a, &j->pending, err);
	kg_arena_release(&a);
	return rc;
}

static int promote_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct promote_job *j = ctx;
	const struct kg_guard_promote_opts *o = j->o;
	int64_t now = kg_now_ms();
	const char *v = kg_policy_version(j->after);
	int rc = 0;
	if (j->demote) {
		json_t *x;
		size_t i;
		json_array_foreach(j->rules, i, x) {
			char key[KG_GUARD_KEY_MAX], to[KG_GUARD_KEY_MAX + 2];
			rule_key(key, json_string_value(x));
			size_t kn = strlen(key);
			memcpy(to, key, kn);
			to[kn] = '\x01', to[kn + 1] = '\0'; /* just after key */
			if (!rc)
				rc = kg_tx_guard_delete(tx, "rollout", key, to, NULL, err);
		}
	} else {
		rc = put_promoted(tx, j->p, j->rules, v, o->actor, j->forced, o->reason, now, err);
	}
	rc = rc ? rc : kg_tx_guard_add(tx, "rollout", "gen", 1, now, NULL, err);
	json_t *d = json_pack("{s:s, s:O, s:s?}", "version", v, "rules", j->rules, "reason", o->reason);
	if (!j->demote) {
		json_object_set_new(d, "forced", json_boolean(j->forced));
		json_object_set(d, "figures", j->figures);
	}
	rc = rc ? rc : kg_guard_audit(tx, o->actor, j->demote ? "rules_demote" : "rules_promote",
				      json_incref(d), err);
	json_object_set_new(d, j->demote ? "demoted" : "promoted", json_incref(j->rules));
	rc = rc ? rc : kg_guard_version_record(tx, j->after, o->actor, d, err);
	json_decref(d);
	return rc;
}

/* The named rules as a JSON array, each a rule of p that is pending (to
 * promote) or live (to demote); else KG_EINVAL / KG_ECONFLICT naming it. */
static int check_rules(const kg_policy *p, json_t *pending, const char *const *names, size_t n,
		       bool demote, json_t **out, kg_err *err)
{
	if (n == 0)
		return kg_err_field(err, KG_EINVAL, "rules", "name at least one rule");
	struct kg_policy_rule_info info[KG_RULES_MAX];
	size_t m = kg_policy_rules(p, info, KG_RULES_MAX);
	*out = json_array();
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < m && strcmp(info[k].name, names[i]))
			k++;
		int rc = 0;
		bool is_pending = names_has(pending, names[i], strlen(names[i]));
		if (k == m)
			rc = kg_err_field(err, KG_EINVAL, "rules", "no rule \"%.64s\" in the policy %.200s",
					  names[i], kg_policy_file(p));
		else if (info[k].shadow)
			rc = kg_err_field(err, KG_EINVAL, "rules",
					  "rule \"%.64s\" is declared shadow in the policy: it never acts",
					  names[i]);
		else if (!demote && !is_pending)
			rc = kg_err_field(err, KG_ECONFLICT, "rules", "rule \"%.64s\" is live already",
					  names[i]);
		else if (demote && is_pending)
			rc = kg_err_field(err, KG_ECONFLICT, "rules", "rule \"%.64s\" is pending already",
					  names[i]);
		if (rc) {
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		if (!names_has(*out, names[i], strlen(names[i])))
			json_array_append_new(*out, json_string(names[i]));
	}
	return 0;
}

/* Why a promotion with these figures is refused, or NULL. */
static char *refusal(json_t *fig, json_t *rules)
{
	double lpd = json_number_value(json_object_get(fig, "locks_per_day"));
	int64_t max = json_integer_value(json_object_get(fig, "max_locks_per_day"));
	json_t *br = json_object_get(fig, "breaker");
	bool trips = json_is_true(json_object_get(br, "would_trip")) &&
		     !json_is_true(json_object_get(br, "trips_without"));
	if (lpd <= (double)max && !trips)
		return NULL;
	char names[512] = "";
	size_t at = 0;
	json_t *x;
	size_t i;
	json_array_foreach(rules, i, x) {
		int w = snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "",
				 json_string_value(x));
		if (w < 0 || (size_t)w >= sizeof(names) - at)
			break;
		at += (size_t)w;
	}
	char *msg = NULL;
	char over[160] = "", trip[200] = "";
	if (lpd > (double)max)
		snprintf(over, sizeof(over), "it would add %.2f automatic locks a day "
			 "(rules.promote_max_locks_per_day %" PRId64 ")", lpd, max);
	if (trips)
		snprintf(trip, sizeof(trip), "%sit would have tripped the breaker (%s on %s at %s)",
			 over[0] ? " and " : "",
			 json_string_value(json_object_get(br, "trigger")),
			 json_string_value(json_object_get(br, "rule")),
			 json_string_value(json_object_get(br, "at")));
	static const char fmt[] = "promotion of %s refused: %s%s; force it with a reason";
	int len = snprintf(NULL, 0, fmt, names, over, trip);
	if (len > 0 && (msg = malloc((size_t)len + 1)))
		snprintf(msg, (size_t)len + 1, fmt, names, over, trip);
	return msg;
}

static int change(kg_store *s, const kg_policy *p, const struct kg_guard_promote_opts *o,
		  bool demote, json_t **out, kg_err *err)
{
	*out = NULL;
	if (!demote && o->force && (!o->reason || !*o->reason))
		return kg_err_field(err, KG_EINVAL, "reason", "a forced promotion needs a reason");
	if (demote && !o->dry_run && (!o->reason || !*o->reason))
		return kg_err_field(err, KG_EINVAL, "reason", "a demotion needs a reason");
	struct promote_job j = {.p = p, .o = o, .demote = demote};
	int rc = kg_store_read(s, read_pending_job, &j, err);
	rc = rc ? rc : check_rules(p, j.pending, o->rules, o->n_rules, demote, &j.rules, err);
	json_t *fig = NULL;
	if (!rc && !demote)
		rc = backtest(s, p, j.pending, o, j.rules, &fig, err);
	json_t *after_pending = json_array(), *x;
	size_t i;
	json_array_foreach(j.pending, i, x)
		if (demote || !names_has(j.rules, json_string_value(x), strlen(json_string_value(x))))
			json_array_append(after_pending, x);
	if (demote)
		json_array_extend(after_pending, j.rules);
	kg_policy *after = NULL;
	rc = rc ? rc : gated(p, after_pending, &after, err);
	char *why = fig ? refusal(fig, j.rules) : NULL;
	if (!rc && !o->dry_run && why && !o->force)
		rc = kg_err_field(err, KG_ECONFLICT, "rules", "%s", why);
	if (!rc && !o->dry_run) {
		j.after = after;
		j.figures = fig;
		j.forced = o->force && why;
		rc = kg_store_write(s, promote_job, &j, err);
	}
	if (!rc) {
		*out = fig ? json_incref(fig) : json_pack("{s:O}", "rules", j.rules);
		json_object_set_new(*out, "dry_run", json_boolean(o->dry_run));
		json_object_set_new(*out, "version", json_string(kg_policy_version(after)));
		json_object_set_new(*out, "refused", why ? json_string(why) : json_null());
		if (!o->dry_run)
			json_object_set_new(*out, demote ? "demoted" : "promoted", json_true());
		if (!o->dry_run && !demote)
			json_object_set_new(*out, "forced", json_boolean(o->force && why));
	}
	free(why);
	kg_policy_unref(after);
	json_decref(after_pending);
	json_decref(fig);
	json_decref(j.rules);
	json_decref(j.pending);
	return rc;
}

int kg_guard_promote(kg_store *s, const kg_policy *p, const struct kg_guard_promote_opts *o,
		     json_t **out, kg_err *err)
{
	return change(s, p, o, false, out, err);
}

int kg_guard_demote(kg_store *s, const kg_policy *p, const struct kg_guard_promote_opts *o,
		    json_t **out, kg_err *err)
{
	return change(s, p, o, true, out, err);
}
