/* kagi outbox: the mail kind of the one delivery queue (list and retry are
 * queue.c's, as for kagi webhooks); here what only mail has: show with its
 * headers or text, a test notice, one delivery pass, the shop's templates.
 * Delivery itself is kagid's. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "store/store.h"

/* The options of every action (each action uses its own). */
struct opts {
	struct kg_cli_queue_opts q;
	const char *to, *kind, *lang;
	bool raw, text;
	kg_notify_field fields[24];
	size_t nfields;
	char **args; /* positional arguments after the action */
	int nargs;
	const struct kg_cli_spec *spec;
};

/* --name NAME: the field "name" (KG_CLI_EACH). */
static int add_name(void *ctx, const char *value, kg_err *err)
{
	struct opts *o = ctx;
	if (o->nfields + 2 >= KG_ARRAY_LEN(o->fields))
		return kg_err_set(err, KG_ELIMIT, "too many fields");
	o->fields[o->nfields++] = (kg_notify_field){"name", value};
	return 0;
}

/* --field KEY=VALUE (KG_CLI_EACH); splits value in place. */
static int add_field(void *ctx, const char *value, kg_err *err)
{
	struct opts *o = ctx;
	char *eq = strchr(value, '=');
	if (!eq || eq == value)
		return kg_err_set(err, KG_EINVAL, "expected KEY=VALUE, got \"%s\"", value);
	if (o->nfields + 2 >= KG_ARRAY_LEN(o->fields))
		return kg_err_set(err, KG_ELIMIT, "too many fields");
	*eq = '\0';
	o->fields[o->nfields++] = (kg_notify_field){value, eq + 1};
	return 0;
}

/* The message of a row, opened with account.secret_key when sealed; a row
 * that does not open says which key it needs. */
