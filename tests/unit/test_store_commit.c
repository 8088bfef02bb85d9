/* Unit tests of the store's write path on real SQLite files: group commit
 * under 16 concurrent writers, a failing job rolled back alone, a failed
 * commit failing its whole group, injected SQLITE_FULL / SQLITE_IOERR
 * leaving nothing half-written, and audit-chain tamper detection. */
#include <pthread.h>

#include "store_testutil.h"

/* ---- small jobs -------------------------------------------------------------*/
struct ev_job {
	const char *account;
	char id[64];
	int fail_with;      /* return this after inserting (0: succeed) */
	kg_store *arm;      /* arm "full:1" inside the job (commit fails) */
	size_t big;         /* then write a blob this large (spills mid-job) */
};

static int insert_event(kg_tx *tx, void *ctx, kg_err *err)
{
	struct ev_job *j = ctx;
	kg_event_rec ev = {.account_id = j->account, .event_id = j->id, .type = "login",
			   .ts_ms = 1, .body = "{}", .decision = "{}"};
	int rc = kg_tx_event_insert(tx, &ev, err);
	if (rc)
		return rc;
	if (j->arm && kg_store_fault(j->arm, "full:1", err))
		return err->code;
	if (j->big) {
		char *blob = calloc(1, j->big);
		rc = blob ? kg_tx_features_put(tx, j->id, blob, j->big, 1, err) : KG_ENOMEM;
		free(blob);
		if (rc)
			return rc;
	}
	if (j->fail_with)
		return kg_err_set(err, j->fail_with, "job %s fails on purpose", j->id);
	return 0;
}

static int64_t count_rows(const char *path, const char *sql)
{
	sqlite3 *db = kg_test_raw(path);
	int64_t n = kg_test_raw_int(db, sql);
	sqlite3_close(db);
	return n;
}

/* ---- 16 concurrent writers ----------------------------------------------------*/
#define WRITERS 16
#define PER_WRITER 100

struct writer_arg {
	kg_store *s;
	int no;
	int failures;
};

static void *writer_thread(void *p)
{
	struct writer_arg *w = p;
	for (int i = 0; i < PER_WRITER; i++) {
		struct ev_job j = {.account = "acc"};
		snprintf(j.id, sizeof(j.id), "w%d-%d", w->no, i);
		kg_err err;
		if (kg_store_write(w->s, insert_event, &j, &err) != 0)
			w->failures++;
	}
	return NULL;
}

static void concurrent_writers_are_grouped(void **state)
{
	(void)state;
	const char *p = kg_test_db("concurrent");
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store *s = kg_test_open(path, NULL);
	pthread_t th[WRITERS];
	struct writer_arg args[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		args[i] = (struct writer_arg){.s = s, .no = i};
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	assert_int_equal(st.jobs, WRITERS * PER_WRITER);
	assert_int_equal(st.job_errors, 0);
	assert_true(st.commits < st.jobs); /* grouped: fewer fsyncs than writes */
	assert_true(st.group_max_seen > 1);
	uint64_t in_buckets = 0;
	for (int i = 0; i <= KG_STORE_LATENCY_BUCKETS; i++)
		in_buckets += st.latency[i];
	assert_int_equal(in_buckets, st.commits);
	kg_store_close(s);
	/* every acknowledged write is in the file */
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), WRITERS * PER_WRITER);
}

/* ---- one group, deterministically ---------------------------------------------
 * A gate job holds the writer until `want` more jobs are queued, so those
 * jobs are then committed as one group. */
struct gate {
	kg_store *s;
	uint64_t want;
	volatile int running; /* set by the gate job once the writer runs it */
	bool hold;            /* then also wait for release */
	volatile int release;
};

static int gate_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)tx;
	(void)err;
	struct gate *g = ctx;
	__atomic_store_n(&g->running, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		kg_store_stats st;
		kg_store_stats_get(g->s, &st);
		if (st.queued >= g->want &&
		    (!g->hold || __atomic_load_n(&g->release, __ATOMIC_SEQ_CST)))
			return 0;
		usleep(1000);
	}
}

struct group_arg {
	kg_store *s;
	struct ev_job job;
	int rc;
	kg_err err;
};

static void *group_thread(void *p)
{
	struct group_arg *g = p;
	g->rc = kg_store_write(g->s, insert_event, &g->job, &g->err);
	return NULL;
}

static void *gate_thread(void *p)
{
	struct gate *g = p;
	kg_err err;
	assert_int_equal(kg_store_write(g->s, gate_job, g, &err), 0);
	return NULL;
}

#define GROUP 8

