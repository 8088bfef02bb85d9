/* Normalised comparison of names and addresses: NFKC with case folding
 * (ICU's nfkc_cf), dash/hyphen variants as '-', white-space runs as one
 * space, trimmed. ASCII text takes a fast path with the same result, and
 * so does text whose other characters are all inert under nfkc_cf (ICU's
 * unorm2_isInert: unchanged, and never combining with a neighbour), such
 * as kanji and kana: nfkc_cf leaves such a text as it is. */
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include "risk/risk.h"

static bool is_dash(UChar32 c)
{
	switch (c) {
	case 0x2d: case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2043: case 0x2212: case 0x02d7: case 0xfe58: case 0xfe63:
	case 0xff0d: case 0x30fc: case 0xff70: case 0x2500: case 0x2501:
		return true;
	default:
		return false;
	}
}

/* Output gathered on the stack and appended in pieces (a kg_buf append
 * per character cost more than the rest of the ASCII path). */
struct wr {
	kg_buf *out;
	int rc;
	size_t n;
	char b[256];
};

static void wr_flush(struct wr *w)
{
	if (w->n && !w->rc)
		w->rc = kg_buf_append(w->out, w->b, w->n);
	w->n = 0;
}

static inline void wr_putc(struct wr *w, char c)
{
	if (w->n == sizeof(w->b))
		wr_flush(w);
	w->b[w->n++] = c;
}

static void put_cp(struct wr *w, UChar32 c)
{
	if (c < 0x80) {
		wr_putc(w, (char)c);
	} else if (c < 0x800) {
		wr_putc(w, (char)(0xc0 | c >> 6));
		wr_putc(w, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		wr_putc(w, (char)(0xe0 | c >> 12));
		wr_putc(w, (char)(0x80 | (c >> 6 & 0x3f)));
		wr_putc(w, (char)(0x80 | (c & 0x3f)));
	} else {
		wr_putc(w, (char)(0xf0 | c >> 18));
		wr_putc(w, (char)(0x80 | (c >> 12 & 0x3f)));
		wr_putc(w, (char)(0x80 | (c >> 6 & 0x3f)));
		wr_putc(w, (char)(0x80 | (c & 0x3f)));
	}
}

static int norm_ascii(const char *s, size_t len, kg_buf *out)
{
	struct wr w = {.out = out};
	bool space = false, any = false;
	for (size_t i = 0; i < len && !w.rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f && c != 0x1f)) {
			space = any;
			continue;
		}
		if (space)
			wr_putc(&w, ' ');
		space = false;
		any = true;
		wr_putc(&w, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
	}
	wr_flush(&w);
	return w.rc;
}

/* The text s when every non-ASCII character is inert under nf (else
 * false, and nothing written): nf leaves it as it is but for the ASCII
 * capitals, so the spaces and dashes are done as after nf below. */
static bool norm_inert(const UNormalizer2 *nf, const char *s, size_t len, kg_buf *out, int *rc)
{
	const uint8_t *u = (const uint8_t *)s;
	int32_t n = (int32_t)len;
	for (int32_t i = 0; i < n;) {
		UChar32 c;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		U8_NEXT(u, i, n, c);
		if (c < 0 || !unorm2_isInert(nf, c))
			return false;
	}
	bool space = false, any = false;
	struct wr w = {.out = out};
	for (int32_t i = 0; i < n && !w.rc;) {
		int32_t at = i;
		UChar32 c;
		U8_NEXT(u, i, n, c);
		if (u_isUWhiteSpace(c) || c == 0x1c || c == 0x1d || c == 0x1e) {
			space = any;
			continue;
		}
		if (space)
			wr_putc(&w, ' ');
		space = false;
		any = true;
		if (c < 0x80)
			wr_putc(&w, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c));
		else if (is_dash(c))
			wr_putc(&w, '-');
		else
			for (; at < i; at++)
				wr_putc(&w, (char)u[at]);
	}
	wr_flush(&w);
	*rc = w.rc;
	return true;
}

int kg_risk_normalize(const char *s, size_t len, kg_buf *out)
{
	size_t i = 0;
	while (i < len && (unsigned char)s[i] < 0x80)
		i++;
	if (i == len)
		return norm_ascii(s, len, out);
	if (len > KG_EVENT_BYTES_MAX)
		return KG_ELIMIT;

	UErrorCode ec = U_ZERO_ERROR;
	const UNormalizer2 *nf = unorm2_getNFKCCasefoldInstance(&ec);
	if (U_FAILURE(ec))
		return KG_EINTERNAL;
	int rc = 0;
	if (norm_inert(nf, s, len, out, &rc))
		return rc;
	UChar stack_a[512], stack_b[1024];
	UChar *a = stack_a, *b = stack_b;
	int32_t alen = 0, cap_b = (int32_t)KG_ARRAY_LEN(stack_b);
	if (len >= KG_ARRAY_LEN(stack_a)) {
		a = malloc((len + 1) * sizeof(UChar));
		b = malloc((len * 4 + 16) * sizeof(UChar));
		cap_b = (int32_t)(len * 4 + 16);
		if (!a || !b) {
			rc = KG_ENOMEM;
			goto cleanup;
		}
	}
	u_strFromUTF8WithSub(a, (int32_t)len + 1, &alen, s, (int32_t)len, 0xfffd, NULL, &ec);
	if (U_FAILURE(ec)) {
		rc = KG_EINVAL;
		goto cleanup;
	}
	int32_t blen = unorm2_normalize(nf, a, alen, b, cap_b, &ec);
	if (U_FAILURE(ec)) {
		rc = KG_ELIMIT;
		goto cleanup;
	}
	bool space = false, any = false;
	struct wr w = {.out = out};
	for (int32_t k = 0; k < blen && !w.rc;) {
		UChar32 c;
		U16_NEXT(b, k, blen, c);
		if (u_isUWhiteSpace(c) || c == 0x1c || c == 0x1d || c == 0x1e) {
			space = any;
			continue;
		}
		if (space)
			wr_putc(&w, ' ');
		space = false;
		any = true;
		put_cp(&w, is_dash(c) ? '-' : c);
	}
	wr_flush(&w);
	rc = w.rc;
cleanup:
	if (a != stack_a)
		free(a);
	if (b != stack_b)
		free(b);
	return rc;
}
