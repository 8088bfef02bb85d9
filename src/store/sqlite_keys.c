/* SQLite operations on API keys for operators: the list behind `kagi key
 * list` and GET /v1/keys. The secret hash is not read. Not here: insert,
 * get and revoke (sqlite_accounts.c). */
#include "store/sqlite_impl.h"

static const char SQL_KEYS_LIST[] =
	"SELECT id, role, expires_ms, label, created_ms, revoked_ms FROM credentials "
	"WHERE role IN ('service','agent','admin') ORDER BY created_ms DESC, id "
	"LIMIT ?1";

static void read_key(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_credential *out = row;
	out->id = kg_sq_col_text(a, st, 0);
	out->role = kg_sq_col_text(a, st, 1);
	out->expires_ms = kg_sq_col_i64(st, 2);
	out->label = kg_sq_col_text(a, st, 3);
	out->created_ms = kg_sq_col_i64(st, 4);
	out->revoked_ms = kg_sq_col_i64(st, 5);
}

static int keys_list(kg_tx *tx, size_t limit, kg_arena *a, kg_credential **out, size_t *n,
		     kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_KEYS_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_i64(st, 1, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_key, sizeof(**out), (void **)out, n, err, "key list");
}

const struct kg_store_keys_ops kg_sqlite_keys_ops = {
	.list = keys_list,
};
