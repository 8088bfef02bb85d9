/* PostgreSQL read-ahead (kg_tx_read_ahead): the feature rows, stored
 * decisions and entity rows a batch is about to read one by one, read by
 * three statements of arrays in two round trips and kept with the read
 * transaction (one snapshot: the same answers the single reads would
 * give), so that deciding a batch of a fresh stream costs two round trips
 * instead of two to four an event. The getters of postgres_events.c ask
 * here first. */
#include "store/postgres_impl.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_AHEAD_FEATURES[] =
	"SELECT account_id, state, updated_ms FROM features WHERE account_id = ANY($1::text[])";
static const char SQL_AHEAD_EVENTS[] =
	"SELECT e.account_id, e.event_id, e.decision, e.body_hash FROM events e "
	"JOIN unnest($1::text[], $2::text[]) AS u(a, i) ON e.account_id = u.a AND e.event_id = u.i";
static const char SQL_AHEAD_ENTITIES[] =
	"SELECT e.kind, e.key, e.state, e.updated_ms FROM entity_features e "
	"JOIN unnest($1::int[], $2::bigint[]) AS u(k, y) ON e.kind = u.k AND e.key = u.y";

/* One key read ahead: 'a' + account id, 'e' + account + NUL + event id,
 * 'n' + kind and key (12 bytes). */
struct slot {
	uint64_t h; /* 0: empty */
	const char *k;
	size_t klen;
	bool found;
	const uint8_t *v; /* the blob, or the decision (NUL-terminated) */
	size_t vlen;
	const uint8_t *hash; /* a decision's body hash */
	size_t hash_len;
	int64_t version;
};

struct kg_pg_ahead {
	kg_arena a;
	struct slot *t;
	size_t cap, n;
};

#define KEY_MAX 1024

static uint64_t key_hash(const char *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)k[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

static size_t key_account(char *k, const char *id, size_t n)
{
	if (n + 1 > KEY_MAX)
		return 0;
	k[0] = 'a';
	memcpy(k + 1, id, n);
	return n + 1;
}

static size_t key_event(char *k, const char *a, size_t an, const char *id, size_t idn)
{
	if (an + idn + 2 > KEY_MAX)
		return 0;
	k[0] = 'e';
	memcpy(k + 1, a, an);
	k[1 + an] = '\0';
	memcpy(k + 2 + an, id, idn);
	return an + idn + 2;
}

static size_t key_entity(char *k, int kind, uint64_t key)
{
	int32_t kd = kind;
	k[0] = 'n';
	memcpy(k + 1, &kd, 4);
	memcpy(k + 5, &key, 8);
	return 13;
}

static struct slot *find(struct kg_pg_ahead *ah, const char *k, size_t n, uint64_t h)
{
	if (!ah || !ah->cap)
		return NULL;
	for (size_t i = h & (ah->cap - 1);; i = (i + 1) & (ah->cap - 1)) {
		struct slot *s = &ah->t[i];
		if (!s->h || (s->h == h && s->klen == n && !memcmp(s->k, k, n)))
			return s;
	}
}

static int grow(struct kg_pg_ahead *ah)
{
	size_t cap = ah->cap ? ah->cap * 2 : 1024;
	struct slot *t = calloc(cap, sizeof(*t));
	if (!t)
		return KG_ENOMEM;
	struct slot *old = ah->t;
	size_t ocap = ah->cap;
	ah->t = t;
	ah->cap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].h)
			*find(ah, old[i].k, old[i].klen, old[i].h) = old[i];
	free(old);
	return 0;
}

/* The slot of key k (made, not found, if new), or NULL without memory. */
static struct slot *put(struct kg_pg_ahead *ah, const char *k, size_t n)
{
	if ((ah->n + 1) * 2 > ah->cap && grow(ah))
		return NULL;
	uint64_t h = key_hash(k, n);
	struct slot *s = find(ah, k, n, h);
	if (!s->h) {
		char *copy = kg_arena_alloc(&ah->a, n);
		memcpy(copy, k, n);
		*s = (struct slot){.h = h, .k = copy, .klen = n};
		ah->n++;
	}
	return s;
}

static struct slot *lookup(kg_store_conn *c, const char *k, size_t n)
{
	if (!n || !c->ahead || !c->ahead->n)
		return NULL;
	struct slot *s = find(c->ahead, k, n, key_hash(k, n));
	return s && s->h ? s : NULL;
}

void kg_pg_ahead_clear(kg_store_conn *c)
{
	struct kg_pg_ahead *ah = c->ahead;
	if (!ah || !ah->n)
		return;
	memset(ah->t, 0, ah->cap * sizeof(*ah->t));
	ah->n = 0;
	kg_arena_release(&ah->a);
	kg_arena_init(&ah->a, 256 * 1024);
}

