/* Public kg_tx_* operations on support cases: each one dispatches to the
 * running backend's table (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_case_insert(kg_tx *tx, const kg_case *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, insert, c, err);
}

int kg_tx_case_get(kg_tx *tx, const char *case_id, kg_case *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, get, case_id, out, a, err);
}

int kg_tx_case_update(kg_tx *tx, const char *account_id, const char *case_id, const char *state,
		      const char *assignee, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, update, account_id, case_id, state, assignee, now_ms, err);
}

int kg_tx_case_list(kg_tx *tx, const char *account_id, const char *state, size_t limit,
		    kg_arena *a, kg_case **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, list, account_id, state, limit, a, out, n, err);
}

int kg_tx_case_history_append(kg_tx *tx, const char *account_id, const char *case_id,
			      const kg_case_event *ev, int64_t *seq_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, history_append, account_id, case_id, ev, seq_out, err);
}

int kg_tx_case_history_list(kg_tx *tx, const char *account_id, const char *case_id,
			    kg_arena *a, kg_case_event **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, history_list, account_id, case_id, a, out, n, err);
}

int kg_tx_case_document_add(kg_tx *tx, const kg_case_document *d, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, document_add, d, err);
}

int kg_tx_case_document_list(kg_tx *tx, const char *account_id, const char *case_id,
			     kg_arena *a, kg_case_document **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, document_list, account_id, case_id, a, out, n, err);
}

int kg_tx_case_document_get(kg_tx *tx, const char *account_id, const char *case_id,
			    const char *doc_id, kg_arena *a, kg_case_document *out, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, document_get, account_id, case_id, doc_id, a, out, err);
}

int kg_tx_case_queue_position(kg_tx *tx, const char *account_id, const char *case_id,
			      int64_t *pos, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, queue_position, account_id, case_id, pos, err);
}

int kg_tx_case_handling_time(kg_tx *tx, size_t limit, int64_t *mean_ms, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, handling_time, limit, mean_ms, n, err);
}
