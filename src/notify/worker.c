/* The delivery worker of kagid: one thread that claims due outbox and
 * webhook rows, sends them (send.c) and records the outcome, retrying with
 * exponential backoff and jitter. Claims are leases: a row claimed by a
 * process that died is claimed again once its lease runs out, and is re-sent
 * with the same bytes, so the same Message-ID (docs/operations.md
 * ## Notifications). Not here: what goes into the queues (accounts, guard). */
#include "notify/internal.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- enqueueing (inside the caller's write transaction) ----------------*/
int kg_notify_tx_enqueue_mail(kg_tx *tx, const char *account_id, const char *to,
			      const kg_notify_mail *m, kg_err *err)
{
	kg_buf sealed = KG_BUF_INIT(KG_NOTIFY_MIME_MAX + 256);
	kg_outbox o = {
		.account_id = account_id,
		.message_id = m->message_id,
		.rcpt = to,
		.subject = m->notice.subject,
		.mime = m->raw,
		.mime_len = m->raw_len,
		.state = "pending",
		.next_attempt_ms = m->due_ms,
	};
	int rc = 0;
	if (kg_notify_seal_key()[0]) { /* nothing secret at rest in clear (S11) */
		if ((rc = kg_notify_seal(kg_notify_seal_key(), m->raw, m->raw_len, &sealed, err)))
			goto cleanup;
		o.mime = sealed.data;
		o.mime_len = sealed.len;
	}
	rc = kg_tx_outbox_insert(tx, &o, err);
cleanup:
	kg_buf_release(&sealed);
	return rc;
}

static const char *const webhook_types[] = {"lock.created", "lock.lifted", "breaker.tripped",
					    "incident.reverted", "case", "incident",
					    "lock", "unlock"};

int kg_notify_tx_enqueue_webhook(kg_tx *tx, const char *type, const char *account_id,
				 const char *data_json, kg_err *err)
{
	bool known = false;
	for (size_t i = 0; i < KG_ARRAY_LEN(webhook_types); i++)
		known |= type && !strcmp(type, webhook_types[i]);
	if (!known)
		return kg_err_field(err, KG_EINVAL, "type",
				    "webhook event type must be lock.created, lock.lifted, "
				    "breaker.tripped, incident.reverted, case or incident");
	if (!kg_notify_webhooks_enabled())
		return 0;
	kg_buf body = KG_BUF_INIT(KG_WEBHOOK_BODY_MAX);
	char id[KG_WEBHOOK_ID_MAX];
	int rc = kg_notify_webhook_body(type, account_id, data_json, kg_now_ms(), id, &body, err);
	if (rc == 0) {
		kg_webhook w = {
			.account_id = account_id ? account_id : "",
			.id = id,
			.event = type,
			.url = NULL,
			.body = body.data,
			.state = "pending",
		};
		rc = kg_tx_webhook_insert(tx, &w, err);
	}
	kg_buf_release(&body);
	return rc;
}

/* ---- one delivery pass -------------------------------------------------*/
struct claim_ctx {
	const kg_config *cfg;
	kg_arena *arena;
	kg_outbox *mail;
	kg_webhook *hooks;
	size_t n_mail, n_hooks;
};

static int claim_job(kg_tx *tx, void *p, kg_err *err)
{
	struct claim_ctx *c = p;
	int64_t now = kg_now_ms(), lease_ms = c->cfg->notify_lease_s * 1000;
	int rc = 0;
	if (c->cfg->smtp_url[0])
		rc = kg_tx_outbox_claim_due(tx, now, lease_ms, (size_t)c->cfg->notify_batch, c->arena,
					    &c->mail, &c->n_mail, err);
	if (rc == 0 && c->cfg->webhook_url[0])
		rc = kg_tx_webhook_claim_due(tx, now, lease_ms, (size_t)c->cfg->notify_batch,
					     c->arena, &c->hooks, &c->n_hooks, err);
	return rc;
}

/* The outcome of one attempt, recorded with the others of its pass. */
struct outcome {
	enum kg_queue_kind kind;
	bool delivered;
	const char *account_id, *id;
	int64_t retry_at_ms; /* failed: next try; 0: give up (state failed) */
	const char *error;
};

struct outcomes_ctx {
	struct outcome *o;
	size_t n;
};

/* Records every outcome of a pass in one transaction (one fsync). A row that
 * is no longer pending (delivered meanwhile by another node) is skipped. */
static int outcomes_job(kg_tx *tx, void *p, kg_err *err)
{
	struct outcomes_ctx *c = p;
	int64_t now = kg_now_ms();
	for (size_t i = 0; i < c->n; i++) {
		const struct outcome *o = &c->o[i];
		int rc;
		if (o->delivered)
			rc = kg_tx_queue_mark_delivered(tx, o->kind, o->account_id, o->id, now, err);
		else
			rc = kg_tx_queue_mark_failed(tx, o->kind, o->account_id, o->id, o->retry_at_ms,
						     o->error, err);
		if (rc == KG_ECONFLICT || rc == KG_ENOTFOUND)
			kg_log(KG_LOG_WARN, "notify", "%s", err->msg);
		else if (rc)
			return rc;
	}
	return 0;
}