/* Starts the gate, waits until it runs, queues GROUP jobs and joins all. */
static void run_group(kg_store *s, struct group_arg *args)
{
	struct gate g = {.s = s, .want = GROUP};
	pthread_t gt, th[GROUP];
	assert_int_equal(pthread_create(&gt, NULL, gate_thread, &g), 0);
	while (!__atomic_load_n(&g.running, __ATOMIC_SEQ_CST))
		usleep(1000);
	for (int i = 0; i < GROUP; i++)
		assert_int_equal(pthread_create(&th[i], NULL, group_thread, &args[i]), 0);
	for (int i = 0; i < GROUP; i++)
		pthread_join(th[i], NULL);
	pthread_join(gt, NULL);
}

static void failing_job_rolls_back_alone(void **state)
{
	(void)state;
	const char *p = kg_test_db("alone");
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store *s = kg_test_open(path, NULL);
	struct group_arg args[GROUP];
	for (int i = 0; i < GROUP; i++) {
		args[i] = (struct group_arg){.s = s, .job = {.account = "acc"}};
		snprintf(args[i].job.id, sizeof(args[i].job.id), "g%d", i);
		if (i == 3 || i == 6)
			args[i].job.fail_with = KG_EINVAL;
	}
	run_group(s, args);
	for (int i = 0; i < GROUP; i++) {
		if (i == 3 || i == 6) {
			assert_int_equal(args[i].rc, KG_EINVAL);
			assert_non_null(strstr(args[i].err.msg, "on purpose"));
		} else {
			assert_int_equal(args[i].rc, 0);
		}
	}
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	assert_int_equal(st.group_max_seen, GROUP); /* they did share one commit */
	assert_int_equal(st.job_errors, 2);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), GROUP - 2);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id IN "
					  "('g3', 'g6')"),
			 0);
}

/* A job alone in its group runs without a savepoint: when it fails, the
 * transaction's rollback must undo exactly it. */
static void failing_job_alone_rolls_back(void **state)
{
	(void)state;
	const char *p = kg_test_db("solo");
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store *s = kg_test_open(path, NULL);
	kg_err err;
	struct ev_job ok1 = {.account = "acc", .id = "s1"};
	assert_int_equal(kg_store_write(s, insert_event, &ok1, &err), 0);
	struct ev_job bad = {.account = "acc", .id = "s2", .fail_with = KG_EINVAL, .big = 200000};
	kg_err_clear(&err);
	assert_int_equal(kg_store_write(s, insert_event, &bad, &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "on purpose"));
	struct ev_job dup = {.account = "acc", .id = "s1"}; /* its own error: a conflict */
	assert_int_equal(kg_store_write(s, insert_event, &dup, &err), KG_ECONFLICT);
	struct ev_job ok2 = {.account = "acc", .id = "s3"};
	assert_int_equal(kg_store_write(s, insert_event, &ok2, &err), 0);
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	assert_int_equal(st.job_errors, 2);
	assert_int_equal(st.commit_errors, 0);
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 2);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id = 's2'"), 0);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM features"), 0);
}

static int nothing_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)tx;
	(void)ctx;
	(void)err;
	return 0;
}

static void group_fails_whole(size_t big, const char *name)
{
	const char *p = kg_test_db(name);
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store *s = kg_test_open(path, ""); /* on the fault VFS, unarmed */
	struct group_arg args[GROUP];
	for (int i = 0; i < GROUP; i++) {
		args[i] = (struct group_arg){.s = s, .job = {.account = "acc"}};
		snprintf(args[i].job.id, sizeof(args[i].job.id), "f%d", i);
	}
	/* the disk fills up: before the commit, or under a job that writes
	 * so much that SQLite spills pages to the WAL in the middle */
	args[GROUP / 2].job.arm = s;
	args[GROUP / 2].job.big = big;
	run_group(s, args);
	for (int i = 0; i < GROUP; i++) {
		if (args[i].rc != KG_EFULL)
			fail_msg("job %d: %s (%s)", i, kg_code_name(args[i].rc), args[i].err.msg);
		if (getenv("KG_TEST_VERBOSE"))
			printf("%s job %d: %s\n", name, i, args[i].err.msg);
		assert_non_null(strstr(args[i].err.msg, "storage full"));
	}
	kg_err err;
	/* a job that writes nothing still commits (no page to write), but
	 * must not make the store look healthy to a health check */
	assert_int_equal(kg_store_write(s, nothing_job, NULL, &err), 0);
	kg_store_stats st0;
	kg_store_stats_get(s, &st0);
	assert_true(st0.last_commit_error_ms > 0);
	assert_true(st0.last_commit_ms <= st0.last_commit_error_ms);
	assert_int_equal(kg_store_fault(s, NULL, &err), 0);
	/* the store recovers once there is room again */
	struct ev_job j = {.account = "acc", .id = "after"};
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), 0);
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	assert_int_equal(st.commit_errors, 1);
	/* what a health check would show: it failed, and has worked since */
	assert_int_equal(st.last_commit_error_code, KG_EFULL);
	assert_non_null(strstr(st.last_commit_error, "storage full"));
	assert_true(st.last_commit_error_ms > 0);
	assert_true(st.last_commit_ms >= st.last_commit_error_ms);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM features"), 0);
}

