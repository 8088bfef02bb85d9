/* Batches of events with a store: decided in one snapshot, written as one
 * job (group commit), pipelined with the caller's next batch. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "risk/engine_impl.h"
#include "store/store.h"

/* ---- batches with a store -----------------------------------------------------
 * A batch is decided in one read transaction of the store (one snapshot):
 * each line is parsed once, its stored decision looked up (a retry of an
 * event committed earlier, maybe by another process) unless it provably
 * has none (batch_lookup), the blob of an account not in memory read, then
 * the event decided. The feature blob of
 * each account is taken once, after the batch's last event of it. Then the
 * whole batch is queued as one write job; its answer is given out only
 * once that commit is durable (kg_risk_batch_finish). A caller may decide
 * its next batch while this one commits, on top of this one's in-memory
 * state: that batch's job is queued "after" this one and fails unrun if
 * this one fails (the store checks), so nothing decided on lost state is
 * ever written or answered. */

/* An account of batch_snapshot's sort: its id's first 16 bytes inline, big
 * endian, NUL-padded (an id's bytes compare as strcmp's unsigned chars),
 * so that most comparisons do not read the id itself. */
struct blob_key {
	uint64_t hi, lo;
	const char *account;
	size_t off;  /* its blob in blobs */
	uint32_t rec;
	bool longer; /* the id has more than 16 bytes */
};

/* An account of the batch: whether the snapshot has it at all, and its
 * last record. */
struct batch_acct {
	uint64_t ah;        /* 0: free slot */
	const char *id;     /* the first record's copy (NUL-terminated) */
	uint32_t id_len;
	bool absent;        /* no blob in the snapshot: no stored events either */
	uint32_t last;      /* its last record, UINT32_MAX: none yet */
};

struct kg_risk_batch {
	kg_risk *r;
	const char *const *events;
	const size_t *lens;
	size_t n;
	struct kg_risk_record *recs;
	size_t nrec;
	kg_arena *a;      /* the caller's: decisions, refusals */
	struct kg_risk_answer *ans; /* the caller's: one per line */
	kg_arena arena;   /* account and id copies, looked-up decisions */
	kg_arena scratch; /* blobs read from the store (reset as it grows) */
	kg_buf blobs;     /* the accounts' feature blobs */
	struct batch_acct *accts;
	size_t acap;
	uint32_t *blob_recs;
	size_t n_blob;
	struct kg_risk_entity_blob *ents; /* the batch's entities (batch_entities) */
	kg_buf ent_blobs; /* ... their blobs */
	kg_buf json;      /* the records' decisions' JSON (kg_risk_record json_off) */
	size_t n_ents;
	struct kg_risk_write w;
	kg_store_ticket *ticket;
	struct kg_risk_batch *after;
	/* capacities of the arrays above (a batch kept by kg_risk_batch_free
	 * for the next one reuses them: batch_reuse) */
	size_t rec_cap, acct_cap, blob_cap, ent_cap;
	size_t *offs;     /* batch_snapshot's and batch_entities' blob offsets */
	size_t offs_cap;
	struct blob_key *keys; /* batch_snapshot's sort */
	size_t keys_cap;
	struct batch_acct *list; /* batch_snapshot's accounts (copies) */
	size_t list_cap;
	bool settled;
	bool stale;       /* a shared store: failed only because a concurrent
			   * batch's failure dropped one of its accounts */
	kg_err parse_err; /* a batch of one: why its line was refused */
	/* lines that repeat an event still in flight in another batch (or
	 * earlier in this one): answered at finish with its stored decision */
	struct batch_wait {
		size_t line;
		kg_event ev; /* id and account (copies in arena), ts */
	} *waits;
	size_t n_waits, cap_waits;
};

/* *p holds at least n elements of size bytes (*cap of them): 0 or
 * KG_ENOMEM. Its contents are not kept. */
static int room(void *p, size_t *cap, size_t n, size_t size)
{
	void **pp = p;
	if (n <= *cap && *pp)
		return 0;
	free(*pp);
	*cap = 0;
	if (!(*pp = malloc((n ? n : 1) * size)))
		return KG_ENOMEM;
	*cap = n ? n : 1;
	return 0;
}

