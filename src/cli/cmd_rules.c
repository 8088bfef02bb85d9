/* kagi rules: check a policy file; run data-driven decision cases against
 * it (format in docs/rules.md, "Test cases"). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "guard/guard.h"
#include "store/store.h"
#include "risk/risk.h"

static int cmd_check(const char *path)
{
	kg_err err;
	kg_err_clear(&err);
	kg_policy *p = NULL;
	if (kg_policy_load(path, &p, &err))
		return kg_cli_fail(&err);
	printf("%s: ok, %zu rules\n", path, kg_policy_rule_count(p));
	kg_policy_unref(p);
	return 0;
}

/* ---- case runner -------------------------------------------------------------- */
struct tmpl {
	char name[64];
	json_t *obj;
};

struct runner {
	const char *file;
	int line;
	kg_policy *pol;
	kg_risk *risk;
	char case_name[128];
	struct tmpl tmpls[64];
	int n_tmpls;
	json_t *first;   /* event id -> first decision, per case */
	json_t *last;    /* last decision or error */
	bool last_error;
	int cases, checks, failures;
};

static int fail_at(struct runner *r, const char *fmt, ...) KG_PRINTF(2, 3);
static int fail_at(struct runner *r, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: case \"%s\": ", r->file, r->line, r->case_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	r->failures++;
	return 0;
}

static void show_last(struct runner *r)
{
	char *s = r->last ? json_dumps(r->last, JSON_COMPACT) : NULL;
	fprintf(stderr, "    got: %s\n", s ? s : "(no event yet)");
	free(s);
}

static int new_engine(struct runner *r)
{
	kg_err err;
	kg_err_clear(&err);
	kg_risk_free(r->risk);
	r->risk = NULL;
	json_decref(r->first);
	r->first = json_object();
	json_decref(r->last);
	r->last = NULL;
	if (kg_risk_new(r->pol, NULL, &r->risk, &err))
		return kg_cli_fail(&err);
	return 0;
}

static char *next_word(char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
	if (!**s)
		return NULL;
	char *w = *s;
	while (**s && **s != ' ' && **s != '\t')
		(*s)++;
	if (**s)
		*(*s)++ = '\0';
	return w;
}

static json_t *find_tmpl(struct runner *r, const char *name)
{
	for (int i = 0; i < r->n_tmpls; i++)
		if (!strcmp(r->tmpls[i].name, name))
			return r->tmpls[i].obj;
	return NULL;
}

static int do_event(struct runner *r, char *rest)
{
	while (*rest == ' ')
		rest++;
	json_t *base = NULL;
	if (*rest != '{') {
		char *name = next_word(&rest);
		base = name ? find_tmpl(r, name) : NULL;
		if (!base) {
			fprintf(stderr, "%s:%d: unknown template \"%s\"\n", r->file, r->line,
				name ? name : "");
			return 2;
		}
	}
	json_error_t je;
	json_t *ev = json_loads(rest, JSON_DECODE_ANY, &je);
	if (!ev || !json_is_object(ev)) {
		fprintf(stderr, "%s:%d: bad event JSON: %s\n", r->file, r->line, je.text);
		json_decref(ev);
		return 2;
	}
	json_t *full = base ? json_deep_copy(base) : json_object();
	json_object_update(full, ev);
	json_decref(ev);
	/* a key set to the string "$delete" removes it from the template */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(full, tmp, k, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), "$delete"))
			json_object_del(full, k);
	char *text = json_dumps(full, JSON_COMPACT);
	json_decref(full);
	kg_buf out = KG_BUF_INIT(KG_EVENT_BYTES_MAX * 4);
	kg_err err;
	kg_err_clear(&err);
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	int rc = kg_risk_decide(r->risk, text, strlen(text), &a, &d, &err);
	free(text);
	json_decref(r->last);
	r->last = NULL;
	r->last_error = rc != 0;
	/* the expectations look at the decision as the API writes it */
	if (rc)
		kg_risk_error_json(&err, &out);
	else
		kg_decision_write_json(&d, &out);
	kg_arena_release(&a);
	r->last = json_loadb(out.data, out.len, 0, &je);
	kg_buf_release(&out);
	if (!r->last) {
		fprintf(stderr, "%s:%d: engine wrote invalid JSON: %s\n", r->file, r->line, je.text);
		return 2;
	}
	if (!rc) {
		const char *id = json_string_value(json_object_get(r->last, "event"));
		if (id && !json_object_get(r->first, id))
			json_object_set(r->first, id, r->last);
	}
	return 0;
}

