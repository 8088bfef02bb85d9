/* Unit tests of the account module's pure parts: TOTP (RFC 6238 vectors),
 * the identity check's comparisons (tests/data/normalize/cases.tsv), one-time codes (expiry,
 * tries), the lock state machine, notices and sealing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "account/account.h"
#include "account/internal.h"
#include "normalize_cases.h"

static void totp_rfc6238_vectors(void **state)
{
	static const struct {
		int64_t t;
		uint32_t sha1, sha256, sha512;
	} v[] = {
		{59, 94287082, 46119246, 90693936},
		{1111111109, 7081804, 68084774, 25091201},
		{1111111111, 14050471, 67062674, 99943326},
		{1234567890, 89005924, 91819424, 93441116},
		{2000000000, 69279037, 90698825, 38618901},
		{20000000000LL, 65353130, 77737706, 47863826},
	};
	const char *s1 = "12345678901234567890";
	const char *s256 = "12345678901234567890123456789012";
	const char *s512 = "1234567890123456789012345678901234567890123456789012345678901234";
	for (size_t i = 0; i < KG_ARRAY_LEN(v); i++) {
		uint32_t c;
		assert_int_equal(kg_totp_code((const uint8_t *)s1, 20, "sha1", v[i].t, 30, 8, &c), 0);
		assert_int_equal(c, v[i].sha1);
		assert_int_equal(kg_totp_code((const uint8_t *)s256, 32, "sha256", v[i].t, 30, 8, &c), 0);
		assert_int_equal(c, v[i].sha256);
		assert_int_equal(kg_totp_code((const uint8_t *)s512, 64, "sha512", v[i].t, 30, 8, &c), 0);
		assert_int_equal(c, v[i].sha512);
	}
	/* 6 digits are the last six of the 8-digit value. */
	uint32_t c6;
	assert_int_equal(kg_totp_code((const uint8_t *)s1, 20, "sha1", 59, 30, 6, &c6), 0);
	assert_int_equal(c6, 287082);
	assert_int_equal(kg_totp_code((const uint8_t *)s1, 20, "md5", 59, 30, 6, &c6), KG_EINVAL);
}

