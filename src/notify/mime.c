/* The mail message of a notice: RFC 5322 headers, multipart/alternative
 * text + HTML in UTF-8, a fixed Message-ID, and the DKIM signature.
 * Not here: rendering (template.c) or sending (smtp.c). */
#include "notify/internal.h"

#include "mail/mail.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Set by kg_notify_init (template.c) before threads start; read-only after. */
static struct {
	char mail_from[KG_CONFIG_STR_MAX];
	char shop_name[KG_CONFIG_STR_MAX];
	char dkim_domain[KG_CONFIG_STR_MAX];
	char dkim_selector[KG_CONFIG_STR_MAX];
	char dkim_key_file[KG_CONFIG_STR_MAX];
	bool webhooks;
	char *dkim_key_pem; /* read from dkim.key_file by kg_notify_init */
	char seal_key[KG_CONFIG_STR_MAX]; /* account.secret_key */
} g_mime = {"no-reply@shop.example", "kagi shop", "", "", "", false, NULL, ""};

const char *kg_notify_seal_key(void)
{
	return g_mime.seal_key;
}

bool kg_notify_webhooks_enabled(void)
{
	return g_mime.webhooks;
}

int kg_notify_mime_configure(const kg_config *cfg, kg_err *err)
{
	kg_config dflt;
	if (!cfg) {
		kg_config_defaults(&dflt);
		cfg = &dflt;
	}
	char *pem = NULL;
	if (cfg->webhook_url[0]) { /* the receiver checks the signature with it */
		unsigned char key[KG_WEBHOOK_KEY_MAX];
		size_t key_len = 0;
		if (!cfg->webhook_secret[0])
			return kg_err_field(err, KG_EINVAL, "webhook.secret",
					    "webhook.url needs webhook.secret (make one: kagi webhooks new-secret)");
		int rc = kg_notify_webhook_key(cfg->webhook_secret, key, &key_len, err);
		sodium_memzero(key, sizeof(key));
		if (rc)
			return rc;
	}
	if (cfg->dkim_domain[0] || cfg->dkim_key_file[0]) {
		if (!cfg->dkim_domain[0] || !cfg->dkim_selector[0] || !cfg->dkim_key_file[0])
			return kg_err_set(err, KG_EINVAL,
					  "dkim.domain, dkim.selector and dkim.key_file go together");
		size_t len = 0;
		int rc = kg_read_file(cfg->dkim_key_file, 64 * 1024, &pem, &len, err);
		if (rc)
			return rc;
		if (!strstr(pem, "PRIVATE KEY")) {
			free(pem);
			return kg_err_at(err, KG_EINVAL, cfg->dkim_key_file, 0, 0,
					 "dkim.key_file is not a PEM private key");
		}
	}
	free(g_mime.dkim_key_pem);
	g_mime.dkim_key_pem = pem;
	snprintf(g_mime.mail_from, sizeof(g_mime.mail_from), "%s", cfg->mail_from);
	snprintf(g_mime.shop_name, sizeof(g_mime.shop_name), "%s", cfg->shop_name);
	snprintf(g_mime.dkim_domain, sizeof(g_mime.dkim_domain), "%s", cfg->dkim_domain);
	snprintf(g_mime.dkim_selector, sizeof(g_mime.dkim_selector), "%s", cfg->dkim_selector);
	snprintf(g_mime.dkim_key_file, sizeof(g_mime.dkim_key_file), "%s", cfg->dkim_key_file);
	g_mime.webhooks = cfg->webhook_url[0] != '\0';
	snprintf(g_mime.seal_key, sizeof(g_mime.seal_key), "%s", cfg->account_secret_key);
	return 0;
}

