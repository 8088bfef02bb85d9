/* Password reset (S4): an emailed 6-digit code, stored only as an Argon2id
 * hash, 10 minutes, 5 tries; finishing sets the password and lifts the locks
 * policy.reset_lifts allows. Every email gets the same answer. */
#include "account/internal.h"

#include <sodium.h>
#include <string.h>

#define PURPOSE "password_reset"

struct start_read {
	kg_arena *a;
	const char *email;
	kg_account acc;
	bool known;
};

static int start_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct start_read *r = ctx;
	int rc = kg_tx_account_get_by_email(tx, r->email, &r->acc, r->a, err);
	r->known = rc == 0;
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		return 0;
	}
	return rc;
}

struct start_write {
	const kg_config *cfg;
	const kg_account *acc;
	const char *hash, *code, *ip;
	int64_t now;
};

static int start_write(kg_tx *tx, void *ctx, kg_err *err)
{
	struct start_write *w = ctx;
	int64_t count = 0;
	int rc = kg_tx_counter_hit(tx, w->acc->id, "recovery_start", "", KG_RECOVERY_WINDOW_MS,
				   w->now, &count, err);
	if (rc)
		return rc;
	if (count > KG_RECOVERY_START_MAX)
		return 0; /* quietly: the answer is the same */
	int64_t expires = w->now + w->cfg->code_ttl_s * 1000;
	kg_code_rec c = {w->acc->id, PURPOSE, w->hash, expires, w->cfg->code_max_attempts, w->now};
	if ((rc = kg_tx_code_put(tx, &c, err)))
		return rc;
	if ((rc = kg_account_audit_tx(tx, w->acc->id, "customer", "recovery_start",
				      json_pack("{s:s, s:I}", "ip", w->ip, "expires_ms", (json_int_t)expires),
				      w->now, err)))
		return rc;
	kg_account_notice_ctx n = kg_account_notice_base(w->cfg, w->acc, w->now);
	n.code = w->code;
	return kg_account_notify_tx(tx, w->cfg, w->acc, KG_ACCOUNT_NOTICE_RECOVERY_CODE, &n, err);
}

int kg_account_recovery_start(kg_store *s, const kg_config *cfg, const char *email,
			      const char *ip, int64_t now_ms, kg_err *err)
{
	/* The mail with the code is sealed at rest with account.secret_key; with
	 * no key it would sit in the outbox in clear (S11): refuse, for every
	 * email alike. */
	if (!cfg->account_secret_key[0])
		return kg_err_set(err, KG_ECONFLICT,
				  "password reset is off: account.secret_key is not configured");
	kg_arena a;
	kg_arena_init(&a, 4096);
	char code[7], hash[KG_PWHASH_MAX];
	struct start_read r = {.a = &a, .email = email ? email : ""};
	int rc = kg_store_read(s, start_read, &r, err);
	if (rc)
		goto cleanup;
	/* The slow hash runs for every email, known or not. */
	kg_code_new(code);
	if ((rc = kg_password_hash(code, 6, cfg->argon2_ops, cfg->argon2_mem_kib, hash, err)))
		goto cleanup;
	if (!r.known)
		goto cleanup;
	struct start_write w = {cfg, &r.acc, hash, code, ip ? ip : "", kg_account_now(now_ms)};
	rc = kg_store_write(s, start_write, &w, err);
cleanup:
	sodium_memzero(code, sizeof(code));
	kg_arena_release(&a);
	return rc;
}

/* ---- finish ----------------------------------------------------------------*/
struct finish_read {
	const kg_config *cfg;
	kg_arena *a;
	const char *email, *ip;
	kg_account acc;
	kg_code_rec code;
	bool known, has_code;
	const char *counter_id; /* the account, or the pseudo id of an unknown email */
	int64_t now;
	int64_t retry_ms;       /* > 0: limited before any check */
};

/* The first job: finds the account and its code and reserves this try in
 * both limits (per account+IP, and the account-wide delay unless the IP is
 * one the account signed in from) before the slow hash runs. An unknown
 * email is limited alike, under its pseudo id. */
