/* Account endpoints: login gate, password reset, 2-step verification, locks
 * and unlocks, the message center, support cases and the identity check.
 * Each handler reads JSON, checks the caller's account, and calls
 * src/account; no business rules here. docs/api.md "## Accounts". */
#include "http/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "base/counters.h"
#include "risk/risk.h"
#include "store/store.h"

static const kg_config *cfg_of(const kg_http_req *req) { return req->app->config; }

static char *ts(int64_t ms, char out[KG_TIME_STR_MAX])
{
	return kg_time_format(ms, out);
}

/* "agent:<id>" / "admin:<id>" / "customer" / "ticket" for audit entries. */
static const char *actor_of(const kg_http_req *req)
{
	const kg_principal *p = req->principal;
	switch (p->role) {
	case KG_ROLE_AGENT:
		return kg_arena_printf(req->arena, "agent:%s", p->credential_id);
	case KG_ROLE_ADMIN:
		return kg_arena_printf(req->arena, "admin:%s", p->credential_id);
	case KG_ROLE_SERVICE:
		return kg_arena_printf(req->arena, "service:%s", p->credential_id);
	case KG_ROLE_TICKET:
		return "ticket";
	default:
		return "customer";
	}
}

static bool is_customer_side(const kg_http_req *req)
{
	return req->principal->role == KG_ROLE_CUSTOMER || req->principal->role == KG_ROLE_TICKET;
}

/* ---- what an agent sees (S5) ----------------------------------------------*/
static int key_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* Members that hold ids, times and codes kagi made, never an answer: left
 * as they are (a last 4 may be digits of a time or an id). */
static bool structural_key(const char *key)
{
	static const char *const keys[] = { /* sorted (strcmp): bsearch */
		"account", "actor", "added", "assignee", "blocked_until", "case", "content_type", "created",
		"expires", "fingerprint", "id", "kind", "lang", "lift_method", "lifted", "lock",
		"message_id", "reason", "remedy", "result", "sha256", "state", "ticket_expires", "ts",
		"unlock_until", "updated"};
	return bsearch(key, keys, KG_ARRAY_LEN(keys), sizeof(keys[0]), key_cmp) != NULL;
}

static void scrub_value(const kg_identity_secrets *s, json_t *j, kg_arena *a)
{
	const char *key;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v) {
			if (structural_key(key))
				continue;
			if (json_is_string(v)) {
				const char *t = json_string_value(v);
				const char *u = kg_identity_scrub(s, t, a);
				if (u != t)
					json_string_set(v, u);
			} else {
				scrub_value(s, v, a);
			}
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			if (json_is_string(v)) {
				const char *t = json_string_value(v);
				const char *u = kg_identity_scrub(s, t, a);
				if (u != t)
					json_string_set(v, u);
			} else {
				scrub_value(s, v, a);
			}
		}
	}
}

void kg_api_agent_scrub_with(kg_http_req *req, const kg_identity_secrets *s, json_t *j)
{
	if (req->principal->role == KG_ROLE_AGENT && j)
		scrub_value(s, j, req->arena);
}

int kg_api_agent_scrub(kg_http_req *req, const char *account_id, json_t *j, kg_err *err)
{
	if (req->principal->role != KG_ROLE_AGENT || !j)
		return 0;
	kg_identity_secrets s;
	int rc = kg_account_identity_secrets(req->app->store, account_id, req->arena, &s, err);
	if (rc == KG_ENOTFOUND) { /* nothing registered to hide */
		kg_err_clear(err);
		return 0;
	}
	if (!rc)
		scrub_value(&s, j, req->arena);
	return rc;
}

/* Tries a failure limit held back, by limit: login (passwords and 2-step
 * codes at sign-in), totp (2-step codes when turning it on or off), reset
 * (password-reset codes), identity (identity checks blocked). */
static kg_counters throttled = KG_COUNTERS_INIT(
	"kagi_account_throttled_total",
	"Tries held back by a failure limit (nothing checked), by limit: login, totp, reset, identity.",
	"limit", NULL);

/* The 429 of a limit: Retry-After in whole seconds (rounded up, at least
 * 1) and the error shape. */
static int reply_limited(kg_http_resp *resp, const char *limit, int64_t retry_ms, const char *message)
{
	kg_counters_add(&throttled, limit, NULL, 1);
	char secs[32];
	snprintf(secs, sizeof(secs), "%lld", (long long)(retry_ms > 0 ? (retry_ms + 999) / 1000 : 1));
	kg_http_resp_header(resp, "Retry-After", secs);
	return kg_http_reply_error(resp, 429, "throttled", NULL, "%s", message);
}