static struct batch_acct *batch_acct(struct kg_risk_batch *b, uint64_t ah, kg_str id, bool *fresh)
{
	uint64_t key = ah ? ah : 1;
	size_t k = key & (b->acap - 1);
	while (b->accts[k].ah && (b->accts[k].ah != key || b->accts[k].id_len != id.n ||
				  memcmp(b->accts[k].id, id.p, id.n)))
		k = (k + 1) & (b->acap - 1);
	*fresh = !b->accts[k].ah;
	if (*fresh) {
		b->accts[k].ah = key;
		b->accts[k].id = kg_arena_strndup(&b->arena, id.p, id.n);
		b->accts[k].id_len = id.n;
		b->accts[k].last = UINT32_MAX;
	}
	return &b->accts[k];
}

/* What the snapshot says about ev before it is decided (pre), reading
 * through tx. */
static int batch_lookup(struct kg_risk_batch *b, kg_tx *tx, const kg_event *ev,
			struct batch_acct *ba, bool fresh, uint64_t ah,
			struct kg_risk_prefetch *pre, kg_err *err)
{
	int rc = 0;
	*pre = (struct kg_risk_prefetch){.account = (char *)ba->id, .hashed = true, .ah = ah};
	kg_risk_hash_seed2(ev->id.p, ev->id.n, ID_SEED, ID_SEED2, pre->idh);
	/* one look at the cache: whether a fresh account is cached, whether an
	 * own one stored this id */
	bool cached = true, unstored = false;
	if (fresh || !ba->absent)
		unstored = kg_risk_acct_unstored_cached(b->r, ev->account, ah, pre->idh[1], &cached);
	if (fresh && !cached) {
		bool found;
		if (b->scratch.total_bytes > (1u << 22)) {
			kg_arena_release(&b->scratch);
			kg_arena_init(&b->scratch, 64 * 1024);
		}
		rc = kg_risk_persist_blob(tx, ba->id, &b->scratch, &pre->blob, &pre->blob_len,
					  &pre->blob_ver, &found, err);
		if (rc)
			return rc;
		pre->have_blob = true;
		pre->absent = ba->absent = !found;
	}
	/* no row of the account (then none of its events either), or an own
	 * account (engine_impl.h, struct acct) that never stored this id:
	 * nothing to look up */
	pre->unlooked = ba->absent || (!pre->have_blob && unstored);
	if (!pre->unlooked) {
		bool found;
		rc = kg_risk_persist_lookup(tx, ev->account.p, ev->account.n, ev->id.p, ev->id.n,
					    &b->arena, &pre->stored, &pre->stored_hash,
					    &pre->stored_hash_len, &found, err);
		if (!found)
			pre->stored = NULL;
	}
	return rc;
}

/* Line i repeats an event whose first send is still being written: its
 * answer waits for that write (batch_wait_resolve). */
static int batch_wait_add(struct kg_risk_batch *b, size_t i, const kg_event *ev, kg_err *err)
{
	if (b->n_waits == b->cap_waits) {
		size_t cap = b->cap_waits ? b->cap_waits * 2 : 4;
		struct batch_wait *w = realloc(b->waits, cap * sizeof(*w));
		if (!w)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		b->waits = w;
		b->cap_waits = cap;
	}
	struct batch_wait *w = &b->waits[b->n_waits];
	memset(&w->ev, 0, sizeof(w->ev));
	w->ev.type = ev->type;
	w->ev.ts_ms = ev->ts_ms;
	w->ev.id = (kg_str){kg_arena_strndup(&b->arena, ev->id.p, ev->id.n), ev->id.n};
	w->ev.account = (kg_str){kg_arena_strndup(&b->arena, ev->account.p, ev->account.n),
				 ev->account.n};
	if (!w->ev.id.p || !w->ev.account.p)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	w->line = i;
	b->n_waits++;
	return 0;
}

/* Line i was refused for e: its answer is a copy of e in the caller's arena. */
static int refuse(struct kg_risk_batch *b, size_t i, const kg_err *e, kg_err *err)
{
	kg_err *copy = kg_arena_alloc(b->a, sizeof(*copy));
	if (!copy)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	*copy = *e;
	b->ans[i] = (struct kg_risk_answer){NULL, copy};
	return 0;
}

/* A store whose reads go to a server (kg_store_reads_remote): what the
 * batch's lines will read — the blobs of accounts not in memory, the
 * stored decisions of its events, its entities' rows — read at once before
 * deciding (kg_tx_read_ahead: two round trips on PostgreSQL), instead of
 * one read after the other while deciding. Costs a second parse of each
 * line. */
