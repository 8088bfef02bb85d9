/* A small argument parser for subcommands ("--name VALUE" options, "--flag"
 * switches and positional arguments in any order) and the usual setup of a
 * command that works on the store (config, then the store file). */
#include <string.h>

#include "cli/cli.h"

int kg_cli_args(int argc, char **argv, const struct kg_cli_opt *opts, const char **pos,
		size_t max_pos, size_t *npos, const char *usage)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] != '-') {
			if (a[0] == '-' || *npos == max_pos)
				goto bad;
			pos[(*npos)++] = a;
			continue;
		}
		const struct kg_cli_opt *o = opts;
		while (o->name && strcmp(o->name, a + 2))
			o++;
		if (!o->name)
			goto bad;
		if (o->flag) {
			*o->flag = true;
		} else {
			if (i + 1 >= argc)
				goto bad;
			*o->value = argv[++i];
		}
	}
	return 0;
bad:
	return kg_cli_usage(usage, 2);
}

int kg_cli_setup(const char *config, const char *db, kg_config *cfg, struct kg_store **store,
		 kg_err *err)
{
	*store = NULL;
	int rc = kg_cli_load_config(cfg, config, err);
	return rc ? rc : kg_cli_open_store(cfg, db, store, err);
}
