/* The lock state machine: kinds, remedies and which method may lift which
 * lock (the names of reasons and methods: base/vocab.c). Pure: no storage, no clock of its own. */
#include "account/account.h"

#include <string.h>

enum kg_lock_kind kg_lock_reason_kind(enum kg_lock_reason r)
{
	return r == KG_LOCK_MISUSE ? KG_LOCK_KIND_MISUSE : KG_LOCK_KIND_PRECAUTION;
}

int kg_lock_reset_mask(const char *list, uint32_t *mask_out, kg_err *err)
{
	uint32_t mask = 0;
	const char *p = list ? list : "";
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n == 0)
			break;
		char name[32];
		if (n >= sizeof(name))
			return kg_err_set(err, KG_EINVAL, "policy.reset_lifts: unknown lock reason \"%.*s\"",
					  (int)n, p);
		memcpy(name, p, n);
		name[n] = '\0';
		enum kg_lock_reason r;
		if (kg_lock_reason_parse(name, &r))
			return kg_err_set(err, KG_EINVAL, "policy.reset_lifts: unknown lock reason \"%s\"",
					  name);
		if (r == KG_LOCK_MISUSE)
			return kg_err_set(err, KG_EINVAL,
					  "policy.reset_lifts: \"misuse\" locks are lifted only by support");
		mask |= 1u << r;
		p += n;
	}
	*mask_out = mask;
	return 0;
}

static bool expired(const kg_lock_state *l, int64_t now_ms)
{
	return l->expires_ms > 0 && now_ms >= l->expires_ms;
}

bool kg_lock_active(const kg_lock_state *l, int64_t now_ms)
{
	return l->lifted_ms == 0 && !expired(l, now_ms);
}

int kg_lock_can_lift(const kg_lock_state *l, enum kg_lift_method method,
		     uint32_t reset_mask, int64_t now_ms, kg_err *err)
{
	const char *reason = kg_lock_reason_name(l->reason);
	if (!reason || (unsigned)method >= KG_LIFT_METHOD_COUNT)
		return kg_err_set(err, KG_EINVAL, "unknown lock reason or lift method");
	if (l->lifted_ms)
		return kg_err_set(err, KG_ECONFLICT, "the lock was already lifted");
	if (method == KG_LIFT_EXPIRY) {
		if (!expired(l, now_ms))
			return kg_err_set(err, KG_EFORBIDDEN, "a %s lock does not expire now", reason);
		return 0;
	}
	if (expired(l, now_ms))
		return kg_err_set(err, KG_ECONFLICT, "the lock has already expired");
	switch (method) {
	case KG_LIFT_SUPPORT:
	case KG_LIFT_ADMIN:
	case KG_LIFT_REVERT:
		return 0;
	case KG_LIFT_PASSWORD_RESET:
		if (l->reason == KG_LOCK_MISUSE)
			return kg_err_set(err, KG_EFORBIDDEN, "a misuse lock is lifted only by support");
		if (!(reset_mask & (1u << l->reason)))
			return kg_err_set(err, KG_EFORBIDDEN,
					  "policy does not let a password reset lift a %s lock", reason);
		return 0;
	default:
		return kg_err_set(err, KG_EINVAL, "unknown lift method");
	}
}
