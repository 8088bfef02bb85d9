/* kagi account: creates an account (same validation as POST /v1/accounts)
 * or shows one (as GET /v1/accounts/{id}), directly on the store. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi account create --db PATH --json FILE\n"
	"       kagi account create --db PATH --name NAME --email EMAIL\n"
	"                --postal-code P --region R --city C --line1 L [--line2 L]\n"
	"                --country CC [--id ID] [--phone P] [--lang ja|en]\n"
	"                [--password PW] [--card 'HOLDER|LAST4|MM/YY|FINGERPRINT']...\n"
	"       kagi account show --db PATH ID\n"
	"\n"
	"create: makes an account (the body of POST /v1/accounts, from FILE or '-'\n"
	"for stdin, or from the options) and prints it as JSON. Passwords are\n"
	"stored as Argon2id hashes; cards hold only last 4 digits, expiry and the\n"
	"shop's fingerprint.\n"
	"show: prints the account, its cards and active locks as JSON.\n";

static int add_card(json_t *cards, const char *spec, kg_err *err)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *parts[4], *save = NULL, *p = buf;
	size_t n = 0;
	for (char *t; n < 4 && (t = strtok_r(p, "|", &save)); p = NULL)
		parts[n++] = t;
	if (n != 4 || strtok_r(NULL, "|", &save))
		return kg_err_set(err, KG_EINVAL, "--card: expected 'HOLDER|LAST4|MM/YY|FINGERPRINT', got \"%s\"", spec);
	json_array_append_new(cards, json_pack("{s:s,s:s,s:s,s:s}", "holder_name", parts[0], "last4",
					       parts[1], "exp", parts[2], "fingerprint", parts[3]));
	return 0;
}

static int show(kg_store *store, const char *id, kg_err *err)
{
	json_t *acc = NULL;
	int rc = kg_http_account_show(store, id, &acc, err);
	if (rc)
		return rc;
	json_dumpf(acc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(acc);
	return 0;
}

int kg_cmd_account(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"json", required_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'C'},
		{"card", required_argument, NULL, 'k'},
		{"id", required_argument, NULL, 1},
		{"name", required_argument, NULL, 1},
		{"email", required_argument, NULL, 1},
		{"phone", required_argument, NULL, 1},
		{"lang", required_argument, NULL, 1},
		{"password", required_argument, NULL, 1},
		{"postal-code", required_argument, NULL, 2},
		{"region", required_argument, NULL, 2},
		{"city", required_argument, NULL, 2},
		{"line1", required_argument, NULL, 2},
		{"line2", required_argument, NULL, 2},
		{"country", required_argument, NULL, 2},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "show")))
		return kg_cli_usage(usage, 2);
	bool create = !strcmp(argv[1], "create");
	argc--, argv++;
	const char *db = NULL, *json_file = NULL, *config_path = NULL;
	json_t *body = json_object(), *address = json_object(), *cards = json_array();
	kg_err err;
	kg_err_clear(&err);
	int c, idx, rc = 0, exit_code = 0;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		char key[32];
		switch (c) {
		case 'd': db = optarg; break;
		case 'j': json_file = optarg; break;
		case 'C': config_path = optarg; break;
		case 'k': rc = rc ? rc : add_card(cards, optarg, &err); break;
		case 1:
			json_object_set_new(body, opts[idx].name, json_string(optarg));
			break;
		case 2:
			snprintf(key, sizeof(key), "%s", opts[idx].name);
			for (char *p = key; *p; p++)
				if (*p == '-')
					*p = '_';
			json_object_set_new(address, key, json_string(optarg));
			break;
		default: exit_code = 2; goto cleanup;
		}
	}
	if (rc) {
		exit_code = kg_cli_fail(&err);
		goto cleanup;
	}
	if (!db || optind != argc - (create ? 0 : 1)) {
		exit_code = 2;
		goto cleanup;
	}
	if (create && json_file) {
		json_error_t jerr;
		json_decref(body);
		body = !strcmp(json_file, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
					       : json_load_file(json_file, JSON_REJECT_DUPLICATES, &jerr);
		if (!body || !json_is_object(body)) {
			kg_err_at(&err, KG_EINVAL, json_file, body ? 1 : jerr.line, body ? 1 : jerr.column,
				  "%s", body ? "expected a JSON object" : jerr.text);
			exit_code = kg_cli_fail(&err);
			goto cleanup;
		}
	} else if (create) {
		if (json_object_size(address))
			json_object_set(body, "address", address);
		if (json_array_size(cards))
			json_object_set(body, "cards", cards);
	}
	kg_config cfg;
	kg_store *store = NULL;
	if (kg_cli_setup(config_path, db, &cfg, &store, &err)) {
		exit_code = kg_cli_fail(&err);
		goto cleanup;
	}
	if (create) {
		json_t *acc = NULL;
		rc = kg_http_account_create(store, &cfg, body, "cli", &acc, &err);
		if (rc == 0) {
			json_dumpf(acc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
			json_decref(acc);
		}
	} else {
		rc = show(store, argv[optind], &err);
	}
	kg_store_close(store);
	if (rc)
		exit_code = kg_cli_fail(&err);
cleanup:
	if (exit_code == 2)
		fputs(usage, stderr);
	json_decref(body);
	json_decref(address);
	json_decref(cards);
	return exit_code;
}