static int batch_read_ahead(struct kg_risk_batch *b, kg_tx *tx, struct scratch *sc,
			    const kg_policy *pol, kg_err *err)
{
	size_t n = b->n, ne = 0, na = 0, nn = 0;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_buf norm = KG_BUF_INIT(64 * 1024);
	const char **accts = malloc((n ? n : 1) * sizeof(*accts));
	const char **ev_accts = malloc((n ? n : 1) * sizeof(*ev_accts));
	const char **ids = malloc((n ? n : 1) * sizeof(*ids));
	size_t *alens = malloc((n ? n : 1) * sizeof(*alens));
	size_t *idlens = malloc((n ? n : 1) * sizeof(*idlens));
	int *kinds = malloc((n ? n : 1) * KG_ENT_COUNT * sizeof(*kinds));
	uint64_t *keys = malloc((n ? n : 1) * KG_ENT_COUNT * sizeof(*keys));
	int rc = accts && ev_accts && ids && alens && idlens && kinds && keys
			 ? 0
			 : kg_err_set(err, KG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		const kg_event *ev;
		kg_err e;
		kg_err_clear(&e);
		if (kg_event_parse(sc->parser, b->events[i], b->lens[i], &ev, &e))
			continue; /* refused when decided */
		char *acct = kg_arena_strndup(&a, ev->account.p, ev->account.n);
		char *id = kg_arena_strndup(&a, ev->id.p, ev->id.n);
		if (!kg_risk_acct_cached(b->r, ev->account))
			accts[na++] = acct;
		ev_accts[ne] = acct;
		alens[ne] = ev->account.n;
		ids[ne] = id;
		idlens[ne++] = ev->id.n;
		for (int k = 0; k < KG_ENT_COUNT; k++) /* the kinds some rule reads */
			if (kg_policy_entity_streams(pol)[k] &&
			    kg_entity_key(ev, (enum kg_entity_kind)k, &norm, NULL, &keys[nn]))
				kinds[nn++] = k;
	}
	kg_read_ahead ra = {accts, na, ev_accts, alens, ids, idlens, ne, kinds, keys, nn};
	if (!rc)
		rc = kg_tx_read_ahead(tx, &ra, err);
	free(keys);
	free(kinds);
	free(idlens);
	free(alens);
	free(ids);
	free(ev_accts);
	free(accts);
	kg_buf_release(&norm);
	kg_arena_release(&a);
	return rc;
}

