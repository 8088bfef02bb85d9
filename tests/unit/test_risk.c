/* Unit tests of src/risk: the feature blob (round trip, every truncation and
 * corruption refused), normalisation, policy reference counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk_impl.h"

static const char *const events[] = {
	"{\"id\":\"c\",\"type\":\"account.created\",\"account\":\"a\",\"ts\":\"2026-01-01T00:00:00Z\","
	"\"name\":\"Taro Yamada\",\"email\":\"t@x\",\"address\":{\"postal_code\":\"1\",\"region\":\"r\","
	"\"city\":\"c\",\"line1\":\"l\",\"country\":\"JP\"}}",
	"{\"id\":\"l1\",\"type\":\"login\",\"account\":\"a\",\"ts\":\"2026-01-01T01:00:00Z\",\"success\":false,"
	"\"ip\":\"1.2.3.4\",\"device_id\":\"d\"}",
	"{\"id\":\"l2\",\"type\":\"login\",\"account\":\"a\",\"ts\":\"2026-01-02T01:00:00Z\",\"success\":true,"
	"\"ip\":\"1.2.3.4\",\"device_id\":\"d\",\"country\":\"JP\"}",
	"{\"id\":\"o1\",\"type\":\"order\",\"account\":\"a\",\"ts\":\"2026-01-03T01:00:00Z\",\"order_id\":\"o\","
	"\"amount\":70000,\"currency\":\"JPY\",\"items\":[{\"sku\":\"g\",\"category\":\"gift_card\","
	"\"price\":70000,\"qty\":1}],\"shipping_address\":{\"postal_code\":\"1\",\"region\":\"r\","
	"\"city\":\"c\",\"line1\":\"l\",\"country\":\"JP\"},\"billing_address\":{\"postal_code\":\"1\","
	"\"region\":\"r\",\"city\":\"c\",\"line1\":\"l\",\"country\":\"JP\"},\"card\":{\"holder_name\":\"T\","
	"\"last4\":\"1234\",\"exp\":\"01/30\",\"fingerprint\":\"f\"},\"seller_ids\":[\"s1\",\"s2\"]}",
	"{\"id\":\"r1\",\"type\":\"return\",\"account\":\"a\",\"ts\":\"2026-02-03T01:00:00Z\",\"order_id\":\"o\","
	"\"amount\":100,\"currency\":\"JPY\",\"seller_id\":\"s1\"}",
};


/* Decides json and appends the decision's JSON, as the edges write it. */
static int decide_text(kg_risk *r, const char *json, size_t len, kg_buf *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	int rc = kg_risk_decide(r, json, len, &a, &d, err);
	if (!rc)
		rc = kg_decision_write_json(&d, out);
	kg_arena_release(&a);
	return rc;
}

/* The features blob of a small history (parser + feature update, as the
 * engine does it), with a mark. */
static void build_blob(kg_buf *blob)
{
	kg_features *f = kg_features_new();
	kg_event_parser *p = kg_event_parser_new();
	kg_err err;
	assert_non_null(f);
	assert_non_null(p);
	for (size_t i = 0; i < KG_ARRAY_LEN(events); i++) {
		const kg_event *ev;
		struct kg_update_info info;
		assert_int_equal(kg_event_parse(p, events[i], strlen(events[i]), &ev, &err), 0);
		assert_int_equal(kg_features_update(f, ev, &info), 0);
	}
	kg_features_set_mark(f, 42, 1767232800);
	assert_int_equal(kg_features_save(f, blob), 0);
	assert_true(blob->len > 60);
	/* the loaded state saves to the same bytes */
	kg_features *g = kg_features_new();
	kg_buf again = KG_BUF_INIT(1 << 20);
	assert_int_equal(kg_features_load(g, blob->data, blob->len, &err), 0);
	assert_int_equal(kg_features_save(g, &again), 0);
	assert_int_equal(again.len, blob->len);
	assert_memory_equal(again.data, blob->data, blob->len);
	assert_int_equal(kg_features_mark_time(g, 42), 1767232800);
	int64_t c, sum;
	kg_features_window(g, KG_S_ORDERS_GIFT_CARD, 1767402000, 86400, &c, &sum);
	assert_int_equal(c, 1);
	assert_int_equal(sum, 70000);
	assert_int_equal(kg_features_distinct(g, KG_SET_SELLERS, 1767402000, 86400), 2);
	kg_buf_release(&again);
	kg_features_free(g);
	kg_event_parser_free(p);
	kg_features_free(f);
}

