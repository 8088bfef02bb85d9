/* The shop's official notices, bilingual: Japanese and English renders of
 * notify's templates joined into one subject, text and HTML.
 * Also the S1 login-screen lock messages. Not here: storing or sending. */
#include "account/account.h"

#include <stdio.h>
#include <string.h>

#include "account/internal.h"
#include "notify/notify.h"

static const char *const login_ja[] = {
	[KG_LOCK_KIND_PRECAUTION] =
		"アカウントがロックされました。お客様のアカウントで不審なアクティビティが検出され、"
		"予防処置としてロックされました。詳細については、カスタマーサービスチームにお問い合わせください。",
	[KG_LOCK_KIND_MISUSE] =
		"アカウントがロックされました。お客様のアカウントは、当社のサービスの不正使用のために"
		"ロックされています。追加情報が記載されたメールを送信しました。",
};

static const char *const login_en[] = {
	[KG_LOCK_KIND_PRECAUTION] =
		"Your account has been locked. Suspicious activity was detected on your account and "
		"it was locked as a precaution. Please contact customer service.",
	[KG_LOCK_KIND_MISUSE] =
		"Your account has been locked for misuse of our services. We sent you an email with "
		"more information.",
};

/* The precaution wording when a password reset lifts the lock. */
static const char login_reset_ja[] =
	"アカウントがロックされました。お客様のアカウントで不審なアクティビティが検出され、"
	"予防処置としてロックされました。パスワードアシスタントでパスワードを再設定すると、ロックは解除されます。";
static const char login_reset_en[] =
	"Your account has been locked. Suspicious activity was detected on your account and "
	"it was locked as a precaution. Reset your password with the password assistant to lift "
	"the lock.";

const char *kg_lock_login_message_ja(enum kg_lock_kind k, enum kg_lock_remedy r)
{
	if (k == KG_LOCK_KIND_MISUSE)
		return login_ja[KG_LOCK_KIND_MISUSE];
	return r == KG_REMEDY_PASSWORD_RESET ? login_reset_ja : login_ja[KG_LOCK_KIND_PRECAUTION];
}

const char *kg_lock_login_message_en(enum kg_lock_kind k, enum kg_lock_remedy r)
{
	if (k == KG_LOCK_KIND_MISUSE)
		return login_en[KG_LOCK_KIND_MISUSE];
	return r == KG_REMEDY_PASSWORD_RESET ? login_reset_en : login_en[KG_LOCK_KIND_PRECAUTION];
}

static const char *const kind_names[KG_ACCOUNT_NOTICE_KIND_COUNT] = {
	[KG_ACCOUNT_NOTICE_LOCK] = "lock_notice",
	[KG_ACCOUNT_NOTICE_UNLOCK] = "unlock_notice",
	[KG_ACCOUNT_NOTICE_RECOVERY_CODE] = "recovery_code",
	[KG_ACCOUNT_NOTICE_PASSWORD_RESET] = "password_reset",
	[KG_ACCOUNT_NOTICE_CASE_UPDATE] = "case_update",
	[KG_ACCOUNT_NOTICE_INCIDENT_APOLOGY] = "incident_apology",
};

const char *kg_account_notice_kind_name(enum kg_account_notice_kind k)
{
	return (unsigned)k < KG_ACCOUNT_NOTICE_KIND_COUNT ? kind_names[k] : NULL;
}

void kg_account_notice_init(kg_account_notice *n)
{
	kg_buf_init(&n->subject, 4096);
	kg_buf_init(&n->text, KG_ACCOUNT_NOTICE_BYTES_MAX);
	kg_buf_init(&n->html, KG_ACCOUNT_NOTICE_BYTES_MAX);
}

void kg_account_notice_release(kg_account_notice *n)
{
	kg_buf_release(&n->subject);
	kg_buf_release(&n->text);
	kg_buf_release(&n->html);
}

