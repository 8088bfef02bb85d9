/* Public kg_tx_* operations on events (idempotency) and per-account feature
 * state: each one dispatches to the running backend's table (store_impl.h).
 * No logic here. */
#include "store/store_impl.h"

int kg_tx_event_get(kg_tx *tx, const char *account_id, const char *event_id, kg_event_rec *out,
		    kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_get, account_id, event_id, out, a, err);
}

int kg_tx_event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, event_insert, ev, err);
}

int kg_tx_event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			 const char *event_id, size_t event_id_len, kg_arena *a,
			 const char **decision, size_t *decision_len, const uint8_t **body_hash,
			 size_t *body_hash_len, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_decision, account_id, account_len, event_id,
			  event_id_len, a, decision, decision_len, body_hash, body_hash_len, err);
}

int kg_tx_event_scan(kg_tx *tx, const char *account_id, int64_t from_ms, int64_t to_ms,
		     kg_event_cb cb, void *ctx, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_scan, account_id, from_ms, to_ms, cb, ctx,
			  err);
}

int kg_tx_features_get(kg_tx *tx, const char *account_id, kg_arena *a, const uint8_t **blob,
		       size_t *len, int64_t *updated_ms, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, features_get, account_id, a, blob, len, updated_ms,
			  err);
}

int kg_tx_features_put(kg_tx *tx, const char *account_id, const void *blob, size_t len,
		       int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, features_put, account_id, blob, len, now_ms, err);
}

int kg_tx_event_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		     kg_event_rec **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_list, account_id, limit, a, out, n, err);
}

int kg_tx_entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		     size_t *len, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, entity_get, kind, key, a, blob, len, err);
}

int kg_tx_entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		     int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, entity_put, kind, key, blob, len, now_ms, err);
}
