/* Unit tests of src/store on real SQLite files: migrations, every core
 * operation, read-only enforcement, reopen. Group commit, audit tampering
 * and fault injection are in test_store_commit.c. */
#include <sys/stat.h>
#include <unistd.h>

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

static int sole_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)err;
	*(bool *)ctx = kg_tx_sole_writer(tx);
	return 0;
}

static int put_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	return kg_tx_entity_put(tx, 1, 42, "x", 1, 0, err);
}

/* kg_tx_sole_writer: true while only this store's writer has committed
 * since it opened the file (its own commits, the readers' reads, another
 * store's reads change nothing); false from another connection's commit on,
 * for good; false in a read transaction. */
static void sole_writer_until_another_connection_commits(void **state)
{
	(void)state;
	const char *path = kg_test_db("sole");
	kg_store *s = kg_test_open(path, NULL);
	kg_err err;
	bool sole = false;
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_true(sole);
	assert_int_equal(kg_store_write(s, put_job, NULL, &err), 0);
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_true(sole);
	sole = true;
	assert_int_equal(kg_store_read(s, sole_job, &sole, &err), 0);
	assert_false(sole);
	sqlite3 *raw = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM entity_features"), 1);
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_true(sole); /* a read by another connection */
	kg_test_raw_exec(raw, "UPDATE entity_features SET state = x'01'");
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_false(sole);
	assert_int_equal(kg_store_write(s, put_job, NULL, &err), 0);
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_false(sole); /* for good */
	sqlite3_close(raw);
	kg_store_close(s);
	/* opened again: nobody else has written since */
	s = kg_test_open(path, NULL);
	assert_int_equal(kg_store_write(s, sole_job, &sole, &err), 0);
	assert_true(sole);
	kg_store_close(s);
}

struct many {
	int from, n;
};

static int many_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct many *m = ctx;
	char blob[2000];
	memset(blob, 'b', sizeof(blob));
	for (int i = m->from; i < m->from + m->n; i++) {
		int rc = kg_tx_entity_put(tx, 2, (uint64_t)i, blob, sizeof(blob), 0, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Commits that fill the WAL past the checkpoint threshold (1,000 frames):
 * the checkpointer thread copies it into the database file (which grows
 * with no commit after the last), every row is there on another
 * connection and after reopening, the file is sound, and close leaves no
 * WAL behind. */
static void wal_is_checkpointed_beside_the_writer(void **state)
{
	(void)state;
	const char *path = kg_test_db("ckpt");
	kg_store *s = kg_test_open(path, NULL);
	kg_err err;
	int total = 0;
	for (int round = 0; round < 40; round++) {
		struct many m = {total, 500}; /* ~1 MB, ~70 pages of 16 KiB a round */
		assert_int_equal(kg_store_write(s, many_job, &m, &err), 0);
		total += m.n;
	}
	/* the database file itself grows (a checkpoint copied the frames),
	 * without any commit after the last one: waited for, at most 60 s */
	struct stat st;
	for (int i = 0; i < 600; i++) {
		if (stat(path, &st) == 0 && st.st_size > (off_t)total * 1000)
			break;
		usleep(100 * 1000);
	}
	assert_true(st.st_size > (off_t)total * 1000);
	sqlite3 *raw = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM entity_features WHERE kind = 2"),
			 total);
	sqlite3_close(raw);
	assert_int_equal(kg_store_integrity_check(s, &err), 0);
	kg_store_close(s);
	char wal[700];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_true(stat(wal, &st) != 0 || st.st_size == 0); /* closed: truncated */
	s = kg_test_open(path, NULL);
	raw = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM entity_features WHERE kind = 2"),
			 total);
	sqlite3_close(raw);
	kg_store_close(s);
}

/* Many events at once (kg_tx_event_insert_many: on SQLite 64 and 16 rows a
 * statement, then one by one): rows already stored, and repeats within
 * the call (in one statement and in two), are not stored again and say so; the ids come with lengths
 * (no NUL after them) as the risk engine gives them. */