static bool fired(json_t *list, const char *rule)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		const char *n = json_string_value(json_object_get(x, "rule"));
		if (n && !strcmp(n, rule))
			return true;
	}
	return false;
}

/* expect ACTION RULE... : action and exactly these rules among reasons. */
static int check_rules(struct runner *r, json_t *list, char *rest, const char *what)
{
	size_t want = 0;
	for (char *w; (w = next_word(&rest));) {
		want++;
		if (!fired(list, w)) {
			fail_at(r, "expected %s \"%s\" to fire", what, w);
			show_last(r);
			return 0;
		}
	}
	if (json_array_size(list) != want) {
		fail_at(r, "expected %zu %s to fire, %zu did", want, what, json_array_size(list));
		show_last(r);
	}
	return 0;
}

static int do_expect(struct runner *r, const char *cmd, char *rest)
{
	r->checks++;
	if (!r->last)
		return fail_at(r, "%s before any event", cmd);
	if (!strcmp(cmd, "expect-error")) {
		char *field = next_word(&rest);
		json_t *e = json_object_get(r->last, "error");
		if (!r->last_error || !e) {
			fail_at(r, "expected an error");
			show_last(r);
			return 0;
		}
		const char *f = json_string_value(json_object_get(e, "field"));
		const char *m = json_string_value(json_object_get(e, "message"));
		while (*rest == ' ')
			rest++;
		if (!field || !f || strcmp(field, f) || (*rest && (!m || !strstr(m, rest)))) {
			fail_at(r, "expected error on field \"%s\"%s%s", field ? field : "",
				*rest ? " saying " : "", rest);
			show_last(r);
		}
		return 0;
	}
	if (r->last_error) {
		fail_at(r, "the event was refused");
		show_last(r);
		return 0;
	}
	if (!strcmp(cmd, "expect")) {
		char *action = next_word(&rest);
		const char *got = json_string_value(json_object_get(r->last, "action"));
		if (!action || !got || strcmp(action, got)) {
			fail_at(r, "expected action %s", action ? action : "?");
			show_last(r);
			return 0;
		}
		return check_rules(r, json_object_get(r->last, "reasons"), rest, "rules");
	}
	if (!strcmp(cmd, "expect-shadow"))
		return check_rules(r, json_object_get(r->last, "shadow"), rest, "shadow rules");
	if (!strcmp(cmd, "expect-lock")) {
		char *reason = next_word(&rest);
		json_t *lk = json_object_get(r->last, "lock");
		const char *got = json_string_value(json_object_get(lk, "reason"));
		if (!reason || !got || strcmp(reason, got)) {
			fail_at(r, "expected lock reason %s", reason ? reason : "?");
			show_last(r);
		}
		return 0;
	}
	if (!strcmp(cmd, "expect-score")) {
		char *n = next_word(&rest);
		int64_t want;
		json_t *s = json_object_get(r->last, "score");
		if (!n || kg_parse_i64(n, &want) || !json_is_integer(s) ||
		    json_integer_value(s) != want) {
			fail_at(r, "expected score %s", n ? n : "?");
			show_last(r);
		}
		return 0;
	}
	if (!strcmp(cmd, "expect-detail")) {
		while (*rest == ' ')
			rest++;
		char *s = json_dumps(json_object_get(r->last, "reasons"), JSON_COMPACT);
		if (!s || !strstr(s, rest)) {
			fail_at(r, "expected the reasons to contain %s", rest);
			show_last(r);
		}
		free(s);
		return 0;
	}
	if (!strcmp(cmd, "expect-field")) {
		/* expect-field a.b VALUE: the string or integer at a.b */
		char *path = next_word(&rest);
		while (*rest == ' ')
			rest++;
		json_t *x = r->last;
		for (char *part = path ? strtok(path, ".") : NULL; part && x; part = strtok(NULL, "."))
			x = json_object_get(x, part);
		char num[32] = "";
		if (json_is_integer(x))
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(x));
		const char *got = json_is_string(x) ? json_string_value(x) : num[0] ? num : NULL;
		if (!got || strcmp(got, rest)) {
			fail_at(r, "expected %s", rest);
			show_last(r);
		}
		return 0;
	}
	if (!strcmp(cmd, "expect-same")) {
		const char *id = json_string_value(json_object_get(r->last, "event"));
		json_t *first = id ? json_object_get(r->first, id) : NULL;
		if (!first || !json_equal(first, r->last)) {
			fail_at(r, "expected the stored decision of event \"%s\"", id ? id : "?");
			show_last(r);
		}
		return 0;
	}
	fprintf(stderr, "%s:%d: unknown directive \"%s\"\n", r->file, r->line, cmd);
	return 2;
}

