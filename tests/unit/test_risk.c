/* Unit tests of src/risk: the feature blob (round trip, every truncation and
 * corruption refused), same() and the address entity over the shared cases
 * (tests/data/normalize/cases.tsv), policy reference counting, the rules'
 * content hashes (tests/data/rules/rule_hash.tsv) and pending rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize_cases.h"
#include "risk/entity.h"
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

/* The rules' users of the one equality, per row of the shared cases file:
 * same() in a decided order (text: the card holder against the order id;
 * address: shipping against billing), and for addresses the entity key of
 * two orders shipped to a and to b. */
struct rules_users {
	kg_risk *r;
	kg_event_parser *p;
};

static void put_addr(kg_buf *j, const char *field, const kg_addr_text *a)
{
	kg_buf_printf(j, ",\"%s\":{\"postal_code\":", field);
	kg_buf_json_str(j, a->postal_code.p, a->postal_code.n);
	kg_buf_puts(j, ",\"region\":");
	kg_buf_json_str(j, a->region.p, a->region.n);
	kg_buf_puts(j, ",\"city\":");
	kg_buf_json_str(j, a->city.p, a->city.n);
	kg_buf_puts(j, ",\"line1\":");
	kg_buf_json_str(j, a->line1.p, a->line1.n);
	if (a->line2.n) {
		kg_buf_puts(j, ",\"line2\":");
		kg_buf_json_str(j, a->line2.p, a->line2.n);
	}
	kg_buf_puts(j, ",\"country\":\"JP\"}");
}

static void order_json(kg_buf *j, int line, const char *holder, const char *order_id,
		       const kg_addr_text *ship, const kg_addr_text *bill)
{
	kg_buf_reset(j);
	kg_buf_printf(j, "{\"id\":\"n%d\",\"type\":\"order\",\"account\":\"a%d\","
		      "\"ts\":\"2026-01-03T01:00:00Z\",\"order_id\":", line, line);
	kg_buf_json_str(j, order_id, strlen(order_id));
	kg_buf_puts(j, ",\"amount\":100,\"currency\":\"JPY\",\"items\":[{\"sku\":\"b\",\"category\":\"books\","
		       "\"price\":100,\"qty\":1}],\"card\":{\"holder_name\":");
	kg_buf_json_str(j, holder, strlen(holder));
	kg_buf_puts(j, ",\"last4\":\"1234\",\"exp\":\"01/30\",\"fingerprint\":\"f\"}");
	put_addr(j, "shipping_address", ship);
	put_addr(j, "billing_address", bill);
	kg_buf_puts(j, ",\"seller_ids\":[\"s1\"]}");
}

static bool entity_key_of(struct rules_users *u, const kg_buf *json, uint64_t *key)
{
	const kg_event *ev = NULL;
	kg_err err;
	kg_buf norm = KG_BUF_INIT(1 << 16);
	bool ok = !kg_event_parse(u->p, json->data, json->len, &ev, &err) &&
		  kg_entity_key(ev, KG_ENT_ADDRESS, &norm, NULL, key);
	kg_buf_release(&norm);
	return ok;
}

static bool rules_same(const struct norm_case *c, void *ctx)
{
	struct rules_users *u = ctx;
	/* the other rule must not fire: some and other differ, T and o too */
	static const kg_addr_text some = {{"1", 1}, {"r", 1}, {"c", 1}, {"l", 1}, {"", 0}, {"JP", 2}};
	static const kg_addr_text other = {{"2", 1}, {"r", 1}, {"c", 1}, {"l", 1}, {"", 0}, {"JP", 2}};
	kg_buf j = KG_BUF_INIT(1 << 16);
	if (c->address)
		order_json(&j, c->line, "T", "o", &c->aa, &c->ab);
	else
		order_json(&j, c->line, c->a, c->b, &some, &other);
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	kg_err err;
	int rc = kg_risk_decide(u->r, j.data, j.len, &a, &d, &err);
	if (rc)
		fprintf(stderr, "line %d: %s\n", c->line, err.msg);
	bool same = !rc && d.score == 1;
	kg_arena_release(&a);
	if (c->address) { /* the entity: one key exactly when same() says so */
		uint64_t ka = 0, kb = 0;
		order_json(&j, c->line, "T", "o", &c->aa, &some);
		bool oka = entity_key_of(u, &j, &ka);
		order_json(&j, c->line, "T", "o", &c->ab, &some);
		bool okb = entity_key_of(u, &j, &kb);
		if (!oka || !okb || (ka == kb) != same) {
			fprintf(stderr, "line %d: the address entity's key disagrees with same()\n", c->line);
			same = !c->same; /* counted as wrong */
		}
	}
	kg_buf_release(&j);
	return same;
}