static json_t *lock_refs_json(const kg_config *cfg, const kg_lock_refs *r)
{
	json_t *a = json_array();
	char t[KG_TIME_STR_MAX];
	for (size_t i = 0; i < r->n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", r->v[i].id, "reason",
				      kg_lock_reason_name(r->v[i].reason), "kind",
				      r->v[i].kind == KG_LOCK_KIND_MISUSE ? "misuse" : "precaution",
				      "remedy", kg_lock_remedy_name(kg_lock_remedy_of(cfg, r->v[i].reason)));
		if (r->v[i].expires_ms)
			json_object_set_new(o, "expires", json_string(ts(r->v[i].expires_ms, t)));
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- the account module: lifting expired locks on time -------------------
 * Every KG_ACCOUNT_SWEEP_S seconds, locks whose time ran out (brute_force)
 * are lifted with their audit entry and unlock notice, even if the customer
 * never logs in again. */
static pthread_t sweeper;
static pthread_mutex_t sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cv = PTHREAD_COND_INITIALIZER;
static bool sweep_stop, sweep_running;
static atomic_ulong swept;
static atomic_ulong login_undecided; /* login events not decided (kg_login_answer) */

static void *sweep_main(void *p)
{
	kg_app *app = p;
	pthread_mutex_lock(&sweep_mu);
	while (!sweep_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += KG_ACCOUNT_SWEEP_S;
		pthread_cond_timedwait(&sweep_cv, &sweep_mu, &until);
		if (sweep_stop)
			break;
		pthread_mutex_unlock(&sweep_mu);
		size_t n = 0;
		kg_err e;
		kg_err_clear(&e);
		if (kg_account_expire_due(app->store, app->config, 0, 100, &n, &e))
			kg_log(KG_LOG_WARN, "account", "lifting expired locks failed: %s", e.msg);
		else if (n) {
			atomic_fetch_add(&swept, n);
			kg_api_notify_kick(app);
		}
		pthread_mutex_lock(&sweep_mu);
	}
	pthread_mutex_unlock(&sweep_mu);
	return NULL;
}

int kg_api_account_start(kg_app *app, kg_err *err)
{
	sweep_stop = false;
	if (pthread_create(&sweeper, NULL, sweep_main, app))
		return kg_err_set(err, KG_EINTERNAL, "cannot start the expired-lock sweeper");
	sweep_running = true;
	return 0;
}

void kg_api_account_stop(kg_app *app)
{
	(void)app;
	if (!sweep_running)
		return;
	pthread_mutex_lock(&sweep_mu);
	sweep_stop = true;
	pthread_cond_signal(&sweep_cv);
	pthread_mutex_unlock(&sweep_mu);
	pthread_join(sweeper, NULL);
	sweep_running = false;
}

void kg_api_account_metrics(kg_app *app, kg_buf *out)
{
	(void)app;
	static const char *const limits[] = {"login", "totp", "reset", "identity"};
	for (size_t i = 0; i < KG_ARRAY_LEN(limits); i++) /* each limit, 0 until it holds a try back */
		kg_counters_add(&throttled, limits[i], NULL, 0);
	kg_counters_render(&throttled, out);
	kg_buf_printf(out, "# HELP kagi_account_locks_expired_total Locks lifted because their time ran out.\n"
			   "# TYPE kagi_account_locks_expired_total counter\nkagi_account_locks_expired_total %lu\n",
		      (unsigned long)atomic_load(&swept));
	kg_buf_printf(out, "# HELP kagi_risk_login_events_undecided_total Login events kagid built that the risk engine could not decide (logged at error level).\n"
			   "# TYPE kagi_risk_login_events_undecided_total counter\nkagi_risk_login_events_undecided_total %lu\n",
		      (unsigned long)atomic_load(&login_undecided));
}

/* ---- POST /v1/login ------------------------------------------------------*/
/* Login outcomes go to the risk engine as `login` events (its failed-login
 * and takeover rules) and the login acts on the decision (src/account
 * login.c); a decision error does not fail the login, but an event kagid
 * built itself is never dropped silently: it is logged at error level and
 * counted (kagi_risk_login_events_undecided_total). */
int kg_api_login(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	kg_login_req lr;
	memset(&lr, 0, sizeof(lr));
	int rc = kg_json_str(req->json, NULL, "email", true, KG_EMAIL_MAX, &lr.email, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "password", true, KG_PASSWORD_MAX, &lr.password, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "totp", false, KG_CODE_TEXT_MAX, &lr.totp, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "ip", false, KG_IP_TEXT_MAX, &lr.ip, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "device_id", false, KG_ID_MAX, &lr.device_id, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "country", false, 8, &lr.country, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "user_agent", false, 1024, &lr.user_agent, err);
	if (rc)
		return rc;
	if (!lr.ip || !lr.ip[0])
		lr.ip = req->client_ip && req->client_ip[0] ? req->client_ip : "unknown";
	kg_token tok;
	kg_token_new(&tok);
	lr.cred_id = tok.id;
	lr.cred_hash = tok.hash;
	lr.cred_hash_len = sizeof(tok.hash);
	lr.risk = req->app->risk;
	kg_login_answer a;
	if ((rc = kg_account_login(req->app->store, cfg_of(req), &lr, &a, err)))
		return rc;
	if (a.risk_undecided)
		atomic_fetch_add(&login_undecided, 1);
	kg_api_notify_kick(req->app);
	char t[KG_TIME_STR_MAX];
	json_t *j = NULL;
	switch (a.result) {
	case KG_LOGIN_OK:
		j = json_pack("{s:s, s:s, s:s, s:s}", "result", "ok", "account", a.account_id, "token",
			      tok.text, "expires", ts(a.expires_ms, t));
		if (j && (a.risk == KG_ACT_CHALLENGE || a.risk == KG_ACT_HOLD)) {
			/* the shop steps up before it trusts the session */
			json_t *rules = json_array();
			for (size_t i = 0; i < a.n_risk_rules; i++)
				json_array_append_new(rules, json_string(a.risk_rules[i]));
			json_object_set_new(j, "risk", json_pack("{s:s, s:o}", "action",
								 kg_action_names[a.risk], "rules",
								 rules));
		}
		return kg_http_reply_json(resp, 200, j);
	case KG_LOGIN_LOCKED:
		j = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:s, s:s, s:o}", "result",
			      "locked", "account", a.account_id, "error", "code", "locked", "message",
			      kg_lock_login_message_en(a.kind, a.remedy), "message", "ja",
			      kg_lock_login_message_ja(a.kind, a.remedy), "en",
			      kg_lock_login_message_en(a.kind, a.remedy), "remedy",
			      kg_lock_remedy_name(a.remedy), "ticket", tok.text, "ticket_expires",
			      ts(a.expires_ms, t), "locks",
			      lock_refs_json(cfg_of(req), &a.locks));
		return kg_http_reply_json(resp, 423, j);
	case KG_LOGIN_TOTP_REQUIRED:
		return kg_http_reply_error(resp, 401, "totp_required", "totp",
					   "enter the 6-digit code of your authenticator app");
	case KG_LOGIN_TOTP_INVALID:
		return kg_http_reply_error(resp, 401, "totp_invalid", "totp", "the 2-step code is wrong");
	case KG_LOGIN_THROTTLED:
		return reply_limited(resp, "login", a.retry_after_ms,
				     "too many failed sign-ins; try again after Retry-After seconds");
	case KG_LOGIN_DENIED:
	default:
		return kg_http_reply_error(resp, 401, "auth", NULL, "wrong email or password");
	}
}