static void events_many_check(kg_tx *tx, bool *stored, size_t n)
{
	kg_err err;
	for (size_t i = 0; i < n; i++) {
		bool old = i == 5 || i == 70 || i == 140 || i == 149;
		bool again = i == 100 || i == 20; /* repeat rows 3 and 10 */
		if (stored[i] == (old || again))
			fail_msg("row %zu: stored %d", i, stored[i]);
	}
	kg_arena a;
	kg_arena_init(&a, 0);
	kg_event_rec got;
	if (n > 5) {
		assert_int_equal(kg_tx_event_get(tx, "acc-m", "m-5", &got, &a, &err), 0);
		assert_string_equal(got.decision, "{\"old\":1}"); /* the first row kept */
	}
	char last[32];
	snprintf(last, sizeof(last), "m-%zu", n - 1);
	assert_int_equal(kg_tx_event_get(tx, "acc-m", last, &got, &a, &err), 0);
	assert_string_equal(got.type, "login");
	if (n == 150) {
		assert_string_equal(got.decision, "{\"old\":1}");
		assert_int_equal(kg_tx_event_get(tx, "acc-m", "m-3", &got, &a, &err), 0);
		assert_string_equal(got.decision, "{\"n\":3}"); /* not row 100's */
		assert_int_equal(got.ts_ms, 3);
		assert_int_equal(kg_tx_event_get(tx, "acc-m", "m-148", &got, &a, &err), 0);
		assert_int_equal(got.ts_ms, 148);
	} else {
		assert_int_equal(got.ts_ms, (int64_t)n - 1);
	}
	kg_arena_release(&a);
}

static int events_many_job(kg_tx *tx, void *ctx, kg_err *err)
{
	size_t n = *(size_t *)ctx;
	static char ids[150][16], decisions[150][16];
	static const char old_ids[][8] = {"m-5", "m-70", "m-140", "m-149"};
	kg_event_rec evs[150];
	bool stored[150];
	for (size_t i = 0; i < KG_ARRAY_LEN(old_ids); i++) {
		kg_event_rec ev = {.account_id = "acc-m", .event_id = old_ids[i], .type = "login",
				   .ts_ms = 1, .body = "{}", .decision = "{\"old\":1}"};
		if (strtoul(old_ids[i] + 2, NULL, 10) < n && kg_tx_event_insert(tx, &ev, err))
			return err->code;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = i == 100 ? 3 : i == 20 ? 10 : i; /* 20: in the same statement */
		int idn = snprintf(ids[i], sizeof(ids[i]), "m-%zuXX", k) - 2; /* no NUL after */
		int dn = snprintf(decisions[i], sizeof(decisions[i]), "{\"n\":%zu}", k);
		evs[i] = (kg_event_rec){.account_id = "acc-mXX", .account_id_len = 5,
					.event_id = ids[i], .event_id_len = (size_t)idn,
					.type = "login", .ts_ms = (int64_t)i, .body = "{}",
					.decision = decisions[i], .decision_len = (size_t)dn};
	}
	int rc = kg_tx_event_insert_many(tx, evs, n, stored, err);
	if (!rc)
		events_many_check(tx, stored, n);
	return rc;
}

static void events_many_skip_the_stored(void **state)
{
	(void)state;
	size_t sizes[] = {150, 64, 16, 3}; /* 64 + 64 + 16 + 6, one of each size, one by one */
	for (size_t i = 0; i < KG_ARRAY_LEN(sizes); i++) {
		char name[32];
		snprintf(name, sizeof(name), "events-many-%zu", sizes[i]);
		char path[640];
		snprintf(path, sizeof(path), "%s", kg_test_db(name));
		kg_store *s = kg_test_open(path, NULL);
		kg_err err;
		kg_err_clear(&err);
		if (kg_store_write(s, events_many_job, &sizes[i], &err))
			fail_msg("%s", err.msg);
		sqlite3 *raw = kg_test_raw(path);
		assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM events"),
				 sizes[i] - (sizes[i] > 100) - (sizes[i] > 20)); /* each once */
		sqlite3_close(raw);
		kg_store_close(s);
	}
}

