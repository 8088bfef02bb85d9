/* kagi messages: prints an account's message center (every official notice
 * kagi sent), newest first — what the customer sees as "all messages". */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_messages(int argc, char **argv)
{
	const char *db = NULL, *config = NULL;
	bool full = false;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file"},
		{.name = "full", .kind = KG_CLI_FLAG, .flag = &full, .help = "add each message's text"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "messages",
		.usage = "usage: kagi messages --db PATH [--config FILE] [--full] ACCOUNT\n",
		.about = "Prints the message center of ACCOUNT, newest first, one JSON object per\n"
			 "line (id, kind, created, subject, message_id; --full adds the text).\n",
		.opts = opts,
		.args = "ACCOUNT",
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	kg_message *m = NULL;
	size_t n = 0;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	rc = rc ? rc : kg_account_messages(store, argv[1], &a, &m, &n, &err);
	for (size_t i = 0; !rc && i < n; i++) {
		char t[KG_TIME_STR_MAX];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id", m[i].id, "kind", m[i].kind,
				      "created", kg_time_format(m[i].created_ms, t), "subject",
				      m[i].subject, "message_id", m[i].message_id);
		if (full)
			json_object_set_new(o, "text", json_string(m[i].body_text));
		kg_cli_print_json_line(o);
	}
	kg_arena_release(&a);
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
