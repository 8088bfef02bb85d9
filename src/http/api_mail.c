/* POST /v1/mail/check: is this email really from the shop? The raw message
 * is the body; ?account= names the account to cross-check (a customer key
 * checks its own account). The analysis is src/mail; this file only maps
 * HTTP to it, and loads the shop profile when kagid starts. */
#include "http/internal.h"

#include <string.h>

#include "mail/mail.h"

int kg_api_mail_start(kg_app *app, kg_err *err)
{
	app->mail_profile = NULL;
	if (!app->config || !app->config->shop_profile[0])
		return 0; /* no profile: the route answers 503 */
	int rc = kg_mail_profile_load(app->config->shop_profile, &app->mail_profile, err);
	if (rc)
		kg_log(KG_LOG_ERROR, "mail", "shop.profile: %s", err ? err->msg : "");
	return rc;
}

void kg_api_mail_stop(kg_app *app)
{
	kg_mail_profile_free(app->mail_profile);
	app->mail_profile = NULL;
}

int kg_api_mail_check(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	if (!req->app->mail_profile)
		return kg_http_reply_error(resp, 503, "unavailable", NULL,
					   "no shop profile is configured (shop.profile)");
	const char *ct = req->content_type;
	if (ct && strncmp(ct, "message/rfc822", 14) && strncmp(ct, "text/plain", 10) &&
	    strncmp(ct, "application/octet-stream", 24))
		return kg_err_field(err, KG_EINVAL, "body",
				    "send the raw message as message/rfc822 (got %s)", ct);
	if (!req->body_len)
		return kg_err_field(err, KG_EINVAL, "body", "empty: send the raw message");
	const char *account = kg_http_query(req, "account");
	const kg_principal *p = req->principal;
	if (!account && (p->role == KG_ROLE_CUSTOMER || p->role == KG_ROLE_TICKET))
		account = p->account_id;
	if (account) {
		if (!*account || strlen(account) > KG_ID_MAX)
			return kg_err_field(err, KG_EINVAL, "account", "1 to %d bytes", KG_ID_MAX);
		int rc = kg_http_require_account(p, account, err);
		if (rc)
			return rc;
	}
	kg_mail_query q = {.account_id = account, .lookup = account ? kg_mail_store_lookup : NULL,
			   .lookup_ctx = req->app->store};
	kg_mail_result *r = kg_arena_alloc(req->arena, sizeof(*r));
	int rc = kg_mail_check(req->app->mail_profile, req->body, req->body_len, &q, r, err);
	if (rc == KG_EINVAL && !err->field[0])
		snprintf(err->field, sizeof(err->field), "body");
	if (rc)
		return rc;
	kg_buf out = KG_BUF_INIT(1024 * 1024);
	rc = kg_buf_putc(&out, '{');
	if (!rc && account) {
		rc = kg_buf_puts(&out, "\"account\":");
		rc = rc ? rc : kg_buf_json_str(&out, account, strlen(account));
		rc = rc ? rc : kg_buf_putc(&out, ',');
	}
	rc = rc ? rc : kg_mail_result_json(r, &out);
	rc = rc ? rc : kg_buf_putc(&out, '}');
	if (!rc)
		rc = kg_http_reply_raw(resp, 200, "application/json", out.data, out.len);
	kg_buf_release(&out);
	return rc ? kg_err_set(err, rc, "cannot build the answer") : 0;
}
