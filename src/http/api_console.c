/* The API the console needs beyond the account routes: account search and
 * an account's timeline for agents (masked: no identity-check answer — name,
 * email, address, card — is ever in them), the lock-rate time series for
 * operations, and the download of a case document. docs/api.md "## Console".
 * Not here: business rules (src/account) or SQL (src/store). */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "guard/guard.h"
#include "risk/risk.h"
#include "store/store.h"

static char *ts(int64_t ms, char out[KG_TIME_STR_MAX])
{
	return kg_time_format(ms, out);
}

/* An account as an agent's search and timeline show it: name and email
 * through the account module's one mask (kg_mask_name, kg_mask_email). */
static json_t *masked(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *masked_account(kg_arena *a, const kg_account *acc, size_t nlocks)
{
	char t[KG_TIME_STR_MAX];
	return json_pack("{s:s, s:o, s:o, s:s?, s:b, s:s, s:I, s:s}", "id", acc->id, "name",
			 masked(kg_mask_name(acc->name, a)), "email",
			 masked(kg_mask_email(acc->email, a)), "lang", acc->lang, "totp",
			 acc->totp_enabled, "status", nlocks ? "locked" : "active", "active_locks",
			 (json_int_t)nlocks, "created", ts(acc->created_ms, t));
}

/* ---- GET /v1/accounts?q= ------------------------------------------------------*/
#define SEARCH_MAX 20

struct search {
	const char *q;
	kg_arena *a;
	kg_account *accs;
	size_t n;
	size_t nlocks[SEARCH_MAX];
};

static int search_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct search *s = ctx;
	int rc = kg_tx_account_search(tx, s->q, SEARCH_MAX, s->a, &s->accs, &s->n, err);
	int64_t now = kg_now_ms();
	for (size_t i = 0; rc == 0 && i < s->n && i < SEARCH_MAX; i++) {
		kg_lock *l;
		rc = kg_tx_lock_list_active(tx, s->accs[i].id, now, s->a, &l, &s->nlocks[i], err);
	}
	return rc;
}

int kg_api_account_search(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *q = kg_http_query(req, "q");
	if (!q || !*q)
		return kg_err_field(err, KG_EINVAL, "q", "give q: an account id, an email or the start of a name");
	if (strlen(q) > KG_EMAIL_MAX)
		return kg_err_field(err, KG_EINVAL, "q", "q is longer than %d bytes", KG_EMAIL_MAX);
	struct search s = {.q = q, .a = req->arena};
	int rc = kg_store_read(req->app->store, search_job, &s, err);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < s.n && i < SEARCH_MAX; i++)
		json_array_append_new(arr, masked_account(req->arena, &s.accs[i], s.nlocks[i]));
	return kg_http_reply_json(resp, 200, json_pack("{s:o}", "accounts", arr));
}

/* ---- GET /v1/accounts/{id}/timeline -------------------------------------------*/
#define TIMELINE_EVENTS_MAX 200
#define TIMELINE_AUDIT_MAX 500

struct timeline {
	const char *id;
	kg_arena *a;
	kg_account acc;
	kg_lock *locks, *active;
	size_t nlocks, nactive;
	kg_event_rec *events;
	size_t nevents;
	kg_message *msgs;
	size_t nmsgs;
	kg_case *cases;
	size_t ncases;
	kg_audit_entry *audit;
	size_t naudit;
};

static int timeline_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct timeline *t = ctx;
	int rc = kg_tx_account_get(tx, t->id, &t->acc, t->a, err);
	if (rc == KG_ENOTFOUND)
		return kg_err_field(err, KG_ENOTFOUND, "id", "no account \"%s\"", t->id);
	rc = rc ? rc : kg_tx_lock_list(tx, t->id, 0, t->a, &t->locks, &t->nlocks, err);
	rc = rc ? rc : kg_tx_lock_list_active(tx, t->id, kg_now_ms(), t->a, &t->active, &t->nactive, err);
	rc = rc ? rc : kg_tx_event_list(tx, t->id, TIMELINE_EVENTS_MAX, t->a, &t->events, &t->nevents, err);
	rc = rc ? rc : kg_tx_message_list(tx, t->id, 100, t->a, &t->msgs, &t->nmsgs, err);
	rc = rc ? rc : kg_tx_case_list(tx, t->id, NULL, 100, t->a, &t->cases, &t->ncases, err);
	return rc ? rc : kg_tx_audit_list(tx, t->id, 0, TIMELINE_AUDIT_MAX, t->a, &t->audit, &t->naudit, err);
}

