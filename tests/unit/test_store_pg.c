/* Unit tests of the PostgreSQL backend against a real server (make test
 * starts one: scripts/pg-test-server.sh, ctest fixture "pg"; its URL is in
 * the file named by KG_TEST_PG_URL_FILE). Each test starts from an empty
 * database. What they show: the backend is picked by the URL scheme and
 * migrates to the same schema version as SQLite; events and feature state
 * behave as on SQLite (conflicts, decisions, blobs with NUL bytes); a
 * failing job of a group commit is rolled back alone; two stores on one
 * database ("two nodes") doing read-modify-write of one account's feature
 * state never lose an update (the row lock), nor break one audit chain;
 * two nodes claiming from the delivery queue never claim a row twice; an
 * And the bodies test_store.c runs on SQLite (store_bodies.h) run here
 * unchanged, with its jobs for codes, counters, identity checks and
 * cases. */
#include "store_bodies.h"

#include <libpq-fe.h>
#include <pthread.h>

static char pg_url[512];

/* The server's URL with a fresh, empty public schema. */
static const char *fresh_db(void)
{
	const char *file = getenv("KG_TEST_PG_URL_FILE");
	assert_non_null(file);
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	assert_non_null(fgets(pg_url, sizeof(pg_url), f));
	fclose(f);
	pg_url[strcspn(pg_url, "\n")] = '\0';
	PGconn *c = PQconnectdb(pg_url);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, "SET client_min_messages = warning;"
				"DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
	return pg_url;
}

static kg_store *open_pg(void)
{
	kg_store *s = NULL;
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_store_open(&s, pg_url, NULL, &err);
	if (rc)
		fail_msg("open %s: %s", pg_url, err.msg);
	return s;
}

static void picked_by_url_and_migrated(void **state)
{
	(void)state;
	fresh_db();
	kg_store *s = open_pg();
	kg_store *sq = kg_test_open(kg_test_db("pg_version"), NULL);
	assert_int_equal(kg_store_schema_version(s), kg_store_schema_version(sq));
	kg_store_close(sq);
	kg_store_close(s);
	/* a second open (another node) finds the schema there */
	s = open_pg();
	kg_err err;
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	assert_int_equal(kg_store_backup(s, "/tmp/x.db", &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "pg_dump"));
	kg_store_close(s);
	/* a file path is not a postgres store */
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.backend = KG_STORE_POSTGRES;
	assert_int_equal(kg_store_open(&s, kg_test_db("pgfile"), &opt, &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "postgres://"));
	/* no server there: a clear error, not a crash */
	assert_int_equal(kg_store_open(&s, "postgresql://nobody@127.0.0.1:1/none", NULL, &err),
			 KG_EIO);
	assert_non_null(strstr(err.msg, "cannot connect"));
}

static const uint8_t blob[] = {1, 0, 2, 0, 255};

static int events_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	uint8_t hash[32] = {9};
	kg_event_rec ev = {.account_id = "acc-1x", .event_id = "e1", .type = "login", .ts_ms = 1000,
			   .body = "{\"a\":1}", .decision = "{\"action\":\"allow\"}",
			   .account_id_len = 5, .body_hash = hash, .body_hash_len = 32};
	assert_int_equal(kg_tx_event_insert(tx, &ev, err), 0);
	assert_int_equal(kg_tx_event_insert(tx, &ev, err), KG_ECONFLICT);
	assert_string_equal(err->field, "id");
	ev.event_id = "e2";
	ev.ts_ms = 2000;
	ev.decision = NULL;
	assert_int_equal(kg_tx_event_insert(tx, &ev, err), 0);
	assert_int_equal(kg_tx_features_put(tx, "acc-1", blob, sizeof(blob), 5, err), 0);
	return 0;
}

struct reads {
	int n;
};

static int count_cb(const kg_event_rec *ev, void *ctx)
{
	struct reads *r = ctx;
	assert_string_equal(ev->account_id, "acc-1");
	r->n++;
	return 0;
}

