/* Decisions as JSON: the one writer (kg_decision_write_json), the reading
 * of a stored decision for a retry, and the lock-id scheme. Not here:
 * deciding (engine.c, rules.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "risk/risk_impl.h"

static bool plain_json_str(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* kg_buf_json_str with a fast path for the common string that needs no
 * escaping (ids, account ids). */
static int put_json_str(kg_buf *out, const char *s, size_t n)
{
	if (!plain_json_str(s, n))
		return kg_buf_json_str(out, s, n);
	int rc = kg_buf_putc(out, '"');
	rc = rc ? rc : kg_buf_append(out, s, n);
	return rc ? rc : kg_buf_putc(out, '"');
}

static int put_plain_allow(kg_buf *out, const char *id, size_t idn, const char *acct,
			   size_t an)
{
	static const char p1[] = "{\"event\":\"", p2[] = "\",\"account\":\"",
			  p3[] = "\",\"action\":\"allow\",\"score\":0,\"reasons\":[],\"shadow\":[]}";
	char line[256];
	size_t n = sizeof(p1) - 1 + idn + sizeof(p2) - 1 + an + sizeof(p3) - 1;
	if (n <= sizeof(line) && plain_json_str(id, idn) && plain_json_str(acct, an)) {
		/* the answer to most events, assembled here and appended at once
		 * (the appends below cost several hundred instructions) */
		size_t at = 0;
		memcpy(line + at, p1, sizeof(p1) - 1);
		at += sizeof(p1) - 1;
		memcpy(line + at, id, idn);
		at += idn;
		memcpy(line + at, p2, sizeof(p2) - 1);
		at += sizeof(p2) - 1;
		memcpy(line + at, acct, an);
		at += an;
		memcpy(line + at, p3, sizeof(p3) - 1);
		return kg_buf_append(out, line, n);
	}
	int rc = kg_buf_puts(out, "{\"event\":");
	rc = rc ? rc : put_json_str(out, id, idn);
	rc = rc ? rc : kg_buf_puts(out, ",\"account\":");
	rc = rc ? rc : put_json_str(out, acct, an);
	rc = rc ? rc : kg_buf_puts(out, p3 + 1);
	return rc;
}

static int put_value(kg_buf *b, const struct kg_value *v)
{
	switch (v->type) {
	case KG_VAL_INT:
		return kg_buf_printf(b, "%lld", (long long)v->i);
	case KG_VAL_FLOAT:
		if (isinf(v->f))
			return kg_buf_puts(b, v->f > 0 ? "\"inf\"" : "\"-inf\"");
		return kg_buf_printf(b, "%.6g", v->f);
	case KG_VAL_BOOL:
		return kg_buf_puts(b, v->i ? "true" : "false");
	case KG_VAL_STR:
		return kg_buf_json_str(b, v->s.p ? v->s.p : "", v->s.n);
	default:
		return kg_buf_puts(b, "null");
	}
}

/* One fired rule as JSON: {"rule","action","score","detail","values"}
 * (+ "pending":true for a shadow hit of a gated rule). */
static int put_fired(kg_buf *b, bool first, kg_str rule, enum kg_action action, int64_t score,
		     kg_str detail, const struct kg_value *values, uint32_t n_values, bool pending)
{
	int rc = kg_buf_puts(b, first ? "{\"rule\":" : ",{\"rule\":");
	rc = rc ? rc : kg_buf_json_str(b, rule.p ? rule.p : "", rule.n);
	rc = rc ? rc : kg_buf_printf(b, ",\"action\":\"%s\",\"score\":%lld,\"detail\":",
				     kg_action_names[action], (long long)score);
	rc = rc ? rc : kg_buf_json_str(b, detail.p ? detail.p : "", detail.n);
	rc = rc ? rc : kg_buf_puts(b, ",\"values\":{");
	for (uint32_t k = 0; k < n_values && !rc; k++) {
		const struct kg_value *v = &values[k];
		if (k)
			rc = kg_buf_putc(b, ',');
		rc = rc ? rc : kg_buf_json_str(b, v->name.p ? v->name.p : "", v->name.n);
		rc = rc ? rc : kg_buf_putc(b, ':');
		rc = rc ? rc : put_value(b, v);
	}
	rc = rc ? rc : kg_buf_puts(b, pending ? "},\"pending\":true}" : "}}");
	return rc;
}

