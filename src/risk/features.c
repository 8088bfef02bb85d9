/* Per-account features over sliding windows on event time, and their
 * compact blob. Buckets get coarser with age (1 s under 1 h, 1 min under
 * 25 h, 1 h under 8 d, 1 day up to 367 d): docs/rules.md states what that
 * means for each window. Not here: what the rules do with them. */
#include <stdlib.h>
#include <string.h>

#include "risk/risk_impl.h"

const char *const kg_stream_names[KG_S_COUNT] = {
	"events", "logins", "logins.failed", "logins.success", "orders", "orders.gift_card",
	"payments", "payments.declined", "payments.approved", "returns", "seller_reports",
	"password_changes", "profile_changes",
};
const char *const kg_set_names[KG_SET_COUNT] = {
	"devices", "countries", "ips", "cards", "sellers", "sellers.reporting",
	"sellers.returned",
};

#define STREAM_ENTRIES_MAX 8192 /* > 3600 + 1440 + 192 + 367: the tier bound */

/* 64x64->128 multiply, folded: the mixing step of the hash below. */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t kg_risk_hash_seed(const char *s, size_t n, uint64_t seed)
{
	/* eight bytes per step (little-endian words); stable: blobs keep these
	 * hashes of devices, IPs, marks */
	uint64_t h = seed ^ mix(n + 0x9e3779b97f4a7c15ull, 0xa0761d6478bd642full);
	for (; n >= 8; s += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = mix(h ^ w, 0xe7037ed1a0b428dbull);
	}
	uint64_t w = 0;
	if (n)
		memcpy(&w, s, n);
	h = mix(h ^ w ^ ((uint64_t)n << 56), 0x8ebc6af09c88c6e3ull);
	h = mix(h, 0x589965cc75374cc3ull);
	return h ? h : 1;
}

uint64_t kg_risk_hash(const char *s, size_t n)
{
	return kg_risk_hash_seed(s, n, 0);
}

void kg_risk_hash_seed2(const char *s, size_t n, uint64_t seed_a, uint64_t seed_b,
			uint64_t out[2])
{
	/* kg_risk_hash_seed twice, the two multiply chains side by side: the
	 * hash is bound by their latency, not by instructions */
	uint64_t h0 = mix(n + 0x9e3779b97f4a7c15ull, 0xa0761d6478bd642full);
	uint64_t a = seed_a ^ h0, b = seed_b ^ h0;
	for (; n >= 8; s += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		a = mix(a ^ w, 0xe7037ed1a0b428dbull);
		b = mix(b ^ w, 0xe7037ed1a0b428dbull);
	}
	uint64_t w = 0;
	if (n)
		memcpy(&w, s, n);
	a = mix(mix(a ^ w ^ ((uint64_t)n << 56), 0x8ebc6af09c88c6e3ull), 0x589965cc75374cc3ull);
	b = mix(mix(b ^ w ^ ((uint64_t)n << 56), 0x8ebc6af09c88c6e3ull), 0x589965cc75374cc3ull);
	out[0] = a ? a : 1;
	out[1] = b ? b : 1;
}

kg_features *kg_features_new(void)
{
	return calloc(1, sizeof(kg_features));
}

