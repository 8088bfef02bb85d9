/* kagi lock: locks an account as an operator (reason, optional note and
 * expiry), with the same audit entry and official notice as the API. */
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_lock(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL, *note = NULL;
	int64_t exp_s = 0;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (templates, mail, sealing)"},
		{.name = "reason", .kind = KG_CLI_STR, .meta = "REASON", .str = &reason,
		 .required = true, .help = "one of the reasons above"},
		{.name = "note", .kind = KG_CLI_STR, .meta = "TEXT", .str = &note,
		 .help = "kept with the lock as its evidence"},
		{.name = "expires-s", .kind = KG_CLI_INT, .meta = "N", .num = &exp_s, .min = 1,
		 .max = INT64_MAX / 1000, .help = "the lock ends after N seconds"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "lock",
		.usage = "usage: kagi lock --db PATH [--config FILE] ACCOUNT --reason REASON\n"
			 "                 [--note TEXT] [--expires-s N]\n",
		.about = "Locks ACCOUNT. REASON is one of system_error, gift_card, return_abuse,\n"
			 "payment_fraud, compromised, brute_force (expires after 30 minutes unless\n"
			 "--expires-s), misuse (lifted only by support) or manual. Writes an audit\n"
			 "entry and the official notice (message center and mail). Prints the lock id.\n",
		.opts = opts,
		.args = "ACCOUNT",
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	kg_account_lock_req req;
	memset(&req, 0, sizeof(req));
	req.account_id = argv[1];
	req.actor = "operator";
	req.now_ms = kg_now_ms();
	if (kg_lock_reason_parse(reason, &req.reason))
		return kg_cli_bad(&spec, "--reason: unknown lock reason \"%s\"", reason);
	req.expires_ms = exp_s ? req.now_ms + exp_s * 1000 : 0;
	json_t *ev = note ? json_pack("{s:s}", "note", note) : NULL;
	char *evtext = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	req.evidence = evtext;
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	char id[KG_STORE_ID_MAX];
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	rc = rc ? rc : kg_account_lock(store, &cfg, &req, id, &err);
	kg_store_close(store);
	free(evtext);
	if (rc)
		return kg_cli_fail(&err);
	printf("%s\n", id);
	return 0;
}
