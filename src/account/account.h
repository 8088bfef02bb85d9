/* kagi accounts: the lock lifecycle, the login gate, password reset,
 * 2-step codes (TOTP), the identity check, the message center, support cases
 * and the audit trail of every change. Not here: deciding that an account
 * should be locked (risk), delivering mail (notify), SQL (store). */
#ifndef KG_ACCOUNT_H
#define KG_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- locks: reasons, kinds, lift methods, the state machine ------------ */
enum kg_lock_reason {
	KG_LOCK_SYSTEM_ERROR,
	KG_LOCK_GIFT_CARD,
	KG_LOCK_RETURN_ABUSE,
	KG_LOCK_PAYMENT_FRAUD,
	KG_LOCK_COMPROMISED,
	KG_LOCK_BRUTE_FORCE, /* temporary: expires by itself */
	KG_LOCK_MISUSE,      /* only support lifts it */
	KG_LOCK_MANUAL,
	KG_LOCK_REASON_COUNT
};

/* The kind decides the wording customers see (S1): a precaution after
 * suspicious activity, or a lock for misuse of the shop's services. */
enum kg_lock_kind { KG_LOCK_KIND_PRECAUTION, KG_LOCK_KIND_MISUSE };

/* How a lock ends. */
enum kg_lift_method {
	KG_LIFT_SUPPORT,        /* an agent, after a passed identity check */
	KG_LIFT_ADMIN,          /* an admin, with a written reason */
	KG_LIFT_PASSWORD_RESET, /* the customer, through password reset */
	KG_LIFT_EXPIRY,         /* a temporary lock ran out */
	KG_LIFT_REVERT,         /* bulk revert of a wave of wrong locks (guard) */
	KG_LIFT_METHOD_COUNT
};

/* Stable names ("gift_card", "password_reset", ...); NULL when out of range. */
const char *kg_lock_reason_name(enum kg_lock_reason r);
const char *kg_lift_method_name(enum kg_lift_method m);
/* Parse a name; 0 or KG_EINVAL. */
int kg_lock_reason_parse(const char *name, enum kg_lock_reason *out);
int kg_lift_method_parse(const char *name, enum kg_lift_method *out);
/* The kind a reason's lock has: misuse for KG_LOCK_MISUSE, else precaution. */
enum kg_lock_kind kg_lock_reason_kind(enum kg_lock_reason r);
/* Parses policy.reset_lifts ("compromised,brute_force") into a bit set of
 * reasons (bit r). misuse is never accepted: 0 or KG_EINVAL naming it. */
int kg_lock_reset_mask(const char *list, uint32_t *mask_out, kg_err *err);

/* One lock as the account module sees it (a row of the store's locks). */
typedef struct kg_lock_state {
	enum kg_lock_reason reason;
	int64_t created_ms;
	int64_t expires_ms;   /* 0: does not expire */
	int64_t lifted_ms;    /* 0: still standing */
} kg_lock_state;

/* true when the lock stands at now_ms (not lifted, not expired). */
bool kg_lock_active(const kg_lock_state *l, int64_t now_ms);
/* May `method` lift this lock at now_ms? 0 yes; KG_ECONFLICT (already
 * lifted or expired), KG_EFORBIDDEN (this method may not lift this reason:
 * misuse only by support or admin, reset only for reasons in reset_mask,
 * expiry only for expiring locks that ran out), with err saying why. */
int kg_lock_can_lift(const kg_lock_state *l, enum kg_lift_method method,
		     uint32_t reset_mask, int64_t now_ms, kg_err *err);

/* ---- official notices (S1, S6, S7) ----------------------------------------
 * Every notice is written in Japanese and English, greets the registered
 * name, names the specific reason in plain words and the next steps, and
 * ends with the current year. The texts are the shop's official wording. */
enum kg_notice_kind {
	KG_NOTICE_LOCK,          /* 「アカウントロックに関するお知らせ」 */
	KG_NOTICE_UNLOCK,
	KG_NOTICE_RECOVERY_CODE, /* a code was sent (the message center entry
	                          * never holds the code itself) */
	KG_NOTICE_PASSWORD_RESET,/* password changed; which locks it lifted */
	KG_NOTICE_CASE_UPDATE,
	KG_NOTICE_KIND_COUNT
};

typedef struct kg_notice_ctx {
	const char *shop;          /* shop.name */
	const char *name;          /* registered name */
	int64_t now_ms;            /* its year goes in the footer */
	enum kg_lock_reason reason;/* LOCK, UNLOCK */
	int64_t expires_ms;        /* LOCK of an expiring reason; 0 otherwise */
	bool reset_lifts;          /* LOCK: does a password reset lift it */
	enum kg_lift_method method;/* UNLOCK */
	const char *lifted;        /* PASSWORD_RESET: "compromised, brute_force"
	                            * or "" when none */
	int64_t code_expires_ms;   /* RECOVERY_CODE */
	const char *case_id;       /* CASE_UPDATE */
	const char *case_state;    /* CASE_UPDATE */
} kg_notice_ctx;

typedef struct kg_notice {
	kg_buf title_ja, body_ja, title_en, body_en;
} kg_notice;

void kg_notice_init(kg_notice *n);
void kg_notice_release(kg_notice *n);
/* Renders the notice into n (previous contents replaced). 0 or KG_ENOMEM. */
int kg_notice_render(kg_notice *n, enum kg_notice_kind kind, const kg_notice_ctx *ctx);
const char *kg_notice_kind_name(enum kg_notice_kind k);

