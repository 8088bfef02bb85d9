/* SQLite operations on locks: insert, read, lift, expiry, and the
 * wave/incident queries the guard needs. */
#include "store/sqlite_impl.h"

#include <string.h>

#define LOCK_COLS                                                                 \
	"account_id, lock_id, reason, kind, evidence, state, created_ms, expires_ms, " \
	"lifted_ms, lifted_by, lift_method, incident_id"

static const char SQL_LOCK_INSERT[] =
	"INSERT INTO locks (" LOCK_COLS ") VALUES "
	"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_LOCK_GET[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = ?1 AND lock_id = ?2";
static const char SQL_LOCK_ACTIVE[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = ?1 AND state = 'active' "
	"AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY created_ms, lock_id";
static const char SQL_LOCK_LIST[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = ?1 "
	"ORDER BY created_ms DESC, lock_id DESC LIMIT ?2";
static const char SQL_LOCK_LIFT[] =
	"UPDATE locks SET state = 'lifted', lifted_ms = ?3, lifted_by = ?4, lift_method = ?5 "
	"WHERE account_id = ?1 AND lock_id = ?2 AND state = 'active'";
static const char SQL_LOCK_EXPIRE[] =
	"UPDATE locks SET state = 'expired', lifted_ms = expires_ms, lift_method = 'expiry' "
	"WHERE state = 'active' AND expires_ms IS NOT NULL AND expires_ms <= ?1";
static const char SQL_LOCK_DUE[] =
	"SELECT " LOCK_COLS " FROM locks WHERE state = 'active' AND expires_ms IS NOT NULL "
	"AND expires_ms <= ?1 ORDER BY expires_ms, account_id, lock_id LIMIT ?2";
static const char SQL_LOCK_COUNT_SINCE[] =
	"SELECT count(*) FROM locks WHERE created_ms >= ?1";
static const char SQL_LOCK_TAG[] =
	"UPDATE locks SET incident_id = ?1 WHERE state = 'active' AND incident_id IS NULL "
	"AND created_ms >= ?2 AND created_ms < ?3";
static const char SQL_LOCK_INCIDENT[] =
	"SELECT " LOCK_COLS " FROM locks WHERE incident_id = ?1 AND state = 'active' "
	"ORDER BY created_ms, account_id, lock_id";

static void read_lock(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_lock *l = row;
	l->account_id = kg_sq_col_text(a, st, 0);
	l->lock_id = kg_sq_col_text(a, st, 1);
	l->reason = kg_sq_col_text(a, st, 2);
	l->kind = kg_sq_col_text(a, st, 3);
	l->evidence = kg_sq_col_text(a, st, 4);
	l->state = kg_sq_col_text(a, st, 5);
	l->created_ms = kg_sq_col_i64(st, 6);
	l->expires_ms = kg_sq_col_i64(st, 7);
	l->lifted_ms = kg_sq_col_i64(st, 8);
	l->lifted_by = kg_sq_col_text(a, st, 9);
	l->lift_method = kg_sq_col_text(a, st, 10);
	l->incident_id = kg_sq_col_text(a, st, 11);
}

/* Steps st to the end, appending every row to an arena array. */
static int read_locks(kg_tx *tx, sqlite3_stmt *st, kg_arena *a, kg_lock **out, size_t *n,
		      kg_err *err)
{
	return kg_sq_rows(tx, st, a, read_lock, sizeof(**out), (void **)out, n, err,
			  "lock list");
}

static int lock_insert(kg_tx *tx, const kg_lock *l, kg_err *err)
{
	const char *state = l->state ? l->state : "active";
	if (strcmp(state, "active") && strcmp(state, "lifted") && strcmp(state, "expired"))
		return kg_err_field(err, KG_EINVAL, "state", "unknown lock state \"%s\"", state);
	if (!l->account_id || !l->reason)
		return kg_err_set(err, KG_EINVAL, "a lock needs an account and a reason");
	char id[KG_STORE_ID_MAX];
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, l->account_id);
	kg_sq_bind_text(st, 2, l->lock_id ? l->lock_id : kg_store_new_id(id, "lck"));
	kg_sq_bind_text(st, 3, l->reason);
	kg_sq_bind_text(st, 4, l->kind ? l->kind : "precaution");
	kg_sq_bind_text(st, 5, l->evidence);
	kg_sq_bind_text(st, 6, state);
	kg_sq_bind_i64(st, 7, kg_sq_or_now(l->created_ms));
	kg_sq_bind_opt_ms(st, 8, l->expires_ms);
	kg_sq_bind_opt_ms(st, 9, l->lifted_ms);
	kg_sq_bind_text(st, 10, l->lifted_by);
	kg_sq_bind_text(st, 11, l->lift_method);
	kg_sq_bind_text(st, 12, l->incident_id);
	return kg_sq_exec_stmt(tx, st, err, "lock insert");
}

static int lock_get(kg_tx *tx, const char *account_id, const char *lock_id, kg_lock *out,
		    kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, lock_id);
	int rc = kg_sq_one(tx, st, a, read_lock, out, sizeof(*out), err, "lock get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no lock \"%s\" on account \"%s\"", lock_id,
				  account_id);
	return rc;
}

