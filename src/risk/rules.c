/* The rule language: lexer, parser and type checker compiling a policy file
 * into an immutable tree, and the evaluator that runs it on one event.
 * docs/rules.md is the reference. Not here: features (features.c), what
 * happens with a decision (engine.c). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/entity.h"
#include "risk/risk_impl.h"

const char *const kg_action_names[4] = {"allow", "challenge", "hold", "lock"};

/* ---- values and nodes ------------------------------------------------------ */
enum vtype { V_INT, V_FLOAT, V_STR, V_BOOL, V_LIST, V_ADDR, V_NAME };

struct val {
	enum vtype t;
	int64_t i;
	double f;
	const char *s;
	uint32_t n;
	const kg_ev_address *a;
};

enum op {
	N_INT, N_FLOAT, N_STR, N_BOOL, N_FIELD, N_LIST, N_NAME,
	N_NEG, N_ADD, N_SUB, N_MUL, N_DIV,
	N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE,
	N_AND, N_OR, N_NOT, N_IN,
	N_COUNT, N_SUM, N_COUNT_IP, N_DISTINCT, N_MEDIAN, N_RATIO, N_SAME, N_NEW,
	N_FIRST_SEEN, N_LAST_SEEN, N_SINCE, N_CONTAINS, N_HAS, N_MIN, N_MAX, N_DISTINCT_ACCTS,
};

struct list {
	char *name;
	bool from_store;
	uint32_t n;
	kg_str *items;
};

struct node {
	enum op op;
	enum vtype t;
	struct node *l, *r;
	int64_t i;       /* literal; field id; stream/set id */
	double f;
	const char *s;   /* string literal / name */
	uint32_t n;
	uint32_t window_s;
	bool lifetime;   /* count(stream) without a window */
	struct list *list;
	uint32_t src_off, src_len; /* source text, for "values" */
};

/* A reason text is literal pieces and {expressions}. */
struct seg {
	const char *text;
	uint32_t n;
	struct node *expr;
};

struct rule {
	char *name;
	uint32_t types; /* bit per event type */
	struct node *when;
	enum kg_action action;
	char lock_reason[32];
	int64_t lock_ttl_s;
	int64_t points;
	struct seg *segs;
	uint32_t n_segs;
	bool has_mark;
	uint32_t mark;
	bool shadow;  /* declared shadow */
	bool pending; /* gated: runs as shadow until promoted (kg_policy_gated) */
	char hash[17]; /* its content: kg_policy_rule_info.hash */
	struct node **probes;
	uint32_t n_probes;
	int line;
};

struct threshold {
	int64_t min;
	enum kg_action action;
	char lock_reason[32];
	int64_t lock_ttl_s;
};

struct kg_policy {
	atomic_int refs;
	char *file;
	char *text;
	char version[17]; /* kg_policy_version */
	kg_arena arena;
	struct rule *rules;
	uint32_t n_rules;
	struct list **lists;
	uint32_t n_lists;
	struct threshold thresholds[16];
	uint32_t n_thresholds;
	uint32_t n_pending;
	/* per entity kind, the streams its rules (live, shadow or pending)
	 * read (kg_policy_entity_streams) */
	uint8_t ent_streams[KG_ENT_COUNT];
};

/* ---- fields ---------------------------------------------------------------- */
#define ALL ((1u << KG_EV_TYPE_COUNT) - 1)
#define B(t) (1u << (t))
enum fid {
	F_ID, F_ACCOUNT, F_TYPE, F_TS, F_NAME, F_EMAIL, F_PHONE, F_ADDRESS, F_SUCCESS, F_IP,
	F_DEVICE, F_COUNTRY, F_UA, F_VIA, F_ORDER_ID, F_AMOUNT, F_CURRENCY, F_RESULT,
	F_DECLINE, F_SELLER, F_REASON, F_KIND, F_FIELD, F_ITEMS_COUNT, F_GIFT, F_SELLERS_COUNT,
	F_SHIP, F_BILL, F_SHIP_COUNTRY, F_BILL_COUNTRY, F_HOLDER, F_LAST4, F_EXP, F_FPR,
	F_ACCT_NAME, F_ACCT_AGE, F_ACCT_CREATED,
};
static const struct fieldinfo {
	const char *name;
	enum fid id;
	enum vtype t;
	uint32_t types;
} fields[] = {
	{"id", F_ID, V_STR, ALL},
	{"account", F_ACCOUNT, V_STR, ALL},
	{"type", F_TYPE, V_STR, ALL},
	{"ts", F_TS, V_INT, ALL},
	{"name", F_NAME, V_STR, B(KG_EV_ACCOUNT_CREATED)},
	{"email", F_EMAIL, V_STR, B(KG_EV_ACCOUNT_CREATED)},
	{"phone", F_PHONE, V_STR, B(KG_EV_ACCOUNT_CREATED)},
	{"address", F_ADDRESS, V_ADDR, B(KG_EV_ACCOUNT_CREATED)},
	{"success", F_SUCCESS, V_BOOL, B(KG_EV_LOGIN)},
	{"ip", F_IP, V_STR, B(KG_EV_LOGIN) | B(KG_EV_PASSWORD_CHANGE)},
	{"device_id", F_DEVICE, V_STR, B(KG_EV_LOGIN) | B(KG_EV_PASSWORD_CHANGE)},
	{"country", F_COUNTRY, V_STR, B(KG_EV_LOGIN)},
	{"user_agent", F_UA, V_STR, B(KG_EV_LOGIN)},
	{"via", F_VIA, V_STR, B(KG_EV_PASSWORD_CHANGE)},
	{"order_id", F_ORDER_ID, V_STR,
	 B(KG_EV_ORDER) | B(KG_EV_PAYMENT) | B(KG_EV_RETURN) | B(KG_EV_SELLER_REPORT)},
	{"amount", F_AMOUNT, V_INT, B(KG_EV_ORDER) | B(KG_EV_PAYMENT) | B(KG_EV_RETURN)},
	{"currency", F_CURRENCY, V_STR, B(KG_EV_ORDER) | B(KG_EV_PAYMENT) | B(KG_EV_RETURN)},
	{"result", F_RESULT, V_STR, B(KG_EV_PAYMENT)},
	{"decline_code", F_DECLINE, V_STR, B(KG_EV_PAYMENT)},
	{"seller_id", F_SELLER, V_STR, B(KG_EV_RETURN) | B(KG_EV_SELLER_REPORT)},
	{"reason", F_REASON, V_STR, B(KG_EV_RETURN)},
	{"kind", F_KIND, V_STR, B(KG_EV_SELLER_REPORT)},
	{"field", F_FIELD, V_STR, B(KG_EV_PROFILE_CHANGE)},
	{"items.count", F_ITEMS_COUNT, V_INT, B(KG_EV_ORDER)},
	{"gift_card_amount", F_GIFT, V_INT, B(KG_EV_ORDER)},
	{"seller_ids.count", F_SELLERS_COUNT, V_INT, B(KG_EV_ORDER)},
	{"shipping_address", F_SHIP, V_ADDR, B(KG_EV_ORDER)},
	{"billing_address", F_BILL, V_ADDR, B(KG_EV_ORDER)},
	{"shipping_address.country", F_SHIP_COUNTRY, V_STR, B(KG_EV_ORDER)},
	{"billing_address.country", F_BILL_COUNTRY, V_STR, B(KG_EV_ORDER)},
	{"card.holder_name", F_HOLDER, V_STR, B(KG_EV_ORDER) | B(KG_EV_PAYMENT)},
	{"card.last4", F_LAST4, V_STR, B(KG_EV_ORDER) | B(KG_EV_PAYMENT)},
	{"card.exp", F_EXP, V_STR, B(KG_EV_ORDER) | B(KG_EV_PAYMENT)},
	{"card.fingerprint", F_FPR, V_STR, B(KG_EV_ORDER) | B(KG_EV_PAYMENT)},
	{"account.name", F_ACCT_NAME, V_STR, ALL},
	{"account.age", F_ACCT_AGE, V_INT, ALL},
	{"account.created_at", F_ACCT_CREATED, V_INT, ALL},
};

/* ---- lexer ----------------------------------------------------------------- */
enum tk { TK_EOF, TK_IDENT, TK_INT, TK_FLOAT, TK_DUR, TK_PCT, TK_STR, TK_PUNCT };

struct tok {
	enum tk k;
	const char *p;
	uint32_t n;
	int64_t i;
	double f;
	int line, col;
	uint32_t off;
};

struct parser {
	kg_policy *pol;
	const char *text, *end, *cur;
	int line, col;
	struct tok t; /* current token */
	kg_err *err;
	uint32_t types; /* event types of the rule being compiled */
	const char *prev_end; /* end of the token before the current one */
	int depth;
};

