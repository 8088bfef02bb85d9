/* Test bodies of the store's operations that hold for every backend: each
 * is a body_fn run inside one transaction (write_body / read_body).
 * test_store.c runs them on SQLite files, test_store_pg.c on a PostgreSQL
 * server; they say nothing about how a backend lays out its rows. */
#ifndef KG_STORE_BODIES_H
#define KG_STORE_BODIES_H

#include "store_testutil.h"

/* A job that runs a test body given as a function pointer with the arena. */
typedef void (*body_fn)(kg_tx *tx, kg_arena *a);
static int run_body(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)err;
	kg_arena a;
	kg_arena_init(&a, 0);
	((body_fn)ctx)(tx, &a);
	kg_arena_release(&a);
	return 0;
}

static void write_body(kg_store *s, body_fn fn)
{
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_store_write(s, run_body, (void *)fn, &err);
	if (rc)
		fail_msg("write: %s", err.msg);
}

static void read_body(kg_store *s, body_fn fn)
{
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_store_read(s, run_body, (void *)fn, &err);
	if (rc)
		fail_msg("read: %s", err.msg);
}

static const kg_account alice = {
	.id = "acc-1",
	.name = "Hanako Yamada",
	.email = "Hanako@Example.JP",
	.phone = "+81-3-0000-0000",
	.address = {"100-0001", "Tokyo", "Chiyoda", "1-1 Chiyoda", NULL, "JP"},
	.password_hash = "$argon2id$v=19$fake",
	.lang = "ja",
};

/* ---- accounts -----------------------------------------------------------*/
static void accounts_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	assert_int_equal(kg_tx_account_insert(tx, &alice, &err), 0);
	kg_account got;
	assert_int_equal(kg_tx_account_get(tx, "acc-1", &got, a, &err), 0);
	assert_string_equal(got.name, "Hanako Yamada");
	assert_string_equal(got.address.city, "Chiyoda");
	assert_null(got.address.line2);
	assert_true(got.created_ms > 0);
	assert_int_equal(kg_tx_account_get_by_email(tx, "hanako@example.jp", &got, a, &err), 0);
	assert_string_equal(got.id, "acc-1");
	assert_int_equal(kg_tx_account_get(tx, "nope", &got, a, &err), KG_ENOTFOUND);

	kg_account dup = alice;
	assert_int_equal(kg_tx_account_insert(tx, &dup, &err), KG_ECONFLICT);
	dup.id = "acc-2";
	dup.email = "HANAKO@example.jp";
	assert_int_equal(kg_tx_account_insert(tx, &dup, &err), KG_ECONFLICT);
	assert_string_equal(err.field, "email");
	dup.email = "taro@example.jp";
	dup.name = "Taro";
	assert_int_equal(kg_tx_account_insert(tx, &dup, &err), 0);

	/* update: change, keep the rest */
	kg_account up = got;
	static const uint8_t secret[] = {1, 2, 0, 3};
	up.phone = "+81-90-1111-2222";
	up.totp_secret = secret;
	up.totp_secret_len = sizeof(secret);
	up.totp_enabled = true;
	up.updated_ms = 0;
	assert_int_equal(kg_tx_account_update(tx, &up, &err), 0);
	assert_int_equal(kg_tx_account_get(tx, "acc-1", &got, a, &err), 0);
	assert_string_equal(got.phone, "+81-90-1111-2222");
	assert_int_equal(got.totp_secret_len, 4);
	assert_memory_equal(got.totp_secret, secret, 4);
	assert_true(got.totp_enabled);
	assert_string_equal(got.email, "Hanako@Example.JP");
	up.email = "taro@EXAMPLE.jp";
	assert_int_equal(kg_tx_account_update(tx, &up, &err), KG_ECONFLICT);
	up.id = "ghost";
	up.email = "ghost@example.jp";
	assert_int_equal(kg_tx_account_update(tx, &up, &err), KG_ENOTFOUND);
}