static int batch_decide(struct kg_risk_batch *b, kg_tx *tx, kg_err *err)
{
	kg_risk *r = b->r;
	struct scratch *sc = kg_risk_scratch_get(r);
	if (!sc)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	kg_policy *pol = kg_risk_scratch_policy(r, sc);
	int rc = tx && kg_store_reads_remote(r->store) ? batch_read_ahead(b, tx, sc, pol, err) : 0;
	/* the accounts of the next lines are warmed while this one is decided,
	 * in three stages one line apart (kg_risk_warm) */
	struct { bool ok; uint64_t ah; kg_str a; } hint[3] = {{0}};
	for (size_t k = 0; k < 2 && k < b->n; k++) {
		hint[k].ok = kg_risk_account_hint(b->events[k], b->lens[k], &hint[k].a);
		hint[k].ah = hint[k].ok ? kg_risk_hash(hint[k].a.p, hint[k].a.n) : 0;
	}
	for (size_t i = 0; i < b->n && !rc; i++) {
		if (i + 2 < b->n) {
			size_t k = (i + 2) % 3;
			hint[k].ok = kg_risk_account_hint(b->events[i + 2], b->lens[i + 2], &hint[k].a);
			hint[k].ah = hint[k].ok ? kg_risk_hash(hint[k].a.p, hint[k].a.n) : 0;
			/* and its slot in the batch's table of accounts (batch_acct),
			 * megabytes for a big batch */
			if (hint[k].ok && b->acap)
				__builtin_prefetch(&b->accts[(hint[k].ah ? hint[k].ah : 1) & (b->acap - 1)]);
		}
		if (tx && b->nrec + 2 < b->n) /* a record two ahead, to be written */
			for (size_t off = 0; off < sizeof(*b->recs); off += 64)
				__builtin_prefetch((const char *)&b->recs[b->nrec + 2] + off, 1);
		for (int stage = 0; stage < 3; stage++) {
			size_t k = i + 2 - (size_t)stage;
			if (k < b->n && hint[k % 3].ok)
				kg_risk_warm(r, hint[k % 3].ah, hint[k % 3].a, stage);
		}
		const kg_event *ev;
		kg_err e;
		kg_err_clear(&e);
		int prc = kg_event_parse(sc->parser, b->events[i], b->lens[i], &ev, &e);
		uint8_t body[KG_EVENT_HASH_BYTES];
		if (!prc)
			prc = kg_risk_check_ts(r, ev, &e);
		if (!prc && (prc = kg_event_body_hash(sc->parser, body)))
			kg_err_field(&e, prc, "", "the event cannot be hashed");
		if (prc) {
			if (b->n == 1)
				b->parse_err = e;
			if ((rc = refuse(b, i, &e, err)))
				break;
			continue;
		}
		struct kg_risk_prefetch pre = {0};
		struct batch_acct *ba = NULL;
		struct kg_risk_record *rec = NULL;
		if (tx) {
			uint64_t ah = kg_risk_hash(ev->account.p, ev->account.n);
			bool fresh;
			ba = batch_acct(b, ah, ev->account, &fresh);
			if ((rc = batch_lookup(b, tx, ev, ba, fresh, ah, &pre, err)))
				break;
			rec = &b->recs[b->nrec];
			memset(rec, 0, sizeof(*rec)); /* (a kept batch's array is not cleared) */
		}
		bool dup, inflight;
		struct kg_decision *d = kg_arena_alloc(b->a, sizeof(*d));
		if (!d) {
			rc = kg_err_set(err, KG_ENOMEM, "out of memory");
			break;
		}
		prc = kg_risk_decide_locked(r, sc, ev, pol, body, tx ? &pre : NULL, tx ? &pre : NULL, b->a, d,
				    rec, &dup, &inflight, &e);
		if (prc) {
			if (prc == KG_EIO || prc == KG_ENOMEM || prc == KG_EFULL) {
				rc = kg_err_set(err, prc, "%s", e.msg);
				break;
			}
			if (tx && (ba->last != UINT32_MAX || b->after) && !kg_risk_acct_cached(r, ev->account)) {
				/* the failure dropped the account's state, which held
				 * events of this batch (or of the one committing before
				 * it, which this snapshot does not show): deciding on
				 * would count without them */
				rc = kg_err_set(err, prc, "%s (nothing of the batch was written)", e.msg);
				b->stale = kg_store_shared(r->store);
				break;
			}
			if (b->n == 1)
				b->parse_err = e;
			rc = refuse(b, i, &e, err);
			continue;
		}
		b->ans[i].d = d;
		if (!dup && r->event_hook)
			r->event_hook(r->event_ctx, ev);
		if (inflight && (rc = batch_wait_add(b, i, ev, err)))
			break;
		if (rec && !dup) {
			b->nrec++; /* pending from here: kg_risk_settle() forgets it */
			int frc = kg_risk_record_fill(rec, ev, &b->arena, d);
			if (frc) {
				rc = kg_err_set(err, frc, "out of memory");
				break;
			}
			rec->unlooked = pre.unlooked;
			ba->last = (uint32_t)(b->nrec - 1);
			/* made here, on the deciding thread, rather than by the
			 * store's writer, the slower of the two in a durable
			 * replay (docs/BENCHMARKS.md, "The store's writer of a
			 * durable replay, once more") */
			if (kg_risk_decision_final(d)) {
				rec->json_off = b->json.len;
				if ((rc = kg_decision_write_json(d, &b->json))) {
					kg_err_set(err, rc, "decision too large");
					break;
				}
				rec->json_len = b->json.len - rec->json_off;
			}
		}
	}
	return rc;
}

static int batch_decide_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct kg_risk_batch *b = ctx;
	struct scratch *sc = kg_risk_scratch_get(b->r);
	if (!sc)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	sc->tx = tx; /* entities met for the first time are read in it */
	int rc = batch_decide(b, tx, err);
	sc->tx = NULL;
	return rc;
}

