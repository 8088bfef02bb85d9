/* Unit tests of the account module on a real SQLite store: the store
 * operations it added (cases, codes, counters, identity state), a lock with
 * its audit entry, notice and mail in one transaction (and nothing of it when
 * the notice cannot be made), the login gate and the identity check. */
#include "store_testutil.h"

#include "account/account.h"

#include <sodium.h>

static kg_config cfg;

/* The path of test database name, without removing it (kg_test_db does). */
static const char *kg_test_db_path(const char *name)
{
	static char path[4][640];
	static int next;
	char *p = path[next++ % 4];
	kg_test_dir_init();
	snprintf(p, 640, "%s/%s.db", kg_test_dir, name);
	return p;
}

static const kg_account yamada = {
	.id = "acc-y",
	.name = "山田 太郎",
	.email = "taro@example.jp",
	.address = {"150-0001", "東京都", "渋谷区", "神宮前1-2-3", NULL, "JP"},
	.lang = "ja",
};

struct put_job {
	const kg_account *acc;
	const char *pw_hash;
};

static int put_account(kg_tx *tx, void *ctx, kg_err *err)
{
	struct put_job *j = ctx;
	kg_account a = *j->acc;
	a.password_hash = j->pw_hash;
	int rc = kg_tx_account_insert(tx, &a, err);
	kg_card c = {.account_id = a.id, .card_id = "c1", .holder_name = "TARO YAMADA",
		     .last4 = "4242", .exp = "12/29", .fingerprint = "fp"};
	return rc ? rc : kg_tx_card_add(tx, &c, err);
}

static kg_store *setup(const char *name, const kg_account *acc)
{
	kg_store *s = kg_test_open(kg_test_db(name), NULL);
	char hash[KG_PWHASH_MAX];
	kg_err err;
	assert_int_equal(kg_password_hash("correct horse", 13, 1, 8, hash, &err), 0);
	struct put_job j = {acc, hash};
	assert_int_equal(kg_store_write(s, put_account, &j, &err), 0);
	return s;
}

static int64_t count(const char *path, const char *sql)
{
	sqlite3 *db = kg_test_raw(path);
	int64_t n = kg_test_raw_int(db, sql);
	sqlite3_close(db);
	return n;
}

static void lock_is_atomic(void **state)
{
	(void)state;
	kg_store *s = setup("lock", &yamada);
	const char *path = kg_test_db_path("lock");
	kg_err err;
	char id[KG_STORE_ID_MAX];
	kg_account_lock_req req = {.account_id = "acc-y", .reason = KG_LOCK_GIFT_CARD, .actor = "risk",
				   .evidence = "{\"rule\":\"gift_card_day\"}"};
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	kg_store_close(s);
	assert_int_equal(count(path, "SELECT count(*) FROM locks WHERE state = 'active'"), 1);
	assert_int_equal(count(path, "SELECT count(*) FROM audit WHERE action = 'lock'"), 1);
	assert_int_equal(count(path, "SELECT count(*) FROM messages WHERE kind = 'lock_notice' AND "
				     "subject LIKE 'アカウントロックに関するお知らせ / Notice about your account lock'"),
			 1);
	assert_int_equal(count(path, "SELECT count(*) FROM outbox o JOIN messages m ON "
				     "m.message_id = o.message_id"),
			 1);

	/* A notice that cannot be made (no registered name) leaves nothing. */
	kg_account nameless = yamada;
	nameless.id = "acc-n";
	nameless.name = "";
	nameless.email = "n@example.jp";
	s = setup("nameless", &nameless);
	path = kg_test_db_path("nameless");
	req.account_id = "acc-n";
	assert_int_not_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	req.account_id = "nobody";
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), KG_ENOTFOUND);
	kg_store_close(s);
	assert_int_equal(count(path, "SELECT count(*) FROM locks"), 0);
	assert_int_equal(count(path, "SELECT count(*) FROM audit WHERE action = 'lock'"), 0);
	assert_int_equal(count(path, "SELECT count(*) FROM messages"), 0);
	assert_int_equal(count(path, "SELECT count(*) FROM outbox"), 0);
}

