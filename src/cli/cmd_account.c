/* kagi account: creates an account (same validation as POST /v1/accounts)
 * or shows one (as GET /v1/accounts/{id}), directly on the store. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "account/account.h"
#include "store/store.h"

/* --card: one more card (KG_CLI_EACH). */
static int add_card(void *ctx, const char *spec, kg_err *err)
{
	json_t *cards = ctx;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *parts[4], *save = NULL, *p = buf;
	size_t n = 0;
	for (char *t; n < 4 && (t = strtok_r(p, "|", &save)); p = NULL)
		parts[n++] = t;
	if (n != 4 || strtok_r(NULL, "|", &save))
		return kg_err_set(err, KG_EINVAL, "expected 'HOLDER|LAST4|MM/YY|FINGERPRINT', got \"%s\"", spec);
	json_array_append_new(cards, json_pack("{s:s,s:s,s:s,s:s}", "holder_name", parts[0], "last4",
					       parts[1], "exp", parts[2], "fingerprint", parts[3]));
	return 0;
}

/* The body fields --name etc. set (address fields under "address"). */
struct fields {
	const char *id, *name, *email, *phone, *lang, *password;
	const char *postal_code, *region, *city, *line1, *line2, *country;
};

static json_t *body_of(const struct fields *f, json_t *cards)
{
	json_t *body = json_object(), *address = json_object();
	const char *top[][2] = {{"id", f->id},       {"name", f->name}, {"email", f->email},
				{"phone", f->phone}, {"lang", f->lang}, {"password", f->password}};
	const char *addr[][2] = {{"postal_code", f->postal_code}, {"region", f->region},
				 {"city", f->city},               {"line1", f->line1},
				 {"line2", f->line2},             {"country", f->country}};
	for (size_t i = 0; i < KG_ARRAY_LEN(top); i++)
		if (top[i][1])
			json_object_set_new(body, top[i][0], json_string(top[i][1]));
	for (size_t i = 0; i < KG_ARRAY_LEN(addr); i++)
		if (addr[i][1])
			json_object_set_new(address, addr[i][0], json_string(addr[i][1]));
	if (json_object_size(address))
		json_object_set(body, "address", address);
	if (json_array_size(cards))
		json_object_set(body, "cards", cards);
	json_decref(address);
	return body;
}

#define VIEW_MAX (64 * 1024 * 1024)

/* The account's view (the account module's one writer, compact JSON text)
 * printed for a terminal: indented, members sorted. Parsed back rather
 * than built a second way, so the CLI shows exactly the members and values
 * the API answers with. */
static int print_view(const kg_buf *view, kg_err *err)
{
	json_error_t jerr;
	json_t *acc = json_loadb(view->data, view->len, 0, &jerr);
	if (!acc)
		return kg_err_set(err, KG_EINTERNAL, "the account's view is not JSON: %s", jerr.text);
	json_dumpf(acc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(acc);
	return 0;
}

int kg_cmd_account(int argc, char **argv)
{
	const char *db = NULL, *json_file = NULL, *config_path = NULL;
	struct fields f = {0};
	json_t *body = NULL, *cards = json_array();
#define FIELD(n, m, target, h)                                                                    \
	{.name = n, .kind = KG_CLI_STR, .meta = m, .str = &f.target, .empty_ok = true, .help = h}
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "json", .kind = KG_CLI_STR, .meta = "FILE", .str = &json_file,
		 .help = "create: the body of POST /v1/accounts ('-': stdin)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "configuration file (account.argon2_*)"},
		FIELD("id", "ID", id, "create: the shop's account id (default: a new one)"),
		FIELD("name", "NAME", name, "create: the customer's name"),
		FIELD("email", "EMAIL", email, "create: the customer's email address"),
		FIELD("phone", "P", phone, "create: phone number"),
		FIELD("lang", "ja|en", lang, "create: language of the notices (default en)"),
		FIELD("password", "PW", password, "create: stored as an Argon2id hash"),
		FIELD("postal-code", "P", postal_code, "create: address"),
		FIELD("region", "R", region, "create: address"),
		FIELD("city", "C", city, "create: address"),
		FIELD("line1", "L", line1, "create: address"),
		FIELD("line2", "L", line2, "create: address (optional)"),
		FIELD("country", "CC", country, "create: address, ISO 3166 (JP)"),
		{.name = "card", .kind = KG_CLI_EACH, .meta = "'HOLDER|LAST4|MM/YY|FINGERPRINT'",
		 .each = add_card, .each_ctx = cards, .help = "create: a card (repeat for more)"},
		{NULL},
	};
#undef FIELD
	static const char *const verbs[] = {"create", "show", NULL};
	const struct kg_cli_spec spec = {
		.name = "account",
		.usage = "usage: kagi account create --db PATH --json FILE\n"
			 "       kagi account create --db PATH --name NAME --email EMAIL\n"
			 "                --postal-code P --region R --city C --line1 L [--line2 L]\n"
			 "                --country CC [--id ID] [--phone P] [--lang ja|en]\n"
			 "                [--password PW] [--card 'HOLDER|LAST4|MM/YY|FINGERPRINT']...\n"
			 "       kagi account show --db PATH ID\n",
		.about = "create: makes an account (the body of POST /v1/accounts, from FILE or '-'\n"
			 "for stdin, or from the options) and prints it as JSON. Passwords are\n"
			 "stored as Argon2id hashes; cards hold only last 4 digits, expiry and the\n"
			 "shop's fingerprint.\n"
			 "show: prints the account, its cards and active locks as JSON.\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 2,
	};
	kg_err err;
	kg_err_clear(&err);
	kg_store *store = NULL;
	int nargs, exit_code = kg_cli_parse(&spec, argc, argv, &nargs);
	if (exit_code >= 0)
		goto cleanup;
	exit_code = 0;
	bool create = !strcmp(argv[1], "create");
	if (nargs != (create ? 1 : 2)) {
		exit_code = create ? kg_cli_bad(&spec, "unexpected argument \"%s\"", argv[2])
				   : kg_cli_bad(&spec, "show needs an account ID");
		goto cleanup;
	}
	if (create && json_file) {
		json_error_t jerr;
		body = !strcmp(json_file, "-") ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
					       : json_load_file(json_file, JSON_REJECT_DUPLICATES, &jerr);
		if (!body || !json_is_object(body)) {
			kg_err_at(&err, KG_EINVAL, json_file, body ? 1 : jerr.line, body ? 1 : jerr.column,
				  "%s", body ? "expected a JSON object" : jerr.text);
			exit_code = kg_cli_fail(&err);
			goto cleanup;
		}
	} else if (create) {
		body = body_of(&f, cards);
	}
	kg_config cfg;
	if (kg_cli_setup(config_path, db, &cfg, &store, &err)) {
		exit_code = kg_cli_fail(&err);
		goto cleanup;
	}
	kg_buf view = KG_BUF_INIT(VIEW_MAX);
	int rc = create ? kg_account_create(store, &cfg, body, "cli", &view, &err)
			: kg_account_show(store, argv[2], &view, &err);
	rc = rc ? rc : print_view(&view, &err);
	kg_buf_release(&view);
	if (rc)
		exit_code = kg_cli_fail(&err);
cleanup:
	kg_store_close(store);
	json_decref(body);
	json_decref(cards);
	return exit_code;
}
