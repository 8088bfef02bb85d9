/* How the account module records what it does: audit entries (hash-chained
 * by the store) and official notices, each written to the message center
 * and to the outbox in the caller's transaction. Not here: delivery. */
#include "account/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void kg_account_copy(char *dst, size_t size, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

uint32_t kg_account_reset_mask(const kg_config *cfg)
{
	uint32_t mask = 0;
	if (kg_lock_reset_mask(cfg->reset_lifts, &mask, NULL))
		return 0;
	return mask;
}

kg_account_notice_ctx kg_account_notice_base(const kg_config *cfg, const kg_account *acc,
					     int64_t now_ms)
{
	kg_account_notice_ctx c;
	memset(&c, 0, sizeof(c));
	c.shop = cfg->shop_name;
	c.name = acc->name;
	c.now_ms = now_ms;
	return c;
}

int kg_account_audit_tx(kg_tx *tx, const char *account_id, const char *actor,
			const char *action, json_t *detail, int64_t now_ms, kg_err *err)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	kg_audit_entry e;
	memset(&e, 0, sizeof(e));
	e.account_id = account_id;
	e.ts_ms = now_ms;
	e.actor = actor ? actor : "system";
	e.action = action;
	e.detail = text ? text : "{}";
	int rc = kg_tx_audit_append(tx, &e, NULL, err);
	free(text);
	return rc;
}

/* ---- the mail ------------------------------------------------------------*/
static const char *mail_domain(const kg_config *cfg)
{
	if (cfg->dkim_domain[0])
		return cfg->dkim_domain;
	const char *at = strchr(cfg->mail_from, '@');
	return at && at[1] ? at + 1 : "kagi.invalid";
}

static int put_b64(kg_buf *out, const void *data, size_t len, size_t line)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(cap);
	if (!b)
		return KG_ENOMEM;
	sodium_bin2base64(b, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
	int rc = 0;
	size_t n = strlen(b);
	for (size_t i = 0; i < n && !rc; i += line) {
		size_t k = n - i < line ? n - i : line;
		rc = kg_buf_append(out, b + i, k);
		if (!rc && line < n)
			rc = kg_buf_puts(out, "\r\n");
	}
	free(b);
	return rc;
}

/* A plain RFC 5322 message: UTF-8 text in base64. */
static int build_mime(const kg_config *cfg, const char *to, const char *msgid,
		      const char *subject, const char *text, int64_t now_ms, kg_buf *out)
{
	char date[64];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int rc = kg_buf_printf(out, "From: %s\r\nTo: %s\r\nDate: %s\r\nMessage-ID: %s\r\nSubject: =?UTF-8?B?",
			       cfg->mail_from, to, date, msgid);
	rc |= put_b64(out, subject, strlen(subject), (size_t)-1);
	rc |= kg_buf_puts(out, "?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\n");
	rc |= put_b64(out, text, strlen(text), 76);
	rc |= kg_buf_puts(out, "\r\n");
	return rc ? KG_ENOMEM : 0;
}

static const char *const message_kinds[KG_ACCOUNT_NOTICE_KIND_COUNT] = {
	[KG_ACCOUNT_NOTICE_LOCK] = "lock_notice",
	[KG_ACCOUNT_NOTICE_UNLOCK] = "unlock_notice",
	[KG_ACCOUNT_NOTICE_RECOVERY_CODE] = "recovery_code",
	[KG_ACCOUNT_NOTICE_PASSWORD_RESET] = "password_reset",
	[KG_ACCOUNT_NOTICE_CASE_UPDATE] = "case_update",
};

int kg_account_notify_tx(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			 enum kg_account_notice_kind kind, const kg_account_notice_ctx *ctx,
			 const char *secret, kg_err *err)
{
	kg_account_notice n;
	kg_account_notice_init(&n);
	kg_buf subject = KG_BUF_INIT(4096), text = KG_BUF_INIT(64 * 1024),
	       mail = KG_BUF_INIT(256 * 1024), mailtext = KG_BUF_INIT(64 * 1024);
	char msgid[KG_STORE_ID_MAX + 256], idbuf[KG_STORE_ID_MAX];
	int rc = kg_account_notice_render(&n, kind, ctx);
	if (rc) {
		kg_err_set(err, rc, "cannot render the %s notice", kg_account_notice_kind_name(kind));
		goto cleanup;
	}
	/* Japanese first, then English: the shop's official wording in both. */
	rc = kg_buf_printf(&subject, "%s / %s", n.title_ja.data, n.title_en.data);
	rc |= kg_buf_printf(&text, "%s\n\n%s\n――――――――――――――――――――\n\n%s\n\n%s", n.title_ja.data,
			    n.body_ja.data, n.title_en.data, n.body_en.data);
	if (rc) {
		rc = kg_err_set(err, KG_ENOMEM, "notice too large");
		goto cleanup;
	}
	kg_store_new_id(idbuf, "msg");
	snprintf(msgid, sizeof(msgid), "<%s@%s>", idbuf, mail_domain(cfg));

	kg_message m;
	memset(&m, 0, sizeof(m));
	m.account_id = acc->id;
	m.kind = message_kinds[kind];
	m.lang = "ja,en";
	m.subject = subject.data;
	m.body_text = text.data;
	m.message_id = msgid;
	m.created_ms = ctx->now_ms;
	if ((rc = kg_tx_message_insert(tx, &m, err)))
		goto cleanup;

	if (!acc->email || !*acc->email)
		goto cleanup; /* no address: the message center is the only copy */
	const char *body = text.data;
	if (secret) {
		/* The code goes only into the mail. */
		rc = kg_buf_printf(&mailtext, "確認コード / Your code: %s\n\n%s", secret, text.data);
		if (rc) {
			rc = kg_err_set(err, KG_ENOMEM, "notice too large");
			goto cleanup;
		}
		body = mailtext.data;
	}
	if ((rc = build_mime(cfg, acc->email, msgid, subject.data, body, ctx->now_ms, &mail))) {
		rc = kg_err_set(err, rc, "cannot build the mail");
		goto cleanup;
	}
	kg_outbox o;
	memset(&o, 0, sizeof(o));
	o.account_id = acc->id;
	o.message_id = msgid;
	o.rcpt = acc->email;
	o.subject = subject.data;
	o.mime = mail.data;
	o.mime_len = mail.len;
	o.state = "pending";
	o.created_ms = ctx->now_ms;
	rc = kg_tx_outbox_insert(tx, &o, err);
cleanup:
	if (mailtext.data)
		sodium_memzero(mailtext.data, mailtext.len);
	kg_buf_release(&subject);
	kg_buf_release(&text);
	kg_buf_release(&mail);
	kg_buf_release(&mailtext);
	kg_account_notice_release(&n);
	return rc;
}
