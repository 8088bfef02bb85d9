/* Notice templates: loading, checking and rendering (syntax: docs/templates.md).
 * A template file has @subject, @text and @html sections holding text with
 * {{field}}, {{#field}}…{{/field}}, {{^field}}…{{/field}} and {{! comment }}.
 * Templates compile once into flat op lists; rendering only reads them.
 * Not here: MIME (mime.c), delivery (worker.c). */
#include "notify/internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The shipped templates, compiled in by cmake/embed.cmake. */
struct kg_embedded_file {
	const char *path;
	const char *data;
	size_t len;
};
extern const struct kg_embedded_file kg_notify_builtin_files[];

/* ---- fields ------------------------------------------------------------*/
enum field {
	F_NAME, F_YEAR, F_SHOP_NAME, F_REASON_TEXT, F_NEXT_STEPS, F_ACCOUNT,
	F_REASON, F_REASON_LABEL, F_DETAIL, F_LOCK_ID, F_METHOD, F_CODE,
	F_TTL_MINUTES, F_CASE_ID, F_STATE, F_NOTE, F_QUEUE_POSITION, F_INCIDENT_ID,
	F_REMEDY, F_LIFTED, F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"name", "year", "shop_name", "reason_text", "next_steps", "account",
	"reason", "reason_label", "detail", "lock_id", "method", "code",
	"ttl_minutes", "case_id", "state", "note", "queue_position", "incident_id",
	"remedy", "lifted",
};

#define BIT(f) (1u << (f))
#define COMMON (BIT(F_NAME) | BIT(F_YEAR) | BIT(F_SHOP_NAME) | BIT(F_REASON_TEXT) | \
		BIT(F_NEXT_STEPS) | BIT(F_ACCOUNT))
#define REQUIRED_ALL (BIT(F_NAME) | BIT(F_YEAR) | BIT(F_REASON_TEXT) | BIT(F_NEXT_STEPS))

static const struct kind_info {
	const char *name;
	unsigned allowed;  /* fields a template of this kind may use */
	unsigned required; /* fields the @text and @html sections must show */
} kinds[KG_NOTICE_KIND_COUNT] = {
	[KG_NOTICE_LOCK] = {"lock",
		COMMON | BIT(F_REASON) | BIT(F_REASON_LABEL) | BIT(F_DETAIL) | BIT(F_LOCK_ID) |
			BIT(F_REMEDY),
		REQUIRED_ALL},
	[KG_NOTICE_UNLOCK] = {"unlock",
		COMMON | BIT(F_REASON) | BIT(F_REASON_LABEL) | BIT(F_METHOD) | BIT(F_LOCK_ID),
		REQUIRED_ALL},
	[KG_NOTICE_RECOVERY_CODE] = {"recovery_code",
		COMMON | BIT(F_CODE) | BIT(F_TTL_MINUTES),
		REQUIRED_ALL | BIT(F_CODE) | BIT(F_TTL_MINUTES)},
	[KG_NOTICE_CASE_UPDATE] = {"case_update",
		COMMON | BIT(F_CASE_ID) | BIT(F_STATE) | BIT(F_NOTE) | BIT(F_QUEUE_POSITION),
		REQUIRED_ALL | BIT(F_CASE_ID)},
	[KG_NOTICE_INCIDENT_APOLOGY] = {"incident_apology",
		COMMON | BIT(F_INCIDENT_ID),
		REQUIRED_ALL},
	[KG_NOTICE_PASSWORD_RESET] = {"password_reset",
		COMMON | BIT(F_LIFTED),
		REQUIRED_ALL},
};

static const char *const lang_names[KG_LANG_COUNT] = {"ja", "en"};

/* The keys a texts file must define (docs/templates.md). */
/* Lock reasons and the unlock notice's methods: base's vocabulary table. */
#define N_REASONS KG_LOCK_REASON_COUNT
#define REASON(i) kg_lock_reason_name((enum kg_lock_reason)(i))
#define N_METHODS KG_LIFT_METHOD_COUNT
#define METHOD(i) kg_lift_method_notice_word((enum kg_lift_method)(i))
static const char *const case_states[] = {"open", "waiting_on_customer", "in_review",
	"resolved"};

const char *kg_notify_kind_name(enum kg_notify_kind kind)
{
	return (unsigned)kind < KG_NOTICE_KIND_COUNT ? kinds[kind].name : "?";
}

int kg_notify_kind_parse(const char *name, enum kg_notify_kind *out)
{
	for (int k = 0; k < KG_NOTICE_KIND_COUNT; k++)
		if (!strcmp(name, kinds[k].name)) {
			*out = (enum kg_notify_kind)k;
			return 0;
		}
	return KG_EINVAL;
}

const char *kg_notify_lang_name(enum kg_notify_lang lang)
{
	return (unsigned)lang < KG_LANG_COUNT ? lang_names[lang] : "?";
}