/* ---- password reset ----------------------------------------------------------*/
int kg_api_recovery_start(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *email = NULL, *ip = NULL;
	int rc = kg_json_str(req->json, NULL, "email", true, KG_EMAIL_MAX, &email, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "ip", false, KG_IP_TEXT_MAX, &ip, err);
	if (rc || (rc = kg_account_recovery_start(req->app->store, cfg_of(req), email,
						  ip ? ip : req->client_ip, 0, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return kg_http_reply_json(
		resp, 202,
		json_pack("{s:s, s:{s:s, s:s}}", "result", "accepted", "message", "ja",
			  "ご登録のメールアドレスであれば、確認コードを送信しました。コードの有効期限は10分です。",
			  "en", "If this email address is registered, we sent a code to it. The code is valid for 10 minutes."));
}

int kg_api_recovery_finish(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *email = NULL, *code = NULL, *password = NULL, *ip = NULL;
	int rc = kg_json_str(req->json, NULL, "email", true, KG_EMAIL_MAX, &email, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "code", true, KG_CODE_TEXT_MAX, &code, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "password", true, KG_PASSWORD_MAX, &password, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "ip", false, KG_IP_TEXT_MAX, &ip, err);
	if (rc)
		return rc;
	kg_recovery_answer a;
	rc = kg_account_recovery_finish(req->app->store, cfg_of(req), email, code, password,
					ip ? ip : req->client_ip, 0, &a, err);
	if (rc == KG_EBUSY && a.retry_after_ms > 0)
		return reply_limited(resp, "reset", a.retry_after_ms,
				     "too many wrong codes; try again after Retry-After seconds");
	if (rc)
		return rc;
	kg_api_notify_kick(req->app);
	return kg_http_reply_json(resp, 200,
				  json_pack("{s:s, s:s, s:o, s:o}", "result", "ok", "account", a.account_id,
					    "lifted", lock_refs_json(cfg_of(req), &a.lifted), "still_locked",
					    lock_refs_json(cfg_of(req), &a.still_locked)));
}

/* ---- message center --------------------------------------------------------*/
struct messages_read {
	const char *account_id;
	kg_arena *a;
	kg_message *msgs;
	size_t n;
	kg_account acc;
};

static int messages_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct messages_read *r = ctx;
	int rc = kg_tx_account_get(tx, r->account_id, &r->acc, r->a, err);
	return rc ? rc : kg_tx_message_list(tx, r->account_id, 0, r->a, &r->msgs, &r->n, err);
}

int kg_api_messages(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	int rc = kg_http_require_account(req->principal, id, err);
	if (rc)
		return rc;
	struct messages_read r = {.account_id = id, .a = req->arena};
	if ((rc = kg_store_read(req->app->store, messages_read, &r, err)))
		return rc;
	json_t *arr = json_array();
	char t[KG_TIME_STR_MAX];
	for (size_t i = 0; i < r.n; i++) {
		const kg_message *m = &r.msgs[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s?, s:s}", "id", m->id,
						     "kind", m->kind, "lang", m->lang, "subject", m->subject,
						     "body", m->body_text, "message_id", m->message_id,
						     "created", ts(m->created_ms, t)));
	}
	json_t *o = json_pack("{s:s, s:o}", "account", id, "messages", arr);
	if ((rc = kg_api_agent_scrub(req, id, o, err))) {
		json_decref(o);
		return rc;
	}
	return kg_http_reply_json(resp, 200, o);
}