/* ---- a job queued after another (kg_store_write_start) -------------------------
 * One job per group, the writer held by a gate until all are queued: A
 * fails (its own error, or its commit), a job in between disarms the
 * fault, then B (after A) must fail unrun though the disk works again,
 * and D (after nothing) commits. */
static int disarm_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)tx;
	return kg_store_fault(ctx, NULL, err);
}

static void dependent_case(bool commit_fails, const char *name)
{
	const char *p = kg_test_db(name);
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.fault = "";
	opt.group_max = 1;
	kg_store *s = NULL;
	kg_err err;
	kg_err_clear(&err);
	assert_int_equal(kg_store_open(&s, path, &opt, &err), 0);
	struct gate g = {.s = s, .want = 4, .hold = true};
	struct ev_job a = {.account = "acc", .id = "a"}, b = {.account = "acc", .id = "b"},
		      d = {.account = "acc", .id = "d"};
	if (commit_fails)
		a.arm = s;
	else
		a.fail_with = KG_EINVAL;
	kg_store_ticket *tg, *ta, *tc, *tb, *td;
	assert_int_equal(kg_store_write_start(s, gate_job, &g, NULL, &tg, &err), 0);
	while (!__atomic_load_n(&g.running, __ATOMIC_SEQ_CST))
		usleep(1000);
	assert_int_equal(kg_store_write_start(s, insert_event, &a, NULL, &ta, &err), 0);
	assert_int_equal(kg_store_write_start(s, disarm_job, s, NULL, &tc, &err), 0);
	assert_int_equal(kg_store_write_start(s, insert_event, &b, ta, &tb, &err), 0);
	assert_int_equal(kg_store_write_start(s, insert_event, &d, NULL, &td, &err), 0);
	__atomic_store_n(&g.release, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(kg_store_write_wait(s, tg, &err), 0);
	int want = commit_fails ? KG_EFULL : KG_EINVAL;
	assert_int_equal(kg_store_write_wait(s, ta, &err), want);
	assert_int_equal(kg_store_write_wait(s, tc, &err), 0);
	kg_err_clear(&err);
	assert_int_equal(kg_store_write_wait(s, tb, &err), want);
	assert_non_null(strstr(err.msg, "depends on"));
	assert_int_equal(kg_store_write_wait(s, tb, &err), want); /* again: the same */
	assert_int_equal(kg_store_write_wait(s, td, &err), 0);
	kg_store_ticket_free(tg);
	kg_store_ticket_free(ta);
	kg_store_ticket_free(tc);
	kg_store_ticket_free(tb);
	kg_store_ticket_free(td);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 1);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id = 'd'"), 1);
}

static void job_after_a_failed_job_fails_unrun(void **state)
{
	(void)state;
	dependent_case(false, "after-job");
}

static void job_after_a_failed_commit_fails_unrun(void **state)
{
	(void)state;
	dependent_case(true, "after-commit");
}

/* ---- a job with a then (kg_store_write_start_then) -------------------------------
 * In one group behind a gate: a job that commits, one that fails alone and
 * a plain ticket. Each then is called exactly once, only when its job's
 * result is final (the wait then returns at once with it); then a group
 * whose commit fails calls its job's then with the commit's error. */
struct then_rec {
	const char *path, *id;
	int calls;
	int64_t rows_when_called; /* of its event, read from another connection */
};

