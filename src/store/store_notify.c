/* Public kg_tx_* operations notify adds to the delivery queues: each one
 * dispatches to the running backend's table (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_outbox_find(kg_tx *tx, const char *id, kg_outbox *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, notify, outbox_find, id, out, a, err);
}

int kg_tx_outbox_list_all(kg_tx *tx, const char *state, const char *account_id, size_t limit,
			  kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, notify, outbox_list_all, state, account_id, limit, a, out, n, err);
}

int kg_tx_outbox_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, notify, outbox_retry, id, now_ms, err);
}

int kg_tx_webhook_find(kg_tx *tx, const char *id, kg_webhook *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, notify, webhook_find, id, out, a, err);
}

int kg_tx_webhook_list_all(kg_tx *tx, const char *state, const char *account_id,
			   size_t limit, kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, notify, webhook_list_all, state, account_id, limit, a, out, n,
			  err);
}

int kg_tx_webhook_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, notify, webhook_retry, id, now_ms, err);
}

int kg_tx_store_counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, notify, counts, a, out, n, err);
}
