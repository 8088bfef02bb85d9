/* Public kg_tx_* operations on the message center: each one dispatches to
 * the running backend's table (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_message_insert(kg_tx *tx, const kg_message *m, kg_err *err)
{
	return KG_TX_WCALL(tx, err, messages, insert, m, err);
}

int kg_tx_message_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		       kg_message **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, list, account_id, limit, a, out, n, err);
}

int kg_tx_message_get(kg_tx *tx, const char *account_id, const char *id, kg_message *out,
		      kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, get, account_id, id, out, a, err);
}

int kg_tx_message_find_by_message_id(kg_tx *tx, const char *message_id, kg_message *out,
				     kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, find_by_message_id, message_id, out, a, err);
}

int kg_tx_message_find_by_fingerprint(kg_tx *tx, const char *account_id,
				      const char *fingerprint, kg_message *out, kg_arena *a,
				      kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, find_by_fingerprint, account_id, fingerprint, out,
			  a, err);
}
