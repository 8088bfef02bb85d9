/* Foundation endpoints: GET /healthz, GET /metrics, GET /v1/openapi.json,
 * POST /v1/accounts, GET /v1/accounts/{id}. Not here: creating and showing
 * an account (src/account/create.c), locks, logins, recovery (api_account.c). */
#include "http/internal.h"

#include <string.h>

#include "account/account.h"
#include "store/store.h"

#define HEALTH_FAIL_WINDOW_MS 30000 /* /healthz: 503 this long after a failed commit */

/* ---- healthz, metrics --------------------------------------------------*/

/* The body of a healthy /healthz: the same for every request while kagid
 * runs (version, start time, schema). */
static json_t *healthz_ok(const kg_app *app)
{
	char ts[KG_TIME_STR_MAX];
	return json_pack("{s:s,s:s,s:s,s:i}", "status", "ok", "version", KG_VERSION, "started",
			 kg_time_format(app->started_ms, ts), "schema",
			 kg_store_schema_version(app->store));
}

/* Built once, as the server would dump it (JSON_COMPACT): a health check
 * then costs no JSON building, time formatting or dumping per request. */
int kg_api_foundation_start(kg_app *app, kg_err *err)
{
	json_t *j = healthz_ok(app);
	app->healthz_ok = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!app->healthz_ok)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	app->healthz_ok_len = strlen(app->healthz_ok);
	return 0;
}

void kg_api_foundation_stop(kg_app *app)
{
	free(app->healthz_ok);
	app->healthz_ok = NULL;
	app->healthz_ok_len = 0;
}

int kg_api_healthz(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	char ts[KG_TIME_STR_MAX];
	if (kg_http_stopping(req->app))
		return kg_http_reply_error(resp, 503, "shutting_down", NULL, "kagid is shutting down");
	kg_store_stats st;
	kg_store_stats_get(req->app->store, &st);
	if (st.last_commit_error_ms && st.last_commit_error_ms >= st.last_commit_ms &&
	    kg_now_ms() - st.last_commit_error_ms < HEALTH_FAIL_WINDOW_MS)
		/* writes fail (disk full, I/O): out of rotation for a while; after the
		 * window writes are let in again to find out whether they work */
		return kg_http_reply_error(resp, 503, kg_code_name(st.last_commit_error_code), NULL,
					   "store writes failing since %s: %s",
					   kg_time_format(st.last_commit_error_ms, ts), st.last_commit_error);
	if (req->app->healthz_ok)
		return kg_http_reply_raw(resp, 200, "application/json", req->app->healthz_ok,
					 req->app->healthz_ok_len);
	return kg_http_reply_json(resp, 200, healthz_ok(req->app));
}

int kg_api_metrics(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	kg_buf out = KG_BUF_INIT(16 * 1024 * 1024);
	int rc = kg_http_render_metrics(req->app, &out);
	if (rc == 0)
		rc = kg_http_reply_raw(resp, 200, "text/plain; version=0.0.4; charset=utf-8",
				       out.data ? out.data : "", out.len);
	kg_buf_release(&out);
	return rc ? kg_err_set(err, rc, "cannot render metrics") : 0;
}

/* docs/openapi.yaml as JSON, converted and compiled in at build time
 * (scripts/openapi-json.py, cmake/embed.cmake). */
struct kg_embedded_file {
	const char *path;
	const char *data;
	size_t len;
};
extern const struct kg_embedded_file kg_http_openapi_files[];

int kg_api_openapi(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	(void)req;
	for (const struct kg_embedded_file *f = kg_http_openapi_files; f->path; f++)
		if (!strcmp(f->path, "openapi.json"))
			return kg_http_reply_raw(resp, 200, "application/json", f->data, f->len);
	return kg_err_set(err, KG_EINTERNAL, "the OpenAPI document was not built in");
}

/* Row counts of the store (one read at each scrape): locks ever written by
 * reason (rows are never deleted, so this is a counter that survives
 * restarts) and the outbox's and webhooks' rows by state (queue depths). */
struct store_counts {
	kg_arena arena;
	kg_store_count *rows;
	size_t n;
};

static int store_counts_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct store_counts *c = ctx;
	return kg_tx_store_counts(tx, &c->arena, &c->rows, &c->n, err);
}

