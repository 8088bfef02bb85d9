/* PostgreSQL operations on the message center, as sqlite_messages.c: every
 * notice sent about an account, findable by Message-ID or content
 * fingerprint (S6, S7). */
#include "store/postgres_impl.h"

#include <string.h>

#define MSG_COLS                                                               \
	"account_id, id, kind, lang, subject, body_text, body_html, message_id, " \
	"fingerprint, created_ms"

static const char SQL_MSG_INSERT[] =
	"INSERT INTO messages (" MSG_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	"ON CONFLICT DO NOTHING";
static const char SQL_MSG_LIST[] =
	"SELECT " MSG_COLS " FROM messages WHERE account_id = $1 "
	"ORDER BY created_ms DESC, id DESC LIMIT $2";
static const char SQL_MSG_GET[] =
	"SELECT " MSG_COLS " FROM messages WHERE account_id = $1 AND id = $2";
static const char SQL_MSG_BY_MID[] =
	"SELECT " MSG_COLS " FROM messages WHERE message_id = $1";
static const char SQL_MSG_BY_FP[] =
	"SELECT " MSG_COLS " FROM messages WHERE fingerprint = $2 "
	"AND ($1::text IS NULL OR account_id = $1) ORDER BY created_ms DESC, id DESC LIMIT 1";

static void read_msg(kg_arena *a, const PGresult *r, int row, kg_message *m)
{
	m->account_id = kg_pg_col_text(a, r, row, 0);
	m->id = kg_pg_col_text(a, r, row, 1);
	m->kind = kg_pg_col_text(a, r, row, 2);
	m->lang = kg_pg_col_text(a, r, row, 3);
	m->subject = kg_pg_col_text(a, r, row, 4);
	m->body_text = kg_pg_col_text(a, r, row, 5);
	m->body_html = kg_pg_col_text(a, r, row, 6);
	m->message_id = kg_pg_col_text(a, r, row, 7);
	m->fingerprint = kg_pg_col_text(a, r, row, 8);
	m->created_ms = kg_pg_col_i64(r, row, 9);
}

static int msg_insert(kg_tx *tx, const kg_message *m, kg_err *err)
{
	if (!m->account_id || !m->kind || !m->subject || !m->body_text)
		return kg_err_set(err, KG_EINVAL,
				  "a message needs account, kind, subject and body_text");
	char id[KG_STORE_ID_MAX];
	kg_pg_args p = {0};
	kg_pg_text(&p, m->account_id);
	kg_pg_text(&p, m->id ? m->id : kg_store_new_id(id, "msg"));
	kg_pg_text(&p, m->kind);
	kg_pg_text(&p, m->lang);
	kg_pg_text(&p, m->subject);
	kg_pg_text(&p, m->body_text);
	kg_pg_text(&p, m->body_html);
	kg_pg_text(&p, m->message_id);
	kg_pg_text(&p, m->fingerprint);
	kg_pg_i64(&p, kg_pg_or_now(m->created_ms));
	uint64_t changed = 0;
	int rc = kg_pg_run(tx, SQL_MSG_INSERT, &p, &changed, err, "message insert");
	if (!rc && !changed) /* the id or the Message-ID is taken */
		rc = kg_err_set(err, KG_ECONFLICT,
				"message insert: already exists or not allowed (id or Message-ID)");
	return rc;
}

static int msg_rows(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_arena *a,
		    kg_message **out, size_t *n, kg_err *err, const char *what)
{
	*out = NULL;
	*n = 0;
	PGresult *r = kg_pg_exec(tx, sql, p, err, what);
	if (!r)
		return err->code;
	int rows = PQntuples(r);
	if (rows) {
		*out = kg_arena_alloc(a, (size_t)rows * sizeof(**out));
		memset(*out, 0, (size_t)rows * sizeof(**out));
		for (int i = 0; i < rows; i++)
			read_msg(a, r, i, &(*out)[i]);
		*n = (size_t)rows;
	}
	PQclear(r);
	return 0;
}

static int msg_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		    kg_message **out, size_t *n, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	if (limit)
		kg_pg_i64(&p, (int64_t)limit);
	else
		kg_pg_text(&p, NULL);
	return msg_rows(tx, SQL_MSG_LIST, &p, a, out, n, err, "message list");
}

/* The one row of sql into out, or KG_ENOTFOUND naming what. */
static int msg_one(kg_tx *tx, const char *sql, const kg_pg_args *p, kg_message *out,
		   kg_arena *a, kg_err *err, const char *what)
{
	kg_message *rows;
	size_t n;
	int rc = msg_rows(tx, sql, p, a, &rows, &n, err, "message get");
	if (rc)
		return rc;
	if (!n)
		return kg_err_set(err, KG_ENOTFOUND, "no message with %s", what);
	*out = rows[0];
	return 0;
}

static int msg_get(kg_tx *tx, const char *account_id, const char *id, kg_message *out,
		   kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, id);
	return msg_one(tx, SQL_MSG_GET, &p, out, a, err, "this id in the account");
}

static int msg_by_mid(kg_tx *tx, const char *message_id, kg_message *out, kg_arena *a,
		      kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, message_id);
	return msg_one(tx, SQL_MSG_BY_MID, &p, out, a, err, "this Message-ID");
}

static int msg_by_fp(kg_tx *tx, const char *account_id, const char *fingerprint,
		     kg_message *out, kg_arena *a, kg_err *err)
{
	kg_pg_args p = {0};
	kg_pg_text(&p, account_id);
	kg_pg_text(&p, fingerprint);
	return msg_one(tx, SQL_MSG_BY_FP, &p, out, a, err, "this fingerprint");
}

const struct kg_store_messages_ops kg_postgres_messages_ops = {
	.insert = msg_insert,
	.list = msg_list,
	.get = msg_get,
	.find_by_message_id = msg_by_mid,
	.find_by_fingerprint = msg_by_fp,
};
