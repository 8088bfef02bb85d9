/* kagi key: creates an API key (printed once; only its hash is stored) or
 * revokes one. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi key create --db PATH --role ROLE [--label TEXT]\n"
	"                       [--account ID] [--ttl SECONDS] [--config FILE]\n"
	"       kagi key revoke --db PATH KEY-ID\n"
	"\n"
	"create: makes a credential and prints it once (kg_<id>_<secret>); the\n"
	"store keeps only a hash. ROLE: service, agent, admin (API keys), or\n"
	"customer, ticket (need --account). --ttl: expires after SECONDS.\n"
	"revoke: the key (by its id, the part after kg_) stops working at once.\n";

struct revoke {
	const char *id;
};

static int revoke_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct revoke *r = ctx;
	return kg_tx_credential_revoke(tx, r->id, kg_now_ms(), err);
}

int kg_cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"role", required_argument, NULL, 'r'},
		{"label", required_argument, NULL, 'l'},
		{"account", required_argument, NULL, 'a'},
		{"ttl", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *role = NULL, *label = NULL, *account = NULL, *ttl = NULL,
		   *config_path = NULL;
	if (kg_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "revoke"))) {
		fputs(usage, stderr);
		return 2;
	}
	const char *verb = argv[1];
	argc--, argv++;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'r': role = optarg; break;
		case 'l': label = optarg; break;
		case 'a': account = optarg; break;
		case 't': ttl = optarg; break;
		case 'c': config_path = optarg; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	bool create = !strcmp(verb, "create");
	if (!db || (create && (!role || optind != argc)) || (!create && optind != argc - 1)) {
		fputs(usage, stderr);
		return 2;
	}
	kg_err err;
	kg_err_clear(&err);
	unsigned r = create ? kg_role_parse(role) : 0;
	int64_t ttl_s = 0;
	if (create && !r) {
		kg_err_set(&err, KG_EINVAL, "--role: unknown role \"%s\" (service, agent, admin, customer, ticket)", role);
		return kg_cli_fail(&err);
	}
	if (ttl && (kg_parse_i64(ttl, &ttl_s) || ttl_s <= 0)) {
		kg_err_set(&err, KG_EINVAL, "--ttl: expected a positive number of seconds, got \"%s\"", ttl);
		return kg_cli_fail(&err);
	}
	kg_config cfg;
	kg_store *store = NULL;
	if (kg_cli_load_config(&cfg, config_path, &err) ||
	    kg_cli_open_store(&cfg, db, &store, &err))
		return kg_cli_fail(&err);
	int rc;
	if (create) {
		kg_token tok;
		rc = kg_http_credential_create(store, r, account, ttl_s, label, &tok, &err);
		if (rc == 0)
			printf("%s\n", tok.text);
		memset(&tok, 0, sizeof(tok));
	} else {
		struct revoke rv = {argv[optind]};
		rc = kg_store_write(store, revoke_job, &rv, &err);
		if (rc == 0)
			printf("revoked %s\n", rv.id);
	}
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