/* The rules a decision names, each with its values and reason text. */
static json_t *decision_rules(const json_t *d, const char *key)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach(json_object_get(d, key), i, v) {
		json_t *o = json_object();
		const char *fields[] = {"rule", "action", "score", "detail", "values", "pending"};
		for (size_t k = 0; k < KG_ARRAY_LEN(fields); k++) {
			json_t *f = json_object_get(v, fields[k]);
			if (f)
				json_object_set(o, fields[k], f);
		}
		json_array_append_new(out, o);
	}
	return out;
}

/* A lock and why: the decision (or staff note) kept as its evidence. */
static json_t *lock_json(const kg_lock *l, bool active)
{
	char t[KG_TIME_STR_MAX];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", l->lock_id, "reason", l->reason,
			      "kind", l->kind, "state", l->state, "active", active, "created",
			      ts(l->created_ms, t));
	if (l->expires_ms)
		json_object_set_new(o, "expires", json_string(ts(l->expires_ms, t)));
	if (l->lifted_ms)
		json_object_set_new(o, "lifted", json_string(ts(l->lifted_ms, t)));
	if (l->lift_method)
		json_object_set_new(o, "lift_method", json_string(l->lift_method));
	json_t *ev = l->evidence ? json_loads(l->evidence, 0, NULL) : NULL;
	json_t *why = json_object();
	if (json_is_object(ev)) {
		const char *keep[] = {"event", "action", "score", "policy", "policy_version", "note"};
		for (size_t k = 0; k < KG_ARRAY_LEN(keep); k++) {
			json_t *f = json_object_get(ev, keep[k]);
			if (f)
				json_object_set(why, keep[k], f);
		}
		json_object_set_new(why, "rules", decision_rules(ev, "reasons"));
	}
	json_decref(ev);
	json_object_set_new(o, "explanation", why);
	return o;
}

/* Audit details carry ids, reasons and states, never a stored answer; only
 * scalar fields with these names are shown. */
static json_t *audit_detail(const char *detail)
{
	static const char *keep[] = {"lock", "lock_id", "reason", "method", "case", "case_id", "state",
				     "role", "credential", "result", "kind", "incident", "tries_left",
				     "lifted", "note"};
	json_t *d = detail ? json_loads(detail, 0, NULL) : NULL, *out = json_object();
	for (size_t k = 0; json_is_object(d) && k < KG_ARRAY_LEN(keep); k++) {
		json_t *f = json_object_get(d, keep[k]);
		if (f && !json_is_object(f) && !json_is_array(f))
			json_object_set(out, keep[k], f);
	}
	json_decref(d);
	return out;
}

static int item_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "ts"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "ts"));
	return -strcmp(x ? x : "", y ? y : ""); /* RFC 3339 UTC sorts as text: newest first */
}