static int perr(struct parser *ps, int line, int col, const char *fmt, ...) KG_PRINTF(4, 5);
static int perr(struct parser *ps, int line, int col, const char *fmt, ...)
{
	char msg[KG_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kg_err_at(ps->err, KG_EINVAL, ps->pol->file, line, col, "%s", msg);
}

static bool is_id0(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void advance(struct parser *ps, size_t n)
{
	for (size_t k = 0; k < n && ps->cur < ps->end; k++) {
		if (*ps->cur == '\n') {
			ps->line++;
			ps->col = 1;
		} else if (((unsigned char)*ps->cur & 0xc0) != 0x80) {
			ps->col++;
		}
		ps->cur++;
	}
}

static int lex(struct parser *ps)
{
	ps->prev_end = ps->cur;
	for (;;) {
		while (ps->cur < ps->end && (*ps->cur == ' ' || *ps->cur == '\t' ||
					     *ps->cur == '\n' || *ps->cur == '\r'))
			advance(ps, 1);
		if (ps->cur < ps->end && *ps->cur == '#') {
			while (ps->cur < ps->end && *ps->cur != '\n')
				advance(ps, 1);
			continue;
		}
		break;
	}
	struct tok *t = &ps->t;
	memset(t, 0, sizeof(*t));
	t->p = ps->cur;
	t->line = ps->line;
	t->col = ps->col;
	t->off = (uint32_t)(ps->cur - ps->pol->text) + 0;
	if (ps->cur >= ps->end) {
		t->k = TK_EOF;
		return 0;
	}
	const char *s = ps->cur;
	if (is_id0(*s)) {
		const char *e = s;
		while (e < ps->end && (is_id0(*e) || is_digit(*e) || *e == '.'))
			e++;
		if (e[-1] == '.')
			return perr(ps, t->line, t->col, "a name must not end with '.'");
		t->k = TK_IDENT;
		t->n = (uint32_t)(e - s);
		advance(ps, t->n);
		return 0;
	}
	if (is_digit(*s)) {
		const char *e = s;
		int64_t v = 0;
		while (e < ps->end && is_digit(*e)) {
			if (v > (INT64_MAX - (*e - '0')) / 10)
				return perr(ps, t->line, t->col, "number out of range");
			v = v * 10 + (*e - '0');
			e++;
		}
		t->k = TK_INT;
		t->i = v;
		if (e < ps->end && *e == '_') /* 100_000 */
			return perr(ps, t->line, t->col, "write numbers without separators");
		if (e + 1 < ps->end && *e == '.' && is_digit(e[1])) {
			char buf[64];
			const char *f = e + 1;
			while (f < ps->end && is_digit(*f))
				f++;
			if ((size_t)(f - s) >= sizeof(buf))
				return perr(ps, t->line, t->col, "number too long");
			memcpy(buf, s, (size_t)(f - s));
			buf[f - s] = '\0';
			t->k = TK_FLOAT;
			t->f = strtod(buf, NULL);
			e = f;
		}
		if (e < ps->end && *e == '%') {
			t->f = (t->k == TK_FLOAT ? t->f : (double)t->i) / 100.0;
			t->k = TK_PCT;
			e++;
		} else if (e < ps->end && t->k == TK_INT && strchr("smhd", *e) && *e &&
			   !(e + 1 < ps->end && (is_id0(e[1]) || is_digit(e[1])))) {
			int64_t mul = *e == 's' ? 1 : *e == 'm' ? 60 : *e == 'h' ? 3600 : 86400;
			if (t->i > (int64_t)UINT32_MAX / mul)
				return perr(ps, t->line, t->col, "duration out of range");
			t->i *= mul;
			t->k = TK_DUR;
			e++;
		} else if (e < ps->end && (is_id0(*e) || *e == '.')) {
			return perr(ps, t->line, t->col, "bad number (durations end in s, m, h or d)");
		}
		t->n = (uint32_t)(e - s);
		advance(ps, t->n);
		return 0;
	}
	if (*s == '"') {
		const char *e = s + 1;
		while (e < ps->end && *e != '"') {
			if (*e == '\n')
				return perr(ps, t->line, t->col, "string not closed on its line");
			if (*e == '\\' && e + 1 < ps->end)
				e++;
			e++;
		}
		if (e >= ps->end)
			return perr(ps, t->line, t->col, "string not closed");
		t->k = TK_STR;
		t->p = s + 1;
		t->n = (uint32_t)(e - s - 1);
		advance(ps, (size_t)(e + 1 - s));
		return 0;
	}
	static const char *const two[] = {"==", "!=", "<=", ">=", NULL};
	for (const char *const *o = two; *o; o++)
		if (ps->end - s >= 2 && s[0] == (*o)[0] && s[1] == (*o)[1]) {
			t->k = TK_PUNCT;
			t->n = 2;
			advance(ps, 2);
			return 0;
		}
	if (strchr("(){}[],+-*/<>=", *s)) {
		t->k = TK_PUNCT;
		t->n = 1;
		advance(ps, 1);
		return 0;
	}
	unsigned char c = (unsigned char)*s;
	if (c >= 0x20 && c < 0x7f)
		return perr(ps, t->line, t->col, "unexpected character '%c'", *s);
	return perr(ps, t->line, t->col, "unexpected byte 0x%02x", c);
}

static bool is_p(const struct parser *ps, const char *p)
{
	return ps->t.k == TK_PUNCT && ps->t.n == strlen(p) && !memcmp(ps->t.p, p, ps->t.n);
}

static bool is_kw(const struct parser *ps, const char *w)
{
	return ps->t.k == TK_IDENT && ps->t.n == strlen(w) && !memcmp(ps->t.p, w, ps->t.n);
}

static const char *tk_desc(const struct tok *t, char *buf, size_t n)
{
	if (t->k == TK_EOF)
		return "end of file";
	if (t->k == TK_STR)
		snprintf(buf, n, "a string");
	else
		snprintf(buf, n, "\"%.*s\"", (int)(t->n > 40 ? 40 : t->n), t->p);
	return buf;
}

static int expect_p(struct parser *ps, const char *p)
{
	char d[64];
	if (!is_p(ps, p))
		return perr(ps, ps->t.line, ps->t.col, "expected \"%s\", got %s", p,
			    tk_desc(&ps->t, d, sizeof(d)));
	return lex(ps);
}

/* ---- expressions ------------------------------------------------------------- */
static struct node *mk(struct parser *ps, enum op op, enum vtype t, const struct tok *at)
{
	struct node *n = kg_arena_alloc(&ps->pol->arena, sizeof(*n));
	n->op = op;
	n->t = t;
	n->src_off = at->off;
	return n;
}

static void close_src(struct parser *ps, struct node *n)
{
	const char *e = ps->prev_end;
	n->src_len = e > ps->pol->text + n->src_off ? (uint32_t)(e - (ps->pol->text + n->src_off)) : 0;
}

static bool numeric(enum vtype t)
{
	return t == V_INT || t == V_FLOAT;
}

static const char *tname(enum vtype t)
{
	static const char *const names[] = {"number", "number", "string", "boolean",
					    "list", "address", "name"};
	return names[t];
}

static int parse_expr(struct parser *ps, struct node **out);

static int find_list(struct parser *ps, const char *p, uint32_t n, struct list **out)
{
	for (uint32_t i = 0; i < ps->pol->n_lists; i++)
		if (strlen(ps->pol->lists[i]->name) == n && !memcmp(ps->pol->lists[i]->name, p, n)) {
			*out = ps->pol->lists[i];
			return 0;
		}
	return KG_ENOTFOUND;
}

static int parse_list_literal(struct parser *ps, struct list *l)
{
	int rc = expect_p(ps, "[");
	uint32_t cap = 0;
	while (!rc && !is_p(ps, "]")) {
		char d[64];
		if (ps->t.k != TK_STR)
			return perr(ps, ps->t.line, ps->t.col, "expected a string in the list, got %s",
				    tk_desc(&ps->t, d, sizeof(d)));
		if (l->n == cap) {
			cap = cap ? cap * 2 : 8;
			kg_str *v = kg_arena_alloc(&ps->pol->arena, cap * sizeof(kg_str));
			if (l->n)
				memcpy(v, l->items, l->n * sizeof(kg_str));
			l->items = v;
		}
		l->items[l->n].p = kg_arena_strndup(&ps->pol->arena, ps->t.p, ps->t.n);
		l->items[l->n].n = ps->t.n;
		l->n++;
		rc = lex(ps);
		if (!rc && is_p(ps, ","))
			rc = lex(ps);
		else if (!rc && !is_p(ps, "]"))
			return perr(ps, ps->t.line, ps->t.col, "expected \",\" or \"]\" in the list");
	}
	return rc ? rc : lex(ps);
}

static int name_arg(struct parser *ps, const char *const *names, int count, const char *what,
		    int64_t *out)
{
	char d[64];
	if (ps->t.k != TK_IDENT)
		return perr(ps, ps->t.line, ps->t.col, "expected %s, got %s", what,
			    tk_desc(&ps->t, d, sizeof(d)));
	for (int i = 0; i < count; i++)
		if (strlen(names[i]) == ps->t.n && !memcmp(names[i], ps->t.p, ps->t.n)) {
			*out = i;
			return lex(ps);
		}
	return perr(ps, ps->t.line, ps->t.col, "unknown %s \"%.*s\"", what, (int)ps->t.n, ps->t.p);
}

static int window_arg(struct parser *ps, uint32_t *out)
{
	char d[64];
	if (ps->t.k != TK_DUR && ps->t.k != TK_INT)
		return perr(ps, ps->t.line, ps->t.col, "expected a window like 15m, 1h, 24h, 7d, got %s",
			    tk_desc(&ps->t, d, sizeof(d)));
	if (ps->t.i <= 0 || ps->t.i > 366 * 86400)
		return perr(ps, ps->t.line, ps->t.col, "window must be between 1s and 366d");
	*out = (uint32_t)ps->t.i;
	return lex(ps);
}

static int check_arg(struct parser *ps, const struct node *n, enum vtype want, const char *fn,
		     int line, int col)
{
	bool ok = want == V_FLOAT ? numeric(n->t) : n->t == want;
	if (!ok)
		return perr(ps, line, col, "%s: expected a %s argument, got a %s", fn, tname(want),
			    tname(n->t));
	return 0;
}

static int parse_call(struct parser *ps, struct tok fn, struct node **out)
{
	int rc = expect_p(ps, "(");
	struct node *n = NULL;
	char name[32];
	snprintf(name, sizeof(name), "%.*s", (int)(fn.n > 31 ? 31 : fn.n), fn.p);
	int line = fn.line, col = fn.col;
	if (rc)
		return rc;
	if (!strcmp(name, "count") || !strcmp(name, "sum")) {
		n = mk(ps, name[0] == 'c' ? N_COUNT : N_SUM, V_INT, &fn);
		if ((rc = name_arg(ps, kg_stream_names, KG_S_COUNT, "stream", &n->i)))
			return rc;
		if (is_p(ps, ",")) {
			if ((rc = lex(ps)) || (rc = window_arg(ps, &n->window_s)))
				return rc;
			if (is_p(ps, ",")) {
				if ((rc = lex(ps)))
					return rc;
				if (!is_kw(ps, "ip") || n->op != N_COUNT || n->i != KG_S_LOGINS_FAILED)
					return perr(ps, ps->t.line, ps->t.col,
						    "only count(logins.failed, WINDOW, ip) takes a key");
				if (!(ps->types == B(KG_EV_LOGIN)))
					return perr(ps, ps->t.line, ps->t.col,
						    "the ip key needs a rule on login events only");
				n->op = N_COUNT_IP;
				if ((rc = lex(ps)))
					return rc;
			}
		} else if (n->op == N_SUM) {
			n->lifetime = false;
			return perr(ps, ps->t.line, ps->t.col, "sum needs a window: sum(stream, 24h)");
		} else {
			n->lifetime = true;
		}
	} else if (!strcmp(name, "distinct")) {
		n = mk(ps, N_DISTINCT, V_INT, &fn);
		if ((rc = name_arg(ps, kg_set_names, KG_SET_COUNT, "set", &n->i)) ||
		    (rc = expect_p(ps, ",")) || (rc = window_arg(ps, &n->window_s)))
			return rc;
	} else if (!strcmp(name, "distinct_accounts")) {
		/* distinct_accounts(ENTITY, STREAM, WINDOW): i = kind, n = stream */
		n = mk(ps, N_DISTINCT_ACCTS, V_INT, &fn);
		struct tok kt = ps->t;
		int64_t kind, stream;
		if ((rc = name_arg(ps, kg_entity_kind_names, KG_ENT_COUNT, "entity", &kind)))
			return rc;
		uint32_t miss = ps->types & ~kg_entity_event_types((enum kg_entity_kind)kind);
		for (int t = 0; t < KG_EV_TYPE_COUNT; t++)
			if (miss & B(t))
				return perr(ps, kt.line, kt.col,
					    "distinct_accounts: %s events carry no %s entity",
					    kg_event_type_name((enum kg_event_type)t),
					    kg_entity_kind_names[kind]);
		struct tok st = ps->t;
		if ((rc = expect_p(ps, ",")))
			return rc;
		st = ps->t;
		if ((rc = name_arg(ps, kg_entity_stream_names, KG_ES_COUNT, "entity stream", &stream)))
			return rc;
		if (!kg_entity_has_stream((enum kg_entity_kind)kind, (enum kg_entity_stream)stream))
			return perr(ps, st.line, st.col, "distinct_accounts: %s keeps no stream %s",
				    kg_entity_kind_names[kind], kg_entity_stream_names[stream]);
		n->i = kind;
		n->n = (uint32_t)stream;
		ps->pol->ent_streams[kind] |= (uint8_t)(1u << stream);
		if ((rc = expect_p(ps, ",")) || (rc = window_arg(ps, &n->window_s)))
			return rc;
	} else if (!strcmp(name, "median")) {
		static const char *const med[] = {"orders"};
		n = mk(ps, N_MEDIAN, V_FLOAT, &fn);
		if ((rc = name_arg(ps, med, 1, "stream (median knows orders)", &n->i)) ||
		    (rc = expect_p(ps, ",")) || (rc = window_arg(ps, &n->window_s)))
			return rc;
	} else if (!strcmp(name, "new") || !strcmp(name, "first_seen") ||
		   !strcmp(name, "last_seen")) {
		n = mk(ps, name[0] == 'n' ? N_NEW : name[0] == 'f' ? N_FIRST_SEEN : N_LAST_SEEN,
		       name[0] == 'n' ? V_BOOL : V_INT, &fn);
		if ((rc = name_arg(ps, kg_set_names, KG_SET_COUNT, "set", &n->i)))
			return rc;
	} else if (!strcmp(name, "since")) {
		n = mk(ps, N_SINCE, V_INT, &fn);
		char d[64];
		if (ps->t.k != TK_IDENT)
			return perr(ps, ps->t.line, ps->t.col, "since: expected a mark name, got %s",
				    tk_desc(&ps->t, d, sizeof(d)));
		n->i = (uint32_t)kg_risk_hash(ps->t.p, ps->t.n);
		if ((rc = lex(ps)))
			return rc;
	} else if (!strcmp(name, "ratio") || !strcmp(name, "same") || !strcmp(name, "contains") ||
		   !strcmp(name, "min") || !strcmp(name, "max")) {
		enum op op = name[0] == 'r' ? N_RATIO : name[0] == 's' ? N_SAME
			: name[0] == 'c' ? N_CONTAINS : name[1] == 'i' ? N_MIN : N_MAX;
		n = mk(ps, op, op == N_RATIO ? V_FLOAT : op == N_MIN || op == N_MAX ? V_INT : V_BOOL,
		       &fn);
		struct tok a0 = ps->t;
		if ((rc = parse_expr(ps, &n->l)) || (rc = expect_p(ps, ",")))
			return rc;
		struct tok a1 = ps->t;
		if ((rc = parse_expr(ps, &n->r)))
			return rc;
		if (op == N_RATIO || op == N_MIN || op == N_MAX) {
			if ((rc = check_arg(ps, n->l, V_FLOAT, name, a0.line, a0.col)) ||
			    (rc = check_arg(ps, n->r, V_FLOAT, name, a1.line, a1.col)))
				return rc;
			if (op != N_RATIO && (n->l->t == V_FLOAT || n->r->t == V_FLOAT))
				n->t = V_FLOAT;
		} else if (op == N_CONTAINS) {
			if ((rc = check_arg(ps, n->l, V_STR, name, a0.line, a0.col)) ||
			    (rc = check_arg(ps, n->r, V_STR, name, a1.line, a1.col)))
				return rc;
		} else {
			if (n->l->t != n->r->t || (n->l->t != V_STR && n->l->t != V_ADDR))
				return perr(ps, line, col,
					    "same: expected two strings or two addresses, got %s and %s",
					    tname(n->l->t), tname(n->r->t));
		}
	} else if (!strcmp(name, "has")) {
		n = mk(ps, N_HAS, V_BOOL, &fn);
		struct tok a0 = ps->t;
		if ((rc = parse_expr(ps, &n->l)) ||
		    (rc = check_arg(ps, n->l, V_STR, name, a0.line, a0.col)))
			return rc;
	} else {
		return perr(ps, line, col, "unknown function \"%s\"", name);
	}
	if ((rc = expect_p(ps, ")")))
		return rc;
	close_src(ps, n);
	*out = n;
	return 0;
}

static int parse_primary(struct parser *ps, struct node **out)
{
	struct tok t = ps->t;
	int rc;
	char d[64];
	switch (t.k) {
	case TK_INT:
	case TK_DUR:
		*out = mk(ps, N_INT, V_INT, &t);
		(*out)->i = t.i;
		rc = lex(ps);
		close_src(ps, *out);
		return rc;
	case TK_FLOAT:
	case TK_PCT:
		*out = mk(ps, N_FLOAT, V_FLOAT, &t);
		(*out)->f = t.k == TK_FLOAT ? t.f : t.f;
		rc = lex(ps);
		close_src(ps, *out);
		return rc;
	case TK_STR:
		*out = mk(ps, N_STR, V_STR, &t);
		(*out)->s = kg_arena_strndup(&ps->pol->arena, t.p, t.n);
		(*out)->n = t.n;
		return lex(ps);
	case TK_IDENT:
		if ((rc = lex(ps)))
			return rc;
		if (is_p(ps, "("))
			return parse_call(ps, t, out);
		if ((t.n == 4 && !memcmp(t.p, "true", 4)) || (t.n == 5 && !memcmp(t.p, "false", 5))) {
			*out = mk(ps, N_BOOL, V_BOOL, &t);
			(*out)->i = t.n == 4;
			return 0;
		}
		for (size_t i = 0; i < KG_ARRAY_LEN(fields); i++) {
			if (strlen(fields[i].name) != t.n || memcmp(fields[i].name, t.p, t.n))
				continue;
			uint32_t missing = ps->types & ~fields[i].types;
			if (missing) {
				int et = 0;
				while (!(missing & B(et)))
					et++;
				return perr(ps, t.line, t.col, "field \"%s\" is not part of %s events",
					    fields[i].name, kg_event_type_name((enum kg_event_type)et));
			}
			*out = mk(ps, N_FIELD, fields[i].t, &t);
			(*out)->i = fields[i].id;
			close_src(ps, *out);
			return 0;
		}
		struct list *l;
		if (!find_list(ps, t.p, t.n, &l)) {
			*out = mk(ps, N_LIST, V_LIST, &t);
			(*out)->list = l;
			return 0;
		}
		return perr(ps, t.line, t.col, "unknown name \"%.*s\"", (int)t.n, t.p);
	case TK_PUNCT:
		if (is_p(ps, "(")) {
			if ((rc = lex(ps)) || (rc = parse_expr(ps, out)))
				return rc;
			return expect_p(ps, ")");
		}
		if (is_p(ps, "[")) {
			struct list *l = kg_arena_alloc(&ps->pol->arena, sizeof(*l));
			if ((rc = parse_list_literal(ps, l)))
				return rc;
			*out = mk(ps, N_LIST, V_LIST, &t);
			(*out)->list = l;
			return 0;
		}
		if (is_p(ps, "-")) {
			if (++ps->depth > KG_RULE_EXPR_DEPTH_MAX)
				return perr(ps, t.line, t.col, "expression nested deeper than %d",
					    KG_RULE_EXPR_DEPTH_MAX);
			rc = lex(ps);
			rc = rc ? rc : parse_primary(ps, out);
			ps->depth--;
			if (rc)
				return rc;
			if (!numeric((*out)->t))
				return perr(ps, t.line, t.col, "'-' needs a number");
			struct node *n = mk(ps, N_NEG, (*out)->t, &t);
			n->l = *out;
			*out = n;
			return 0;
		}
		break;
	default:
		break;
	}
	return perr(ps, t.line, t.col, "expected a value, got %s", tk_desc(&t, d, sizeof(d)));
}

static int parse_product(struct parser *ps, struct node **out)
{
	int rc = parse_primary(ps, out);
	while (!rc && (is_p(ps, "*") || is_p(ps, "/"))) {
		struct tok t = ps->t;
		struct node *n = mk(ps, t.p[0] == '*' ? N_MUL : N_DIV, V_INT, &t);
		n->src_off = (*out)->src_off;
		n->l = *out;
		if ((rc = lex(ps)) || (rc = parse_primary(ps, &n->r)))
			return rc;
		if (!numeric(n->l->t) || !numeric(n->r->t))
			return perr(ps, t.line, t.col, "'%c' needs numbers, got %s and %s", t.p[0],
				    tname(n->l->t), tname(n->r->t));
		n->t = n->op == N_DIV || n->l->t == V_FLOAT || n->r->t == V_FLOAT ? V_FLOAT : V_INT;
		close_src(ps, n);
		*out = n;
	}
	return rc;
}

static int parse_sum(struct parser *ps, struct node **out)
{
	int rc = parse_product(ps, out);
	while (!rc && (is_p(ps, "+") || is_p(ps, "-"))) {
		struct tok t = ps->t;
		struct node *n = mk(ps, t.p[0] == '+' ? N_ADD : N_SUB, V_INT, &t);
		n->src_off = (*out)->src_off;
		n->l = *out;
		if ((rc = lex(ps)) || (rc = parse_product(ps, &n->r)))
			return rc;
		if (!numeric(n->l->t) || !numeric(n->r->t))
			return perr(ps, t.line, t.col, "'%c' needs numbers, got %s and %s", t.p[0],
				    tname(n->l->t), tname(n->r->t));
		n->t = n->l->t == V_FLOAT || n->r->t == V_FLOAT ? V_FLOAT : V_INT;
		close_src(ps, n);
		*out = n;
	}
	return rc;
}

static int parse_cmp(struct parser *ps, struct node **out)
{
	int rc = parse_sum(ps, out);
	if (rc)
		return rc;
	static const struct { const char *p; enum op op; } ops[] = {
		{"==", N_EQ}, {"!=", N_NE}, {"<=", N_LE}, {">=", N_GE}, {"<", N_LT}, {">", N_GT},
	};
	struct tok t = ps->t;
	for (size_t i = 0; i < KG_ARRAY_LEN(ops); i++) {
		if (!is_p(ps, ops[i].p))
			continue;
		struct node *n = mk(ps, ops[i].op, V_BOOL, &t);
		n->src_off = (*out)->src_off;
		n->l = *out;
		if ((rc = lex(ps)) || (rc = parse_sum(ps, &n->r)))
			return rc;
		bool ok = numeric(n->l->t) ? numeric(n->r->t)
			: n->l->t == n->r->t && (n->l->t == V_STR || n->l->t == V_BOOL) &&
			  (n->op == N_EQ || n->op == N_NE);
		if (!ok)
			return perr(ps, t.line, t.col, "cannot compare a %s with a %s using \"%s\"",
				    tname(n->l->t), tname(n->r->t), ops[i].p);
		close_src(ps, n);
		*out = n;
		return 0;
	}
	bool neg = false;
	if (is_kw(ps, "not")) {
		/* `x not in list` */
		const char *save = ps->cur;
		int sl = ps->line, sc = ps->col;
		struct tok st = ps->t;
		if ((rc = lex(ps)))
			return rc;
		if (!is_kw(ps, "in")) {
			ps->cur = save;
			ps->line = sl;
			ps->col = sc;
			ps->t = st;
			return 0;
		}
		neg = true;
	}
	if (is_kw(ps, "in")) {
		struct node *n = mk(ps, N_IN, V_BOOL, &t);
		n->src_off = (*out)->src_off;
		n->l = *out;
		if ((rc = lex(ps)) || (rc = parse_sum(ps, &n->r)))
			return rc;
		if (n->l->t != V_STR || n->r->t != V_LIST)
			return perr(ps, t.line, t.col, "\"in\" needs a string and a list, got %s and %s",
				    tname(n->l->t), tname(n->r->t));
		close_src(ps, n);
		*out = n;
		if (neg) {
			struct node *m = mk(ps, N_NOT, V_BOOL, &t);
			m->l = n;
			m->src_off = n->src_off;
			m->src_len = n->src_len;
			*out = m;
		}
	}
	return 0;
}

static int parse_not(struct parser *ps, struct node **out)
{
	if (is_kw(ps, "not")) {
		struct tok t = ps->t;
		int rc = lex(ps);
		if (rc)
			return rc;
		struct node *n = mk(ps, N_NOT, V_BOOL, &t);
		if (++ps->depth > KG_RULE_EXPR_DEPTH_MAX)
			return perr(ps, t.line, t.col, "expression nested deeper than %d",
				    KG_RULE_EXPR_DEPTH_MAX);
		rc = parse_not(ps, &n->l);
		ps->depth--;
		if (rc)
			return rc;
		if (n->l->t != V_BOOL)
			return perr(ps, t.line, t.col, "\"not\" needs a boolean, got a %s",
				    tname(n->l->t));
		close_src(ps, n);
		*out = n;
		return 0;
	}
	return parse_cmp(ps, out);
}

static int parse_bool(struct parser *ps, struct node **out, const char *kw, enum op op,
		      int (*sub)(struct parser *, struct node **))
{
	struct tok t0 = ps->t;
	int rc = sub(ps, out);
	while (!rc && is_kw(ps, kw)) {
		struct tok t = ps->t;
		struct node *n = mk(ps, op, V_BOOL, &t);
		n->src_off = (*out)->src_off;
		n->l = *out;
		if ((rc = lex(ps)) || (rc = sub(ps, &n->r)))
			return rc;
		if (n->l->t != V_BOOL || n->r->t != V_BOOL)
			return perr(ps, t.line, t.col, "\"%s\" needs booleans, got %s and %s", kw,
				    tname(n->l->t), tname(n->r->t));
		close_src(ps, n);
		*out = n;
	}
	(void)t0;
	return rc;
}

static int parse_and(struct parser *ps, struct node **out)
{
	return parse_bool(ps, out, "and", N_AND, parse_not);
}

/* True when the tree under n is more than `left` levels high; looks no
 * deeper than that, so it is safe on any tree. */
static bool too_high(const struct node *n, int left)
{
	if (!n)
		return false;
	if (left <= 0)
		return true;
	return too_high(n->l, left - 1) || too_high(n->r, left - 1);
}

static int parse_expr(struct parser *ps, struct node **out)
{
	struct tok t0 = ps->t;
	if (++ps->depth > KG_RULE_EXPR_DEPTH_MAX)
		return perr(ps, ps->t.line, ps->t.col, "expression nested deeper than %d",
			    KG_RULE_EXPR_DEPTH_MAX);
	int rc = parse_bool(ps, out, "or", N_OR, parse_and);
	ps->depth--;
	/* Chains (a and b and ...; 1 + 1 + ...) are parsed in a loop but
	 * evaluated recursively: bound the height of the whole tree. */
	if (!rc && ps->depth == 0 && too_high(*out, KG_RULE_EXPR_HEIGHT_MAX))
		return perr(ps, t0.line, t0.col, "expression has more than %d levels (split it)",
			    KG_RULE_EXPR_HEIGHT_MAX);
	return rc;
}

/* ---- declarations ------------------------------------------------------------ */
static int parse_action(struct parser *ps, enum kg_action *act, char *reason, size_t rsize,
			int64_t *ttl)
{
	char d[64];
	int rc;
	for (int a = 0; a < 4; a++) {
		if (!is_kw(ps, kg_action_names[a]))
			continue;
		*act = (enum kg_action)a;
		if ((rc = lex(ps)))
			return rc;
		if (a != KG_ACT_LOCK)
			return 0;
		if (ps->t.k != TK_IDENT)
			return perr(ps, ps->t.line, ps->t.col, "lock needs a reason, got %s",
				    tk_desc(&ps->t, d, sizeof(d)));
		enum kg_lock_reason r;
		if (kg_lock_reason_parse_n(ps->t.p, ps->t.n, &r))
			return perr(ps, ps->t.line, ps->t.col,
				    "unknown lock reason \"%.*s\" (system_error, gift_card, "
				    "return_abuse, payment_fraud, compromised, brute_force, misuse, "
				    "manual)", (int)(ps->t.n > 40 ? 40 : ps->t.n), ps->t.p);
		snprintf(reason, rsize, "%s", kg_lock_reason_name(r));
		if ((rc = lex(ps)))
			return rc;
		if (is_kw(ps, "for")) {
			if ((rc = lex(ps)))
				return rc;
			if (ps->t.k != TK_DUR || ps->t.i <= 0)
				return perr(ps, ps->t.line, ps->t.col, "expected a duration like 30m");
			*ttl = ps->t.i;
			return lex(ps);
		}
		return 0;
	}
	return perr(ps, ps->t.line, ps->t.col, "expected allow, challenge, hold or lock, got %s",
		    tk_desc(&ps->t, d, sizeof(d)));
}

/* Splits a reason string into text and {expression} pieces. */
static int parse_reason(struct parser *ps, struct rule *r)
{
	struct tok st = ps->t;
	const char *p = st.p, *e = st.p + st.n;
	uint32_t cap = 8;
	r->segs = kg_arena_alloc(&ps->pol->arena, cap * sizeof(struct seg));
	kg_buf lit = KG_BUF_INIT(KG_RULES_FILE_MAX);
	int rc = 0;
	while (p <= e && !rc) {
		bool flush = p == e;
		if (!flush && *p == '\\' && p + 1 < e) {
			char c = p[1] == 'n' ? '\n' : p[1];
			rc = kg_buf_putc(&lit, c);
			p += 2;
			continue;
		}
		if (!flush && *p == '{' && p + 1 < e && p[1] == '{') {
			rc = kg_buf_putc(&lit, '{');
			p += 2;
			continue;
		}
		if (!flush && *p != '{') {
			rc = kg_buf_putc(&lit, *p++);
			continue;
		}
		if (r->n_segs + 2 > cap) {
			struct seg *ns = kg_arena_alloc(&ps->pol->arena, cap * 2 * sizeof(struct seg));
			memcpy(ns, r->segs, cap * sizeof(struct seg));
			r->segs = ns;
			cap *= 2;
		}
		if (lit.len) {
			r->segs[r->n_segs].text = kg_arena_strndup(&ps->pol->arena, lit.data, lit.len);
			r->segs[r->n_segs++].n = (uint32_t)lit.len;
			kg_buf_reset(&lit);
		}
		if (flush)
			break;
		const char *close = memchr(p, '}', (size_t)(e - p));
		int col = st.col + 1 + (int)(p - st.p);
		if (!close) {
			rc = perr(ps, st.line, col, "'{' in reason text without '}'");
			break;
		}
		/* compile the inside with a sub-parser over the same text */
		struct parser sub = *ps;
		sub.cur = p + 1;
		sub.end = close;
		sub.line = st.line;
		sub.col = col + 1;
		if ((rc = lex(&sub)) || (rc = parse_expr(&sub, &r->segs[r->n_segs].expr)))
			break;
		if (sub.t.k != TK_EOF) {
			rc = perr(ps, sub.t.line, sub.t.col, "unexpected text in {expression}");
			break;
		}
		if (r->segs[r->n_segs].expr->t == V_LIST || r->segs[r->n_segs].expr->t == V_ADDR) {
			rc = perr(ps, st.line, col, "only numbers, strings and booleans can be shown");
			break;
		}
		r->n_segs++;
		p = close + 1;
	}
	kg_buf_release(&lit);
	return rc ? rc : lex(ps);
}

static void collect_probes(kg_policy *pol, struct rule *r, struct node *n)
{
	if (!n)
		return;
	bool probe = n->op == N_FIELD ? n->t != V_ADDR
		: n->op >= N_COUNT && n->op <= N_DISTINCT_ACCTS && n->op != N_SAME && n->op != N_CONTAINS &&
		  n->op != N_HAS && n->op != N_NEW;
	if (probe && n->src_len) {
		for (uint32_t i = 0; i < r->n_probes; i++)
			if (r->probes[i]->src_len == n->src_len &&
			    !memcmp(pol->text + r->probes[i]->src_off, pol->text + n->src_off, n->src_len))
				return;
		if (r->n_probes < 16)
			r->probes[r->n_probes++] = n;
		return;
	}
	collect_probes(pol, r, n->l);
	collect_probes(pol, r, n->r);
}

/* The rule's content hash (kg_policy_rule_info.hash): its text from "rule"
 * to "}" with comments dropped and white space outside strings as one
 * space, and whether it is declared shadow. */
static void rule_hash(const char *p, size_t n, bool shadow, char out[17])
{
	char *norm = malloc(n + 8);
	size_t k = 0;
	bool in_str = false, space = false;
	for (size_t i = 0; norm && i < n; i++) {
		char c = p[i];
		if (in_str) {
			norm[k++] = c;
			if (c == '\\' && i + 1 < n)
				norm[k++] = p[++i];
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '#') {
			while (i + 1 < n && p[i + 1] != '\n')
				i++;
			space = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = true;
			continue;
		}
		if (space && k)
			norm[k++] = ' ';
		space = false;
		norm[k++] = c;
		in_str = c == '"';
	}
	if (norm && shadow)
		memcpy(norm + k, " shadow", 7), k += 7;
	snprintf(out, 17, "%016llx",
		 (unsigned long long)(norm ? kg_risk_hash(norm, k) : kg_risk_hash(p, n)));
	free(norm);
}

static int parse_rule(struct parser *ps, bool shadow)
{
	kg_policy *pol = ps->pol;
	char d[64];
	int rc;
	if (pol->n_rules >= KG_RULES_MAX)
		return perr(ps, ps->t.line, ps->t.col, "more than %d rules", KG_RULES_MAX);
	struct rule *r = &pol->rules[pol->n_rules];
	memset(r, 0, sizeof(*r));
	r->shadow = shadow;
	r->line = ps->t.line;
	uint32_t start = ps->t.off;
	if ((rc = lex(ps)))
		return rc;
	if (ps->t.k != TK_IDENT)
		return perr(ps, ps->t.line, ps->t.col, "expected a rule name, got %s",
			    tk_desc(&ps->t, d, sizeof(d)));
	for (uint32_t i = 0; i < pol->n_rules; i++)
		if (strlen(pol->rules[i].name) == ps->t.n &&
		    !memcmp(pol->rules[i].name, ps->t.p, ps->t.n))
			return perr(ps, ps->t.line, ps->t.col, "rule \"%s\" defined twice (line %d)",
				    pol->rules[i].name, pol->rules[i].line);
	if (ps->t.n == 5 && !memcmp(ps->t.p, "score", 5))
		return perr(ps, ps->t.line, ps->t.col, "\"score\" is reserved");
	r->name = kg_arena_strndup(&pol->arena, ps->t.p, ps->t.n);
	if ((rc = lex(ps)))
		return rc;
	if (!is_kw(ps, "on"))
		return perr(ps, ps->t.line, ps->t.col, "expected \"on\" and event types, got %s",
			    tk_desc(&ps->t, d, sizeof(d)));
	do {
		if ((rc = lex(ps)))
			return rc;
		int et;
		for (et = 0; et < KG_EV_TYPE_COUNT; et++) {
			const char *nm = kg_event_type_name((enum kg_event_type)et);
			if (strlen(nm) == ps->t.n && !memcmp(nm, ps->t.p, ps->t.n))
				break;
		}
		if (ps->t.k != TK_IDENT || et == KG_EV_TYPE_COUNT)
			return perr(ps, ps->t.line, ps->t.col, "unknown event type %s",
				    tk_desc(&ps->t, d, sizeof(d)));
		r->types |= B(et);
		if ((rc = lex(ps)))
			return rc;
	} while (is_p(ps, ","));
	ps->types = r->types;
	if ((rc = expect_p(ps, "{")))
		return rc;
	bool have_action = false, have_points = false, have_reason = false;
	while (!is_p(ps, "}")) {
		struct tok t = ps->t;
		if (is_kw(ps, "when")) {
			if (r->when)
				return perr(ps, t.line, t.col, "a rule has one \"when\" (join with and)");
			if ((rc = lex(ps)) || (rc = parse_expr(ps, &r->when)))
				return rc;
			if (r->when->t != V_BOOL)
				return perr(ps, t.line, t.col, "\"when\" needs a boolean, got a %s",
					    tname(r->when->t));
		} else if (is_kw(ps, "points")) {
			if (have_points)
				return perr(ps, t.line, t.col, "\"points\" given twice");
			have_points = true;
			if ((rc = lex(ps)))
				return rc;
			bool neg = is_p(ps, "-");
			if (neg && (rc = lex(ps)))
				return rc;
			if (ps->t.k != TK_INT)
				return perr(ps, ps->t.line, ps->t.col, "expected an integer");
			r->points = neg ? -ps->t.i : ps->t.i;
			if ((rc = lex(ps)))
				return rc;
		} else if (is_kw(ps, "reason")) {
			if (have_reason)
				return perr(ps, t.line, t.col, "\"reason\" given twice");
			have_reason = true;
			if ((rc = lex(ps)))
				return rc;
			if (ps->t.k != TK_STR)
				return perr(ps, ps->t.line, ps->t.col, "expected a reason string");
			if ((rc = parse_reason(ps, r)))
				return rc;
		} else if (is_kw(ps, "mark")) {
			if ((rc = lex(ps)))
				return rc;
			if (ps->t.k != TK_IDENT)
				return perr(ps, ps->t.line, ps->t.col, "expected a mark name");
			r->has_mark = true;
			r->mark = (uint32_t)kg_risk_hash(ps->t.p, ps->t.n);
			if ((rc = lex(ps)))
				return rc;
		} else if (is_kw(ps, "shadow")) {
			r->shadow = true;
			if ((rc = lex(ps)))
				return rc;
		} else if (ps->t.k == TK_IDENT && (is_kw(ps, "allow") || is_kw(ps, "challenge") ||
						    is_kw(ps, "hold") || is_kw(ps, "lock"))) {
			if (have_action)
				return perr(ps, t.line, t.col, "a rule has one action");
			have_action = true;
			if ((rc = parse_action(ps, &r->action, r->lock_reason, sizeof(r->lock_reason),
					       &r->lock_ttl_s)))
				return rc;
		} else {
			return perr(ps, t.line, t.col,
				    "expected when, allow, challenge, hold, lock, points, reason, "
				    "mark, shadow or \"}\", got %s", tk_desc(&t, d, sizeof(d)));
		}
	}
	if (!have_action && !have_points && !r->has_mark)
		return perr(ps, r->line, 1, "rule \"%s\" has no action, points or mark", r->name);
	r->probes = kg_arena_alloc(&pol->arena, 16 * sizeof(struct node *));
	collect_probes(pol, r, r->when);
	rule_hash(pol->text + start, ps->t.off + 1 - start, r->shadow, r->hash);
	pol->n_rules++;
	return lex(ps);
}

static int parse_list_decl(struct parser *ps)
{
	kg_policy *pol = ps->pol;
	char d[64];
	int rc = lex(ps);
	if (rc)
		return rc;
	if (ps->t.k != TK_IDENT)
		return perr(ps, ps->t.line, ps->t.col, "expected a list name, got %s",
			    tk_desc(&ps->t, d, sizeof(d)));
	struct list *dup;
	if (!find_list(ps, ps->t.p, ps->t.n, &dup))
		return perr(ps, ps->t.line, ps->t.col, "list \"%s\" defined twice", dup->name);
	for (size_t i = 0; i < KG_ARRAY_LEN(fields); i++)
		if (strlen(fields[i].name) == ps->t.n && !memcmp(fields[i].name, ps->t.p, ps->t.n))
			return perr(ps, ps->t.line, ps->t.col, "\"%s\" is a field name", fields[i].name);
	struct list *l = kg_arena_alloc(&pol->arena, sizeof(*l));
	l->name = kg_arena_strndup(&pol->arena, ps->t.p, ps->t.n);
	if ((rc = lex(ps)))
		return rc;
	if (is_kw(ps, "from")) {
		if ((rc = lex(ps)))
			return rc;
		if (!is_kw(ps, "store"))
			return perr(ps, ps->t.line, ps->t.col, "expected \"store\" after \"from\"");
		l->from_store = true;
		if ((rc = lex(ps)))
			return rc;
	} else {
		if ((rc = expect_p(ps, "=")) || (rc = parse_list_literal(ps, l)))
			return rc;
	}
	if (pol->n_lists % 8 == 0) {
		struct list **nl = kg_arena_alloc(&pol->arena, (pol->n_lists + 8) * sizeof(*nl));
		if (pol->n_lists)
			memcpy(nl, pol->lists, pol->n_lists * sizeof(*nl));
		pol->lists = nl;
	}
	pol->lists[pol->n_lists++] = l;
	return 0;
}

static int parse_score(struct parser *ps)
{
	kg_policy *pol = ps->pol;
	int rc = lex(ps);
	struct tok t = ps->t;
	if (!rc)
		rc = expect_p(ps, ">=");
	if (rc)
		return rc;
	if (ps->t.k != TK_INT)
		return perr(ps, ps->t.line, ps->t.col, "expected an integer score");
	if (pol->n_thresholds >= KG_ARRAY_LEN(pol->thresholds))
		return perr(ps, t.line, t.col, "too many score thresholds");
	struct threshold *th = &pol->thresholds[pol->n_thresholds];
	memset(th, 0, sizeof(*th));
	th->min = ps->t.i;
	for (uint32_t i = 0; i < pol->n_thresholds; i++)
		if (pol->thresholds[i].min == th->min)
			return perr(ps, ps->t.line, ps->t.col, "score threshold %lld given twice",
				    (long long)th->min);
	if ((rc = lex(ps)) || (rc = parse_action(ps, &th->action, th->lock_reason,
						 sizeof(th->lock_reason), &th->lock_ttl_s)))
		return rc;
	pol->n_thresholds++;
	/* keep sorted by min, highest first */
	for (uint32_t i = pol->n_thresholds - 1; i > 0 &&
	     pol->thresholds[i].min > pol->thresholds[i - 1].min; i--) {
		struct threshold tmp = pol->thresholds[i];
		pol->thresholds[i] = pol->thresholds[i - 1];
		pol->thresholds[i - 1] = tmp;
	}
	return 0;
}

int kg_policy_compile(const char *text, size_t len, const char *file, kg_policy **out,
		      kg_err *err)
{
	if (len > KG_RULES_FILE_MAX)
		return kg_err_at(err, KG_ELIMIT, file, 0, 0, "policy larger than %d bytes",
				 KG_RULES_FILE_MAX);
	if (memchr(text, '\0', len))
		return kg_err_at(err, KG_EINVAL, file, 0, 0, "policy contains a NUL byte");
	if (kg_utf8_check(text, len, file ? file : "<policy>", err))
		return KG_EINVAL;
	kg_policy *pol = calloc(1, sizeof(*pol));
	if (!pol)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	atomic_init(&pol->refs, 1);
	kg_arena_init(&pol->arena, 64 * 1024);
	pol->file = kg_arena_strdup(&pol->arena, file ? file : "<policy>");
	pol->text = kg_arena_strndup(&pol->arena, text, len);
	pol->rules = calloc(KG_RULES_MAX, sizeof(struct rule));
	if (!pol->rules) {
		kg_policy_unref(pol);
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	}
	struct parser ps = {.pol = pol, .text = pol->text, .cur = pol->text,
			    .end = pol->text + len, .line = 1, .col = 1, .err = err};
	int rc = lex(&ps);
	while (!rc && ps.t.k != TK_EOF) {
		char d[64];
		if (is_kw(&ps, "rule")) {
			rc = parse_rule(&ps, false);
		} else if (is_kw(&ps, "shadow")) {
			rc = lex(&ps);
			if (!rc && !is_kw(&ps, "rule"))
				rc = perr(&ps, ps.t.line, ps.t.col, "expected \"rule\" after \"shadow\"");
			if (!rc)
				rc = parse_rule(&ps, true);
		} else if (is_kw(&ps, "list")) {
			rc = parse_list_decl(&ps);
		} else if (is_kw(&ps, "score")) {
			rc = parse_score(&ps);
		} else {
			rc = perr(&ps, ps.t.line, ps.t.col,
				  "expected rule, shadow rule, list or score, got %s",
				  tk_desc(&ps.t, d, sizeof(d)));
		}
	}
	if (rc) {
		kg_policy_unref(pol);
		return rc;
	}
	snprintf(pol->version, sizeof(pol->version), "%016llx",
		 (unsigned long long)kg_risk_hash(pol->text, len));
	*out = pol;
	return 0;
}

const char *kg_policy_version(const kg_policy *p)
{
	return p->version;
}

int kg_policy_load(const char *path, kg_policy **out, kg_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = kg_read_file(path, KG_RULES_FILE_MAX, &text, &len, err);
	if (rc) {
		if (err && !err->file[0])
			snprintf(err->file, sizeof(err->file), "%s", path);
		return rc;
	}
	rc = kg_policy_compile(text, len, path, out, err);
	free(text);
	return rc;
}

kg_policy *kg_policy_ref(kg_policy *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void kg_policy_unref(kg_policy *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	free(p->rules);
	kg_arena_release(&p->arena);
	free(p);
}

size_t kg_policy_store_lists(const kg_policy *p, const char **names, size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < p->n_lists; i++)
		if (p->lists[i]->from_store && n < max)
			names[n++] = p->lists[i]->name;
	return n;
}

const uint8_t *kg_policy_entity_streams(const kg_policy *p)
{
	return p->ent_streams;
}

size_t kg_policy_rule_count(const kg_policy *p)
{
	return p->n_rules;
}

const char *kg_policy_file(const kg_policy *p)
{
	return p->file;
}

size_t kg_policy_rules(const kg_policy *p, struct kg_policy_rule_info *out, size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < p->n_rules && n < max; i++, n++)
		out[n] = (struct kg_policy_rule_info){p->rules[i].name, p->rules[i].hash,
						      p->rules[i].shadow, p->rules[i].pending,
						      p->rules[i].line};
	return n;
}

size_t kg_policy_pending_count(const kg_policy *p)
{
	return p->n_pending;
}

int kg_policy_gated(const kg_policy *p, const char *const *pending, size_t n, kg_policy **out,
		    kg_err *err)
{
	kg_policy *g = NULL;
	int rc = kg_policy_compile(p->text, strlen(p->text), p->file, &g, err);
	if (rc)
		return rc;
	uint64_t h = kg_risk_hash(g->text, strlen(g->text));
	for (uint32_t i = 0; i < g->n_rules; i++) {
		struct rule *r = &g->rules[i];
		for (size_t k = 0; k < n && !r->pending; k++)
			r->pending = !strcmp(r->name, pending[k]);
		if (r->pending) { /* file order: the same set gives the same version */
			g->n_pending++;
			h = kg_risk_hash_seed(r->name, strlen(r->name), h);
		}
	}
	if (g->n_pending)
		snprintf(g->version, sizeof(g->version), "%016llx", (unsigned long long)h);
	*out = g;
	return 0;
}

/* ---- evaluation -------------------------------------------------------------- */
struct env {
	struct kg_eval_env *e;
	const kg_policy *pol;
	uint32_t now;
};

static kg_str field_str(const kg_event *ev, const kg_features *f, enum fid id)
{
	static const kg_str empty = {"", 0};
	switch (id) {
	case F_ID: return ev->id;
	case F_ACCOUNT: return ev->account;
	case F_TYPE: {
		const char *s = kg_event_type_name(ev->type);
		return (kg_str){s, (uint32_t)strlen(s)};
	}
	case F_NAME: return ev->name;
	case F_EMAIL: return ev->email;
	case F_PHONE: return ev->phone;
	case F_IP: return ev->ip;
	case F_DEVICE: return ev->device_id;
	case F_COUNTRY: return ev->country;
	case F_UA: return ev->user_agent;
	case F_VIA: return ev->via;
	case F_ORDER_ID: return ev->order_id;
	case F_CURRENCY: return ev->currency;
	case F_RESULT: return ev->result;
	case F_DECLINE: return ev->decline_code;
	case F_SELLER: return ev->seller_id;
	case F_REASON: return ev->reason;
	case F_KIND: return ev->kind;
	case F_FIELD: return ev->field;
	case F_SHIP_COUNTRY: return ev->shipping_address.country;
	case F_BILL_COUNTRY: return ev->billing_address.country;
	case F_HOLDER: return ev->card.holder_name;
	case F_LAST4: return ev->card.last4;
	case F_EXP: return ev->card.exp;
	case F_FPR: return ev->card.fingerprint;
	case F_ACCT_NAME: return f->name ? (kg_str){f->name, f->name_len} : empty;
	default: return empty;
	}
}

static bool bytes_eq(const char *a, uint32_t an, const char *b, uint32_t bn)
{
	return an == bn && (an == 0 || !memcmp(a, b, an));
}

/* same(): the normal forms of base (kg_text_same, kg_address_same), after
 * a look at the bytes, which decides most calls. */
static bool norm_same(const char *a, uint32_t an, const char *b, uint32_t bn)
{
	return bytes_eq(a, an, b, bn) || kg_text_same(a, an, b, bn);
}

static bool addr_same(const kg_ev_address *a, const kg_ev_address *b)
{
	const kg_str *x[] = {&a->postal_code, &a->region, &a->city, &a->line1, &a->line2};
	const kg_str *y[] = {&b->postal_code, &b->region, &b->city, &b->line1, &b->line2};
	bool bytes = true;
	for (size_t i = 0; bytes && i < KG_ARRAY_LEN(x); i++)
		bytes = bytes_eq(x[i]->p, x[i]->n, y[i]->p, y[i]->n);
	return bytes || kg_address_same(a, b);
}

static double as_f(const struct val *v)
{
	return v->t == V_FLOAT ? v->f : (double)v->i;
}

static void eval(const struct node *n, struct env *env, struct val *out);

static bool eval_bool(const struct node *n, struct env *env)
{
	struct val v;
	eval(n, env, &v);
	return v.i != 0;
}

static bool list_has(const struct list *l, const char *s, uint32_t n, struct env *env)
{
	if (l->from_store)
		return env->e->list_lookup && env->e->list_lookup(env->e->list_ctx, l->name, s, n);
	for (uint32_t i = 0; i < l->n; i++)
		if (bytes_eq(l->items[i].p, l->items[i].n, s, n))
			return true;
	return false;
}

static void eval(const struct node *n, struct env *env, struct val *out)
{
	const kg_event *ev = env->e->ev;
	const kg_features *f = env->e->f;
	struct val a, b;
	memset(out, 0, sizeof(*out));
	out->t = n->t;
	switch (n->op) {
	case N_INT: out->i = n->i; return;
	case N_FLOAT: out->f = n->f; return;
	case N_BOOL: out->i = n->i; return;
	case N_STR: out->s = n->s; out->n = n->n; return;
	case N_LIST: out->t = V_LIST; return;
	case N_NAME: return;
	case N_FIELD:
		switch ((enum fid)n->i) {
		case F_TS: out->i = ev->ts_ms / 1000; return;
		case F_SUCCESS: out->i = ev->success; return;
		case F_AMOUNT: out->i = ev->amount; return;
		case F_ITEMS_COUNT: out->i = ev->n_items; return;
		case F_GIFT: out->i = ev->gift_card_amount; return;
		case F_SELLERS_COUNT: out->i = ev->n_seller_ids; return;
		case F_ACCT_AGE: out->i = f->first_seen ? (int64_t)env->now - f->first_seen : 0; return;
		case F_ACCT_CREATED: out->i = f->created_at; return;
		case F_ADDRESS: out->a = &ev->address; return;
		case F_SHIP: out->a = &ev->shipping_address; return;
		case F_BILL: out->a = &ev->billing_address; return;
		default: {
			kg_str s = field_str(ev, f, (enum fid)n->i);
			out->s = s.p;
			out->n = s.n;
			return;
		}
		}
	case N_NEG:
		eval(n->l, env, &a);
		if (a.t == V_FLOAT)
			out->f = -a.f;
		else
			out->i = a.i == INT64_MIN ? INT64_MAX : -a.i;
		return;
	case N_ADD: case N_SUB: case N_MUL: case N_DIV:
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		if (n->t == V_INT) {
			/* saturating, as the sums of the windows are */
			int64_t x = a.i, y = b.i, r;
			bool ovf = n->op == N_ADD   ? __builtin_add_overflow(x, y, &r)
				   : n->op == N_SUB ? __builtin_sub_overflow(x, y, &r)
						    : __builtin_mul_overflow(x, y, &r);
			if (ovf)
				r = (n->op == N_ADD ? y > 0 : n->op == N_SUB ? y < 0 : (x < 0) == (y < 0))
					    ? INT64_MAX : INT64_MIN;
			out->i = r;
		} else {
			double x = as_f(&a), y = as_f(&b);
			out->f = n->op == N_ADD ? x + y : n->op == N_SUB ? x - y : n->op == N_MUL ? x * y
				: y != 0 ? x / y : (x > 0 ? INFINITY : x < 0 ? -INFINITY : 0);
		}
		return;
	case N_EQ: case N_NE: case N_LT: case N_LE: case N_GT: case N_GE: {
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		int c;
		if (a.t == V_STR)
			c = bytes_eq(a.s, a.n, b.s, b.n) ? 0 : 1;
		else if (a.t == V_BOOL)
			c = a.i == b.i ? 0 : 1;
		else if (a.t == V_INT && b.t == V_INT)
			c = a.i < b.i ? -1 : a.i > b.i;
		else
			c = as_f(&a) < as_f(&b) ? -1 : as_f(&a) > as_f(&b);
		out->i = n->op == N_EQ ? c == 0 : n->op == N_NE ? c != 0 : n->op == N_LT ? c < 0
			: n->op == N_LE ? c <= 0 : n->op == N_GT ? c > 0 : c >= 0;
		return;
	}
	case N_AND: out->i = eval_bool(n->l, env) && eval_bool(n->r, env); return;
	case N_OR: out->i = eval_bool(n->l, env) || eval_bool(n->r, env); return;
	case N_NOT: out->i = !eval_bool(n->l, env); return;
	case N_IN:
		eval(n->l, env, &a);
		out->i = list_has(n->r->list, a.s, a.n, env);
		return;
	case N_COUNT:
		if (n->lifetime) {
			out->i = f->total[n->i];
		} else {
			int64_t s;
			kg_features_window(f, (enum kg_stream_id)n->i, env->now, n->window_s, &out->i, &s);
		}
		return;
	case N_SUM: {
		int64_t c;
		kg_features_window(f, (enum kg_stream_id)n->i, env->now, n->window_s, &c, &out->i);
		return;
	}
	case N_COUNT_IP:
		out->i = kg_features_failed_by_ip(f, env->e->info->ip_hash, env->now, n->window_s);
		return;
	case N_DISTINCT:
		out->i = kg_features_distinct(f, (enum kg_set_id)n->i, env->now, n->window_s);
		return;
	case N_DISTINCT_ACCTS:
		out->i = kg_entity_view_distinct(env->e->info->ents, (enum kg_entity_kind)n->i,
						 (enum kg_entity_stream)n->n, env->now, n->window_s);
		return;
	case N_MEDIAN:
		if (!kg_features_median(f, env->now, n->window_s, &out->f))
			out->f = 0;
		return;
	case N_RATIO:
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		out->f = as_f(&b) != 0 ? as_f(&a) / as_f(&b) : as_f(&a) > 0 ? INFINITY : 0;
		return;
	case N_MIN: case N_MAX:
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		if (n->t == V_INT)
			out->i = (n->op == N_MIN) == (a.i < b.i) ? a.i : b.i;
		else
			out->f = (n->op == N_MIN) == (as_f(&a) < as_f(&b)) ? as_f(&a) : as_f(&b);
		return;
	case N_SAME:
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		out->i = a.t == V_ADDR ? addr_same(a.a, b.a) : norm_same(a.s, a.n, b.s, b.n);
		return;
	case N_CONTAINS:
		eval(n->l, env, &a);
		eval(n->r, env, &b);
		out->i = b.n == 0 || (a.n >= b.n && a.n && memmem(a.s, a.n, b.s, b.n) != NULL);
		return;
	case N_HAS:
		eval(n->l, env, &a);
		out->i = a.n > 0;
		return;
	case N_NEW:
		out->i = env->e->info->has_key[n->i] && env->e->info->new_set[n->i];
		return;
	case N_FIRST_SEEN: {
		const kg_setent *se = env->e->info->has_key[n->i]
			? kg_features_set_find(f, (enum kg_set_id)n->i, env->e->info->key[n->i]) : NULL;
		out->i = se ? se->first : 0;
		return;
	}
	case N_LAST_SEEN:
		out->i = env->e->info->has_key[n->i] ? env->e->info->prev_last[n->i] : 0;
		return;
	case N_SINCE: {
		uint32_t t = kg_features_mark_time(f, (uint32_t)n->i);
		out->i = t && t <= env->now ? (int64_t)env->now - t : INT64_MAX / 2;
		return;
	}
	}
}

/* A value as a rule saw it, into the verdict's arena. */
static int typed_val(kg_arena *a, const struct val *v, struct kg_value *out)
{
	switch (v->t) {
	case V_INT:
		out->type = KG_VAL_INT;
		out->i = v->i;
		return 0;
	case V_FLOAT:
		out->type = KG_VAL_FLOAT;
		out->f = v->f;
		return 0;
	case V_BOOL:
		out->type = KG_VAL_BOOL;
		out->i = v->i;
		return 0;
	case V_STR:
		out->type = KG_VAL_STR;
		out->s = (kg_str){kg_arena_strndup(a, v->s ? v->s : "", v->n), v->n};
		return out->s.p ? 0 : KG_ENOMEM;
	default:
		out->type = KG_VAL_NULL;
		return 0;
	}
}

/* The text form of a value inside a reason's detail. */
static int put_val_text(kg_buf *b, const struct val *v)
{
	switch (v->t) {
	case V_INT:
		return kg_buf_printf(b, "%lld", (long long)v->i);
	case V_FLOAT:
		if (isinf(v->f))
			return kg_buf_puts(b, v->f > 0 ? "inf" : "-inf");
		return kg_buf_printf(b, "%.6g", v->f);
	case V_BOOL:
		return kg_buf_puts(b, v->i ? "true" : "false");
	case V_STR:
		return kg_buf_append(b, v->s, v->n);
	default:
		return 0;
	}
}

void kg_verdict_init(struct kg_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

void kg_verdict_reset(struct kg_verdict *v)
{
	v->action = KG_ACT_ALLOW;
	v->score = 0;
	v->lock_reason[0] = '\0';
	v->lock_ttl_s = 0;
	v->n_reasons = v->n_shadow = 0;
}

void kg_verdict_release(struct kg_verdict *v)
{
	free(v->reasons);
	free(v->shadow);
	memset(v, 0, sizeof(*v));
}

/* The next free reason of a verdict's array (grown as needed), or NULL. */
static struct kg_reason *next_reason(struct kg_reason **arr, uint32_t *n, uint32_t *cap)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 8;
		struct kg_reason *na = realloc(*arr, nc * sizeof(*na));
		if (!na)
			return NULL;
		*arr = na;
		*cap = nc;
	}
	struct kg_reason *r = &(*arr)[(*n)++];
	memset(r, 0, sizeof(*r));
	return r;
}

