/* Authentication: `Authorization: Bearer kg_<id>_<secret>` → the stored
 * credential with that id, its secret hash compared in constant time,
 * expiry and revocation checked → a principal. Every failure is the same
 * 401 to the caller, byte for byte; the log says which (never the key).
 * Also the key cache of POST /v1/events and its confirmation against the
 * store (below). Not here: role checks, or when a request is confirmed
 * (server.c). */
#include "http/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

/* The checks of a stored credential against the secret's hash: fills out
 * (role, id, account) or refuses. */
static int check_cred(const kg_credential *cred, const uint8_t hash[KG_TOKEN_HASH_LEN],
		      const char *id, kg_principal *out, kg_err *err)
{
	int64_t now = kg_now_ms();
	bool hash_ok = cred->secret_hash_len == KG_TOKEN_HASH_LEN &&
		       kg_ct_equal(cred->secret_hash, hash, KG_TOKEN_HASH_LEN);
	unsigned role = kg_role_parse(cred->role);
	if (!hash_ok)
		return refuse(err, "wrong secret", id);
	if (!role)
		return refuse(err, "stored with an unknown role", id);
	if (cred->revoked_ms)
		return refuse(err, "revoked", id);
	if (cred->expires_ms && cred->expires_ms <= now)
		return refuse(err, "expired", id);
	if ((role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET)) &&
	    (!cred->account_id || !*cred->account_id || strlen(cred->account_id) > KG_ID_MAX))
		return refuse(err, "bound to no valid account", id);
	out->role = role;
	snprintf(out->credential_id, sizeof(out->credential_id), "%s", id);
	if (cred->account_id)
		snprintf(out->account_id, sizeof(out->account_id), "%s", cred->account_id);
	return 0;
}

/* The Authorization value's key: its id and the hash of its secret. */
static int parse_bearer(const char *authorization, char id[KG_TOKEN_ID_LEN + 1],
			uint8_t hash[KG_TOKEN_HASH_LEN], kg_err *err)
{
	if (!authorization || !*authorization)
		return refuse(err, "no Authorization header", NULL);
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return refuse(err, "Authorization is not Bearer <key>", NULL);
	const char *token = authorization + 7;
	while (*token == ' ')
		token++;
	if (kg_token_parse(token, id, hash))
		return refuse(err, "not shaped like a kagi key", NULL);
	return 0;
}

/* The store's credential id → a principal (the store read of every
 * authentication that the key cache does not answer). */
static int authenticate_stored(kg_app *app, const char *id, const uint8_t hash[KG_TOKEN_HASH_LEN],
			       kg_principal *out, int64_t *expires_ms, kg_err *err)
{
	kg_arena arena;
	kg_arena_init(&arena, 1024);
	struct lookup l = {.id = id, .arena = &arena};
	kg_err e2;
	kg_err_clear(&e2);
	int rc = kg_store_read(app->store, lookup_job, &l, &e2);
	if (rc == KG_ENOTFOUND)
		rc = refuse(err, "no such credential", id);
	else if (rc) /* a storage failure is not the caller's fault */
		*err = e2;
	else
		rc = check_cred(&l.cred, hash, id, out, err);
	if (!rc && expires_ms)
		*expires_ms = l.cred.expires_ms;
	kg_arena_release(&arena);
	return rc;
}

int kg_http_authenticate(kg_app *app, const char *authorization, kg_principal *out,
			 kg_err *err)
{
	memset(out, 0, sizeof(*out));
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
	int rc = parse_bearer(authorization, id, hash, err);
	return rc ? rc : authenticate_stored(app, id, hash, out, NULL, err);
}

/* ---- the key cache of the decision route ----------------------------------
 * API keys (service, agent, admin; no account) that the store showed valid:
 * id, secret hash, role, expiry, in a small direct-mapped table. A hit
 * answers kg_http_authenticate_unconfirmed without a store read; the
 * request is then unconfirmed until kg_http_keys_confirm reads every key
 * of a take once more in one read, before anything of the take is decided
 * or answered. So a revocation (`kagi key revoke` from another process on
 * the same SQLite file, another node on PostgreSQL) still refuses every
 * request that arrives after it; only the store read per request is saved. */
