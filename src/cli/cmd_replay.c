/* kagi replay: decides an event stream (NDJSON) in order and prints one
 * decision per input line; in memory, or durable into a store with --db. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "risk/risk.h"

int kg_cmd_replay(int argc, char **argv)
{
	struct kg_risk_replay_opts o = {.policy = "policy/default.rules", .batch = 1000};
	int64_t batch = 1000;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &o.db,
		 .help = "write events, decisions and feature state to this store"},
		{.name = "policy", .kind = KG_CLI_STR, .meta = "FILE", .str = &o.policy,
		 .help = "policy (default policy/default.rules)"},
		{.name = "batch", .kind = KG_CLI_INT, .meta = "N", .num = &batch, .min = 1,
		 .max = KG_BATCH_EVENTS_MAX, .help = "events per transaction with --db (default 1000)"},
		{.name = "quiet", .kind = KG_CLI_FLAG, .flag = &o.quiet, .help = "print no decisions"},
		{.name = "stats", .kind = KG_CLI_FLAG, .flag = &o.stats,
		 .help = "print throughput, latency and feature-state size to stderr"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "replay",
		.usage = "usage: kagi replay [--db PATH] [--policy FILE] [--batch N] [--quiet] [--stats]\n"
			 "                   EVENTS.jsonl|-\n",
		.about = "Decides every event in order and prints one decision (or error) JSON per\n"
			 "input line. Without --db everything stays in memory; with --db the events,\n"
			 "decisions and feature state are written to that SQLite file, N events per\n"
			 "transaction (default 1000); a batch is printed once its commit is durable,\n"
			 "and the next one is decided meanwhile.\n",
		.opts = opts,
		.after = "On a terminal, stderr shows the events decided so far and their rate, once a\n"
			 "second; never on a pipe or file.\n",
		.args = "EVENTS.jsonl (or - for stdin)",
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	o.batch = (size_t)batch;
	o.input = argv[1];
	kg_progress progress;
	kg_progress_start(&progress, "replay");
	o.progress = &progress;
	kg_err err;
	kg_err_clear(&err);
	if (kg_risk_replay(&o, stdout, &err))
		return kg_cli_fail(&err);
	return 0;
}
