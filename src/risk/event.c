/* Event parsing and validation on the hot path: a tokenizer of JSON text
 * gives jsmn's tokens (jsmn itself tokenizes the text it leaves), one walk
 * over the tokens checks what jsmn lets through, a table per event type says
 * which fields exist and what they hold. Errors name the field; unknown
 * fields are kept (the raw text is what gets stored). */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS /* no backward scan at ',' and '}'; see event_lax.c */
#include <jsmn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "risk/risk_impl.h"

struct kg_event_parser {
	jsmntok_t tok[KG_JSON_TOKENS_MAX];
	int next[KG_JSON_TOKENS_MAX]; /* of a value: the index of the token after it */
	const char *js;
	/* decoded strings: of the parse, then of kg_event_body_hash (each at
	 * most the text's length) */
	char scratch[2 * KG_EVENT_BYTES_MAX];
	size_t scratch_used;
	/* kg_event_body_hash: one member's decoded text, when it has escapes
	 * or spaces (at most the text's length) */
	unsigned char member[KG_EVENT_BYTES_MAX];
	int ntok;
	bool plain;
	/* the body hash, when the parse's own walk could take it (plain,
	 * compact text: walk_fast); else kg_event_body_hash walks again */
	bool hashed;
	uint8_t hash[KG_EVENT_HASH_BYTES];
	kg_ev_item items[KG_EVENT_ITEMS_MAX];
	kg_str sellers[KG_EVENT_SELLERS_MAX];
	kg_event ev;
	kg_event_lax *lax; /* tokens without parent links, for messages */
};

#define TYPE(name) {name, sizeof(name) - 1}
static const struct {
	const char *name;
	uint32_t len;
} types[KG_EV_TYPE_COUNT] = {
	TYPE("account.created"), TYPE("login"), TYPE("order"), TYPE("payment"),
	TYPE("return"), TYPE("seller_report"), TYPE("password_change"), TYPE("profile_change"),
};

const char *kg_event_type_name(enum kg_event_type t)
{
	return (unsigned)t < KG_EV_TYPE_COUNT ? types[t].name : NULL;
}

kg_event_parser *kg_event_parser_new(void)
{
	kg_event_parser *p = calloc(1, sizeof(kg_event_parser));
	if (p && !(p->lax = kg_event_lax_new())) {
		free(p);
		return NULL;
	}
	return p;
}

void kg_event_parser_free(kg_event_parser *p)
{
	if (p)
		kg_event_lax_free(p->lax);
	free(p);
}

/* ---- field table -------------------------------------------------------- */
enum fkind {
	F_STR,      /* any string (may be empty) */
	F_ID,       /* non-empty string of at most KG_ID_MAX bytes */
	F_INT,      /* integer >= 0 */
	F_BOOL,
	F_CURRENCY, /* three upper-case letters */
	F_ADDRESS,
	F_CARD,
	F_ITEMS,
	F_SELLERS,
	F_ENUM,
};

struct fdef {
	const char *name;
	size_t len; /* strlen(name) */
	enum fkind kind;
	bool required;
	size_t off;
	const char *const *values; /* F_ENUM: NULL-terminated */
};

#define OFF(f) offsetof(kg_event, f)
static const char *const result_values[] = {"approved", "declined", NULL};
static const char *const kind_values[] = {"item_swap", "empty_box", "other", NULL};
static const char *const via_values[] = {"reset", "settings", NULL};
static const char *const field_values[] = {"email", "phone", "address", "name", NULL};

#define FD(name, kind, required, off, values) {name, sizeof(name) - 1, kind, required, off, values}
#define END {NULL, 0, 0, 0, 0, NULL}
static const struct fdef f_created[] = {
	FD("name", F_STR, true, OFF(name), NULL),
	FD("email", F_STR, true, OFF(email), NULL),
	FD("phone", F_STR, false, OFF(phone), NULL),
	FD("address", F_ADDRESS, true, OFF(address), NULL),
	END};
static const struct fdef f_login[] = {
	FD("success", F_BOOL, true, OFF(success), NULL),
	FD("ip", F_ID, true, OFF(ip), NULL),
	FD("device_id", F_ID, false, OFF(device_id), NULL), /* absent: no device seen */
	FD("country", F_STR, false, OFF(country), NULL),
	FD("user_agent", F_STR, false, OFF(user_agent), NULL),
	END};
static const struct fdef f_order[] = {
	FD("order_id", F_ID, true, OFF(order_id), NULL),
	FD("amount", F_INT, true, OFF(amount), NULL),
	FD("currency", F_CURRENCY, true, OFF(currency), NULL),
	FD("items", F_ITEMS, true, 0, NULL),
	FD("shipping_address", F_ADDRESS, true, OFF(shipping_address), NULL),
	FD("billing_address", F_ADDRESS, true, OFF(billing_address), NULL),
	FD("card", F_CARD, true, OFF(card), NULL),
	FD("seller_ids", F_SELLERS, true, 0, NULL),
	END};
static const struct fdef f_payment[] = {
	FD("order_id", F_ID, true, OFF(order_id), NULL),
	FD("amount", F_INT, true, OFF(amount), NULL),
	FD("currency", F_CURRENCY, true, OFF(currency), NULL),
	FD("card", F_CARD, true, OFF(card), NULL),
	FD("result", F_ENUM, true, OFF(result), result_values),
	FD("decline_code", F_STR, false, OFF(decline_code), NULL),
	END};
static const struct fdef f_return[] = {
	FD("order_id", F_ID, true, OFF(order_id), NULL),
	FD("amount", F_INT, true, OFF(amount), NULL),
	FD("currency", F_CURRENCY, true, OFF(currency), NULL),
	FD("seller_id", F_ID, true, OFF(seller_id), NULL),
	FD("reason", F_STR, false, OFF(reason), NULL),
	END};
static const struct fdef f_report[] = {
	FD("seller_id", F_ID, true, OFF(seller_id), NULL),
	FD("order_id", F_ID, false, OFF(order_id), NULL),
	FD("kind", F_ENUM, true, OFF(kind), kind_values),
	END};
static const struct fdef f_password[] = {
	FD("ip", F_ID, true, OFF(ip), NULL),
	FD("device_id", F_ID, true, OFF(device_id), NULL),
	FD("via", F_ENUM, true, OFF(via), via_values),
	END};
static const struct fdef f_profile[] = {
	FD("field", F_ENUM, true, OFF(field), field_values),
	END};
static const struct fdef *const type_fields[KG_EV_TYPE_COUNT] = {
	f_created, f_login, f_order, f_payment, f_return, f_report, f_password, f_profile,
};

#define AOFF(f) offsetof(kg_ev_address, f)
static const struct fdef f_address[] = {
	FD("postal_code", F_STR, true, AOFF(postal_code), NULL),
	FD("region", F_STR, true, AOFF(region), NULL),
	FD("city", F_STR, true, AOFF(city), NULL),
	FD("line1", F_STR, true, AOFF(line1), NULL),
	FD("line2", F_STR, false, AOFF(line2), NULL),
	FD("country", F_STR, true, AOFF(country), NULL),
	END};
#define COFF(f) offsetof(kg_ev_card, f)
static const struct fdef f_card[] = {
	FD("holder_name", F_STR, true, COFF(holder_name), NULL),
	FD("last4", F_STR, true, COFF(last4), NULL),
	FD("exp", F_STR, true, COFF(exp), NULL),
	FD("fingerprint", F_ID, true, COFF(fingerprint), NULL),
	END};
#define IOFF(f) offsetof(kg_ev_item, f)
static const struct fdef f_item[] = {
	FD("sku", F_ID, true, IOFF(sku), NULL),
	FD("category", F_STR, true, IOFF(category), NULL),
	FD("price", F_INT, true, IOFF(price), NULL),
	FD("qty", F_INT, true, IOFF(qty), NULL),
	END};

/* ---- helpers ------------------------------------------------------------- */
struct ctx {
	kg_event_parser *p;
	int ntok;
	kg_err *err;
	/* the object being read, for error messages: NULL at the top, else a
	 * field name, with an index when pidx >= 0 ("card", "items[2]") */
	const char *pname;
	int pidx;
	/* the text has no escape, no control character and is UTF-8: every
	 * string in it is valid as it stands */
	bool plain;
};

/* Writes the JSON path of the object being read ("", "card", "items[2]")
 * into buf, only when an error message needs it; returns its length. */
static size_t put_path(const struct ctx *c, char buf[KG_ERR_FIELD_MAX])
{
	int n = 0;
	if (!c->pname)
		buf[0] = '\0';
	else if (c->pidx < 0)
		n = snprintf(buf, KG_ERR_FIELD_MAX, "%s", c->pname);
	else
		n = snprintf(buf, KG_ERR_FIELD_MAX, "%s[%d]", c->pname, c->pidx);
	return n < 0 ? 0 : (size_t)n < KG_ERR_FIELD_MAX ? (size_t)n : KG_ERR_FIELD_MAX - 1;
}

/* An error in field `name` of the object being read (the object itself
 * when name is NULL; at the top, the message alone). */
