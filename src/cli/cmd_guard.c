/* kagi guard: the lock-wave breaker's state, and its reset by an admin
 * (audited). kagi incidents: the breaker's incidents, their revert and
 * confirming their holds into locks. The guard module does the work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "guard/guard.h"
#include "store/store.h"

static int print_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

int kg_cmd_guard(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "the store (default: store.path)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (breaker.*)"},
		{.name = "reason", .kind = KG_CLI_STR, .meta = "TEXT", .str = &reason,
		 .help = "reset: why the breaker is re-armed (audited)"},
		{NULL},
	};
	static const char *const verbs[] = {"status", "reset", NULL};
	const struct kg_cli_spec spec = {
		.name = "guard",
		.usage = "usage: kagi guard status [--db PATH] [--config FILE]\n"
			 "       kagi guard reset [--db PATH] [--config FILE] --reason TEXT\n",
		.about = "status: the breaker as JSON (GET /v1/guard): armed or tripped, its incident,\n"
			 "each rule's locks in the window, baseline and CUSUM. reset: re-arms a tripped\n"
			 "breaker (every detector back to 0), audited with the reason (docs/guard.md).\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 1,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	bool reset = !strcmp(argv[1], "reset");
	if (reset && !reason)
		return kg_cli_bad(&spec, "reset needs --reason TEXT");
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	json_t *j = NULL;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	struct kg_guard_params p;
	kg_guard_params_from_config(&p, &cfg);
	if (!rc && reset)
		rc = kg_guard_reset(store, "cli", reason, &err);
	if (!rc)
		rc = kg_guard_status(store, &p, &j, &err);
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	return print_json(j);
}

static void on_progress(void *ctx, size_t done, size_t already)
{
	(void)ctx;
	fprintf(stderr, "revert: %zu unlocked, %zu already\n", done, already);
	fflush(stderr);
}

int kg_cmd_incidents(int argc, char **argv)
{
	const char *db = NULL, *config = NULL, *reason = NULL;
	bool dry_run = false, quiet = false;
	int64_t step = 200;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "the store (default: store.path)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (templates, mail, incidents.*)"},
		{.name = "reason", .kind = KG_CLI_STR, .meta = "TEXT", .str = &reason,
		 .help = "revert, confirm-holds: why (audited)"},
		{.name = "dry-run", .kind = KG_CLI_FLAG, .flag = &dry_run,
		 .help = "revert: list the locks it would lift, change nothing"},
		{.name = "step", .kind = KG_CLI_INT, .meta = "N", .num = &step, .min = 1, .max = 100000,
		 .help = "revert: locks per transaction (default 200)"},
		{.name = "quiet", .kind = KG_CLI_FLAG, .flag = &quiet,
		 .help = "revert: no progress lines on stderr"},
		{NULL},
	};
	static const char *const verbs[] = {"list", "show", "revert", "confirm-holds", NULL};
	const struct kg_cli_spec spec = {
		.name = "incidents",
		.usage = "usage: kagi incidents list [--db PATH]\n"
			 "       kagi incidents show [--db PATH] ID\n"
			 "       kagi incidents revert [--db PATH] [--config FILE] ID (--dry-run | --reason TEXT) [--step N]\n"
			 "       kagi incidents confirm-holds [--db PATH] [--config FILE] ID --reason TEXT\n",
		.about = "list: the breaker's incidents as JSON. show: one with its timeline and\n"
			 "affected accounts. revert: lifts the incident's automatic locks from its onset on\n"
			 "(method revert), releases its holds, one apology per account; resumable (run it\n"
			 "again after a crash). confirm-holds: turns the incident's holds into locks.\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 2,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	const char *verb = argv[1];
	bool list = !strcmp(verb, "list");
	if (nargs != (list ? 1 : 2))
		return kg_cli_bad(&spec, "%s takes %s", verb, list ? "no argument" : "one incident ID");
	if (!list && strcmp(verb, "show") && !dry_run && !reason)
		return kg_cli_bad(&spec, "%s needs --reason TEXT", verb);
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	json_t *j = NULL;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	if (!rc && list) {
		rc = kg_guard_incidents(store, 0, &j, &err);
	} else if (!rc && !strcmp(verb, "show")) {
		rc = kg_guard_incident(store, argv[2], &j, &err);
	} else if (!rc && !strcmp(verb, "revert")) {
		struct kg_guard_revert_opts o = {
			.dry_run = dry_run, .actor = "cli", .reason = reason, .step = (size_t)step,
			.mail_per_min = cfg.incidents_apology_mails_per_min, .cfg = &cfg,
			.progress = quiet ? NULL : on_progress,
		};
		rc = kg_guard_revert(store, argv[2], &o, &j, &err);
	} else if (!rc) {
		size_t n = 0;
		rc = kg_guard_confirm_holds(store, &cfg, argv[2], "cli", reason, &n, &err);
		if (!rc)
			j = json_pack("{s:I}", "confirmed", (json_int_t)n);
	}
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	return print_json(j);
}
