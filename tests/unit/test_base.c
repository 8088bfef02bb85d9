/* Unit tests of src/base: buffers, time, config errors, the one text and
 * address equality (tests/data/normalize/cases.tsv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/counters.h"
#include "normalize_cases.h"

static void buf_respects_max(void **state)
{
	kg_buf b = KG_BUF_INIT(8);
	assert_int_equal(kg_buf_puts(&b, "abcd"), 0);
	assert_int_equal(kg_buf_puts(&b, "efghi"), KG_ELIMIT);
	assert_string_equal(b.data, "abcd"); /* unchanged by the failed append */
	assert_int_equal(kg_buf_puts(&b, "efgh"), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(kg_buf_json_str(&b, "x", 1), KG_ELIMIT);
	assert_string_equal(b.data, "abcdefgh");
	kg_buf_release(&b);
}

/* kg_buf_reserve: room to write in place after len, within max; beyond
 * max it fails and leaves the buffer as it was. */
static void buf_reserve_in_place(void **state)
{
	(void)state;
	kg_buf b = KG_BUF_INIT(16);
	assert_int_equal(kg_buf_puts(&b, "ab"), 0);
	assert_int_equal(kg_buf_reserve(&b, 10), 0);
	assert_true(b.cap >= b.len + 10 + 1);
	assert_string_equal(b.data, "ab"); /* contents and len unchanged */
	assert_int_equal(b.len, 2);
	memcpy(b.data + b.len, "cdefghijkl", 10); /* written in place */
	b.len += 10;
	b.data[b.len] = '\0';
	assert_string_equal(b.data, "abcdefghijkl");
	assert_int_equal(kg_buf_reserve(&b, 5), KG_ELIMIT); /* 12 + 5 > 16 */
	assert_string_equal(b.data, "abcdefghijkl");
	assert_int_equal(kg_buf_reserve(&b, 4), 0);
	kg_buf_release(&b);
}

static void buf_json_escapes(void **state)
{
	kg_buf b = KG_BUF_INIT(1024);
	assert_int_equal(kg_buf_json_str(&b, "a\"b\\\n\x01", 6), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\\\n\\u0001\"");
	kg_buf_reset(&b); /* runs of plain bytes around and between escapes */
	assert_int_equal(kg_buf_json_str(&b, "plain", 5), 0);
	assert_int_equal(kg_buf_json_str(&b, "ab\"cd\tef", 8), 0);
	assert_int_equal(kg_buf_json_str(&b, "", 0), 0);
	assert_string_equal(b.data, "\"plain\"\"ab\\\"cd\\tef\"\"\"");
	kg_buf_release(&b);
}

/* kg_time_format_next gives kg_time_format's text after any time before */
static void time_format_next(void **state)
{
	const int64_t seq[] = {1795860000123, 1795860000123, 1795860000999, 1795860001000,
			       1795860001005, -500, -400, 0, 7, 1795860001005};
	int64_t prev = INT64_MIN;
	char next[KG_TIME_STR_MAX], want[KG_TIME_STR_MAX];
	for (size_t i = 0; i < KG_ARRAY_LEN(seq); i++) {
		assert_string_equal(kg_time_format_next(seq[i], &prev, next),
				    kg_time_format(seq[i], want));
		assert_int_equal(prev, seq[i]);
	}
}

static void time_round_trip(void **state)
{
	struct { const char *in; int64_t ms; } ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2026-11-28T10:00:00Z", 1795860000000},
		{"2026-11-28T19:00:00+09:00", 1795860000000},
		{"2026-11-28T10:00:00.123Z", 1795860000123},
		{"2024-02-29T00:00:00Z", 1709164800000},
		{"1969-12-31T23:59:59.5Z", -500},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(ok); i++) {
		int64_t ms = 0;
		assert_int_equal(kg_time_parse(ok[i].in, strlen(ok[i].in), &ms), 0);
		assert_int_equal(ms, ok[i].ms);
	}
	char out[KG_TIME_STR_MAX];
	assert_string_equal(kg_time_format(1795860000123, out), "2026-11-28T10:00:00.123Z");
	assert_string_equal(kg_time_format(-500, out), "1969-12-31T23:59:59.500Z");
	assert_int_equal(kg_time_year(1795860000123), 2026);

	const char *bad[] = {"", "2026-11-28", "2026-11-28T10:00:00", "2026-13-01T00:00:00Z",
			     "2026-02-29T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:00:00Zx",
			     "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00+0900"};
	for (size_t i = 0; i < KG_ARRAY_LEN(bad); i++) {
		int64_t ms;
		assert_int_equal(kg_time_parse(bad[i], strlen(bad[i]), &ms), KG_EINVAL);
	}
}

