/* Helpers for handlers: request accessors, replies and error bodies. Roles
 * and tokens are the account module's; the JSON field readers are base's. */
#include "http/http.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

kg_buf *kg_http_body_start(kg_http_resp *resp, size_t max)
{
	json_decref(resp->json);
	resp->json = NULL;
	kg_buf_release(&resp->body);
	kg_buf_init(&resp->body, max);
	return &resp->body;
}

int kg_http_body_done(kg_http_resp *resp, int status, const char *content_type, int rc)
{
	if (!rc && !resp->body.data)
		rc = kg_buf_append(&resp->body, "", 0);
	if (rc) {
		kg_buf_release(&resp->body);
		return rc;
	}
	resp->status = status;
	resp->content_type = content_type;
	return 0;
}

int kg_http_reply_raw(kg_http_resp *resp, int status, const char *content_type,
		      const void *data, size_t len)
{
	kg_buf *b = kg_http_body_start(resp, len + 1);
	return kg_http_body_done(resp, status, content_type,
				 kg_buf_append(b, data, len) ? KG_ENOMEM : 0);
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
