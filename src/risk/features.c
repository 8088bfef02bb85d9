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

kg_features *kg_features_new(void)
{
	return calloc(1, sizeof(kg_features));
}

void kg_features_release(kg_features *f)
{
	for (int i = 0; i < KG_S_COUNT; i++)
		free(f->s[i].v);
	for (int i = 0; i < KG_SET_COUNT; i++)
		free(f->sets[i].v);
	free(f->failed_logins.v);
	free(f->order_amounts.v);
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
	size_t n = sizeof(*f) + f->name_len;
	for (int i = 0; i < KG_S_COUNT; i++)
		n += f->s[i].cap * sizeof(kg_bucket);
	for (int i = 0; i < KG_SET_COUNT; i++)
		n += f->sets[i].cap * sizeof(kg_setent);
	n += (f->failed_logins.cap + f->order_amounts.cap) * sizeof(kg_rec);
	return n;
}

/* Prefetches up to max_lines cache lines of a vector, from its end (where
 * window sums and inserts start). */
static void prefetch_tail(const void *v, size_t bytes, size_t max_lines)
{
	if (!bytes)
		return;
	uintptr_t first = (uintptr_t)v & ~(uintptr_t)63;
	uintptr_t line = ((uintptr_t)v + bytes - 1) & ~(uintptr_t)63;
	for (size_t k = 0; k < max_lines && line >= first; k++, line -= 64)
		__builtin_prefetch((const void *)line);
}

void kg_features_prefetch(const kg_features *f)
{
	for (int i = 0; i < KG_S_COUNT; i++)
		prefetch_tail(f->s[i].v, f->s[i].n * sizeof(kg_bucket), 4);
	for (int i = 0; i < KG_SET_COUNT; i++)
		prefetch_tail(f->sets[i].v, f->sets[i].n * sizeof(kg_setent), 8);
	prefetch_tail(f->failed_logins.v, f->failed_logins.n * sizeof(kg_rec), 4);
	prefetch_tail(f->order_amounts.v, f->order_amounts.n * sizeof(kg_rec), 4);
	if (f->name)
		__builtin_prefetch(f->name);
}

/* Grows a vector of elements of size sz to hold at least need. */
static int grow(void **v, uint32_t *cap, uint32_t need, size_t sz)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap * 2 : 4;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return KG_ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

static uint32_t granularity(uint32_t ref, uint32_t t)
{
	uint32_t age = ref > t ? ref - t : 0;
	return age < 3600 ? 1 : age < 25 * 3600 ? 60 : age < 8 * 86400 ? 3600 : 86400;
}

/* Re-buckets by age relative to ref, merging equal keys; drops what is
 * beyond the horizon. Entries stay sorted by t. */
static void stream_compact(kg_stream *st, uint32_t ref)
{
	uint32_t w = 0;
	for (uint32_t r = 0; r < st->n; r++) {
		kg_bucket b = st->v[r];
		if (ref > b.t && ref - b.t > KG_STATE_HORIZON_S)
			continue;
		uint32_t g = granularity(ref, b.t);
		b.t -= b.t % g;
		if (w > 0 && st->v[w - 1].t == b.t) {
			st->v[w - 1].n += b.n;
			st->v[w - 1].sum += b.sum;
		} else {
			st->v[w++] = b;
		}
	}
	st->n = w;
}

static int stream_add(kg_stream *st, uint32_t t, int64_t val, uint32_t ref)
{
	uint32_t g = granularity(ref, t);
	t -= t % g;
	uint32_t i = st->n;
	while (i > 0 && st->v[i - 1].t > t)
		i--;
	if (i > 0 && st->v[i - 1].t == t) {
		st->v[i - 1].n++;
		st->v[i - 1].sum += val;
	} else {
		if (st->n >= STREAM_ENTRIES_MAX) {
			/* cannot happen within the tier bound; merge into the neighbour */
			uint32_t k = i > 0 ? i - 1 : 0;
			st->v[k].n++;
			st->v[k].sum += val;
			return 0;
		}
		int rc = grow((void **)&st->v, &st->cap, st->n + 1, sizeof(kg_bucket));
		if (rc)
			return rc;
		memmove(&st->v[i + 1], &st->v[i], (st->n - i) * sizeof(kg_bucket));
		st->v[i] = (kg_bucket){t, 1, val};
		st->n++;
	}
	/* re-bucket every 8th bucket past 16, and when the oldest ages out:
	 * this bounds a stream by its tiers (+8, see STREAM_ENTRIES_MAX) and
	 * depends only on the stored state, so a restored blob behaves alike */
	if ((st->n > 16 && st->n % 8 == 0) ||
	    (ref > st->v[0].t && ref - st->v[0].t > KG_STATE_HORIZON_S))
		stream_compact(st, ref);
	return 0;
}

void kg_features_window(const kg_features *f, enum kg_stream_id s, uint32_t now_s,
			uint32_t window_s, int64_t *count, int64_t *sum)
{
	const kg_stream *st = &f->s[s];
	int64_t c = 0, m = 0;
	int64_t lo = (int64_t)now_s - window_s;
	for (uint32_t i = st->n; i > 0; i--) {
		const kg_bucket *b = &st->v[i - 1];
		if (b->t > now_s)
			continue;
		if ((int64_t)b->t <= lo)
			break;
		c += b->n;
		m += b->sum;
	}
	*count = c;
	*sum = m;
}

