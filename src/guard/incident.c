/* Incidents of the breaker: list, detail (timeline, affected accounts),
 * the revert in resumable steps, and confirming holds into locks. Rows
 * (besides breaker.c's): revert/<incident> the progress, value JSON;
 * apology/<incident>|<account> one per account. Not here: the trip
 * (breaker.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "guard/guard_impl.h"

#define AFFECTED_MAX 1000   /* accounts listed in an incident's detail */
#define DRY_RUN_MAX 100000  /* lock ids a dry run lists */

static json_t *incident_json(const kg_incident *inc, json_t **detail_out)
{
	char t1[KG_TIME_STR_MAX], t2[KG_TIME_STR_MAX], t3[KG_TIME_STR_MAX];
	json_t *d = json_loads(inc->detail ? inc->detail : "{}", 0, NULL);
	if (!d)
		d = json_object();
	const char *state = inc->state && !strcmp(inc->state, "reverted") ? "reverted"
			    : inc->state && !strcmp(inc->state, "closed") ? "closed"
									  : "open";
	json_t *rules = json_object_get(d, "rules");
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s?, s:s?}", "id", inc->id, "state",
			      state, "opened_at", kg_time_format(inc->detected_ms, t1), "onset",
			      kg_time_format(inc->started_ms, t2), "rules", rules ? rules : json_array(),
			      "suspect", json_object_get(d, "suspect") ? json_object_get(d, "suspect")
									: json_null(),
			      "trip", json_string_value(json_object_get(d, "trip")), "summary",
			      inc->summary);
	if (j && json_object_get(d, "trip_ms"))
		json_object_set_new(
			j, "tripped_at",
			json_string(kg_time_format(json_integer_value(json_object_get(d, "trip_ms")), t3)));
	json_t *feed = json_object_get(d, "feed"); /* (suspect null: what moved) */
	if (j && feed)
		json_object_set(j, "feed", feed);
	if (detail_out)
		*detail_out = d;
	else
		json_decref(d);
	return j;
}

/* The end of an incident's span on rule (event time, exclusive): the
 * onset of the next incident of that rule (a re-trip after a reset opens a
 * new incident from its own onset; the earlier one keeps its locks);
 * INT64_MAX when none. */
static int64_t rule_until(kg_tx *tx, const kg_incident *inc, const char *rule, kg_arena *a,
			  kg_err *err)
{
	kg_incident *all = NULL;
	size_t n = 0;
	int64_t until = INT64_MAX;
	if (kg_tx_incident_list(tx, NULL, 0, a, &all, &n, err)) {
		kg_err_clear(err);
		return until;
	}
	for (size_t i = 0; i < n; i++) {
		if (!all[i].kind || strcmp(all[i].kind, "lock_wave") || !strcmp(all[i].id, inc->id) ||
		    all[i].started_ms < inc->started_ms ||
		    (all[i].started_ms == inc->started_ms && strcmp(all[i].id, inc->id) < 0) ||
		    all[i].started_ms >= until)
			continue;
		json_t *d = json_loads(all[i].detail ? all[i].detail : "{}", 0, NULL), *r;
		size_t k;
		json_array_foreach(json_object_get(d, "rules"), k, r)
			if (json_string_value(r) && !strcmp(json_string_value(r), rule))
				until = all[i].started_ms;
		json_decref(d);
	}
	return until;
}

/* The index rows (automatic locks) of rule from onset_ms on and before
 * until_ms (INT64_MAX: no end), after key `after` (exclusive; "" from the
 * start), at most limit (0: all). */
static int index_rows(kg_tx *tx, const char *rule, int64_t onset_ms, int64_t until_ms,
		      const char *after, size_t limit, kg_arena *a, kg_guard_row **rows, size_t *n,
		      kg_err *err)
{
	char from[KG_GUARD_KEY_MAX * 2 + 8], to[KG_GUARD_KEY_MAX];
	if (after && *after)
		snprintf(from, sizeof(from), "%s\x01", after);
	else
		snprintf(from, sizeof(from), "%s|%015" PRId64, rule, onset_ms > 0 ? onset_ms : 0);
	if (until_ms < INT64_MAX)
		snprintf(to, sizeof(to), "%s|%015" PRId64, rule, until_ms);
	else
		snprintf(to, sizeof(to), "%s|~", rule);
	return kg_tx_guard_list(tx, "autolock", from, to, limit, a, rows, n, err);
}

static const char *lock_of_key(const char *key)
{
	const char *p = strrchr(key, '|');
	return p ? p + 1 : key;
}

