/* The identity check's comparisons: a registered account's strings handed to
 * base's one text and address equality (kg_text_same, kg_address_same), the
 * same that the rules' same() uses. Nothing here decides what is the same. */
#include "account/account.h"

#include <string.h>

static kg_str str_of(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return (kg_str){s ? s : "", n > UINT32_MAX ? UINT32_MAX : (uint32_t)n};
}

bool kg_account_text_same(const char *a, const char *b)
{
	kg_str x = str_of(a), y = str_of(b);
	return kg_text_same(x.p, x.n, y.p, y.n);
}

bool kg_account_address_same(const kg_address *a, const kg_address *b)
{
	kg_addr_text x = {str_of(a->postal_code), str_of(a->region), str_of(a->city),
			  str_of(a->line1), str_of(a->line2), str_of(a->country)};
	kg_addr_text y = {str_of(b->postal_code), str_of(b->region), str_of(b->city),
			  str_of(b->line1), str_of(b->line2), str_of(b->country)};
	return kg_address_same(&x, &y);
}
