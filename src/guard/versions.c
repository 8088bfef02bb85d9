/* Policy versions: every policy load stored (content hash, time, who,
 * which rules changed against the previous version), and the suspect of a
 * trip. Rows: policy/<loaded_ms, 15 digits>|<version>, value
 * {"version","by","rules_changed":[...],"rules":{name: hash}}; policy/last:
 * value the newest version's key. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard_impl.h"

/* {name: hash of its text} of each `rule NAME` block of the policy text:
 * from its line to the next line that starts with "}" (comments and blank
 * lines after it are not the rule's). */
static json_t *rule_hashes(const char *text, size_t len)
{
	json_t *m = json_object();
	const char *p = text, *end = text + len;
	const char *start = NULL;
	char name[128] = "";
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (!start && (size_t)(le - p) > 5 && !memcmp(p, "rule ", 5)) {
			const char *q = p + 5;
			size_t n = 0;
			while (q + n < le && n + 1 < sizeof(name) && q[n] != ' ' && q[n] != '{')
				n++;
			memcpy(name, q, n);
			name[n] = '\0';
			start = p;
		}
		if (start && (*p == '}' || le == end)) {
			unsigned char h[8];
			char hex[17];
			crypto_generichash(h, sizeof(h), (const unsigned char *)start,
					   (size_t)(le - start), NULL, 0);
			for (int i = 0; i < 8; i++)
				snprintf(hex + 2 * i, 3, "%02x", h[i]);
			json_object_set_new(m, name, json_string(hex));
			start = NULL;
		}
		p = nl ? nl + 1 : end;
	}
	return m;
}

struct load_job {
	const char *version, *by;
	json_t *hashes;
};

static int load_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct load_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row last, prev;
	json_t *old = NULL, *changed = json_array();
	char *text = NULL;
	int rc = kg_tx_guard_get(tx, "policy", "last", &last, &a, err);
	if (rc == KG_ENOTFOUND) {
		rc = 0;
	} else if (!rc && last.value && !kg_tx_guard_get(tx, "policy", last.value, &prev, &a, err)) {
		json_t *pv = json_loads(prev.value ? prev.value : "{}", 0, NULL);
		const char *v = json_string_value(json_object_get(pv, "version"));
		if (v && !strcmp(v, j->version)) { /* the same text again: no new version */
			json_decref(pv);
			goto cleanup;
		}
		old = json_incref(json_object_get(pv, "rules"));
		json_decref(pv);
	}
	if (rc)
		goto cleanup;
	const char *name;
	json_t *h;
	json_object_foreach(j->hashes, name, h) {
		json_t *o = json_object_get(old, name);
		if (!o || strcmp(json_string_value(o), json_string_value(h)))
			json_array_append_new(changed, json_string(name));
	}
	json_object_foreach(old, name, h)
		if (!json_object_get(j->hashes, name))
			json_array_append_new(changed, json_string(name)); /* removed */
	int64_t now = kg_now_ms();
	char key[KG_GUARD_KEY_MAX];
	snprintf(key, sizeof(key), "%015" PRId64 "|%s", now, j->version);
	json_t *v = json_pack("{s:s, s:s, s:O, s:O, s:b}", "version", j->version, "by", j->by,
			      "rules_changed", changed, "rules", j->hashes, "first", old == NULL);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(v);
	if (!text) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((rc = kg_tx_guard_put(tx, &(kg_guard_row){"policy", key, text, 0, now}, err)) ||
	    (rc = kg_tx_guard_put(tx, &(kg_guard_row){"policy", "last", key, 0, now}, err)))
		goto cleanup;
	rc = kg_guard_audit(tx, j->by, "policy_load",
			    json_pack("{s:s, s:O}", "version", j->version, "rules_changed", changed),
			    err);
cleanup:
	free(text);
	json_decref(old);
	json_decref(changed);
	kg_arena_release(&a);
	return rc;
}

int kg_guard_policy_loaded(kg_store *s, const kg_policy *p, const char *by, kg_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = kg_read_file(kg_policy_file(p), KG_RULES_FILE_MAX, &text, &len, err);
	if (rc)
		return rc;
	struct load_job j = {kg_policy_version(p), by ? by : "system", rule_hashes(text, len)};
	free(text);
	rc = j.hashes ? kg_store_write(s, load_job, &j, err)
		      : kg_err_set(err, KG_ENOMEM, "out of memory");
	json_decref(j.hashes);
	return rc;
}

/* The version rows, oldest first ("policy/last" sorts after the digits). */
static int versions(kg_tx *tx, kg_arena *a, kg_guard_row **rows, size_t *n, kg_err *err)
{
	return kg_tx_guard_list(tx, "policy", "0", ":", 0, a, rows, n, err);
}

struct list_job {
	json_t *out;
};

static int list_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct list_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_guard_row *rows = NULL;
	size_t n = 0;
	int rc = versions(tx, &a, &rows, &n, err);
	j->out = json_array();
	for (size_t i = n; !rc && i-- > 0;) {
		json_t *v = json_loads(rows[i].value ? rows[i].value : "{}", 0, NULL);
		char t[KG_TIME_STR_MAX];
		json_array_append_new(
			j->out, json_pack("{s:O?, s:s, s:O?, s:O?}", "version", json_object_get(v, "version"),
					  "loaded_at", kg_time_format(rows[i].ts_ms, t), "by",
					  json_object_get(v, "by"), "rules_changed",
					  json_object_get(v, "rules_changed")));
		json_decref(v);
	}
	kg_arena_release(&a);
	return rc;
}

int kg_guard_policy_versions(kg_store *s, json_t **out, kg_err *err)
{
	struct list_job j = {NULL};
	int rc = kg_store_read(s, list_job, &j, err);
	if (rc) {
		json_decref(j.out);
		j.out = NULL;
	}
	*out = j.out;
	return rc;
}

json_t *kg_guard_suspect(kg_tx *tx, json_t *rules, int64_t now_ms, kg_arena *a, kg_err *err)
{
	kg_guard_row *rows = NULL;
	size_t n = 0;
	if (versions(tx, a, &rows, &n, err)) {
		kg_err_clear(err);
		return NULL;
	}
	for (size_t i = n; i-- > 0;) {
		if (rows[i].ts_ms < now_ms - 24 * 3600 * 1000LL)
			break;
		json_t *v = json_loads(rows[i].value ? rows[i].value : "{}", 0, NULL);
		if (json_is_true(json_object_get(v, "first"))) { /* nothing to compare with */
			json_decref(v);
			continue;
		}
		json_t *changed = json_object_get(v, "rules_changed"), *r, *c;
		size_t k, m;
		json_array_foreach(rules, k, r) {
			json_array_foreach(changed, m, c) {
				if (json_equal(r, c)) {
					char t[KG_TIME_STR_MAX];
					json_t *s = json_pack("{s:O, s:O, s:s}", "rule", r, "version",
							      json_object_get(v, "version"), "changed_at",
							      kg_time_format(rows[i].ts_ms, t));
					json_decref(v);
					return s;
				}
			}
		}
		json_decref(v);
	}
	return NULL;
}
