/* Helpers for handlers: roles, tokens, replies, error bodies and JSON field
 * readers that name the field at fault. */
#include "http/http.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {"service", "agent", "admin", "customer", "ticket"};

const char *kg_role_name(unsigned role)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(role_names); i++)
		if (role == 1u << i)
			return role_names[i];
	return "?";
}

unsigned kg_role_parse(const char *name)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(role_names); i++)
		if (name && !strcmp(name, role_names[i]))
			return 1u << i;
	return 0;
}

/* ---- tokens ------------------------------------------------------------*/
#define SECRET_BYTES 32
#define SECRET_LEN 43 /* base64url, no padding, of 32 bytes */

static void hash_secret(const char *secret, size_t len, uint8_t out[KG_TOKEN_HASH_LEN])
{
	crypto_generichash(out, KG_TOKEN_HASH_LEN, (const unsigned char *)secret, len, NULL, 0);
}

void kg_token_new(kg_token *t)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t rnd[KG_TOKEN_ID_LEN], secret[SECRET_BYTES];
	kg_random_bytes(rnd, sizeof(rnd));
	kg_random_bytes(secret, sizeof(secret));
	for (size_t i = 0; i < KG_TOKEN_ID_LEN; i++)
		t->id[i] = alphabet[rnd[i] & 31];
	t->id[KG_TOKEN_ID_LEN] = '\0';
	char b64[SECRET_LEN + 1];
	sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(t->text, sizeof(t->text), "kg_%s_%s", t->id, b64);
	hash_secret(b64, SECRET_LEN, t->hash);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(b64, sizeof(b64));
}

int kg_token_parse(const char *text, char id_out[KG_TOKEN_ID_LEN + 1],
		   uint8_t hash_out[KG_TOKEN_HASH_LEN])
{
	if (!text || strlen(text) != 3 + KG_TOKEN_ID_LEN + 1 + SECRET_LEN ||
	    memcmp(text, "kg_", 3) != 0 || text[3 + KG_TOKEN_ID_LEN] != '_')
		return KG_EAUTH;
	for (size_t i = 0; i < KG_TOKEN_ID_LEN; i++) {
		char ch = text[3 + i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7')))
			return KG_EAUTH;
	}
	memcpy(id_out, text + 3, KG_TOKEN_ID_LEN);
	id_out[KG_TOKEN_ID_LEN] = '\0';
	hash_secret(text + 4 + KG_TOKEN_ID_LEN, SECRET_LEN, hash_out);
	return 0;
}

/* ---- request accessors -------------------------------------------------*/

const char *kg_http_param(const kg_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (!strcmp(req->param_names[i], name))
			return req->param_values[i];
	return NULL;
}

const char *kg_http_query(const kg_http_req *req, const char *name)
{
	return req->conn ? MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

const char *kg_http_header(const kg_http_req *req, const char *name)
{
	return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *kg_http_actor(const kg_http_req *req)
{
	if (!req->principal || !req->principal->role)
		return "anonymous";
	return kg_arena_printf(req->arena, "%s:%s", kg_role_name(req->principal->role),
			       req->principal->credential_id);
}

int kg_http_require_account(const kg_principal *p, const char *account_id, kg_err *err)
{
	if (p->role & KG_ROLES_STAFF)
		return 0;
	if ((p->role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET)) && p->account_id[0] && account_id &&
	    !strcmp(p->account_id, account_id))
		return 0;
	return kg_err_set(err, KG_EFORBIDDEN, "this credential may not act on that account");
}

/* ---- responses ---------------------------------------------------------*/

int kg_http_reply_json(kg_http_resp *resp, int status, json_t *j)
{
	json_decref(resp->json);
	resp->json = j;
	resp->status = status;
	return 0;
}

int kg_http_reply_raw(kg_http_resp *resp, int status, const char *content_type,
		      const void *data, size_t len)
{
	json_decref(resp->json);
	resp->json = NULL;
	kg_buf_release(&resp->body);
	kg_buf_init(&resp->body, len + 1);
	if (kg_buf_append(&resp->body, data, len))
		return KG_ENOMEM;
	resp->status = status;
	resp->content_type = content_type;
	return 0;
}

json_t *kg_http_error_json(const char *code, const char *message, const char *field)
{
	json_t *j = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code, "message", message, "field",
			      field ? json_string(field) : json_null());
	if (j || !message)
		return j;
	/* a message quoting input that is not UTF-8 (a parser's "near ..."):
	 * the same message with such bytes as '?' */
	char safe[KG_ERR_MSG_MAX];
	snprintf(safe, sizeof(safe), "%s", message);
	for (char *p = safe; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	return json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code, "message", safe, "field",
			 field ? json_string(field) : json_null());
}

int kg_http_reply_error(kg_http_resp *resp, int status, const char *code, const char *field,
			const char *fmt, ...)
{
	char msg[KG_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kg_http_reply_json(resp, status, kg_http_error_json(code, msg, field));
}

json_t *kg_http_evidence_json(const char *text)
{
	if (!text || !*text)
		return NULL;
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	if (json_is_object(j))
		return j;
	json_decref(j);
	return json_pack("{s:s}", "text", text);
}

int kg_http_resp_header(kg_http_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders >= KG_HTTP_RESP_HEADERS_MAX)
		return KG_ELIMIT;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return KG_ENOMEM;
	}
	resp->header_names[resp->nheaders] = n;
	resp->header_values[resp->nheaders++] = v;
	return 0;
}

int kg_http_status_of(int code)
{
	switch (code) {
	case KG_EINVAL: return 400;
	case KG_EAUTH: return 401;
	case KG_EFORBIDDEN: return 403;
	case KG_ENOTFOUND: return 404;
	case KG_ECONFLICT: return 409;
	case KG_ELIMIT: return 413;
	case KG_EBUSY: return 503;
	case KG_EIO: return 503;
	case KG_EFULL: return 507;
	case KG_ETHROTTLED: return 429;
	default: return 500;
	}
}

/* ---- JSON field readers ------------------------------------------------*/

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
