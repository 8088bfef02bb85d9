/* Unit test of entity state under concurrent callers: threads decide
 * failed logins of different accounts from one IP (one account shared by
 * all threads too), in memory and on a real SQLite store; the IP's count
 * of distinct accounts then equals that of the same events replayed one
 * by one, and, on the store, that of a new engine on the same file (the
 * rows the concurrent batches merged). `make test` also runs this program
 * under ThreadSanitizer (build/tsan: the locking order of docs/rules.md,
 * "Entities"). Not here: the rows of the default policy
 * (tests/data/rules/entities.cases). */
#include <pthread.h>

#include "store_testutil.h"
#include "risk/risk.h"

#define THREADS 4
#define ACCOUNTS 10 /* per thread, and one shared by all */
#define PER_ACCOUNT 3

static const char POLICY[] =
	"rule stuffing on login {\n"
	"  when distinct_accounts(ip, logins.failed, 1h) >= 30\n"
	"  challenge\n"
	"}\n"
	"rule probe on login {\n"
	"  when distinct_accounts(ip, logins.failed, 1h) >= 0\n"
	"  points 1\n"
	"}\n";

struct worker {
	kg_risk *r;
	int no;
	bool batch;
	int failures;
};

/* Event i of thread no: its accounts in turn, then the shared one. */
static int login_json(char *out, size_t n, int no, int i)
{
	int k = i % (ACCOUNTS + 1);
	char account[32];
	if (k == ACCOUNTS)
		snprintf(account, sizeof(account), "shared");
	else
		snprintf(account, sizeof(account), "t%d-a%d", no, k);
	return snprintf(out, n,
			"{\"id\":\"e%d-%d\",\"type\":\"login\",\"account\":\"%s\","
			"\"ts\":\"2026-03-01T10:%02d:%02dZ\",\"success\":false,"
			"\"ip\":\"198.51.100.7\",\"device_id\":\"d%d\"}",
			no, i, account, i / 60 % 60, i % 60, no);
}

static int decide_one(kg_risk *r, const char *json, size_t len, long *distinct)
{
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	kg_err err;
	int rc = kg_risk_decide(r, json, len, &a, &d, &err);
	kg_buf out = KG_BUF_INIT(1 << 20);
	if (!rc)
		rc = kg_decision_write_json(&d, &out);
	const char *key = "\"distinct_accounts(ip, logins.failed, 1h)\":";
	const char *at = rc ? NULL : strstr(out.data, key);
	if (distinct)
		*distinct = at ? strtol(at + strlen(key), NULL, 10) : -1;
	kg_buf_release(&out);
	kg_arena_release(&a);
	return rc;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	char ev[4][512];
	const char *evs[4];
	size_t lens[4];
	int pending = 0;
	for (int i = 0; i < PER_ACCOUNT * (ACCOUNTS + 1); i++) {
		int len = login_json(ev[pending], sizeof(ev[0]), w->no, i);
		if (!w->batch) {
			if (decide_one(w->r, ev[0], (size_t)len, NULL))
				w->failures++;
			continue;
		}
		evs[pending] = ev[pending];
		lens[pending++] = (size_t)len;
		if (pending == 4 || i + 1 == PER_ACCOUNT * (ACCOUNTS + 1)) {
			kg_arena a;
			kg_arena_init(&a, 64 * 1024);
			struct kg_risk_answer ans[4];
			kg_err err;
			if (kg_risk_decide_batch(w->r, evs, lens, (size_t)pending, &a, ans, &err))
				w->failures++;
			kg_arena_release(&a);
			pending = 0;
		}
	}
	return NULL;
}

/* The IP's distinct accounts as a failed login of a new account at the
 * end of the hour sees them (that account included). */
static long probe(kg_risk *r)
{
	char ev[512];
	int len = snprintf(ev, sizeof(ev),
			   "{\"id\":\"probe\",\"type\":\"login\",\"account\":\"prober\","
			   "\"ts\":\"2026-03-01T10:59:00Z\",\"success\":false,"
			   "\"ip\":\"198.51.100.7\"}");
	long n = -1;
	assert_int_equal(decide_one(r, ev, (size_t)len, &n), 0);
	return n;
}

static kg_policy *policy(void)
{
	kg_err err;
	kg_policy *pol = NULL;
	assert_int_equal(kg_policy_compile(POLICY, strlen(POLICY), "t", &pol, &err), 0);
	return pol;
}

/* The same events one by one, thread after thread: the serial count. */
static long serial(void)
{
	kg_policy *pol = policy();
	kg_risk *r = NULL;
	kg_err err;
	assert_int_equal(kg_risk_new(pol, NULL, &r, &err), 0);
	for (int no = 0; no < THREADS; no++) {
		struct worker w = {.r = r, .no = no};
		worker_main(&w);
		assert_int_equal(w.failures, 0);
	}
	long n = probe(r);
	kg_risk_free(r);
	kg_policy_unref(pol);
	return n;
}

static void run(const char *db, bool batch)
{
	kg_policy *pol = policy();
	kg_store *store = db ? kg_test_open(db, NULL) : NULL;
	kg_risk *r = NULL;
	kg_err err;
	assert_int_equal(kg_risk_new(pol, store, &r, &err), 0);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.r = r, .no = i, .batch = batch};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	long want = serial();
	assert_int_equal(want, THREADS * ACCOUNTS + 1 + 1); /* + shared + prober */
	if (store) { /* a new engine reads the merged rows */
		kg_risk_free(r);
		assert_int_equal(kg_risk_new(pol, store, &r, &err), 0);
	}
	assert_int_equal(probe(r), want);
	kg_risk_free(r);
	kg_store_close(store);
	kg_policy_unref(pol);
}

