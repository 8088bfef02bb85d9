/* Unit tests of the notify queues on a real SQLite file: enqueueing inside a
 * transaction, a failed delivery keeping the row with its error and a
 * backed-off next try, giving up after notify.max_attempts, retry, and the
 * operator views (list across accounts, find by id). Delivery that succeeds
 * is tested against a real SMTP listener in tests/integration/test_notify.py. */
#include "store_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "notify/notify.h"

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

struct ctx {
	kg_notify_mail *mail;
	const char *id;
	const char *webhook_type;
	kg_arena *a;
	kg_outbox *rows;
	kg_webhook *hooks;
	size_t n;
	int rc;
	kg_err err;
};

static int enqueue_job(kg_tx *tx, void *p, kg_err *err)
{
	struct ctx *c = p;
	if (c->webhook_type)
		return kg_notify_tx_enqueue_webhook(tx, c->webhook_type, "acc-1",
						    "{\"reason\":\"gift_card\"}", err);
	return kg_notify_tx_enqueue_mail(tx, "acc-1", "hanako@example.jp", c->mail, err);
}

static int list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct ctx *c = p;
	return kg_tx_outbox_list_all(tx, NULL, NULL, 0, c->a, &c->rows, &c->n, err);
}

static int hooks_job(kg_tx *tx, void *p, kg_err *err)
{
	struct ctx *c = p;
	return kg_tx_webhook_list_all(tx, NULL, "acc-1", 0, c->a, &c->hooks, &c->n, err);
}

static int retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct ctx *c = p;
	return kg_tx_outbox_retry(tx, c->id, 0, err);
}

static int deliver_by_hand_job(kg_tx *tx, void *p, kg_err *err)
{
	struct ctx *c = p;
	return kg_tx_outbox_mark_delivered(tx, "acc-1", c->id, 0, err);
}

static kg_outbox *only_row(kg_store *s, struct ctx *c)
{
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_store_read(s, list_job, c, &e), 0);
	assert_int_equal(c->n, 1);
	return &c->rows[0];
}

static void failed_delivery_backs_off_then_gives_up(void **state)
{
	kg_config cfg;
	kg_config_defaults(&cfg);
	snprintf(cfg.smtp_url, sizeof(cfg.smtp_url), "smtp://127.0.0.1:%d", closed_port());
	cfg.notify_retry_base_ms = 60000;
	cfg.notify_max_attempts = 2;
	cfg.notify_timeout_s = 5;
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	kg_store *s = kg_test_open(kg_test_db("notify_backoff"), NULL);

	const kg_notify_field f[] = {{"name", "山田 花子"}, {"reason", "gift_card"}, {NULL, NULL}};
	kg_notify_mail m;
	assert_int_equal(kg_notify_compose(KG_NOTICE_LOCK, KG_LANG_JA, f, "hanako@example.jp", &m, &e), 0);
	kg_arena a;
	kg_arena_init(&a, 0);
	struct ctx c = {.mail = &m, .a = &a};
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), 0);

	/* attempt 1: connection refused → pending, error kept, next try in [base/2, base] */
	kg_notify_stats st = {0};
	int64_t before = kg_now_ms();
	assert_int_equal(kg_notify_deliver_once(s, &cfg, &st, &e), 0);
	assert_int_equal(st.claimed, 1);
	assert_int_equal(st.failed, 1);
	kg_outbox *o = only_row(s, &c);
	assert_string_equal(o->state, "pending");
	assert_int_equal(o->attempts, 1);
	assert_string_equal(o->message_id, m.message_id);
	assert_non_null(o->last_error);
	assert_non_null(strstr(o->last_error, "smtp"));
	assert_true(o->next_attempt_ms >= before + 30000);
	assert_true(o->next_attempt_ms <= kg_now_ms() + 60000);
	/* not due yet: a second pass claims nothing */
	assert_int_equal(kg_notify_deliver_once(s, &cfg, &st, &e), 0);
	assert_int_equal(st.claimed, 1);

	/* retry makes it due now; attempt 2 reaches max_attempts → failed */
	c.id = o->id;
	assert_int_equal(kg_store_write(s, retry_job, &c, &e), 0);
	o = only_row(s, &c);
	assert_int_equal(o->attempts, 0);
	cfg.notify_max_attempts = 1;
	assert_int_equal(kg_notify_deliver_once(s, &cfg, &st, &e), 0);
	assert_int_equal(st.claimed, 2);
	o = only_row(s, &c);
	assert_string_equal(o->state, "failed");
	assert_int_equal(o->attempts, 1);

	/* failed → retry → pending; delivered → retry refused; unknown → not found */
	c.id = o->id;
	assert_int_equal(kg_store_write(s, retry_job, &c, &e), 0);
	assert_string_equal(only_row(s, &c)->state, "pending");
	assert_int_equal(kg_store_write(s, deliver_by_hand_job, &c, &e), 0);
	assert_int_equal(kg_store_write(s, retry_job, &c, &e), KG_ECONFLICT);
	c.id = "out_nope";
	assert_int_equal(kg_store_write(s, retry_job, &c, &e), KG_ENOTFOUND);

	kg_arena_release(&a);
	kg_notify_mail_release(&m);
	kg_store_close(s);
	kg_notify_shutdown();
}

