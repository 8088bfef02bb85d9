/* The feed summary: which event fields' distributions moved, for an
 * incident whose rules did not change (docs/guard.md, "The feed summary").
 * Per node, in memory: per event-time minute of the last hour a log-scale
 * histogram of each numeric field and the counts of each categorical
 * field's values, plus a slow baseline (the minutes that left the hour,
 * decayed by 1/1440 a minute: about a day). The decision path adds an
 * event with a few relaxed atomic increments; a new minute folds the slot
 * it reuses into the baseline under a mutex (once a minute), visiting only
 * the cells that can change: those the slot counted (its used bits, set by
 * a cell's first count of the minute) and the baseline's nonzero ones (its
 * used bits: a decayed count stays above 0). The baseline
 * is kept in the store as one guard row (feed/baseline) so a restart, or
 * the next `kagi replay`, starts from it. Not here: the trip (breaker.c). */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

#define RING 60          /* minutes of the last hour */
#define NB 256           /* log buckets: 0 for v <= 0, then 4 per octave */
#define CATS 16          /* values per categorical field; the last: the others */
#define ITEMS_MAX 8      /* item prices counted per order (O(1) per event) */
#define DECAY (1.0 / 1440) /* the baseline's loss per minute folded into it */
#define OTHER UINT64_MAX
#define WORDS (NB / 64)  /* used bits of a numeric field's buckets */

enum { N_ORDER_AMOUNT, N_ORDER_ITEMS, N_ORDER_PRICE, N_PAYMENT_AMOUNT, N_RETURN_AMOUNT, N_NUM };
enum { C_ORDER_CURRENCY, C_PAYMENT_CURRENCY, C_PAYMENT_RESULT, C_LOGIN_COUNTRY, C_LOGIN_SUCCESS,
       C_NUM };

static const struct {
	const char *event, *field;
} num_names[N_NUM] = {{"order", "amount"},
		      {"order", "items"},
		      {"order", "items[].price"},
		      {"payment", "amount"},
		      {"return", "amount"}},
  cat_names[C_NUM] = {{"order", "currency"},
		      {"payment", "currency"},
		      {"payment", "result"},
		      {"login", "country"},
		      {"login", "success"}};

struct slot {
	_Atomic int64_t minute; /* 0: never used */
	_Atomic uint32_t num[N_NUM][NB];
	_Atomic uint32_t cat[C_NUM][CATS];
	/* the cells counted since the slot was last folded (a bit is set after
	 * its cell's count, with release: a fold that sees it sees the count) */
	_Atomic uint64_t num_used[N_NUM][WORDS];
	_Atomic uint32_t cat_used[C_NUM];
};

struct kg_guard_feed {
	pthread_mutex_t mu; /* folding a slot; the baseline */
	struct slot ring[RING];
	_Atomic uint64_t keys[C_NUM][CATS]; /* the values' text, packed; 0: free */
	double bnum[N_NUM][NB], bcat[C_NUM][CATS];
	/* the baseline's cells that may be above 0 (never cleared: decay keeps
	 * a count above 0 for years of minutes; a 0 under a bit stays 0) */
	uint64_t bnum_used[N_NUM][WORDS];
	uint32_t bcat_used[C_NUM];
	int64_t folded; /* minutes folded since the last kg_guard_feed_saved */
};

int kg_guard_feed_new(kg_guard_feed **out)
{
	kg_guard_feed *f = calloc(1, sizeof(*f));
	*out = f;
	if (!f)
		return KG_ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	return 0;
}

