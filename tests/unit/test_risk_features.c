/* Unit test of src/risk/features.c under a hot account: one account gets
 * thousands of events of every type, interleaved, dense and sparse, some
 * late; every stream, set and record list is checked against a plain
 * reference (all events kept, windows counted by brute force) and the blob
 * round-trips to the bytes it always had; a blob kagi cannot have written
 * (bucket times that do not increase) is refused. Not here: the rules
 * (test_risk.c, tests/data/rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk_impl.h"

#define N_EVENTS 12000
#define T0 1767225600u /* 2026-01-01T00:00:00Z */

/* ---- the reference ---------------------------------------------------------
 * Streams keep every (time, value); sets and record lists follow what
 * docs/rules.md says they keep (at most 32 values, least recently seen
 * evicted, 367 d; failed logins of the last hour and order amounts of
 * 367 d, at most 64, oldest added first out). */
struct ref_stream {
	uint32_t *t;
	int64_t *val;
	size_t n, cap;
};

struct ref_set {
	kg_setent e[KG_SET_CAP];
	uint32_t n;
};

struct ref_recs {
	kg_rec r[KG_RECS_CAP];
	uint32_t n;
};

struct ref {
	uint32_t now;
	struct ref_stream s[KG_S_COUNT];
	struct ref_set set[KG_SET_COUNT];
	struct ref_recs failed, orders;
};

static void ref_count(struct ref *r, enum kg_stream_id s, uint32_t t, int64_t val)
{
	struct ref_stream *st = &r->s[s];
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 256;
		st->t = realloc(st->t, st->cap * sizeof(*st->t));
		st->val = realloc(st->val, st->cap * sizeof(*st->val));
		assert_non_null(st->t);
		assert_non_null(st->val);
	}
	st->t[st->n] = t;
	st->val[st->n++] = val;
}

static bool aged(uint32_t now, uint32_t t, uint32_t keep_s)
{
	return now > t && now - t >= keep_s;
}

static void ref_see(struct ref *r, enum kg_set_id s, const char *v, uint32_t t)
{
	struct ref_set *set = &r->set[s];
	uint64_t h = kg_risk_hash(v, strlen(v));
	for (uint32_t i = 0; i < set->n; i++)
		if (set->e[i].h == h) {
			if (t < set->e[i].first)
				set->e[i].first = t;
			if (t > set->e[i].last)
				set->e[i].last = t;
			return;
		}
	uint32_t w = 0;
	for (uint32_t i = 0; i < set->n; i++)
		if (!aged(r->now, set->e[i].last, KG_STATE_HORIZON_S + 1))
			set->e[w++] = set->e[i];
	set->n = w;
	if (set->n == KG_SET_CAP) {
		uint32_t old = 0;
		for (uint32_t i = 1; i < set->n; i++)
			if (set->e[i].last < set->e[old].last)
				old = i;
		set->e[old] = set->e[--set->n];
	}
	set->e[set->n++] = (kg_setent){h, t, t};
}

static void ref_rec(struct ref *r, struct ref_recs *l, kg_rec rec, uint32_t keep_s)
{
	uint32_t w = 0;
	for (uint32_t i = 0; i < l->n; i++)
		if (!aged(r->now, l->r[i].t, keep_s))
			l->r[w++] = l->r[i];
	l->n = w;
	if (l->n == KG_RECS_CAP)
		memmove(&l->r[0], &l->r[1], --l->n * sizeof(kg_rec));
	l->r[l->n++] = rec;
}

static void ref_release(struct ref *r)
{
	for (int s = 0; s < KG_S_COUNT; s++) {
		free(r->s[s].t);
		free(r->s[s].val);
	}
}

/* ---- the events ------------------------------------------------------------ */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

#define POOL_DEVICES 40
#define POOL_IPS 50
#define POOL_CARDS 40
#define POOL_SELLERS 45

/* Value i of a pool ("ip7"), in buf. */
static kg_str val(char *buf, size_t size, const char *kind, uint32_t i)
{
	int n = snprintf(buf, size, "%s%u", kind, i);
	return (kg_str){buf, (uint32_t)n};
}

/* A random event at time t: updates f, g (unless NULL) and the reference
 * alike. */