/* kg_tx_features_replace and kg_tx_entity_replace: an update of a row that
 * is there, an insert of one that is not; the same rows as the puts */
static int replace_job(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	kg_arena a;
	kg_arena_init(&a, 0);
	const uint8_t *b = NULL;
	size_t len = 0;
	int64_t ver = 0;
	assert_int_equal(kg_tx_features_replace(tx, "acc-r", "ab", 2, 5, err), 0); /* none yet */
	assert_int_equal(kg_tx_features_get(tx, "acc-r", &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, 2);
	assert_int_equal(ver, 5);
	assert_int_equal(kg_tx_features_replace(tx, "acc-r", "xyz", 3, 6, err), 0);
	assert_int_equal(kg_tx_features_get(tx, "acc-r", &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(b, "xyz", 3);
	assert_int_equal(ver, 6);
	assert_int_equal(kg_tx_entity_replace(tx, 2, UINT64_MAX, "q", 1, 7, err), 0);
	assert_int_equal(kg_tx_entity_replace(tx, 2, UINT64_MAX, "rs", 2, 8, err), 0);
	assert_int_equal(kg_tx_entity_get(tx, 2, UINT64_MAX, &a, &b, &len, &ver, err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(b, "rs", 2);
	assert_int_equal(ver, 8);
	assert_int_equal(kg_tx_entity_get(tx, 1, UINT64_MAX, &a, &b, &len, &ver, err),
			 KG_ENOTFOUND);
	kg_arena_release(&a);
	return 0;
}

static void replace_updates_or_inserts(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("replace"));
	kg_store *s = kg_test_open(path, NULL);
	kg_err err;
	kg_err_clear(&err);
	if (kg_store_write(s, replace_job, NULL, &err))
		fail_msg("%s", err.msg);
	sqlite3 *raw = kg_test_raw(path);
	assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM features"), 1);
	assert_int_equal(kg_test_raw_int(raw, "SELECT count(*) FROM entity_features"), 1);
	sqlite3_close(raw);
	kg_store_close(s);
}

static int teardown_all(void **state)
{
	(void)state;
	kg_test_dir_cleanup();
	return 0;
}

/* the jobs of store_bodies.h (counters, codes, identity checks, cases) */
static void checks_and_cases_work(void **state)
{
	(void)state;
	kg_tx_fn jobs[] = {checks_job, cases_job};
	const char *names[] = {"checks", "cases"};
	for (size_t i = 0; i < KG_ARRAY_LEN(jobs); i++) {
		kg_store *s = kg_test_open(kg_test_db(names[i]), NULL);
		kg_err err;
		kg_err_clear(&err);
		if (kg_store_write(s, jobs[i], NULL, &err))
			fail_msg("%s", err.msg);
		kg_store_close(s);
	}
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
		cmocka_unit_test(events_many_skip_the_stored),
		cmocka_unit_test(replace_updates_or_inserts),
		cmocka_unit_test(locks_work),
		cmocka_unit_test(incidents_work),
		cmocka_unit_test(messages_work),
		cmocka_unit_test(outbox_work),
		cmocka_unit_test(queue_kinds_share_one_mechanism),
		cmocka_unit_test(checks_and_cases_work),
		cmocka_unit_test(reopen_keeps_data),
		cmocka_unit_test(backup_is_a_consistent_copy),
		cmocka_unit_test(write_inside_a_job_is_refused),
		cmocka_unit_test(ids_are_unique_and_prefixed),
		cmocka_unit_test(sole_writer_until_another_connection_commits),
		cmocka_unit_test(wal_is_checkpointed_beside_the_writer),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
