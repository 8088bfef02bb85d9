/* Unit tests of the guard's detector (src/guard/detector.c): the cases of
 * tests/data/guard/cusum.cases (when a run of locks trips, data-driven),
 * the onset minute, and the stored text form (round trip, bad text); of
 * the feed summary (src/guard/feed.c): the cases of
 * tests/data/guard/feed.cases (which fields moved, since when) and its
 * stored text. Not here: the breaker on a store
 * (tests/integration/test_guard*.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard/guard.h"

static void test_cases(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/guard/cusum.cases", getenv("KG_TEST_DATA"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	int cases = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[128], expect[16];
		double floor;
		int used;
		if (line[0] == '#' || line[0] == '\n' ||
		    sscanf(line, "%127s %lf %15s%n", name, &floor, expect, &used) != 3)
			continue;
		struct kg_guard_cusum c;
		kg_guard_cusum_init(&c, floor);
		int at = 0, n = 0;
		const char *p = line + used;
		long long m, k;
		int adv;
		if (sscanf(p, " warm=%lld%n", &m, &adv) == 1) { /* a new store's warm-up */
			c.warm_until = m;
			p += adv;
		}
		while (sscanf(p, " %lld:%lld%n", &m, &k, &adv) == 2) {
			p += adv;
			for (long long i = 0; i < k; i++) {
				n++;
				if (kg_guard_cusum_add(&c, m, 1) > KG_GUARD_CUSUM_H && !at)
					at = n;
			}
		}
		int want = strcmp(expect, "none") ? atoi(expect) : 0;
		if (at != want) {
			fprintf(stderr, "%s: tripped at lock %d, expected %s\n", name, at, expect);
			bad++;
		}
		cases++;
	}
	fclose(f);
	assert_true(cases >= 8);
	assert_int_equal(bad, 0);
}

/* The onset is the minute S started to rise, not the minute it tripped. */
static void test_onset(void **state)
{
	(void)state;
	struct kg_guard_cusum c;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	kg_guard_cusum_add(&c, 500, 1); /* a lone lock: S rises, then falls to 0 */
	double s = 0;
	for (int m = 600; m < 610 && s <= KG_GUARD_CUSUM_H; m++)
		for (int i = 0; i < 2 && s <= KG_GUARD_CUSUM_H; i++)
			s = kg_guard_cusum_add(&c, m, 1);
	assert_true(s > KG_GUARD_CUSUM_H);
	assert_int_equal(c.onset, 600);
	assert_true(c.minute > 600);
	/* peek closes minutes without changing the detector */
	struct kg_guard_cusum before = c;
	double later = kg_guard_cusum_peek(&c, c.minute + 1000);
	assert_true(later == 0);
	assert_memory_equal(&before, &c, sizeof(c));
}

/* A new store's first hour only learns: a burst there is the shop's
 * normal, not a wave; after it the learned baseline is the reference. */
static void test_warmup(void **state)
{
	(void)state;
	struct kg_guard_cusum c;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	c.warm_until = 60;
	for (int m = 1; m < 60; m++)
		for (int i = 0; i < 10; i++)
			assert_true(kg_guard_cusum_add(&c, m, 1) == 0);
	assert_true(c.base > 5); /* ten a minute, learned */
	double s = 0;
	for (int i = 0; i < 12; i++) /* the shop's usual rate after the hour */
		s = kg_guard_cusum_add(&c, 61, 1);
	assert_true(s < KG_GUARD_CUSUM_H);
}