static int fail(struct ctx *c, const char *name, const char *msg)
{
	char field[KG_ERR_FIELD_MAX];
	size_t n = put_path(c, field);
	if (name)
		snprintf(field + n, sizeof(field) - n, "%s%s", n ? "." : "", name);
	return kg_err_field(c->err, KG_EINVAL, field, "%s%s%s", field, field[0] ? ": " : "", msg);
}

/* Index of the token after the subtree rooted at value i (once the walk
 * of the text has succeeded). */
static int after(const struct ctx *c, int i)
{
	return c->p->next[i];
}

/* memcmp(a, b, n) == 0 for the short names of this file: two loads from
 * each side that overlap, within [0, n) of both. */
static inline bool same(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a0, a1, b0, b1;
		memcpy(&a0, a, 8), memcpy(&a1, a + n - 8, 8);
		memcpy(&b0, b, 8), memcpy(&b1, b + n - 8, 8);
		return !((a0 ^ b0) | (a1 ^ b1));
	}
	if (n >= 4 && n < 8) {
		uint32_t a0, a1, b0, b1;
		memcpy(&a0, a, 4), memcpy(&a1, a + n - 4, 4);
		memcpy(&b0, b, 4), memcpy(&b1, b + n - 4, 4);
		return !((a0 ^ b0) | (a1 ^ b1));
	}
	if (n == 2 || n == 3)
		return a[0] == b[0] && a[1] == b[1] && a[n - 1] == b[n - 1];
	return !memcmp(a, b, n);
}

