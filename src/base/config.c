/* The config file: `key = value` lines over built-in defaults, then KAGI_*
 * environment overrides. The table below is the one list of keys. */
#include "base/base.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { T_STR, T_INT, T_BOOL };

struct key {
	const char *name;
	enum key_type type;
	size_t offset, size;   /* size: bytes of a T_STR field */
	const char *dflt;
	int64_t min, max;      /* T_INT bounds */
};

#define STR(k, f, d) {k, T_STR, offsetof(kg_config, f), sizeof(((kg_config *)0)->f), d, 0, 0}
#define INT(k, f, d, lo, hi) {k, T_INT, offsetof(kg_config, f), 0, d, lo, hi}
#define BOOL(k, f, d) {k, T_BOOL, offsetof(kg_config, f), 0, d, 0, 1}

static const struct key keys[] = {
	STR("store.path", store_path, "var/kagi.db"),
	STR("store.url", store_url, ""),
	INT("store.group_max", store_group_max, "512", 1, KG_STORE_GROUP_MAX),
	INT("store.busy_timeout_ms", store_busy_timeout_ms, "5000", 0, 600000),
	STR("http.listen", http_listen, "127.0.0.1:8080"),
	INT("http.threads", http_threads, "32", 1, 256),
	INT("http.body_max_bytes", http_body_max_bytes, "1048576", 1024, KG_HTTP_BATCH_BODY_MAX),
	INT("http.max_connections", http_max_connections, "1024", 1, 100000),
	INT("http.timeout_s", http_timeout_s, "60", 1, 3600),
	INT("http.shutdown_grace_ms", http_shutdown_grace_ms, "10000", 0, 600000),
	BOOL("http.reuse_port", http_reuse_port, "false"),
	INT("http.max_connections_per_ip", http_max_connections_per_ip, "256", 0, 100000),
	INT("http.header_timeout_s", http_header_timeout_s, "10", 1, 3600),
	INT("http.body_min_bytes_per_s", http_body_min_rate, "512", 0, 1073741824),
	INT("http.body_memory_max_bytes", http_body_memory_max, "268435456", 65536, 68719476736),
	INT("http.decision_workers", http_decision_workers, "1", 1, 4096),
	INT("http.decision_queue", http_decision_queue, "1024", 1, 1000000),
	INT("http.decision_batch_max", http_decision_batch_max, "256", 1, KG_HTTP_DECISION_BATCH_MAX),
	INT("http.login_workers", http_login_workers, "2", 1, 256),
	INT("http.login_queue", http_login_queue, "64", 1, 100000),
	INT("http.mail_workers", http_mail_workers, "2", 1, 256),
	INT("http.mail_queue", http_mail_queue, "32", 1, 100000),
	INT("http.upload_workers", http_upload_workers, "4", 1, 256),
	INT("http.upload_queue", http_upload_queue, "16", 1, 100000),
	INT("http.other_workers", http_other_workers, "64", 1, 1024),
	INT("http.other_queue", http_other_queue, "256", 1, 1000000),
	STR("log.level", log_level, "info"),
	STR("policy.file", policy_file, "policy/default.rules"),
	STR("policy.reset_lifts", reset_lifts, "compromised,brute_force"),
	INT("password.argon2_ops", argon2_ops, "2", 1, 100),
	INT("password.argon2_mem_kib", argon2_mem_kib, "19456", 8, 4194304),
	INT("recovery.code_ttl_s", code_ttl_s, "600", 60, 86400),
	INT("recovery.code_max_attempts", code_max_attempts, "5", 1, 100),
	INT("login.token_ttl_s", customer_token_ttl_s, "900", 60, 86400),
	INT("login.ticket_ttl_s", lock_ticket_ttl_s, "604800", 600, 31536000),
	INT("bruteforce.failures", bf_failures, "10", 1, 100000),
	INT("bruteforce.wait_increment_s", bf_wait_increment_s, "30", 1, 3600),
	INT("bruteforce.max_wait_s", bf_max_wait_s, "300", 1, 3600),
	INT("bruteforce.reset_s", bf_reset_s, "900", 1, 86400),
	INT("bruteforce.known_source_s", bf_known_source_s, "2592000", 0, 31536000),
	INT("cases.open_max", cases_open_max, "3", 1, 100),
	INT("identity.max_failures", identity_max_failures, "3", 1, 100),
	INT("identity.block_s", identity_block_s, "86400", 60, 31536000),
	INT("identity.unlock_window_s", identity_unlock_window_s, "900", 60, 86400),
	STR("account.secret_key", account_secret_key, ""),
	STR("shop.name", shop_name, "kagi shop"),
	STR("shop.profile", shop_profile, ""),
	STR("mail.from", mail_from, "no-reply@shop.example"),
	STR("smtp.url", smtp_url, ""),
	STR("smtp.user", smtp_user, ""),
	STR("smtp.password", smtp_password, ""),
	BOOL("smtp.starttls", smtp_starttls, "false"),
	STR("dkim.domain", dkim_domain, ""),
	STR("dkim.selector", dkim_selector, ""),
	STR("dkim.key_file", dkim_key_file, ""),
	STR("webhook.url", webhook_url, ""),
	STR("webhook.secret", webhook_secret, ""),
	STR("notify.templates_dir", notify_templates_dir, ""),
	INT("notify.poll_ms", notify_poll_ms, "1000", 10, 60000),
	INT("notify.batch", notify_batch, "16", 1, 1000),
	INT("notify.lease_s", notify_lease_s, "300", 1, 86400),
	INT("notify.timeout_s", notify_timeout_s, "30", 1, 600),
	INT("notify.retry_base_ms", notify_retry_base_ms, "30000", 10, 86400000),
	INT("notify.retry_max_ms", notify_retry_max_ms, "3600000", 10, 604800000),
	INT("notify.max_attempts", notify_max_attempts, "50", 1, 100000),
	BOOL("breaker.enabled", breaker_enabled, "true"),
	INT("breaker.max_locks", breaker_max_locks, "500", 1, 100000000),
	INT("breaker.window_s", breaker_window_s, "600", 60, 86400),
	INT("breaker.half_open_s", breaker_half_open_s, "0", 0, 604800),
	INT("incidents.apology_mails_per_min", incidents_apology_mails_per_min, "600", 1, 1000000),
	BOOL("rules.gate", rules_gate, "true"),
	INT("rules.promote_max_locks_per_day", rules_promote_max_locks_per_day, "50", 0, 100000000),
};

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Sets one key; on failure leaves the config unchanged and says why in err
 * (without position: the caller adds it). */