/* 64 slots in sets of 4: a key's id picks its set, any of the set's 4
 * slots may hold it (a few keys in use never push each other out, as two
 * whose ids fell on one slot of a direct-mapped table did) */
#define KEY_WAYS 4
#define KEY_SETS 16
#define KEY_SLOTS (KEY_WAYS * KEY_SETS)

struct key_slot {
	char id[KG_TOKEN_ID_LEN + 1]; /* "": free */
	uint8_t hash[KG_TOKEN_HASH_LEN];
	unsigned role;
	int64_t expires_ms;           /* 0: never */
};

struct kg_http_keys {
	pthread_mutex_t mu;
	struct key_slot slot[KEY_SLOTS];
	unsigned victim;              /* the next slot of a full set to reuse */
	_Atomic uint64_t hits, misses, refused; /* refused: by a confirmation */
};

kg_http_keys *kg_http_keys_new(void)
{
	kg_http_keys *k = calloc(1, sizeof(*k));
	if (k)
		pthread_mutex_init(&k->mu, NULL);
	return k;
}

void kg_http_keys_free(kg_http_keys *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* The first of the KEY_WAYS slots of id's set. */
static struct key_slot *set_of(kg_http_keys *k, const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return &k->slot[(h % KEY_SETS) * KEY_WAYS];
}

/* The slot of set that holds id ("": a free one), or NULL. Under mu. */
static struct key_slot *slot_in(struct key_slot *set, const char *id)
{
	for (int w = 0; w < KEY_WAYS; w++)
		if (!strcmp(set[w].id, id))
			return &set[w];
	return NULL;
}

static struct key_slot *slot_of(kg_http_keys *k, const char *id)
{
	return slot_in(set_of(k, id), id);
}

/* A hit: the slot holds id with this secret's hash, not expired. */
static bool keys_hit(kg_http_keys *k, const char *id, const uint8_t hash[KG_TOKEN_HASH_LEN],
		     kg_principal *out)
{
	if (!k)
		return false;
	int64_t now = kg_now_ms();
	pthread_mutex_lock(&k->mu);
	struct key_slot *sl = slot_of(k, id);
	bool hit = sl && kg_ct_equal(sl->hash, hash, KG_TOKEN_HASH_LEN) &&
		   (!sl->expires_ms || sl->expires_ms > now);
	if (hit)
		out->role = sl->role;
	pthread_mutex_unlock(&k->mu);
	if (hit) { /* as snprintf "%s" would, without its format parsing */
		size_t n = strnlen(id, sizeof(out->credential_id) - 1);
		memcpy(out->credential_id, id, n);
		out->credential_id[n] = '\0';
	}
	return hit;
}

static void keys_put(kg_http_keys *k, const char *id, const uint8_t hash[KG_TOKEN_HASH_LEN],
		     const kg_principal *p, int64_t expires_ms)
{
	if (!k || (p->role & (KG_ROLE_CUSTOMER | KG_ROLE_TICKET)) || p->account_id[0])
		return;
	pthread_mutex_lock(&k->mu);
	struct key_slot *set = set_of(k, id), *sl = slot_in(set, id);
	if (!sl)
		sl = slot_in(set, "");
	if (!sl) /* the set is full: its slots are reused in turn */
		sl = &set[k->victim++ % KEY_WAYS];
	snprintf(sl->id, sizeof(sl->id), "%s", id);
	memcpy(sl->hash, hash, KG_TOKEN_HASH_LEN);
	sl->role = p->role;
	sl->expires_ms = expires_ms;
	pthread_mutex_unlock(&k->mu);
}

static void keys_drop(kg_http_keys *k, const char *id)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	struct key_slot *sl = slot_of(k, id);
	if (sl)
		memset(sl, 0, sizeof(*sl));
	pthread_mutex_unlock(&k->mu);
}