static int finish_reserve(kg_tx *tx, void *ctx, kg_err *err)
{
	struct finish_read *r = ctx;
	bool known_source = false;
	int rc = kg_tx_account_get_by_email(tx, r->email, &r->acc, r->a, err);
	if (rc && rc != KG_ENOTFOUND)
		return rc;
	kg_err_clear(err);
	r->known = rc == 0;
	if (r->known) {
		r->counter_id = r->acc.id;
		rc = kg_tx_code_get(tx, r->acc.id, PURPOSE, &r->code, r->a, err);
		if (rc && rc != KG_ENOTFOUND)
			return rc;
		r->has_code = rc == 0;
		kg_err_clear(err);
	}
	if ((rc = kg_limit_take(tx, r->counter_id, "recovery_fail", r->ip, KG_RECOVERY_FAIL_MAX,
				KG_RECOVERY_WINDOW_MS, r->now, &r->retry_ms, err)) ||
	    r->retry_ms > 0)
		return rc;
	if (r->known && (rc = kg_source_known(tx, r->cfg, r->acc.id, r->ip, NULL, r->now,
					      &known_source, err)))
		return rc;
	if (known_source)
		return 0;
	if ((rc = kg_backoff_take(tx, r->cfg, r->counter_id, KG_BACKOFF_RECOVERY, r->now,
				  &r->retry_ms, err)) ||
	    r->retry_ms == 0)
		return rc;
	return kg_limit_give(tx, r->counter_id, "recovery_fail", r->ip, KG_RECOVERY_WINDOW_MS,
			     r->now, err);
}

struct finish_write {
	const kg_config *cfg;
	struct finish_read *r;
	enum kg_code_verdict verdict;
	int64_t attempts_left;
	const char *new_hash, *ip;
	kg_recovery_answer *out;
	bool stale;
};

static int lift_allowed(kg_tx *tx, struct finish_write *w, kg_err *err)
{
	struct finish_read *r = w->r;
	kg_lock_refs active;
	uint32_t mask = kg_account_reset_mask(w->cfg);
	int rc = kg_account_active_locks(tx, r->acc.id, r->now, &active, err);
	for (size_t i = 0; !rc && i < active.n; i++) {
		kg_lock_refs *to = &w->out->still_locked;
		if (active.v[i].reason != KG_LOCK_MISUSE && ((mask >> active.v[i].reason) & 1u)) {
			rc = kg_account_lock_lift(tx, w->cfg, r->acc.id, active.v[i].id,
						  KG_LIFT_PASSWORD_RESET, "customer", NULL, r->now, NULL,
						  err);
			to = &w->out->lifted;
		}
		to->v[to->n++] = active.v[i];
	}
	return rc;
}

