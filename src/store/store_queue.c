/* Public kg_tx_* operations on the outbox and webhook delivery queues: each
 * one dispatches to the running backend's table (store_impl.h). No logic
 * here. */
#include "store/store_impl.h"

int kg_tx_outbox_insert(kg_tx *tx, const kg_outbox *o, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, outbox_insert, o, err);
}

int kg_tx_outbox_get(kg_tx *tx, const char *account_id, const char *id, kg_outbox *out,
		     kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, outbox_get, account_id, id, out, a, err);
}

int kg_tx_outbox_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			   kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, outbox_claim_due, now_ms, lease_ms, limit, a, out, n,
			   err);
}

int kg_tx_outbox_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, outbox_mark_delivered, account_id, id, now_ms, err);
}

int kg_tx_outbox_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			     int64_t retry_at_ms, const char *error, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, outbox_mark_failed, account_id, id, retry_at_ms,
			   error, err);
}

int kg_tx_outbox_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		      kg_outbox **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, outbox_list, account_id, limit, a, out, n, err);
}

int kg_tx_webhook_insert(kg_tx *tx, const kg_webhook *w, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, webhook_insert, w, err);
}

int kg_tx_webhook_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			    kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, webhook_claim_due, now_ms, lease_ms, limit, a, out,
			   n, err);
}

int kg_tx_webhook_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				 int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, webhook_mark_delivered, account_id, id, now_ms, err);
}

int kg_tx_webhook_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			      int64_t retry_at_ms, const char *error, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, webhook_mark_failed, account_id, id, retry_at_ms,
			   error, err);
}