/* The bare address of mail.from ("Shop <a@b>" → "a@b"), for the envelope. */
void kg_notify_envelope_from(char *out, size_t size)
{
	const char *lt = strchr(g_mime.mail_from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(out, size, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, size, "%s", g_mime.mail_from);
}

static const char *from_domain(void)
{
	if (g_mime.dkim_domain[0])
		return g_mime.dkim_domain;
	const char *at = strrchr(g_mime.mail_from, '@');
	return at ? at + 1 : "kagi.invalid";
}

void kg_notify_message_id(char out[KG_MESSAGE_ID_MAX])
{
	unsigned char u[16];
	kg_random_bytes(u, sizeof(u));
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char hex[33];
	kg_hex(u, sizeof(u), hex);
	const char *dom = from_domain();
	size_t dlen = strcspn(dom, ">");
	snprintf(out, KG_MESSAGE_ID_MAX, "<%.8s-%.4s-%.4s-%.4s-%.12s@%.*s>", hex, hex + 8,
		 hex + 12, hex + 16, hex + 20, (int)dlen, dom);
}

static bool is_ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Appends s as RFC 2047 B encoded-words, each at most 75 characters and
 * never splitting a UTF-8 character; words are joined by CRLF SP. */
static int put_encoded_words(kg_buf *b, const char *s)
{
	size_t len = strlen(s), pos = 0;
	int rc = 0;
	while (pos < len && rc == 0) {
		size_t n = len - pos < 45 ? len - pos : 45;
		while (pos + n < len && n > 0 && ((unsigned char)s[pos + n] & 0xc0) == 0x80)
			n--; /* back off to a character start */
		char enc[64];
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)s + pos, n,
				  sodium_base64_VARIANT_ORIGINAL);
		rc = kg_buf_printf(b, "%s=?UTF-8?B?%s?=", pos ? "\r\n " : "", enc);
		pos += n;
	}
	return rc;
}

/* Appends data as base64 in lines of 76 characters. */
static int put_base64(kg_buf *b, const char *data, size_t len)
{
	int rc = 0;
	for (size_t pos = 0; pos < len && rc == 0; pos += 57) {
		size_t n = len - pos < 57 ? len - pos : 57;
		char line[80];
		sodium_bin2base64(line, sizeof(line), (const unsigned char *)data + pos, n,
				  sodium_base64_VARIANT_ORIGINAL);
		rc = kg_buf_printf(b, "%s\r\n", line);
	}
	return rc;
}

static void rfc5322_date(int64_t ms, char out[64])
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The one place a built message gets its DKIM signature (rsa-sha256,
 * relaxed/relaxed, by the mail module, which verifies it the same way).
 * Without dkim.* configured notices go out unsigned. Replaces msg. */
static int dkim_sign(kg_buf *msg, kg_err *err)
{
	if (!g_mime.dkim_key_pem)
		return 0;
	kg_buf signed_msg = KG_BUF_INIT(KG_NOTIFY_MIME_MAX + 4096);
	int rc = kg_mail_dkim_sign(msg->data, msg->len, g_mime.dkim_domain, g_mime.dkim_selector,
				   g_mime.dkim_key_pem, &signed_msg, err);
	if (rc == 0) {
		kg_buf_release(msg);
		*msg = signed_msg;
	} else {
		kg_buf_release(&signed_msg);
	}
	return rc;
}

