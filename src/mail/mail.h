/* kagi mail: is this email really from the shop? Parses a message (GMime),
 * computes signals against a shop profile, and gives a verdict (S6, S7).
 * Also DKIM-signs kagi's own notices so that they verify here.
 * Not here: sending mail (notify) or storing messages (store, account). */
#ifndef KG_MAIL_H
#define KG_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- shop profile --------------------------------------------------------
 * A text file of `key = value` lines (docs/mail.md): brand names, official
 * sender and link domains, trusted Authentication-Results authserv-ids and
 * DKIM public keys. Immutable once loaded; share it between threads. */
typedef struct kg_mail_profile kg_mail_profile;

/* Parses profile text; `where` names it in errors (file:line). Returns 0 and
 * a new profile the caller frees with kg_mail_profile_free, or KG_EINVAL /
 * KG_ELIMIT with err at the offending line. */
int kg_mail_profile_parse(const char *text, size_t len, const char *where,
			  kg_mail_profile **out, kg_err *err);
/* Reads and parses a profile file (key_file paths are relative to it). */
int kg_mail_profile_load(const char *path, kg_mail_profile **out, kg_err *err);
void kg_mail_profile_free(kg_mail_profile *p);
/* The shop's display name from the profile ("Amazon"). */
const char *kg_mail_profile_name(const kg_mail_profile *p);

/* ---- account facts (the cross-check with the store) ---------------------
 * Filled by a lookup the caller provides (kg_mail_store_lookup does it with
 * the store). -1 means unknown; the analyser then adds no signal. */
typedef struct kg_mail_account {
	char name[KG_NAME_MAX];  /* registered name, "" when unknown */
	char email[KG_EMAIL_MAX + 1];
	int exists;              /* 1 / 0 / -1 */
	int locked;              /* 1 locked now, 0 can log in, -1 unknown */
	int in_message_center;   /* 1 a matching official message, 0 none, -1 unknown */
	int lock_lifted;         /* 1: that message is a lock notice and the account's
	                          * lock has since been lifted (or ran out); else 0 */
} kg_mail_account;

/* Looks up account_id; message_id (may be "") and fingerprint identify the
 * message. Returns 0 with *out filled, or a negative kg_code. */
typedef int (*kg_mail_lookup_fn)(void *ctx, const char *account_id,
				 const char *message_id, const char *fingerprint,
				 kg_mail_account *out, kg_err *err);

typedef struct kg_mail_query {
	const char *account_id;    /* NULL: no account given */
	kg_mail_lookup_fn lookup;  /* NULL: no store, account facts unknown */
	void *lookup_ctx;
	int64_t now_ms;            /* 0: now; used when the message has no Date */
} kg_mail_query;

/* ---- result ---------------------------------------------------------------*/
enum kg_mail_verdict {
	KG_MAIL_UNRELATED = 0, /* does not claim to be the shop */
	KG_MAIL_GENUINE,       /* authenticated as the shop (and in the message center) */
	KG_MAIL_SUSPICIOUS,    /* claims the shop; cannot tell */
	KG_MAIL_PHISHING,      /* claims the shop and is not */
};
const char *kg_mail_verdict_name(enum kg_mail_verdict v);

#define KG_MAIL_SIGNALS_MAX 48
#define KG_MAIL_DETAIL_MAX 240

typedef struct kg_mail_signal {
	const char *id;      /* stable name, e.g. "sender_lookalike" (docs/mail.md) */
	int weight;          /* points added to the score; negative: evidence for the shop */
	char detail[KG_MAIL_DETAIL_MAX]; /* plain explanation with the values seen */
} kg_mail_signal;

typedef struct kg_mail_result {
	enum kg_mail_verdict verdict;
	int score;                 /* sum of the weights of the signals */
	bool claims_shop;          /* brand, official domain or lookalike claimed */
	bool authenticated;        /* DKIM/DMARC/SPF as an official domain */
	bool forwarded;            /* the verdict is about a forwarded original */
	char message_id[256];      /* without <>, "" when absent */
	char fingerprint[65];      /* kg_mail_fingerprint of the analysed message */
	size_t n_signals;
	kg_mail_signal signals[KG_MAIL_SIGNALS_MAX];
} kg_mail_result;

/* Analyses one raw message (RFC 5322 bytes). q may be NULL. Returns 0 and
 * fills *out; KG_ELIMIT when the message exceeds a KG_MAIL_* limit (size,
 * parts, nesting, header bytes, links: each named in err), KG_EINVAL when it
 * is not a message at all, or the lookup's error. Thread-safe. */
int kg_mail_check(const kg_mail_profile *p, const char *msg, size_t len,
		  const kg_mail_query *q, kg_mail_result *out, kg_err *err);

/* Appends the JSON members (no braces, so callers can add their own):
 * "verdict","score","claims_shop","authenticated","forwarded","message_id",
 * "fingerprint","signals":[{"id","weight","detail"}]. Returns 0 or KG_ELIMIT. */
int kg_mail_result_json(const kg_mail_result *r, kg_buf *out);

/* Content fingerprint of a message: BLAKE2b-256 (hex) of its text body
 * (text/plain, else HTML as text) with whitespace removed and NFKC applied,
 * so that re-encoding in transit does not change it. The notify module
 * stores it with the message-center entry. out gets 64 hex digits + NUL. */
int kg_mail_fingerprint(const char *msg, size_t len, char out[65], kg_err *err);

/* The readable text of a message, as a person would see it: its text/plain
 * body (else its HTML as text), decoded from its transfer encoding and
 * charset to UTF-8 (the text the fingerprint is taken of). Appends it to out.
 * Returns 0, or the parse error (KG_EINVAL, KG_ELIMIT) with err. */
int kg_mail_text(const char *msg, size_t len, kg_buf *out, kg_err *err);

/* ---- DKIM signing of kagi's own notices ------------------------------------
 * Signs msg (RFC 5322, LF or CRLF line ends) for domain/selector with the
 * PEM private key (RSA; rsa-sha256, relaxed/relaxed, From over-signed) and
 * appends "DKIM-Signature: ...\r\n" followed by msg to out. Returns 0, or
 * KG_EINVAL (bad key or message) with err. */
int kg_mail_dkim_sign(const char *msg, size_t len, const char *domain,
		      const char *selector, const char *key_pem, kg_buf *out,
		      kg_err *err);

/* ---- the store cross-check ------------------------------------------------
 * A kg_mail_lookup_fn over kagi's store (src/store/store.h); ctx is the
 * `kg_store *`. Fills exists, locked (an active lock now), in_message_center
 * (a message of this account with the same Message-ID, else the same
 * fingerprint) and the registered name. Returns 0 or the store's error. */
int kg_mail_store_lookup(void *ctx, const char *account_id, const char *message_id,
			 const char *fingerprint, kg_mail_account *out, kg_err *err);

#endif
