/* Unit tests of the event parser's text checks (src/risk/event.c): every
 * string an accepted event holds, known field or not, is valid JSON text,
 * since the raw event is what gets stored and served. Found by
 * tests/fuzz/fuzz_event.c; its regression seeds are in
 * tests/fuzz/corpus/event/regress_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk_impl.h"

#define HEAD "{\"id\":\"e1\",\"type\":\"profile_change\",\"account\":\"a1\"," \
	     "\"ts\":\"2026-03-01T10:00:00Z\",\"field\":\"email\""

static int parse(const char *json, kg_err *err)
{
	kg_event_parser *p = kg_event_parser_new();
	const kg_event *ev;
	assert_non_null(p);
	kg_err_clear(err);
	int rc = kg_event_parse(p, json, strlen(json), &ev, err);
	kg_event_parser_free(p);
	return rc;
}

static void refused(const char *json, const char *field, const char *text)
{
	kg_err err;
	assert_int_equal(parse(json, &err), KG_EINVAL);
	assert_string_equal(err.field, field);
	if (!strstr(err.msg, text))
		fail_msg("message \"%s\" does not say \"%s\"", err.msg, text);
}

static void raw_control_characters_refused(void **state)
{
	refused("{\"id\":\"e\x14\",\"type\":\"login\"}", "id", "control character");
	refused(HEAD ",\"extra\":\"a\x01z\"}", "extra", "control character");
	refused(HEAD ",\"extra\":{\"deep\":[1,\"\\n\x1f\"]}}", "extra", "control character");
	refused(HEAD ",\"x\":\"tab\there\"}", "x", "control character");
	/* in every position of an eight-byte run (utf8_ok's ASCII fast path) */
	for (int k = 0; k < 17; k++) {
		char json[256], text[18] = "abcdefghijklmnopq";
		text[k] = k % 2 ? '\x1f' : '\n';
		snprintf(json, sizeof(json), HEAD ",\"x\":\"%s\"}", text);
		refused(json, "x", "control character");
		snprintf(json, sizeof(json), "{\"id\":\"%s\",\"type\":\"login\"}", text);
		refused(json, "id", "control character");
	}
	/* in a known field after an escape (the decoding path) */
	refused("{\"id\":\"e1\",\"type\":\"account.created\",\"account\":\"a1\","
		"\"ts\":\"2026-03-01T10:00:00Z\",\"name\":\"a\\\"b\x02\"}",
		"name", "control character");
}

static void unknown_fields_must_be_valid_text(void **state)
{
	refused(HEAD ",\"extra\":\"\xff\"}", "extra", "UTF-8");
	refused(HEAD ",\"extra\":[\"ok\",\"\xed\xa0\x80\"]}", "extra", "UTF-8"); /* encoded surrogate */
	refused(HEAD ",\"extra\":\"\\ud800\"}", "extra", "surrogate");
	refused(HEAD ",\"extra\":\"\\q\"}", "", "invalid JSON"); /* jsmn checks escapes */
	refused(HEAD ",\"k\xc3\":1}", "", "field name"); /* the key itself */
	refused(HEAD ",\"extra\":{\"\x01\":1}}", "extra", "control character");
}

static void escaped_and_multibyte_text_accepted(void **state)
{
	kg_err err;
	assert_int_equal(parse(HEAD ",\"extra\":\"\\u0001\\n\\t\\ud83d\\ude00 鍵\","
			       "\"n\":[1,2.5,null,true,{\"鍵\":\"\xe3\x81\x82\"}]}", &err), 0);
	assert_int_equal(parse("{\"id\":\"e1\",\"type\":\"account.created\",\"account\":\"a1\","
			       "\"ts\":\"2026-03-01T10:00:00Z\",\"name\":\"山田\\t太郎\","
			       "\"email\":\"t@example.jp\",\"address\":{\"postal_code\":\"1\","
			       "\"region\":\"r\",\"city\":\"c\",\"line1\":\"l\",\"country\":\"JP\","
			       "\"note\":\"\\\"kept\\\"\"}}", &err), 0);
}

