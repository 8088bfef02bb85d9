/* The queues as operators steer them (`kagi outbox`, `kagi webhooks`): list,
 * find, retry and queue by hand, each one store transaction, one
 * implementation for both kinds of the one queue. Not here: delivery
 * (worker.c) or the rows' SQL (store). */
#include "notify/internal.h"

#include <string.h>
#include <strings.h>

static const char *queue_name(enum kg_queue_kind kind)
{
	return kind == KG_QUEUE_WEBHOOK ? "webhooks" : "outbox";
}

static kg_notify_queue_row of_mail(const kg_outbox *o)
{
	return (kg_notify_queue_row){KG_QUEUE_MAIL, o->id, o->account_id, o->state, o->last_error,
				     o->attempts, o->next_attempt_ms, o->delivered_ms,
				     o->created_ms, .mail = *o};
}

static kg_notify_queue_row of_webhook(const kg_webhook *w)
{
	return (kg_notify_queue_row){KG_QUEUE_WEBHOOK, w->id, w->account_id, w->state, w->last_error,
				     w->attempts, w->next_attempt_ms, w->delivered_ms,
				     w->created_ms, .webhook = *w};
}

struct queue_job {
	enum kg_queue_kind kind;
	const char *id, *to, *state, *account_id;
	size_t limit;
	kg_arena *a;
	kg_notify_queue_row *rows, row;
	size_t n;
	const char *const *ids;
	bool failed;
	size_t done;
};

/* The rows of the job's kind into j->rows (in j->a). */
static int list_rows(kg_tx *tx, struct queue_job *j, const char *state, const char *account_id,
		     size_t limit, kg_err *err)
{
	kg_outbox *mail = NULL;
	kg_webhook *hooks = NULL;
	size_t n = 0;
	int rc = j->kind == KG_QUEUE_MAIL
			 ? kg_tx_outbox_list_all(tx, state, account_id, limit, j->a, &mail, &n, err)
			 : kg_tx_webhook_list_all(tx, state, account_id, limit, j->a, &hooks, &n, err);
	if (rc)
		return rc;
	j->rows = n ? kg_arena_alloc(j->a, n * sizeof(*j->rows)) : NULL;
	for (size_t i = 0; i < n; i++)
		j->rows[i] = mail ? of_mail(&mail[i]) : of_webhook(&hooks[i]);
	j->n = n;
	return 0;
}

static int list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct queue_job *j = p;
	return list_rows(tx, j, j->state, j->account_id, j->limit, err);
}

int kg_notify_queue_list(kg_store *s, enum kg_queue_kind kind, const char *state,
			 const char *account_id, size_t limit, kg_arena *a,
			 kg_notify_queue_row **out, size_t *n, kg_err *err)
{
	struct queue_job j = {.kind = kind, .state = state, .account_id = account_id,
			      .limit = limit, .a = a};
	int rc = kg_store_read(s, list_job, &j, err);
	*out = rc ? NULL : j.rows;
	*n = rc ? 0 : j.n;
	return rc;
}

static int find_by_id(kg_tx *tx, struct queue_job *j, const char *id, kg_err *err)
{
	if (j->kind == KG_QUEUE_MAIL) {
		kg_outbox o;
		int rc = kg_tx_outbox_find(tx, id, &o, j->a, err);
		if (!rc)
			j->row = of_mail(&o);
		return rc;
	}
	kg_webhook w;
	int rc = kg_tx_webhook_find(tx, id, &w, j->a, err);
	if (!rc)
		j->row = of_webhook(&w);
	return rc;
}

static int find_job(kg_tx *tx, void *p, kg_err *err)
{
	struct queue_job *j = p;
	if (j->id)
		return find_by_id(tx, j, j->id, err);
	if (j->kind != KG_QUEUE_MAIL || !j->to)
		return kg_err_field(err, KG_EINVAL, "id", "a %s row is found by its id",
				    queue_name(j->kind));
	int rc = list_rows(tx, j, NULL, j->account_id, 0, err);
	for (size_t i = 0; rc == 0 && i < j->n; i++) /* newest first */
		if (!strcasecmp(j->rows[i].mail.rcpt, j->to))
			return find_by_id(tx, j, j->rows[i].id, err);
	return rc ? rc : kg_err_field(err, KG_ENOTFOUND, "to", "no mail to %s in the outbox", j->to);
}

int kg_notify_queue_find(kg_store *s, enum kg_queue_kind kind, const char *id, const char *to,
			 const char *account_id, kg_arena *a, kg_notify_queue_row *out,
			 kg_err *err)
{
	struct queue_job j = {.kind = kind, .id = id, .to = to, .account_id = account_id, .a = a};
	int rc = kg_store_read(s, find_job, &j, err);
	if (rc == 0)
		*out = j.row;
	return rc;
}

static int retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct queue_job *j = p;
	int64_t now = kg_now_ms();
	int rc = 0;
	if (j->failed) {
		rc = list_rows(tx, j, "failed", NULL, 0, err);
		for (size_t i = 0; rc == 0 && i < j->n; i++, j->done++)
			rc = kg_tx_queue_retry(tx, j->kind, j->rows[i].id, now, err);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < j->n; i++, j->done++)
		rc = kg_tx_queue_retry(tx, j->kind, j->ids[i], now, err);
	return rc;
}

int kg_notify_queue_retry(kg_store *s, enum kg_queue_kind kind, const char *const *ids,
			  size_t n, bool failed, size_t *done, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct queue_job j = {.kind = kind, .ids = ids, .n = n, .failed = failed, .a = &a};
	int rc = kg_store_write(s, retry_job, &j, err);
	kg_arena_release(&a);
	*done = rc ? 0 : j.done;
	return rc;
}

struct enqueue_job {
	const char *account_id, *to, *type, *data_json;
	const kg_notify_mail *mail;
};

static int enqueue_job(kg_tx *tx, void *p, kg_err *err)
{
	struct enqueue_job *j = p;
	if (j->mail)
		return kg_notify_tx_enqueue_mail(tx, j->account_id, j->to, j->mail, err);
	return kg_notify_tx_enqueue_webhook(tx, j->type, j->account_id, j->data_json, err);
}

int kg_notify_enqueue_mail(kg_store *s, const char *account_id, const char *to,
			   const kg_notify_mail *m, kg_err *err)
{
	struct enqueue_job j = {.account_id = account_id, .to = to, .mail = m};
	return kg_store_write(s, enqueue_job, &j, err);
}

int kg_notify_enqueue_webhook(kg_store *s, const char *type, const char *account_id,
			      const char *data_json, kg_err *err)
{
	struct enqueue_job j = {.account_id = account_id, .type = type, .data_json = data_json};
	return kg_store_write(s, enqueue_job, &j, err);
}
