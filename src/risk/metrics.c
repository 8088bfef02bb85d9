/* Decisions of the live engine (the one with a store: kagid's) by action,
 * by rule and action, lock decisions by reason, and shadow rules that would
 * have fired — lock-free counters (base/counters.h), counted once per new
 * decision (a repeated event answers its stored decision and is not counted
 * again). A back-test's engine has no store and counts nothing. Rendered
 * for GET /metrics. */
#include "risk/metrics.h"

#include <string.h>

#include "base/counters.h"
#include "risk/risk.h"

static kg_counters decisions = KG_COUNTERS_INIT(
	"kagi_risk_decisions_total", "New decisions of the live engine, by action.", "action", NULL);
static kg_counters rule_decisions = KG_COUNTERS_INIT(
	"kagi_risk_rule_decisions_total",
	"New decisions a rule fired in, by rule and the decision's action (rule \"score\": a score threshold).",
	"rule", "action");
static kg_counters lock_decisions = KG_COUNTERS_INIT(
	"kagi_risk_lock_decisions_total",
	"New lock decisions by lock reason (a decision while a lock of its reason stands names that lock).",
	"reason", NULL);
static kg_counters shadow_fired = KG_COUNTERS_INIT(
	"kagi_risk_shadow_rules_fired_total", "Shadow rules that would have fired, by rule.", "rule", NULL);

void kg_risk_metrics_count(const struct kg_verdict *v)
{
	const char *action = kg_action_names[v->action];
	kg_counters_add(&decisions, action, NULL, 1);
	if (v->action == KG_ACT_LOCK)
		kg_counters_add(&lock_decisions, v->lock_reason, NULL, 1);
	/* v->rules: one name a line, a shadow rule's name followed by \001shadow */
	const char *p = v->rules.data, *end = p ? p + v->rules.len : NULL;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *mark = memchr(p, '\x01', n);
		char name[KG_COUNTER_VALUE_MAX];
		size_t len = mark ? (size_t)(mark - p) : n;
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (len && mark)
			kg_counters_add(&shadow_fired, name, NULL, 1);
		else if (len)
			kg_counters_add(&rule_decisions, name, action, 1);
		p += n + 1;
	}
}

int kg_risk_metrics_render(kg_buf *out)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(kg_action_names); i++) /* every action, 0 until seen */
		kg_counters_add(&decisions, kg_action_names[i], NULL, 0);
	int rc = kg_counters_render(&decisions, out);
	rc = rc ? rc : kg_counters_render(&rule_decisions, out);
	rc = rc ? rc : kg_counters_render(&lock_decisions, out);
	return rc ? rc : kg_counters_render(&shadow_fired, out);
}
