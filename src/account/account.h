/* kagi accounts: the lock lifecycle, the login gate, password reset,
 * 2-step codes (TOTP), the identity check, the message center, support cases
 * and the audit trail of every change. Not here: deciding that an account
 * should be locked (risk), delivering mail (notify), SQL (store). */
#ifndef KG_ACCOUNT_H
#define KG_ACCOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "risk/risk.h"
#include "store/store.h"

/* ---- locks: reasons, kinds, lift methods, the state machine ------------ */
/* Lock reasons and lift methods (enum kg_lock_reason, kg_lift_method, their
 * names) are base's one vocabulary table (base/base.h). */

/* The kind decides the wording customers see (S1): a precaution after
 * suspicious activity, or a lock for misuse of the shop's services. */
enum kg_lock_kind { KG_LOCK_KIND_PRECAUTION, KG_LOCK_KIND_MISUSE };

/* The kind a reason's lock has: misuse for KG_LOCK_MISUSE, else precaution. */
enum kg_lock_kind kg_lock_reason_kind(enum kg_lock_reason r);
/* What lifts a lock, as the customer is told (login answer and notice):
 * a password reset for the reasons policy.reset_lifts names, support for
 * every other reason (misuse always). */
enum kg_lock_remedy { KG_REMEDY_SUPPORT, KG_REMEDY_PASSWORD_RESET };
/* "support" / "password_reset". */
const char *kg_lock_remedy_name(enum kg_lock_remedy r);
/* The remedy of a reason under cfg's policy.reset_lifts. */
enum kg_lock_remedy kg_lock_remedy_of(const kg_config *cfg, enum kg_lock_reason r);

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
 * Every notice is bilingual, Japanese and English (the account's language
 * first), rendered from notify's templates (the shop's official wording:
 * registered name, the specific reason in plain words, next steps, the
 * current year); one message-center entry and one mail per notice. */
enum kg_account_notice_kind {
	KG_ACCOUNT_NOTICE_LOCK,          /* 「アカウントロックに関するお知らせ」 */
	KG_ACCOUNT_NOTICE_UNLOCK,
	KG_ACCOUNT_NOTICE_RECOVERY_CODE, /* the mail holds the code; the message
	                                  * center copy shows ****** */
	KG_ACCOUNT_NOTICE_PASSWORD_RESET,/* password changed; which locks it lifted */
	KG_ACCOUNT_NOTICE_CASE_UPDATE,
	KG_ACCOUNT_NOTICE_INCIDENT_APOLOGY, /* a wave of wrong locks was undone (guard) */
	KG_ACCOUNT_NOTICE_KIND_COUNT
};

typedef struct kg_account_notice_ctx {
	const char *shop;          /* shop.name */
	const char *name;          /* registered name */
	const char *lang;          /* the account's language: "en" puts English first */
	int64_t now_ms;            /* its year goes in the footer */
	enum kg_lock_reason reason;/* LOCK, UNLOCK */
	enum kg_lock_remedy remedy;/* LOCK: the next steps it gives */
	const char *lock_id;       /* LOCK, UNLOCK */
	enum kg_lift_method method;/* UNLOCK */
	const char *code;          /* RECOVERY_CODE */
	const char *lifted;        /* PASSWORD_RESET: "compromised, brute_force" or "" */
	const char *case_id;       /* CASE_UPDATE */
	const char *case_state;    /* CASE_UPDATE */
	const char *note;          /* CASE_UPDATE, may be NULL */
	int64_t queue_position;    /* CASE_UPDATE, 0: none */
	const char *incident_id;   /* INCIDENT_APOLOGY */
	int64_t mail_due_ms;       /* the mail is sent from then on (0: now):
				    * the guard paces a revert's apologies */
} kg_account_notice_ctx;

/* A bilingual notice. */
typedef struct kg_account_notice {
	kg_buf subject, text, html;
} kg_account_notice;

void kg_account_notice_init(kg_account_notice *n);
void kg_account_notice_release(kg_account_notice *n);
/* Renders the notice into n (replacing what it held). with_secret: include
 * the code of a RECOVERY_CODE notice (the mail); otherwise it is masked
 * (the message center). 0 or a negative kg_code with err set. */