static void blob_truncations_refused(void **state)
{
	(void)state;
	kg_buf blob = KG_BUF_INIT(1 << 20);
	build_blob(&blob);
	kg_features *f = kg_features_new();
	kg_err err;
	assert_int_equal(kg_features_load(f, blob.data, blob.len, &err), 0);
	for (size_t n = 0; n < blob.len; n++)
		assert_int_equal(kg_features_load(f, blob.data, n, &err), KG_EINVAL);
	char *bad = malloc(blob.len + 1);
	memcpy(bad, blob.data, blob.len);
	bad[0] = 9; /* unknown version */
	assert_int_equal(kg_features_load(f, bad, blob.len, &err), KG_EINVAL);
	memcpy(bad, blob.data, blob.len);
	bad[blob.len] = 0; /* trailing byte */
	assert_int_equal(kg_features_load(f, bad, blob.len + 1, &err), KG_EINVAL);
	/* random corruption never crashes (ASan) and never half-loads */
	srand(7);
	for (int k = 0; k < 2000; k++) {
		memcpy(bad, blob.data, blob.len);
		bad[rand() % blob.len] = (char)rand();
		kg_features_load(f, bad, blob.len, &err);
	}
	free(bad);
	kg_features_free(f);
	kg_buf_release(&blob);
}

static void blob_of_history_round_trips(void **state)
{
	(void)state;
	/* replay the history, save, load into a fresh engine state, save again:
	 * the bytes must be identical */
	kg_policy *pol = NULL;
	kg_err err;
	const char *text = "rule m on login { when success mark seen_login }\n";
	assert_int_equal(kg_policy_compile(text, strlen(text), "t.rules", &pol, &err), 0);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(pol, NULL, &r, &err), 0);
	kg_buf out = KG_BUF_INIT(1 << 20);
	for (size_t i = 0; i < KG_ARRAY_LEN(events); i++)
		assert_int_equal(decide_text(r, events[i], strlen(events[i]), &out, &err), 0);
	struct kg_risk_stats a, b;
	kg_risk_stats(r, &a);
	assert_int_equal(kg_risk_roundtrip_state(r, &err), 0);
	assert_int_equal(kg_risk_check_cache(r, &err), 0);
	kg_risk_stats(r, &b);
	assert_int_equal(a.feature_blob_bytes, b.feature_blob_bytes);
	assert_int_equal(a.events, 5);
	kg_buf_release(&out);
	kg_risk_free(r);
	kg_policy_unref(pol);
}

/* kg_risk_hash_seed2 is kg_risk_hash_seed twice (the engine's seen table
 * and the lock ids rely on it), for every length around the 8-byte steps. */
static void hash_seed2_is_two_seeded_hashes(void **state)
{
	(void)state;
	char s[64];
	for (size_t i = 0; i < sizeof(s); i++)
		s[i] = (char)(i * 37 + 11);
	static const uint64_t seeds[][2] = {{0, 0}, {0x51, 0x8bb84b93962eacc9ull}, {1, ~0ull}};
	for (size_t k = 0; k < KG_ARRAY_LEN(seeds); k++)
		for (size_t n = 0; n <= sizeof(s); n++) {
			uint64_t two[2];
			kg_risk_hash_seed2(s, n, seeds[k][0], seeds[k][1], two);
			assert_true(two[0] == kg_risk_hash_seed(s, n, seeds[k][0]));
			assert_true(two[1] == kg_risk_hash_seed(s, n, seeds[k][1]));
		}
	assert_true(kg_risk_hash_seed("", 0, 0) == kg_risk_hash("", 0));
}

static void normalize_examples(void **state)
{
	(void)state;
	static const char *const same[][2] = {
		{"Taro  Yamada", "taro yamada"},
		{"ＴＡＲＯ　ＹＡＭＡＤＡ", "taro yamada"},
		{" 1ー2ー3 ", "1-2-3"},
		{"1－2‐3−4", "1-2-3-4"},
		{"Straße", "STRASSE"},
		{"東京都\t千代田区", "東京都 千代田区"},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(same); i++) {
		kg_buf a = KG_BUF_INIT(1024), b = KG_BUF_INIT(1024);
		assert_int_equal(kg_risk_normalize(same[i][0], strlen(same[i][0]), &a), 0);
		assert_int_equal(kg_risk_normalize(same[i][1], strlen(same[i][1]), &b), 0);
		assert_string_equal(a.data ? a.data : "", b.data ? b.data : "");
		kg_buf_release(&a);
		kg_buf_release(&b);
	}
	kg_buf a = KG_BUF_INIT(1024), b = KG_BUF_INIT(1024);
	kg_risk_normalize("タロウ", strlen("タロウ"), &a);
	kg_risk_normalize("taro", 4, &b);
	assert_string_not_equal(a.data, b.data); /* kana/romaji: not required */
	kg_buf_release(&a);
	kg_buf_release(&b);
}

