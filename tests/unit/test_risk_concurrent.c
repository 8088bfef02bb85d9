/* Unit test of the risk engine under concurrent callers, in memory and on a
 * real SQLite store: threads decide events of accounts that share stripes
 * (and of one account they all share) while another reads the counts and
 * swaps the policy; every event is counted once and every account's
 * failed-login count is exact. `make test` also runs this program under
 * ThreadSanitizer (build/tsan), which reports any data race in those paths.
 * Not here: decisions themselves (tests/data/rules). */
#include <pthread.h>
#include <stdatomic.h>

#include "store_testutil.h"
#include "risk/risk.h"

#define THREADS 4
#define ACCOUNTS 8 /* per thread, and one shared by all */
#define PER_ACCOUNT 12

static const char POLICY[] =
	"rule failed_logins on login {\n"
	"  when not success and count(logins.failed, 1h) >= 5\n"
	"  challenge\n"
	"  reason \"{count(logins.failed, 1h)} failed logins in 1 h\"\n"
	"}\n";

struct worker {
	kg_risk *r;
	int no;
	bool batch; /* decide in batches of 4 (else one by one) */
	int failures;
};

static int login_json(char *out, size_t n, const char *account, int no, int i)
{
	return snprintf(out, n,
			"{\"id\":\"e%d-%d\",\"type\":\"login\",\"account\":\"%s\","
			"\"ts\":\"2026-03-01T10:%02d:%02dZ\",\"success\":false,"
			"\"ip\":\"192.0.2.%d\",\"device_id\":\"d%d\"}",
			no, i, account, i / 60 % 60, i % 60, no + 1, no);
}


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

/* Decides a batch and appends one JSON line per answer, as the batch
 * endpoint writes them. */
static int decide_batch_text(kg_risk *r, const char *const *evs, const size_t *lens, size_t n,
			     kg_buf *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct kg_risk_answer *ans = calloc(n ? n : 1, sizeof(*ans));
	int rc = ans ? kg_risk_decide_batch(r, evs, lens, n, &a, ans, err) : KG_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = kg_risk_answer_write_json(&ans[i], out);
		rc = rc ? rc : kg_buf_putc(out, '\n');
	}
	free(ans);
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
		char account[32];
		int k = i % (ACCOUNTS + 1);
		if (k == ACCOUNTS)
			snprintf(account, sizeof(account), "shared");
		else
			snprintf(account, sizeof(account), "t%d-a%d", w->no, k);
		int len = login_json(ev[pending], sizeof(ev[pending]), account, w->no, i);
		evs[pending] = ev[pending];
		lens[pending++] = (size_t)len;
		kg_buf out = KG_BUF_INIT(1 << 20);
		kg_err err;
		kg_err_clear(&err);
		if (!w->batch) {
			if (decide_text(w->r, evs[0], lens[0], &out, &err))
				w->failures++;
			pending = 0;
		} else if (pending == 4) {
			if (decide_batch_text(w->r, evs, lens, 4, &out, &err) ||
			    strstr(out.data, "\"error\""))
				w->failures++;
			pending = 0;
		}
		kg_buf_release(&out);
	}
	return NULL;
}

struct watcher {
	kg_risk *r;
	kg_policy *pol;
	atomic_bool stop;
	size_t reads;
};

static void *watch_main(void *p)
{
	struct watcher *w = p;
	while (!atomic_load(&w->stop)) {
		struct kg_risk_stats st;
		kg_risk_stats(w->r, &st);
		kg_risk_set_policy(w->r, w->pol);
		w->reads++;
	}
	return NULL;
}

/* The failed logins of account counted by the engine: its next failed
 * login's decision names the count. */