void kg_guard_feed_free(kg_guard_feed *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- the decision path -------------------------------------------------------*/
static unsigned bucket(int64_t v)
{
	if (v <= 0)
		return 0;
	unsigned msb = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
	uint64_t sub = msb >= 2 ? ((uint64_t)v >> (msb - 2)) & 3 : ((uint64_t)v << (2 - msb)) & 3;
	return 1 + msb * 4 + (unsigned)sub;
}

/* The lower bound of bucket b (1 for b 1, 2 for 5, 3 for 7, ...). */
static double bucket_value(unsigned b)
{
	if (b == 0)
		return 0;
	unsigned msb = (b - 1) / 4, sub = (b - 1) % 4;
	return ldexp(1.0, (int)msb) * (4 + sub) / 4;
}

/* Up to 8 bytes of a value, packed (a longer one: 7 and '~'); 0 for none. */
static uint64_t pack(const char *p, size_t n)
{
	uint64_t k = 0;
	for (size_t i = 0; i < n && i < 8; i++)
		k |= (uint64_t)(unsigned char)(i == 7 && n > 8 ? '~' : p[i]) << (8 * i);
	return k;
}

static void unpack(uint64_t k, char out[9])
{
	if (k == OTHER) {
		snprintf(out, 9, "(other)");
		return;
	}
	for (int i = 0; i < 8; i++)
		out[i] = (char)(k >> (8 * i));
	out[8] = '\0';
}

static unsigned cat_index(kg_guard_feed *f, int c, uint64_t key)
{
	for (unsigned i = 0; i < CATS - 1; i++) {
		uint64_t k = atomic_load_explicit(&f->keys[c][i], memory_order_relaxed);
		if (k == key)
			return i;
		if (k == 0) {
			uint64_t zero = 0;
			if (atomic_compare_exchange_strong(&f->keys[c][i], &zero, key) || zero == key)
				return i;
		}
	}
	return CATS - 1;
}

/* Cell b of a field: its slot count taken (if the slot used it) and the
 * baseline decayed and added to. The cells neither used are 0 in both and
 * would stay 0: the same sums as folding every cell. */
static void fold_cell(_Atomic uint32_t *cell, bool used, double *base)
{
	uint32_t x = used ? atomic_exchange_explicit(cell, 0, memory_order_relaxed) : 0;
	*base = *base * (1 - DECAY) + x;
}

static void fold_locked(kg_guard_feed *f, struct slot *s)
{
	for (int i = 0; i < N_NUM; i++)
		for (int w = 0; w < WORDS; w++) {
			uint64_t su = atomic_exchange_explicit(&s->num_used[i][w], 0,
							       memory_order_acquire);
			uint64_t all = su | f->bnum_used[i][w];
			f->bnum_used[i][w] = all;
			for (; all; all &= all - 1) {
				int k = __builtin_ctzll(all), b = w * 64 + k;
				fold_cell(&s->num[i][b], su >> k & 1, &f->bnum[i][b]);
			}
		}
	for (int i = 0; i < C_NUM; i++) {
		uint32_t su = atomic_exchange_explicit(&s->cat_used[i], 0, memory_order_acquire);
		uint32_t all = su | f->bcat_used[i];
		f->bcat_used[i] = all;
		for (; all; all &= all - 1) {
			int b = __builtin_ctz(all);
			fold_cell(&s->cat[i][b], su >> b & 1, &f->bcat[i][b]);
		}
	}
	f->folded++;
}

/* The slot of minute m, reused (its old minute folded into the baseline)
 * if it held an older one; NULL for a minute older than the slot's. */
static struct slot *slot_of(kg_guard_feed *f, int64_t m)
{
	struct slot *s = &f->ring[(uint64_t)m % RING];
	if (atomic_load_explicit(&s->minute, memory_order_acquire) == m)
		return s;
	pthread_mutex_lock(&f->mu);
	int64_t cur = atomic_load_explicit(&s->minute, memory_order_relaxed);
	if (cur > m) {
		s = NULL;
	} else if (cur != m) {
		if (cur)
			fold_locked(f, s);
		atomic_store_explicit(&s->minute, m, memory_order_release);
	}
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void add_num(struct slot *s, int i, int64_t v)
{
	unsigned b = bucket(v);
	if (!atomic_fetch_add_explicit(&s->num[i][b], 1, memory_order_relaxed))
		atomic_fetch_or_explicit(&s->num_used[i][b / 64], 1ull << (b % 64),
					 memory_order_release);
}

static void add_cat(kg_guard_feed *f, struct slot *s, int c, kg_str v)
{
	uint64_t key = pack(v.p, v.n);
	if (!key)
		return;
	unsigned b = cat_index(f, c, key);
	if (!atomic_fetch_add_explicit(&s->cat[c][b], 1, memory_order_relaxed))
		atomic_fetch_or_explicit(&s->cat_used[c], 1u << b, memory_order_release);
}

void kg_guard_feed_observe(kg_guard_feed *f, const kg_event *e)
{
	if (e->ts_ms <= 0)
		return;
	struct slot *s = slot_of(f, e->ts_ms / 60000);
	if (!s)
		return;
	switch (e->type) {
	case KG_EV_ORDER:
		add_num(s, N_ORDER_AMOUNT, e->amount);
		add_num(s, N_ORDER_ITEMS, e->n_items);
		for (uint32_t i = 0; i < e->n_items && i < ITEMS_MAX; i++)
			add_num(s, N_ORDER_PRICE, e->items[i].price);
		add_cat(f, s, C_ORDER_CURRENCY, e->currency);
		break;
	case KG_EV_PAYMENT:
		add_num(s, N_PAYMENT_AMOUNT, e->amount);
		add_cat(f, s, C_PAYMENT_CURRENCY, e->currency);
		add_cat(f, s, C_PAYMENT_RESULT, e->result);
		break;
	case KG_EV_RETURN:
		add_num(s, N_RETURN_AMOUNT, e->amount);
		break;
	case KG_EV_LOGIN:
		add_cat(f, s, C_LOGIN_COUNTRY, e->country);
		add_cat(f, s, C_LOGIN_SUCCESS,
			e->success ? (kg_str){"true", 4} : (kg_str){"false", 5});
		break;
	default:
		break;
	}
}

/* ---- what moved ----------------------------------------------------------------*/
struct hist {
	double num[N_NUM][NB], cat[C_NUM][CATS];
};

static void hist_add_slot(struct hist *h, struct slot *s)
{
	for (int i = 0; i < N_NUM; i++)
		for (int b = 0; b < NB; b++)
			h->num[i][b] += atomic_load_explicit(&s->num[i][b], memory_order_relaxed);
	for (int i = 0; i < C_NUM; i++)
		for (int b = 0; b < CATS; b++)
			h->cat[i][b] += atomic_load_explicit(&s->cat[i][b], memory_order_relaxed);
}

static double num_total(const struct hist *h, int i)
{
	double t = 0;
	for (int b = 0; b < NB; b++)
		t += h->num[i][b];
	return t;
}

static double cat_total(const struct hist *h, int i)
{
	double t = 0;
	for (int b = 0; b < CATS; b++)
		t += h->cat[i][b];
	return t;
}

static int median(const struct hist *h, int i)
{
	double t = num_total(h, i), c = 0;
	for (int b = 0; b < NB; b++)
		if ((c += h->num[i][b]) >= t / 2 && c > 0)
			return b;
	return 0;
}

/* The ring's slot of minute m, or NULL (no event that minute, or reused). */
static struct slot *ring_at(kg_guard_feed *f, int64_t m)
{
	struct slot *s = &f->ring[(uint64_t)m % RING];
	return m > 0 && atomic_load_explicit(&s->minute, memory_order_acquire) == m ? s : NULL;
}

/* Numeric field i moved between ref and now: by at least
 * KG_GUARD_FEED_SHIFT buckets of its median, in direction dir (0: either).
 * Returns the shift (0: not moved). */
static int num_moved(const struct hist *ref, const struct hist *now, int i, int dir)
{
	int d = median(now, i) - median(ref, i);
	if (d >= KG_GUARD_FEED_SHIFT && dir >= 0)
		return d;
	if (d <= -KG_GUARD_FEED_SHIFT && dir <= 0)
		return d;
	return 0;
}

/* The value of categorical field i whose share moved most, and by how
 * much (now - ref). */
static int cat_moved(const struct hist *ref, const struct hist *now, int i, double *delta)
{
	double tr = cat_total(ref, i), tn = cat_total(now, i);
	int best = -1;
	*delta = 0;
	for (int b = 0; b < CATS && tr > 0 && tn > 0; b++) {
		double d = now->cat[i][b] / tn - ref->cat[i][b] / tr;
		if (fabs(d) > fabs(*delta) || (fabs(d) == fabs(*delta) && d > 0)) {
			*delta = d;
			best = b;
		}
	}
	return best;
}

/* The chunk moved like the whole: numeric field i in direction dir, or
 * (i < 0) categorical c's value v in the direction of delta. */
static bool chunk_moved(const struct hist *ref, const struct hist *chunk, int i, int dir, int c,
			int v, double delta)
{
	if (i >= 0)
		return num_moved(ref, chunk, i, dir) != 0;
	double share = chunk->cat[c][v] / cat_total(chunk, c),
	       before = ref->cat[c][v] / cat_total(ref, c);
	return delta > 0 ? share - before >= KG_GUARD_FEED_SHARE
			 : before - share >= KG_GUARD_FEED_SHARE;
}

/* The first minute of the run of minutes ending at `to` that moved like
 * the whole (field: numeric i or categorical c with value v), read
 * backwards in chunks of at least KG_GUARD_FEED_CHUNK values, then the
 * first chunk's leading minutes that did not move on their own dropped. */
static int64_t since(kg_guard_feed *f, const struct hist *ref, int64_t to, int i, int dir,
		     int c, int v, double delta)
{
	struct hist *chunk = calloc(1, sizeof(*chunk));
	int64_t first = to, start = to;
	if (!chunk)
		return to;
	for (int64_t m = to; m > to - RING; m--) {
		struct slot *s = ring_at(f, m);
		if (!s)
			continue;
		hist_add_slot(chunk, s);
		start = m;
		double n = i >= 0 ? num_total(chunk, i) : cat_total(chunk, c);
		if (n < KG_GUARD_FEED_CHUNK)
			continue;
		if (!chunk_moved(ref, chunk, i, dir, c, v, delta))
			break;
		first = start;
		memset(chunk, 0, sizeof(*chunk));
	}
	for (int64_t m = first; m < to; m++) {
		struct slot *s = ring_at(f, m);
		if (!s)
			continue;
		memset(chunk, 0, sizeof(*chunk));
		hist_add_slot(chunk, s);
		double n = i >= 0 ? num_total(chunk, i) : cat_total(chunk, c);
		if (n > 0 && chunk_moved(ref, chunk, i, dir, c, v, delta))
			break;
		if (n > 0)
			first = m + 1;
	}
	free(chunk);
	return first;
}

static json_t *num_json(kg_guard_feed *f, const struct hist *ref, const struct hist *now,
			int i, int d, int64_t onset, int64_t to)
{
	double before = bucket_value((unsigned)median(ref, i)),
	       after = bucket_value((unsigned)median(now, i));
	double ratio = before > 0 ? after / before : 0;
	int64_t from = since(f, ref, to, i, d > 0 ? 1 : -1, -1, 0, 0);
	if (from > onset)
		from = onset;
	char t[KG_TIME_STR_MAX], text[256], r[32];
	double k = ratio >= 1 ? ratio : ratio > 0 ? 1 / ratio : 0;
	snprintf(r, sizeof(r), k >= 10 ? "%s%.0f" : "%s%.1f", ratio >= 1 ? "x" : "/", k);
	kg_time_format(from * 60000, t);
	snprintf(text, sizeof(text), "%s median %s (about %.0f -> %.0f) since %s on %s events",
		 num_names[i].field, r, before, after, t, num_names[i].event);
	return json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:s, s:I, s:I, s:s}", "event",
			 num_names[i].event, "field", num_names[i].field, "stat", "median", "before",
			 before, "now", after, "ratio", round(ratio * 1000) / 1000, "since", t,
			 "values_before", (json_int_t)num_total(ref, i), "values_now",
			 (json_int_t)num_total(now, i), "text", text);
}