static char *write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/kg_test_cfg_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void config_reads_and_names_line(void **state)
{
	kg_config c;
	kg_err err;
	kg_config_defaults(&c);
	assert_string_equal(c.http_listen, "127.0.0.1:8080");
	assert_int_equal(c.code_ttl_s, 600);

	char *p = write_temp("# comment\n\nhttp.listen = 0.0.0.0:9000 # trailing\nrecovery.code_ttl_s=300\n");
	assert_int_equal(kg_config_load(&c, p, &err), 0);
	assert_string_equal(c.http_listen, "0.0.0.0:9000");
	assert_int_equal(c.code_ttl_s, 300);
	unlink(p);

	struct { const char *text; int line; const char *needle; } bad[] = {
		{"http.listen = a:1\nno.such.key = 1\n", 2, "unknown key \"no.such.key\""},
		{"\n\nrecovery.code_ttl_s = ten\n", 3, "expected an integer"},
		{"recovery.code_ttl_s = 5\n", 1, "outside"},
		{"smtp.starttls = maybe\n", 1, "expected true or false"},
		{"just words\n", 1, "expected `key = value`"},
		{"shop.name = ok\nshop.name = Sh\xffop\n", 2, "not valid UTF-8"},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(bad); i++) {
		kg_config_defaults(&c);
		p = write_temp(bad[i].text);
		kg_err_clear(&err);
		assert_int_equal(kg_config_load(&c, p, &err), KG_EINVAL);
		assert_int_equal(err.line, bad[i].line);
		assert_string_equal(err.file, p);
		assert_non_null(strstr(err.msg, bad[i].needle));
		/* a failed load changes nothing */
		assert_string_equal(c.http_listen, "127.0.0.1:8080");
		unlink(p);
	}
}

static void config_env_overrides(void **state)
{
	kg_config c;
	kg_err err;
	kg_config_defaults(&c);
	setenv("KAGI_HTTP_LISTEN", "127.0.0.1:1234", 1);
	assert_int_equal(kg_config_load(&c, NULL, &err), 0);
	assert_string_equal(c.http_listen, "127.0.0.1:1234");
	setenv("KAGI_HTTP_THREADS", "many", 1);
	assert_int_equal(kg_config_load(&c, NULL, &err), KG_EINVAL);
	assert_string_equal(err.file, "KAGI_HTTP_THREADS");
	unsetenv("KAGI_HTTP_THREADS");
	unsetenv("KAGI_HTTP_LISTEN");
}

static void arena_allocates(void **state)
{
	kg_arena a;
	kg_arena_init(&a, 64);
	char *s = kg_arena_printf(&a, "%s-%d", "x", 42);
	assert_string_equal(s, "x-42");
	void *big = kg_arena_alloc(&a, 1000);
	assert_non_null(big);
	assert_int_equal(((uintptr_t)big) % 16, 0);
	kg_arena_release(&a);
}

/* kg_arena_rewind keeps every chunk: the same allocations again reuse
 * them (no new chunk: total_bytes stays), zeroed; a larger one than any
 * kept chunk still gets its own; reset and release free the kept ones. */
