/* Foundation endpoints: GET /healthz, GET /metrics, GET /v1/openapi.json,
 * POST /v1/accounts, GET /v1/accounts/{id}. Not here: creating an account
 * (src/account/create.c), its view (src/account/views.c), locks, logins,
 * recovery (api_account.c). */
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

/* An account's view is written by the account module straight into the
 * answer's body (kg_account_view_write: the one field list). */
#define ACCOUNT_VIEW_MAX (64 * 1024 * 1024)

static kg_buf *view_body(kg_http_resp *resp)
{
	return kg_http_body_start(resp, ACCOUNT_VIEW_MAX);
}

static int view_reply(kg_http_resp *resp, int status, int rc)
{
	return kg_http_body_done(resp, status, "application/json", rc);
}

/* The deferred half: the write is durable (or failed); the account as
 * kg_account_create answers it. */
static int account_created(kg_http_req *req, void *ctx, kg_http_resp *resp, kg_err *err)
{
	(void)req;
	return view_reply(resp, 201, kg_account_create_finish(ctx, view_body(resp), err));
}

int kg_api_account_create(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *actor = kg_http_actor(req);
	if (kg_http_deferrable(req)) { /* on the server thread: no wait for the commit */
		kg_account_creation *c;
		int rc = kg_account_create_start(req->app->store, req->app->config, req->json, actor,
						 kg_http_resume, req, req->arena, &c, err);
		return rc ? rc : kg_http_defer(req, account_created, c);
	}
	return view_reply(resp, 201, kg_account_create(req->app->store, req->app->config, req->json,
						       actor, view_body(resp), err));
}

/* The agent runs the identity check blind (S5): the account module masks
 * the view's answer values; the lock evidence's are scrubbed here, as in
 * every other answer an agent gets (kg_api_agent_scrub_with). */
static void scrub_evidence(void *req, const kg_identity_secrets *secrets, json_t *ev)
{
	kg_api_agent_scrub_with(req, secrets, ev);
}

static int agent_view(kg_http_req *req, const char *id, kg_buf *out, kg_err *err)
{
	kg_account_rows rows;
	kg_identity_secrets secrets; /* read with the account, in the same read */
	int rc = kg_account_read_rows(req->app->store, id, req->arena, &rows, &secrets, err);
	if (rc)
		return rc;
	kg_account_view_mask mask = {.secrets = &secrets, .evidence = scrub_evidence, .ctx = req};
	return kg_account_view_write(&rows, &mask, req->arena, out, err);
}

int kg_api_account_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	const char *id = kg_http_param(req, "id");
	kg_buf *out = view_body(resp);
	int rc = req->principal->role == KG_ROLE_AGENT ? agent_view(req, id, out, err)
						       : kg_account_show(req->app->store, id, out, err);
	return view_reply(resp, 200, rc);
}