static int events_read_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_event_rec got;
	assert_int_equal(kg_tx_event_get(tx, "acc-1", "e1", &got, &a, err), 0);
	assert_string_equal(got.type, "login");
	assert_int_equal(got.body_hash_len, 32);
	assert_int_equal(got.body_hash[0], 9);
	assert_int_equal(kg_tx_event_get(tx, "acc-1", "nope", &got, &a, err), KG_ENOTFOUND);
	const char *d;
	size_t dl, hl;
	const uint8_t *h;
	assert_int_equal(kg_tx_event_decision(tx, "acc-1", 5, "e2", 2, &a, &d, &dl, &h, &hl, err), 0);
	assert_string_equal(d, "{}");
	assert_int_equal(kg_tx_event_decision(tx, "acc-1", 5, "e9", 2, &a, &d, &dl, &h, &hl, err),
			 KG_ENOTFOUND);
	kg_event_rec *list;
	size_t n;
	assert_int_equal(kg_tx_event_list(tx, "acc-1", 0, &a, &list, &n, err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].event_id, "e2"); /* newest first */
	assert_int_equal(kg_tx_event_list(tx, "acc-1", 1, &a, &list, &n, err), 0);
	assert_int_equal(n, 1);
	struct reads r = {0};
	assert_int_equal(kg_tx_event_scan(tx, NULL, 0, 0, count_cb, &r, err), 0);
	assert_int_equal(r.n, 2);
	r.n = 0;
	assert_int_equal(kg_tx_event_scan(tx, "acc-1", 1500, 0, count_cb, &r, err), 0);
	assert_int_equal(r.n, 1);
	const uint8_t *b;
	size_t bl;
	int64_t up;
	assert_int_equal(kg_tx_features_get(tx, "acc-1", &a, &b, &bl, &up, err), 0);
	assert_int_equal(bl, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_int_equal(up, 5);
	assert_int_equal(kg_tx_features_get(tx, "acc-2", &a, &b, &bl, &up, err), KG_ENOTFOUND);
	/* writes are refused in a read transaction, as on SQLite */
	assert_int_equal(kg_tx_features_put(tx, "acc-1", blob, 1, 6, err), KG_EINVAL);
	kg_arena_release(&a);
	return 0;
}

static void events_and_features(void **state)
{
	(void)state;
	fresh_db();
	kg_store *s = open_pg();
	kg_err err;
	kg_err_clear(&err);
	assert_int_equal(kg_store_write(s, events_job, NULL, &err), 0);
	assert_int_equal(kg_store_read(s, events_read_job, NULL, &err), 0);
	kg_store_close(s);
}

/* ---- group commit: a failing job is rolled back alone ------------------------*/
struct put {
	const char *account;
	bool fail;
};

static int put_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct put *p = ctx;
	int rc = kg_tx_features_put(tx, p->account, "x", 1, 1, err);
	if (!rc && p->fail)
		rc = kg_err_set(err, KG_ECONFLICT, "this job fails");
	return rc;
}

static void failing_job_rolls_back_alone(void **state)
{
	(void)state;
	fresh_db();
	kg_store *s = open_pg();
	/* g2's job fails by itself; the NULL account's put is sent in the
	 * pipeline (kg_pg_send) and fails on the server (account_id NOT NULL)
	 * only when the job's results are read, after the job returned: it
	 * fails that job alone all the same */
	struct put puts[5] = {{"g1", false}, {"g2", true}, {NULL, false}, {"g3", false},
			      {"g4", false}};
	kg_store_ticket *t[5];
	kg_err err;
	for (int i = 0; i < 5; i++)
		assert_int_equal(kg_store_write_start(s, put_job, &puts[i], NULL, &t[i], &err), 0);
	for (int i = 0; i < 5; i++) {
		int rc = kg_store_write_wait(s, t[i], &err);
		if (puts[i].fail)
			assert_int_equal(rc, KG_ECONFLICT);
		else if (!puts[i].account)
			assert_true(rc < 0 && strstr(err.msg, "features put"));
		else
			assert_int_equal(rc, 0);
		kg_store_ticket_free(t[i]);
	}
	kg_store_close(s);
	/* what was kept, seen from a fresh connection */
	PGconn *pg = PQconnectdb(pg_url);
	PGresult *r = PQexec(pg, "SELECT string_agg(account_id, ',' ORDER BY account_id) FROM features");
	assert_string_equal(PQgetvalue(r, 0, 0), "g1,g3,g4");
	PQclear(r);
	PQfinish(pg);
}

