/* PostgreSQL operations on accounts, cards, extra addresses, credentials,
 * API keys and rule lists, as sqlite_accounts.c. Email matches ignore case
 * through the unique index on lower(email). A write that may meet an
 * existing row or a missing account checks first (or uses ON CONFLICT DO
 * NOTHING and counts rows), so that the answer is KG_ECONFLICT /
 * KG_ENOTFOUND and the transaction, shared with the other jobs of a group
 * commit, goes on. */
#include "store/postgres_impl.h"

#include <ctype.h>
#include <string.h>

/* ---- accounts ---------------------------------------------------------------*/
#define ACCOUNT_COLS                                                              \
	"id, name, email, phone, postal_code, region, city, line1, line2, country, " \
	"password_hash, totp_secret, totp_enabled, lang, created_ms, updated_ms"

static const char SQL_ACCOUNT_GET[] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1";
static const char SQL_ACCOUNT_BY_EMAIL[] =
	"SELECT " ACCOUNT_COLS " FROM accounts WHERE lower(email) = lower($1)";
static const char SQL_ACCOUNT_EXISTS[] = "SELECT 1 FROM accounts WHERE id = $1";
static const char SQL_EMAIL_TAKEN[] =
	"SELECT 1 FROM accounts WHERE lower(email) = lower($1) AND id <> $2";
static const char SQL_ACCOUNT_INSERT[] =
	"INSERT INTO accounts (" ACCOUNT_COLS ") VALUES "
	"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
	"ON CONFLICT DO NOTHING";
static const char SQL_ACCOUNT_UPDATE[] =
	"UPDATE accounts SET name = $2, email = $3, phone = $4, postal_code = $5, "
	"region = $6, city = $7, line1 = $8, line2 = $9, country = $10, "
	"password_hash = $11, totp_secret = $12, totp_enabled = $13, lang = $14, "
	"updated_ms = $15 WHERE id = $1";

static void read_address(kg_arena *a, const PGresult *r, int row, int col, kg_address *ad)
{
	ad->postal_code = kg_pg_col_text(a, r, row, col);
	ad->region = kg_pg_col_text(a, r, row, col + 1);
	ad->city = kg_pg_col_text(a, r, row, col + 2);
	ad->line1 = kg_pg_col_text(a, r, row, col + 3);
	ad->line2 = kg_pg_col_text(a, r, row, col + 4);
	ad->country = kg_pg_col_text(a, r, row, col + 5);
}

static void bind_address(kg_pg_args *p, const kg_address *ad)
{
	kg_pg_text(p, ad->postal_code);
	kg_pg_text(p, ad->region);
	kg_pg_text(p, ad->city);
	kg_pg_text(p, ad->line1);
	kg_pg_text(p, ad->line2);
	kg_pg_text(p, ad->country);
}

static void read_account(kg_arena *a, const PGresult *r, int row, kg_account *out)
{
	out->id = kg_pg_col_text(a, r, row, 0);
	out->name = kg_pg_col_text(a, r, row, 1);
	out->email = kg_pg_col_text(a, r, row, 2);
	out->phone = kg_pg_col_text(a, r, row, 3);
	read_address(a, r, row, 4, &out->address);
	out->password_hash = kg_pg_col_text(a, r, row, 10);
	out->totp_secret = kg_pg_col_blob(a, r, row, 11, &out->totp_secret_len);
	out->totp_enabled = kg_pg_col_i64(r, row, 12) != 0;
	out->lang = kg_pg_col_text(a, r, row, 13);
	out->created_ms = kg_pg_col_i64(r, row, 14);
	out->updated_ms = kg_pg_col_i64(r, row, 15);
}

/* Runs a query of one text key: the number of rows in *rows, r kept in *out
 * (NULL: cleared). */