static int run_cases(struct runner *r, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	kg_err err;
	kg_err_clear(&err);
	if (kg_read_file(path, 16 * 1024 * 1024, &text, &len, &err))
		return kg_cli_fail(&err);
	r->file = path;
	r->line = 0;
	snprintf(r->case_name, sizeof(r->case_name), "(none)");
	int rc = new_engine(r);
	for (char *line = text, *next; !rc && line && *line; line = next) {
		r->line++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *rest = line;
		char *cmd = next_word(&rest);
		if (!cmd || cmd[0] == '#')
			continue;
		if (!strcmp(cmd, "case")) {
			while (*rest == ' ')
				rest++;
			snprintf(r->case_name, sizeof(r->case_name), "%s", rest);
			r->cases++;
			rc = new_engine(r);
		} else if (!strcmp(cmd, "template")) {
			char *name = next_word(&rest);
			json_error_t je;
			json_t *obj = json_loads(rest, 0, &je);
			if (!name || !obj || r->n_tmpls == (int)KG_ARRAY_LEN(r->tmpls)) {
				fprintf(stderr, "%s:%d: bad template: %s\n", path, r->line, je.text);
				json_decref(obj);
				rc = 2;
				break;
			}
			snprintf(r->tmpls[r->n_tmpls].name, sizeof(r->tmpls[0].name), "%s", name);
			r->tmpls[r->n_tmpls++].obj = obj;
		} else if (!strcmp(cmd, "event")) {
			rc = do_event(r, rest);
		} else if (!strcmp(cmd, "restart")) {
			if (kg_risk_roundtrip_state(r->risk, &err))
				rc = kg_cli_fail(&err);
		} else if (!strncmp(cmd, "expect", 6)) {
			rc = do_expect(r, cmd, rest);
		} else {
			fprintf(stderr, "%s:%d: unknown directive \"%s\"\n", path, r->line, cmd);
			rc = 2;
		}
	}
	free(text);
	return rc;
}

static int cmd_test(const char *policy, int n, char **files)
{
	kg_err err;
	kg_err_clear(&err);
	struct runner r;
	memset(&r, 0, sizeof(r));
	if (kg_policy_load(policy, &r.pol, &err))
		return kg_cli_fail(&err);
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = run_cases(&r, files[i]);
	for (int i = 0; i < r.n_tmpls; i++)
		json_decref(r.tmpls[i].obj);
	json_decref(r.first);
	json_decref(r.last);
	kg_risk_free(r.risk);
	kg_policy_unref(r.pol);
	if (rc)
		return rc;
	printf("%d cases, %d expectations, %d failed\n", r.cases, r.checks, r.failures);
	return r.failures ? 1 : 0;
}

/* kagi rules pending|promote|demote: the gated rollout on the store
 * (docs/guard.md, "Gated rollout"); a running kagid sees a promotion
 * within seconds. */
struct rollout_args {
	const char *db, *config, *policy, *reason;
	int64_t days;
	bool dry_run, force;
};

static int cmd_rollout(const char *verb, int n, char **names, const struct rollout_args *a)
{
	kg_err err;
	kg_err_clear(&err);
	kg_config cfg;
	kg_store *store = NULL;
	kg_policy *p = NULL;
	json_t *j = NULL;
	int rc = kg_cli_setup(a->config, a->db, &cfg, &store, &err);
	rc = rc ? rc : kg_policy_load(a->policy ? a->policy : cfg.policy_file, &p, &err);
	struct kg_guard_params bp;
	kg_guard_params_from_config(&bp, &cfg);
	struct kg_guard_promote_opts o = {
		.rules = (const char *const *)names, .n_rules = (size_t)n, .days = a->days,
		.dry_run = a->dry_run, .force = a->force, .actor = "cli", .reason = a->reason,
		.max_locks_per_day = cfg.rules_promote_max_locks_per_day, .breaker = &bp,
	};
	if (!rc && !strcmp(verb, "pending")) {
		rc = kg_guard_rules_pending(store, p, &j, &err);
		if (!rc)
			json_object_set_new(j, "gate", json_boolean(cfg.rules_gate));
	} else if (!rc && !strcmp(verb, "promote")) {
		rc = kg_guard_promote(store, p, &o, &j, &err);
	} else if (!rc) {
		rc = kg_guard_demote(store, p, &o, &j, &err);
	}
	kg_policy_unref(p);
	kg_store_close(store);
	if (rc)
		return kg_cli_fail(&err);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}