static void search_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	static const struct { const char *id, *name, *email, *phone; } people[] = {
		{"acc-1", "Hanako Yamada", "hanako@example.jp", "0300000001"},
		{"acc-2", "Hanae Sato", "sato@example.jp", "0300000002"},
		{"acc-3", "Taro Suzuki", "taro@example.jp", "0300000003"},
		{"h%_x", "Percent Person", "pp@example.jp", NULL},
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(people); i++) {
		kg_account acc = {.id = people[i].id, .name = people[i].name,
				  .email = people[i].email, .phone = people[i].phone};
		assert_int_equal(kg_tx_account_insert(tx, &acc, &err), 0);
	}
	kg_account *r = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_account_search(tx, "hana", 0, a, &r, &n, &err), 0);
	assert_int_equal(n, 2); /* name prefix, ASCII case ignored */
	assert_string_equal(r[0].id, "acc-2"); /* "Hanae" < "Hanako" */
	assert_int_equal(kg_tx_account_search(tx, "TARO@example.jp", 0, a, &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].id, "acc-3");
	assert_int_equal(kg_tx_account_search(tx, "0300000002", 0, a, &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].name, "Hanae Sato");
	assert_int_equal(kg_tx_account_search(tx, "%", 0, a, &r, &n, &err), 0);
	assert_int_equal(n, 0); /* wildcards are literal */
	assert_int_equal(kg_tx_account_search(tx, "h%_x", 0, a, &r, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kg_tx_account_search(tx, "", 0, a, &r, &n, &err), KG_EINVAL);
	assert_int_equal(kg_tx_account_search(tx, "example", 1, a, &r, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kg_tx_account_search(tx, "t", 1, a, &r, &n, &err), 0);
	assert_int_equal(n, 1);
}

/* ---- cards and addresses -----------------------------------------------------*/
static void cards_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	assert_int_equal(kg_tx_account_insert(tx, &alice, &err), 0);
	kg_card c = {.account_id = "acc-1", .holder_name = "HANAKO YAMADA", .last4 = "4242",
		     .exp = "12/29", .fingerprint = "fp-1"};
	assert_int_equal(kg_tx_card_add(tx, &c, &err), 0);
	c.fingerprint = "fp-2";
	c.last4 = "1881";
	assert_int_equal(kg_tx_card_add(tx, &c, &err), 0);
	c.exp = "01/30"; /* same card again: replaced, not duplicated */
	assert_int_equal(kg_tx_card_add(tx, &c, &err), 0);

	kg_card bad = c;
	bad.last4 = "4242424242424242";
	assert_int_equal(kg_tx_card_add(tx, &bad, &err), KG_EINVAL);
	assert_string_equal(err.field, "card.last4");
	bad.last4 = "42a2";
	assert_int_equal(kg_tx_card_add(tx, &bad, &err), KG_EINVAL);
	bad.last4 = "4242";
	bad.exp = "13/29";
	assert_int_equal(kg_tx_card_add(tx, &bad, &err), KG_EINVAL);
	assert_string_equal(err.field, "card.exp");
	bad.exp = "12/2029";
	assert_int_equal(kg_tx_card_add(tx, &bad, &err), KG_EINVAL);
	bad.exp = "12/29";
	bad.account_id = "ghost";
	assert_int_equal(kg_tx_card_add(tx, &bad, &err), KG_ENOTFOUND);

	kg_card *cards = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_card_list(tx, "acc-1", a, &cards, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cards[1].card_id, "fp-2");
	assert_string_equal(cards[1].exp, "01/30");
	assert_string_equal(cards[0].last4, "4242");

	kg_account_address ad = {.account_id = "acc-1", .kind = "shipping",
				 .address = {"530-0001", "Osaka", "Kita", "2-2", NULL, "JP"}};
	assert_int_equal(kg_tx_address_add(tx, &ad, &err), 0);
	assert_int_equal(kg_tx_address_add(tx, &ad, &err), 0);
	kg_account_address *ads = NULL;
	assert_int_equal(kg_tx_address_list(tx, "acc-1", a, &ads, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ads[0].address.region, "Osaka");
	assert_string_not_equal(ads[0].address_id, ads[1].address_id);
}

/* ---- credentials and lists ------------------------------------------------*/
static void credentials_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	static const uint8_t h[32] = {9, 9, 9};
	kg_credential c = {.id = "key_1", .secret_hash = h, .secret_hash_len = sizeof(h),
			   .role = "admin", .label = "ops"};
	assert_int_equal(kg_tx_credential_insert(tx, &c, &err), 0);
	assert_int_equal(kg_tx_credential_insert(tx, &c, &err), KG_ECONFLICT);
	c.id = "key_2";
	c.role = "root";
	assert_int_equal(kg_tx_credential_insert(tx, &c, &err), KG_EINVAL);
	c.role = "customer";
	c.account_id = "acc-1";
	c.expires_ms = 5000;
	assert_int_equal(kg_tx_credential_insert(tx, &c, &err), 0);

	kg_credential got;
	assert_int_equal(kg_tx_credential_get(tx, "key_1", &got, a, &err), 0);
	assert_string_equal(got.role, "admin");
	assert_null(got.account_id);
	assert_int_equal(got.expires_ms, 0);
	assert_int_equal(got.revoked_ms, 0);
	assert_int_equal(got.secret_hash_len, 32);
	assert_memory_equal(got.secret_hash, h, 32);
	assert_int_equal(kg_tx_credential_get(tx, "key_2", &got, a, &err), 0);
	assert_string_equal(got.account_id, "acc-1");
	assert_int_equal(got.expires_ms, 5000);

	assert_int_equal(kg_tx_credential_revoke(tx, "key_1", 77, &err), 0);
	assert_int_equal(kg_tx_credential_revoke(tx, "key_1", 78, &err), KG_ECONFLICT);
	assert_int_equal(kg_tx_credential_revoke(tx, "key_9", 78, &err), KG_ENOTFOUND);
	assert_int_equal(kg_tx_credential_get(tx, "key_1", &got, a, &err), 0);
	assert_int_equal(got.revoked_ms, 77);
	assert_int_equal(kg_tx_credential_get(tx, "key_9", &got, a, &err), KG_ENOTFOUND);

	bool found = true;
	assert_int_equal(kg_tx_list_add(tx, "blocked_ip", "10.0.0.1", &err), 0);
	assert_int_equal(kg_tx_list_add(tx, "blocked_ip", "10.0.0.1", &err), 0);
	assert_int_equal(kg_tx_list_add(tx, "blocked_ip", "10.0.0.0", &err), 0);
	assert_int_equal(kg_tx_list_contains(tx, "blocked_ip", "10.0.0.1", &found, &err), 0);
	assert_true(found);
	assert_int_equal(kg_tx_list_contains(tx, "other", "10.0.0.1", &found, &err), 0);
	assert_false(found);
	const char **vals = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_list_values(tx, "blocked_ip", a, &vals, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(vals[0], "10.0.0.0");
	assert_int_equal(kg_tx_list_remove(tx, "blocked_ip", "10.0.0.0", &err), 0);
	assert_int_equal(kg_tx_list_remove(tx, "blocked_ip", "10.0.0.0", &err), KG_ENOTFOUND);
}

/* ---- events and features ---------------------------------------------------*/
static int count_event(const kg_event_rec *ev, void *ctx)
{
	int *n = ctx;
	assert_non_null(ev->body);
	(*n)++;
	return *n == 100 ? KG_ELIMIT : 0;
}

static void events_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_event_rec ev = {.account_id = "acc-1", .event_id = "ev-1", .type = "login",
			   .ts_ms = 1000, .body = "{\"id\":\"ev-1\"}",
			   .decision = "{\"action\":\"allow\"}"};
	assert_int_equal(kg_tx_event_insert(tx, &ev, &err), 0);
	assert_int_equal(kg_tx_event_insert(tx, &ev, &err), KG_ECONFLICT);
	ev.event_id = "ev-2";
	ev.ts_ms = 2000;
	assert_int_equal(kg_tx_event_insert(tx, &ev, &err), 0);
	ev.account_id = "acc-2";
	ev.ts_ms = 1500;
	assert_int_equal(kg_tx_event_insert(tx, &ev, &err), 0); /* same id, other account */

	kg_event_rec got;
	assert_int_equal(kg_tx_event_get(tx, "acc-1", "ev-1", &got, a, &err), 0);
	assert_string_equal(got.decision, "{\"action\":\"allow\"}");
	assert_int_equal(got.ts_ms, 1000);
	assert_int_equal(kg_tx_event_get(tx, "acc-1", "ev-9", &got, a, &err), KG_ENOTFOUND);

	int n = 0;
	assert_int_equal(kg_tx_event_scan(tx, NULL, 0, 0, count_event, &n, &err), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(kg_tx_event_scan(tx, "acc-1", 1500, 0, count_event, &n, &err), 0);
	assert_int_equal(n, 1);
	n = 99; /* the callback stops the scan: its code comes back */
	assert_int_equal(kg_tx_event_scan(tx, NULL, 0, 0, count_event, &n, &err), KG_ELIMIT);

	kg_event_rec *evs = NULL;
	size_t nev = 0;
	assert_int_equal(kg_tx_event_list(tx, "acc-1", 0, a, &evs, &nev, &err), 0);
	assert_int_equal(nev, 2);
	assert_string_equal(evs[0].event_id, "ev-2"); /* newest first */
	assert_string_equal(evs[1].decision, "{\"action\":\"allow\"}");
	assert_int_equal(kg_tx_event_list(tx, "acc-1", 1, a, &evs, &nev, &err), 0);
	assert_int_equal(nev, 1);

	const uint8_t *blob = NULL;
	size_t len = 0;
	int64_t at = 0;
	assert_int_equal(kg_tx_features_get(tx, "acc-1", a, &blob, &len, &at, &err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_features_put(tx, "acc-1", "\x01\x00\x02", 3, 42, &err), 0);
	assert_int_equal(kg_tx_features_get(tx, "acc-1", a, &blob, &len, &at, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(blob, "\x01\x00\x02", 3);
	assert_int_equal(at, 42);
	assert_int_equal(kg_tx_features_put(tx, "acc-1", "zz", 2, 43, &err), 0);
	assert_int_equal(kg_tx_features_get(tx, "acc-1", a, &blob, &len, &at, &err), 0);
	assert_int_equal(len, 2);
	assert_int_equal(at, 43);
}

/* ---- outbox and webhooks ------------------------------------------------------*/
static void outbox_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_outbox o = {.account_id = "acc-1", .id = "o1", .message_id = "<m1@shop.example>",
		       .rcpt = "hanako@example.jp", .subject = "s",
		       .mime = "Subject: s\r\n\r\nbody\r\n", .next_attempt_ms = 1000,
		       .created_ms = 1000};
	assert_int_equal(kg_tx_outbox_insert(tx, &o, &err), 0);
	o.id = "o2";
	o.next_attempt_ms = 5000;
	assert_int_equal(kg_tx_outbox_insert(tx, &o, &err), 0);

	kg_outbox *due = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_outbox_claim_due(tx, 2000, 60000, 10, a, &due, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(due[0].id, "o1");
	assert_int_equal(due[0].attempts, 1);
	assert_int_equal(due[0].mime_len, strlen(o.mime));
	assert_memory_equal(due[0].mime, o.mime, due[0].mime_len);
	/* leased: not due again until the lease ends */
	assert_int_equal(kg_tx_outbox_claim_due(tx, 3000, 60000, 10, a, &due, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kg_tx_outbox_claim_due(tx, 62000, 60000, 10, a, &due, &n, &err), 0);
	assert_int_equal(n, 2);

	assert_int_equal(kg_tx_outbox_mark_failed(tx, "acc-1", "o1", 70000, "421 busy", &err), 0);
	kg_outbox got;
	assert_int_equal(kg_tx_outbox_get(tx, "acc-1", "o1", &got, a, &err), 0);
	assert_string_equal(got.state, "pending");
	assert_string_equal(got.last_error, "421 busy");
	assert_int_equal(got.next_attempt_ms, 70000);
	assert_int_equal(got.attempts, 2);
	assert_int_equal(kg_tx_outbox_mark_delivered(tx, "acc-1", "o1", 71000, &err), 0);
	assert_int_equal(kg_tx_outbox_mark_delivered(tx, "acc-1", "o1", 71000, &err),
			 KG_ECONFLICT);
	assert_int_equal(kg_tx_outbox_mark_delivered(tx, "acc-1", "o9", 71000, &err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_outbox_mark_failed(tx, "acc-1", "o2", 0, "550 no user", &err), 0);
	assert_int_equal(kg_tx_outbox_get(tx, "acc-1", "o2", &got, a, &err), 0);
	assert_string_equal(got.state, "failed");
	assert_int_equal(kg_tx_outbox_claim_due(tx, 999999, 60000, 10, a, &due, &n, &err), 0);
	assert_int_equal(n, 0);
	kg_outbox *all = NULL;
	assert_int_equal(kg_tx_outbox_list(tx, "acc-1", 0, a, &all, &n, &err), 0);
	assert_int_equal(n, 2);

	kg_webhook w = {.account_id = "acc-1", .event = "lock.created", .body = "{}",
			.next_attempt_ms = 1};
	assert_int_equal(kg_tx_webhook_insert(tx, &w, &err), 0);
	kg_webhook *wd = NULL;
	assert_int_equal(kg_tx_webhook_claim_due(tx, 10, 100, 0, a, &wd, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(wd[0].attempts, 1);
	assert_int_equal(kg_tx_webhook_mark_failed(tx, "acc-1", wd[0].id, 500, "timeout", &err),
			 0);
	assert_int_equal(kg_tx_webhook_claim_due(tx, 400, 100, 0, a, &wd, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kg_tx_webhook_claim_due(tx, 500, 100, 0, a, &wd, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kg_tx_webhook_mark_delivered(tx, "acc-1", wd[0].id, 501, &err), 0);
}

/* The two kinds are one queue: the kind-taking calls act on the row of their
 * kind only, with the same states and answers; an unknown kind is refused. */
static void queue_kinds_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_outbox o = {.account_id = "acc-1", .id = "q1", .rcpt = "a@example.jp", .mime = "x"};
	kg_webhook w = {.account_id = "acc-1", .id = "q1", .event = "lock", .body = "{}"};
	assert_int_equal(kg_tx_outbox_insert(tx, &o, &err), 0);
	assert_int_equal(kg_tx_webhook_insert(tx, &w, &err), 0);
	/* the same id in both kinds: marking one leaves the other pending */
	assert_int_equal(kg_tx_queue_mark_delivered(tx, KG_QUEUE_WEBHOOK, "acc-1", "q1", 5, &err), 0);
	kg_outbox got;
	assert_int_equal(kg_tx_outbox_find(tx, "q1", &got, a, &err), 0);
	assert_string_equal(got.state, "pending");
	kg_webhook gw;
	assert_int_equal(kg_tx_webhook_find(tx, "q1", &gw, a, &err), 0);
	assert_string_equal(gw.state, "delivered");
	assert_int_equal(gw.delivered_ms, 5);
	assert_int_equal(kg_tx_queue_mark_delivered(tx, KG_QUEUE_WEBHOOK, "acc-1", "q1", 6, &err),
			 KG_ECONFLICT);
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_WEBHOOK, "q1", 7, &err), KG_ECONFLICT);
	assert_non_null(strstr(err.msg, "webhook retry"));
	/* failed for good, then retried by an operator: due again, attempts reset */
	assert_int_equal(kg_tx_queue_mark_failed(tx, KG_QUEUE_MAIL, "acc-1", "q1", 0, "550", &err), 0);
	assert_int_equal(kg_tx_outbox_find(tx, "q1", &got, a, &err), 0);
	assert_string_equal(got.state, "failed");
	assert_string_equal(got.last_error, "550");
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_MAIL, "q1", 9, &err), 0);
	assert_int_equal(kg_tx_outbox_find(tx, "q1", &got, a, &err), 0);
	assert_string_equal(got.state, "pending");
	assert_int_equal(got.next_attempt_ms, 9);
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_MAIL, "nope", 9, &err), KG_ENOTFOUND);
	assert_int_equal(kg_tx_queue_mark_failed(tx, (enum kg_queue_kind)7, "acc-1", "q1", 0, "x",
						 &err),
			 KG_EINVAL);
	assert_non_null(strstr(err.msg, "queue kind"));
}

/* ---- locks ----------------------------------------------------------------*/
static void locks_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_lock l = {.account_id = "acc-1", .lock_id = "l1", .reason = "gift_card",
		     .evidence = "{\"rule\":\"gift card day\"}", .created_ms = 1000};
	assert_int_equal(kg_tx_lock_insert(tx, &l, &err), 0);
	assert_int_equal(kg_tx_lock_insert(tx, &l, &err), KG_ECONFLICT);
	l.lock_id = "l2";
	l.reason = "brute_force";
	l.created_ms = 2000;
	l.expires_ms = 5000;
	assert_int_equal(kg_tx_lock_insert(tx, &l, &err), 0);
	l.lock_id = "l3";
	l.state = "bogus";
	assert_int_equal(kg_tx_lock_insert(tx, &l, &err), KG_EINVAL);

	kg_lock *ls = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_lock_list_active(tx, "acc-1", 3000, a, &ls, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].lock_id, "l1");
	assert_string_equal(ls[0].state, "active");
	assert_string_equal(ls[0].kind, "precaution");
	assert_int_equal(ls[0].expires_ms, 0);
	assert_int_equal(ls[1].expires_ms, 5000);
	assert_int_equal(kg_tx_lock_list_active(tx, "acc-1", 6000, a, &ls, &n, &err), 0);
	assert_int_equal(n, 1); /* l2 expired by time */

	int64_t count = 0;
	assert_int_equal(kg_tx_lock_count_since(tx, 1500, &count, &err), 0);
	assert_int_equal(count, 1);
	size_t tagged = 0;
	assert_int_equal(kg_tx_lock_tag_incident(tx, "inc-1", 0, 0, &tagged, &err), 0);
	assert_int_equal(tagged, 2);
	assert_int_equal(kg_tx_lock_list_incident(tx, "inc-1", a, &ls, &n, &err), 0);
	assert_int_equal(n, 2);

	assert_int_equal(kg_tx_lock_lift(tx, "acc-1", "l1", 3000, "agent:7", "agent", &err), 0);
	assert_int_equal(kg_tx_lock_lift(tx, "acc-1", "l1", 3001, "agent:7", "agent", &err),
			 KG_ECONFLICT);
	assert_int_equal(kg_tx_lock_lift(tx, "acc-1", "l9", 3001, "agent:7", "agent", &err),
			 KG_ENOTFOUND);
	kg_lock got;
	assert_int_equal(kg_tx_lock_get(tx, "acc-1", "l1", &got, a, &err), 0);
	assert_string_equal(got.state, "lifted");
	assert_string_equal(got.lifted_by, "agent:7");
	assert_int_equal(got.lifted_ms, 3000);
	assert_string_equal(got.incident_id, "inc-1");

	size_t expired = 0;
	assert_int_equal(kg_tx_lock_expire_due(tx, 6000, &expired, &err), 0);
	assert_int_equal(expired, 1);
	assert_int_equal(kg_tx_lock_get(tx, "acc-1", "l2", &got, a, &err), 0);
	assert_string_equal(got.state, "expired");
	assert_int_equal(kg_tx_lock_list(tx, "acc-1", 0, a, &ls, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].lock_id, "l2"); /* newest first */
	assert_int_equal(kg_tx_lock_list(tx, "acc-1", 1, a, &ls, &n, &err), 0);
	assert_int_equal(n, 1);

	assert_int_equal(kg_tx_lock_list_recent(tx, NULL, 0, 0, a, &ls, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].lock_id, "l2");
	assert_int_equal(kg_tx_lock_list_recent(tx, "lifted", 0, 0, a, &ls, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kg_tx_lock_list_recent(tx, NULL, 1500, 0, a, &ls, &n, &err), 0);
	assert_int_equal(n, 1);
	int64_t counts[4] = {9, 9, 9, 9};
	assert_int_equal(kg_tx_lock_counts(tx, 0, 1000, 4, counts, &err), 0);
	assert_int_equal(counts[0], 0);
	assert_int_equal(counts[1], 1); /* l1 at 1000 */
	assert_int_equal(counts[2], 1); /* l2 at 2000 */
	assert_int_equal(counts[3], 0);
	assert_int_equal(kg_tx_lock_counts(tx, 0, 0, 4, counts, &err), KG_EINVAL);

	l.lock_id = NULL; /* the store makes an id */
	l.state = NULL;
	assert_int_equal(kg_tx_lock_insert(tx, &l, &err), 0);
	assert_int_equal(kg_tx_lock_list(tx, "acc-1", 0, a, &ls, &n, &err), 0);
	assert_int_equal(n, 3);
}

static void incidents_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_incident inc = {.id = "inc-1", .kind = "lock_wave", .state = "open",
			   .summary = "120 locks in 60 s", .detail = "{\"locks\":120}",
			   .started_ms = 1000, .detected_ms = 1500};
	assert_int_equal(kg_tx_incident_insert(tx, &inc, &err), 0);
	assert_int_equal(kg_tx_incident_insert(tx, &inc, &err), KG_ECONFLICT);
	inc.id = "inc-2";
	inc.started_ms = 5000;
	inc.state = "closed";
	assert_int_equal(kg_tx_incident_insert(tx, &inc, &err), 0);
	inc.id = NULL;
	assert_int_equal(kg_tx_incident_insert(tx, &inc, &err), KG_EINVAL);

	kg_incident got;
	assert_int_equal(kg_tx_incident_get(tx, "inc-1", &got, a, &err), 0);
	assert_string_equal(got.kind, "lock_wave");
	assert_int_equal(got.detected_ms, 1500);
	assert_int_equal(got.resolved_ms, 0);
	got.state = "reverted";
	got.resolved_ms = 9000;
	got.resolved_by = "admin:1";
	got.updated_ms = 0;
	assert_int_equal(kg_tx_incident_update(tx, &got, &err), 0);
	assert_int_equal(kg_tx_incident_get(tx, "inc-1", &got, a, &err), 0);
	assert_string_equal(got.state, "reverted");
	assert_string_equal(got.resolved_by, "admin:1");
	assert_int_equal(got.resolved_ms, 9000);
	got.id = "inc-9";
	assert_int_equal(kg_tx_incident_update(tx, &got, &err), KG_ENOTFOUND);
	assert_int_equal(kg_tx_incident_get(tx, "inc-9", &got, a, &err), KG_ENOTFOUND);

	kg_incident *list = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_incident_list(tx, NULL, 0, a, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "inc-2"); /* newest first */
	assert_int_equal(kg_tx_incident_list(tx, "reverted", 0, a, &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "inc-1");
}

/* ---- messages ---------------------------------------------------------------*/
static void messages_body(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_message m = {.account_id = "acc-1", .id = "m1", .kind = "lock_notice",
			.lang = "ja", .subject = "アカウントロックに関するお知らせ",
			.body_text = "ロックされました", .message_id = "<m1@shop.example>",
			.fingerprint = "fp-a", .created_ms = 1000};
	assert_int_equal(kg_tx_message_insert(tx, &m, &err), 0);
	m.id = "m2";
	assert_int_equal(kg_tx_message_insert(tx, &m, &err), KG_ECONFLICT); /* Message-ID */
	m.message_id = "<m2@shop.example>";
	m.created_ms = 2000;
	m.kind = "unlock_notice";
	assert_int_equal(kg_tx_message_insert(tx, &m, &err), 0);
	m.account_id = "acc-2";
	m.id = NULL;
	m.message_id = NULL;
	m.fingerprint = "fp-b";
	assert_int_equal(kg_tx_message_insert(tx, &m, &err), 0);

	kg_message *ms = NULL;
	size_t n = 0;
	assert_int_equal(kg_tx_message_list(tx, "acc-1", 0, a, &ms, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ms[0].id, "m2");
	assert_string_equal(ms[1].subject, "アカウントロックに関するお知らせ");
	kg_message got;
	assert_int_equal(kg_tx_message_find_by_message_id(tx, "<m1@shop.example>", &got, a, &err),
			 0);
	assert_string_equal(got.id, "m1");
	assert_int_equal(kg_tx_message_find_by_message_id(tx, "<x@evil.example>", &got, a, &err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_message_find_by_fingerprint(tx, NULL, "fp-a", &got, a, &err), 0);
	assert_string_equal(got.id, "m2"); /* newest */
	assert_int_equal(kg_tx_message_find_by_fingerprint(tx, "acc-2", "fp-a", &got, a, &err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_message_get(tx, "acc-1", "m1", &got, a, &err), 0);
	assert_string_equal(got.kind, "lock_notice");
	assert_null(got.body_html);
}

/* ---- jobs: the same checks as store jobs (test_store.c on SQLite,
 * test_store_pg.c on PostgreSQL) ------------------------------------------ */
/* Inside a store job (on the writer thread) cmocka's asserts cannot be
 * used: a failed check rolls the job back with the line in err. */
#ifndef CHECK
#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond))                                                            \
			return kg_err_set(err, KG_EINTERNAL, "line %d: %s", __LINE__, #cond); \
	} while (0)
#endif

static int checks_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	int64_t n = 0;
	/* counters: fixed windows */
	CHECK((kg_tx_counter_hit(tx, "acc", "login_fail", "1.2.3.4", 1000, 10000, &n, err)) == (0));
	CHECK((n) == (1));
	CHECK((kg_tx_counter_hit(tx, "acc", "login_fail", "1.2.3.4", 1000, 10500, &n, err)) == (0));
	CHECK((n) == (2));
	CHECK((kg_tx_counter_hit(tx, "acc", "login_fail", "5.6.7.8", 1000, 10500, &n, err)) == (0));
	CHECK((n) == (1)); /* per IP */
	CHECK((kg_tx_counter_get(tx, "acc", "login_fail", "1.2.3.4", 1000, 10999, &n, err)) == (0));
	CHECK((n) == (2));
	CHECK((kg_tx_counter_get(tx, "acc", "login_fail", "1.2.3.4", 1000, 11000, &n, err)) == (0));
	CHECK((n) == (0)); /* the window passed */
	CHECK((kg_tx_counter_hit(tx, "acc", "login_fail", "1.2.3.4", 1000, 11000, &n, err)) == (0));
	CHECK((n) == (1));
	CHECK((kg_tx_counter_get(tx, "acc", "totp_fail", "1.2.3.4", 1000, 11000, &n, err)) == (0));
	CHECK((n) == (0)); /* per kind */
	CHECK((kg_tx_counter_reset(tx, "acc", "login_fail", "1.2.3.4", err)) == (0));
	CHECK((kg_tx_counter_get(tx, "acc", "login_fail", "1.2.3.4", 1000, 11000, &n, err)) == (0));
	CHECK((n) == (0));
	/* codes */
	kg_code_rec c = {"acc", "password_reset", "$argon2id$x", 5000, 5, 1000}, got;
	CHECK((kg_tx_code_put(tx, &c, err)) == (0));
	CHECK((kg_tx_code_set_attempts(tx, "acc", "password_reset", 3, err)) == (0));
	CHECK((kg_tx_code_get(tx, "acc", "password_reset", &got, &a, err)) == (0));
	CHECK(!strcmp(got.code_hash, "$argon2id$x"));
	CHECK((got.attempts_left) == (3));
	CHECK((got.expires_ms) == (5000));
	CHECK((kg_tx_code_delete(tx, "acc", "password_reset", err)) == (0));
	CHECK((kg_tx_code_get(tx, "acc", "password_reset", &got, &a, err)) == (KG_ENOTFOUND));
	CHECK((kg_tx_code_set_attempts(tx, "acc", "password_reset", 1, err)) == (KG_ENOTFOUND));
	/* identity state */
	kg_identity_state st = {"acc", 2, 0, NULL, 0, 0}, is;
	CHECK((kg_tx_identity_get(tx, "acc", &is, &a, err)) == (KG_ENOTFOUND));
	CHECK((kg_tx_identity_put(tx, &st, err)) == (0));
	st.passed_by = "agent1";
	st.pass_until_ms = 9000;
	st.failures = 0;
	CHECK((kg_tx_identity_put(tx, &st, err)) == (0));
	CHECK((kg_tx_identity_get(tx, "acc", &is, &a, err)) == (0));
	CHECK(!strcmp(is.passed_by, "agent1"));
	CHECK((is.pass_until_ms) == (9000));
	CHECK((is.blocked_until_ms) == (0));
	kg_err_clear(err);
	kg_arena_release(&a);
	return 0;
}

static int cases_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	const char *ids[] = {"cs_1", "cs_2", "cs_3"};
	for (int i = 0; i < 3; i++) {
		kg_case c = {.account_id = i == 2 ? "acc-b" : "acc-a", .case_id = ids[i], .state = "open",
			     .body = "help", .contact = "ticket", .created_ms = 1000 + i, .updated_ms = 1000 + i};
		CHECK((kg_tx_case_insert(tx, &c, err)) == (0));
	}
	int64_t pos = 0, seq = 0;
	CHECK((kg_tx_case_queue_position(tx, "acc-b", "cs_3", &pos, err)) == (0));
	CHECK((pos) == (3));
	CHECK((kg_tx_case_update(tx, "acc-a", "cs_1", "resolved", "agent1", 61000, err)) == (0));
	CHECK((kg_tx_case_queue_position(tx, "acc-b", "cs_3", &pos, err)) == (0));
	CHECK((pos) == (2));
	CHECK((kg_tx_case_queue_position(tx, "acc-a", "cs_1", &pos, err)) == (0));
	CHECK((pos) == (0)); /* resolved: not waiting */
	int64_t mean = 0;
	size_t n = 0;
	CHECK((kg_tx_case_handling_time(tx, 20, &mean, &n, err)) == (0));
	CHECK((n) == (1));
	CHECK((mean) == (60000));
	kg_case_event ev = {0, 2000, "agent:1", "in_review", "looking"};
	CHECK((kg_tx_case_history_append(tx, "acc-b", "cs_3", &ev, &seq, err)) == (0));
	CHECK((seq) == (1));
	CHECK((kg_tx_case_history_append(tx, "acc-b", "cs_3", &ev, &seq, err)) == (0));
	CHECK((seq) == (2));
	kg_case_event *h = NULL;
	CHECK((kg_tx_case_history_list(tx, "acc-b", "cs_3", &a, &h, &n, err)) == (0));
	CHECK((n) == (2));
	CHECK(!strcmp(h[1].note, "looking"));
	kg_case_document d = {.account_id = "acc-b", .case_id = "cs_3", .name = "id.png",
			      .content_type = "image/png", .bytes = (const uint8_t *)"PNGDATA", .len = 7};
	d.sha256[0] = 0xab;
	CHECK((kg_tx_case_document_add(tx, &d, err)) == (0));
	kg_case_document *docs = NULL;
	CHECK((kg_tx_case_document_list(tx, "acc-b", "cs_3", &a, &docs, &n, err)) == (0));
	CHECK((n) == (1));
	CHECK((docs[0].len) == (7));
	CHECK((docs[0].sha256[0]) == (0xab));
	CHECK((docs[0].bytes) == NULL);
	kg_case_document one;
	CHECK((kg_tx_case_document_get(tx, "acc-b", "cs_3", docs[0].doc_id, &one, &a, err)) == (0));
	CHECK((one.len) == (7) && !memcmp(one.bytes, "PNGDATA", 7));
	CHECK(!strcmp(one.name, "id.png") && !strcmp(one.content_type, "image/png"));
	CHECK((one.sha256[0]) == (0xab));
	CHECK((kg_tx_case_document_get(tx, "acc-a", "cs_3", docs[0].doc_id, &one, &a, err)) == (KG_ENOTFOUND));
	CHECK((kg_tx_case_document_get(tx, "acc-b", "cs_3", "doc_nope", &one, &a, err)) == (KG_ENOTFOUND));
	CHECK(!strcmp(err->field, "doc"));
	kg_case got;
	CHECK((kg_tx_case_get(tx, "cs_1", &got, &a, err)) == (0));
	CHECK(!strcmp(got.state, "resolved"));
	CHECK(!strcmp(got.assignee, "agent1"));
	CHECK((kg_tx_case_get(tx, "cs_9", &got, &a, err)) == (KG_ENOTFOUND));
	kg_case *list = NULL;
	CHECK((kg_tx_case_list(tx, NULL, "open", 0, &a, &list, &n, err)) == (0));
	CHECK((n) == (2)); /* cs_2, cs_3 */
	CHECK((kg_tx_case_list(tx, "acc-a", NULL, 0, &a, &list, &n, err)) == (0));
	CHECK((n) == (2));
	kg_err_clear(err);
	kg_arena_release(&a);
	return 0;
}

#endif
