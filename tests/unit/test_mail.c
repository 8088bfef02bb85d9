/* Unit tests of src/mail: kagi's own DKIM-signed notices round-trip as
 * genuine and stop being genuine when a link, the From or the body changes;
 * the message-center cross-check; profile errors; every parser limit. The
 * DKIM key pair is generated at run time (no private key in the tree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/mail.h"
#include "notify/notify.h"
#include "store/store.h"
#include <unistd.h>

static char *g_priv, *g_pub;       /* PEM */
static kg_mail_profile *g_profile;

static char *bio_string(BIO *b)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *s = malloc((size_t)n + 1);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

static int setup(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	assert_non_null(k);
	BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b1, k, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(PEM_write_bio_PUBKEY(b2, k), 1);
	g_priv = bio_string(b1);
	g_pub = bio_string(b2);
	BIO_free(b1);
	BIO_free(b2);
	EVP_PKEY_free(k);
	/* the public key as one base64 line, as in a profile's dkim_key */
	kg_buf b64 = KG_BUF_INIT(8192);
	const char *p = strchr(g_pub, '\n') + 1;
	for (; *p && *p != '-'; p++)
		if (*p != '\n')
			kg_buf_putc(&b64, *p);
	kg_buf prof = KG_BUF_INIT(16384);
	kg_buf_printf(&prof,
		      "name = Amazon\nbrand = Amazon\nbrand = Amazon.co.jp\nbrand = アマゾン\n"
		      "sender_domain = amazon.co.jp\nsender_domain = amazon.com\n"
		      "link_domain = media-amazon.com\nauthserv_id = mx.kagi.example\n"
		      "dkim_key = amazon.co.jp notice2026 %s\n", b64.data);
	kg_err err = {0};
	int rc = kg_mail_profile_parse(prof.data, prof.len, "test.profile", &g_profile, &err);
	if (rc)
		fprintf(stderr, "profile: %s\n", err.msg);
	assert_int_equal(rc, 0);
	kg_buf_release(&b64);
	kg_buf_release(&prof);
	return 0;
}

static int teardown(void **state)
{
	kg_mail_profile_free(g_profile);
	free(g_priv);
	free(g_pub);
	return 0;
}

/* A lock notice like the ones notify sends, dated now. */
static char *notice(bool crlf)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char date[64];
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	kg_buf b = KG_BUF_INIT(65536);
	kg_buf_printf(&b,
		      "From: Amazon.co.jp <account-update@amazon.co.jp>\n"
		      "To: taro@example.jp\n"
		      "Subject: =?UTF-8?B?44Ki44Kr44Km44Oz44OI44Ot44OD44Kv44Gr6Zai44GZ44KL44GK55+l44KJ44Gb?=\n"
		      "Date: %s\n"
		      "Message-ID: <notice-42@amazon.co.jp>\n"
		      "MIME-Version: 1.0\n"
		      "Content-Type: text/plain; charset=utf-8\n"
		      "Content-Transfer-Encoding: 8bit\n"
		      "\n"
		      "山田 太郎 様\n\n"
		      "アカウントがロックされました。お客様のアカウントで不審なアクティビティが検出され、"
		      "予防処置としてロックされました。\n"
		      "メッセージセンターでもこのお知らせをご確認いただけます:\n"
		      "https://www.amazon.co.jp/gp/message\n\n"
		      "© %d Amazon.co.jp\n",
		      date, tm.tm_year + 1900);
	if (!crlf)
		return kg_buf_detach(&b, NULL);
	kg_buf c = KG_BUF_INIT(131072);
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '\n')
			kg_buf_putc(&c, '\r');
		kg_buf_putc(&c, b.data[i]);
	}
	kg_buf_release(&b);
	return kg_buf_detach(&c, NULL);
}

