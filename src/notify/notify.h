/* kagi notify: official notices to customers and event webhooks to the shop.
 * Templates (ja/en) → rendered notice → MIME message (DKIM-signed) → outbox
 * → SMTP; events → signed JSON → webhook queue → HTTP POST. Not here: when
 * to notify (account, guard decide that) or how rows are stored (store). */
#ifndef KG_NOTIFY_H
#define KG_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "store/store.h"

/* ---- notices -----------------------------------------------------------*/
enum kg_notify_kind {
	KG_NOTICE_LOCK,             /* "アカウントロックに関するお知らせ" */
	KG_NOTICE_UNLOCK,
	KG_NOTICE_RECOVERY_CODE,
	KG_NOTICE_CASE_UPDATE,
	KG_NOTICE_INCIDENT_APOLOGY,
	KG_NOTICE_PASSWORD_RESET,   /* the password was reset (and which locks it lifted) */
	KG_NOTICE_KIND_COUNT
};

enum kg_notify_lang { KG_LANG_JA, KG_LANG_EN, KG_LANG_COUNT };

/* "lock", "unlock", "recovery_code", "case_update", "incident_apology",
 * "password_reset";
 * the template file name without ".tmpl". */
const char *kg_notify_kind_name(enum kg_notify_kind kind);
/* Returns 0 and sets *out, or KG_EINVAL for an unknown name. */
int kg_notify_kind_parse(const char *name, enum kg_notify_kind *out);
/* "ja" / "en". */
const char *kg_notify_lang_name(enum kg_notify_lang lang);
int kg_notify_lang_parse(const char *name, enum kg_notify_lang *out);

/* One named value for a template; arrays of these end with {NULL, NULL}.
 * Fields every notice takes (docs/templates.md has the full list):
 *   name        the customer's registered name (required)
 *   reason      lock: the lock reason code (gift_card, compromised, ...);
 *               unlock: the lifted lock's reason code
 *   method      unlock: identity_check | password_reset | expired | support
 *               | incident_revert
 *   code, ttl_minutes   recovery_code (ttl_minutes defaults from config)
 *   case_id, state, note, queue_position   case_update
 *   incident_id  incident_apology
 *   lifted      password_reset: the reasons of the locks the reset lifted
 * Filled in by kagi unless given: year (current UTC year), shop_name
 * (shop.name), reason_text and next_steps (plain words from the texts file
 * of the language, chosen by kind and reason/method/state). */
typedef struct kg_notify_field {
	const char *key;
	const char *value;
} kg_notify_field;

/* A rendered notice. All strings are UTF-8, NUL-terminated, malloc'd and
 * owned by the struct (kg_notice_release frees them). */
typedef struct kg_notice {
	char *subject; /* one line */
	char *text;    /* text/plain part */
	char *html;    /* text/html part (values HTML-escaped) */
} kg_notice;

/* Loads and checks the templates: the built-in ones (shipped in templates/
 * and compiled in), then every file found in cfg->notify_templates_dir over
 * them; also keeps the cfg values notices need (shop.name, mail.from, dkim.*,
 * recovery.code_ttl_s). Call once at start-up, before threads use notify.
 * Returns 0, or KG_EINVAL with err naming the template file and line.
 * Without it, the functions below use the built-in templates and defaults. */
int kg_notify_init(const kg_config *cfg, kg_err *err);
/* Frees what kg_notify_init loaded (back to the built-in defaults). */
void kg_notify_shutdown(void);

/* Checks the templates of dir (as an override over the built-in set) without
 * installing them. Returns 0 or KG_EINVAL naming file:line. */
int kg_notify_check_dir(const char *dir, kg_err *err);

/* Renders a notice. out is initialised here; on success the caller owns its
 * strings (kg_notice_release). A required field missing from fields is
 * KG_EINVAL naming the field. Thread-safe after kg_notify_init. */
int kg_notify_render(enum kg_notify_kind kind, enum kg_notify_lang lang,
		     const kg_notify_field *fields, kg_notice *out, kg_err *err);
void kg_notice_release(kg_notice *n);

/* ---- mail messages -----------------------------------------------------*/
#define KG_MESSAGE_ID_MAX 320

/* A new Message-ID "<uuid@domain>" (domain: dkim.domain, else the domain of
 * mail.from). Fix it once, when the outbox row is written, and record it with
 * the message-center entry: a re-sent message keeps the same id. */
void kg_notify_message_id(char out[KG_MESSAGE_ID_MAX]);

/* Builds the RFC 5322 message of a notice: multipart/alternative text+HTML,
 * UTF-8 (base64), encoded-word Subject, Date (date_ms), From (mail.from), To,
 * the given Message-ID; DKIM-signed when dkim.* is configured. Appends to out
 * (CRLF line ends). Returns 0 or a negative kg_code. */