/* ---- two nodes, one account: no lost update --------------------------------*/
#define NODES 2
#define THREADS 4
#define BUMPS 25

static int bump_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int64_t count = 0;
	int rc = kg_tx_features_get(tx, "hot", &a, &b, &len, NULL, err);
	if (rc == 0 && len == sizeof(count))
		memcpy(&count, b, sizeof(count));
	else if (rc != KG_ENOTFOUND && rc)
		goto cleanup;
	count++;
	rc = kg_tx_features_put(tx, "hot", &count, sizeof(count), 1, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

static void *bumper(void *p)
{
	kg_store *s = p;
	for (int i = 0; i < BUMPS; i++) {
		kg_err err;
		kg_err_clear(&err);
		int rc = kg_store_write(s, bump_job, NULL, &err);
		if (rc)
			fail_msg("bump: %s", err.msg);
	}
	return NULL;
}

static int read_count_job(kg_tx *tx, void *ctx, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int rc = kg_tx_features_get(tx, "hot", &a, &b, &len, NULL, err);
	if (!rc) {
		assert_int_equal(len, sizeof(int64_t));
		memcpy(ctx, b, sizeof(int64_t));
	}
	kg_arena_release(&a);
	return rc;
}

static void two_nodes_never_lose_an_update(void **state)
{
	(void)state;
	fresh_db();
	kg_store *node[NODES];
	for (int i = 0; i < NODES; i++)
		node[i] = open_pg();
	pthread_t th[NODES * THREADS];
	for (int i = 0; i < NODES * THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, bumper, node[i % NODES]), 0);
	for (int i = 0; i < NODES * THREADS; i++)
		pthread_join(th[i], NULL);
	int64_t count = 0;
	kg_err err;
	assert_int_equal(kg_store_read(node[1], read_count_job, &count, &err), 0);
	assert_int_equal(count, NODES * THREADS * BUMPS);
	for (int i = 0; i < NODES; i++)
		kg_store_close(node[i]);
}

/* ---- audit: two nodes append to one chain ------------------------------------*/
#define APPENDS 10

static int append_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_audit_entry e = {.account_id = "chain", .actor = "system", .action = "lock",
			    .detail = "{}"};
	return kg_tx_audit_append(tx, &e, NULL, err);
}

static void *appender(void *p)
{
	kg_store *s = p;
	for (int i = 0; i < APPENDS; i++) {
		kg_err err;
		kg_err_clear(&err);
		if (kg_store_write(s, append_job, NULL, &err))
			fail_msg("append: %s", err.msg);
	}
	return NULL;
}

static int audit_list_job(kg_tx *tx, void *ctx, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_audit_entry *e;
	size_t n;
	int rc = kg_tx_audit_list(tx, "chain", 0, 0, &a, &e, &n, err);
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(e[i].seq, (int64_t)i + 1);
	*(size_t *)ctx = n;
	assert_int_equal(kg_tx_audit_list(tx, "chain", 5, 2, &a, &e, &n, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].seq, 6);
	kg_arena_release(&a);
	return 0;
}