static bool tok_is(const struct ctx *c, int i, const char *s, size_t n)
{
	const jsmntok_t *t = &c->p->tok[i];
	return (size_t)(t->end - t->start) == n && memcmp(c->p->js + t->start, s, n) == 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int hex4(const char *s, const char *e, unsigned *out)
{
	if (e - s < 4)
		return -1;
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[k]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

/* Eight bytes at a time: nonzero when one of the bytes at s is not ASCII or
 * is a control character, or, with bs, is a backslash or DEL. Exact: below
 * the lowest such byte no subtraction borrows, and that byte sets its top
 * bit (b >= 0x80 by itself, b < 0x20 in b - 0x20, '\\' in (b ^ '\\') - 1,
 * DEL in (b ^ 0x7f) - 1). */
#define ONES 0x0101010101010101ull
static inline uint64_t word_odd(const unsigned char *s, bool bs)
{
	uint64_t w;
	memcpy(&w, s, 8);
	uint64_t odd = w | (w - 0x20 * ONES);
	if (bs)
		odd |= ((w ^ '\\' * ONES) - ONES) | ((w ^ 0x7f * ONES) - ONES);
	return odd & 0x80 * ONES;
}

/* Checks UTF-8 well-formedness of [s, e); with raw_json, also that no
 * control character appears unescaped (JSON forbids them in strings). */
static bool utf8_ok(const unsigned char *s, const unsigned char *e, bool raw_json)
{
	while (e - s >= 8 && !word_odd(s, false))
		s += 8;
	while (s < e) {
		if (*s < 0x80) {
			if (*s < 0x20 && raw_json)
				return false;
			s++;
			continue;
		}
		int n = kg_utf8_seq(s, e);
		if (!n)
			return false;
		s += n;
	}
	return true;
}

/* Index of the first of the sixteen bytes at s that is not ASCII, is a
 * control character (DEL included) or a backslash; 16 when none is. */
static inline int first_odd(const unsigned char *s)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	/* compared as signed, the bytes >= 0x80 are below 0x20 too */
	__m128i odd = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
				   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
						_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
	unsigned m = (unsigned)_mm_movemask_epi8(odd);
	return m ? __builtin_ctz(m) : 16;
#else
	/* byte by byte from the first word that has one */
	return word_odd(s, true) ? 0 : word_odd(s + 8, true) ? 8 : 16;
#endif
}

/* True when [s, e) has no backslash, no control character (C0 or DEL) and
 * is well-formed UTF-8: then every JSON string in it is valid text as it
 * stands, an identifier too (nothing to decode or refuse). */
static bool text_plain(const unsigned char *s, const unsigned char *e)
{
	while (s < e) {
		if (e - s >= 16) {
			int k = first_odd(s);
			s += k;
			if (k == 16)
				continue;
		}
		if (*s < 0x80) {
			if (*s < 0x20 || *s == '\\' || *s == 0x7f)
				return false;
			s++;
			continue;
		}
		do {
			int n = kg_utf8_seq(s, e);
			if (!n)
				return false;
			s += n;
		} while (s < e && *s >= 0x80);
	}
	return true;
}

/* ---- the tokenizer of the hot path ---------------------------------------
 * jsmn's tokens (strict; every field but the parent link, which nothing
 * here reads) for text that is one JSON object as the grammar has it, the
 * strings' escapes those of JSON, without control characters in strings,
 * and no deeper than KG_JSON_DEPTH_MAX: a string runs sixteen bytes at a
 * step, no token is written twice, no parent chain is walked at a close.
 * Any other text gets -1, and jsmn itself then tokenizes it (so what it
 * lets through, and the messages defined on its tokens, stay its own).
 * What jsmn makes of such text: a key counts in its object's size and has
 * size 1, an element in its array's, every scalar has size 0, a string's
 * span is inside its quotes, a primitive's runs from its first byte to
 * the next of ",]}" or whitespace (what it holds is primitive_ok's to
 * judge), a container's from its bracket to past its closing one.
 * On the way it tells text_plain's answer: the strings are the only place
 * for DEL or a byte >= 0x80 (a primitive is printable ASCII), whitespace
 * between tokens the only other place for a control character, strings
 * and primitives for a backslash. */
static inline bool tk_ws(unsigned char ch)
{
	return ch <= ' ' && (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t');
}

/* Index of the first of the sixteen bytes at s that is a quote, a
 * backslash, a control character (C0 or DEL) or not ASCII; 16 when none
 * is. */
static inline int tk_str_stop(const unsigned char *s)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	/* compared as signed, the bytes >= 0x80 are below 0x20 too */
	__m128i stop = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
				    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	stop = _mm_or_si128(stop, _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
					       _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
	unsigned m = (unsigned)_mm_movemask_epi8(stop);
	return m ? __builtin_ctz(m) : 16;
#else
	for (int k = 0; k < 16; k++)
		if (s[k] == '"' || s[k] == '\\' || s[k] < 0x20 || s[k] >= 0x7f)
			return k;
	return 16;
#endif
}

/* From i in a string, the index of its closing quote, or 0 when it has
 * none, a control character (C0) or an escape that JSON does not have. Clears *plain at a backslash, DEL or a
 * byte that is not well-formed UTF-8 (text_plain's reading). */
static size_t tk_str_rest(const unsigned char *s, size_t i, size_t len, bool *plain)
{
	for (;;) {
		if (len - i >= 16) {
			int k = tk_str_stop(s + i);
			i += (size_t)k;
			if (k == 16)
				continue;
		} else {
			while (i < len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 && s[i] < 0x7f)
				i++;
			if (i == len)
				return 0;
		}
		unsigned char ch = s[i];
		if (ch == '"')
			return i;
		if (ch >= 0x80) {
			if (!*plain) {
				i++;
				continue;
			}
			do {
				int q = kg_utf8_seq(s + i, s + len);
				if (!q) {
					*plain = false;
					i++;
					break;
				}
				i += (size_t)q;
			} while (i < len && s[i] >= 0x80);
			continue;
		}
		if (ch == 0x7f) {
			*plain = false;
			i++;
			continue;
		}
		if (ch != '\\' || i + 1 >= len)
			return 0; /* a control character; a backslash at the end */
		*plain = false;
		switch (s[i + 1]) {
		case '"':
		case '/':
		case '\\':
		case 'b':
		case 'f':
		case 'r':
		case 'n':
		case 't':
			i += 2;
			break;
		case 'u':
			if (len - i < 6 || hexval((char)s[i + 2]) < 0 || hexval((char)s[i + 3]) < 0 ||
			    hexval((char)s[i + 4]) < 0 || hexval((char)s[i + 5]) < 0)
				return 0;
			i += 6;
			break;
		default:
			return 0;
		}
	}
}

/* tk_str_rest from the string's opening quote at i; a string that ends
 * within its first sixteen bytes (most keys and ids) without a byte to
 * look at on the way, in line. */
static inline __attribute__((always_inline)) size_t tk_str_end(const unsigned char *s, size_t i,
							       size_t len, bool *plain)
{
	i++;
	if (len - i >= 16) {
		int k = tk_str_stop(s + i);
		if (k < 16 && s[i + (size_t)k] == '"')
			return i + (size_t)k;
	}
	return tk_str_rest(s, i, len, plain);
}

/* The end of the primitive that starts at i, as jsmn (strict) scans it:
 * the index of the first of ",]}" or whitespace after it, or 0 when a byte
 * before that is not printable ASCII or the text ends first. Clears *plain
 * at a backslash (no primitive_ok then). */
static inline size_t tk_prim_end(const unsigned char *s, size_t i, size_t len, bool *plain)
{
	for (; i < len; i++) {
		unsigned char ch = s[i];
		if (ch == ',' || ch == ']' || ch == '}' || tk_ws(ch))
			return i;
		if (ch < 32 || ch >= 127)
			return 0;
		if (ch == '\\')
			*plain = false;
	}
	return 0;
}

/* From i, past whitespace (clearing *plain at a control character); the
 * index of the first other byte, len when there is none. */
static inline size_t tk_skip(const unsigned char *s, size_t i, size_t len, bool *plain)
{
	while (i < len && tk_ws(s[i])) {
		if (s[i] != ' ')
			*plain = false;
		i++;
	}
	return i;
}

/* tok: room for KG_JSON_TOKENS_MAX. Returns the token count, or -1 (see
 * above: then jsmn tokenizes); *plain: text_plain's answer (when >= 0). */
static int tokenize(jsmntok_t *tok, const char *js, size_t len, bool *plain)
{
	const unsigned char *s = (const unsigned char *)js;
	struct {
		int i, size;
	} open[KG_JSON_DEPTH_MAX]; /* the containers around the innermost one */
	int depth = 0, n = 0;
	int f = -1, size = 0; /* the innermost container, its size so far */
	bool obj = false;      /* f is an object */
	size_t i, e;
	*plain = true;
	i = tk_skip(s, 0, len, plain);
	if (i >= len || s[i] != '{')
		return -1;
	for (;;) {
		/* a value at i (< len) */
		if (n >= KG_JSON_TOKENS_MAX)
			return -1;
		size += !obj; /* an element (a member counts at its key) */
		switch (s[i]) {
		case '"':
			if (!(e = tk_str_end(s, i, len, plain)))
				return -1;
			tok[n].type = JSMN_STRING;
			tok[n].start = (int)i + 1;
			tok[n].end = (int)e;
			tok[n].size = 0;
			n++;
			i = e + 1;
			break;
		case '{':
		case '[':
			if (depth == KG_JSON_DEPTH_MAX)
				return -1;
			if (f >= 0) {
				open[depth].i = f;
				open[depth].size = size;
				depth++;
			}
			obj = s[i] == '{';
			tok[n].type = obj ? JSMN_OBJECT : JSMN_ARRAY;
			tok[n].start = (int)i;
			f = n++;
			size = 0;
			i = tk_skip(s, i + 1, len, plain);
			if (i >= len)
				return -1;
			if (s[i] == (obj ? '}' : ']'))
				goto close;
			if (obj)
				goto key;
			continue; /* the first element */
		case '-':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
		case 't':
		case 'f':
		case 'n':
			if (!(e = tk_prim_end(s, i, len, plain)))
				return -1;
			tok[n].type = JSMN_PRIMITIVE;
			tok[n].start = (int)i;
			tok[n].end = (int)e;
			tok[n].size = 0;
			n++;
			i = e;
			break;
		default:
			return -1;
		}
		/* after a value: a separator or its container's close */
		for (;;) {
			if (i >= len || tk_ws(s[i]))
				i = tk_skip(s, i, len, plain);
			if (i >= len)
				return -1;
			if (s[i] == ',') {
				i++;
				if (i >= len || tk_ws(s[i]))
					i = tk_skip(s, i, len, plain);
				if (i >= len)
					return -1;
				if (obj)
					goto key;
				break; /* the next element */
			}
			if (s[i] != (obj ? '}' : ']'))
				return -1;
close:
			tok[f].end = (int)i + 1;
			tok[f].size = size;
			i++;
			if (depth == 0)
				return i == len ? n : -1;
			depth--;
			f = open[depth].i;
			size = open[depth].size;
			obj = tok[f].type == JSMN_OBJECT;
		}
		continue;
key:
		/* an object's key at i (< len), then its ':' */
		if (s[i] != '"' || n >= KG_JSON_TOKENS_MAX || !(e = tk_str_end(s, i, len, plain)))
			return -1;
		size++;
		tok[n].type = JSMN_STRING;
		tok[n].start = (int)i + 1;
		tok[n].end = (int)e;
		tok[n].size = 1;
		n++;
		i = e + 1;
		if (i < len && s[i] == ':') { /* compact */
			i++;
		} else {
			i = tk_skip(s, i, len, plain);
			if (i >= len || s[i] != ':')
				return -1;
			i++;
		}
		if (i >= len || tk_ws(s[i]))
			i = tk_skip(s, i, len, plain);
		if (i >= len)
			return -1;
	}
}

int kg_event_tokens_check(kg_event_parser *p, const char *js, size_t len)
{
	bool plain;
	int n = tokenize(p->tok, js, len, &plain);
	if (n < 0)
		return 0;
	if (plain != text_plain((const unsigned char *)js, (const unsigned char *)js + len))
		return -1;
	jsmntok_t *t = malloc(KG_JSON_TOKENS_MAX * sizeof(*t));
	if (!t)
		return -1;
	jsmn_parser jp;
	jsmn_init(&jp);
	int rc = 1;
	if (jsmn_parse(&jp, js, len, t, KG_JSON_TOKENS_MAX) != n || t[0].type != JSMN_OBJECT ||
	    t[n - 1].start >= t[0].end || jp.pos < len)
		rc = -1;
	for (int i = 0; i < n && rc > 0; i++)
		if (t[i].type != p->tok[i].type || t[i].start != p->tok[i].start ||
		    t[i].end != p->tok[i].end || t[i].size != p->tok[i].size)
			rc = -1;
	free(t);
	return rc;
}

/* Decodes the string token i into *out (pointing into the input when it has
 * no escapes, into scratch otherwise). */
static int decode_str(struct ctx *c, int i, const char *name, kg_str *out)
{
	const jsmntok_t *t = &c->p->tok[i];
	if (t->type != JSMN_STRING)
		return fail(c, name, "expected string");
	const char *s = c->p->js + t->start, *e = c->p->js + t->end;
	if (!memchr(s, '\\', (size_t)(e - s))) {
		if (!utf8_ok((const unsigned char *)s, (const unsigned char *)e, true))
			return fail(c, name, "invalid UTF-8 or unescaped control character");
		out->p = s;
		out->n = (uint32_t)(e - s);
		return 0;
	}
	kg_event_parser *p = c->p;
	char *d = p->scratch + p->scratch_used, *d0 = d;
	for (; s < e; s++) {
		if (*s != '\\') {
			if ((unsigned char)*s < 0x20)
				return fail(c, name, "unescaped control character");
			*d++ = *s;
			continue;
		}
		s++;
		switch (*s) {
		case '"': *d++ = '"'; break;
		case '\\': *d++ = '\\'; break;
		case '/': *d++ = '/'; break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(s + 1, e, &cp))
				return fail(c, name, "bad \\u escape");
			s += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (e - s < 7 || s[1] != '\\' || s[2] != 'u' || hex4(s + 3, e, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return fail(c, name, "unpaired surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return fail(c, name, "unpaired surrogate");
			}
			if (cp < 0x80) {
				*d++ = (char)cp;
			} else if (cp < 0x800) {
				*d++ = (char)(0xc0 | cp >> 6);
				*d++ = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				*d++ = (char)(0xe0 | cp >> 12);
				*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
				*d++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*d++ = (char)(0xf0 | cp >> 18);
				*d++ = (char)(0x80 | (cp >> 12 & 0x3f));
				*d++ = (char)(0x80 | (cp >> 6 & 0x3f));
				*d++ = (char)(0x80 | (cp & 0x3f));
			}
			break;
		}
		default:
			return fail(c, name, "bad escape");
		}
	}
	if (!utf8_ok((const unsigned char *)d0, (const unsigned char *)d, false))
		return fail(c, name, "invalid UTF-8");
	out->p = d0;
	out->n = (uint32_t)(d - d0);
	p->scratch_used += (size_t)(d - d0);
	return 0;
}

/* decode_str, at once for a string of plain text. */
static inline int get_str(struct ctx *c, int i, const char *name, kg_str *out)
{
	const jsmntok_t *t = &c->p->tok[i];
	if (!c->plain || t->type != JSMN_STRING)
		return decode_str(c, i, name, out);
	out->p = c->p->js + t->start;
	out->n = (uint32_t)(t->end - t->start);
	return 0;
}

static int get_int(struct ctx *c, int i, const char *name, int64_t *out)
{
	const jsmntok_t *t = &c->p->tok[i];
	const char *s = c->p->js + t->start, *e = c->p->js + t->end;
	if (t->type != JSMN_PRIMITIVE || s == e || !((*s >= '0' && *s <= '9') || *s == '-'))
		return fail(c, name, "expected integer");
	bool neg = *s == '-';
	if (neg)
		s++;
	if (s == e)
		return fail(c, name, "expected integer");
	int64_t v = 0;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9')
			return fail(c, name, "expected integer");
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return fail(c, name, "integer out of range");
		v = v * 10 + (*s - '0');
	}
	if (neg && v)
		return fail(c, name, "must not be negative");
	*out = v;
	return 0;
}

static int parse_fields(struct ctx *c, int i, const struct fdef *defs, void *base,
			uint64_t skip);
static int check_card(struct ctx *c, int i);

/* An identifier is UTF-8 (decode_str checked) without control characters:
 * no C0 control (NUL included) and no DEL. */
static bool has_control(kg_str s)
{
	for (uint32_t k = 0; k < s.n; k++)
		if ((unsigned char)s.p[k] < 0x20 || s.p[k] == 0x7f)
			return true;
	return false;
}

/* The messages of parse_value that take some writing, kept out of it. */
static int fail_long(struct ctx *c, const char *name)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "longer than %d bytes", KG_ID_MAX);
	return fail(c, name, msg);
}