static long failed_count(kg_risk *r, const char *account)
{
	char ev[512];
	int len = login_json(ev, sizeof(ev), account, 99, 3599);
	kg_buf out = KG_BUF_INIT(1 << 20);
	kg_err err;
	assert_int_equal(decide_text(r, ev, (size_t)len, &out, &err), 0);
	const char *at = strstr(out.data, "\"count(logins.failed, 1h)\":");
	long n = at ? strtol(at + strlen("\"count(logins.failed, 1h)\":"), NULL, 10) : -1;
	kg_buf_release(&out);
	return n;
}

static void run(kg_store *store, bool batch)
{
	kg_err err;
	kg_policy *pol = NULL;
	assert_int_equal(kg_policy_compile(POLICY, strlen(POLICY), "t", &pol, &err), 0);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(pol, store, &r, &err), 0);
	pthread_t th[THREADS], wt;
	struct worker w[THREADS];
	struct watcher wa = {.r = r, .pol = pol};
	atomic_init(&wa.stop, false);
	assert_int_equal(pthread_create(&wt, NULL, watch_main, &wa), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.r = r, .no = i, .batch = batch};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	atomic_store(&wa.stop, true);
	pthread_join(wt, NULL);
	struct kg_risk_stats st;
	kg_risk_stats(r, &st);
	if (!store) /* with a store, committed accounts may leave the cache */
		assert_int_equal(st.events, (size_t)THREADS * (ACCOUNTS + 1) * PER_ACCOUNT);
	assert_int_equal(failed_count(r, "shared"), THREADS * PER_ACCOUNT + 1);
	assert_int_equal(failed_count(r, "t1-a3"), PER_ACCOUNT + 1);
	/* the cache's invariants hold after the threads (acct_cache.c) */
	assert_int_equal(kg_risk_check_cache(r, &err), 0);
	kg_risk_free(r);
	kg_policy_unref(pol);
}

static void concurrent_decides_in_memory(void **state)
{
	(void)state;
	run(NULL, false);
}

static void concurrent_batches_in_memory(void **state)
{
	(void)state;
	run(NULL, true);
}

static void concurrent_decides_on_a_store(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("concurrent"), NULL);
	run(s, false);
	kg_store_close(s);
	s = kg_test_open(kg_test_db("concurrent_batch"), NULL);
	run(s, true);
	kg_store_close(s);
}

/* Big batches (>= 1,024 lines, BIG of them) from every thread at once on a
 * store: the engine's kept batch (batch.c, kg_risk_batch_free) passes
 * between threads, and each batch's blobs and settling go stripe by
 * stripe (kg_risk_settle, batch_snapshot) while other threads decide on
 * the same stripes (and one shared account); every event is counted once. */
#define BIG 1100
#define BIG_BATCHES 3
#define BIG_ACCOUNTS 100 /* per thread, and one shared by all */

static void *big_worker_main(void *p)
{
	struct worker *w = p;
	char (*ev)[160] = malloc(BIG * sizeof(*ev));
	const char **evs = malloc(BIG * sizeof(*evs));
	size_t *lens = malloc(BIG * sizeof(*lens));
	if (!ev || !evs || !lens) {
		w->failures++;
		goto cleanup;
	}
	for (int b = 0; b < BIG_BATCHES; b++) {
		for (int j = 0; j < BIG; j++) {
			int i = b * BIG + j, k = i % (BIG_ACCOUNTS + 1);
			char account[32];
			if (k == BIG_ACCOUNTS)
				snprintf(account, sizeof(account), "shared");
			else
				snprintf(account, sizeof(account), "b%d-a%d", w->no, k);
			lens[j] = (size_t)login_json(ev[j], sizeof(ev[j]), account, w->no, i);
			evs[j] = ev[j];
		}
		kg_buf out = KG_BUF_INIT(1 << 24);
		kg_err err;
		kg_err_clear(&err);
		if (decide_batch_text(w->r, evs, lens, BIG, &out, &err) || strstr(out.data, "\"error\""))
			w->failures++;
		kg_buf_release(&out);
	}
cleanup:
	free(ev);
	free(evs);
	free(lens);
	return NULL;
}

