/* SQLite operations on accounts, cards, extra addresses, credentials and
 * rule lists. The model for a domain file: SQL as named constants, one
 * static function per operation, a table of them at the end. */
#include "store/sqlite_impl.h"

#include <ctype.h>
#include <string.h>

/* ---- accounts ---------------------------------------------------------------*/
#define ACCOUNT_COLS                                                              \
	"id, name, email, phone, postal_code, region, city, line1, line2, country, " \
	"password_hash, totp_secret, totp_enabled, lang, created_ms, updated_ms"

static const char SQL_ACCOUNT_GET[] =
	"SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1";
static const char SQL_ACCOUNT_BY_EMAIL[] =
	"SELECT " ACCOUNT_COLS " FROM accounts WHERE email = ?1";
static const char SQL_ACCOUNT_INSERT[] =
	"INSERT INTO accounts (" ACCOUNT_COLS ") VALUES "
	"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
static const char SQL_ACCOUNT_UPDATE[] =
	"UPDATE accounts SET name = ?2, email = ?3, phone = ?4, postal_code = ?5, "
	"region = ?6, city = ?7, line1 = ?8, line2 = ?9, country = ?10, "
	"password_hash = ?11, totp_secret = ?12, totp_enabled = ?13, lang = ?14, "
	"updated_ms = ?16 WHERE id = ?1";

static void read_address(kg_arena *a, sqlite3_stmt *st, int col, kg_address *ad)
{
	ad->postal_code = kg_sq_col_text(a, st, col);
	ad->region = kg_sq_col_text(a, st, col + 1);
	ad->city = kg_sq_col_text(a, st, col + 2);
	ad->line1 = kg_sq_col_text(a, st, col + 3);
	ad->line2 = kg_sq_col_text(a, st, col + 4);
	ad->country = kg_sq_col_text(a, st, col + 5);
}

static void bind_address(sqlite3_stmt *st, int col, const kg_address *ad)
{
	kg_sq_bind_text(st, col, ad->postal_code);
	kg_sq_bind_text(st, col + 1, ad->region);
	kg_sq_bind_text(st, col + 2, ad->city);
	kg_sq_bind_text(st, col + 3, ad->line1);
	kg_sq_bind_text(st, col + 4, ad->line2);
	kg_sq_bind_text(st, col + 5, ad->country);
}

/* One row of ACCOUNT_COLS into *out. */
static void read_account(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_account *out = row;
	out->id = kg_sq_col_text(a, st, 0);
	out->name = kg_sq_col_text(a, st, 1);
	out->email = kg_sq_col_text(a, st, 2);
	out->phone = kg_sq_col_text(a, st, 3);
	read_address(a, st, 4, &out->address);
	out->password_hash = kg_sq_col_text(a, st, 10);
	out->totp_secret = kg_sq_col_blob(a, st, 11, &out->totp_secret_len);
	out->totp_enabled = kg_sq_col_i64(st, 12) != 0;
	out->lang = kg_sq_col_text(a, st, 13);
	out->created_ms = kg_sq_col_i64(st, 14);
	out->updated_ms = kg_sq_col_i64(st, 15);
}

static int account_read_one(kg_tx *tx, const char *sql, const char *key, const char *what,
			    kg_account *out, kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, key);
	int rc = kg_sq_one(tx, st, a, read_account, out, sizeof(*out), err, "account get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no account with %s \"%s\"", what, key);
	return rc;
}

static int account_get(kg_tx *tx, const char *id, kg_account *out, kg_arena *a, kg_err *err)
{
	return account_read_one(tx, SQL_ACCOUNT_GET, id, "id", out, a, err);
}

static int account_get_by_email(kg_tx *tx, const char *email, kg_account *out, kg_arena *a,
				kg_err *err)
{
	return account_read_one(tx, SQL_ACCOUNT_BY_EMAIL, email, "email", out, a, err);
}