static void same_in_rules_and_entities(void **state)
{
	(void)state;
	const char *text = "rule text_same on order { when same(card.holder_name, order_id) points 1 }\n"
			   "rule addr_same on order { when same(shipping_address, billing_address) points 1 }\n";
	kg_policy *pol = NULL;
	kg_err err;
	assert_int_equal(kg_policy_compile(text, strlen(text), "same.rules", &pol, &err), 0);
	struct rules_users u = {NULL, kg_event_parser_new()};
	assert_non_null(u.p);
	assert_int_equal(kg_risk_new(pol, NULL, &u.r, &err), 0);
	assert_int_equal(norm_cases_run(rules_same, &u, "rules same()"), 0);
	kg_risk_free(u.r);
	kg_event_parser_free(u.p);
	kg_policy_unref(pol);
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

/* "\n" and "\t" in a TSV field as a newline and a tab, in place. */
static void unescape(char *s)
{
	char *w = s;
	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == 'n' || s[1] == 't'))
			*w++ = s[1] == 'n' ? '\n' : '\t', s++;
		else
			*w++ = *s;
	}
	*w = '\0';
}

static void rule_hash_of(const char *text, char out[17])
{
	kg_policy *p = NULL;
	kg_err err;
	kg_err_clear(&err);
	if (kg_policy_compile(text, strlen(text), "case", &p, &err))
		fail_msg("does not compile: %s: %s", err.msg, text);
	struct kg_policy_rule_info info[4];
	assert_int_equal(kg_policy_rules(p, info, 4), 1);
	snprintf(out, 17, "%s", info[0].hash);
	kg_policy_unref(p);
}

/* tests/data/rules/rule_hash.tsv: comments and white space are no change
 * of a rule; a threshold, an action, shadow, the types, a string are. */
static void rule_hash_cases(void **state)
{
	(void)state;
	char path[1024], line[4096];
	const char *dir = getenv("KG_TEST_DATA");
	snprintf(path, sizeof(path), "%s/rules/rule_hash.tsv", dir ? dir : "tests/data");
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int rows = 0, bad = 0, n = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *a = strchr(line, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;
		assert_non_null(b);
		*a++ = '\0', *b++ = '\0';
		unescape(a);
		unescape(b);
		char ha[17], hb[17];
		rule_hash_of(a, ha);
		rule_hash_of(b, hb);
		bool same = !strcmp(ha, hb);
		if (same != !strcmp(line, "same")) {
			fprintf(stderr, "%s:%d: expected %s\n", path, n, line);
			bad++;
		}
		rows++;
	}
	fclose(f);
	assert_true(rows >= 8);
	assert_int_equal(bad, 0);
}

/* A pending rule (kg_policy_gated) fires only as a shadow hit marked
 * pending: no points, no action, no lock; the policy's version says so. */
