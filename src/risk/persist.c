/* Store glue of the risk engine: what one decided event writes, in the
 * transaction of the event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/persist.h"

int kg_risk_record_fill(struct kg_risk_record *rec, const kg_event *ev, kg_arena *a,
			const char *decision, size_t decision_len, const struct kg_verdict *v)
{
	char *acct = kg_arena_strndup(a, ev->account.p, ev->account.n);
	char *id = kg_arena_strndup(a, ev->id.p, ev->id.n);
	rec->account = acct;
	rec->account_len = ev->account.n;
	rec->id = id;
	rec->id_len = ev->id.n;
	rec->raw = ev->raw;
	rec->raw_len = ev->raw_len;
	rec->decision = NULL;
	rec->decision_len = decision_len;
	rec->own_decision = NULL;
	if (v->action == KG_ACT_LOCK) {
		if (!(rec->own_decision = strndup(decision, decision_len)))
			return KG_ENOMEM;
		rec->decision = rec->own_decision;
	}
	rec->type = ev->type;
	rec->ts_ms = ev->ts_ms;
	rec->action = v->action;
	memcpy(rec->lock_reason, v->lock_reason, sizeof(rec->lock_reason));
	rec->lock_ttl_s = v->lock_ttl_s;
	return 0;
}

void kg_risk_record_release(struct kg_risk_record *rec)
{
	free(rec->own_decision);
	memset(rec, 0, sizeof(*rec));
}

struct load_ctx {
	const char *account;
	kg_features *f;
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
		rc = kg_features_load(c->f, blob, len, err);
	}
	kg_arena_release(&a);
	return rc;
}

int kg_risk_persist_load_features(struct kg_store *s, const char *account, kg_features *f,
				  kg_err *err)
{
	struct load_ctx c = {.account = account, .f = f};
	return kg_store_read(s, load_job, &c, err);
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
			 size_t *len, bool *found, kg_err *err)
{
	const uint8_t *b = NULL;
	int64_t upd;
	*found = false;
	*blob = NULL;
	*len = 0;
	int rc = kg_tx_features_get(tx, account, a, &b, len, &upd, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		return 0;
	}
	*found = !rc;
	*blob = b;
	return rc;
}

/* A lock decision on an account that already has an active lock of the same
 * reason names that lock (in r->decision) instead of writing a second one:
 * one lock, one notice, however often the rule fires while it stands. */
static int reuse_active_lock(kg_tx *tx, struct kg_risk_record *r, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_lock *act = NULL;
	size_t n = 0;
	int rc = kg_tx_lock_list_active(tx, r->account, r->ts_ms, &a, &act, &n, err);
	const char *found = NULL;
	for (size_t k = 0; !rc && k < n && !found; k++)
		if (!strcmp(act[k].reason, r->lock_reason))
			found = act[k].lock_id;
	char old[40];
	snprintf(old, sizeof(old), "\"id\":\"%s\"", r->lock_id);
	char *at = found ? strstr(r->own_decision, old) : NULL;
	if (at) {
		kg_buf nd = KG_BUF_INIT(r->decision_len + 256);
		rc = kg_buf_append(&nd, r->own_decision, (size_t)(at - r->own_decision));
		rc = rc ? rc : kg_buf_puts(&nd, "\"id\":");
		rc = rc ? rc : kg_buf_json_str(&nd, found, strlen(found));
		rc = rc ? rc : kg_buf_puts(&nd, at + strlen(old));
		if (rc) {
			kg_buf_release(&nd);
			rc = kg_err_set(err, rc, "out of memory");
		} else {
			free(r->own_decision);
			r->own_decision = kg_buf_detach(&nd, &r->decision_len);
			r->decision = r->own_decision;
			r->lock_reused = true;
		}
	}
	kg_arena_release(&a);
	return rc;
}