/* jsmn lets these through; they are not JSON, and its token sizes then
 * pair keys with the wrong values (a decision could depend on the tokens
 * of the previous event). */
static void lax_jsmn_syntax_refused(void **state)
{
	static const char *const bad[] = {
		HEAD ",\"x\" \"y\"}",          /* missing ':' */
		HEAD " \"x\":1}",              /* missing ',' */
		HEAD ",,\"x\":1}",             /* doubled ',' */
		HEAD ",\"x\"::1}",             /* doubled ':' */
		HEAD ",}",                     /* trailing ',' */
		HEAD ",\"x\":[1 2]}",          /* missing ',' in an array */
		HEAD ",\"x\":[1,]}",           /* trailing ',' in an array */
		HEAD ",\"x\":[\"k\":1]}",      /* a key in an array */
		"{,\"id\":\"e1\"}",            /* leading ',' */
		HEAD "} ,",                    /* data after the object */
		HEAD "}\0",                    /* a NUL after the object (length below) */
		"{\"id\"\"f0\", \"type\": \"login\", \"account\": \"a1\", \"ts\": \"2026-03-01T09:00:00Z\", "
		"\"success\": false, \"ip\": \"2001:db8::1\", \"device_id\": \"d2\"}",
	};
	kg_event_parser *p = kg_event_parser_new();
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const kg_event *ev;
		kg_err err;
		kg_err_clear(&err);
		size_t len = strlen(bad[i]) + (i == 10); /* the NUL case includes its NUL */
		if (kg_event_parse(p, bad[i], len, &ev, &err) != KG_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(err.field, "");
		if (!strstr(err.msg, "JSON"))
			fail_msg("%s: %s", bad[i], err.msg);
	}
	kg_event_parser_free(p);
	kg_err err;
	assert_int_equal(parse(" \r\n\t" HEAD " , \"x\" :\t[ 1 , {\"y\" : \"z\" } ] , \"w\":{ }, \"v\":[]\n}\n",
			       &err), 0);
}

/* The parse's tokenizer stands in for jsmn: on every text it takes, jsmn's
 * tokens (and jsmn would take the text whole); what it does not take,
 * jsmn tokenizes. Texts of every kind, each also mutated at random (a byte
 * replaced, removed or inserted, from the bytes that matter to either). */
