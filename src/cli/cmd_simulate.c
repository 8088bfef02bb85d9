/* kagi simulate: command-line front of the shop simulator (src/sim).
 * Parses and checks the options, opens the output, prints --stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/sim.h"

#define SIM_DEFAULT_START "2026-10-01T00:00:00Z"

int kg_cmd_simulate(int argc, char **argv)
{
	struct kg_sim_opts o = {.seed = 1, .fraud_rate = 0.03};
	int64_t accounts = 1000, days = 30;
	const char *out_path = NULL, *start = SIM_DEFAULT_START;
	bool want_stats = false;
	const struct kg_cli_opt opts[] = {
		{.name = "accounts", .kind = KG_CLI_INT, .meta = "N", .num = &accounts, .min = 1,
		 .max = KG_SIM_ACCOUNTS_MAX, .help = "accounts to simulate (default 1000)"},
		{.name = "days", .kind = KG_CLI_INT, .meta = "D", .num = &days, .min = 1,
		 .max = KG_SIM_DAYS_MAX, .help = "length of the window in days (default 30)"},
		{.name = "seed", .kind = KG_CLI_U64, .meta = "S", .u64 = &o.seed,
		 .help = "seed of the generator, 0..2^64-1 (default 1)"},
		{.name = "start", .kind = KG_CLI_STR, .meta = "T", .str = &start,
		 .help = "first instant of the window, RFC 3339\n(default " SIM_DEFAULT_START ")"},
		{.name = "fraud-rate", .kind = KG_CLI_REAL, .meta = "R", .real = &o.fraud_rate,
		 .rmin = 0.0, .rmax = 1.0,
		 .help = "share of accounts given a fraud scenario, 0..1 (default 0.03);\n"
			 "split 30/25/25/20 over the scenarios"},
		{.name = "cross-account", .kind = KG_CLI_REAL, .meta = "R", .real = &o.cross_rate,
		 .rmin = 0.0, .rmax = 1.0,
		 .help = "share of accounts, taken from the ordinary ones, given a story\n"
			 "across accounts, 0..1 (default 0: none, the stream is unchanged);\n"
			 "split 35/10/10 over credential_stuffing, shared_card,\n"
			 "gift_card_drop and 12/18/7/8 over the hard negatives office_ip,\n"
			 "carrier_ip, family_shared_card, dormitory_address"},
		{.name = "out", .kind = KG_CLI_STR, .meta = "FILE", .str = &out_path,
		 .help = "write there instead of standard output"},
		{.name = "stats", .kind = KG_CLI_FLAG, .flag = &want_stats,
		 .help = "print a JSON summary (events, accounts per scenario,\n"
			 "seconds, events/s) to standard error"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "simulate",
		.usage = "usage: kagi simulate [--accounts N] [--days D] [--seed S] [--start RFC3339]\n"
			 "                     [--fraud-rate R] [--cross-account R] [--out FILE]\n"
			 "                     [--stats]\n",
		.about = "Writes a realistic, labelled NDJSON event stream of an online shop (the\n"
			 "event contract of `kagi replay` and POST /v1/events), sorted by ts, money\n"
			 "in JPY. The same options and seed always give byte-identical output.\n",
		.opts = opts,
		.after = "\n"
			 "Every event carries its ground truth in a \"label\" field, which the risk\n"
			 "engine ignores:\n"
			 "  \"label\": {\"scenario\": S, \"fraud\": B, \"variant\": V, \"edge\": E}\n"
			 "  scenario  the story of the event's account: normal, gift_card_ring,\n"
			 "            return_abuse, card_testing, account_takeover; with\n"
			 "            --cross-account also credential_stuffing, shared_card,\n"
			 "            gift_card_drop\n"
			 "  fraud     true on the events that make up the fraud (what a perfect\n"
			 "            engine holds or locks); false on ordinary events, including\n"
			 "            a takeover victim's own and a fraud account's set-up events\n"
			 "  variant   (fraud scenarios only) how the fraud is done, e.g.\n"
			 "            single_order, split_orders, low_and_slow\n"
			 "  edge      (optional) a legitimate edge case that must not be locked,\n"
			 "            e.g. birthday_gift_card, new_device, declined_once; with\n"
			 "            --cross-account the hard negatives office_ip, carrier_ip,\n"
			 "            family_shared_card, dormitory_address\n"
			 "  group     (with --cross-account, on the accounts of a story across\n"
			 "            accounts) the number of the account's group\n"
			 "On a terminal, stderr shows the events made and written so far, once a\n"
			 "second; never on a pipe or file.\n"
			 "See docs/simulate.md.\n",
	};
	int nargs, status = kg_cli_parse(&spec, argc, argv, &nargs);
	if (status >= 0)
		return status;
	o.accounts = (uint64_t)accounts;
	o.days = days;
	if (kg_time_parse(start, strlen(start), &o.start_ms))
		return kg_cli_bad(&spec, "--start: expected an RFC 3339 time such as "
				  "2026-10-01T00:00:00Z, got \"%s\"", start);

	FILE *f = stdout;
	if (out_path && !(f = fopen(out_path, "wb"))) {
		fprintf(stderr, "kagi simulate: --out: cannot open \"%s\": %s\n", out_path,
			strerror(errno));
		return 1;
	}
	kg_progress progress;
	kg_progress_start(&progress, "simulate");
	o.progress = &progress;
	struct kg_sim_stats st;
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_sim_run(&o, f, &st, &err);
	if (f != stdout && fclose(f) != 0 && rc == 0)
		rc = kg_err_set(&err, KG_EIO, "cannot write \"%s\": %s", out_path, strerror(errno));
	if (rc)
		return kg_cli_fail(&err);
	if (want_stats) {
		double total = st.generate_s + st.sort_s + st.write_s;
		fprintf(stderr, "{\"events\":%llu,\"bytes\":%llu,\"accounts\":{",
			(unsigned long long)st.events, (unsigned long long)st.bytes);
		for (int s = 0; s < KG_SIM_SCENARIOS; s++)
			fprintf(stderr, "%s\"%s\":%llu", s ? "," : "", kg_sim_scenario_name(s),
				(unsigned long long)st.accounts[s]);
		fprintf(stderr, "},\"fraud_events\":{");
		for (int s = 1; s < KG_SIM_SCENARIOS; s++)
			fprintf(stderr, "%s\"%s\":%llu", s > 1 ? "," : "", kg_sim_scenario_name(s),
				(unsigned long long)st.fraud_events[s]);
		fprintf(stderr, "},\"seconds\":{\"generate\":%.3f,\"sort\":%.3f,\"write\":%.3f},"
			"\"events_per_s\":%.0f}\n", st.generate_s, st.sort_s, st.write_s,
			total > 0 ? (double)st.events / total : 0.0);
	}
	return 0;
}