static int cmp_ent(const void *x, const void *y)
{
	const struct kg_risk_entity_blob *a = x, *b = y;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* Each entity of the batch once, in (kind, key) order, with its state as
 * it is now (after the batch's events, and maybe some of a concurrent
 * batch: the write merges, so a row never loses an account). */
static int batch_entities(struct kg_risk_batch *b, kg_err *err)
{
	size_t n = 0;
	for (size_t i = 0; i < b->nrec; i++)
		n += (size_t)__builtin_popcount(b->recs[i].ent_mask);
	if (!n)
		return 0;
	if (room(&b->ents, &b->ent_cap, n, sizeof(*b->ents)))
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < b->nrec; i++)
		for (int k = 0; k < KG_ENT_COUNT; k++)
			if (b->recs[i].ent_mask & (1u << k))
				b->ents[n++] = (struct kg_risk_entity_blob){
					.kind = k, .key = b->recs[i].ent_key[k]};
	qsort(b->ents, n, sizeof(*b->ents), cmp_ent);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || cmp_ent(&b->ents[m - 1], &b->ents[i]))
			b->ents[m++] = b->ents[i];
	if (room(&b->offs, &b->offs_cap, m, sizeof(*b->offs)))
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	size_t *offs = b->offs;
	int rc = 0;
	size_t kept = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		size_t off = b->ent_blobs.len;
		bool row;
		rc = kg_entities_save_one(b->r->ents, b->ents[i].kind, b->ents[i].key, &b->ent_blobs,
					  &row);
		if (rc == KG_ENOTFOUND) { /* dropped by a failed write meanwhile: its row stays */
			rc = 0;
			continue;
		}
		if (rc)
			kg_err_set(err, rc, "out of memory");
		offs[kept] = off;
		b->ents[kept] = b->ents[i];
		b->ents[kept].row = row;
		b->ents[kept++].len = b->ent_blobs.len - off;
	}
	for (size_t i = 0; i < kept && !rc; i++) /* blobs has stopped moving */
		b->ents[i].blob = b->ent_blobs.data + offs[i];
	b->n_ents = rc ? 0 : kept;
	return rc;
}


static uint64_t be64_prefix(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < n ? (unsigned char)s[i] : 0);
	return v;
}

static struct blob_key blob_key(const char *account, size_t len, size_t off, uint32_t rec)
{
	return (struct blob_key){be64_prefix(account, len),
				 len > 8 ? be64_prefix(account + 8, len - 8) : 0, account, off, rec,
				 len > 16};
}

/* strcmp's order of the ids */
static int cmp_blob_key(const void *x, const void *y)
{
	const struct blob_key *a = x, *b = y;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (!a->longer || !b->longer) /* equal 16 bytes, one ends there */
		return a->longer - b->longer;
	return strcmp(a->account + 16, b->account + 16);
}

static unsigned list_stripe(const void *ctx, size_t i)
{
	return (unsigned)(((const struct batch_acct *)ctx)[i].ah % STRIPES);
}

/* The blob of each account after its last event of the batch, on that
 * event's record; the write takes them in account order. An account whose
 * record went (or came back) from under the batch — a failed write of
 * another caller dropped it — fails the batch: its events may be missing
 * from what would be written. */