static void test_text(void **state)
{
	(void)state;
	struct kg_guard_cusum c, d;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	kg_guard_cusum_add(&c, 29851287, 3);
	char text[128];
	kg_guard_cusum_format(&c, text);
	kg_guard_cusum_init(&d, KG_GUARD_BASELINE_FLOOR);
	assert_int_equal(kg_guard_cusum_parse(text, &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	const char *bad[] = {"", "1 2 3", "1 2 nan 0.2 0", "1 2 0.5 0.2 0 extra", "-1 0 0 0.2 0",
			     "1 2 -0.5 0.2 0", "9223372036854775807 0 0 0.2 0",
			     "10 0 0 0.2 11", "1 2 1e300 0.2 0", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(kg_guard_cusum_parse(bad[i], &d), KG_EINVAL);
}


/* ---- the feed summary --------------------------------------------------------*/
static uint64_t rnd_state;
static double rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rnd_state >> 11) / 9007199254740992.0;
}

struct change {
	char kind[16]; /* none amount declined currency country */
	double mul, share;
	char code[8];
};

static int change_parse(const char *s, struct change *c)
{
	memset(c, 0, sizeof(*c));
	c->mul = 1;
	double n;
	if (!strcmp(s, "none"))
		snprintf(c->kind, sizeof(c->kind), "none");
	else if (sscanf(s, "amount*%lf", &n) == 1)
		snprintf(c->kind, sizeof(c->kind), "amount"), c->mul = n;
	else if (sscanf(s, "amount/%lf", &n) == 1)
		snprintf(c->kind, sizeof(c->kind), "amount"), c->mul = 1 / n;
	else if (sscanf(s, "declined=%lf", &n) == 1)
		snprintf(c->kind, sizeof(c->kind), "declined"), c->share = n;
	else if (sscanf(s, "currency=%7s", c->code) == 1)
		snprintf(c->kind, sizeof(c->kind), "currency");
	else if (sscanf(s, "country=%7s", c->code) == 1)
		snprintf(c->kind, sizeof(c->kind), "country");
	else
		return -1;
	return 0;
}

static kg_str str(const char *s)
{
	return (kg_str){s, (uint32_t)strlen(s)};
}

/* One minute of the shop: per_min orders, payments and logins. */
static void feed_minute(kg_guard_feed *f, int64_t minute, int per_min, const struct change *c)
{
	bool on = c != NULL;
	double mul = on && !strcmp(c->kind, "amount") ? c->mul : 1;
	const char *cur = on && !strcmp(c->kind, "currency") ? c->code : "JPY";
	const char *country = on && !strcmp(c->kind, "country") ? c->code : "JP";
	double declined = on && !strcmp(c->kind, "declined") ? c->share : 0.05;
	for (int i = 0; i < per_min; i++) {
		kg_ev_item items[3];
		kg_event e = {.type = KG_EV_ORDER, .ts_ms = minute * 60000 + i * 1000};
		e.n_items = 1 + (uint32_t)(rnd() * 3);
		e.amount = 0;
		for (uint32_t k = 0; k < e.n_items; k++) {
			items[k] = (kg_ev_item){.price = (int64_t)(exp(log(300) + rnd() * log(40)) * mul),
						.qty = 1};
			e.amount += items[k].price;
		}
		e.items = items;
		e.currency = str(cur);
		kg_guard_feed_observe(f, &e);
		kg_event p = {.type = KG_EV_PAYMENT, .ts_ms = e.ts_ms + 100};
		p.amount = e.amount;
		p.currency = str(cur);
		p.result = str(rnd() < declined ? "declined" : "success");
		kg_guard_feed_observe(f, &p);
		kg_event l = {.type = KG_EV_LOGIN, .ts_ms = e.ts_ms + 200};
		l.country = str(country);
		l.success = rnd() < 0.9;
		kg_guard_feed_observe(f, &l);
	}
}

static void test_feed_cases(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/guard/feed.cases", getenv("KG_TEST_DATA"));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char line[1024];
	int cases = 0, bad = 0;
	while (fgets(line, sizeof(line), fp)) {
		char name[64], chg[64], expect[256];
		int before, after, per_min;
		if (line[0] == '#' || line[0] == '\n' ||
		    sscanf(line, "%63s %d %d %d %63s %255s", name, &before, &after, &per_min, chg,
			   expect) != 6)
			continue;
		struct change c;
		assert_int_equal(change_parse(chg, &c), 0);
		kg_guard_feed *f;
		assert_int_equal(kg_guard_feed_new(&f), 0);
		rnd_state = 42;
		int64_t m0 = 29851000; /* 2026-10-01, some minute */
		for (int m = 0; m < before; m++)
			feed_minute(f, m0 + m, per_min, NULL);
		for (int m = before; m < before + after; m++)
			feed_minute(f, m0 + m, per_min, &c);
		json_t *j = kg_guard_feed_moved(f, m0 + before, m0 + before + after - 1);
		assert_non_null(j);
		char got[256] = "", since_want[KG_TIME_STR_MAX];
		kg_time_format((m0 + before) * 60000, since_want);
		json_t *moved = json_object_get(j, "moved"), *x;
		size_t k;
		/* sorted by event.field */
		const char *names[32];
		size_t n = 0;
		json_array_foreach(moved, k, x) {
			char nm[64];
			snprintf(nm, sizeof(nm), "%s.%s", json_string_value(json_object_get(x, "event")),
				 json_string_value(json_object_get(x, "field")));
			names[n++] = strdup(nm);
			const char *since = json_string_value(json_object_get(x, "since"));
			if (!since || strcmp(since, since_want)) {
				fprintf(stderr, "%s: %s moved since %s, expected %s\n", name, nm,
					since ? since : "(none)", since_want);
				bad++;
			}
			if (!json_string_value(json_object_get(x, "text")))
				bad++;
		}
		for (size_t a = 0; a < n; a++)
			for (size_t b = a + 1; b < n; b++)
				if (strcmp(names[a], names[b]) > 0) {
					const char *t = names[a];
					names[a] = names[b];
					names[b] = t;
				}
		for (size_t a = 0; a < n; a++) {
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", a ? "," : "",
				 names[a]);
			free((void *)names[a]);
		}
		if (!n)
			snprintf(got, sizeof(got), "none");
		if (strcmp(got, expect)) {
			char *dump = json_dumps(j, JSON_COMPACT);
			fprintf(stderr, "%s: moved %s, expected %s\n  %s\n", name, got, expect, dump);
			free(dump);
			bad++;
		}
		json_decref(j);
		kg_guard_feed_free(f);
		cases++;
	}
	fclose(fp);
	assert_true(cases >= 8);
	assert_int_equal(bad, 0);
}

