/* Unit tests of src/store on real SQLite files: migrations, every core
 * operation, read-only enforcement, reopen. Group commit, audit tampering
 * and fault injection are in test_store_commit.c. */
#include "store_bodies.h"

/* ---- migrations ---------------------------------------------------------*/
static void migrations_are_idempotent(void **state)
{
	(void)state;
	const char *path = kg_test_db("migrate");
	kg_store *s = kg_test_open(path, NULL);
	int v = kg_store_schema_version(s);
	assert_true(v >= 1);
	kg_store_close(s);
	s = kg_test_open(path, NULL);
	assert_int_equal(kg_store_schema_version(s), v);
	kg_store_close(s);
	sqlite3 *db = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM schema_migrations"), v);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
					     "name IN ('accounts','events','locks','audit',"
					     "'messages','cases','case_history','case_documents',"
					     "'codes','counters','identity_checks','outbox',"
					     "'webhooks','incidents','credentials','lists',"
					     "'features','account_cards','account_addresses')"),
			 19);
	/* WAL mode persists in the file */
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* every applied migration carries the checksum of its text ... */
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM schema_migrations "
					     "WHERE length(checksum) = 32"),
			 v);
	/* ... and a database whose migration 1 differs from ours is refused */
	kg_test_raw_exec(db, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
	kg_store *s3 = NULL;
	kg_err err3;
	assert_int_equal(kg_store_open(&s3, path, NULL, &err3), KG_EINVAL);
	assert_non_null(strstr(err3.msg, "migration 1 differs"));
	/* a database made before checksums were kept gets them recorded */
	kg_test_raw_exec(db, "UPDATE schema_migrations SET checksum = NULL");
	s3 = kg_test_open(path, NULL);
	kg_store_close(s3);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM schema_migrations "
					     "WHERE length(checksum) = 32"),
			 v);
	/* a database from a newer kagi is refused, not downgraded */
	kg_test_raw_exec(db, "INSERT INTO schema_migrations (version, applied_ms) VALUES (999, 0)");
	sqlite3_close(db);
	kg_store *s2 = NULL;
	kg_err err;
	assert_int_equal(kg_store_open(&s2, path, NULL, &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "newer"));
	assert_null(s2);
}

static void migrations_table_of_before_checksums_is_upgraded(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("oldmig"));
	sqlite3 *db = kg_test_raw(path);
	kg_test_raw_exec(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
			     "applied_ms INTEGER NOT NULL)");
	sqlite3_close(db);
	kg_store *s = kg_test_open(path, NULL);
	int v = kg_store_schema_version(s);
	kg_store_close(s);
	db = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(db, "SELECT count(*) FROM schema_migrations "
					     "WHERE length(checksum) = 32"),
			 v);
	sqlite3_close(db);
}

static void open_errors_are_clear(void **state)
{
	(void)state;
	kg_store *s = NULL;
	kg_err err;
	assert_int_equal(kg_store_open(&s, "/nonexistent-dir/x/kagi.db", NULL, &err), KG_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/x/kagi.db"));
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.backend = KG_STORE_POSTGRES;
	assert_int_equal(kg_store_open(&s, kg_test_db("pg"), &opt, &err), KG_EINVAL);
	opt.backend = KG_STORE_SQLITE;
	opt.fault = "full:zero";
	assert_int_equal(kg_store_open(&s, kg_test_db("badfault"), &opt, &err), KG_EINVAL);
}

static void accounts_read_only(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_account got;
	assert_false(kg_tx_writable(tx));
	assert_int_equal(kg_tx_account_get(tx, "acc-1", &got, a, &err), 0);
	assert_int_equal(kg_tx_account_insert(tx, &alice, &err), KG_EINVAL);
	assert_non_null(strstr(err.msg, "write transaction"));
}

static void accounts_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("accounts"), NULL);
	write_body(s, accounts_body);
	read_body(s, accounts_read_only);
	kg_store_close(s);
}

static void search_works(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("search"), NULL);
	write_body(s, search_body);
	kg_store_close(s);
}

static void cards_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("cards"), NULL);
	write_body(s, cards_body);
	kg_store_close(s);
}

static void credentials_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("creds"), NULL);
	write_body(s, credentials_body);
	kg_store_close(s);
}

static void events_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("events"), NULL);
	write_body(s, events_body);
	kg_store_close(s);
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

static void incidents_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("incidents"), NULL);
	write_body(s, incidents_body);
	kg_store_close(s);
}

static void locks_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("locks"), NULL);
	write_body(s, locks_body);
	kg_store_close(s);
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

static void messages_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("messages"), NULL);
	write_body(s, messages_body);
	kg_store_close(s);
}

static void outbox_work(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("outbox"), NULL);
	write_body(s, outbox_body);
	kg_store_close(s);
}