static void totp_verify_window(void **state)
{
	const uint8_t *s = (const uint8_t *)"12345678901234567890";
	int64_t step = 0;
	assert_int_equal(kg_totp_verify(s, 20, "287082", 59, &step), 0);
	assert_int_equal(step, 1);
	assert_int_equal(kg_totp_verify(s, 20, "287082", 59 + 30, &step), 0); /* one step late */
	assert_int_equal(kg_totp_verify(s, 20, "287082", 59 + 90, &step), KG_EAUTH);
	assert_int_equal(kg_totp_verify(s, 20, "287083", 59, &step), KG_EAUTH);
	assert_int_equal(kg_totp_verify(s, 20, "28708", 59, &step), KG_EAUTH);
	assert_int_equal(kg_totp_verify(s, 20, "28708x", 59, &step), KG_EAUTH);
	char b32[64];
	assert_int_equal(kg_base32_encode(s, 20, b32, sizeof(b32)), 0);
	assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

static kg_address registered(const kg_addr_text *t)
{
	return (kg_address){t->postal_code.p, t->region.p, t->city.p, t->line1.p, t->line2.p, NULL};
}

/* The identity check's comparisons (kg_account_text_same,
 * kg_account_address_same on NUL-terminated strings) answer every row. */
static bool identity_same(const struct norm_case *c, void *ctx)
{
	(void)ctx;
	if (!c->address)
		return kg_account_text_same(c->a, c->b);
	kg_address x = registered(&c->aa), y = registered(&c->ab);
	return kg_account_address_same(&x, &y);
}

static void normalize_cases(void **state)
{
	(void)state;
	assert_int_equal(norm_cases_run(identity_same, NULL, "identity check"), 0);
	/* a missing registered value is "" and matches nothing but "" */
	assert_false(kg_account_text_same(NULL, "taro"));
	assert_true(kg_account_text_same(NULL, ""));
}

static void code_expiry_and_tries(void **state)
{
	kg_code_state st = {.expires_ms = 1000 + 600000, .max_attempts = 5};
	assert_int_equal(kg_password_hash("123456", 6, 1, 8, st.hash, NULL), 0);
	/* Four wrong tries leave one. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(kg_code_check(&st, "000000", 2000), KG_CODE_WRONG);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(kg_code_check(&st, "123456", 2000), KG_CODE_OK);
	assert_int_equal(kg_code_check(&st, "123456", 2000), KG_CODE_USED);

	kg_code_state st2 = {.expires_ms = 1000 + 600000, .max_attempts = 5};
	memcpy(st2.hash, st.hash, sizeof(st.hash));
	for (int i = 0; i < 4; i++)
		assert_int_equal(kg_code_check(&st2, "999999", 2000), KG_CODE_WRONG);
	assert_int_equal(kg_code_check(&st2, "999999", 2000), KG_CODE_EXHAUSTED);
	/* Even the right code no longer works. */
	assert_int_equal(kg_code_check(&st2, "123456", 2000), KG_CODE_EXHAUSTED);

	kg_code_state st3 = {.expires_ms = 1000 + 600000, .max_attempts = 5};
	memcpy(st3.hash, st.hash, sizeof(st.hash));
	assert_int_equal(kg_code_check(&st3, "123456", 1000 + 600000), KG_CODE_EXPIRED);
	assert_int_equal(st3.attempts, 0);
	assert_int_equal(kg_code_check(&st3, "123456", 1000 + 599999), KG_CODE_OK);

	char code[7];
	for (int i = 0; i < 50; i++) {
		kg_code_new(code);
		assert_int_equal(strlen(code), 6);
		assert_int_equal(strspn(code, "0123456789"), 6);
	}
}

static void lock_state_machine(void **state)
{
	uint32_t mask = 0;
	kg_err e;
	assert_int_equal(kg_lock_reset_mask("compromised,brute_force", &mask, &e), 0);
	assert_int_equal(mask, (1u << KG_LOCK_COMPROMISED) | (1u << KG_LOCK_BRUTE_FORCE));
	assert_int_equal(kg_lock_reset_mask("compromised,misuse", &mask, &e), KG_EINVAL);
	assert_int_equal(kg_lock_reset_mask("nope", &mask, &e), KG_EINVAL);
	assert_int_equal(kg_lock_reset_mask("", &mask, &e), 0);
	assert_int_equal(mask, 0);
	kg_lock_reset_mask("compromised,brute_force", &mask, &e);

	kg_lock_state comp = {KG_LOCK_COMPROMISED, 1000, 0, 0};
	kg_lock_state misuse = {KG_LOCK_MISUSE, 1000, 0, 0};
	kg_lock_state gift = {KG_LOCK_GIFT_CARD, 1000, 0, 0};
	kg_lock_state brute = {KG_LOCK_BRUTE_FORCE, 1000, 1000 + 1800000, 0};
	assert_true(kg_lock_active(&comp, 5000));
	assert_int_equal(kg_lock_can_lift(&comp, KG_LIFT_PASSWORD_RESET, mask, 5000, &e), 0);
	assert_int_equal(kg_lock_can_lift(&misuse, KG_LIFT_PASSWORD_RESET, mask, 5000, &e), KG_EFORBIDDEN);
	assert_int_equal(kg_lock_can_lift(&misuse, KG_LIFT_PASSWORD_RESET, 0xffffffffu, 5000, &e),
			 KG_EFORBIDDEN);
	assert_int_equal(kg_lock_can_lift(&misuse, KG_LIFT_SUPPORT, mask, 5000, &e), 0);
	assert_int_equal(kg_lock_can_lift(&gift, KG_LIFT_PASSWORD_RESET, mask, 5000, &e), KG_EFORBIDDEN);
	assert_int_equal(kg_lock_can_lift(&gift, KG_LIFT_ADMIN, mask, 5000, &e), 0);
	assert_int_equal(kg_lock_can_lift(&gift, KG_LIFT_EXPIRY, mask, 5000, &e), KG_EFORBIDDEN);
	/* brute force expires by itself */
	assert_true(kg_lock_active(&brute, 1000 + 1799999));
	assert_false(kg_lock_active(&brute, 1000 + 1800000));
	assert_int_equal(kg_lock_can_lift(&brute, KG_LIFT_EXPIRY, mask, 1000 + 1800000, &e), 0);
	assert_int_equal(kg_lock_can_lift(&brute, KG_LIFT_EXPIRY, mask, 5000, &e), KG_EFORBIDDEN);
	assert_int_equal(kg_lock_can_lift(&brute, KG_LIFT_SUPPORT, mask, 1000 + 1800000, &e), KG_ECONFLICT);
	comp.lifted_ms = 6000;
	assert_false(kg_lock_active(&comp, 7000));
	assert_int_equal(kg_lock_can_lift(&comp, KG_LIFT_SUPPORT, mask, 7000, &e), KG_ECONFLICT);

	enum kg_lock_reason r;
	for (int i = 0; i < KG_LOCK_REASON_COUNT; i++) {
		assert_int_equal(kg_lock_reason_parse(kg_lock_reason_name((enum kg_lock_reason)i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_int_equal(kg_lock_reason_parse("bogus", &r), KG_EINVAL);
	assert_int_equal(kg_lock_reason_kind(KG_LOCK_MISUSE), KG_LOCK_KIND_MISUSE);
	assert_int_equal(kg_lock_reason_kind(KG_LOCK_GIFT_CARD), KG_LOCK_KIND_PRECAUTION);
}

static void case_states(void **state)
{
	kg_err e;
	static const struct {
		enum kg_case_state from, to;
		int want;
	} t[] = {
		{KG_CASE_OPEN, KG_CASE_WAITING_ON_CUSTOMER, 0},
		{KG_CASE_OPEN, KG_CASE_IN_REVIEW, 0},
		{KG_CASE_OPEN, KG_CASE_RESOLVED, 0},
		{KG_CASE_WAITING_ON_CUSTOMER, KG_CASE_IN_REVIEW, 0},
		{KG_CASE_IN_REVIEW, KG_CASE_WAITING_ON_CUSTOMER, 0},
		{KG_CASE_IN_REVIEW, KG_CASE_RESOLVED, 0},
		{KG_CASE_RESOLVED, KG_CASE_OPEN, 0},
		{KG_CASE_IN_REVIEW, KG_CASE_OPEN, KG_ECONFLICT},
		{KG_CASE_RESOLVED, KG_CASE_IN_REVIEW, KG_ECONFLICT},
		{KG_CASE_OPEN, KG_CASE_OPEN, KG_ECONFLICT},
		{KG_CASE_WAITING_ON_CUSTOMER, KG_CASE_OPEN, KG_ECONFLICT},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(t); i++)
		assert_int_equal(kg_case_transition_check(t[i].from, t[i].to, &e), t[i].want);
	enum kg_case_state s;
	assert_int_equal(kg_case_state_parse("waiting_on_customer", &s), 0);
	assert_int_equal(s, KG_CASE_WAITING_ON_CUSTOMER);
	assert_int_equal(kg_case_state_parse("closed", &s), KG_EINVAL);
}

static void notices(void **state)
{
	kg_account_notice n;
	kg_account_notice_init(&n);
	kg_err e;
	kg_account_notice_ctx c = {.shop = "Example Shop", .name = "山田 太郎", .now_ms = 1795000000000LL,
				   .reason = KG_LOCK_GIFT_CARD, .lock_id = "lk_1"};
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_LOCK, &c, false, &e), 0);
	/* Japanese first, both titles in the subject */
	assert_string_equal(n.subject.data, "アカウントロックに関するお知らせ / Notice about your account lock");
	assert_non_null(strstr(n.text.data, "山田 太郎 様"));
	assert_non_null(strstr(n.text.data, "山田 太郎"));
	assert_non_null(strstr(n.text.data, "ギフトカード"));
	assert_non_null(strstr(n.text.data, "gift card"));
	assert_non_null(strstr(n.text.data, "© 2026 Example Shop"));
	assert_true(strstr(n.text.data, "山田 太郎 様") < strstr(n.text.data, "Notice") ||
		    !strstr(n.text.data, "Notice"));
	assert_non_null(strstr(n.html.data, "<div lang=\"ja\">"));
	assert_non_null(strstr(n.html.data, "<div lang=\"en\">"));
	/* English first for an English-speaking account */
	c.lang = "en";
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_LOCK, &c, false, &e), 0);
	assert_memory_equal(n.subject.data, "Notice about your account lock", 30);
	c.lang = NULL;
	/* the code only with_secret */
	c.code = "123456";
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_RECOVERY_CODE, &c, false, &e), 0);
	assert_null(strstr(n.text.data, "123456"));
	assert_null(strstr(n.html.data, "123456"));
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_RECOVERY_CODE, &c, true, &e), 0);
	assert_non_null(strstr(n.text.data, "123456"));
	c.reason = KG_LOCK_MISUSE;
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_LOCK, &c, false, &e), 0);
	assert_non_null(strstr(n.text.data, "パスワードの再設定では解除されません"));
	c.lifted = "compromised";
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_PASSWORD_RESET, &c, false, &e), 0);
	assert_non_null(strstr(n.text.data, "compromised"));
	assert_non_null(strstr(n.text.data, "Dear 山田 太郎"));
	/* the password-reset notice is notify's template: the same words as
	 * the C strings that composed it before, with and without lifted locks */
	static const char ja_head[] = "山田 太郎 様\n\nお客様のアカウントのパスワードが再設定されました。\n";
	static const char ja_lifted[] = "これにより、次の理由のロックを解除しました: compromised\n";
	static const char ja_tail[] =
		"\nお心当たりがない場合は、メッセージセンターからカスタマーサービスにお問い合わせください。\n"
		"このお知らせは、アカウントのメッセージセンター（すべてのメッセージ）にも保存されています。\n\n"
		"© 2026 Example Shop\n";
	static const char sep[] = "\n――――――――――――――――――――\n\n";
	static const char en_head[] = "Dear 山田 太郎,\n\nThe password of your account was reset.\n";
	static const char en_lifted[] = "This lifted the locks with these reasons: compromised\n";
	static const char en_tail[] = "\nIf this was not you, contact customer service at once.\n"
		"This notice is also kept in your account's message center (all messages).\n\n"
		"© 2026 Example Shop\n";
	char want[2048];
	snprintf(want, sizeof(want), "%s%s%s%s%s%s%s", ja_head, ja_lifted, ja_tail, sep, en_head,
		 en_lifted, en_tail);
	assert_string_equal(n.text.data, want);
	assert_string_equal(n.subject.data, "パスワード再設定のお知らせ / Your password was reset");
	assert_non_null(strstr(n.html.data, "<div lang=\"ja\">"));
	c.lifted = "";
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_PASSWORD_RESET, &c, false, &e), 0);
	snprintf(want, sizeof(want), "%s%s%s%s%s", ja_head, ja_tail, sep, en_head, en_tail);
	assert_string_equal(n.text.data, want);
	assert_null(strstr(n.html.data, "these reasons"));
	c.method = KG_LIFT_SUPPORT;
	assert_int_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_UNLOCK, &c, false, &e), 0);
	c.name = "";
	assert_int_not_equal(kg_account_notice_render(&n, KG_ACCOUNT_NOTICE_UNLOCK, &c, false, &e), 0);
	/* the S1 wording */
	assert_non_null(strstr(kg_lock_login_message_ja(KG_LOCK_KIND_PRECAUTION, KG_REMEDY_SUPPORT),
			       "お客様のアカウントで不審なアクティビティが検出され、予防処置としてロックされました。"));
	assert_non_null(strstr(kg_lock_login_message_en(KG_LOCK_KIND_MISUSE, KG_REMEDY_PASSWORD_RESET), "misuse of our services"));
	kg_account_notice_release(&n);
}