/* One record's event, lock and audit entry (its blob: write_job). */
static int write_record(kg_tx *tx, struct kg_risk_write *w, struct kg_risk_record *r,
			kg_err *err)
{
	int rc;
	r->stored = false;
	if (r->action == KG_ACT_LOCK && (rc = reuse_active_lock(tx, r, err)))
		return rc;
	kg_event_rec ev = {
		.account_id = r->account, .event_id = r->id,
		.type = kg_event_type_name(r->type), .ts_ms = r->ts_ms,
		.body = r->raw, .decision = r->decision,
		.account_id_len = r->account_len, .event_id_len = r->id_len,
		.body_len = r->raw_len, .decision_len = r->decision_len,
		.body_hash = r->body_hash, .body_hash_len = sizeof(r->body_hash),
	};
	rc = kg_tx_event_insert(tx, &ev, err);
	if (rc == KG_ECONFLICT) { /* stored by another node meanwhile */
		kg_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	r->stored = true;
	if (r->action != KG_ACT_LOCK || r->lock_reused)
		return 0;
	kg_lock lk = {
		.account_id = r->account, .lock_id = r->lock_id, .reason = r->lock_reason,
		.kind = strcmp(r->lock_reason, "misuse") ? "precaution" : "misuse",
		.evidence = r->own_decision,
		.expires_ms = r->lock_ttl_s ? r->ts_ms + r->lock_ttl_s * 1000 : 0,
	};
	return kg_risk_apply_lock(tx, &lk, w->hook, w->hook_ctx, err);
}

/* The events, then the feature blob of each account once — its state
 * after its last event of the batch, in account order so the B-tree is
 * walked once — instead of once per event: the same rows either way. An
 * account none of whose events was stored (all there already, written by
 * another process) keeps its row. */
static int write_job(kg_tx *tx, void *p, kg_err *err)
{
	struct kg_risk_write *w = p;
	int64_t now = kg_now_ms();
	int rc = 0;
	for (size_t i = 0; i < w->n && !rc; i++)
		rc = write_record(tx, w, &w->recs[i], err);
	for (size_t i = 0; i < w->n_blob && !rc; i++) {
		const struct kg_risk_record *last = &w->recs[w->blob_recs[i]];
		bool any = false;
		for (size_t k = 0; k < w->n && !any; k++) /* rare: only when the last was not */
			any = last->stored ||
			      (w->recs[k].stored && w->recs[k].account_len == last->account_len &&
			       !memcmp(w->recs[k].account, last->account, last->account_len));
		if (any)
			rc = kg_tx_features_put(tx, last->account, last->blob, last->blob_len, now,
						err);
	}
	return rc;
}

int kg_risk_apply_lock(kg_tx *tx, const kg_lock *lk, kg_risk_lock_hook hook, void *hook_ctx,
		       kg_err *err)
{
	int rc = kg_tx_lock_insert(tx, lk, err);
	if (rc == KG_ECONFLICT) { /* the same event decided twice: one lock */
		kg_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	kg_buf detail = KG_BUF_INIT(KG_EVENT_BYTES_MAX * 2);
	rc = kg_buf_puts(&detail, "{\"lock_id\":");
	rc = rc ? rc : kg_buf_json_str(&detail, lk->lock_id, strlen(lk->lock_id));
	rc = rc ? rc : kg_buf_printf(&detail, ",\"reason\":\"%s\",\"decision\":", lk->reason);
	rc = rc ? rc : kg_buf_puts(&detail, lk->evidence);
	rc = rc ? rc : kg_buf_putc(&detail, '}');
	if (rc) {
		kg_buf_release(&detail);
		return kg_err_set(err, rc, "audit detail too large");
	}
	kg_audit_entry ae = {.account_id = lk->account_id, .actor = "system:risk",
			     .action = "lock", .detail = detail.data};
	rc = kg_tx_audit_append(tx, &ae, NULL, err);
	kg_buf_release(&detail);
	/* the account module's official notice plugs in here */
	if (!rc && hook)
		rc = hook(hook_ctx, tx, lk->account_id, lk->lock_id, lk->reason, lk->evidence, err);
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