int kg_http_authenticate_unconfirmed(kg_app *app, const char *authorization, kg_principal *out,
				     kg_http_key_check *check, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	memset(check, 0, sizeof(*check));
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
	int rc = parse_bearer(authorization, id, hash, err);
	if (rc)
		return rc;
	if (keys_hit(app->keys, id, hash, out)) {
		atomic_fetch_add(&app->keys->hits, 1);
		memcpy(check->id, id, sizeof(check->id));
		memcpy(check->hash, hash, sizeof(check->hash));
		return 0;
	}
	if (app->keys)
		atomic_fetch_add(&app->keys->misses, 1);
	int64_t expires_ms = 0;
	rc = authenticate_stored(app, id, hash, out, &expires_ms, err);
	if (!rc)
		keys_put(app->keys, id, hash, out, expires_ms);
	return rc;
}

struct confirm {
	kg_http_key_check *const *checks;
	const kg_principal *const *principals;
	int *rcs;
	kg_err *const *errs;
	size_t n;
	kg_app *app;
};

static int confirm_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)err;
	struct confirm *c = ctx;
	for (size_t i = 0; i < c->n; i++) {
		const kg_http_key_check *k = c->checks[i];
		size_t j = 0; /* the same key earlier in the take: its verdict */
		while (j < i && (strcmp(c->checks[j]->id, k->id) ||
				 memcmp(c->checks[j]->hash, k->hash, KG_TOKEN_HASH_LEN)))
			j++;
		if (j < i) {
			c->rcs[i] = c->rcs[j];
			if (c->rcs[i])
				*c->errs[i] = *c->errs[j];
			continue;
		}
		kg_arena arena;
		kg_arena_init(&arena, 1024);
		kg_credential cred;
		kg_principal now;
		memset(&now, 0, sizeof(now));
		kg_err_clear(c->errs[i]);
		int rc = kg_tx_credential_get(tx, k->id, &cred, &arena, c->errs[i]);
		if (rc == KG_ENOTFOUND) {
			kg_err_clear(c->errs[i]);
			rc = refuse(c->errs[i], "no such credential", k->id);
		} else if (!rc) {
			rc = check_cred(&cred, k->hash, k->id, &now, c->errs[i]);
			if (!rc && (now.role != c->principals[i]->role || now.account_id[0]))
				rc = refuse(c->errs[i], "changed since it was cached", k->id);
		}
		if (rc == KG_EAUTH)
			keys_drop(c->app->keys, k->id);
		if (rc && c->app->keys)
			atomic_fetch_add(&c->app->keys->refused, 1);
		c->rcs[i] = rc;
		kg_arena_release(&arena);
	}
	return 0;
}

int kg_http_keys_confirm(kg_app *app, kg_http_key_check *const *checks,
			 const kg_principal *const *principals, int *rcs, kg_err *const *errs,
			 size_t n)
{
	if (n == 0)
		return 0;
	struct confirm c = {checks, principals, rcs, errs, n, app};
	kg_err e2;
	kg_err_clear(&e2);
	int rc = kg_store_read(app->store, confirm_job, &c, &e2);
	for (size_t i = 0; rc && i < n; i++) { /* a storage failure: every one */
		rcs[i] = rc;
		*errs[i] = e2;
	}
	return rc;
}

void kg_http_keys_metrics(kg_http_keys *k, kg_buf *out)
{
	unsigned long long hits = k ? atomic_load(&k->hits) : 0, misses = k ? atomic_load(&k->misses) : 0,
			   refused = k ? atomic_load(&k->refused) : 0;
	kg_buf_printf(out,
		      "# HELP kagi_http_key_cache_total Keys of POST /v1/events answered from the key cache (hit) or read from the store (miss).\n"
		      "# TYPE kagi_http_key_cache_total counter\n"
		      "kagi_http_key_cache_total{result=\"hit\"} %llu\n"
		      "kagi_http_key_cache_total{result=\"miss\"} %llu\n"
		      "# HELP kagi_http_key_cache_refused_total Requests with a cached key refused when it was confirmed against the store (revoked, expired or gone since).\n"
		      "# TYPE kagi_http_key_cache_refused_total counter\n"
		      "kagi_http_key_cache_refused_total %llu\n",
		      hits, misses, refused);
}
