/* Console sessions (docs/console.md): an agent or admin exchanges an API key,
 * a customer an email and password (the login gate), for a session cookie.
 * A session is a credential in the store like any other (only the hash of
 * its secret is kept; expiry and revocation are checked on every request):
 * a staff session is a credential of the key's role labelled with the key it
 * came from, and ends when that key is revoked; a customer's session is the
 * customer token or lock ticket the login gate issued.
 *
 * On the API routes a request without Authorization may carry the cookie
 * instead; a state-changing request with the cookie must also carry
 * X-CSRF-Token (a value derived from the session's secret, compared in
 * constant time) and, when the browser sends one, an Origin of this host.
 * Not here: role checks (server.c), the console's files (console.c). */
#include "http/internal.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

#define COOKIE "kagi_session"
#define DEVICE_COOKIE "kagi_device"
#define CSRF_HEADER "X-CSRF-Token"
#define CSRF_BYTES 16
#define CSRF_HEX (2 * CSRF_BYTES)
#define STAFF_SESSION_S (8 * 3600)
#define STAFF_LABEL "console session of "

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static bool is_safe_method(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

/* The CSRF token of a session: BLAKE2b-128 keyed with the session token,
 * as hex. Only a page that can read kagid's answers (same origin) learns it. */
static void csrf_of(const char *token, char out[CSRF_HEX + 1])
{
	static const char ctx[] = "kagi console csrf v1";
	uint8_t mac[CSRF_BYTES];
	size_t klen = strlen(token);
	if (klen > crypto_generichash_KEYBYTES_MAX)
		klen = crypto_generichash_KEYBYTES_MAX;
	crypto_generichash(mac, sizeof(mac), (const unsigned char *)ctx, sizeof(ctx) - 1,
			   (const unsigned char *)token, klen);
	kg_hex(mac, sizeof(mac), out);
}

/* A browser's request from another site: Origin names another host than
 * Host, or Sec-Fetch-Site says cross-site. Requests without either header
 * (not from a browser) pass; the CSRF token still guards cookie requests. */
static bool cross_origin(struct MHD_Connection *c)
{
	const char *site = header(c, "Sec-Fetch-Site");
	if (site && !strcasecmp(site, "cross-site"))
		return true;
	const char *origin = header(c, "Origin"), *host = header(c, MHD_HTTP_HEADER_HOST);
	if (!origin)
		return false;
	const char *sep = strstr(origin, "://");
	return !host || !sep || strcasecmp(sep + 3, host) != 0;
}

/* Secure cookies when the page was reached over TLS (kagid behind a TLS
 * proxy: the browser's Origin, or the proxy's X-Forwarded-Proto). */
static bool over_tls(struct MHD_Connection *c)
{
	const char *origin = header(c, "Origin"), *proto = header(c, "X-Forwarded-Proto");
	return (origin && !strncasecmp(origin, "https://", 8)) || (proto && !strcasecmp(proto, "https"));
}

struct lookup {
	const char *id;
	kg_credential cred, parent;
	bool has_parent;
	kg_arena arena;
};

static int lookup_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct lookup *l = ctx;
	int rc = kg_tx_credential_get(tx, l->id, &l->cred, &l->arena, err);
	if (rc || !l->cred.label || strncmp(l->cred.label, STAFF_LABEL, strlen(STAFF_LABEL)))
		return rc;
	rc = kg_tx_credential_get(tx, l->cred.label + strlen(STAFF_LABEL), &l->parent, &l->arena, err);
	l->has_parent = rc == 0;
	return rc == KG_ENOTFOUND ? 0 : rc;
}

/* The principal of a session token. A staff session acts as the key it came
 * from (audit entries and identity checks name that key) and ends with it. */
