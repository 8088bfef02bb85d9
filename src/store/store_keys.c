/* Public kg_tx_* operations on API keys for operators (listing): each one
 * dispatches to the running backend's table (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_credential_list_keys(kg_tx *tx, size_t limit, kg_arena *a, kg_credential **out,
			       size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, keys, list, limit, a, out, n, err);
}