static void gated_rule_only_shadows(void **state)
{
	(void)state;
	static const char text[] = "rule big on order {\n when amount >= 50000\n lock gift_card\n}\n"
				   "rule pts on order {\n when amount >= 50000\n points 90\n}\n"
				   "score >= 80 hold\n";
	kg_policy *p = NULL, *g = NULL;
	kg_err err;
	kg_err_clear(&err);
	assert_int_equal(kg_policy_compile(text, strlen(text), "gate", &p, &err), 0);
	const char *pending[] = {"big", "pts", "not_a_rule"};
	assert_int_equal(kg_policy_gated(p, pending, 3, &g, &err), 0);
	assert_int_equal(kg_policy_pending_count(g), 2);
	assert_string_not_equal(kg_policy_version(g), kg_policy_version(p));
	struct kg_policy_rule_info info[4];
	assert_int_equal(kg_policy_rules(g, info, 4), 2);
	assert_true(info[0].pending && info[1].pending && !info[0].shadow);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(g, NULL, &r, &err), 0);
	kg_buf out = KG_BUF_INIT(1 << 20);
	assert_int_equal(decide_text(r, events[3], strlen(events[3]), &out, &err), 0);
	kg_buf_putc(&out, '\0');
	assert_non_null(strstr(out.data, "\"action\":\"allow\",\"score\":0,\"reasons\":[]"));
	assert_non_null(strstr(out.data, "{\"rule\":\"big\",\"action\":\"lock\""));
	assert_non_null(strstr(out.data, "\"pending\":true"));
	assert_null(strstr(out.data, "\"lock\":{"));
	kg_buf_release(&out);
	kg_risk_free(r);
	/* nothing pending: the text's own version, and the rules act */
	kg_policy_unref(g);
	assert_int_equal(kg_policy_gated(p, NULL, 0, &g, &err), 0);
	assert_string_equal(kg_policy_version(g), kg_policy_version(p));
	assert_int_equal(kg_risk_new(g, NULL, &r, &err), 0);
	kg_buf out2 = KG_BUF_INIT(1 << 20);
	assert_int_equal(decide_text(r, events[3], strlen(events[3]), &out2, &err), 0);
	kg_buf_putc(&out2, '\0');
	assert_non_null(strstr(out2.data, "\"action\":\"lock\""));
	kg_buf_release(&out2);
	kg_risk_free(r);
	kg_policy_unref(g);
	kg_policy_unref(p);
}

/* A login of account acct from ip 198.51.100.7 on device dev at minute m. */
static const char *login_of(char *buf, size_t n, const char *acct, bool ok, const char *dev, int m)
{
	snprintf(buf, n,
		 "{\"id\":\"%s-%d\",\"type\":\"login\",\"account\":\"%s\",\"success\":%s,"
		 "\"ip\":\"198.51.100.7\",\"device_id\":\"%s\",\"ts\":\"2026-03-01T10:%02d:00Z\"}",
		 acct, m, acct, ok ? "true" : "false", dev, m);
	return buf;
}

static size_t entities_of(kg_risk *r)
{
	struct kg_risk_stats st;
	kg_risk_stats(r, &st);
	return st.entities;
}

/* Entity state is kept only for the streams some rule reads - live,
 * shadow or pending alike (docs/rules.md, "Entities"): with one rule on an
 * IP's failed logins, a successful login makes no entity (in memory) and
 * still reads the IP's count, a failed one keeps its IP's, no device is
 * kept; a pending rule on devices has them kept. The policy's mask says
 * which streams of each kind. */
static void entity_state_only_what_rules_read(void **state)
{
	(void)state;
	static const char text[] = "rule stuff on login {\n"
				   " when distinct_accounts(ip, logins.failed, 1h) >= 2\n challenge\n}\n"
				   "rule dev on login, password_change {\n"
				   " when distinct_accounts(device, events, 1d) >= 2\n hold\n}\n";
	kg_policy *p = NULL, *g = NULL;
	kg_err err;
	kg_err_clear(&err);
	/* the first rule alone */
	size_t first = (size_t)(strstr(text, "rule dev") - text);
	assert_int_equal(kg_policy_compile(text, first, "ent", &p, &err), 0);
	assert_int_equal(kg_policy_entity_streams(p)[KG_ENT_IP], 1u << KG_ES_LOGINS_FAILED);
	assert_int_equal(kg_policy_entity_streams(p)[KG_ENT_DEVICE], 0);
	assert_int_equal(kg_policy_entity_streams(p)[KG_ENT_CARD], 0);
	assert_int_equal(kg_policy_entity_streams(p)[KG_ENT_ADDRESS], 0);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(p, NULL, &r, &err), 0);
	char ev[512];
	kg_buf out = KG_BUF_INIT(1 << 16);
	const struct {
		const char *acct;
		bool ok;
		size_t entities;
		const char *action;
	} steps[] = {
		{"a", true, 0, "allow"},      /* read, not there: nothing made */
		{"a", false, 1, "allow"},     /* the IP's failed logins: 1 account */
		{"b", false, 1, "challenge"}, /* 2 accounts */
		{"c", true, 1, "challenge"},  /* a success reads them */
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		login_of(ev, sizeof(ev), steps[i].acct, steps[i].ok, steps[i].acct, (int)i);
		kg_buf_reset(&out);
		assert_int_equal(decide_text(r, ev, strlen(ev), &out, &err), 0);
		kg_buf_putc(&out, '\0');
		char want[64];
		snprintf(want, sizeof(want), "\"action\":\"%s\"", steps[i].action);
		if (!strstr(out.data, want) || entities_of(r) != steps[i].entities)
			fail_msg("step %zu: %zu entities, %s", i, entities_of(r), out.data);
	}
	kg_risk_free(r);
	kg_policy_unref(p);
	/* both rules, the device's pending: its events are kept (and counted
	 * as a shadow hit) */
	assert_int_equal(kg_policy_compile(text, strlen(text), "ent", &p, &err), 0);
	const char *pending[] = {"dev"};
	assert_int_equal(kg_policy_gated(p, pending, 1, &g, &err), 0);
	assert_int_equal(kg_policy_entity_streams(g)[KG_ENT_DEVICE], 1u << KG_ES_EVENTS);
	assert_int_equal(kg_risk_new(g, NULL, &r, &err), 0);
	for (int i = 0; i < 2; i++) {
		login_of(ev, sizeof(ev), i ? "b" : "a", true, "shared-device", i);
		kg_buf_reset(&out);
		assert_int_equal(decide_text(r, ev, strlen(ev), &out, &err), 0);
	}
	kg_buf_putc(&out, '\0');
	assert_int_equal(entities_of(r), 1); /* the device; the IP never failed */
	assert_non_null(strstr(out.data, "{\"rule\":\"dev\",\"action\":\"hold\""));
	assert_non_null(strstr(out.data, "\"pending\":true"));
	assert_non_null(strstr(out.data, "\"action\":\"allow\""));
	kg_buf_release(&out);
	kg_risk_free(r);
	kg_policy_unref(g);
	kg_policy_unref(p);
}

