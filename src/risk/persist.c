/* Store glue of the risk engine: what one decided event writes, in the
 * transaction of the event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/persist.h"

int kg_risk_record_fill(struct kg_risk_record *rec, const kg_event *ev, kg_arena *a,
			struct kg_decision *d)
{
	char *acct = kg_arena_strndup(a, ev->account.p, ev->account.n);
	char *id = kg_arena_strndup(a, ev->id.p, ev->id.n);
	if (!acct || !id)
		return KG_ENOMEM;
	rec->account = acct;
	rec->account_len = ev->account.n;
	rec->id = id;
	rec->id_len = ev->id.n;
	rec->raw = ev->raw;
	rec->raw_len = ev->raw_len;
	rec->d = d;
	rec->type = ev->type;
	rec->ts_ms = ev->ts_ms;
	return 0;
}

void kg_risk_record_release(struct kg_risk_record *rec)
{
	memset(rec, 0, sizeof(*rec));
}

struct load_ctx {
	const char *account;
	kg_features *f;
	int64_t version;
	const kg_event *ev;
	kg_buf *out;
	uint8_t *hash;
	size_t hash_len;
	bool found;
};

static int load_job(kg_tx *tx, void *p, kg_err *err)
{
	struct load_ctx *c = p;
	kg_arena a;
	kg_arena_init(&a, 4096);
	const uint8_t *blob = NULL;
	size_t len = 0;
	int64_t upd = 0;
	int rc = kg_tx_features_get(tx, c->account, &a, &blob, &len, &upd, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		rc = 0;
	} else if (!rc) {
		c->version = upd;
		rc = kg_features_load(c->f, blob, len, err);
	}
	kg_arena_release(&a);
	return rc;
}

int kg_risk_persist_load_features(struct kg_store *s, const char *account, kg_features *f,
				  int64_t *version, kg_err *err)
{
	struct load_ctx c = {.account = account, .f = f};
	int rc = kg_store_read(s, load_job, &c, err);
	*version = c.version;
	return rc;
}

static int find_job(kg_tx *tx, void *p, kg_err *err)
{
	struct load_ctx *c = p;
	char acct[KG_ID_MAX + 1], id[KG_ID_MAX + 1];
	snprintf(acct, sizeof(acct), "%.*s", (int)c->ev->account.n, c->ev->account.p);
	snprintf(id, sizeof(id), "%.*s", (int)c->ev->id.n, c->ev->id.p);
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_event_rec rec;
	int rc = kg_tx_event_get(tx, acct, id, &rec, &a, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		rc = 0;
	} else if (!rc) {
		c->found = true;
		rc = kg_buf_puts(c->out, rec.decision ? rec.decision : "{}");
		if (rec.body_hash && rec.body_hash_len == KG_EVENT_HASH_BYTES) {
			memcpy(c->hash, rec.body_hash, KG_EVENT_HASH_BYTES);
			c->hash_len = KG_EVENT_HASH_BYTES;
		}
	}
	kg_arena_release(&a);
	return rc;
}

int kg_risk_persist_find_decision(struct kg_store *s, const kg_event *ev, kg_buf *out,
				  uint8_t hash[KG_EVENT_HASH_BYTES], size_t *hash_len,
				  bool *found, kg_err *err)
{
	struct load_ctx c = {.ev = ev, .out = out, .hash = hash};
	int rc = kg_store_read(s, find_job, &c, err);
	*found = c.found;
	*hash_len = c.hash_len;
	return rc;
}

int kg_risk_persist_lookup(kg_tx *tx, const char *account, size_t account_len,
			   const char *id, size_t id_len, kg_arena *a, const char **decision,
			   const uint8_t **hash, size_t *hash_len, bool *found, kg_err *err)
{
	size_t len = 0;
	*found = false;
	*hash = NULL;
	*hash_len = 0;
	int rc = kg_tx_event_decision(tx, account, account_len, id, id_len, a, decision, &len,
				      hash, hash_len, err);
	if (rc == KG_ENOTFOUND)
		return 0;
	*found = !rc;
	return rc;
}

int kg_risk_persist_blob(kg_tx *tx, const char *account, kg_arena *a, const void **blob,
			 size_t *len, int64_t *version, bool *found, kg_err *err)
{
	const uint8_t *b = NULL;
	int64_t upd = 0;
	*found = false;
	*blob = NULL;
	*len = 0;
	*version = 0;
	int rc = kg_tx_features_get(tx, account, a, &b, len, &upd, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		return 0;
	}
	*found = !rc;
	*blob = b;
	*version = upd;
	return rc;
}

int kg_risk_persist_entity_load(void *ctx, int kind, uint64_t key, kg_arena *a,
				const uint8_t **blob, size_t *len, int64_t *version, kg_err *err)
{
	*version = 0;
	return kg_tx_entity_get(ctx, kind, key, a, blob, len, version, err);
}

/* Each entity's row becomes the union of what it held and the batch's
 * state (kg_entity_blob_merge): another thread's or process's batch that
 * committed first is kept, whatever the order of the commits. The state is
 * written as it is, without reading the row, when the row holds nothing
 * the state lacks: on a shared store the row was locked at the version the
 * state was built on (nothing else wrote it since); on a store this
 * process alone has written since it opened it (kg_tx_sole_writer), while
 * no entity has been dropped (kg_entities_dropped), each entity was read
 * once when first met and every later row is one of this process's
 * states, taken and queued in order (batch.c, write_mu): the newest. */
