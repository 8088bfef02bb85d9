/* The live engine's decision counters (src/risk/metrics.c), internal to
 * src/risk: the engine counts each new decision once, where its action and
 * fired rules are known. kagid renders them through kg_risk_metrics_render
 * (risk.h). */
#ifndef KG_RISK_METRICS_H
#define KG_RISK_METRICS_H

#include "risk/risk_impl.h"

/* Counts one new decision: its action, the lock reason of a lock, each rule
 * that fired, and each shadow rule that would have. */
void kg_risk_metrics_count(const struct kg_decision *d);

#endif