int kg_account_notice_render(kg_account_notice *n, enum kg_account_notice_kind kind,
			     const kg_account_notice_ctx *ctx, bool with_secret, kg_err *err);
/* "lock_notice", "unlock_notice", "recovery_code", "password_reset",
 * "case_update": the message-center kind. */
const char *kg_account_notice_kind_name(enum kg_account_notice_kind k);

/* The login-screen lock message of S1 (ja and en), by kind and remedy: the
 * official precaution wording ends "contact customer service"; when a
 * password reset lifts every standing lock it says so instead. The misuse
 * wording is the same for both. Static strings. */
const char *kg_lock_login_message_ja(enum kg_lock_kind k, enum kg_lock_remedy r);
const char *kg_lock_login_message_en(enum kg_lock_kind k, enum kg_lock_remedy r);

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

/* Argon2id string hash of pw (len bytes) with ops/mem from config. */
int kg_password_hash(const char *pw, size_t len, int64_t ops, int64_t mem_kib,
		     char out[KG_PWHASH_MAX], kg_err *err);
/* true when pw matches hash (constant time inside libsodium). */
bool kg_password_verify(const char *hash, const char *pw, size_t len);
/* A hash of a password nobody knows, with the same parameters, so that an
 * unknown account costs the same time as a wrong password. Computed once. */
const char *kg_password_dummy_hash(int64_t ops, int64_t mem_kib);
/* Password policy: 8..KG_PASSWORD_MAX bytes. 0 or KG_EINVAL naming field. */
int kg_password_check(const char *pw, const char *field, kg_err *err);

/* A uniformly random 6-digit code "000000".."999999". */
void kg_code_new(char code[7]);

/* ---- accounts and credentials (create.c, credential.c) -----------------
 * How accounts and API keys come to exist, for kagid's handlers and the
 * CLI alike. */

/* Roles (docs/api.md, "Roles" at its top), one bit each: a credential has exactly one. */
enum kg_role {
	KG_ROLE_SERVICE = 1u << 0,  /* the shop's backend: events, login checks */
	KG_ROLE_AGENT = 1u << 1,    /* customer service */
	KG_ROLE_ADMIN = 1u << 2,    /* rules, incidents, keys */
	KG_ROLE_CUSTOMER = 1u << 3, /* a token for one account */
	KG_ROLE_TICKET = 1u << 4,   /* the lock ticket of one locked account */
};
/* "service", "agent", ... for one role bit; "?" otherwise. */
const char *kg_role_name(unsigned role);
/* Parses a role name; returns its bit, or 0 when unknown. */
unsigned kg_role_parse(const char *name);

/* A credential is `kg_<id>_<secret>`: <id> is a random public id (the store's
 * key), <secret> 43 characters of base64url (32 random bytes). The store keeps
 * only BLAKE2b-256(secret); verification is constant-time. */
#define KG_TOKEN_ID_LEN 16
#define KG_TOKEN_MAX 80
#define KG_TOKEN_HASH_LEN 32

typedef struct kg_token {
	char text[KG_TOKEN_MAX];            /* the whole token, shown once */
	char id[KG_TOKEN_ID_LEN + 1];       /* the store key */
	uint8_t hash[KG_TOKEN_HASH_LEN];    /* what the store keeps */
} kg_token;

/* Makes a fresh random token. Never fails. */
void kg_token_new(kg_token *t);
/* Splits `kg_<id>_<secret>`; hashes the secret into hash_out. Returns 0 or
 * KG_EAUTH when text is not shaped like a token. */
int kg_token_parse(const char *text, char id_out[KG_TOKEN_ID_LEN + 1],
		   uint8_t hash_out[KG_TOKEN_HASH_LEN]);

/* Creates an account from a JSON body (design: name, email, address, phone?,
 * id?, lang?, password?, cards[]?) in one durable write, with an audit entry
 * by actor; the password is stored as its Argon2id hash (account.argon2_*).
 * Errors name the field. On success the account's full view, as
 * kg_account_show writes it, is appended to out (may be NULL). */
