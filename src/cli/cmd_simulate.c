/* kagi simulate: command-line front of the shop simulator (src/sim).
 * Parses and checks the options, opens the output, prints --stats. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/sim.h"

#define SIM_DEFAULT_START "2026-10-01T00:00:00Z"

static void simulate_help(void)
{
	printf("usage: kagi simulate [--accounts N] [--days D] [--seed S] [--start RFC3339]\n"
	       "                     [--fraud-rate R] [--out FILE] [--stats]\n"
	       "\n"
	       "Writes a realistic, labelled NDJSON event stream of an online shop (the\n"
	       "event contract of `kagi replay` and POST /v1/events), sorted by ts, money\n"
	       "in JPY. The same options and seed always give byte-identical output.\n"
	       "\n"
	       "  --accounts N     accounts to simulate, 1..%d (default 1000)\n"
	       "  --days D         length of the window in days, 1..%d (default 30)\n"
	       "  --seed S         seed of the generator, 0..2^64-1 (default 1)\n"
	       "  --start T        first instant of the window, RFC 3339\n"
	       "                   (default %s)\n"
	       "  --fraud-rate R   share of accounts given a fraud scenario, 0..1\n"
	       "                   (default 0.03); split 30/25/25/20 over the scenarios\n"
	       "  --out FILE       write there instead of standard output\n"
	       "  --stats          print a JSON summary (events, accounts per scenario,\n"
	       "                   seconds, events/s) to standard error\n"
	       "\n"
	       "Every event carries its ground truth in a \"label\" field, which the risk\n"
	       "engine ignores:\n"
	       "  \"label\": {\"scenario\": S, \"fraud\": B, \"variant\": V, \"edge\": E}\n"
	       "  scenario  the story of the event's account: normal, gift_card_ring,\n"
	       "            return_abuse, card_testing, account_takeover\n"
	       "  fraud     true on the events that make up the fraud (what a perfect\n"
	       "            engine holds or locks); false on ordinary events, including\n"
	       "            a takeover victim's own and a fraud account's set-up events\n"
	       "  variant   (fraud scenarios only) how the fraud is done, e.g.\n"
	       "            single_order, split_orders, low_and_slow\n"
	       "  edge      (optional) a legitimate edge case that must not be locked,\n"
	       "            e.g. birthday_gift_card, new_device, declined_once\n"
	       "On a terminal, stderr shows the events made and written so far, once a\n"
	       "second; never on a pipe or file.\n"
	       "See docs/simulate.md.\n",
	       KG_SIM_ACCOUNTS_MAX, KG_SIM_DAYS_MAX, SIM_DEFAULT_START);
}

static int usage_error(const char *opt, const char *fmt, const char *value)
{
	fprintf(stderr, "kagi simulate: %s: ", opt);
	fprintf(stderr, fmt, value);
	fprintf(stderr, " (see kagi simulate --help)\n");
	return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return KG_EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return KG_EINVAL;
	*out = v;
	return 0;
}

int kg_cmd_simulate(int argc, char **argv)
{
	struct kg_sim_opts o = {.accounts = 1000, .days = 30, .seed = 1, .fraud_rate = 0.03};
	const char *out_path = NULL, *start = SIM_DEFAULT_START;
	bool want_stats = false;
	if (kg_cli_wants_help(argc, argv)) {
		simulate_help();
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i], *eq = strchr(arg, '='), name[32];
		const char *val = NULL;
		if (strncmp(arg, "--", 2) != 0)
			return usage_error(arg, "unexpected argument%s", "");
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		if (nlen >= sizeof(name))
			return usage_error(arg, "unknown option%s", "");
		memcpy(name, arg, nlen);
		name[nlen] = '\0';
		if (!strcmp(name, "--stats")) {
			if (eq)
				return usage_error(name, "takes no value%s", "");
			want_stats = true;
			continue;
		}
		if (strcmp(name, "--accounts") && strcmp(name, "--days") && strcmp(name, "--seed") &&
		    strcmp(name, "--start") && strcmp(name, "--out") && strcmp(name, "--fraud-rate"))
			return usage_error(name, "unknown option%s", "");
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return usage_error(name, "missing value%s", "");

		uint64_t u = 0;
		int64_t ms = 0;
		if (!strcmp(name, "--accounts")) {
			if (parse_u64(val, &u) || u < 1 || u > KG_SIM_ACCOUNTS_MAX)
				return usage_error(name, "expected an integer from 1 to "
					"10000000, got \"%s\"", val);
			o.accounts = u;
		} else if (!strcmp(name, "--days")) {
			if (parse_u64(val, &u) || u < 1 || u > KG_SIM_DAYS_MAX)
				return usage_error(name, "expected an integer from 1 to 3660, "
					"got \"%s\"", val);
			o.days = (int64_t)u;
		} else if (!strcmp(name, "--seed")) {
			if (parse_u64(val, &u))
				return usage_error(name, "expected an unsigned 64-bit integer, "
					"got \"%s\"", val);
			o.seed = u;
		} else if (!strcmp(name, "--start")) {
			if (kg_time_parse(val, strlen(val), &ms))
				return usage_error(name, "expected an RFC 3339 time such as "
					"2026-10-01T00:00:00Z, got \"%s\"", val);
			start = val;
		} else if (!strcmp(name, "--out")) {
			if (!*val)
				return usage_error(name, "expected a file name%s", "");
			out_path = val;
		} else {
			char *end = NULL;
			errno = 0;
			double r = strtod(val, &end);
			if (errno || end == val || *end || !(r >= 0.0 && r <= 1.0))
				return usage_error(name, "expected a number from 0 to 1, got \"%s\"",
						   val);
			o.fraud_rate = r;
		}
	}
	if (kg_time_parse(start, strlen(start), &o.start_ms))
		return usage_error("--start", "bad time \"%s\"", start);

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