static int put_reasons(kg_buf *b, const struct kg_reason *rs, uint32_t n)
{
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = put_fired(b, i == 0, rs[i].rule, rs[i].action, rs[i].score, rs[i].detail,
			       rs[i].values, rs[i].n_values, false);
	return rc;
}

static int put_shadow(kg_buf *b, const struct kg_shadow_hit *hs, uint32_t n)
{
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = put_fired(b, i == 0, hs[i].rule, hs[i].would, hs[i].points, hs[i].detail,
			       hs[i].values, hs[i].n_values, hs[i].pending);
	return rc;
}

int kg_decision_write_json(const struct kg_decision *d, kg_buf *out)
{
	if (d->stored.n)
		return kg_buf_append(out, d->stored.p, d->stored.n);
	if (d->action == KG_ACT_ALLOW && !d->n_reasons && !d->n_shadow)
		return put_plain_allow(out, d->event.p, d->event.n, d->account.p, d->account.n);
	int rc = kg_buf_puts(out, "{\"event\":");
	rc = rc ? rc : put_json_str(out, d->event.p, d->event.n);
	rc = rc ? rc : kg_buf_puts(out, ",\"account\":");
	rc = rc ? rc : put_json_str(out, d->account.p, d->account.n);
	rc = rc ? rc : kg_buf_printf(out, ",\"action\":\"%s\",\"score\":%lld,\"reasons\":[",
				     kg_action_names[d->action], (long long)d->score);
	rc = rc ? rc : put_reasons(out, d->reasons, d->n_reasons);
	rc = rc ? rc : kg_buf_putc(out, ']');
	if (!rc && d->has_lock) {
		char ts[KG_TIME_STR_MAX];
		rc = kg_buf_puts(out, ",\"lock\":{\"id\":");
		rc = rc ? rc : put_json_str(out, d->lock.id, strlen(d->lock.id));
		rc = rc ? rc : kg_buf_printf(out, ",\"reason\":\"%s\"", d->lock.reason);
		if (!rc && d->lock.expires_ms)
			rc = kg_buf_printf(out, ",\"expires\":\"%s\"",
					   kg_time_format(d->lock.expires_ms, ts));
		rc = rc ? rc : kg_buf_putc(out, '}');
	}
	if (!rc && d->breaker.incident[0])
		rc = kg_buf_printf(out, ",\"breaker\":{\"incident\":\"%s\",\"would\":\"lock\","
				   "\"reason\":\"%s\"}", d->breaker.incident, d->breaker.reason);
	rc = rc ? rc : kg_buf_puts(out, ",\"shadow\":[");
	rc = rc ? rc : put_shadow(out, d->shadow, d->n_shadow);
	rc = rc ? rc : kg_buf_puts(out, "]}");
	return rc;
}

/* s as a JSON string, a byte of no well-formed UTF-8 sequence as '?': a
 * message may quote input (jansson's "near '...'" cuts a character in two),
 * as the HTTP error body does (kg_http_error_json). */
static int put_utf8_str(kg_buf *out, const char *s)
{
	char safe[KG_ERR_MSG_MAX];
	size_t n = strnlen(s, sizeof(safe) - 1);
	const unsigned char *u = (const unsigned char *)s, *e = u + n;
	for (size_t i = 0; i < n;) {
		int k = u[i] < 0x80 ? 1 : kg_utf8_seq(u + i, e);
		if (!k) {
			safe[i++] = '?';
			continue;
		}
		memcpy(safe + i, s + i, (size_t)k);
		i += (size_t)k;
	}
	return kg_buf_json_str(out, safe, n);
}

