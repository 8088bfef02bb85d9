/* 2-step verification on the store: enrol (a sealed secret), confirm,
 * disable, and the check used by the login gate and the identity check. */
#include "account/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Opens the sealed secret of acc into raw (KG_TOTP_SECRET_BYTES). A secret
 * still in the format before KGSEAL1 is opened the old way and its row
 * rewritten sealed as KGSEAL1 in tx (docs/operations.md, "Sealed at rest"). */
static int open_secret(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
		       uint8_t raw[KG_TOTP_SECRET_BYTES], kg_err *err)
{
	if (!acc->totp_secret || !acc->totp_secret_len)
		return kg_err_set(err, KG_ECONFLICT, "2-step verification is not enrolled");
	kg_buf plain = KG_BUF_INIT(1024), sealed = KG_BUF_INIT(1024);
	bool legacy = !kg_is_sealed(acc->totp_secret, acc->totp_secret_len);
	int rc = legacy ? kg_account_unseal_legacy(cfg->account_secret_key, acc->totp_secret,
						   acc->totp_secret_len, &plain, err)
			: kg_unseal(cfg->account_secret_key, acc->totp_secret, acc->totp_secret_len,
				    &plain, err);
	if (!rc && plain.len != KG_TOTP_SECRET_BYTES)
		rc = kg_err_set(err, KG_EINTERNAL, "stored 2-step secret has the wrong size");
	if (!rc && legacy &&
	    !(rc = kg_seal(cfg->account_secret_key, plain.data, plain.len, &sealed, err))) {
		kg_account up = *acc;
		up.totp_secret = (const uint8_t *)sealed.data;
		up.totp_secret_len = sealed.len;
		rc = kg_tx_account_update(tx, &up, err);
	}
	if (!rc)
		memcpy(raw, plain.data, KG_TOTP_SECRET_BYTES);
	if (plain.data)
		sodium_memzero(plain.data, plain.len);
	kg_buf_release(&plain);
	kg_buf_release(&sealed);
	return rc;
}

/* The last accepted step is kept as a "totp_step" row of the codes table
 * (attempts_left holds the step): a code is accepted once, and never one
 * older than the last accepted (RFC 6238 section 5.2). */
#define TOTP_STEP_PURPOSE "totp_step"

int kg_account_totp_check(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			  const char *code, int64_t now_ms, kg_err *err)
{
	uint8_t raw[KG_TOTP_SECRET_BYTES];
	int64_t now = kg_account_now(now_ms), step = 0;
	int rc = open_secret(tx, cfg, acc, raw, err);
	if (rc)
		return rc;
	rc = kg_totp_verify(raw, sizeof(raw), code, now / 1000, &step);
	sodium_memzero(raw, sizeof(raw));
	if (rc)
		return kg_err_field(err, KG_EAUTH, "code", "the 2-step code is wrong");
	kg_arena a;
	kg_arena_init(&a, 512);
	kg_code_rec last;
	rc = kg_tx_code_get(tx, acc->id, TOTP_STEP_PURPOSE, &last, &a, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		rc = 0;
	} else if (!rc && last.attempts_left >= step) {
		rc = kg_err_field(err, KG_EAUTH, "code", "the 2-step code is wrong");
	}
	if (!rc) {
		kg_code_rec used = {acc->id, TOTP_STEP_PURPOSE, "-", now + 3 * KG_TOTP_STEP_S * 1000, step, now};
		rc = kg_tx_code_put(tx, &used, err);
	}
	kg_arena_release(&a);
	return rc;
}

struct enrol_job {
	const kg_config *cfg;
	const char *account_id;
	const kg_buf *sealed;
	const char *code, *ip, *actor;
	enum { ENROL, CONFIRM, DISABLE } op;
	bool wrong; /* the code was wrong (the failure is counted) */
	int64_t retry_ms; /* throttled: until the failure window restarts */
};