void kg_features_release(kg_features *f)
{
	free(f->mem);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

void kg_features_free(kg_features *f)
{
	if (!f)
		return;
	kg_features_release(f);
	free(f);
}

size_t kg_features_mem_bytes(const kg_features *f)
{
	return sizeof(*f) + f->name_len + f->cap * sizeof(kg_slot);
}

/* ---- the block of vectors -------------------------------------------------
 * Vector k owns the slots from its start to the next vector's (the last
 * one: to used), its capacity, and uses the first len of them. Adding to a vector with room moves only its
 * own elements after the insertion point (streams add at their end: none).
 * Removing moves only its own elements too, the fewer side: when the ones
 * before move up, the freed slots at its start go to the previous vector,
 * and a full vector takes them back if there are at least 1/VEC_RECLAIM of
 * its length (or it is short); else it grows by a quarter (at least
 * VEC_GROW_MIN, at most its bound), moving the vectors after it once: each
 * is amortised O(1) per element. A full vector with at most VEC_TAIL_CHEAP
 * slots after it (every vector of a typical account; the last one,
 * "events", always) grows by what it needs only: no slack where moving is
 * cheap. The block itself grows by half. */
#define SLOTS_MIN 16      /* first block: 256 bytes */
#define VEC_GROW_MIN 2    /* slots a full vector gains at least */
#define VEC_RECLAIM 16    /* see above */
#define VEC_TAIL_CHEAP 64 /* slots after a full vector (or in it) that are
			   * cheap to move on every insert */

#define VEC_LEN_MASK ((1u << KG_VEC_LEN_BITS) - 1)
#define VEC_START_MAX (UINT32_MAX >> KG_VEC_LEN_BITS) /* slots in a block */

static uint32_t vstart(const kg_features *f, int k)
{
	return f->vecs[k] >> KG_VEC_LEN_BITS;
}

static uint32_t vlen(const kg_features *f, int k)
{
	return f->vecs[k] & VEC_LEN_MASK;
}

static uint32_t vcap(const kg_features *f, int k)
{
	return (k + 1 < KG_V_COUNT ? vstart(f, k + 1) : f->used) - vstart(f, k);
}

/* Most elements vector k ever holds. */
static uint32_t vbound(int k)
{
	return k < KG_V_FAILED_LOGINS ? KG_SET_CAP : k < KG_V_STREAMS ? KG_RECS_CAP
								   : STREAM_ENTRIES_MAX;
}

static kg_slot *vec(const kg_features *f, int k)
{
	return f->mem ? f->mem + vstart(f, k) : NULL;
}

/* Makes the block hold at least need slots (whole cache lines). */
static int reserve(kg_features *f, uint32_t need)
{
	if (need <= f->cap)
		return 0;
	if (need > VEC_START_MAX)
		return KG_ELIMIT; /* cannot happen within the vectors' bounds */
	uint32_t nc = f->cap ? f->cap + f->cap / 2 : SLOTS_MIN;
	if (nc < need)
		nc = need;
	nc = (nc + 3) & ~3u;
	kg_slot *nm = realloc(f->mem, nc * sizeof(kg_slot));
	if (!nm)
		return KG_ENOMEM;
	f->mem = nm;
	f->cap = nc;
	return 0;
}

/* Makes vector k's capacity at least need (exactly need when exact, as
 * when loading): takes back the free slots before it (the previous
 * vector's slack, left by removals from its front) when that is worth
 * moving it, else grows, moving the vectors after it up. */
static int vec_grow(kg_features *f, int k, uint32_t need, bool exact)
{
	uint32_t c = vcap(f, k);
	if (need <= c)
		return 0;
	uint32_t gap = k > 0 ? vcap(f, k - 1) - vlen(f, k - 1) : 0;
	if (gap >= need - c && (vlen(f, k) <= VEC_TAIL_CHEAP || gap >= vlen(f, k) / VEC_RECLAIM)) {
		memmove(&f->mem[vstart(f, k) - gap], &f->mem[vstart(f, k)], vlen(f, k) * sizeof(kg_slot));
		f->vecs[k] -= gap << KG_VEC_LEN_BITS;
		return 0;
	}
	uint32_t nc = need, used = f->used, end = vstart(f, k) + c;
	if (!exact && used - end > VEC_TAIL_CHEAP) {
		nc = c + (c / 4 > VEC_GROW_MIN ? c / 4 : VEC_GROW_MIN);
		if (nc > vbound(k))
			nc = vbound(k);
		if (nc < need)
			nc = need;
	}
	uint32_t d = nc - c;
	int rc = reserve(f, used + d);
	if (rc)
		return rc;
	memmove(&f->mem[end + d], &f->mem[end], (used - end) * sizeof(kg_slot));
	for (int j = k + 1; j < KG_V_COUNT; j++)
		f->vecs[j] += d << KG_VEC_LEN_BITS;
	f->used += d;
	return 0;
}

/* Opens n slots at index i of vector k (0 <= i <= its length); *out points
 * at the first new slot. */
static int vec_open(kg_features *f, int k, uint32_t i, uint32_t n, bool exact, kg_slot **out)
{
	uint32_t len = vlen(f, k);
	if (len + n > vcap(f, k)) {
		int rc = vec_grow(f, k, len + n, exact);
		if (rc)
			return rc;
	}
	kg_slot *v = vec(f, k);
	if (i < len)
		memmove(&v[i + n], &v[i], (len - i) * sizeof(kg_slot));
	f->vecs[k] += n;
	*out = &v[i];
	return 0;
}

static int vec_insert(kg_features *f, int k, uint32_t i, kg_slot **out)
{
	return vec_open(f, k, i, 1, false, out);
}

/* Removes n slots from index i of vector k, moving the fewer of the
 * elements before and after them: when those before move up, vector k
 * starts n slots later and the previous vector owns them (vec_grow takes
 * them back). */
static void vec_remove(kg_features *f, int k, uint32_t i, uint32_t n)
{
	if (!n)
		return;
	kg_slot *v = vec(f, k);
	uint32_t after = vlen(f, k) - i - n;
	if (k > 0 && i < after) {
		memmove(&v[n], &v[0], i * sizeof(kg_slot));
		f->vecs[k] += n << KG_VEC_LEN_BITS;
	} else {
		memmove(&v[i], &v[i + n], after * sizeof(kg_slot));
	}
	f->vecs[k] -= n;
}

void kg_features_prefetch(const kg_features *f)
{
	/* the whole block (a typical account's is a few lines), or else the
	 * line of each vector's newest elements, the streams' first ("events",
	 * the last vector, first of all), at most 16 lines */
	uint32_t used = f->used;
	if (used && used <= 16 * 64 / sizeof(kg_slot)) {
		uintptr_t first = (uintptr_t)f->mem & ~(uintptr_t)63;
		uintptr_t line = (uintptr_t)(f->mem + used - 1) & ~(uintptr_t)63;
		for (; line >= first; line -= 64)
			__builtin_prefetch((const void *)line);
	} else if (used) {
		int lines = 0;
		for (int k = KG_V_COUNT - 1; k >= 0 && lines < 16; k--)
			if (vlen(f, k)) {
				__builtin_prefetch(&f->mem[vstart(f, k) + vlen(f, k) - 1]);
				lines++;
			}
	}
	if (f->name)
		__builtin_prefetch(f->name);
}

void kg_features_prefetch_blob(const kg_features *f)
{
	/* every slot in use (kg_features_save reads them all), at most 64
	 * lines: a typical account's block is 15 to 20 */
	uint32_t used = f->used;
	if (used) {
		uintptr_t first = (uintptr_t)f->mem & ~(uintptr_t)63;
		uintptr_t last = (uintptr_t)(f->mem + used - 1) & ~(uintptr_t)63;
		if (last - first > 63 * 64)
			last = first + 63 * 64;
		for (uintptr_t line = first; line <= last; line += 64)
			__builtin_prefetch((const void *)line);
	}
	if (f->name)
		__builtin_prefetch(f->name);
}

/* Counts and sums saturate: at UINT32_MAX events a bucket, at INT64_MAX
 * (INT64_MIN) a sum; they never wrap (an overflowing total would fall
 * under a rule's threshold). */
static inline int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static inline uint32_t sat_add_u32(uint32_t a, uint32_t b)
{
	uint32_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT32_MAX : r;
}

static uint32_t granularity(uint32_t ref, uint32_t t)
{
	uint32_t age = ref > t ? ref - t : 0;
	return age < 3600 ? 1 : age < 25 * 3600 ? 60 : age < 8 * 86400 ? 3600 : 86400;
}

/* Re-buckets stream k by age relative to ref, merging equal keys; drops
 * what is beyond the horizon. Entries stay sorted by t. Buckets under 1 h
 * old (1 s wide) stay as they are: times strictly increase, so none of
 * them merges with the bucket before; only the older ones are visited. */
static void stream_compact(kg_features *f, int k, uint32_t ref)
{
	kg_slot *v = vec(f, k);
	uint32_t n = vlen(f, k), w = 0, r;
	for (r = 0; r < n; r++) {
		kg_bucket b = v[r].b;
		if (!(ref > b.t && ref - b.t >= 3600))
			break;
		if (ref > b.t && ref - b.t > KG_STATE_HORIZON_S)
			continue;
		uint32_t g = granularity(ref, b.t);
		b.t -= b.t % g;
		if (w > 0 && v[w - 1].b.t == b.t) {
			v[w - 1].b.n = sat_add_u32(v[w - 1].b.n, b.n);
			v[w - 1].b.sum = sat_add(v[w - 1].b.sum, b.sum);
		} else {
			v[w++].b = b;
		}
	}
	vec_remove(f, k, w, r - w);
}

static int stream_add(kg_features *f, enum kg_stream_id s, uint32_t t, int64_t val)
{
	int k = KG_V_STREAM(s);
	uint32_t ref = f->now;
	uint32_t g = granularity(ref, t);
	t -= t % g;
	kg_slot *v = vec(f, k);
	uint32_t n = vlen(f, k), i = n;
	while (i > 0 && v[i - 1].b.t > t)
		i--;
	if (i > 0 && v[i - 1].b.t == t) {
		v[i - 1].b.n = sat_add_u32(v[i - 1].b.n, 1);
		v[i - 1].b.sum = sat_add(v[i - 1].b.sum, val);
	} else {
		if (n >= STREAM_ENTRIES_MAX) {
			/* cannot happen within the tier bound; merge into the neighbour */
			uint32_t m = i > 0 ? i - 1 : 0;
			v[m].b.n = sat_add_u32(v[m].b.n, 1);
			v[m].b.sum = sat_add(v[m].b.sum, val);
			return 0;
		}
		kg_slot *e;
		int rc = vec_insert(f, k, i, &e);
		if (rc)
			return rc;
		e->b = (kg_bucket){t, 1, val};
		n++;
		v = vec(f, k);
	}
	/* re-bucket every 8th bucket past 16, and when the oldest ages out:
	 * this bounds a stream by its tiers (+8, see STREAM_ENTRIES_MAX) and
	 * depends only on the stored state, so a restored blob behaves alike */
	if ((n > 16 && n % 8 == 0) || (ref > v[0].b.t && ref - v[0].b.t > KG_STATE_HORIZON_S))
		stream_compact(f, k, ref);
	return 0;
}

void kg_features_window(const kg_features *f, enum kg_stream_id s, uint32_t now_s,
			uint32_t window_s, int64_t *count, int64_t *sum)
{
	const kg_slot *v = vec(f, KG_V_STREAM(s));
	int64_t c = 0, m = 0;
	int64_t lo = (int64_t)now_s - window_s;
	for (uint32_t i = vlen(f, KG_V_STREAM(s)); i > 0; i--) {
		const kg_bucket *b = &v[i - 1].b;
		if (b->t > now_s)
			continue;
		if ((int64_t)b->t <= lo)
			break;
		c += b->n; /* at most 2^14 buckets of 2^32: no overflow */
		m = sat_add(m, b->sum);
	}
	*count = c;
	*sum = m;
}

static int set_add(kg_features *f, enum kg_set_id s, uint64_t h, uint32_t t, bool *was_new,
		   uint32_t *prev_last)
{
	int k = KG_V_SETS + s;
	uint32_t ref = f->now;
	kg_slot *v = vec(f, k);
	uint32_t n = vlen(f, k);
	*prev_last = 0;
	for (uint32_t i = 0; i < n; i++) {
		kg_setent *e = &v[i].e;
		if (e->h != h)
			continue;
		*prev_last = e->last;
		if (t < e->first)
			e->first = t;
		if (t > e->last)
			e->last = t;
		*was_new = false;
		return 0;
	}
	*was_new = true;
	/* drop entries beyond the horizon, then the least recently seen */
	uint32_t w = 0;
	for (uint32_t r = 0; r < n; r++)
		if (!(ref > v[r].e.last && ref - v[r].e.last > KG_STATE_HORIZON_S))
			v[w++] = v[r];
	vec_remove(f, k, w, n - w);
	n = w;
	v = vec(f, k);
	if (n >= KG_SET_CAP) {
		uint32_t old = 0;
		for (uint32_t i = 1; i < n; i++)
			if (v[i].e.last < v[old].e.last)
				old = i;
		v[old] = v[n - 1];
		vec_remove(f, k, --n, 1);
	}
	kg_slot *e;
	int rc = vec_insert(f, k, n, &e);
	if (rc)
		return rc;
	e->e = (kg_setent){h, t, t};
	return 0;
}

static int recs_add(kg_features *f, int k, kg_rec rec, uint32_t keep_s)
{
	uint32_t ref = f->now;
	kg_slot *v = vec(f, k);
	uint32_t n = vlen(f, k), w = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!(ref > v[i].r.t && ref - v[i].r.t >= keep_s))
			v[w++] = v[i];
	vec_remove(f, k, w, n - w);
	n = w;
	if (n >= KG_RECS_CAP)
		vec_remove(f, k, 0, 1), n--;
	kg_slot *e;
	int rc = vec_insert(f, k, n, &e);
	if (rc)
		return rc;
	e->r = rec;
	return 0;
}

