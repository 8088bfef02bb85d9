/* kagi unlock: lifts an account's locks as an admin, with a written reason
 * (audited, the customer notified). */
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi unlock --db PATH [--config FILE] ACCOUNT --reason TEXT [--lock ID]\n"
	"\n"
	"Lifts every active lock of ACCOUNT (or only lock ID) as an admin. The reason\n"
	"goes into the audit log; the customer gets the unlock notice. Prints the\n"
	"lifted locks, one \"ID REASON\" per line.\n";

int kg_cmd_unlock(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL, *lock = NULL;
	const char *pos[1];
	size_t np = 0;
	const struct kg_cli_opt opts[] = {
		{"db", &db, NULL},     {"config", &config, NULL}, {"reason", &reason, NULL},
		{"lock", &lock, NULL}, {NULL, NULL, NULL},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (kg_cli_args(argc, argv, opts, pos, 1, &np, usage))
		return 2;
	if (!db || !reason || np != 1)
		return kg_cli_usage(usage, 2);
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_lock_refs lifted;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	rc = rc ? rc : kg_account_unlock(store, &cfg, pos[0], lock, true, "cli", reason, &lifted, &err);
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	for (size_t i = 0; i < lifted.n; i++)
		printf("%s %s\n", lifted.v[i].id, kg_lock_reason_name(lifted.v[i].reason));
	return 0;
}