static int set_key(kg_config *c, const struct key *k, const char *value, kg_err *err)
{
	char *field = (char *)c + k->offset;
	switch (k->type) {
	case T_STR:
		if (strlen(value) >= k->size)
			return kg_err_set(err, KG_EINVAL, "%s: value longer than %zu bytes",
					  k->name, k->size - 1);
		if (kg_utf8_valid_prefix(value, strlen(value)) != strlen(value))
			return kg_err_set(err, KG_EINVAL, "%s: value is not valid UTF-8", k->name);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case T_INT: {
		int64_t v;
		if (kg_parse_i64(value, &v))
			return kg_err_set(err, KG_EINVAL, "%s: expected an integer, got \"%s\"",
					  k->name, value);
		if (v < k->min || v > k->max)
			return kg_err_set(err, KG_EINVAL, "%s: %lld is outside %lld..%lld", k->name,
					  (long long)v, (long long)k->min, (long long)k->max);
		memcpy(field, &v, sizeof(v));
		return 0;
	}
	case T_BOOL: {
		bool v;
		if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
			v = true;
		else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
			v = false;
		else
			return kg_err_set(err, KG_EINVAL, "%s: expected true or false, got \"%s\"",
					  k->name, value);
		memcpy(field, &v, sizeof(v));
		return 0;
	}
	}
	return KG_EINTERNAL;
}

void kg_config_defaults(kg_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < KG_ARRAY_LEN(keys); i++)
		if (set_key(c, &keys[i], keys[i].dflt, NULL))
			abort(); /* a default that does not parse is a bug */
}

int kg_config_set(kg_config *c, const char *key, const char *value, kg_err *err)
{
	const struct key *k = find_key(key);
	if (!k)
		return kg_err_set(err, KG_EINVAL, "unknown key \"%s\"", key);
	return set_key(c, k, value, err);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(kg_config *c, const char *path, kg_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = kg_read_file(path, KG_CONFIG_FILE_MAX, &text, &len, err);
	if (rc)
		return rc;
	if (memchr(text, '\0', len)) {
		rc = kg_err_at(err, KG_EINVAL, path, 0, 0, "file contains a NUL byte");
		goto cleanup;
	}
	int lineno = 0;
	for (char *line = text, *next; line && *line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) > KG_CONFIG_LINE_MAX) {
			rc = kg_err_at(err, KG_EINVAL, path, lineno, 0,
				       "line longer than %d bytes", KG_CONFIG_LINE_MAX);
			goto cleanup;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = kg_err_at(err, KG_EINVAL, path, lineno, 0,
				       "expected `key = value`, got \"%s\"", s);
			goto cleanup;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		kg_err e2;
		kg_err_clear(&e2);
		if (kg_config_set(c, key, value, &e2)) {
			rc = kg_err_at(err, KG_EINVAL, path, lineno, 0, "%s", e2.msg);
			goto cleanup;
		}
	}
cleanup:
	free(text);
	return rc;
}

int kg_config_load(kg_config *c, const char *path, kg_err *err)
{
	kg_config tmp = *c;
	int rc = path ? load_file(&tmp, path, err) : 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < KG_ARRAY_LEN(keys); i++) {
		char env[128] = "KAGI_";
		size_t n = 5;
		for (const char *p = keys[i].name; *p && n < sizeof(env) - 1; p++)
			env[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
		env[n] = '\0';
		const char *v = getenv(env);
		if (!v)
			continue;
		kg_err e2;
		kg_err_clear(&e2);
		if (set_key(&tmp, &keys[i], v, &e2))
			return kg_err_at(err, KG_EINVAL, env, 0, 0, "%s", e2.msg);
	}
	*c = tmp;
	return 0;
}

int kg_config_dump(const kg_config *c, kg_buf *out)
{
	int rc = 0;
	for (size_t i = 0; i < KG_ARRAY_LEN(keys) && rc == 0; i++) {
		const struct key *k = &keys[i];
		const char *field = (const char *)c + k->offset;
		int64_t v;
		bool bv;
		switch (k->type) {
		case T_STR:
			rc = kg_buf_printf(out, "%s = %s\n", k->name,
					   strstr(k->name, "password") || strstr(k->name, "secret") ||
							   !strcmp(k->name, "store.url") /* may hold one */
						   ? (*field ? "(set)" : "")
						   : field);
			break;
		case T_INT:
			memcpy(&v, field, sizeof(v));
			rc = kg_buf_printf(out, "%s = %lld\n", k->name, (long long)v);
			break;
		case T_BOOL:
			memcpy(&bv, field, sizeof(bv));
			rc = kg_buf_printf(out, "%s = %s\n", k->name, bv ? "true" : "false");
			break;
		}
	}
	return rc;
}
