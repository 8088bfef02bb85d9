/* Unit tests of src/notify: templates (shipped, overridden, broken), the MIME
 * message of a notice, webhook signatures and the retry schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mail/mail.h"
#include "notify/notify.h"

static char data_dir[400];

static void setup_paths(void)
{
	const char *d = getenv("KG_TEST_DATA");
	snprintf(data_dir, sizeof(data_dir), "%s/notify", d ? d : "tests/data");
}

static void every_shipped_notice_renders(void **state)
{
	const kg_notify_field fields[] = {
		{"name", "山田 太郎"}, {"reason", "gift_card"}, {"method", "identity_check"},
		{"code", "123456"}, {"case_id", "c_42"}, {"state", "in_review"},
		{"incident_id", "inc_1"}, {NULL, NULL}};
	char year[8];
	snprintf(year, sizeof(year), "%d", kg_time_year(kg_now_ms()));
	for (int k = 0; k < KG_NOTICE_KIND_COUNT; k++)
		for (int l = 0; l < KG_LANG_COUNT; l++) {
			kg_notice n;
			kg_err e;
			kg_err_clear(&e);
			int rc = kg_notify_render((enum kg_notify_kind)k, (enum kg_notify_lang)l,
						  fields, &n, &e);
			if (rc)
				fail_msg("%s/%s: %s", kg_notify_kind_name(k), kg_notify_lang_name(l), e.msg);
			assert_non_null(strstr(n.text, "山田 太郎"));
			assert_non_null(strstr(n.html, "山田 太郎"));
			char copy[32];
			snprintf(copy, sizeof(copy), "© %s", year);
			assert_non_null(strstr(n.text, copy));
			snprintf(copy, sizeof(copy), "&copy; %s", year);
			assert_non_null(strstr(n.html, copy));
			assert_null(strchr(n.subject, '\n'));
			assert_null(strstr(n.text, "{{"));
			kg_notice_release(&n);
		}
}

static void lock_notice_says_why_and_what_next(void **state)
{
	const kg_notify_field f[] = {{"name", "Taro <b>Yamada</b>"}, {"reason", "compromised"},
				     {"year", "2031"}, {NULL, NULL}};
	kg_notice n;
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_JA, f, &n, NULL), 0);
	assert_string_equal(n.subject, "アカウントロックに関するお知らせ");
	assert_non_null(strstr(n.text, "パスワードが変更されました"));
	assert_non_null(strstr(n.text, "パスワードアシスタント"));
	assert_non_null(strstr(n.text, "© 2031"));
	assert_non_null(strstr(n.text, "Taro <b>Yamada</b> 様")); /* text: as is */
	assert_non_null(strstr(n.html, "Taro &lt;b&gt;Yamada&lt;/b&gt; 様")); /* html: escaped */
	kg_notice_release(&n);
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_EN, f, &n, NULL), 0);
	assert_string_equal(n.subject, "Notice about your account lock");
	assert_non_null(strstr(n.text, "Dear Taro <b>Yamada</b>,"));
	assert_non_null(strstr(n.text, "Reset your password"));
	assert_null(strstr(n.text, "Lock number")); /* lock_id not given: section left out */
	kg_notice_release(&n);
}

static void render_refuses_missing_fields(void **state)
{
	kg_notice n;
	kg_err e;
	const kg_notify_field noname[] = {{"reason", "gift_card"}, {NULL, NULL}};
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_EN, noname, &n, &e), KG_EINVAL);
	assert_string_equal(e.field, "name");
	const kg_notify_field badreason[] = {{"name", "A"}, {"reason", "vague"}, {NULL, NULL}};
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_EN, badreason, &n, &e), KG_EINVAL);
	assert_string_equal(e.field, "reason");
	const kg_notify_field noreason[] = {{"name", "A"}, {NULL, NULL}};
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_EN, noreason, &n, &e), KG_EINVAL);
	assert_string_equal(e.field, "reason");
	const kg_notify_field nocode[] = {{"name", "A"}, {NULL, NULL}};
	assert_int_equal(kg_notify_render(KG_NOTICE_RECOVERY_CODE, KG_LANG_JA, nocode, &n, &e),
			 KG_EINVAL);
	assert_string_equal(e.field, "code");
	const kg_notify_field typo[] = {{"name", "A"}, {"reasn", "gift_card"}, {NULL, NULL}};
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_JA, typo, &n, &e), KG_EINVAL);
	assert_string_equal(e.field, "reasn");
}

/* Every tests/data/notify/bad/<case>/ is an override dir that must be refused
 * with the message in <case>.expect (which names file:line). */
