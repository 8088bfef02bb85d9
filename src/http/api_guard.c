/* HTTP handlers of the guard (S9): the breaker's state and reset, policy
 * versions, incidents with their revert and confirming holds. The guard
 * module does the work (guard/guard.h); these read the body and answer.
 * Not here: the lock hook's wiring beyond handing it to the engine. */
#include "http/internal.h"

#include <pthread.h>
#include <sys/select.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guard/guard.h"

/* ---- the gate: the running policy gated by the store's promotions --------
 * Reloads, promotions here and the watcher of other nodes' promotions gate
 * one at a time (gate_mu); the watcher gates again when the promotions'
 * generation moved (every KG_GATE_POLL_MS). */
#define KG_GATE_POLL_MS 2000
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t gate_gen = -1;
static pthread_t gate_thread;
static bool gate_running;
static int gate_pipe[2] = {-1, -1};

static int gate_locked(kg_app *app, kg_policy *p, const char *by, kg_err *err)
{
	int64_t gen = 0;
	kg_policy *g = NULL;
	int rc = kg_guard_rollout_gen(app->store, &gen, err);
	rc = rc ? rc : kg_guard_gate(app->store, p, by, &g, err);
	if (rc)
		return rc;
	/* the gate may have written the first promotion: read the generation
	 * after it, so that the watcher does not gate again for nothing */
	if (kg_guard_rollout_gen(app->store, &gen, err))
		kg_err_clear(err);
	kg_risk_set_policy(app->risk, g);
	gate_gen = gen;
	if (kg_policy_pending_count(g))
		kg_log(KG_LOG_INFO, "guard", "policy %s: %zu of %zu rules pending (shadow until promoted)",
		       kg_policy_file(g), kg_policy_pending_count(g), kg_policy_rule_count(g));
	kg_policy_unref(g);
	return 0;
}

int kg_api_guard_set_policy(kg_app *app, kg_policy *p, const char *by, kg_err *err)
{
	if (!app->store || !app->config->rules_gate) {
		kg_risk_set_policy(app->risk, p);
		return 0;
	}
	pthread_mutex_lock(&gate_mu);
	int rc = gate_locked(app, p, by, err);
	pthread_mutex_unlock(&gate_mu);
	return rc;
}

/* The promotions could not be read at the start (the store fails): every
 * rule runs pending - none that is not promoted may act - and the watcher
 * gates again every KG_GATE_POLL_MS until the store answers. */
static void gate_failed(kg_app *app, kg_policy *p, kg_err *e)
{
	struct kg_policy_rule_info info[KG_RULES_MAX];
	const char *names[KG_RULES_MAX];
	size_t n = kg_policy_rules(p, info, KG_RULES_MAX);
	for (size_t i = 0; i < n; i++)
		names[i] = info[i].name;
	kg_policy *g = NULL;
	kg_err e2;
	kg_err_clear(&e2);
	kg_log(KG_LOG_ERROR, "guard", "promotions not read (%s): every rule pending until they are",
	       e->msg);
	if (!kg_policy_gated(p, names, n, &g, &e2)) {
		kg_risk_set_policy(app->risk, g);
		kg_policy_unref(g);
	}
	pthread_mutex_lock(&gate_mu);
	gate_gen = -1; /* no generation is -1: the watcher gates again */
	pthread_mutex_unlock(&gate_mu);
}

/* Another node (or the CLI) promoted or demoted: gate the running policy
 * again. */
static void gate_poll(kg_app *app)
{
	kg_err err;
	kg_err_clear(&err);
	int64_t gen = 0;
	if (kg_guard_rollout_gen(app->store, &gen, &err))
		return;
	pthread_mutex_lock(&gate_mu);
	kg_store_stats st;
	kg_store_stats_get(app->store, &st);
	if (gate_gen == -1 && st.last_commit_error_ms && st.last_commit_ms <= st.last_commit_error_ms) {
		/* failed at the start: the first promotion may need a write, and a
		 * write that fails again would keep the node out of rotation
		 * (/healthz); try once another write went through */
		pthread_mutex_unlock(&gate_mu);
		return;
	}
	if (gen != gate_gen) {
		kg_policy *p = kg_risk_policy(app->risk);
		if (gate_locked(app, p, "rollout", &err))
			kg_log(KG_LOG_ERROR, "guard", "policy not gated again: %s", err.msg);
		else
			kg_api_guard_policy_loaded(app, "rollout");
		kg_policy_unref(p);
	}
	pthread_mutex_unlock(&gate_mu);
}

static void *gate_main(void *p)
{
	kg_app *app = p;
	for (;;) {
		struct timeval tv = {KG_GATE_POLL_MS / 1000, (KG_GATE_POLL_MS % 1000) * 1000};
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(gate_pipe[0], &fds);
		int n = select(gate_pipe[0] + 1, &fds, NULL, NULL, &tv);
		if (n > 0)
			break; /* stop */
		if (n == 0)
			gate_poll(app);
	}
	return NULL;
}