static int session_principal(kg_app *app, const char *token, kg_principal *out, int64_t *expires_ms,
			     kg_err *err)
{
	char bearer[KG_TOKEN_MAX + 8];
	snprintf(bearer, sizeof(bearer), "Bearer %s", token);
	int rc = kg_http_authenticate(app, bearer, out, err);
	if (rc)
		return rc;
	struct lookup l = {.id = out->credential_id};
	kg_arena_init(&l.arena, 1024);
	rc = kg_store_read(app->store, lookup_job, &l, err);
	if (rc == 0) {
		*expires_ms = l.cred.expires_ms;
		if (l.cred.label && !strncmp(l.cred.label, STAFF_LABEL, strlen(STAFF_LABEL))) {
			const kg_credential *p = &l.parent;
			if (!l.has_parent || p->revoked_ms || (p->expires_ms && p->expires_ms <= kg_now_ms()) ||
			    strcmp(p->role, l.cred.role))
				rc = kg_err_set(err, KG_EAUTH, "the key of this session was revoked");
			else
				snprintf(out->credential_id, sizeof(out->credential_id), "%s", p->id);
		}
	}
	kg_arena_release(&l.arena);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int kg_http_request_principal(kg_app *app, struct MHD_Connection *c, const char *method,
			      kg_principal *out, kg_err *err)
{
	const char *auth = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
	if (auth || !cookie)
		return kg_http_authenticate(app, auth, out, err);
	int64_t expires = 0;
	int rc = session_principal(app, cookie, out, &expires, err);
	if (rc || is_safe_method(method))
		return rc;
	char want[CSRF_HEX + 1];
	csrf_of(cookie, want);
	const char *got = header(c, CSRF_HEADER);
	if (cross_origin(c))
		rc = kg_err_set(err, KG_EFORBIDDEN, "cross-origin request refused");
	else if (!got || strlen(got) != CSRF_HEX || !kg_ct_equal(got, want, CSRF_HEX))
		rc = kg_err_set(err, KG_EFORBIDDEN, "missing or wrong " CSRF_HEADER " header");
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- /console/session ---------------------------------------------------*/

static int set_cookie(kg_http_resp *resp, struct MHD_Connection *c, const char *token,
		      int64_t max_age_s)
{
	char v[KG_TOKEN_MAX + 128];
	snprintf(v, sizeof(v), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
		 token, (long long)(max_age_s > 0 ? max_age_s : 0), over_tls(c) ? "; Secure" : "");
	return kg_http_resp_header(resp, "Set-Cookie", v);
}

/* The session for the page; reset_lifts (policy.reset_lifts) tells the lock
 * page which locks a password reset lifts. */
static json_t *session_json(const kg_config *cfg, const char *role, const char *account,
			    const char *token, int64_t expires_ms)
{
	char csrf[CSRF_HEX + 1], t[KG_TIME_STR_MAX];
	csrf_of(token, csrf);
	json_t *lifts = json_array();
	for (const char *p = cfg->reset_lifts; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, " ,");
		if (n)
			json_array_append_new(lifts, json_stringn(p, n));
		p += n;
	}
	return json_pack("{s:s, s:s?, s:s, s:s, s:o}", "role", role, "account",
			 account && *account ? account : NULL, "csrf", csrf, "expires",
			 kg_time_format(expires_ms, t), "reset_lifts", lifts);
}

/* Moves the token of a login answer (field name) into the cookie and puts
 * the session in its place. */
static int login_to_cookie(kg_http_req *req, kg_http_resp *resp, const char *field,
			   const char *expires_field, const char *role)
{
	json_t *tok = json_object_get(resp->json, field);
	const char *token = json_string_value(tok);
	int64_t exp = 0;
	const char *exp_text = json_string_value(json_object_get(resp->json, expires_field));
	if (!token || !exp_text || kg_time_parse(exp_text, strlen(exp_text), &exp))
		return 0;
	int rc = set_cookie(resp, req->conn, token, (exp - kg_now_ms()) / 1000);
	json_object_set_new(resp->json, "session",
			    session_json(req->app->config, role, json_string_value(json_object_get(resp->json, "account")),
					 token, exp));
	json_object_del(resp->json, field);
	return rc;
}

static int staff_sign_in(kg_http_req *req, kg_http_resp *resp, const char *key, kg_err *err)
{
	char bearer[KG_TOKEN_MAX + 8];
	if (strlen(key) >= KG_TOKEN_MAX)
		return kg_err_set(err, KG_EAUTH, "invalid credential");
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	kg_principal p;
	int rc = kg_http_authenticate(req->app, bearer, &p, err);
	if (rc)
		return rc;
	if (p.role != KG_ROLE_AGENT && p.role != KG_ROLE_ADMIN)
		return kg_err_field(err, KG_EFORBIDDEN, "key", "the console signs in agent and admin keys");
	char label[KG_ID_MAX + 32];
	snprintf(label, sizeof(label), STAFF_LABEL "%s", p.credential_id);
	const char *actor = kg_arena_printf(req->arena, "%s:%s", kg_role_name(p.role), p.credential_id);
	kg_token tok;
	if ((rc = kg_account_credential_create(req->app->store, p.role, NULL, STAFF_SESSION_S, label, actor,
					    &tok, err)))
		return rc;
	int64_t exp = kg_now_ms() + STAFF_SESSION_S * 1000;
	rc = set_cookie(resp, req->conn, tok.text, STAFF_SESSION_S);
	kg_http_reply_json(resp, 200,
			   json_pack("{s:s, s:o}", "result", "ok", "session",
				     session_json(req->app->config, kg_role_name(p.role), NULL, tok.text, exp)));
	sodium_memzero(&tok, sizeof(tok));
	return rc;
}

/* The login gate exactly as POST /v1/login runs it, with the client's own
 * address and browser (a browser may not claim another ip). */
static int customer_sign_in(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_object_del(req->json, "ip");
	json_object_del(req->json, "country");
	json_object_del(req->json, "device_id");
	/* the browser's device id: a random id in its own cookie (not a secret),
	 * so the risk engine's new-device rules see console sign-ins too */
	const char *dev = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, DEVICE_COOKIE);
	char fresh[40];
	if (!dev || strlen(dev) != strlen("web-") + 32 || strncmp(dev, "web-", 4) ||
	    strspn(dev + 4, "0123456789abcdef") != 32) {
		uint8_t rnd[16];
		kg_random_bytes(rnd, sizeof(rnd));
		memcpy(fresh, "web-", 4);
		kg_hex(rnd, sizeof(rnd), fresh + 4);
		dev = fresh;
		char v[128];
		snprintf(v, sizeof(v), DEVICE_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", dev,
			 366 * 86400, over_tls(req->conn) ? "; Secure" : "");
		kg_http_resp_header(resp, "Set-Cookie", v);
	}
	json_object_set_new(req->json, "device_id", json_string(dev));
	const char *ua = kg_http_header(req, "User-Agent");
	if (ua && strlen(ua) <= 1024)
		json_object_set_new(req->json, "user_agent", json_string(ua));
	else
		json_object_del(req->json, "user_agent");
	int rc = kg_api_login(req, resp, err);
	if (rc || !resp->json)
		return rc;
	if (json_object_get(resp->json, "token"))
		return login_to_cookie(req, resp, "token", "expires", "customer");
	if (json_object_get(resp->json, "ticket"))
		return login_to_cookie(req, resp, "ticket", "ticket_expires", "ticket");
	return 0;
}

