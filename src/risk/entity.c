/* Entity state: per entity (kind + 64-bit hash of its key) and stream, the
 * accounts seen with their last-seen time, at most KG_ENTITY_ACCTS_CAP,
 * in ascending last-seen order (a time-ordered queue: the least recently
 * seen account goes when full). Adding an event scans and moves at most
 * the cap's entries, whatever the entity's traffic: O(1) per event for a
 * hot IP. The table is striped like the account cache, each stripe an
 * open-addressing table (linear probing, at most half full) whose slot
 * holds the entity's key beside its record: a lookup reads the record
 * only for its own key, and one not there reads no record at all (a
 * chained table read the slot, then every record of its chain). A thread
 * holds one entity stripe at a time, and only under its account's stripe
 * (the order: account stripe, then one entity stripe; never the reverse),
 * so the locks cannot deadlock. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "risk/entity.h"
#include "risk/risk_impl.h"

#define ENT_STRIPES 64
#define ENT_BLOB_VERSION 1

const char *const kg_entity_kind_names[KG_ENT_COUNT] = {"ip", "device", "card", "address"};
const char *const kg_entity_stream_names[KG_ES_COUNT] = {"events", "logins.failed",
							 "orders.gift_card"};

/* Seeds of the key hash per kind: one IP string and one device id string
 * are different entities. */
static const uint64_t kind_seed[KG_ENT_COUNT] = {0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
						 0x6a09e667f3bcc908ull, 0x3c6ef372fe94f82bull};

struct ent_acct {
	uint64_t acct; /* kg_risk_hash of the account id */
	uint32_t last; /* Unix s */
};

/* A set's entries: one lies in the set itself (most entities have one
 * account: cap 1), more on the heap (cap >= 2). */
struct ent_set {
	uint32_t n, cap;
	union {
		struct ent_acct *heap;
		struct ent_acct one;
	} u;
};

static inline struct ent_acct *set_v(struct ent_set *s)
{
	return s->cap <= 1 ? &s->u.one : s->u.heap;
}

static inline const struct ent_acct *set_cv(const struct ent_set *s)
{
	return s->cap <= 1 ? &s->u.one : s->u.heap;
}

static void set_release(struct ent_set *s)
{
	if (s->cap > 1)
		free(s->u.heap);
	*s = (struct ent_set){0};
}

struct entity {
	struct entity *next; /* on its stripe's free list */
	uint64_t key;
	int64_t ver; /* its stored row's version (kg_entities_version) */
	enum kg_entity_kind kind;
	bool row; /* a row of it was found when first met, or its state was
		   * taken for a write since (kg_entities_save_one) */
	struct ent_set sets[KG_ES_COUNT];
};

/* Entities are cut from slabs of their stripe (no malloc per entity, one
 * free per slab at the end); a dropped one goes on the stripe's free list. */
#define ENT_SLAB 128
struct ent_slab {
	struct ent_slab *next;
	struct entity e[ENT_SLAB];
};

/* A stripe's slot: e NULL is empty; key is e->key (read without e). */
struct ent_slot {
	uint64_t key;
	struct entity *e;
};

struct ent_stripe {
	pthread_mutex_t mu;
	struct ent_slot *b;
	size_t cap, n; /* cap a power of two (or 0), n <= cap / 2 */
	struct ent_slab *slabs;
	uint32_t slab_used; /* of slabs (the newest) */
	struct entity *free; /* dropped, through next */
};

struct kg_entities {
	struct ent_stripe stripes[ENT_STRIPES];
	atomic_bool dropped; /* kg_entities_dropped */
};

bool kg_entity_has_stream(enum kg_entity_kind k, enum kg_entity_stream s)
{
	switch (s) {
	case KG_ES_EVENTS: return true;
	case KG_ES_LOGINS_FAILED: return k == KG_ENT_IP || k == KG_ENT_DEVICE;
	case KG_ES_ORDERS_GIFT_CARD: return k == KG_ENT_ADDRESS;
	default: return false;
	}
}

uint32_t kg_entity_event_types(enum kg_entity_kind k)
{
	switch (k) {
	case KG_ENT_IP:
	case KG_ENT_DEVICE: return 1u << KG_EV_LOGIN | 1u << KG_EV_PASSWORD_CHANGE;
	case KG_ENT_CARD: return 1u << KG_EV_ORDER | 1u << KG_EV_PAYMENT;
	case KG_ENT_ADDRESS: return 1u << KG_EV_ORDER;
	default: return 0;
	}
}

