/* Text helpers of the mail analyser: Unicode folding and TR39 skeletons
 * (ICU), registrable domains (libpsl), IDN (libidn2), HTML to text with its
 * anchors, URL hosts, edit distance. No policy here: signals.c decides. */
#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include "mail/internal.h"

static const psl_ctx_t *g_psl;
static USpoofChecker *g_spoof;
static const UNormalizer2 *g_nfkc_cf;
static pthread_once_t g_text_once = PTHREAD_ONCE_INIT;

static void text_init(void)
{
	UErrorCode st = U_ZERO_ERROR;
	g_psl = psl_latest(NULL);
	if (!g_psl)
		g_psl = psl_builtin();
	g_spoof = uspoof_open(&st);
	if (U_FAILURE(st))
		g_spoof = NULL;
	st = U_ZERO_ERROR;
	g_nfkc_cf = unorm2_getNFKCCasefoldInstance(&st);
	if (U_FAILURE(st))
		g_nfkc_cf = NULL;
}

static void text_once(void)
{
	pthread_once(&g_text_once, text_init);
}

/* UTF-8 -> UTF-16 (malloc'd), invalid bytes replaced. */
static UChar *to_u16(const char *s, size_t len, int32_t *out_len)
{
	if (len > INT32_MAX / 2)
		return NULL;
	int32_t cap = (int32_t)len + 1;
	UChar *u = malloc((size_t)cap * sizeof(UChar));
	if (!u)
		return NULL;
	UErrorCode st = U_ZERO_ERROR;
	u_strFromUTF8WithSub(u, cap, out_len, s, (int32_t)len, 0xFFFD, NULL, &st);
	if (U_FAILURE(st)) {
		free(u);
		return NULL;
	}
	return u;
}

static char *to_u8(kg_arena *a, const UChar *u, int32_t n)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t need = 0;
	u_strToUTF8WithSub(NULL, 0, &need, u, n, 0xFFFD, NULL, &st);
	if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
		return kg_arena_strdup(a, "");
	char *out = kg_arena_alloc(a, (size_t)need + 1);
	st = U_ZERO_ERROR;
	u_strToUTF8WithSub(out, need + 1, NULL, u, n, 0xFFFD, NULL, &st);
	return out;
}

/* Whether c is a combining mark of a script other than the letter it sits
 * on (a Syriac mark on a Latin letter: "A\u073Fm\u073Fazon"). Marks of no
 * script of their own (Inherited, Common: accents of any alphabet) are not. */
static bool foreign_mark(UChar32 c, UScriptCode base)
{
	int8_t t = u_charType(c);
	if (base == USCRIPT_INVALID_CODE || (t != U_NON_SPACING_MARK && t != U_ENCLOSING_MARK))
		return false;
	UErrorCode st = U_ZERO_ERROR;
	UScriptCode sc = uscript_getScript(c, &st);
	return U_SUCCESS(st) && sc != USCRIPT_INHERITED && sc != USCRIPT_COMMON && sc != base;
}

/* Takes the foreign marks out of u[0, n) in place; returns the new length. */
static int32_t drop_foreign_marks(UChar *u, int32_t n)
{
	int32_t i = 0, w = 0;
	UScriptCode base = USCRIPT_INVALID_CODE;
	while (i < n) {
		int32_t at = i;
		UChar32 c;
		U16_NEXT(u, i, n, c);
		if (foreign_mark(c, base))
			continue;
		if (u_isalpha(c)) {
			UErrorCode st = U_ZERO_ERROR;
			base = uscript_getScript(c, &st);
		} else if (u_charType(c) != U_NON_SPACING_MARK) {
			base = USCRIPT_INVALID_CODE;
		}
		while (at < i)
			u[w++] = u[at++];
	}
	return w;
}

const char *mail_marked_word(kg_arena *a, const char *s, size_t len)
{
	int32_t i = 0, n = (int32_t)(len > INT32_MAX ? INT32_MAX : len), start = 0;
	UScriptCode base = USCRIPT_INVALID_CODE;
	bool marked = false;
	while (i <= n) {
		int32_t at = i;
		UChar32 c = -1;
		if (i < n)
			U8_NEXT((const uint8_t *)s, i, n, c);
		else
			i++;
		if (c >= 0 && foreign_mark(c, base)) {
			marked = true;
			continue;
		}
		if (c >= 0 && u_isalpha(c)) {
			UErrorCode st = U_ZERO_ERROR;
			base = uscript_getScript(c, &st);
			continue;
		}
		if (c >= 0 && u_charType(c) == U_NON_SPACING_MARK)
			continue;
		if (marked)
			return kg_arena_strndup(a, s + start, (size_t)(at - start));
		base = USCRIPT_INVALID_CODE;
		start = i;
	}
	return NULL;
}