static void concurrent_big_batches_on_a_store(void **state)
{
	(void)state;
	kg_store *store = kg_test_open(kg_test_db("concurrent_big"), NULL);
	kg_err err;
	kg_policy *pol = NULL;
	assert_int_equal(kg_policy_compile(POLICY, strlen(POLICY), "t", &pol, &err), 0);
	kg_risk *r = NULL;
	assert_int_equal(kg_risk_new(pol, store, &r, &err), 0);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.r = r, .no = i};
		assert_int_equal(pthread_create(&th[i], NULL, big_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	long shared = 0, own = 0; /* the events of "shared" and of b1-a3, per thread */
	for (int i = 0; i < BIG * BIG_BATCHES; i++) {
		shared += i % (BIG_ACCOUNTS + 1) == BIG_ACCOUNTS;
		own += i % (BIG_ACCOUNTS + 1) == 3;
	}
	assert_int_equal(failed_count(r, "shared"), THREADS * shared + 1);
	assert_int_equal(failed_count(r, "b1-a3"), own + 1);
	assert_int_equal(kg_risk_check_cache(r, &err), 0);
	kg_risk_free(r);
	kg_policy_unref(pol);
	kg_store_close(store);
}

/* An account this engine found no row of decides its later events without
 * looking their ids up (struct acct own, engine_impl.h); a retry of an
 * event another writer stored meanwhile is still answered its stored
 * decision, and counted once: the write finds the row, fails the batch as
 * stale, and the batch is decided again on the rows as they are. */
static void a_retry_another_writer_stored_counts_once(void **state)
{
	(void)state;
	const char *path = kg_test_db("retry_foreign");
	kg_err err;
	kg_policy *pol = NULL;
	assert_int_equal(kg_policy_compile(POLICY, strlen(POLICY), "t", &pol, &err), 0);
	kg_store *sa = kg_test_open(path, NULL), *sb = kg_test_open(path, NULL);
	kg_risk *ra = NULL, *rb = NULL;
	assert_int_equal(kg_risk_new(pol, sa, &ra, &err), 0);
	assert_int_equal(kg_risk_new(pol, sb, &rb, &err), 0);
	char ev[512];
	kg_buf out = KG_BUF_INIT(1 << 20), first = KG_BUF_INIT(1 << 20);
	for (int i = 0; i < 2; i++) { /* ra: x's first two, no row of x before */
		int len = login_json(ev, sizeof(ev), "x", 0, i);
		assert_int_equal(decide_text(ra, ev, (size_t)len, &out, &err), 0);
	}
	for (int i = 0; i < 2; i++) { /* rb (another process, say): two more */
		int len = login_json(ev, sizeof(ev), "x", 1, i);
		kg_buf_reset(&out);
		assert_int_equal(decide_text(rb, ev, (size_t)len, i ? &out : &first, &err), 0);
	}
	int len = login_json(ev, sizeof(ev), "x", 1, 0); /* rb's first, sent to ra */
	kg_buf_reset(&out);
	assert_int_equal(decide_text(ra, ev, (size_t)len, &out, &err), 0);
	assert_int_equal(out.len, first.len);
	assert_memory_equal(out.data, first.data, out.len);
	assert_int_equal(failed_count(ra, "x"), 5); /* four, and the probe */
	kg_buf_release(&first);
	kg_buf_release(&out);
	kg_risk_free(rb);
	kg_store_close(sb);
	kg_risk_free(ra);
	kg_store_close(sa);
	kg_policy_unref(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_decides_in_memory),
		cmocka_unit_test(concurrent_batches_in_memory),
		cmocka_unit_test(concurrent_decides_on_a_store),
		cmocka_unit_test(concurrent_big_batches_on_a_store),
		cmocka_unit_test(a_retry_another_writer_stored_counts_once),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kg_test_dir_cleanup();
	return rc;
}
