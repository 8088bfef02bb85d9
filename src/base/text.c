/* The one meaning of "the same text" and "the same address", for the rules
 * (same(), the address entity) and the identity check alike: text is NFKC
 * with case folding (ICU's nfkc_cf), dash/hyphen variants as '-', white-space
 * runs as one space, trimmed (ASCII, and text whose other characters are
 * all inert under nfkc_cf such as kanji and kana, take fast paths with the
 * same result);
 * an address is its postal-code digits and its lines run together, with the
 * Japanese block-number forms (1丁目2番地3号, 一丁目, 2番地の3) written as
 * 1-2-3 (docs/rules.md, "Normalised comparison"). Not a fuzzy match: two
 * spellings are the same or not. */
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include "base/base.h"
#include "base/limits.h"

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

/* One character of the normal form: a run of white space is one space
 * between two others, none at either end. */
struct spacing {
	bool space, any;
};

static inline void put_norm(struct wr *w, struct spacing *sp, bool white, UChar32 c)
{
	if (white) {
		sp->space = sp->any;
		return;
	}
	if (sp->space)
		wr_putc(w, ' ');
	sp->space = false;
	sp->any = true;
	put_cp(w, c);
}

static int norm_ascii(const char *s, size_t len, kg_buf *out)
{
	struct wr w = {.out = out};
	struct spacing sp = {false, false};
	for (size_t i = 0; i < len && !w.rc; i++) {
		unsigned char c = (unsigned char)s[i];
		bool white = c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1e);
		put_norm(&w, &sp, white, c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	wr_flush(&w);
	return w.rc;
}

/* The text s when every non-ASCII character is inert under nf (else
 * false, and nothing written): nf leaves such a text as it is but for the
 * ASCII capitals (ICU's unorm2_isInert: unchanged, and never combining
 * with a neighbour; kanji and kana are), so it skips ICU's conversion and
 * normalisation with the same result. */
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
	struct spacing sp = {false, false};
	struct wr w = {.out = out};
	for (int32_t i = 0; i < n && !w.rc;) {
		UChar32 c;
		U8_NEXT(u, i, n, c);
		bool white = u_isUWhiteSpace(c) || c == 0x1c || c == 0x1d || c == 0x1e;
		if (c >= 'A' && c <= 'Z')
			c += 32;
		put_norm(&w, &sp, white, is_dash(c) ? '-' : c);
	}
	wr_flush(&w);
	*rc = w.rc;
	return true;
}

int kg_text_normalize(const char *s, size_t len, kg_buf *out)
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
	struct spacing sp = {false, false};
	struct wr w = {.out = out};
	for (int32_t k = 0; k < blen && !w.rc;) {
		UChar32 c;
		U16_NEXT(b, k, blen, c);
		bool white = u_isUWhiteSpace(c) || c == 0x1c || c == 0x1d || c == 0x1e;
		put_norm(&w, &sp, white, is_dash(c) ? '-' : c);
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

/* A kg_buf on the caller's stack memory: it never grows (max is below
 * cap), a longer text fails with KG_ELIMIT and the caller retries on the
 * heap. */
static void stack_buf(kg_buf *b, char *mem, size_t size)
{
	*b = (kg_buf){mem, 0, size, size - 1};
	mem[0] = '\0';
}

/* Normalised texts at most this long: the event's limit, four bytes a
 * character at worst after folding. */
#define TEXT_NORM_MAX (KG_EVENT_BYTES_MAX * 4)

static bool same_bufs(const kg_buf *x, const kg_buf *y)
{
	/* both compared in full: the time does not say where they differ */
	return x->len == y->len && kg_ct_equal(x->data, y->data, x->len);
}

bool kg_text_same(const char *a, size_t an, const char *b, size_t bn)
{
	char sa[512], sb[512];
	kg_buf x, y;
	stack_buf(&x, sa, sizeof(sa));
	stack_buf(&y, sb, sizeof(sb));
	int ra = kg_text_normalize(a, an, &x), rb = kg_text_normalize(b, bn, &y);
	if (!ra && !rb)
		return same_bufs(&x, &y);
	if ((ra && ra != KG_ELIMIT) || (rb && rb != KG_ELIMIT))
		return false;
	kg_buf hx = KG_BUF_INIT(TEXT_NORM_MAX), hy = KG_BUF_INIT(TEXT_NORM_MAX);
	bool eq = !kg_text_normalize(a, an, &hx) && !kg_text_normalize(b, bn, &hy) &&
		  same_bufs(&hx, &hy);
	kg_buf_release(&hx);
	kg_buf_release(&hy);
	return eq;
}

/* ---- addresses ------------------------------------------------------------*/

/* What follows a block number in a Japanese address and stands for a '-'
 * between numbers (丁目 番地 番 号室 号), longest first. */
static const char *const jp_marks[] = {"丁目", "番地", "号室", "番", "号"};

static size_t mark_len(const char *p, const char *e)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(jp_marks); i++) {
		size_t n = strlen(jp_marks[i]);
		if ((size_t)(e - p) >= n && !memcmp(p, jp_marks[i], n))
			return n;
	}
	return 0;
}