static void feed(kg_features *f, kg_features *g, struct ref *r, uint32_t t)
{
	char b1[32], b2[32], b3[32], b4[32];
	kg_str sellers[1];
	kg_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ms = (int64_t)t * 1000;
	if (t > r->now)
		r->now = t;
	ref_count(r, KG_S_EVENTS, t, 0);
	uint32_t kind = rnd(100);
	if (kind < 60) { /* logins, most of them failed: the hot part */
		ev.type = KG_EV_LOGIN;
		ev.success = kind >= 50;
		uint32_t ip = rnd(8) ? rnd(6) : rnd(POOL_IPS);
		ev.ip = val(b1, sizeof(b1), "ip", ip);
		ref_count(r, KG_S_LOGINS, t, 0);
		ref_count(r, ev.success ? KG_S_LOGINS_SUCCESS : KG_S_LOGINS_FAILED, t, 0);
		ref_see(r, KG_SET_IPS, b1, t);
		if (ev.success) {
			ev.device_id = val(b2, sizeof(b2), "dev", rnd(POOL_DEVICES));
			ev.country = val(b3, sizeof(b3), "c", rnd(5));
			ref_see(r, KG_SET_DEVICES, b2, t);
			ref_see(r, KG_SET_COUNTRIES, b3, t);
		} else {
			ref_rec(r, &r->failed, (kg_rec){t, (uint32_t)kg_risk_hash(b1, strlen(b1)), 0},
				3600);
		}
	} else if (kind < 72) {
		ev.type = KG_EV_ORDER;
		ev.amount = 100 + rnd(50000);
		ev.gift_card_amount = rnd(3) ? 0 : 1 + rnd((uint32_t)ev.amount);
		ev.card.fingerprint = val(b1, sizeof(b1), "card", rnd(POOL_CARDS));
		sellers[0] = val(b2, sizeof(b2), "s", rnd(POOL_SELLERS));
		ev.seller_ids = sellers;
		ev.n_seller_ids = 1;
		ref_count(r, KG_S_ORDERS, t, ev.amount);
		if (ev.gift_card_amount)
			ref_count(r, KG_S_ORDERS_GIFT_CARD, t, ev.gift_card_amount);
		ref_rec(r, &r->orders, (kg_rec){t, 0, ev.amount}, KG_STATE_HORIZON_S);
		ref_see(r, KG_SET_SELLERS, b2, t);
		ref_see(r, KG_SET_CARDS, b1, t);
	} else if (kind < 84) {
		bool declined = rnd(3) == 0;
		ev.type = KG_EV_PAYMENT;
		ev.amount = 100 + rnd(50000);
		ev.result = declined ? (kg_str){"declined", 8} : (kg_str){"approved", 8};
		ev.card.fingerprint = val(b1, sizeof(b1), "card", rnd(POOL_CARDS));
		ref_count(r, KG_S_PAYMENTS, t, ev.amount);
		ref_count(r, declined ? KG_S_PAYMENTS_DECLINED : KG_S_PAYMENTS_APPROVED, t,
			  ev.amount);
		ref_see(r, KG_SET_CARDS, b1, t);
	} else if (kind < 90) {
		ev.type = KG_EV_RETURN;
		ev.amount = 1 + rnd(9000);
		ev.seller_id = val(b4, sizeof(b4), "s", rnd(POOL_SELLERS));
		ref_count(r, KG_S_RETURNS, t, ev.amount);
		ref_see(r, KG_SET_SELLERS_RETURNED, b4, t);
	} else if (kind < 94) {
		ev.type = KG_EV_SELLER_REPORT;
		ev.seller_id = val(b4, sizeof(b4), "s", rnd(POOL_SELLERS));
		ref_count(r, KG_S_SELLER_REPORTS, t, 0);
		ref_see(r, KG_SET_SELLERS_REPORTING, b4, t);
	} else if (kind < 97) {
		ev.type = KG_EV_PASSWORD_CHANGE;
		ref_count(r, KG_S_PASSWORD_CHANGES, t, 0);
	} else {
		ev.type = KG_EV_PROFILE_CHANGE;
		ref_count(r, KG_S_PROFILE_CHANGES, t, 0);
	}
	struct kg_update_info info;
	assert_int_equal(kg_features_update(f, &ev, &info), 0);
	if (g)
		assert_int_equal(kg_features_update(g, &ev, &info), 0);
}