static int query1(kg_tx *tx, const char *sql, const char *k1, const char *k2, PGresult **out,
		  int *rows, kg_err *err, const char *what)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, k1);
	if (k2)
		kg_pg_text(&p, k2);
	PGresult *r = kg_pg_exec(tx, sql, &p, err, what);
	if (!r)
		return err->code;
	*rows = PQntuples(r);
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int account_read_one(kg_tx *tx, const char *sql, const char *key, const char *what,
			    kg_account *out, kg_arena *a, kg_err *err)
{
	PGresult *r = NULL;
	int rows = 0;
	int rc = query1(tx, sql, key, NULL, &r, &rows, err, "account get");
	if (rc)
		return rc;
	if (rows == 0) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no account with %s \"%s\"", what, key);
	} else {
		memset(out, 0, sizeof(*out));
		read_account(a, r, 0, out);
	}
	PQclear(r);
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
	const char *what = insert ? "account insert" : "account update";
	int rows = 0, rc;
	if (acc->email) {
		if ((rc = query1(tx, SQL_EMAIL_TAKEN, acc->email, acc->id, NULL, &rows, err, what)))
			return rc;
		if (rows)
			return kg_err_field(err, KG_ECONFLICT, "email",
					    "email \"%s\" belongs to another account", acc->email);
	}
	int64_t now = kg_now_ms();
	kg_pg_args p = {0};
	kg_pg_text(&p, acc->id);
	kg_pg_text(&p, acc->name);
	kg_pg_text(&p, acc->email);
	kg_pg_text(&p, acc->phone);
	bind_address(&p, &acc->address);
	kg_pg_text(&p, acc->password_hash);
	kg_pg_blob(&p, acc->totp_secret, acc->totp_secret_len);
	kg_pg_i64(&p, acc->totp_enabled);
	kg_pg_text(&p, acc->lang);
	if (insert) /* (an update keeps created_ms: its $15 is updated_ms) */
		kg_pg_i64(&p, acc->created_ms ? acc->created_ms : now);
	kg_pg_i64(&p, acc->updated_ms ? acc->updated_ms : now);
	uint64_t changed = 0;
	if ((rc = kg_pg_run(tx, sql, &p, &changed, err, what)))
		return rc;
	if (changed)
		return 0;
	if (insert)
		return kg_err_field(err, KG_ECONFLICT, "id", "account \"%s\" already exists", acc->id);
	return kg_err_set(err, KG_ENOTFOUND, "no account with id \"%s\"", acc->id);
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
	"SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1 OR lower(email) = lower($1) "
	"OR phone = $1 OR name ILIKE $2 ESCAPE '\\' OR email ILIKE $2 ESCAPE '\\' "
	"ORDER BY (id = $1 OR lower(email) = lower($1) OR phone = $1) DESC, name, id LIMIT $3";

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
	kg_pg_args p = {0};
	kg_pg_text(&p, q);
	kg_pg_text(&p, like_prefix(a, q));
	kg_pg_i64(&p, limit ? (int64_t)limit : 50);
	PGresult *r = kg_pg_exec(tx, SQL_ACCOUNT_SEARCH, &p, err, "account search");
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_account(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

/* ---- cards ------------------------------------------------------------------*/
static const char SQL_CARD_UPSERT[] =
	"INSERT INTO account_cards (account_id, card_id, holder_name, last4, exp, "
	"fingerprint, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	"ON CONFLICT (account_id, card_id) DO UPDATE SET holder_name = excluded.holder_name, "
	"last4 = excluded.last4, exp = excluded.exp, fingerprint = excluded.fingerprint";
static const char SQL_CARD_LIST[] =
	"SELECT account_id, card_id, holder_name, last4, exp, fingerprint, created_ms "
	"FROM account_cards WHERE account_id = $1 ORDER BY created_ms, card_id";

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* KG_ENOTFOUND (named) unless account_id exists. */
static int need_account(kg_tx *tx, const char *account_id, const char *what, kg_err *err)
{
	int rows = 0;
	int rc = query1(tx, SQL_ACCOUNT_EXISTS, account_id ? account_id : "", NULL, NULL, &rows,
			err, what);
	if (!rc && !rows)
		rc = kg_err_set(err, KG_ENOTFOUND, "no account with id \"%s\"",
				account_id ? account_id : "");
	return rc;
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
	int rc = need_account(tx, c->account_id, "card add", err);
	if (rc)
		return rc;
	kg_pg_args p = {0};
	kg_pg_text(&p, c->account_id);
	kg_pg_text(&p, card_id);
	kg_pg_text(&p, c->holder_name);
	kg_pg_text(&p, c->last4);
	kg_pg_text(&p, c->exp);
	kg_pg_text(&p, c->fingerprint);
	kg_pg_i64(&p, kg_pg_or_now(c->created_ms));
	return kg_pg_run(tx, SQL_CARD_UPSERT, &p, NULL, err, "card add");
}

static int card_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_card **out,
		     size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r = NULL;
	int rows = 0;
	int rc = query1(tx, SQL_CARD_LIST, account_id, NULL, &r, &rows, err, "card list");
	if (rc)
		return rc;
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++) {
			kg_card *c = &(*out)[i];
			c->account_id = kg_pg_col_text(a, r, i, 0);
			c->card_id = kg_pg_col_text(a, r, i, 1);
			c->holder_name = kg_pg_col_text(a, r, i, 2);
			c->last4 = kg_pg_col_text(a, r, i, 3);
			c->exp = kg_pg_col_text(a, r, i, 4);
			c->fingerprint = kg_pg_col_text(a, r, i, 5);
			c->created_ms = kg_pg_col_i64(r, i, 6);
		}
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

