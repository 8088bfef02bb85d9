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

/* ---- managing keys (CLI and /v1/keys) -----------------------------------
 * Every change is audited in the system-wide chain ("") for API keys, or in
 * the account's chain for customer/ticket credentials. */

static int audit(kg_tx *tx, const char *account_id, const char *actor, const char *action,
		 const char *id, const char *role, kg_err *err)
{
	json_t *d = json_pack("{s:s,s:s}", "credential", id, "role", role ? role : "");
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	kg_audit_entry e = {.account_id = account_id ? account_id : "", .actor = actor,
			    .action = action, .detail = text ? text : "{}"};
	int rc = kg_tx_audit_append(tx, &e, NULL, err);
	free(text);
	return rc;
}

struct insert {
	kg_credential cred;
	const char *actor;
};

static int insert_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct insert *in = ctx;
	int rc = kg_tx_credential_insert(tx, &in->cred, err);
	return rc ? rc : audit(tx, in->cred.account_id, in->actor, "credential_create", in->cred.id,
			       in->cred.role, err);
}

int kg_http_credential_create(struct kg_store *store, unsigned role, const char *account_id,
			      int64_t ttl_s, const char *label, const char *actor, kg_token *out,
			      kg_err *err)
{
	bool bound = role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET);
	if (!kg_role_parse(kg_role_name(role)))
		return kg_err_field(err, KG_EINVAL, "role", "unknown role");
	if (bound != (account_id && *account_id))
		return kg_err_field(err, KG_EINVAL, "account_id",
				    bound ? "a %s credential needs an account" :
					    "only customer and ticket credentials name an account",
				    kg_role_name(role));
	kg_token_new(out);
	struct insert in = {.cred = {.id = out->id, .secret_hash = out->hash,
				     .secret_hash_len = KG_TOKEN_HASH_LEN, .role = kg_role_name(role),
				     .account_id = bound ? account_id : NULL,
				     .expires_ms = ttl_s ? kg_now_ms() + ttl_s * 1000 : 0,
				     .label = label},
			    .actor = actor};
	return kg_store_write(store, insert_job, &in, err);
}

struct revoke {
	const char *id, *actor;
	kg_arena arena;
};

static int revoke_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct revoke *r = ctx;
	kg_credential c;
	int rc = kg_tx_credential_get(tx, r->id, &c, &r->arena, err);
	rc = rc ? rc : kg_tx_credential_revoke(tx, r->id, kg_now_ms(), err);
	return rc ? rc : audit(tx, c.account_id, r->actor, "credential_revoke", r->id, c.role, err);
}

int kg_http_credential_revoke(struct kg_store *store, const char *id, const char *actor,
			      kg_err *err)
{
	struct revoke r = {.id = id, .actor = actor};
	kg_arena_init(&r.arena, 1024);
	int rc = kg_store_write(store, revoke_job, &r, err);
	kg_arena_release(&r.arena);
	if (rc == KG_ENOTFOUND)
		kg_err_field(err, KG_ENOTFOUND, "id", "no key \"%s\"", id);
	return rc;
}

struct list {
	kg_arena arena;
	kg_credential *keys;
	size_t n;
};

static int list_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct list *l = ctx;
	return kg_tx_credential_list_keys(tx, 0, &l->arena, &l->keys, &l->n, err);
}

static json_t *time_or_null(int64_t ms)
{
	char ts[KG_TIME_STR_MAX];
	return ms ? json_string(kg_time_format(ms, ts)) : json_null();
}

int kg_http_keys_list(struct kg_store *store, json_t **out, kg_err *err)
{
	struct list l = {0};
	kg_arena_init(&l.arena, 4096);
	int rc = kg_store_read(store, list_job, &l, err);
	if (rc == 0) {
		json_t *arr = json_array();
		int64_t now = kg_now_ms();
		for (size_t i = 0; i < l.n; i++) {
			const kg_credential *c = &l.keys[i];
			const char *state = c->revoked_ms ? "revoked" :
					    (c->expires_ms && c->expires_ms <= now) ? "expired" : "active";
			json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:s,s:o,s:o,s:o}", "id", c->id,
							     "role", c->role, "label",
							     c->label ? json_string(c->label) : json_null(),
							     "state", state, "created", time_or_null(c->created_ms),
							     "expires", time_or_null(c->expires_ms),
							     "revoked", time_or_null(c->revoked_ms)));
		}
		*out = json_pack("{s:o}", "keys", arr);
	}
	kg_arena_release(&l.arena);
	return rc;
}