/* ---- locks -----------------------------------------------------------------*/
struct locks_read {
	const char *account_id;
	kg_arena *a;
	kg_lock *locks;
	size_t n;
	kg_account acc;
};

static int locks_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct locks_read *r = ctx;
	int rc = kg_tx_account_get(tx, r->account_id, &r->acc, r->a, err);
	return rc ? rc : kg_tx_lock_list(tx, r->account_id, 0, r->a, &r->locks, &r->n, err);
}

int kg_api_locks(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	int rc = kg_http_require_account(req->principal, id, err);
	if (rc)
		return rc;
	struct locks_read r = {.account_id = id, .a = req->arena};
	if ((rc = kg_store_read(req->app->store, locks_read, &r, err)))
		return rc;
	json_t *arr = json_array();
	char t[KG_TIME_STR_MAX];
	int64_t now = kg_now_ms();
	bool staff = !is_customer_side(req);
	for (size_t i = 0; i < r.n; i++) {
		const kg_lock *l = &r.locks[i];
		bool active = !strcmp(l->state, "active") && (!l->expires_ms || l->expires_ms > now);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", l->lock_id, "reason", l->reason,
				      "kind", l->kind, "state", l->state, "active", active, "created",
				      ts(l->created_ms, t));
		if (l->expires_ms)
			json_object_set_new(o, "expires", json_string(ts(l->expires_ms, t)));
		if (l->lifted_ms)
			json_object_set_new(o, "lifted", json_string(ts(l->lifted_ms, t)));
		if (l->lift_method)
			json_object_set_new(o, "lift_method", json_string(l->lift_method));
		if (staff && l->evidence && *l->evidence)
			json_object_set_new(o, "evidence", kg_account_evidence_json(l->evidence));
		json_array_append_new(arr, o);
	}
	json_t *o = json_pack("{s:s, s:o}", "account", id, "locks", arr);
	if ((rc = kg_api_agent_scrub(req, id, o, err))) {
		json_decref(o);
		return rc;
	}
	return kg_http_reply_json(resp, 200, o);
}

