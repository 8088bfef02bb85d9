/* The lock state machine: reasons, kinds, lift methods and which method may
 * lift which lock. Pure: no storage, no clock of its own. */
#include "account/account.h"

#include <string.h>

static const char *const reason_names[KG_LOCK_REASON_COUNT] = {
	[KG_LOCK_SYSTEM_ERROR] = "system_error",   [KG_LOCK_GIFT_CARD] = "gift_card",
	[KG_LOCK_RETURN_ABUSE] = "return_abuse",   [KG_LOCK_PAYMENT_FRAUD] = "payment_fraud",
	[KG_LOCK_COMPROMISED] = "compromised",     [KG_LOCK_BRUTE_FORCE] = "brute_force",
	[KG_LOCK_MISUSE] = "misuse",               [KG_LOCK_MANUAL] = "manual",
};

static const char *const method_names[KG_LIFT_METHOD_COUNT] = {
	[KG_LIFT_SUPPORT] = "support",
	[KG_LIFT_ADMIN] = "admin",
	[KG_LIFT_PASSWORD_RESET] = "password_reset",
	[KG_LIFT_EXPIRY] = "expiry",
	[KG_LIFT_REVERT] = "revert",
};

const char *kg_lock_reason_name(enum kg_lock_reason r)
{
	return (unsigned)r < KG_LOCK_REASON_COUNT ? reason_names[r] : NULL;
}

const char *kg_lift_method_name(enum kg_lift_method m)
{
	return (unsigned)m < KG_LIFT_METHOD_COUNT ? method_names[m] : NULL;
}

int kg_lock_reason_parse(const char *name, enum kg_lock_reason *out)
{
	for (int i = 0; name && i < KG_LOCK_REASON_COUNT; i++)
		if (!strcmp(name, reason_names[i])) {
			*out = (enum kg_lock_reason)i;
			return 0;
		}
	return KG_EINVAL;
}

int kg_lift_method_parse(const char *name, enum kg_lift_method *out)
{
	for (int i = 0; name && i < KG_LIFT_METHOD_COUNT; i++)
		if (!strcmp(name, method_names[i])) {
			*out = (enum kg_lift_method)i;
			return 0;
		}
	return KG_EINVAL;
}

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
