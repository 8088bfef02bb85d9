/* Authentication: `Authorization: Bearer kg_<id>_<secret>` → the stored
 * credential with that id, its secret hash compared in constant time,
 * expiry and revocation checked → a principal. Every failure is the same
 * 401 to the caller (the log says which). Not here: role checks (server.c). */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

struct lookup {
	const char *id;
	kg_credential cred;
	kg_arena *arena;
};

static int lookup_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct lookup *l = ctx;
	return kg_tx_credential_get(tx, l->id, &l->cred, l->arena, err);
}

int kg_http_authenticate(kg_app *app, const char *authorization, kg_principal *out,
			 kg_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!authorization || !*authorization)
		return kg_err_set(err, KG_EAUTH, "missing credential (Authorization: Bearer <key>)");
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return kg_err_set(err, KG_EAUTH, "Authorization must be \"Bearer <key>\"");
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
	if (kg_token_parse(token, id, hash))
		return kg_err_set(err, KG_EAUTH, "invalid credential");

	kg_arena arena;
	kg_arena_init(&arena, 1024);
	struct lookup l = {.id = id, .arena = &arena};
	kg_err e2;
	kg_err_clear(&e2);
	int rc = kg_store_read(app->store, lookup_job, &l, &e2);
	if (rc == KG_ENOTFOUND) {
		rc = kg_err_set(err, KG_EAUTH, "invalid credential");
		goto cleanup;
	}
	if (rc) { /* a storage failure is not the caller's fault */
		*err = e2;
		goto cleanup;
	}
	int64_t now = kg_now_ms();
	bool hash_ok = l.cred.secret_hash_len == KG_TOKEN_HASH_LEN &&
		       kg_ct_equal(l.cred.secret_hash, hash, KG_TOKEN_HASH_LEN);
	unsigned role = kg_role_parse(l.cred.role);
	if (!hash_ok || !role) {
		rc = kg_err_set(err, KG_EAUTH, "invalid credential");
	} else if (l.cred.revoked_ms) {
		rc = kg_err_set(err, KG_EAUTH, "credential revoked");
	} else if (l.cred.expires_ms && l.cred.expires_ms <= now) {
		rc = kg_err_set(err, KG_EAUTH, "credential expired");
	} else if ((role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET)) &&
		   (!l.cred.account_id || !*l.cred.account_id ||
		    strlen(l.cred.account_id) > KG_ID_MAX)) {
		rc = kg_err_set(err, KG_EAUTH, "invalid credential");
	} else {
		out->role = role;
		snprintf(out->credential_id, sizeof(out->credential_id), "%s", id);
		if (l.cred.account_id)
			snprintf(out->account_id, sizeof(out->account_id), "%s", l.cred.account_id);
	}
cleanup:
	kg_arena_release(&arena);
	return rc;
}