int kg_notify_build_mime(const kg_notice *n, const char *to, const char *message_id,
			 int64_t date_ms, kg_buf *out, kg_err *err);

/* Everything the accounts module needs to record one notice: render, fix a
 * Message-ID and build the message, in one call. The caller writes
 * mail->notice into the message center (with mail->message_id) and
 * mail->raw into the outbox, in the same transaction as the change.
 * For a recovery code, mail->notice shows "******" in place of the code:
 * only the email carries it (and the outbox row until it is delivered). */
typedef struct kg_notify_mail {
	char message_id[KG_MESSAGE_ID_MAX];
	kg_notice notice;
	char *raw;      /* the whole message, CRLF, malloc'd */
	size_t raw_len;
	int64_t due_ms; /* the outbox row is due from then on (0: now) */
} kg_notify_mail;

int kg_notify_compose(enum kg_notify_kind kind, enum kg_notify_lang lang,
		      const kg_notify_field *fields, const char *to,
		      kg_notify_mail *out, kg_err *err);
void kg_notify_mail_release(kg_notify_mail *m);

/* ---- webhooks ----------------------------------------------------------
 * Event types: "lock.created", "lock.lifted", "breaker.tripped",
 * "incident.reverted", "case", "incident" ("lock" and "unlock": the names
 * before lock.created and lock.lifted, still accepted). The body is
 * {"id": "wh_<hex>", "type": ..., "account": ..., "ts": "<RFC 3339>",
 *  "data": <data_json>}. Each POST is signed per the Standard Webhooks
 * specification:
 *   webhook-id: <id>, webhook-timestamp: <unix s>,
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, id "." timestamp "." body)>
 * where key is the base64 after "whsec_" in webhook.secret (or, for a secret
 * without that prefix, its bytes). Deprecated, kept for one release:
 *   X-Kagi-Event, X-Kagi-Delivery, X-Kagi-Timestamp,
 *   X-Kagi-Signature: v1=<hex HMAC-SHA256(secret, timestamp "." body)>.
 * docs/operations.md ## Notifications has the receiver's recipe. */
#define KG_WEBHOOK_ID_MAX 40
#define KG_WEBHOOK_SIG_MAX 72     /* "v1=" + 64 hex + NUL */
#define KG_WEBHOOK_STD_SIG_MAX 48 /* "v1," + 44 base64 + NUL */
#define KG_WEBHOOK_KEY_MAX 64     /* bytes of a signing key */
#define KG_WEBHOOK_SECRET_MAX 56  /* "whsec_" + 44 base64 of 32 bytes + NUL */

/* Builds the body of a webhook event (data_json: a JSON object or NULL for
 * {}); writes the event id into id_out. Appends to out. */
int kg_notify_webhook_body(const char *type, const char *account, const char *data_json,
			   int64_t ts_ms, char id_out[KG_WEBHOOK_ID_MAX], kg_buf *out,
			   kg_err *err);
/* The signing key of webhook.secret: "whsec_" + standard base64 of 16 to 64
 * bytes, or (kagi's older form) 16 to 64 characters taken as bytes. Returns 0,
 * or KG_EINVAL naming webhook.secret. */
int kg_notify_webhook_key(const char *secret, unsigned char key[KG_WEBHOOK_KEY_MAX],
			  size_t *key_len, kg_err *err);
/* The Standard Webhooks webhook-signature value "v1,<base64>" of
 * HMAC-SHA256(key of secret, id "." ts_s "." body) into out. Returns 0, or
 * the error of kg_notify_webhook_key. */
int kg_notify_webhook_sign_std(const char *secret, const char *id, int64_t ts_s,
			       const char *body, size_t body_len,
			       char out[KG_WEBHOOK_STD_SIG_MAX], kg_err *err);
/* A new random secret "whsec_<base64 of 32 bytes>" into out. Returns 0. */
int kg_notify_webhook_new_secret(char out[KG_WEBHOOK_SECRET_MAX]);
/* Deprecated X-Kagi-Signature: "v1=<hex>" of HMAC-SHA256(secret, "<ts_s>."
 * body) into out. */
void kg_notify_webhook_sign(const char *secret, int64_t ts_s, const char *body,
			    size_t body_len, char out[KG_WEBHOOK_SIG_MAX]);
/* Checks an X-Kagi-Signature value in constant time; true when it matches. */
bool kg_notify_webhook_verify(const char *secret, int64_t ts_s, const char *body,
			      size_t body_len, const char *signature);

/* ---- queues and the delivery worker -----------------------------------
 * Both are written inside the caller's write transaction (kg_store_write),
 * so a notice exists exactly when the change that caused it was committed. */

/* Inserts the outbox row of m for `to` (pending, due now). With
 * account.secret_key set (kg_notify_init) the stored message is sealed
 * (libsodium secretbox): a one-time code is never at rest in clear. */