static int64_t count_of(const struct store_counts *c, const char *what, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->rows[i].what, what) && c->rows[i].key && !strcmp(c->rows[i].key, key))
			return c->rows[i].n;
	return 0;
}

static void store_count_metrics(kg_app *app, kg_buf *out)
{
	static const char *const reasons[] = {"system_error", "gift_card", "return_abuse", "payment_fraud",
					      "compromised", "brute_force", "misuse", "manual"};
	static const char *const states[] = {"pending", "failed", "delivered"};
	struct store_counts c = {0};
	kg_arena_init(&c.arena, 4096);
	kg_err err;
	kg_err_clear(&err);
	if (kg_store_read(app->store, store_counts_job, &c, &err)) {
		kg_buf_printf(out, "# store counts not read: %s\n", kg_code_name(err.code));
		kg_arena_release(&c.arena);
		return;
	}
	kg_buf_puts(out, "# HELP kagi_account_locks_created_total Locks written (by the risk engine or staff), by reason; from the store, so it survives restarts.\n"
			 "# TYPE kagi_account_locks_created_total counter\n");
	for (size_t i = 0; i < KG_ARRAY_LEN(reasons); i++)
		kg_buf_printf(out, "kagi_account_locks_created_total{reason=\"%s\"} %lld\n", reasons[i],
			      (long long)count_of(&c, "lock", reasons[i]));
	kg_buf_puts(out, "# HELP kagi_notify_queue Rows of the outbox (mail) and webhooks queues by state: pending (not yet delivered, retried), failed (gave up), delivered.\n"
			 "# TYPE kagi_notify_queue gauge\n");
	for (int q = 0; q < 2; q++)
		for (size_t i = 0; i < KG_ARRAY_LEN(states); i++)
			kg_buf_printf(out, "kagi_notify_queue{queue=\"%s\",state=\"%s\"} %lld\n",
				      q ? "webhooks" : "outbox", states[i],
				      (long long)count_of(&c, q ? "webhooks" : "outbox", states[i]));
	kg_arena_release(&c.arena);
}