static void then_record(void *p)
{
	struct then_rec *r = p;
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE event_id = '%s'", r->id);
	__atomic_store_n(&r->rows_when_called, count_rows(r->path, sql), __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
}

/* Waits (5 s at most) for r's then; asserts it came once. */
static void wait_called(struct then_rec *r)
{
	for (int i = 0; i < 5000 && !__atomic_load_n(&r->calls, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	usleep(5 * 1000); /* a second call would come now */
	assert_int_equal(__atomic_load_n(&r->calls, __ATOMIC_SEQ_CST), 1);
}

static void then_is_called_once_the_result_is_final(void **state)
{
	(void)state;
	const char *p = kg_test_db("then");
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.fault = "";
	kg_store *s = NULL;
	kg_err err;
	kg_err_clear(&err);
	assert_int_equal(kg_store_open(&s, path, &opt, &err), 0);
	struct gate g = {.s = s, .want = 3, .hold = true};
	kg_store_ticket *tg, *ta, *tb, *tc;
	struct then_rec ra = {.path = path, .id = "a"}, rb = {.path = path, .id = "b"};
	struct ev_job a = {.account = "acc", .id = "a"},
		      b = {.account = "acc", .id = "b", .fail_with = KG_EINVAL},
		      c = {.account = "acc", .id = "c"};
	assert_int_equal(kg_store_write_start(s, gate_job, &g, NULL, &tg, &err), 0);
	while (!__atomic_load_n(&g.running, __ATOMIC_SEQ_CST))
		usleep(1000);
	assert_int_equal(kg_store_write_start_then(s, insert_event, &a, then_record, &ra, &ta, &err), 0);
	assert_int_equal(kg_store_write_start_then(s, insert_event, &b, then_record, &rb, &tb, &err), 0);
	assert_int_equal(kg_store_write_start(s, insert_event, &c, NULL, &tc, &err), 0);
	usleep(20 * 1000);
	assert_int_equal(__atomic_load_n(&ra.calls, __ATOMIC_SEQ_CST), 0); /* not before the commit */
	__atomic_store_n(&g.release, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(kg_store_write_wait(s, tg, &err), 0);
	assert_int_equal(kg_store_write_wait(s, tc, &err), 0);
	wait_called(&ra);
	wait_called(&rb);
	assert_int_equal(ra.rows_when_called, 1); /* committed before its then */
	assert_int_equal(rb.rows_when_called, 0);
	assert_int_equal(kg_store_write_wait(s, ta, &err), 0);
	kg_err_clear(&err);
	assert_int_equal(kg_store_write_wait(s, tb, &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "on purpose"));
	kg_store_ticket_free(tg);
	kg_store_ticket_free(ta);
	kg_store_ticket_free(tb);
	kg_store_ticket_free(tc);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id IN ('a', 'c')"), 2);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id = 'b'"), 0);

	/* the commit fails: the then still comes, with the commit's error */
	kg_store_ticket *td = NULL;
	struct then_rec rd = {.path = path, .id = "d"};
	struct ev_job d = {.account = "acc", .id = "d", .arm = s};
	assert_int_equal(kg_store_write_start_then(s, insert_event, &d, then_record, &rd, &td, &err), 0);
	wait_called(&rd);
	assert_int_equal(rd.rows_when_called, 0);
	assert_int_equal(kg_store_write_wait(s, td, &err), KG_EFULL);
	kg_store_ticket_free(td);
	assert_int_equal(kg_store_fault(s, NULL, &err), 0);
	/* no then: refused, nothing queued */
	kg_store_ticket *te = (kg_store_ticket *)&te;
	assert_int_equal(kg_store_write_start_then(s, insert_event, &d, NULL, NULL, &te, &err), KG_EINVAL);
	assert_null(te);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events WHERE event_id = 'd'"), 0);
}

static void failed_commit_fails_the_whole_group(void **state)
{
	(void)state;
	group_fails_whole(0, "groupfail");
}

static void storage_error_mid_group_fails_the_whole_group(void **state)
{
	(void)state;
	group_fails_whole(16 * 1024 * 1024, "groupspill");
}

/* ---- closing under load ----------------------------------------------------------*/
static void *close_thread(void *p)
{
	kg_store_close(p);
	return NULL;
}

static void close_drains_queued_writes(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("close_drain"));
	kg_store *s = kg_test_open(path, NULL);
	struct gate g = {.s = s, .want = GROUP, .hold = true};
	pthread_t gt, th[GROUP], closer;
	struct group_arg args[GROUP];
	assert_int_equal(pthread_create(&gt, NULL, gate_thread, &g), 0);
	while (!__atomic_load_n(&g.running, __ATOMIC_SEQ_CST))
		usleep(1000);
	for (int i = 0; i < GROUP; i++) {
		args[i] = (struct group_arg){.s = s, .job = {.account = "acc"}};
		snprintf(args[i].job.id, sizeof(args[i].job.id), "c%d", i);
		assert_int_equal(pthread_create(&th[i], NULL, group_thread, &args[i]), 0);
	}
	for (;;) { /* all queued behind the gate, which holds until released */
		kg_store_stats st;
		kg_store_stats_get(s, &st);
		if (st.queued >= GROUP)
			break;
		usleep(1000);
	}
	/* close while they wait; it returns once every queued job is committed */
	assert_int_equal(pthread_create(&closer, NULL, close_thread, s), 0);
	usleep(50 * 1000);
	__atomic_store_n(&g.release, 1, __ATOMIC_SEQ_CST);
	pthread_join(closer, NULL);
	for (int i = 0; i < GROUP; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].rc, 0);
	}
	pthread_join(gt, NULL);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), GROUP);
}

