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

/* A rule's name as a counter label (names are short; a longer one is cut). */
static void label_of(kg_str s, char out[KG_COUNTER_VALUE_MAX])
{
	size_t n = s.n < KG_COUNTER_VALUE_MAX - 1 ? s.n : KG_COUNTER_VALUE_MAX - 1;
	memcpy(out, s.p, n);
	out[n] = '\0';
}

void kg_risk_metrics_count(const struct kg_decision *d)
{
	const char *action = kg_action_names[d->action];
	char name[KG_COUNTER_VALUE_MAX];
	kg_counters_add(&decisions, action, NULL, 1);
	if (d->has_lock)
		kg_counters_add(&lock_decisions, d->lock.reason, NULL, 1);
	for (uint32_t i = 0; i < d->n_reasons; i++) {
		label_of(d->reasons[i].rule, name);
		kg_counters_add(&rule_decisions, name, action, 1);
	}
	for (uint32_t i = 0; i < d->n_shadow; i++) {
		label_of(d->shadow[i].rule, name);
		kg_counters_add(&shadow_fired, name, NULL, 1);
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
