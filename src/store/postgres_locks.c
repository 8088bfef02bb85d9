/* PostgreSQL operations on locks and incidents, as sqlite_locks.c: insert,
 * read, lift, expiry, and the wave/incident queries the guard needs. A
 * lock is written in the job that holds its account's row lock (the
 * feature state, postgres_events.c), so two nodes never both lock one
 * account for one event; a lock id that exists already answers
 * KG_ECONFLICT without aborting the group's transaction. */
#include "store/postgres_impl.h"

#include <stdint.h>
#include <string.h>

#define LOCK_COLS                                                                 \
	"account_id, lock_id, reason, kind, evidence, state, created_ms, expires_ms, " \
	"lifted_ms, lifted_by, lift_method, incident_id"

static const char SQL_LOCK_INSERT[] =
	"INSERT INTO locks (" LOCK_COLS ") VALUES "
	"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING";
static const char SQL_LOCK_GET[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = $1 AND lock_id = $2";
static const char SQL_LOCK_ACTIVE[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = $1 AND state = 'active' "
	"AND (expires_ms IS NULL OR expires_ms > $2) ORDER BY created_ms, lock_id";
static const char SQL_LOCK_LIST[] =
	"SELECT " LOCK_COLS " FROM locks WHERE account_id = $1 "
	"ORDER BY created_ms DESC, lock_id DESC LIMIT $2";
static const char SQL_LOCK_LIFT[] =
	"UPDATE locks SET state = 'lifted', lifted_ms = $3, lifted_by = $4, lift_method = $5 "
	"WHERE account_id = $1 AND lock_id = $2 AND state = 'active'";
static const char SQL_LOCK_EXPIRE[] =
	"UPDATE locks SET state = 'expired', lifted_ms = expires_ms, lift_method = 'expiry' "
	"WHERE state = 'active' AND expires_ms IS NOT NULL AND expires_ms <= $1";
static const char SQL_LOCK_DUE[] =
	"SELECT " LOCK_COLS " FROM locks WHERE state = 'active' AND expires_ms IS NOT NULL "
	"AND expires_ms <= $1 ORDER BY expires_ms, account_id, lock_id LIMIT $2";
static const char SQL_LOCK_COUNT_SINCE[] = "SELECT count(*) FROM locks WHERE created_ms >= $1";
static const char SQL_LOCK_TAG[] =
	"UPDATE locks SET incident_id = $1 WHERE state = 'active' AND incident_id IS NULL "
	"AND created_ms >= $2 AND created_ms < $3";
static const char SQL_LOCK_INCIDENT[] =
	"SELECT " LOCK_COLS " FROM locks WHERE incident_id = $1 AND state = 'active' "
	"ORDER BY created_ms, account_id, lock_id";
static const char SQL_LOCK_RECENT[] =
	"SELECT " LOCK_COLS " FROM locks WHERE created_ms >= $2 AND ($1::text IS NULL OR state = $1) "
	"ORDER BY created_ms DESC, account_id, lock_id LIMIT $3";
static const char SQL_LOCK_COUNTS[] =
	"SELECT (created_ms - $1::bigint) / $2::bigint AS bucket, count(*) FROM locks "
	"WHERE created_ms >= $1 AND created_ms < $3 GROUP BY bucket";

static void read_lock(kg_arena *a, const PGresult *r, int row, kg_lock *l)
{
	l->account_id = kg_pg_col_text(a, r, row, 0);
	l->lock_id = kg_pg_col_text(a, r, row, 1);
	l->reason = kg_pg_col_text(a, r, row, 2);
	l->kind = kg_pg_col_text(a, r, row, 3);
	l->evidence = kg_pg_col_text(a, r, row, 4);
	l->state = kg_pg_col_text(a, r, row, 5);
	l->created_ms = kg_pg_col_i64(r, row, 6);
	l->expires_ms = kg_pg_col_i64(r, row, 7);
	l->lifted_ms = kg_pg_col_i64(r, row, 8);
	l->lifted_by = kg_pg_col_text(a, r, row, 9);
	l->lift_method = kg_pg_col_text(a, r, row, 10);
	l->incident_id = kg_pg_col_text(a, r, row, 11);
}

/* Runs a query of lock rows into a new arena array. */
static int read_locks(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_arena *a,
		      kg_lock **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r = kg_pg_exec(tx, sql, p, err, "lock list");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_lock(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static void limit_arg(kg_pg_args *p, size_t limit)
{
	if (limit)
		kg_pg_i64(p, (int64_t)limit);
	else
		kg_pg_text(p, NULL); /* LIMIT NULL: all */
}

static int lock_insert(kg_tx *tx, const kg_lock *l, kg_err *err)
{
	const char *state = l->state ? l->state : "active";
	if (strcmp(state, "active") && strcmp(state, "lifted") && strcmp(state, "expired"))
		return kg_err_field(err, KG_EINVAL, "state", "unknown lock state \"%s\"", state);
	if (!l->account_id || !l->reason)
		return kg_err_set(err, KG_EINVAL, "a lock needs an account and a reason");
	char id[KG_STORE_ID_MAX];
	const char *lock_id = l->lock_id ? l->lock_id : kg_store_new_id(id, "lck");
	kg_pg_args p = {0};
	kg_pg_text(&p, l->account_id);
	kg_pg_text(&p, lock_id);
	kg_pg_text(&p, l->reason);
	kg_pg_text(&p, l->kind ? l->kind : "precaution");
	kg_pg_text(&p, l->evidence);
	kg_pg_text(&p, state);
	kg_pg_i64(&p, kg_pg_or_now(l->created_ms));
	kg_pg_opt_ms(&p, l->expires_ms);
	kg_pg_opt_ms(&p, l->lifted_ms);
	kg_pg_text(&p, l->lifted_by);
	kg_pg_text(&p, l->lift_method);
	kg_pg_text(&p, l->incident_id);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_LOCK_INSERT, &p, &changed, err, "lock insert");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "lock insert: lock \"%s\" already exists", lock_id);
	return rc;
}

static int lock_get(kg_tx *tx, const char *account_id, const char *lock_id, kg_lock *out,
		    kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, lock_id);
	kg_lock *rows;
	size_t n;
	int rc = read_locks(tx, SQL_LOCK_GET, &p, a, &rows, &n, err);
	if (rc)
		return rc;
	if (!n)
		return kg_err_set(err, KG_ENOTFOUND, "no lock \"%s\" on account \"%s\"", lock_id,
				  account_id);
	*out = rows[0];
	return 0;
}

static int lock_list_active(kg_tx *tx, const char *account_id, int64_t now_ms, kg_arena *a,
			    kg_lock **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	return read_locks(tx, SQL_LOCK_ACTIVE, &p, a, out, n, err);
}

static int lock_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		     kg_lock **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	limit_arg(&p, limit);
	return read_locks(tx, SQL_LOCK_LIST, &p, a, out, n, err);
}