int kg_account_create(kg_store *store, const kg_config *cfg, const json_t *body,
		      const char *actor, kg_buf *out, kg_err *err);
/* kg_account_create in two halves, for a caller that must not block in the
 * write (kagid's server thread): kg_account_create_start checks the body
 * (errors name the field; nothing is written then, and then is not called)
 * and queues the write, whose completion calls then(then_ctx) on the
 * store's writer thread (kg_store_write_start_then: quick, no blocking);
 * kg_account_create_finish, called exactly once after then, answers as
 * kg_account_create would. c is allocated in arena; body, actor and arena
 * must live until finish. */
typedef struct kg_account_creation kg_account_creation;
int kg_account_create_start(kg_store *store, const kg_config *cfg, const json_t *body,
			    const char *actor, void (*then)(void *), void *then_ctx,
			    kg_arena *arena, kg_account_creation **out, kg_err *err);
int kg_account_create_finish(kg_account_creation *c, kg_buf *out, kg_err *err);
/* The rows of an account's view: the account, its cards (oldest first)
 * and its active locks. */
typedef struct kg_account_rows {
	kg_account acc;
	kg_card *cards;
	size_t ncards;
	kg_lock *locks;
	size_t nlocks;
} kg_account_rows;
struct kg_identity_secrets;
/* Reads them in one read transaction (one snapshot), in a, and with
 * secrets set the values an agent must not see, from the same rows
 * (kg_account_identity_secrets): what an agent's view of the account
 * needs. KG_ENOTFOUND (field "id") when missing. */
int kg_account_read_rows(kg_store *store, const char *id, kg_arena *a, kg_account_rows *out,
			 struct kg_identity_secrets *secrets, kg_err *err);
/* ---- the account's view (views.c) ---------------------------------------
 * The one writer of an account's view and its one list of fields, in their
 * order: GET /v1/accounts/{id} (staff: full; agent: masked), the 201 of
 * POST /v1/accounts, kagi account show. Compact JSON text, the bytes
 * json_dumps (JSON_COMPACT) gives of the object (the members: put_view in
 * views.c, docs/api.md): the profile, active locks and cards, never the
 * password hash or secrets. A card without last 4 or expiry is left out.
 * A text the view writes that is not UTF-8 (only a hand-edited row) fails
 * it (KG_ENOMEM, as jansson's refusal did), but for one of a card or a lock
 * in the full view, which leaves that card or lock out (as json_pack did).
 * The agent's view (S5: the agent runs the identity check blind; mask set):
 * the name's first character and the email's first character and domain
 * (kg_mask_name, kg_mask_email), phone "***", of the address only region
 * and country, of cards only fingerprint and added; every shown answer
 * value scrubbed of mask->secrets (kg_identity_scrub), each lock's
 * evidence handed to mask->evidence (the edge's scrub of the answer values
 * in it), and "masked":true last. Ids, lang, reasons, kinds and times are
 * shown as they are. */
typedef struct kg_account_view_mask {
	const struct kg_identity_secrets *secrets; /* from kg_account_read_rows */
	/* scrubs one lock's evidence object in place; NULL: left as it is */
	void (*evidence)(void *ctx, const struct kg_identity_secrets *secrets, json_t *ev);
	void *ctx;
} kg_account_view_mask;
/* Appends the view of r to out (mask NULL: the full view); masked copies
 * in a. KG_ELIMIT (out's max) or KG_ENOMEM, with err set; out is then as
 * it was. */
int kg_account_view_write(const kg_account_rows *r, const kg_account_view_mask *mask,
			  kg_arena *a, kg_buf *out, kg_err *err);
/* The full view of account id, read (kg_account_read_rows) and written
 * (kg_account_view_write) onto out. KG_ENOTFOUND (field "id") when missing. */
int kg_account_show(kg_store *store, const char *id, kg_buf *out, kg_err *err);
/* Creates a credential of role (account_id: customer/ticket only; ttl_s 0:
 * no expiry) in one durable write with an audit entry by actor (the
 * system-wide chain for API keys, the account's for customer/ticket);
 * *out gets the token, shown once. */
