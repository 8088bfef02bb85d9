/* kagi outbox: look at and steer the mail outbox (list, show, retry), queue a
 * test notice, check the shop's templates. Delivery itself is kagid's. */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "store/store.h"

static const char usage_text[] =
	"usage: kagi outbox list [--state pending|delivered|failed] [--account ID] [--limit N] [--json]\n"
	"       kagi outbox show ID|--to ADDR [--text|--raw]\n"
	"       kagi outbox retry ID... | --failed\n"
	"       kagi outbox send-test --to ADDR --name NAME [--kind KIND] [--lang ja|en]\n"
	"                             [--account ID] [--field KEY=VALUE]...\n"
	"       kagi outbox deliver          (one delivery pass, as kagid's worker does)\n"
	"       kagi outbox check-templates [DIR]\n"
	"  all: [--db PATH] [--config FILE]   (default store: store.path)\n\n"
	"The outbox holds every notice mail until it is delivered (docs/operations.md\n"
	"## Notifications). show prints a row and its mail's headers; --to ADDR picks\n"
	"the newest mail to ADDR; --text adds the mail's text as the customer reads it\n"
	"(decoded; a one-time code included), --raw prints the whole message instead.\n"
	"Both open sealed rows with account.secret_key. retry makes rows due now with\n"
	"their attempts reset.\n"
	"send-test renders a notice (kinds: lock, unlock, recovery_code, case_update,\n"
	"incident_apology), fixes its Message-ID and queues it like the accounts module\n"
	"does. check-templates loads DIR (default: notify.templates_dir) over the shipped\n"
	"templates and reports the first error as file:line.\n";

/* A usage error: says what was wrong; exit status 2. */
static int bad_usage(const char *fmt, ...) KG_PRINTF(1, 2);
static int bad_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("kagi outbox: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

struct list_ctx {
	const char *state, *account;
	size_t limit;
	kg_arena *a;
	kg_outbox *rows;
	size_t n;
};

static int list_job(kg_tx *tx, void *p, kg_err *err)
{
	struct list_ctx *c = p;
	return kg_tx_outbox_list_all(tx, c->state, c->account, c->limit, c->a, &c->rows, &c->n, err);
}

static void print_row(const kg_outbox *o, bool json)
{
	char created[KG_TIME_STR_MAX], next[KG_TIME_STR_MAX], done[KG_TIME_STR_MAX];
	kg_time_format(o->created_ms, created);
	kg_time_format(o->next_attempt_ms, next);
	kg_time_format(o->delivered_ms, done);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s, s:I, s:s, s:s?, s:s?, s:s}",
				      "id", o->id, "account", o->account_id, "message_id", o->message_id,
				      "rcpt", o->rcpt, "subject", o->subject, "state", o->state,
				      "attempts", (json_int_t)o->attempts, "next_attempt", next,
				      "delivered", o->delivered_ms ? done : NULL,
				      "last_error", o->last_error, "created", created);
		char *s = json_dumps(j, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	printf("%-38s %-9s %3lld  %-28s %s  %s\n", o->id, o->state, (long long)o->attempts,
	       o->rcpt, o->message_id ? o->message_id : "-", o->subject ? o->subject : "");
}

/* The options of every action (each action uses its own). */
struct opts {
	struct kg_cli_queue_opts q;
	const char *to, *kind, *lang;
	bool raw, text;
	kg_notify_field fields[24];
	size_t nfields;
	char **args; /* positional arguments after the action */
	int nargs;
};

static int cmd_list(kg_store *st, const struct opts *o)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct list_ctx c = {.state = o->q.state, .account = o->q.account, .limit = o->q.limit, .a = &a};
	kg_err e;
	kg_err_clear(&e);
	int rc = kg_store_read(st, list_job, &c, &e);
	if (rc == 0)
		for (size_t i = 0; i < c.n; i++)
			print_row(&c.rows[i], o->q.json);
	kg_arena_release(&a);
	return rc ? kg_cli_fail(&e) : 0;
}