/* Notes the outcome of one attempt (attempts already counts it). */
static void note(struct outcome *o, kg_arena *a, const kg_config *cfg, enum kg_queue_kind kind,
		 const char *account_id, const char *id, int64_t attempts, int send_rc,
		 const kg_err *send_err, kg_notify_stats *stats)
{
	*o = (struct outcome){kind, send_rc == 0, account_id, id, 0, NULL};
	const char *what = kind == KG_QUEUE_WEBHOOK ? "webhook" : "mail";
	if (send_rc) {
		o->error = kg_arena_strdup(a, send_err->msg);
		if (attempts < cfg->notify_max_attempts)
			o->retry_at_ms = kg_now_ms() + kg_notify_backoff_ms(attempts,
									   cfg->notify_retry_base_ms,
									   cfg->notify_retry_max_ms);
		kg_log(KG_LOG_WARN, "notify", "%s %s attempt %lld failed: %s%s", what, id,
		       (long long)attempts, send_err->msg,
		       o->retry_at_ms ? "" : " (giving up: state failed)");
		stats->failed++;
	} else {
		kg_log(KG_LOG_INFO, "notify", "%s %s delivered (attempt %lld)", what, id,
		       (long long)attempts);
		stats->delivered++;
	}
}

int kg_notify_deliver_once(kg_store *store, const kg_config *cfg, kg_notify_stats *stats,
			   kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct claim_ctx c = {.cfg = cfg, .arena = &a};
	int rc = kg_store_write(store, claim_job, &c, err);
	if (rc || c.n_mail + c.n_hooks == 0) {
		kg_arena_release(&a);
		return rc;
	}
	struct outcomes_ctx oc = {kg_arena_alloc(&a, (c.n_mail + c.n_hooks) * sizeof(struct outcome)), 0};
	kg_notify_conn conn = {0};
	for (size_t i = 0; i < c.n_mail; i++) {
		kg_outbox *m = &c.mail[i];
		kg_err e;
		kg_err_clear(&e);
		kg_buf plain = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
		int src = kg_notify_unseal(cfg->account_secret_key, m->mime, m->mime_len, &plain, &e);
		if (src == 0)
			src = kg_notify_smtp_send(cfg, &conn, m->rcpt, plain.data, plain.len, &e);
		if (plain.data)
			sodium_memzero(plain.data, plain.len);
		kg_buf_release(&plain);
		note(&oc.o[oc.n++], &a, cfg, KG_QUEUE_MAIL, m->account_id, m->id, m->attempts, src, &e, stats);
	}
	for (size_t i = 0; i < c.n_hooks; i++) {
		kg_webhook *w = &c.hooks[i];
		kg_err e;
		kg_err_clear(&e);
		int src = kg_notify_webhook_post(cfg, &conn, w->event, w->id, w->body, strlen(w->body), &e);
		note(&oc.o[oc.n++], &a, cfg, KG_QUEUE_WEBHOOK, w->account_id, w->id, w->attempts, src, &e, stats);
	}
	kg_notify_conn_close(&conn);
	stats->claimed += c.n_mail + c.n_hooks;
	kg_err e;
	kg_err_clear(&e);
	if (kg_store_write(store, outcomes_job, &oc, &e))
		/* the leases run out and the rows are tried again: sent at least once */
		kg_log(KG_LOG_ERROR, "notify", "cannot record %zu delivery outcomes: %s", oc.n, e.msg);
	kg_arena_release(&a);
	return 0;
}

/* ---- the thread --------------------------------------------------------*/
struct kg_notify_worker {
	kg_store *store;
	kg_config cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	kg_notify_stats stats;
};

static void *worker_main(void *p)
{
	kg_notify_worker *w = p;
	for (;;) {
		kg_notify_stats s = {0};
		kg_err e;
		kg_err_clear(&e);
		size_t claimed_before = 0;
		do {
			claimed_before = s.claimed;
			if (kg_notify_deliver_once(w->store, &w->cfg, &s, &e)) {
				kg_log(KG_LOG_ERROR, "notify", "claiming due rows failed: %s", e.msg);
				break;
			}
			pthread_mutex_lock(&w->mu);
			bool stop = w->stop;
			pthread_mutex_unlock(&w->mu);
			if (stop)
				break;
		} while (s.claimed > claimed_before); /* keep going while there is work */
		pthread_mutex_lock(&w->mu);
		w->stats.claimed += s.claimed;
		w->stats.delivered += s.delivered;
		w->stats.failed += s.failed;
		if (!w->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + (w->cfg.notify_poll_ms % 1000) * 1000000;
			ts.tv_sec += w->cfg.notify_poll_ms / 1000 + ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
	}
	return NULL;
}

int kg_notify_worker_start(kg_store *store, const kg_config *cfg, kg_notify_worker **out,
			   kg_err *err)
{
	kg_notify_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	w->store = store;
	w->cfg = *cfg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	int e = pthread_create(&w->thread, NULL, worker_main, w);
	if (e) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return kg_err_set(err, KG_EINTERNAL, "cannot start the delivery thread: %s", strerror(e));
	}
	kg_log(KG_LOG_INFO, "notify", "delivery worker started (smtp %s, webhooks %s)",
	       cfg->smtp_url[0] ? "on" : "off: notices stay in the outbox",
	       cfg->webhook_url[0] ? "on" : "off");
	*out = w;
	return 0;
}

void kg_notify_worker_kick(kg_notify_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void kg_notify_worker_stats(kg_notify_worker *w, kg_notify_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

void kg_notify_worker_stop(kg_notify_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