static void tokenizer_is_jsmn(void **state)
{
	static const char *const texts[] = {
		HEAD "}",
		" \r\n\t" HEAD " , \"x\" :\t[ 1 , {\"y\" : \"z\" } ] , \"w\":{ }, \"v\":[]\n}",
		HEAD ",\"extra\":\"\\u0001\\n\\t\\ud83d\\ude00 鍵\",\"n\":[1,2.5,null,true,"
		"{\"鍵\":\"\xe3\x81\x82\"}],\"q\":\"\\\"\\\\\\/\\b\\f\\r\"}",
		HEAD ",\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", /* deeper than the limit */
		HEAD ",\"a\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}",
		HEAD ",\"s\":\"a string longer than sixteen bytes, and one more: \\\"quoted\\\" "
		"\xe3\x81\x82\xe3\x81\x84\"}",
		HEAD ",\"x\":-12.5e+3,\"y\":[true,false,null],\"z\":{\"k\":{}}}",
		"{\"id\":\"e1\",\"type\":\"order\",\"account\":\"a1\",\"ts\":\"2026-03-01T10:00:00Z\","
		"\"order_id\":\"o1\",\"amount\":1200,\"currency\":\"JPY\",\"items\":[{\"sku\":\"s1\","
		"\"category\":\"gift_card\",\"price\":1200,\"qty\":1}],\"shipping_address\":"
		"{\"postal_code\":\"1\",\"region\":\"r\",\"city\":\"c\",\"line1\":\"l\",\"country\":\"JP\"},"
		"\"billing_address\":{\"postal_code\":\"1\",\"region\":\"r\",\"city\":\"c\",\"line1\":\"l\","
		"\"country\":\"JP\"},\"card\":{\"holder_name\":\"h\",\"last4\":\"4242\",\"exp\":\"12/30\","
		"\"fingerprint\":\"f1\"},\"seller_ids\":[\"s1\",\"s2\"]}",
		"{}", "[]", "{\"a\":1}x", "{\"a\":tru}", "{\"a\":1:2}", "{\"a\":\"\\u12\"}",
		"{\"a\":fal\\e}", "{\"a\":\"\x7f\"}", "{\"a\":\"\xe3\x81\"}", "{\t\"a\":1}",
	};
	static const char alphabet[] = "{}[]\":,\\ \t\n\r0123456789-+.eEtfnu/ab\x01\x1f\x7f\xc3\xa9";
	kg_event_parser *p = kg_event_parser_new();
	assert_non_null(p);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int taken = 0, left = 0;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n0 = strlen(texts[i]);
		for (int k = 0; k < 3000; k++) {
			char buf[1024];
			size_t n = n0;
			assert_true(n0 + 8 < sizeof(buf));
			memcpy(buf, texts[i], n0);
			for (int m = k ? 1 + (int)(x >> 62) : 0; m > 0; m--) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				size_t at = (size_t)(x % (n + 1));
				char ch = (x >> 32) % 8 ? alphabet[(x >> 40) % (sizeof(alphabet) - 1)]
						       : (char)(x >> 48); /* any byte, NUL too */
				if ((x >> 56) % 3 == 0 && at < n) {
					buf[at] = ch;
				} else if ((x >> 56) % 3 == 1 && at < n) {
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
				} else {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = ch;
					n++;
				}
			}
			int rc = kg_event_tokens_check(p, buf, n);
			if (rc < 0)
				fail_msg("tokens differ from jsmn's: %.*s", (int)n, buf);
			rc ? taken++ : left++;
		}
	}
	kg_event_parser_free(p);
	assert_true(taken > 1000 && left > 1000);
}

/* The body hash of one event text. */
static void body_hash(const char *json, uint8_t out[KG_EVENT_HASH_BYTES])
{
	kg_event_parser *p = kg_event_parser_new();
	const kg_event *ev;
	kg_err err;
	assert_non_null(p);
	if (kg_event_parse(p, json, strlen(json), &ev, &err))
		fail_msg("%s: %s", json, err.msg);
	assert_int_equal(kg_event_body_hash(p, out), 0);
	/* the hash the parse took on its way, if it did, is the full walk's */
	uint8_t walked[KG_EVENT_HASH_BYTES];
	assert_int_equal(kg_event_body_hash_walk(p, walked), 0);
	if (memcmp(out, walked, KG_EVENT_HASH_BYTES))
		fail_msg("%s: the parse's hash is not the walk's", json);
	kg_event_parser_free(p);
}

/* The body hash is of what the body says: whitespace, the order of keys
 * (nested ones too) and the spelling of escapes do not change it; a value,
 * an unknown field, the order of an array or a number's text do.
 * tests/data/events/body_hash.cases: groups of texts of one hash, each
 * group's hash its own, some pinned. */