static int lock_list_active(kg_tx *tx, const char *account_id, int64_t now_ms, kg_arena *a,
			    kg_lock **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_ACTIVE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, kg_sq_or_now(now_ms));
	return read_locks(tx, st, a, out, n, err);
}

static int lock_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		     kg_lock **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return read_locks(tx, st, a, out, n, err);
}

static int lock_lift(kg_tx *tx, const char *account_id, const char *lock_id, int64_t now_ms,
		     const char *by, const char *method, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_LIFT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, lock_id);
	kg_sq_bind_i64(st, 3, kg_sq_or_now(now_ms));
	kg_sq_bind_text(st, 4, by);
	kg_sq_bind_text(st, 5, method);
	int rc = kg_sq_exec_stmt(tx, st, err, "lock lift");
	if (rc || sqlite3_changes(kg_sq_db(tx)) == 1)
		return rc;
	kg_arena a;
	kg_arena_init(&a, 1024);
	kg_lock l;
	rc = lock_get(tx, account_id, lock_id, &l, &a, err);
	if (!rc)
		rc = kg_err_set(err, KG_ECONFLICT, "lock \"%s\" is %s, not active", lock_id,
				l.state);
	kg_arena_release(&a);
	return rc;
}

static int count_changes(kg_tx *tx, sqlite3_stmt *st, size_t *n, kg_err *err,
			 const char *what)
{
	int rc = kg_sq_exec_stmt(tx, st, err, what);
	*n = rc ? 0 : (size_t)sqlite3_changes(kg_sq_db(tx));
	return rc;
}

static int lock_expire_due(kg_tx *tx, int64_t now_ms, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_EXPIRE, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, kg_sq_or_now(now_ms));
	return count_changes(tx, st, n, err, "lock expiry");
}

static int lock_list_due(kg_tx *tx, int64_t now_ms, size_t limit, kg_arena *a, kg_lock **out,
			 size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_DUE, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, kg_sq_or_now(now_ms));
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return read_locks(tx, st, a, out, n, err);
}

static int lock_count_since(kg_tx *tx, int64_t since_ms, int64_t *count, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_COUNT_SINCE, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, since_ms);
	int rc = sqlite3_step(st);
	*count = rc == SQLITE_ROW ? kg_sq_col_i64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : kg_sq_fail(tx, rc, err, "lock count");
}

static int lock_tag_incident(kg_tx *tx, const char *incident_id, int64_t from_ms,
			     int64_t to_ms, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_TAG, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, incident_id);
	kg_sq_bind_i64(st, 2, from_ms);
	kg_sq_bind_i64(st, 3, to_ms ? to_ms : INT64_MAX);
	return count_changes(tx, st, n, err, "lock tag incident");
}

static int lock_list_incident(kg_tx *tx, const char *incident_id, kg_arena *a,
			      kg_lock **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_INCIDENT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, incident_id);
	return read_locks(tx, st, a, out, n, err);
}

static const char SQL_LOCK_RECENT[] =
	"SELECT " LOCK_COLS " FROM locks WHERE created_ms >= ?2 AND (?1 IS NULL OR state = ?1) "
	"ORDER BY created_ms DESC, account_id, lock_id LIMIT ?3";
static const char SQL_LOCK_COUNTS[] =
	"SELECT (created_ms - ?1) / ?2 AS bucket, count(*) FROM locks "
	"WHERE created_ms >= ?1 AND created_ms < ?3 GROUP BY bucket";

static int lock_list_recent(kg_tx *tx, const char *state, int64_t since_ms, size_t limit,
			    kg_arena *a, kg_lock **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_RECENT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, state);
	kg_sq_bind_i64(st, 2, since_ms);
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : -1);
	return read_locks(tx, st, a, out, n, err);
}

static int lock_counts(kg_tx *tx, int64_t from_ms, int64_t bucket_ms, size_t nbuckets,
		       int64_t *counts, kg_err *err)
{
	if (bucket_ms <= 0 || nbuckets == 0 || nbuckets > INT64_MAX / (size_t)bucket_ms)
		return kg_err_set(err, KG_EINVAL, "lock counts: bad bucket size or count");
	memset(counts, 0, nbuckets * sizeof(*counts));
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LOCK_COUNTS, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, from_ms);
	kg_sq_bind_i64(st, 2, bucket_ms);
	kg_sq_bind_i64(st, 3, from_ms + (int64_t)nbuckets * bucket_ms);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t b = kg_sq_col_i64(st, 0);
		if (b >= 0 && (size_t)b < nbuckets)
			counts[b] = kg_sq_col_i64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, "lock counts");
}