/* ---- login gate -------------------------------------------------------------*/
static kg_login_answer login(kg_store *s, const char *email, const char *pw, const char *cred)
{
	static const uint8_t hash[32] = {1};
	kg_login_req req = {.email = email, .password = pw, .ip = "10.0.0.1", .cred_id = cred,
			    .cred_hash = hash, .cred_hash_len = sizeof(hash)};
	kg_login_answer a;
	kg_err err;
	assert_int_equal(kg_account_login(s, &cfg, &req, &a, &err), 0);
	return a;
}

static void login_gate(void **state)
{
	(void)state;
	kg_store *s = setup("login", &yamada);
	kg_err err;
	assert_int_equal(login(s, "taro@example.jp", "correct horse", "c1").result, KG_LOGIN_OK);
	assert_int_equal(login(s, "TARO@example.jp", "wrong", "c2").result, KG_LOGIN_DENIED);
	assert_int_equal(login(s, "nobody@example.jp", "wrong", "c3").result, KG_LOGIN_DENIED);
	char id[KG_STORE_ID_MAX];
	kg_account_lock_req req = {.account_id = "acc-y", .reason = KG_LOCK_MISUSE, .actor = "admin:x"};
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	/* wrong password: still just denied */
	assert_int_equal(login(s, "taro@example.jp", "wrong", "c4").result, KG_LOGIN_DENIED);
	kg_login_answer a = login(s, "taro@example.jp", "correct horse", "c5");
	assert_int_equal(a.result, KG_LOGIN_LOCKED);
	assert_int_equal(a.kind, KG_LOCK_KIND_MISUSE);
	assert_int_equal(a.locks.n, 1);
	assert_string_equal(a.locks.v[0].id, id);
	/* the ticket is a credential of the account */
	kg_store_close(s);
	assert_int_equal(count(kg_test_db_path("login"), "SELECT count(*) FROM credentials WHERE id = 'c5' "
							 "AND role = 'ticket' AND account_id = 'acc-y'"),
			 1);
	assert_int_equal(count(kg_test_db_path("login"), "SELECT count(*) FROM credentials WHERE id = 'c1' "
							 "AND role = 'customer'"),
			 1);
	/* throttling: 10 failures from one IP, known or unknown alike */
	s = kg_test_open(kg_test_db_path("login"), NULL);
	for (int i = 0; i < 10; i++) {
		login(s, "taro@example.jp", "guess", "x");
		login(s, "nobody@example.jp", "guess", "x");
	}
	assert_int_equal(login(s, "taro@example.jp", "correct horse", "c6").result, KG_LOGIN_THROTTLED);
	assert_int_equal(login(s, "nobody@example.jp", "guess", "c7").result, KG_LOGIN_THROTTLED);
	kg_store_close(s);
}

/* ---- the account-wide delay (bruteforce.*) on event time -----------------------
 * Each row: seconds after t0, source IP, device, password, expected result
 * and Retry-After (ms; 0 when checked). failures 3, wait 10 s doubled up to
 * 40 s, 100 quiet seconds start over; "known" signed in before. */
