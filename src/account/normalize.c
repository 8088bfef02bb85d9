/* Text normalisation for identity checks: the same normalisation as the
 * risk engine's name and address comparisons (kg_risk_normalize: ICU NFKC
 * with case folding, hyphen variants, white-space runs), plus a compact form
 * and postal-code digits. Addresses compare by postal code and compact
 * lines. */
#include "account/account.h"

#include <string.h>

#include "risk/risk.h"

#define NORM_IN_MAX (64 * 1024)

enum mode { M_SPACED, M_COMPACT, M_DIGITS };

static int normalize(const char *in, size_t len, kg_buf *out, enum mode mode)
{
	kg_buf_reset(out);
	if (kg_buf_append(out, "", 0))
		return KG_ENOMEM;
	if (!in || len == 0)
		return 0;
	if (len > NORM_IN_MAX)
		return KG_ELIMIT;
	kg_buf n = KG_BUF_INIT(NORM_IN_MAX * 4);
	int rc = kg_risk_normalize(in, len, &n);
	for (size_t i = 0; !rc && i < n.len; i++) {
		const char *p = n.data + i;
		if (mode == M_SPACED) {
			rc = kg_buf_putc(out, *p);
		} else if (mode == M_DIGITS) {
			if (*p >= '0' && *p <= '9')
				rc = kg_buf_putc(out, *p);
		} else if (!strncmp(p, "\xe3\x80\x81", 3) || !strncmp(p, "\xe3\x80\x82", 3)) {
			i += 2; /* 、。 */
		} else if (*p != ' ' && *p != ',' && *p != '.') {
			rc = kg_buf_putc(out, *p);
		}
	}
	kg_buf_release(&n);
	return rc;
}

int kg_text_normalize(const char *in, size_t len, kg_buf *out)
{
	return normalize(in, len, out, M_SPACED);
}

int kg_text_normalize_compact(const char *in, size_t len, kg_buf *out)
{
	return normalize(in, len, out, M_COMPACT);
}

int kg_postal_normalize(const char *in, size_t len, kg_buf *out)
{
	return normalize(in, len, out, M_DIGITS);
}

static bool norm_equal(const char *a, const char *b, enum mode mode)
{
	kg_buf x = KG_BUF_INIT(NORM_IN_MAX * 4), y = KG_BUF_INIT(NORM_IN_MAX * 4);
	bool eq = false;
	a = a ? a : "";
	b = b ? b : "";
	if (!normalize(a, strlen(a), &x, mode) && !normalize(b, strlen(b), &y, mode))
		eq = x.len == y.len && kg_ct_equal(x.data, y.data, x.len);
	kg_buf_release(&x);
	kg_buf_release(&y);
	return eq;
}

bool kg_text_equal(const char *a, const char *b)
{
	return norm_equal(a, b, M_SPACED);
}

static int address_lines(const kg_address *a, kg_buf *out)
{
	const char *parts[] = {a->region, a->city, a->line1, a->line2};
	for (size_t i = 0; i < KG_ARRAY_LEN(parts); i++)
		if (parts[i] && (kg_buf_puts(out, parts[i]) || kg_buf_putc(out, ' ')))
			return KG_ENOMEM;
	return kg_buf_puts(out, "");
}

bool kg_address_equal(const kg_address *a, const kg_address *b)
{
	kg_buf la = KG_BUF_INIT(NORM_IN_MAX), lb = KG_BUF_INIT(NORM_IN_MAX);
	bool eq = false;
	if (address_lines(a, &la) || address_lines(b, &lb))
		goto cleanup;
	/* Evaluate both comparisons: the time does not say which one failed. */
	bool postal = norm_equal(a->postal_code, b->postal_code, M_DIGITS);
	bool lines = norm_equal(la.data, lb.data, M_COMPACT);
	eq = postal & lines;
cleanup:
	kg_buf_release(&la);
	kg_buf_release(&lb);
	return eq;
}