static void no_smtp_url_keeps_notices_queued(void **state)
{
	kg_config cfg;
	kg_config_defaults(&cfg); /* smtp.url empty */
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	kg_store *s = kg_test_open(kg_test_db("notify_nosmtp"), NULL);
	const kg_notify_field f[] = {{"name", "A"}, {"code", "123456"}, {NULL, NULL}};
	kg_notify_mail m;
	assert_int_equal(kg_notify_compose(KG_NOTICE_RECOVERY_CODE, KG_LANG_EN, f, "a@example.com",
					   &m, &e), 0);
	/* the message-center copy never holds the code; the mail does (base64) */
	assert_null(strstr(m.notice.text, "123456"));
	assert_non_null(strstr(m.notice.text, "******"));
	kg_arena a;
	kg_arena_init(&a, 0);
	struct ctx c = {.mail = &m, .a = &a};
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), 0);
	kg_notify_stats st = {0};
	assert_int_equal(kg_notify_deliver_once(s, &cfg, &st, &e), 0);
	assert_int_equal(st.claimed, 0);
	assert_string_equal(only_row(s, &c)->state, "pending");
	assert_int_equal(only_row(s, &c)->attempts, 0);
	kg_arena_release(&a);
	kg_notify_mail_release(&m);
	kg_store_close(s);
	kg_notify_shutdown();
}

static void webhooks_queue_only_when_configured(void **state)
{
	kg_config cfg;
	kg_config_defaults(&cfg);
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	kg_store *s = kg_test_open(kg_test_db("notify_hooks"), NULL);
	kg_arena a;
	kg_arena_init(&a, 0);
	struct ctx c = {.webhook_type = "lock", .a = &a};
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), 0);
	assert_int_equal(kg_store_read(s, hooks_job, &c, &e), 0);
	assert_int_equal(c.n, 0); /* no webhook.url: nothing queued */

	snprintf(cfg.webhook_url, sizeof(cfg.webhook_url), "http://127.0.0.1:9/hook");
	assert_int_equal(kg_notify_init(&cfg, &e), KG_EINVAL); /* no secret to sign with */
	assert_non_null(strstr(e.msg, "webhook.secret"));
	snprintf(cfg.webhook_secret, sizeof(cfg.webhook_secret), "0123456789abcdef");
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), 0);
	c.webhook_type = "unlocked"; /* not a webhook type */
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), KG_EINVAL);
	assert_int_equal(kg_store_read(s, hooks_job, &c, &e), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.hooks[0].event, "lock");
	assert_string_equal(c.hooks[0].state, "pending");
	assert_non_null(strstr(c.hooks[0].body, "\"data\":{\"reason\":\"gift_card\"}"));
	kg_arena_release(&a);
	kg_store_close(s);
	kg_notify_shutdown();
}

static void outbox_rows_are_sealed_at_rest(void **state)
{
	kg_config cfg;
	kg_config_defaults(&cfg);
	snprintf(cfg.account_secret_key, sizeof(cfg.account_secret_key), "%s",
		 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	kg_err e;
	kg_err_clear(&e);
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	kg_store *s = kg_test_open(kg_test_db("notify_seal"), NULL);
	const kg_notify_field f[] = {{"name", "A"}, {"code", "987654"}, {NULL, NULL}};
	kg_notify_mail m;
	assert_int_equal(kg_notify_compose(KG_NOTICE_RECOVERY_CODE, KG_LANG_EN, f, "a@example.com",
					   &m, &e), 0);
	kg_arena a;
	kg_arena_init(&a, 0);
	struct ctx c = {.mail = &m, .a = &a};
	assert_int_equal(kg_store_write(s, enqueue_job, &c, &e), 0);
	kg_outbox *o = only_row(s, &c);
	/* stored: neither the headers nor the base64 body are readable */
	assert_null(memmem(o->mime, o->mime_len, "Message-ID", 10));
	assert_null(memmem(o->mime, o->mime_len, m.raw + m.raw_len - 40, 40));
	kg_buf plain = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	assert_int_equal(kg_notify_outbox_message(o, &plain, &e), 0);
	assert_int_equal(plain.len, m.raw_len);
	assert_memory_equal(plain.data, m.raw, m.raw_len);
	kg_buf_release(&plain);
	/* another key does not open it */
	snprintf(cfg.account_secret_key, sizeof(cfg.account_secret_key), "%s",
		 "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	assert_int_equal(kg_notify_init(&cfg, &e), 0);
	kg_buf_init(&plain, KG_NOTIFY_MIME_MAX);
	assert_int_equal(kg_notify_outbox_message(o, &plain, &e), KG_EAUTH);
	kg_buf_release(&plain);
	kg_arena_release(&a);
	kg_notify_mail_release(&m);
	kg_store_close(s);
	kg_notify_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failed_delivery_backs_off_then_gives_up),
		cmocka_unit_test(no_smtp_url_keeps_notices_queued),
		cmocka_unit_test(webhooks_queue_only_when_configured),
		cmocka_unit_test(outbox_rows_are_sealed_at_rest),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kg_test_dir_cleanup();
	return rc;
}