static int batch_snapshot(struct kg_risk_batch *b, kg_err *err)
{
	kg_risk *r = b->r;
	struct scratch *sc = kg_risk_scratch_get(r);
	if (!sc)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	if (room(&b->blob_recs, &b->blob_cap, b->nrec, sizeof(*b->blob_recs)) ||
	    room(&b->keys, &b->keys_cap, b->nrec, sizeof(*b->keys)) ||
	    room(&b->list, &b->list_cap, b->nrec, sizeof(*b->list)))
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	struct blob_key *keys = b->keys;
	int rc = 0;
	/* the batch's accounts (copies of their table entries, ah their
	 * account hash), stripe by stripe (one lock each); each one's record,
	 * id, cache entry and feature block loaded ahead (a record and id,
	 * then kg_risk_warm's three stages, SNAP_AHEAD accounts apart: step j
	 * saves account j - 4 * SNAP_AHEAD): they have left the caches since
	 * they were decided */
	enum { SNAP_AHEAD = 2 };
	size_t na = 0;
	for (size_t k = 0; k < b->acap; k++)
		if (b->accts[k].ah && b->accts[k].last != UINT32_MAX) {
			struct batch_acct *ba = &b->list[na++];
			*ba = b->accts[k];
			if (ba->ah == 1) /* (batch_acct's key of a hash 0) */
				ba->ah = kg_risk_hash(ba->id, ba->id_len);
		}
	uint32_t start[STRIPES + 1], *order = b->blob_recs; /* (written at the end) */
	kg_risk_by_stripe(na, order, start, list_stripe, NULL, b->list);
	for (int s = 0; s < STRIPES && !rc; s++) {
		const uint32_t *o = order + start[s];
		size_t m = start[s + 1] - start[s];
		if (!m)
			continue;
		struct stripe *st = &r->stripes[s];
		pthread_mutex_lock(&st->mu);
		for (size_t j = 0; j < m + 4 * SNAP_AHEAD && !rc; j++) {
			if (j < m) {
				const struct batch_acct *bj = &b->list[o[j]];
				const char *rp = (const char *)&b->recs[bj->last];
				for (size_t off = 0; off < sizeof(struct kg_risk_record) + 63; off += 64)
					__builtin_prefetch(rp + off);
				__builtin_prefetch(bj->id);
			}
			for (size_t stage = 0; stage < 3; stage++) {
				size_t k = j - (1 + stage) * SNAP_AHEAD;
				const struct batch_acct *bk = &b->list[o[k < m ? k : 0]];
				if (j >= (1 + stage) * SNAP_AHEAD && k < m)
					kg_risk_warm_locked(st, bk->ah, (kg_str){bk->id, bk->id_len},
							    (int)stage, WARM_BLOB);
			}
			if (j < 4 * SNAP_AHEAD)
				continue;
			const struct batch_acct *ba = &b->list[o[j - 4 * SNAP_AHEAD]];
			struct kg_risk_record *rec = &b->recs[ba->last];
			kg_str id = {ba->id, ba->id_len}; /* the same as rec's */
			struct acct *a = acct_find(st, ba->ah, id);
			size_t off = b->blobs.len;
			if (a != rec->acct) {
				rc = kg_err_set(err, KG_EBUSY,
						"account %s changed under the batch (a concurrent "
						"write failed); nothing of the batch was written",
						rec->account);
				b->stale = kg_store_shared(r->store);
			} else if ((rc = kg_features_save(&a->f, &b->blobs))) {
				kg_err_set(err, rc, "feature state too large");
			}
			rec->blob_len = b->blobs.len - off;
			rec->new_row = ba->absent;
			keys[b->n_blob++] = blob_key(ba->id, ba->id_len, off, ba->last);
		}
		pthread_mutex_unlock(&st->mu);
	}
	if (!rc)
		qsort(keys, b->n_blob, sizeof(*keys), cmp_blob_key);
	/* in account order; each record its blob (blobs has stopped moving) */
	for (size_t i = 0; !rc && i < b->n_blob; i++) {
		if (i + 8 < b->n_blob)
			__builtin_prefetch(&b->recs[keys[i + 8].rec].blob, 1);
		b->recs[keys[i].rec].blob = b->blobs.data + keys[i].off;
		b->blob_recs[i] = keys[i].rec;
	}
	return rc;
}

/* A batch of at least this many lines is kept, when freed, for the next
 * one (one at a time per engine: kg_risk spare_batch): its arrays, buffers
 * and arena chunks hold megabytes, which would otherwise be allocated,
 * faulted in (the kernel clears each fresh page) and freed again every
 * batch of a durable replay. Smaller batches (kagid's) are made and freed
 * as before. */
#define BATCH_KEEP_MIN 1024

static void batch_free_all(kg_risk_batch *b)
{
	free(b->recs);
	free(b->accts);
	free(b->blob_recs);
	free(b->ents);
	free(b->offs);
	free(b->keys);
	free(b->list);
	free(b->waits);
	kg_buf_release(&b->ent_blobs);
	kg_buf_release(&b->json);
	kg_buf_release(&b->w.merged);
	kg_arena_release(&b->arena);
	kg_arena_release(&b->scratch);
	kg_buf_release(&b->blobs);
	free(b);
}

void kg_risk_batch_free(kg_risk_batch *b)
{
	if (!b)
		return;
	if (b->ticket && !b->settled) /* not finished: wait (the write reads b) */
		kg_risk_batch_finish(b->r, b, NULL);
	kg_store_ticket_free(b->ticket);
	b->ticket = NULL;
	for (size_t i = 0; i < b->nrec; i++)
		kg_risk_record_release(&b->recs[i]);
	kg_risk *r = b->r;
	if (b->n >= BATCH_KEEP_MIN && b->acct_cap && b->rec_cap) {
		kg_buf_release(&b->w.merged); /* the writer's, made per job */
		b = atomic_exchange(&r->spare_batch, b);
	}
	if (b)
		batch_free_all(b);
}

