/* Webhook events: the JSON body, its HMAC-SHA256 signature, and the retry
 * schedule shared with the outbox. Not here: the queue (store) or the POST
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
