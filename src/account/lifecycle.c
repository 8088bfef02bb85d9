/* The lock lifecycle on the store: apply a lock, lift one, let expired ones
 * go — each with its audit entry and official notice in one transaction. */
#include "account/internal.h"

#include "notify/notify.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static json_t *evidence_json(const char *evidence)
{
	if (!evidence || !*evidence)
		return json_null();
	json_t *j = json_loads(evidence, JSON_DECODE_ANY, NULL);
	return j ? j : json_string(evidence);
}

/* What the one lock writer writes: every lock, set by staff or asked for
 * by a rule decision, goes through lock_write. */
struct lock_spec {
	const char *account_id;
	const char *reason;        /* a kg_lock_reason name */
	const char *source;        /* the event that asked for it; NULL: staff (a
				    * fresh random source) */
	const char *evidence;      /* JSON text or NULL */
	const char *actor;
	const char *rule;          /* NULL, or the rule that asked for it */
	const char *incident_id;   /* NULL */
	int64_t now, expires;      /* expires 0: never */
	bool reuse;                /* a standing lock of the same reason (at
				    * reuse_at) is named instead of a new one */
	int64_t reuse_at;
};

/* Writes the lock of s — its row, one audit entry, the official notice
 * (none for an account kagi does not know) — or, with s->reuse, names the
 * standing lock of the same reason; cfg NULL: no notice. The id is kg_risk_lock_id(account,
 * source): a second write of the same (account, event) finds its row and
 * writes nothing. *written says whether a row was written. */
