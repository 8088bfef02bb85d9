/* Public kg_tx_* operations on the audit log (the chain itself is in
 * store.c): each one dispatches to the running backend's table
 * (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_audit_append(kg_tx *tx, const kg_audit_entry *e, int64_t *seq_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, audit, append, e, seq_out, err);
}

int kg_tx_audit_list(kg_tx *tx, const char *account_id, int64_t after_seq, size_t limit,
		     kg_arena *a, kg_audit_entry **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, audit, list, account_id, after_seq, limit, a, out, n, err);
}
