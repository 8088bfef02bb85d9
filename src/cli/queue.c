/* kagi outbox and kagi webhooks: one implementation of the two commands of
 * the one delivery queue, parametrised by its kind. What both have is here:
 * list, show by id, retry, the config and the store; each command file
 * (cmd_outbox.c, cmd_webhooks.c) adds its spec and its own verbs. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"

/* "outbox ids", "webhook ids": what retry and show take. */
static const char *row_noun(enum kg_queue_kind kind)
{
	return kind == KG_QUEUE_WEBHOOK ? "webhook" : "outbox";
}

static json_t *row_json(const kg_notify_queue_row *r)
{
	char created[KG_TIME_STR_MAX], next[KG_TIME_STR_MAX], done[KG_TIME_STR_MAX];
	kg_time_format(r->created_ms, created);
	kg_time_format(r->next_attempt_ms, next);
	kg_time_format(r->delivered_ms, done);
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s?, s:s?, s:s}", "id", r->id, "account",
			      r->account_id, "state", r->state, "attempts", (json_int_t)r->attempts,
			      "next_attempt", next, "delivered", r->delivered_ms ? done : NULL,
			      "last_error", r->last_error, "created", created);
	if (r->kind == KG_QUEUE_MAIL)
		json_object_update_new(j, json_pack("{s:s?, s:s, s:s?}", "message_id",
						    r->mail.message_id, "rcpt", r->mail.rcpt,
						    "subject", r->mail.subject));
	else
		json_object_set_new(j, "event", json_string(r->webhook.event));
	return j;
}

static void print_row(const kg_notify_queue_row *r, bool json)
{
	if (json) {
		kg_cli_print_json_line(row_json(r));
		return;
	}
	printf("%-38s %-9s %3lld  ", r->id, r->state, (long long)r->attempts);
	if (r->kind == KG_QUEUE_MAIL)
		printf("%-28s %s  %s\n", r->mail.rcpt, r->mail.message_id ? r->mail.message_id : "-",
		       r->mail.subject ? r->mail.subject : "");
	else
		printf("%-9s %-20s %s\n", r->webhook.event, r->account_id,
		       r->last_error ? r->last_error : "");
}

static int run_list(const struct kg_cli_queue_cmd *c, kg_store *st)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_notify_queue_row *rows = NULL;
	size_t n = 0;
	kg_err e;
	kg_err_clear(&e);
	int rc = kg_notify_queue_list(st, c->kind, c->q->state, c->q->account, (size_t)c->q->limit,
				      &a, &rows, &n, &e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		print_row(&rows[i], c->q->json);
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

/* The row as a JSON line, then its body (a webhook's JSON; a mail's headers
 * and text are cmd_outbox.c's own show). */
static int run_show(const struct kg_cli_queue_cmd *c, kg_store *st, char **args, int nargs)
{
	if (nargs != 1)
		return kg_cli_bad(c->spec, "show takes one %s id", row_noun(c->kind));
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_notify_queue_row row;
	kg_err e;
	kg_err_clear(&e);
	int rc = kg_notify_queue_find(st, c->kind, args[0], NULL, NULL, &a, &row, &e);
	if (rc == 0) {
		print_row(&row, true);
		if (row.kind == KG_QUEUE_WEBHOOK)
			printf("%s\n", row.webhook.body);
	}
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

static int run_retry(const struct kg_cli_queue_cmd *c, kg_store *st, char **args, int nargs)
{
	if ((nargs == 0) == !c->q->failed)
		return kg_cli_bad(c->spec, "retry takes %s ids or --failed", row_noun(c->kind));
	size_t done = 0;
	kg_err e;
	kg_err_clear(&e);
	if (kg_notify_queue_retry(st, c->kind, (const char *const *)args, (size_t)nargs,
				  c->q->failed, &done, &e))
		return kg_cli_fail(&e);
	printf("%zu row(s) due now\n", done);
	return 0;
}

static bool listed(const char *const *verbs, const char *verb)
{
	for (size_t i = 0; verbs && verbs[i]; i++)
		if (!strcmp(verbs[i], verb))
			return true;
	return false;
}

int kg_cli_queue_main(const struct kg_cli_queue_cmd *c, int argc, char **argv)
{
	int nargs, status = kg_cli_parse(c->spec, argc, argv, &nargs);
	if (status >= 0)
		return status;
	const char *verb = argv[1];
	char **args = argv + 2;
	nargs--;
	if (!strcmp(verb, "list") && nargs)
		return kg_cli_bad(c->spec, "unexpected argument \"%s\"", args[0]);
	kg_config cfg;
	kg_err e;
	kg_err_clear(&e);
	if (kg_cli_load_config(&cfg, c->q->config, &e))
		return kg_cli_fail(&e);
	if (listed(c->no_store, verb)) {
		int rc = c->verb(c->ctx, verb, args, nargs, NULL, &cfg);
		return rc >= 0 ? rc : kg_cli_bad(c->spec, "unknown subcommand \"%s\"", verb);
	}
	if (kg_notify_init(&cfg, &e))
		return kg_cli_fail(&e);
	kg_store *st = NULL;
	int rc;
	if (kg_cli_open_store(&cfg, c->q->db ? c->q->db : kg_cli_default_store(&cfg), &st, &e)) {
		rc = kg_cli_fail(&e);
	} else if ((rc = c->verb(c->ctx, verb, args, nargs, st, &cfg)) >= 0) {
		/* the command's own */
	} else if (!strcmp(verb, "list")) {
		rc = run_list(c, st);
	} else if (!strcmp(verb, "show")) {
		rc = run_show(c, st, args, nargs);
	} else if (!strcmp(verb, "retry")) {
		rc = run_retry(c, st, args, nargs);
	} else {
		rc = kg_cli_bad(c->spec, "unknown subcommand \"%s\"", verb);
	}
	kg_store_close(st);
	kg_notify_shutdown();
	return rc;
}
