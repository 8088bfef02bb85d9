/* The vocabulary of locks: reasons and lift methods, one table each (names
 * used in policies, the API, the store and the notices). Not here: which
 * method may lift which lock (account/lock.c). */
#include "base/base.h"

#include <string.h>

static const char *const reason_names[KG_LOCK_REASON_COUNT] = {
	[KG_LOCK_SYSTEM_ERROR] = "system_error",   [KG_LOCK_GIFT_CARD] = "gift_card",
	[KG_LOCK_RETURN_ABUSE] = "return_abuse",   [KG_LOCK_PAYMENT_FRAUD] = "payment_fraud",
	[KG_LOCK_COMPROMISED] = "compromised",     [KG_LOCK_BRUTE_FORCE] = "brute_force",
	[KG_LOCK_MISUSE] = "misuse",               [KG_LOCK_MANUAL] = "manual",
};

static const struct {
	const char *name;   /* API, store, audit */
	const char *notice; /* the unlock notice's method */
} methods[KG_LIFT_METHOD_COUNT] = {
	[KG_LIFT_SUPPORT] = {"support", "identity_check"},
	[KG_LIFT_ADMIN] = {"admin", "support"},
	[KG_LIFT_PASSWORD_RESET] = {"password_reset", "password_reset"},
	[KG_LIFT_EXPIRY] = {"expiry", "expired"},
	[KG_LIFT_REVERT] = {"revert", "incident_revert"},
};

const char *kg_lock_reason_name(enum kg_lock_reason r)
{
	return (unsigned)r < KG_LOCK_REASON_COUNT ? reason_names[r] : NULL;
}

const char *kg_lift_method_name(enum kg_lift_method m)
{
	return (unsigned)m < KG_LIFT_METHOD_COUNT ? methods[m].name : NULL;
}

const char *kg_lift_method_notice_word(enum kg_lift_method m)
{
	return (unsigned)m < KG_LIFT_METHOD_COUNT ? methods[m].notice : NULL;
}

int kg_lock_reason_parse_n(const char *name, size_t len, enum kg_lock_reason *out)
{
	for (int i = 0; name && i < KG_LOCK_REASON_COUNT; i++)
		if (strlen(reason_names[i]) == len && !memcmp(name, reason_names[i], len)) {
			*out = (enum kg_lock_reason)i;
			return 0;
		}
	return KG_EINVAL;
}

int kg_lock_reason_parse(const char *name, enum kg_lock_reason *out)
{
	return name ? kg_lock_reason_parse_n(name, strlen(name), out) : KG_EINVAL;
}

int kg_lift_method_parse(const char *name, enum kg_lift_method *out)
{
	for (int i = 0; name && i < KG_LIFT_METHOD_COUNT; i++)
		if (!strcmp(name, methods[i].name)) {
			*out = (enum kg_lift_method)i;
			return 0;
		}
	return KG_EINVAL;
}
