/* The login gate (S1): password first (Argon2id, also for unknown emails
 * against a dummy hash), then locks, then the 2-step code; failures counted
 * per account+IP. Not here: HTTP, or deciding a brute-force lock (risk). */
#include "account/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const result_names[] = {
	[KG_LOGIN_OK] = "ok",
	[KG_LOGIN_DENIED] = "denied",
	[KG_LOGIN_LOCKED] = "locked",
	[KG_LOGIN_TOTP_REQUIRED] = "totp_required",
	[KG_LOGIN_TOTP_INVALID] = "totp_invalid",
	[KG_LOGIN_THROTTLED] = "throttled",
};

const char *kg_login_result_name(enum kg_login_result r)
{
	return (unsigned)r < KG_ARRAY_LEN(result_names) ? result_names[r] : "?";
}

/* The single place where login outcomes leave the module: the docs/api.md
 * `login` event (account: the id, or for an unknown email its pseudo id
 * "?<hash>") is decided by req->risk (whose failed-login rule locks
 * brute_force); *d gets the decision, in a. */
static int decide_login(const kg_login_req *req, const char *account_id, bool success,
			int64_t now, kg_arena *a, struct kg_decision *d, kg_err *err)
{
	char idbuf[KG_STORE_ID_MAX], when[KG_TIME_STR_MAX];
	kg_store_new_id(idbuf, "login");
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "id", idbuf, "type", "login",
			       "account", account_id, "ts", kg_time_format(now, when), "success",
			       success, "ip", req->ip ? req->ip : "");
	/* optional fields only when given: the event is decided without them */
	if (ev && req->device_id && req->device_id[0])
		json_object_set_new(ev, "device_id", json_string(req->device_id));
	if (ev && req->country)
		json_object_set_new(ev, "country", json_string(req->country));
	if (ev && req->user_agent)
		json_object_set_new(ev, "user_agent", json_string(req->user_agent));
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	int rc = text ? kg_risk_decide(req->risk, text, strlen(text), a, d, err)
		      : kg_err_set(err, KG_ENOMEM, "out of memory");
	free(text);
	return rc;
}

struct login_read {
	const kg_config *cfg;
	const kg_login_req *req;
	kg_arena *a;
	const char *email;
	kg_account acc;
	bool known;
	bool known_source; /* the account signed in from this IP or device before */
	const char *counter_id;
	const char *ip;
	int64_t now;
	int64_t retry_ms;  /* > 0: throttled before any check */
};

/* The first job: finds the account and reserves this try in both limits
 * (per account+IP, and the account-wide delay unless the source is known)
 * before the slow hash runs, so parallel tries cannot all pass one count. */
static int login_reserve(kg_tx *tx, void *ctx, kg_err *err)
{
	struct login_read *r = ctx;
	r->known = r->known_source = false;
	int rc = kg_tx_account_get_by_email(tx, r->email, &r->acc, r->a, err);
	if (rc && rc != KG_ENOTFOUND)
		return rc;
	kg_err_clear(err);
	r->known = rc == 0;
	if (r->known)
		r->counter_id = r->acc.id;
	if ((rc = kg_limit_take(tx, r->counter_id, "login_fail", r->ip, KG_LOGIN_FAIL_MAX,
				KG_LOGIN_FAIL_WINDOW_MS, r->now, &r->retry_ms, err)) ||
	    r->retry_ms > 0)
		return rc;
	if (r->known && (rc = kg_source_known(tx, r->cfg, r->acc.id, r->ip, r->req->device_id,
					      r->now, &r->known_source, err)))
		return rc;
	if (r->known_source)
		return 0;
	if ((rc = kg_backoff_take(tx, r->cfg, r->counter_id, KG_BACKOFF_LOGIN, r->now, &r->retry_ms,
				  err)) ||
	    r->retry_ms == 0)
		return rc;
	return kg_limit_give(tx, r->counter_id, "login_fail", r->ip, KG_LOGIN_FAIL_WINDOW_MS,
			     r->now, err);
}

struct login_write {
	const kg_config *cfg;
	const kg_login_req *req;
	struct login_read *r;
	bool pw_ok;
	kg_login_answer *out;
};

static int issue(kg_tx *tx, struct login_write *w, const char *role, int64_t ttl_s, kg_err *err)
{
	kg_credential c;
	memset(&c, 0, sizeof(c));
	c.id = w->req->cred_id;
	c.secret_hash = w->req->cred_hash;
	c.secret_hash_len = w->req->cred_hash_len;
	c.role = role;
	c.account_id = w->r->acc.id;
	c.expires_ms = w->r->now + ttl_s * 1000;
	c.label = "login";
	c.created_ms = w->r->now;
	w->out->expires_ms = c.expires_ms;
	return kg_tx_credential_insert(tx, &c, err);
}

