/* kagi key: creates an API key (printed once; only its hash is stored),
 * lists the API keys, or revokes one. Every change is audited. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "account/account.h"
#include "store/store.h"

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
	const char *db = NULL, *role = NULL, *label = NULL, *account = NULL, *config_path = NULL;
	int64_t ttl_s = 0;
	bool as_json = false;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "role", .kind = KG_CLI_STR, .meta = "ROLE", .str = &role,
		 .help = "create: service, agent, admin, customer or ticket"},
		{.name = "label", .kind = KG_CLI_STR, .meta = "TEXT", .str = &label,
		 .help = "create: what the key is for"},
		{.name = "account", .kind = KG_CLI_STR, .meta = "ID", .str = &account,
		 .help = "create: the account of a customer or ticket credential"},
		{.name = "ttl", .kind = KG_CLI_INT, .meta = "SECONDS", .num = &ttl_s, .min = 1,
		 .max = INT64_MAX / 1000, .help = "create: the key expires after SECONDS"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "configuration file"},
		{.name = "json", .kind = KG_CLI_FLAG, .flag = &as_json, .help = "list: as JSON"},
		{NULL},
	};
	static const char *const verbs[] = {"create", "list", "revoke", NULL};
	const struct kg_cli_spec spec = {
		.name = "key",
		.usage = "usage: kagi key create --db PATH --role ROLE [--label TEXT]\n"
			 "                       [--account ID] [--ttl SECONDS] [--config FILE]\n"
			 "       kagi key list --db PATH [--json]\n"
			 "       kagi key revoke --db PATH KEY-ID\n",
		.about = "create: makes a credential and prints it once (kg_<id>_<secret>); the\n"
			 "store keeps only a hash. ROLE: service, agent, admin (API keys), or\n"
			 "customer, ticket (need --account). --ttl: expires after SECONDS.\n"
			 "list: the API keys (id, role, state, label, dates), newest first; never\n"
			 "a secret.\n"
			 "revoke: the key (by its id, the 16 characters after kg_) stops working\n"
			 "at once.\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 2,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	bool create = !strcmp(argv[1], "create"), revoke = !strcmp(argv[1], "revoke");
	if (create && !role)
		return kg_cli_bad(&spec, "create needs --role ROLE");
	if (nargs != (revoke ? 2 : 1))
		return revoke ? kg_cli_bad(&spec, "revoke needs a KEY-ID")
			      : kg_cli_bad(&spec, "unexpected argument \"%s\"", argv[2]);
	kg_err err;
	kg_err_clear(&err);
	unsigned r = create ? kg_role_parse(role) : 0;
	if (create && !r) {
		kg_err_set(&err, KG_EINVAL, "--role: unknown role \"%s\" (service, agent, admin, customer, ticket)", role);
		return kg_cli_fail(&err);
	}
	kg_config cfg;
	kg_store *store = NULL;
	if (kg_cli_setup(config_path, db, &cfg, &store, &err))
		return kg_cli_fail(&err);
	int rc;
	if (create) {
		kg_token tok;
		rc = kg_account_credential_create(store, r, account, ttl_s, label, "cli", &tok, &err);
		if (rc == 0)
			printf("%s\n", tok.text);
		memset(&tok, 0, sizeof(tok));
	} else if (revoke) {
		rc = kg_account_credential_revoke(store, argv[2], "cli", &err);
		if (rc == 0)
			printf("revoked %s\n", argv[2]);
	} else {
		json_t *keys = NULL;
		rc = kg_account_keys_list(store, &keys, &err);
		if (rc == 0)
			print_list(keys, as_json);
		json_decref(keys);
	}
	kg_store_close(store);
	return rc ? kg_cli_fail(&err) : 0;
}