static char *sign(const char *msg)
{
	kg_buf out = KG_BUF_INIT(1024 * 1024);
	kg_err err = {0};
	int rc = kg_mail_dkim_sign(msg, strlen(msg), "amazon.co.jp", "notice2026", g_priv, &out, &err);
	if (rc)
		fprintf(stderr, "sign: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out.data, "DKIM-Signature:"));

	return kg_buf_detach(&out, NULL);
}

/* Replaces the first `from` in s by `to` (new string). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	assert_non_null(p);
	kg_buf b = KG_BUF_INIT(1024 * 1024);
	kg_buf_append(&b, s, (size_t)(p - s));
	kg_buf_puts(&b, to);
	kg_buf_puts(&b, p + strlen(from));
	return kg_buf_detach(&b, NULL);
}

static bool has(const kg_mail_result *r, const char *id)
{
	for (size_t i = 0; i < r->n_signals; i++)
		if (!strcmp(r->signals[i].id, id))
			return true;
	return false;
}

static void check(const char *msg, const kg_mail_query *q, kg_mail_result *r)
{
	kg_err err = {0};
	int rc = kg_mail_check(g_profile, msg, strlen(msg), q, r, &err);
	if (rc)
		fprintf(stderr, "check: %s\n", err.msg);
	assert_int_equal(rc, 0);
	if (getenv("KG_TEST_VERBOSE")) {
		kg_buf b = KG_BUF_INIT(1 << 20);
		kg_mail_result_json(r, &b);
		fprintf(stderr, "%s\n", b.data);
		kg_buf_release(&b);
	}
}

static void notice_round_trips_as_genuine(void **state)
{
	for (int crlf = 0; crlf < 2; crlf++) {
		char *n = notice(crlf), *s = sign(n);
		kg_mail_result r;
		check(s, NULL, &r);
		assert_string_equal(kg_mail_verdict_name(r.verdict), "genuine");
		assert_true(r.authenticated);
		assert_true(has(&r, "dkim_verified"));
		assert_string_equal(r.message_id, "notice-42@amazon.co.jp");
		/* unsigned, the same notice is not genuine: never without authentication */
		check(n, NULL, &r);
		assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
		assert_true(has(&r, "official_unauthenticated"));
		free(n);
		free(s);
	}
}

static void tampered_notice_is_not_genuine(void **state)
{
	char *n = notice(false), *s = sign(n);
	struct {
		const char *from, *to, *must;
	} edits[] = {
		{"https://www.amazon.co.jp/gp/message", "https://www.amazon.co.jp.account-check.example/gp/message", "dkim_invalid"},
		{"https://www.amazon.co.jp/gp/message", "https://www.amazon.co.jp/gp/messages", "dkim_invalid"},
		{"account-update@amazon.co.jp", "account-update@amaz0n.co.jp", "sender_lookalike"},
		{"account-update@amazon.co.jp", "security@amazon.co.jp", "dkim_invalid"},
		{"予防処置として", "24時間以内に確認しないと", "dkim_invalid"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *t = replace(s, edits[i].from, edits[i].to);
		kg_mail_result r;
		check(t, NULL, &r);
		if (r.verdict == KG_MAIL_GENUINE || !has(&r, edits[i].must))
			fprintf(stderr, "edit %zu: verdict %s\n", i, kg_mail_verdict_name(r.verdict));
		assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
		assert_false(r.authenticated);
		assert_true(has(&r, edits[i].must));
		free(t);
	}
	/* a second From added above the signed one */
	char *t = replace(s, "From: Amazon.co.jp", "From: Amazon <help@amazon-help.example>\nX-Was: x");
	kg_mail_result r;
	check(t, NULL, &r);
	assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
	free(t);
	free(n);
	free(s);
}

/* A fake store: what kg_mail_store_lookup would answer. */
typedef struct fake_store {
	kg_mail_account acct;
	char seen_mid[256], seen_fp[65];
	int calls;
} fake_store;

static int fake_lookup(void *ctx, const char *account_id, const char *message_id,
		       const char *fingerprint, kg_mail_account *out, kg_err *err)
{
	fake_store *f = ctx;
	f->calls++;
	snprintf(f->seen_mid, sizeof(f->seen_mid), "%s", message_id);
	snprintf(f->seen_fp, sizeof(f->seen_fp), "%s", fingerprint);
	if (!strcmp(account_id, "broken"))
		return kg_err_set(err, KG_EIO, "store down");
	*out = f->acct;
	return 0;
}

static void message_center_cross_check(void **state)
{
	char *n = notice(false), *s = sign(n);
	char fp[65];
	kg_err err = {0};
	assert_int_equal(kg_mail_fingerprint(n, strlen(n), fp, &err), 0);
	fake_store f = {.acct = {.name = "山田 太郎", .exists = 1, .locked = 1, .in_message_center = 1}};
	kg_mail_query q = {.account_id = "acct-1", .lookup = fake_lookup, .lookup_ctx = &f};
	kg_mail_result r;
	check(s, &q, &r);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.seen_mid, "notice-42@amazon.co.jp");
	assert_string_equal(f.seen_fp, fp); /* same fingerprint signed or not */
	assert_string_equal(kg_mail_verdict_name(r.verdict), "genuine");
	assert_true(has(&r, "in_message_center"));
	assert_true(has(&r, "greeting_name"));

	f.acct.in_message_center = 0; /* authenticated but not in the message center */
	check(s, &q, &r);
	assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
	assert_true(has(&r, "not_in_message_center"));

	f.acct.in_message_center = 1; /* a lock notice, but the account can log in */
	f.acct.locked = 0;
	check(s, &q, &r);
	assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
	assert_true(has(&r, "lock_claim_not_locked"));

	f.acct.locked = 1; /* greeted by another name */
	snprintf(f.acct.name, sizeof(f.acct.name), "佐藤 花子");
	check(s, &q, &r);
	assert_true(has(&r, "greeting_not_name"));

	q.account_id = "broken"; /* the store's error comes back */
	kg_mail_result r2;
	assert_int_equal(kg_mail_check(g_profile, s, strlen(s), &q, &r2, &err), KG_EIO);
	free(n);
	free(s);
}

