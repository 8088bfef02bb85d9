/* Public kg_tx_* operations on locks: each one dispatches to the running
 * backend's table (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_lock_insert(kg_tx *tx, const kg_lock *l, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, insert, l, err);
}

int kg_tx_lock_get(kg_tx *tx, const char *account_id, const char *lock_id, kg_lock *out,
		   kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, get, account_id, lock_id, out, a, err);
}

int kg_tx_lock_list_active(kg_tx *tx, const char *account_id, int64_t now_ms, kg_arena *a,
			   kg_lock **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_active, account_id, now_ms, a, out, n, err);
}

int kg_tx_lock_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a, kg_lock **out,
		    size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list, account_id, limit, a, out, n, err);
}

int kg_tx_lock_lift(kg_tx *tx, const char *account_id, const char *lock_id, int64_t now_ms,
		    const char *by, const char *method, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, lift, account_id, lock_id, now_ms, by, method, err);
}

int kg_tx_lock_list_due(kg_tx *tx, int64_t now_ms, size_t limit, kg_arena *a, kg_lock **out,
			size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_due, now_ms, limit, a, out, n, err);
}

int kg_tx_lock_expire_due(kg_tx *tx, int64_t now_ms, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, expire_due, now_ms, n, err);
}

int kg_tx_lock_count_since(kg_tx *tx, int64_t since_ms, int64_t *count, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, count_since, since_ms, count, err);
}

int kg_tx_lock_tag_incident(kg_tx *tx, const char *incident_id, int64_t from_ms, int64_t to_ms,
			    size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, tag_incident, incident_id, from_ms, to_ms, n, err);
}

int kg_tx_lock_list_incident(kg_tx *tx, const char *incident_id, kg_arena *a, kg_lock **out,
			     size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_incident, incident_id, a, out, n, err);
}

int kg_tx_lock_list_recent(kg_tx *tx, const char *state, int64_t since_ms, size_t limit,
			   kg_arena *a, kg_lock **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_recent, state, since_ms, limit, a, out, n, err);
}

int kg_tx_lock_counts(kg_tx *tx, int64_t from_ms, int64_t bucket_ms, size_t nbuckets,
		      int64_t *counts, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, counts, from_ms, bucket_ms, nbuckets, counts, err);
}

int kg_tx_incident_insert(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, incident_insert, inc, err);
}

int kg_tx_incident_get(kg_tx *tx, const char *id, kg_incident *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, incident_get, id, out, a, err);
}

int kg_tx_incident_update(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, incident_update, inc, err);
}

int kg_tx_incident_list(kg_tx *tx, const char *state, size_t limit, kg_arena *a,
			kg_incident **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, incident_list, state, limit, a, out, n, err);
}