void kg_api_store_metrics(kg_app *app, kg_buf *out)
{
	kg_store_stats st;
	kg_store_stats_get(app->store, &st);
	kg_buf_printf(out,
		      "# HELP kagi_store_commits_total Group commits (durable COMMITs) of the store.\n"
		      "# TYPE kagi_store_commits_total counter\nkagi_store_commits_total %llu\n"
		      "# HELP kagi_store_commit_errors_total Group commits that failed (nothing of them written).\n"
		      "# TYPE kagi_store_commit_errors_total counter\nkagi_store_commit_errors_total %llu\n"
		      "# HELP kagi_store_jobs_total Write jobs run in group commits.\n"
		      "# TYPE kagi_store_jobs_total counter\nkagi_store_jobs_total %llu\n"
		      "# HELP kagi_store_job_errors_total Write jobs that returned an error (rolled back).\n"
		      "# TYPE kagi_store_job_errors_total counter\nkagi_store_job_errors_total %llu\n"
		      "# HELP kagi_store_reads_total Read transactions.\n"
		      "# TYPE kagi_store_reads_total counter\nkagi_store_reads_total %llu\n"
		      "# HELP kagi_store_group_max_seen The most jobs one group commit has held.\n"
		      "# TYPE kagi_store_group_max_seen gauge\nkagi_store_group_max_seen %llu\n"
		      "# HELP kagi_store_queued Write jobs waiting for a group commit.\n"
		      "# TYPE kagi_store_queued gauge\nkagi_store_queued %llu\n"
		      "# HELP kagi_store_last_commit_error_timestamp_seconds When a commit last failed (Unix time; 0: never).\n"
		      "# TYPE kagi_store_last_commit_error_timestamp_seconds gauge\n"
		      "kagi_store_last_commit_error_timestamp_seconds %.3f\n"
		      "# HELP kagi_store_commit_duration_seconds Group commit latency, BEGIN to durable COMMIT.\n"
		      "# TYPE kagi_store_commit_duration_seconds histogram\n",
		      (unsigned long long)st.commits, (unsigned long long)st.commit_errors,
		      (unsigned long long)st.jobs, (unsigned long long)st.job_errors,
		      (unsigned long long)st.reads, (unsigned long long)st.group_max_seen,
		      (unsigned long long)st.queued, (double)st.last_commit_error_ms / 1e3);
	uint64_t cum = 0;
	for (size_t i = 0; i <= KG_STORE_LATENCY_BUCKETS; i++) {
		cum += st.latency[i];
		if (i < KG_STORE_LATENCY_BUCKETS)
			kg_buf_printf(out, "kagi_store_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
				      kg_store_latency_bounds_s[i], (unsigned long long)cum);
		else
			kg_buf_printf(out, "kagi_store_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				      (unsigned long long)cum);
	}
	kg_buf_printf(out, "kagi_store_commit_duration_seconds_sum %.6f\nkagi_store_commit_duration_seconds_count %llu\n",
		      st.latency_sum_s, (unsigned long long)cum);
	store_count_metrics(app, out);
}

/* ---- handlers ----------------------------------------------------------*/

/* The deferred half: the write is durable (or failed); the account as
 * kg_account_create answers it. */
static int account_created(kg_http_req *req, void *ctx, kg_http_resp *resp, kg_err *err)
{
	(void)req;
	json_t *acc = NULL;
	int rc = kg_account_create_finish(ctx, &acc, err);
	return rc ? rc : kg_http_reply_json(resp, 201, acc);
}

int kg_api_account_create(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *acc = NULL;
	const char *actor = kg_http_actor(req);
	if (kg_http_deferrable(req)) { /* on the server thread: no wait for the commit */
		kg_account_creation *c;
		int rc = kg_account_create_start(req->app->store, req->app->config, req->json, actor,
						 kg_http_resume, req, req->arena, &c, err);
		return rc ? rc : kg_http_defer(req, account_created, c);
	}
	int rc = kg_account_create(req->app->store, req->app->config, req->json, actor, &acc, err);
	return rc ? rc : kg_http_reply_json(resp, 201, acc);
}

/* The agent's view of an account (S5): the agent runs the identity check
 * blind, so the answers it asks for are masked — the name's first
 * character, the email's first character and domain, no phone digits, the
 * address's region and country only, cards without holder, digits or
 * expiry — and scrubbed from every other string (lock evidence). */
static void mask_for_agent(kg_http_req *req, const kg_identity_secrets *secrets, json_t *acc)
{
	json_t *v;
	const char *s;
	if ((v = json_object_get(acc, "name")) && (s = json_string_value(v)))
		json_object_set_new(acc, "name", json_string(kg_mask_name(s, req->arena)));
	if ((v = json_object_get(acc, "email")) && (s = json_string_value(v)))
		json_object_set_new(acc, "email", json_string(kg_mask_email(s, req->arena)));
	if ((v = json_object_get(acc, "phone")) && json_is_string(v))
		json_object_set_new(acc, "phone", json_string("***"));
	json_t *addr = json_object_get(acc, "address");
	const char *const hidden[] = {"postal_code", "city", "line1", "line2"};
	for (size_t i = 0; json_is_object(addr) && i < KG_ARRAY_LEN(hidden); i++)
		json_object_del(addr, hidden[i]);
	size_t i;
	json_array_foreach(json_object_get(acc, "cards"), i, v) {
		json_object_del(v, "holder_name");
		json_object_del(v, "last4");
		json_object_del(v, "exp");
	}
	json_object_set_new(acc, "masked", json_true());
	kg_api_agent_scrub_with(req, secrets, acc);
}

int kg_api_account_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *acc = NULL;
	const char *id = kg_http_param(req, "id");
	bool agent = req->principal->role == KG_ROLE_AGENT;
	kg_identity_secrets secrets; /* the agent's view: read with the account */
	int rc = agent ? kg_account_show_with_secrets(req->app->store, id, req->arena, &secrets, &acc, err)
		       : kg_account_show(req->app->store, id, &acc, err);
	if (!rc && agent)
		mask_for_agent(req, &secrets, acc);
	if (rc) {
		json_decref(acc);
		return rc;
	}
	return kg_http_reply_json(resp, 200, acc);
}
