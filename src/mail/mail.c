/* The mail analyser's entry points: kg_mail_check (parse -> signals ->
 * verdict), the JSON form of a result, the content fingerprint and the
 * readable text of a message. */
#include <string.h>

#include "mail/internal.h"

const char *kg_mail_verdict_name(enum kg_mail_verdict v)
{
	switch (v) {
	case KG_MAIL_GENUINE: return "genuine";
	case KG_MAIL_SUSPICIOUS: return "suspicious";
	case KG_MAIL_PHISHING: return "phishing";
	case KG_MAIL_UNRELATED: break;
	}
	return "unrelated";
}

int kg_mail_check(const kg_mail_profile *p, const char *msg, size_t len,
		  const kg_mail_query *q, kg_mail_result *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!p || !msg)
		return kg_err_set(err, KG_EINVAL, "no profile or no message");
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	mail_parsed m;
	int rc = mail_parse(&a, msg, len, &m, err);
	if (!rc)
		rc = mail_analyse(p, &a, &m, q, out, err);
	kg_arena_release(&a);
	return rc;
}

int kg_mail_result_json(const kg_mail_result *r, kg_buf *out)
{
	int rc = kg_buf_printf(out, "\"verdict\":\"%s\",\"score\":%d,\"claims_shop\":%s,"
			       "\"authenticated\":%s,\"forwarded\":%s,\"message_id\":",
			       kg_mail_verdict_name(r->verdict), r->score,
			       r->claims_shop ? "true" : "false", r->authenticated ? "true" : "false",
			       r->forwarded ? "true" : "false");
	rc = rc ? rc : kg_buf_json_str(out, r->message_id, strlen(r->message_id));
	rc = rc ? rc : kg_buf_printf(out, ",\"fingerprint\":\"%s\",\"signals\":[", r->fingerprint);
	for (size_t i = 0; i < r->n_signals && !rc; i++) {
		const kg_mail_signal *s = &r->signals[i];
		rc = kg_buf_printf(out, "%s{\"id\":\"%s\",\"weight\":%d,\"detail\":", i ? "," : "",
				   s->id, s->weight);
		rc = rc ? rc : kg_buf_json_str(out, s->detail, strlen(s->detail));
		rc = rc ? rc : kg_buf_putc(out, '}');
	}
	return rc ? rc : kg_buf_putc(out, ']');
}

int kg_mail_fingerprint(const char *msg, size_t len, char out[65], kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	mail_parsed m;
	int rc = mail_parse(&a, msg, len, &m, err);
	if (!rc)
		mail_view_fingerprint(&a, &m.outer, out);
	kg_arena_release(&a);
	return rc;
}

int kg_mail_text(const char *msg, size_t len, kg_buf *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	mail_parsed m;
	int rc = mail_parse(&a, msg, len, &m, err);
	if (!rc && (rc = kg_buf_append(out, m.outer.fp_text, m.outer.fp_len)))
		kg_err_set(err, rc, "text larger than the output buffer");
	kg_arena_release(&a);
	return rc;
}