int kg_account_credential_create(kg_store *store, unsigned role, const char *account_id,
				 int64_t ttl_s, const char *label, const char *actor, kg_token *out,
				 kg_err *err);
/* Revokes credential id (audited). KG_ENOTFOUND, KG_ECONFLICT (already). */
int kg_account_credential_revoke(kg_store *store, const char *id, const char *actor,
				 kg_err *err);
/* {"keys":[{id, role, label, state, created, expires, revoked}]}, API keys
 * newest first (new reference). Never a secret or its hash. */
int kg_account_keys_list(kg_store *store, json_t **out, kg_err *err);

/* Sealing with account.secret_key is base's kg_seal / kg_unseal (one
 * format, KGSEAL1). TOTP secrets stored in the older hex format are opened
 * and rewritten as KGSEAL1 by the first 2-step check that reads them. */

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

/* ---- comparisons of the identity check (S5) -------------------------------
 * base's one meaning of the same text and the same address (kg_text_same,
 * kg_address_same: docs/rules.md, "Normalised comparison") on a registered
 * account's NUL-terminated strings; NULL is "". */
bool kg_account_text_same(const char *a, const char *b);
bool kg_account_address_same(const kg_address *a, const kg_address *b);


/* ======================================================================
 * The account service: operations on the store. Functions taking a kg_tx
 * run inside the caller's write transaction (so the risk engine can lock in
 * the same transaction as the event); the others run their own
 * transactions. Times are milliseconds; now_ms 0 means the current time.
 * Actors in audit entries: "system", "risk", "customer", "ticket",
 * "agent:<credential id>", "admin:<credential id>".
 * ====================================================================== */

#define KG_ACCOUNT_LOCKS_MAX 16        /* locks reported in one answer */
#define KG_BRUTE_FORCE_LOCK_S (30 * 60)

typedef struct kg_lock_ref {
	char id[KG_STORE_ID_MAX];
	enum kg_lock_reason reason;
	enum kg_lock_kind kind;
	int64_t expires_ms;
} kg_lock_ref;

/* A list of locks in an answer. */
typedef struct kg_lock_refs {
	size_t n;
	kg_lock_ref v[KG_ACCOUNT_LOCKS_MAX];
} kg_lock_refs;

typedef struct kg_account_lock_req {
	const char *account_id;
	enum kg_lock_reason reason;
	const char *evidence;    /* JSON text (rules fired, values) or NULL */
	const char *actor;
	int64_t expires_ms;      /* 0: brute_force gets now + 30 min, others never */
	const char *incident_id; /* NULL */
	int64_t now_ms;
} kg_account_lock_req;

/* Locks the account: the lock row, an audit entry, the official lock notice
 * (ja+en) in the message center and an outbox mail — all in tx. lock_id_out
 * (may be NULL) gets the new lock's id. KG_ENOTFOUND without such an
 * account. */
int kg_account_lock_apply(kg_tx *tx, const kg_config *cfg, const kg_account_lock_req *req,
			  char lock_id_out[KG_STORE_ID_MAX], kg_err *err);

/* The official lock notice (message center, outbox, webhook) for a lock
 * already written in tx by someone else. An unknown account gets none
 * (returns 0): events may name accounts kagi was never told about. */
int kg_account_lock_notice_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
			      const char *lock_id, const char *reason, int64_t now_ms, kg_err *err);
/* The risk engine's lock writer (a kg_risk_lock_fn; ctx: the kg_config, or
 * NULL for no notices, as `kagi replay --db` writes locks):
 * applies the lock a rule decision asks for, in the event's transaction,
 * through the same writer as kg_account_lock_apply (one id scheme,
 * kg_risk_lock_id of the event; one audit shape, actor "system:risk"; the
 * official notice). A standing lock of the same reason is named instead
 * (lock->id), so a rule that keeps firing makes one lock and one notice.
 * Wire it with kg_risk_set_lock_hook(risk, kg_account_risk_lock_hook,
 * (void *)config). */
int kg_account_risk_lock_hook(void *ctx, void *txn, const struct kg_risk_lock_order *o,
			      struct kg_decision_lock *lock, kg_err *err);

