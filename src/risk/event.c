/* Event parsing and validation on the hot path: jsmn tokenizes, a table per
 * event type says which fields exist and what they hold. Errors name the
 * field; unknown fields are kept (the raw text is what gets stored). */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk.h"

struct kg_event_parser {
	jsmn_parser jp;
	jsmntok_t tok[KG_JSON_TOKENS_MAX];
	const char *js;
	char scratch[KG_EVENT_BYTES_MAX];
	size_t scratch_used;
	kg_ev_item items[KG_EVENT_ITEMS_MAX];
	kg_str sellers[KG_EVENT_SELLERS_MAX];
	kg_event ev;
};

static const char *const type_names[KG_EV_TYPE_COUNT] = {
	"account.created", "login", "order", "payment",
	"return", "seller_report", "password_change", "profile_change",
};

const char *kg_event_type_name(enum kg_event_type t)
{
	return (unsigned)t < KG_EV_TYPE_COUNT ? type_names[t] : NULL;
}

kg_event_parser *kg_event_parser_new(void)
{
	return calloc(1, sizeof(kg_event_parser));
}

void kg_event_parser_free(kg_event_parser *p)
{
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

#define END {NULL, 0, 0, 0, NULL}
static const struct fdef f_created[] = {
	{"name", F_STR, true, OFF(name), NULL},
	{"email", F_STR, true, OFF(email), NULL},
	{"phone", F_STR, false, OFF(phone), NULL},
	{"address", F_ADDRESS, true, OFF(address), NULL},
	END};
static const struct fdef f_login[] = {
	{"success", F_BOOL, true, OFF(success), NULL},
	{"ip", F_ID, true, OFF(ip), NULL},
	{"device_id", F_ID, true, OFF(device_id), NULL},
	{"country", F_STR, false, OFF(country), NULL},
	{"user_agent", F_STR, false, OFF(user_agent), NULL},
	END};
static const struct fdef f_order[] = {
	{"order_id", F_ID, true, OFF(order_id), NULL},
	{"amount", F_INT, true, OFF(amount), NULL},
	{"currency", F_CURRENCY, true, OFF(currency), NULL},
	{"items", F_ITEMS, true, 0, NULL},
	{"shipping_address", F_ADDRESS, true, OFF(shipping_address), NULL},
	{"billing_address", F_ADDRESS, true, OFF(billing_address), NULL},
	{"card", F_CARD, true, OFF(card), NULL},
	{"seller_ids", F_SELLERS, true, 0, NULL},
	END};
static const struct fdef f_payment[] = {
	{"order_id", F_ID, true, OFF(order_id), NULL},
	{"amount", F_INT, true, OFF(amount), NULL},
	{"currency", F_CURRENCY, true, OFF(currency), NULL},
	{"card", F_CARD, true, OFF(card), NULL},
	{"result", F_ENUM, true, OFF(result), result_values},
	{"decline_code", F_STR, false, OFF(decline_code), NULL},
	END};
static const struct fdef f_return[] = {
	{"order_id", F_ID, true, OFF(order_id), NULL},
	{"amount", F_INT, true, OFF(amount), NULL},
	{"currency", F_CURRENCY, true, OFF(currency), NULL},
	{"seller_id", F_ID, true, OFF(seller_id), NULL},
	{"reason", F_STR, false, OFF(reason), NULL},
	END};
static const struct fdef f_report[] = {
	{"seller_id", F_ID, true, OFF(seller_id), NULL},
	{"order_id", F_ID, false, OFF(order_id), NULL},
	{"kind", F_ENUM, true, OFF(kind), kind_values},
	END};
static const struct fdef f_password[] = {
	{"ip", F_ID, true, OFF(ip), NULL},
	{"device_id", F_ID, true, OFF(device_id), NULL},
	{"via", F_ENUM, true, OFF(via), via_values},
	END};
static const struct fdef f_profile[] = {
	{"field", F_ENUM, true, OFF(field), field_values},
	END};
static const struct fdef *const type_fields[KG_EV_TYPE_COUNT] = {
	f_created, f_login, f_order, f_payment, f_return, f_report, f_password, f_profile,
};

#define AOFF(f) offsetof(kg_ev_address, f)
static const struct fdef f_address[] = {
	{"postal_code", F_STR, true, AOFF(postal_code), NULL},
	{"region", F_STR, true, AOFF(region), NULL},
	{"city", F_STR, true, AOFF(city), NULL},
	{"line1", F_STR, true, AOFF(line1), NULL},
	{"line2", F_STR, false, AOFF(line2), NULL},
	{"country", F_STR, true, AOFF(country), NULL},
	END};
#define COFF(f) offsetof(kg_ev_card, f)
static const struct fdef f_card[] = {
	{"holder_name", F_STR, true, COFF(holder_name), NULL},
	{"last4", F_STR, true, COFF(last4), NULL},
	{"exp", F_STR, true, COFF(exp), NULL},
	{"fingerprint", F_ID, true, COFF(fingerprint), NULL},
	END};
#define IOFF(f) offsetof(kg_ev_item, f)
static const struct fdef f_item[] = {
	{"sku", F_ID, true, IOFF(sku), NULL},
	{"category", F_STR, true, IOFF(category), NULL},
	{"price", F_INT, true, IOFF(price), NULL},
	{"qty", F_INT, true, IOFF(qty), NULL},
	END};

/* ---- helpers ------------------------------------------------------------- */
struct ctx {
	kg_event_parser *p;
	int ntok;
	kg_err *err;
	char path[KG_ERR_FIELD_MAX];
	size_t path_len;
};

static int fail(struct ctx *c, const char *name, const char *msg)
{
	char field[KG_ERR_FIELD_MAX];
	if (name && c->path_len)
		snprintf(field, sizeof(field), "%.*s.%s", (int)c->path_len, c->path, name);
	else if (name)
		snprintf(field, sizeof(field), "%s", name);
	else
		snprintf(field, sizeof(field), "%.*s", (int)c->path_len, c->path);
	return kg_err_field(c->err, KG_EINVAL, field, "%s: %s", field, msg);
}

/* Index of the token after the subtree rooted at i. */
static int skip(const struct ctx *c, int i)
{
	int end = c->p->tok[i].end;
	int j = i + 1;
	while (j < c->ntok && c->p->tok[j].start < end)
		j++;
	return j;
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

/* Checks UTF-8 well-formedness of [s, e); with raw_json, also that no
 * control character appears unescaped (JSON forbids them in strings). */
static bool utf8_ok(const unsigned char *s, const unsigned char *e, bool raw_json)
{
	/* ASCII runs eight bytes at a time; with raw_json, only runs without a
	 * control character (for bytes below 0x80, b + 0x60 has its top bit
	 * set exactly when b >= 0x20, and no byte carries into the next) */
	const uint64_t hi = 0x8080808080808080ull;
	for (uint64_t w; e - s >= 8; s += 8) {
		memcpy(&w, s, 8);
		if ((w & hi) || (raw_json && ((w + 0x6060606060606060ull) & hi) != hi))
			break;
	}
	while (s < e) {
		unsigned char ch = *s;
		if (ch < 0x80) {
			if (ch < 0x20 && raw_json)
				return false;
			s++;
			continue;
		}
		int n = ch >= 0xf0 && ch <= 0xf4 ? 3 : ch >= 0xe0 ? (ch < 0xf0 ? 2 : -1)
			: ch >= 0xc2 ? 1 : -1;
		if (n < 0 || e - s <= n)
			return false;
		for (int k = 1; k <= n; k++)
			if ((s[k] & 0xc0) != 0x80)
				return false;
		if (n == 2 && ((ch == 0xe0 && s[1] < 0xa0) || (ch == 0xed && s[1] >= 0xa0)))
			return false;
		if (n == 3 && ((ch == 0xf0 && s[1] < 0x90) || (ch == 0xf4 && s[1] >= 0x90)))
			return false;
		s += n + 1;
	}
	return true;
}

/* Decodes the string token i into *out (pointing into the input when it has
 * no escapes, into scratch otherwise). */
static int get_str(struct ctx *c, int i, const char *name, kg_str *out)
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
			const char *name);

static int push_path(struct ctx *c, const char *name, int index, size_t *saved)
{
	*saved = c->path_len;
	int n;
	if (index >= 0)
		n = snprintf(c->path + c->path_len, sizeof(c->path) - c->path_len, "[%d]", index);
	else
		n = snprintf(c->path + c->path_len, sizeof(c->path) - c->path_len, "%s%s",
			     c->path_len ? "." : "", name);
	if (n < 0 || (size_t)n >= sizeof(c->path) - c->path_len)
		return kg_err_field(c->err, KG_ELIMIT, c->path, "field path too long");
	c->path_len += (size_t)n;
	return 0;
}

static int parse_value(struct ctx *c, int i, const struct fdef *d, void *base)
{
	kg_event_parser *p = c->p;
	const jsmntok_t *t = &p->tok[i];
	char *at = (char *)base + d->off;
	int rc = 0;
	size_t saved;
	switch (d->kind) {
	case F_STR:
		return get_str(c, i, d->name, (kg_str *)at);
	case F_ID: {
		kg_str *s = (kg_str *)at;
		if ((rc = get_str(c, i, d->name, s)))
			return rc;
		if (s->n == 0)
			return fail(c, d->name, "must not be empty");
		if (s->n > KG_ID_MAX) {
			char msg[64];
			snprintf(msg, sizeof(msg), "longer than %d bytes", KG_ID_MAX);
			return fail(c, d->name, msg);
		}
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
		char msg[160];
		size_t n = (size_t)snprintf(msg, sizeof(msg), "expected one of");
		for (const char *const *v = d->values; *v && n < sizeof(msg); v++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s \"%s\"",
					      v == d->values ? "" : ",", *v);
		return fail(c, d->name, msg);
	}
	case F_ADDRESS:
	case F_CARD:
		if (t->type != JSMN_OBJECT)
			return fail(c, d->name, "expected object");
		if ((rc = push_path(c, d->name, -1, &saved)))
			return rc;
		rc = parse_fields(c, i, d->kind == F_ADDRESS ? f_address : f_card, at, d->name);
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
		c->path_len = saved;
		c->path[saved] = '\0';
		return rc;
	case F_ITEMS: {
		if (t->type != JSMN_ARRAY)
			return fail(c, d->name, "expected array");
		if (t->size > KG_EVENT_ITEMS_MAX)
			return kg_err_field(c->err, KG_ELIMIT, d->name,
					    "%s: more than %d items", d->name, KG_EVENT_ITEMS_MAX);
		if ((rc = push_path(c, d->name, -1, &saved)))
			return rc;
		int j = i + 1;
		kg_event *ev = &p->ev;
		ev->items = p->items;
		ev->n_items = 0;
		ev->gift_card_amount = 0;
		for (int k = 0; k < t->size && !rc; k++) {
			size_t s2;
			if ((rc = push_path(c, NULL, k, &s2)))
				break;
			if (p->tok[j].type != JSMN_OBJECT) {
				rc = fail(c, NULL, "expected object");
				break;
			}
			kg_ev_item *it = &p->items[ev->n_items++];
			memset(it, 0, sizeof(*it));
			rc = parse_fields(c, j, f_item, it, NULL);
			if (!rc && it->qty > 0 && it->price > INT64_MAX / it->qty)
				rc = fail(c, "qty", "price * qty out of range");
			if (!rc && it->category.n == 9 && !memcmp(it->category.p, "gift_card", 9)) {
				if (ev->gift_card_amount > INT64_MAX - it->price * it->qty)
					rc = fail(c, "price", "total out of range");
				else
					ev->gift_card_amount += it->price * it->qty;
			}
			c->path_len = s2;
			c->path[s2] = '\0';
			j = skip(c, j);
		}
		c->path_len = saved;
		c->path[saved] = '\0';
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
		if ((rc = push_path(c, d->name, -1, &saved)))
			return rc;
		int j = i + 1;
		for (int k = 0; k < t->size && !rc; k++) {
			size_t s2;
			if ((rc = push_path(c, NULL, k, &s2)))
				break;
			kg_str *s = &p->sellers[ev->n_seller_ids++];
			rc = get_str(c, j, NULL, s);
			if (!rc && (s->n == 0 || s->n > KG_ID_MAX))
				rc = fail(c, NULL, "expected a non-empty seller id of at most 128 bytes");
			c->path_len = s2;
			c->path[s2] = '\0';
			j = skip(c, j);
		}
		c->path_len = saved;
		c->path[saved] = '\0';
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
	kg_str tmp;
	size_t used = c->p->scratch_used;
	int rc = get_str(c, key, "", &tmp);
	if (rc)
		return kg_err_field(c->err, KG_EINVAL, c->path, "%s%sa field name is not valid text",
				    c->path, c->path_len ? ": " : "");
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

/* Walks object token i, filling fields of `base` per defs; unknown keys are
 * skipped (kept in the raw text). */
static int parse_fields(struct ctx *c, int i, const struct fdef *defs, void *base,
			const char *name)
{
	const jsmntok_t *obj = &c->p->tok[i];
	uint64_t seen = 0;
	int j = i + 1;
	for (int k = 0; k < obj->size; k++) {
		int key = j, val = j + 1;
		const jsmntok_t *kt = &c->p->tok[key];
		size_t klen = (size_t)(kt->end - kt->start);
		const char *ks = c->p->js + kt->start;
		bool known = false;
		for (int d = 0; defs[d].name; d++) {
			if (defs[d].name[0] != ks[0] || strncmp(defs[d].name, ks, klen) ||
			    defs[d].name[klen] != '\0')
				continue;
			if (seen & (1ull << d))
				return fail(c, defs[d].name, "duplicate field");
			seen |= 1ull << d;
			int rc = parse_value(c, val, &defs[d], base);
			if (rc)
				return rc;
			known = true;
			break;
		}
		int next = skip(c, val);
		if (!known) {
			int rc = check_unknown(c, key, next);
			if (rc)
				return rc;
		}
		j = next;
	}
	for (int d = 0; defs[d].name; d++)
		if (defs[d].required && !(seen & (1ull << d)))
			return fail(c, defs[d].name, "missing");
	return 0;
}

/* Checks the primitives jsmn let through (it validates only their first
 * character) and the nesting depth. */
static int check_tokens(struct ctx *c)
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
		if (t->type != JSMN_PRIMITIVE)
			continue;
		const char *s = c->p->js + t->start;
		size_t n = (size_t)(t->end - t->start);
		if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
		    (n == 4 && !memcmp(s, "null", 4)))
			continue;
		/* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
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
		if (!ok || k != n)
			return kg_err_field(c->err, KG_EINVAL, "", "invalid JSON value at byte %d",
					    t->start);
	}
	return 0;
}

/* jsmn, even strict, lets through text that is not JSON (missing or doubled
 * ',' and ':', trailing commas, a key inside an array, "a" "b" in an
 * object), and then token sizes no longer pair keys with values. This walk
 * checks the text between the tokens of container i against the grammar
 * and every key's pairing; returns the index after i's subtree, or -1 with
 * *bad the byte offset of the fault. Depth is bounded by check_tokens. */
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
			j++;
		}
	}
	if (gap_ok(s, pos, t->end - 1, 0))
		return j;
fail:
	*bad = j < c->ntok ? outer_start(&tok[j]) : pos;
	return -1;
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
	jsmn_init(&p->jp);
	p->js = json;
	p->scratch_used = 0;
	int n = jsmn_parse(&p->jp, json, len, p->tok, KG_JSON_TOKENS_MAX);
	if (n == JSMN_ERROR_NOMEM)
		return kg_err_field(err, KG_ELIMIT, "", "more than %d JSON tokens",
				    KG_JSON_TOKENS_MAX);
	if (n < 0)
		return kg_err_field(err, KG_EINVAL, "", "invalid JSON (%s) near byte %u",
				    n == JSMN_ERROR_PART ? "truncated" : "unexpected character",
				    p->jp.pos);
	if (n == 0 || p->tok[0].type != JSMN_OBJECT)
		return kg_err_field(err, KG_EINVAL, "", "expected a JSON object");
	c.ntok = n;
	if (skip(&c, 0) != n || memchr(json, '\0', len))
		return kg_err_field(err, KG_EINVAL, "", "unexpected data after the JSON object");
	int rc = check_tokens(&c);
	if (rc)
		return rc;
	int bad = 0;
	if (!gap_ok(json, 0, p->tok[0].start, 0) || p->tok[0].end != (int)len ||
	    check_syntax(&c, 0, &bad) != n)
		return kg_err_field(err, KG_EINVAL, "", "invalid JSON near byte %d", bad);

	kg_event *ev = &p->ev;
	memset(ev, 0, sizeof(*ev));
	ev->raw = json;
	ev->raw_len = len;
	ev->items = p->items;
	ev->seller_ids = p->sellers;
	/* common fields first, wherever they are in the object */
	int type_tok = -1, id_tok = -1, acct_tok = -1, ts_tok = -1;
	int j = 1;
	for (int k = 0; k < p->tok[0].size; k++) {
		int *slot = tok_is(&c, j, "type", 4) ? &type_tok
			: tok_is(&c, j, "id", 2) ? &id_tok
			: tok_is(&c, j, "account", 7) ? &acct_tok
			: tok_is(&c, j, "ts", 2) ? &ts_tok : NULL;
		if (slot) {
			if (*slot >= 0) {
				kg_str key = {json + p->tok[j].start,
					      (uint32_t)(p->tok[j].end - p->tok[j].start)};
				char nm[16];
				snprintf(nm, sizeof(nm), "%.*s", (int)key.n, key.p);
				return fail(&c, nm, "duplicate field");
			}
			*slot = j + 1;
		}
		j = skip(&c, j + 1);
	}
	static const struct fdef f_id = {"id", F_ID, true, OFF(id), NULL};
	static const struct fdef f_acct = {"account", F_ID, true, OFF(account), NULL};
	if (id_tok < 0)
		return fail(&c, "id", "missing");
	if ((rc = parse_value(&c, id_tok, &f_id, ev)))
		return rc;
	if (type_tok < 0)
		return fail(&c, "type", "missing");
	kg_str type;
	if ((rc = get_str(&c, type_tok, "type", &type)))
		return rc;
	ev->type = KG_EV_TYPE_COUNT;
	for (int t = 0; t < KG_EV_TYPE_COUNT; t++)
		if (strlen(type_names[t]) == type.n && !memcmp(type_names[t], type.p, type.n))
			ev->type = (enum kg_event_type)t;
	if (ev->type == KG_EV_TYPE_COUNT) {
		char msg[KG_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "unknown event type \"%.*s\"",
			 (int)(type.n > 64 ? 64 : type.n), type.p);
		return fail(&c, "type", msg);
	}
	if (acct_tok < 0)
		return fail(&c, "account", "missing");
	if ((rc = parse_value(&c, acct_tok, &f_acct, ev)))
		return rc;
	if (ts_tok < 0)
		return fail(&c, "ts", "missing");
	kg_str ts;
	if ((rc = get_str(&c, ts_tok, "ts", &ts)))
		return rc;
	if (kg_time_parse(ts.p, ts.n, &ev->ts_ms) || ev->ts_ms < 0 ||
	    ev->ts_ms / 1000 > (int64_t)UINT32_MAX - 400 * 86400)
		return fail(&c, "ts", "expected an RFC 3339 time like \"2026-11-28T10:00:00Z\"");
	rc = parse_fields(&c, 0, type_fields[ev->type], ev, NULL);
	if (rc)
		return rc;
	*out = ev;
	return 0;
}