void kg_risk_batch_spare_free(kg_risk *r)
{
	kg_risk_batch *b = atomic_exchange(&r->spare_batch, NULL);
	if (b)
		batch_free_all(b);
}

/* A batch for n lines: the engine's kept one (kg_risk_batch_free) emptied,
 * its capacities kept, or a new one; NULL when out of memory. */
static kg_risk_batch *batch_new(kg_risk *r, size_t n)
{
	kg_risk_batch *b = n >= BATCH_KEEP_MIN ? atomic_exchange(&r->spare_batch, NULL) : NULL;
	if (!b) {
		if (!(b = calloc(1, sizeof(*b))))
			return NULL;
		kg_arena_init(&b->arena, n < 1024 ? 16 * 1024 : 256 * 1024); /* ids, decisions */
		kg_arena_init(&b->scratch, 64 * 1024);
		kg_buf_init(&b->blobs, SIZE_MAX / 2);
		kg_buf_init(&b->ent_blobs, SIZE_MAX / 2);
		kg_buf_init(&b->json, SIZE_MAX / 2);
		return b;
	}
	/* what a new one starts with; the arrays' and buffers' memory stays */
	kg_arena_rewind(&b->arena);
	kg_arena_rewind(&b->scratch);
	kg_buf_reset(&b->blobs);
	kg_buf_reset(&b->ent_blobs);
	kg_buf_reset(&b->json);
	b->nrec = b->n_blob = b->n_ents = b->n_waits = 0;
	b->w = (struct kg_risk_write){0};
	b->after = NULL;
	b->settled = b->stale = false;
	kg_err_clear(&b->parse_err);
	return b;
}

int kg_risk_batch_start(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
			kg_arena *a, struct kg_risk_answer *ans, kg_risk_batch *after,
			kg_risk_batch **out, kg_err *err)
{
	bool stale;
	return kg_risk_batch_try(r, events, lens, n, a, ans, after, out, &stale, err);
}

int kg_risk_batch_try(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
		      kg_arena *a, struct kg_risk_answer *ans, kg_risk_batch *after,
		      kg_risk_batch **out, bool *stale, kg_err *err)
{
	*out = NULL;
	*stale = false;
	memset(ans, 0, n * sizeof(*ans));
	kg_risk_batch *b = batch_new(r, n);
	if (!b)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	b->r = r;
	b->events = events;
	b->lens = lens;
	b->n = n;
	b->after = after;
	b->a = a;
	b->ans = ans;
	int rc = 0;
	if (!r->store) {
		rc = batch_decide(b, NULL, err);
		goto done;
	}
	b->acap = 16;
	while (b->acap < n * 2)
		b->acap *= 2;
	/* each record is cleared when it is taken (batch_decide); the table of
	 * accounts is cleared here, as calloc left it when each batch made its
	 * own */
	if (room(&b->recs, &b->rec_cap, n, sizeof(*b->recs)) ||
	    room(&b->accts, &b->acct_cap, b->acap, sizeof(*b->accts))) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto done;
	}
	memset(b->accts, 0, b->acap * sizeof(*b->accts));
	rc = kg_store_read(r->store, batch_decide_job, b, err);
	/* blobs taken and job queued under one lock: jobs are written in the
	 * order their blobs were taken, so a blob taken later (holding more
	 * events) is never overwritten by one taken earlier */
	pthread_mutex_lock(&r->write_mu);
	if (!rc)
		rc = batch_snapshot(b, err);
	if (!rc)
		rc = batch_entities(b, err);
	if (!rc && (b->nrec || after)) {
		b->w = (struct kg_risk_write){b->recs, b->nrec, b->blob_recs, b->n_blob,
					      r->lock_hook, r->lock_ctx, b->json.data,
					      b->ents, b->n_ents, KG_BUF_INIT(1024 * 1024),
					      kg_store_shared(r->store), kg_risk_acct_version, r, r->ents,
					      false};
		rc = kg_risk_persist_start(r->store, &b->w, after ? after->ticket : NULL,
					   &b->ticket, err);
	}
	pthread_mutex_unlock(&r->write_mu);