static void two_nodes_keep_one_audit_chain(void **state)
{
	(void)state;
	fresh_db();
	kg_store *node[NODES];
	for (int i = 0; i < NODES; i++)
		node[i] = open_pg();
	pthread_t th[NODES * THREADS];
	for (int i = 0; i < NODES * THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, appender, node[i % NODES]), 0);
	for (int i = 0; i < NODES * THREADS; i++)
		pthread_join(th[i], NULL);
	kg_audit_report rep;
	kg_err err;
	assert_int_equal(kg_store_audit_verify(node[0], NULL, &rep, NULL, NULL, &err), 0);
	assert_int_equal(rep.accounts, 1);
	assert_int_equal(rep.entries, NODES * THREADS * APPENDS);
	assert_int_equal(rep.altered + rep.inserted + rep.removed, 0);
	size_t n = 0;
	assert_int_equal(kg_store_read(node[1], audit_list_job, &n, &err), 0);
	assert_int_equal(n, NODES * THREADS * APPENDS);
	for (int i = 0; i < NODES; i++)
		kg_store_close(node[i]);
	/* an altered entry is found, as on SQLite */
	PGconn *pg = PQconnectdb(pg_url);
	PQclear(PQexec(pg, "UPDATE audit SET detail = '{\"x\":1}' WHERE seq = 3"));
	PQfinish(pg);
	kg_store *s = open_pg();
	assert_int_equal(kg_store_audit_verify(s, "chain", &rep, NULL, NULL, &err), 0);
	assert_int_equal(rep.altered, 1);
	kg_store_close(s);
}

/* ---- the delivery queue: both kinds, and two nodes claiming --------------------*/
static int queue_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_outbox o = {.account_id = "acc-1", .id = "q1", .rcpt = "a@example.jp", .mime = "x\0y",
		       .mime_len = 3, .next_attempt_ms = 100};
	kg_webhook w = {.account_id = "acc-1", .id = "q1", .event = "lock", .body = "{}",
			.next_attempt_ms = 100};
	assert_int_equal(kg_tx_outbox_insert(tx, &o, err), 0);
	assert_int_equal(kg_tx_outbox_insert(tx, &o, err), KG_ECONFLICT);
	assert_int_equal(kg_tx_webhook_insert(tx, &w, err), 0);
	kg_outbox *due;
	size_t n;
	assert_int_equal(kg_tx_outbox_claim_due(tx, 50, 1000, 0, &a, &due, &n, err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(kg_tx_outbox_claim_due(tx, 100, 1000, 0, &a, &due, &n, err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].attempts, 1);
	assert_int_equal(due[0].next_attempt_ms, 1100);
	assert_int_equal(due[0].mime_len, 3);
	assert_memory_equal(due[0].mime, "x\0y", 3);
	assert_int_equal(kg_tx_outbox_claim_due(tx, 200, 1000, 0, &a, &due, &n, err), 0);
	assert_int_equal(n, 0); /* leased */
	assert_int_equal(kg_tx_queue_mark_delivered(tx, KG_QUEUE_WEBHOOK, "acc-1", "q1", 5, err), 0);
	assert_int_equal(kg_tx_queue_mark_delivered(tx, KG_QUEUE_WEBHOOK, "acc-1", "q1", 6, err),
			 KG_ECONFLICT);
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_WEBHOOK, "q1", 7, err), KG_ECONFLICT);
	assert_non_null(strstr(err->msg, "webhook retry"));
	assert_int_equal(kg_tx_queue_mark_failed(tx, KG_QUEUE_MAIL, "acc-1", "q1", 0, "550", err), 0);
	kg_outbox got;
	assert_int_equal(kg_tx_outbox_find(tx, "q1", &got, &a, err), 0);
	assert_string_equal(got.state, "failed");
	assert_string_equal(got.last_error, "550");
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_MAIL, "q1", 9, err), 0);
	assert_int_equal(kg_tx_outbox_get(tx, "acc-1", "q1", &got, &a, err), 0);
	assert_string_equal(got.state, "pending");
	assert_int_equal(got.attempts, 0);
	assert_int_equal(kg_tx_queue_retry(tx, KG_QUEUE_MAIL, "nope", 9, err), KG_ENOTFOUND);
	assert_int_equal(kg_tx_queue_mark_delivered(tx, KG_QUEUE_MAIL, "acc-1", "nope", 9, err),
			 KG_ENOTFOUND);
	kg_webhook *hooks;
	assert_int_equal(kg_tx_webhook_list_all(tx, "delivered", NULL, 0, &a, &hooks, &n, err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kg_tx_webhook_list_all(tx, "pending", NULL, 0, &a, &hooks, &n, err), 0);
	assert_int_equal(n, 0);
	/* twenty more for the claimers */
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "m%02d", i);
		kg_outbox m = {.account_id = "acc-2", .id = id, .rcpt = "b@example.jp",
			       .mime = "m", .next_attempt_ms = 10};
		assert_int_equal(kg_tx_outbox_insert(tx, &m, err), 0);
	}
	kg_arena_release(&a);
	return 0;
}

