/* kagi webhooks: look at and steer the webhook queue (list, show, retry) and
 * queue a test event. Delivery itself is kagid's (docs/operations.md
 * ## Notifications has the receiver's signature recipe). */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"
#include "store/store.h"

static const char usage_text[] =
	"usage: kagi webhooks list [--state pending|delivered|failed] [--account ID] [--limit N] [--json]\n"
	"       kagi webhooks show ID\n"
	"       kagi webhooks retry ID... | --failed\n"
	"       kagi webhooks send-test --type lock|unlock|case|incident [--account ID] [--data JSON]\n"
	"  all: [--db PATH] [--config FILE]   (default store: store.path)\n\n"
	"Every lock, unlock, case and incident event is queued for webhook.url and\n"
	"POSTed signed (X-Kagi-Signature: v1=HMAC-SHA256(webhook.secret,\n"
	"timestamp \".\" body)), retried with backoff until the receiver answers 2xx.\n"
	"retry makes rows due now with their attempts reset.\n";

static int bad_usage(const char *fmt, ...) KG_PRINTF(1, 2);
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("kagi webhooks: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

struct opts {
	struct kg_cli_queue_opts q;
	const char *type, *data;
	char **args;
	int nargs;
};

struct job {
	const struct opts *o;
	kg_arena *a;
	kg_webhook *rows;
	kg_webhook row;
	size_t n, done;
};

static int list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct job *j = p;
	return kg_tx_webhook_list_all(tx, j->o->q.state, j->o->q.account, j->o->q.limit, j->a, &j->rows,
				      &j->n, err);
}

static int show_job(kg_tx *tx, void *p, kg_err *err)
{
	struct job *j = p;
	return kg_tx_webhook_find(tx, j->o->args[0], &j->row, j->a, err);
}

static int retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct job *j = p;
	int64_t now = kg_now_ms();
	int rc = 0;
	if (j->o->q.failed) {
		rc = kg_tx_webhook_list_all(tx, "failed", NULL, 0, j->a, &j->rows, &j->n, err);
		for (size_t i = 0; rc == 0 && i < j->n; i++, j->done++)
			rc = kg_tx_webhook_retry(tx, j->rows[i].id, now, err);
		return rc;
	}
	for (int i = 0; rc == 0 && i < j->o->nargs; i++, j->done++)
		rc = kg_tx_webhook_retry(tx, j->o->args[i], now, err);
	return rc;
}

static int send_job(kg_tx *tx, void *p, kg_err *err)
{
	struct job *j = p;
	return kg_notify_tx_enqueue_webhook(tx, j->o->type, j->o->q.account ? j->o->q.account : "test",
					    j->o->data, err);
}

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
	struct job j = {.o = o, .a = &a};
	kg_err e;
	kg_err_clear(&e);
	int rc;
	if (!strcmp(verb, "list")) {
		if ((rc = kg_store_read(st, list_job, &j, &e)) == 0)
			for (size_t i = 0; i < j.n; i++)
				print_row(&j.rows[i], o->q.json);
	} else if (!strcmp(verb, "show")) {
		if (o->nargs != 1) {
			kg_arena_release(&a);
			return bad_usage("show takes one webhook id");
		}
		if ((rc = kg_store_read(st, show_job, &j, &e)) == 0) {
			print_row(&j.row, true);
			printf("%s\n", j.row.body);
		}
	} else if (!strcmp(verb, "retry")) {
		if ((o->nargs == 0) == !o->q.failed) {
			kg_arena_release(&a);
			return bad_usage("retry takes webhook ids or --failed");
		}
		if ((rc = kg_store_write(st, retry_job, &j, &e)) == 0)
			printf("%zu row(s) due now\n", j.done);
	} else if (!strcmp(verb, "send-test")) {
		if (!o->type) {
			kg_arena_release(&a);
			return bad_usage("send-test needs --type");
		}
		rc = kg_store_write(st, send_job, &j, &e);
		if (rc == 0)
			printf("queued\n");
	} else {
		kg_arena_release(&a);
		fprintf(stderr, "kagi webhooks: unknown action \"%s\"\n%s", verb, usage_text);
		return 2;
	}
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

int kg_cmd_webhooks(int argc, char **argv)
{
	static const struct option options[] = {
		KG_CLI_QUEUE_OPTIONS,
		{"type", required_argument, NULL, 't'},
		{"data", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (kg_cli_wants_help(argc, argv) || argc < 2) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	argc--, argv++;
	struct opts o = {.q.limit = 100};
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int r = kg_cli_queue_opt(c, optarg, &o.q, "webhooks");
		if (r == 2)
			return 2;
		if (r)
			continue;
		switch (c) {
		case 't': o.type = optarg; break;
		case 'D': o.data = optarg; break;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	o.args = argv + optind;
	o.nargs = argc - optind;
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