/* The guard's revert of one wrong lock (method revert), in tx: the lock
 * lifted with its audit entry ("unlock", method "revert", the incident)
 * and the lock.lifted webhook, but no unlock notice (the apology below is
 * the customer's one notice). 0 lifted; KG_ECONFLICT (err untouched) when
 * the lock is no longer active (lifted before: a revert run again);
 * KG_ENOTFOUND. */
int kg_account_lock_revert_tx(kg_tx *tx, const char *account_id, const char *lock_id,
			      const char *incident_id, const char *actor, const char *note,
			      int64_t now_ms, kg_err *err);
/* The incident_apology notice of incident_id to the account (message
 * center and mail, the mail due at mail_due_ms, 0: now), in tx. An account
 * kagi does not know gets none (0). */
int kg_account_apology_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
			  const char *incident_id, int64_t mail_due_ms, kg_err *err);

/* Lifts one lock (kg_lock_can_lift decides), with audit entry, unlock notice
 * and outbox mail, in tx. note (may be NULL) goes into the audit entry.
 * reason_out (may be NULL) gets the lifted lock's reason. */
int kg_account_lock_lift(kg_tx *tx, const kg_config *cfg, const char *account_id,
			 const char *lock_id, enum kg_lift_method method, const char *actor,
			 const char *note, int64_t now_ms, enum kg_lock_reason *reason_out,
			 kg_err *err);

/* Lifts (method expiry) every lock of the account whose time ran out, with
 * audit and notice; *n (may be NULL) gets how many. In tx. */
int kg_account_settle_expired(kg_tx *tx, const kg_config *cfg, const char *account_id,
			      int64_t now_ms, size_t *n, kg_err *err);

/* Lifts (method expiry, with audit and notice) up to `limit` locks of any
 * account whose time ran out, in one transaction; *n (may be NULL) gets how
 * many. kagid runs it every KG_ACCOUNT_SWEEP_S seconds. */
#define KG_ACCOUNT_SWEEP_S 30
int kg_account_expire_due(kg_store *s, const kg_config *cfg, int64_t now_ms, size_t limit,
			  size_t *n, kg_err *err);

/* Active locks of the account, oldest first. In tx (read or write). */
int kg_account_active_locks(kg_tx *tx, const char *account_id, int64_t now_ms,
			    kg_lock_refs *out, kg_err *err);

/* ---- login gate -----------------------------------------------------------*/
enum kg_login_result {
	KG_LOGIN_OK,            /* token is a customer token */
	KG_LOGIN_DENIED,        /* wrong email or password: the same either way */
	KG_LOGIN_LOCKED,        /* right password, locked: token is a lock ticket */
	KG_LOGIN_TOTP_REQUIRED, /* right password, 2-step code needed */
	KG_LOGIN_TOTP_INVALID,  /* right password, wrong 2-step code */
	KG_LOGIN_THROTTLED,     /* too many failures for this login from this IP, or
	                         * on this account from anywhere (bruteforce.*): no
	                         * check was made */
};
const char *kg_login_result_name(enum kg_login_result r);

typedef struct kg_login_req {
	const char *email;
	const char *password;
	const char *totp;        /* NULL when not given */
	const char *ip;
	const char *device_id, *country, *user_agent; /* may be NULL */
	/* The credential to create for a customer token or lock ticket (made by
	 * the caller, e.g. kg_token_new of http): its id and secret hash. */
	const char *cred_id;
	const uint8_t *cred_hash;
	size_t cred_hash_len;
	int64_t now_ms;
	/* Optional: the risk engine that decides the docs/api.md `login` event
	 * of this try (an unknown email's names the pseudo account "?<hash of
	 * the email>", so both cost the same), before a right password gets
	 * its token: the login acts on the decision (kg_login_answer.risk). */
	kg_risk *risk;
} kg_login_req;

