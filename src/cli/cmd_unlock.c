/* kagi unlock: lifts an account's locks as an admin, with a written reason
 * (audited, the customer notified). */
#include <getopt.h>
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
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},   {"config", required_argument, NULL, 'C'},
		{"reason", required_argument, NULL, 'r'}, {"lock", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *config = NULL, *reason = NULL, *lock = NULL;
	if (kg_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'C': config = optarg; break;
		case 'r': reason = optarg; break;
		case 'l': lock = optarg; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!db || !reason || optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_lock_refs lifted;
	int rc = kg_cli_load_config(&cfg, config, &err);
	rc = rc ? rc : kg_cli_open_store(&cfg, db, &store, &err);
	rc = rc ? rc : kg_account_unlock(store, &cfg, argv[optind], lock, true, "cli", reason, &lifted, &err);
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	for (size_t i = 0; i < lifted.n; i++)
		printf("%s %s\n", lifted.v[i].id, kg_lock_reason_name(lifted.v[i].reason));
	return 0;
}