static void sealing(void **state)
{
	const char *key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	kg_buf s = KG_BUF_INIT(4096), p = KG_BUF_INIT(4096);
	kg_err e;
	assert_int_equal(kg_seal(key, "123456", 6, &s, &e), 0);
	assert_true(kg_is_sealed(s.data, s.len));
	assert_memory_equal(s.data, "KGSEAL1", 8);
	for (size_t i = 0; i + 6 <= s.len; i++)
		assert_int_not_equal(memcmp(s.data + i, "123456", 6), 0);
	assert_int_equal(kg_unseal(key, s.data, s.len, &p, &e), 0);
	assert_string_equal(p.data, "123456");
	s.data[40] ^= 1;
	kg_buf_reset(&p);
	assert_int_equal(kg_unseal(key, s.data, s.len, &p, &e), KG_EAUTH);
	assert_int_equal(kg_unseal(key, "123456", 6, &p, &e), KG_EINVAL);  /* not sealed */
	assert_int_equal(kg_unseal(key, s.data, 20, &p, &e), KG_EINVAL);   /* truncated */
	assert_int_equal(kg_seal("", "x", 1, &s, &e), KG_ECONFLICT);
	assert_int_equal(kg_seal("abcd", "x", 1, &s, &e), KG_EINVAL);
	char pw[KG_PWHASH_MAX];
	assert_int_equal(kg_password_hash("correct horse", 13, 1, 8, pw, &e), 0);
	assert_true(kg_password_verify(pw, "correct horse", 13));
	assert_false(kg_password_verify(pw, "correct horsE", 13));
	assert_false(kg_password_verify(kg_password_dummy_hash(1, 8), "correct horse", 13));
	kg_buf_release(&s);
	kg_buf_release(&p);
}