int kg_risk_error_json(const kg_err *err, kg_buf *out)
{
	int rc = kg_buf_printf(out, "{\"error\":{\"code\":\"%s\",\"message\":",
			       kg_code_name(err->code));
	rc = rc ? rc : put_utf8_str(out, err->msg);
	rc = rc ? rc : kg_buf_puts(out, ",\"field\":");
	rc = rc ? rc : put_utf8_str(out, err->field);
	rc = rc ? rc : kg_buf_puts(out, "}}");
	return rc;
}

int kg_risk_answer_write_json(const struct kg_risk_answer *ans, kg_buf *out)
{
	if (ans->d)
		return kg_decision_write_json(ans->d, out);
	if (ans->err)
		return kg_risk_error_json(ans->err, out);
	return kg_buf_puts(out, "{}");
}

int kg_risk_decision_plain(const kg_event *ev, kg_arena *a, struct kg_decision *d)
{
	memset(d, 0, sizeof(*d));
	/* both ids in one allocation, each NUL-terminated */
	char *id = kg_arena_alloc(a, (size_t)ev->id.n + ev->account.n + 2);
	if (!id)
		return KG_ENOMEM;
	char *acct = id + ev->id.n + 1;
	memcpy(id, ev->id.p, ev->id.n);
	memcpy(acct, ev->account.p, ev->account.n); /* kg_arena_alloc zeroed the NULs */
	d->event = (kg_str){id, ev->id.n};
	d->account = (kg_str){acct, ev->account.n};
	d->ts_ms = ev->ts_ms;
	d->action = KG_ACT_ALLOW;
	return 0;
}

int kg_risk_decision_stored(const kg_event *ev, const char *text, size_t len, kg_arena *a,
			    struct kg_decision *d)
{
	int rc = kg_risk_decision_plain(ev, a, d);
	char *copy = rc ? NULL : kg_arena_strndup(a, text, len);
	if (rc || !copy)
		return KG_ENOMEM;
	d->stored = (kg_str){copy, (uint32_t)len};
	/* a retry is rare: its action and lock are read back with jansson */
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *act = json_string_value(json_object_get(j, "action"));
	for (int i = 0; act && i < 4; i++)
		if (!strcmp(act, kg_action_names[i]))
			d->action = (enum kg_action)i;
	d->score = json_integer_value(json_object_get(j, "score"));
	json_t *lk = json_object_get(j, "lock");
	const char *lid = json_string_value(json_object_get(lk, "id"));
	const char *lr = json_string_value(json_object_get(lk, "reason"));
	if (lid && lr) {
		d->has_lock = true;
		snprintf(d->lock.id, sizeof(d->lock.id), "%s", lid);
		snprintf(d->lock.reason, sizeof(d->lock.reason), "%s", lr);
		const char *exp = json_string_value(json_object_get(lk, "expires"));
		int64_t ms;
		if (exp && !kg_time_parse(exp, strlen(exp), &ms))
			d->lock.expires_ms = ms;
	}
	json_decref(j);
	return 0;
}

/* ---- deep copies (the engine's table of decided events) ------------------ */
static size_t str_bytes(kg_str s)
{
	return s.n + 1;
}

static size_t fired_bytes(kg_str rule, kg_str detail, const struct kg_value *values,
			  uint32_t n_values, size_t *n_all)
{
	size_t b = str_bytes(rule) + str_bytes(detail);
	*n_all += n_values;
	for (uint32_t k = 0; k < n_values; k++)
		b += str_bytes(values[k].name) +
		     (values[k].type == KG_VAL_STR ? str_bytes(values[k].s) : 0);
	return b;
}