/* ---- the checks ------------------------------------------------------------ */
/* Width of a bucket of this age at most (docs/rules.md). */
static uint32_t width_s(uint32_t age_s)
{
	return age_s < 3600 ? 1 : age_s < 25 * 3600 ? 60 : age_s < 8 * 86400 ? 3600 : 86400;
}

static void ref_window(const struct ref_stream *st, uint32_t now, int64_t lo, int64_t *c,
		       int64_t *sum)
{
	*c = *sum = 0;
	for (size_t i = 0; i < st->n; i++)
		if (st->t[i] <= now && (int64_t)st->t[i] > lo) {
			(*c)++;
			*sum += st->val[i];
		}
}

static const uint32_t windows_s[] = {
	900, 3600, 86400, 7 * 86400, 30 * 86400, 180 * 86400, 365 * 86400,
};

static void check(const kg_features *f, const struct ref *r)
{
	uint32_t now = r->now;
	for (int s = 0; s < KG_S_COUNT; s++) {
		assert_int_equal(f->total[s], r->s[s].n);
		for (size_t k = 0; k < KG_ARRAY_LEN(windows_s); k++) {
			uint32_t w = windows_s[k];
			int64_t c, sum, hi_c, hi_sum, lo_c, lo_sum;
			kg_features_window(f, (enum kg_stream_id)s, now, w, &c, &sum);
			/* exact to the second up to 1 h; otherwise an event less
			 * than one bucket width inside the far edge may be left
			 * out, never one outside (values are not negative) */
			ref_window(&r->s[s], now, (int64_t)now - w, &hi_c, &hi_sum);
			ref_window(&r->s[s], now, (int64_t)now - w + width_s(w), &lo_c, &lo_sum);
			if (w <= 3600) {
				assert_int_equal(c, hi_c);
				assert_int_equal(sum, hi_sum);
			} else {
				assert_in_range(c, lo_c, hi_c);
				assert_in_range(sum, lo_sum, hi_sum);
			}
		}
	}
	for (int s = 0; s < KG_SET_COUNT; s++) {
		const struct ref_set *set = &r->set[s];
		for (size_t k = 0; k < KG_ARRAY_LEN(windows_s); k++) {
			int64_t want = 0;
			for (uint32_t i = 0; i < set->n; i++)
				if (set->e[i].first <= now &&
				    (int64_t)set->e[i].last > (int64_t)now - windows_s[k])
					want++;
			assert_int_equal(kg_features_distinct(f, (enum kg_set_id)s, now, windows_s[k]),
					 want);
		}
		for (uint32_t i = 0; i < set->n; i++) {
			const kg_setent *e = kg_features_set_find(f, (enum kg_set_id)s, set->e[i].h);
			assert_non_null(e);
			assert_int_equal(e->first, set->e[i].first);
			assert_int_equal(e->last, set->e[i].last);
		}
	}
	for (uint32_t ip = 0; ip < POOL_IPS; ip++) {
		char b[32];
		kg_str v = val(b, sizeof(b), "ip", ip);
		uint32_t h = (uint32_t)kg_risk_hash(v.p, v.n);
		for (uint32_t w = 900; w <= 3600; w += 2700) {
			int64_t want = 0;
			for (uint32_t i = 0; i < r->failed.n; i++)
				if (r->failed.r[i].key == h && r->failed.r[i].t <= now &&
				    (int64_t)r->failed.r[i].t > (int64_t)now - w)
					want++;
			assert_int_equal(kg_features_failed_by_ip(f, h, now, w), want);
		}
	}
	for (uint32_t w = 30 * 86400; w <= 365 * 86400; w += 335 * 86400) {
		int64_t v[KG_RECS_CAP];
		size_t n = 0;
		for (uint32_t i = 0; i < r->orders.n; i++)
			if (r->orders.r[i].t <= now && (int64_t)r->orders.r[i].t > (int64_t)now - w) {
				/* insertion sort: a few dozen values */
				size_t j = n++;
				for (; j > 0 && v[j - 1] > r->orders.r[i].val; j--)
					v[j] = v[j - 1];
				v[j] = r->orders.r[i].val;
			}
		double got = 0;
		assert_int_equal(kg_features_median(f, now, w, &got), n > 0);
		if (n) {
			double want = n % 2 ? (double)v[n / 2]
					    : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
			assert_true(got == want);
		}
	}
}

