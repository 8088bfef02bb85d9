/* kagi audit: checks the hash chains of the audit log (every account, or
 * one) and lists an account's entries. Verification is the store's. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char usage[] =
	"usage: kagi audit verify --db PATH [--config FILE] [ACCOUNT]\n"
	"       kagi audit list --db PATH [--config FILE] ACCOUNT\n"
	"\n"
	"verify: recomputes the BLAKE2b hash chain of ACCOUNT (or of every account)\n"
	"and prints each altered, inserted or removed entry as\n"
	"\"KIND ACCOUNT seq N: DETAIL\", then a summary. Exit status 0 when intact,\n"
	"1 when anything was found or the check could not run.\n"
	"list: prints the account's entries as JSON lines, oldest first.\n";

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

struct list_read {
	const char *account_id;
	kg_arena *a;
	kg_audit_entry *e;
	size_t n;
};

static int list_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct list_read *r = ctx;
	return kg_tx_audit_list(tx, r->account_id, 0, 0, r->a, &r->e, &r->n, err);
}

int kg_cmd_audit(int argc, char **argv)
{
	const char *db = NULL, *config = NULL;
	const char *pos[2] = {NULL, NULL};
	size_t np = 0;
	const struct kg_cli_opt opts[] = {
		{"db", &db, NULL}, {"config", &config, NULL}, {NULL, NULL, NULL},
	};
	if (kg_cli_wants_help(argc, argv))
		return kg_cli_usage(usage, 0);
	if (kg_cli_args(argc, argv, opts, pos, 2, &np, usage))
		return 2;
	bool verify = np >= 1 && !strcmp(pos[0], "verify");
	bool list = np == 2 && !strcmp(pos[0], "list");
	if (!db || (!verify && !list))
		return kg_cli_usage(usage, 2);
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
		rc = kg_store_audit_verify(store, pos[1], &rep, on_problem, &p, &err);
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
		struct list_read r = {pos[1], &a, NULL, 0};
		rc = kg_store_read(store, list_read, &r, &err);
		for (size_t i = 0; !rc && i < r.n; i++) {
			char t[KG_TIME_STR_MAX];
			json_t *d = r.e[i].detail ? json_loads(r.e[i].detail, JSON_DECODE_ANY, NULL) : NULL;
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:o}", "seq", (json_int_t)r.e[i].seq, "ts",
					      kg_time_format(r.e[i].ts_ms, t), "actor", r.e[i].actor, "action",
					      r.e[i].action, "detail", d ? d : json_null());
			kg_cli_print_json_line(o);
		}
		kg_arena_release(&a);
	}
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	return status;
}