static int hold_rows(kg_tx *tx, const char *incident, const char *after, size_t limit,
		     kg_arena *a, kg_guard_row **rows, size_t *n, kg_err *err)
{
	char from[KG_GUARD_KEY_MAX * 2 + 8], to[KG_GUARD_KEY_MAX];
	if (after && *after)
		snprintf(from, sizeof(from), "%s\x01", after);
	else
		snprintf(from, sizeof(from), "%s|", incident);
	snprintf(to, sizeof(to), "%s|~", incident);
	return kg_tx_guard_list(tx, "hold", from, to, limit, a, rows, n, err);
}

/* ---- list and detail ---------------------------------------------------------*/
/* The incident's holds by state (hold row n: 0 held, 1 released by a
 * revert, 2 confirmed into a lock). */
struct hold_counts {
	int64_t all, open, released, confirmed;
};

static void count_holds(const kg_guard_row *rows, size_t n, struct hold_counts *h)
{
	*h = (struct hold_counts){0};
	for (size_t i = 0; i < n; i++) {
		h->all++;
		if (rows[i].n == 1)
			h->released++;
		else if (rows[i].n == 2)
			h->confirmed++;
		else
			h->open++;
	}
}

static void put_hold_counts(json_t *j, const struct hold_counts *h)
{
	json_object_set_new(j, "holds", json_integer(h->all));
	json_object_set_new(j, "holds_open", json_integer(h->open));
	json_object_set_new(j, "holds_released", json_integer(h->released));
	json_object_set_new(j, "holds_confirmed", json_integer(h->confirmed));
}

/* The list's counts of an incident: its automatic locks (each rule's
 * span) and its holds. */
static int list_counts(kg_tx *tx, const kg_incident *inc, json_t *j, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	json_t *d = json_loads(inc->detail ? inc->detail : "{}", 0, NULL), *r;
	int64_t locks = 0;
	size_t k;
	int rc = 0;
	json_array_foreach(json_object_get(d, "rules"), k, r) {
		const char *rule = json_string_value(r) ? json_string_value(r) : "";
		kg_guard_row *rows = NULL;
		size_t n = 0;
		if ((rc = index_rows(tx, rule, inc->started_ms, rule_until(tx, inc, rule, &a, err), NULL,
				     0, &a, &rows, &n, err)))
			break;
		locks += (int64_t)n;
	}
	json_decref(d);
	kg_guard_row *holds = NULL;
	size_t nh = 0;
	struct hold_counts hc;
	if (!rc && !(rc = hold_rows(tx, inc->id, NULL, 0, &a, &holds, &nh, err))) {
		count_holds(holds, nh, &hc);
		json_object_set_new(j, "locks", json_integer(locks));
		put_hold_counts(j, &hc);
	}
	kg_arena_release(&a);
	return rc;
}

struct view_job {
	const char *id;
	size_t limit;
	json_t *out;
};

static int list_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct view_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_incident *incs = NULL;
	size_t n = 0;
	int rc = kg_tx_incident_list(tx, NULL, j->limit, &a, &incs, &n, err);
	j->out = json_array();
	for (size_t i = 0; !rc && i < n; i++)
		if (incs[i].kind && !strcmp(incs[i].kind, "lock_wave")) {
			json_t *one = incident_json(&incs[i], NULL);
			json_array_append_new(j->out, one);
			rc = list_counts(tx, &incs[i], one, err);
		}
	kg_arena_release(&a);
	return rc;
}

int kg_guard_incidents(kg_store *s, size_t limit, json_t **out, kg_err *err)
{
	struct view_job j = {NULL, limit ? limit : 100, NULL};
	int rc = kg_store_read(s, list_job, &j, err);
	if (rc) {
		json_decref(j.out);
		j.out = NULL;
	}
	*out = j.out;
	return rc;
}

static int get_incident(kg_tx *tx, const char *id, kg_incident *inc, kg_arena *a, kg_err *err)
{
	int rc = kg_tx_incident_get(tx, id, inc, a, err);
	if (!rc && (!inc->kind || strcmp(inc->kind, "lock_wave")))
		rc = KG_ENOTFOUND;
	if (rc == KG_ENOTFOUND)
		return kg_err_field(err, KG_ENOTFOUND, "id", "no incident %s", id);
	return rc;
}