static int write_entities(kg_tx *tx, struct kg_risk_write *w, int64_t now, kg_err *err)
{
	int rc = 0;
	if (!w->n_ents)
		return 0;
	bool blind = w->shared || (kg_tx_sole_writer(tx) && !kg_entities_dropped(w->ent_table));
	kg_arena a;
	kg_arena_init(&a, 4096);
	for (size_t i = 0; i < w->n_ents && !rc; i++) {
		const struct kg_risk_entity_blob *e = &w->ents[i];
		const uint8_t *old = NULL;
		size_t old_len = 0;
		/* a shared store: the version moves forward (as an account's); the
		 * row, locked at the version this state was read from or last
		 * written as (lock_rows), holds nothing this state lacks */
		int64_t ver = w->shared && e->ver >= now ? e->ver + 1 : now;
		rc = blind ? KG_ENOTFOUND
			   : kg_tx_entity_get(tx, e->kind, e->key, &a, &old, &old_len, NULL, err);
		if (rc == KG_ENOTFOUND) {
			kg_err_clear(err);
			rc = e->row ? kg_tx_entity_replace(tx, e->kind, e->key, e->blob, e->len, ver, err)
				    : kg_tx_entity_put(tx, e->kind, e->key, e->blob, e->len, ver, err);
		} else if (!rc) {
			kg_buf_reset(&w->merged);
			rc = kg_entity_blob_merge(e->kind, old, old_len, e->blob, e->len, &w->merged,
						  err);
			if (!rc)
				rc = kg_tx_entity_replace(tx, e->kind, e->key, w->merged.data,
							  w->merged.len, ver, err);
		}
		if (!rc && w->shared)
			kg_entities_version(w->ent_table, e->kind, e->key, e->ver, ver);
		kg_arena_reset(&a);
	}
	kg_arena_release(&a);
	return rc;
}

/* The rule that asked for d's lock: its first reason that locks. */
static const char *lock_rule(const struct kg_decision *d, kg_arena *a)
{
	for (uint32_t i = 0; i < d->n_reasons; i++)
		if (d->reasons[i].action == KG_ACT_LOCK)
			return kg_arena_strndup(a, d->reasons[i].rule.p, d->reasons[i].rule.n);
	return "score";
}

/* One record's lock, applied by the account module's writer (which reads
 * the typed decision: a decision whose action is no longer lock applies
 * none) before the record's event row is written (write_events), so that
 * the row names the lock the writer kept; if the event was stored
 * meanwhile by another node, that node wrote the same lock id
 * (kg_risk_lock_id) and the writer wrote nothing. */
static int write_lock(kg_tx *tx, struct kg_risk_write *w, struct kg_risk_record *r, kg_err *err)
{
	struct kg_decision *d = r->d;
	if (kg_risk_decision_final(d) || !w->hook)
		return 0;
	kg_arena a;
	kg_arena_init(&a, 256);
	struct kg_risk_lock_order o = {
		.account = r->account, .event_id = r->id, .reason = d->lock.reason,
		.rule = lock_rule(d, &a), .decision = d, .ts_ms = r->ts_ms,
		.expires_ms = d->lock.expires_ms,
	};
	int rc = o.rule ? w->hook(w->hook_ctx, tx, &o, &d->lock, err)
			: kg_err_set(err, KG_ENOMEM, "out of memory");
	kg_arena_release(&a);
	return rc;
}

/* A record decided without a lookup of its stored decision (struct
 * kg_risk_record unlooked) whose row is there after all: another writer
 * (another process on the file, say) stored it after the batch's
 * snapshot. Deciding it as new counted it twice, so the job fails
 * unwritten as stale: the batch's accounts are dropped and it is decided
 * again on the rows as they are, with the lookups (kg_risk_decide, replay). */