static kg_str arena_str(kg_arena *a, const char *s, size_t n)
{
	char *p = kg_arena_strndup(a, s, n);
	return (kg_str){p, p ? (uint32_t)n : 0};
}

/* What a fired rule says, shared by a reason and a shadow hit: the
 * detail and the values of its when clause, in the verdict's arena. */
static int fired_text(const kg_policy *pol, const struct rule *r, struct env *env, kg_arena *a,
		      kg_str *rule, kg_str *detail, const struct kg_value **values,
		      uint32_t *n_values)
{
	*rule = arena_str(a, r->name, strlen(r->name));
	if (r->n_segs) {
		char tmp[1024];
		kg_buf d = {tmp, 0, sizeof(tmp), sizeof(tmp) - 1};
		tmp[0] = '\0';
		for (uint32_t i = 0; i < r->n_segs; i++) {
			if (r->segs[i].expr) {
				struct val v;
				eval(r->segs[i].expr, env, &v);
				put_val_text(&d, &v);
			} else {
				kg_buf_append(&d, r->segs[i].text, r->segs[i].n);
			}
		}
		*detail = arena_str(a, tmp, d.len);
	} else if (r->when) {
		*detail = arena_str(a, pol->text + r->when->src_off, r->when->src_len);
	} else {
		*detail = arena_str(a, "always", 6);
	}
	struct kg_value *vals = r->n_probes ? kg_arena_alloc(a, r->n_probes * sizeof(*vals)) : NULL;
	if ((r->n_probes && !vals) || !rule->p || !detail->p)
		return KG_ENOMEM;
	for (uint32_t i = 0; i < r->n_probes; i++) {
		struct val v;
		eval(r->probes[i], env, &v);
		vals[i].name = arena_str(a, pol->text + r->probes[i]->src_off, r->probes[i]->src_len);
		if (!vals[i].name.p || typed_val(a, &v, &vals[i]))
			return KG_ENOMEM;
	}
	*values = vals;
	*n_values = r->n_probes;
	return 0;
}