/* ---- incidents ---------------------------------------------------------------*/
#define INCIDENT_COLS                                                             \
	"id, kind, state, summary, detail, started_ms, detected_ms, resolved_ms, "   \
	"resolved_by, created_ms, updated_ms"

static const char SQL_INCIDENT_INSERT[] =
	"INSERT INTO incidents (" INCIDENT_COLS ") VALUES "
	"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SQL_INCIDENT_GET[] = "SELECT " INCIDENT_COLS " FROM incidents WHERE id = ?1";
static const char SQL_INCIDENT_UPDATE[] =
	"UPDATE incidents SET state = ?3, summary = ?4, detail = ?5, detected_ms = ?7, "
	"resolved_ms = ?8, resolved_by = ?9, updated_ms = ?11 WHERE id = ?1";
static const char SQL_INCIDENT_LIST[] =
	"SELECT " INCIDENT_COLS " FROM incidents WHERE (?1 IS NULL OR state = ?1) "
	"ORDER BY started_ms DESC, id DESC LIMIT ?2";

static void read_incident(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_incident *inc = row;
	inc->id = kg_sq_col_text(a, st, 0);
	inc->kind = kg_sq_col_text(a, st, 1);
	inc->state = kg_sq_col_text(a, st, 2);
	inc->summary = kg_sq_col_text(a, st, 3);
	inc->detail = kg_sq_col_text(a, st, 4);
	inc->started_ms = kg_sq_col_i64(st, 5);
	inc->detected_ms = kg_sq_col_i64(st, 6);
	inc->resolved_ms = kg_sq_col_i64(st, 7);
	inc->resolved_by = kg_sq_col_text(a, st, 8);
	inc->created_ms = kg_sq_col_i64(st, 9);
	inc->updated_ms = kg_sq_col_i64(st, 10);
}

static int incident_write(kg_tx *tx, const char *sql, const kg_incident *inc, bool insert,
			  kg_err *err)
{
	if (!inc->id || !*inc->id || !inc->state || (insert && !inc->kind))
		return kg_err_set(err, KG_EINVAL, "an incident needs an id, a kind and a state");
	int64_t now = kg_now_ms();
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, inc->id);
	kg_sq_bind_text(st, 2, inc->kind);
	kg_sq_bind_text(st, 3, inc->state);
	kg_sq_bind_text(st, 4, inc->summary);
	kg_sq_bind_text(st, 5, inc->detail);
	kg_sq_bind_i64(st, 6, inc->started_ms ? inc->started_ms : now);
	kg_sq_bind_opt_ms(st, 7, inc->detected_ms);
	kg_sq_bind_opt_ms(st, 8, inc->resolved_ms);
	kg_sq_bind_text(st, 9, inc->resolved_by);
	kg_sq_bind_i64(st, 10, inc->created_ms ? inc->created_ms : now);
	kg_sq_bind_i64(st, 11, inc->updated_ms ? inc->updated_ms : now);
	int rc = kg_sq_exec_stmt(tx, st, err, insert ? "incident insert" : "incident update");
	if (rc)
		return rc;
	if (!insert && sqlite3_changes(kg_sq_db(tx)) == 0)
		return kg_err_set(err, KG_ENOTFOUND, "no incident \"%s\"", inc->id);
	return 0;
}

static int incident_insert(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return incident_write(tx, SQL_INCIDENT_INSERT, inc, true, err);
}

static int incident_update(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return incident_write(tx, SQL_INCIDENT_UPDATE, inc, false, err);
}

static int incident_get(kg_tx *tx, const char *id, kg_incident *out, kg_arena *a,
			kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_INCIDENT_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	int rc = kg_sq_one(tx, st, a, read_incident, out, sizeof(*out), err, "incident get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no incident \"%s\"", id);
	return rc;
}

static int incident_list(kg_tx *tx, const char *state, size_t limit, kg_arena *a,
			 kg_incident **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_INCIDENT_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, state);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_incident, sizeof(**out), (void **)out, n, err,
			  "incident list");
}

const struct kg_store_locks_ops kg_sqlite_locks_ops = {
	.insert = lock_insert,
	.get = lock_get,
	.list_active = lock_list_active,
	.list = lock_list,
	.lift = lock_lift,
	.expire_due = lock_expire_due,
	.list_due = lock_list_due,
	.count_since = lock_count_since,
	.tag_incident = lock_tag_incident,
	.list_incident = lock_list_incident,
	.list_recent = lock_list_recent,
	.counts = lock_counts,
	.incident_insert = incident_insert,
	.incident_get = incident_get,
	.incident_update = incident_update,
	.incident_list = incident_list,
};