static void broken_templates_refuse_to_load(void **state)
{
	char bad[1100];
	snprintf(bad, sizeof(bad), "%s/bad", data_dir);
	DIR *d = opendir(bad);
	assert_non_null(d);
	struct dirent *ent;
	int cases = 0;
	while ((ent = readdir(d)) != NULL) {
		size_t len = strlen(ent->d_name);
		if (len < 8 || strcmp(ent->d_name + len - 7, ".expect"))
			continue;
		char path[1400], dir[1400], want[512] = "", got[2048];
		snprintf(path, sizeof(path), "%s/%s", bad, ent->d_name);
		snprintf(dir, sizeof(dir), "%s/%.*s", bad, (int)(len - 7), ent->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(want, sizeof(want), f));
		fclose(f);
		want[strcspn(want, "\n")] = '\0';
		kg_err e;
		kg_err_clear(&e);
		if (kg_notify_check_dir(dir, &e) != KG_EINVAL)
			fail_msg("%s: loaded, expected \"%s\"", dir, want);
		kg_err_format(&e, got, sizeof(got));
		if (!strstr(got, want))
			fail_msg("%s: got \"%s\", expected \"%s\"", dir, got, want);
		cases++;
	}
	closedir(d);
	assert_true(cases >= 8);
}

static void shop_override_replaces_one_template(void **state)
{
	kg_config c;
	kg_err e;
	kg_config_defaults(&c);
	snprintf(c.notify_templates_dir, sizeof(c.notify_templates_dir), "%s/good", data_dir);
	snprintf(c.shop_name, sizeof(c.shop_name), "Example Mart");
	if (kg_notify_init(&c, &e))
		fail_msg("%s", e.msg);
	const kg_notify_field f[] = {{"name", "Ann"}, {"reason", "gift_card"}, {NULL, NULL}};
	kg_notice n;
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_EN, f, &n, NULL), 0);
	assert_non_null(strstr(n.text, "Thanks for choosing Example Mart"));
	assert_non_null(strstr(n.text, "Custom gift card words."));
	kg_notice_release(&n);
	/* the Japanese one is still the shipped one */
	assert_int_equal(kg_notify_render(KG_NOTICE_LOCK, KG_LANG_JA, f, &n, NULL), 0);
	assert_non_null(strstr(n.text, "Example Martをご利用"));
	kg_notice_release(&n);
	kg_notify_shutdown();
}

static void mime_message_is_well_formed(void **state)
{
	const kg_notify_field f[] = {{"name", "山田 太郎"}, {"reason", "payment_fraud"},
				     {NULL, NULL}};
	kg_notify_mail m;
	kg_err e;
	if (kg_notify_compose(KG_NOTICE_LOCK, KG_LANG_JA, f, "taro@example.jp", &m, &e))
		fail_msg("%s", e.msg);
	assert_true(m.message_id[0] == '<');
	assert_non_null(strstr(m.message_id, "@shop.example>"));
	assert_int_equal(strlen(m.raw), m.raw_len);
	/* CRLF only, no bare LF, lines below 998 */
	size_t linelen = 0;
	for (size_t i = 0; i < m.raw_len; i++) {
		if (m.raw[i] == '\n') {
			assert_true(i > 0 && m.raw[i - 1] == '\r');
			linelen = 0;
		} else {
			assert_true(++linelen < 998);
		}
	}
	assert_non_null(strstr(m.raw, "\r\nTo: taro@example.jp\r\n"));
	char want[KG_MESSAGE_ID_MAX + 32];
	snprintf(want, sizeof(want), "\r\nMessage-ID: %s\r\n", m.message_id);
	assert_non_null(strstr(m.raw, want));
	assert_non_null(strstr(m.raw, "multipart/alternative"));
	assert_non_null(strstr(m.raw, "text/plain; charset=UTF-8"));
	assert_non_null(strstr(m.raw, "text/html; charset=UTF-8"));
	/* the encoded-word subject decodes back to the Japanese title */
	const char *s = strstr(m.raw, "Subject: =?UTF-8?B?");
	assert_non_null(s);
	char decoded[256] = "";
	size_t dl = 0;
	for (const char *w = s; (w = strstr(w, "=?UTF-8?B?")) && w < strstr(s, "\r\nMessage-ID");) {
		w += 10;
		const char *end = strstr(w, "?=");
		unsigned char bin[64];
		size_t bl = 0;
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), w, (size_t)(end - w), NULL, &bl,
						   NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		memcpy(decoded + dl, bin, bl);
		dl += bl;
		w = end;
	}
	decoded[dl] = '\0';
	assert_string_equal(decoded, "アカウントロックに関するお知らせ");
	kg_notify_mail_release(&m);
	/* a header injection through the address is refused */
	assert_int_equal(kg_notify_compose(KG_NOTICE_LOCK, KG_LANG_JA, f, "a@b\r\nBcc: x@y", &m, &e),
			 KG_EINVAL);
	assert_string_equal(e.field, "to");
}