/* A live rule that fired: its reason, then its action through act(). */
static int put_reason(const kg_policy *pol, const struct rule *r, struct env *env,
		      struct kg_verdict *out, struct kg_reason **x)
{
	*x = next_reason(&out->reasons, &out->n_reasons, &out->cap_reasons);
	if (!*x)
		return KG_ENOMEM;
	(*x)->action = r->action;
	(*x)->score = r->points;
	return fired_text(pol, r, env, out->a, &(*x)->rule, &(*x)->detail, &(*x)->values,
			  &(*x)->n_values);
}

/* A shadow rule (declared, or pending at the gate) that fired: a
 * struct kg_shadow_hit, which act() does not take. */
static int put_shadow(const kg_policy *pol, const struct rule *r, struct env *env,
		      struct kg_verdict *out)
{
	if (out->n_shadow == out->cap_shadow) {
		uint32_t nc = out->cap_shadow ? out->cap_shadow * 2 : 8;
		struct kg_shadow_hit *na = realloc(out->shadow, nc * sizeof(*na));
		if (!na)
			return KG_ENOMEM;
		out->shadow = na;
		out->cap_shadow = nc;
	}
	struct kg_shadow_hit *h = &out->shadow[out->n_shadow++];
	memset(h, 0, sizeof(*h));
	h->would = r->action;
	h->points = r->points;
	h->pending = r->pending && !r->shadow;
	return fired_text(pol, r, env, out->a, &h->rule, &h->detail, &h->values, &h->n_values);
}