void kg_pg_ahead_free(kg_store_conn *c)
{
	if (!c->ahead)
		return;
	kg_arena_release(&c->ahead->a);
	free(c->ahead->t);
	free(c->ahead);
	c->ahead = NULL;
}

/* ---- reading ahead ------------------------------------------------------------*/
/* A feature or entity row: found unless missing or the empty placeholder
 * a lock made (state NULL, version 0), as the single getters say. */
static void fill_blob(struct kg_pg_ahead *ah, struct slot *s, const PGresult *r, int row, int col)
{
	bool placeholder = PQgetisnull(r, row, col) && kg_pg_col_i64(r, row, col + 1) == 0;
	s->found = !placeholder;
	s->v = kg_pg_col_blob(&ah->a, r, row, col, &s->vlen);
	s->version = kg_pg_col_i64(r, row, col + 1);
}

static int features_read(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)i;
	struct kg_pg_ahead *ah = ctx;
	char k[KEY_MAX];
	for (int row = 0; row < PQntuples(r); row++) {
		size_t n = key_account(k, PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0));
		struct slot *s = n ? put(ah, k, n) : NULL;
		if (n && !s)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		if (s)
			fill_blob(ah, s, r, row, 1);
	}
	return 0;
}

static int events_read(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)i;
	struct kg_pg_ahead *ah = ctx;
	char k[KEY_MAX];
	for (int row = 0; row < PQntuples(r); row++) {
		size_t n = key_event(k, PQgetvalue(r, row, 0), (size_t)PQgetlength(r, row, 0),
				     PQgetvalue(r, row, 1), (size_t)PQgetlength(r, row, 1));
		struct slot *s = n ? put(ah, k, n) : NULL;
		if (n && !s)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		if (!s)
			continue;
		s->found = true;
		const char *d = PQgetisnull(r, row, 2) ? "{}" : PQgetvalue(r, row, 2);
		s->v = (const uint8_t *)kg_arena_strndup(&ah->a, d, strlen(d));
		s->vlen = strlen(d);
		s->hash = kg_pg_col_blob(&ah->a, r, row, 3, &s->hash_len);
	}
	return 0;
}

static int entities_read(void *ctx, size_t i, const PGresult *r, kg_err *err)
{
	(void)i;
	struct kg_pg_ahead *ah = ctx;
	char k[KEY_MAX];
	for (int row = 0; row < PQntuples(r); row++) {
		size_t n = key_entity(k, (int)kg_pg_col_i64(r, row, 0),
				      (uint64_t)kg_pg_col_i64(r, row, 1));
		struct slot *s = put(ah, k, n);
		if (!s)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		fill_blob(ah, s, r, row, 2);
	}
	return 0;
}

/* The accounts and entities asked for, as not found until a row says
 * otherwise; their arrays. */
static int ask_rows(struct kg_pg_ahead *ah, const kg_read_ahead *ra, kg_pg_array *cols)
{
	char k[KEY_MAX];
	for (size_t i = 0; i < ra->n_accounts; i++) {
		size_t n = key_account(k, ra->accounts[i], strlen(ra->accounts[i]));
		if (!n)
			continue; /* too long to keep: read on its own */
		if (!put(ah, k, n) || kg_pg_array_add(&cols[0], k + 1, n - 1))
			return KG_ENOMEM;
	}
	for (size_t i = 0; i < ra->n_ents; i++) {
		size_t n = key_entity(k, ra->ent_kinds[i], ra->ent_keys[i]);
		if (!put(ah, k, n) || kg_pg_array_i32(&cols[3], ra->ent_kinds[i]) ||
		    kg_pg_array_i64(&cols[4], (int64_t)ra->ent_keys[i]))
			return KG_ENOMEM;
	}
	return 0;
}

/* The events asked for, but not those of an account read ahead and not
 * there: an account with no feature row has no stored event either (its
 * first stored event wrote the row), so its events are not looked for (as
 * the risk engine does not ask for them). */
static int ask_events(struct kg_pg_ahead *ah, const kg_read_ahead *ra, kg_pg_array *cols)
{
	char k[KEY_MAX];
	for (size_t i = 0; i < ra->n_events; i++) {
		size_t an = ra->ev_account_lens[i], idn = ra->ev_id_lens[i];
		size_t n = key_account(k, ra->ev_accounts[i], an);
		const struct slot *acct = n ? find(ah, k, n, key_hash(k, n)) : NULL;
		if (acct && acct->h && !acct->found)
			continue;
		n = key_event(k, ra->ev_accounts[i], an, ra->ev_ids[i], idn);
		if (!n)
			continue;
		if (!put(ah, k, n) || kg_pg_array_add(&cols[1], ra->ev_accounts[i], an) ||
		    kg_pg_array_add(&cols[2], ra->ev_ids[i], idn))
			return KG_ENOMEM;
	}
	return 0;
}