#define CASES_MAX 128
static void body_hash_cases(void **state)
{
	(void)state;
	char path[1024];
	const char *dir = getenv("KG_TEST_DATA");
	snprintf(path, sizeof(path), "%s/events/body_hash.cases", dir ? dir : "tests/data");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static uint8_t group[CASES_MAX][KG_EVENT_HASH_BYTES];
	static char title[CASES_MAX][160];
	int ng = -1, members = 0, lineno = 0, bad = 0;
	char line[2048], json[2304];
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!strncmp(line, "--- ", 4)) {
			assert_true(++ng < CASES_MAX);
			snprintf(title[ng], sizeof(title[ng]), "%.100s", line + 4);
			members = 0;
			continue;
		}
		assert_true(ng >= 0);
		uint8_t h[KG_EVENT_HASH_BYTES];
		if (!strncmp(line, "hash ", 5)) {
			char hex[2 * KG_EVENT_HASH_BYTES + 1];
			for (int i = 0; i < KG_EVENT_HASH_BYTES; i++)
				snprintf(hex + 2 * i, 3, "%02x", group[ng][i]);
			if (strcmp(hex, line + 5)) {
				fprintf(stderr, "%s:%d: hash %s, expected %s\n", path, lineno, hex,
					line + 5);
				bad++;
			}
			continue;
		}
		if (line[0] == '+')
			snprintf(json, sizeof(json), "%s%s", HEAD, line + 1);
		else
			snprintf(json, sizeof(json), "%s", line);
		body_hash(json, h);
		if (members++ == 0)
			memcpy(group[ng], h, sizeof(h));
		else if (memcmp(h, group[ng], sizeof(h))) {
			fprintf(stderr, "%s:%d: not the hash of its group (%s)\n", path, lineno,
				title[ng]);
			bad++;
		}
	}
	fclose(f);
	for (int i = 0; i <= ng; i++)
		for (int j = i + 1; j <= ng; j++)
			if (!memcmp(group[i], group[j], KG_EVENT_HASH_BYTES)) {
				fprintf(stderr, "%s: the same hash: \"%s\" and \"%s\"\n", path,
					title[i], title[j]);
				bad++;
			}
	assert_true(ng >= 30);
	assert_int_equal(bad, 0);
}

/* Strings of every length up to 40 (the hash reads 8 and 16 bytes at a
 * time, the last words overlapping): another last byte, one more byte (a
 * NUL) and the same text spaced out each change the hash or keep it. */
static void body_hash_every_length(void **state)
{
	(void)state;
	for (int n = 0; n <= 40; n++) {
		char s[48], json[256];
		uint8_t h0[KG_EVENT_HASH_BYTES], h[KG_EVENT_HASH_BYTES];
		for (int k = 0; k < n; k++)
			s[k] = (char)('a' + k % 26);
		s[n] = '\0';
		snprintf(json, sizeof(json), HEAD ",\"x\":\"%s\"}", s);
		body_hash(json, h0);
		snprintf(json, sizeof(json), HEAD ",\n\t\"x\" :\r\n \"%s\" }", s);
		body_hash(json, h);
		if (memcmp(h, h0, sizeof(h)))
			fail_msg("length %d: spaces changed the hash", n);
		snprintf(json, sizeof(json), HEAD ",\"x\":\"%s\\u0000\"}", s);
		body_hash(json, h);
		if (!memcmp(h, h0, sizeof(h)))
			fail_msg("length %d: a NUL more, the same hash", n);
		if (n) {
			s[n - 1] = 'Z';
			snprintf(json, sizeof(json), HEAD ",\"x\":\"%s\"}", s);
			body_hash(json, h);
			if (!memcmp(h, h0, sizeof(h)))
				fail_msg("length %d: another last byte, the same hash", n);
			s[0] = 'Z';
			snprintf(json, sizeof(json), HEAD ",\"x\":\"%s\"}", s);
			uint8_t h2[KG_EVENT_HASH_BYTES];
			body_hash(json, h2);
			if (n > 1 && !memcmp(h2, h, sizeof(h)))
				fail_msg("length %d: another first byte, the same hash", n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(raw_control_characters_refused),
		cmocka_unit_test(unknown_fields_must_be_valid_text),
		cmocka_unit_test(escaped_and_multibyte_text_accepted),
		cmocka_unit_test(lax_jsmn_syntax_refused),
		cmocka_unit_test(tokenizer_is_jsmn),
		cmocka_unit_test(body_hash_cases),
		cmocka_unit_test(body_hash_every_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