static int view_read(struct kg_entity_view *v, enum kg_entity_kind k, enum kg_entity_stream s);

int64_t kg_entity_view_distinct(struct kg_entity_view *v, enum kg_entity_kind k,
				enum kg_entity_stream s, uint32_t now, uint32_t window_s)
{
	if (!v || (!(v->ready[k] >> s & 1) && view_read(v, k, s)) || !(v->has >> k & 1))
		return 0;
	const uint32_t *last = v->last[k][s];
	uint32_t n = v->n[k][s], c = 0;
	uint32_t from = now > window_s ? now - window_s : 0; /* the window is (from, now] */
	for (uint32_t i = n; i > 0 && last[i - 1] > from; i--)
		if (last[i - 1] <= now)
			c++;
	return c;
}

/* ---- one set ---------------------------------------------------------------- */
static int set_reserve(struct ent_set *s, uint32_t want)
{
	if (want <= s->cap)
		return 0;
	if (want == 1) { /* in the set */
		s->cap = 1;
		return 0;
	}
	uint32_t cap = s->cap > 1 ? s->cap * 2 : 2;
	while (cap < want)
		cap *= 2;
	if (cap > KG_ENTITY_ACCTS_CAP)
		cap = KG_ENTITY_ACCTS_CAP;
	struct ent_acct *v = realloc(s->cap > 1 ? s->u.heap : NULL, cap * sizeof(*v));
	if (!v)
		return KG_ENOMEM;
	if (s->cap == 1)
		v[0] = s->u.one;
	s->u.heap = v;
	s->cap = cap;
	return 0;
}

/* The account seen at t: its entry moves to its place in time order (a
 * later time it had stays). */
static int set_add(struct ent_set *s, uint64_t acct, uint32_t t)
{
	uint32_t i = s->n;
	struct ent_acct *v = set_v(s);
	while (i > 0 && v[i - 1].acct != acct)
		i--;
	if (i > 0) {
		i--;
		if (v[i].last >= t)
			return 0;
		memmove(&v[i], &v[i + 1], (s->n - i - 1) * sizeof(v[0]));
		s->n--;
	} else if (s->n == KG_ENTITY_ACCTS_CAP) {
		if (v[0].last > t)
			return 0; /* older than every account kept */
		memmove(&v[0], &v[1], (s->n - 1) * sizeof(v[0]));
		s->n--;
	} else if (set_reserve(s, s->n + 1)) {
		return KG_ENOMEM;
	}
	v = set_v(s);
	uint32_t j = s->n;
	while (j > 0 && v[j - 1].last > t)
		j--;
	memmove(&v[j + 1], &v[j], (s->n - j) * sizeof(v[0]));
	v[j].acct = acct;
	v[j].last = t;
	s->n++;
	return 0;
}

/* ---- the table ---------------------------------------------------------------- */
int kg_entities_new(kg_entities **out)
{
	kg_entities *t = calloc(1, sizeof(*t));
	if (!t)
		return KG_ENOMEM;
	for (int i = 0; i < ENT_STRIPES; i++)
		pthread_mutex_init(&t->stripes[i].mu, NULL);
	*out = t;
	return 0;
}

static void entity_clear(struct entity *e)
{
	for (int s = 0; s < KG_ES_COUNT; s++)
		set_release(&e->sets[s]);
}

/* A zeroed entity of stripe st. */
static struct entity *entity_alloc(struct ent_stripe *st)
{
	struct entity *e = st->free;
	if (e) {
		st->free = e->next;
	} else {
		if (!st->slabs || st->slab_used == ENT_SLAB) {
			struct ent_slab *sl = malloc(sizeof(*sl));
			if (!sl)
				return NULL;
			sl->next = st->slabs;
			st->slabs = sl;
			st->slab_used = 0;
		}
		e = &st->slabs->e[st->slab_used++];
	}
	memset(e, 0, sizeof(*e));
	return e;
}

static void entity_free(struct ent_stripe *st, struct entity *e)
{
	entity_clear(e);
	e->next = st->free;
	st->free = e;
}