/* The one place a verdict's action, score and lock change: from a live
 * reason (a rule's, or a threshold's with the total). */
static void act(struct kg_verdict *out, const struct kg_reason *x, bool add_score,
		const char *lock_reason, int64_t lock_ttl_s)
{
	if (add_score && __builtin_add_overflow(out->score, x->score, &out->score))
		out->score = x->score > 0 ? INT64_MAX : INT64_MIN;
	if (x->action > out->action)
		out->action = x->action;
	if (x->action == KG_ACT_LOCK && !out->lock_reason[0]) {
		snprintf(out->lock_reason, sizeof(out->lock_reason), "%s", lock_reason);
		out->lock_ttl_s = lock_ttl_s;
	}
}

int kg_policy_eval(const kg_policy *pol, struct kg_eval_env *e, struct kg_verdict *out)
{
	struct env env = {e, pol, (uint32_t)(e->ev->ts_ms / 1000)};
	uint32_t tbit = B(e->ev->type);
	int rc = 0;
	kg_verdict_reset(out);
	for (uint32_t i = 0; i < pol->n_rules && !rc; i++) {
		const struct rule *r = &pol->rules[i];
		if (!(r->types & tbit) || (r->when && !eval_bool(r->when, &env)))
			continue;
		if (r->shadow || r->pending) {
			rc = put_shadow(pol, r, &env, out);
			continue;
		}
		if (r->has_mark)
			kg_features_set_mark(e->f, r->mark, env.now);
		if (r->action == KG_ACT_ALLOW && r->points == 0)
			continue; /* a signal-only rule (mark) is not a reason */
		struct kg_reason *x = NULL;
		if (!(rc = put_reason(pol, r, &env, out, &x)))
			act(out, x, true, r->lock_reason, r->lock_ttl_s);
	}
	for (uint32_t i = 0; i < pol->n_thresholds && !rc; i++) {
		const struct threshold *th = &pol->thresholds[i];
		if (out->score < th->min)
			continue;
		struct kg_reason *x = next_reason(&out->reasons, &out->n_reasons, &out->cap_reasons);
		struct kg_value *val = kg_arena_alloc(out->a, sizeof(*val));
		if (!x || !val) {
			rc = KG_ENOMEM;
			break;
		}
		x->rule = arena_str(out->a, "score", 5);
		x->action = th->action;
		x->score = out->score;
		act(out, x, false, th->lock_reason, th->lock_ttl_s);
		char *detail = kg_arena_printf(out->a, "score %lld >= %lld", (long long)out->score,
					       (long long)th->min);
		x->detail = (kg_str){detail, detail ? (uint32_t)strlen(detail) : 0};
		val->name = arena_str(out->a, "score", 5);
		val->type = KG_VAL_INT;
		val->i = out->score;
		x->values = val;
		x->n_values = 1;
		if (!x->rule.p || !detail || !val->name.p)
			rc = KG_ENOMEM;
		break;
	}
	return rc;
}
