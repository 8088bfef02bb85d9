/* kagi webhooks: the webhook kind of the one delivery queue (list, show and
 * retry are queue.c's, as for kagi outbox); here what only webhooks have: a
 * test event and a fresh signing secret. Delivery itself is kagid's
 * (docs/operations.md ## Notifications has the receiver's signature recipe). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"
#include "store/store.h"

struct opts {
	struct kg_cli_queue_opts q;
	const char *type, *data;
	const struct kg_cli_spec *spec;
};

/* What only webhooks have (kg_cli_queue_cmd.verb); -1 for list, show, retry. */
static int own_verb(void *ctx, const char *verb, char **args, int nargs, kg_store *st,
		    const kg_config *cfg)
{
	struct opts *o = ctx;
	(void)cfg;
	bool own = !strcmp(verb, "new-secret") || !strcmp(verb, "send-test");
	if (own && nargs)
		return kg_cli_bad(o->spec, "unexpected argument \"%s\"", args[0]);
	if (!strcmp(verb, "new-secret")) { /* touches no store */
		char secret[KG_WEBHOOK_SECRET_MAX];
		kg_notify_webhook_new_secret(secret);
		printf("%s\n", secret);
		return 0;
	}
	if (!own)
		return -1;
	if (!o->type)
		return kg_cli_bad(o->spec, "send-test needs --type");
	kg_err e;
	kg_err_clear(&e);
	if (kg_notify_enqueue_webhook(st, o->type, o->q.account ? o->q.account : "test", o->data, &e))
		return kg_cli_fail(&e);
	printf("queued\n");
	return 0;
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
	o.spec = &spec;
	static const char *const no_store[] = {"new-secret", NULL};
	const struct kg_cli_queue_cmd cmd = {KG_QUEUE_WEBHOOK, &spec, &o.q, own_verb, no_store, &o};
	return kg_cli_queue_main(&cmd, argc, argv);
}