static void dkim_settings_are_checked_at_init(void **state)
{
	kg_config c;
	kg_err e;
	kg_config_defaults(&c);
	snprintf(c.dkim_domain, sizeof(c.dkim_domain), "shop.example");
	assert_int_equal(kg_notify_init(&c, &e), KG_EINVAL); /* selector and key missing */
	assert_non_null(strstr(e.msg, "dkim.selector"));
	snprintf(c.dkim_selector, sizeof(c.dkim_selector), "kagi");
	snprintf(c.dkim_key_file, sizeof(c.dkim_key_file), "%s/bad/unknown_field.expect", data_dir);
	assert_int_equal(kg_notify_init(&c, &e), KG_EINVAL); /* not a PEM private key */
	assert_non_null(strstr(e.file, "unknown_field.expect"));
	snprintf(c.dkim_key_file, sizeof(c.dkim_key_file), "%s/no-such-key.pem", data_dir);
	assert_int_equal(kg_notify_init(&c, &e), KG_EIO);
	kg_notify_shutdown();
}

static void webhook_signature_matches_recipe(void **state)
{
	char sig[KG_WEBHOOK_SIG_MAX];
	const char *body = "{\"a\":1}";
	kg_notify_webhook_sign("whsec_test", 1700000000, body, strlen(body), sig);
	/* python3: hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256) */
	assert_string_equal(sig, "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
	assert_true(kg_notify_webhook_verify("whsec_test", 1700000000, body, strlen(body), sig));
	assert_false(kg_notify_webhook_verify("wrong", 1700000000, body, strlen(body), sig));
	assert_false(kg_notify_webhook_verify("whsec_test", 1700000001, body, strlen(body), sig));
	assert_false(kg_notify_webhook_verify("whsec_test", 1700000000, "{\"a\":2}", 7, sig));

	kg_buf b = KG_BUF_INIT(4096);
	char id[KG_WEBHOOK_ID_MAX];
	assert_int_equal(kg_notify_webhook_body("lock", "acc\"1", "{\"reason\":\"gift_card\"}",
						 0, id, &b, NULL), 0);
	assert_int_equal(strncmp(id, "wh_", 3), 0);
	assert_non_null(strstr(b.data, "\"type\":\"lock\",\"account\":\"acc\\\"1\""));
	assert_non_null(strstr(b.data, "\"ts\":\"1970-01-01T00:00:00.000Z\""));
	assert_non_null(strstr(b.data, "\"data\":{\"reason\":\"gift_card\"}}"));
	kg_buf_release(&b);
}

/* The example of the Standard Webhooks specification (its README's
 * "Signature scheme"), then the secret forms kagi refuses. */
static void webhook_standard_signature(void **state)
{
	(void)state;
	char sig[KG_WEBHOOK_STD_SIG_MAX];
	kg_err e;
	kg_err_clear(&e);
	const char *body = "{\"test\": 2432232314}";
	assert_int_equal(kg_notify_webhook_sign_std("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
						    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
						    strlen(body), sig, &e),
			 0);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* an older secret without the prefix: its bytes are the key */
	assert_int_equal(kg_notify_webhook_sign_std("0123456789abcdef", "id", 1, "{}", 2, sig, &e), 0);
	/* python3: base64(hmac.new(b"0123456789abcdef", b"id.1.{}", sha256)) */
	assert_string_equal(sig, "v1,yeZaAZsMj+p9HYOuD1F+F/7d48vEptDLSKbEg9Q37pk=");
	static const char *const bad[] = {"whsec_", "whsec_not base64!", "whsec_AAAA", "short"};
	for (size_t i = 0; i < KG_ARRAY_LEN(bad); i++) {
		kg_err_clear(&e);
		assert_int_not_equal(kg_notify_webhook_sign_std(bad[i], "id", 1, "{}", 2, sig, &e), 0);
		assert_string_equal(e.field, "webhook.secret");
	}
	char secret[KG_WEBHOOK_SECRET_MAX], other[KG_WEBHOOK_SECRET_MAX];
	kg_notify_webhook_new_secret(secret);
	kg_notify_webhook_new_secret(other);
	assert_int_equal(strncmp(secret, "whsec_", 6), 0);
	assert_string_not_equal(secret, other);
	unsigned char key[KG_WEBHOOK_KEY_MAX];
	size_t key_len = 0;
	assert_int_equal(kg_notify_webhook_key(secret, key, &key_len, &e), 0);
	assert_int_equal(key_len, 32);
}

static void backoff_grows_with_jitter_and_cap(void **state)
{
	for (int i = 0; i < 200; i++) {
		int64_t d1 = kg_notify_backoff_ms(1, 1000, 60000);
		assert_true(d1 >= 500 && d1 <= 1000);
		int64_t d4 = kg_notify_backoff_ms(4, 1000, 60000);
		assert_true(d4 >= 4000 && d4 <= 8000);
		int64_t d30 = kg_notify_backoff_ms(30, 1000, 60000);
		assert_true(d30 >= 30000 && d30 <= 60000);
	}
}

/* The account the analyser asks about: locked, the message on record. */
static int lookup_locked(void *ctx, const char *account_id, const char *message_id,
			 const char *fingerprint, kg_mail_account *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", (const char *)ctx);
	out->exists = 1;
	out->locked = 1;
	out->in_message_center = 1;
	return 0;
}

/* Every shipped notice, each reason, method and state, in both languages,
 * passes the shop's own phishing analyser without a wording signal (pressure,
 * vague reason, generic greeting, wrong year, ...): only the signal about
 * the missing DKIM key (no key in this test) may count against it. */
static void shipped_notices_do_not_look_like_phishing(void **state)
{
	static const char profile[] = "name = kagi shop\nbrand = kagi shop\nsender_domain = shop.example\n";
	kg_mail_profile *p = NULL;
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_mail_profile_parse(profile, strlen(profile), "test", &p, &e), 0);
	static const char *const reasons[] = {"system_error", "gift_card", "return_abuse",
		"payment_fraud", "compromised", "brute_force", "misuse", "manual"};
	static const char *const methods[] = {"identity_check", "password_reset", "expired",
		"support", "incident_revert"};
	static const char *const states[] = {"open", "waiting_on_customer", "in_review", "resolved"};
	const char *name = "山田 太郎";
	kg_mail_query q = {.account_id = "acc-1", .lookup = lookup_locked, .lookup_ctx = (void *)name};
	int checked = 0;
	for (int k = 0; k < KG_NOTICE_KIND_COUNT; k++)
		for (int l = 0; l < KG_LANG_COUNT; l++)
			for (size_t v = 0; v < 8; v++) {
				const char *val = k == KG_NOTICE_LOCK ? (v < 8 ? reasons[v] : NULL)
						  : k == KG_NOTICE_UNLOCK ? (v < 5 ? methods[v] : NULL)
						  : k == KG_NOTICE_CASE_UPDATE ? (v < 4 ? states[v] : NULL)
						  : (v == 0 ? "x" : NULL);
				if (!val)
					continue;
				const kg_notify_field f[] = {{"name", name}, {"reason", reasons[v % 8]},
					{"method", k == KG_NOTICE_UNLOCK ? val : "support"},
					{"state", k == KG_NOTICE_CASE_UPDATE ? val : "open"},
					{"code", "482913"}, {"case_id", "c_1"}, {NULL, NULL}};
				kg_notify_mail m;
				if (kg_notify_compose((enum kg_notify_kind)k, (enum kg_notify_lang)l, f,
						      "taro@example.jp", &m, &e))
					fail_msg("compose: %s", e.msg);
				kg_mail_result *r = calloc(1, sizeof(*r));
				assert_int_equal(kg_mail_check(p, m.raw, m.raw_len, &q, r, &e), 0);
				for (size_t i = 0; i < r->n_signals; i++)
					if (r->signals[i].weight > 0 &&
					    strcmp(r->signals[i].id, "official_unauthenticated"))
						fail_msg("%s/%s (%s): signal %s: %s", kg_notify_kind_name(k),
							 kg_notify_lang_name(l), val, r->signals[i].id,
							 r->signals[i].detail);
				free(r);
				kg_notify_mail_release(&m);
				checked++;
			}
	assert_int_equal(checked, 2 * (8 + 5 + 1 + 4 + 1 + 1)); /* the last: password_reset */
	kg_mail_profile_free(p);
}

int main(void)
{
	setup_paths();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_shipped_notice_renders),
		cmocka_unit_test(lock_notice_says_why_and_what_next),
		cmocka_unit_test(render_refuses_missing_fields),
		cmocka_unit_test(broken_templates_refuse_to_load),
		cmocka_unit_test(shop_override_replaces_one_template),
		cmocka_unit_test(mime_message_is_well_formed),
		cmocka_unit_test(dkim_settings_are_checked_at_init),
		cmocka_unit_test(webhook_signature_matches_recipe),
		cmocka_unit_test(webhook_standard_signature),
		cmocka_unit_test(backoff_grows_with_jitter_and_cap),
		cmocka_unit_test(shipped_notices_do_not_look_like_phishing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