/* A right password on a locked account (out->locks holds its locks): the
 * answer names them and gets a lock ticket. */
static int answer_locked(kg_tx *tx, struct login_write *w, kg_err *err)
{
	struct login_read *r = w->r;
	kg_login_answer *out = w->out;
	out->result = KG_LOGIN_LOCKED;
	out->kind = KG_LOCK_KIND_PRECAUTION;
	out->remedy = KG_REMEDY_PASSWORD_RESET;
	for (size_t i = 0; i < out->locks.n; i++) {
		if (out->locks.v[i].kind == KG_LOCK_KIND_MISUSE)
			out->kind = KG_LOCK_KIND_MISUSE;
		if (kg_lock_remedy_of(w->cfg, out->locks.v[i].reason) != KG_REMEDY_PASSWORD_RESET)
			out->remedy = KG_REMEDY_SUPPORT; /* a reset would not lift them all */
	}
	int rc = issue(tx, w, "ticket", w->cfg->lock_ticket_ttl_s, err);
	if (rc)
		return rc;
	return kg_account_audit_tx(tx, r->acc.id, "customer", "lock_ticket",
				   json_pack("{s:s, s:s}", "ticket", w->req->cred_id, "ip", r->ip),
				   r->now, err);
}

static int login_write(kg_tx *tx, void *ctx, kg_err *err)
{
	struct login_write *w = ctx;
	struct login_read *r = w->r;
	const char *ip = r->ip;
	int64_t now = r->now;
	kg_login_answer *out = w->out;
	if (!w->pw_ok) {
		out->result = KG_LOGIN_DENIED; /* the reserved tries stand as failures */
		return 0;
	}
	/* A right password is no failure: its reservations go back. */
	int rc = kg_limit_give(tx, r->acc.id, "login_fail", ip, KG_LOGIN_FAIL_WINDOW_MS, now, err);
	if (rc || (rc = kg_backoff_clear(tx, r->acc.id, KG_BACKOFF_LOGIN, err)))
		return rc;
	kg_account_copy(out->account_id, sizeof(out->account_id), r->acc.id);
	rc = kg_account_settle_expired(tx, w->cfg, r->acc.id, now, NULL, err);
	if (rc || (rc = kg_account_active_locks(tx, r->acc.id, now, &out->locks, err)))
		return rc;
	if (out->locks.n > 0)
		return answer_locked(tx, w, err);
	if (r->acc.totp_enabled) {
		if (!w->req->totp || !*w->req->totp) {
			out->result = KG_LOGIN_TOTP_REQUIRED;
			return 0;
		}
		/* Both limits are taken before the code is checked, in this
		 * transaction: per account+IP, and account-wide unless the
		 * source is known. */
		if ((rc = kg_limit_take(tx, r->acc.id, "totp_fail", ip, KG_TOTP_FAIL_MAX,
					KG_TOTP_FAIL_WINDOW_MS, now, &out->retry_after_ms, err)))
			return rc;
		if (!out->retry_after_ms && !r->known_source &&
		    (rc = kg_backoff_take(tx, w->cfg, r->acc.id, KG_BACKOFF_TOTP, now,
					  &out->retry_after_ms, err)))
			return rc;
		if (out->retry_after_ms) {
			out->result = KG_LOGIN_THROTTLED;
			return 0;
		}
		rc = kg_account_totp_check(tx, w->cfg, &r->acc, w->req->totp, now, err);
		if (rc == KG_EAUTH) {
			kg_err_clear(err);
			out->result = KG_LOGIN_TOTP_INVALID;
			return 0;
		}
		if (rc || (rc = kg_tx_counter_reset(tx, r->acc.id, "totp_fail", ip, err)) ||
		    (rc = kg_backoff_clear(tx, r->acc.id, KG_BACKOFF_TOTP, err)))
			return rc;
	}
	out->result = KG_LOGIN_OK;
	/* with a risk engine the token waits for the login event's decision
	 * (login_grant) */
	if ((!w->req->risk && (rc = issue(tx, w, "customer", w->cfg->customer_token_ttl_s, err))) ||
	    (rc = kg_source_remember(tx, w->cfg, r->acc.id, ip, w->req->device_id, now, err)))
		return rc;
	return kg_tx_counter_reset(tx, r->acc.id, "login_fail", ip, err);
}

/* After the decision of a right password's login event: a lock it set (or
 * named) answers LOCKED with the account's locks and a ticket; otherwise
 * the customer token. */