static const char *actor_of(const kg_http_req *req)
{
	const kg_principal *p = req->principal;
	return kg_arena_printf(req->arena, "%s:%s", p->role == KG_ROLE_ADMIN ? "admin" : "agent",
			       p->credential_id);
}

int kg_api_guard_start(kg_app *app, kg_err *err)
{
	struct kg_guard_params p;
	kg_guard_params_from_config(&p, app->config);
	int rc = kg_guard_new(app->store, &p, app->config, &app->guard, err);
	if (rc)
		return rc;
	/* every automatic lock goes through the breaker, then the lock writer */
	kg_risk_set_lock_hook(app->risk, kg_guard_lock_hook, app->guard);
	if (app->config->rules_gate) {
		/* (no event is decided before the modules have started) */
		kg_policy *p = kg_risk_policy(app->risk);
		kg_err e;
		kg_err_clear(&e);
		if (kg_api_guard_set_policy(app, p, "kagid", &e))
			gate_failed(app, p, &e);
		kg_policy_unref(p);
		if (pipe(gate_pipe) == 0)
			gate_running = pthread_create(&gate_thread, NULL, gate_main, app) == 0;
	}
	/* ... and every decided event through this node's feed summary */
	kg_risk_set_event_hook(app->risk, kg_guard_event_hook, app->guard);
	return kg_api_guard_policy_loaded(app, "kagid");
}

void kg_api_guard_stop(kg_app *app)
{
	if (gate_running) {
		if (write(gate_pipe[1], "q", 1) == 1)
			pthread_join(gate_thread, NULL);
		gate_running = false;
	}
	for (int i = 0; i < 2; i++)
		if (gate_pipe[i] >= 0) {
			close(gate_pipe[i]);
			gate_pipe[i] = -1;
		}
	if (app->risk) {
		kg_risk_set_lock_hook(app->risk, kg_account_risk_lock_hook, (void *)app->config);
		kg_risk_set_event_hook(app->risk, NULL, NULL);
	}
	kg_err e;
	kg_err_clear(&e);
	if (app->guard && kg_guard_feed_save(app->guard, &e)) /* the next start begins with it */
		kg_log(KG_LOG_WARN, "guard", "feed summary not stored: %s", e.msg);
	kg_guard_free(app->guard);
	app->guard = NULL;
}

void kg_api_guard_metrics(kg_app *app, kg_buf *out)
{
	if (app->guard)
		kg_guard_metrics_render(app->guard, out);
}

int kg_api_guard_policy_loaded(kg_app *app, const char *by)
{
	if (!app->risk || !app->store)
		return 0;
	kg_err e;
	kg_err_clear(&e);
	kg_policy *p = kg_risk_policy(app->risk);
	int rc = kg_guard_policy_loaded(app->store, p, by, &e);
	kg_policy_unref(p);
	if (rc) { /* the policy runs; only its version record is missing */
		char msg[KG_ERR_MSG_MAX + KG_ERR_FILE_MAX + 32];
		kg_log(KG_LOG_ERROR, "guard", "policy version not recorded: %s",
		       kg_err_format(&e, msg, sizeof(msg)));
	}
	return 0;
}

int kg_api_guard_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	struct kg_guard_params p;
	kg_guard_params_from_config(&p, req->app->config);
	json_t *j = NULL;
	int rc = kg_guard_status(req->app->store, &p, &j, err);
	return rc ? rc : kg_http_reply_json(resp, 200, j);
}

int kg_api_guard_reset(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *reason = NULL;
	int rc = kg_json_str(req->json, NULL, "reason", true, KG_CASE_TEXT_MAX, &reason, err);
	if (rc || (rc = kg_guard_reset(req->app->store, actor_of(req), reason, err)))
		return rc;
	return kg_api_guard_get(req, resp, err);
}

int kg_api_rules_versions(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *j = NULL;
	int rc = kg_guard_policy_versions(req->app->store, &j, err);
	return rc ? rc : kg_http_reply_json(resp, 200, json_pack("{s:o}", "versions", j));
}

/* ---- the gated rollout: pending rules, promote, demote -------------------- */
int kg_api_rules_pending(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	kg_policy *p = kg_risk_policy(req->app->risk);
	json_t *j = NULL;
	int rc = kg_guard_rules_pending(req->app->store, p, &j, err);
	kg_policy_unref(p);
	if (rc)
		return rc;
	json_object_set_new(j, "gate", json_boolean(req->app->config->rules_gate));
	return kg_http_reply_json(resp, 200, j);
}