int kg_notify_lang_parse(const char *name, enum kg_notify_lang *out)
{
	for (int l = 0; l < KG_LANG_COUNT; l++)
		if (!strcmp(name, lang_names[l])) {
			*out = (enum kg_notify_lang)l;
			return 0;
		}
	return KG_EINVAL;
}

static int field_lookup(const char *s, size_t len)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(field_names[f]) == len && !memcmp(field_names[f], s, len))
			return f;
	return -1;
}

/* ---- compiled templates ------------------------------------------------*/
enum op_type { OP_TEXT, OP_VAR, OP_IF, OP_IFNOT, OP_END };

struct op {
	enum op_type type;
	int field;      /* OP_VAR, OP_IF, OP_IFNOT */
	size_t off, len;/* OP_TEXT: bytes of the template source */
	size_t end;     /* OP_IF/OP_IFNOT: index of the matching OP_END */
};

struct section {
	struct op *ops;
	size_t n, cap;
	int line; /* line of the @directive */
};

enum { S_SUBJECT, S_TEXT, S_HTML, S_COUNT };
static const char *const section_names[S_COUNT] = {"subject", "text", "html"};

struct template {
	char *src;   /* the file's bytes (ops point into it) */
	char path[KG_CONFIG_STR_MAX + 80];
	struct section sec[S_COUNT];
};

#define TEXT_KEYS_MAX 96
struct texts {
	int n;
	char *key[TEXT_KEYS_MAX];
	char *value[TEXT_KEYS_MAX];
};

struct notify_state {
	struct template tpl[KG_NOTICE_KIND_COUNT][KG_LANG_COUNT];
	struct texts texts[KG_LANG_COUNT];
	char shop_name[KG_CONFIG_STR_MAX];
	int64_t code_ttl_s;
};

static void template_release(struct template *t)
{
	for (int s = 0; s < S_COUNT; s++)
		free(t->sec[s].ops);
	free(t->src);
	memset(t, 0, sizeof(*t));
}

static void texts_release(struct texts *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->key[i]);
		free(t->value[i]);
	}
	memset(t, 0, sizeof(*t));
}

static void state_free(struct notify_state *st)
{
	if (!st)
		return;
	for (int k = 0; k < KG_NOTICE_KIND_COUNT; k++)
		for (int l = 0; l < KG_LANG_COUNT; l++)
			template_release(&st->tpl[k][l]);
	for (int l = 0; l < KG_LANG_COUNT; l++)
		texts_release(&st->texts[l]);
	free(st);
}

static int add_op(struct section *s, struct op op, const char *path, int line, kg_err *err)
{
	if (s->n == s->cap) {
		if (s->cap >= KG_TEMPLATE_OPS_MAX)
			return kg_err_at(err, KG_ELIMIT, path, line, 0,
					 "section has more than %d pieces", KG_TEMPLATE_OPS_MAX);
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct op *p = realloc(s->ops, cap * sizeof(*p));
		if (!p)
			return kg_err_at(err, KG_ENOMEM, path, line, 0, "out of memory");
		s->ops = p;
		s->cap = cap;
	}
	s->ops[s->n++] = op;
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9');
}

