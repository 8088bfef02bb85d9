/* SQLite operations on the message center: every notice sent about an
 * account, findable by Message-ID or content fingerprint (S6, S7). */
#include "store/sqlite_impl.h"

#include <string.h>

#define MSG_COLS                                                               \
	"account_id, id, kind, lang, subject, body_text, body_html, message_id, " \
	"fingerprint, created_ms"

static const char SQL_MSG_INSERT[] =
	"INSERT INTO messages (" MSG_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_MSG_LIST[] =
	"SELECT " MSG_COLS " FROM messages WHERE account_id = ?1 "
	"ORDER BY created_ms DESC, id DESC LIMIT ?2";
static const char SQL_MSG_GET[] =
	"SELECT " MSG_COLS " FROM messages WHERE account_id = ?1 AND id = ?2";
static const char SQL_MSG_BY_MID[] =
	"SELECT " MSG_COLS " FROM messages WHERE message_id = ?1";
static const char SQL_MSG_BY_FP[] =
	"SELECT " MSG_COLS " FROM messages WHERE fingerprint = ?2 "
	"AND (?1 IS NULL OR account_id = ?1) ORDER BY created_ms DESC, id DESC LIMIT 1";

static void read_msg(kg_arena *a, sqlite3_stmt *st, void *row)
{
	kg_message *m = row;
	m->account_id = kg_sq_col_text(a, st, 0);
	m->id = kg_sq_col_text(a, st, 1);
	m->kind = kg_sq_col_text(a, st, 2);
	m->lang = kg_sq_col_text(a, st, 3);
	m->subject = kg_sq_col_text(a, st, 4);
	m->body_text = kg_sq_col_text(a, st, 5);
	m->body_html = kg_sq_col_text(a, st, 6);
	m->message_id = kg_sq_col_text(a, st, 7);
	m->fingerprint = kg_sq_col_text(a, st, 8);
	m->created_ms = kg_sq_col_i64(st, 9);
}

static int msg_insert(kg_tx *tx, const kg_message *m, kg_err *err)
{
	if (!m->account_id || !m->kind || !m->subject || !m->body_text)
		return kg_err_set(err, KG_EINVAL,
				  "a message needs account, kind, subject and body_text");
	char id[KG_STORE_ID_MAX];
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_MSG_INSERT, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, m->account_id);
	kg_sq_bind_text(st, 2, m->id ? m->id : kg_store_new_id(id, "msg"));
	kg_sq_bind_text(st, 3, m->kind);
	kg_sq_bind_text(st, 4, m->lang);
	kg_sq_bind_text(st, 5, m->subject);
	kg_sq_bind_text(st, 6, m->body_text);
	kg_sq_bind_text(st, 7, m->body_html);
	kg_sq_bind_text(st, 8, m->message_id);
	kg_sq_bind_text(st, 9, m->fingerprint);
	kg_sq_bind_i64(st, 10, kg_sq_or_now(m->created_ms));
	return kg_sq_exec_stmt(tx, st, err, "message insert");
}

static int msg_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		    kg_message **out, size_t *n, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_MSG_LIST, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_i64(st, 2, limit ? (int64_t)limit : -1);
	return kg_sq_rows(tx, st, a, read_msg, sizeof(**out), (void **)out, n, err,
			  "message list");
}

/* Reads the one row st yields into out, or KG_ENOTFOUND naming what. */
static int msg_one(kg_tx *tx, sqlite3_stmt *st, kg_message *out, kg_arena *a, kg_err *err,
		   const char *what)
{
	int rc = kg_sq_one(tx, st, a, read_msg, out, sizeof(*out), err, "message get");
	if (rc == KG_ENOTFOUND)
		return kg_err_set(err, KG_ENOTFOUND, "no message with %s", what);
	return rc;
}

static int msg_get(kg_tx *tx, const char *account_id, const char *id, kg_message *out,
		   kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_MSG_GET, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, id);
	return msg_one(tx, st, out, a, err, "this id in the account");
}

static int msg_by_mid(kg_tx *tx, const char *message_id, kg_message *out, kg_arena *a,
		      kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_MSG_BY_MID, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, message_id);
	return msg_one(tx, st, out, a, err, "this Message-ID");
}

static int msg_by_fp(kg_tx *tx, const char *account_id, const char *fingerprint,
		     kg_message *out, kg_arena *a, kg_err *err)
{
	sqlite3_stmt *st = kg_sq_stmt(tx, SQL_MSG_BY_FP, err);
	if (!st)
		return err->code;
	kg_sq_bind_text(st, 1, account_id);
	kg_sq_bind_text(st, 2, fingerprint);
	return msg_one(tx, st, out, a, err, "this fingerprint");
}

const struct kg_store_messages_ops kg_sqlite_messages_ops = {
	.insert = msg_insert,
	.list = msg_list,
	.get = msg_get,
	.find_by_message_id = msg_by_mid,
	.find_by_fingerprint = msg_by_fp,
};