static int unlooked_stored(struct kg_risk_write *w, const struct kg_risk_record *r, kg_err *err)
{
	w->stale = true;
	return kg_err_set(err, KG_EBUSY,
			  "event %s of account %s was stored by another writer meanwhile; "
			  "nothing of the batch was written", r->id, r->account);
}

/* The event rows with their decisions' JSON, all at once
 * (kg_tx_event_insert_many); r->stored says which rows are new (an event
 * stored meanwhile by another process keeps its row). */
static int write_events(kg_tx *tx, struct kg_risk_write *w, kg_err *err)
{
	if (!w->n)
		return 0;
	kg_event_rec *evs = calloc(w->n, sizeof(*evs));
	size_t *offs = malloc(w->n * sizeof(*offs));
	bool *stored = calloc(w->n, sizeof(*stored));
	kg_buf text = KG_BUF_INIT(SIZE_MAX / 2);
	int rc = evs && offs && stored ? 0 : kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < w->n && !rc; i++) { /* the decisions not made yet */
		offs[i] = text.len;
		if (!w->recs[i].json_len && (rc = kg_decision_write_json(w->recs[i].d, &text)))
			kg_err_set(err, rc, "decision too large");
	}
	for (size_t i = 0; i < w->n && !rc; i++) { /* text has stopped moving */
		struct kg_risk_record *r = &w->recs[i];
		evs[i] = (kg_event_rec){
			.account_id = r->account, .event_id = r->id,
			.type = kg_event_type_name(r->type), .ts_ms = r->ts_ms,
			.body = r->raw,
			.account_id_len = r->account_len, .event_id_len = r->id_len,
			.body_len = r->raw_len,
			.body_hash = r->body_hash, .body_hash_len = sizeof(r->body_hash),
		};
		if (r->json_len) {
			evs[i].decision = w->json + r->json_off;
			evs[i].decision_len = r->json_len;
		} else { /* (text holds at least this one) */
			evs[i].decision = text.data + offs[i];
			evs[i].decision_len = (i + 1 < w->n ? offs[i + 1] : text.len) - offs[i];
		}
	}
	if (!rc)
		rc = kg_tx_event_insert_many(tx, evs, w->n, stored, err);
	for (size_t i = 0; i < w->n && !rc; i++) {
		struct kg_risk_record *r = &w->recs[i];
		r->stored = stored[i];
		if (r->unlooked && !r->stored) /* was decided as new: decided again */
			rc = unlooked_stored(w, r, err);
	}
	kg_buf_release(&text);
	free(stored);
	free(offs);
	free(evs);
	return rc;
}

/* A shared store: each account's row locked, in account order (so that
 * two nodes' jobs take their locks in one order and cannot deadlock), and
 * its version compared with the one the engine decided on; then the same
 * for the entities, in (kind, key) order (every job takes accounts before
 * entities). Another node that wrote any of them since then fails the job
 * (nothing of it is written; the batch is decided again on the rows as
 * they are now). */
static int lock_rows(kg_tx *tx, struct kg_risk_write *w, kg_err *err)
{
	size_t n = w->n_blob > w->n_ents ? w->n_blob : w->n_ents;
	if (!n)
		return 0;
	const char **ids = malloc(n * sizeof(*ids));
	int *kinds = malloc(n * sizeof(*kinds));
	uint64_t *keys = malloc(n * sizeof(*keys));
	int64_t *vers = malloc(n * sizeof(*vers));
	int rc = ids && kinds && keys && vers ? 0 : kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < w->n_blob && !rc; i++)
		ids[i] = w->recs[w->blob_recs[i]].account;
	if (!rc)
		rc = kg_tx_features_lock_many(tx, ids, w->n_blob, vers, err);
	if (rc == KG_EBUSY) /* a deadlock or a lock timeout: as stale, decided again */
		w->stale = true;
	for (size_t i = 0; i < w->n_blob && !rc; i++) {
		struct kg_risk_record *last = &w->recs[w->blob_recs[i]];
		last->ver = vers[i];
		if (!w->version(w->version_ctx, last, last->ver, last->ver)) {
			w->stale = true;
			rc = kg_err_set(err, KG_EBUSY,
					"account %s was written by another node since its state "
					"was read", last->account);
		}
	}
	for (size_t i = 0; i < w->n_ents && !rc; i++) {
		kinds[i] = w->ents[i].kind;
		keys[i] = w->ents[i].key;
	}
	if (!rc)
		rc = kg_tx_entity_lock_many(tx, kinds, keys, w->n_ents, vers, err);
	if (rc == KG_EBUSY)
		w->stale = true;
	for (size_t i = 0; i < w->n_ents && !rc; i++) {
		struct kg_risk_entity_blob *e = &w->ents[i];
		e->ver = vers[i];
		if (!kg_entities_version(w->ent_table, e->kind, e->key, e->ver, e->ver)) {
			w->stale = true;
			rc = kg_err_set(err, KG_EBUSY,
					"an entity (%s) of the batch was written by another node "
					"since its state was read", kg_entity_kind_names[e->kind]);
		}
	}
	free(vers);
	free(keys);
	free(kinds);
	free(ids);
	return rc;
}