int kg_api_account_timeline(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	struct timeline t = {.id = kg_http_param(req, "id"), .a = req->arena};
	int rc = kg_store_read(req->app->store, timeline_job, &t, err);
	if (rc)
		return rc;
	size_t cap = t.nevents + t.nmsgs + t.ncases + t.naudit + t.nlocks, n = 0;
	json_t **items = cap ? calloc(cap, sizeof(*items)) : NULL;
	if (cap && !items)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	char s[KG_TIME_STR_MAX];
	int64_t now = kg_now_ms();
	json_t *locks = json_array(), *active = json_array();
	for (size_t i = 0; i < t.nlocks; i++) {
		const kg_lock *l = &t.locks[i];
		bool on = !strcmp(l->state, "active") && (!l->expires_ms || l->expires_ms > now);
		json_array_append_new(on ? active : locks, lock_json(l, on));
	}
	for (size_t i = 0; i < t.nevents; i++) {
		const kg_event_rec *e = &t.events[i];
		json_t *d = e->decision ? json_loads(e->decision, 0, NULL) : NULL;
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts(e->ts_ms, s), "kind", "event", "event",
				      e->event_id, "type", e->type ? e->type : "");
		if (json_is_object(d)) {
			json_t *dec = json_object();
			const char *keep[] = {"action", "score", "lock"};
			for (size_t k = 0; k < KG_ARRAY_LEN(keep); k++)
				if (json_object_get(d, keep[k]))
					json_object_set(dec, keep[k], json_object_get(d, keep[k]));
			json_object_set_new(dec, "rules", decision_rules(d, "reasons"));
			json_object_set_new(dec, "shadow", decision_rules(d, "shadow"));
			json_object_set_new(o, "decision", dec);
		}
		json_decref(d);
		items[n++] = o;
	}
	for (size_t i = 0; i < t.nlocks; i++)
		items[n++] = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts(t.locks[i].created_ms, s), "kind",
				       "lock", "lock", t.locks[i].lock_id, "reason", t.locks[i].reason);
	for (size_t i = 0; i < t.nmsgs; i++) /* the subject only: bodies name the customer */
		items[n++] = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ts", ts(t.msgs[i].created_ms, s), "kind",
				       "message", "message", t.msgs[i].id, "type", t.msgs[i].kind, "subject",
				       t.msgs[i].subject ? t.msgs[i].subject : "");
	for (size_t i = 0; i < t.ncases; i++)
		items[n++] = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "ts", ts(t.cases[i].created_ms, s),
				       "kind", "case", "case", t.cases[i].case_id, "state", t.cases[i].state,
				       "subject", t.cases[i].subject);
	for (size_t i = 0; i < t.naudit; i++)
		items[n++] = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o}", "ts", ts(t.audit[i].ts_ms, s),
				       "kind", "audit", "seq", (json_int_t)t.audit[i].seq, "actor",
				       t.audit[i].actor, "action", t.audit[i].action, "detail",
				       audit_detail(t.audit[i].detail));
	qsort(items, n, sizeof(*items), item_cmp);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	return kg_http_reply_json(resp, 200,
				  json_pack("{s:o, s:o, s:o, s:o}", "account",
					    masked_account(req->arena, &t.acc, t.nactive), "active_locks",
					    active, "past_locks", locks, "timeline", arr));
}

/* ---- GET /v1/stats/locks --------------------------------------------------------*/
#define SERIES_BUCKETS_MAX 720
#define SERIES_LOCKS_MAX 100000

struct series {
	int64_t since;
	kg_arena *a;
	kg_lock *locks;
	size_t n;
};

static int series_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct series *s = ctx;
	return kg_tx_lock_list_recent(tx, NULL, s->since, SERIES_LOCKS_MAX, s->a, &s->locks, &s->n, err);
}

static void count_in(json_t *by, const char *key, size_t bucket, size_t nb)
{
	json_t *arr = json_object_get(by, key);
	if (!arr) {
		arr = json_array();
		for (size_t i = 0; i < nb; i++)
			json_array_append_new(arr, json_integer(0));
		json_object_set_new(by, key, arr);
	}
	json_t *c = json_array_get(arr, bucket);
	json_integer_set(c, json_integer_value(c) + 1);
}

static int query_int(kg_http_req *req, const char *name, int64_t min, int64_t max, int64_t *out,
		     kg_err *err)
{
	const char *v = kg_http_query(req, name);
	int64_t x;
	if (!v)
		return 0;
	if (kg_parse_i64(v, &x) || x < min || x > max)
		return kg_err_field(err, KG_EINVAL, name, "%s must be a whole number from %lld to %lld", name,
				    (long long)min, (long long)max);
	*out = x;
	return 0;
}

