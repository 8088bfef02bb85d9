/* kagi unlock: lifts an account's locks as an admin, with a written reason
 * (audited, the customer notified). */
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_unlock(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL, *lock = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (templates, mail, sealing)"},
		{.name = "reason", .kind = KG_CLI_STR, .meta = "TEXT", .str = &reason, .required = true,
		 .help = "why the locks are lifted (audited)"},
		{.name = "lock", .kind = KG_CLI_STR, .meta = "ID", .str = &lock,
		 .help = "lift only this lock"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "unlock",
		.usage = "usage: kagi unlock --db PATH [--config FILE] ACCOUNT --reason TEXT [--lock ID]\n",
		.about = "Lifts every active lock of ACCOUNT (or only lock ID) as an admin. The reason\n"
			 "goes into the audit log; the customer gets the unlock notice. Prints the\n"
			 "lifted locks, one \"ID REASON\" per line.\n",
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
	kg_lock_refs lifted;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	rc = rc ? rc : kg_account_unlock(store, &cfg, argv[1], lock, true, "cli", reason, &lifted, &err);
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	for (size_t i = 0; i < lifted.n; i++)
		printf("%s %s\n", lifted.v[i].id, kg_lock_reason_name(lifted.v[i].reason));
	return 0;
}