static json_t *cat_json(kg_guard_feed *f, const struct hist *ref, const struct hist *now,
			int c, int v, double delta, int64_t onset, int64_t to)
{
	char value[9], t[KG_TIME_STR_MAX], text[256];
	unpack(v == CATS - 1 ? OTHER : atomic_load(&f->keys[c][v]), value);
	double before = ref->cat[c][v] / cat_total(ref, c), after = now->cat[c][v] / cat_total(now, c);
	int64_t from = since(f, ref, to, -1, 0, c, v, delta);
	if (from > onset)
		from = onset;
	kg_time_format(from * 60000, t);
	snprintf(text, sizeof(text), "%s \"%s\" share %.0f %% -> %.0f %% since %s on %s events",
		 cat_names[c].field, value, before * 100, after * 100, t, cat_names[c].event);
	return json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:I, s:I, s:s}", "event",
			 cat_names[c].event, "field", cat_names[c].field, "stat", "share", "value",
			 value, "before", round(before * 1000) / 1000, "now", round(after * 1000) / 1000,
			 "since", t, "values_before", (json_int_t)cat_total(ref, c), "values_now",
			 (json_int_t)cat_total(now, c), "text", text);
}

json_t *kg_guard_feed_moved(kg_guard_feed *f, int64_t onset_min, int64_t now_min)
{
	struct hist *ref = calloc(1, sizeof(*ref)), *now = calloc(1, sizeof(*now));
	json_t *moved = json_array(), *out = NULL;
	if (!ref || !now || !moved)
		goto cleanup;
	if (onset_min > now_min)
		onset_min = now_min;
	pthread_mutex_lock(&f->mu);
	memcpy(ref->num, f->bnum, sizeof(ref->num));
	memcpy(ref->cat, f->bcat, sizeof(ref->cat));
	pthread_mutex_unlock(&f->mu);
	for (int64_t m = now_min - RING + 1; m <= now_min; m++) {
		struct slot *s = ring_at(f, m);
		if (s)
			hist_add_slot(m < onset_min ? ref : now, s);
	}
	for (int i = 0; i < N_NUM; i++) {
		if (num_total(ref, i) < KG_GUARD_FEED_MIN_REF ||
		    num_total(now, i) < KG_GUARD_FEED_MIN_NOW)
			continue;
		int d = num_moved(ref, now, i, 0);
		if (d)
			json_array_append_new(moved, num_json(f, ref, now, i, d, onset_min, now_min));
	}
	for (int c = 0; c < C_NUM; c++) {
		double delta;
		if (cat_total(ref, c) < KG_GUARD_FEED_MIN_REF ||
		    cat_total(now, c) < KG_GUARD_FEED_MIN_NOW)
			continue;
		int v = cat_moved(ref, now, c, &delta);
		if (v >= 0 && fabs(delta) >= KG_GUARD_FEED_SHARE)
			json_array_append_new(moved,
					      cat_json(f, ref, now, c, v, delta, onset_min, now_min));
	}
	/* the events summarised: orders, payments, returns, logins */
	double nref = num_total(ref, N_ORDER_AMOUNT) + num_total(ref, N_PAYMENT_AMOUNT) +
		      num_total(ref, N_RETURN_AMOUNT) + cat_total(ref, C_LOGIN_SUCCESS);
	double nnow = num_total(now, N_ORDER_AMOUNT) + num_total(now, N_PAYMENT_AMOUNT) +
		      num_total(now, N_RETURN_AMOUNT) + cat_total(now, C_LOGIN_SUCCESS);
	/* a store batch spanning more than the hour (kagi replay --batch N of a
	 * quiet shop) observed its events before its locks: the minutes of the
	 * wave may have left the ring */
	int64_t newest = 0;
	for (int k = 0; k < RING; k++) {
		int64_t m = atomic_load_explicit(&f->ring[k].minute, memory_order_relaxed);
		newest = m > newest ? m : newest;
	}
	bool partial = newest - RING + 1 > onset_min;
	char t1[KG_TIME_STR_MAX], t2[KG_TIME_STR_MAX];
	out = json_pack("{s:o, s:b, s:s, s:s, s:I, s:I}", "moved", moved, "partial", partial, "from",
			kg_time_format(onset_min * 60000, t1), "to",
			kg_time_format(now_min * 60000 + 59999, t2), "events_now", (json_int_t)nnow,
			"events_before", (json_int_t)nref);
	moved = NULL;
cleanup:
	json_decref(moved);
	free(ref);
	free(now);
	return out;
}

