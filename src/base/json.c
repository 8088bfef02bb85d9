/* JSON field readers that name the field at fault ("address.city: is
 * required"), shared by the HTTP handlers and the modules that take JSON
 * bodies (account creation). Not here: parsing (jansson). */
#include "base/json.h"

#include <string.h>

static void path_of(char *out, size_t n, const char *prefix, const char *key)
{
	if (prefix && *prefix)
		snprintf(out, n, "%s.%s", prefix, key);
	else
		snprintf(out, n, "%s", key);
}

/* Looks key up; 1 when present (and not null), 0 when absent and optional,
 * negative (error set) when absent and required. */
static int lookup(const json_t *obj, const char *prefix, const char *key, bool required,
		  json_t **v, char *path, size_t pathn, kg_err *err)
{
	path_of(path, pathn, prefix, key);
	*v = json_object_get(obj, key);
	if (*v && !json_is_null(*v))
		return 1;
	if (required)
		return kg_err_field(err, KG_EINVAL, path, "is required");
	return 0;
}

int kg_json_str(const json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, const char **out, kg_err *err)
{
	char path[KG_ERR_FIELD_MAX];
	json_t *v;
	int rc = lookup(obj, prefix, key, required, &v, path, sizeof(path), err);
	if (rc <= 0)
		return rc;
	if (!json_is_string(v))
		return kg_err_field(err, KG_EINVAL, path, "expected a string");
	size_t len = json_string_length(v);
	if (len > max)
		return kg_err_field(err, KG_EINVAL, path, "longer than %zu bytes", max);
	if (memchr(json_string_value(v), '\0', len))
		return kg_err_field(err, KG_EINVAL, path, "contains a NUL character");
	*out = json_string_value(v);
	return 0;
}

int kg_json_int(const json_t *obj, const char *prefix, const char *key, bool required,
		int64_t min, int64_t max, int64_t *out, kg_err *err)
{
	char path[KG_ERR_FIELD_MAX];
	json_t *v;
	int rc = lookup(obj, prefix, key, required, &v, path, sizeof(path), err);
	if (rc <= 0)
		return rc;
	if (!json_is_integer(v))
		return kg_err_field(err, KG_EINVAL, path, "expected an integer");
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return kg_err_field(err, KG_EINVAL, path, "%lld is outside %lld..%lld", (long long)x,
				    (long long)min, (long long)max);
	*out = x;
	return 0;
}

int kg_json_bool(const json_t *obj, const char *prefix, const char *key, bool required,
		 bool *out, kg_err *err)
{
	char path[KG_ERR_FIELD_MAX];
	json_t *v;
	int rc = lookup(obj, prefix, key, required, &v, path, sizeof(path), err);
	if (rc <= 0)
		return rc;
	if (!json_is_boolean(v))
		return kg_err_field(err, KG_EINVAL, path, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

int kg_json_obj(const json_t *obj, const char *prefix, const char *key, bool required,
		json_t **out, kg_err *err)
{
	char path[KG_ERR_FIELD_MAX];
	json_t *v;
	int rc = lookup(obj, prefix, key, required, &v, path, sizeof(path), err);
	if (rc <= 0)
		return rc;
	if (!json_is_object(v))
		return kg_err_field(err, KG_EINVAL, path, "expected an object");
	*out = v;
	return 0;
}

int kg_json_arr(const json_t *obj, const char *prefix, const char *key, bool required,
		size_t max_items, json_t **out, kg_err *err)
{
	char path[KG_ERR_FIELD_MAX];
	json_t *v;
	int rc = lookup(obj, prefix, key, required, &v, path, sizeof(path), err);
	if (rc <= 0)
		return rc;
	if (!json_is_array(v))
		return kg_err_field(err, KG_EINVAL, path, "expected an array");
	if (json_array_size(v) > max_items)
		return kg_err_field(err, KG_EINVAL, path, "more than %zu items", max_items);
	*out = v;
	return 0;
}
