/* kagid's notify module: at start it loads and checks the notice templates
 * (a bad one stops kagid with file:line) and starts the delivery worker
 * (src/notify/worker.c); at stop the current send finishes first. Metrics:
 * the worker's counters. Handlers that commit a notice may wake the worker
 * (kg_api_notify_kick). No routes: operators use `kagi outbox|webhooks`. */
#include "http/internal.h"
#include "notify/notify.h"

int kg_api_notify_start(kg_app *app, kg_err *err)
{
	int rc = kg_notify_init(app->config, err);
	if (rc)
		return rc;
	rc = kg_notify_worker_start(app->store, app->config, &app->notify, err);
	if (rc)
		kg_notify_shutdown();
	return rc;
}

void kg_api_notify_stop(kg_app *app)
{
	kg_notify_worker_stop(app->notify);
	app->notify = NULL;
	kg_notify_shutdown();
}

void kg_api_notify_kick(kg_app *app)
{
	kg_notify_worker_kick(app->notify);
}

void kg_api_notify_metrics(kg_app *app, kg_buf *out)
{
	kg_notify_stats st;
	kg_notify_worker_stats(app->notify, &st);
	kg_buf_printf(out,
		      "# HELP kagi_notify_claimed_total Outbox and webhook rows claimed for a delivery attempt.\n"
		      "# TYPE kagi_notify_claimed_total counter\nkagi_notify_claimed_total %llu\n"
		      "# HELP kagi_notify_delivered_total Outbox and webhook rows delivered.\n"
		      "# TYPE kagi_notify_delivered_total counter\nkagi_notify_delivered_total %llu\n"
		      "# HELP kagi_notify_failed_total Delivery attempts that failed (retried later).\n"
		      "# TYPE kagi_notify_failed_total counter\nkagi_notify_failed_total %llu\n",
		      (unsigned long long)st.claimed, (unsigned long long)st.delivered,
		      (unsigned long long)st.failed);
}