static int lock_lift(kg_tx *tx, const char *account_id, const char *lock_id, int64_t now_ms,
		     const char *by, const char *method, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, lock_id);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	kg_pg_text(&p, by);
	kg_pg_text(&p, method);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_LOCK_LIFT, &p, &changed, err, "lock lift");
	if (rc || changed == 1)
		return rc;
	kg_arena a;
	kg_arena_init(&a, 1024);
	kg_lock l;
	rc = lock_get(tx, account_id, lock_id, &l, &a, err);
	if (!rc)
		rc = kg_err_set(err, KG_ECONFLICT, "lock \"%s\" is %s, not active", lock_id, l.state);
	kg_arena_release(&a);
	return rc;
}

static int lock_expire_due(kg_tx *tx, int64_t now_ms, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_LOCK_EXPIRE, &p, &changed, err, "lock expiry");
	*n = rc ? 0 : (size_t)changed;
	return rc;
}

static int lock_list_due(kg_tx *tx, int64_t now_ms, size_t limit, kg_arena *a, kg_lock **out,
			 size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	limit_arg(&p, limit);
	return read_locks(tx, SQL_LOCK_DUE, &p, a, out, n, err);
}

static int lock_count_since(kg_tx *tx, int64_t since_ms, int64_t *count, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_i64(&p, since_ms);
	PGresult *r = kg_pg_exec(tx, SQL_LOCK_COUNT_SINCE, &p, err, "lock count");
	if (!r)
		return err->code;
	*count = PQntuples(r) ? kg_pg_col_i64(r, 0, 0) : 0;
	PQclear(r);
	return 0;
}

static int lock_tag_incident(kg_tx *tx, const char *incident_id, int64_t from_ms,
			     int64_t to_ms, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, incident_id);
	kg_pg_i64(&p, from_ms);
	kg_pg_i64(&p, to_ms ? to_ms : INT64_MAX);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_LOCK_TAG, &p, &changed, err, "lock tag incident");
	*n = rc ? 0 : (size_t)changed;
	return rc;
}

static int lock_list_incident(kg_tx *tx, const char *incident_id, kg_arena *a,
			      kg_lock **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, incident_id);
	return read_locks(tx, SQL_LOCK_INCIDENT, &p, a, out, n, err);
}

static int lock_list_recent(kg_tx *tx, const char *state, int64_t since_ms, size_t limit,
			    kg_arena *a, kg_lock **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, state);
	kg_pg_i64(&p, since_ms);
	limit_arg(&p, limit);
	return read_locks(tx, SQL_LOCK_RECENT, &p, a, out, n, err);
}

static int lock_counts(kg_tx *tx, int64_t from_ms, int64_t bucket_ms, size_t nbuckets,
		       int64_t *counts, kg_err *err)
{
	if (bucket_ms <= 0 || nbuckets == 0 || nbuckets > INT64_MAX / (size_t)bucket_ms)
		return kg_err_set(err, KG_EINVAL, "lock counts: bad bucket size or count");
	memset(counts, 0, nbuckets * sizeof(*counts));
	kg_pg_args p = {0};
	kg_pg_i64(&p, from_ms);
	kg_pg_i64(&p, bucket_ms);
	kg_pg_i64(&p, from_ms + (int64_t)nbuckets * bucket_ms);
	PGresult *r = kg_pg_exec(tx, SQL_LOCK_COUNTS, &p, err, "lock counts");
	if (!r)
		return err->code;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t b = kg_pg_col_i64(r, i, 0);
		if (b >= 0 && (size_t)b < nbuckets)
			counts[b] = kg_pg_col_i64(r, i, 1);
	}
	PQclear(r);
	return 0;
}