int kg_notify_build_mime(const kg_notice *n, const char *to, const char *message_id,
			 int64_t date_ms, kg_buf *out, kg_err *err)
{
	if (!to || !*to || !is_ascii_printable(to) || !strchr(to, '@'))
		return kg_err_field(err, KG_EINVAL, "to", "not a usable email address");
	if (!message_id || message_id[0] != '<' || !is_ascii_printable(message_id))
		return kg_err_field(err, KG_EINVAL, "message_id", "not a <id@domain> Message-ID");
	unsigned char rnd[12];
	char boundary[48], hex[25], date[64];
	kg_random_bytes(rnd, sizeof(rnd));
	snprintf(boundary, sizeof(boundary), "=_kagi_%s", kg_hex(rnd, sizeof(rnd), hex));
	rfc5322_date(date_ms, date);

	kg_buf m = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	int rc = kg_buf_printf(&m, "Date: %s\r\nFrom: ", date);
	if (rc == 0 && !strchr(g_mime.mail_from, '<') && g_mime.shop_name[0]) {
		if (is_ascii_printable(g_mime.shop_name) && !strpbrk(g_mime.shop_name, "\"\\"))
			rc = kg_buf_printf(&m, "\"%s\"", g_mime.shop_name);
		else
			rc = put_encoded_words(&m, g_mime.shop_name);
		if (rc == 0)
			rc = kg_buf_printf(&m, " <%s>", g_mime.mail_from);
	} else if (rc == 0) {
		rc = kg_buf_puts(&m, g_mime.mail_from);
	}
	if (rc == 0)
		rc = kg_buf_printf(&m, "\r\nTo: %s\r\nSubject: ", to);
	if (rc == 0)
		rc = is_ascii_printable(n->subject) ? kg_buf_puts(&m, n->subject)
						    : put_encoded_words(&m, n->subject);
	if (rc == 0)
		rc = kg_buf_printf(&m,
				   "\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
				   "Auto-Submitted: auto-generated\r\n"
				   "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
				   "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
				   "Content-Transfer-Encoding: base64\r\n\r\n",
				   message_id, boundary, boundary);
	if (rc == 0)
		rc = put_base64(&m, n->text, strlen(n->text));
	if (rc == 0)
		rc = kg_buf_printf(&m,
				   "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
				   "Content-Transfer-Encoding: base64\r\n\r\n",
				   boundary);
	if (rc == 0)
		rc = put_base64(&m, n->html, strlen(n->html));
	if (rc == 0)
		rc = kg_buf_printf(&m, "\r\n--%s--\r\n", boundary);
	if (rc) {
		kg_buf_release(&m);
		return kg_err_set(err, rc, "message larger than %d bytes", KG_NOTIFY_MIME_MAX);
	}
	if ((rc = dkim_sign(&m, err)) == 0)
		rc = kg_buf_append(out, m.data, m.len);
	kg_buf_release(&m);
	return rc;
}

void kg_notify_mail_release(kg_notify_mail *m)
{
	if (!m)
		return;
	kg_notice_release(&m->notice);
	free(m->raw);
	m->raw = NULL;
	m->raw_len = 0;
}

int kg_notify_compose(enum kg_notify_kind kind, enum kg_notify_lang lang,
		      const kg_notify_field *fields, const char *to,
		      kg_notify_mail *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	kg_notice sent = {0};
	kg_buf b = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	int rc = kg_notify_render(kind, lang, fields, &sent, err);
	if (rc)
		goto cleanup;
	kg_notify_message_id(out->message_id);
	rc = kg_notify_build_mime(&sent, to, out->message_id, kg_now_ms(), &b, err);
	if (rc)
		goto cleanup;
	if (kind == KG_NOTICE_RECOVERY_CODE) {
		/* the message center keeps the notice, never the code itself */
		size_t n = 0;
		while (fields[n].key)
			n++;
		kg_notify_field *masked = calloc(n + 1, sizeof(*masked));
		if (!masked) {
			rc = kg_err_set(err, KG_ENOMEM, "out of memory");
			goto cleanup;
		}
		for (size_t i = 0; i < n; i++) {
			masked[i] = fields[i];
			if (!strcmp(fields[i].key, "code"))
				masked[i].value = "******";
		}
		rc = kg_notify_render(kind, lang, masked, &out->notice, err);
		free(masked);
		if (rc)
			goto cleanup;
	} else {
		out->notice = sent;
		memset(&sent, 0, sizeof(sent));
	}
	out->raw = kg_buf_detach(&b, &out->raw_len);
cleanup:
	kg_notice_release(&sent);
	kg_buf_release(&b);
	if (rc)
		kg_notify_mail_release(out);
	return rc;
}