struct slow_read {
	kg_store *s;
	volatile int started;
	int rc;
	int64_t seen;
};

static int slow_read_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct slow_read *r = ctx;
	__atomic_store_n(&r->started, 1, __ATOMIC_SEQ_CST);
	usleep(100 * 1000); /* close is called meanwhile */
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_event_rec *evs = NULL;
	size_t n = 0;
	int rc = kg_tx_event_list(tx, "acc", 0, &a, &evs, &n, err);
	r->seen = (int64_t)n;
	kg_arena_release(&a);
	return rc;
}

static void *slow_read_thread(void *p)
{
	struct slow_read *r = p;
	kg_err err;
	r->rc = kg_store_read(r->s, slow_read_job, r, &err);
	return NULL;
}

static void close_waits_for_reads_in_progress(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("close_read"), NULL);
	struct ev_job j = {.account = "acc", .id = "e1"};
	kg_err err;
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), 0);
	struct slow_read r = {.s = s};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, slow_read_thread, &r), 0);
	while (!__atomic_load_n(&r.started, __ATOMIC_SEQ_CST))
		usleep(1000);
	kg_store_close(s); /* must not pull the connection from under the read */
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.seen, 1);
}

/* ---- reads see one snapshot ------------------------------------------------------*/
struct snap {
	kg_store *s;
	size_t before, after;
	int write_rc;
};

static size_t count_events(kg_tx *tx, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_event_rec *evs = NULL;
	size_t n = 0;
	if (kg_tx_event_list(tx, "acc", 0, &a, &evs, &n, err))
		n = (size_t)-1;
	kg_arena_release(&a);
	return n;
}

static void *snap_writer(void *p)
{
	struct snap *sn = p;
	struct ev_job j = {.account = "acc", .id = "during"};
	kg_err err;
	sn->write_rc = kg_store_write(sn->s, insert_event, &j, &err);
	return NULL;
}

static int snapshot_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct snap *sn = ctx;
	sn->before = count_events(tx, err);
	/* a write commits (durably) while this read transaction is open */
	pthread_t t;
	if (pthread_create(&t, NULL, snap_writer, sn) != 0)
		return kg_err_set(err, KG_EINTERNAL, "pthread_create");
	pthread_join(t, NULL);
	sn->after = count_events(tx, err);
	return 0;
}

static void reads_see_one_snapshot(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("snapshot"), NULL);
	struct ev_job j = {.account = "acc", .id = "first"};
	kg_err err;
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), 0);
	struct snap sn = {.s = s};
	assert_int_equal(kg_store_read(s, snapshot_read, &sn, &err), 0);
	assert_int_equal(sn.write_rc, 0);     /* reads never block writes ... */
	assert_int_equal(sn.before, 1);
	assert_int_equal(sn.after, 1);        /* ... nor see them mid-read */
	struct snap sn2 = {.s = s};
	assert_int_equal(kg_store_read(s, snapshot_read, &sn2, &err), 0);
	assert_int_equal(sn2.before, 2);      /* the next read does */
	kg_store_close(s);
}

/* ---- a second process closing does not stall the first -------------------------*/
struct held_read {
	kg_store *s;
	volatile int holding, release;
};

static int hold_read_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct held_read *h = ctx;
	if (count_events(tx, err) == (size_t)-1) /* the snapshot is taken */
		return err->code;
	__atomic_store_n(&h->holding, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&h->release, __ATOMIC_SEQ_CST))
		usleep(1000);
	return 0;
}

static void *hold_read_thread(void *p)
{
	struct held_read *h = p;
	kg_err err;
	kg_store_read(h->s, hold_read_job, h, &err);
	return NULL;
}

static void closing_beside_a_busy_store_does_not_wait_for_it(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("two_stores"));
	kg_store *daemon = kg_test_open(path, NULL); /* kagid */
	kg_err err;
	struct ev_job j = {.account = "acc", .id = "e1"};
	assert_int_equal(kg_store_write(daemon, insert_event, &j, &err), 0);
	struct held_read h = {.s = daemon};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hold_read_thread, &h), 0);
	while (!__atomic_load_n(&h.holding, __ATOMIC_SEQ_CST))
		usleep(1000);
	struct ev_job j2 = {.account = "acc", .id = "e2"};
	assert_int_equal(kg_store_write(daemon, insert_event, &j2, &err), 0);

	/* a `kagi` command opens the same file, writes, and closes while the
	 * daemon's reader still uses the WAL: its closing checkpoint must not
	 * wait for that reader (if it did, with this busy timeout, this test
	 * would hang until the CTest timeout) */
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.busy_timeout_ms = 600000;
	kg_store *cli = NULL;
	assert_int_equal(kg_store_open(&cli, path, &opt, &err), 0);
	struct ev_job j3 = {.account = "acc", .id = "e3"};
	assert_int_equal(kg_store_write(cli, insert_event, &j3, &err), 0);
	kg_store_close(cli);

	__atomic_store_n(&h.release, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	struct ev_job j4 = {.account = "acc", .id = "e4"};
	assert_int_equal(kg_store_write(daemon, insert_event, &j4, &err), 0);
	kg_store_close(daemon);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 4);
}