static const struct delay_row {
	int64_t t_s;
	const char *ip, *device, *password;
	enum kg_login_result want;
	int64_t retry_ms;
} delay_rows[] = {
	{0, "10.9.9.9", "known-dev", "correct horse", KG_LOGIN_OK, 0}, /* a known source */
	{1, "10.1.0.1", NULL, "guess", KG_LOGIN_DENIED, 0},
	{1, "10.1.0.2", NULL, "guess", KG_LOGIN_DENIED, 0},
	{1, "10.1.0.3", NULL, "guess", KG_LOGIN_DENIED, 0},   /* 3 failures: wait 10 s */
	{2, "10.1.0.4", NULL, "guess", KG_LOGIN_THROTTLED, 9000},
	{2, "10.1.0.5", NULL, "correct horse", KG_LOGIN_THROTTLED, 9000}, /* unchecked */
	{2, "10.9.9.9", NULL, "correct horse", KG_LOGIN_OK, 0},   /* known IP: clears it */
	{3, "10.2.0.1", NULL, "guess", KG_LOGIN_DENIED, 0},
	{3, "10.2.0.2", NULL, "guess", KG_LOGIN_DENIED, 0},
	{3, "10.2.0.3", NULL, "guess", KG_LOGIN_DENIED, 0},
	{4, "10.2.0.4", "known-dev", "correct horse", KG_LOGIN_OK, 0}, /* known device */
	{5, "10.3.0.1", NULL, "guess", KG_LOGIN_DENIED, 0},
	{5, "10.3.0.2", NULL, "guess", KG_LOGIN_DENIED, 0},
	{5, "10.3.0.3", NULL, "guess", KG_LOGIN_DENIED, 0},   /* wait 10 s from 5 */
	{15, "10.3.0.4", NULL, "guess", KG_LOGIN_DENIED, 0},  /* 4: wait 20 s */
	{34, "10.3.0.5", NULL, "guess", KG_LOGIN_THROTTLED, 1000},
	{35, "10.3.0.6", NULL, "guess", KG_LOGIN_DENIED, 0},  /* 5: wait 40 s */
	{75, "10.3.0.7", NULL, "guess", KG_LOGIN_DENIED, 0},  /* 6: 80 s capped at 40 */
	{114, "10.3.0.8", NULL, "guess", KG_LOGIN_THROTTLED, 1000},
	{215, "10.3.0.9", NULL, "guess", KG_LOGIN_DENIED, 0}, /* 100 s quiet: over */
	{215, "10.3.0.10", NULL, "guess", KG_LOGIN_DENIED, 0},
	{215, "10.4.0.1", NULL, "correct horse", KG_LOGIN_OK, 0}, /* 2 < 3: a new source too */
};

static void account_wide_delay(void **state)
{
	(void)state;
	kg_store *s = setup("delay", &yamada);
	kg_config c = cfg;
	c.bf_failures = 3;
	c.bf_wait_increment_s = 10;
	c.bf_max_wait_s = 40;
	c.bf_reset_s = 100;
	const int64_t t0 = 1800000000000;
	static const uint8_t hash[32] = {1};
	for (size_t i = 0; i < sizeof(delay_rows) / sizeof(delay_rows[0]); i++) {
		const struct delay_row *row = &delay_rows[i];
		char cred[32];
		snprintf(cred, sizeof(cred), "d%zu", i);
		kg_login_req req = {.email = "taro@example.jp", .password = row->password,
				    .ip = row->ip, .device_id = row->device, .cred_id = cred,
				    .cred_hash = hash, .cred_hash_len = sizeof(hash),
				    .now_ms = t0 + row->t_s * 1000};
		kg_login_answer a;
		kg_err err;
		assert_int_equal(kg_account_login(s, &c, &req, &a, &err), 0);
		if (a.result != row->want || a.retry_after_ms != row->retry_ms)
			fail_msg("row %zu (t+%llds %s): %s retry %lld, want %s retry %lld", i,
				 (long long)row->t_s, row->ip, kg_login_result_name(a.result),
				 (long long)a.retry_after_ms, kg_login_result_name(row->want),
				 (long long)row->retry_ms);
	}
	kg_store_close(s);
}