static void queue_kinds_share_one_mechanism(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("queuekinds"), NULL);
	write_body(s, queue_kinds_body);
	kg_store_close(s);
}

/* ---- durability across reopen ---------------------------------------------*/
static void reopen_insert(kg_tx *tx, kg_arena *a)
{
	(void)a;
	kg_err err;
	assert_int_equal(kg_tx_account_insert(tx, &alice, &err), 0);
	kg_event_rec ev = {.account_id = "acc-1", .event_id = "e", .type = "login",
			   .ts_ms = 1, .body = "{}", .decision = "{\"action\":\"lock\"}"};
	assert_int_equal(kg_tx_event_insert(tx, &ev, &err), 0);
}

static void reopen_check(kg_tx *tx, kg_arena *a)
{
	kg_err err;
	kg_account acc;
	assert_int_equal(kg_tx_account_get(tx, "acc-1", &acc, a, &err), 0);
	kg_event_rec ev;
	assert_int_equal(kg_tx_event_get(tx, "acc-1", "e", &ev, a, &err), 0);
	assert_string_equal(ev.decision, "{\"action\":\"lock\"}");
}

static void reopen_keeps_data(void **state)
{
	(void)state;
	const char *path = kg_test_db("reopen");
	char p[640];
	snprintf(p, sizeof(p), "%s", path);
	kg_store *s = kg_test_open(p, NULL);
	write_body(s, reopen_insert);
	kg_store_close(s);
	/* close checkpointed: the WAL is empty */
	char wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", p);
	FILE *f = fopen(wal, "rb");
	if (f) {
		fseek(f, 0, SEEK_END);
		assert_int_equal(ftell(f), 0);
		fclose(f);
	}
	s = kg_test_open(p, NULL);
	read_body(s, reopen_check);
	kg_err err;
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	assert_true(st.reads >= 1);
	kg_store_close(s);
}

static void backup_is_a_consistent_copy(void **state)
{
	(void)state;
	char src[640], dst[640];
	snprintf(src, sizeof(src), "%s", kg_test_db("backup_src"));
	snprintf(dst, sizeof(dst), "%s", kg_test_db("backup_dst"));
	kg_store *s = kg_test_open(src, NULL);
	write_body(s, reopen_insert);
	kg_err err;
	assert_int_equal(kg_store_backup(s, dst, &err), 0);
	assert_int_equal(kg_store_backup(s, dst, &err), KG_ECONFLICT);
	assert_int_equal(kg_store_backup(s, "/nonexistent-dir/b.db", &err), KG_EIO);
	kg_store_close(s);
	s = kg_test_open(dst, NULL);
	read_body(s, reopen_check);
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_close(s);
}

struct nested {
	kg_store *s;
	int rc;
};

static int noop_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)tx;
	(void)ctx;
	(void)err;
	return 0;
}

static int nested_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)tx;
	struct nested *n = ctx;
	n->rc = kg_store_write(n->s, noop_job, NULL, err);
	return 0;
}

static void write_inside_a_job_is_refused(void **state)
{
	(void)state;
	kg_store *s = kg_test_open(kg_test_db("nested"), NULL);
	struct nested n = {.s = s};
	kg_err err;
	assert_int_equal(kg_store_write(s, nested_job, &n, &err), 0);
	assert_int_equal(n.rc, KG_EINVAL); /* instead of a deadlock */
	kg_store_close(s);
}

static void ids_are_unique_and_prefixed(void **state)
{
	(void)state;
	char a[KG_STORE_ID_MAX], b[KG_STORE_ID_MAX];
	kg_store_new_id(a, "lck");
	kg_store_new_id(b, "lck");
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "lck_", 4), 0);
	assert_int_equal(strlen(a), 4 + 32);
}

static int teardown_all(void **state)
{
	(void)state;
	kg_test_dir_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrations_are_idempotent),
		cmocka_unit_test(migrations_table_of_before_checksums_is_upgraded),
		cmocka_unit_test(open_errors_are_clear),
		cmocka_unit_test(accounts_work),
		cmocka_unit_test(search_works),
		cmocka_unit_test(cards_work),
		cmocka_unit_test(credentials_work),
		cmocka_unit_test(events_work),
		cmocka_unit_test(locks_work),
		cmocka_unit_test(incidents_work),
		cmocka_unit_test(messages_work),
		cmocka_unit_test(outbox_work),
		cmocka_unit_test(queue_kinds_share_one_mechanism),
		cmocka_unit_test(reopen_keeps_data),
		cmocka_unit_test(backup_is_a_consistent_copy),
		cmocka_unit_test(write_inside_a_job_is_refused),
		cmocka_unit_test(ids_are_unique_and_prefixed),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
