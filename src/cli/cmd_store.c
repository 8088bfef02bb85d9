/* kagi store copy: a SQLite store into a new PostgreSQL store. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi store copy --from PATH --to URL\n"
	"\n"
	"Copies every row of the SQLite store at PATH into the PostgreSQL store at\n"
	"URL (postgres://...), which must have no rows yet (a new database: it is\n"
	"migrated first). One transaction there: on an error nothing is copied.\n"
	"Stop kagid on PATH first, so that nothing is written during the copy.\n"
	"Several nodes on the copy: docs/scaling.md.\n";

int kg_cmd_store(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return kg_cli_usage(usage, 0);
	if (argc != 6 || strcmp(argv[1], "copy"))
		return kg_cli_usage(usage, 2);
	const char *from = NULL, *to = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--from"))
			from = argv[i + 1];
		else if (!strcmp(argv[i], "--to"))
			to = argv[i + 1];
		else
			return kg_cli_usage(usage, 2);
	}
	if (!from || !to)
		return kg_cli_usage(usage, 2);
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