static int detail_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct view_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_incident inc;
	json_t *d = NULL;
	int rc = get_incident(tx, j->id, &inc, &a, err);
	if (rc)
		goto cleanup;
	j->out = incident_json(&inc, &d);
	json_t *rules = json_object_get(d, "rules"), *r;
	int64_t onset = inc.started_ms;
	int64_t trip_ms = json_integer_value(json_object_get(d, "trip_ms"));
	json_t *accounts = json_array(), *seen = json_object();
	int64_t locks = 0;
	size_t k;
	json_array_foreach(rules, k, r) {
		kg_guard_row *rows = NULL;
		size_t n = 0;
		const char *rule = json_string_value(r) ? json_string_value(r) : "";
		if ((rc = index_rows(tx, rule, onset, rule_until(tx, &inc, rule, &a, err), NULL, 0, &a,
				     &rows, &n, err)))
			break;
		locks += (int64_t)n;
		for (size_t i = 0; i < n; i++)
			if (rows[i].value && !json_object_get(seen, rows[i].value) &&
			    json_array_size(accounts) < AFFECTED_MAX) {
				json_object_set_new(seen, rows[i].value, json_true());
				json_array_append_new(accounts, json_string(rows[i].value));
			}
	}
	json_decref(seen);
	kg_guard_row *holds = NULL;
	size_t nh = 0;
	if (!rc)
		rc = hold_rows(tx, j->id, NULL, 0, &a, &holds, &nh, err);
	/* the timeline: locks per minute (all rules and the incident's) from
	 * ten minutes before the onset to ten after the trip, and the events */
	json_t *minutes = json_array();
	int64_t m0 = onset / 60000 - 10, m1 = (trip_ms ? trip_ms : onset) / 60000 + 10;
	if (m1 - m0 > 24 * 60)
		m1 = m0 + 24 * 60;
	for (int64_t m = m0; !rc && m <= m1; m++) {
		char key[KG_GUARD_KEY_MAX], t[KG_TIME_STR_MAX];
		kg_guard_row b;
		kg_guard_key_bucket(key, "*", m);
		int brc = kg_tx_guard_get(tx, "bucket", key, &b, &a, err);
		if (brc && brc != KG_ENOTFOUND) {
			rc = brc;
			break;
		}
		json_t *row = json_pack("{s:s, s:I}", "minute", kg_time_format(m * 60000, t), "locks",
					(json_int_t)(brc ? 0 : b.n));
		json_t *by = json_object();
		json_array_foreach(rules, k, r) {
			kg_guard_key_bucket(key, json_string_value(r), m);
			if (!kg_tx_guard_get(tx, "bucket", key, &b, &a, err))
				json_object_set_new(by, json_string_value(r), json_integer(b.n));
		}
		json_object_set_new(row, "by_rule", by);
		json_array_append_new(minutes, row);
	}
	json_t *events = json_array();
	char t[KG_TIME_STR_MAX];
	json_array_append_new(events, json_pack("{s:s, s:s}", "at", kg_time_format(onset, t), "what",
						"onset (event time)"));
	if (trip_ms)
		json_array_append_new(events, json_pack("{s:s, s:s}", "at", kg_time_format(trip_ms, t),
							"what", "tripped (event time)"));
	json_array_append_new(events, json_pack("{s:s, s:s}", "at", kg_time_format(inc.detected_ms, t),
						"what", "incident opened"));
	if (inc.resolved_ms)
		json_array_append_new(events, json_pack("{s:s, s:s, s:s?}", "at",
							kg_time_format(inc.resolved_ms, t), "what",
							"reverted", "by", inc.resolved_by));
	kg_guard_row prog;
	if (!rc && !kg_tx_guard_get(tx, "revert", j->id, &prog, &a, err) && prog.value)
		json_object_set_new(j->out, "revert", json_loads(prog.value, 0, NULL));
	json_object_set_new(j->out, "locks", json_integer(locks));
	struct hold_counts hc;
	count_holds(holds, nh, &hc);
	put_hold_counts(j->out, &hc);
	json_object_set_new(j->out, "affected_accounts", accounts);
	json_object_set_new(j->out, "timeline", json_pack("{s:o, s:o}", "minutes", minutes, "events",
							  events));
cleanup:
	json_decref(d);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_incident(kg_store *s, const char *id, json_t **out, kg_err *err)
{
	struct view_job j = {id, 0, NULL};
	int rc = kg_store_read(s, detail_job, &j, err);
	if (rc) {
		json_decref(j.out);
		j.out = NULL;
	}
	*out = j.out;
	return rc;
}