/* ---- incidents ---------------------------------------------------------------*/
#define INCIDENT_COLS                                                             \
	"id, kind, state, summary, detail, started_ms, detected_ms, resolved_ms, "   \
	"resolved_by, created_ms, updated_ms"

static const char SQL_INCIDENT_INSERT[] =
	"INSERT INTO incidents (" INCIDENT_COLS ") VALUES "
	"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
static const char SQL_INCIDENT_GET[] = "SELECT " INCIDENT_COLS " FROM incidents WHERE id = $1";
/* (its own numbering: an update sets only these) */
static const char SQL_INCIDENT_UPDATE[] =
	"UPDATE incidents SET state = $2, summary = $3, detail = $4, detected_ms = $5, "
	"resolved_ms = $6, resolved_by = $7, updated_ms = $8 WHERE id = $1";
static const char SQL_INCIDENT_LIST[] =
	"SELECT " INCIDENT_COLS " FROM incidents WHERE ($1::text IS NULL OR state = $1) "
	"ORDER BY started_ms DESC, id DESC LIMIT $2";

static void read_incident(kg_arena *a, const PGresult *r, int row, kg_incident *inc)
{
	inc->id = kg_pg_col_text(a, r, row, 0);
	inc->kind = kg_pg_col_text(a, r, row, 1);
	inc->state = kg_pg_col_text(a, r, row, 2);
	inc->summary = kg_pg_col_text(a, r, row, 3);
	inc->detail = kg_pg_col_text(a, r, row, 4);
	inc->started_ms = kg_pg_col_i64(r, row, 5);
	inc->detected_ms = kg_pg_col_i64(r, row, 6);
	inc->resolved_ms = kg_pg_col_i64(r, row, 7);
	inc->resolved_by = kg_pg_col_text(a, r, row, 8);
	inc->created_ms = kg_pg_col_i64(r, row, 9);
	inc->updated_ms = kg_pg_col_i64(r, row, 10);
}

static int incident_write(kg_tx *tx, const kg_incident *inc, bool insert, kg_err *err)
{
	if (!inc->id || !*inc->id || !inc->state || (insert && !inc->kind))
		return kg_err_set(err, KG_EINVAL, "an incident needs an id, a kind and a state");
	int64_t now = kg_now_ms();
	kg_pg_args p = {0};
	kg_pg_text(&p, inc->id);
	if (insert)
		kg_pg_text(&p, inc->kind);
	kg_pg_text(&p, inc->state);
	kg_pg_text(&p, inc->summary);
	kg_pg_text(&p, inc->detail);
	if (insert)
		kg_pg_i64(&p, inc->started_ms ? inc->started_ms : now);
	kg_pg_opt_ms(&p, inc->detected_ms);
	kg_pg_opt_ms(&p, inc->resolved_ms);
	kg_pg_text(&p, inc->resolved_by);
	if (insert)
		kg_pg_i64(&p, inc->created_ms ? inc->created_ms : now);
	kg_pg_i64(&p, inc->updated_ms ? inc->updated_ms : now);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, insert ? SQL_INCIDENT_INSERT : SQL_INCIDENT_UPDATE, &p, &changed, err,
			   insert ? "incident insert" : "incident update");
	if (rc || changed)
		return rc;
	if (insert)
		return kg_err_set(err, KG_ECONFLICT, "incident insert: \"%s\" already exists", inc->id);
	return kg_err_set(err, KG_ENOTFOUND, "no incident \"%s\"", inc->id);
}

static int incident_insert(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return incident_write(tx, inc, true, err);
}

static int incident_update(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return incident_write(tx, inc, false, err);
}

static int incident_rows(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_arena *a,
			 kg_incident **out, size_t *n, kg_err *err, const char *what)
{
	*out = NULL;
	*n = 0;
	PGresult *r = kg_pg_exec(tx, sql, p, err, what);
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_incident(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int incident_get(kg_tx *tx, const char *id, kg_incident *out, kg_arena *a,
			kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, id);
	kg_incident *rows;
	size_t n;
	int rc = incident_rows(tx, SQL_INCIDENT_GET, &p, a, &rows, &n, err, "incident get");
	if (rc)
		return rc;
	if (!n)
		return kg_err_set(err, KG_ENOTFOUND, "no incident \"%s\"", id);
	*out = rows[0];
	return 0;
}

static int incident_list(kg_tx *tx, const char *state, size_t limit, kg_arena *a,
			 kg_incident **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, state);
	limit_arg(&p, limit);
	return incident_rows(tx, SQL_INCIDENT_LIST, &p, a, out, n, err, "incident list");
}

const struct kg_store_locks_ops kg_postgres_locks_ops = {
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