static void arena_rewind_reuses_chunks(void **state)
{
	(void)state;
	kg_arena a;
	kg_arena_init(&a, 256);
	unsigned char *first[8];
	for (int i = 0; i < 8; i++) {
		first[i] = kg_arena_alloc(&a, 200); /* one chunk each */
		memset(first[i], 0xab, 200);
	}
	size_t total = a.total_bytes;
	assert_true(total >= 8 * 200);
	kg_arena_rewind(&a);
	assert_int_equal(a.total_bytes, 0);
	for (int i = 0; i < 8; i++) {
		unsigned char *p = kg_arena_alloc(&a, 200);
		bool kept = false;
		for (int j = 0; j < 8; j++)
			kept = kept || p == first[j];
		assert_true(kept);
		for (int k = 0; k < 200; k++)
			assert_int_equal(p[k], 0);
	}
	assert_int_equal(a.total_bytes, total);
	kg_arena_rewind(&a);
	char *big = kg_arena_alloc(&a, 4096); /* larger than every kept chunk */
	assert_non_null(big);
	assert_true(a.total_bytes >= 4096);
	kg_arena_reset(&a); /* keeps the newest chunk only, frees the kept ones */
	assert_null(a.spare);
	assert_non_null(kg_arena_strndup(&a, "abc", 3));
	kg_arena_rewind(&a);
	kg_arena_release(&a);
	assert_null(a.head);
	assert_null(a.spare);
}

static void err_formats(void **state)
{
	kg_err e;
	char out[512];
	kg_err_field(&e, KG_EINVAL, "items[2].price", "expected integer");
	assert_string_equal(kg_err_format(&e, out, sizeof(out)),
			    "field \"items[2].price\": expected integer");
	kg_err_at(&e, KG_EINVAL, "a.rules", 3, 7, "unexpected token");
	assert_string_equal(kg_err_format(&e, out, sizeof(out)), "a.rules:3:7: unexpected token");
}

/* An independent reference for kg_utf8_seq: decode, then check the code
 * point's range (no overlong, no surrogate, at most U+10FFFF). */