static int set_add(kg_set *st, uint64_t h, uint32_t t, uint32_t ref, bool *was_new,
		   uint32_t *prev_last)
{
	*prev_last = 0;
	for (uint32_t i = 0; i < st->n; i++) {
		kg_setent *e = &st->v[i];
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
	for (uint32_t r = 0; r < st->n; r++)
		if (!(ref > st->v[r].last && ref - st->v[r].last > KG_STATE_HORIZON_S))
			st->v[w++] = st->v[r];
	st->n = w;
	if (st->n >= KG_SET_CAP) {
		uint32_t old = 0;
		for (uint32_t i = 1; i < st->n; i++)
			if (st->v[i].last < st->v[old].last)
				old = i;
		st->v[old] = st->v[--st->n];
	}
	int rc = grow((void **)&st->v, &st->cap, st->n + 1, sizeof(kg_setent));
	if (rc)
		return rc;
	st->v[st->n++] = (kg_setent){h, t, t};
	return 0;
}

static int recs_add(kg_recs *r, kg_rec rec, uint32_t keep_s, uint32_t ref)
{
	uint32_t w = 0;
	for (uint32_t i = 0; i < r->n; i++)
		if (!(ref > r->v[i].t && ref - r->v[i].t >= keep_s))
			r->v[w++] = r->v[i];
	r->n = w;
	if (r->n >= KG_RECS_CAP) {
		memmove(&r->v[0], &r->v[1], (r->n - 1) * sizeof(kg_rec));
		r->n--;
	}
	int rc = grow((void **)&r->v, &r->cap, r->n + 1, sizeof(kg_rec));
	if (rc)
		return rc;
	r->v[r->n++] = rec;
	return 0;
}

int64_t kg_features_failed_by_ip(const kg_features *f, uint32_t ip_hash, uint32_t now_s,
				 uint32_t window_s)
{
	int64_t c = 0;
	for (uint32_t i = 0; i < f->failed_logins.n; i++) {
		const kg_rec *r = &f->failed_logins.v[i];
		if (r->key == ip_hash && r->t <= now_s && (int64_t)r->t > (int64_t)now_s - window_s)
			c++;
	}
	return c;
}

int64_t kg_features_distinct(const kg_features *f, enum kg_set_id s, uint32_t now_s,
			     uint32_t window_s)
{
	int64_t c = 0;
	const kg_set *st = &f->sets[s];
	for (uint32_t i = 0; i < st->n; i++)
		if (st->v[i].first <= now_s && (int64_t)st->v[i].last > (int64_t)now_s - window_s)
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
	for (uint32_t i = 0; i < f->order_amounts.n; i++) {
		const kg_rec *r = &f->order_amounts.v[i];
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
	const kg_set *st = &f->sets[s];
	for (uint32_t i = 0; i < st->n; i++)
		if (st->v[i].h == h)
			return &st->v[i];
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
	f->total[s]++;
	return stream_add(&f->s[s], t, val, f->now);
}

static int see(kg_features *f, enum kg_set_id s, kg_str v, uint32_t t,
	       struct kg_update_info *info)
{
	if (!v.n)
		return 0;
	uint64_t h = kg_risk_hash(v.p, v.n);
	info->key[s] = h;
	info->has_key[s] = true;
	return set_add(&f->sets[s], h, t, f->now, &info->new_set[s], &info->prev_last[s]);
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
			rc = kg_risk_normalize(ev->name.p, ev->name.n, &nb);
		if (!rc) {
			free(f->name);
			f->name = kg_buf_detach(&nb, NULL);
			f->name_len = (uint32_t)(f->name ? strlen(f->name) : 0);
		}
		kg_buf_release(&nb);
		break;
	}
	case KG_EV_LOGIN:
		info->ip_hash = (uint32_t)kg_risk_hash(ev->ip.p, ev->ip.n);
		if (!rc)
			rc = count(f, KG_S_LOGINS, t, 0);
		if (!rc)
			rc = count(f, ev->success ? KG_S_LOGINS_SUCCESS : KG_S_LOGINS_FAILED, t, 0);
		if (!rc)
			rc = see(f, KG_SET_IPS, ev->ip, t, info);
		if (!rc && ev->success) {
			rc = see(f, KG_SET_DEVICES, ev->device_id, t, info);
			if (!rc)
				rc = see(f, KG_SET_COUNTRIES, ev->country, t, info);
		}
		if (!rc && !ev->success)
			rc = recs_add(&f->failed_logins, (kg_rec){t, info->ip_hash, 0}, 3600, f->now);
		break;
	case KG_EV_ORDER:
		rc = count(f, KG_S_ORDERS, t, ev->amount);
		if (!rc && ev->gift_card_amount > 0)
			rc = count(f, KG_S_ORDERS_GIFT_CARD, t, ev->gift_card_amount);
		if (!rc)
			rc = recs_add(&f->order_amounts, (kg_rec){t, 0, ev->amount},
				      KG_STATE_HORIZON_S, f->now);
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

static int put_u(kg_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return kg_buf_append(b, tmp, n);
}

static uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

int kg_features_save(const kg_features *f, kg_buf *b)
{
	int rc = kg_buf_putc(b, BLOB_VERSION);
	rc = rc ? rc : put_u(b, f->first_seen);
	rc = rc ? rc : put_u(b, f->last_seen);
	rc = rc ? rc : put_u(b, f->now);
	rc = rc ? rc : put_u(b, f->created_at);
	rc = rc ? rc : put_u(b, f->name_len);
	if (!rc && f->name_len)
		rc = kg_buf_append(b, f->name, f->name_len);
	for (int s = 0; s < KG_S_COUNT && !rc; s++) {
		const kg_stream *st = &f->s[s];
		rc = put_u(b, f->total[s]);
		rc = rc ? rc : put_u(b, st->n);
		uint32_t prev = 0;
		for (uint32_t i = 0; i < st->n && !rc; i++) {
			rc = put_u(b, st->v[i].t - prev);
			rc = rc ? rc : put_u(b, st->v[i].n);
			rc = rc ? rc : put_u(b, zz(st->v[i].sum));
			prev = st->v[i].t;
		}
	}
	for (int s = 0; s < KG_SET_COUNT && !rc; s++) {
		const kg_set *st = &f->sets[s];
		rc = put_u(b, st->n);
		for (uint32_t i = 0; i < st->n && !rc; i++) {
			unsigned char h[8];
			for (int k = 0; k < 8; k++)
				h[k] = (unsigned char)(st->v[i].h >> (8 * k));
			rc = kg_buf_append(b, h, 8);
			rc = rc ? rc : put_u(b, st->v[i].first);
			rc = rc ? rc : put_u(b, st->v[i].last - st->v[i].first);
		}
	}
	const kg_recs *rs[2] = {&f->failed_logins, &f->order_amounts};
	for (int k = 0; k < 2 && !rc; k++) {
		rc = put_u(b, rs[k]->n);
		for (uint32_t i = 0; i < rs[k]->n && !rc; i++) {
			rc = put_u(b, rs[k]->v[i].t);
			rc = rc ? rc : put_u(b, rs[k]->v[i].key);
			rc = rc ? rc : put_u(b, zz(rs[k]->v[i].val));
		}
	}
	rc = rc ? rc : put_u(b, f->n_marks);
	for (uint32_t i = 0; i < f->n_marks && !rc; i++) {
		rc = put_u(b, f->marks[i].h);
		rc = rc ? rc : put_u(b, f->marks[i].t);
	}
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
		f.total[s] = get_u32(&r);
		uint32_t n = get_u32(&r);
		if (r.bad || n > STREAM_ENTRIES_MAX)
			goto corrupt;
		if (n && (rc = grow((void **)&f.s[s].v, &f.s[s].cap, n, sizeof(kg_bucket))))
			goto cleanup;
		uint32_t prev = 0;
		for (uint32_t i = 0; i < n; i++) {
			kg_bucket *bk = &f.s[s].v[i];
			bk->t = prev + get_u32(&r);
			bk->n = get_u32(&r);
			bk->sum = unzz(get_u(&r));
			if (bk->t < prev)
				r.bad = true;
			prev = bk->t;
		}
		f.s[s].n = n;
	}
	for (int s = 0; s < KG_SET_COUNT; s++) {
		uint32_t n = get_u32(&r);
		if (r.bad || n > KG_SET_CAP)
			goto corrupt;
		if (n && (rc = grow((void **)&f.sets[s].v, &f.sets[s].cap, n, sizeof(kg_setent))))
			goto cleanup;
		for (uint32_t i = 0; i < n; i++) {
			kg_setent *e = &f.sets[s].v[i];
			if (r.e - r.p < 8)
				goto corrupt;
			e->h = 0;
			for (int k = 0; k < 8; k++)
				e->h |= (uint64_t)r.p[k] << (8 * k);
			r.p += 8;
			e->first = get_u32(&r);
			e->last = e->first + get_u32(&r);
		}
		f.sets[s].n = n;
	}
	kg_recs *rs[2] = {&f.failed_logins, &f.order_amounts};
	for (int k = 0; k < 2; k++) {
		uint32_t n = get_u32(&r);
		if (r.bad || n > KG_RECS_CAP)
			goto corrupt;
		if (n && (rc = grow((void **)&rs[k]->v, &rs[k]->cap, n, sizeof(kg_rec))))
			goto cleanup;
		for (uint32_t i = 0; i < n; i++) {
			rs[k]->v[i].t = get_u32(&r);
			rs[k]->v[i].key = get_u32(&r);
			rs[k]->v[i].val = unzz(get_u(&r));
		}
		rs[k]->n = n;
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
	kg_features_release(out);
	*out = f;
	return 0;
corrupt:
	rc = kg_err_set(err, KG_EINVAL, "feature blob: corrupt");
cleanup:
	kg_features_release(&f);
	return rc;
}