/* The body's "rules": a non-empty array of rule names (in the arena). */
static int body_rules(kg_http_req *req, const char ***names, size_t *n, kg_err *err)
{
	json_t *a = json_object_get(req->json, "rules"), *x;
	if (!json_is_array(a) || !json_array_size(a))
		return kg_err_field(err, KG_EINVAL, "rules", "rules: expected a non-empty array of rule names");
	if (json_array_size(a) > KG_RULES_MAX)
		return kg_err_field(err, KG_ELIMIT, "rules", "rules: more than %d", KG_RULES_MAX);
	*n = json_array_size(a);
	*names = kg_arena_alloc(req->arena, *n * sizeof(**names));
	if (!*names)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	size_t i;
	json_array_foreach(a, i, x) {
		const char *s = json_string_value(x);
		if (!s || !*s || strlen(s) > KG_ID_MAX)
			return kg_err_field(err, KG_EINVAL, "rules", "rules[%zu]: expected a rule name", i);
		(*names)[i] = s;
	}
	return 0;
}

static int rules_change(kg_http_req *req, kg_http_resp *resp, bool demote, kg_err *err)
{
	kg_app *app = req->app;
	const char *reason = NULL;
	int64_t days = 7;
	bool dry_run = false, force = false;
	struct kg_guard_params bp;
	kg_guard_params_from_config(&bp, app->config);
	struct kg_guard_promote_opts o = {.actor = actor_of(req), .breaker = &bp,
					  .max_locks_per_day = app->config->rules_promote_max_locks_per_day};
	const char **names = NULL;
	int rc = body_rules(req, &names, &o.n_rules, err);
	o.rules = names;
	rc = rc ? rc : kg_json_int(req->json, NULL, "days", false, 1, 366, &days, err);
	rc = rc ? rc : kg_json_bool(req->json, NULL, "dry_run", false, &dry_run, err);
	rc = rc ? rc : kg_json_bool(req->json, NULL, "force", false, &force, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "reason", false, KG_CASE_TEXT_MAX, &reason, err);
	if (rc)
		return rc;
	o.days = days, o.dry_run = dry_run, o.force = force, o.reason = reason;
	json_t *j = NULL;
	kg_policy *p = kg_risk_policy(app->risk);
	rc = demote ? kg_guard_demote(app->store, p, &o, &j, err)
		    : kg_guard_promote(app->store, p, &o, &j, err);
	if (!rc && !dry_run && app->config->rules_gate) {
		kg_err e;
		kg_err_clear(&e);
		if (kg_api_guard_set_policy(app, p, o.actor, &e)) /* the watcher tries again */
			kg_log(KG_LOG_ERROR, "guard", "promoted, but the policy was not gated again: %s",
			       e.msg);
	}
	kg_policy_unref(p);
	return rc ? rc : kg_http_reply_json(resp, 200, j);
}

int kg_api_rules_promote(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	return rules_change(req, resp, false, err);
}

int kg_api_rules_demote(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	return rules_change(req, resp, true, err);
}

int kg_api_incidents(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *j = NULL;
	int rc = kg_guard_incidents(req->app->store, 100, &j, err);
	return rc ? rc : kg_http_reply_json(resp, 200, json_pack("{s:o}", "incidents", j));
}

int kg_api_incident_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *j = NULL;
	int rc = kg_guard_incident(req->app->store, kg_http_param(req, "id"), &j, err);
	return rc ? rc : kg_http_reply_json(resp, 200, j);
}

int kg_api_incident_revert(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *reason = NULL;
	bool dry_run = false;
	int rc = kg_json_bool(req->json, NULL, "dry_run", false, &dry_run, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "reason", true, KG_CASE_TEXT_MAX, &reason, err);
	if (!rc && !*reason)
		rc = kg_err_field(err, KG_EINVAL, "reason", "must not be empty");
	if (rc)
		return rc;
	struct kg_guard_revert_opts o = {
		.dry_run = dry_run, .actor = actor_of(req), .reason = reason,
		.mail_per_min = req->app->config->incidents_apology_mails_per_min,
		.cfg = req->app->config,
	};
	json_t *j = NULL;
	if ((rc = kg_guard_revert(req->app->store, kg_http_param(req, "id"), &o, &j, err)))
		return rc;
	if (!dry_run)
		kg_api_notify_kick(req->app);
	return kg_http_reply_json(resp, 200, j);
}

int kg_api_incident_confirm_holds(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *reason = NULL;
	size_t n = 0;
	int rc = kg_json_str(req->json, NULL, "reason", true, KG_CASE_TEXT_MAX, &reason, err);
	if (rc || (rc = kg_guard_confirm_holds(req->app->store, req->app->config,
					       kg_http_param(req, "id"), actor_of(req), reason, &n,
					       err)))
		return rc;
	kg_api_notify_kick(req->app);
	return kg_http_reply_json(resp, 200, json_pack("{s:I}", "confirmed", (json_int_t)n));
}