/* ---- the real store ------------------------------------------------------*/
typedef struct seed {
	const char *account, *message_id, *fingerprint;
	bool lock;
} seed;

static int seed_tx(kg_tx *tx, void *ctx, kg_err *err)
{
	const seed *sd = ctx;
	kg_account acc = {.id = sd->account, .name = "山田 太郎", .lang = "ja"};
	int rc = kg_tx_account_insert(tx, &acc, err);
	if (!rc && sd->lock) {
		kg_lock l = {.account_id = sd->account, .reason = "compromised",
			     .kind = "precaution", .evidence = "{}"};
		rc = kg_tx_lock_insert(tx, &l, err);
	}
	if (!rc && (sd->message_id || sd->fingerprint)) {
		kg_message m = {.account_id = sd->account, .kind = "lock_notice", .lang = "ja",
				.subject = "アカウントロックに関するお知らせ", .body_text = "...",
				.message_id = sd->message_id, .fingerprint = sd->fingerprint};
		rc = kg_tx_message_insert(tx, &m, err);
	}
	return rc;
}

static void store_cross_check(void **state)
{
	char path[] = "/tmp/kg_mail_storeXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	kg_store *st = NULL;
	kg_err err = {0};
	assert_int_equal(kg_store_open(&st, path, NULL, &err), 0);
	char *n = notice(false), *s = sign(n);
	char fp[65];
	assert_int_equal(kg_mail_fingerprint(n, strlen(n), fp, &err), 0);
	seed seeds[] = {
		{"locked-with-notice", "<notice-42@amazon.co.jp>", NULL, true},
		{"locked-by-fingerprint", NULL, fp, true},
		{"locked-no-notice", NULL, NULL, true},
		{"not-locked", NULL, NULL, false},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		assert_int_equal(kg_store_write(st, seed_tx, &seeds[i], &err), 0);
	struct {
		const char *account;
		enum kg_mail_verdict v;
		const char *must;
	} cases[] = {
		{"locked-with-notice", KG_MAIL_GENUINE, "in_message_center"},
		{"locked-by-fingerprint", KG_MAIL_GENUINE, "in_message_center"},
		{"locked-no-notice", KG_MAIL_SUSPICIOUS, "not_in_message_center"},
		{"not-locked", KG_MAIL_SUSPICIOUS, "lock_claim_not_locked"},
		{"nobody", KG_MAIL_SUSPICIOUS, "account_unknown"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kg_mail_query q = {.account_id = cases[i].account, .lookup = kg_mail_store_lookup,
				   .lookup_ctx = st};
		kg_mail_result r;
		check(s, &q, &r);
		if (r.verdict != cases[i].v || !has(&r, cases[i].must))
			fprintf(stderr, "%s: %s\n", cases[i].account, kg_mail_verdict_name(r.verdict));
		assert_int_equal(r.verdict, cases[i].v);
		assert_true(has(&r, cases[i].must));
	}
	/* the same notice unsigned: in the message center, but never genuine */
	kg_mail_query q = {.account_id = "locked-with-notice", .lookup = kg_mail_store_lookup,
			   .lookup_ctx = st};
	kg_mail_result r;
	check(n, &q, &r);
	assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
	kg_store_close(st);
	unlink(path);
	char side[sizeof(path) + 8];
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	free(n);
	free(s);
}

/* The notices notify really builds (every kind, ja and en, multipart base64,
 * CRLF) signed with kg_mail_dkim_sign: genuine; one byte of the body
 * changed: not. */
static void notify_notices_round_trip(void **state)
{
	kg_config cfg;
	kg_config_defaults(&cfg);
	snprintf(cfg.shop_name, sizeof(cfg.shop_name), "Amazon.co.jp");
	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "account-update@amazon.co.jp");
	kg_err err = {0};
	assert_int_equal(kg_notify_init(&cfg, &err), 0);
	kg_notify_field fields[] = {
		{"name", "山田 太郎"}, {"reason", "compromised"}, {"method", "identity_check"},
		{"code", "123456"}, {"case_id", "case-1"}, {"state", "open"}, {"note", "ok"},
		{"queue_position", "3"}, {"incident_id", "inc-1"}, {NULL, NULL}};
	for (int kind = 0; kind < KG_NOTICE_KIND_COUNT; kind++) {
		for (int lang = 0; lang < KG_LANG_COUNT; lang++) {
			kg_notice n;
			int rc = kg_notify_render(kind, lang, fields, &n, &err);
			if (rc)
				fprintf(stderr, "render %d/%d: %s\n", kind, lang, err.msg);
			assert_int_equal(rc, 0);
			char mid[KG_MESSAGE_ID_MAX];
			kg_notify_message_id(mid);
			kg_buf mime = KG_BUF_INIT(1 << 20);
			assert_int_equal(kg_notify_build_mime(&n, "taro@example.jp", mid, kg_now_ms(),
							      &mime, &err), 0);
			char *s = sign(mime.data);
			kg_mail_result r;
			check(s, NULL, &r);
			if (r.verdict != KG_MAIL_GENUINE) {
				kg_buf j = KG_BUF_INIT(1 << 20);
				kg_mail_result_json(&r, &j);
				fprintf(stderr, "%s/%s: %s\n", kg_notify_kind_name(kind),
					kg_notify_lang_name(lang), j.data);
				kg_buf_release(&j);
			}
			assert_int_equal(r.verdict, KG_MAIL_GENUINE);
			/* change one base64 character of the text part */
			char *b = strstr(s, "base64\r\n\r\n");
			assert_non_null(b);
			b += strlen("base64\r\n\r\n");
			*b = *b == 'A' ? 'B' : 'A';
			check(s, NULL, &r);
			assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
			assert_true(has(&r, "dkim_invalid"));
			free(s);
			kg_buf_release(&mime);
			kg_notice_release(&n);
		}
	}
	kg_notify_shutdown();
}

static void signing_errors(void **state)
{
	kg_buf out = KG_BUF_INIT(65536);
	kg_err err = {0};
	const char *m = "From: a@amazon.co.jp\nSubject: x\n\nbody\n";
	assert_int_equal(kg_mail_dkim_sign(m, strlen(m), "amazon.co.jp", "s", "not a key", &out, &err),
			 KG_EINVAL);
	assert_int_equal(kg_mail_dkim_sign(m, strlen(m), "amazon.co.jp", "s",
					   "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
					   &out, &err), KG_EINVAL);
	assert_int_equal(kg_mail_dkim_sign(m, strlen(m), "", "s", g_priv, &out, &err), KG_EINVAL);
	assert_int_equal(out.len, 0); /* nothing half-written */
	kg_buf_release(&out);
}

static void profile_errors(void **state)
{
	struct {
		const char *text;
		int code;
		int line;
		const char *msg;
	} cases[] = {
		{"brand = A\nsender_domain = a.example\ncolour = red\n", KG_EINVAL, 3, "unknown key"},
		{"brand = A\nsender_domain = not a domain\n", KG_EINVAL, 2, "not a domain"},
		{"brand = A\n", KG_EINVAL, 0, "at least one brand"},
		{"brand = A\nsender_domain = a.example\nnonsense\n", KG_EINVAL, 3, "key = value"},
		{"brand = A\nsender_domain = a.example\ndkim_key = a.example s1\n", KG_EINVAL, 3, "expected"},
		{"brand = A\nsender_domain = a.example\ndkim_key = a.example s1 -----BEGIN PRIVATE KEY-----\n",
		 KG_EINVAL, 3, "not a DKIM public key"},
		{"brand = A\nsender_domain = a.example\ndkim_key_file = a.example s1 /nonexistent.pem\n",
		 KG_EIO, 0, "cannot open"},
		{"name = Sh\xffp\nbrand = A\nsender_domain = a.example\n", KG_EINVAL, 1,
		 "invalid UTF-8 at byte 10"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kg_mail_profile *p = NULL;
		kg_err err = {0};
		int rc = kg_mail_profile_parse(cases[i].text, strlen(cases[i].text), "shop.profile", &p, &err);
		assert_int_equal(rc, cases[i].code);
		assert_null(p);
		if (cases[i].line)
			assert_int_equal(err.line, cases[i].line);
		assert_non_null(strstr(err.msg, cases[i].msg));
	}
}

static void expect_limit(const char *msg, size_t len, const char *name)
{
	kg_mail_result r;
	kg_err err = {0};
	assert_int_equal(kg_mail_check(g_profile, msg, len, NULL, &r, &err), KG_ELIMIT);
	if (!strstr(err.msg, name))
		fprintf(stderr, "limit message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, name));
}

static void parser_limits(void **state)
{
	kg_buf b = KG_BUF_INIT((size_t)KG_MAIL_BYTES_MAX * 2);
	/* parts */
	kg_buf_puts(&b, "From: a@b.example\nContent-Type: multipart/mixed; boundary=x\n\n");
	for (int i = 0; i < KG_MAIL_PARTS_MAX + 5; i++)
		kg_buf_puts(&b, "--x\nContent-Type: text/plain\n\nhi\n");
	kg_buf_puts(&b, "--x--\n");
	expect_limit(b.data, b.len, "KG_MAIL_PARTS_MAX");
	/* nesting */
	kg_buf_reset(&b);
	kg_buf_puts(&b, "From: a@b.example\n");
	for (int i = 0; i < KG_MAIL_DEPTH_MAX + 3; i++)
		kg_buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	kg_buf_puts(&b, "Content-Type: text/plain\n\nhi\n");
	expect_limit(b.data, b.len, "KG_MAIL_DEPTH_MAX");
	/* header size */
	kg_buf_reset(&b);
	kg_buf_puts(&b, "From: a@b.example\n");
	while (b.len <= KG_MAIL_HEADER_BYTES_MAX)
		kg_buf_puts(&b, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
	kg_buf_puts(&b, "\nbody\n");
	expect_limit(b.data, b.len, "KG_MAIL_HEADER_BYTES_MAX");
	/* links: more than KG_MAIL_LINKS_MAX is no error; the first ones are
	 * analysed and the verdict still given */
	kg_buf_reset(&b);
	kg_buf_puts(&b, "From: Amazon <deals@shop.example>\nContent-Type: text/plain\n\n");
	for (int i = 0; i < KG_MAIL_LINKS_MAX + 1; i++)
		kg_buf_printf(&b, "https://l%d.example/\n", i);
	kg_buf_puts(&b, "https://192.0.2.1/beyond-the-cap\n");
	kg_mail_result r;
	check(b.data, NULL, &r);
	assert_int_equal(r.verdict, KG_MAIL_PHISHING);
	assert_true(has(&r, "links_capped"));
	assert_true(has(&r, "link_foreign"));
	assert_false(has(&r, "link_ip")); /* past the cap: not read */
	/* size */
	kg_buf_reset(&b);
	kg_buf_puts(&b, "From: a@b.example\n\n");
	while (b.len <= KG_MAIL_BYTES_MAX)
		kg_buf_puts(&b, "0123456789012345678901234567890123456789012345678901234567890123456789\n");
	expect_limit(b.data, b.len, "KG_MAIL_BYTES_MAX");
	kg_buf_release(&b);
}

static void garbage_is_handled(void **state)
{
	const char *inputs[] = {"", "\n\n\n", "no header at all", "From:\n\n", "\x00\x01\x02"};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		kg_mail_result r;
		kg_err err = {0};
		int rc = kg_mail_check(g_profile, inputs[i], strlen(inputs[i]), NULL, &r, &err);
		assert_true(rc == 0 || rc == KG_EINVAL);
		if (rc == 0)
			assert_int_not_equal(r.verdict, KG_MAIL_GENUINE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(notice_round_trips_as_genuine),
		cmocka_unit_test(tampered_notice_is_not_genuine),
		cmocka_unit_test(message_center_cross_check),
		cmocka_unit_test(store_cross_check),
		cmocka_unit_test(notify_notices_round_trip),
		cmocka_unit_test(signing_errors),
		cmocka_unit_test(profile_errors),
		cmocka_unit_test(parser_limits),
		cmocka_unit_test(garbage_is_handled),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
