/* Authentication: `Authorization: Bearer kg_<id>_<secret>` → the stored
 * credential with that id, its secret hash compared in constant time,
 * expiry and revocation checked → a principal. Every failure is the same
 * 401 to the caller, byte for byte; the log says which (never the key).
 * Not here: role checks (server.c). */
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

/* The one answer to every refused credential. why (and the public id of a
 * stored credential, when there is one) go to the log only. */
static int refuse(kg_err *err, const char *why, const char *id)
{
	kg_log(KG_LOG_INFO, "auth", "credential refused: %s%s%s", why, id ? ", credential " : "",
	       id ? id : "");
	return kg_err_set(err, KG_EAUTH, "missing or invalid credential (Authorization: Bearer <key>)");
}

int kg_http_authenticate(kg_app *app, const char *authorization, kg_principal *out,
			 kg_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!authorization || !*authorization)
		return refuse(err, "no Authorization header", NULL);
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return refuse(err, "Authorization is not Bearer <key>", NULL);
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
	if (kg_token_parse(token, id, hash))
		return refuse(err, "not shaped like a kagi key", NULL);

	kg_arena arena;
	kg_arena_init(&arena, 1024);
	struct lookup l = {.id = id, .arena = &arena};
	kg_err e2;
	kg_err_clear(&e2);
	int rc = kg_store_read(app->store, lookup_job, &l, &e2);
	if (rc == KG_ENOTFOUND) {
		rc = refuse(err, "no such credential", id);
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
	if (!hash_ok) {
		rc = refuse(err, "wrong secret", id);
	} else if (!role) {
		rc = refuse(err, "stored with an unknown role", id);
	} else if (l.cred.revoked_ms) {
		rc = refuse(err, "revoked", id);
	} else if (l.cred.expires_ms && l.cred.expires_ms <= now) {
		rc = refuse(err, "expired", id);
	} else if ((role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET)) &&
		   (!l.cred.account_id || !*l.cred.account_id ||
		    strlen(l.cred.account_id) > KG_ID_MAX)) {
		rc = refuse(err, "bound to no valid account", id);
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