static int render_one(enum kg_account_notice_kind kind, enum kg_notify_lang lang,
		      const kg_account_notice_ctx *c, bool with_secret, kg_notice *out, kg_err *err)
{
	char year[16], pos[24];
	snprintf(year, sizeof(year), "%d", kg_time_year(kg_account_now(c->now_ms)));
	kg_notify_field f[12];
	size_t n = 0;
	f[n++] = (kg_notify_field){"name", c->name};
	f[n++] = (kg_notify_field){"year", year};
	if (c->shop && *c->shop)
		f[n++] = (kg_notify_field){"shop_name", c->shop};
	enum kg_notify_kind nk = KG_NOTICE_LOCK;
	switch (kind) {
	case KG_ACCOUNT_NOTICE_LOCK:
		f[n++] = (kg_notify_field){"reason", kg_lock_reason_name(c->reason)};
		f[n++] = (kg_notify_field){"lock_id", c->lock_id};
		f[n++] = (kg_notify_field){"remedy", kg_lock_remedy_name(c->remedy)};
		break;
	case KG_ACCOUNT_NOTICE_UNLOCK:
		nk = KG_NOTICE_UNLOCK;
		f[n++] = (kg_notify_field){"reason", kg_lock_reason_name(c->reason)};
		f[n++] = (kg_notify_field){"lock_id", c->lock_id};
		f[n++] = (kg_notify_field){"method", kg_lift_method_notice_word(c->method)};
		break;
	case KG_ACCOUNT_NOTICE_RECOVERY_CODE:
		nk = KG_NOTICE_RECOVERY_CODE;
		f[n++] = (kg_notify_field){"code", with_secret && c->code ? c->code : "******"};
		break;
	case KG_ACCOUNT_NOTICE_PASSWORD_RESET:
		nk = KG_NOTICE_PASSWORD_RESET;
		if (!c->shop || !*c->shop)
			f[n++] = (kg_notify_field){"shop_name", "kagi"};
		if (c->lifted && *c->lifted)
			f[n++] = (kg_notify_field){"lifted", c->lifted};
		break;
	case KG_ACCOUNT_NOTICE_CASE_UPDATE:
		nk = KG_NOTICE_CASE_UPDATE;
		f[n++] = (kg_notify_field){"case_id", c->case_id};
		f[n++] = (kg_notify_field){"state", c->case_state};
		if (c->note && *c->note)
			f[n++] = (kg_notify_field){"note", c->note};
		if (c->queue_position > 0) {
			snprintf(pos, sizeof(pos), "%lld", (long long)c->queue_position);
			f[n++] = (kg_notify_field){"queue_position", pos};
		}
		break;
	case KG_ACCOUNT_NOTICE_INCIDENT_APOLOGY:
		nk = KG_NOTICE_INCIDENT_APOLOGY;
		if (c->incident_id && *c->incident_id)
			f[n++] = (kg_notify_field){"incident_id", c->incident_id};
		break;
	default:
		return kg_err_set(err, KG_EINVAL, "unknown notice kind");
	}
	f[n] = (kg_notify_field){NULL, NULL};
	return kg_notify_render(nk, lang, f, out, err);
}

/* The inside of <body>…</body> (the whole text without one). */
static int put_body(kg_buf *b, const char *html)
{
	const char *s = strstr(html, "<body");
	const char *e = strstr(html, "</body>");
	if (s && (s = strchr(s, '>')) && e && e > s)
		return kg_buf_append(b, s + 1, (size_t)(e - s - 1));
	return kg_buf_puts(b, html);
}

int kg_account_notice_render(kg_account_notice *n, enum kg_account_notice_kind kind,
			     const kg_account_notice_ctx *ctx, bool with_secret, kg_err *err)
{
	kg_notice parts[2];
	memset(parts, 0, sizeof(parts));
	bool en_first = ctx->lang && !strncmp(ctx->lang, "en", 2);
	enum kg_notify_lang order[2] = {en_first ? KG_LANG_EN : KG_LANG_JA,
					en_first ? KG_LANG_JA : KG_LANG_EN};
	kg_buf_reset(&n->subject);
	kg_buf_reset(&n->text);
	kg_buf_reset(&n->html);
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++)
		rc = render_one(kind, order[i], ctx, with_secret, &parts[i], err);
	if (rc)
		goto cleanup;
	rc = kg_buf_printf(&n->subject, "%s / %s", parts[0].subject, parts[1].subject);
	rc |= kg_buf_printf(&n->text, "%s\n――――――――――――――――――――\n\n%s", parts[0].text, parts[1].text);
	rc |= kg_buf_puts(&n->html, "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"></head>\n<body>\n<div lang=\"");
	rc |= kg_buf_puts(&n->html, en_first ? "en" : "ja");
	rc |= kg_buf_puts(&n->html, "\">");
	rc |= put_body(&n->html, parts[0].html);
	rc |= kg_buf_puts(&n->html, "</div>\n<hr>\n<div lang=\"");
	rc |= kg_buf_puts(&n->html, en_first ? "ja" : "en");
	rc |= kg_buf_puts(&n->html, "\">");
	rc |= put_body(&n->html, parts[1].html);
	rc |= kg_buf_puts(&n->html, "</div>\n</body>\n</html>\n");
	if (rc)
		rc = kg_err_set(err, KG_ELIMIT, "notice longer than %d bytes", KG_ACCOUNT_NOTICE_BYTES_MAX);
cleanup:
	kg_notice_release(&parts[0]);
	kg_notice_release(&parts[1]);
	return rc;
}
