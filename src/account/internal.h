/* Private to src/account: helpers shared by the module's files (notices,
 * audit entries, policy bits). Nothing outside src/account includes it. */
#ifndef KG_ACCOUNT_INTERNAL_H
#define KG_ACCOUNT_INTERNAL_H

#include <jansson.h>

#include "account/account.h"

/* Failure limits of the login gate and password reset (fixed windows). */
#define KG_LOGIN_FAIL_MAX 10
#define KG_LOGIN_FAIL_WINDOW_MS (15 * 60 * 1000)
#define KG_TOTP_FAIL_MAX 5
#define KG_TOTP_FAIL_WINDOW_MS (15 * 60 * 1000)
#define KG_RECOVERY_START_MAX 5
#define KG_RECOVERY_FAIL_MAX 10
#define KG_RECOVERY_WINDOW_MS (60 * 60 * 1000)
#define KG_CASE_HANDLING_SAMPLE 20

/* Counter kinds of the account-wide delay (limits.c). */
#define KG_BACKOFF_LOGIN "login_backoff"
#define KG_BACKOFF_TOTP "totp_backoff"
#define KG_BACKOFF_RECOVERY "recovery_backoff"

/* The counter key of an email that names no account: "?<hash>", so unknown
 * and known emails are counted (and limited) alike. */
void kg_account_pseudo_id(const char *email, char out[KG_ID_MAX + 1]);

/* Reserves one try of (id, kind, key) in a fixed window of window_ms with
 * at most max tries, before the slow check. *retry_ms: 0 when reserved,
 * else how long until the window ends (nothing written). In tx. */
int kg_limit_take(kg_tx *tx, const char *id, const char *kind, const char *key, int64_t max,
		  int64_t window_ms, int64_t now, int64_t *retry_ms, kg_err *err);
/* Gives a reserved try back (the check passed). In tx. */
int kg_limit_give(kg_tx *tx, const char *id, const char *kind, const char *key,
		  int64_t window_ms, int64_t now, kg_err *err);
/* The account-wide delay (bruteforce.*): reserves a try of (id, kind) when
 * the delay after the failures so far has passed; else *retry_ms is the
 * time left (nothing written). In tx. */
int kg_backoff_take(kg_tx *tx, const kg_config *cfg, const char *id, const char *kind,
		    int64_t now, int64_t *retry_ms, kg_err *err);
/* Clears it (a success). In tx. */
int kg_backoff_clear(kg_tx *tx, const char *id, const char *kind, kg_err *err);
/* Has the account signed in successfully from this IP or device within
 * bruteforce.known_source_s? Such a source is not held by the delay. */
int kg_source_known(kg_tx *tx, const kg_config *cfg, const char *id, const char *ip,
		    const char *device_id, int64_t now, bool *known, kg_err *err);
/* Remembers a successful sign-in's IP and device. In tx. */
int kg_source_remember(kg_tx *tx, const kg_config *cfg, const char *id, const char *ip,
		       const char *device_id, int64_t now, kg_err *err);

/* Records one official notice about acc: the message-center entry (ja+en)
 * and the outbox mail to acc->email, with the same Message-ID. The code of
 * a recovery notice (ctx->code) goes only into the mail, never into the
 * message center. In tx. */
int kg_account_notify_tx(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			 enum kg_account_notice_kind kind, const kg_account_notice_ctx *ctx,
			 kg_err *err);

/* Resolves the unresolved cases of the account opened about lock_id (the
 * lock was lifted), each with history, audit entry and case_update notice;
 * *n_out (may be NULL) gets how many. In tx. */
int kg_account_cases_resolve_lock_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
				     const char *lock_id, const char *actor, size_t *n_out,
				     kg_err *err);

/* Appends an audit entry; detail is stolen (may be NULL). In tx. */
int kg_account_audit_tx(kg_tx *tx, const char *account_id, const char *actor,
			const char *action, json_t *detail, int64_t now_ms, kg_err *err);

/* policy.reset_lifts as a bit set (0 when the value is bad: then nothing is
 * lifted by reset, the safe side; the config check reports it). */
uint32_t kg_account_reset_mask(const kg_config *cfg);

/* A notice context with shop, name and time filled in. */
kg_account_notice_ctx kg_account_notice_base(const kg_config *cfg, const kg_account *acc,
					     int64_t now_ms);

static inline int64_t kg_account_now(int64_t now_ms) { return now_ms ? now_ms : kg_now_ms(); }

/* secret.c: opens a TOTP secret sealed in the format before KGSEAL1 (hex of
 * nonce || secretbox) into out; only to upgrade stored rows. KG_EAUTH when
 * it does not open with the key. */
int kg_account_unseal_legacy(const char *key_hex, const void *sealed_hex, size_t hlen,
			     kg_buf *out, kg_err *err);

/* Copies s into a fixed buffer (truncating; always NUL-terminated). */
void kg_account_copy(char *dst, size_t size, const char *s);

/* The secrets of an account already read (its row and cards, whose strings
 * must outlive out: they are pointed to, not copied), name parts in a:
 * what kg_account_identity_secrets_tx reads and returns. */
void kg_identity_secrets_of(const kg_account *acc, const kg_card *cards, size_t ncards, kg_arena *a,
			    kg_identity_secrets *out);

#endif
