/* kagi webhooks: look at and steer the webhook queue (list, show, retry) and
 * queue a test event. Delivery itself is kagid's (docs/operations.md
 * ## Notifications has the receiver's signature recipe). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"
#include "store/store.h"

struct opts {
	struct kg_cli_queue_opts q;
	const char *type, *data;
	char **args;
	int nargs;
	const struct kg_cli_spec *spec;
};

static void print_row(const kg_webhook *w, bool json)
{
	char created[KG_TIME_STR_MAX], next[KG_TIME_STR_MAX], done[KG_TIME_STR_MAX];
	kg_time_format(w->created_ms, created);
	kg_time_format(w->next_attempt_ms, next);
	kg_time_format(w->delivered_ms, done);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:s?, s:s}", "id", w->id,
				      "account", w->account_id, "event", w->event, "state", w->state,
				      "attempts", (json_int_t)w->attempts, "next_attempt", next,
				      "delivered", w->delivered_ms ? done : NULL, "last_error",
				      w->last_error, "created", created);
		char *s = json_dumps(j, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	printf("%-36s %-9s %3lld  %-9s %-20s %s\n", w->id, w->state, (long long)w->attempts,
	       w->event, w->account_id, w->last_error ? w->last_error : "");
}

static int run(kg_store *st, const char *verb, const struct opts *o)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_err e;
	kg_err_clear(&e);
	int rc;
	if (!strcmp(verb, "list")) {
		kg_webhook *rows = NULL;
		size_t n = 0;
		rc = kg_notify_webhook_list(st, o->q.state, o->q.account, (size_t)o->q.limit, &a, &rows,
					    &n, &e);
		for (size_t i = 0; rc == 0 && i < n; i++)
			print_row(&rows[i], o->q.json);
	} else if (!strcmp(verb, "show")) {
		kg_webhook row;
		if (o->nargs != 1) {
			kg_arena_release(&a);
			return kg_cli_bad(o->spec, "show takes one webhook id");
		}
		if ((rc = kg_notify_webhook_find(st, o->args[0], &a, &row, &e)) == 0) {
			print_row(&row, true);
			printf("%s\n", row.body);
		}
	} else if (!strcmp(verb, "retry")) {
		size_t done = 0;
		if ((o->nargs == 0) == !o->q.failed) {
			kg_arena_release(&a);
			return kg_cli_bad(o->spec, "retry takes webhook ids or --failed");
		}
		rc = kg_notify_webhook_retry(st, (const char *const *)o->args, (size_t)o->nargs,
					     o->q.failed, &done, &e);
		if (rc == 0)
			printf("%zu row(s) due now\n", done);
	} else {
		if (!o->type) {
			kg_arena_release(&a);
			return kg_cli_bad(o->spec, "send-test needs --type");
		}
		rc = kg_notify_enqueue_webhook(st, o->type, o->q.account ? o->q.account : "test", o->data,
					       &e);
		if (rc == 0)
			printf("queued\n");
	}
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

int kg_cmd_webhooks(int argc, char **argv)
{
	struct opts o = {.q.limit = 100};
	const struct kg_cli_opt options[] = {
		KG_CLI_QUEUE_OPTIONS(o.q),
		{.name = "type", .kind = KG_CLI_STR, .meta = "TYPE", .str = &o.type,
		 .help = "send-test: lock, unlock, case or incident"},
		{.name = "data", .kind = KG_CLI_STR, .meta = "JSON", .str = &o.data,
		 .help = "send-test: the event's data, a JSON object"},
		{NULL},
	};
	static const char *const verbs[] = {"list", "show", "retry", "send-test", "new-secret", NULL};
	const struct kg_cli_spec spec = {
		.name = "webhooks",
		.usage = "usage: kagi webhooks list [--state pending|delivered|failed] [--account ID] [--limit N] [--json]\n"
			 "       kagi webhooks show ID\n"
			 "       kagi webhooks retry ID... | --failed\n"
			 "       kagi webhooks send-test --type lock|unlock|case|incident [--account ID] [--data JSON]\n"
			 "       kagi webhooks new-secret\n"
			 "  all but new-secret: [--db PATH] [--config FILE]   (default store: store.path)\n",
		.about = "Every lock, unlock, case and incident event is queued for webhook.url and\n"
			 "POSTed signed per the Standard Webhooks specification (webhook-id,\n"
			 "webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256>), retried with\n"
			 "backoff until the receiver answers 2xx. retry makes rows due now with their\n"
			 "attempts reset. new-secret prints a fresh whsec_ secret for webhook.secret.\n",
		.opts = options,
		.verbs = verbs,
		.min_args = 1,
		.max_args = KG_CLI_MANY,
	};
	int nargs, status = kg_cli_parse(&spec, argc, argv, &nargs);
	if (status >= 0)
		return status;
	const char *verb = argv[1];
	o.args = argv + 2;
	o.nargs = nargs - 1;
	o.spec = &spec;
	if ((!strcmp(verb, "list") || !strcmp(verb, "send-test") || !strcmp(verb, "new-secret")) &&
	    o.nargs)
		return kg_cli_bad(&spec, "unexpected argument \"%s\"", o.args[0]);
	if (!strcmp(verb, "new-secret")) { /* touches no store */
		char secret[KG_WEBHOOK_SECRET_MAX];
		kg_notify_webhook_new_secret(secret);
		printf("%s\n", secret);
		return 0;
	}
	kg_config cfg;
	kg_err e;
	kg_err_clear(&e);
	if (kg_cli_load_config(&cfg, o.q.config, &e) || kg_notify_init(&cfg, &e))
		return kg_cli_fail(&e);
	kg_store *st = NULL;
	if (kg_cli_open_store(&cfg, o.q.db ? o.q.db : kg_cli_default_store(&cfg), &st, &e)) {
		kg_notify_shutdown();
		return kg_cli_fail(&e);
	}
	int rc = run(st, verb, &o);
	kg_store_close(st);
	kg_notify_shutdown();
	return rc;
}