/* ---- fault injection: the Nth write fails ----------------------------------
 * For N = 1, 2, ...: arm the fault, run one transaction that writes many
 * rows in several tables; it must either succeed completely or fail with
 * the mapped code and leave the database exactly as it was. */
struct big_job {
	int round;
};

static int big_write(kg_tx *tx, void *ctx, kg_err *err)
{
	struct big_job *b = ctx;
	char id[64], email[96], lock[64];
	snprintf(id, sizeof(id), "acc-%d", b->round);
	snprintf(email, sizeof(email), "u%d@example.jp", b->round);
	snprintf(lock, sizeof(lock), "lock-%d", b->round);
	kg_account acc = {.id = id, .name = "User", .email = email, .lang = "ja"};
	int rc = kg_tx_account_insert(tx, &acc, err);
	kg_card card = {.account_id = id, .last4 = "4242", .exp = "12/29", .fingerprint = "fp"};
	if (!rc)
		rc = kg_tx_card_add(tx, &card, err);
	char body[2048];
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	for (int i = 0; !rc && i < 20; i++) {
		char ev_id[32];
		snprintf(ev_id, sizeof(ev_id), "ev-%d", i);
		kg_event_rec ev = {.account_id = id, .event_id = ev_id, .type = "order",
				   .ts_ms = i, .body = body, .decision = "{}"};
		rc = kg_tx_event_insert(tx, &ev, err);
	}
	kg_lock l = {.account_id = id, .lock_id = lock, .reason = "manual"};
	if (!rc)
		rc = kg_tx_lock_insert(tx, &l, err);
	kg_audit_entry e = {.account_id = id, .actor = "system", .action = "lock",
			    .detail = "{}"};
	if (!rc)
		rc = kg_tx_audit_append(tx, &e, NULL, err);
	kg_message m = {.account_id = id, .kind = "lock_notice", .subject = "s",
			.body_text = body};
	if (!rc)
		rc = kg_tx_message_insert(tx, &m, err);
	kg_outbox o = {.account_id = id, .rcpt = email, .mime = body};
	if (!rc)
		rc = kg_tx_outbox_insert(tx, &o, err);
	return rc;
}

static void fault_round_trip(const char *kind, int want_code, const char *name)
{
	const char *p = kg_test_db(name);
	char path[640];
	snprintf(path, sizeof(path), "%s", p);
	kg_store *s = kg_test_open(path, "");
	kg_err err;
	struct big_job b = {.round = 0};
	assert_int_equal(kg_store_write(s, big_write, &b, &err), 0);

	int failures = 0, round = 1;
	bool succeeded = false;
	for (int n = 1; n <= 200 && !succeeded; n++) {
		char *before = kg_test_snapshot(path);
		char spec[32];
		snprintf(spec, sizeof(spec), "%s:%d", kind, n);
		assert_int_equal(kg_store_fault(s, spec, &err), 0);
		b.round = round;
		kg_err_clear(&err);
		int rc = kg_store_write(s, big_write, &b, &err);
		assert_int_equal(kg_store_fault(s, NULL, NULL), 0);
		if (rc == 0) {
			succeeded = true; /* N is past the last write of the commit */
		} else {
			failures++;
			if (rc != want_code)
				fail_msg("%s: got %s (%s), want %s", spec, kg_code_name(rc), err.msg,
					 kg_code_name(want_code));
			char *after = kg_test_snapshot(path);
			if (strcmp(before, after) != 0)
				fail_msg("%s: the failed write changed the database", spec);
			free(after);
			assert_int_equal(kg_store_integrity_check(s, &err), 0);
		}
		free(before);
	}
	assert_true(succeeded);
	if (getenv("KG_TEST_VERBOSE"))
		printf("%s: %d injected failures before a write got through\n", kind, failures);
	assert_true(failures >= 2); /* the loop did hit the commit's writes */
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_close(s);
	/* what succeeded is there; what failed is not */
	assert_int_equal(count_rows(path, "SELECT count(*) FROM accounts"), 2);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 40);
	kg_store *s2 = kg_test_open(path, NULL);
	assert_int_equal(kg_store_integrity_check(s2, &err), 0);
	kg_audit_report rep;
	assert_int_equal(kg_store_audit_verify(s2, NULL, &rep, NULL, NULL, &err), 0);
	assert_int_equal(rep.entries, 2);
	assert_int_equal(rep.altered + rep.inserted + rep.removed, 0);
	kg_store_close(s2);
}

