/* HTTP handlers of the guard (S9): the breaker's state and reset, policy
 * versions, incidents with their revert and confirming holds. The guard
 * module does the work (guard/guard.h); these read the body and answer.
 * Not here: the lock hook's wiring beyond handing it to the engine. */
#include "http/internal.h"

#include <stdio.h>
#include <string.h>

#include "guard/guard.h"

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
	/* ... and every decided event through this node's feed summary */
	kg_risk_set_event_hook(app->risk, kg_guard_event_hook, app->guard);
	return kg_api_guard_policy_loaded(app, "kagid");
}

void kg_api_guard_stop(kg_app *app)
{
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
