/* Public kg_tx_* operations on one-time codes, failure counters and
 * identity-check state: each one dispatches to the running backend's table
 * (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_code_put(kg_tx *tx, const kg_code_rec *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_put, c, err);
}

int kg_tx_code_get(kg_tx *tx, const char *account_id, const char *purpose, kg_code_rec *out,
		   kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, code_get, account_id, purpose, out, a, err);
}

int kg_tx_code_set_attempts(kg_tx *tx, const char *account_id, const char *purpose,
			    int64_t attempts_left, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_set_attempts, account_id, purpose, attempts_left, err);
}

int kg_tx_code_delete(kg_tx *tx, const char *account_id, const char *purpose, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_delete, account_id, purpose, err);
}

int kg_tx_counter_hit(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_hit, account_id, kind, key, window_ms, now_ms,
			   count_out, err);
}

int kg_tx_counter_get(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, counter_get, account_id, kind, key, window_ms, now_ms,
			  count_out, err);
}

int kg_tx_counter_reset(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_reset, account_id, kind, key, err);
}

int kg_tx_counter_read(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       kg_counter_row *out, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, counter_read, account_id, kind, key, out, err);
}

int kg_tx_counter_put(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      const kg_counter_row *row, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_put, account_id, kind, key, row, err);
}

int kg_tx_identity_get(kg_tx *tx, const char *account_id, kg_identity_state *out, kg_arena *a,
		       kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, identity_get, account_id, out, a, err);
}

int kg_tx_identity_put(kg_tx *tx, const kg_identity_state *st, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, identity_put, st, err);
}