static int row_message(const kg_outbox *o, kg_buf *msg, kg_err *err)
{
	int rc = kg_notify_outbox_message(o, msg, err);
	if (rc && o->mime_len >= 8 && !memcmp(o->mime, "KGSEAL1", 8)) {
		char why[KG_ERR_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		kg_err_set(err, rc, "%s (the row is sealed: give the key kagid runs with, e.g. "
			   "--config var/kagi.conf under make run)", why);
	}
	return rc;
}

static int cmd_show(kg_store *st, const struct opts *op)
{
	if ((op->nargs == 1) == (op->to != NULL) || op->nargs > 1)
		return kg_cli_bad(op->spec, "show takes one ID or --to ADDR");
	if (op->raw && op->text)
		return kg_cli_bad(op->spec, "show takes --text or --raw, not both");
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_notify_queue_row row;
	kg_err e;
	kg_err_clear(&e);
	kg_buf msg = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	kg_buf text = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	int rc = kg_notify_queue_find(st, KG_QUEUE_MAIL, op->nargs ? op->args[0] : NULL, op->to,
				      op->q.account, &a, &row, &e);
	if (rc)
		goto cleanup;
	const kg_outbox *o = &row.mail;
	if ((rc = row_message(o, &msg, &e)))
		goto cleanup;
	if (op->raw) { /* the whole message: its body may hold a one-time code */
		fwrite(msg.data, 1, msg.len, stdout);
		goto cleanup;
	}
	if (op->text && (rc = kg_mail_text(msg.data, msg.len, &text, &e)))
		goto cleanup;
	char t[KG_TIME_STR_MAX];
	printf("id:          %s\naccount:     %s\nstate:       %s\nattempts:    %lld\n", o->id,
	       o->account_id, o->state, (long long)o->attempts);
	printf("to:          %s\nmessage-id:  %s\nsubject:     %s\n", o->rcpt,
	       o->message_id ? o->message_id : "-", o->subject ? o->subject : "");
	printf("created:     %s\n", kg_time_format(o->created_ms, t));
	printf("next try:    %s\n", kg_time_format(o->next_attempt_ms, t));
	printf("delivered:   %s\n", o->delivered_ms ? kg_time_format(o->delivered_ms, t) : "-");
	printf("last error:  %s\nsize:        %zu bytes\n", o->last_error ? o->last_error : "-",
	       o->mime_len);
	printf("stored:      %s\n", o->mime_len >= 8 && !memcmp(o->mime, "KGSEAL1", 8)
					   ? "sealed (account.secret_key)" : "plain");
	if (op->text) {
		printf("\n%.*s", (int)text.len, text.data);
		if (text.len && text.data[text.len - 1] != '\n')
			putchar('\n');
	} else {
		const char *end = memmem(msg.data, msg.len, "\r\n\r\n", 4);
		printf("\n%.*s\n", (int)(end ? end - msg.data : 0), msg.data);
	}
cleanup:
	kg_buf_release(&text);
	kg_buf_release(&msg);
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

static int cmd_send_test(kg_store *st, struct opts *o)
{
	enum kg_notify_kind kind = KG_NOTICE_LOCK;
	enum kg_notify_lang lang = KG_LANG_JA;
	kg_err e;
	kg_err_clear(&e);
	if (o->kind && kg_notify_kind_parse(o->kind, &kind))
		return kg_cli_bad(o->spec, "--kind: unknown notice kind \"%s\"", o->kind);
	if (o->lang && kg_notify_lang_parse(o->lang, &lang))
		return kg_cli_bad(o->spec, "--lang: expected ja or en, got \"%s\"", o->lang);
	if (!o->to)
		return kg_cli_bad(o->spec, "send-test needs --to ADDR");
	if (o->nargs)
		return kg_cli_bad(o->spec, "unexpected argument \"%s\"", o->args[0]);
	bool have_reason = false;
	for (size_t i = 0; i < o->nfields; i++)
		have_reason |= !strcmp(o->fields[i].key, "reason");
	if (kind == KG_NOTICE_LOCK && !have_reason) /* so that a bare send-test renders */
		o->fields[o->nfields++] = (kg_notify_field){"reason", "gift_card"};
	o->fields[o->nfields] = (kg_notify_field){NULL, NULL};
	kg_notify_mail m;
	if (kg_notify_compose(kind, lang, o->fields, o->to, &m, &e))
		return kg_cli_fail(&e);
	int rc = kg_notify_enqueue_mail(st, o->q.account ? o->q.account : "test", o->to, &m, &e);
	if (rc == 0)
		printf("%s\n", m.message_id);
	kg_notify_mail_release(&m);
	return rc ? kg_cli_fail(&e) : 0;
}

/* What only the outbox has (kg_cli_queue_cmd.verb); -1 for list and retry. */
static int own_verb(void *ctx, const char *verb, char **args, int nargs, kg_store *st,
		    const kg_config *cfg)
{
	struct opts *o = ctx;
	o->args = args;
	o->nargs = nargs;
	kg_err e;
	kg_err_clear(&e);
	if (!strcmp(verb, "check-templates")) {
		if (nargs > 1)
			return kg_cli_bad(o->spec, "check-templates takes one DIR");
		const char *dir = nargs ? args[0] : cfg->notify_templates_dir;
		if (kg_notify_check_dir(dir, &e))
			return kg_cli_fail(&e);
		printf("templates ok (%s)\n", dir[0] ? dir : "shipped");
		return 0;
	}
	if (!strcmp(verb, "show"))
		return cmd_show(st, o);
	if (!strcmp(verb, "send-test"))
		return cmd_send_test(st, o);
	if (!strcmp(verb, "deliver")) {
		if (nargs)
			return kg_cli_bad(o->spec, "unexpected argument \"%s\"", args[0]);
		kg_notify_stats s = {0};
		if (kg_notify_deliver_once(st, cfg, &s, &e))
			return kg_cli_fail(&e);
		printf("claimed %llu, delivered %llu, failed %llu\n", (unsigned long long)s.claimed,
		       (unsigned long long)s.delivered, (unsigned long long)s.failed);
		return 0;
	}
	return -1;
}

int kg_cmd_outbox(int argc, char **argv)
{
	struct opts o = {.q.limit = 100};
	const struct kg_cli_opt options[] = {
		KG_CLI_QUEUE_OPTIONS(o.q),
		{.name = "to", .kind = KG_CLI_STR, .meta = "ADDR", .str = &o.to,
		 .help = "show: the newest mail to ADDR; send-test: the recipient"},
		{.name = "text", .kind = KG_CLI_FLAG, .flag = &o.text,
		 .help = "show: add the text as the customer reads it"},
		{.name = "raw", .kind = KG_CLI_FLAG, .flag = &o.raw, .help = "show: the whole message only"},
		{.name = "name", .kind = KG_CLI_EACH, .meta = "NAME", .each = add_name, .each_ctx = &o,
		 .help = "send-test: the customer's name"},
		{.name = "kind", .kind = KG_CLI_STR, .meta = "KIND", .str = &o.kind,
		 .help = "send-test: the notice kind (default lock)"},
		{.name = "lang", .kind = KG_CLI_STR, .meta = "ja|en", .str = &o.lang,
		 .help = "send-test: the language (default ja)"},
		{.name = "field", .kind = KG_CLI_EACH, .meta = "KEY=VALUE", .each = add_field,
		 .each_ctx = &o, .help = "send-test: a template field (repeat for more)"},
		{NULL},
	};
	static const char *const verbs[] = {"list", "show", "retry", "send-test", "deliver",
					    "check-templates", NULL};
	const struct kg_cli_spec spec = {
		.name = "outbox",
		.usage = "usage: kagi outbox list [--state pending|delivered|failed] [--account ID] [--limit N] [--json]\n"
			 "       kagi outbox show ID|--to ADDR [--text|--raw]\n"
			 "       kagi outbox retry ID... | --failed\n"
			 "       kagi outbox send-test --to ADDR --name NAME [--kind KIND] [--lang ja|en]\n"
			 "                             [--account ID] [--field KEY=VALUE]...\n"
			 "       kagi outbox deliver          (one delivery pass, as kagid's worker does)\n"
			 "       kagi outbox check-templates [DIR]\n"
			 "  all: [--db PATH] [--config FILE]   (default store: store.path)\n",
		.about = "The outbox holds every notice mail until it is delivered (docs/operations.md\n"
			 "## Notifications). show prints a row and its mail's headers; --to ADDR picks\n"
			 "the newest mail to ADDR; --text adds the mail's text as the customer reads it\n"
			 "(decoded; a one-time code included), --raw prints the whole message instead.\n"
			 "Both open sealed rows with account.secret_key. retry makes rows due now with\n"
			 "their attempts reset.\n"
			 "send-test renders a notice (kinds: lock, unlock, recovery_code, case_update,\n"
			 "incident_apology), fixes its Message-ID and queues it like the accounts module\n"
			 "does. check-templates loads DIR (default: notify.templates_dir) over the shipped\n"
			 "templates and reports the first error as file:line.\n",
		.opts = options,
		.verbs = verbs,
		.min_args = 1,
		.max_args = KG_CLI_MANY,
	};
	o.spec = &spec;
	static const char *const no_store[] = {"check-templates", NULL};
	const struct kg_cli_queue_cmd cmd = {KG_QUEUE_MAIL, &spec, &o.q, own_verb, no_store, &o};
	return kg_cli_queue_main(&cmd, argc, argv);
}
