/* kagi init: creates (or migrates) the store at PATH. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi init --db PATH | --store URL [--config FILE]\n"
	"\n"
	"Creates the SQLite store at PATH, or brings an existing one to the current\n"
	"schema (migrations only go forward); --store postgres://... does the same\n"
	"for a PostgreSQL database (docs/scaling.md). Prints the schema version.\n";

int kg_cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"store", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *config_path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'c': config_path = optarg; break;
		case 'h': return kg_cli_usage(usage, 0);
		default: return kg_cli_usage(usage, 2);
		}
	}
	if (!db || optind != argc)
		return kg_cli_usage(usage, 2);
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