/* ---- brute-force locks run out -------------------------------------------------*/
static void brute_force_expires(void **state)
{
	(void)state;
	kg_store *s = setup("brute", &yamada);
	kg_err err;
	char id[KG_STORE_ID_MAX];
	int64_t now = kg_now_ms();
	kg_account_lock_req req = {.account_id = "acc-y", .reason = KG_LOCK_BRUTE_FORCE, .actor = "risk",
				   .now_ms = now - 31 * 60 * 1000};
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	/* 31 minutes later the 30-minute lock has run out: login works and the
	 * lock is recorded as lifted by expiry, with its notice. */
	assert_int_equal(login(s, "taro@example.jp", "correct horse", "c1").result, KG_LOGIN_OK);
	kg_store_close(s);
	const char *path = kg_test_db_path("brute");
	assert_int_equal(count(path, "SELECT count(*) FROM locks WHERE lift_method = 'expiry'"), 1);
	assert_int_equal(count(path, "SELECT count(*) FROM messages WHERE kind = 'unlock_notice'"), 1);
	assert_int_equal(count(path, "SELECT count(*) FROM audit WHERE action = 'unlock'"), 1);

	/* Without a login, the sweep lifts it on time; a lock that still runs
	 * and one that never expires stay. */
	s = kg_test_open(path, NULL);
	req.now_ms = now - 31 * 60 * 1000;
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	req.now_ms = now;
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	req.reason = KG_LOCK_MANUAL;
	assert_int_equal(kg_account_lock(s, &cfg, &req, id, &err), 0);
	size_t n = 9;
	assert_int_equal(kg_account_expire_due(s, &cfg, 0, 100, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kg_account_expire_due(s, &cfg, 0, 100, &n, &err), 0);
	assert_int_equal(n, 0);
	kg_store_close(s);
	assert_int_equal(count(path, "SELECT count(*) FROM locks WHERE lift_method = 'expiry'"), 2);
	assert_int_equal(count(path, "SELECT count(*) FROM locks WHERE state = 'active'"), 2);
	assert_int_equal(count(path, "SELECT count(*) FROM messages WHERE kind = 'unlock_notice'"), 2);
}

/* ---- password reset: key required, codes hashed, tries counted -------------------*/
static void recovery(void **state)
{
	(void)state;
	kg_store *s = setup("recovery", &yamada);
	const char *path = kg_test_db_path("recovery");
	kg_err err;
	kg_config c = cfg;
	c.account_secret_key[0] = '\0';
	assert_int_equal(kg_account_recovery_start(s, &c, "taro@example.jp", "10.0.0.1", 0, &err), KG_ECONFLICT);
	assert_int_equal(kg_account_recovery_start(s, &c, "nobody@example.jp", "10.0.0.1", 0, &err), KG_ECONFLICT);
	snprintf(c.account_secret_key, sizeof(c.account_secret_key), "%s",
		 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	assert_int_equal(kg_account_recovery_start(s, &c, "taro@example.jp", "10.0.0.1", 0, &err), 0);
	assert_int_equal(kg_account_recovery_start(s, &c, "nobody@example.jp", "10.0.0.1", 0, &err), 0);
	kg_recovery_answer a;
	char e1[KG_ERR_MSG_MAX + KG_ERR_FIELD_MAX + 2], e2[KG_ERR_MSG_MAX + KG_ERR_FIELD_MAX + 2];
	/* "12345x" can never be the code: a wrong try */
	assert_int_equal(kg_account_recovery_finish(s, &c, "taro@example.jp", "12345x", "new passphrase", "ip", 0,
						    &a, &err), KG_EINVAL);
	snprintf(e1, sizeof(e1), "%s|%s", err.field, err.msg);
	assert_int_equal(kg_account_recovery_finish(s, &c, "nobody@example.jp", "12345x", "new passphrase", "ip",
						    0, &a, &err), KG_EINVAL);
	snprintf(e2, sizeof(e2), "%s|%s", err.field, err.msg);
	assert_string_equal(e1, e2); /* one answer for both */
	assert_int_equal(kg_account_recovery_finish(s, &c, "taro@example.jp", "123456", "short", "ip", 0, &a, &err),
			 KG_EINVAL);
	assert_string_equal(err.field, "password");
	kg_store_close(s);
	assert_int_equal(count(path, "SELECT attempts_left FROM codes WHERE account_id = 'acc-y'"), 4);
	assert_int_equal(count(path, "SELECT count(*) FROM codes WHERE code_hash LIKE '$argon2id$%'"), 1);
	assert_int_equal(count(path, "SELECT count(*) FROM messages WHERE kind = 'recovery_code' AND "
				     "body_text LIKE '%******%'"),
			 1);
	assert_int_equal(count(path, "SELECT count(*) FROM outbox"), 1);
}

/* ---- sealing at rest: a 2-step secret in the format before KGSEAL1 -------------
 * (bare hex of nonce || secretbox) still opens, and the first check that
 * opens it rewrites the row as KGSEAL1 (docs/operations.md, "Sealed at rest"). */
#define SEAL_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
static const uint8_t totp_raw[KG_TOTP_SECRET_BYTES] = "12345678901234567890";

struct totp_job {
	const kg_config *cfg;
	int64_t now_ms;
	bool sealed_before, sealed_after;
};

static int totp_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct totp_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 2048);
	kg_account acc;
	uint32_t v = 0;
	char code[8];
	kg_buf plain = KG_BUF_INIT(1024);
	int rc = kg_tx_account_get(tx, "acc-y", &acc, &a, err);
	if (!rc) {
		j->sealed_before = kg_is_sealed(acc.totp_secret, acc.totp_secret_len);
		rc = kg_totp_code(totp_raw, sizeof(totp_raw), "sha1", j->now_ms / 1000,
				  KG_TOTP_STEP_S, 6, &v);
	}
	snprintf(code, sizeof(code), "%06u", (unsigned)v);
	if (!rc)
		rc = kg_account_totp_check(tx, j->cfg, &acc, code, j->now_ms, err);
	if (!rc)
		rc = kg_tx_account_get(tx, "acc-y", &acc, &a, err);
	if (!rc) {
		j->sealed_after = kg_is_sealed(acc.totp_secret, acc.totp_secret_len);
		rc = kg_unseal(SEAL_KEY, acc.totp_secret, acc.totp_secret_len, &plain, err);
	}
	if (!rc && (plain.len != sizeof(totp_raw) || memcmp(plain.data, totp_raw, plain.len)))
		rc = kg_err_set(err, KG_EINTERNAL, "the rewritten secret differs");
	kg_buf_release(&plain);
	kg_arena_release(&a);
	return rc;
}