size_t kg_risk_decision_size(const struct kg_decision *d)
{
	size_t n_values = 0;
	size_t strs = str_bytes(d->event) + str_bytes(d->account) + str_bytes(d->stored);
	for (uint32_t i = 0; i < d->n_reasons; i++)
		strs += fired_bytes(d->reasons[i].rule, d->reasons[i].detail, d->reasons[i].values,
				    d->reasons[i].n_values, &n_values);
	for (uint32_t i = 0; i < d->n_shadow; i++)
		strs += fired_bytes(d->shadow[i].rule, d->shadow[i].detail, d->shadow[i].values,
				    d->shadow[i].n_values, &n_values);
	return sizeof(*d) + d->n_reasons * sizeof(struct kg_reason) +
	       d->n_shadow * sizeof(struct kg_shadow_hit) + n_values * sizeof(struct kg_value) + strs;
}

static kg_str copy_str(char **at, kg_str s)
{
	char *p = *at;
	if (s.n)
		memcpy(p, s.p, s.n);
	p[s.n] = '\0';
	*at += s.n + 1;
	return (kg_str){p, s.n};
}

/* Copies n values to *vals (moved on), their strings to *strs; returns
 * the copy (NULL for none). */
static const struct kg_value *copy_values(const struct kg_value *src, uint32_t n,
					  struct kg_value **vals, char **strs)
{
	struct kg_value *v = *vals;
	for (uint32_t k = 0; k < n; k++) {
		v[k] = src[k];
		v[k].name = copy_str(strs, src[k].name);
		if (v[k].type == KG_VAL_STR)
			v[k].s = copy_str(strs, src[k].s);
	}
	*vals += n;
	return n ? v : NULL;
}

struct kg_decision *kg_risk_decision_copy(const struct kg_decision *d, void *block)
{
	struct kg_decision *c = block;
	*c = *d;
	struct kg_reason *rs = (struct kg_reason *)(c + 1);
	struct kg_shadow_hit *hs = (struct kg_shadow_hit *)(rs + d->n_reasons);
	size_t n_values = 0;
	for (uint32_t i = 0; i < d->n_reasons; i++)
		n_values += d->reasons[i].n_values;
	for (uint32_t i = 0; i < d->n_shadow; i++)
		n_values += d->shadow[i].n_values;
	struct kg_value *vals = (struct kg_value *)(hs + d->n_shadow);
	char *strs = (char *)(vals + n_values);
	c->event = copy_str(&strs, d->event);
	c->account = copy_str(&strs, d->account);
	c->stored = d->stored.n ? copy_str(&strs, d->stored) : (kg_str){NULL, 0};
	for (uint32_t i = 0; i < d->n_reasons; i++) {
		rs[i] = d->reasons[i];
		rs[i].rule = copy_str(&strs, d->reasons[i].rule);
		rs[i].detail = copy_str(&strs, d->reasons[i].detail);
		rs[i].values = copy_values(d->reasons[i].values, d->reasons[i].n_values, &vals, &strs);
	}
	for (uint32_t i = 0; i < d->n_shadow; i++) {
		hs[i] = d->shadow[i];
		hs[i].rule = copy_str(&strs, d->shadow[i].rule);
		hs[i].detail = copy_str(&strs, d->shadow[i].detail);
		hs[i].values = copy_values(d->shadow[i].values, d->shadow[i].n_values, &vals, &strs);
	}
	c->reasons = d->n_reasons ? rs : NULL;
	c->shadow = d->n_shadow ? hs : NULL;
	return c;
}

/* Seed of the event-id half of the pair hash (the engine's seen table
 * uses the same one: engine.c). */
#define ID_SEED 0x51

uint64_t kg_risk_pair_hash(const char *account, size_t account_len, const char *id,
			   size_t id_len)
{
	return kg_risk_hash(account, account_len) * 31 + kg_risk_hash_seed(id, id_len, ID_SEED);
}

void kg_risk_lock_id(const char *account, size_t account_len, const char *source,
		     size_t source_len, char out[KG_LOCK_ID_MAX])
{
	snprintf(out, KG_LOCK_ID_MAX, "lk_%016llx",
		 (unsigned long long)kg_risk_pair_hash(account, account_len, source, source_len));
}
