/* Private to src/guard: what breaker.c, incident.c and versions.c share. */
#ifndef KG_GUARD_IMPL_H
#define KG_GUARD_IMPL_H

#include "guard/guard.h"

#define KG_GUARD_KEY_MAX 192

/* One entry in the system-wide audit chain (detail consumed). */
int kg_guard_audit(kg_tx *tx, const char *actor, const char *action, json_t *detail,
		   kg_err *err);
/* A webhook not about one account (data consumed). */
int kg_guard_webhook(kg_tx *tx, const char *type, json_t *data, kg_err *err);
/* The detector's baseline floor for rule ("*": all rules). */
double kg_guard_floor(const char *rule);
/* "<rule>|<minute, 12 digits>": the key of a bucket row. */
void kg_guard_key_bucket(char out[KG_GUARD_KEY_MAX], const char *rule, int64_t minute);
/* The likely cause of a trip of rules at now_ms (wall clock): the newest
 * policy version loaded in the 24 h before that changed one of the rules,
 * as {"rule","version","changed_at"}; NULL when none (or on error). */
json_t *kg_guard_suspect(kg_tx *tx, json_t *rules, int64_t now_ms, kg_arena *a, kg_err *err);

#endif