static void concurrent_entity_in_memory(void **state)
{
	(void)state;
	run(NULL, false);
	run(NULL, true);
}

static void concurrent_entity_on_a_store(void **state)
{
	(void)state;
	run(kg_test_db("entity"), false);
	run(kg_test_db("entity_batch"), true);
}

static void fail_login(kg_risk *r, const char *account, int minute)
{
	char ev[512];
	int len = snprintf(ev, sizeof(ev),
			   "{\"id\":\"f-%s\",\"type\":\"login\",\"account\":\"%s\","
			   "\"ts\":\"2026-03-01T10:%02d:00Z\",\"success\":false,"
			   "\"ip\":\"198.51.100.7\"}",
			   account, account, minute);
	assert_int_equal(decide_one(r, ev, (size_t)len, NULL), 0);
}

/* Another store on the same file (another process, as far as this one can
 * tell) writes the IP's row between two of this engine's writes: the
 * second write merges the row (it holds an account this engine never saw)
 * instead of writing its own state over it; a new engine counts all. While
 * this engine's store is the only writer it writes its state without
 * reading the row (the concurrent tests above check that those rows are
 * whole). */
static void a_row_another_writer_wrote_is_merged(void **state)
{
	(void)state;
	const char *path = kg_test_db("entity_foreign");
	kg_policy *pol = policy();
	kg_store *sa = kg_test_open(path, NULL), *sb = kg_test_open(path, NULL);
	kg_risk *ra = NULL, *rb = NULL;
	kg_err err;
	assert_int_equal(kg_risk_new(pol, sa, &ra, &err), 0);
	assert_int_equal(kg_risk_new(pol, sb, &rb, &err), 0);
	fail_login(ra, "x1", 1);
	fail_login(rb, "y1", 2); /* reads x1's row, writes x1 + y1 */
	fail_login(ra, "x2", 3); /* knows x1 + x2: merged with the row */
	kg_risk_free(rb);
	kg_store_close(sb);
	kg_risk_free(ra);
	assert_int_equal(kg_risk_new(pol, sa, &ra, &err), 0);
	assert_int_equal(probe(ra), 4); /* x1, y1, x2 and the prober */
	kg_risk_free(ra);
	kg_store_close(sa);
	kg_policy_unref(pol);
}

/* An IP's stored row that does not load (a corrupt blob) fails the
 * decision of a login that only reads it (a success: read when the rule
 * asks, docs/rules.md "Entities") with the blob's error, and of one that
 * adds to it; neither event is stored, and the engine goes on. */
static void a_corrupt_row_fails_its_readers(void **state)
{
	(void)state;
	const char *path = kg_test_db("entity_corrupt");
	kg_policy *pol = policy();
	kg_store *s = kg_test_open(path, NULL);
	kg_risk *r = NULL;
	kg_err err;
	assert_int_equal(kg_risk_new(pol, s, &r, &err), 0);
	fail_login(r, "x1", 1);
	kg_risk_free(r);
	kg_store_close(s);
	sqlite3 *db = kg_test_raw(path);
	kg_test_raw_exec(db, "UPDATE entity_features SET state = x'01ff'");
	assert_int_equal(kg_test_raw_int(db, "SELECT changes()"), 1);
	sqlite3_close(db);
	s = kg_test_open(path, NULL);
	assert_int_equal(kg_risk_new(pol, s, &r, &err), 0);
	static const char *const evs[] = {
		"{\"id\":\"ok\",\"type\":\"login\",\"account\":\"y1\",\"ts\":\"2026-03-01T10:05:00Z\","
		"\"success\":true,\"ip\":\"198.51.100.7\"}",
		"{\"id\":\"f-y2\",\"type\":\"login\",\"account\":\"y2\",\"ts\":\"2026-03-01T10:06:00Z\","
		"\"success\":false,\"ip\":\"198.51.100.7\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		kg_arena a;
		kg_arena_init(&a, 16 * 1024);
		struct kg_decision d;
		kg_err_clear(&err);
		assert_int_not_equal(kg_risk_decide(r, evs[i], strlen(evs[i]), &a, &d, &err), 0);
		if (!strstr(err.msg, "entity state blob is corrupt"))
			fail_msg("event %zu: %s", i, err.msg);
		kg_arena_release(&a);
	}
	/* another IP is decided */
	const char *other = "{\"id\":\"f-z\",\"type\":\"login\",\"account\":\"z\","
			    "\"ts\":\"2026-03-01T10:07:00Z\",\"success\":false,\"ip\":\"192.0.2.1\"}";
	assert_int_equal(decide_one(r, other, strlen(other), NULL), 0);
	kg_risk_free(r);
	kg_store_close(s);
	db = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM events WHERE event_id IN "
					     "('ok', 'f-y2')"), 0);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM events"), 2);
	sqlite3_close(db);
	kg_policy_unref(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_entity_in_memory),
		cmocka_unit_test(concurrent_entity_on_a_store),
		cmocka_unit_test(a_row_another_writer_wrote_is_merged),
		cmocka_unit_test(a_corrupt_row_fails_its_readers),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kg_test_dir_cleanup();
	return rc;
}