/* ---- revert --------------------------------------------------------------------*/
struct progress {
	size_t rule;        /* the rule being walked (index in the incident's rules) */
	char after[KG_GUARD_KEY_MAX * 2]; /* the last index/hold key done */
	int phase;          /* 0 locks, 1 holds, 2 done */
	int64_t unlocked, already, apologies, holds;
};

static void progress_parse(const char *text, struct progress *p)
{
	memset(p, 0, sizeof(*p));
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	if (!j)
		return;
	p->rule = (size_t)json_integer_value(json_object_get(j, "rule"));
	snprintf(p->after, sizeof(p->after), "%s",
		 json_string_value(json_object_get(j, "after")) ?: "");
	const char *ph = json_string_value(json_object_get(j, "phase"));
	p->phase = ph && !strcmp(ph, "done") ? 2 : ph && !strcmp(ph, "holds") ? 1 : 0;
	p->unlocked = json_integer_value(json_object_get(j, "unlocked"));
	p->already = json_integer_value(json_object_get(j, "already"));
	p->apologies = json_integer_value(json_object_get(j, "apologies"));
	p->holds = json_integer_value(json_object_get(j, "holds_released"));
	json_decref(j);
}

static json_t *progress_json(const struct progress *p)
{
	static const char *const phases[] = {"locks", "holds", "done"};
	return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "rule", (json_int_t)p->rule, "after",
			 p->after, "phase", phases[p->phase], "unlocked", (json_int_t)p->unlocked,
			 "already", (json_int_t)p->already, "apologies", (json_int_t)p->apologies,
			 "holds_released", (json_int_t)p->holds);
}

struct revert_job {
	const char *id;
	const struct kg_guard_revert_opts *o;
	struct progress p;
	bool done;
	int64_t step_unlocked, step_apologies; /* of the last step run */
	json_t *would; /* dry run */
	int64_t would_n;
};

/* One account's apology, once per incident. */
static int apologise(kg_tx *tx, struct revert_job *j, const char *account, kg_arena *a,
		     kg_err *err)
{
	char key[KG_GUARD_KEY_MAX * 2];
	snprintf(key, sizeof(key), "%s|%s", j->id, account);
	kg_guard_row r;
	int rc = kg_tx_guard_get(tx, "apology", key, &r, a, err);
	if (rc != KG_ENOTFOUND)
		return rc;
	int64_t per_min = j->o->mail_per_min > 0 ? j->o->mail_per_min : 600;
	int64_t now = kg_now_ms();
	/* the mails leave at most per_min a minute, in the order of the revert */
	int64_t due = now + j->p.apologies * 60000 / per_min;
	if ((rc = kg_tx_guard_put(tx, &(kg_guard_row){"apology", key, NULL, 0, now}, err)) ||
	    (rc = kg_account_apology_tx(tx, j->o->cfg, account, j->id, due, err)))
		return rc;
	j->p.apologies++;
	return 0;
}