static int account_write(kg_tx *tx, const char *sql, const kg_account *acc, bool insert,
			 kg_err *err)
{
	if (!acc->id || !*acc->id)
		return kg_err_field(err, KG_EINVAL, "id", "account id is empty");
	if (!acc->name)
		return kg_err_field(err, KG_EINVAL, "name", "account name is missing");
	sqlite3_stmt *st = kg_sq_stmt(tx, sql, err);
	if (!st)
		return err->code;
	int64_t now = kg_now_ms();
	kg_sq_bind_text(st, 1, acc->id);
	kg_sq_bind_text(st, 2, acc->name);
	kg_sq_bind_text(st, 3, acc->email);
	kg_sq_bind_text(st, 4, acc->phone);
	bind_address(st, 5, &acc->address);
	kg_sq_bind_text(st, 11, acc->password_hash);
	kg_sq_bind_blob(st, 12, acc->totp_secret, acc->totp_secret_len);
	kg_sq_bind_i64(st, 13, acc->totp_enabled);
	kg_sq_bind_text(st, 14, acc->lang);
	kg_sq_bind_i64(st, 15, acc->created_ms ? acc->created_ms : now);
	kg_sq_bind_i64(st, 16, acc->updated_ms ? acc->updated_ms : now);
	int rc = kg_sq_exec_stmt(tx, st, err, insert ? "account insert" : "account update");
	if (rc == KG_ECONFLICT) {
		if (acc->email && strstr(err->msg, "accounts.email"))
			return kg_err_field(err, KG_ECONFLICT, "email",
					    "email \"%s\" belongs to another account", acc->email);
		return kg_err_field(err, KG_ECONFLICT, "id", "account \"%s\" already exists",
				    acc->id);
	}
	if (rc)
		return rc;
	if (!insert && sqlite3_changes(kg_sq_db(tx)) == 0)
		return kg_err_set(err, KG_ENOTFOUND, "no account with id \"%s\"", acc->id);
	return 0;
}

static int account_insert(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return account_write(tx, SQL_ACCOUNT_INSERT, acc, true, err);
}

static int account_update(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return account_write(tx, SQL_ACCOUNT_UPDATE, acc, false, err);
}

static const char SQL_ACCOUNT_SEARCH[] =
	"SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1 OR email = ?1 OR phone = ?1 "
	"OR name LIKE ?2 ESCAPE '\\' OR email LIKE ?2 ESCAPE '\\' "
	"ORDER BY (id = ?1 OR email = ?1 OR phone = ?1) DESC, name, id LIMIT ?3";

/* q with LIKE's wildcards escaped, then "%": a prefix pattern. */
static char *like_prefix(kg_arena *a, const char *q)
{
	size_t n = strlen(q);
	char *p = kg_arena_alloc(a, 2 * n + 2);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[k++] = '\\';
		p[k++] = q[i];
	}
	p[k++] = '%';
	p[k] = '\0';
	return p;
}

static int account_search(kg_tx *tx, const char *q, size_t limit, kg_arena *a,
			  kg_account **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	if (!q || !*q)
		return kg_err_field(err, KG_EINVAL, "q", "search text is empty");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ACCOUNT_SEARCH, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, q);
	kg_sq_bind_text(st, 2, like_prefix(a, q));
	kg_sq_bind_i64(st, 3, limit ? (int64_t)limit : 50);
	return kg_sq_rows(tx, st, a, read_account, sizeof(**out), (void **)out, n, err,
			  "account search");
}

/* ---- cards ------------------------------------------------------------------*/
static const char SQL_CARD_UPSERT[] =
	"INSERT INTO account_cards (account_id, card_id, holder_name, last4, exp, "
	"fingerprint, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	"ON CONFLICT (account_id, card_id) DO UPDATE SET holder_name = excluded.holder_name, "
	"last4 = excluded.last4, exp = excluded.exp, fingerprint = excluded.fingerprint";
static const char SQL_CARD_LIST[] =
	"SELECT account_id, card_id, holder_name, last4, exp, fingerprint, created_ms "
	"FROM account_cards WHERE account_id = ?1 ORDER BY created_ms, card_id";

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int card_add(kg_tx *tx, const kg_card *c, kg_err *err)
{
	if (!c->last4 || strlen(c->last4) != 4 || !digits(c->last4, 4))
		return kg_err_field(err, KG_EINVAL, "card.last4", "expected exactly 4 digits");
	if (!c->exp || strlen(c->exp) != 5 || !digits(c->exp, 2) || c->exp[2] != '/' ||
	    !digits(c->exp + 3, 2) || (c->exp[0] - '0') * 10 + (c->exp[1] - '0') < 1 ||
	    (c->exp[0] - '0') * 10 + (c->exp[1] - '0') > 12)
		return kg_err_field(err, KG_EINVAL, "card.exp", "expected \"MM/YY\"");
	const char *card_id = c->card_id ? c->card_id : c->fingerprint;
	if (!card_id || !*card_id)
		return kg_err_field(err, KG_EINVAL, "card.fingerprint",
				    "a card needs a card id or a fingerprint");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CARD_UPSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, c->account_id);
	kg_sq_bind_text(st, 2, card_id);
	kg_sq_bind_text(st, 3, c->holder_name);
	kg_sq_bind_text(st, 4, c->last4);
	kg_sq_bind_text(st, 5, c->exp);
	kg_sq_bind_text(st, 6, c->fingerprint);
	kg_sq_bind_i64(st, 7, kg_sq_or_now(c->created_ms));
	int rc = kg_sq_exec_stmt(tx, st, err, "card add");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no account with id \"%s\"",
				  c->account_id ? c->account_id : "");
	return rc;
}