/* f saved, loaded and saved again gives the same bytes; returns the blob
 * and folds it into *digest. */
static void round_trip(const kg_features *f, kg_buf *blob, uint64_t *digest)
{
	kg_err err;
	kg_buf again = KG_BUF_INIT(1 << 24);
	kg_features *g = kg_features_new();
	assert_non_null(g);
	kg_buf_reset(blob);
	assert_int_equal(kg_features_save(f, blob), 0);
	assert_int_equal(kg_features_load(g, blob->data, blob->len, &err), 0);
	assert_int_equal(kg_features_save(g, &again), 0);
	assert_int_equal(again.len, blob->len);
	assert_memory_equal(again.data, blob->data, blob->len);
	assert_true(kg_features_mem_bytes(g) <= kg_features_mem_bytes(f));
	*digest = kg_risk_hash_seed(blob->data, blob->len, *digest);
	kg_buf_release(&again);
	kg_features_free(g);
}

/* The clock after event i: in two dense phases mostly a second later
 * (thousands of one-second buckets), otherwise minutes, hours or days later
 * (up to beyond the horizon). */
static uint32_t next_time(int i, uint32_t now)
{
	bool dense = (i >= 500 && i < 5500) || (i >= 7000 && i < 11000);
	uint32_t k = rnd(1000);
	if (dense)
		return k < 995 ? now + 1 : now + rnd(60);
	if (k < 500)
		return now + rnd(600);
	if (k < 900)
		return now + rnd(12 * 3600);
	return now + 86400 * (1 + rnd(k >= 990 ? 200 : 20));
}

static void hot_account_matches_reference(void **state)
{
	(void)state;
	struct ref r;
	memset(&r, 0, sizeof(r));
	kg_features *f = kg_features_new(), *restored = NULL;
	kg_buf blob = KG_BUF_INIT(1 << 24);
	kg_err err;
	assert_non_null(f);
	uint32_t t = T0;
	int64_t busiest_hour = 0;
	uint64_t digest = 0;
	for (int i = 0; i < N_EVENTS; i++) {
		t = next_time(i, t);
		/* now and then an event up to 2 h late */
		feed(f, restored, &r, rnd(100) || t < T0 + 7200 ? t : t - rnd(7200));
		if (i % 211 == 0) {
			check(f, &r);
			int64_t c, sum;
			ref_window(&r.s[KG_S_EVENTS], r.now, (int64_t)r.now - 3600, &c, &sum);
			if (c > busiest_hour)
				busiest_hour = c;
		}
		if (i % 1009 == 0)
			round_trip(f, &blob, &digest);
		if (i == N_EVENTS / 2) {
			/* an account restored mid-way (vectors without slack) */
			round_trip(f, &blob, &digest);
			restored = kg_features_new();
			assert_non_null(restored);
			assert_int_equal(kg_features_load(restored, blob.data, blob.len, &err), 0);
		}
	}
	check(f, &r);
	check(restored, &r);
	/* the input did make a hot account: thousands of one-second buckets */
	assert_true(busiest_hour > 2000);
	/* the restored copy, fed the same events since, is the same state */
	kg_buf other = KG_BUF_INIT(1 << 24);
	assert_int_equal(kg_features_save(restored, &other), 0);
	round_trip(f, &blob, &digest);
	assert_int_equal(other.len, blob.len);
	assert_memory_equal(other.data, blob.data, blob.len);
	/* every blob on the way is what the block without per-vector capacity
	 * (before 2026-11-29) saved: the blob format and the bucketing are
	 * stored state, they do not change */
	assert_true(digest == 0xd1cfa1187af61d66ull);
	kg_buf_release(&other);
	ref_release(&r);
	kg_buf_release(&blob);
	kg_features_free(restored);
	kg_features_free(f);
}

/* A blob whose "events" buckets are at times 100 and 100 + delta, each
 * with the sum whose zig-zag varint is the byte zsum. */
