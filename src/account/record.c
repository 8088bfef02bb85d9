/* How the account module records what it does: audit entries (hash-chained
 * by the store) and official notices, each written to the message center
 * and to the outbox in the caller's transaction. Not here: delivery. */
#include "account/internal.h"

#include "mail/mail.h"
#include "notify/notify.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

const char *kg_lock_remedy_name(enum kg_lock_remedy r)
{
	return r == KG_REMEDY_PASSWORD_RESET ? "password_reset" : "support";
}

enum kg_lock_remedy kg_lock_remedy_of(const kg_config *cfg, enum kg_lock_reason r)
{
	if (r == KG_LOCK_MISUSE || (unsigned)r >= KG_LOCK_REASON_COUNT)
		return KG_REMEDY_SUPPORT;
	return (kg_account_reset_mask(cfg) >> r) & 1u ? KG_REMEDY_PASSWORD_RESET : KG_REMEDY_SUPPORT;
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

/* ---- notices: message center + outbox ---------------------------------------*/
/* The shop's webhook for locks, unlocks and case changes (a no-op without
 * webhook.url). */
static int enqueue_webhook(kg_tx *tx, const char *account_id, enum kg_account_notice_kind kind,
			   const kg_account_notice_ctx *c, kg_err *err)
{
	json_t *d = NULL;
	const char *type = NULL;
	if (kind == KG_ACCOUNT_NOTICE_LOCK || kind == KG_ACCOUNT_NOTICE_UNLOCK) {
		type = kind == KG_ACCOUNT_NOTICE_LOCK ? "lock.created" : "lock.lifted";
		d = json_pack("{s:s?, s:s}", "lock", c->lock_id, "reason", kg_lock_reason_name(c->reason));
		if (d && kind == KG_ACCOUNT_NOTICE_UNLOCK)
			json_object_set_new(d, "method", json_string(kg_lift_method_name(c->method)));
	} else if (kind == KG_ACCOUNT_NOTICE_CASE_UPDATE) {
		type = "case";
		d = json_pack("{s:s?, s:s?}", "case", c->case_id, "state", c->case_state);
	} else {
		return 0;
	}
	char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	int rc = text ? kg_notify_tx_enqueue_webhook(tx, type, account_id, text, err)
		      : kg_err_set(err, KG_ENOMEM, "out of memory");
	free(text);
	return rc;
}

int kg_account_notify_tx(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			 enum kg_account_notice_kind kind, const kg_account_notice_ctx *ctx,
			 kg_err *err)
{
	kg_account_notice shown, mailed;
	kg_account_notice_init(&shown);
	kg_account_notice_init(&mailed);
	kg_buf mime = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	char msgid[KG_MESSAGE_ID_MAX];
	kg_account_notice_ctx c = *ctx;
	c.lang = acc->lang;
	bool secret = kind == KG_ACCOUNT_NOTICE_RECOVERY_CODE;
	/* The message center copy never holds the code. */
	int rc = kg_account_notice_render(&shown, kind, &c, false, err);
	if (rc || (secret && (rc = kg_account_notice_render(&mailed, kind, &c, true, err))))
		goto cleanup;
	kg_notify_message_id(msgid);
	const kg_account_notice *src = secret ? &mailed : &shown;
	bool mailing = acc->email && *acc->email;
	char fp[65] = "";
	if (mailing) {
		kg_notice n = {src->subject.data, src->text.data, src->html.data};
		if ((rc = kg_notify_build_mime(&n, acc->email, msgid, ctx->now_ms, &mime, err)))
			goto cleanup;
		/* The content fingerprint finds the notice when a forward or a
		 * mail client changed its Message-ID. Not of a mail carrying a
		 * code: a hash of a short secret would give the secret away. */
		if (!secret && (rc = kg_mail_fingerprint(mime.data, mime.len, fp, err)))
			goto cleanup;
	}

	kg_message m;
	memset(&m, 0, sizeof(m));
	m.account_id = acc->id;
	m.kind = kg_account_notice_kind_name(kind);
	m.lang = "ja,en";
	m.subject = shown.subject.data;
	m.body_text = shown.text.data;
	m.body_html = shown.html.data;
	m.message_id = msgid;
	m.fingerprint = fp[0] ? fp : NULL;
	m.created_ms = ctx->now_ms;
	if ((rc = kg_tx_message_insert(tx, &m, err)))
		goto cleanup;
	if ((rc = enqueue_webhook(tx, acc->id, kind, &c, err)))
		goto cleanup;
	if (!mailing)
		goto cleanup; /* no address: the message center is the only copy */
	kg_notify_mail mail;
	memset(&mail, 0, sizeof(mail));
	memcpy(mail.message_id, msgid, sizeof(msgid));
	mail.notice.subject = shown.subject.data;
	mail.raw = mime.data;
	mail.raw_len = mime.len;
	mail.due_ms = ctx->mail_due_ms;
	rc = kg_notify_tx_enqueue_mail(tx, acc->id, acc->email, &mail, err);
cleanup:
	if (mailed.text.data)
		sodium_memzero(mailed.text.data, mailed.text.len);
	if (mailed.html.data)
		sodium_memzero(mailed.html.data, mailed.html.len);
	kg_account_notice_release(&shown);
	kg_account_notice_release(&mailed);
	kg_buf_release(&mime);
	return rc;
}
