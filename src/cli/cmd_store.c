/* kagi store copy: a SQLite store into a new PostgreSQL store. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

int kg_cmd_store(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "from", .kind = KG_CLI_STR, .meta = "PATH", .str = &from, .required = true,
		 .help = "the SQLite store to copy"},
		{.name = "to", .kind = KG_CLI_STR, .meta = "URL", .str = &to, .required = true,
		 .help = "the PostgreSQL store (postgres://...) to copy into; it must have no rows"},
		{NULL},
	};
	static const char *const verbs[] = {"copy", NULL};
	const struct kg_cli_spec spec = {
		.name = "store",
		.usage = "usage: kagi store copy --from PATH --to URL\n",
		.about = "Copies every row of the SQLite store at PATH into the PostgreSQL store at\n"
			 "URL (postgres://...), which must have no rows yet (a new database: it is\n"
			 "migrated first). One transaction there: on an error nothing is copied.\n"
			 "Stop kagid on PATH first, so that nothing is written during the copy.\n"
			 "Several nodes on the copy: docs/scaling.md.\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	kg_err err;
	kg_err_clear(&err);
	int64_t rows = 0;
	if (kg_store_copy(from, to, &rows, &err))
		return kg_cli_fail(&err);
	char shown[KG_CONFIG_STR_MAX];
	printf("copied %lld rows from %s to %s\n", (long long)rows, from,
	       kg_cli_store_name(to, shown, sizeof(shown)));
	return 0;
}