/* A set's entries move from the set itself (one account) to the heap (two
 * and more) and saturate at the cap; a dropped entity's record is reused
 * for another one, which starts empty; counts survive a save and load. */
static void entity_sets_grow_and_records_reuse(void **state)
{
	(void)state;
	kg_entities *t;
	assert_int_equal(kg_entities_new(&t), 0);
	kg_buf norm = KG_BUF_INIT(1 << 16);
	struct kg_entity_view *view = calloc(1, sizeof(*view));
	assert_non_null(view);
	kg_err err;
	const kg_entity_keep all = {3, 3, 1, 5}; /* every stream of each kind */
	uint64_t key = kg_entity_key_of(KG_ENT_IP, "203.0.113.9", 11);
	for (int a = 0; a < KG_ENTITY_ACCTS_CAP + 6; a++) {
		kg_event ev = {.type = KG_EV_LOGIN, .success = false, .ts_ms = 1700000000000 + a * 1000,
			       .ip = {"203.0.113.9", 11}};
		assert_int_equal(kg_entities_observe(t, &ev, 1000 + (uint64_t)a, all, &norm, NULL,
						     NULL, NULL, view, &err), 0);
		uint32_t want = a + 1 < KG_ENTITY_ACCTS_CAP ? (uint32_t)a + 1 : KG_ENTITY_ACCTS_CAP;
		assert_int_equal(kg_entities_count(t, KG_ENT_IP, key, KG_ES_EVENTS), want);
		assert_int_equal(kg_entities_count(t, KG_ENT_IP, key, KG_ES_LOGINS_FAILED), want);
		assert_int_equal(view->n[KG_ENT_IP][KG_ES_EVENTS], want);
		/* the view's times ascend, the last one this event's */
		assert_int_equal(view->last[KG_ENT_IP][KG_ES_EVENTS][want - 1],
				 (uint32_t)(1700000000 + a));
	}
	assert_int_equal(kg_entities_roundtrip(t, &err), 0);
	assert_int_equal(kg_entities_count(t, KG_ENT_IP, key, KG_ES_EVENTS), KG_ENTITY_ACCTS_CAP);
	/* many entities of one account each (past one slab), then all dropped
	 * and met again: each starts from nothing */
	char ip[32];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 300; i++) {
			snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
			kg_event ev = {.type = KG_EV_LOGIN, .success = true, .ts_ms = 1700000000000,
				       .ip = {ip, (uint32_t)strlen(ip)}};
			assert_int_equal(kg_entities_observe(t, &ev, 7 + (uint64_t)round, all, &norm,
							     NULL, NULL, NULL, view, &err), 0);
			uint64_t k = kg_entity_key_of(KG_ENT_IP, ip, strlen(ip));
			assert_int_equal(kg_entities_count(t, KG_ENT_IP, k, KG_ES_EVENTS), 1);
			assert_int_equal(kg_entities_count(t, KG_ENT_IP, k, KG_ES_LOGINS_FAILED), 0);
		}
		for (int i = 0; i < 300; i++) {
			snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
			uint64_t k = kg_entity_key_of(KG_ENT_IP, ip, strlen(ip));
			kg_entities_drop(t, KG_ENT_IP, k);
			assert_int_equal(kg_entities_count(t, KG_ENT_IP, k, KG_ES_EVENTS), 0);
		}
	}
	size_t n, mem, blob;
	kg_entities_stats(t, &n, &mem, &blob);
	assert_int_equal(n, 1); /* the hot IP */
	free(view);
	kg_buf_release(&norm);
	kg_entities_free(t);
}