static int enrol_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct enrol_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 2048);
	kg_account acc;
	int64_t now = kg_now_ms(), count = 0;
	const char *action = "totp_enrol";
	int rc = kg_tx_account_get(tx, j->account_id, &acc, &a, err);
	if (rc)
		goto cleanup;
	if (j->op == ENROL) {
		if (acc.totp_enabled) {
			rc = kg_err_set(err, KG_ECONFLICT, "2-step verification is already on; disable it first");
			goto cleanup;
		}
		acc.totp_secret = (const uint8_t *)j->sealed->data;
		acc.totp_secret_len = j->sealed->len;
	} else {
		if (j->code) {
			if ((rc = kg_tx_counter_get(tx, acc.id, "totp_fail", j->ip, KG_TOTP_FAIL_WINDOW_MS, now,
						    &count, err)))
				goto cleanup;
			if (count >= KG_TOTP_FAIL_MAX) {
				kg_counter_row row;
				if (kg_tx_counter_read(tx, acc.id, "totp_fail", j->ip, &row, NULL) == 0)
					j->retry_ms = row.window_start_ms + KG_TOTP_FAIL_WINDOW_MS - now;
				if (j->retry_ms <= 0 || j->retry_ms > KG_TOTP_FAIL_WINDOW_MS)
					j->retry_ms = KG_TOTP_FAIL_WINDOW_MS;
				rc = kg_err_set(err, KG_ETHROTTLED, "too many wrong 2-step codes; try again later");
				goto cleanup;
			}
			rc = kg_account_totp_check(tx, j->cfg, &acc, j->code, now, err);
			if (rc == KG_EAUTH) {
				kg_tx_counter_hit(tx, acc.id, "totp_fail", j->ip, KG_TOTP_FAIL_WINDOW_MS, now,
						  &count, NULL);
				/* keep the count: a job's error would roll it back */
				rc = 0;
				j->wrong = true;
				goto cleanup;
			}
			/* the check may have upgraded the sealed secret: go on from the row */
			if (rc || (rc = kg_tx_account_get(tx, j->account_id, &acc, &a, err)))
				goto cleanup;
		}
		if (j->op == CONFIRM) {
			if (acc.totp_enabled) {
				rc = kg_err_set(err, KG_ECONFLICT, "2-step verification is already on");
				goto cleanup;
			}
			acc.totp_enabled = true;
			action = "totp_on";
		} else {
			acc.totp_enabled = false;
			acc.totp_secret = NULL;
			acc.totp_secret_len = 0;
			action = "totp_off";
		}
	}
	acc.updated_ms = now;
	if ((rc = kg_tx_account_update(tx, &acc, err)))
		goto cleanup;
	rc = kg_account_audit_tx(tx, acc.id, j->actor, action, NULL, now, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

static int run(kg_store *s, struct enrol_job *j, kg_err *err)
{
	int rc = kg_store_write(s, enrol_job, j, err);
	if (!rc && j->wrong)
		return kg_err_field(err, KG_EINVAL, "code", "the 2-step code is wrong");
	return rc;
}

/* Percent-encodes s (RFC 3986 unreserved characters stay). */
static int put_pct(kg_buf *b, const char *s)
{
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p))
			rc = kg_buf_putc(b, (char)*p);
		else
			rc = kg_buf_printf(b, "%%%02X", *p);
	}
	return rc;
}

int kg_account_totp_enrol(kg_store *s, const kg_config *cfg, const char *account_id,
			  char secret_b32[64], char uri[512], kg_err *err)
{
	uint8_t raw[KG_TOTP_SECRET_BYTES];
	kg_buf sealed = KG_BUF_INIT(1024);
	kg_random_bytes(raw, sizeof(raw));
	int rc = kg_seal(cfg->account_secret_key, raw, sizeof(raw), &sealed, err);
	if (!rc)
		rc = kg_base32_encode(raw, sizeof(raw), secret_b32, 64);
	sodium_memzero(raw, sizeof(raw));
	if (!rc) {
		struct enrol_job j = {cfg, account_id, &sealed, NULL, "", "customer", ENROL, false, 0};
		rc = run(s, &j, err);
	}
	if (!rc) {
		kg_buf u = KG_BUF_INIT(512);
		int e = kg_buf_puts(&u, "otpauth://totp/");
		e |= put_pct(&u, cfg->shop_name);
		e |= kg_buf_putc(&u, ':');
		e |= put_pct(&u, account_id);
		e |= kg_buf_printf(&u, "?secret=%s&issuer=", secret_b32);
		e |= put_pct(&u, cfg->shop_name);
		e |= kg_buf_puts(&u, "&algorithm=SHA1&digits=6&period=30");
		/* a shop name too long for the URI: the secret alone must do */
		kg_account_copy(uri, 512, e ? "" : u.data);
		kg_buf_release(&u);
	}
	kg_buf_release(&sealed);
	return rc;
}

int kg_account_totp_confirm(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *code, const char *ip, int64_t *retry_after_ms, kg_err *err)
{
	struct enrol_job j = {cfg, account_id, NULL, code ? code : "", ip ? ip : "", "customer", CONFIRM,
			      false, 0};
	int rc = run(s, &j, err);
	if (retry_after_ms)
		*retry_after_ms = rc == KG_ETHROTTLED ? j.retry_ms : 0;
	return rc;
}

int kg_account_totp_disable(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *code, const char *actor, int64_t *retry_after_ms, kg_err *err)
{
	struct enrol_job j = {cfg, account_id, NULL, code, "", actor ? actor : "customer", DISABLE, false, 0};
	int rc = run(s, &j, err);
	if (retry_after_ms)
		*retry_after_ms = rc == KG_ETHROTTLED ? j.retry_ms : 0;
	return rc;
}