static int fail_enum(struct ctx *c, const struct fdef *d)
{
	char msg[160];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "expected one of");
	for (const char *const *v = d->values; *v && n < sizeof(msg); v++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s \"%s\"",
				      v == d->values ? "" : ",", *v);
	return fail(c, d->name, msg);
}

static int parse_value(struct ctx *c, int i, const struct fdef *d, void *base)
{
	kg_event_parser *p = c->p;
	const jsmntok_t *t = &p->tok[i];
	char *at = (char *)base + d->off;
	int rc = 0;
	switch (d->kind) {
	case F_STR:
		return get_str(c, i, d->name, (kg_str *)at);
	case F_ID: {
		kg_str *s = (kg_str *)at;
		if ((rc = get_str(c, i, d->name, s)))
			return rc;
		if (s->n == 0)
			return fail(c, d->name, "must not be empty");
		if (s->n > KG_ID_MAX)
			return fail_long(c, d->name);
		if (has_control(*s))
			return fail(c, d->name, "must not contain a control character");
		return 0;
	}
	case F_INT:
		return get_int(c, i, d->name, (int64_t *)at);
	case F_BOOL:
		if (t->type == JSMN_PRIMITIVE && tok_is(c, i, "true", 4))
			*(bool *)at = true;
		else if (t->type == JSMN_PRIMITIVE && tok_is(c, i, "false", 5))
			*(bool *)at = false;
		else
			return fail(c, d->name, "expected true or false");
		return 0;
	case F_CURRENCY: {
		kg_str *s = (kg_str *)at;
		if ((rc = get_str(c, i, d->name, s)))
			return rc;
		if (s->n != 3 || s->p[0] < 'A' || s->p[0] > 'Z' || s->p[1] < 'A' ||
		    s->p[1] > 'Z' || s->p[2] < 'A' || s->p[2] > 'Z')
			return fail(c, d->name, "expected an ISO 4217 code like \"JPY\"");
		return 0;
	}
	case F_ENUM: {
		kg_str *s = (kg_str *)at;
		if ((rc = get_str(c, i, d->name, s)))
			return rc;
		for (const char *const *v = d->values; *v; v++)
			if (strlen(*v) == s->n && !memcmp(*v, s->p, s->n))
				return 0;
		return fail_enum(c, d);
	}
	case F_ADDRESS:
	case F_CARD:
		if (t->type != JSMN_OBJECT)
			return fail(c, d->name, "expected object");
		c->pname = d->name;
		c->pidx = -1;
		rc = parse_fields(c, i, d->kind == F_ADDRESS ? f_address : f_card, at, 0);
		if (!rc && d->kind == F_CARD)
			rc = check_card(c, i);
		if (!rc && d->kind == F_CARD) {
			kg_ev_card *cd = (kg_ev_card *)at;
			const char *x = cd->last4.p;
			if (cd->last4.n != 4 || x[0] < '0' || x[0] > '9' || x[1] < '0' ||
			    x[1] > '9' || x[2] < '0' || x[2] > '9' || x[3] < '0' || x[3] > '9')
				rc = fail(c, "last4", "expected 4 digits");
			x = cd->exp.p;
			if (!rc && (cd->exp.n != 5 || x[2] != '/' || x[0] < '0' || x[0] > '1' ||
				    x[1] < '0' || x[1] > '9' || x[3] < '0' || x[3] > '9' ||
				    x[4] < '0' || x[4] > '9' || (x[0] - '0') * 10 + x[1] - '0' < 1 ||
				    (x[0] - '0') * 10 + x[1] - '0' > 12))
				rc = fail(c, "exp", "expected \"MM/YY\"");
		}
		c->pname = NULL;
		return rc;
	case F_ITEMS: {
		if (t->type != JSMN_ARRAY)
			return fail(c, d->name, "expected array");
		if (t->size > KG_EVENT_ITEMS_MAX)
			return kg_err_field(c->err, KG_ELIMIT, d->name,
					    "%s: more than %d items", d->name, KG_EVENT_ITEMS_MAX);
		int j = i + 1;
		kg_event *ev = &p->ev;
		ev->items = p->items;
		ev->n_items = 0;
		ev->gift_card_amount = 0;
		c->pname = d->name;
		for (int k = 0; k < t->size && !rc; k++) {
			c->pidx = k;
			if (p->tok[j].type != JSMN_OBJECT) {
				rc = fail(c, NULL, "expected object");
				break;
			}
			kg_ev_item *it = &p->items[ev->n_items++];
			memset(it, 0, sizeof(*it));
			rc = parse_fields(c, j, f_item, it, 0);
			if (!rc && it->qty > 0 && it->price > INT64_MAX / it->qty)
				rc = fail(c, "qty", "price * qty out of range");
			if (!rc && it->category.n == 9 && !memcmp(it->category.p, "gift_card", 9)) {
				if (ev->gift_card_amount > INT64_MAX - it->price * it->qty)
					rc = fail(c, "price", "total out of range");
				else
					ev->gift_card_amount += it->price * it->qty;
			}
			j = after(c, j);
		}
		c->pname = NULL;
		return rc;
	}
	case F_SELLERS: {
		if (t->type != JSMN_ARRAY)
			return fail(c, d->name, "expected array");
		if (t->size > KG_EVENT_SELLERS_MAX)
			return kg_err_field(c->err, KG_ELIMIT, d->name, "%s: more than %d sellers",
					    d->name, KG_EVENT_SELLERS_MAX);
		kg_event *ev = &p->ev;
		ev->seller_ids = p->sellers;
		ev->n_seller_ids = 0;
		c->pname = d->name;
		int j = i + 1;
		for (int k = 0; k < t->size && !rc; k++) {
			c->pidx = k;
			kg_str *s = &p->sellers[ev->n_seller_ids++];
			rc = get_str(c, j, NULL, s);
			if (!rc && (s->n == 0 || s->n > KG_ID_MAX))
				rc = fail(c, NULL, "expected a non-empty seller id of at most 128 bytes");
			if (!rc && has_control(*s))
				rc = fail(c, NULL, "must not contain a control character");
			j = after(c, j);
		}
		c->pname = NULL;
		return rc;
	}
	}
	return KG_EINTERNAL;
}

/* An unknown field is kept in the raw text, so it must be valid JSON text
 * too: every string of tokens [key, end) decodes (escapes, surrogates,
 * UTF-8, no raw control characters). Errors name the key when it is short
 * and plain. */
static int check_unknown(struct ctx *c, int key, int end)
{
	if (c->plain)
		return 0; /* every string is valid as it stands */
	kg_str tmp;
	size_t used = c->p->scratch_used;
	int rc = get_str(c, key, "", &tmp);
	if (rc) {
		char path[KG_ERR_FIELD_MAX];
		size_t n = put_path(c, path);
		return kg_err_field(c->err, KG_EINVAL, path, "%s%sa field name is not valid text",
				    path, n ? ": " : "");
	}
	char name[65] = "";
	const jsmntok_t *kt = &c->p->tok[key];
	if (kt->end - kt->start < (int)sizeof(name) &&
	    !memchr(c->p->js + kt->start, '\\', (size_t)(kt->end - kt->start)))
		memcpy(name, c->p->js + kt->start, (size_t)(kt->end - kt->start));
	for (int t = key + 1; t < end && !rc; t++)
		if (c->p->tok[t].type == JSMN_STRING)
			rc = get_str(c, t, name[0] ? name : NULL, &tmp);
	c->p->scratch_used = used; /* the decoded text is not kept */
	return rc;
}

/* ---- card objects: no full card number, no CVC (docs/api.md) -------------- */
/* True when [s, s + n) is 13 to 19 digits (spaces and hyphens between
 * them allowed) that pass the Luhn check: it looks like a card number. */