static int lock_write(kg_tx *tx, const kg_config *cfg, const struct lock_spec *s,
		      char id[KG_LOCK_ID_MAX], bool *written, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	int rc = 0;
	*written = false;
	if (s->reuse) {
		kg_lock *act = NULL;
		size_t n = 0;
		rc = kg_tx_lock_list_active(tx, s->account_id, s->reuse_at, &a, &act, &n, err);
		for (size_t k = 0; !rc && k < n; k++)
			if (!strcmp(act[k].reason, s->reason)) {
				snprintf(id, KG_LOCK_ID_MAX, "%s", act[k].lock_id);
				goto cleanup;
			}
		if (rc)
			goto cleanup;
	}
	char src[KG_STORE_ID_MAX];
	const char *source = s->source ? s->source : kg_store_new_id(src, "src");
	kg_risk_lock_id(s->account_id, strlen(s->account_id), source, strlen(source), id);
	enum kg_lock_reason r = KG_LOCK_MANUAL;
	kg_lock_reason_parse(s->reason, &r);
	kg_lock l;
	memset(&l, 0, sizeof(l));
	l.account_id = s->account_id;
	l.lock_id = id;
	l.reason = s->reason;
	l.kind = kg_lock_reason_kind(r) == KG_LOCK_KIND_MISUSE ? "misuse" : "precaution";
	l.evidence = s->evidence;
	l.created_ms = s->now;
	l.expires_ms = s->expires;
	l.incident_id = s->incident_id;
	rc = kg_tx_lock_insert(tx, &l, err);
	if (rc == KG_ECONFLICT && s->source) { /* the same event decided twice: one lock */
		kg_err_clear(err);
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	*written = true;
	json_t *d = json_pack("{s:s, s:s, s:s, s:o}", "lock", id, "reason", s->reason, "kind", l.kind,
			      "evidence", evidence_json(s->evidence));
	if (d && s->expires)
		json_object_set_new(d, "expires_ms", json_integer(s->expires));
	if (d && s->incident_id)
		json_object_set_new(d, "incident", json_string(s->incident_id));
	if (d && s->rule)
		json_object_set_new(d, "rule", json_string(s->rule));
	if (d && s->source)
		json_object_set_new(d, "event", json_string(s->source));
	if ((rc = kg_account_audit_tx(tx, s->account_id, s->actor, "lock", d, s->now, err)))
		goto cleanup;
	if (cfg) /* kagi replay --db writes locks without notices */
		rc = kg_account_lock_notice_tx(tx, cfg, s->account_id, id, s->reason, s->now, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_lock_apply(kg_tx *tx, const kg_config *cfg, const kg_account_lock_req *req,
			  char lock_id_out[KG_STORE_ID_MAX], kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_account acc;
	int rc;
	const char *reason = kg_lock_reason_name(req->reason);
	if (!reason) {
		rc = kg_err_field(err, KG_EINVAL, "reason", "unknown lock reason");
		goto cleanup;
	}
	if ((rc = kg_tx_account_get(tx, req->account_id, &acc, &a, err)))
		goto cleanup;
	int64_t now = kg_account_now(req->now_ms);
	int64_t expires = req->expires_ms;
	if (!expires && req->reason == KG_LOCK_BRUTE_FORCE)
		expires = now + (int64_t)KG_BRUTE_FORCE_LOCK_S * 1000;
	struct lock_spec s = {.account_id = acc.id, .reason = reason, .evidence = req->evidence,
			      .actor = req->actor, .incident_id = req->incident_id, .now = now,
			      .expires = expires};
	char id[KG_LOCK_ID_MAX];
	bool written;
	if ((rc = lock_write(tx, cfg, &s, id, &written, err)))
		goto cleanup;
	if (lock_id_out)
		kg_account_copy(lock_id_out, KG_STORE_ID_MAX, id);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_lock_notice_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
			      const char *lock_id, const char *reason, int64_t now_ms, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_account acc;
	int rc = kg_tx_account_get(tx, account_id, &acc, &a, err);
	if (rc == KG_ENOTFOUND) {
		kg_log(KG_LOG_DEBUG, "account", "lock %s on unknown account %s: no notice", lock_id,
		       account_id);
		kg_err_clear(err);
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	kg_account_notice_ctx c = kg_account_notice_base(cfg, &acc, kg_account_now(now_ms));
	if (kg_lock_reason_parse(reason, &c.reason))
		c.reason = KG_LOCK_MANUAL;
	c.remedy = kg_lock_remedy_of(cfg, c.reason);
	c.lock_id = lock_id;
	rc = kg_account_notify_tx(tx, cfg, &acc, KG_ACCOUNT_NOTICE_LOCK, &c, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_risk_lock_hook(void *ctx, void *txn, const struct kg_risk_lock_order *o,
			      struct kg_decision_lock *lock, kg_err *err)
{
	kg_buf ev = KG_BUF_INIT(KG_EVENT_BYTES_MAX * 4);
	int rc = kg_decision_write_json(o->decision, &ev);
	if (rc) {
		kg_buf_release(&ev);
		return kg_err_set(err, rc, "lock evidence too large");
	}
	struct lock_spec s = {.account_id = o->account, .reason = o->reason,
			      .source = o->event_id, .evidence = ev.data, .actor = "system:risk",
			      .rule = o->rule, .now = kg_now_ms(), .expires = o->expires_ms,
			      .reuse = true, .reuse_at = o->ts_ms};
	rc = lock_write(txn, ctx, &s, lock->id, &lock->written, err);
	kg_buf_release(&ev);
	return rc;
}

int kg_account_lock_lift(kg_tx *tx, const kg_config *cfg, const char *account_id,
			 const char *lock_id, enum kg_lift_method method, const char *actor,
			 const char *note, int64_t now_ms, enum kg_lock_reason *reason_out,
			 kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_account acc;
	kg_lock l;
	int64_t now = kg_account_now(now_ms);
	int rc = kg_tx_account_get(tx, account_id, &acc, &a, err);
	if (rc || (rc = kg_tx_lock_get(tx, account_id, lock_id, &l, &a, err)))
		goto cleanup;
	kg_lock_state st = {KG_LOCK_MANUAL, l.created_ms, l.expires_ms, 0};
	if (kg_lock_reason_parse(l.reason, &st.reason)) {
		rc = kg_err_set(err, KG_EINTERNAL, "lock %s has an unknown reason \"%s\"", lock_id,
				l.reason);
		goto cleanup;
	}
	if (!l.state || strcmp(l.state, "active")) {
		rc = kg_err_set(err, KG_ECONFLICT, "lock %s is %s, not active", lock_id,
				l.state ? l.state : "?");
		goto cleanup;
	}
	if ((rc = kg_lock_can_lift(&st, method, kg_account_reset_mask(cfg), now, err)))
		goto cleanup;
	const char *mname = kg_lift_method_name(method);
	if ((rc = kg_tx_lock_lift(tx, account_id, lock_id, now, actor, mname, err)))
		goto cleanup;
	json_t *d = json_pack("{s:s, s:s, s:s}", "lock", lock_id, "reason", l.reason, "method", mname);
	if (d && note && *note)
		json_object_set_new(d, "note", json_string(note));
	if ((rc = kg_account_audit_tx(tx, account_id, actor, "unlock", d, now, err)))
		goto cleanup;
	kg_account_notice_ctx c = kg_account_notice_base(cfg, &acc, now);
	c.reason = st.reason;
	c.lock_id = lock_id;
	c.method = method;
	if ((rc = kg_account_notify_tx(tx, cfg, &acc, KG_ACCOUNT_NOTICE_UNLOCK, &c, err)))
		goto cleanup;
	if (reason_out)
		*reason_out = st.reason;
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_settle_expired(kg_tx *tx, const kg_config *cfg, const char *account_id,
			      int64_t now_ms, size_t *n_out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_lock *locks = NULL;
	size_t n = 0, lifted = 0;
	int64_t now = kg_account_now(now_ms);
	int rc = kg_tx_lock_list(tx, account_id, 0, &a, &locks, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!locks[i].state || strcmp(locks[i].state, "active") || !locks[i].expires_ms ||
		    locks[i].expires_ms > now)
			continue;
		rc = kg_account_lock_lift(tx, cfg, account_id, locks[i].lock_id, KG_LIFT_EXPIRY,
					  "system", NULL, now, NULL, err);
		lifted += rc == 0;
	}
	if (n_out)
		*n_out = lifted;
	kg_arena_release(&a);
	return rc;
}

struct due_job {
	const kg_config *cfg;
	int64_t now;
	size_t limit, lifted;
};

static int due_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct due_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_lock *locks = NULL;
	size_t n = 0;
	j->lifted = 0;
	int rc = kg_tx_lock_list_due(tx, j->now, j->limit, &a, &locks, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		rc = kg_account_lock_lift(tx, j->cfg, locks[i].account_id, locks[i].lock_id, KG_LIFT_EXPIRY,
					  "system", NULL, j->now, NULL, err);
		if (rc == KG_ENOTFOUND) { /* a lock on an account kagi does not know */
			kg_err_clear(err);
			rc = kg_tx_lock_lift(tx, locks[i].account_id, locks[i].lock_id, j->now, "system",
					     kg_lift_method_name(KG_LIFT_EXPIRY), err);
		}
		j->lifted += rc == 0;
	}
	kg_arena_release(&a);
	return rc;
}

int kg_account_expire_due(kg_store *s, const kg_config *cfg, int64_t now_ms, size_t limit,
			  size_t *n, kg_err *err)
{
	struct due_job j = {cfg, kg_account_now(now_ms), limit, 0};
	int rc = kg_store_write(s, due_job, &j, err);
	if (n)
		*n = rc ? 0 : j.lifted;
	return rc;
}

int kg_account_active_locks(kg_tx *tx, const char *account_id, int64_t now_ms,
			    kg_lock_refs *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_lock *locks = NULL;
	size_t n = 0;
	out->n = 0;
	int rc = kg_tx_lock_list_active(tx, account_id, kg_account_now(now_ms), &a, &locks, &n, err);
	for (size_t i = 0; !rc && i < n && out->n < KG_ACCOUNT_LOCKS_MAX; i++) {
		kg_lock_ref *r = &out->v[out->n];
		if (kg_lock_reason_parse(locks[i].reason, &r->reason))
			r->reason = KG_LOCK_MANUAL;
		r->kind = kg_lock_reason_kind(r->reason);
		r->expires_ms = locks[i].expires_ms;
		kg_account_copy(r->id, sizeof(r->id), locks[i].lock_id);
		out->n++;
	}
	kg_arena_release(&a);
	return rc;
}

struct lock_job {
	const kg_config *cfg;
	const kg_account_lock_req *req;
	char *id_out;
};

static int lock_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct lock_job *j = ctx;
	return kg_account_lock_apply(tx, j->cfg, j->req, j->id_out, err);
}

int kg_account_lock(kg_store *s, const kg_config *cfg, const kg_account_lock_req *req,
		    char lock_id_out[KG_STORE_ID_MAX], kg_err *err)
{
	struct lock_job j = {cfg, req, lock_id_out};
	return kg_store_write(s, lock_job, &j, err);
}

struct unlock_job {
	const kg_config *cfg;
	const char *account_id, *lock_id, *staff_id, *reason;
	bool admin;
	kg_lock_refs *lifted;
};

static int unlock_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct unlock_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 1024);
	int64_t now = kg_now_ms();
	char actor[KG_ID_MAX + 16];
	snprintf(actor, sizeof(actor), "%s:%s", j->admin ? "admin" : "agent", j->staff_id);
	int rc = 0;
	if (!j->admin) {
		kg_identity_state st;
		rc = kg_tx_identity_get(tx, j->account_id, &st, &a, err);
		if (rc == KG_ENOTFOUND || (!rc && (!st.passed_by || strcmp(st.passed_by, j->staff_id) ||
						   st.pass_until_ms <= now))) {
			rc = kg_err_set(err, KG_ECONFLICT,
					"an agent may unlock only within %lld minutes after passing an "
					"identity check on this account",
					(long long)(j->cfg->identity_unlock_window_s / 60));
			goto cleanup;
		}
		if (rc)
			goto cleanup;
	}
	kg_lock_refs active;
	if ((rc = kg_account_active_locks(tx, j->account_id, now, &active, err)))
		goto cleanup;
	j->lifted->n = 0;
	size_t matched = 0;
	for (size_t i = 0; i < active.n; i++) {
		if (j->lock_id && strcmp(j->lock_id, active.v[i].id))
			continue;
		matched++;
		rc = kg_account_lock_lift(tx, j->cfg, j->account_id, active.v[i].id,
					  j->admin ? KG_LIFT_ADMIN : KG_LIFT_SUPPORT, actor, j->reason,
					  now, NULL, err);
		/* The case the customer opened about this lock is done. */
		if (rc || (rc = kg_account_cases_resolve_lock_tx(tx, j->cfg, j->account_id,
								 active.v[i].id, actor, NULL, err)))
			goto cleanup;
		j->lifted->v[j->lifted->n++] = active.v[i];
	}
	if (!matched) {
		rc = j->lock_id ? kg_err_field(err, KG_ENOTFOUND, "lock", "no active lock %s on this account",
					      j->lock_id)
				: kg_err_set(err, KG_ECONFLICT, "the account has no active lock");
		goto cleanup;
	}
	/* Nothing locked any more: the lock tickets have done their job (the
	 * customer logs in and follows the case with a customer token). */
	if ((rc = kg_account_active_locks(tx, j->account_id, now, &active, err)))
		goto cleanup;
	if (active.n == 0)
		rc = kg_tx_credential_revoke_account(tx, j->account_id, "ticket", now, NULL, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_unlock(kg_store *s, const kg_config *cfg, const char *account_id,
		      const char *lock_id, bool admin, const char *staff_id,
		      const char *reason, kg_lock_refs *lifted, kg_err *err)
{
	if (admin && (!reason || !*reason))
		return kg_err_field(err, KG_EINVAL, "reason", "an admin unlock needs a reason");
	struct unlock_job j = {cfg, account_id, lock_id, staff_id, reason, admin, lifted};
	return kg_store_write(s, unlock_job, &j, err);
}

int kg_account_lock_revert_tx(kg_tx *tx, const char *account_id, const char *lock_id,
			      const char *incident_id, const char *actor, const char *note,
			      int64_t now_ms, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_lock l;
	int64_t now = kg_account_now(now_ms);
	char *text = NULL;
	int rc = kg_tx_lock_get(tx, account_id, lock_id, &l, &a, err);
	if (rc)
		goto cleanup;
	if (!l.state || strcmp(l.state, "active")) {
		rc = KG_ECONFLICT; /* lifted before (a revert run again) or expired */
		goto cleanup;
	}
	const char *mname = kg_lift_method_name(KG_LIFT_REVERT);
	if ((rc = kg_tx_lock_lift(tx, account_id, lock_id, now, actor, mname, err)))
		goto cleanup;
	json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "lock", lock_id, "reason", l.reason, "method",
			      mname, "incident", incident_id);
	if (d && note && *note)
		json_object_set_new(d, "note", json_string(note));
	if ((rc = kg_account_audit_tx(tx, account_id, actor, "unlock", d, now, err)))
		goto cleanup;
	json_t *w = json_pack("{s:s, s:s, s:s, s:s}", "lock", lock_id, "reason", l.reason, "method",
			      mname, "incident", incident_id);
	text = w ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(w);
	rc = text ? kg_notify_tx_enqueue_webhook(tx, "lock.lifted", account_id, text, err)
		  : kg_err_set(err, KG_ENOMEM, "out of memory");
cleanup:
	free(text);
	kg_arena_release(&a);
	return rc;
}

int kg_account_apology_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
			  const char *incident_id, int64_t mail_due_ms, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_account acc;
	int rc = kg_tx_account_get(tx, account_id, &acc, &a, err);
	if (rc == KG_ENOTFOUND) { /* a lock on an account kagi does not know */
		kg_err_clear(err);
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	kg_account_notice_ctx c = kg_account_notice_base(cfg, &acc, kg_now_ms());
	c.incident_id = incident_id;
	c.mail_due_ms = mail_due_ms;
	rc = kg_account_notify_tx(tx, cfg, &acc, KG_ACCOUNT_NOTICE_INCIDENT_APOLOGY, &c, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}