/* What an agent sees of the identity-check answers (S5). */
static void agent_masks(void **state)
{
	(void)state;
	kg_arena a;
	kg_arena_init(&a, 1024);
	assert_string_equal(kg_mask_name("山田 太郎", &a), "山***");
	assert_string_equal(kg_mask_name("Alice Smith", &a), "A***");
	assert_null(kg_mask_name("", &a));
	assert_null(kg_mask_email(NULL, &a));
	assert_null(kg_mask_name(NULL, &a));
	assert_string_equal(kg_mask_email("taro@example.jp", &a), "t***@example.jp");
	assert_string_equal(kg_mask_email("@example.jp", &a), "***");
	kg_identity_secrets s = {4, {"山田 太郎", "神宮前1-2-3", "12/29", "4242"}};
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"山田 太郎 様", "*** 様"},
		{"card 4242, exp 12/29", "card ***, exp ***"},
		{"order 142420 at 2026-12-01T10:42:42Z", "order 142420 at 2026-12-01T10:42:42Z"},
		{"id cs_4242ab", "id cs_4242ab"},
		{"東京都渋谷区神宮前1-2-3", "東京都渋谷区***"},
		{"nothing here", "nothing here"},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(cases); i++)
		assert_string_equal(kg_identity_scrub(&s, cases[i].in, &a), cases[i].out);
	assert_null(kg_identity_scrub(&s, NULL, &a));
	/* a text shorter than a secret keeps that secret out, not the shorter ones */
	assert_string_equal(kg_identity_scrub(&s, "4242", &a), "***");
	assert_string_equal(kg_identity_scrub(&s, "JP", &a), "JP");
	assert_string_equal(kg_mask_email("é@x.fr", &a), "é***@x.fr");
	kg_arena_release(&a);
}