static int ref_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	int len;
	uint32_t cp;
	if (c >= 0xc0 && c < 0xe0)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c < 0xf0)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c < 0xf8)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)len > n)
		return 0;
	for (int k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The one validator (the event parser's too) agrees with the reference on
 * every lead and second byte, with a few third and fourth bytes. */
static void utf8_one_validator(void **state)
{
	(void)state;
	static const unsigned char thirds[] = {0x00, 0x80, 0xbf, 0xc0};
	for (unsigned b0 = 0x80; b0 <= 0xff; b0++)
		for (unsigned b1 = 0; b1 <= 0xff; b1++)
			for (size_t t = 0; t < sizeof(thirds); t++)
				for (unsigned b3 = 0x3f; b3 <= 0x80; b3 += 0x41) {
					unsigned char s[4] = {(unsigned char)b0, (unsigned char)b1,
							      thirds[t], (unsigned char)b3};
					for (size_t n = 1; n <= 4; n++)
						if (kg_utf8_seq(s, s + n) != ref_seq(s, n))
							fail_msg("%02x %02x %02x %02x (%zu bytes): %d, want %d",
								 b0, b1, thirds[t], b3, n,
								 kg_utf8_seq(s, s + n), ref_seq(s, n));
				}
	assert_int_equal(kg_utf8_first_len(""), 0);
	assert_int_equal(kg_utf8_first_len("a鍵"), 1);
	assert_int_equal(kg_utf8_first_len("鍵a"), 3);
	assert_int_equal(kg_utf8_first_len("\xf0\x9f\x98\x80!"), 4);
	assert_int_equal(kg_utf8_first_len("\xe3\x81"), 1);    /* truncated: a stray byte */
	assert_int_equal(kg_utf8_first_len("\xc0\x80x"), 1);   /* overlong */
}

static void utf8_valid_prefix(void **state)
{
	assert_int_equal(kg_utf8_valid_prefix("", 0), 0);
	assert_int_equal(kg_utf8_valid_prefix("abc", 3), 3);
	assert_int_equal(kg_utf8_valid_prefix("鍵 \xf0\x9f\x98\x80", 8), 8);
	assert_int_equal(kg_utf8_valid_prefix("ab\xff", 3), 2);
	assert_int_equal(kg_utf8_valid_prefix("a\xc0\x80", 3), 1);         /* overlong NUL */
	assert_int_equal(kg_utf8_valid_prefix("a\xe0\x80\x80", 4), 1);     /* overlong */
	assert_int_equal(kg_utf8_valid_prefix("a\xed\xa0\x80", 4), 1);     /* surrogate */
	assert_int_equal(kg_utf8_valid_prefix("a\xf4\x90\x80\x80", 5), 1); /* > U+10FFFF */
	assert_int_equal(kg_utf8_valid_prefix("a\xe3\x81", 3), 1);         /* truncated */
	assert_int_equal(kg_utf8_valid_prefix("a\xe3\x41\x81", 4), 1);     /* bad continuation */
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_utf8_check("ok\n\xe9\x8d\xb5\n12\xc3(", 12, "t.txt", &e), KG_EINVAL);
	assert_string_equal(e.file, "t.txt");
	assert_int_equal(e.line, 3);
	assert_int_equal(e.col, 3);
	assert_non_null(strstr(e.msg, "0xc3"));
	assert_int_equal(kg_utf8_check("鍵\n", 4, "t.txt", &e), 0);
}

/* Labelled counters: a tuple counted twice is one sample; label values are
 * escaped in the text; past the table's size new tuples count as (other). */
static void counters_count_and_render(void **state)
{
	(void)state;
	static kg_counters c = KG_COUNTERS_INIT("kagi_t_total", "Test counts.", "rule", "action");
	kg_counters_add(&c, "declines", "lock", 1);
	kg_counters_add(&c, "declines", "lock", 2);
	kg_counters_add(&c, "declines", "hold", 1);
	kg_counters_add(&c, "a\"b\\c\nd", "allow", 1);
	assert_int_equal(kg_counters_get(&c, "declines", "lock"), 3);
	assert_int_equal(kg_counters_get(&c, "declines", "allow"), 0);
	kg_buf out = KG_BUF_INIT(1 << 20);
	assert_int_equal(kg_counters_render(&c, &out), 0);
	assert_non_null(strstr(out.data, "# HELP kagi_t_total Test counts.\n# TYPE kagi_t_total counter\n"));
	assert_non_null(strstr(out.data, "kagi_t_total{rule=\"declines\",action=\"lock\"} 3\n"));
	assert_non_null(strstr(out.data, "kagi_t_total{rule=\"declines\",action=\"hold\"} 1\n"));
	assert_non_null(strstr(out.data, "kagi_t_total{rule=\"a\\\"b\\\\c\\nd\",action=\"allow\"} 1\n"));
	assert_null(strstr(out.data, "(other)"));
	char name[32];
	for (int i = 0; i < KG_COUNTERS_MAX; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		kg_counters_add(&c, name, "allow", 1);
	}
	kg_buf_reset(&out);
	assert_int_equal(kg_counters_render(&c, &out), 0);
	assert_non_null(strstr(out.data, "kagi_t_total{rule=\"(other)\",action=\"(other)\"} 3\n"));
	assert_int_equal(kg_counters_get(&c, "declines", "lock"), 3);
	kg_buf_release(&out);
}

/* One vocabulary table: every reason and method round-trips by name, and
 * each method has its own word in the unlock notice. */
static void vocabulary_round_trips(void **state)
{
	(void)state;
	for (int i = 0; i < KG_LOCK_REASON_COUNT; i++) {
		enum kg_lock_reason r;
		const char *n = kg_lock_reason_name((enum kg_lock_reason)i);
		assert_non_null(n);
		assert_int_equal(kg_lock_reason_parse(n, &r), 0);
		assert_int_equal(r, i);
		assert_int_equal(kg_lock_reason_parse_n(n, strlen(n) - 1, &r), KG_EINVAL);
	}
	for (int i = 0; i < KG_LIFT_METHOD_COUNT; i++) {
		enum kg_lift_method m;
		assert_int_equal(kg_lift_method_parse(kg_lift_method_name((enum kg_lift_method)i), &m), 0);
		assert_int_equal(m, i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(kg_lift_method_notice_word((enum kg_lift_method)i),
						kg_lift_method_notice_word((enum kg_lift_method)j));
	}
	enum kg_lock_reason r;
	assert_int_equal(kg_lock_reason_parse("gift-card", &r), KG_EINVAL);
	assert_int_equal(kg_lock_reason_parse(NULL, &r), KG_EINVAL);
	assert_null(kg_lock_reason_name(KG_LOCK_REASON_COUNT));
	assert_null(kg_lift_method_notice_word(KG_LIFT_METHOD_COUNT));
	assert_string_equal(kg_lift_method_notice_word(KG_LIFT_SUPPORT), "identity_check");
}

static bool base_same(const struct norm_case *c, void *ctx)
{
	(void)ctx;
	if (c->address)
		return kg_address_same(&c->aa, &c->ab);
	return kg_text_same(c->a, strlen(c->a), c->b, strlen(c->b));
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
	bool ok = kg_text_normalize(s, n, &a) == 0 && kg_text_normalize(t, n + 3, &b) == 0 &&
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

static void text_and_address_equality(void **state)
{
	(void)state;
	assert_int_equal(norm_cases_run(base_same, NULL, "kg_text_same/kg_address_same"), 0);
	kg_buf out = KG_BUF_INIT(1024);
	assert_int_equal(kg_text_normalize("  Ａｂｃ　 Ｄ－１ ", strlen("  Ａｂｃ　 Ｄ－１ "), &out), 0);
	assert_string_equal(out.data, "abc d-1");
	kg_buf_reset(&out);
	/* the key: postal digits, U+001F, the compact lines; no country */
	kg_addr_text a = {{"〒１５０-０００１", (uint32_t)strlen("〒１５０-０００１")},
			  {"東京都", (uint32_t)strlen("東京都")},
			  {"渋谷区", (uint32_t)strlen("渋谷区")},
			  {"神宮前一丁目2番地の3号", (uint32_t)strlen("神宮前一丁目2番地の3号")},
			  {"ハイツ 101", (uint32_t)strlen("ハイツ 101")},
			  {"JP", 2}};
	assert_int_equal(kg_address_key(&a, &out), 0);
	assert_string_equal(out.data, "1500001\x1f東京都渋谷区神宮前1-2-3ハイツ101");
	kg_addr_text b = a;
	b.country = (kg_str){"US", 2};
	assert_true(kg_address_same(&a, &b));
	/* a part longer than the stack scratch takes the heap, with the same answer */
	static char long_line[3000];
	memset(long_line, 'x', sizeof(long_line) - 1);
	a.line2 = (kg_str){long_line, sizeof(long_line) - 1};
	b = a;
	assert_true(kg_address_same(&a, &b));
	b.line2.n--;
	assert_false(kg_address_same(&a, &b));
	/* not UTF-8 in a non-ASCII part: never the same, nothing appended */
	kg_buf_reset(&out);
	assert_int_equal(kg_text_normalize("\xe3\x81", 2, &out) != 0 || out.len > 0, 1);
	kg_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vocabulary_round_trips),
		cmocka_unit_test(utf8_one_validator),
		cmocka_unit_test(buf_respects_max),
		cmocka_unit_test(buf_json_escapes),
		cmocka_unit_test(buf_reserve_in_place),
		cmocka_unit_test(time_round_trip),
		cmocka_unit_test(time_format_next),
		cmocka_unit_test(config_reads_and_names_line),
		cmocka_unit_test(config_env_overrides),
		cmocka_unit_test(arena_allocates),
		cmocka_unit_test(arena_rewind_reuses_chunks),
		cmocka_unit_test(err_formats),
		cmocka_unit_test(utf8_valid_prefix),
		cmocka_unit_test(counters_count_and_render),
		cmocka_unit_test(text_and_address_equality),
		cmocka_unit_test(normalize_inert_path_is_icu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