/* The stored baseline: what one process learned, the next one compares
 * with; bad text is refused and changes nothing. */
static void test_feed_text(void **state)
{
	(void)state;
	kg_guard_feed *f, *g;
	assert_int_equal(kg_guard_feed_new(&f), 0);
	assert_int_equal(kg_guard_feed_new(&g), 0);
	rnd_state = 7;
	int64_t m0 = 29851000;
	for (int m = 0; m < 90; m++)
		feed_minute(f, m0 + m, 20, NULL);
	assert_true(kg_guard_feed_pending(f) >= 29); /* 90 minutes: 30 left the hour */
	kg_buf a = KG_BUF_INIT(1 << 20), b = KG_BUF_INIT(1 << 20);
	assert_int_equal(kg_guard_feed_format(f, &a), 0);
	assert_int_equal(kg_guard_feed_parse(g, a.data), 0);
	assert_int_equal(kg_guard_feed_format(g, &b), 0);
	assert_string_equal(a.data, b.data);
	/* the next process: the wave is compared with what the first saw */
	struct change c;
	assert_int_equal(change_parse("amount*100", &c), 0);
	for (int m = 200; m < 205; m++)
		feed_minute(g, m0 + m, 20, &c);
	json_t *j = kg_guard_feed_moved(g, m0 + 200, m0 + 204);
	assert_true(json_array_size(json_object_get(j, "moved")) == 3);
	double ratio = json_real_value(json_object_get(json_array_get(json_object_get(j, "moved"), 0),
						      "ratio"));
	assert_true(ratio > 64 && ratio < 160);
	assert_true(json_is_false(json_object_get(j, "partial")));
	json_decref(j);
	/* an onset whose minutes have left the hour: said so */
	j = kg_guard_feed_moved(g, m0 + 100, m0 + 204);
	assert_true(json_is_true(json_object_get(j, "partial")));
	json_decref(j);
	const char *badt[] = {"", "feed2\n", "feed1\nx 0\n", "feed1\nn 9 1:2\n", "feed1\nn 0 300:2\n",
			      "feed1\nn 0 1:-2\n", "feed1\nn 0 1:2 junk\n", "feed1\nc 0 0:5\n", NULL};
	for (int i = 0; badt[i]; i++)
		assert_int_equal(kg_guard_feed_parse(g, badt[i]), KG_EINVAL);
	kg_buf_reset(&b);
	assert_int_equal(kg_guard_feed_format(g, &b), 0); /* unchanged by the refusals */
	kg_buf_release(&a);
	kg_buf_release(&b);
	kg_guard_feed_free(f);
	kg_guard_feed_free(g);
}

/* A fold visits only the cells the minute counted and the baseline's
 * nonzero ones: a parsed baseline's counts, which no event adds to, still
 * decay by 1/1440 a folded minute (100 folds: 160 minutes, an hour left
 * in the ring); a minute's count keeps decaying once folded. */
static void test_feed_fold(void **state)
{
	(void)state;
	kg_guard_feed *f;
	assert_int_equal(kg_guard_feed_new(&f), 0);
	/* bucket 253 (no int64 amount reaches it) of order.amount; login
	 * country "zz" (packed 0x7a7a), which the minutes do not send */
	assert_int_equal(kg_guard_feed_parse(f, "feed1\nn 0 253:1000\nc 3 7a7a:500\n"), 0);
	rnd_state = 11;
	int64_t m0 = 29851000;
	for (int m = 0; m < 160; m++)
		feed_minute(f, m0 + m, 5, NULL);
	assert_int_equal(kg_guard_feed_pending(f), 100);
	kg_buf a = KG_BUF_INIT(1 << 20);
	assert_int_equal(kg_guard_feed_format(f, &a), 0);
	char want[64];
	snprintf(want, sizeof(want), " 253:%.4g\n", 1000 * pow(1 - 1.0 / 1440, 100));
	assert_non_null(strstr(a.data, want));
	snprintf(want, sizeof(want), "c 3 7a7a:%.4g ", 500 * pow(1 - 1.0 / 1440, 100));
	assert_non_null(strstr(a.data, want));
	/* the login country: 160 minutes of 5 logins, the first 100 folded
	 * (decayed), the last hour's added as they are */
	double jp = 0;
	for (int k = 0; k < 100; k++)
		jp = jp * (1 - 1.0 / 1440) + 5;
	snprintf(want, sizeof(want), " 504a:%.4g", jp + 60 * 5); /* "JP" */
	assert_non_null(strstr(a.data, want));
	kg_buf_release(&a);
	kg_guard_feed_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_onset),
		cmocka_unit_test(test_warmup),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_feed_cases),
		cmocka_unit_test(test_feed_text),
		cmocka_unit_test(test_feed_fold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