int kg_cmd_rules(int argc, char **argv)
{
	static const char *const verbs[] = {"check", "test", "versions", "pending", "promote",
					    "demote", NULL};
	struct rollout_args ra = {.days = 7};
	const char *db = NULL, *config = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "versions, pending, promote, demote: the store (default: store.path)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "versions, pending, promote, demote: configuration file"},
		{.name = "policy", .kind = KG_CLI_STR, .meta = "FILE", .str = &ra.policy,
		 .help = "pending, promote, demote: the policy file (default: policy.file)"},
		{.name = "days", .kind = KG_CLI_INT, .meta = "N", .num = &ra.days, .min = 1, .max = 366,
		 .help = "promote: back-test over the last N days of stored events (default 7)"},
		{.name = "dry-run", .kind = KG_CLI_FLAG, .flag = &ra.dry_run,
		 .help = "promote, demote: the back-test's figures only, nothing changes"},
		{.name = "force", .kind = KG_CLI_FLAG, .flag = &ra.force,
		 .help = "promote: though the figures refuse it (needs --reason)"},
		{.name = "reason", .kind = KG_CLI_STR, .meta = "TEXT", .str = &ra.reason,
		 .help = "promote, demote: why (audited)"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "rules",
		.usage = "usage: kagi rules check FILE\n"
			 "       kagi rules test FILE CASES...\n"
			 "       kagi rules versions [--db PATH]\n"
			 "       kagi rules pending [--db PATH] [--policy FILE]\n"
			 "       kagi rules promote [--db PATH] [--policy FILE] [--days N] [--dry-run]\n"
			 "                          [--force --reason TEXT] RULE...\n"
			 "       kagi rules demote [--db PATH] [--policy FILE] --reason TEXT RULE...\n",
		.about = "check     compiles a policy file; errors name file:line:column.\n"
			 "test      runs case files (events and expected decisions) against the\n"
			 "          policy; exits 1 when an expectation fails.\n"
			 "versions  the policy versions loaded (GET /v1/rules/versions), newest first.\n"
			 "pending   the policy's rules that run pending (shadow) until promoted.\n"
			 "promote   back-tests the rules over the last days of stored events (locks\n"
			 "          and holds a day they add, whether the breaker would have tripped)\n"
			 "          and makes them live; refused above rules.promote_max_locks_per_day\n"
			 "          or when the breaker would trip, unless --force with a --reason.\n"
			 "demote    runs live rules pending again.\n",
		.opts = opts,
		.verbs = verbs,
		.args = "FILE",
		.min_args = 1,
		.max_args = KG_CLI_MANY,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	ra.db = db, ra.config = config;
	if (!strcmp(argv[1], "pending")) {
		if (nargs != 1)
			return kg_cli_bad(&spec, "pending takes no argument");
		return cmd_rollout(argv[1], 0, NULL, &ra);
	}
	if (!strcmp(argv[1], "promote") || !strcmp(argv[1], "demote")) {
		if (nargs < 2)
			return kg_cli_bad(&spec, "%s needs at least one RULE", argv[1]);
		if (ra.force && (!ra.reason || !*ra.reason))
			return kg_cli_bad(&spec, "--force needs --reason TEXT");
		if (!strcmp(argv[1], "demote") && !ra.dry_run && (!ra.reason || !*ra.reason))
			return kg_cli_bad(&spec, "demote needs --reason TEXT");
		return cmd_rollout(argv[1], nargs - 1, argv + 2, &ra);
	}
	if (!strcmp(argv[1], "versions")) {
		if (nargs != 1)
			return kg_cli_bad(&spec, "versions takes no argument");
		kg_err err;
		kg_err_clear(&err);
		kg_config cfg;
		kg_store *store = NULL;
		json_t *j = NULL;
		int rc = kg_cli_setup(config, db, &cfg, &store, &err);
		rc = rc ? rc : kg_guard_policy_versions(store, &j, &err);
		kg_store_close(store);
		if (rc)
			return kg_cli_fail(&err);
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			kg_cli_print_json_line(json_incref(v));
		json_decref(j);
		return 0;
	}
	if (nargs < 2)
		return kg_cli_bad(&spec, "%s needs a policy FILE", argv[1]);
	if (!strcmp(argv[1], "check")) {
		if (nargs != 2)
			return kg_cli_bad(&spec, "check takes one FILE");
		return cmd_check(argv[2]);
	}
	if (nargs < 3)
		return kg_cli_bad(&spec, "test needs a policy FILE and case files");
	return cmd_test(argv[2], nargs - 2, argv + 3);
}