static size_t blob_two_buckets(unsigned char *b, unsigned char delta, unsigned char zsum)
{
	size_t n = 0;
	const unsigned char head[] = {1, 100, 101, 101, 0, 0}; /* version .. name_len */
	memcpy(b, head, sizeof(head));
	n += sizeof(head);
	for (int s = 0; s < KG_S_COUNT; s++) {
		b[n++] = s == KG_S_EVENTS ? 2 : 0; /* total */
		b[n++] = s == KG_S_EVENTS ? 2 : 0; /* buckets */
		if (s == KG_S_EVENTS) {
			const unsigned char bk[] = {100, 1, zsum, delta, 1, zsum};
			memcpy(b + n, bk, sizeof(bk));
			n += sizeof(bk);
		}
	}
	for (int k = 0; k < KG_SET_COUNT + 2 + 1; k++)
		b[n++] = 0; /* sets, records, marks */
	return n;
}

/* Bucket times strictly increase in every blob kagi writes (stream_compact
 * relies on it): a blob with two buckets at one time is corrupt. */
static void blob_with_equal_bucket_times_refused(void **state)
{
	(void)state;
	unsigned char b[128];
	kg_features *f = kg_features_new();
	kg_err err;
	assert_non_null(f);
	size_t n = blob_two_buckets(b, 1, 0);
	assert_int_equal(kg_features_load(f, b, n, &err), 0);
	int64_t c, sum;
	kg_features_window(f, KG_S_EVENTS, 101, 60, &c, &sum);
	assert_int_equal(c, 2);
	n = blob_two_buckets(b, 0, 0);
	assert_int_equal(kg_features_load(f, b, n, &err), KG_EINVAL);
	kg_features_free(f);
}

/* Sums and counts saturate, never wrap: two orders of INT64_MAX in one
 * bucket, another in the next, and many more an hour on (merged as buckets
 * age) all sum to INT64_MAX, in memory and after a round trip of the blob.
 * A blob saved before sums saturated (a wrapped, negative sum; every value
 * added is >= 0) loads as saturated. */
static void sums_saturate(void **state)
{
	(void)state;
	kg_features *f = kg_features_new();
	assert_non_null(f);
	kg_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = KG_EV_ORDER;
	ev.amount = INT64_MAX;
	ev.gift_card_amount = INT64_MAX;
	ev.card.fingerprint = (kg_str){"fp", 2};
	uint32_t ts[40];
	size_t nts = 0;
	ts[nts++] = T0;
	ts[nts++] = T0;
	ts[nts++] = T0 + 1;
	for (uint32_t k = 0; k < 30; k++)
		ts[nts++] = T0 + 7200 + k * 61;
	struct kg_update_info info;
	for (size_t i = 0; i < nts; i++) {
		ev.ts_ms = (int64_t)ts[i] * 1000;
		assert_int_equal(kg_features_update(f, &ev, &info), 0);
		int64_t c, sum;
		kg_features_window(f, KG_S_ORDERS_GIFT_CARD, ts[i], 86400, &c, &sum);
		assert_int_equal(c, (int64_t)i + 1);
		assert_true(sum == INT64_MAX);
		kg_features_window(f, KG_S_ORDERS, ts[i], 1, &c, &sum);
		assert_true(sum == INT64_MAX);
	}
	kg_buf blob = KG_BUF_INIT(1 << 20);
	assert_int_equal(kg_features_save(f, &blob), 0);
	kg_features *g = kg_features_new();
	kg_err err;
	assert_non_null(g);
	assert_int_equal(kg_features_load(g, blob.data, blob.len, &err), 0);
	int64_t c, sum;
	kg_features_window(g, KG_S_ORDERS, ts[nts - 1], 86400, &c, &sum);
	assert_int_equal(c, (int64_t)nts);
	assert_true(sum == INT64_MAX);

	unsigned char b[128];
	size_t n = blob_two_buckets(b, 1, 3); /* zig-zag 3: -2 */
	assert_int_equal(kg_features_load(g, b, n, &err), 0);
	kg_features_window(g, KG_S_EVENTS, 101, 60, &c, &sum);
	assert_int_equal(c, 2);
	assert_true(sum == INT64_MAX);
	kg_buf_release(&blob);
	kg_features_free(g);
	kg_features_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hot_account_matches_reference),
		cmocka_unit_test(blob_with_equal_bucket_times_refused),
		cmocka_unit_test(sums_saturate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