#define KG_LOGIN_RISK_RULES_MAX 8
typedef struct kg_login_answer {
	enum kg_login_result result;
	char account_id[KG_ID_MAX + 1]; /* OK, LOCKED, TOTP_*: the account */
	int64_t expires_ms;             /* of the token / ticket */
	enum kg_lock_kind kind;         /* LOCKED: misuse if any lock is misuse */
	enum kg_lock_remedy remedy;     /* LOCKED: password_reset when it lifts every lock */
	kg_lock_refs locks;             /* LOCKED */
	int64_t retry_after_ms;         /* THROTTLED: how long until a try is let through */
	/* The risk decision of the login event (with kg_login_req.risk): a
	 * right password decided lock answers LOCKED with the lock it set;
	 * challenge or hold answers OK with risk set and the rules that fired
	 * (the shop steps up, e.g. asks for a code it sends); allow: OK.
	 * risk_undecided: the event could not be decided (logged at error;
	 * the login went on as allowed). */
	enum kg_action risk;
	char risk_rules[KG_LOGIN_RISK_RULES_MAX][64];
	size_t n_risk_rules;
	bool risk_undecided;
} kg_login_answer;

/* The login gate. Returns 0 with *out filled (every result above), or a
 * storage error. The password is verified (Argon2id) before anything about
 * the account is revealed; an unknown email is verified against a dummy
 * hash and counted like a known one. */
int kg_account_login(kg_store *s, const kg_config *cfg, const kg_login_req *req,
		     kg_login_answer *out, kg_err *err);

/* Sets or replaces the password of an account (admin/CLI, account creation). */
int kg_account_set_password(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *password, const char *actor, kg_err *err);

/* ---- password reset (S4) ----------------------------------------------------*/
/* Starts a reset for email. Always 0 for any email (known or not), unless the
 * store fails or account.secret_key is not configured (KG_ECONFLICT: the
 * mailed code would rest in the outbox in clear). For a known account (and not over the per-hour limit): a new
 * 6-digit code (stored as an Argon2id hash), expiring after
 * recovery.code_ttl_s with recovery.code_max_attempts tries; the mail with the
 * code goes to the outbox and a notice (without the code) to the message
 * center. */
int kg_account_recovery_start(kg_store *s, const kg_config *cfg, const char *email,
			      const char *ip, int64_t now_ms, kg_err *err);

typedef struct kg_recovery_answer {
	char account_id[KG_ID_MAX + 1];
	kg_lock_refs lifted;        /* locks the reset lifted */
	kg_lock_refs still_locked;  /* locks that stand (misuse, gift_card, ...) */
	int64_t retry_after_ms;     /* KG_EBUSY: how long until a try is let through */
} kg_recovery_answer;

/* Finishes a reset: checks the code, sets the new password, revokes the
 * account's customer tokens and lock tickets (whoever held the old password
 * is out), lifts the locks whose reason policy.reset_lifts names, and
 * notifies. Returns 0; KG_EINVAL
 * with field "password" for a password the policy refuses, with field "code"
 * for any wrong, expired or used-up code and for an unknown email (one
 * message); KG_EBUSY with out->retry_after_ms when too many wrong codes
 * came from this IP (10 an hour) or on this account from anywhere
 * (bruteforce.*): then no code was checked. */
int kg_account_recovery_finish(kg_store *s, const kg_config *cfg, const char *email,
			       const char *code, const char *new_password, const char *ip,
			       int64_t now_ms, kg_recovery_answer *out, kg_err *err);

/* ---- 2-step verification ----------------------------------------------------*/
/* Makes a new TOTP secret for the account (sealed with account.secret_key,
 * not yet enabled). secret_b32 gets it in base32, uri the otpauth:// URI. */
int kg_account_totp_enrol(kg_store *s, const kg_config *cfg, const char *account_id,
			  char secret_b32[64], char uri[512], kg_err *err);
/* Enables it when code is right (KG_EINVAL naming "code" otherwise; counted).
 * After KG_TOTP_FAIL_MAX wrong codes in the window: KG_ETHROTTLED, nothing
 * checked, and *retry_after_ms (may be NULL) how long until the window
 * restarts (0 for any other answer). */
int kg_account_totp_confirm(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *code, const char *ip, int64_t *retry_after_ms, kg_err *err);
/* Disables it; code required unless actor is staff (code NULL); wrong codes
 * are limited as for kg_account_totp_confirm. */