static void read_card(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_card *c = row;
	c->account_id = kg_sq_col_text(a, st, 0);
	c->card_id = kg_sq_col_text(a, st, 1);
	c->holder_name = kg_sq_col_text(a, st, 2);
	c->last4 = kg_sq_col_text(a, st, 3);
	c->exp = kg_sq_col_text(a, st, 4);
	c->fingerprint = kg_sq_col_text(a, st, 5);
	c->created_ms = kg_sq_col_i64(st, 6);
}

static int card_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_card **out,
		     size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CARD_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	return kg_sq_rows(tx, st, a, read_card, sizeof(**out), (void **)out, n, err, "card list");
}

/* ---- extra addresses --------------------------------------------------------*/
static const char SQL_ADDRESS_INSERT[] =
	"INSERT INTO account_addresses (account_id, address_id, kind, postal_code, region, "
	"city, line1, line2, country, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_ADDRESS_LIST[] =
	"SELECT account_id, address_id, kind, postal_code, region, city, line1, line2, "
	"country, created_ms FROM account_addresses WHERE account_id = ?1 "
	"ORDER BY created_ms, address_id";

static int address_add(kg_tx *tx, const kg_account_address *ad, kg_err *err)
{
	char id[KG_STORE_ID_MAX];
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ADDRESS_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, ad->account_id);
	kg_sq_bind_text(st, 2, ad->address_id ? ad->address_id : kg_store_new_id(id, "adr"));
	kg_sq_bind_text(st, 3, ad->kind);
	bind_address(st, 4, &ad->address);
	kg_sq_bind_i64(st, 10, kg_sq_or_now(ad->created_ms));
	return kg_sq_exec_stmt(tx, st, err, "address add");
}

static void read_account_address(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_account_address *ad = row;
	ad->account_id = kg_sq_col_text(a, st, 0);
	ad->address_id = kg_sq_col_text(a, st, 1);
	ad->kind = kg_sq_col_text(a, st, 2);
	read_address(a, st, 3, &ad->address);
	ad->created_ms = kg_sq_col_i64(st, 9);
}

static int address_list(kg_tx *tx, const char *account_id, kg_arena *a,
			kg_account_address **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_ADDRESS_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	return kg_sq_rows(tx, st, a, read_account_address, sizeof(**out), (void **)out, n, err,
			  "address list");
}

/* ---- credentials ------------------------------------------------------------*/
static const char SQL_CRED_INSERT[] =
	"INSERT INTO credentials (id, secret_hash, role, account_id, expires_ms, label, "
	"created_ms, revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_CRED_GET[] =
	"SELECT id, secret_hash, role, account_id, expires_ms, label, created_ms, revoked_ms "
	"FROM credentials WHERE id = ?1";
static const char SQL_CRED_REVOKE[] =
	"UPDATE credentials SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL";
static const char SQL_CRED_REVOKE_ACCOUNT[] =
	"UPDATE credentials SET revoked_ms = ?3 WHERE account_id = ?1 AND (?2 IS NULL OR role = ?2) "
	"AND revoked_ms IS NULL";

static int credential_insert(kg_tx *tx, const kg_credential *c, kg_err *err)
{
	static const char *const roles[] = {"service", "agent", "admin", "customer", "ticket"};
	bool ok = false;
	for (size_t i = 0; c->role && i < KG_ARRAY_LEN(roles); i++)
		ok = ok || strcmp(c->role, roles[i]) == 0;
	if (!ok)
		return kg_err_field(err, KG_EINVAL, "role", "unknown role \"%s\"",
				    c->role ? c->role : "");
	if (!c->id || !*c->id || !c->secret_hash || !c->secret_hash_len)
		return kg_err_set(err, KG_EINVAL, "a credential needs an id and a secret hash");
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CRED_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, c->id);
	kg_sq_bind_blob(st, 2, c->secret_hash, c->secret_hash_len);
	kg_sq_bind_text(st, 3, c->role);
	kg_sq_bind_text(st, 4, c->account_id);
	kg_sq_bind_opt_ms(st, 5, c->expires_ms);
	kg_sq_bind_text(st, 6, c->label);
	kg_sq_bind_i64(st, 7, kg_sq_or_now(c->created_ms));
	kg_sq_bind_opt_ms(st, 8, c->revoked_ms);
	return kg_sq_exec_stmt(tx, st, err, "credential insert");
}

