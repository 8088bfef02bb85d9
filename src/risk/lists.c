/* The store's named value lists that a policy reads with `list NAME from
 * store`: edits (audited in the system-wide chain) and reads, each one
 * store transaction. Not here: loading them into a policy (rules.c). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk.h"
#include "store/store.h"

struct edit_job {
	const char *name, *actor;
	bool add;
	const char *const *values;
	size_t n, changed;
};

static int edit_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct edit_job *j = ctx;
	json_t *changed = json_array();
	int rc = changed ? 0 : kg_err_set(err, KG_ENOMEM, "out of memory");
	j->changed = 0;
	for (size_t i = 0; rc == 0 && i < j->n; i++) {
		bool there = false;
		if (j->add && (rc = kg_tx_list_contains(tx, j->name, j->values[i], &there, err)))
			break;
		if (there) /* adding a value already there changes nothing */
			continue;
		rc = j->add ? kg_tx_list_add(tx, j->name, j->values[i], err)
			    : kg_tx_list_remove(tx, j->name, j->values[i], err);
		if (rc == 0) {
			json_array_append_new(changed, json_string(j->values[i]));
			j->changed++;
		}
	}
	char *detail = NULL;
	if (rc == 0 && j->changed) {
		json_t *d = json_pack("{s:s,s:O}", "list", j->name, "values", changed);
		detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
		json_decref(d);
		kg_audit_entry e = {.account_id = "", .actor = j->actor,
				    .action = j->add ? "list_add" : "list_remove",
				    .detail = detail ? detail : "{}"};
		rc = kg_tx_audit_append(tx, &e, NULL, err);
	}
	free(detail);
	json_decref(changed);
	return rc;
}

int kg_risk_list_edit(struct kg_store *s, const char *name, bool add, const char *const *values,
		      size_t n, const char *actor, size_t *changed, kg_err *err)
{
	if (!name || !*name)
		return kg_err_field(err, KG_EINVAL, "name", "a list needs a name");
	for (size_t i = 0; i < n; i++)
		if (!values[i] || !*values[i])
			return kg_err_field(err, KG_EINVAL, "value", "a list value must not be empty");
	struct edit_job j = {.name = name, .actor = actor, .add = add, .values = values, .n = n};
	int rc = kg_store_write(s, edit_job, &j, err);
	if (changed)
		*changed = rc ? 0 : j.changed;
	return rc;
}

struct values_job {
	const char *name;
	kg_arena *a;
	const char **values;
	size_t n;
};

static int values_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct values_job *j = ctx;
	return kg_tx_list_values(tx, j->name, j->a, &j->values, &j->n, err);
}

int kg_risk_list_values(struct kg_store *s, const char *name, kg_arena *a, const char ***out,
			size_t *n, kg_err *err)
{
	struct values_job j = {.name = name, .a = a};
	int rc = kg_store_read(s, values_job, &j, err);
	*out = rc ? NULL : j.values;
	*n = rc ? 0 : j.n;
	return rc;
}