static size_t put_utf8(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | c >> 6);
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3f));
	o[2] = (char)(0x80 | (c >> 6 & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* The path of text with only ASCII and inert characters (kanji, kana)
 * gives what ICU's full path gives: a text s (ending in a letter) is
 * compared with s + U+FF21 (fullwidth A, never inert: ICU's path), whose
 * result must be s's + "a".
 * Every code point of the BMP between two ASCII letters, and every pair of
 * the kana block, with the dash and space handling. */
static bool norm_matches_icu(const char *s, size_t n)
{
	char t[64];
	kg_buf a = KG_BUF_INIT(1024), b = KG_BUF_INIT(1024);
	memcpy(t, s, n);
	memcpy(t + n, "\xef\xbc\xa1", 3);
	bool ok = kg_risk_normalize(s, n, &a) == 0 && kg_risk_normalize(t, n + 3, &b) == 0 &&
		  kg_buf_append(&a, "a", 1) == 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
	kg_buf_release(&a);
	kg_buf_release(&b);
	return ok;
}

static void normalize_inert_path_is_icu(void **state)
{
	(void)state;
	char s[64];
	for (uint32_t c = 0x80; c < 0x10000; c++) {
		if (c >= 0xd800 && c < 0xe000)
			continue;
		size_t n = 0;
		s[n++] = 'X';
		n += put_utf8(s + n, c);
		s[n++] = 'y';
		if (!norm_matches_icu(s, n))
			fail_msg("U+%04X between ASCII letters", (unsigned)c);
	}
	for (uint32_t c = 0x3000; c < 0x3100; c++)
		for (uint32_t d = 0x3000; d < 0x3100; d++) {
			size_t n = put_utf8(s, c);
			n += put_utf8(s + n, d);
			s[n++] = 'y'; /* a trailing space is trimmed, in s but not in s + U+FF21 */
			if (!norm_matches_icu(s, n))
				fail_msg("U+%04X U+%04X", (unsigned)c, (unsigned)d);
		}
	static const char *const texts[] = {"東京都 千代田区", " 神宮前1-2-3", "ハイツー101",
					    "佐々木\t花子", "\xf0\xa0\x80\x8b", "メゾン桜 203"};
	for (size_t i = 0; i < KG_ARRAY_LEN(texts); i++)
		assert_true(norm_matches_icu(texts[i], strlen(texts[i])));
}

static void policy_refcount_survives_swap(void **state)
{
	(void)state;
	kg_err err;
	kg_policy *p1 = NULL, *p2 = NULL;
	const char *t1 = "rule a on login { when success hold }\n";
	const char *t2 = "rule b on login { when not success challenge }\n";
	assert_int_equal(kg_policy_compile(t1, strlen(t1), "1", &p1, &err), 0);
	assert_int_equal(kg_policy_compile(t2, strlen(t2), "2", &p2, &err), 0);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(p1, NULL, &r, &err), 0);
	kg_policy *held = kg_risk_policy(r); /* a request in flight */
	kg_risk_set_policy(r, p2);
	kg_policy_unref(p1);
	assert_string_equal(kg_policy_file(held), "1"); /* still usable */
	kg_policy_unref(held);
	kg_policy *now = kg_risk_policy(r);
	assert_string_equal(kg_policy_file(now), "2");
	kg_policy_unref(now);
	/* a broken file leaves the running policy */
	assert_int_not_equal(kg_risk_reload(r, "/nonexistent/x.rules", &err), 0);
	now = kg_risk_policy(r);
	assert_string_equal(kg_policy_file(now), "2");
	kg_policy_unref(now);
	kg_risk_free(r);
	kg_policy_unref(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_truncations_refused),
		cmocka_unit_test(blob_of_history_round_trips),
		cmocka_unit_test(hash_seed2_is_two_seeded_hashes),
		cmocka_unit_test(normalize_examples),
		cmocka_unit_test(normalize_inert_path_is_icu),
		cmocka_unit_test(policy_refcount_survives_swap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
