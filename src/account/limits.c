/* The failure limits of the login gate, 2-step codes and password reset.
 * Two kinds, both taken in the write transaction BEFORE the slow check (a
 * reservation), so that parallel requests cannot all pass a count read
 * before any of them was written:
 *   - per account and source (IP): a fixed window with a most;
 *   - per account from any source: a growing delay (bruteforce.*): after
 *     `failures` failures each further try waits wait_increment_s, doubled
 *     per failure up to max_wait_s; reset_s without a failure starts over.
 *     A source the account signed in from before is not held by it. */
#include "account/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void kg_account_pseudo_id(const char *email, char out[KG_ID_MAX + 1])
{
	unsigned char h[16];
	char lower[KG_EMAIL_MAX + 1];
	size_t n = strlen(email);
	if (n > KG_EMAIL_MAX)
		n = KG_EMAIL_MAX;
	for (size_t i = 0; i < n; i++)
		lower[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] + 32) : email[i];
	crypto_generichash(h, sizeof(h), (const unsigned char *)lower, n, NULL, 0);
	char hex[33];
	snprintf(out, KG_ID_MAX + 1, "?%s", kg_hex(h, sizeof(h), hex));
}

int kg_limit_take(kg_tx *tx, const char *id, const char *kind, const char *key, int64_t max,
		  int64_t window_ms, int64_t now, int64_t *retry_ms, kg_err *err)
{
	kg_counter_row row;
	int rc = kg_tx_counter_read(tx, id, kind, key, &row, err);
	if (rc)
		return rc;
	*retry_ms = 0;
	if (row.count > 0 && row.window_start_ms > now - window_ms) {
		if (row.count >= max) {
			*retry_ms = row.window_start_ms + window_ms - now;
			return 0;
		}
		row.count++;
	} else {
		row.count = 1;
		row.window_start_ms = now;
	}
	row.updated_ms = now;
	return kg_tx_counter_put(tx, id, kind, key, &row, err);
}

int kg_limit_give(kg_tx *tx, const char *id, const char *kind, const char *key,
		  int64_t window_ms, int64_t now, kg_err *err)
{
	kg_counter_row row;
	int rc = kg_tx_counter_read(tx, id, kind, key, &row, err);
	if (rc || row.count <= 0 || row.window_start_ms <= now - window_ms)
		return rc;
	row.count--;
	row.updated_ms = now;
	return kg_tx_counter_put(tx, id, kind, key, &row, err);
}

/* The wait after `count` failures: 0 below bruteforce.failures, then
 * wait_increment_s doubled per further failure, at most max_wait_s. */
static int64_t backoff_wait_ms(const kg_config *cfg, int64_t count)
{
	if (count < cfg->bf_failures)
		return 0;
	int64_t wait = cfg->bf_wait_increment_s * 1000, max = cfg->bf_max_wait_s * 1000;
	for (int64_t i = cfg->bf_failures; i < count && wait < max; i++)
		wait *= 2;
	return wait < max ? wait : max;
}

int kg_backoff_take(kg_tx *tx, const kg_config *cfg, const char *id, const char *kind,
		    int64_t now, int64_t *retry_ms, kg_err *err)
{
	kg_counter_row row;
	int rc = kg_tx_counter_read(tx, id, kind, "", &row, err);
	if (rc)
		return rc;
	*retry_ms = 0;
	if (row.count > 0 && row.updated_ms <= now - cfg->bf_reset_s * 1000)
		row.count = 0; /* a quiet period: start over */
	int64_t allowed = row.updated_ms + backoff_wait_ms(cfg, row.count);
	if (row.count > 0 && now < allowed) {
		*retry_ms = allowed - now;
		return 0;
	}
	if (row.count == 0)
		row.window_start_ms = now;
	if (row.count < INT64_MAX)
		row.count++;
	row.updated_ms = now;
	return kg_tx_counter_put(tx, id, kind, "", &row, err);
}

int kg_backoff_clear(kg_tx *tx, const char *id, const char *kind, kg_err *err)
{
	return kg_tx_counter_reset(tx, id, kind, "", err);
}

#define SOURCE_KIND "login_source"

int kg_source_known(kg_tx *tx, const kg_config *cfg, const char *id, const char *ip,
		    const char *device_id, int64_t now, bool *known, kg_err *err)
{
	*known = false;
	int64_t window = cfg->bf_known_source_s * 1000, n = 0;
	char key[KG_ID_MAX + 8];
	int rc = 0;
	if (ip && *ip) {
		snprintf(key, sizeof(key), "ip:%s", ip);
		rc = kg_tx_counter_get(tx, id, SOURCE_KIND, key, window, now, &n, err);
		*known = n > 0;
	}
	if (!rc && !*known && device_id && *device_id) {
		snprintf(key, sizeof(key), "dev:%s", device_id);
		rc = kg_tx_counter_get(tx, id, SOURCE_KIND, key, window, now, &n, err);
		*known = n > 0;
	}
	return rc;
}

int kg_source_remember(kg_tx *tx, const kg_config *cfg, const char *id, const char *ip,
		       const char *device_id, int64_t now, kg_err *err)
{
	if (cfg->bf_known_source_s <= 0)
		return 0;
	char key[KG_ID_MAX + 8];
	int rc = 0;
	kg_counter_row row = {1, now, now};
	if (ip && *ip) {
		snprintf(key, sizeof(key), "ip:%s", ip);
		rc = kg_tx_counter_put(tx, id, SOURCE_KIND, key, &row, err);
	}
	if (!rc && device_id && *device_id) {
		snprintf(key, sizeof(key), "dev:%s", device_id);
		rc = kg_tx_counter_put(tx, id, SOURCE_KIND, key, &row, err);
	}
	return rc;
}