static void totp_secret_upgrades_on_read(void **state)
{
	(void)state;
	/* the old format, made as the old code made it */
	unsigned char key[32], box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
				    sizeof(totp_raw)];
	char hex[2 * sizeof(box) + 1];
	assert_int_equal(sodium_init() < 0, 0);
	assert_int_equal(sodium_hex2bin(key, sizeof(key), SEAL_KEY, 64, NULL, NULL, NULL), 0);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, totp_raw, sizeof(totp_raw), box, key);
	sodium_bin2hex(hex, sizeof(hex), box, sizeof(box));
	kg_account acc = yamada;
	acc.totp_secret = (const uint8_t *)hex;
	acc.totp_secret_len = strlen(hex);
	acc.totp_enabled = true;
	kg_store *s = setup("totp_upgrade", &acc);
	const char *path = kg_test_db_path("totp_upgrade");
	kg_config c = cfg;
	snprintf(c.account_secret_key, sizeof(c.account_secret_key), "%s", SEAL_KEY);
	kg_err err;
	int64_t now = 1795000000000LL;
	struct totp_job j = {&c, now, true, false};
	if (kg_store_write(s, totp_job, &j, &err))
		fail_msg("%s", err.msg);
	assert_false(j.sealed_before); /* it was the old format */
	assert_true(j.sealed_after);   /* and is KGSEAL1 now */
	/* the rewritten row opens again (a later step: a code works once) */
	j = (struct totp_job){&c, now + 60000, false, false};
	if (kg_store_write(s, totp_job, &j, &err))
		fail_msg("%s", err.msg);
	assert_true(j.sealed_before && j.sealed_after);
	kg_store_close(s);
	assert_int_equal(count(path, "SELECT count(*) FROM accounts WHERE substr(totp_secret, 1, 7) = "
				     "CAST('KGSEAL1' AS BLOB)"), 1);
}

static int setup_group(void **state)
{
	(void)state;
	kg_config_defaults(&cfg);
	cfg.argon2_ops = 1;
	cfg.argon2_mem_kib = 8;
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	kg_test_dir_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lock_is_atomic), cmocka_unit_test(login_gate),
		cmocka_unit_test(brute_force_expires),  cmocka_unit_test(recovery),
		cmocka_unit_test(account_wide_delay),
		cmocka_unit_test(totp_secret_upgrades_on_read),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