static void disk_full_leaves_nothing_half_written(void **state)
{
	(void)state;
	fault_round_trip("full", KG_EFULL, "fault_full");
}

static void io_error_leaves_nothing_half_written(void **state)
{
	(void)state;
	fault_round_trip("ioerr", KG_EIO, "fault_ioerr");
}

static void fault_needs_the_fault_vfs(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("nofault"), NULL);
	kg_err err;
	assert_int_equal(kg_store_fault(s, "full:1", &err), KG_EINVAL);
	assert_int_equal(kg_store_fault(s, "bogus:1", &err), KG_EINVAL);
	kg_store_close(s);
}

static void fault_from_the_environment(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("envfault"));
	setenv("KG_STORE_FAULT", "ioerr:1", 1);
	kg_store *s = NULL;
	kg_err err;
	int rc = kg_store_open(&s, path, NULL, &err); /* migrations are not counted */
	unsetenv("KG_STORE_FAULT");
	assert_int_equal(rc, 0);
	struct ev_job j = {.account = "acc", .id = "e1"};
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), KG_EIO);
	assert_non_null(strstr(err.msg, "I/O error"));
	assert_int_equal(kg_store_fault(s, NULL, &err), 0);
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), 0);
	kg_store_close(s);
	assert_int_equal(count_rows(path, "SELECT count(*) FROM events"), 1);
}

static void locked_by_another_process_is_busy_then_recovers(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("busy"));
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.busy_timeout_ms = 50;
	kg_store *s = NULL;
	kg_err err;
	assert_int_equal(kg_store_open(&s, path, &opt, &err), 0);
	sqlite3 *other = kg_test_raw(path); /* e.g. a `kagi` command writing */
	kg_test_raw_exec(other, "BEGIN IMMEDIATE");
	struct ev_job j = {.account = "acc", .id = "e1"};
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), KG_EBUSY);
	assert_non_null(strstr(err.msg, "locked"));
	kg_test_raw_exec(other, "ROLLBACK");
	sqlite3_close(other);
	assert_int_equal(kg_store_write(s, insert_event, &j, &err), 0);
	kg_store_close(s);
}

/* ---- audit chain ---------------------------------------------------------------*/
static int audit_entries(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	static const char *const accounts[] = {"acc-1", "acc-2", ""};
	for (int round = 0; round < 5; round++) {
		for (size_t i = 0; i < KG_ARRAY_LEN(accounts); i++) {
			char detail[64];
			snprintf(detail, sizeof(detail), "{\"round\":%d}", round);
			kg_audit_entry e = {.account_id = accounts[i], .actor = "agent:1",
					    .action = "note", .detail = detail,
					    .ts_ms = 1000 + round};
			int64_t seq = 0;
			int rc = kg_tx_audit_append(tx, &e, &seq, err);
			if (rc)
				return rc;
			if (seq != round + 1)
				return kg_err_set(err, KG_EINTERNAL, "seq %lld", (long long)seq);
		}
	}
	return 0;
}

struct problems {
	int n;
	char last_kind[32];
	int64_t last_seq;
};

static void on_problem(void *ctx, const char *account, int64_t seq, const char *kind,
		       const char *detail)
{
	(void)account;
	(void)detail;
	struct problems *p = ctx;
	p->n++;
	snprintf(p->last_kind, sizeof(p->last_kind), "%s", kind);
	p->last_seq = seq;
}

static kg_store *audit_db(const char *name, char *path, size_t path_size)
{
	snprintf(path, path_size, "%s", kg_test_db(name));
	kg_store *s = kg_test_open(path, NULL);
	kg_err err;
	if (kg_store_write(s, audit_entries, NULL, &err))
		fail_msg("audit setup: %s", err.msg);
	return s;
}

static void tamper(kg_store *s, const char *path, const char *sql)
{
	(void)s;
	sqlite3 *db = kg_test_raw(path);
	kg_test_raw_exec(db, sql);
	sqlite3_close(db);
}

static int list_audit(kg_tx *tx, void *ctx, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_audit_entry *es = NULL;
	size_t n = 0;
	int rc = kg_tx_audit_list(tx, "acc-1", 2, 2, &a, &es, &n, err);
	if (!rc) {
		*(size_t *)ctx = n;
		if (n != 2 || es[0].seq != 3 || strcmp(es[1].detail, "{\"round\":3}") != 0 ||
		    memcmp(es[1].prev_hash, es[0].hash, KG_AUDIT_HASH_BYTES) != 0)
			rc = kg_err_set(err, KG_EINTERNAL, "unexpected audit list");
	}
	kg_arena_release(&a);
	return rc;
}