static int finish_write(kg_tx *tx, void *ctx, kg_err *err)
{
	struct finish_write *w = ctx;
	struct finish_read *r = w->r;
	kg_arena a;
	kg_arena_init(&a, 2048);
	kg_code_rec now_code;
	w->out->lifted.n = w->out->still_locked.n = 0;
	/* The code must be the one checked: a concurrent try or a new code
	 * makes this attempt stale (answered like a wrong code). */
	int rc = kg_tx_code_get(tx, r->acc.id, PURPOSE, &now_code, &a, err);
	if (rc == KG_ENOTFOUND || (!rc && (now_code.attempts_left != r->code.attempts_left ||
					   strcmp(now_code.code_hash, r->code.code_hash)))) {
		kg_err_clear(err);
		w->stale = true;
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	if (w->verdict != KG_CODE_OK) {
		if (w->verdict == KG_CODE_EXPIRED || w->attempts_left <= 0)
			rc = kg_tx_code_delete(tx, r->acc.id, PURPOSE, err);
		else
			rc = kg_tx_code_set_attempts(tx, r->acc.id, PURPOSE, w->attempts_left, err);
		goto cleanup; /* the reserved tries stand as failures */
	}
	if ((rc = kg_tx_code_delete(tx, r->acc.id, PURPOSE, err)))
		goto cleanup;
	kg_account acc = r->acc;
	acc.password_hash = w->new_hash;
	acc.updated_ms = r->now;
	if ((rc = kg_tx_account_update(tx, &acc, err)))
		goto cleanup;
	/* Whoever held the old password loses every session and ticket. */
	size_t tokens = 0, tickets = 0;
	if ((rc = kg_tx_credential_revoke_account(tx, acc.id, "customer", r->now, &tokens, err)) ||
	    (rc = kg_tx_credential_revoke_account(tx, acc.id, "ticket", r->now, &tickets, err)))
		goto cleanup;
	if ((rc = kg_account_audit_tx(tx, acc.id, "customer", "password_reset",
				      json_pack("{s:s, s:I, s:I}", "ip", w->ip, "tokens_revoked",
						(json_int_t)tokens, "tickets_revoked", (json_int_t)tickets),
				      r->now, err)))
		goto cleanup;
	if ((rc = lift_allowed(tx, w, err)))
		goto cleanup;
	kg_buf lifted = KG_BUF_INIT(1024);
	for (size_t i = 0; i < w->out->lifted.n; i++)
		kg_buf_printf(&lifted, "%s%s", i ? ", " : "", kg_lock_reason_name(w->out->lifted.v[i].reason));
	kg_account_notice_ctx n = kg_account_notice_base(w->cfg, &acc, r->now);
	n.lifted = lifted.data ? lifted.data : "";
	rc = kg_account_notify_tx(tx, w->cfg, &acc, KG_ACCOUNT_NOTICE_PASSWORD_RESET, &n, err);
	kg_buf_release(&lifted);
	/* The customer proved the mailbox and chose a new password: what was
	 * guessed against the old one no longer holds them back. */
	if (!rc)
		rc = kg_tx_counter_reset(tx, acc.id, "recovery_fail", w->ip, err);
	const char *const backoffs[] = {KG_BACKOFF_RECOVERY, KG_BACKOFF_LOGIN, KG_BACKOFF_TOTP};
	for (size_t i = 0; !rc && i < KG_ARRAY_LEN(backoffs); i++)
		rc = kg_backoff_clear(tx, acc.id, backoffs[i], err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

static int wrong_code(kg_err *err)
{
	return kg_err_field(err, KG_EINVAL, "code",
			    "the code is wrong, has expired or was used up; ask for a new one");
}

int kg_account_recovery_finish(kg_store *s, const kg_config *cfg, const char *email,
			       const char *code, const char *new_password, const char *ip,
			       int64_t now_ms, kg_recovery_answer *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	char hash[KG_PWHASH_MAX];
	memset(out, 0, sizeof(*out));
	int rc = kg_password_check(new_password, "password", err);
	if (rc)
		goto cleanup;
	char pseudo[KG_ID_MAX + 1];
	kg_account_pseudo_id(email ? email : "", pseudo);
	struct finish_read r = {.cfg = cfg, .a = &a, .email = email ? email : "",
				.ip = ip ? ip : "", .counter_id = pseudo,
				.now = kg_account_now(now_ms)};
	if ((rc = kg_store_write(s, finish_reserve, &r, err)))
		goto cleanup;
	if (r.retry_ms > 0) {
		out->retry_after_ms = r.retry_ms;
		rc = kg_err_set(err, KG_EBUSY, "too many wrong codes; try again later");
		goto cleanup;
	}
	if (!r.known || !r.has_code) {
		/* Same work as a real check, same answer. */
		kg_password_verify(kg_password_dummy_hash(cfg->argon2_ops, cfg->argon2_mem_kib),
				   code ? code : "", code ? strlen(code) : 0);
		rc = wrong_code(err);
		goto cleanup;
	}
	kg_code_state st;
	memset(&st, 0, sizeof(st));
	kg_account_copy(st.hash, sizeof(st.hash), r.code.code_hash);
	st.expires_ms = r.code.expires_ms;
	st.max_attempts = (int)cfg->code_max_attempts;
	st.attempts = st.max_attempts - (int)r.code.attempts_left;
	enum kg_code_verdict v = kg_code_check(&st, code, r.now);
	struct finish_write w = {cfg, &r, v, st.max_attempts - st.attempts, NULL, ip ? ip : "", out, false};
	if (v == KG_CODE_OK) {
		if ((rc = kg_password_hash(new_password, strlen(new_password), cfg->argon2_ops,
					   cfg->argon2_mem_kib, hash, err)))
			goto cleanup;
		w.new_hash = hash;
	}
	if ((rc = kg_store_write(s, finish_write, &w, err)))
		goto cleanup;
	if (v != KG_CODE_OK || w.stale) {
		rc = wrong_code(err);
		goto cleanup;
	}
	kg_account_copy(out->account_id, sizeof(out->account_id), r.acc.id);
cleanup:
	kg_arena_release(&a);
	return rc;
}
