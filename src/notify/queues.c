/* The queues as operators steer them (`kagi outbox`, `kagi webhooks`): list,
 * find, retry and queue by hand, each one store transaction. Not here:
 * delivery (worker.c) or the rows' SQL (store). */
#include "notify/internal.h"

#include <string.h>
#include <strings.h>

/* ---- outbox ------------------------------------------------------------*/

struct outbox_job {
	const char *id, *to, *state, *account_id;
	size_t limit;
	kg_arena *a;
	kg_outbox *rows, row;
	size_t n;
	const char *const *ids;
	bool failed;
	size_t done;
	const kg_notify_mail *mail;
};

static int outbox_list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct outbox_job *j = p;
	return kg_tx_outbox_list_all(tx, j->state, j->account_id, j->limit, j->a, &j->rows, &j->n, err);
}

int kg_notify_outbox_list(kg_store *s, const char *state, const char *account_id, size_t limit,
			  kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	struct outbox_job j = {.state = state, .account_id = account_id, .limit = limit, .a = a};
	int rc = kg_store_read(s, outbox_list_job, &j, err);
	*out = rc ? NULL : j.rows;
	*n = rc ? 0 : j.n;
	return rc;
}

static int outbox_find_job(kg_tx *tx, void *p, kg_err *err)
{
	struct outbox_job *j = p;
	if (j->id)
		return kg_tx_outbox_find(tx, j->id, &j->row, j->a, err);
	kg_outbox *rows = NULL;
	size_t n = 0;
	int rc = kg_tx_outbox_list_all(tx, NULL, j->account_id, 0, j->a, &rows, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) /* newest first */
		if (!strcasecmp(rows[i].rcpt, j->to)) {
			j->row = rows[i];
			return kg_tx_outbox_find(tx, rows[i].id, &j->row, j->a, err);
		}
	return rc ? rc : kg_err_field(err, KG_ENOTFOUND, "to", "no mail to %s in the outbox", j->to);
}

int kg_notify_outbox_find(kg_store *s, const char *id, const char *to, const char *account_id,
			  kg_arena *a, kg_outbox *out, kg_err *err)
{
	struct outbox_job j = {.id = id, .to = to, .account_id = account_id, .a = a};
	int rc = kg_store_read(s, outbox_find_job, &j, err);
	if (rc == 0)
		*out = j.row;
	return rc;
}

static int outbox_retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct outbox_job *j = p;
	int64_t now = kg_now_ms();
	if (j->failed) {
		kg_outbox *rows = NULL;
		size_t n = 0;
		int rc = kg_tx_outbox_list_all(tx, "failed", NULL, 0, j->a, &rows, &n, err);
		for (size_t i = 0; rc == 0 && i < n; i++, j->done++)
			rc = kg_tx_outbox_retry(tx, rows[i].id, now, err);
		return rc;
	}
	for (size_t i = 0; i < j->n; i++, j->done++) {
		int rc = kg_tx_outbox_retry(tx, j->ids[i], now, err);
		if (rc)
			return rc;
	}
	return 0;
}

int kg_notify_outbox_retry(kg_store *s, const char *const *ids, size_t n, bool failed,
			   size_t *done, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct outbox_job j = {.ids = ids, .n = n, .failed = failed, .a = &a};
	int rc = kg_store_write(s, outbox_retry_job, &j, err);
	kg_arena_release(&a);
	*done = rc ? 0 : j.done;
	return rc;
}

static int enqueue_mail_job(kg_tx *tx, void *p, kg_err *err)
{
	struct outbox_job *j = p;
	return kg_notify_tx_enqueue_mail(tx, j->account_id, j->to, j->mail, err);
}

int kg_notify_enqueue_mail(kg_store *s, const char *account_id, const char *to,
			   const kg_notify_mail *m, kg_err *err)
{
	struct outbox_job j = {.account_id = account_id, .to = to, .mail = m};
	return kg_store_write(s, enqueue_mail_job, &j, err);
}

/* ---- webhooks ----------------------------------------------------------*/

struct webhook_job {
	const char *id, *state, *account_id, *type, *data_json;
	size_t limit;
	kg_arena *a;
	kg_webhook *rows, row;
	size_t n;
	const char *const *ids;
	bool failed;
	size_t done;
};

static int webhook_list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct webhook_job *j = p;
	return kg_tx_webhook_list_all(tx, j->state, j->account_id, j->limit, j->a, &j->rows, &j->n,
				      err);
}

int kg_notify_webhook_list(kg_store *s, const char *state, const char *account_id, size_t limit,
			   kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	struct webhook_job j = {.state = state, .account_id = account_id, .limit = limit, .a = a};
	int rc = kg_store_read(s, webhook_list_job, &j, err);
	*out = rc ? NULL : j.rows;
	*n = rc ? 0 : j.n;
	return rc;
}

static int webhook_find_job(kg_tx *tx, void *p, kg_err *err)
{
	struct webhook_job *j = p;
	return kg_tx_webhook_find(tx, j->id, &j->row, j->a, err);
}

int kg_notify_webhook_find(kg_store *s, const char *id, kg_arena *a, kg_webhook *out, kg_err *err)
{
	struct webhook_job j = {.id = id, .a = a};
	int rc = kg_store_read(s, webhook_find_job, &j, err);
	if (rc == 0)
		*out = j.row;
	return rc;
}

static int webhook_retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct webhook_job *j = p;
	int64_t now = kg_now_ms();
	int rc = 0;
	if (j->failed) {
		kg_webhook *rows = NULL;
		size_t n = 0;
		rc = kg_tx_webhook_list_all(tx, "failed", NULL, 0, j->a, &rows, &n, err);
		for (size_t i = 0; rc == 0 && i < n; i++, j->done++)
			rc = kg_tx_webhook_retry(tx, rows[i].id, now, err);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < j->n; i++, j->done++)
		rc = kg_tx_webhook_retry(tx, j->ids[i], now, err);
	return rc;
}

int kg_notify_webhook_retry(kg_store *s, const char *const *ids, size_t n, bool failed,
			    size_t *done, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct webhook_job j = {.ids = ids, .n = n, .failed = failed, .a = &a};
	int rc = kg_store_write(s, webhook_retry_job, &j, err);
	kg_arena_release(&a);
	*done = rc ? 0 : j.done;
	return rc;
}

static int enqueue_webhook_job(kg_tx *tx, void *p, kg_err *err)
{
	struct webhook_job *j = p;
	return kg_notify_tx_enqueue_webhook(tx, j->type, j->account_id, j->data_json, err);
}

int kg_notify_enqueue_webhook(kg_store *s, const char *type, const char *account_id,
			      const char *data_json, kg_err *err)
{
	struct webhook_job j = {.type = type, .account_id = account_id, .data_json = data_json};
	return kg_store_write(s, enqueue_webhook_job, &j, err);
}
