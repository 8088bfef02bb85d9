/* Credentials: roles, the `kg_<id>_<secret>` token format, and creating,
 * revoking and listing API keys (kagi key, /v1/keys), each change audited.
 * Not here: authenticating a request (http/auth.c). */
#include "account/internal.h"

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

/* ---- managing keys (kagi key and /v1/keys) --------------------------------
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

int kg_account_credential_create(kg_store *store, unsigned role, const char *account_id,
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

int kg_account_credential_revoke(kg_store *store, const char *id, const char *actor,
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

int kg_account_keys_list(kg_store *store, json_t **out, kg_err *err)
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