/* The value of the kanji numeral at p (一..九 1-9, 十 10), -1 when none. */
static int kanji_digit(const char *p, const char *e)
{
	static const char *const k[] = {"一", "二", "三", "四", "五", "六", "七", "八", "九", "十"};
	if (e - p < 3)
		return -1;
	for (int i = 0; i < 10; i++)
		if (!memcmp(p, k[i], 3))
			return i + 1;
	return -1;
}

/* A kanji number of at most four numerals (一 .. 九十九) directly followed
 * by a block mark ("二丁目", "十三番地"): its value and length in bytes;
 * 0 when p holds none (a place name such as 四谷 stays as written). */
static size_t kanji_number(const char *p, const char *e, int *value)
{
	int total = 0, cur = 0, n = 0;
	const char *q = p;
	for (int d; n < 4 && (d = kanji_digit(q, e)) > 0; n++, q += 3) {
		if (d == 10) {
			total += (cur ? cur : 1) * 10;
			cur = 0;
		} else {
			cur = cur * 10 + d;
		}
	}
	if (!n || !mark_len(q, e))
		return 0;
	*value = total + cur;
	return (size_t)(q - p);
}

/* Between two parts of an address: a space, a dash, punctuation. Between
 * two numbers they stand for one '-', elsewhere for nothing. */