static int login_grant(kg_tx *tx, void *ctx, kg_err *err)
{
	struct login_write *w = ctx;
	kg_login_answer *out = w->out;
	if (out->risk == KG_ACT_LOCK) {
		int rc = kg_account_active_locks(tx, w->r->acc.id, w->r->now, &out->locks, err);
		if (rc)
			return rc;
		if (out->locks.n > 0)
			return answer_locked(tx, w, err);
	}
	return issue(tx, w, "customer", w->cfg->customer_token_ttl_s, err);
}

/* Decides the login event of a finished try and acts on the decision. */
static int act_on_risk(kg_store *s, struct login_write *w, kg_err *err)
{
	kg_login_answer *out = w->out;
	struct login_read *r = w->r;
	kg_arena a;
	kg_arena_init(&a, 8192);
	struct kg_decision d;
	kg_err e;
	kg_err_clear(&e);
	int rc = 0;
	if (decide_login(w->req, r->counter_id, out->result == KG_LOGIN_OK, r->now, &a, &d, &e)) {
		out->risk_undecided = true;
		kg_log(KG_LOG_ERROR, "account", "login event not decided: %s", e.msg);
		d.action = KG_ACT_ALLOW;
		d.n_reasons = 0;
	}
	if (out->result == KG_LOGIN_OK) {
		out->risk = d.action;
		for (uint32_t i = 0; i < d.n_reasons && out->n_risk_rules < KG_LOGIN_RISK_RULES_MAX; i++)
			snprintf(out->risk_rules[out->n_risk_rules++], sizeof(out->risk_rules[0]), "%.*s",
				 (int)d.reasons[i].rule.n, d.reasons[i].rule.p);
		rc = kg_store_write(s, login_grant, w, err);
		if (!rc && out->result == KG_LOGIN_LOCKED)
			out->n_risk_rules = 0;
	}
	kg_arena_release(&a);
	return rc;
}

int kg_account_login(kg_store *s, const kg_config *cfg, const kg_login_req *req,
		     kg_login_answer *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	memset(out, 0, sizeof(*out));
	char pseudo[KG_ID_MAX + 1];
	const char *email = req->email ? req->email : "";
	const char *password = req->password ? req->password : "";
	kg_account_pseudo_id(email, pseudo);
	struct login_read r = {.cfg = cfg, .req = req, .a = &a, .email = email, .counter_id = pseudo,
			       .ip = req->ip ? req->ip : "", .now = kg_account_now(req->now_ms)};
	int rc = kg_store_write(s, login_reserve, &r, err);
	if (rc)
		goto cleanup;
	if (r.retry_ms > 0) {
		out->result = KG_LOGIN_THROTTLED;
		out->retry_after_ms = r.retry_ms;
		goto cleanup;
	}
	/* The slow hash runs outside any store transaction, and always runs:
	 * an unknown email costs what a known one does. */
	const char *hash = r.known && r.acc.password_hash && *r.acc.password_hash
				   ? r.acc.password_hash
				   : kg_password_dummy_hash(cfg->argon2_ops, cfg->argon2_mem_kib);
	bool ok = kg_password_verify(hash, password, strlen(password));
	struct login_write w = {cfg, req, &r, ok && r.known && r.acc.password_hash, out};
	rc = kg_store_write(s, login_write, &w, err);
	/* A locked account or a pending 2-step code is neither a success nor a
	 * failed password. An unknown email's failure goes out too, under its
	 * pseudo id: the same work either way, so the time does not tell. */
	if (!rc && req->risk && out->result != KG_LOGIN_LOCKED &&
	    out->result != KG_LOGIN_TOTP_REQUIRED)
		rc = act_on_risk(s, &w, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

struct setpw_job {
	const char *account_id, *hash, *actor;
};

static int setpw_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct setpw_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 2048);
	kg_account acc;
	int rc = kg_tx_account_get(tx, j->account_id, &acc, &a, err);
	if (!rc) {
		acc.password_hash = j->hash;
		acc.updated_ms = 0;
		rc = kg_tx_account_update(tx, &acc, err);
	}
	if (!rc)
		rc = kg_account_audit_tx(tx, j->account_id, j->actor, "password_set",
					 json_pack("{s:s}", "via", "staff"), kg_now_ms(), err);
	kg_arena_release(&a);
	return rc;
}

int kg_account_set_password(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *password, const char *actor, kg_err *err)
{
	char hash[KG_PWHASH_MAX];
	int rc = kg_password_check(password, "password", err);
	if (rc || (rc = kg_password_hash(password, strlen(password), cfg->argon2_ops,
					 cfg->argon2_mem_kib, hash, err)))
		return rc;
	struct setpw_job j = {account_id, hash, actor};
	return kg_store_write(s, setpw_job, &j, err);
}
