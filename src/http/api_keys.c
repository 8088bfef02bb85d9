/* Admin endpoints for API keys: GET /v1/keys, POST /v1/keys (the key is in
 * the answer, once), DELETE /v1/keys/{id}. Customer tokens and lock tickets
 * are not made here (the account module issues them). */
#include "http/internal.h"

#include <string.h>

int kg_api_keys_list(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *keys = NULL;
	int rc = kg_account_keys_list(req->app->store, &keys, err);
	return rc ? rc : kg_http_reply_json(resp, 200, keys);
}

int kg_api_keys_create(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *role = NULL, *label = NULL;
	int64_t ttl_s = 0;
	int rc = kg_json_str(req->json, NULL, "role", true, 16, &role, err);
	rc = rc ? rc : kg_json_str(req->json, NULL, "label", false, 256, &label, err);
	rc = rc ? rc : kg_json_int(req->json, NULL, "ttl_s", false, 1, 10LL * 366 * 86400, &ttl_s, err);
	if (rc)
		return rc;
	unsigned r = kg_role_parse(role);
	if (!(r & KG_ROLES_STAFF))
		return kg_err_field(err, KG_EINVAL, "role", "expected service, agent or admin");
	kg_token tok;
	rc = kg_account_credential_create(req->app->store, r, NULL, ttl_s, label, kg_http_actor(req), &tok, err);
	if (rc == 0) {
		char ts[KG_TIME_STR_MAX];
		rc = kg_http_reply_json(resp, 201,
					json_pack("{s:s,s:s,s:s,s:o,s:o}", "key", tok.text, "id", tok.id,
						  "role", role, "label", label ? json_string(label) : json_null(),
						  "expires", ttl_s ? json_string(kg_time_format(kg_now_ms() + ttl_s * 1000, ts))
								   : json_null()));
	}
	memset(&tok, 0, sizeof(tok));
	return rc;
}

int kg_api_keys_revoke(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	int rc = kg_account_credential_revoke(req->app->store, id, kg_http_actor(req), err);
	return rc ? rc : kg_http_reply_json(resp, 200, json_pack("{s:s,s:s}", "id", id, "state", "revoked"));
}