char *mail_fold(kg_arena *a, const char *s, size_t len)
{
	text_once();
	int32_t n = 0;
	UChar *u = g_nfkc_cf ? to_u16(s, len, &n) : NULL;
	if (!u)
		return kg_arena_strndup(a, s, len);
	/* NFKC_Casefold grows text at most ~3x for ordinary input. */
	int32_t cap = n * 3 + 16;
	UChar *o = malloc((size_t)cap * sizeof(UChar));
	UErrorCode st = U_ZERO_ERROR;
	int32_t on = o ? unorm2_normalize(g_nfkc_cf, u, n, o, cap, &st) : 0;
	if (o && st == U_BUFFER_OVERFLOW_ERROR) {
		free(o);
		cap = on + 1;
		o = malloc((size_t)cap * sizeof(UChar));
		st = U_ZERO_ERROR;
		on = o ? unorm2_normalize(g_nfkc_cf, u, n, o, cap, &st) : 0;
	}
	if (o && U_SUCCESS(st))
		on = drop_foreign_marks(o, on);
	char *r = (o && U_SUCCESS(st)) ? to_u8(a, o, on) : kg_arena_strndup(a, s, len);
	free(u);
	free(o);
	return r;
}

char *mail_skeleton(kg_arena *a, const char *s)
{
	text_once();
	const char *f = mail_fold(a, s, strlen(s));
	if (!g_spoof)
		return (char *)f;
	UErrorCode st = U_ZERO_ERROR;
	size_t cap = strlen(f) * 4 + 16;
	char *out = kg_arena_alloc(a, cap);
	int32_t n = uspoof_getSkeletonUTF8(g_spoof, 0, f, -1, out, (int32_t)cap, &st);
	if (U_FAILURE(st) || n < 0)
		return (char *)f;
	return mail_fold(a, out, (size_t)n);
}

const char *mail_registrable(kg_arena *a, const char *host)
{
	text_once();
	if (!g_psl || !*host)
		return host;
	const char *r = psl_registrable_domain(g_psl, host);
	return r ? kg_arena_strdup(a, r) : host;
}

const char *mail_idn_unicode(kg_arena *a, const char *host)
{
	if (!strstr(host, "xn--"))
		return host;
	char *u = NULL;
	if (idn2_to_unicode_8z8z(host, &u, 0) != IDN2_OK || !u) {
		free(u);
		return host;
	}
	char *r = kg_arena_strdup(a, u);
	free(u);
	return r;
}

bool mail_domain_in(const char *domain, const mail_strs *list)
{
	size_t dl = strlen(domain);
	for (size_t i = 0; i < list->n; i++) {
		size_t el = strlen(list->v[i]);
		if (dl == el && !strcmp(domain, list->v[i]))
			return true;
		if (dl > el && domain[dl - el - 1] == '.' && !strcmp(domain + dl - el, list->v[i]))
			return true;
	}
	return false;
}

const char *mail_mixed_script_word(kg_arena *a, const char *s, size_t len)
{
	int32_t i = 0, n = (int32_t)(len > INT32_MAX ? INT32_MAX : len), start = 0;
	int latin = 0, cyr = 0, greek = 0, letters = 0;
	while (i <= n) {
		int32_t at = i;
		UChar32 c = -1;
		if (i < n)
			U8_NEXT((const uint8_t *)s, i, n, c);
		else
			i++;
		if (c >= 0 && u_isalpha(c)) {
			UErrorCode st = U_ZERO_ERROR;
			UScriptCode sc = uscript_getScript(c, &st);
			latin += sc == USCRIPT_LATIN;
			cyr += sc == USCRIPT_CYRILLIC;
			greek += sc == USCRIPT_GREEK;
			letters++;
			continue;
		}
		bool mixed = (latin && cyr) || (cyr && greek) || (latin && greek && letters >= 4);
		if (mixed)
			return kg_arena_strndup(a, s + start, (size_t)(at - start));
		latin = cyr = greek = letters = 0;
		start = i;
	}
	return NULL;
}

