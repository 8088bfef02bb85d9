/* kagi messages: prints an account's message center (every official notice
 * kagi sent), newest first — what the customer sees as "all messages". */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi messages --db PATH [--config FILE] [--full] ACCOUNT\n"
	"\n"
	"Prints the message center of ACCOUNT, newest first, one JSON object per\n"
	"line (id, kind, created, subject, message_id; --full adds the text).\n";

struct msg_read {
	const char *account_id;
	kg_arena *a;
	kg_message *m;
	size_t n;
};

static int msg_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct msg_read *r = ctx;
	kg_account acc;
	int rc = kg_tx_account_get(tx, r->account_id, &acc, r->a, err);
	return rc ? rc : kg_tx_message_list(tx, r->account_id, 0, r->a, &r->m, &r->n, err);
}

int kg_cmd_messages(int argc, char **argv)
{
	const char *db = NULL, *config = NULL;
	const char *pos[1];
	size_t np = 0;
	bool full = false;
	const struct kg_cli_opt opts[] = {
		{"db", &db, NULL}, {"config", &config, NULL}, {"full", NULL, &full}, {NULL, NULL, NULL},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (kg_cli_args(argc, argv, opts, pos, 1, &np, usage))
		return 2;
	if (!db || np != 1)
		return kg_cli_usage(usage, 2);
	const char *account = pos[0];
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct msg_read r = {account, &a, NULL, 0};
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	rc = rc ? rc : kg_store_read(store, msg_read, &r, &err);
	for (size_t i = 0; !rc && i < r.n; i++) {
		char t[KG_TIME_STR_MAX];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", r.m[i].id, "kind", r.m[i].kind,
				      "created", kg_time_format(r.m[i].created_ms, t), "subject",
				      r.m[i].subject, "message_id", r.m[i].message_id);
		if (full)
			json_object_set_new(o, "text", json_string(r.m[i].body_text));
		kg_cli_print_json_line(o);
	}
	kg_arena_release(&a);
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
