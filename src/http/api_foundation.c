/* Foundation endpoints: GET /healthz, GET /metrics, POST /v1/accounts,
 * GET /v1/accounts/{id}. Not here: creating and showing an account
 * (src/account/create.c), locks, logins, recovery (api_account.c). */
#include "http/internal.h"

#include <string.h>

#include "store/store.h"

#define HEALTH_FAIL_WINDOW_MS 30000 /* /healthz: 503 this long after a failed commit */

/* ---- healthz, metrics --------------------------------------------------*/

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
	return kg_http_reply_json(resp, 200,
				  json_pack("{s:s,s:s,s:s,s:i}", "status", "ok", "version", KG_VERSION,
					    "started", kg_time_format(req->app->started_ms, ts),
					    "schema", kg_store_schema_version(req->app->store)));
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

void kg_api_store_metrics(kg_app *app, kg_buf *out)
{
	kg_store_stats st;
	kg_store_stats_get(app->store, &st);
	kg_buf_printf(out,
		      "# TYPE kagi_store_commits_total counter\nkagi_store_commits_total %llu\n"
		      "# TYPE kagi_store_commit_errors_total counter\nkagi_store_commit_errors_total %llu\n"
		      "# TYPE kagi_store_jobs_total counter\nkagi_store_jobs_total %llu\n"
		      "# TYPE kagi_store_job_errors_total counter\nkagi_store_job_errors_total %llu\n"
		      "# TYPE kagi_store_reads_total counter\nkagi_store_reads_total %llu\n"
		      "# TYPE kagi_store_group_max_seen gauge\nkagi_store_group_max_seen %llu\n"
		      "# TYPE kagi_store_queued gauge\nkagi_store_queued %llu\n"
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
}

/* ---- handlers ----------------------------------------------------------*/

int kg_api_account_create(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *acc = NULL;
	int rc = kg_account_create(req->app->store, req->app->config, req->json, kg_http_actor(req), &acc,
				   err);
	return rc ? rc : kg_http_reply_json(resp, 201, acc);
}

int kg_api_account_get(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	json_t *acc = NULL;
	int rc = kg_account_show(req->app->store, kg_http_param(req, "id"), &acc, err);
	return rc ? rc : kg_http_reply_json(resp, 200, acc);
}