static bool looks_like_pan(const char *s, size_t n)
{
	int digits = 0, sum = 0;
	if (n < 13 || n > 64)
		return false;
	for (size_t k = n; k > 0; k--) {
		char ch = s[k - 1];
		if (ch == ' ' || ch == '-')
			continue;
		if (ch < '0' || ch > '9')
			return false;
		int d = ch - '0';
		if (digits++ % 2 == 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

/* Whether key k is one of the names a card never carries (number, pan,
 * cvc, cvv), in any case. */
static bool banned_card_key(kg_str k)
{
	static const char *const banned[] = {"number", "pan", "cvc", "cvv"};
	if (k.n != 3 && k.n != 6) /* their lengths: most keys are passed here */
		return false;
	for (size_t b = 0; b < sizeof(banned) / sizeof(banned[0]); b++) {
		const char *name = banned[b];
		size_t i = 0;
		for (; i < k.n && name[i]; i++) {
			char ch = k.p[i];
			if ((ch >= 'A' && ch <= 'Z' ? ch + 32 : ch) != name[i])
				break;
		}
		if (i == k.n && !name[i])
			return true;
	}
	return false;
}

/* The name of a card member for its error (built only then: formatting it
 * for every member of every card cost more than the rest of the check). */
static const char *card_member(char field[65], kg_str name)
{
	snprintf(field, 65, "%.*s", (int)(name.n < 64 ? name.n : 64), name.p);
	return field;
}

/* Refuses card object i (c->pname names it) when a member is named number,
 * pan, cvc or cvv, or any value in it looks like a full card number; the
 * error names the member, never its value. */
static int check_card(struct ctx *c, int i)
{
	const jsmntok_t *tok = c->p->tok;
	size_t used = c->p->scratch_used;
	int j = i + 1, rc = 0;
	for (int k = 0; k < tok[i].size && !rc; k++) {
		int key = j, end = after(c, j + 1);
		kg_str name;
		if ((rc = get_str(c, key, "", &name)))
			break;
		char field[65];
		if (banned_card_key(name))
			rc = fail(c, card_member(field, name), "a full card number or CVC is never accepted "
					    "(send last4, exp and fingerprint)");
		for (int t = key + 1; t < end && !rc; t++) {
			kg_str v;
			if (tok[t].type == JSMN_PRIMITIVE)
				v = (kg_str){c->p->js + tok[t].start, (uint32_t)(tok[t].end - tok[t].start)};
			else if (tok[t].type != JSMN_STRING)
				continue;
			else if ((rc = get_str(c, t, c->plain ? "" : card_member(field, name), &v)))
				break; /* (plain text cannot fail) */
			if (looks_like_pan(v.p, v.n))
				rc = fail(c, card_member(field, name), "looks like a full card number, which is never "
						    "accepted (send last4, exp and fingerprint)");
		}
		j = end;
	}
	c->p->scratch_used = used; /* the decoded text is not kept */
	return rc;
}

/* What parse_value does for a string of plain text in a field of kind
 * F_STR, or F_ID when its length is allowed, at once; false for anything
 * else (parse_value reads it). */
static inline bool plain_field(const struct ctx *c, int i, const struct fdef *d, void *base)
{
	const jsmntok_t *t = &c->p->tok[i];
	uint32_t n = (uint32_t)(t->end - t->start);
	if (!c->plain || t->type != JSMN_STRING ||
	    !(d->kind == F_STR || (d->kind == F_ID && n - 1 < KG_ID_MAX)))
		return false;
	kg_str *out = (kg_str *)((char *)base + d->off);
	out->p = c->p->js + t->start;
	out->n = n;
	return true;
}

/* Index in defs of the field named [ks, ks + klen), or that of the END
 * entry. Fields mostly come in the order of the table: `hint` is tried
 * first. */
static int find_def(const struct fdef *defs, int hint, const char *ks, size_t klen)
{
	const struct fdef *d = &defs[hint];
	if (d->name && d->len == klen && same(d->name, ks, klen))
		return hint;
	for (d = defs; d->name; d++)
		if (d->len == klen && same(d->name, ks, klen))
			break;
	return (int)(d - defs);
}

/* Walks object token i, filling fields of `base` per defs; unknown keys are
 * skipped (kept in the raw text), and so are the members k < 64 whose bit k
 * is set in `skip` (read already). */
static int parse_fields(struct ctx *c, int i, const struct fdef *defs, void *base,
			uint64_t skip)
{
	const jsmntok_t *tok = c->p->tok;
	const char *js = c->p->js;
	uint64_t seen = 0;
	int j = i + 1, d = 0, rc;
	for (int k = 0; k < tok[i].size; k++) {
		const jsmntok_t *kt = &tok[j];
		int key = j, val = j + 1;
		j = after(c, val);
		if (k < 64 && (skip >> k & 1))
			continue;
		d = find_def(defs, defs[d].name ? d : 0, js + kt->start,
			     (size_t)(kt->end - kt->start));
		const struct fdef *df = &defs[d];
		if (!df->name) {
			if ((rc = check_unknown(c, key, j)))
				return rc;
			if (!c->pname && tok[val].type == JSMN_OBJECT &&
			    (size_t)(kt->end - kt->start) == 4 && !memcmp(js + kt->start, "card", 4)) {
				/* a card object of an event type that has none */
				c->pname = "card";
				c->pidx = -1;
				rc = check_card(c, val);
				c->pname = NULL;
				if (rc)
					return rc;
			}
			d = 0;
			continue;
		}
		if (seen & (1ull << d))
			return fail(c, df->name, "duplicate field");
		seen |= 1ull << d++;
		if (!plain_field(c, val, df, base) && (rc = parse_value(c, val, df, base)))
			return rc;
	}
	for (d = 0; defs[d].name; d++)
		if (defs[d].required && !(seen & (1ull << d)))
			return fail(c, defs[d].name, "missing");
	return 0;
}

/* Checks the primitives jsmn let through (it validates only their first
 * character): true, false, null or a number
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool primitive_ok(const char *s, size_t n)
{
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
	    (n == 4 && !memcmp(s, "null", 4)))
		return true;
	size_t k = 0;
	if (k < n && s[k] == '-')
		k++;
	size_t d0 = k;
	while (k < n && s[k] >= '0' && s[k] <= '9')
		k++;
	bool ok = k > d0 && !(s[d0] == '0' && k - d0 > 1);
	if (ok && k < n && s[k] == '.') {
		size_t f0 = ++k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		ok = k > f0;
	}
	if (ok && k < n && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		size_t e0 = k;
		while (k < n && s[k] >= '0' && s[k] <= '9')
			k++;
		ok = k > e0;
	}
	return ok && k == n;
}

/* Checks the primitives and the nesting depth, token by token. */
static int check_tokens(struct ctx *c, size_t len)
{
	int ends[KG_JSON_DEPTH_MAX + 1], depth = 0;
	for (int i = 0; i < c->ntok; i++) {
		const jsmntok_t *t = &c->p->tok[i];
		while (depth > 0 && t->start >= ends[depth - 1])
			depth--;
		if (t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) {
			if (depth >= KG_JSON_DEPTH_MAX)
				return kg_err_field(c->err, KG_ELIMIT, "",
						    "JSON nested deeper than %d", KG_JSON_DEPTH_MAX);
			ends[depth++] = t->end;
			continue;
		}
		if (t->type == JSMN_PRIMITIVE &&
		    !primitive_ok(c->p->js + t->start, (size_t)(t->end - t->start)))
			return kg_event_syntax_error(c->err, c->p->js, len, t->start,
						     "invalid JSON value");
	}
	return 0;
}

/* jsmn, even strict, lets through text that is not JSON (missing or doubled
 * ',' and ':', trailing commas, a key inside an array, "a" "b" in an
 * object), and then token sizes no longer pair keys with values. This walk
 * checks the text between the tokens of container i against the grammar
 * and every key's pairing; returns the index after i's subtree (and notes
 * next[] of the values in it), or -1 with *bad the byte offset of the
 * fault. Depth is bounded by check_tokens. */
static bool gap_ok(const char *s, int from, int to, char sep)
{
	for (int k = from; k < to; k++) {
		if (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r')
			continue;
		if (s[k] != sep)
			return false;
		sep = 0; /* the separator once, at most */
	}
	return sep == 0;
}

/* gap_ok, answering at once for compact text (nothing or just the
 * separator between two tokens). */
static inline bool gap_ok_fast(const char *s, int from, int to, char sep)
{
	if (to - from == (sep != 0))
		return sep == 0 || s[from] == sep;
	return gap_ok(s, from, to, sep);
}

static int outer_start(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int outer_end(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

static int check_syntax(const struct ctx *c, int i, int *bad)
{
	const jsmntok_t *tok = c->p->tok, *t = &tok[i];
	const char *s = c->p->js;
	int j = i + 1, pos = t->start + 1;
	for (int k = 0; k < t->size; k++) {
		if (j >= c->ntok)
			goto fail;
		if (!gap_ok(s, pos, outer_start(&tok[j]), k ? ',' : 0))
			goto fail;
		if (t->type == JSMN_OBJECT) {
			if (tok[j].type != JSMN_STRING || tok[j].size != 1 || j + 1 >= c->ntok ||
			    !gap_ok(s, outer_end(&tok[j]), outer_start(&tok[j + 1]), ':'))
				goto fail;
			j++;
		}
		pos = outer_end(&tok[j]);
		if (tok[j].type == JSMN_OBJECT || tok[j].type == JSMN_ARRAY) {
			if ((j = check_syntax(c, j, bad)) < 0)
				return -1;
		} else if (tok[j].size != 0) {
			goto fail;
		} else {
			c->p->next[j] = j + 1;
			j++;
		}
	}
	if (gap_ok(s, pos, t->end - 1, 0)) {
		c->p->next[i] = j;
		return j;
	}
fail:
	*bad = j < c->ntok ? outer_start(&tok[j]) : pos;
	return -1;
}

/* ---- the body hash's runs (the hash itself: below, kg_event_body_hash) ---- */
#define BH_STEP_A 0x3bce14abff1db1d5ull
#define BH_STEP_B 0x2a438f2aff72f443ull
#define BH_LEN_B 0x23eb7164ffc5c727ull
#define BH_MIX_B 0x9e3779b97f4a7c15ull
#define BH_PAIR_A 0xf4a3cc30ff800e05ull
#define BH_PAIR_B 0x09c9c31afff93909ull
#define BH_OBJ_A 0x74406663ffe1ec75ull
#define BH_OBJ_B 0x2cc9d354ff6fd971ull
#define BH_ARR_A 0xa946a04efff35ab3ull
#define BH_ARR_B 0x4dfc3c3bffc1c02bull
#define BH_ARRF_A 0x5be0c2a1ff9d3e47ull
#define BH_ARRF_B 0xd1a7e93cff28b6f5ull
#define BH_END_A 0x2a162b8dff35698dull
#define BH_END_B 0x89fb1806ff3fe287ull

/* What a run is: each kind starts its lanes from its own pair of
 * constants, so no two kinds share a hash. The first has a top byte 0xff,
 * which no UTF-8 text has, so that a run's first word never cancels it
 * (the lengths stay below bit 49). */
enum {
	RUN_STR,      /* an array's string element */
	RUN_PRIM,     /* an array's other scalar element */
	RUN_KEY,      /* the key of a member whose value is an object or array */
	RUN_MEM_STR,  /* a member whose value is a string */
	RUN_MEM_PRIM, /* a member whose value is another scalar (RUN_MEM_STR + 1) */
	RUN_KINDS
};
static const uint64_t run_seed[RUN_KINDS][2] = {
	[RUN_STR] = {0xffd08047bff71679ull, 0x937aba35c948a915ull},
	[RUN_PRIM] = {0xfffb74136202fd71ull, 0xaedb5aeeb3c260b1ull},
	[RUN_KEY] = {0xff63bff10c58b715ull, 0x8b4af9098c980273ull},
	[RUN_MEM_STR] = {0xff6d7cc7e571bcafull, 0x4506a6fc208a9b03ull},
	[RUN_MEM_PRIM] = {0xffae53e303263757ull, 0x3eb051cc212d5007ull},
};

struct bh {
	uint64_t a, b;
};

/* 64x64->128 multiply, folded. */
static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t le64(const unsigned char *s)
{
	uint64_t w;
	memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

static inline void put_le64(uint8_t *d, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	memcpy(d, &w, 8);
}

/* The n < 8 bytes at s as a little-endian word, zeros above them. Reads
 * eight bytes at once when [lo, hi), which holds s's, holds them too. */
static inline uint64_t le_short(const unsigned char *s, size_t n, const unsigned char *lo,
				const unsigned char *hi)
{
	if (n == 0)
		return 0;
	if (hi - s >= 8)
		return le64(s) & (~0ull >> (64 - 8 * n));
	if (s + n - lo >= 8)
		return le64(s + n - 8) >> (64 - 8 * n);
	uint64_t w = 0;
	for (size_t k = n; k-- > 0;)
		w = w << 8 | s[k];
	return w;
}

/* The hash of the n bytes at s (within [lo, hi)) as a run of `kind`, of
 * a member whose key is its first keylen bytes (else 0): the kind's
 * constants, the lengths (in b through an odd multiplier, so that no
 * difference of first words undoes a difference of lengths in both) are
 * the two 64-bit halves of the state; then each 16 bytes w0, w1 makes the
 * state the 128-bit product (a ^ w0) * (b ^ w1); its halves, mixed, are
 * the two lanes. The last words may overlap the ones before (the length
 * tells them apart). */
static inline struct bh hash_run(const unsigned char *s, size_t n, const unsigned char *lo,
				 const unsigned char *hi, int kind, uint32_t keylen)
{
	uint64_t len = (uint64_t)keylen << 32 | (uint32_t)n, w0, w1;
	uint64_t a = run_seed[kind][0] ^ len, b = run_seed[kind][1] ^ len * BH_LEN_B;
	__uint128_t r;
	if (n > 16) {
		const unsigned char *last = s + n - 16;
		for (; s < last; s += 16) {
			r = (__uint128_t)(a ^ le64(s)) * (b ^ le64(s + 8));
			a = (uint64_t)r;
			b = (uint64_t)(r >> 64);
		}
		w0 = le64(last);
		w1 = le64(last + 8);
	} else if (n >= 8) {
		w0 = le64(s);
		w1 = le64(s + n - 8);
	} else {
		w0 = le_short(s, n, lo, hi);
		w1 = 0;
	}
	r = (__uint128_t)(a ^ w0) * (b ^ w1);
	/* a product's halves are (near) linear in a factor, and an object
	 * adds its members' hashes: without this, {"p":"1","q":"2"} and
	 * {"p":"2","q":"1"} would have the same sum */
	a = (uint64_t)r;
	b = (uint64_t)(r >> 64);
	return (struct bh){a ^ b, b ^ a * BH_MIX_B};
}

/* The hash of a container (an object's member sum, an array's chain) of
 * size members, once they are all in. */
static inline struct bh bh_close(bool obj, uint64_t a, uint64_t b, int size)
{
	if (obj)
		return (struct bh){mul_fold(a ^ BH_OBJ_A, (uint32_t)size ^ BH_END_A),
				   mul_fold(b ^ BH_OBJ_B, (uint32_t)size ^ BH_END_B)};
	return (struct bh){mul_fold(a ^ BH_ARRF_A, (uint32_t)size ^ BH_END_A),
			   mul_fold(b ^ BH_ARRF_B, (uint32_t)size ^ BH_END_B)};
}

/* Adds value hash h to the container being hashed: to an object's sum (a
 * member: kh is its key's run when h is a container's hash, 0 for a
 * scalar member's own run), to an array's chain. */
static inline void bh_add(bool obj, uint64_t *a, uint64_t *b, struct bh h)
{
	if (obj) {
		*a += h.a;
		*b += h.b;
	} else {
		*a = mul_fold(*a ^ h.a, BH_STEP_A);
		*b = mul_fold(*b ^ h.b, BH_STEP_B);
	}
}

/* The rules of check_tokens and check_syntax for text whose depth stays
 * within the limit, in one loop over the tokens (the nesting of the tokens
 * then is that of the text); notes next[] too. True when the text passes
 * them all: it is JSON, on which jsmn with and without parent links agree.
 * False when it may not: check_text then tells.
 * With hash (plain text: strings are as they stand), the same walk takes
 * the body hash (kg_event_body_hash's, to the bit: the runs are read where
 * they lie) into p->hash and sets p->hashed, unless a member is not
 * compact (spaces around its ':'), whose run then needs a copy: the full
 * walk of kg_event_body_hash takes it.
 * With grammar (tokenize's tokens: the text between them is JSON's and
 * they pair as it does), only the depth and the primitives are checked. */
static inline __attribute__((always_inline)) bool walk_impl(const struct ctx *c, size_t len,
							     const bool hash, const bool grammar)
{
	kg_event_parser *p = c->p;
	const jsmntok_t *tok = p->tok;
	const char *s = p->js;
	const unsigned char *lo = (const unsigned char *)s, *hi = lo + len;
	int *next = p->next;
	struct {
		int i, left;
		uint64_t a, b;   /* its hash so far */
		struct bh key;   /* the run of the key whose value is the child */
	} open[KG_JSON_DEPTH_MAX]; /* the containers around the innermost one */
	int depth = 0, j = 1, n = c->ntok;
	int f = 0, left = tok[0].size; /* the innermost container, children to come */
	bool obj = true;               /* f is an object */
	bool first = true;             /* no child of f yet */
	int pos = tok[0].start + 1;    /* where the text after the last token starts */
	bool hashing = hash;           /* every member so far compact */
	uint64_t ha = 0, hb = 0;       /* f's hash so far */
	p->hashed = false;
	if (!grammar && (!gap_ok_fast(s, 0, tok[0].start, 0) || tok[0].end != (int)len))
		return false;
	for (;;) {
		if (left == 0) {
			if (!grammar && !gap_ok_fast(s, pos, tok[f].end - 1, 0))
				return false;
			next[f] = j;
			pos = tok[f].end;
			struct bh h = {0, 0};
			if (hashing)
				h = bh_close(obj, ha, hb, tok[f].size);
			if (depth == 0) {
				if (hashing) {
					put_le64(p->hash, h.a);
					put_le64(p->hash + 8, h.b);
					p->hashed = true;
				}
				break;
			}
			depth--;
			f = open[depth].i;
			left = open[depth].left;
			obj = tok[f].type == JSMN_OBJECT;
			first = false;
			if (hashing) {
				ha = open[depth].a;
				hb = open[depth].b;
				if (obj) /* the member: its key's run times the value's hash */
					h = (struct bh){mul_fold(open[depth].key.a ^ BH_PAIR_A, h.a),
							mul_fold(open[depth].key.b ^ BH_PAIR_B, h.b)};
				bh_add(obj, &ha, &hb, h);
			}
			continue;
		}
		left--;
		if (!grammar && j >= n)
			return false;
		const jsmntok_t *t = &tok[j];
		if (obj) {
			if (!grammar &&
			    (t->type != JSMN_STRING || t->size != 1 || j + 1 >= n ||
			     !gap_ok_fast(s, pos, t->start - 1, first ? 0 : ',') ||
			     !gap_ok_fast(s, t->end + 1, outer_start(t + 1), ':')))
				return false;
			t++;
			j++;
		} else if (!grammar && !gap_ok_fast(s, pos, outer_start(t), first ? 0 : ',')) {
			return false;
		}
		first = false;
		switch (t->type) {
		case JSMN_STRING:
		case JSMN_PRIMITIVE: {
			bool str = t->type == JSMN_STRING;
			if ((!grammar && t->size != 0) ||
			    (!str && !primitive_ok(s + t->start, (size_t)(t->end - t->start))))
				return false;
			next[j] = j + 1;
			pos = str ? t->end + 1 : t->end;
			if (!hashing)
				break;
			if (!obj) {
				bh_add(false, &ha, &hb,
				       hash_run(lo + t->start, (size_t)(t->end - t->start), lo, hi,
						str ? RUN_STR : RUN_PRIM, 0));
				break;
			}
			const jsmntok_t *kt = t - 1;
			if (t->start != kt->end + 2 + str) {
				hashing = false; /* not compact: the full walk */
				break;
			}
			/* the member's own text: "key":"value" or "key":value (a
			 * constant kind each: its seeds fold into the code) */
			const unsigned char *m = lo + kt->start;
			size_t mn = (size_t)(t->end - kt->start);
			uint32_t kn = (uint32_t)(kt->end - kt->start);
			struct bh h = str ? hash_run(m, mn, lo, hi, RUN_MEM_STR, kn)
					  : hash_run(m, mn, lo, hi, RUN_MEM_PRIM, kn);
			ha += h.a;
			hb += h.b;
			break;
		}
		case JSMN_OBJECT:
		case JSMN_ARRAY:
			if (depth + 1 >= KG_JSON_DEPTH_MAX)
				return false;
			open[depth].i = f;
			open[depth].left = left;
			if (hashing) {
				open[depth].a = ha;
				open[depth].b = hb;
				if (obj)
					open[depth].key = hash_run(lo + t[-1].start,
								   (size_t)(t[-1].end - t[-1].start),
								   lo, hi, RUN_KEY, 0);
			}
			depth++;
			f = j;
			left = t->size;
			obj = t->type == JSMN_OBJECT;
			first = true;
			pos = t->start + 1;
			ha = obj ? 0 : BH_ARR_A;
			hb = obj ? 0 : BH_ARR_B;
			break;
		default:
			return false;
		}
		j++;
	}
	if (j != n)
		p->hashed = false;
	return j == n;
}

static bool walk_fast(const struct ctx *c, size_t len)
{
	return walk_impl(c, len, false, false);
}

static bool walk_fast_hash(const struct ctx *c, size_t len)
{
	return walk_impl(c, len, true, false);
}

/* The walks of tokenize's tokens: their text follows the grammar, so that
 * only the depth and the primitives are left to check. */
static bool walk_tok(const struct ctx *c, size_t len)
{
	return walk_impl(c, len, false, true);
}

static bool walk_tok_hash(const struct ctx *c, size_t len)
{
	return walk_impl(c, len, true, true);
}

/* The text checks on the tokens of jsmn without parent links (whose
 * messages they define), for text that walk_fast did not pass: 0, or the
 * error; c->ntok is their count. */
static int check_text(struct ctx *c, const char *json, size_t len)
{
	kg_event_parser *p = c->p;
	unsigned pos;
	int n = kg_event_lax_parse(p->lax, json, len, &pos);
	if (n == JSMN_ERROR_NOMEM)
		return kg_err_field(c->err, KG_ELIMIT, "", "more than %d JSON tokens",
				    KG_JSON_TOKENS_MAX);
	if (n < 0)
		return kg_event_syntax_error(c->err, json, len, (int)pos,
					     n == JSMN_ERROR_PART ? "truncated JSON" : "invalid JSON");
	for (int i = 0; i < n; i++) {
		int q[4];
		kg_event_lax_token(p->lax, i, q);
		p->tok[i] = (jsmntok_t){.type = (jsmntype_t)q[0], .start = q[1], .end = q[2],
					.size = q[3], .parent = -1};
	}
	c->ntok = n;
	if (n == 0 || p->tok[0].type != JSMN_OBJECT)
		return kg_err_field(c->err, KG_EINVAL, "", "expected a JSON object");
	/* Tokens come in text order, so one after the object starts past its
	 * end. jsmn stops at a NUL byte: it ends the text early. */
	if (p->tok[n - 1].start >= p->tok[0].end || pos < len)
		return kg_event_syntax_error(c->err, json, len, p->tok[0].end,
					     "unexpected data after the JSON object");
	int rc = check_tokens(c, len);
	if (rc)
		return rc;
	int bad = 0;
	if (!gap_ok(json, 0, p->tok[0].start, 0) || p->tok[0].end != (int)len ||
	    check_syntax(c, 0, &bad) != n)
		return kg_event_syntax_error(c->err, json, len, bad, "invalid JSON");
	return 0;
}

int kg_event_parse(kg_event_parser *p, const char *json, size_t len, const kg_event **out,
		   kg_err *err)
{
	struct ctx c = {.p = p, .err = err};
	if (len > KG_EVENT_BYTES_MAX)
		return kg_err_field(err, KG_ELIMIT, "", "event larger than %d bytes",
				    KG_EVENT_BYTES_MAX);
	while (len && (json[len - 1] == '\n' || json[len - 1] == '\r' || json[len - 1] == ' ' ||
		       json[len - 1] == '\t'))
		len--;
	p->js = json;
	p->scratch_used = 0;
	bool plain;
	int n = tokenize(p->tok, json, len, &plain), rc;
	bool whole = n > 0; /* one object, the whole text, jsmn's tokens */
	bool grammar = whole; /* and JSON's grammar holds */
	if (n < 0) {
		jsmn_parser jp; /* a local: the compiler keeps its fields in registers */
		jsmn_init(&jp);
		n = jsmn_parse(&jp, json, len, p->tok, KG_JSON_TOKENS_MAX);
		whole = n > 0 && p->tok[0].type == JSMN_OBJECT &&
			p->tok[n - 1].start < p->tok[0].end && jp.pos >= len;
		plain = whole && text_plain((const unsigned char *)json,
					    (const unsigned char *)json + len);
	}
	c.ntok = n;
	if (!whole ||
	    !((c.plain = plain) ? (grammar ? walk_tok_hash(&c, len) : walk_fast_hash(&c, len))
				: (grammar ? walk_tok(&c, len) : walk_fast(&c, len)))) {
		p->hashed = false;
		if ((rc = check_text(&c, json, len)))
			return rc;
		c.plain = text_plain((const unsigned char *)json, (const unsigned char *)json + len);
	}

	kg_event *ev = &p->ev;
	memset(ev, 0, sizeof(*ev));
	ev->raw = json;
	ev->raw_len = len;
	ev->items = p->items;
	ev->seller_ids = p->sellers;
	/* common fields first, wherever they are in the object */
	int type_tok = -1, id_tok = -1, acct_tok = -1, ts_tok = -1;
	uint64_t common = 0; /* members k < 64 that are one of those */
	int j = 1;
	for (int k = 0; k < p->tok[0].size; k++) {
		const char *ks = json + p->tok[j].start;
		int *slot = NULL;
		switch (p->tok[j].end - p->tok[j].start) {
		case 2:
			slot = !memcmp(ks, "id", 2) ? &id_tok : !memcmp(ks, "ts", 2) ? &ts_tok : NULL;
			break;
		case 4:
			slot = !memcmp(ks, "type", 4) ? &type_tok : NULL;
			break;
		case 7:
			slot = !memcmp(ks, "account", 7) ? &acct_tok : NULL;
			break;
		}
		if (slot) {
			if (*slot >= 0)
				return fail(&c, slot == &type_tok ? "type" : slot == &id_tok ? "id"
					    : slot == &acct_tok ? "account" : "ts", "duplicate field");
			*slot = j + 1;
			common |= k < 64 ? 1ull << k : 0;
		}
		j = after(&c, j + 1);
	}
	static const struct fdef f_id = FD("id", F_ID, true, OFF(id), NULL);
	static const struct fdef f_acct = FD("account", F_ID, true, OFF(account), NULL);
	if (id_tok < 0)
		return fail(&c, "id", "missing");
	if (!plain_field(&c, id_tok, &f_id, ev) && (rc = parse_value(&c, id_tok, &f_id, ev)))
		return rc;
	if (type_tok < 0)
		return fail(&c, "type", "missing");
	kg_str type;
	if ((rc = get_str(&c, type_tok, "type", &type)))
		return rc;
	ev->type = KG_EV_TYPE_COUNT;
	for (int t = 0; t < KG_EV_TYPE_COUNT; t++)
		if (types[t].len == type.n && same(types[t].name, type.p, type.n)) {
			ev->type = (enum kg_event_type)t;
			break;
		}
	if (ev->type == KG_EV_TYPE_COUNT) {
		char msg[KG_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "unknown event type \"%.*s\"",
			 (int)(type.n > 64 ? 64 : type.n), type.p);
		return fail(&c, "type", msg);
	}
	if (acct_tok < 0)
		return fail(&c, "account", "missing");
	if (!plain_field(&c, acct_tok, &f_acct, ev) &&
	    (rc = parse_value(&c, acct_tok, &f_acct, ev)))
		return rc;
	if (ts_tok < 0)
		return fail(&c, "ts", "missing");
	kg_str ts;
	if ((rc = get_str(&c, ts_tok, "ts", &ts)))
		return rc;
	if (kg_time_parse(ts.p, ts.n, &ev->ts_ms) || ev->ts_ms < 0 ||
	    ev->ts_ms / 1000 > (int64_t)UINT32_MAX - 400 * 86400)
		return fail(&c, "ts", "expected an RFC 3339 time like \"2026-11-28T10:00:00Z\"");
	rc = parse_fields(&c, 0, type_fields[ev->type], ev, common);
	if (rc)
		return rc;
	p->ntok = c.ntok;
	p->plain = c.plain;
	*out = ev;
	return 0;
}

/* ---- the body hash --------------------------------------------------------
 * A hash of what the body says, not of how it is written: whitespace, the
 * order of an object's members and the spelling of escapes do not change
 * it; anything else does (unknown fields included, an array's order, a
 * number's text: 1 and 1.0 differ). One walk over the tokens, no sorting
 * and no copy of the body:
 * - a run of bytes hashes to 128 bits (hash_run: a 64x64->128 multiply
 *   per 16 bytes), starting from its kind and lengths;
 * - a member whose value is a string or another scalar is one run: the
 *   decoded key, `":"` (`":` before a scalar that is not a string) and the
 *   decoded string or the scalar's text - the member's own text when it is
 *   compact and has no escape, hashed where it lies;
 * - a member whose value is an object or an array: its key's run times the
 *   value's hash, per 64-bit lane;
 * - an object: the sum of its members' hashes per lane (a sum does not
 *   depend on their order, so nothing is sorted; a key given twice counts
 *   twice), then its member count;
 * - an array: its elements' hashes chained in order, then its count.
 * Stable (it is stored): fixed constants, words read little-endian. */
struct bwalk {
	struct ctx *c;
	const unsigned char *lo, *hi; /* the text */
};

/* The string token i, decoded, with the bounds a run of it may read in. */
static int body_str(struct bwalk *w, int i, kg_str *s, const unsigned char **lo,
		    const unsigned char **hi)
{
	int rc = get_str(w->c, i, NULL, s);
	if (rc)
		return rc;
	*lo = w->c->plain ? w->lo : (const unsigned char *)s->p;
	*hi = w->c->plain ? w->hi : (const unsigned char *)s->p + s->n;
	return 0;
}

/* The text of scalar token i: decoded when a string. */
static int body_scalar_text(struct bwalk *w, int i, kg_str *s, const unsigned char **lo,
			    const unsigned char **hi)
{
	const jsmntok_t *t = &w->c->p->tok[i];
	if (t->type == JSMN_STRING)
		return body_str(w, i, s, lo, hi);
	*s = (kg_str){w->c->p->js + t->start, (uint32_t)(t->end - t->start)};
	*lo = w->lo;
	*hi = w->hi;
	return 0;
}

static int body_value(struct bwalk *w, int i, int *next, struct bh *out);

/* A member of key token k whose value (token k + 1) is a scalar, in text
 * with escapes or spaces: its run decoded into p->member. */
static int body_member_slow(struct bwalk *w, int k, struct bh *out)
{
	kg_event_parser *p = w->c->p;
	bool str = p->tok[k + 1].type == JSMN_STRING;
	size_t used = p->scratch_used;
	kg_str key, val;
	const unsigned char *lo, *hi;
	int rc = body_str(w, k, &key, &lo, &hi);
	if (!rc)
		rc = body_scalar_text(w, k + 1, &val, &lo, &hi);
	if (!rc) {
		unsigned char *m = p->member;
		memcpy(m, key.p, key.n);
		memcpy(m + key.n, "\":\"", 2 + str);
		memcpy(m + key.n + 2 + str, val.p, val.n);
		*out = hash_run(m, key.n + 2 + str + val.n, m, m + sizeof(p->member),
				str ? RUN_MEM_STR : RUN_MEM_PRIM, key.n);
	}
	p->scratch_used = used;
	return rc;
}

/* A member of key token k whose value is an object or an array; *next:
 * the token after it. */
static int body_member_nested(struct bwalk *w, int k, int *next, struct bh *out)
{
	struct bh kh, vh;
	kg_str key;
	const unsigned char *lo, *hi;
	size_t used = w->c->p->scratch_used;
	int rc = body_str(w, k, &key, &lo, &hi);
	if (rc)
		return rc;
	kh = hash_run((const unsigned char *)key.p, key.n, lo, hi, RUN_KEY, 0);
	w->c->p->scratch_used = used;
	if ((rc = body_value(w, k + 1, next, &vh)))
		return rc;
	out->a = mul_fold(kh.a ^ BH_PAIR_A, vh.a);
	out->b = mul_fold(kh.b ^ BH_PAIR_B, vh.b);
	return 0;
}

static int body_object(struct bwalk *w, int i, int *next, struct bh *out)
{
	const jsmntok_t *tok = w->c->p->tok;
	const unsigned char *js = w->lo, *end = w->hi;
	bool plain = w->c->plain;
	int size = tok[i].size, j = i + 1, rc = 0;
	uint64_t a = 0, b = 0;
	for (int m = 0; m < size; m++) {
		const jsmntok_t *kt = &tok[j], *vt = kt + 1;
		struct bh h;
		if (vt->type == JSMN_STRING || vt->type == JSMN_PRIMITIVE) {
			bool str = vt->type == JSMN_STRING;
			/* compact text without escapes: the run is the member's text */
			if (plain && vt->start == kt->end + 2 + str)
				h = hash_run(js + kt->start, (size_t)(vt->end - kt->start), js, end,
					     RUN_MEM_PRIM - str, (uint32_t)(kt->end - kt->start));
			else if ((rc = body_member_slow(w, j, &h)))
				break;
			j += 2;
		} else if ((rc = body_member_nested(w, j, &j, &h))) {
			break;
		}
		a += h.a;
		b += h.b;
	}
	*out = (struct bh){mul_fold(a ^ BH_OBJ_A, (uint32_t)size ^ BH_END_A),
			   mul_fold(b ^ BH_OBJ_B, (uint32_t)size ^ BH_END_B)};
	*next = j;
	return rc;
}

static int body_array(struct bwalk *w, int i, int *next, struct bh *out)
{
	const jsmntok_t *tok = w->c->p->tok;
	uint64_t a = BH_ARR_A, b = BH_ARR_B;
	int j = i + 1, rc = 0;
	for (int m = 0; m < tok[i].size && !rc; m++) {
		struct bh h = {0, 0};
		rc = body_value(w, j, &j, &h);
		a = mul_fold(a ^ h.a, BH_STEP_A);
		b = mul_fold(b ^ h.b, BH_STEP_B);
	}
	*out = (struct bh){mul_fold(a ^ BH_ARRF_A, (uint32_t)tok[i].size ^ BH_END_A),
			   mul_fold(b ^ BH_ARRF_B, (uint32_t)tok[i].size ^ BH_END_B)};
	*next = j;
	return rc;
}

/* The hash of value token i; *next: the token after it. */
static int body_value(struct bwalk *w, int i, int *next, struct bh *out)
{
	const jsmntok_t *t = &w->c->p->tok[i];
	if (t->type == JSMN_OBJECT)
		return body_object(w, i, next, out);
	if (t->type == JSMN_ARRAY)
		return body_array(w, i, next, out);
	size_t used = w->c->p->scratch_used;
	kg_str s;
	const unsigned char *lo, *hi;
	int rc = body_scalar_text(w, i, &s, &lo, &hi);
	if (!rc)
		*out = hash_run((const unsigned char *)s.p, s.n, lo, hi,
				t->type == JSMN_STRING ? RUN_STR : RUN_PRIM, 0);
	w->c->p->scratch_used = used;
	*next = i + 1;
	return rc;
}

int kg_event_body_hash(kg_event_parser *p, uint8_t out[KG_EVENT_HASH_BYTES])
{
	if (p->hashed) { /* taken by the parse's walk */
		memcpy(out, p->hash, KG_EVENT_HASH_BYTES);
		return 0;
	}
	return kg_event_body_hash_walk(p, out);
}

int kg_event_body_hash_walk(kg_event_parser *p, uint8_t out[KG_EVENT_HASH_BYTES])
{
	kg_err err;
	struct ctx c = {.p = p, .ntok = p->ntok, .err = &err, .plain = p->plain};
	struct bwalk w = {.c = &c, .lo = (const unsigned char *)p->js,
			  .hi = (const unsigned char *)p->js + p->ev.raw_len};
	struct bh h;
	int next;
	size_t used = p->scratch_used;
	int rc = body_value(&w, 0, &next, &h);
	p->scratch_used = used; /* the event's own strings stay */
	if (rc)
		return rc;
	put_le64(out, h.a);
	put_le64(out + 8, h.b);
	return 0;
}