int kg_api_lock_series(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	int64_t window = 86400, bucket = 3600;
	int rc = query_int(req, "window_s", 60, 90LL * 86400, &window, err);
	rc = rc ? rc : query_int(req, "bucket_s", 60, 86400, &bucket, err);
	if (rc)
		return rc;
	if (window / bucket > SERIES_BUCKETS_MAX || window < bucket)
		return kg_err_field(err, KG_EINVAL, "bucket_s",
				    "window_s / bucket_s must be from 1 to %d buckets", SERIES_BUCKETS_MAX);
	size_t nb = (size_t)((window + bucket - 1) / bucket);
	int64_t now = kg_now_ms(), from = now - (int64_t)nb * bucket * 1000;
	struct series s = {.since = from, .a = req->arena};
	if ((rc = kg_store_read(req->app->store, series_job, &s, err)))
		return rc;
	json_t *total = json_array(), *by_reason = json_object(), *by_rule = json_object();
	json_t *starts = json_array();
	char t[KG_TIME_STR_MAX], t2[KG_TIME_STR_MAX];
	for (size_t i = 0; i < nb; i++) {
		json_array_append_new(total, json_integer(0));
		json_array_append_new(starts, json_string(ts(from + (int64_t)i * bucket * 1000, t)));
	}
	for (size_t i = 0; i < s.n; i++) {
		const kg_lock *l = &s.locks[i];
		if (l->created_ms < from)
			continue;
		size_t b = (size_t)((l->created_ms - from) / (bucket * 1000));
		if (b >= nb)
			b = nb - 1;
		count_in(by_reason, l->reason, b, nb);
		json_t *c = json_array_get(total, b);
		json_integer_set(c, json_integer_value(c) + 1);
		json_t *ev = l->evidence ? json_loads(l->evidence, 0, NULL) : NULL, *r;
		size_t k;
		size_t nrules = 0;
		json_array_foreach(json_object_get(ev, "reasons"), k, r) {
			const char *rule = json_string_value(json_object_get(r, "rule"));
			if (rule) {
				count_in(by_rule, rule, b, nb);
				nrules++;
			}
		}
		if (!nrules) /* a lock by staff, or without a decision */
			count_in(by_rule, "(staff)", b, nb);
		json_decref(ev);
	}
	/* The guard's breaker (GET /v1/guard has the same object). */
	struct kg_guard_params gp;
	kg_guard_params_from_config(&gp, req->app->config);
	json_t *breaker = NULL;
	int grc = kg_guard_status(req->app->store, &gp, &breaker, err);
	if (grc) {
		json_decref(by_reason);
		json_decref(by_rule);
		json_decref(total);
		json_decref(starts);
		return grc;
	}
	return kg_http_reply_json(
		resp, 200,
		json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:b}", "from", ts(from, t), "to",
			  ts(now, t2), "bucket_s", (json_int_t)bucket,
			  "buckets", starts, "total", total, "by_reason", by_reason, "by_rule", by_rule,
			  "breaker", breaker, "truncated", s.n >= SERIES_LOCKS_MAX));
}

/* ---- GET /v1/rules/policy ----------------------------------------------------------
 * The running policy's file as it is on disk now (the starting point of a
 * back-test), with the running policy's rule count. */
int kg_api_rules_policy(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	if (!req->app->risk)
		return kg_err_set(err, KG_EBUSY, "the risk engine is not running");
	kg_policy *p = kg_risk_policy(req->app->risk);
	const char *file = kg_arena_strdup(req->arena, kg_policy_file(p));
	json_int_t nrules = (json_int_t)kg_policy_rule_count(p);
	kg_policy_unref(p);
	char *text = NULL;
	size_t len = 0;
	int rc = kg_read_file(file, KG_RULES_FILE_MAX, &text, &len, err);
	if (rc)
		return rc;
	json_t *t = json_stringn(text, len);
	free(text);
	if (!t)
		return kg_err_field(err, KG_EINVAL, "policy", "%s is not UTF-8 text", file);
	return kg_http_reply_json(resp, 200, json_pack("{s:s, s:I, s:o}", "file", file, "rules", nrules, "text", t));
}
