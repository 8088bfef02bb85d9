/* Public kg_tx_* operations on accounts, cards, addresses, credentials and
 * rule lists: each one dispatches to the running backend's table
 * (store_impl.h). No logic here. */
#include "store/store_impl.h"

int kg_tx_account_get(kg_tx *tx, const char *id, kg_account *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, get, id, out, a, err);
}

int kg_tx_account_get_by_email(kg_tx *tx, const char *email, kg_account *out, kg_arena *a,
			       kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, get_by_email, email, out, a, err);
}

int kg_tx_account_insert(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, insert, acc, err);
}

int kg_tx_account_update(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, update, acc, err);
}

int kg_tx_account_search(kg_tx *tx, const char *q, size_t limit, kg_arena *a, kg_account **out,
			 size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, search, q, limit, a, out, n, err);
}

int kg_tx_card_add(kg_tx *tx, const kg_card *card, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, card_add, card, err);
}

int kg_tx_card_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_card **out, size_t *n,
		    kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, card_list, account_id, a, out, n, err);
}

int kg_tx_address_add(kg_tx *tx, const kg_account_address *addr, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, address_add, addr, err);
}

int kg_tx_address_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_account_address **out,
		       size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, address_list, account_id, a, out, n, err);
}

int kg_tx_credential_insert(kg_tx *tx, const kg_credential *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_insert, c, err);
}

int kg_tx_credential_get(kg_tx *tx, const char *id, kg_credential *out, kg_arena *a,
			 kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, credential_get, id, out, a, err);
}

int kg_tx_credential_revoke(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_revoke, id, now_ms, err);
}

int kg_tx_credential_revoke_account(kg_tx *tx, const char *account_id, const char *role,
				    int64_t now_ms, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_revoke_account, account_id, role, now_ms, n,
			   err);
}

int kg_tx_list_add(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, list_add, name, value, err);
}

int kg_tx_list_remove(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, list_remove, name, value, err);
}

int kg_tx_list_contains(kg_tx *tx, const char *name, const char *value, bool *found,
			kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, list_contains, name, value, found, err);
}

int kg_tx_list_values(kg_tx *tx, const char *name, kg_arena *a, const char ***out, size_t *n,
		      kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, list_values, name, a, out, n, err);
}
