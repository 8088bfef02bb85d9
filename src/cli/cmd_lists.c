/* kagi lists: the store's named value lists that policies use with
 * `list NAME from store` (kagid reads them at start and on reload); edits
 * go through the risk module, which audits them. */
#include <string.h>

#include "cli/cli.h"
#include "risk/risk.h"
#include "store/store.h"

int kg_cmd_lists(int argc, char **argv)
{
	const char *db = NULL, *config = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (store.* settings)"},
		{NULL},
	};
	static const char *const verbs[] = {"add", "remove", "show", NULL};
	const struct kg_cli_spec spec = {
		.name = "lists",
		.usage = "usage: kagi lists add    --db PATH NAME VALUE...\n"
			 "       kagi lists remove --db PATH NAME VALUE...\n"
			 "       kagi lists show   --db PATH NAME\n",
		.about = "Edits the named lists a policy reads with `list NAME from store`;\n"
			 "a running kagid sees the change after a reload (SIGHUP or\n"
			 "POST /v1/rules/reload). Every add or remove that changes a list writes\n"
			 "an audit entry in the system-wide chain (kagi audit list --db PATH \"\").\n"
			 "show prints the values, one a line, sorted.\n",
		.opts = opts,
		.verbs = verbs,
		.args = "NAME",
		.min_args = 2,
		.max_args = KG_CLI_MANY,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	const char *verb = argv[1], *name = argv[2];
	const char *const *values = (const char *const *)argv + 3;
	size_t n = (size_t)nargs - 2;
	bool show = !strcmp(verb, "show");
	if (show && n)
		return kg_cli_bad(&spec, "show takes one list NAME, got \"%s\" too", values[0]);
	if (!show && !n)
		return kg_cli_bad(&spec, "%s needs a list NAME and at least one VALUE", verb);
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *s = NULL;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	const char **vals = NULL;
	int rc = kg_cli_load_config(&cfg, config, &err);
	rc = rc ? rc : kg_cli_open_store(&cfg, db, &s, &err);
	if (rc == 0 && show) {
		rc = kg_risk_list_values(s, name, &a, &vals, &n, &err);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s\n", vals[i]);
	} else if (rc == 0) {
		rc = kg_risk_list_edit(s, name, !strcmp(verb, "add"), values, n, "cli", NULL, &err);
	}
	kg_arena_release(&a);
	kg_store_close(s);
	return rc ? kg_cli_fail(&err) : 0;
}
