/* kg_store_copy: every row of a SQLite store into an empty PostgreSQL
 * store (`kagi store copy`), in one PostgreSQL transaction, each table
 * through COPY ... FROM STDIN. Both stores are opened with kg_store_open
 * first, so both are at this kagi's schema version and the columns match by
 * name. Not here: copies the other way, or between two stores of one
 * backend (`kagi backup` copies a SQLite store). */
#include "store/store_impl.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* Every table of the schema, parents before the tables that refer to them. */
static const char *const tables[] = {
	"accounts", "account_cards", "account_addresses", "credentials", "lists", "events",
	"features", "locks", "incidents", "audit", "audit_heads", "messages", "cases",
	"case_history", "case_documents", "codes", "counters", "identity_checks", "outbox",
	"webhooks", "entity_features", "guard_rows",
};

/* Appends v as a field of COPY's text format. */
static int put_field(kg_buf *b, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return kg_buf_puts(b, "\\N");
	case SQLITE_INTEGER:
		return kg_buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return kg_buf_printf(b, "%.17g", sqlite3_column_double(st, i));
	case SQLITE_BLOB: {
		const uint8_t *p = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);
		int rc = kg_buf_puts(b, "\\\\x"); /* bytea hex input, its backslash escaped */
		for (int k = 0; !rc && k < n; k++)
			rc = kg_buf_printf(b, "%02x", p[k]);
		return rc;
	}
	default: {
		const unsigned char *t = sqlite3_column_text(st, i);
		int n = sqlite3_column_bytes(st, i), rc = 0;
		for (int k = 0; !rc && k < n; k++) {
			unsigned char c = t[k];
			if (c == '\\')
				rc = kg_buf_puts(b, "\\\\");
			else if (c == '\t')
				rc = kg_buf_puts(b, "\\t");
			else if (c == '\n')
				rc = kg_buf_puts(b, "\\n");
			else if (c == '\r')
				rc = kg_buf_puts(b, "\\r");
			else
				rc = kg_buf_putc(b, (char)c);
		}
		return rc;
	}
	}
}

static int pg_result(PGconn *pg, PGresult *r, ExecStatusType want, kg_err *err, const char *what)
{
	int rc = 0;
	if (PQresultStatus(r) != want) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r)
									 : PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		rc = kg_err_set(err, KG_EIO, "store copy: %s: %s", what, msg);
	}
	PQclear(r);
	return rc;
}

/* Copies one table; *rows gets how many rows. */
static int copy_table(sqlite3 *db, PGconn *pg, const char *table, int64_t *rows, kg_err *err)
{
	char sql[256];
	*rows = 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	PGresult *r = PQexec(pg, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") != 0) {
		PQclear(r);
		return kg_err_set(err, KG_ECONFLICT,
				  "store copy: table %s of the destination is not empty (copy into a "
				  "new database)",
				  table);
	}
	if (pg_result(pg, r, PGRES_TUPLES_OK, err, table))
		return err->code;
	snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return kg_err_set(err, KG_EIO, "store copy: read %s: %s", table, sqlite3_errmsg(db));
	kg_buf line = KG_BUF_INIT(64 * 1024 * 1024);
	int rc = kg_buf_printf(&line, "COPY %s (", table);
	int ncol = sqlite3_column_count(st);
	for (int i = 0; !rc && i < ncol; i++)
		rc = kg_buf_printf(&line, "%s%s", i ? ", " : "", sqlite3_column_name(st, i));
	if (!rc)
		rc = kg_buf_puts(&line, ") FROM STDIN");
	if (rc) {
		rc = kg_err_set(err, rc, "store copy: %s: out of memory", table);
		goto cleanup;
	}
	if ((rc = pg_result(pg, PQexec(pg, line.data), PGRES_COPY_IN, err, table)))
		goto cleanup;
	int step;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		line.len = 0;
		for (int i = 0; !rc && i < ncol; i++) {
			if (i)
				rc = kg_buf_puts(&line, "\t");
			if (!rc)
				rc = put_field(&line, st, i);
		}
		if (!rc)
			rc = kg_buf_puts(&line, "\n");
		if (rc) {
			rc = kg_err_set(err, rc, "store copy: a row of %s is too large", table);
			break;
		}
		if (PQputCopyData(pg, line.data, (int)line.len) != 1)
			rc = kg_err_set(err, KG_EIO, "store copy: %s: %s", table, PQerrorMessage(pg));
		(*rows)++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = kg_err_set(err, KG_EIO, "store copy: read %s: %s", table, sqlite3_errmsg(db));
	if (PQputCopyEnd(pg, rc ? "aborted" : NULL) != 1 && !rc)
		rc = kg_err_set(err, KG_EIO, "store copy: %s: %s", table, PQerrorMessage(pg));
	PGresult *end = PQgetResult(pg);
	int rc2 = pg_result(pg, end, PGRES_COMMAND_OK, err, table);
	while ((end = PQgetResult(pg)))
		PQclear(end);
	if (!rc)
		rc = rc2;
cleanup:
	kg_buf_release(&line);
	sqlite3_finalize(st);
	return rc;
}

int kg_store_copy(const char *from, const char *to, int64_t *rows, kg_err *err)
{
	if (rows)
		*rows = 0;
	if (!from || !to || !strncmp(from, "postgres", 8) ||
	    (strncmp(to, "postgres://", 11) && strncmp(to, "postgresql://", 13)))
		return kg_err_set(err, KG_EINVAL,
				  "store copy: from a SQLite file to a postgres:// URL");
	/* both at this kagi's schema: open (and migrate) each once */
	kg_store *s = NULL;
	int rc = kg_store_open(&s, from, NULL, err);
	kg_store_close(s);
	s = NULL;
	if (!rc)
		rc = kg_store_open(&s, to, NULL, err);
	kg_store_close(s);
	if (rc)
		return rc;
	sqlite3 *db = NULL;
	PGconn *pg = NULL;
	if (sqlite3_open_v2(from, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = kg_err_set(err, KG_EIO, "store copy: open %s: %s", from,
				db ? sqlite3_errmsg(db) : "out of memory");
		goto cleanup;
	}
	pg = PQconnectdb(to);
	if (PQstatus(pg) != CONNECTION_OK) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		msg[strcspn(msg, "\n")] = '\0';
		rc = kg_err_set(err, KG_EIO, "store copy: cannot connect to the postgres store: %s", msg);
		goto cleanup;
	}
	/* one snapshot of the source, one transaction on the destination */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    (rc = pg_result(pg, PQexec(pg, "BEGIN"), PGRES_COMMAND_OK, err, "begin"))) {
		if (!rc)
			rc = kg_err_set(err, KG_EIO, "store copy: %s", sqlite3_errmsg(db));
		goto cleanup;
	}
	for (size_t i = 0; !rc && i < KG_ARRAY_LEN(tables); i++) {
		int64_t n = 0;
		rc = copy_table(db, pg, tables[i], &n, err);
		if (rows)
			*rows += n;
	}
	if (!rc)
		rc = pg_result(pg, PQexec(pg, "COMMIT"), PGRES_COMMAND_OK, err, "commit");
	else
		PQclear(PQexec(pg, "ROLLBACK"));
cleanup:
	if (pg)
		PQfinish(pg);
	if (db)
		sqlite3_close(db);
	return rc;
}