struct claimer {
	kg_store *s;
	char ids[20][16];
	size_t n;
};

static int claim_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct claimer *c = ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_outbox *due;
	size_t n;
	int rc = kg_tx_outbox_claim_due(tx, 50, 60000, 20, &a, &due, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		if (!strcmp(due[i].account_id, "acc-2"))
			snprintf(c->ids[c->n++], 16, "%s", due[i].id);
	kg_arena_release(&a);
	return rc;
}

static void *claimer_main(void *p)
{
	struct claimer *c = p;
	kg_err err;
	kg_err_clear(&err);
	if (kg_store_write(c->s, claim_job, c, &err))
		fail_msg("claim: %s", err.msg);
	return NULL;
}

static void queue_of_two_kinds_shared_by_nodes(void **state)
{
	(void)state;
	fresh_db();
	kg_store *node[NODES];
	for (int i = 0; i < NODES; i++)
		node[i] = open_pg();
	kg_err err;
	kg_err_clear(&err);
	assert_int_equal(kg_store_write(node[0], queue_job, NULL, &err), 0);
	struct claimer c[NODES] = {{.s = node[0]}, {.s = node[1]}};
	pthread_t th[NODES];
	for (int i = 0; i < NODES; i++)
		assert_int_equal(pthread_create(&th[i], NULL, claimer_main, &c[i]), 0);
	for (int i = 0; i < NODES; i++)
		pthread_join(th[i], NULL);
	/* every row claimed once, by one node */
	assert_int_equal(c[0].n + c[1].n, 20);
	for (size_t i = 0; i < c[0].n; i++)
		for (size_t k = 0; k < c[1].n; k++)
			assert_string_not_equal(c[0].ids[i], c[1].ids[k]);
	for (int i = 0; i < NODES; i++)
		kg_store_close(node[i]);
}

/* ---- the bodies test_store.c runs on SQLite ----------------------------------*/
static void run_on_pg(body_fn fn)
{
	fresh_db();
	kg_store *s = open_pg();
	write_body(s, fn);
	kg_store_close(s);
}

/* After accounts_body, in a read transaction of another connection. */
static void accounts_seen_read_only(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_account got;
	assert_false(kg_tx_writable(tx));
	assert_int_equal(kg_tx_account_get_by_email(tx, "HANAKO@example.jp", &got, a, &err), 0);
	assert_string_equal(got.phone, "+81-90-1111-2222");
	assert_int_equal(kg_tx_account_insert(tx, &alice, &err), KG_EINVAL);
}

static void same_bodies_as_sqlite(void **state)
{
	(void)state;
	static const body_fn bodies[] = {accounts_body, search_body, cards_body, credentials_body,
					 events_body, outbox_body, queue_kinds_body, locks_body,
					 incidents_body, messages_body};
	for (size_t i = 0; i < KG_ARRAY_LEN(bodies); i++)
		run_on_pg(bodies[i]);
	fresh_db();
	kg_store *s = open_pg();
	write_body(s, accounts_body);
	read_body(s, accounts_seen_read_only);
	kg_store_close(s);
}

