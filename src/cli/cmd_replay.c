/* kagi replay: decides an event stream (NDJSON) in order and prints one
 * decision per input line; in memory, or durable into a store with --db. */
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "risk/risk.h"

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: kagi replay [--db PATH] [--policy FILE] [--batch N] [--quiet] [--stats]\n"
		"                   EVENTS.jsonl|-\n\n"
		"Decides every event in order and prints one decision (or error) JSON per\n"
		"input line. Without --db everything stays in memory; with --db the events,\n"
		"decisions and feature state are written to that SQLite file, N events per\n"
		"transaction (default 1000); a batch is printed once its commit is durable,\n"
		"and the next one is decided meanwhile.\n"
		"  --policy FILE  policy (default policy/default.rules)\n"
		"  --quiet        print no decisions\n"
		"  --stats        print throughput, latency and feature-state size to stderr\n"
		"On a terminal, stderr shows the events decided so far and their rate, once a\n"
		"second; never on a pipe or file.\n");
	return code;
}

int kg_cmd_replay(int argc, char **argv)
{
	struct kg_risk_replay_opts o = {.policy = "policy/default.rules", .batch = 1000};
	if (kg_cli_wants_help(argc, argv))
		return usage(stdout, 0);
	int i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--db") && i + 1 < argc)
			o.db = argv[++i];
		else if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			o.policy = argv[++i];
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			int64_t n;
			if (kg_parse_i64(argv[++i], &n) || n < 1 || n > KG_BATCH_EVENTS_MAX)
				return usage(stderr, 2);
			o.batch = (size_t)n;
		} else if (!strcmp(argv[i], "--quiet"))
			o.quiet = true;
		else if (!strcmp(argv[i], "--stats"))
			o.stats = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return usage(stderr, 2);
		else
			break;
	}
	if (i != argc - 1)
		return usage(stderr, 2);
	o.input = argv[i];
	/* lock decisions are applied by the account module's lock writer (row,
	 * audit entry; no notices from a replay: ctx NULL) */
	o.lock_fn = kg_account_risk_lock_hook;
	o.lock_ctx = NULL;
	kg_progress progress;
	kg_progress_start(&progress, "replay");
	o.progress = &progress;
	kg_err err;
	kg_err_clear(&err);
	if (kg_risk_replay(&o, stdout, &err))
		return kg_cli_fail(&err);
	return 0;
}