int kg_notify_tx_enqueue_mail(kg_tx *tx, const char *account_id, const char *to,
			      const kg_notify_mail *m, kg_err *err);
/* The message of an outbox row as it is sent (opened with account.secret_key
 * when sealed), appended to out. KG_EAUTH / KG_ECONFLICT when it cannot be
 * opened with the configured key. */
int kg_notify_outbox_message(const kg_outbox *o, kg_buf *out, kg_err *err);
/* Queues a webhook event ("lock.created", "lock.lifted", "breaker.tripped",
 * "incident.reverted", "case", "incident"; the older "lock" and "unlock" are
 * still accepted; data_json a JSON object or NULL). A no-op returning 0 when
 * webhook.url is not set. */
int kg_notify_tx_enqueue_webhook(kg_tx *tx, const char *type, const char *account_id,
				 const char *data_json, kg_err *err);

/* ---- the queues for operators (`kagi outbox`, `kagi webhooks`; queues.c)
 * One set of calls for both kinds of the one queue (enum kg_queue_kind,
 * store.h); each call is one store transaction of its own. */

/* A row of either kind as an operator sees it: what both kinds have, and
 * the row of its kind (mail for KG_QUEUE_MAIL, webhook for
 * KG_QUEUE_WEBHOOK; the other is zeroed). Strings in the caller's arena. */
typedef struct kg_notify_queue_row {
	enum kg_queue_kind kind;
	const char *id, *account_id, *state, *last_error;
	int64_t attempts, next_attempt_ms, delivered_ms, created_ms;
	kg_outbox mail;
	kg_webhook webhook;
} kg_notify_queue_row;

/* Rows in state (NULL: any) of account_id (NULL: any), newest first, at most
 * limit (0: all); *out an array of *n rows in a. */
int kg_notify_queue_list(kg_store *s, enum kg_queue_kind kind, const char *state,
			 const char *account_id, size_t limit, kg_arena *a,
			 kg_notify_queue_row **out, size_t *n, kg_err *err);
/* Row id (with its message or body). For the mail kind only, with id NULL:
 * the newest row to address `to` (case-insensitive; of account_id unless
 * NULL), KG_ENOTFOUND naming "to" when there is none. */
int kg_notify_queue_find(kg_store *s, enum kg_queue_kind kind, const char *id, const char *to,
			 const char *account_id, kg_arena *a, kg_notify_queue_row *out,
			 kg_err *err);
/* Makes rows ids[0..n) (with failed: every failed row instead) due now,
 * attempts reset, in one write; *done gets the count. */
int kg_notify_queue_retry(kg_store *s, enum kg_queue_kind kind, const char *const *ids,
			  size_t n, bool failed, size_t *done, kg_err *err);
/* kg_notify_tx_enqueue_mail in a write of its own. */
int kg_notify_enqueue_mail(kg_store *s, const char *account_id, const char *to,
			   const kg_notify_mail *m, kg_err *err);
/* kg_notify_tx_enqueue_webhook in a write of its own. */
int kg_notify_enqueue_webhook(kg_store *s, const char *type, const char *account_id,
			      const char *data_json, kg_err *err);

typedef struct kg_notify_stats {
	uint64_t claimed, delivered, failed; /* failed: attempts that failed */
} kg_notify_stats;

/* One pass: claims the due rows (smtp.url / webhook.url set), sends each
 * once, records delivered or the next try; adds to *stats. Returns 0, or
 * the store's error when claiming failed. Used by the worker and by
 * `kagi outbox deliver`. */
int kg_notify_deliver_once(kg_store *store, const kg_config *cfg, kg_notify_stats *stats,
			   kg_err *err);

/* The delivery thread of kagid (`kagi serve`): runs kg_notify_deliver_once
 * every notify.poll_ms (at once again while there is work). cfg is copied. */
typedef struct kg_notify_worker kg_notify_worker;
int kg_notify_worker_start(kg_store *store, const kg_config *cfg, kg_notify_worker **out,
			   kg_err *err);
/* Wakes the worker now (e.g. after committing a notice). NULL: no-op. */
void kg_notify_worker_kick(kg_notify_worker *w);
void kg_notify_worker_stats(kg_notify_worker *w, kg_notify_stats *out);
/* Finishes the current send, stops and frees the worker. NULL: no-op. */
void kg_notify_worker_stop(kg_notify_worker *w);

/* ---- retry schedule ----------------------------------------------------*/
/* Delay before attempt number `attempts`+1 after `attempts` failures:
 * base_ms * 2^(attempts-1), capped at max_ms, then a random jitter that keeps
 * it within [delay/2, delay]. */
int64_t kg_notify_backoff_ms(int64_t attempts, int64_t base_ms, int64_t max_ms);

#endif
