/* kagi init: creates (or migrates) the store at PATH. */
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_init(int argc, char **argv)
{
	const char *db = NULL, *url = NULL, *config_path = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "the SQLite store to create or migrate"},
		{.name = "store", .kind = KG_CLI_STR, .meta = "URL", .str = &url,
		 .help = "a PostgreSQL store (postgres://...) to create or migrate (docs/scaling.md)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "configuration file (store.* settings)"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "init",
		.usage = "usage: kagi init --db PATH | --store URL [--config FILE]\n",
		.about = "Creates the SQLite store at PATH, or brings an existing one to the current\n"
			 "schema (migrations only go forward); --store postgres://... does the same\n"
			 "for a PostgreSQL database (docs/scaling.md). Prints the schema version.\n",
		.opts = opts,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	if (!db == !url)
		return kg_cli_bad(&spec, "give --db PATH or --store URL (one of them)");
	if (url)
		db = url;
	kg_config cfg;
	kg_err err;
	kg_err_clear(&err);
	kg_store *store = NULL;
	if (kg_cli_setup(config_path, db, &cfg, &store, &err))
		return kg_cli_fail(&err);
	char shown[KG_CONFIG_STR_MAX];
	printf("%s: schema version %d\n", kg_cli_store_name(db, shown, sizeof(shown)),
	       kg_store_schema_version(store));
	kg_store_close(store);
	return 0;
}