/* ---- codes, counters, identity checks, cases: store_bodies.h's jobs ---------*/
static void same_jobs_as_sqlite(void **state)
{
	(void)state;
	kg_tx_fn jobs[] = {checks_job, cases_job};
	for (size_t i = 0; i < KG_ARRAY_LEN(jobs); i++) {
		fresh_db();
		kg_store *s = open_pg();
		kg_err err;
		kg_err_clear(&err);
		if (kg_store_write(s, jobs[i], NULL, &err))
			fail_msg("%s", err.msg);
		kg_store_close(s);
	}
}

/* ---- a batch's rows set-based, and its reads ahead --------------------------*/
static int batch_write_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_event_rec evs[3] = {
		{.account_id = "a1", .event_id = "e1", .type = "login", .ts_ms = 1, .body = "{}",
		 .decision = "{\"action\":\"allow\"}"},
		{.account_id = "a2", .event_id = "e1", .type = "login", .ts_ms = 2, .body = "{}",
		 .decision = "{\"action\":\"hold\"}"},
		{.account_id = "a1", .event_id = "e1", .type = "login", .ts_ms = 3, .body = "{}",
		 .decision = "{}"}, /* the first row again: not stored */
	};
	bool stored[3];
	assert_int_equal(kg_tx_event_insert_many(tx, evs, 3, stored, err), 0);
	assert_true(stored[0] && stored[1] && !stored[2]);
	/* two puts of one account in one job: the last is kept, and a read in
	 * the job sees it (the puts go before any other statement) */
	assert_int_equal(kg_tx_features_put(tx, "a1", "x", 1, 10, err), 0);
	assert_int_equal(kg_tx_features_put(tx, "a2", "z", 1, 7, err), 0);
	assert_int_equal(kg_tx_features_put(tx, "a1", blob, sizeof(blob), 11, err), 0);
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int64_t ver = 0;
	assert_int_equal(kg_tx_features_get(tx, "a1", &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_int_equal(ver, 11);
	assert_int_equal(kg_tx_entity_put(tx, 1, 42, "old", 3, 5, err), 0);
	assert_int_equal(kg_tx_entity_put(tx, 1, 42, "new!", 4, 6, err), 0);
	/* locks in any order given: the versions come back in that order; a
	 * new row is made (version 0) */
	const char *ids[3] = {"a2", "a3", "a1"};
	int64_t vers[3] = {-1, -1, -1};
	assert_int_equal(kg_tx_features_lock_many(tx, ids, 3, vers, err), 0);
	assert_int_equal(vers[0], 7);
	assert_int_equal(vers[1], 0);
	assert_int_equal(vers[2], 11);
	int kinds[3] = {2, 1, 2};
	uint64_t keys[3] = {UINT64_MAX, 42, UINT64_MAX}; /* a key above INT64_MAX, twice */
	int64_t evers[3] = {-1, -1, -1};
	assert_int_equal(kg_tx_entity_lock_many(tx, kinds, keys, 3, evers, err), 0);
	assert_int_equal(evers[0], 0);
	assert_int_equal(evers[1], 6);
	assert_int_equal(evers[2], 0);
	kg_arena_release(&a);
	return 0;
}

static int read_ahead_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	const char *accts[3] = {"a1", "a3", "a4"};
	const char *ev_accts[2] = {"a1", "a1"};
	size_t alens[2] = {2, 2};
	const char *ids[2] = {"e1", "e9"};
	size_t idlens[2] = {2, 2};
	int kinds[3] = {1, 2, 3};
	uint64_t keys[3] = {42, UINT64_MAX, 5};
	kg_read_ahead ra = {accts, 3, ev_accts, alens, ids, idlens, 2, kinds, keys, 3};
	assert_int_equal(kg_tx_read_ahead(tx, &ra, err), 0);
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int64_t ver = 0;
	/* read ahead: found, a placeholder (no state), missing */
	assert_int_equal(kg_tx_features_get(tx, "a1", &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(b, blob, sizeof(blob));
	assert_int_equal(ver, 11);
	assert_int_equal(kg_tx_features_get(tx, "a3", &a, &b, &len, &ver, err), KG_ENOTFOUND);
	assert_int_equal(kg_tx_features_get(tx, "a4", &a, &b, &len, &ver, err), KG_ENOTFOUND);
	/* not read ahead: asked on its own */
	assert_int_equal(kg_tx_features_get(tx, "a2", &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, 1);
	assert_int_equal(ver, 7);
	const char *d = NULL;
	size_t dlen = 0;
	const uint8_t *h = NULL;
	size_t hlen = 0;
	assert_int_equal(kg_tx_event_decision(tx, "a1", 2, "e1", 2, &a, &d, &dlen, &h, &hlen, err),
			 0);
	assert_string_equal(d, "{\"action\":\"allow\"}");
	assert_int_equal(dlen, strlen(d));
	assert_int_equal(kg_tx_event_decision(tx, "a1", 2, "e9", 2, &a, &d, &dlen, &h, &hlen, err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_event_decision(tx, "a2", 2, "e1", 2, &a, &d, &dlen, &h, &hlen, err),
			 0);
	assert_string_equal(d, "{\"action\":\"hold\"}");
	assert_int_equal(kg_tx_entity_get(tx, 1, 42, &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(b, "new!", 4);
	assert_int_equal(ver, 6);
	assert_int_equal(kg_tx_entity_get(tx, 2, UINT64_MAX, &a, &b, &len, &ver, err),
			 KG_ENOTFOUND);
	assert_int_equal(kg_tx_entity_get(tx, 3, 5, &a, &b, &len, &ver, err), KG_ENOTFOUND);
	kg_arena_release(&a);
	return 0;
}

static int read_ahead_in_write_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_read_ahead ra = {0};
	return kg_tx_read_ahead(tx, &ra, err);
}

/* what a later transaction reads: the server's row, not an earlier read-ahead */
static int reread_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int64_t ver = 0;
	assert_int_equal(kg_tx_features_get(tx, "a3", &a, &b, &len, &ver, err), 0);
	assert_int_equal(ver, 20);
	kg_arena_release(&a);
	return 0;
}

static int put_a3_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	return kg_tx_features_put(tx, "a3", "q", 1, 20, err);
}

static void batch_rows_and_read_ahead(void **state)
{
	(void)state;
	fresh_db();
	kg_store *s = open_pg();
	kg_err err;
	assert_true(kg_store_reads_remote(s));
	assert_int_equal(kg_store_write(s, batch_write_job, NULL, &err), 0);
	assert_int_equal(kg_store_read(s, read_ahead_job, NULL, &err), 0);
	assert_int_equal(kg_store_write(s, read_ahead_in_write_job, NULL, &err), KG_EINVAL);
	assert_int_equal(kg_store_write(s, put_a3_job, NULL, &err), 0);
	assert_int_equal(kg_store_read(s, reread_job, NULL, &err), 0);
	kg_store_close(s);
	/* SQLite reads locally: read-ahead does nothing */
	kg_store *sq = kg_test_open(kg_test_db("pg_ahead_sqlite"), NULL);
	assert_false(kg_store_reads_remote(sq));
	assert_int_equal(kg_store_read(sq, read_ahead_in_write_job, NULL, &err), 0);
	kg_store_close(sq);
}

int main(void)
{
	if (!getenv("KG_TEST_PG_URL_FILE")) {
		fprintf(stderr, "KG_TEST_PG_URL_FILE not set: no PostgreSQL server to test on\n");
		return 77;
	}
	kg_test_dir_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(picked_by_url_and_migrated),
		cmocka_unit_test(events_and_features),
		cmocka_unit_test(failing_job_rolls_back_alone),
		cmocka_unit_test(batch_rows_and_read_ahead),
		cmocka_unit_test(two_nodes_never_lose_an_update),
		cmocka_unit_test(two_nodes_keep_one_audit_chain),
		cmocka_unit_test(queue_of_two_kinds_shared_by_nodes),
		cmocka_unit_test(same_bodies_as_sqlite),
		cmocka_unit_test(same_jobs_as_sqlite),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kg_test_dir_cleanup();
	return rc;
}