static void read_credential(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_credential *out = row;
	out->id = kg_sq_col_text(a, st, 0);
	out->secret_hash = kg_sq_col_blob(a, st, 1, &out->secret_hash_len);
	out->role = kg_sq_col_text(a, st, 2);
	out->account_id = kg_sq_col_text(a, st, 3);
	out->expires_ms = kg_sq_col_i64(st, 4);
	out->label = kg_sq_col_text(a, st, 5);
	out->created_ms = kg_sq_col_i64(st, 6);
	out->revoked_ms = kg_sq_col_i64(st, 7);
}

static int credential_get(kg_tx *tx, const char *id, kg_credential *out, kg_arena *a,
			  kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CRED_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	int rc = kg_sq_one(tx, st, a, read_credential, out, sizeof(*out), err, "credential get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no credential \"%s\"", id);
	return rc;
}

static int credential_revoke(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CRED_REVOKE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, id);
	kg_sq_bind_i64(st, 2, kg_sq_or_now(now_ms));
	int rc = kg_sq_exec_stmt(tx, st, err, "credential revoke");
	if (rc)
		return rc;
	if (sqlite3_changes(kg_sq_db(tx)) == 1)
		return 0;
	kg_arena a;
	kg_arena_init(&a, 512);
	kg_credential c;
	rc = credential_get(tx, id, &c, &a, err);
	kg_arena_release(&a);
	if (rc)
		return rc;
	return kg_err_set(err, KG_ECONFLICT, "credential \"%s\" is already revoked", id);
}

static int credential_revoke_account(kg_tx *tx, const char *account_id, const char *role,
				     int64_t now_ms, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_CRED_REVOKE_ACCOUNT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, role);
	kg_sq_bind_i64(st, 3, kg_sq_or_now(now_ms));
	int rc = kg_sq_exec_stmt(tx, st, err, "credential revoke account");
	if (!rc && n)
		*n = (size_t)sqlite3_changes(kg_sq_db(tx));
	return rc;
}

/* ---- rule lists -------------------------------------------------------------*/
static const char SQL_LIST_ADD[] =
	"INSERT INTO lists (name, value, created_ms) VALUES (?1, ?2, ?3) "
	"ON CONFLICT (name, value) DO NOTHING";
static const char SQL_LIST_REMOVE[] = "DELETE FROM lists WHERE name = ?1 AND value = ?2";
static const char SQL_LIST_CONTAINS[] =
	"SELECT 1 FROM lists WHERE name = ?1 AND value = ?2";
static const char SQL_LIST_VALUES[] =
	"SELECT value FROM lists WHERE name = ?1 ORDER BY value";

static int list_add(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LIST_ADD, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, name);
	kg_sq_bind_text(st, 2, value);
	kg_sq_bind_i64(st, 3, kg_now_ms());
	return kg_sq_exec_stmt(tx, st, err, "list add");
}

static int list_remove(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LIST_REMOVE, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, name);
	kg_sq_bind_text(st, 2, value);
	int rc = kg_sq_exec_stmt(tx, st, err, "list remove");
	if (!rc && sqlite3_changes(kg_sq_db(tx)) == 0)
		rc = kg_err_set(err, KG_ENOTFOUND, "list \"%s\" has no \"%s\"", name, value);
	return rc;
}

static int list_contains(kg_tx *tx, const char *name, const char *value, bool *found,
			 kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LIST_CONTAINS, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, name);
	kg_sq_bind_text(st, 2, value);
	int rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return kg_sq_fail(tx, rc, err, "list lookup");
	return 0;
}

static void read_value(kg_arena *a, sqlite3_stmt *st, void *row)
{
	*(const char **)row = kg_sq_col_text(a, st, 0);
}

static int list_values(kg_tx *tx, const char *name, kg_arena *a, const char ***out,
		       size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_LIST_VALUES, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, name);
	return kg_sq_rows(tx, st, a, read_value, sizeof(**out), (void **)out, n, err,
			  "list values");
}

/* API keys for operators (`kagi key list`, GET /v1/keys): the secret hash
 * is not read. */
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

const struct kg_store_accounts_ops kg_sqlite_accounts_ops = {
	.get = account_get,
	.get_by_email = account_get_by_email,
	.insert = account_insert,
	.update = account_update,
	.card_add = card_add,
	.card_list = card_list,
	.address_add = address_add,
	.address_list = address_list,
	.credential_insert = credential_insert,
	.credential_get = credential_get,
	.credential_revoke = credential_revoke,
	.credential_revoke_account = credential_revoke_account,
	.credential_list_keys = keys_list,
	.list_add = list_add,
	.list_remove = list_remove,
	.list_contains = list_contains,
	.list_values = list_values,
	.search = account_search,
};