static size_t separator_len(const char *p, const char *e)
{
	static const char *const seps[] = {"、", "。", "・"};
	if (*p == ' ' || *p == '-' || *p == ',' || *p == '.' || *p == '#')
		return 1;
	for (size_t i = 0; i < KG_ARRAY_LEN(seps); i++)
		if (e - p >= 3 && !memcmp(p, seps[i], 3))
			return 3;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A byte that starts none of the separators, marks, kanji numerals, の
 * or ヶ that compact_lines looks for (they are ASCII punctuation or
 * three-byte sequences starting E3, E4, E5 or E7). */
static inline bool plain_byte(unsigned char c)
{
	if (c < 0x80)
		return c != ' ' && c != '-' && c != ',' && c != '.' && c != '#';
	return c < 0xe3 || c == 0xe6 || c > 0xe7;
}

/* Appends the compact form of the normalised lines t: separators and block
 * marks dropped, or one '-' where they stand between two numbers; ヶ as ケ
 * (霞ヶ関, 霞ケ関). */
static int compact_lines(const char *t, size_t len, kg_buf *out)
{
	const char *p = t, *e = t + len;
	bool prev_digit = false, sep = false;
	int rc = 0;
	while (p < e && !rc) {
		size_t n;
		int v;
		if (plain_byte((unsigned char)*p)) {
			/* a run that none of the cases below can start at:
			 * copied at once, as they would copy it byte by byte */
			const char *q = p + 1;
			while (q < e && plain_byte((unsigned char)*q))
				q++;
			if (sep && prev_digit && is_digit(*p))
				rc = kg_buf_putc(out, '-');
			if (!rc)
				rc = kg_buf_append(out, p, (size_t)(q - p));
			sep = false;
			prev_digit = is_digit(q[-1]);
			p = q;
			continue;
		}
		if ((n = separator_len(p, e))) {
			sep = true;
			p += n;
			continue;
		}
		if (prev_digit && (n = mark_len(p, e))) {
			sep = true;
			p += n;
			continue;
		}
		/* 2の3 (番地の3): の between two numbers */
		if (prev_digit && e - p > 3 && !memcmp(p, "の", 3) && is_digit(p[3])) {
			sep = true;
			p += 3;
			continue;
		}
		if ((n = kanji_number(p, e, &v))) {
			if (sep && prev_digit)
				rc = kg_buf_putc(out, '-');
			if (!rc)
				rc = kg_buf_printf(out, "%d", v);
			prev_digit = true;
			sep = false;
			p += n;
			continue;
		}
		if (sep && prev_digit && is_digit(*p))
			rc = kg_buf_putc(out, '-');
		sep = false;
		if (rc)
			break;
		if (e - p >= 3 && !memcmp(p, "ヶ", 3)) {
			rc = kg_buf_puts(out, "ケ");
			p += 3;
			prev_digit = false;
			continue;
		}
		prev_digit = is_digit(*p);
		rc = kg_buf_putc(out, *p++);
	}
	return rc;
}

/* The key of a, into out (appended), with tmp as scratch. */
static int address_key(const kg_addr_text *a, kg_buf *out, kg_buf *tmp)
{
	int rc = kg_text_normalize(a->postal_code.p, a->postal_code.n, tmp);
	for (size_t i = 0; !rc && i < tmp->len; i++)
		if (is_digit(tmp->data[i]))
			rc = kg_buf_putc(out, tmp->data[i]);
	if (rc || (rc = kg_buf_putc(out, '\x1f')))
		return rc;
	kg_buf_reset(tmp);
	const kg_str lines[] = {a->region, a->city, a->line1, a->line2};
	for (size_t i = 0; !rc && i < KG_ARRAY_LEN(lines); i++)
		if (lines[i].n && !(rc = kg_text_normalize(lines[i].p, lines[i].n, tmp)))
			rc = kg_buf_putc(tmp, ' ');
	return rc ? rc : compact_lines(tmp->data ? tmp->data : "", tmp->len, out);
}

int kg_address_key(const kg_addr_text *a, kg_buf *out)
{
	char mem[1024];
	kg_buf tmp;
	stack_buf(&tmp, mem, sizeof(mem));
	size_t at = out->len;
	int rc = address_key(a, out, &tmp);
	if (rc == KG_ELIMIT) { /* the scratch, or out, was too small */
		kg_buf heap = KG_BUF_INIT(TEXT_NORM_MAX);
		out->len = at;
		if (out->data)
			out->data[at] = '\0';
		rc = address_key(a, out, &heap);
		kg_buf_release(&heap);
	}
	return rc;
}

bool kg_address_same(const kg_addr_text *a, const kg_addr_text *b)
{
	char sa[1024], sb[1024];
	kg_buf x, y;
	stack_buf(&x, sa, sizeof(sa));
	stack_buf(&y, sb, sizeof(sb));
	int ra = kg_address_key(a, &x), rb = kg_address_key(b, &y);
	if (!ra && !rb)
		return same_bufs(&x, &y);
	if ((ra && ra != KG_ELIMIT) || (rb && rb != KG_ELIMIT))
		return false;
	kg_buf hx = KG_BUF_INIT(TEXT_NORM_MAX), hy = KG_BUF_INIT(TEXT_NORM_MAX);
	bool eq = !kg_address_key(a, &hx) && !kg_address_key(b, &hy) && same_bufs(&hx, &hy);
	kg_buf_release(&hx);
	kg_buf_release(&hy);
	return eq;
}
