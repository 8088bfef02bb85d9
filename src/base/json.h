/* kagi base: JSON field readers that name the field at fault (json.c). */
#ifndef KG_BASE_JSON_H
#define KG_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* JSON field readers that name the field on error. prefix (may be NULL)
 * is the path of obj, e.g. "address": errors then say "address.city".
 * *out is borrowed from obj. Missing optional fields leave *out untouched
 * and return 0. Strings: max bytes (UTF-8), no NUL. */
int kg_json_str(const json_t *obj, const char *prefix, const char *key, bool required,
		size_t max, const char **out, kg_err *err);
int kg_json_int(const json_t *obj, const char *prefix, const char *key, bool required,
		int64_t min, int64_t max, int64_t *out, kg_err *err);
int kg_json_bool(const json_t *obj, const char *prefix, const char *key, bool required,
		 bool *out, kg_err *err);
/* Objects and arrays: *out borrowed. */
int kg_json_obj(const json_t *obj, const char *prefix, const char *key, bool required,
		json_t **out, kg_err *err);
int kg_json_arr(const json_t *obj, const char *prefix, const char *key, bool required,
		size_t max_items, json_t **out, kg_err *err);

#endif
