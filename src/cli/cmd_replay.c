/* kagi replay: decides an event stream (NDJSON) in order and prints one
 * decision per input line; in memory, or durable into a store with --db.
 * The command owns the files, stdin, the progress line and --stats; the
 * risk module (kg_risk_replay) reads and writes what it is handed. */
#include <stdlib.h>
#include <string.h>

#include "account/account.h"
#include "cli/cli.h"
#include "guard/guard.h"
#include "risk/risk.h"
#include "store/store.h"

static void show_progress(void *ctx, uint64_t events)
{
	kg_progress_update(ctx, events);
}

/* --stats: one JSON line on stderr (bench/risk_replay.sh reads it). */
static void print_stats(const struct kg_risk_replay_stats *st)
{
	fprintf(stderr,
		"{\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"cpu_seconds\":%.3f,"
		"\"events_per_cpu_s\":%.0f,\"accounts\":%zu,"
		"\"feature_mem_bytes_per_account\":%.1f,\"feature_blob_bytes_per_account\":%.1f",
		st->events, st->seconds, st->seconds > 0 ? (double)st->events / st->seconds : 0.0,
		st->cpu_seconds, st->cpu_seconds > 0 ? (double)st->events / st->cpu_seconds : 0.0,
		st->accounts, st->feature_mem_bytes_per_account, st->feature_blob_bytes_per_account);
	fprintf(stderr,
		",\"entities\":%zu,\"entity_mem_bytes_per_entity\":%.1f,"
		"\"entity_blob_bytes_per_entity\":%.1f",
		st->entities, st->entity_mem_bytes_per_entity, st->entity_blob_bytes_per_entity);
	if (st->latency)
		fprintf(stderr, ",\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}",
			st->p50_us, st->p99_us, st->p999_us, st->max_us);
	fprintf(stderr, "}\n");
}

int kg_cmd_replay(int argc, char **argv)
{
	const char *db = NULL, *policy = "policy/default.rules", *config = NULL;
	bool quiet = false, stats = false;
	int64_t batch = 1000;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "write events, decisions and feature state to this store"},
		{.name = "policy", .kind = KG_CLI_STR, .meta = "FILE", .str = &policy,
		 .help = "policy (default policy/default.rules)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (breaker.* with --db)"},
		{.name = "batch", .kind = KG_CLI_INT, .meta = "N", .num = &batch, .min = 1,
		 .max = KG_BATCH_EVENTS_MAX, .help = "events per transaction with --db (default 1000)"},
		{.name = "quiet", .kind = KG_CLI_FLAG, .flag = &quiet, .help = "print no decisions"},
		{.name = "stats", .kind = KG_CLI_FLAG, .flag = &stats,
		 .help = "print throughput, latency and feature-state size to stderr"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "replay",
		.usage = "usage: kagi replay [--db PATH] [--policy FILE] [--config FILE] [--batch N] [--quiet]\n"
			 "                   [--stats]\n"
			 "                   EVENTS.jsonl|-\n",
		.about = "Decides every event in order and prints one decision (or error) JSON per\n"
			 "input line. Without --db everything stays in memory; with --db the events,\n"
			 "decisions and feature state are written to that SQLite file, N events per\n"
			 "transaction (default 1000; the first three batches an eighth, a quarter and\n"
			 "a half of N); a batch is printed once its commit is durable, and the next\n"
			 "one is decided meanwhile.\n",
		.opts = opts,
		.after = "On a terminal, stderr shows the events decided so far and their rate, once a\n"
			 "second; never on a pipe or file.\n",
		.args = "EVENTS.jsonl (or - for stdin)",
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, status = kg_cli_parse(&spec, argc, argv, &nargs);
	if (status >= 0)
		return status;
	const char *input = argv[1];
	kg_err err;
	kg_err_clear(&err);
	kg_policy *pol = NULL;
	kg_store *store = NULL;
	FILE *in = NULL;
	kg_progress progress;
	struct kg_risk_replay_stats st;
	kg_config cfg;
	kg_guard *guard = NULL;
	int rc = kg_cli_load_config(&cfg, config, &err);
	rc = rc ? rc : kg_policy_load(policy, &pol, &err);
	if (!rc && db)
		rc = kg_store_open(&store, db, NULL, &err);
	if (!rc && db) {
		/* automatic locks go through the breaker (docs/guard.md), which
		 * counts on event time: a replay trips where live traffic did */
		struct kg_guard_params gp;
		kg_guard_params_from_config(&gp, &cfg);
		rc = kg_guard_new(store, &gp, NULL, &guard, &err);
		/* the gated rollout: a rule not promoted in this store runs
		 * pending (docs/guard.md) */
		kg_policy *g = NULL;
		if (!rc && cfg.rules_gate && !(rc = kg_guard_gate(store, pol, "replay", &g, &err))) {
			kg_policy_unref(pol);
			pol = g;
		}
		rc = rc ? rc : kg_guard_policy_loaded(store, pol, "replay", &err);
	}
	if (!rc && !(in = strcmp(input, "-") ? fopen(input, "r") : stdin))
		rc = kg_err_at(&err, KG_EIO, input, 0, 0, "cannot open");
	if (!rc) {
		kg_progress_start(&progress, "replay"); /* shown only on a terminal */
		struct kg_risk_replay_opts o = {
			.policy = pol, .store = store, .in = in, .in_name = input, .out = stdout,
			.batch = (size_t)batch, .quiet = quiet, .stats = stats,
			.progress = show_progress, .progress_ctx = &progress,
			/* lock decisions pass the breaker, then the account
			 * module's lock writer (row, audit entry; no notices from
			 * a replay) */
			.lock_fn = guard ? kg_guard_lock_hook : kg_account_risk_lock_hook,
			.lock_ctx = guard,
			/* and every event through the feed summary, stored at the
			 * end for the next replay or kagid */
			.event_fn = guard ? kg_guard_event_hook : NULL,
			.event_ctx = guard,
		};
		rc = kg_risk_replay(&o, &st, &err);
		if (!rc && guard)
			rc = kg_guard_feed_save(guard, &err);
	}
	if (!rc)
		kg_progress_end(&progress, st.events);
	if (!rc && stats)
		print_stats(&st);
	if (in && in != stdin)
		fclose(in);
	kg_store_close(store);
	kg_guard_free(guard);
	kg_policy_unref(pol);
	return rc ? kg_cli_fail(&err) : 0;
}
