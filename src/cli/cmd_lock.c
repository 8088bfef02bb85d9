/* kagi lock: locks an account as an operator (reason, optional note and
 * expiry), with the same audit entry and official notice as the API. */
#include <getopt.h>
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
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},   {"config", required_argument, NULL, 'C'},
		{"reason", required_argument, NULL, 'r'}, {"note", required_argument, NULL, 'n'},
		{"expires-s", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *config = NULL, *reason = NULL, *note = NULL, *expires = NULL;
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
		case 'n': note = optarg; break;
		case 'e': expires = optarg; break;
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
	kg_account_lock_req req;
	memset(&req, 0, sizeof(req));
	req.account_id = argv[optind];
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
	char id[KG_STORE_ID_MAX];
	int rc = kg_cli_load_config(&cfg, config, &err);
	rc = rc ? rc : kg_cli_open_store(&cfg, db, &store, &err);
	rc = rc ? rc : kg_account_lock(store, &cfg, &req, id, &err);
	kg_store_close(store);
	free(evtext);
	if (rc)
		return kg_cli_fail(&err);
	printf("%s\n", id);
	return 0;
}
