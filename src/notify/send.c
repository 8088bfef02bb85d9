/* The two network sends of notify, over libcurl: one mail message by SMTP
 * (smtp.url, STARTTLS, auth) and one webhook POST (signed at send time).
 * Each call is one attempt; retry scheduling is the worker's. A kg_notify_conn
 * keeps the connections of one delivery pass open between sends. Not here:
 * building messages (mime.c, webhook.c). */
#include "notify/internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct reader {
	const char *data;
	size_t len, pos;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct reader *r = userdata;
	size_t room = size * nitems, n = r->len - r->pos;
	if (n > room)
		n = room;
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return n;
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/* The handle of conn for one more transfer: made on first use, reset (its
 * open connection kept for reuse) after. NULL when libcurl cannot. */
static CURL *handle(void **slot)
{
	pthread_once(&curl_once, curl_setup);
	if (*slot)
		curl_easy_reset(*slot);
	else
		*slot = curl_easy_init();
	return *slot;
}

void kg_notify_conn_close(kg_notify_conn *conn)
{
	if (conn->smtp)
		curl_easy_cleanup(conn->smtp);
	if (conn->http)
		curl_easy_cleanup(conn->http);
	conn->smtp = conn->http = NULL;
}

int kg_notify_smtp_send(const kg_config *cfg, kg_notify_conn *conn, const char *to,
			const char *raw, size_t raw_len, kg_err *err)
{
	if (!cfg->smtp_url[0])
		return kg_err_set(err, KG_ECONFLICT, "smtp.url is not set");
	CURL *c = handle(&conn->smtp);
	if (!c)
		return kg_err_set(err, KG_ENOMEM, "curl_easy_init failed");
	char from[KG_CONFIG_STR_MAX + 2], rcpt_s[KG_EMAIL_MAX + 3], errbuf[CURL_ERROR_SIZE] = "";
	kg_notify_envelope_from(from + 1, sizeof(from) - 2);
	from[0] = '<';
	size_t fl = strlen(from);
	from[fl] = '>';
	from[fl + 1] = '\0';
	snprintf(rcpt_s, sizeof(rcpt_s), "<%s>", to);
	struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_s);
	struct reader r = {raw, raw_len, 0};
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &r);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)raw_len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->notify_timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->notify_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (cfg->smtp_starttls)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (cfg->smtp_user[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
	}
	CURLcode cc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	int rc = 0;
	if (cc != CURLE_OK)
		rc = kg_err_set(err, KG_EIO, "smtp: %s (last reply %ld)",
				errbuf[0] ? errbuf : curl_easy_strerror(cc), code);
	curl_slist_free_all(rcpt);
	return rc;
}

int kg_notify_webhook_post(const kg_config *cfg, kg_notify_conn *conn, const char *type,
			   const char *id, const char *body, size_t body_len, kg_err *err)
{
	if (!cfg->webhook_url[0])
		return kg_err_set(err, KG_ECONFLICT, "webhook.url is not set");
	CURL *c = handle(&conn->http);
	if (!c)
		return kg_err_set(err, KG_ENOMEM, "curl_easy_init failed");
	int64_t ts_s = kg_now_ms() / 1000;
	char sig[KG_WEBHOOK_SIG_MAX], std[KG_WEBHOOK_STD_SIG_MAX];
	char h[7][KG_WEBHOOK_SIG_MAX + 64], errbuf[CURL_ERROR_SIZE] = "";
	int rc = kg_notify_webhook_sign_std(cfg->webhook_secret, id, ts_s, body, body_len, std, err);
	if (rc)
		return rc;
	kg_notify_webhook_sign(cfg->webhook_secret, ts_s, body, body_len, sig);
	snprintf(h[0], sizeof(h[0]), "webhook-id: %s", id);
	snprintf(h[1], sizeof(h[1]), "webhook-timestamp: %lld", (long long)ts_s);
	snprintf(h[2], sizeof(h[2]), "webhook-signature: %s", std);
	/* deprecated: kagi's own scheme, kept for one release */
	snprintf(h[3], sizeof(h[3]), "X-Kagi-Event: %s", type);
	snprintf(h[4], sizeof(h[4]), "X-Kagi-Delivery: %s", id);
	snprintf(h[5], sizeof(h[5]), "X-Kagi-Timestamp: %lld", (long long)ts_s);
	snprintf(h[6], sizeof(h[6]), "X-Kagi-Signature: %s", sig);
	struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
	for (size_t i = 0; i < KG_ARRAY_LEN(h); i++)
		hs = curl_slist_append(hs, h[i]);
	hs = curl_slist_append(hs, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, cfg->webhook_url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kagi/" KG_VERSION);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cfg->notify_timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->notify_timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		rc = kg_err_set(err, KG_EIO, "webhook: %s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (status < 200 || status > 299)
		rc = kg_err_set(err, KG_EIO, "webhook: the receiver answered HTTP %ld", status);
	curl_slist_free_all(hs);
	return rc;
}
