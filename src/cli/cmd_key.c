/* kagi key: creates an API key (printed once; only its hash is stored),
 * lists the API keys, or revokes one. Every change is audited. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi key create --db PATH --role ROLE [--label TEXT]\n"
	"                       [--account ID] [--ttl SECONDS] [--config FILE]\n"
	"       kagi key list --db PATH [--json]\n"
	"       kagi key revoke --db PATH KEY-ID\n"
	"\n"
	"create: makes a credential and prints it once (kg_<id>_<secret>); the\n"
	"store keeps only a hash. ROLE: service, agent, admin (API keys), or\n"
	"customer, ticket (need --account). --ttl: expires after SECONDS.\n"
	"list: the API keys (id, role, state, label, dates), newest first; never\n"
	"a secret.\n"
	"revoke: the key (by its id, the 16 characters after kg_) stops working\n"
	"at once.\n";

static void print_list(const json_t *keys, bool as_json)
{
	if (as_json) {
		json_dumpf(keys, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		return;
	}
	size_t i;
	json_t *k;
	printf("%-16s  %-7s  %-7s  %-24s  %s\n", "ID", "ROLE", "STATE", "CREATED", "LABEL");
	json_array_foreach(json_object_get(keys, "keys"), i, k) {
		const char *label = json_string_value(json_object_get(k, "label"));
		printf("%-16s  %-7s  %-7s  %-24s  %s\n", json_string_value(json_object_get(k, "id")),
		       json_string_value(json_object_get(k, "role")),
		       json_string_value(json_object_get(k, "state")),
		       json_string_value(json_object_get(k, "created")), label ? label : "");
	}
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
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *role = NULL, *label = NULL, *account = NULL, *ttl = NULL,
		   *config_path = NULL;
	bool as_json = false;
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "revoke") &&
			 strcmp(argv[1], "list")))
		return kg_cli_usage(usage, 2);
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
		case 'j': as_json = true; break;
		default: return kg_cli_usage(usage, 2);
		}
	}
	bool create = !strcmp(verb, "create"), revoke = !strcmp(verb, "revoke");
	if (!db || (create && !role) || optind != argc - (revoke ? 1 : 0))
		return kg_cli_usage(usage, 2);
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
	if (kg_cli_setup(config_path, db, &cfg, &store, &err))
		return kg_cli_fail(&err);
	int rc;
	if (create) {
		kg_token tok;
		rc = kg_http_credential_create(store, r, account, ttl_s, label, "cli", &tok, &err);
		if (rc == 0)
			printf("%s\n", tok.text);
		memset(&tok, 0, sizeof(tok));
	} else if (revoke) {
		rc = kg_http_credential_revoke(store, argv[optind], "cli", &err);
		if (rc == 0)
			printf("revoked %s\n", argv[optind]);
	} else {
		json_t *keys = NULL;
		rc = kg_http_keys_list(store, &keys, &err);
		if (rc == 0)
			print_list(keys, as_json);
		json_decref(keys);
	}
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