int64_t kg_features_failed_by_ip(const kg_features *f, uint32_t ip_hash, uint32_t now_s,
				 uint32_t window_s)
{
	int64_t c = 0;
	const kg_slot *v = vec(f, KG_V_FAILED_LOGINS);
	for (uint32_t i = 0; i < vlen(f, KG_V_FAILED_LOGINS); i++) {
		const kg_rec *r = &v[i].r;
		if (r->key == ip_hash && r->t <= now_s && (int64_t)r->t > (int64_t)now_s - window_s)
			c++;
	}
	return c;
}

int64_t kg_features_distinct(const kg_features *f, enum kg_set_id s, uint32_t now_s,
			     uint32_t window_s)
{
	int64_t c = 0;
	const kg_slot *v = vec(f, KG_V_SETS + s);
	for (uint32_t i = 0; i < vlen(f, KG_V_SETS + s); i++)
		if (v[i].e.first <= now_s && (int64_t)v[i].e.last > (int64_t)now_s - window_s)
			c++;
	return c;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

bool kg_features_median(const kg_features *f, uint32_t now_s, uint32_t window_s, double *out)
{
	int64_t v[KG_RECS_CAP];
	size_t n = 0;
	const kg_slot *o = vec(f, KG_V_ORDER_AMOUNTS);
	for (uint32_t i = 0; i < vlen(f, KG_V_ORDER_AMOUNTS); i++) {
		const kg_rec *r = &o[i].r;
		if (r->t <= now_s && (int64_t)r->t > (int64_t)now_s - window_s)
			v[n++] = r->val;
	}
	if (!n)
		return false;
	qsort(v, n, sizeof(v[0]), cmp_i64);
	*out = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
	return true;
}

const kg_setent *kg_features_set_find(const kg_features *f, enum kg_set_id s, uint64_t h)
{
	const kg_slot *v = vec(f, KG_V_SETS + s);
	for (uint32_t i = 0; i < vlen(f, KG_V_SETS + s); i++)
		if (v[i].e.h == h)
			return &v[i].e;
	return NULL;
}

uint32_t kg_features_mark_time(const kg_features *f, uint32_t name_hash)
{
	for (uint32_t i = 0; i < f->n_marks; i++)
		if (f->marks[i].h == name_hash)
			return f->marks[i].t;
	return 0;
}

void kg_features_set_mark(kg_features *f, uint32_t name_hash, uint32_t t)
{
	uint32_t i;
	for (i = 0; i < f->n_marks; i++)
		if (f->marks[i].h == name_hash)
			break;
	if (i == f->n_marks) {
		if (f->n_marks == KG_MARKS_MAX) {
			uint32_t old = 0;
			for (uint32_t k = 1; k < f->n_marks; k++)
				if (f->marks[k].t < f->marks[old].t)
					old = k;
			i = old;
		} else {
			f->n_marks++;
		}
		f->marks[i].h = name_hash;
		f->marks[i].t = 0;
	}
	if (t > f->marks[i].t)
		f->marks[i].t = t;
}

static int count(kg_features *f, enum kg_stream_id s, uint32_t t, int64_t val)
{
	f->total[s] = sat_add_u32(f->total[s], 1);
	return stream_add(f, s, t, val);
}

/* Adds the value of hash h to set s. */
static int see_hash(kg_features *f, enum kg_set_id s, uint64_t h, uint32_t t,
		    struct kg_update_info *info)
{
	info->key[s] = h;
	info->has_key[s] = true;
	return set_add(f, s, h, t, &info->new_set[s], &info->prev_last[s]);
}

static int see(kg_features *f, enum kg_set_id s, kg_str v, uint32_t t,
	       struct kg_update_info *info)
{
	return v.n ? see_hash(f, s, kg_risk_hash(v.p, v.n), t, info) : 0;
}

int kg_features_update(kg_features *f, const kg_event *ev, struct kg_update_info *info)
{
	uint32_t t = (uint32_t)(ev->ts_ms / 1000);
	int rc = 0;
	memset(info, 0, sizeof(*info));
	if (!f->first_seen || t < f->first_seen)
		f->first_seen = t;
	if (t > f->last_seen)
		f->last_seen = t;
	if (t > f->now)
		f->now = t;
	rc = count(f, KG_S_EVENTS, t, 0);
	switch (ev->type) {
	case KG_EV_ACCOUNT_CREATED: {
		kg_buf nb = KG_BUF_INIT(KG_NAME_MAX * 4);
		f->created_at = t;
		if (!rc)
			rc = kg_text_normalize(ev->name.p, ev->name.n, &nb);
		if (!rc) {
			free(f->name);
			f->name = kg_buf_detach(&nb, NULL);
			f->name_len = (uint32_t)(f->name ? strlen(f->name) : 0);
		}
		kg_buf_release(&nb);
		break;
	}
	case KG_EV_LOGIN: {
		uint64_t ip_h = kg_risk_hash(ev->ip.p, ev->ip.n);
		info->ip_hash = (uint32_t)ip_h;
		if (!rc)
			rc = count(f, KG_S_LOGINS, t, 0);
		if (!rc)
			rc = count(f, ev->success ? KG_S_LOGINS_SUCCESS : KG_S_LOGINS_FAILED, t, 0);
		if (!rc && ev->ip.n)
			rc = see_hash(f, KG_SET_IPS, ip_h, t, info);
		if (!rc && ev->success) {
			rc = see(f, KG_SET_DEVICES, ev->device_id, t, info);
			if (!rc)
				rc = see(f, KG_SET_COUNTRIES, ev->country, t, info);
		}
		if (!rc && !ev->success)
			rc = recs_add(f, KG_V_FAILED_LOGINS, (kg_rec){t, info->ip_hash, 0}, 3600);
		break;
	}
	case KG_EV_ORDER:
		rc = count(f, KG_S_ORDERS, t, ev->amount);
		if (!rc && ev->gift_card_amount > 0)
			rc = count(f, KG_S_ORDERS_GIFT_CARD, t, ev->gift_card_amount);
		if (!rc)
			rc = recs_add(f, KG_V_ORDER_AMOUNTS, (kg_rec){t, 0, ev->amount},
				      KG_STATE_HORIZON_S);
		for (uint32_t i = 0; !rc && i < ev->n_seller_ids; i++)
			rc = see(f, KG_SET_SELLERS, ev->seller_ids[i], t, info);
		if (!rc)
			rc = see(f, KG_SET_CARDS, ev->card.fingerprint, t, info);
		break;
	case KG_EV_PAYMENT: {
		bool declined = ev->result.n == 8 && !memcmp(ev->result.p, "declined", 8);
		rc = count(f, KG_S_PAYMENTS, t, ev->amount);
		if (!rc)
			rc = count(f, declined ? KG_S_PAYMENTS_DECLINED : KG_S_PAYMENTS_APPROVED, t,
				   ev->amount);
		if (!rc)
			rc = see(f, KG_SET_CARDS, ev->card.fingerprint, t, info);
		break;
	}
	case KG_EV_RETURN:
		rc = count(f, KG_S_RETURNS, t, ev->amount);
		if (!rc)
			rc = see(f, KG_SET_SELLERS_RETURNED, ev->seller_id, t, info);
		break;
	case KG_EV_SELLER_REPORT:
		rc = count(f, KG_S_SELLER_REPORTS, t, 0);
		if (!rc)
			rc = see(f, KG_SET_SELLERS_REPORTING, ev->seller_id, t, info);
		break;
	case KG_EV_PASSWORD_CHANGE:
		rc = count(f, KG_S_PASSWORD_CHANGES, t, 0);
		break;
	case KG_EV_PROFILE_CHANGE:
		rc = count(f, KG_S_PROFILE_CHANGES, t, 0);
		break;
	case KG_EV_TYPE_COUNT:
		rc = KG_EINTERNAL;
		break;
	}
	return rc;
}

/* ---- blob ------------------------------------------------------------------
 * version byte 1, then LEB128 varints; bucket times are deltas from the
 * previous bucket; sums are zig-zag encoded. */
#define BLOB_VERSION 1

static unsigned char *put_u(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

static uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* At most what kg_features_save writes for f: 10 bytes a varint, 30 a
 * slot (three varints, or a set entry's 8-byte hash and two varints). The
 * varints besides the slots: five of the header, a stream's total and
 * length, a set's length, a record kind's length, the marks' count. */
#define BLOB_RECORD_KINDS (KG_V_ORDER_AMOUNTS - KG_V_FAILED_LOGINS + 1)

static size_t blob_bound(const kg_features *f)
{
	size_t slots = 0;
	for (int k = 0; k < KG_V_COUNT; k++)
		slots += vlen(f, k);
	size_t varints = 5 + KG_S_COUNT * 2 + KG_SET_COUNT + BLOB_RECORD_KINDS + 1;
	return 1 + f->name_len + varints * 10 + (size_t)f->n_marks * 20 + slots * 30;
}

static unsigned char *blob_write(const kg_features *f, unsigned char *p)
{
	*p++ = BLOB_VERSION;
	p = put_u(p, f->first_seen);
	p = put_u(p, f->last_seen);
	p = put_u(p, f->now);
	p = put_u(p, f->created_at);
	p = put_u(p, f->name_len);
	if (f->name_len) {
		memcpy(p, f->name, f->name_len);
		p += f->name_len;
	}
	for (int s = 0; s < KG_S_COUNT; s++) {
		const kg_slot *v = vec(f, KG_V_STREAM(s));
		uint32_t n = vlen(f, KG_V_STREAM(s));
		p = put_u(p, f->total[s]);
		p = put_u(p, n);
		uint32_t prev = 0;
		for (uint32_t i = 0; i < n; i++) {
			p = put_u(p, v[i].b.t - prev);
			p = put_u(p, v[i].b.n);
			p = put_u(p, zz(v[i].b.sum));
			prev = v[i].b.t;
		}
	}
	for (int s = 0; s < KG_SET_COUNT; s++) {
		const kg_slot *v = vec(f, KG_V_SETS + s);
		uint32_t n = vlen(f, KG_V_SETS + s);
		p = put_u(p, n);
		for (uint32_t i = 0; i < n; i++) {
			for (int k = 0; k < 8; k++)
				*p++ = (unsigned char)(v[i].e.h >> (8 * k));
			p = put_u(p, v[i].e.first);
			p = put_u(p, v[i].e.last - v[i].e.first);
		}
	}
	for (int k = KG_V_FAILED_LOGINS; k <= KG_V_ORDER_AMOUNTS; k++) {
		const kg_slot *v = vec(f, k);
		uint32_t n = vlen(f, k);
		p = put_u(p, n);
		for (uint32_t i = 0; i < n; i++) {
			p = put_u(p, v[i].r.t);
			p = put_u(p, v[i].r.key);
			p = put_u(p, zz(v[i].r.val));
		}
	}
	p = put_u(p, f->n_marks);
	for (uint32_t i = 0; i < f->n_marks; i++) {
		p = put_u(p, f->marks[i].h);
		p = put_u(p, f->marks[i].t);
	}
	return p;
}

/* In one pass into a buffer of the bound (on the stack for most accounts),
 * then one append: a durable batch saves each of its accounts' blobs, and
 * an append per varint cost ~10,000 instructions a blob. */
int kg_features_save(const kg_features *f, kg_buf *b)
{
	unsigned char stack[4096];
	size_t bound = blob_bound(f);
	unsigned char *tmp = bound <= sizeof(stack) ? stack : malloc(bound);
	if (!tmp)
		return KG_ENOMEM;
	size_t len = (size_t)(blob_write(f, tmp) - tmp);
	int rc = kg_buf_append(b, tmp, len);
	if (tmp != stack)
		free(tmp);
	return rc;
}

struct rd {
	const unsigned char *p, *e;
	bool bad;
};

static uint64_t get_u(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->e) {
			r->bad = true;
			return 0;
		}
		unsigned char c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static uint32_t get_u32(struct rd *r)
{
	uint64_t v = get_u(r);
	if (v > UINT32_MAX)
		r->bad = true;
	return (uint32_t)v;
}

static int64_t unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int kg_features_load(kg_features *out, const void *blob, size_t len, kg_err *err)
{
	struct rd r = {blob, (const unsigned char *)blob + len, false};
	kg_features f;
	memset(&f, 0, sizeof(f));
	int rc = 0;
	if (len < 1 || r.p[0] != BLOB_VERSION) {
		rc = kg_err_set(err, KG_EINVAL, "feature blob: unknown version");
		goto cleanup;
	}
	r.p++;
	f.first_seen = get_u32(&r);
	f.last_seen = get_u32(&r);
	f.now = get_u32(&r);
	f.created_at = get_u32(&r);
	f.name_len = get_u32(&r);
	if (r.bad || f.name_len > (size_t)(r.e - r.p) || f.name_len > KG_NAME_MAX * 4)
		goto corrupt;
	if (f.name_len) {
		f.name = malloc(f.name_len + 1);
		if (!f.name) {
			rc = KG_ENOMEM;
			goto cleanup;
		}
		memcpy(f.name, r.p, f.name_len);
		f.name[f.name_len] = '\0';
		r.p += f.name_len;
	}
	for (int s = 0; s < KG_S_COUNT; s++) {
		int k = KG_V_STREAM(s);
		f.total[s] = get_u32(&r);
		uint32_t n = get_u32(&r);
		if (r.bad || n > STREAM_ENTRIES_MAX)
			goto corrupt;
		kg_slot *v = NULL;
		if (n && (rc = vec_open(&f, k, 0, n, true, &v)))
			goto cleanup;
		uint32_t prev = 0;
		for (uint32_t i = 0; i < n; i++) {
			kg_bucket *bk = &v[i].b;
			bk->t = prev + get_u32(&r);
			bk->n = get_u32(&r);
			bk->sum = unzz(get_u(&r));
			if (bk->sum < 0) /* every value added is >= 0: a blob saved
					  * before sums saturated held a wrapped one */
				bk->sum = INT64_MAX;
			if (i > 0 && bk->t <= prev)
				r.bad = true; /* times strictly increase (stream_compact) */
			prev = bk->t;
		}
	}
	for (int s = 0; s < KG_SET_COUNT; s++) {
		int k = KG_V_SETS + s;
		uint32_t n = get_u32(&r);
		if (r.bad || n > KG_SET_CAP)
			goto corrupt;
		kg_slot *v = NULL;
		if (n && (rc = vec_open(&f, k, 0, n, true, &v)))
			goto cleanup;
		for (uint32_t i = 0; i < n; i++) {
			kg_setent *e = &v[i].e;
			if (r.e - r.p < 8)
				goto corrupt;
			e->h = 0;
			for (int k = 0; k < 8; k++)
				e->h |= (uint64_t)r.p[k] << (8 * k);
			r.p += 8;
			e->first = get_u32(&r);
			e->last = e->first + get_u32(&r);
		}
	}
	for (int k = KG_V_FAILED_LOGINS; k <= KG_V_ORDER_AMOUNTS; k++) {
		uint32_t n = get_u32(&r);
		if (r.bad || n > KG_RECS_CAP)
			goto corrupt;
		kg_slot *v = NULL;
		if (n && (rc = vec_open(&f, k, 0, n, true, &v)))
			goto cleanup;
		for (uint32_t i = 0; i < n; i++) {
			kg_rec *rec = &v[i].r;
			rec->t = get_u32(&r);
			rec->key = get_u32(&r);
			rec->val = unzz(get_u(&r));
		}
	}
	f.n_marks = get_u32(&r);
	if (r.bad || f.n_marks > KG_MARKS_MAX)
		goto corrupt;
	for (uint32_t i = 0; i < f.n_marks; i++) {
		f.marks[i].h = get_u32(&r);
		f.marks[i].t = get_u32(&r);
	}
	if (r.bad || r.p != r.e)
		goto corrupt;
	uint32_t fit = (f.used + 3) & ~3u; /* no slack: vectors grow when used */
	if (fit && fit < f.cap) {
		kg_slot *nm = realloc(f.mem, fit * sizeof(kg_slot));
		if (nm) {
			f.mem = nm;
			f.cap = fit;
		}
	}
	kg_features_release(out);
	*out = f;
	return 0;
corrupt:
	rc = kg_err_set(err, KG_EINVAL, "feature blob: corrupt");
cleanup:
	kg_features_release(&f);
	return rc;
}