/* The login-screen lock message of S1 (ja and en), by kind. Static strings. */
const char *kg_lock_login_message_ja(enum kg_lock_kind k);
const char *kg_lock_login_message_en(enum kg_lock_kind k);

/* ---- TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits) ----------------- */
#define KG_TOTP_SECRET_BYTES 20
#define KG_TOTP_STEP_S 30
#define KG_TOTP_DIGITS 6
/* The code for Unix time t_s with the given step and digits (6..8), as a
 * number; the caller zero-pads. md is "sha1", "sha256" or "sha512" (the RFC's
 * vectors cover all three). Returns 0 or KG_EINVAL / KG_EINTERNAL. */
int kg_totp_code(const uint8_t *secret, size_t secret_len, const char *md,
		 int64_t t_s, int step_s, int digits, uint32_t *code_out);
/* Checks a 6-digit SHA-1 code against the steps now-1..now+1. Returns 0 and
 * sets *step_out (to refuse replays of the same step), or KG_EAUTH. */
int kg_totp_verify(const uint8_t *secret, size_t secret_len, const char *code,
		   int64_t now_s, int64_t *step_out);
/* RFC 4648 base32 (no padding) of data into out; returns 0 or KG_ELIMIT. */
int kg_base32_encode(const uint8_t *data, size_t len, char *out, size_t out_size);

/* ---- secrets: passwords, codes, tokens, sealed values ------------------ */
#define KG_PWHASH_MAX 128   /* crypto_pwhash_STRBYTES */
#define KG_TOKEN_MAX 64     /* printable token, NUL included */
#define KG_TOKEN_HASH_HEX 65

/* Argon2id string hash of pw (len bytes) with ops/mem from config. */
int kg_password_hash(const char *pw, size_t len, int64_t ops, int64_t mem_kib,
		     char out[KG_PWHASH_MAX], kg_err *err);
/* true when pw matches hash (constant time inside libsodium). */
bool kg_password_verify(const char *hash, const char *pw, size_t len);
/* A hash of a password nobody knows, with the same parameters, so that an
 * unknown account costs the same time as a wrong password. Computed once. */
const char *kg_password_dummy_hash(int64_t ops, int64_t mem_kib);
/* Password policy: 10..KG_PASSWORD_MAX bytes. 0 or KG_EINVAL naming field. */
int kg_password_check(const char *pw, const char *field, kg_err *err);

/* A new random token "<prefix>_<43 base64url chars>" and the hex of its
 * BLAKE2b-256 hash (what the store keeps). */
void kg_token_new(const char *prefix, char token[KG_TOKEN_MAX],
		  char hash_hex[KG_TOKEN_HASH_HEX]);
/* The hex hash of a presented token. */
void kg_token_hash(const char *token, char hash_hex[KG_TOKEN_HASH_HEX]);

/* A uniformly random 6-digit code "000000".."999999". */
void kg_code_new(char code[7]);

/* Sealing with account.secret_key (64 hex chars; libsodium secretbox):
 * TOTP secrets at rest and codes inside outbox rows. The output is hex of
 * nonce || ciphertext. KG_ECONFLICT when no key is configured. */
int kg_account_seal(const char *key_hex, const void *data, size_t len, kg_buf *out_hex,
		    kg_err *err);
/* Opens what kg_account_seal wrote; out gets the plaintext (NUL-terminated).
 * KG_EAUTH when it does not open with this key. */
int kg_account_unseal(const char *key_hex, const char *sealed_hex, kg_buf *out,
		      kg_err *err);

/* One-time code check: the pure rule of expiry and tries. */
enum kg_code_verdict {
	KG_CODE_OK,
	KG_CODE_WRONG,      /* a try used; tries remain */
	KG_CODE_EXHAUSTED,  /* no tries left (this one may have been the last) */
	KG_CODE_EXPIRED,
	KG_CODE_USED,
};
typedef struct kg_code_state {
	char hash[KG_PWHASH_MAX];
	int64_t expires_ms;
	int attempts;        /* tries used so far */
	int max_attempts;
	bool used;
} kg_code_state;
/* Checks code against st at now_ms and updates st (attempts, used). The
 * hash is only compared while the code is live. */
enum kg_code_verdict kg_code_check(kg_code_state *st, const char *code, int64_t now_ms);

/* ---- normalisation for comparisons (S5) ---------------------------------
 * NFKC, case folding, full/half width (NFKC), hyphen variants to '-',
 * runs of white space to one space, trimmed. out is NUL-terminated. */
int kg_text_normalize(const char *in, size_t len, kg_buf *out);
/* Same, but removes all white space (and commas) too: for compact fields. */
int kg_text_normalize_compact(const char *in, size_t len, kg_buf *out);
/* Postal codes: the digits only (NFKC first, so ０１２ counts). */
int kg_postal_normalize(const char *in, size_t len, kg_buf *out);

typedef struct kg_address {
	const char *postal_code, *region, *city, *line1, *line2; /* NULL = "" */
} kg_address;
/* true when both addresses have the same postal code digits and the same
 * compact normalised lines (region + city + line1 + line2, concatenated). */
bool kg_address_equal(const kg_address *a, const kg_address *b);
/* true when a and b are equal after kg_text_normalize. */
bool kg_text_equal(const char *a, const char *b);

#endif