/* ---- extra addresses --------------------------------------------------------*/
static const char SQL_ADDRESS_INSERT[] =
	"INSERT INTO account_addresses (account_id, address_id, kind, postal_code, region, "
	"city, line1, line2, country, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	"ON CONFLICT DO NOTHING";
static const char SQL_ADDRESS_LIST[] =
	"SELECT account_id, address_id, kind, postal_code, region, city, line1, line2, "
	"country, created_ms FROM account_addresses WHERE account_id = $1 "
	"ORDER BY created_ms, address_id";

static int address_add(kg_tx *tx, const kg_account_address *ad, kg_err *err)
{
	int rc = need_account(tx, ad->account_id, "address add", err);
	if (rc)
		return rc;
	char id[KG_STORE_ID_MAX];
	kg_pg_args p = {0};
	kg_pg_text(&p, ad->account_id);
	kg_pg_text(&p, ad->address_id ? ad->address_id : kg_store_new_id(id, "adr"));
	kg_pg_text(&p, ad->kind);
	bind_address(&p, &ad->address);
	kg_pg_i64(&p, kg_pg_or_now(ad->created_ms));
	uint64_t changed = 0;
	rc = kg_pg_run(tx, SQL_ADDRESS_INSERT, &p, &changed, err, "address add");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "address add: address \"%s\" already exists",
				ad->address_id ? ad->address_id : "");
	return rc;
}

static int address_list(kg_tx *tx, const char *account_id, kg_arena *a,
			kg_account_address **out, size_t *n, kg_err *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r = NULL;
	int rows = 0;
	int rc = query1(tx, SQL_ADDRESS_LIST, account_id, NULL, &r, &rows, err, "address list");
	if (rc)
		return rc;
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++) {
			kg_account_address *ad = &(*out)[i];
			ad->account_id = kg_pg_col_text(a, r, i, 0);
			ad->address_id = kg_pg_col_text(a, r, i, 1);
			ad->kind = kg_pg_col_text(a, r, i, 2);
			read_address(a, r, i, 3, &ad->address);
			ad->created_ms = kg_pg_col_i64(r, i, 9);
		}
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

/* ---- credentials ------------------------------------------------------------*/
static const char SQL_CRED_INSERT[] =
	"INSERT INTO credentials (id, secret_hash, role, account_id, expires_ms, label, "
	"created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
static const char SQL_CRED_GET[] =
	"SELECT id, secret_hash, role, account_id, expires_ms, label, created_ms, revoked_ms "
	"FROM credentials WHERE id = $1";
static const char SQL_CRED_REVOKE[] =
	"UPDATE credentials SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL";
static const char SQL_CRED_REVOKE_ACCOUNT[] =
	"UPDATE credentials SET revoked_ms = $3 WHERE account_id = $1 "
	"AND ($2::text IS NULL OR role = $2) AND revoked_ms IS NULL";
static const char SQL_KEYS_LIST[] =
	"SELECT id, secret_hash, role, account_id, expires_ms, label, created_ms, revoked_ms "
	"FROM credentials WHERE role IN ('service','agent','admin') "
	"ORDER BY created_ms DESC, id LIMIT $1";

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
	kg_pg_args p = {0};
	kg_pg_text(&p, c->id);
	kg_pg_blob(&p, c->secret_hash, c->secret_hash_len);
	kg_pg_text(&p, c->role);
	kg_pg_text(&p, c->account_id);
	kg_pg_opt_ms(&p, c->expires_ms);
	kg_pg_text(&p, c->label);
	kg_pg_i64(&p, kg_pg_or_now(c->created_ms));
	kg_pg_opt_ms(&p, c->revoked_ms);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CRED_INSERT, &p, &changed, err, "credential insert");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ECONFLICT, "credential insert: \"%s\" already exists", c->id);
	return rc;
}

/* Rows of the credential columns into an arena array; keys: without the
 * secret hash. */