static void audit_chain_detects_tampering(void **state)
{
	(void)state;
	char path[640];
	kg_err err;
	kg_audit_report rep;
	struct problems pr;

	/* intact */
	kg_store *s = audit_db("audit_ok", path, sizeof(path));
	assert_int_equal(kg_store_audit_verify(s, NULL, &rep, NULL, NULL, &err), 0);
	assert_int_equal(rep.accounts, 3);
	assert_int_equal(rep.entries, 15);
	assert_int_equal(rep.altered + rep.inserted + rep.removed, 0);
	size_t n = 0;
	assert_int_equal(kg_store_read(s, list_audit, &n, &err), 0);
	assert_int_equal(n, 2);
	kg_store_close(s);

	/* a detail edited in place */
	s = audit_db("audit_alter", path, sizeof(path));
	tamper(s, path, "UPDATE audit SET detail = '{\"round\":9}' WHERE account_id = 'acc-1' "
			"AND seq = 3");
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(kg_store_audit_verify(s, NULL, &rep, on_problem, &pr, &err), 0);
	assert_int_equal(rep.altered, 1);
	assert_int_equal(pr.n, 1);
	assert_string_equal(pr.last_kind, "altered");
	assert_int_equal(pr.last_seq, 3);
	/* only that account's chain is affected */
	assert_int_equal(kg_store_audit_verify(s, "acc-2", &rep, NULL, NULL, &err), 0);
	assert_int_equal(rep.altered + rep.inserted + rep.removed, 0);
	kg_store_close(s);

	/* an entry removed from the middle, one from the end */
	s = audit_db("audit_remove", path, sizeof(path));
	tamper(s, path, "DELETE FROM audit WHERE account_id = 'acc-2' AND seq IN (2, 5)");
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(kg_store_audit_verify(s, "acc-2", &rep, on_problem, &pr, &err), 0);
	assert_int_equal(rep.removed, 2);
	assert_int_equal(rep.altered, 0);
	assert_int_equal(pr.n, 2);
	kg_store_close(s);

	/* an entry forged with a correct-looking hash of its own, and one
	 * appended past the head */
	s = audit_db("audit_insert", path, sizeof(path));
	tamper(s, path,
	       "UPDATE audit SET prev_hash = zeroblob(32) WHERE account_id = '' AND seq = 4;"
	       "INSERT INTO audit SELECT account_id, 6, ts_ms, actor, action, detail, hash, hash "
	       "FROM audit WHERE account_id = 'acc-1' AND seq = 5");
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(kg_store_audit_verify(s, NULL, &rep, on_problem, &pr, &err), 0);
	/* seq 4 of "": its hash no longer matches (prev_hash is hashed) */
	assert_int_equal(rep.altered, 1);
	assert_int_equal(rep.inserted, 1);
	assert_int_equal(pr.n, 2);
	kg_store_close(s);
}

static int teardown_all(void **state)
{
	(void)state;
	kg_test_dir_cleanup();
	return 0;
}

int main(void)
{
	/* the failures below are on purpose: keep their error logs out */
	if (!getenv("KG_TEST_VERBOSE"))
		kg_log_set_level(KG_LOG_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_writers_are_grouped),
		cmocka_unit_test(failing_job_rolls_back_alone),
		cmocka_unit_test(failing_job_alone_rolls_back),
		cmocka_unit_test(failed_commit_fails_the_whole_group),
		cmocka_unit_test(job_after_a_failed_job_fails_unrun),
		cmocka_unit_test(job_after_a_failed_commit_fails_unrun),
		cmocka_unit_test(then_is_called_once_the_result_is_final),
		cmocka_unit_test(storage_error_mid_group_fails_the_whole_group),
		cmocka_unit_test(reads_see_one_snapshot),
		cmocka_unit_test(close_drains_queued_writes),
		cmocka_unit_test(closing_beside_a_busy_store_does_not_wait_for_it),
		cmocka_unit_test(close_waits_for_reads_in_progress),
		cmocka_unit_test(disk_full_leaves_nothing_half_written),
		cmocka_unit_test(io_error_leaves_nothing_half_written),
		cmocka_unit_test(fault_needs_the_fault_vfs),
		cmocka_unit_test(fault_from_the_environment),
		cmocka_unit_test(locked_by_another_process_is_busy_then_recovers),
		cmocka_unit_test(audit_chain_detects_tampering),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