int kg_console_session_create(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	if (cross_origin(req->conn))
		return kg_err_set(err, KG_EFORBIDDEN, "cross-origin request refused");
	const char *key = NULL;
	int rc = kg_json_str(req->json, NULL, "key", false, KG_TOKEN_MAX, &key, err);
	if (rc)
		return rc;
	if (key)
		return staff_sign_in(req, resp, key, err);
	if (!json_object_get(req->json, "email"))
		return kg_err_field(err, KG_EINVAL, "key", "give an API key, or an email and password");
	return customer_sign_in(req, resp, err);
}

int kg_console_session_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	(void)err;
	const char *cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, COOKIE);
	kg_principal p;
	int64_t exp = 0;
	kg_err e2;
	kg_err_clear(&e2);
	if (!cookie || session_principal(req->app, cookie, &p, &exp, &e2))
		return kg_http_reply_json(resp, 200, json_pack("{s:n}", "session"));
	return kg_http_reply_json(resp, 200,
				  json_pack("{s:o}", "session",
					    session_json(req->app->config, kg_role_name(p.role), p.account_id, cookie,
							 exp)));
}

int kg_console_session_delete(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *cookie = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, COOKIE);
	kg_principal p;
	int64_t exp = 0;
	kg_err e2;
	kg_err_clear(&e2);
	if (cookie && session_principal(req->app, cookie, &p, &exp, &e2) == 0) {
		char want[CSRF_HEX + 1];
		csrf_of(cookie, want);
		const char *got = kg_http_header(req, CSRF_HEADER);
		if (cross_origin(req->conn) || !got || strlen(got) != CSRF_HEX ||
		    !kg_ct_equal(got, want, CSRF_HEX))
			return kg_err_set(err, KG_EFORBIDDEN, "missing or wrong " CSRF_HEADER " header");
		char id[KG_TOKEN_ID_LEN + 1];
		uint8_t hash[KG_TOKEN_HASH_LEN];
		const char *actor = p.account_id[0] ? kg_role_name(p.role) :
			kg_arena_printf(req->arena, "%s:%s", kg_role_name(p.role), p.credential_id);
		int rc = kg_token_parse(cookie, id, hash);
		if (rc == 0 && (rc = kg_account_credential_revoke(req->app->store, id, actor, err)) &&
		    rc != KG_ECONFLICT)
			return rc;
	}
	int rc = set_cookie(resp, req->conn, "", 0);
	kg_http_reply_json(resp, 200, json_pack("{s:n}", "session"));
	return rc;
}

/* ---- password reset from the console --------------------------------------
 * The same handlers as POST /v1/recovery/start and finish, with the client's own address: a
 * browser may not name another ip (the per-address limits count it). */
int kg_console_recovery_start(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	if (cross_origin(req->conn))
		return kg_err_set(err, KG_EFORBIDDEN, "cross-origin request refused");
	json_object_del(req->json, "ip");
	return kg_api_recovery_start(req, resp, err);
}

int kg_console_recovery_finish(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	if (cross_origin(req->conn))
		return kg_err_set(err, KG_EFORBIDDEN, "cross-origin request refused");
	json_object_del(req->json, "ip");
	return kg_api_recovery_finish(req, resp, err);
}
