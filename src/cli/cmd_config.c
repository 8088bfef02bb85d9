/* kagi config dump: prints the effective configuration (defaults, file,
 * environment), secrets masked. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: kagi config dump [--config FILE]\n"
	"\n"
	"Prints every config key with its effective value: the default, overridden\n"
	"by FILE, overridden by KAGI_* environment variables. Secrets show as (set).\n"
	"A bad file or variable is an error naming the file and line.\n";

int kg_cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (argc < 2 || strcmp(argv[1], "dump"))
		return kg_cli_usage(usage, 2);
	argc--, argv++;
	const char *config_path = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'c')
			config_path = optarg;
		else
			return kg_cli_usage(usage, 2);
	}
	if (optind != argc)
		return kg_cli_usage(usage, 2);
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
