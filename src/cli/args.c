/* A small argument parser for subcommands ("--name VALUE" options, "--flag"
 * switches and positional arguments in any order) and the usual setup of a
 * command that works on the store (config, then the store file). */
#include <stdint.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"

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
	/* the notices these commands write (lock, unlock, case) are built as
	 * kagid builds them: the shop's templates, mail.from, DKIM, sealing */
	rc = rc ? rc : kg_notify_init(cfg, err);
	return rc ? rc : kg_cli_open_store(cfg, db, store, err);
}

int kg_cli_queue_opt(int c, const char *arg, struct kg_cli_queue_opts *o, const char *cmd)
{
	int64_t v;
	switch (c) {
	case 'd': o->db = arg; return 1;
	case 'c': o->config = arg; return 1;
	case 's': o->state = arg; return 1;
	case 'a': o->account = arg; return 1;
	case 'n':
		if (kg_parse_i64(arg, &v) || v < 0) {
			fprintf(stderr, "kagi %s: --limit: expected a count, got \"%s\"\n", cmd, arg);
			return 2;
		}
		o->limit = (size_t)v;
		return 1;
	case 'j': o->json = true; return 1;
	case 'F': o->failed = true; return 1;
	default: return 0;
	}
}