/* The locks, the events, then the feature blob of each account once — its
 * state after its last event of the batch, in account order so the B-tree
 * is walked once — instead of once per event: the same rows either way. An
 * account none of whose events was stored (all there already, written by
 * another process) keeps its row. */
static int write_job(kg_tx *tx, void *p, kg_err *err)
{
	struct kg_risk_write *w = p;
	int64_t now = kg_now_ms();
	int rc = 0;
	if (w->shared && (rc = lock_rows(tx, w, err)))
		return rc;
	for (size_t i = 0; i < w->n && !rc; i++)
		rc = write_lock(tx, w, &w->recs[i], err);
	if (!rc)
		rc = write_events(tx, w, err);
	for (size_t i = 0; i < w->n_blob && !rc; i++) {
		const struct kg_risk_record *last = &w->recs[w->blob_recs[i]];
		bool any = false;
		for (size_t k = 0; k < w->n && !any; k++) /* rare: only when the last was not */
			any = last->stored ||
			      (w->recs[k].stored && w->recs[k].account_len == last->account_len &&
			       !memcmp(w->recs[k].account, last->account, last->account_len));
		if (!any)
			continue;
		/* a shared store's version moves forward on every write, also
		 * within one millisecond */
		int64_t ver = w->shared && last->ver >= now ? last->ver + 1 : now;
		rc = last->new_row ? kg_tx_features_put(tx, last->account, last->blob,
							last->blob_len, ver, err)
				   : kg_tx_features_replace(tx, last->account, last->blob,
							    last->blob_len, ver, err);
		if (!rc && w->shared)
			w->version(w->version_ctx, last, last->ver, ver);
	}
	if (!rc)
		rc = write_entities(tx, w, now, err);
	return rc;
}

int kg_risk_persist_start(struct kg_store *s, struct kg_risk_write *w, kg_store_ticket *after,
			  kg_store_ticket **out, kg_err *err)
{
	return kg_store_write_start(s, write_job, w, after, out, err);
}


struct kg_risk_lists {
	size_t n;
	struct {
		char *name;
		char **values; /* sorted */
		size_t n;
	} l[16];
};

void kg_risk_lists_free(struct kg_risk_lists *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t k = 0; k < l->l[i].n; k++)
			free(l->l[i].values[k]);
		free(l->l[i].values);
		free(l->l[i].name);
	}
	free(l);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool kg_risk_lists_lookup(void *ctx, const char *list, const char *value, size_t len)
{
	struct kg_risk_lists *l = ctx;
	char key[KG_ID_MAX * 4 + 1];
	if (!l || len >= sizeof(key))
		return false;
	memcpy(key, value, len);
	key[len] = '\0';
	const char *k = key;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->l[i].name, list))
			return l->l[i].n &&
			       bsearch(&k, l->l[i].values, l->l[i].n, sizeof(char *), cmp_str) != NULL;
	return false;
}

static int lists_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct kg_risk_lists *l = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	int rc = 0;
	for (size_t i = 0; i < l->n && !rc; i++) {
		const char **vals = NULL;
		size_t n = 0;
		if ((rc = kg_tx_list_values(tx, l->l[i].name, &a, &vals, &n, err)))
			break;
		if (n && !(l->l[i].values = calloc(n, sizeof(char *)))) {
			rc = kg_err_set(err, KG_ENOMEM, "out of memory");
			break;
		}
		for (size_t k = 0; k < n && !rc; k++)
			if (!(l->l[i].values[l->l[i].n++] = strdup(vals[k])))
				rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		qsort(l->l[i].values, l->l[i].n, sizeof(char *), cmp_str);
	}
	kg_arena_release(&a);
	return rc;
}

int kg_risk_lists_load(struct kg_store *s, const kg_policy *p, struct kg_risk_lists **out,
		       kg_err *err)
{
	const char *names[16];
	size_t n = kg_policy_store_lists(p, names, 16);
	*out = NULL;
	if (!n || !s)
		return 0;
	struct kg_risk_lists *l = calloc(1, sizeof(*l));
	if (!l)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (!(l->l[l->n++].name = strdup(names[i]))) {
			kg_risk_lists_free(l);
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		}
	int rc = kg_store_read(s, lists_job, l, err);
	if (rc) {
		kg_risk_lists_free(l);
		return rc;
	}
	*out = l;
	return 0;
}
