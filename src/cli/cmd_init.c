/* kagi init: creates (or migrates) the store at PATH. */
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_init(int argc, char **argv)
{
	const char *db = NULL, *config_path = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store to create or migrate"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "configuration file (store.* settings)"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "init",
		.usage = "usage: kagi init --db PATH [--config FILE]\n",
		.about = "Creates the SQLite store at PATH, or brings an existing one to the current\n"
			 "schema (migrations only go forward). Prints the schema version.\n",
		.opts = opts,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	kg_config cfg;
	kg_err err;
	kg_err_clear(&err);
	kg_store *store = NULL;
	if (kg_cli_setup(config_path, db, &cfg, &store, &err))
		return kg_cli_fail(&err);
	printf("%s: schema version %d\n", db, kg_store_schema_version(store));
	kg_store_close(store);
	return 0;
}