/* Compiles src[off, off+len) (starting at line `line`) into s. */
static int compile_section(struct section *s, const char *src, size_t off, size_t len,
			   int line, const struct kind_info *ki, const char *path, kg_err *err)
{
	size_t open_at[KG_TEMPLATE_DEPTH_MAX];
	int open_line[KG_TEMPLATE_DEPTH_MAX];
	int depth = 0, rc;
	size_t i = off, end = off + len, text_start = off;
	while (i < end) {
		if (src[i] == '\n') {
			line++;
			i++;
			continue;
		}
		if (src[i] != '{' || i + 1 >= end || src[i + 1] != '{') {
			i++;
			continue;
		}
		/* a tag: flush the text before it */
		if (i > text_start &&
		    (rc = add_op(s, (struct op){OP_TEXT, -1, text_start, i - text_start, 0},
				 path, line, err)))
			return rc;
		int tag_line = line;
		size_t j = i + 2;
		while (j + 1 < end && src[j] != '\n' && !(src[j] == '}' && src[j + 1] == '}') &&
		       !(src[j] == '{' && src[j + 1] == '{'))
			j++;
		if (j + 1 >= end || src[j] != '}')
			return kg_err_at(err, KG_EINVAL, path, tag_line, 0,
					 "\"{{\" is not closed by \"}}\" on the same line");
		const char *t = src + i + 2;
		size_t tlen = j - (i + 2);
		i = text_start = j + 2;
		if (tlen > 0 && t[0] == '!')
			continue; /* comment */
		char sigil = tlen > 0 && (t[0] == '#' || t[0] == '^' || t[0] == '/') ? t[0] : 0;
		if (sigil) {
			t++;
			tlen--;
		}
		while (tlen && (*t == ' ' || *t == '\t')) {
			t++;
			tlen--;
		}
		while (tlen && (t[tlen - 1] == ' ' || t[tlen - 1] == '\t'))
			tlen--;
		if (tlen == 0)
			return kg_err_at(err, KG_EINVAL, path, tag_line, 0, "empty tag \"{{}}\"");
		for (size_t k = 0; k < tlen; k++)
			if (!is_name_char(t[k]))
				return kg_err_at(err, KG_EINVAL, path, tag_line, 0,
						 "bad field name \"%.*s\" (lower-case letters, digits, _)",
						 (int)tlen, t);
		int f = field_lookup(t, tlen);
		if (f < 0 || !(ki->allowed & BIT(f)))
			return kg_err_at(err, KG_EINVAL, path, tag_line, 0,
					 "unknown field {{%.*s}} for %s notices", (int)tlen, t, ki->name);
		if (sigil == '#' || sigil == '^') {
			if (depth == KG_TEMPLATE_DEPTH_MAX)
				return kg_err_at(err, KG_ELIMIT, path, tag_line, 0,
						 "sections nested deeper than %d", KG_TEMPLATE_DEPTH_MAX);
			open_at[depth] = s->n;
			open_line[depth++] = tag_line;
			if ((rc = add_op(s, (struct op){sigil == '#' ? OP_IF : OP_IFNOT, f, 0, 0, 0},
					 path, tag_line, err)))
				return rc;
		} else if (sigil == '/') {
			if (depth == 0)
				return kg_err_at(err, KG_EINVAL, path, tag_line, 0,
						 "{{/%s}} closes no open section", field_names[f]);
			struct op *o = &s->ops[open_at[depth - 1]];
			if (o->field != f)
				return kg_err_at(err, KG_EINVAL, path, tag_line, 0,
						 "{{/%s}} does not match {{%c%s}} opened at line %d",
						 field_names[f], o->type == OP_IF ? '#' : '^',
						 field_names[o->field], open_line[depth - 1]);
			o->end = s->n;
			depth--;
			if ((rc = add_op(s, (struct op){OP_END, f, 0, 0, 0}, path, tag_line, err)))
				return rc;
		} else if ((rc = add_op(s, (struct op){OP_VAR, f, 0, 0, 0}, path, tag_line, err))) {
			return rc;
		}
	}
	if (depth > 0)
		return kg_err_at(err, KG_EINVAL, path, open_line[depth - 1], 0,
				 "{{%c%s}} is never closed",
				 s->ops[open_at[depth - 1]].type == OP_IF ? '#' : '^',
				 field_names[s->ops[open_at[depth - 1]].field]);
	if (end > text_start &&
	    (rc = add_op(s, (struct op){OP_TEXT, -1, text_start, end - text_start, 0}, path,
			 line, err)))
		return rc;
	return 0;
}

