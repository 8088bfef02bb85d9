/* Webhook events: the JSON body, its signatures (Standard Webhooks, and
 * kagi's deprecated X-Kagi-Signature), and the retry schedule shared with
 * the outbox. Not here: the queue (store) or the POST
 * (worker.c). */
#include "notify/internal.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int kg_notify_webhook_body(const char *type, const char *account, const char *data_json,
			   int64_t ts_ms, char id_out[KG_WEBHOOK_ID_MAX], kg_buf *out,
			   kg_err *err)
{
	unsigned char u[16];
	char hex[33], ts[KG_TIME_STR_MAX];
	kg_random_bytes(u, sizeof(u));
	kg_hex(u, sizeof(u), hex);
	snprintf(id_out, KG_WEBHOOK_ID_MAX, "wh_%s", hex);
	if (!type || !*type)
		return kg_err_field(err, KG_EINVAL, "type", "a webhook event needs a type");
	if (data_json && *data_json) {
		json_error_t je;
		json_t *j = json_loads(data_json, JSON_REJECT_DUPLICATES, &je);
		bool object = j && json_is_object(j);
		json_decref(j);
		if (!object)
			return kg_err_field(err, KG_EINVAL, "data", "webhook data must be a JSON object%s%s",
					    j ? "" : ": ", j ? "" : je.text);
	}
	size_t start = out->len;
	int rc = kg_buf_puts(out, "{\"id\":");
	if (rc == 0)
		rc = kg_buf_json_str(out, id_out, strlen(id_out));
	if (rc == 0)
		rc = kg_buf_puts(out, ",\"type\":");
	if (rc == 0)
		rc = kg_buf_json_str(out, type, strlen(type));
	if (rc == 0 && account) {
		rc = kg_buf_puts(out, ",\"account\":");
		if (rc == 0)
			rc = kg_buf_json_str(out, account, strlen(account));
	}
	if (rc == 0)
		rc = kg_buf_printf(out, ",\"ts\":\"%s\",\"data\":%s}", kg_time_format(ts_ms, ts),
				   data_json && *data_json ? data_json : "{}");
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return kg_err_set(err, rc, "webhook body larger than the buffer allows");
	}
	return 0;
}

void kg_notify_webhook_sign(const char *secret, int64_t ts_s, const char *body,
			    size_t body_len, char out[KG_WEBHOOK_SIG_MAX])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "%lld.", (long long)ts_s);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)n);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "v1=", 3);
	kg_hex(mac, sizeof(mac), out + 3);
	sodium_memzero(&st, sizeof(st));
}

bool kg_notify_webhook_verify(const char *secret, int64_t ts_s, const char *body,
			      size_t body_len, const char *signature)
{
	char want[KG_WEBHOOK_SIG_MAX];
	kg_notify_webhook_sign(secret, ts_s, body, body_len, want);
	size_t n = strlen(want);
	return signature && strlen(signature) == n && kg_ct_equal(want, signature, n);
}

int kg_notify_webhook_key(const char *secret, unsigned char key[KG_WEBHOOK_KEY_MAX],
			  size_t *key_len, kg_err *err)
{
	static const char prefix[] = "whsec_";
	size_t plen = sizeof(prefix) - 1, slen = strlen(secret);
	if (slen < plen || memcmp(secret, prefix, plen) != 0) {
		/* a secret of kagi's own older form: its bytes are the key */
		if (slen < 16 || slen > KG_WEBHOOK_KEY_MAX)
			return kg_err_field(err, KG_EINVAL, "webhook.secret",
					    "a secret without the whsec_ prefix must be 16 to %d characters",
					    KG_WEBHOOK_KEY_MAX);
		memcpy(key, secret, slen);
		*key_len = slen;
		return 0;
	}
	const char *b64 = secret + plen, *end = NULL;
	if (sodium_base642bin(key, KG_WEBHOOK_KEY_MAX, b64, slen - plen, NULL, key_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || (end && *end)) {
		sodium_memzero(key, KG_WEBHOOK_KEY_MAX);
		return kg_err_field(err, KG_EINVAL, "webhook.secret",
				    "whsec_ must be followed by standard base64 (at byte %zu)",
				    end ? plen + (size_t)(end - b64) : plen);
	}
	if (*key_len < 16) {
		sodium_memzero(key, KG_WEBHOOK_KEY_MAX);
		return kg_err_field(err, KG_EINVAL, "webhook.secret",
				    "a whsec_ secret must hold at least 16 bytes (it holds %zu)", *key_len);
	}
	return 0;
}

int kg_notify_webhook_sign_std(const char *secret, const char *id, int64_t ts_s,
			       const char *body, size_t body_len,
			       char out[KG_WEBHOOK_STD_SIG_MAX], kg_err *err)
{
	unsigned char key[KG_WEBHOOK_KEY_MAX], mac[crypto_auth_hmacsha256_BYTES];
	size_t key_len = 0;
	int rc = kg_notify_webhook_key(secret, key, &key_len, err);
	if (rc)
		return rc;
	crypto_auth_hmacsha256_state st;
	char ts[32];
	int n = snprintf(ts, sizeof(ts), ".%lld.", (long long)ts_s);
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (size_t)n);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, KG_WEBHOOK_STD_SIG_MAX - 3, mac, sizeof(mac),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(key, sizeof(key));
	return 0;
}

int kg_notify_webhook_new_secret(char out[KG_WEBHOOK_SECRET_MAX])
{
	unsigned char key[32];
	kg_random_bytes(key, sizeof(key));
	memcpy(out, "whsec_", 6);
	sodium_bin2base64(out + 6, KG_WEBHOOK_SECRET_MAX - 6, key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int64_t kg_notify_backoff_ms(int64_t attempts, int64_t base_ms, int64_t max_ms)
{
	if (attempts < 1)
		attempts = 1;
	int64_t delay = base_ms;
	for (int64_t i = 1; i < attempts && delay < max_ms; i++)
		delay *= 2;
	if (delay > max_ms)
		delay = max_ms;
	uint32_t r;
	kg_random_bytes(&r, sizeof(r));
	int64_t half = delay / 2;
	return half + (half > 0 ? (int64_t)(r % (uint64_t)(delay - half + 1)) : 0);
}
