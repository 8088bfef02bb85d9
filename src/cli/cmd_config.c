/* kagi config dump: prints the effective configuration (defaults, file,
 * environment), secrets masked. */
#include <stdio.h>

#include "cli/cli.h"

int kg_cmd_config(int argc, char **argv)
{
	const char *config_path = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "configuration file"},
		{NULL},
	};
	static const char *const verbs[] = {"dump", NULL};
	const struct kg_cli_spec spec = {
		.name = "config",
		.usage = "usage: kagi config dump [--config FILE]\n",
		.about = "Prints every config key with its effective value: the default, overridden\n"
			 "by FILE, overridden by KAGI_* environment variables. Secrets show as (set).\n"
			 "A bad file or variable is an error naming the file and line.\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	kg_config cfg;
	kg_err err;
	kg_err_clear(&err);
	if (kg_cli_load_config(&cfg, config_path, &err))
		return kg_cli_fail(&err);
	kg_buf out = KG_BUF_INIT(1024 * 1024);
	int rc = kg_config_dump(&cfg, &out);
	if (rc == 0 && out.data)
		fwrite(out.data, 1, out.len, stdout);
	kg_buf_release(&out);
	if (rc) {
		kg_err_set(&err, rc, "cannot format the configuration");
		return kg_cli_fail(&err);
	}
	return 0;
}