/* Parses one template file (src is taken over, freed on failure too). */
static int template_parse(struct template *t, char *src, size_t len, const char *path,
			  const struct kind_info *ki, kg_err *err)
{
	int rc = 0;
	memset(t, 0, sizeof(*t));
	t->src = src;
	snprintf(t->path, sizeof(t->path), "%s", path);
	if (memchr(src, '\0', len)) {
		rc = kg_err_at(err, KG_EINVAL, path, 0, 0, "file contains a NUL byte");
		goto cleanup;
	}
	if ((rc = kg_utf8_check(src, len, path, err)))
		goto cleanup; /* notices are UTF-8 */
	int cur = -1, line = 1, body_line = 1;
	size_t body = 0;
	struct section pre = {0};
	for (size_t pos = 0; pos <= len;) {
		const char *nl = pos < len ? memchr(src + pos, '\n', len - pos) : NULL;
		size_t line_end = nl ? (size_t)(nl - src) : len;
		bool directive = pos < len && src[pos] == '@' && pos + 1 < len &&
				 src[pos + 1] >= 'a' && src[pos + 1] <= 'z';
		if (directive || pos >= len || !nl) {
			/* close the running section at pos (or at the end) */
			size_t stop = directive ? pos : len;
			struct section *s = cur < 0 ? &pre : &t->sec[cur];
			if ((rc = compile_section(s, src, body, stop - body, body_line, ki, path, err)))
				goto cleanup_pre;
			if (cur < 0) {
				for (size_t k = 0; k < pre.n; k++) {
					const struct op *o = &pre.ops[k];
					bool blank = o->type == OP_TEXT;
					for (size_t c = 0; blank && c < o->len; c++)
						blank = strchr(" \t\r\n", src[o->off + c]) != NULL;
					if (!blank) {
						rc = kg_err_at(err, KG_EINVAL, path, 1, 0,
							       "text before the first section (@subject, @text, @html)");
						goto cleanup_pre;
					}
				}
			}
			if (!directive)
				break;
			size_t wlen = line_end - pos - 1;
			while (wlen && (src[pos + 1 + wlen - 1] == ' ' || src[pos + 1 + wlen - 1] == '\r'))
				wlen--;
			cur = -1;
			for (int k = 0; k < S_COUNT; k++)
				if (strlen(section_names[k]) == wlen &&
				    !memcmp(section_names[k], src + pos + 1, wlen))
					cur = k;
			if (cur < 0) {
				rc = kg_err_at(err, KG_EINVAL, path, line, 0,
					       "unknown section \"@%.*s\" (expected @subject, @text or @html)",
					       (int)wlen, src + pos + 1);
				goto cleanup_pre;
			}
			if (t->sec[cur].line) {
				rc = kg_err_at(err, KG_EINVAL, path, line, 0,
					       "section @%s appears twice (first at line %d)",
					       section_names[cur], t->sec[cur].line);
				goto cleanup_pre;
			}
			t->sec[cur].line = line;
			body = nl ? line_end + 1 : len;
			body_line = line + 1;
		}
		if (!nl)
			break;
		pos = line_end + 1;
		line++;
	}
	for (int k = 0; k < S_COUNT; k++)
		if (!t->sec[k].line) {
			rc = kg_err_at(err, KG_EINVAL, path, line, 0, "section @%s is missing",
				       section_names[k]);
			goto cleanup_pre;
		}
	/* the subject: one line of text and values, no sections */
	int subject_lines = 0;
	for (size_t k = 0; k < t->sec[S_SUBJECT].n; k++) {
		const struct op *o = &t->sec[S_SUBJECT].ops[k];
		if (o->type == OP_IF || o->type == OP_IFNOT) {
			rc = kg_err_at(err, KG_EINVAL, path, t->sec[S_SUBJECT].line + 1, 0,
				       "@subject may not hold {{#…}} sections");
			goto cleanup_pre;
		}
		for (size_t c = 0; o->type == OP_TEXT && c < o->len; c++)
			if (src[o->off + c] == '\n' && c + 1 < o->len &&
			    strchr(" \t\r\n", src[o->off + c + 1]) == NULL)
				subject_lines++;
	}
	if (subject_lines > 0 || t->sec[S_SUBJECT].n == 0) {
		rc = kg_err_at(err, KG_EINVAL, path, t->sec[S_SUBJECT].line + 1, 0,
			       t->sec[S_SUBJECT].n ? "@subject must be one line" : "@subject is empty");
		goto cleanup_pre;
	}
	/* required fields: shown at the top level of @text and @html */
	for (int k = S_TEXT; k <= S_HTML; k++) {
		unsigned seen = 0;
		int depth = 0;
		for (size_t o = 0; o < t->sec[k].n; o++) {
			const struct op *op = &t->sec[k].ops[o];
			if (op->type == OP_IF || op->type == OP_IFNOT)
				depth++;
			else if (op->type == OP_END)
				depth--;
			else if (op->type == OP_VAR && depth == 0)
				seen |= BIT(op->field);
		}
		for (int f = 0; f < F_COUNT; f++)
			if ((ki->required & BIT(f)) && !(seen & BIT(f))) {
				rc = kg_err_at(err, KG_EINVAL, path, t->sec[k].line, 0,
					       "@%s never shows the required field {{%s}} (outside "
					       "any {{#section}})", section_names[k], field_names[f]);
				goto cleanup_pre;
			}
	}
cleanup_pre:
	free(pre.ops);
cleanup:
	if (rc)
		template_release(t);
	return rc;
}

/* ---- texts files -------------------------------------------------------*/
static bool text_key_known(const char *key)
{
	char buf[96];
	for (size_t i = 0; i < N_REASONS; i++) {
		snprintf(buf, sizeof(buf), "lock.%s", REASON(i));
		if (!strcmp(key, buf))
			return true;
		snprintf(buf, sizeof(buf), "lock.%s.next", REASON(i));
		if (!strcmp(key, buf))
			return true;
		snprintf(buf, sizeof(buf), "label.%s", REASON(i));
		if (!strcmp(key, buf))
			return true;
		/* optional: the next steps for one remedy (lock.gift_card.next.support) */
		snprintf(buf, sizeof(buf), "lock.%s.next.password_reset", REASON(i));
		if (!strcmp(key, buf))
			return true;
		snprintf(buf, sizeof(buf), "lock.%s.next.support", REASON(i));
		if (!strcmp(key, buf))
			return true;
	}
	if (!strcmp(key, "remedy.password_reset") || !strcmp(key, "remedy.support"))
		return true;
	for (size_t i = 0; i < N_METHODS; i++) {
		snprintf(buf, sizeof(buf), "unlock.%s", METHOD(i));
		if (!strcmp(key, buf))
			return true;
		snprintf(buf, sizeof(buf), "unlock.%s.next", METHOD(i));
		if (!strcmp(key, buf))
			return true;
	}
	for (size_t i = 0; i < KG_ARRAY_LEN(case_states); i++) {
		snprintf(buf, sizeof(buf), "case.%s", case_states[i]);
		if (!strcmp(key, buf))
			return true;
		snprintf(buf, sizeof(buf), "case.%s.next", case_states[i]);
		if (!strcmp(key, buf))
			return true;
	}
	return !strcmp(key, "recovery_code") || !strcmp(key, "recovery_code.next") ||
	       !strcmp(key, "incident_apology") || !strcmp(key, "incident_apology.next") ||
	       !strcmp(key, "password_reset") || !strcmp(key, "password_reset.next");
}

