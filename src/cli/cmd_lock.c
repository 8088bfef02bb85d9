/* kagi lock: locks an account as an operator (reason, optional note and
 * expiry), with the same audit entry and official notice as the API. */
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi lock --db PATH [--config FILE] ACCOUNT --reason REASON\n"
	"                 [--note TEXT] [--expires-s N]\n"
	"\n"
	"Locks ACCOUNT. REASON is one of system_error, gift_card, return_abuse,\n"
	"payment_fraud, compromised, brute_force (expires after 30 minutes unless\n"
	"--expires-s), misuse (lifted only by support) or manual. Writes an audit\n"
	"entry and the official notice (message center and mail). Prints the lock id.\n";

int kg_cmd_lock(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL, *note = NULL, *expires = NULL;
	const char *pos[1];
	size_t np = 0;
	const struct kg_cli_opt opts[] = {
		{"db", &db, NULL},       {"config", &config, NULL}, {"reason", &reason, NULL},
		{"note", &note, NULL},   {"expires-s", &expires, NULL}, {NULL, NULL, NULL},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (kg_cli_args(argc, argv, opts, pos, 1, &np, usage))
		return 2;
	if (!db || !reason || np != 1)
		return kg_cli_usage(usage, 2);
	kg_account_lock_req req;
	memset(&req, 0, sizeof(req));
	req.account_id = pos[0];
	req.actor = "operator";
	req.now_ms = kg_now_ms();
	int64_t exp_s = 0;
	if (kg_lock_reason_parse(reason, &req.reason)) {
		fprintf(stderr, "kagi: --reason: unknown lock reason \"%s\"\n", reason);
		return 2;
	}
	if (expires && (kg_parse_i64(expires, &exp_s) || exp_s <= 0)) {
		fprintf(stderr, "kagi: --expires-s: expected a positive integer, got \"%s\"\n", expires);
		return 2;
	}
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