void kg_entities_free(kg_entities *t)
{
	if (!t)
		return;
	for (int i = 0; i < ENT_STRIPES; i++) {
		struct ent_stripe *st = &t->stripes[i];
		for (size_t k = 0; k < st->cap; k++)
			if (st->b[k].e)
				entity_clear(st->b[k].e);
		for (struct ent_slab *sl = st->slabs, *n; sl; sl = n) {
			n = sl->next;
			free(sl);
		}
		free(st->b);
		pthread_mutex_destroy(&st->mu);
	}
	free(t);
}

static struct ent_stripe *stripe_of(kg_entities *t, uint64_t key)
{
	return &t->stripes[key % ENT_STRIPES];
}

/* The home slot of key in a table of cap slots (the stripe took the low 6 bits). */
static inline size_t home_of(uint64_t key, size_t cap)
{
	return (key >> 6) & (cap - 1);
}

/* The slot of entity (k, key) in stripe st, or of the empty slot that ends
 * its probe (st->cap > 0). */
static size_t slot_of(const struct ent_stripe *st, enum kg_entity_kind k, uint64_t key)
{
	size_t mask = st->cap - 1, i = home_of(key, st->cap);
	for (; st->b[i].e; i = (i + 1) & mask)
		if (st->b[i].key == key && st->b[i].e->kind == k)
			break;
	return i;
}

static struct entity *find(struct ent_stripe *st, enum kg_entity_kind k, uint64_t key)
{
	return st->cap ? st->b[slot_of(st, k, key)].e : NULL;
}

static int grow(struct ent_stripe *st)
{
	size_t cap = st->cap ? st->cap * 2 : 64;
	struct ent_slot *b = calloc(cap, sizeof(*b));
	if (!b)
		return KG_ENOMEM;
	for (size_t i = 0; i < st->cap; i++) {
		if (!st->b[i].e)
			continue;
		size_t j = home_of(st->b[i].key, cap);
		while (b[j].e)
			j = (j + 1) & (cap - 1);
		b[j] = st->b[i];
	}
	free(st->b);
	st->b = b;
	st->cap = cap;
	return 0;
}

static int get(struct ent_stripe *st, enum kg_entity_kind k, uint64_t key, struct entity **out)
{
	struct entity *e = find(st, k, key);
	if (!e) {
		if (2 * (st->n + 1) > st->cap && grow(st))
			return KG_ENOMEM;
		if (!(e = entity_alloc(st)))
			return KG_ENOMEM;
		e->key = key;
		e->kind = k;
		st->b[slot_of(st, k, key)] = (struct ent_slot){key, e};
		st->n++;
	}
	*out = e;
	return 0;
}

bool kg_entity_key(const kg_event *ev, enum kg_entity_kind k, kg_buf *norm,
		   struct kg_entity_addr_memo *memo, uint64_t *key)
{
	if (!(kg_entity_event_types(k) & 1u << ev->type))
		return false;
	kg_str s = {0};
	switch (k) {
	case KG_ENT_IP: s = ev->ip; break;
	case KG_ENT_DEVICE: s = ev->device_id; break;
	case KG_ENT_CARD: s = ev->card.fingerprint; break;
	case KG_ENT_ADDRESS: {
		const kg_ev_address *a = &ev->shipping_address;
		if (!a->line1.n && !a->postal_code.n && !a->city.n)
			return false;
		const kg_str parts[] = {a->country, a->postal_code, a->region,
					a->city, a->line1, a->line2};
		uint64_t raw[2] = {0, 0};
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			uint64_t h[2];
			kg_risk_hash_seed2(parts[i].p, parts[i].n, 0x9e3779b97f4a7c15ull + i,
					   0xc2b2ae3d27d4eb4full + i, h);
			raw[0] = raw[0] * 0x100000001b3ull ^ h[0];
			raw[1] = raw[1] * 0x100000001b3ull ^ h[1];
		}
		if (memo && memo->key && memo->raw[0] == raw[0] && memo->raw[1] == raw[1]) {
			*key = memo->key;
			return true;
		}
		kg_buf_reset(norm);
		if (kg_address_key(a, norm))
			return false;
		*key = kg_risk_hash_seed(norm->data, norm->len, kind_seed[k]);
		if (memo)
			*memo = (struct kg_entity_addr_memo){{raw[0], raw[1]}, *key};
		return true;
	}
	default: return false;
	}
	if (!s.n)
		return false;
	*key = kg_risk_hash_seed(s.p, s.n, kind_seed[k]);
	return true;
}