/* ---- links ----------------------------------------------------------------*/
static void push_link(kg_arena *a, mail_link **links, size_t *n, size_t *cap, bool *over,
		      const char *href, size_t hl, const char *text, size_t tl)
{
	while (hl && isspace((unsigned char)*href)) {
		href++;
		hl--;
	}
	while (hl && isspace((unsigned char)href[hl - 1]))
		hl--;
	if (!hl || *href == '#')
		return;
	if (*n >= KG_MAIL_LINKS_MAX) {
		*over = true;
		return;
	}
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		mail_link *v = kg_arena_alloc(a, nc * sizeof(*v));
		if (*n)
			memcpy(v, *links, *n * sizeof(*v));
		*links = v;
		*cap = nc;
	}
	mail_link *l = &(*links)[(*n)++];
	l->href = kg_arena_strndup(a, href, hl);
	l->anchor = text != NULL;
	if (!text)
		text = "";
	while (tl && isspace((unsigned char)*text)) {
		text++;
		tl--;
	}
	while (tl && isspace((unsigned char)text[tl - 1]))
		tl--;
	l->text = kg_arena_strndup(a, text, tl > 512 ? 512 : tl);
	l->host = mail_url_host(a, l->href, &l->userinfo);
}

const char *mail_url_host(kg_arena *a, const char *url, bool *userinfo)
{
	*userinfo = false;
	const char *p = url;
	const char *sep = strstr(url, "://");
	if (sep) {
		for (const char *c = url; c < sep; c++)
			if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.')
				return "";
		p = sep + 3;
	} else if (strncasecmp(url, "www.", 4) != 0) {
		return "";
	}
	size_t e = strcspn(p, "/?#\\ \t\r\n\"'<>");
	const char *at = NULL;
	for (size_t i = 0; i < e; i++)
		if (p[i] == '@')
			at = p + i;
	if (at) {
		*userinfo = true;
		e -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	size_t hl = e;
	if (*p == '[') {
		const char *rb = memchr(p, ']', e);
		hl = rb ? (size_t)(rb - p + 1) : e;
	} else {
		const char *colon = memchr(p, ':', e);
		if (colon)
			hl = (size_t)(colon - p);
	}
	while (hl && p[hl - 1] == '.')
		hl--;
	char *h = kg_arena_strndup(a, p, hl);
	for (char *c = h; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return h;
}

void mail_text_urls(kg_arena *a, const char *t, size_t len, mail_link **links,
		    size_t *n, size_t *cap, bool *over)
{
	const char *end = t + len;
	const char *p = t;
	while (p < end) {
		const char *h = memchr(p, ':', (size_t)(end - p));
		if (!h)
			break;
		if (end - h < 3 || h[1] != '/' || h[2] != '/' || h - t < 4) {
			p = h + 1;
			continue;
		}
		const char *colon = h;
		h -= (h - t >= 5 && (h[-1] == 's' || h[-1] == 'S')) ? 5 : 4;
		size_t rest = (size_t)(end - h);
		size_t skip = rest >= 8 && !strncasecmp(h, "https://", 8) ? 8
			      : rest >= 7 && !strncasecmp(h, "http://", 7) ? 7 : 0;
		if (!skip) {
			p = colon + 1;
			continue;
		}
		const char *q = h + skip;
		while (q < end && (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f &&
		       !strchr("<>\"'`{}|^[]()", *q))
			q++;
		while (q > h + skip && strchr(".,;:!?", q[-1]))
			q--;
		if (q > h + skip)
			push_link(a, links, n, cap, over, h, (size_t)(q - h), NULL, 0);
		p = q > colon ? q : colon + 1;
	}
}

/* ---- HTML -------------------------------------------------------------------*/
static void put_utf8(kg_buf *b, uint32_t c)
{
	char o[4];
	if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		c = 0xFFFD;
	if (c < 0x80) {
		kg_buf_putc(b, (char)c);
	} else if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		kg_buf_append(b, o, 2);
	} else if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		kg_buf_append(b, o, 3);
	} else {
		o[0] = (char)(0xF0 | (c >> 18));
		o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[3] = (char)(0x80 | (c & 0x3F));
		kg_buf_append(b, o, 4);
	}
}

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{"amp", '&'},     {"lt", '<'},      {"gt", '>'},      {"quot", '"'},
	{"apos", '\''},   {"nbsp", ' '},    {"copy", 0xA9},   {"reg", 0xAE},
	{"trade", 0x2122}, {"euro", 0x20AC}, {"yen", 0xA5},   {"auml", 0xE4},
	{"ouml", 0xF6},   {"uuml", 0xFC},   {"Auml", 0xC4},   {"Ouml", 0xD6},
	{"Uuml", 0xDC},   {"szlig", 0xDF},  {"hellip", 0x2026}, {"mdash", 0x2014},
	{"ndash", 0x2013}, {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"ldquo", 0x201C},
	{"rdquo", 0x201D}, {"middot", 0xB7}, {"zwnj", 0x200C}, {"shy", 0xAD},
};

