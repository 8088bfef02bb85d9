/* Policy versions: every policy load stored (content hash, time, who,
 * which rules changed against the previous version), and the suspect of a
 * trip. Rows: policy/<loaded_ms, 15 digits>|<version>, value
 * {"version","by","rules_changed":[...],"rules":{name: hash}}; policy/last:
 * value the newest version's key. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard_impl.h"

/* {name: content} of each rule of the policy: its hash
 * (kg_policy_rule_info), "pending:" or "shadow:" before it when it does not
 * act, so that a promotion (pending to live) is a change of the rule. */
static json_t *rule_hashes(const kg_policy *p)
{
	struct kg_policy_rule_info info[KG_RULES_MAX];
	size_t n = kg_policy_rules(p, info, KG_RULES_MAX);
	json_t *m = json_object();
	for (size_t i = 0; i < n; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%s%s",
			 info[i].shadow ? "shadow:" : info[i].pending ? "pending:" : "", info[i].hash);
		json_object_set_new(m, info[i].name, json_string(v));
	}
	return m;
}

struct load_job {
	const char *version, *by;
	json_t *hashes;
	json_t *extra; /* more members of the version (a promotion's), or NULL */
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
	if (v && j->extra)
		json_object_update_missing(v, j->extra);
	text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(v);
	if (!text) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((rc = kg_tx_guard_put(tx, &(kg_guard_row){"policy", key, text, 0, now}, err)) ||
	    (rc = kg_tx_guard_put(tx, &(kg_guard_row){"policy", "last", key, 0, now}, err)))
		goto cleanup;
	if (!j->extra) /* (a promotion is audited as one) */
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
	struct load_job j = {kg_policy_version(p), by ? by : "system", rule_hashes(p), NULL};
	int rc = j.hashes ? kg_store_write(s, load_job, &j, err)
			  : kg_err_set(err, KG_ENOMEM, "out of memory");
	json_decref(j.hashes);
	return rc;
}

int kg_guard_version_record(kg_tx *tx, const kg_policy *p, const char *by, json_t *extra,
			    kg_err *err)
{
	struct load_job j = {kg_policy_version(p), by ? by : "system", rule_hashes(p), extra};
	int rc = j.hashes ? load_job(tx, &j, err) : kg_err_set(err, KG_ENOMEM, "out of memory");
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
		json_t *o = json_pack("{s:O?, s:s, s:O?, s:O?}", "version", json_object_get(v, "version"),
				      "loaded_at", kg_time_format(rows[i].ts_ms, t), "by",
				      json_object_get(v, "by"), "rules_changed",
				      json_object_get(v, "rules_changed"));
		static const char *const more[] = {"promoted", "demoted", "forced", "reason"};
		for (size_t k = 0; o && k < KG_ARRAY_LEN(more); k++)
			if (json_object_get(v, more[k]))
				json_object_set(o, more[k], json_object_get(v, more[k]));
		json_array_append_new(j->out, o);
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
