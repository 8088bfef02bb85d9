/* jsmn (strict) without parent links: the tokenizer on whose tokens
 * kg_event_parse's messages about text that is not JSON are defined (where
 * it stopped, which tokens it paired). event.c tokenizes with parent links,
 * which spares jsmn a backward scan at every ',' and '}' and gives the same
 * tokens for JSON text, and comes here only to describe refused text. */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jansson.h>
#include <jsmn.h>

#include <stdlib.h>

#include "risk/risk_impl.h"

struct kg_event_lax {
	jsmntok_t tok[KG_JSON_TOKENS_MAX];
};

kg_event_lax *kg_event_lax_new(void)
{
	return calloc(1, sizeof(kg_event_lax));
}

void kg_event_lax_free(kg_event_lax *l)
{
	free(l);
}

int kg_event_lax_parse(kg_event_lax *l, const char *js, size_t len, unsigned *pos)
{
	jsmn_parser jp;
	jsmn_init(&jp);
	int n = jsmn_parse(&jp, js, len, l->tok, KG_JSON_TOKENS_MAX);
	*pos = jp.pos;
	return n;
}

void kg_event_lax_token(const kg_event_lax *l, int i, int out[4])
{
	const jsmntok_t *t = &l->tok[i];
	out[0] = (int)t->type;
	out[1] = t->start;
	out[2] = t->end;
	out[3] = t->size;
}

int kg_event_syntax_error(kg_err *err, const char *js, size_t len, int byte, const char *what)
{
	json_error_t je;
	json_t *j = json_loadb(js, len, JSON_ALLOW_NUL, &je);
	if (j) { /* JSON to jansson: jsmn's finding stands, at jsmn's byte */
		json_decref(j);
		return kg_err_field(err, KG_EINVAL, "", "%s at byte %d", what, byte);
	}
	return kg_err_json(err, je.line, je.column, je.position > 0 ? je.position - 1 : 0, je.text);
}
