/* kagi audit: checks the hash chains of the audit log (every account, or
 * one) and lists an account's entries. Verification is the store's. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

struct problems {
	int64_t n;
};

static void on_problem(void *ctx, const char *account_id, int64_t seq, const char *kind,
		       const char *detail)
{
	struct problems *p = ctx;
	p->n++;
	printf("%s %s seq %lld: %s\n", kind, account_id && *account_id ? account_id : "(system)",
	       (long long)seq, detail ? detail : "");
}

int kg_cmd_audit(int argc, char **argv)
{
	const char *db = NULL, *config = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db, .required = true,
		 .help = "the SQLite store"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file"},
		{NULL},
	};
	static const char *const verbs[] = {"verify", "list", NULL};
	const struct kg_cli_spec spec = {
		.name = "audit",
		.usage = "usage: kagi audit verify --db PATH [--config FILE] [ACCOUNT]\n"
			 "       kagi audit list --db PATH [--config FILE] ACCOUNT\n",
		.about = "verify: recomputes the BLAKE2b hash chain of ACCOUNT (or of every account)\n"
			 "and prints each altered, inserted or removed entry as\n"
			 "\"KIND ACCOUNT seq N: DETAIL\", then a summary. Exit status 0 when intact,\n"
			 "1 when anything was found or the check could not run.\n"
			 "list: prints the account's entries as JSON lines, oldest first (ACCOUNT\n"
			 "\"\" is the system-wide chain: keys, lists).\n",
		.opts = opts,
		.verbs = verbs,
		.min_args = 1,
		.max_args = 2,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	bool verify = !strcmp(argv[1], "verify");
	if (!verify && nargs != 2)
		return kg_cli_bad(&spec, "list needs an ACCOUNT");
	const char *account = nargs == 2 ? argv[2] : NULL;
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	int rc = kg_cli_setup(config, db, &cfg, &store, &err);
	if (rc)
		return kg_cli_fail(&err);
	int status = 0;
	if (verify) {
		kg_audit_report rep;
		struct problems p = {0};
		memset(&rep, 0, sizeof(rep));
		rc = kg_store_audit_verify(store, account, &rep, on_problem, &p, &err);
		if (!rc) {
			printf("%lld chains, %lld entries: %lld altered, %lld inserted, %lld removed\n",
			       (long long)rep.accounts, (long long)rep.entries, (long long)rep.altered,
			       (long long)rep.inserted, (long long)rep.removed);
			status = rep.altered || rep.inserted || rep.removed ? 1 : 0;
			if (!status)
				printf("intact\n");
		}
	} else {
		kg_arena a;
		kg_arena_init(&a, 64 * 1024);
		kg_audit_entry *e = NULL;
		size_t n = 0;
		rc = kg_store_audit_list(store, account, &a, &e, &n, &err);
		for (size_t i = 0; !rc && i < n; i++) {
			char t[KG_TIME_STR_MAX];
			json_t *d = e[i].detail ? json_loads(e[i].detail, JSON_DECODE_ANY, NULL) : NULL;
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)e[i].seq, "ts",
					      kg_time_format(e[i].ts_ms, t), "actor", e[i].actor, "action",
					      e[i].action, "detail", d ? d : json_null());
			kg_cli_print_json_line(o);
		}
		kg_arena_release(&a);
	}
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	return status;
}