done:
	if (rc) {
		*stale = b->stale;
		kg_risk_settle(r, b->recs, b->nrec, false);
		b->settled = true;
		kg_risk_batch_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Each line that repeated an event in flight: once that event's write has
 * settled, its answer is the decision stored for it — the first send's,
 * as the apply step left it (a breaker hold, say), and durable; if that
 * write failed, nothing is stored and the line is refused as busy (a
 * client sends it again). A copy taken while the first was in flight is
 * never answered. */
static void batch_wait_resolve(kg_risk *r, struct kg_risk_batch *b)
{
	kg_buf text = KG_BUF_INIT(KG_EVENT_BYTES_MAX * 4);
	for (size_t k = 0; k < b->n_waits; k++) {
		struct batch_wait *w = &b->waits[k];
		uint64_t idh[2];
		kg_risk_hash_seed2(w->ev.id.p, w->ev.id.n, ID_SEED, ID_SEED2, idh);
		uint64_t h = kg_risk_hash(w->ev.account.p, w->ev.account.n) * 31 + idh[0];
		pthread_mutex_lock(&r->settle_mu);
		while (kg_risk_seen_inflight(r, w->ev.account, h, idh[1])) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 50 * 1000000L; /* also re-checked without a wake-up */
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&r->settle_cv, &r->settle_mu, &until);
		}
		pthread_mutex_unlock(&r->settle_mu);
		kg_err e;
		kg_err_clear(&e);
		uint8_t hash[KG_EVENT_HASH_BYTES];
		size_t hash_len = 0;
		bool found = false;
		kg_buf_reset(&text);
		int rc = kg_risk_persist_find_decision(r->store, &w->ev, &text, hash, &hash_len,
						       &found, &e);
		struct kg_decision *d = !rc && found ? kg_arena_alloc(b->a, sizeof(*d)) : NULL;
		if (d && !kg_risk_decision_stored(&w->ev, text.data, text.len, b->a, d)) {
			b->ans[w->line].d = d;
			continue;
		}
		if (!rc && !found)
			kg_err_field(&e, KG_EBUSY, "id",
				     "id: the first send of event \"%.*s\" was not stored; send it again",
				     (int)w->ev.id.n, w->ev.id.p);
		else if (!rc)
			kg_err_set(&e, KG_ENOMEM, "out of memory");
		kg_err *copy = kg_arena_alloc(b->a, sizeof(*copy));
		if (copy)
			*copy = e;
		b->ans[w->line] = (struct kg_risk_answer){NULL, copy};
	}
	kg_buf_release(&text);
}

int kg_risk_batch_finish(kg_risk *r, kg_risk_batch *b, kg_err *err)
{
	int rc = 0;
	/* a batch queued after this one may still point at the ticket: it is
	 * freed with the batch */
	if (b->ticket)
		rc = kg_store_write_wait(r->store, b->ticket, err);
	if (!b->settled) {
		kg_risk_settle(r, b->recs, b->nrec, rc == 0);
		b->settled = true;
		if (!rc)
			batch_wait_resolve(r, b);
	}
	return rc;
}

bool kg_risk_batch_stale(const kg_risk_batch *b)
{
	return b && (b->w.stale || b->stale);
}

/* A stale batch (another node wrote one of its accounts after this node
 * read it) wrote nothing and its accounts were dropped from the cache: it
 * is decided again, on the rows as they are now. */
int kg_risk_decide_batch(kg_risk *r, const char *const *events, const size_t *lens, size_t n,
			 kg_arena *a, struct kg_risk_answer *out, kg_err *err)
{
	int rc;
	for (int attempt = 0;; attempt++) {
		kg_risk_batch *b = NULL;
		bool stale;
		rc = kg_risk_batch_try(r, events, lens, n, a, out, NULL, &b, &stale, err);
		if (!rc)
			rc = kg_risk_batch_finish(r, b, err);
		bool again = rc == KG_EBUSY && (stale || kg_risk_batch_stale(b)) &&
			     attempt < KG_RISK_STALE_RETRIES;
		kg_risk_batch_free(b);
		if (!again)
			return rc;
		kg_err_clear(err);
		kg_risk_stale_backoff(attempt);
	}
}

void kg_risk_stale_backoff(int attempt)
{
	/* two nodes whose batches share accounts would meet again at once:
	 * a random pause, up to 2^attempt ms (at most 64 ms), parts them */
	uint64_t r = kg_risk_hash((const char *)&attempt, sizeof(attempt)) ^ (uint64_t)kg_now_ms();
	r = kg_risk_hash((const char *)&r, sizeof(r));
	long ms = (long)(r % (1u << (attempt < 6 ? attempt + 1 : 6)));
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

const kg_err *kg_risk_batch_refusal(const kg_risk_batch *b)
{
	return &b->parse_err;
}