static int revert_step(kg_tx *tx, void *ctx, kg_err *err)
{
	struct revert_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_incident inc;
	json_t *d = NULL;
	size_t step = j->o->step ? j->o->step : 200;
	int rc = get_incident(tx, j->id, &inc, &a, err);
	if (rc)
		goto cleanup;
	kg_guard_row prog;
	rc = kg_tx_guard_get(tx, "revert", j->id, &prog, &a, err);
	if (rc && rc != KG_ENOTFOUND)
		goto cleanup;
	progress_parse(rc ? NULL : prog.value, &j->p);
	rc = 0;
	int64_t unlocked0 = j->p.unlocked, apologies0 = j->p.apologies;
	if (j->p.phase == 2) {
		j->done = true;
		goto cleanup;
	}
	if (j->p.rule == 0 && !j->p.after[0] && j->p.phase == 0 &&
	    (rc = kg_guard_audit(tx, j->o->actor, "incident_revert_start",
				 json_pack("{s:s, s:s?}", "incident", j->id, "reason", j->o->reason),
				 err)))
		goto cleanup;
	d = json_loads(inc.detail ? inc.detail : "{}", 0, NULL);
	json_t *rules = json_object_get(d, "rules");
	size_t done = 0;
	while (j->p.phase == 0 && done < step) {
		if (j->p.rule >= json_array_size(rules)) {
			j->p.phase = 1;
			j->p.after[0] = '\0';
			break;
		}
		const char *rule = json_string_value(json_array_get(rules, j->p.rule));
		kg_guard_row *rows = NULL;
		size_t n = 0, lim = step - done;
		rule = rule ? rule : "";
		if ((rc = index_rows(tx, rule, inc.started_ms, rule_until(tx, &inc, rule, &a, err),
				     j->p.after, lim, &a, &rows, &n, err)))
			goto cleanup;
		for (size_t i = 0; i < n; i++) {
			const char *acct = rows[i].value ? rows[i].value : "";
			int lrc = kg_account_lock_revert_tx(tx, acct, lock_of_key(rows[i].key), j->id,
							    j->o->actor, j->o->reason, 0, err);
			if (lrc == KG_ECONFLICT || lrc == KG_ENOTFOUND) {
				kg_err_clear(err);
				j->p.already++;
			} else if (lrc) {
				rc = lrc;
				goto cleanup;
			} else {
				j->p.unlocked++;
				if ((rc = apologise(tx, j, acct, &a, err)))
					goto cleanup;
			}
			snprintf(j->p.after, sizeof(j->p.after), "%s", rows[i].key);
		}
		done += n;
		if (n < lim) { /* this rule is walked */
			j->p.rule++;
			j->p.after[0] = '\0';
		}
	}
	if (j->p.phase == 1 && done < step) {
		kg_guard_row *rows = NULL;
		size_t n = 0;
		if ((rc = hold_rows(tx, j->id, j->p.after, step - done, &a, &rows, &n, err)))
			goto cleanup;
		for (size_t i = 0; i < n && !rc; i++) {
			if (rows[i].n == 0) {
				rows[i].n = 1;
				rc = kg_tx_guard_put(tx, &rows[i], err);
				j->p.holds++;
			}
			snprintf(j->p.after, sizeof(j->p.after), "%s", rows[i].key);
		}
		if (rc)
			goto cleanup;
		if (n < step - done) {
			j->p.phase = 2;
			j->p.after[0] = '\0';
			inc.state = "reverted";
			inc.resolved_ms = kg_now_ms();
			inc.resolved_by = j->o->actor;
			inc.updated_ms = 0;
			json_t *w = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s?}", "incident", j->id,
					      "unlocked", (json_int_t)j->p.unlocked, "already",
					      (json_int_t)j->p.already, "apologies",
					      (json_int_t)j->p.apologies, "holds_released",
					      (json_int_t)j->p.holds, "reason", j->o->reason);
			if ((rc = kg_tx_incident_update(tx, &inc, err)) ||
			    (rc = kg_guard_audit(tx, j->o->actor, "incident_revert", json_deep_copy(w),
						 err)) ||
			    (rc = kg_guard_webhook(tx, "incident.reverted", w, err)))
				goto cleanup;
			j->done = true;
		}
	}
	json_t *pj = progress_json(&j->p);
	char *text = pj ? json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(pj);
	rc = text ? kg_tx_guard_put(tx, &(kg_guard_row){"revert", j->id, text, 0, kg_now_ms()}, err)
		  : kg_err_set(err, KG_ENOMEM, "out of memory");
	free(text);
	j->step_unlocked = j->p.unlocked - unlocked0;
	j->step_apologies = j->p.apologies - apologies0;
cleanup:
	json_decref(d);
	kg_arena_release(&a);
	return rc;
}

static int dry_run_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct revert_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_incident inc;
	json_t *d = NULL;
	int rc = get_incident(tx, j->id, &inc, &a, err);
	if (rc)
		goto cleanup;
	d = json_loads(inc.detail ? inc.detail : "{}", 0, NULL);
	json_t *r;
	size_t k;
	j->would = json_array();
	json_array_foreach(json_object_get(d, "rules"), k, r) {
		kg_guard_row *rows = NULL;
		size_t n = 0;
		const char *rule = json_string_value(r) ? json_string_value(r) : "";
		if ((rc = index_rows(tx, rule, inc.started_ms, rule_until(tx, &inc, rule, &a, err),
				     NULL, 0, &a, &rows, &n, err)))
			break;
		for (size_t i = 0; i < n; i++) {
			kg_lock l;
			if (kg_tx_lock_get(tx, rows[i].value ? rows[i].value : "", lock_of_key(rows[i].key),
					   &l, &a, err) ||
			    !l.state || strcmp(l.state, "active")) {
				kg_err_clear(err);
				continue;
			}
			if (j->would_n++ < DRY_RUN_MAX)
				json_array_append_new(j->would, json_string(lock_of_key(rows[i].key)));
		}
	}