static const char *texts_get(const struct texts *t, const char *key)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->key[i], key))
			return t->value[i];
	return NULL;
}

static int texts_put(struct texts *t, const char *key, const char *value)
{
	for (int i = 0; i < t->n; i++)
		if (!strcmp(t->key[i], key)) {
			char *v = strdup(value);
			if (!v)
				return KG_ENOMEM;
			free(t->value[i]);
			t->value[i] = v;
			return 0;
		}
	if (t->n == TEXT_KEYS_MAX)
		return KG_ELIMIT;
	t->key[t->n] = strdup(key);
	t->value[t->n] = strdup(value);
	if (!t->key[t->n] || !t->value[t->n]) {
		free(t->key[t->n]);
		free(t->value[t->n]);
		return KG_ENOMEM;
	}
	t->n++;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Reads `key = value` lines over t (src is modified). */
static int texts_parse(struct texts *t, char *src, size_t len, const char *path, kg_err *err)
{
	if (memchr(src, '\0', len))
		return kg_err_at(err, KG_EINVAL, path, 0, 0, "file contains a NUL byte");
	if (kg_utf8_check(src, len, path, err))
		return KG_EINVAL; /* notices are UTF-8 */
	char seen[TEXT_KEYS_MAX][64];
	int nseen = 0, lineno = 0;
	for (char *line = src, *next; line && *line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			return kg_err_at(err, KG_EINVAL, path, lineno, 0, "expected `key = value`");
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (!text_key_known(key))
			return kg_err_at(err, KG_EINVAL, path, lineno, 0, "unknown key \"%s\"", key);
		if (!*value)
			return kg_err_at(err, KG_EINVAL, path, lineno, 0, "key \"%s\" has no text", key);
		for (int i = 0; i < nseen; i++)
			if (!strcmp(seen[i], key))
				return kg_err_at(err, KG_EINVAL, path, lineno, 0,
						 "key \"%s\" is given twice", key);
		if (nseen < TEXT_KEYS_MAX)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
		int rc = texts_put(t, key, value);
		if (rc)
			return kg_err_at(err, rc, path, lineno, 0, "cannot store key \"%s\"", key);
	}
	return 0;
}

/* Every key a complete texts set needs; returns the first missing one. */
static const char *texts_missing(const struct texts *t)
{
	static char buf[96];
	for (size_t i = 0; i < N_REASONS; i++) {
		const char *fmts[] = {"lock.%s", "lock.%s.next", "label.%s"};
		for (size_t f = 0; f < 3; f++) {
			snprintf(buf, sizeof(buf), fmts[f], REASON(i));
			if (!texts_get(t, buf))
				return buf;
		}
	}
	for (size_t i = 0; i < N_METHODS; i++) {
		snprintf(buf, sizeof(buf), "unlock.%s", METHOD(i));
		if (!texts_get(t, buf))
			return buf;
		snprintf(buf, sizeof(buf), "unlock.%s.next", METHOD(i));
		if (!texts_get(t, buf))
			return buf;
	}
	for (size_t i = 0; i < KG_ARRAY_LEN(case_states); i++) {
		snprintf(buf, sizeof(buf), "case.%s", case_states[i]);
		if (!texts_get(t, buf))
			return buf;
		snprintf(buf, sizeof(buf), "case.%s.next", case_states[i]);
		if (!texts_get(t, buf))
			return buf;
	}
	const char *plain[] = {"recovery_code", "recovery_code.next", "incident_apology",
			       "incident_apology.next", "remedy.password_reset", "remedy.support",
			       "password_reset", "password_reset.next"};
	for (size_t i = 0; i < KG_ARRAY_LEN(plain); i++)
		if (!texts_get(t, plain[i]))
			return plain[i];
	return NULL;
}

/* ---- loading -----------------------------------------------------------*/
static const struct kg_embedded_file *builtin(const char *rel)
{
	for (const struct kg_embedded_file *f = kg_notify_builtin_files; f->path; f++)
		if (!strcmp(f->path, rel))
			return f;
	return NULL;
}

static char *dup_bytes(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static bool file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* A file of an override dir that kagi does not know is an error: a
 * misspelt name would otherwise be silently ignored. */
static int check_dir_names(const char *dir, kg_err *err)
{
	for (int l = 0; l < KG_LANG_COUNT; l++) {
		char sub[KG_CONFIG_STR_MAX + 8];
		snprintf(sub, sizeof(sub), "%s/%s", dir, lang_names[l]);
		DIR *d = opendir(sub);
		if (!d)
			continue;
		struct dirent *e;
		int rc = 0;
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			bool known = !strcmp(e->d_name, "texts.txt");
			for (int k = 0; k < KG_NOTICE_KIND_COUNT && !known; k++) {
				char want[64];
				snprintf(want, sizeof(want), "%s.tmpl", kinds[k].name);
				known = !strcmp(e->d_name, want);
			}
			if (!known)
				rc = kg_err_at(err, KG_EINVAL, sub, 0, 0,
					       "unknown template file \"%s\" (see docs/templates.md)",
					       e->d_name);
		}
		closedir(d);
		if (rc)
			return rc;
	}
	return 0;
}

/* Builds a state from the built-in files, with dir (may be NULL or "") over them. */
static int state_load(const char *dir, struct notify_state **out, kg_err *err)
{
	int rc = 0;
	struct notify_state *st = calloc(1, sizeof(*st));
	if (!st)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	snprintf(st->shop_name, sizeof(st->shop_name), "kagi shop");
	st->code_ttl_s = 600;
	bool over = dir && *dir;
	if (over && (rc = check_dir_names(dir, err)))
		goto cleanup;
	for (int l = 0; l < KG_LANG_COUNT && rc == 0; l++) {
		for (int k = 0; k < KG_NOTICE_KIND_COUNT && rc == 0; k++) {
			char rel[64], path[KG_CONFIG_STR_MAX + 72];
			snprintf(rel, sizeof(rel), "%s/%s.tmpl", lang_names[l], kinds[k].name);
			char *src = NULL;
			size_t len = 0;
			snprintf(path, sizeof(path), "%s/%s", over ? dir : "templates", rel);
			if (over && file_exists(path)) {
				if ((rc = kg_read_file(path, KG_TEMPLATE_FILE_MAX, &src, &len, err)))
					break;
			} else {
				const struct kg_embedded_file *f = builtin(rel);
				snprintf(path, sizeof(path), "templates/%s", rel);
				if (!f) {
					rc = kg_err_at(err, KG_EINTERNAL, path, 0, 0, "built-in template missing");
					break;
				}
				if (!(src = dup_bytes(f->data, f->len))) {
					rc = kg_err_set(err, KG_ENOMEM, "out of memory");
					break;
				}
				len = f->len;
			}
			rc = template_parse(&st->tpl[k][l], src, len, path, &kinds[k], err);
		}
		if (rc)
			break;
		/* texts: the built-in file, then the override's keys over it */
		char rel[64], path[KG_CONFIG_STR_MAX + 72];
		snprintf(rel, sizeof(rel), "%s/texts.txt", lang_names[l]);
		const struct kg_embedded_file *f = builtin(rel);
		snprintf(path, sizeof(path), "templates/%s", rel);
		char *src = f ? dup_bytes(f->data, f->len) : NULL;
		if (!src) {
			rc = kg_err_at(err, KG_EINTERNAL, path, 0, 0, "built-in texts missing");
			break;
		}
		rc = texts_parse(&st->texts[l], src, f->len, path, err);
		free(src);
		if (rc == 0) {
			const char *miss = texts_missing(&st->texts[l]);
			if (miss)
				rc = kg_err_at(err, KG_EINVAL, path, 0, 0, "missing key \"%s\"", miss);
		}
		snprintf(path, sizeof(path), "%s/%s", over ? dir : "", rel);
		if (rc == 0 && over && file_exists(path)) {
			size_t len = 0;
			src = NULL;
			if ((rc = kg_read_file(path, KG_TEMPLATE_FILE_MAX, &src, &len, err)) == 0)
				rc = texts_parse(&st->texts[l], src, len, path, err);
			free(src);
		}
	}
cleanup:
	if (rc) {
		state_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* The state in use: the one kg_notify_init installed, else the built-in one
 * (built on first use). */
static struct notify_state *g_installed;
static struct notify_state *g_builtin;
static kg_err g_builtin_err;
static pthread_once_t g_builtin_once = PTHREAD_ONCE_INIT;

static void builtin_setup(void)
{
	kg_err_clear(&g_builtin_err);
	state_load(NULL, &g_builtin, &g_builtin_err);
}

static struct notify_state *current(kg_err *err)
{
	if (g_installed)
		return g_installed;
	pthread_once(&g_builtin_once, builtin_setup);
	if (!g_builtin && err)
		*err = g_builtin_err;
	return g_builtin;
}

int kg_notify_init(const kg_config *cfg, kg_err *err)
{
	struct notify_state *st = NULL;
	int rc = state_load(cfg->notify_templates_dir, &st, err);
	if (rc == 0)
		rc = kg_notify_mime_configure(cfg, err);
	if (rc) {
		state_free(st);
		return rc;
	}
	snprintf(st->shop_name, sizeof(st->shop_name), "%s", cfg->shop_name);
	st->code_ttl_s = cfg->code_ttl_s;
	state_free(g_installed);
	g_installed = st;
	return 0;
}

void kg_notify_shutdown(void)
{
	state_free(g_installed);
	g_installed = NULL;
	kg_notify_mime_configure(NULL, NULL);
}

int kg_notify_check_dir(const char *dir, kg_err *err)
{
	struct notify_state *st = NULL;
	int rc = state_load(dir, &st, err);
	state_free(st);
	return rc;
}

/* ---- rendering ---------------------------------------------------------*/
static int put_value(kg_buf *b, const char *v, int sec)
{
	int rc = 0;
	for (const char *p = v; *p && rc == 0; p++) {
		if (sec == S_HTML) {
			switch (*p) {
			case '&': rc = kg_buf_puts(b, "&amp;"); continue;
			case '<': rc = kg_buf_puts(b, "&lt;"); continue;
			case '>': rc = kg_buf_puts(b, "&gt;"); continue;
			case '"': rc = kg_buf_puts(b, "&quot;"); continue;
			case '\'': rc = kg_buf_puts(b, "&#39;"); continue;
			}
		} else if (sec == S_SUBJECT && (*p == '\r' || *p == '\n')) {
			rc = kg_buf_putc(b, ' ');
			continue;
		}
		rc = kg_buf_putc(b, *p);
	}
	return rc;
}

static int render_section(const struct template *t, int sec, const char *const vals[F_COUNT],
			  char **out, kg_err *err)
{
	kg_buf b = KG_BUF_INIT(KG_NOTICE_BYTES_MAX);
	const struct section *s = &t->sec[sec];
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		const struct op *o = &s->ops[i];
		bool empty = o->field >= 0 && (!vals[o->field] || !*vals[o->field]);
		switch (o->type) {
		case OP_TEXT:
			rc = kg_buf_append(&b, t->src + o->off, o->len);
			break;
		case OP_VAR:
			if (!empty)
				rc = put_value(&b, vals[o->field], sec);
			break;
		case OP_IF:
			if (empty)
				i = o->end;
			break;
		case OP_IFNOT:
			if (!empty)
				i = o->end;
			break;
		case OP_END:
			break;
		}
	}
	if (rc) {
		kg_buf_release(&b);
		return kg_err_set(err, rc, "%s: the rendered @%s is larger than %d bytes", t->path,
				  section_names[sec], KG_NOTICE_BYTES_MAX);
	}
	char *s_out = kg_buf_detach(&b, NULL);
	if (sec == S_SUBJECT) { /* one line, trimmed */
		char *p = s_out;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		memmove(s_out, p, strlen(p) + 1);
		size_t n = strlen(s_out);
		while (n && strchr(" \t\r\n", s_out[n - 1]))
			s_out[--n] = '\0';
	}
	*out = s_out;
	return 0;
}

static const char *text_for(const struct texts *t, const char *fmt, const char *arg,
			    char *buf, size_t size)
{
	snprintf(buf, size, fmt, arg);
	return texts_get(t, buf);
}

void kg_notice_release(kg_notice *n)
{
	if (!n)
		return;
	free(n->subject);
	free(n->text);
	free(n->html);
	n->subject = n->text = n->html = NULL;
}

int kg_notify_render(enum kg_notify_kind kind, enum kg_notify_lang lang,
		     const kg_notify_field *fields, kg_notice *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	if ((unsigned)kind >= KG_NOTICE_KIND_COUNT || (unsigned)lang >= KG_LANG_COUNT)
		return kg_err_set(err, KG_EINVAL, "unknown notice kind or language");
	struct notify_state *st = current(err);
	if (!st)
		return KG_EINTERNAL;
	const char *vals[F_COUNT] = {0};
	for (const kg_notify_field *f = fields; f && f->key; f++) {
		int id = field_lookup(f->key, strlen(f->key));
		if (id < 0)
			return kg_err_field(err, KG_EINVAL, f->key, "unknown notice field");
		if (f->value && strlen(f->value) > KG_NOTIFY_VALUE_MAX)
			return kg_err_field(err, KG_ELIMIT, f->key, "value longer than %d bytes",
					    KG_NOTIFY_VALUE_MAX);
		vals[id] = f->value;
	}
	char year[16], ttl[24], k1[96], k2[96], k3[96];
	if (!vals[F_NAME] || !*vals[F_NAME])
		return kg_err_field(err, KG_EINVAL, "name", "the customer's registered name is required");
	if (!vals[F_YEAR]) {
		snprintf(year, sizeof(year), "%d", kg_time_year(kg_now_ms()));
		vals[F_YEAR] = year;
	}
	if (!vals[F_SHOP_NAME])
		vals[F_SHOP_NAME] = st->shop_name;
	if (!vals[F_TTL_MINUTES]) {
		snprintf(ttl, sizeof(ttl), "%lld", (long long)((st->code_ttl_s + 59) / 60));
		vals[F_TTL_MINUTES] = ttl;
	}
	const struct texts *tx = &st->texts[lang];
	const char *why = NULL, *next = NULL, *need = NULL, *bad = NULL;
	switch (kind) {
	case KG_NOTICE_LOCK:
		need = "reason";
		if (vals[F_REASON]) {
			why = text_for(tx, "lock.%s", vals[F_REASON], k1, sizeof(k1));
			next = text_for(tx, "lock.%s.next", vals[F_REASON], k2, sizeof(k2));
			bad = why ? NULL : "reason";
		}
		/* With a remedy (what lifts the lock under the shop's policy) the
		 * next steps are lock.<reason>.next.<remedy>, else remedy.<remedy>. */
		if (vals[F_REMEDY]) {
			if (strcmp(vals[F_REMEDY], "password_reset") && strcmp(vals[F_REMEDY], "support"))
				return kg_err_field(err, KG_EINVAL, "remedy",
						    "remedy is password_reset or support");
			if (vals[F_REASON]) {
				snprintf(k2, sizeof(k2), "lock.%.40s.next.%s", vals[F_REASON], vals[F_REMEDY]);
				next = texts_get(tx, k2);
			}
			if (!next) {
				snprintf(k2, sizeof(k2), "remedy.%s", vals[F_REMEDY]);
				next = texts_get(tx, k2);
			}
		}
		break;
	case KG_NOTICE_UNLOCK:
		need = "method";
		if (vals[F_METHOD]) {
			why = text_for(tx, "unlock.%s", vals[F_METHOD], k1, sizeof(k1));
			next = text_for(tx, "unlock.%s.next", vals[F_METHOD], k2, sizeof(k2));
			bad = why ? NULL : "method";
		}
		break;
	case KG_NOTICE_RECOVERY_CODE:
		why = texts_get(tx, "recovery_code");
		next = texts_get(tx, "recovery_code.next");
		if (!vals[F_CODE] || !*vals[F_CODE])
			return kg_err_field(err, KG_EINVAL, "code", "the one-time code is required");
		break;
	case KG_NOTICE_CASE_UPDATE:
		need = "state";
		if (!vals[F_CASE_ID] || !*vals[F_CASE_ID])
			return kg_err_field(err, KG_EINVAL, "case_id", "the case id is required");
		if (vals[F_STATE]) {
			why = text_for(tx, "case.%s", vals[F_STATE], k1, sizeof(k1));
			next = text_for(tx, "case.%s.next", vals[F_STATE], k2, sizeof(k2));
			bad = why ? NULL : "state";
		}
		break;
	case KG_NOTICE_PASSWORD_RESET:
		why = texts_get(tx, "password_reset");
		next = texts_get(tx, "password_reset.next");
		break;
	case KG_NOTICE_INCIDENT_APOLOGY:
	case KG_NOTICE_KIND_COUNT:
		why = texts_get(tx, "incident_apology");
		next = texts_get(tx, "incident_apology.next");
		break;
	}
	if (vals[F_REASON] && !vals[F_REASON_LABEL])
		vals[F_REASON_LABEL] = text_for(tx, "label.%s", vals[F_REASON], k3, sizeof(k3));
	if (!vals[F_REASON_TEXT])
		vals[F_REASON_TEXT] = why;
	if (!vals[F_NEXT_STEPS])
		vals[F_NEXT_STEPS] = next;
	if (!vals[F_REASON_TEXT] || !vals[F_NEXT_STEPS]) {
		if (bad)
			return kg_err_field(err, KG_EINVAL, bad, "unknown %s \"%s\"", bad,
					    vals[!strcmp(bad, "reason") ? F_REASON
							 : !strcmp(bad, "method") ? F_METHOD : F_STATE]);
		return kg_err_field(err, KG_EINVAL, need ? need : "reason_text",
				    "required for %s notices", kinds[kind].name);
	}
	const struct template *t = &st->tpl[kind][lang];
	int rc = render_section(t, S_SUBJECT, vals, &out->subject, err);
	if (rc == 0)
		rc = render_section(t, S_TEXT, vals, &out->text, err);
	if (rc == 0)
		rc = render_section(t, S_HTML, vals, &out->html, err);
	if (rc)
		kg_notice_release(out);
	return rc;
}