/* ---- the stored baseline ---------------------------------------------------------*/
int kg_guard_feed_format(kg_guard_feed *f, kg_buf *out)
{
	struct hist *h = calloc(1, sizeof(*h));
	if (!h)
		return KG_ENOMEM;
	pthread_mutex_lock(&f->mu);
	memcpy(h->num, f->bnum, sizeof(h->num));
	memcpy(h->cat, f->bcat, sizeof(h->cat));
	pthread_mutex_unlock(&f->mu);
	int64_t newest = 0;
	for (int k = 0; k < RING; k++) {
		int64_t m = atomic_load(&f->ring[k].minute);
		newest = m > newest ? m : newest;
	}
	for (int64_t m = newest - RING + 1; newest && m <= newest; m++) {
		struct slot *s = ring_at(f, m);
		if (s) /* the last hour too: the next process starts with it */
			hist_add_slot(h, s);
	}
	int rc = kg_buf_printf(out, "feed1\n");
	for (int i = 0; i < N_NUM && !rc; i++) {
		rc = kg_buf_printf(out, "n %d", i);
		for (int b = 0; b < NB && !rc; b++)
			if (h->num[i][b] >= 0.01)
				rc = kg_buf_printf(out, " %d:%.4g", b, h->num[i][b]);
		rc = rc ? rc : kg_buf_printf(out, "\n");
	}
	for (int c = 0; c < C_NUM && !rc; c++) {
		rc = kg_buf_printf(out, "c %d", c);
		for (int b = 0; b < CATS && !rc; b++) {
			uint64_t k = b == CATS - 1 ? OTHER : atomic_load(&f->keys[c][b]);
			if (k && h->cat[c][b] >= 0.01)
				rc = kg_buf_printf(out, " %" PRIx64 ":%.4g", k, h->cat[c][b]);
		}
		rc = rc ? rc : kg_buf_printf(out, "\n");
	}
	free(h);
	return rc;
}