uint64_t kg_entity_key_of(enum kg_entity_kind k, const char *s, size_t n)
{
	return kg_risk_hash_seed(s, n, kind_seed[k]);
}

static int entity_load(struct entity *e, const void *blob, size_t len, kg_err *err);

/* Forgets entity (kind, key) of stripe st (its lock held). The slots after
 * it up to the next empty one move back where their probe still finds them
 * (no tombstones). */
static void unlink_locked(kg_entities *t, struct ent_stripe *st, int kind, uint64_t key)
{
	if (!st->cap)
		return;
	size_t mask = st->cap - 1, i = slot_of(st, (enum kg_entity_kind)kind, key);
	struct entity *e = st->b[i].e;
	if (!e)
		return;
	for (size_t j = (i + 1) & mask; st->b[j].e; j = (j + 1) & mask) {
		size_t h = home_of(st->b[j].key, st->cap);
		/* j stays when its home lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		st->b[i] = st->b[j];
		i = j;
	}
	st->b[i] = (struct ent_slot){0};
	entity_free(st, e);
	st->n--;
	atomic_store(&t->dropped, true);
}

/* Entity (k, key) of stripe st (its lock held) into *out: made when it is
 * not in memory, its stored state read (load) when first met. Without a
 * load, an entity that is only read (!make) and not there is NULL. */
static int met(kg_entities *t, struct ent_stripe *st, enum kg_entity_kind k, uint64_t key,
	       bool make, kg_entity_load_fn load, void *load_ctx, struct entity **out,
	       kg_err *err)
{
	struct entity *e = find(st, k, key);
	*out = e;
	if (e || (!make && !load))
		return 0;
	int rc = get(st, k, key, &e);
	if (rc)
		return kg_err_set(err, rc, "out of memory");
	if (load) { /* first met since the start: its stored state */
		kg_arena a;
		kg_arena_init(&a, 4096);
		const uint8_t *blob = NULL;
		size_t len = 0;
		rc = load(load_ctx, k, key, &a, &blob, &len, &e->ver, err);
		if (rc == KG_ENOTFOUND) {
			kg_err_clear(err);
			rc = 0;
		} else if (!rc) {
			e->row = true;
			if (len)
				rc = entity_load(e, blob, len, err);
		}
		kg_arena_release(&a);
		if (rc) { /* not half-known: read again next time */
			unlink_locked(t, st, k, key);
			return rc;
		}
	}
	*out = e;
	return 0;
}

/* Stream s of e (NULL: none) into the view. */
static void view_copy(struct kg_entity_view *v, enum kg_entity_kind k, enum kg_entity_stream s,
		      const struct entity *e)
{
	const struct ent_set *set = e ? &e->sets[s] : NULL;
	uint32_t n = set ? set->n : 0;
	v->n[k][s] = n;
	if (n) {
		const struct ent_acct *a = set_cv(set);
		uint32_t *last = v->last[k][s];
		for (uint32_t i = 0; i < n; i++)
			last[i] = a[i].last;
	}
	v->ready[k] |= (uint8_t)(1u << s);
}

/* Whether the view's event carries an entity of kind k (its key then in
 * v->key[k]); looked for once. */
static bool view_key(struct kg_entity_view *v, enum kg_entity_kind k)
{
	if (!(v->keyed >> k & 1)) {
		v->keyed |= (uint8_t)(1u << k);
		if (kg_entity_key(v->ev, k, v->norm, v->memo, &v->key[k]))
			v->has |= (uint8_t)(1u << k);
	}
	return v->has >> k & 1;
}

/* A stream the event did not add to, read when a rule first asks. */
static int view_read(struct kg_entity_view *v, enum kg_entity_kind k, enum kg_entity_stream s)
{
	if (v->rc)
		return v->rc;
	if (!v->t || !view_key(v, k)) {
		v->ready[k] |= (uint8_t)(1u << s);
		v->n[k][s] = 0;
		return 0;
	}
	struct ent_stripe *st = stripe_of(v->t, v->key[k]);
	pthread_mutex_lock(&st->mu);
	struct entity *e;
	int rc = met(v->t, st, k, v->key[k], false, v->load, v->load_ctx, &e, v->err);
	if (!rc) {
		view_copy(v, k, s, e);
		if (e)
			v->read |= (uint8_t)(1u << k);
	}
	pthread_mutex_unlock(&st->mu);
	return v->rc = rc;
}

/* Starts loading what met will read of entity key: its table slot (stage
 * 0), then its record (stage 1, once the slot is in). Reads only. */
static void entity_warm(kg_entities *t, uint64_t key, int stage)
{
	struct ent_stripe *st = stripe_of(t, key);
	pthread_mutex_lock(&st->mu);
	if (st->cap) {
		const struct ent_slot *sl = &st->b[home_of(key, st->cap)];
		if (stage == 0) {
			__builtin_prefetch(sl);
		} else if (sl->e && sl->key == key) {
			__builtin_prefetch(sl->e);
			__builtin_prefetch((const char *)sl->e + sizeof(struct entity) - 1);
		}
	}
	pthread_mutex_unlock(&st->mu);
}

/* The streams of kind k that ev adds to (bits of enum kg_entity_stream). */
static unsigned adds_of(const kg_event *ev, enum kg_entity_kind k)
{
	if (!(kg_entity_event_types(k) & 1u << ev->type))
		return 0;
	unsigned s = 1u << KG_ES_EVENTS;
	if (ev->type == KG_EV_LOGIN && !ev->success && kg_entity_has_stream(k, KG_ES_LOGINS_FAILED))
		s |= 1u << KG_ES_LOGINS_FAILED;
	if (ev->type == KG_EV_ORDER && ev->gift_card_amount > 0 &&
	    kg_entity_has_stream(k, KG_ES_ORDERS_GIFT_CARD))
		s |= 1u << KG_ES_ORDERS_GIFT_CARD;
	return s;
}

void kg_entities_begin(kg_entities *t, const kg_event *ev, const kg_entity_keep keep,
		       kg_buf *norm, struct kg_entity_addr_memo *memo, kg_entity_load_fn load,
		       void *load_ctx, struct kg_entity_view *view, kg_err *err)
{
	view->t = t;
	view->ev = ev;
	view->norm = norm;
	view->memo = memo;
	view->load = load;
	view->load_ctx = load_ctx;
	view->err = err;
	view->rc = 0;
	view->keyed = view->has = view->added = view->read = 0;
	memset(view->ready, 0, sizeof(view->ready));
	/* the entities it may meet (those it adds to, those a rule reads):
	 * their table slots start loading now, their records in
	 * kg_entities_add (met reads them one after the other, each a cache
	 * miss of its own otherwise); an address that is only read is not
	 * (its key is a normalisation: made when a rule asks) */
	for (int k = 0; k < KG_ENT_COUNT; k++)
		if (keep[k] &&
		    (k != KG_ENT_ADDRESS || (keep[k] & adds_of(ev, (enum kg_entity_kind)k))) &&
		    view_key(view, (enum kg_entity_kind)k))
			entity_warm(t, view->key[k], 0);
}

int kg_entities_add(kg_entities *t, const kg_event *ev, uint64_t ah, const kg_entity_keep keep,
		    struct kg_entity_view *view, kg_err *err)
{
	uint32_t now = (uint32_t)(ev->ts_ms / 1000);
	kg_entity_load_fn load = view->load;
	void *load_ctx = view->load_ctx;
	for (int k = 0; k < KG_ENT_COUNT; k++)
		if (keep[k] && (view->has >> k & 1))
			entity_warm(t, view->key[k], 1);
	int rc = 0;
	for (int k = 0; k < KG_ENT_COUNT && !rc; k++) {
		unsigned add = keep[k] & adds_of(ev, (enum kg_entity_kind)k);
		if (!add || !view_key(view, (enum kg_entity_kind)k))
			continue;
		uint64_t key = view->key[k];
		struct ent_stripe *st = stripe_of(t, key);
		pthread_mutex_lock(&st->mu);
		struct entity *e;
		rc = met(t, st, (enum kg_entity_kind)k, key, true, load, load_ctx, &e, err);
		for (int s = 0; s < KG_ES_COUNT && !rc; s++) {
			if (!(add >> s & 1))
				continue;
			if ((rc = set_add(&e->sets[s], ah, now)))
				kg_err_set(err, rc, "out of memory");
			else
				view_copy(view, (enum kg_entity_kind)k, (enum kg_entity_stream)s, e);
		}
		if (!rc)
			view->added |= (uint8_t)(1u << k);
		pthread_mutex_unlock(&st->mu);
	}
	return view->rc = rc;
}

int kg_entities_observe(kg_entities *t, const kg_event *ev, uint64_t ah,
			const kg_entity_keep keep, kg_buf *norm,
			struct kg_entity_addr_memo *memo, kg_entity_load_fn load, void *load_ctx,
			struct kg_entity_view *view, kg_err *err)
{
	kg_entities_begin(t, ev, keep, norm, memo, load, load_ctx, view, err);
	return kg_entities_add(t, ev, ah, keep, view, err);
}

void kg_entities_drop(kg_entities *t, int kind, uint64_t key)
{
	struct ent_stripe *st = stripe_of(t, key);
	pthread_mutex_lock(&st->mu);
	unlink_locked(t, st, kind, key);
	pthread_mutex_unlock(&st->mu);
}

bool kg_entities_dropped(kg_entities *t)
{
	return atomic_load(&t->dropped);
}

bool kg_entities_version(kg_entities *t, int kind, uint64_t key, int64_t expect, int64_t next)
{
	struct ent_stripe *st = stripe_of(t, key);
	pthread_mutex_lock(&st->mu);
	struct entity *e = find(st, (enum kg_entity_kind)kind, key);
	bool ok = e && e->ver == expect;
	if (ok)
		e->ver = next;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

/* ---- blobs ------------------------------------------------------------------- */
/* A version byte, then per stream of the kind: n, and n entries (the
 * account hash as 8 bytes little-endian, the last-seen time as a LEB128
 * delta from the entry before: times ascend). */
static int put_u(kg_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return kg_buf_append(b, tmp, n);
}

static int entity_save(const struct entity *e, kg_buf *b)
{
	uint8_t ver = ENT_BLOB_VERSION;
	int rc = kg_buf_append(b, &ver, 1);
	for (int s = 0; s < KG_ES_COUNT && !rc; s++) {
		if (!kg_entity_has_stream(e->kind, (enum kg_entity_stream)s))
			continue;
		const struct ent_set *set = &e->sets[s];
		const struct ent_acct *v = set_cv(set);
		rc = put_u(b, set->n);
		uint32_t prev = 0;
		for (uint32_t i = 0; i < set->n && !rc; i++) {
			uint8_t h[8];
			for (int j = 0; j < 8; j++)
				h[j] = (uint8_t)(v[i].acct >> (8 * j));
			rc = kg_buf_append(b, h, 8);
			if (!rc)
				rc = put_u(b, v[i].last - prev);
			prev = v[i].last;
		}
	}
	return rc;
}

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get_u(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

/* Loads a blob into e (its sets replaced); a corrupt blob changes nothing. */
static int entity_load(struct entity *e, const void *blob, size_t len, kg_err *err)
{
	struct rd r = {blob, (const uint8_t *)blob + len, false};
	struct ent_set sets[KG_ES_COUNT] = {{0}};
	int rc = 0;
	if (!len || *r.p++ != ENT_BLOB_VERSION)
		r.bad = true;
	for (int s = 0; s < KG_ES_COUNT && !r.bad && !rc; s++) {
		if (!kg_entity_has_stream(e->kind, (enum kg_entity_stream)s))
			continue;
		uint64_t n = get_u(&r);
		if (n > KG_ENTITY_ACCTS_CAP) {
			r.bad = true;
			break;
		}
		if ((rc = set_reserve(&sets[s], (uint32_t)n)))
			break;
		uint64_t t = 0;
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			if (r.end - r.p < 8) {
				r.bad = true;
				break;
			}
			uint64_t h = 0;
			for (int j = 0; j < 8; j++)
				h |= (uint64_t)r.p[j] << (8 * j);
			r.p += 8;
			t += get_u(&r);
			if (t > UINT32_MAX)
				r.bad = true;
			set_v(&sets[s])[i].acct = h;
			set_v(&sets[s])[i].last = (uint32_t)t;
			sets[s].n = i + 1;
		}
	}
	if (!rc && (r.bad || r.p != r.end))
		rc = kg_err_set(err, KG_EINVAL, "entity state blob is corrupt");
	else if (rc)
		kg_err_set(err, rc, "out of memory");
	if (rc) {
		for (int s = 0; s < KG_ES_COUNT; s++)
			set_release(&sets[s]);
		return rc;
	}
	for (int s = 0; s < KG_ES_COUNT; s++) {
		set_release(&e->sets[s]);
		e->sets[s] = sets[s];
	}
	return 0;
}

int kg_entities_roundtrip(kg_entities *t, kg_err *err)
{
	kg_buf b = KG_BUF_INIT(1024 * 1024);
	int rc = 0;
	for (int i = 0; i < ENT_STRIPES && !rc; i++) {
		struct ent_stripe *st = &t->stripes[i];
		pthread_mutex_lock(&st->mu);
		for (size_t k = 0; k < st->cap && !rc; k++) {
			struct entity *e = st->b[k].e;
			if (!e)
				continue;
			kg_buf_reset(&b);
			rc = entity_save(e, &b);
			if (rc)
				kg_err_set(err, rc, "out of memory");
			else
				rc = entity_load(e, b.data, b.len, err);
		}
		pthread_mutex_unlock(&st->mu);
	}
	kg_buf_release(&b);
	return rc;
}

void kg_entities_stats(kg_entities *t, size_t *n, size_t *mem_bytes, size_t *blob_bytes)
{
	kg_buf b = KG_BUF_INIT(1024 * 1024);
	*n = *mem_bytes = *blob_bytes = 0;
	for (int i = 0; i < ENT_STRIPES; i++) {
		struct ent_stripe *st = &t->stripes[i];
		pthread_mutex_lock(&st->mu);
		*mem_bytes += st->cap * sizeof(st->b[0]);
		for (size_t k = 0; k < st->cap; k++) {
			struct entity *e = st->b[k].e;
			if (!e)
				continue;
			(*n)++;
			*mem_bytes += sizeof(*e);
			for (int s = 0; s < KG_ES_COUNT; s++) /* one lies in the set */
				if (e->sets[s].cap > 1)
					*mem_bytes += e->sets[s].cap * sizeof(struct ent_acct);
			kg_buf_reset(&b);
			if (!entity_save(e, &b))
				*blob_bytes += b.len;
		}
		pthread_mutex_unlock(&st->mu);
	}
	kg_buf_release(&b);
}

uint32_t kg_entities_count(kg_entities *t, enum kg_entity_kind k, uint64_t key,
			   enum kg_entity_stream s)
{
	struct ent_stripe *st = stripe_of(t, key);
	pthread_mutex_lock(&st->mu);
	struct entity *e = find(st, k, key);
	uint32_t n = e ? e->sets[s].n : 0;
	pthread_mutex_unlock(&st->mu);
	return n;
}

int kg_entities_save_one(kg_entities *t, int kind, uint64_t key, kg_buf *out, bool *row)
{
	struct ent_stripe *st = stripe_of(t, key);
	pthread_mutex_lock(&st->mu);
	struct entity *e = find(st, (enum kg_entity_kind)kind, key);
	int rc = e ? entity_save(e, out) : KG_ENOTFOUND;
	*row = e && e->row;
	if (!rc)
		e->row = true;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int kg_entity_blob_merge(int kind, const void *a, size_t alen, const void *b, size_t blen,
			 kg_buf *out, kg_err *err)
{
	struct entity x = {.kind = (enum kg_entity_kind)kind}, y = {.kind = (enum kg_entity_kind)kind};
	int rc = 0;
	if ((alen && (rc = entity_load(&x, a, alen, err))) ||
	    (blen && (rc = entity_load(&y, b, blen, err))))
		goto cleanup;
	for (int s = 0; s < KG_ES_COUNT && !rc; s++)
		for (uint32_t i = 0; i < y.sets[s].n && !rc; i++)
			if ((rc = set_add(&x.sets[s], set_v(&y.sets[s])[i].acct,
					  set_v(&y.sets[s])[i].last)))
				kg_err_set(err, rc, "out of memory");
	if (!rc && (rc = entity_save(&x, out)))
		kg_err_set(err, rc, "out of memory");
cleanup:
	for (int s = 0; s < KG_ES_COUNT; s++) {
		set_release(&x.sets[s]);
		set_release(&y.sets[s]);
	}
	return rc;
}
