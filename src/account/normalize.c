/* Text normalisation for identity checks: ICU NFKC with case folding (which
 * also folds full/half width), hyphen variants to '-', white space runs to
 * one space. Addresses compare by postal code digits and compact lines. */
#include "account/account.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#define NORM_IN_MAX (64 * 1024)

static bool is_hyphen(UChar32 c)
{
	return (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x2043 || c == 0xFE58 ||
	       c == 0xFE63 || c == 0xFF0D || c == 0x30FC || c == 0xFF70 || c == 0x2500 ||
	       c == 0x2501 || c == 0x02D7 || c == 0x2E3A || c == 0x2E3B;
}

enum mode { M_SPACED, M_COMPACT, M_DIGITS };

static int put_cp(kg_buf *out, UChar32 c)
{
	char u[4];
	int n = 0;
	if (c < 0x80) {
		u[n++] = (char)c;
	} else if (c < 0x800) {
		u[n++] = (char)(0xC0 | (c >> 6));
		u[n++] = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		u[n++] = (char)(0xE0 | (c >> 12));
		u[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[n++] = (char)(0x80 | (c & 0x3F));
	} else {
		u[n++] = (char)(0xF0 | (c >> 18));
		u[n++] = (char)(0x80 | ((c >> 12) & 0x3F));
		u[n++] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[n++] = (char)(0x80 | (c & 0x3F));
	}
	return kg_buf_append(out, u, (size_t)n);
}

static int normalize(const char *in, size_t len, kg_buf *out, enum mode mode)
{
	UErrorCode st = U_ZERO_ERROR;
	UChar *src = NULL, *dst = NULL;
	int rc = 0;
	kg_buf_reset(out);
	if (kg_buf_append(out, "", 0))
		return KG_ENOMEM;
	if (!in || len == 0)
		return 0;
	if (len > NORM_IN_MAX)
		return KG_ELIMIT;
	const UNormalizer2 *nfkc_cf = unorm2_getNFKCCasefoldInstance(&st);
	if (U_FAILURE(st))
		return KG_EINTERNAL;
	int32_t slen = 0;
	src = malloc((len + 1) * sizeof(UChar));
	if (!src)
		return KG_ENOMEM;
	u_strFromUTF8WithSub(src, (int32_t)len + 1, &slen, in, (int32_t)len, 0xFFFD, NULL, &st);
	if (U_FAILURE(st)) {
		rc = KG_EINVAL;
		goto cleanup;
	}
	int32_t cap = slen * 4 + 16;
	dst = malloc((size_t)cap * sizeof(UChar));
	if (!dst) {
		rc = KG_ENOMEM;
		goto cleanup;
	}
	int32_t dlen = unorm2_normalize(nfkc_cf, src, slen, dst, cap, &st);
	if (U_FAILURE(st)) {
		rc = KG_EINTERNAL;
		goto cleanup;
	}
	bool pending_space = false;
	for (int32_t i = 0; i < dlen;) {
		UChar32 c;
		U16_NEXT(dst, i, dlen, c);
		if (u_isUWhiteSpace(c) || c == 0x3000) {
			pending_space = true;
			continue;
		}
		if (mode == M_DIGITS) {
			if (c >= '0' && c <= '9' && (rc = put_cp(out, c)))
				goto cleanup;
			continue;
		}
		if (mode == M_COMPACT && (c == ',' || c == 0x3001 || c == '.' || c == 0x3002))
			continue;
		if (is_hyphen(c))
			c = '-';
		if (pending_space && mode == M_SPACED && out->len > 0 && (rc = put_cp(out, ' ')))
			goto cleanup;
		pending_space = false;
		if ((rc = put_cp(out, c)))
			goto cleanup;
	}
cleanup:
	free(src);
	free(dst);
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