int kg_account_totp_disable(kg_store *s, const kg_config *cfg, const char *account_id,
			    const char *code, const char *actor, int64_t *retry_after_ms,
			    kg_err *err);
/* In a write tx: KG_EAUTH unless code is the account's current code and its
 * step is newer than the last accepted one (a code works once). */
int kg_account_totp_check(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			  const char *code, int64_t now_ms, kg_err *err);

/* ---- support cases (S3, S8) ------------------------------------------------*/
enum kg_case_state {
	KG_CASE_OPEN,
	KG_CASE_WAITING_ON_CUSTOMER,
	KG_CASE_IN_REVIEW,
	KG_CASE_RESOLVED,
	KG_CASE_STATE_COUNT
};
const char *kg_case_state_name(enum kg_case_state s);
int kg_case_state_parse(const char *name, enum kg_case_state *out);
/* 0 when from → to is allowed (open → waiting/in_review/resolved, waiting →
 * in_review/resolved, in_review → waiting/resolved, resolved → open), else
 * KG_ECONFLICT with err saying why. */
int kg_case_transition_check(enum kg_case_state from, enum kg_case_state to, kg_err *err);

/* Who opens a case, and so which bound applies. */
enum kg_case_open_mode {
	KG_CASE_OPEN_STAFF,    /* an agent or admin: no bound */
	KG_CASE_OPEN_CUSTOMER, /* a customer token: at most cases.open_max
	                        * unresolved cases on the account, else
	                        * KG_ECONFLICT naming the newest open one */
	KG_CASE_OPEN_ONE,      /* a lock ticket: with an unresolved case there,
	                        * *existing is set and case_id_out gets its id */
};

/* Opens a case on account_id (audit entry, case_update notice). */
int kg_account_case_open(kg_store *s, const kg_config *cfg, const char *account_id,
			 const char *subject, const char *text, const char *actor,
			 enum kg_case_open_mode mode, char case_id_out[KG_STORE_ID_MAX],
			 bool *existing, kg_err *err);
/* The account of a case (for role checks). KG_ENOTFOUND. */
int kg_account_case_owner(kg_store *s, const char *case_id, char account_out[KG_ID_MAX + 1],
			  kg_err *err);
/* Adds a note; from the customer side a waiting_on_customer case goes back
 * to in_review. */
int kg_account_case_note(kg_store *s, const kg_config *cfg, const char *case_id,
			 const char *text, const char *actor, bool from_customer, kg_err *err);
/* Adds a document (type image/png, image/jpeg, application/pdf, text/plain;
 * at most KG_DOCUMENT_MAX bytes, KG_DOCUMENTS_PER_CASE_MAX per case), stored
 * with its SHA-256 (hex into sha256_hex). */
int kg_account_case_document(kg_store *s, const kg_config *cfg, const char *case_id,
			     const char *name, const char *content_type, const void *data,
			     size_t len, const char *actor, bool from_customer,
			     char sha256_hex[65], kg_err *err);
/* Moves a case to a new state with a note; notifies the customer. */
int kg_account_case_set_state(kg_store *s, const kg_config *cfg, const char *case_id,
			      enum kg_case_state to, const char *note, const char *actor,
			      const char *assignee, kg_err *err);

typedef struct kg_case_view {
	kg_case c;
	kg_case_event *history;
	size_t nhistory;
	kg_case_document *docs;
	size_t ndocs;
	int64_t queue_position;    /* 0: not waiting for staff */
	int64_t wait_estimate_s;   /* -1: none (not waiting for staff, or no
	                            * resolved cases to estimate from yet) */
	size_t handled_sample;     /* resolved cases the estimate rests on */
} kg_case_view;

/* A case with its history, documents, queue position and wait estimate
 * (position × mean handling time of the last 20 resolved cases). Strings in
 * arena a. */
int kg_account_case_view(kg_store *s, const char *case_id, kg_arena *a, kg_case_view *out,
			 kg_err *err);
/* One document of a case with its bytes (in arena a). KG_ENOTFOUND. */
int kg_account_case_document_get(kg_store *s, const char *case_id, const char *doc_id,
				 kg_arena *a, kg_case_document *out, kg_err *err);