/* Decodes one entity at s (s[0] == '&'); returns bytes consumed (0: none). */
static size_t entity(const char *s, size_t n, uint32_t *cp)
{
	size_t i = 1;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		uint32_t v = 0;
		size_t d = 0;
		while (i < n && d < 8 && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
			int x = isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10);
			v = v * (hex ? 16 : 10) + (uint32_t)x;
			i++;
			d++;
		}
		if (!d)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		*cp = v;
		return i;
	}
	size_t j = i;
	while (j < n && j - i < 10 && isalnum((unsigned char)s[j]))
		j++;
	for (size_t k = 0; k < KG_ARRAY_LEN(entities); k++) {
		size_t el = strlen(entities[k].name);
		if (el == j - i && !memcmp(s + i, entities[k].name, el)) {
			*cp = entities[k].cp;
			return j < n && s[j] == ';' ? j + 1 : j;
		}
	}
	return 0;
}

static void decode_entities(kg_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t used = s[i] == '&' ? entity(s + i, n - i, &cp) : 0;
		if (used) {
			put_utf8(b, cp);
			i += used;
		} else {
			kg_buf_putc(b, s[i++]);
		}
	}
}

static const char *find_ci(const char *h, const char *end, const char *needle)
{
	size_t nl = strlen(needle);
	for (const char *p = h; p + nl <= end; p++)
		if (!strncasecmp(p, needle, nl))
			return p;
	return NULL;
}

/* Value of attribute name inside tag [t, e), entity-decoded into b. */
static bool tag_attr(const char *t, const char *e, const char *name, kg_buf *b)
{
	size_t nl = strlen(name);
	for (const char *p = t; p + nl < e; p++) {
		if (strncasecmp(p, name, nl) || !(p == t || isspace((unsigned char)p[-1])))
			continue;
		const char *q = p + nl;
		while (q < e && isspace((unsigned char)*q))
			q++;
		if (q >= e || *q != '=')
			continue;
		q++;
		while (q < e && isspace((unsigned char)*q))
			q++;
		const char *vs = q, *ve;
		if (q < e && (*q == '"' || *q == '\'')) {
			char quote = *q;
			vs = q + 1;
			ve = memchr(vs, quote, (size_t)(e - vs));
			if (!ve)
				ve = e;
		} else {
			ve = vs;
			while (ve < e && !isspace((unsigned char)*ve) && *ve != '>')
				ve++;
		}
		kg_buf_reset(b);
		decode_entities(b, vs, (size_t)(ve - vs));
		return true;
	}
	return false;
}