struct get_ctx {
	const char *id, *to; /* by id, or the newest row to this address */
	const char *account;
	kg_arena *a;
	kg_outbox row;
};

static int get_job(kg_tx *tx, void *p, kg_err *err)
{
	struct get_ctx *c = p;
	if (c->id)
		return kg_tx_outbox_find(tx, c->id, &c->row, c->a, err);
	kg_outbox *rows = NULL;
	size_t n = 0;
	int rc = kg_tx_outbox_list_all(tx, NULL, c->account, 0, c->a, &rows, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) /* newest first */
		if (!strcasecmp(rows[i].rcpt, c->to)) {
			c->row = rows[i];
			return kg_tx_outbox_find(tx, rows[i].id, &c->row, c->a, err);
		}
	return rc ? rc : kg_err_field(err, KG_ENOTFOUND, "to", "no mail to %s in the outbox", c->to);
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
	if ((op->nargs == 1) == (op->to != NULL) || op->nargs > 1 || (op->raw && op->text))
		return fprintf(stderr, "%s", usage_text), 2;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct get_ctx c = {.id = op->nargs ? op->args[0] : NULL, .to = op->to,
			    .account = op->q.account, .a = &a};
	kg_err e;
	kg_err_clear(&e);
	kg_buf msg = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	kg_buf text = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
	int rc = kg_store_read(st, get_job, &c, &e);
	if (rc)
		goto cleanup;
	const kg_outbox *o = &c.row;
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

struct retry_ctx {
	char **ids;
	int n_ids;
	bool failed;
	size_t done;
	kg_arena *a;
};

static int retry_job(kg_tx *tx, void *p, kg_err *err)
{
	struct retry_ctx *c = p;
	int64_t now = kg_now_ms();
	if (c->failed) {
		kg_outbox *rows = NULL;
		size_t n = 0;
		int rc = kg_tx_outbox_list_all(tx, "failed", NULL, 0, c->a, &rows, &n, err);
		for (size_t i = 0; rc == 0 && i < n; i++, c->done++)
			rc = kg_tx_outbox_retry(tx, rows[i].id, now, err);
		return rc;
	}
	for (int i = 0; i < c->n_ids; i++, c->done++) {
		int rc = kg_tx_outbox_retry(tx, c->ids[i], now, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmd_retry(kg_store *st, const struct opts *o)
{
	if ((o->nargs == 0) == !o->q.failed)
		return fprintf(stderr, "%s", usage_text), 2;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct retry_ctx c = {o->args, o->nargs, o->q.failed, 0, &a};
	kg_err e;
	kg_err_clear(&e);
	int rc = kg_store_write(st, retry_job, &c, &e);
	kg_arena_release(&a);
	if (rc)
		return kg_cli_fail(&e);
	printf("%zu row(s) due now\n", c.done);
	return 0;
}

struct enqueue_ctx {
	const char *account, *to;
	const kg_notify_mail *mail;
};

static int enqueue_job(kg_tx *tx, void *p, kg_err *err)
{
	struct enqueue_ctx *c = p;
	return kg_notify_tx_enqueue_mail(tx, c->account, c->to, c->mail, err);
}

static int cmd_send_test(kg_store *st, struct opts *o)
{
	enum kg_notify_kind kind = KG_NOTICE_LOCK;
	enum kg_notify_lang lang = KG_LANG_JA;
	kg_err e;
	kg_err_clear(&e);
	if (o->kind && kg_notify_kind_parse(o->kind, &kind))
		return bad_usage("--kind: unknown notice kind \"%s\"", o->kind);
	if (o->lang && kg_notify_lang_parse(o->lang, &lang))
		return bad_usage("--lang: expected ja or en, got \"%s\"", o->lang);
	if (!o->to || o->nargs)
		return fprintf(stderr, "%s", usage_text), 2;
	bool have_reason = false;
	for (size_t i = 0; i < o->nfields; i++)
		have_reason |= !strcmp(o->fields[i].key, "reason");
	if (kind == KG_NOTICE_LOCK && !have_reason) /* so that a bare send-test renders */
		o->fields[o->nfields++] = (kg_notify_field){"reason", "gift_card"};
	o->fields[o->nfields] = (kg_notify_field){NULL, NULL};
	kg_notify_mail m;
	if (kg_notify_compose(kind, lang, o->fields, o->to, &m, &e))
		return kg_cli_fail(&e);
	struct enqueue_ctx c = {o->q.account ? o->q.account : "test", o->to, &m};
	int rc = kg_store_write(st, enqueue_job, &c, &e);
	if (rc == 0)
		printf("%s\n", m.message_id);
	kg_notify_mail_release(&m);
	return rc ? kg_cli_fail(&e) : 0;
}

int kg_cmd_outbox(int argc, char **argv)
{
	static const struct option options[] = {
		KG_CLI_QUEUE_OPTIONS,
		{"raw", no_argument, NULL, 'r'},
		{"text", no_argument, NULL, 'T'},
		{"to", required_argument, NULL, 't'},
		{"name", required_argument, NULL, 'N'},
		{"kind", required_argument, NULL, 'k'},
		{"lang", required_argument, NULL, 'l'},
		{"field", required_argument, NULL, 'f'},
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
		int r = kg_cli_queue_opt(c, optarg, &o.q, "outbox");
		if (r == 2)
			return 2;
		if (r)
			continue;
		switch (c) {
		case 'r': o.raw = true; break;
		case 'T': o.text = true; break;
		case 't': o.to = optarg; break;
		case 'k': o.kind = optarg; break;
		case 'l': o.lang = optarg; break;
		case 'N':
		case 'f': {
			char *eq = c == 'f' ? strchr(optarg, '=') : NULL;
			if ((c == 'f' && !eq) || o.nfields + 2 >= KG_ARRAY_LEN(o.fields))
				return bad_usage("--field: expected KEY=VALUE, got \"%s\"", optarg);
			if (eq)
				*eq = '\0';
			o.fields[o.nfields++] = (kg_notify_field){c == 'N' ? "name" : optarg,
								   c == 'N' ? optarg : eq + 1};
			break;
		}
		default: fputs(usage_text, stderr); return 2;
		}
	}
	o.args = argv + optind;
	o.nargs = argc - optind;
	kg_config cfg;
	kg_err e;
	kg_err_clear(&e);
	if (kg_cli_load_config(&cfg, o.q.config, &e))
		return kg_cli_fail(&e);
	if (!strcmp(verb, "check-templates")) {
		const char *dir = o.nargs ? o.args[0] : cfg.notify_templates_dir;
		if (kg_notify_check_dir(dir, &e))
			return kg_cli_fail(&e);
		printf("templates ok (%s)\n", dir[0] ? dir : "shipped");
		return 0;
	}
	if (kg_notify_init(&cfg, &e))
		return kg_cli_fail(&e);
	kg_store *st = NULL;
	if (kg_cli_open_store(&cfg, o.q.db ? o.q.db : kg_cli_default_store(&cfg), &st, &e)) {
		kg_notify_shutdown();
		return kg_cli_fail(&e);
	}
	int rc;
	if (!strcmp(verb, "list"))
		rc = cmd_list(st, &o);
	else if (!strcmp(verb, "show"))
		rc = cmd_show(st, &o);
	else if (!strcmp(verb, "retry"))
		rc = cmd_retry(st, &o);
	else if (!strcmp(verb, "send-test"))
		rc = cmd_send_test(st, &o);
	else if (!strcmp(verb, "deliver")) {
		kg_notify_stats s = {0};
		rc = kg_notify_deliver_once(st, &cfg, &s, &e) ? kg_cli_fail(&e) : 0;
		if (rc == 0)
			printf("claimed %llu, delivered %llu, failed %llu\n",
			       (unsigned long long)s.claimed, (unsigned long long)s.delivered,
			       (unsigned long long)s.failed);
	} else {
		fprintf(stderr, "kagi outbox: unknown action \"%s\"\n%s", verb, usage_text);
		rc = 2;
	}
	kg_store_close(st);
	kg_notify_shutdown();
	return rc;
}