/* Many entities in each stripe's table (it grows several times), a third
 * of them dropped in another order than they came: every other one is
 * still found with its account, the dropped ones are not, and one met
 * again starts from nothing; a key is found only as its own kind. */
static void entity_table_finds_all_after_drops(void **state)
{
	(void)state;
	kg_entities *t;
	assert_int_equal(kg_entities_new(&t), 0);
	kg_buf norm = KG_BUF_INIT(1 << 16);
	struct kg_entity_view *view = calloc(1, sizeof(*view));
	assert_non_null(view);
	kg_err err;
	const kg_entity_keep all = {3, 3, 1, 5};
	enum { N = 20000 };
	char ip[32];
	for (int i = 0; i < N; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
		kg_event ev = {.type = KG_EV_LOGIN, .success = false, .ts_ms = 1700000000000,
			       .ip = {ip, (uint32_t)strlen(ip)}};
		assert_int_equal(kg_entities_observe(t, &ev, 1 + (uint64_t)i, all, &norm, NULL, NULL,
						     NULL, view, &err), 0);
	}
	for (int i = N - 1; i >= 0; i--)
		if (i % 3 == 0) {
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
			kg_entities_drop(t, KG_ENT_IP, kg_entity_key_of(KG_ENT_IP, ip, strlen(ip)));
		}
	for (int i = 0; i < N; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
		uint64_t k = kg_entity_key_of(KG_ENT_IP, ip, strlen(ip));
		assert_int_equal(kg_entities_count(t, KG_ENT_IP, k, KG_ES_LOGINS_FAILED),
				 i % 3 ? 1u : 0u);
		assert_int_equal(kg_entities_count(t, KG_ENT_DEVICE, k, KG_ES_EVENTS), 0);
	}
	size_t n, mem, blob;
	kg_entities_stats(t, &n, &mem, &blob);
	assert_int_equal(n, N - (N + 2) / 3);
	snprintf(ip, sizeof(ip), "10.0.0.3");
	kg_event ev = {.type = KG_EV_LOGIN, .success = true, .ts_ms = 1700000000000,
		       .ip = {ip, (uint32_t)strlen(ip)}};
	assert_int_equal(kg_entities_observe(t, &ev, 99, all, &norm, NULL, NULL, NULL, view, &err),
			 0);
	uint64_t k3 = kg_entity_key_of(KG_ENT_IP, ip, strlen(ip));
	assert_int_equal(kg_entities_count(t, KG_ENT_IP, k3, KG_ES_EVENTS), 1);
	assert_int_equal(kg_entities_count(t, KG_ENT_IP, k3, KG_ES_LOGINS_FAILED), 0);
	free(view);
	kg_buf_release(&norm);
	kg_entities_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_truncations_refused),
		cmocka_unit_test(blob_of_history_round_trips),
		cmocka_unit_test(hash_seed2_is_two_seeded_hashes),
		cmocka_unit_test(same_in_rules_and_entities),
		cmocka_unit_test(policy_refcount_survives_swap),
		cmocka_unit_test(rule_hash_cases),
		cmocka_unit_test(gated_rule_only_shadows),
		cmocka_unit_test(entity_state_only_what_rules_read),
		cmocka_unit_test(entity_sets_grow_and_records_reuse),
		cmocka_unit_test(entity_table_finds_all_after_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