cleanup:
	json_decref(d);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_revert(kg_store *s, const char *id, const struct kg_guard_revert_opts *o,
		    json_t **out, kg_err *err)
{
	*out = NULL;
	struct revert_job j = {.id = id, .o = o};
	if (o->dry_run) {
		int rc = kg_store_read(s, dry_run_job, &j, err);
		if (rc) {
			json_decref(j.would);
			return rc;
		}
		*out = json_pack("{s:o, s:I, s:b}", "would_unlock", j.would, "count",
				 (json_int_t)j.would_n, "dry_run", 1);
		return 0;
	}
	if (!o->reason || !*o->reason)
		return kg_err_field(err, KG_EINVAL, "reason", "a revert needs a reason");
	int rc = 0;
	while (!j.done && !rc) {
		j.step_unlocked = j.step_apologies = 0;
		rc = kg_store_write(s, revert_step, &j, err);
		if (!rc) /* committed: count it */
			kg_guard_metrics_reverted(j.step_unlocked, j.step_apologies);
		if (!rc && o->progress)
			o->progress(o->progress_ctx, (size_t)j.p.unlocked, (size_t)j.p.already);
	}
	kg_guard_metrics_changed();
	if (rc)
		return rc;
	*out = json_pack("{s:I, s:I, s:I, s:I}", "unlocked", (json_int_t)j.p.unlocked, "already",
			 (json_int_t)j.p.already, "apologies", (json_int_t)j.p.apologies,
			 "holds_released", (json_int_t)j.p.holds);
	return 0;
}

/* ---- confirming holds ----------------------------------------------------------*/
struct confirm_job {
	const kg_config *cfg;
	const char *id, *actor, *reason;
	size_t confirmed;
};

static int confirm_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct confirm_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_incident inc;
	kg_guard_row *rows = NULL;
	size_t n = 0;
	int rc = get_incident(tx, j->id, &inc, &a, err);
	if (!rc)
		rc = hold_rows(tx, j->id, NULL, 0, &a, &rows, &n, err);
	char actor[KG_ID_MAX + 16];
	snprintf(actor, sizeof(actor), "%s", j->actor ? j->actor : "admin");
	for (size_t i = 0; !rc && i < n; i++) {
		if (rows[i].n != 0)
			continue;
		/* key: <incident>|<ts>|<account>|<event>; value: "<reason> <rule>" */
		char acct[KG_GUARD_KEY_MAX], reason[64] = "";
		const char *p = strchr(rows[i].key, '|');
		p = p ? strchr(p + 1, '|') : NULL;
		const char *e = p ? strrchr(rows[i].key, '|') : NULL;
		if (!p || !e || e <= p)
			continue;
		snprintf(acct, sizeof(acct), "%.*s", (int)(e - p - 1), p + 1);
		sscanf(rows[i].value ? rows[i].value : "", "%63s", reason);
		enum kg_lock_reason r;
		if (kg_lock_reason_parse(reason, &r))
			r = KG_LOCK_MANUAL;
		json_t *ev = json_pack("{s:s, s:s, s:s?}", "incident", j->id, "hold", rows[i].key,
				       "note", j->reason);
		char *evt = ev ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(ev);
		kg_account_lock_req req = {.account_id = acct, .reason = r, .evidence = evt,
					   .actor = actor, .incident_id = j->id};
		rc = kg_account_lock_apply(tx, j->cfg, &req, NULL, err);
		free(evt);
		if (rc == KG_ENOTFOUND) { /* a pseudo account: nothing to lock */
			kg_err_clear(err);
			rc = 0;
			continue;
		}
		rows[i].n = 2;
		if (!rc)
			rc = kg_tx_guard_put(tx, &rows[i], err);
		j->confirmed += rc == 0;
	}
	if (!rc)
		rc = kg_guard_audit(tx, actor, "incident_confirm_holds",
				    json_pack("{s:s, s:I, s:s?}", "incident", j->id, "confirmed",
					      (json_int_t)j->confirmed, "reason", j->reason),
				    err);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_confirm_holds(kg_store *s, const kg_config *cfg, const char *id,
			   const char *actor, const char *reason, size_t *confirmed, kg_err *err)
{
	if (!reason || !*reason)
		return kg_err_field(err, KG_EINVAL, "reason", "confirming holds needs a reason");
	struct confirm_job j = {cfg, id, actor, reason, 0};
	int rc = kg_store_write(s, confirm_job, &j, err);
	if (confirmed)
		*confirmed = rc ? 0 : j.confirmed;
	return rc;
}