int kg_api_lock(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *reason = NULL, *note = NULL;
	int64_t expires_s = 0;
	json_t *evidence = NULL;
	int rc = kg_json_str(req->json, NULL, "reason", true, 32, &reason, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "note", false, KG_CASE_TEXT_MAX, &note, err);
	rc = rc ? rc : kg_json_int(req->json, NULL, "expires_s", false, 60, 366LL * 86400, &expires_s, err);
	rc = rc ? rc : kg_json_obj(req->json, NULL, "evidence", false, &evidence, err);
	if (rc)
		return rc;
	kg_account_lock_req lr;
	memset(&lr, 0, sizeof(lr));
	if (kg_lock_reason_parse(reason, &lr.reason))
		return kg_err_field(err, KG_EINVAL, "reason", "unknown lock reason \"%s\"", reason);
	json_t *ev = evidence ? json_deep_copy(evidence) : json_object();
	if (note)
		json_object_set_new(ev, "note", json_string(note));
	char *evtext = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(ev);
	lr.account_id = kg_http_param(req, "id");
	lr.evidence = evtext ? kg_arena_strdup(req->arena, evtext) : NULL;
	free(evtext);
	lr.actor = actor_of(req);
	lr.now_ms = kg_now_ms();
	lr.expires_ms = expires_s ? lr.now_ms + expires_s * 1000 : 0;
	char id[KG_STORE_ID_MAX];
	if ((rc = kg_account_lock(req->app->store, cfg_of(req), &lr, id, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return kg_http_reply_json(resp, 201,
				  json_pack("{s:s, s:{s:s, s:s, s:s}}", "account", lr.account_id, "lock", "id", id,
					    "reason", reason, "kind",
					    lr.reason == KG_LOCK_MISUSE ? "misuse" : "precaution"));
}

int kg_api_unlock(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *lock = NULL, *reason = NULL;
	int rc = kg_json_str(req->json, NULL, "lock", false, KG_STORE_ID_MAX - 1, &lock, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "reason", false, KG_CASE_TEXT_MAX, &reason, err);
	if (rc)
		return rc;
	const char *id = kg_http_param(req, "id");
	kg_lock_refs lifted;
	bool admin = req->principal->role == KG_ROLE_ADMIN;
	if ((rc = kg_account_unlock(req->app->store, cfg_of(req), id, lock, admin,
				    req->principal->credential_id, reason, &lifted, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return kg_http_reply_json(resp, 200,
				  json_pack("{s:s, s:o}", "account", id, "lifted",
					    lock_refs_json(cfg_of(req), &lifted)));
}

/* ---- 2-step verification ---------------------------------------------------*/
int kg_api_totp_enrol(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	char secret[64], uri[512];
	int rc = kg_http_require_account(req->principal, id, err);
	if (rc || (rc = kg_account_totp_enrol(req->app->store, cfg_of(req), id, secret, uri, err)))
		return rc;
	return kg_http_reply_json(resp, 200, json_pack("{s:s, s:s}", "secret", secret, "uri", uri));
}

int kg_api_totp_confirm(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id"), *code = NULL;
	int64_t retry_ms = 0;
	int rc = kg_http_require_account(req->principal, id, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "code", true, KG_CODE_TEXT_MAX, &code, err);
	if (rc || (rc = kg_account_totp_confirm(req->app->store, cfg_of(req), id, code, req->client_ip,
						&retry_ms, err)))
		return rc == KG_ETHROTTLED ? reply_limited(resp, "totp", retry_ms, err->msg) : rc;
	return kg_http_reply_json(resp, 200, json_pack("{s:b}", "totp", 1));
}

int kg_api_totp_disable(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id"), *code = NULL;
	bool staff = !is_customer_side(req);
	int rc = kg_http_require_account(req->principal, id, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "code", !staff, KG_CODE_TEXT_MAX, &code, err);
	int64_t retry_ms = 0;
	if (rc || (rc = kg_account_totp_disable(req->app->store, cfg_of(req), id, staff ? NULL : code,
						actor_of(req), &retry_ms, err)))
		return rc == KG_ETHROTTLED ? reply_limited(resp, "totp", retry_ms, err->msg) : rc;
	return kg_http_reply_json(resp, 200, json_pack("{s:b}", "totp", 0));
}

/* ---- cases -----------------------------------------------------------------*/
/* Staff names are not shown to customers. */
static const char *shown_actor(const kg_http_req *req, const char *actor)
{
	if (!is_customer_side(req) || !actor)
		return actor;
	if (!strncmp(actor, "agent:", 6) || !strncmp(actor, "admin:", 6))
		return "support";
	return actor;
}

static json_t *case_json(const kg_http_req *req, const kg_case_view *v)
{
	char t[KG_TIME_STR_MAX];
	json_t *hist = json_array(), *docs = json_array();
	for (size_t i = 0; i < v->nhistory; i++) {
		const kg_case_event *e = &v->history[i];
		json_array_append_new(hist, json_pack("{s:I, s:s, s:s, s:s?, s:s?}", "seq", (json_int_t)e->seq,
						      "ts", ts(e->ts_ms, t), "actor",
						      shown_actor(req, e->actor), "state", e->state, "note",
						      e->note));
	}
	for (size_t i = 0; i < v->ndocs; i++) {
		const kg_case_document *d = &v->docs[i];
		char hex[65];
		json_array_append_new(docs, json_pack("{s:s, s:s?, s:s, s:s, s:I, s:s}", "id", d->doc_id,
						      "name", d->name, "content_type", d->content_type,
						      "sha256", kg_hex(d->sha256, sizeof(d->sha256), hex),
						      "bytes", (json_int_t)d->len, "created",
						      ts(d->created_ms, t)));
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:o, s:o}", "id", v->c.case_id, "account",
			      v->c.account_id, "state", v->c.state, "subject", v->c.subject, "lock",
			      v->c.lock_id, "created", ts(v->c.created_ms, t), "history", hist,
			      "documents", docs);
	json_object_set_new(o, "updated", json_string(ts(v->c.updated_ms, t)));
	json_object_set_new(o, "queue_position",
			    v->queue_position ? json_integer(v->queue_position) : json_null());
	/* null unless the case waits for staff and there is an estimate */
	json_object_set_new(o, "wait_estimate_s",
			    v->queue_position > 0 && v->wait_estimate_s >= 0
				    ? json_integer(v->wait_estimate_s)
				    : json_null());
	if (!is_customer_side(req) && v->c.assignee)
		json_object_set_new(o, "assignee", json_string(v->c.assignee));
	return o;
}

static int reply_case(kg_http_req *req, kg_http_resp *resp, int status, const char *case_id,
		      kg_err *err)
{
	kg_case_view v;
	int rc = kg_account_case_view(req->app->store, case_id, req->arena, &v, err);
	if (rc)
		return rc;
	json_t *o = case_json(req, &v);
	if ((rc = kg_api_agent_scrub(req, v.c.account_id, o, err))) {
		json_decref(o);
		return rc;
	}
	return kg_http_reply_json(resp, status, o);
}

/* The case's account must be the caller's (customer, ticket). */
static int case_access(kg_http_req *req, const char *case_id, kg_err *err)
{
	char owner[KG_ID_MAX + 1];
	int rc = kg_account_case_owner(req->app->store, case_id, owner, err);
	return rc ? rc : kg_http_require_account(req->principal, owner, err);
}

static enum kg_case_open_mode case_open_mode(const kg_http_req *req)
{
	switch (req->principal->role) {
	case KG_ROLE_TICKET:
		return KG_CASE_OPEN_ONE;
	case KG_ROLE_CUSTOMER:
		return KG_CASE_OPEN_CUSTOMER;
	default:
		return KG_CASE_OPEN_STAFF;
	}
}

int kg_api_case_open(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *account = NULL, *subject = NULL, *text = NULL;
	bool customer = is_customer_side(req);
	int rc = kg_json_str(req->json, NULL, "account", !customer, KG_ID_MAX, &account, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "subject", false, KG_NAME_MAX, &subject, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "text", true, KG_CASE_TEXT_MAX, &text, err);
	if (rc)
		return rc;
	if (customer)
		account = account ? account : req->principal->account_id;
	if ((rc = kg_http_require_account(req->principal, account, err)))
		return rc;
	char id[KG_STORE_ID_MAX];
	bool existing = false;
	if ((rc = kg_account_case_open(req->app->store, cfg_of(req), account, subject, text,
				       actor_of(req), case_open_mode(req), id, &existing, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return reply_case(req, resp, existing ? 200 : 201, id, err);
}

int kg_api_case_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	int rc = case_access(req, id, err);
	return rc ? rc : reply_case(req, resp, 200, id, err);
}

struct cases_read {
	const char *account_id, *state;
	kg_arena *a;
	kg_case *cases;
	size_t n;
};

static int cases_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct cases_read *r = ctx;
	return kg_tx_case_list(tx, r->account_id, r->state, 500, r->a, &r->cases, &r->n, err);
}

static int reply_case_list(kg_http_req *req, kg_http_resp *resp, const char *account,
			   const char *state, kg_err *err)
{
	struct cases_read r = {account, state, req->arena, NULL, 0};
	int rc = kg_store_read(req->app->store, cases_read, &r, err);
	if (rc)
		return rc;
	json_t *arr = json_array();
	char t[KG_TIME_STR_MAX];
	for (size_t i = 0; i < r.n && !rc; i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s}", "id", r.cases[i].case_id, "account",
				      r.cases[i].account_id, "state", r.cases[i].state, "subject",
				      r.cases[i].subject, "created", ts(r.cases[i].created_ms, t));
		rc = kg_api_agent_scrub(req, r.cases[i].account_id, o, err);
		json_array_append_new(arr, o);
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	return kg_http_reply_json(resp, 200, json_pack("{s:o}", "cases", arr));
}

int kg_api_case_list(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *state = kg_http_query(req, "state"), *account = kg_http_query(req, "account");
	enum kg_case_state s;
	if (state && kg_case_state_parse(state, &s))
		return kg_err_field(err, KG_EINVAL, "state", "unknown case state \"%s\"", state);
	if (account && (!*account || strlen(account) > KG_ID_MAX))
		return kg_err_field(err, KG_EINVAL, "account", "1 to %d bytes", KG_ID_MAX);
	return reply_case_list(req, resp, account, state, err);
}

int kg_api_account_cases(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	int rc = kg_http_require_account(req->principal, id, err);
	return rc ? rc : reply_case_list(req, resp, id, NULL, err);
}

int kg_api_case_note(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id"), *text = NULL;
	int rc = case_access(req, id, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "text", true, KG_CASE_TEXT_MAX, &text, err);
	if (rc || (rc = kg_account_case_note(req->app->store, cfg_of(req), id, text, actor_of(req),
					     is_customer_side(req), err)))
		return rc;
	kg_api_notify_kick(req->app);
	return reply_case(req, resp, 200, id, err);
}

int kg_api_case_document(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	const char *name = kg_http_query(req, "name");
	char sha[65];
	int rc = case_access(req, id, err);
	if (rc || (rc = kg_account_case_document(req->app->store, cfg_of(req), id, name,
						 req->content_type, req->body, req->body_len,
						 actor_of(req), is_customer_side(req), sha, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return reply_case(req, resp, 201, id, err);
}

/* The Content-Type a stored document is served with: one of the types an
 * upload may have (a static string), else application/octet-stream —
 * never anything a browser would render as a page. */
static const char *served_type(const char *stored)
{
	static const char *const types[] = {"application/pdf", "image/png", "image/jpeg",
					    "text/plain; charset=utf-8"};
	for (size_t i = 0; stored && i < KG_ARRAY_LEN(types); i++)
		if (!strncmp(stored, types[i], strcspn(types[i], ";")) &&
		    stored[strcspn(types[i], ";")] == '\0')
			return types[i];
	return "application/octet-stream";
}

/* A file name safe in a quoted Content-Disposition parameter and on any
 * file system: ASCII letters, digits, '.', '-', '_' (others become '_'),
 * no leading dot, at most 100 bytes; "document" when nothing is left. */
static void safe_filename(const char *name, char out[101])
{
	size_t n = 0;
	for (const char *p = name ? name : ""; *p && n < 100; p++) {
		unsigned char ch = (unsigned char)*p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || (ch == '.' && n > 0);
		if (!ok && ch >= 0x80)
			while ((p[1] & 0xC0) == 0x80) /* one '_' per UTF-8 character */
				p++;
		out[n++] = ok ? (char)ch : '_';
	}
	out[n] = '\0';
	if (!n || strspn(out, "_") == n)
		snprintf(out, 101, "document");
}

int kg_api_case_document_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id"), *doc_id = kg_http_param(req, "doc");
	kg_case_document d;
	int rc = case_access(req, id, err);
	if (rc || (rc = kg_account_case_document_get(req->app->store, id, doc_id, req->arena, &d, err)))
		return rc;
	char file[101], disposition[160];
	safe_filename(d.name, file);
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", file);
	/* X-Content-Type-Options: nosniff and Cache-Control: no-store are on
	 * every answer (server.c): not repeated here */
	if ((rc = kg_http_resp_header(resp, "Content-Disposition", disposition)) ||
	    (rc = kg_http_resp_header(resp, "Content-Security-Policy", "sandbox")))
		return kg_err_set(err, rc, "too many response headers");
	return kg_http_reply_raw(resp, 200, served_type(d.content_type), d.bytes, d.len);
}

int kg_api_case_state(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id"), *state = NULL, *note = NULL;
	bool assign = false;
	int rc = kg_json_str(req->json, NULL, "state", true, 32, &state, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "note", false, KG_CASE_TEXT_MAX, &note, err);
	rc = rc ? rc : kg_json_bool(req->json, NULL, "assign_to_me", false, &assign, err);
	if (rc)
		return rc;
	enum kg_case_state to;
	if (kg_case_state_parse(state, &to))
		return kg_err_field(err, KG_EINVAL, "state", "unknown case state \"%s\"", state);
	if ((rc = kg_account_case_set_state(req->app->store, cfg_of(req), id, to, note, actor_of(req),
					    assign ? req->principal->credential_id : NULL, err)))
		return rc;
	kg_api_notify_kick(req->app);
	return reply_case(req, resp, 200, id, err);
}

/* ---- identity check ----------------------------------------------------------*/
int kg_api_case_verify(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	kg_identity_claim c;
	memset(&c, 0, sizeof(c));
	json_t *addr = NULL, *card = NULL;
	const json_t *b = req->json;
	int rc = kg_json_str(b, NULL, "name", true, KG_NAME_MAX, &c.name, err);
	rc = rc ? rc : kg_json_str(b, NULL, "email", true, KG_EMAIL_MAX, &c.email, err);
	rc = rc ? rc : kg_json_obj(b, NULL, "address", true, &addr, err);
	rc = rc ? rc : kg_json_str(addr, "address", "postal_code", true, KG_ADDRESS_FIELD_MAX, &c.address.postal_code, err);
	rc = rc ? rc : kg_json_str(addr, "address", "region", false, KG_ADDRESS_FIELD_MAX, &c.address.region, err);
	rc = rc ? rc : kg_json_str(addr, "address", "city", false, KG_ADDRESS_FIELD_MAX, &c.address.city, err);
	rc = rc ? rc : kg_json_str(addr, "address", "line1", true, KG_ADDRESS_FIELD_MAX, &c.address.line1, err);
	rc = rc ? rc : kg_json_str(addr, "address", "line2", false, KG_ADDRESS_FIELD_MAX, &c.address.line2, err);
	rc = rc ? rc : kg_json_obj(b, NULL, "card", true, &card, err);
	rc = rc ? rc : kg_json_str(card, "card", "last4", true, 32, &c.card_last4, err);
	rc = rc ? rc : kg_json_str(card, "card", "exp", true, 32, &c.card_exp, err);
	rc = rc ? rc : kg_json_str(b, NULL, "totp", false, KG_CODE_TEXT_MAX, &c.totp, err);
	if (rc)
		return rc;
	kg_identity_answer a;
	if ((rc = kg_account_identity_check(req->app->store, cfg_of(req), id,
					    req->principal->credential_id, &c, &a, err)))
		return rc;
	char t[KG_TIME_STR_MAX];
	if (a.blocked)
		kg_counters_add(&throttled, "identity", NULL, 1);
	if (a.blocked)
		return kg_http_reply_json(resp, 429,
					  json_pack("{s:s, s:I, s:s, s:{s:s, s:s}}", "result", "blocked",
						    "tries_left", (json_int_t)0, "blocked_until",
						    ts(a.blocked_until_ms, t), "error", "code", "blocked",
						    "message", "identity checks on this account are blocked"));
	json_t *o = json_pack("{s:s, s:I}", "result", a.pass ? "pass" : "fail", "tries_left",
			      (json_int_t)a.tries_left);
	if (a.pass)
		json_object_set_new(o, "unlock_until", json_string(ts(a.unlock_until_ms, t)));
	else if (a.blocked_until_ms)
		json_object_set_new(o, "blocked_until", json_string(ts(a.blocked_until_ms, t)));
	return kg_http_reply_json(resp, 200, o);
}