/* The secrets of an account: longest first, values as long in the order
 * they were added (name, its parts, email, phone, address, then each card),
 * parts under 3 bytes left out. */
static void agent_secrets_order(void **state)
{
	(void)state;
	kg_arena a;
	kg_arena_init(&a, 1024);
	kg_account acc = {.id = "a1", .name = "山田　太郎 Jo", .email = "t@ex.jp", .phone = "0901",
			  .address = {.postal_code = "150-0001", .city = "渋谷区", .line1 = "1-2-3",
				      .line2 = NULL, .country = "JP"}};
	kg_card cards[] = {{.holder_name = "TARO YAMADA", .last4 = "4242", .exp = "12/29"},
			   {.holder_name = "HANA", .last4 = "1111", .exp = "01/30"}};
	kg_identity_secrets s;
	kg_identity_secrets_of(&acc, cards, 2, &a, &s);
	static const char *const want[] = {"山田　太郎 Jo", "TARO YAMADA", "渋谷区", "150-0001", "t@ex.jp",
					   "山田", "太郎", "YAMADA", "1-2-3", "12/29", "01/30",
					   "0901", "4242", "TARO", "1111", "HANA", "HANA"};
	assert_int_equal(s.n, KG_ARRAY_LEN(want));
	for (size_t i = 0; i < s.n; i++)
		assert_string_equal(s.v[i], want[i]);
	kg_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(totp_rfc6238_vectors), cmocka_unit_test(totp_verify_window),
		cmocka_unit_test(normalize_cases),      cmocka_unit_test(code_expiry_and_tries),
		cmocka_unit_test(lock_state_machine),   cmocka_unit_test(notices),
		cmocka_unit_test(case_states),
		cmocka_unit_test(sealing),              cmocka_unit_test(agent_masks),
		cmocka_unit_test(agent_secrets_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