/* A lock's stored evidence text as the object every answer shows (new
 * jansson reference): the stored JSON object, or {"text": TEXT} for evidence
 * that is not one; NULL when text is NULL or empty (views.c). */
json_t *kg_account_evidence_json(const char *text);
/* Cases of account_id (NULL: any) in state (NULL: any), oldest first; in a
 * (views.c). */
int kg_account_case_list(kg_store *s, const char *account_id, const char *state, kg_arena *a,
			 kg_case **out, size_t *n, kg_err *err);
/* The message center of account_id, newest first, in a; KG_ENOTFOUND when
 * there is no such account (views.c). */
int kg_account_messages(kg_store *s, const char *account_id, kg_arena *a, kg_message **out,
			size_t *n, kg_err *err);

/* ---- identity check (S5) ---------------------------------------------------*/
typedef struct kg_identity_claim {
	const char *name;
	kg_address address;
	const char *card_last4, *card_exp;
	const char *email;
	const char *totp;         /* required when the account has TOTP on */
} kg_identity_claim;

typedef struct kg_identity_answer {
	bool pass;
	bool blocked;             /* checks are blocked (no check was made) */
	int64_t tries_left;
	int64_t blocked_until_ms; /* when blocked */
	int64_t unlock_until_ms;  /* when passed: the agent may unlock until */
} kg_identity_answer;

/* Checks the claim against the account of case_id. Every field is compared
 * (normalised) every time; the answer never says which one failed. */
int kg_account_identity_check(kg_store *s, const kg_config *cfg, const char *case_id,
			      const char *agent_id, const kg_identity_claim *claim,
			      kg_identity_answer *out, kg_err *err);

/* The registered values an identity check asks for, which an agent must
 * not be able to read (S5): the name and each part of it, email, phone,
 * postal code, city, address lines, and each card's last 4, expiry and
 * holder name (values under 3 bytes are left out). Longest first, in a. */
#define KG_IDENTITY_SECRETS_MAX 64
typedef struct kg_identity_secrets {
	size_t n;
	const char *v[KG_IDENTITY_SECRETS_MAX];
} kg_identity_secrets;
int kg_account_identity_secrets(kg_store *s, const char *account_id, kg_arena *a,
				kg_identity_secrets *out, kg_err *err);
int kg_account_identity_secrets_tx(kg_tx *tx, const char *account_id, kg_arena *a,
				   kg_identity_secrets *out, kg_err *err);
/* text with every secret replaced by "***" (a copy in a, or text itself
 * when none occurs); a secret that begins or ends with a letter or digit
 * only as a whole word there ("4242" not inside "142420"). NULL stays NULL. */
const char *kg_identity_scrub(const kg_identity_secrets *s, const char *text, kg_arena *a);
/* The one mask of what an agent may see of an identity-check answer (the
 * account view, search and timeline all call these): of a name, its first
 * character and "***" ("山***"); of an email, the first character of the
 * local part, "***" and the domain ("t***@example.jp"; "***" without a
 * local part). In a; NULL stays NULL. */
const char *kg_mask_name(const char *name, kg_arena *a);
const char *kg_mask_email(const char *email, kg_arena *a);

/* Unlock by staff. Agent (admin false): only after this agent passed an
 * identity check on the account in the last identity.unlock_window_s
 * (KG_ECONFLICT otherwise: the account's state does not allow it yet). Admin: reason required. lock_id NULL: every
 * active lock. lifted gets what was lifted. The unresolved cases opened
 * about a lifted lock are resolved (history, audit entry, notice). */
int kg_account_unlock(kg_store *s, const kg_config *cfg, const char *account_id,
		      const char *lock_id, bool admin, const char *staff_id,
		      const char *reason, kg_lock_refs *lifted, kg_err *err);

/* Lock by staff (agent or admin): kg_account_lock_apply in its own tx. */
int kg_account_lock(kg_store *s, const kg_config *cfg, const kg_account_lock_req *req,
		    char lock_id_out[KG_STORE_ID_MAX], kg_err *err);

#endif