static void read_credentials(kg_arena *a, const PGresult *r, bool secret, kg_credential **out,
			     size_t *n)
{
	int rows = PQntuples(r);
	*out = NULL;
	*n = 0;
	if (!rows)
		return;
	*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
	memset(*out, 0, (size_t)rows * sizeof(**out));
	for (int i = 0; i < rows; i++) {
		kg_credential *c = &(*out)[i];
		c->id = kg_pg_col_text(a, r, i, 0);
		if (secret)
			c->secret_hash = kg_pg_col_blob(a, r, i, 1, &c->secret_hash_len);
		c->role = kg_pg_col_text(a, r, i, 2);
		if (secret)
			c->account_id = kg_pg_col_text(a, r, i, 3);
		c->expires_ms = kg_pg_col_i64(r, i, 4);
		c->label = kg_pg_col_text(a, r, i, 5);
		c->created_ms = kg_pg_col_i64(r, i, 6);
		c->revoked_ms = kg_pg_col_i64(r, i, 7);
	}
	*n = (size_t)rows;
}

static int credential_get(kg_tx *tx, const char *id, kg_credential *out, kg_arena *a,
			  kg_err *err)
{
	PGresult *r = NULL;
	int rows = 0;
	int rc = query1(tx, SQL_CRED_GET, id, NULL, &r, &rows, err, "credential get");
	if (rc)
		return rc;
	if (!rows) {
		rc = kg_err_set(err, KG_ENOTFOUND, "no credential \"%s\"", id);
	} else {
		kg_credential *c;
		size_t n;
		read_credentials(a, r, true, &c, &n);
		*out = c[0];
	}
	PQclear(r);
	return rc;
}

static int credential_revoke(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, id);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CRED_REVOKE, &p, &changed, err, "credential revoke");
	if (rc || changed == 1)
		return rc;
	int rows = 0;
	if ((rc = query1(tx, SQL_CRED_GET, id, NULL, NULL, &rows, err, "credential revoke")))
		return rc;
	if (!rows)
		return kg_err_set(err, KG_ENOTFOUND, "no credential \"%s\"", id);
	return kg_err_set(err, KG_ECONFLICT, "credential \"%s\" is already revoked", id);
}

static int credential_revoke_account(kg_tx *tx, const char *account_id, const char *role,
				     int64_t now_ms, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, role);
	kg_pg_i64(&p, kg_pg_or_now(now_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_CRED_REVOKE_ACCOUNT, &p, &changed, err,
			   "credential revoke account");
	if (!rc && n)
		*n = (size_t)changed;
	return rc;
}

static int keys_list(kg_tx *tx, size_t limit, kg_arena *a, kg_credential **out, size_t *n,
		     kg_err *err)
{
	kg_pg_args p = {0};
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	PGresult *r = kg_pg_exec(tx, SQL_KEYS_LIST, &p, err, "key list");
	if (!r)
		return err->code;
	read_credentials(a, r, false, out, n);
	PQclear(r);
	return 0;
}

/* ---- rule lists -------------------------------------------------------------*/
static const char SQL_LIST_ADD[] =
	"INSERT INTO lists (name, value, created_ms) VALUES ($1, $2, $3) "
	"ON CONFLICT (name, value) DO NOTHING";
static const char SQL_LIST_REMOVE[] = "DELETE FROM lists WHERE name = $1 AND value = $2";
static const char SQL_LIST_CONTAINS[] = "SELECT 1 FROM lists WHERE name = $1 AND value = $2";
static const char SQL_LIST_VALUES[] = "SELECT value FROM lists WHERE name = $1 ORDER BY value";

static int list_add(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, name);
	kg_pg_text(&p, value);
	kg_pg_i64(&p, kg_now_ms());
	return kg_pg_run(tx, SQL_LIST_ADD, &p, NULL, err, "list add");
}

static int list_remove(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, name);
	kg_pg_text(&p, value);
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_LIST_REMOVE, &p, &changed, err, "list remove");
	if (!rc && !changed)
		rc = kg_err_set(err, KG_ENOTFOUND, "list \"%s\" has no \"%s\"", name, value);
	return rc;
}

static int list_contains(kg_tx *tx, const char *name, const char *value, bool *found,
			 kg_err *err)
{
	int rows = 0;
	int rc = query1(tx, SQL_LIST_CONTAINS, name, value, NULL, &rows, err, "list lookup");
	*found = !rc && rows > 0;
	return rc;
}

static int list_values(kg_tx *tx, const char *name, kg_arena *a, const char ***out, size_t *n,
		       kg_err *err)
{
	*out = NULL;
	*n = 0;
	PGresult *r = NULL;
	int rows = 0;
	int rc = query1(tx, SQL_LIST_VALUES, name, NULL, &r, &rows, err, "list values");
	if (rc)
		return rc;
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			(*out)[i] = kg_pg_col_text(a, r, i, 0);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

const struct kg_store_accounts_ops kg_postgres_accounts_ops = {
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
