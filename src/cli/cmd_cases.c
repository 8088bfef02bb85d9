/* kagi cases: the support queue for operators — list cases, show one with
 * its history, queue position and wait estimate, move one to a new state. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi cases list --db PATH [--config FILE] [--state STATE] [--account ID]\n"
	"       kagi cases show --db PATH [--config FILE] CASE\n"
	"       kagi cases state --db PATH [--config FILE] CASE STATE [--note TEXT]\n"
	"\n"
	"list: one JSON line per case, oldest first. show: the case as JSON with its\n"
	"history, documents (name, type, SHA-256), queue position and wait estimate.\n"
	"state: moves the case (open, waiting_on_customer, in_review, resolved); the\n"
	"customer is notified.\n";

struct list_read {
	const char *account, *state;
	kg_arena *a;
	kg_case *c;
	size_t n;
};

static int list_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct list_read *r = ctx;
	return kg_tx_case_list(tx, r->account, r->state, 0, r->a, &r->c, &r->n, err);
}

static void print_case(const kg_case_view *v)
{
	char t[KG_TIME_STR_MAX], hex[65];
	json_t *hist = json_array(), *docs = json_array();
	for (size_t i = 0; i < v->nhistory; i++)
		json_array_append_new(hist, json_pack("{s:I, s:s, s:s, s:s?, s:s?}", "seq",
						      (json_int_t)v->history[i].seq, "ts",
						      kg_time_format(v->history[i].ts_ms, t), "actor",
						      v->history[i].actor, "state", v->history[i].state,
						      "note", v->history[i].note));
	for (size_t i = 0; i < v->ndocs; i++)
		json_array_append_new(docs, json_pack("{s:s, s:s?, s:s, s:s, s:I}", "id", v->docs[i].doc_id,
						      "name", v->docs[i].name, "content_type",
						      v->docs[i].content_type, "sha256",
						      kg_hex(v->docs[i].sha256, 32, hex), "bytes",
						      (json_int_t)v->docs[i].len));
	/* As the API shows them: null when the case does not wait for staff. */
	json_t *pos = v->queue_position > 0 ? json_integer(v->queue_position) : json_null();
	json_t *wait = v->queue_position > 0 && v->wait_estimate_s >= 0
			       ? json_integer(v->wait_estimate_s)
			       : json_null();
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:o, s:o, s:o, s:o}", "id",
			      v->c.case_id, "account", v->c.account_id, "state", v->c.state, "subject",
			      v->c.subject, "lock", v->c.lock_id, "created",
			      kg_time_format(v->c.created_ms, t), "queue_position", pos,
			      "wait_estimate_s", wait, "history", hist, "documents", docs);
	json_dumpf(o, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(o);
}

int kg_cmd_cases(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *state = NULL, *account = NULL, *note = NULL;
	const char *pos[3] = {NULL, NULL, NULL};
	size_t np = 0;
	const struct kg_cli_opt opts[] = {
		{"db", &db, NULL},           {"config", &config, NULL}, {"state", &state, NULL},
		{"account", &account, NULL}, {"note", &note, NULL},     {NULL, NULL, NULL},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (kg_cli_args(argc, argv, opts, pos, 3, &np, usage))
		return 2;
	const char *verb = np ? pos[0] : "";
	bool ok = (!strcmp(verb, "list") && np == 1) || (!strcmp(verb, "show") && np == 2) ||
		  (!strcmp(verb, "state") && np == 3);
	if (!db || !ok)
		return kg_cli_usage(usage, 2);
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	if (!rc && !strcmp(verb, "list")) {
		struct list_read r = {account, state, &a, NULL, 0};
		rc = kg_store_read(store, list_read, &r, &err);
		for (size_t i = 0; !rc && i < r.n; i++) {
			char t[KG_TIME_STR_MAX];
			json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s}", "id", r.c[i].case_id, "account",
					      r.c[i].account_id, "state", r.c[i].state, "subject",
					      r.c[i].subject, "created", kg_time_format(r.c[i].created_ms, t));
			kg_cli_print_json_line(o);
		}
	} else if (!rc) {
		if (!strcmp(verb, "state")) {
			enum kg_case_state to;
			if (kg_case_state_parse(pos[2], &to))
				rc = kg_err_set(&err, KG_EINVAL, "unknown case state \"%s\"", pos[2]);
			else
				rc = kg_account_case_set_state(store, &cfg, pos[1], to, note, "operator", NULL,
							       &err);
		}
		kg_case_view v;
		rc = rc ? rc : kg_account_case_view(store, pos[1], &a, &v, &err);
		if (!rc)
			print_case(&v);
	}
	kg_arena_release(&a);
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