char *mail_html_text(kg_arena *a, const char *h, size_t n, mail_link **links,
		     size_t *nl, size_t *cap, bool *over)
{
	kg_buf out = KG_BUF_INIT(KG_MAIL_TEXT_MAX);
	kg_buf href = KG_BUF_INIT(8192);
	kg_buf alt = KG_BUF_INIT(1024);
	const char *end = h + n;
	bool in_a = false, space = false;
	size_t a_text = 0;
	const char *p = h;
	while (p < end) {
		if (*p == '<') {
			if (end - p >= 4 && !memcmp(p, "<!--", 4)) {
				const char *c = find_ci(p + 4, end, "-->");
				p = c ? c + 3 : end;
				continue;
			}
			const char *q = p + 1;
			bool closing = q < end && *q == '/';
			if (closing)
				q++;
			char name[12];
			size_t k = 0;
			while (q < end && isalnum((unsigned char)*q) && k < sizeof(name) - 1)
				name[k++] = (char)tolower((unsigned char)*q++);
			name[k] = '\0';
			if (!k) { /* not a tag: "<" as text */
				kg_buf_putc(&out, '<');
				p++;
				continue;
			}
			const char *t = q;
			char quote = 0;
			while (q < end && (quote || *q != '>')) {
				if (quote && *q == quote)
					quote = 0;
				else if (!quote && (*q == '"' || *q == '\'') && q[-1] == '=')
					quote = *q;
				q++;
			}
			const char *tag_end = q;
			p = q < end ? q + 1 : end;
			if (!closing && (!strcmp(name, "script") || !strcmp(name, "style") ||
					 !strcmp(name, "title"))) {
				char close[16];
				snprintf(close, sizeof(close), "</%s", name);
				const char *c = find_ci(p, end, close);
				p = c ? c : end;
				continue;
			}
			if (!strcmp(name, "a")) {
				if (in_a) {
					push_link(a, links, nl, cap, over, href.data, href.len,
						  out.data ? out.data + a_text : "", out.len - a_text);
					in_a = false;
				}
				if (!closing && tag_attr(t, tag_end, "href", &href)) {
					in_a = true;
					a_text = out.len;
				}
				continue;
			}
			/* an image's alt text is what a reader sees where images are
			 * not shown: a lure made of images says its words there */
			if (!closing && !strcmp(name, "img") && tag_attr(t, tag_end, "alt", &alt) &&
			    alt.len) {
				if (!space)
					kg_buf_putc(&out, ' ');
				kg_buf_append(&out, alt.data, alt.len);
				kg_buf_putc(&out, ' ');
				space = true;
				continue;
			}
			if (!strcmp(name, "br") || !strcmp(name, "p") || !strcmp(name, "div") ||
			    !strcmp(name, "tr") || !strcmp(name, "li") || !strcmp(name, "table") ||
			    (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2])) {
				kg_buf_putc(&out, '\n');
				space = true;
			} else if (!strcmp(name, "td") || !strcmp(name, "th") || !strcmp(name, "span")) {
				if (!space)
					kg_buf_putc(&out, ' ');
				space = true;
			}
			continue;
		}
		if (isspace((unsigned char)*p)) {
			if (!space)
				kg_buf_putc(&out, ' ');
			space = true;
			p++;
			continue;
		}
		space = false;
		uint32_t cp;
		size_t used = *p == '&' ? entity(p, (size_t)(end - p), &cp) : 0;
		if (used) {
			if (cp == 0xA0 || cp == ' ')
				cp = ' ';
			put_utf8(&out, cp);
			p += used;
		} else {
			kg_buf_putc(&out, *p++);
		}
	}
	if (in_a)
		push_link(a, links, nl, cap, over, href.data, href.len,
			  out.data ? out.data + a_text : "", out.len - a_text);
	char *r = kg_arena_strndup(a, out.data ? out.data : "", out.len);
	kg_buf_release(&out);
	kg_buf_release(&href);
	kg_buf_release(&alt);
	return r;
}