/* Two round trips: the accounts' and entities' rows, then the stored
 * decisions of the events whose account may have some. */
int kg_pg_read_ahead(kg_tx *tx, const kg_read_ahead *ra, kg_err *err)
{
	kg_store_conn *c = tx->conn;
	if (!c->ahead) {
		if (!(c->ahead = calloc(1, sizeof(*c->ahead))))
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		kg_arena_init(&c->ahead->a, 256 * 1024);
	}
	static const uint32_t oids[5] = {KG_PG_OID_TEXT, KG_PG_OID_TEXT, KG_PG_OID_TEXT,
					 KG_PG_OID_INT4, KG_PG_OID_INT8};
	kg_pg_array cols[5];
	for (int k = 0; k < 5; k++)
		kg_pg_array_init(&cols[k], oids[k]);
	int rc = ask_rows(c->ahead, ra, cols);
	if (rc)
		kg_err_set(err, rc, "read ahead: out of memory");
	kg_pg_args pf = {0}, pe = {0}, pn = {0};
	if (!rc && cols[0].n) {
		kg_pg_array_bind(&pf, &cols[0]);
		rc = kg_pg_send(tx, SQL_AHEAD_FEATURES, &pf, features_read, c->ahead, 0, err,
				"read ahead (features)");
	}
	if (!rc && cols[3].n) {
		kg_pg_array_bind(&pn, &cols[3]);
		kg_pg_array_bind(&pn, &cols[4]);
		rc = kg_pg_send(tx, SQL_AHEAD_ENTITIES, &pn, entities_read, c->ahead, 0, err,
				"read ahead (entities)");
	}
	int frc = kg_pg_flush(tx, err);
	if (!rc)
		rc = frc;
	if (!rc && (rc = ask_events(c->ahead, ra, cols)))
		kg_err_set(err, rc, "read ahead: out of memory");
	if (!rc && cols[1].n) {
		kg_pg_array_bind(&pe, &cols[1]);
		kg_pg_array_bind(&pe, &cols[2]);
		rc = kg_pg_send(tx, SQL_AHEAD_EVENTS, &pe, events_read, c->ahead, 0, err,
				"read ahead (events)");
		frc = kg_pg_flush(tx, err);
		if (!rc)
			rc = frc;
	}
	for (int k = 0; k < 5; k++)
		kg_pg_array_release(&cols[k]);
	if (rc) /* what was read may be partial: ask the server again */
		kg_pg_ahead_clear(c);
	return rc;
}

/* ---- answering from it ----------------------------------------------------------*/
static const uint8_t *copy_blob(kg_arena *a, const uint8_t *v, size_t n)
{
	if (!v)
		return NULL;
	uint8_t *out = kg_arena_alloc(a, n + 1);
	if (n)
		memcpy(out, v, n);
	out[n] = 0;
	return out;
}

static bool answer_blob(const struct slot *s, kg_arena *a, const uint8_t **blob, size_t *len,
			int64_t *version, bool *found)
{
	*found = s->found;
	*blob = NULL;
	*len = 0;
	if (s->found) {
		*len = s->vlen;
		*blob = s->vlen ? copy_blob(a, s->v, s->vlen) : NULL;
		if (version)
			*version = s->version;
	}
	return true;
}

bool kg_pg_ahead_features(kg_store_conn *c, const char *account, kg_arena *a,
			  const uint8_t **blob, size_t *len, int64_t *version, bool *found)
{
	char k[KEY_MAX];
	const struct slot *s = lookup(c, k, key_account(k, account, strlen(account)));
	return s && answer_blob(s, a, blob, len, version, found);
}

bool kg_pg_ahead_entity(kg_store_conn *c, int kind, uint64_t key, kg_arena *a,
			const uint8_t **blob, size_t *len, int64_t *version, bool *found)
{
	char k[KEY_MAX];
	const struct slot *s = lookup(c, k, key_entity(k, kind, key));
	return s && answer_blob(s, a, blob, len, version, found);
}

bool kg_pg_ahead_event(kg_store_conn *c, const char *account, size_t account_len,
		       const char *id, size_t id_len, kg_arena *a, const char **decision,
		       size_t *decision_len, const uint8_t **hash, size_t *hash_len, bool *found)
{
	char k[KEY_MAX];
	const struct slot *s = lookup(c, k, key_event(k, account, account_len ? account_len : strlen(account),
						      id, id_len ? id_len : strlen(id)));
	if (!s)
		return false;
	*found = s->found;
	if (s->found) {
		*decision = kg_arena_strndup(a, (const char *)s->v, s->vlen);
		*decision_len = s->vlen;
		*hash = copy_blob(a, s->hash, s->hash_len);
		*hash_len = s->hash ? s->hash_len : 0;
	}
	return true;
}