int kg_guard_feed_parse(kg_guard_feed *f, const char *text)
{
	if (!text || strncmp(text, "feed1\n", 6))
		return KG_EINVAL;
	struct hist *h = calloc(1, sizeof(*h));
	uint64_t keys[C_NUM][CATS] = {{0}}, num_used[N_NUM][WORDS] = {{0}};
	uint32_t cat_used[C_NUM] = {0};
	if (!h)
		return KG_ENOMEM;
	int rc = 0;
	for (const char *p = text + 6; *p && !rc; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		char kind;
		int idx, used;
		if (sscanf(p, "%c %d%n", &kind, &idx, &used) != 2 || (kind != 'n' && kind != 'c') ||
		    idx < 0 || idx >= (kind == 'n' ? N_NUM : C_NUM)) {
			rc = KG_EINVAL;
			break;
		}
		const char *q = p + used;
		int nc = 0;
		while (*q == ' ') {
			double v;
			int len;
			if (kind == 'n') {
				int b;
				if (sscanf(q, " %d:%lg%n", &b, &v, &len) != 2 || b < 0 || b >= NB ||
				    !(v >= 0 && v < 1e15)) {
					rc = KG_EINVAL;
					break;
				}
				h->num[idx][b] = v;
				num_used[idx][b / 64] |= 1ull << (b % 64);
			} else {
				uint64_t k;
				if (sscanf(q, " %" SCNx64 ":%lg%n", &k, &v, &len) != 2 || !k ||
				    !(v >= 0 && v < 1e15) || nc >= CATS) {
					rc = KG_EINVAL;
					break;
				}
				int b = k == OTHER ? CATS - 1 : nc++;
				if (b == CATS - 1 && k != OTHER) {
					rc = KG_EINVAL;
					break;
				}
				keys[idx][b] = k;
				h->cat[idx][b] = v;
				cat_used[idx] |= 1u << b;
			}
			q += len;
		}
		if (!rc && *q != '\n' && *q != '\0')
			rc = KG_EINVAL;
	}
	if (!rc) {
		pthread_mutex_lock(&f->mu);
		memcpy(f->bnum, h->num, sizeof(h->num));
		memcpy(f->bcat, h->cat, sizeof(h->cat));
		memcpy(f->bnum_used, num_used, sizeof(num_used));
		memcpy(f->bcat_used, cat_used, sizeof(cat_used));
		for (int c = 0; c < C_NUM; c++)
			for (int b = 0; b < CATS - 1; b++)
				atomic_store(&f->keys[c][b], keys[c][b]);
		pthread_mutex_unlock(&f->mu);
	}
	free(h);
	return rc;
}

int64_t kg_guard_feed_saved(kg_guard_feed *f)
{
	pthread_mutex_lock(&f->mu);
	int64_t n = f->folded;
	f->folded = 0;
	pthread_mutex_unlock(&f->mu);
	return n;
}

int64_t kg_guard_feed_pending(kg_guard_feed *f)
{
	pthread_mutex_lock(&f->mu);
	int64_t n = f->folded;
	pthread_mutex_unlock(&f->mu);
	return n;
}