int mail_edit_distance(const char *x, size_t xl, const char *y, size_t yl)
{
	enum { M = 40 };
	if (xl >= M || yl >= M)
		return 9;
	int d[M][M];
	for (size_t i = 0; i <= xl; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= yl; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= xl; i++) {
		for (size_t j = 1; j <= yl; j++) {
			int cost = x[i - 1] != y[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[xl][yl] > 9 ? 9 : d[xl][yl];
}

void mail_utf8_clean(char *s)
{
	int32_t n = (int32_t)strlen(s), i = 0;
	while (i < n) {
		int32_t at = i;
		UChar32 c;
		U8_NEXT((const uint8_t *)s, i, n, c);
		if (c < 0)
			for (int32_t k = at; k < i; k++)
				s[k] = '?';
	}
}

/* Copies s without unexpanded template tokens ("{{name}}", "[[x]]",
 * "%%x%%", "%%", "${x}") and with letters spaced out one by one
 * ("A m a z o n", "A.m.a.z.o.n") joined, so that a brand broken up by a
 * mail merge that failed, or on purpose, reads whole again. */
char *mail_untemplate(kg_arena *a, const char *s)
{
	size_t n = strlen(s);
	char *out = kg_arena_alloc(a, n + 1), *w = out;
	for (size_t i = 0; i < n;) {
		const char *close = NULL;
		size_t skip = 0;
		if (s[i] == '{' && s[i + 1] == '{')
			close = "}}", skip = 2;
		else if (s[i] == '[' && s[i + 1] == '[')
			close = "]]", skip = 2;
		else if (s[i] == '$' && s[i + 1] == '{')
			close = "}", skip = 2;
		else if (s[i] == '%' && s[i + 1] == '%')
			close = "%%", skip = 2;
		if (close) {
			const char *e = strstr(s + i + skip, close);
			size_t inner = e ? (size_t)(e - (s + i + skip)) : 0;
			bool word = e && inner <= 40;
			for (size_t k = 0; word && k < inner; k++)
				if (isspace((unsigned char)s[i + skip + k]))
					word = false;
			i += word ? skip + inner + strlen(close) : skip;
			continue;
		}
		/* a single letter, one separator, a single letter: join them */
		if (isalpha((unsigned char)s[i]) && (i == 0 || !isalnum((unsigned char)s[i - 1])) &&
		    i + 2 < n && strchr(" .-_*", s[i + 1]) && isalpha((unsigned char)s[i + 2]) &&
		    (i + 3 >= n || !isalnum((unsigned char)s[i + 3]))) {
			size_t j = i, end = i;
			char run[64];
			size_t rn = 0;
			while (j < n && isalpha((unsigned char)s[j]) && rn < sizeof(run) &&
			       (j + 1 >= n || !isalnum((unsigned char)s[j + 1]))) {
				run[rn++] = s[j];
				end = j + 1;
				if (!(j + 2 < n && strchr(" .-_*", s[j + 1]) && isalpha((unsigned char)s[j + 2])))
					break;
				j += 2;
			}
			if (rn >= 4) {
				memcpy(w, run, rn);
				w += rn;
				i = end;
				continue;
			}
		}
		*w++ = s[i++];
	}
	*w = '\0';
	return out;
}

/* Whether t[0, n) looks like a generated filler: 6-24 letters and digits
 * with a digit and at least three capitals ("IJMXD2EVWL"). */
static bool filler_like(const char *t, size_t n)
{
	int digits = 0, caps = 0;
	if (n < 6 || n > 24)
		return false;
	for (size_t i = 0; i < n; i++) {
		digits += isdigit((unsigned char)t[i]) != 0;
		caps += isupper((unsigned char)t[i]) != 0;
	}
	return digits && caps >= 3;
}

static void remove_all(char *s, const char *tok)
{
	size_t tl = strlen(tok);
	char *w = s;
	for (const char *r = s; *r;) {
		if (!strncmp(r, tok, tl))
			r += tl;
		else
			*w++ = *r++;
	}
	*w = '\0';
}

char *mail_unfiller(kg_arena *a, const char *s, size_t len)
{
	char *out = kg_arena_strndup(a, s, len);
	int tried = 0;
	for (size_t i = 0; i < len && tried < 256;) {
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && (isupper((unsigned char)s[j]) || isdigit((unsigned char)s[j])))
			j++;
		bool glued = (j < len && islower((unsigned char)s[j])) ||
			     (i > 0 && islower((unsigned char)s[i - 1]));
		/* the longest sub-run of 6+ repeated 3+ times is the filler */
		char best[25] = "";
		for (size_t k = i; glued && j - i <= 30 && k + 6 <= j && tried < 256; k++)
			for (size_t e = j; e >= k + 6 && tried < 256; e--) {
				if (e - k <= strlen(best) || !filler_like(s + k, e - k))
					continue;
				tried++;
				char tok[25];
				memcpy(tok, s + k, e - k);
				tok[e - k] = '\0';
				int count = 0;
				for (const char *h = strstr(out, tok); h && count < 3; h = strstr(h + 1, tok))
					count++;
				if (count >= 3)
					memcpy(best, tok, e - k + 1);
			}
		if (*best)
			remove_all(out, best);
		i = j;
	}
	return out;
}
