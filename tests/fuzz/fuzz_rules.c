/* libFuzzer target for the rule-language compiler (kg_policy_compile).
 * Contract checked: an error names the file and, unless it is about the
 * whole text, a line; a policy that compiles has at most KG_RULES_MAX rules
 * and decides a fixed story of events (story.h) with decisions that are
 * JSON objects with a known action. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "risk/risk.h"
#include "story.h"

/* Decides json and appends the decision's JSON, as the edges write it. */
static int decide_text(kg_risk *r, const char *json, size_t len, kg_buf *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 16 * 1024);
	struct kg_decision d;
	int rc = kg_risk_decide(r, json, len, &a, &d, err);
	if (!rc)
		rc = kg_decision_write_json(&d, out);
	kg_arena_release(&a);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decision(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, 0, &jerr);
	const char *action = j ? json_string_value(json_object_get(j, "action")) : NULL;
	if (!action || (strcmp(action, "allow") && strcmp(action, "challenge") &&
			strcmp(action, "hold") && strcmp(action, "lock"))) {
		fprintf(stderr, "bad decision (%s): %.*s\n", jerr.text, (int)len, line);
		abort();
	}
	if (!json_is_integer(json_object_get(j, "score")) ||
	    !json_is_array(json_object_get(j, "reasons")))
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exact size: no read past the end */
	if (!text)
		abort();
	if (size)
		memcpy(text, data, size);
	kg_policy *pol = NULL;
	kg_risk *risk = NULL;
	kg_buf out = KG_BUF_INIT(1 << 20);
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_policy_compile(text, size, "fuzz.rules", &pol, &err);
	if (rc) {
		if ((rc != KG_EINVAL && rc != KG_ELIMIT) || !err.msg[0] ||
		    strcmp(err.file, "fuzz.rules"))
			abort();
		if (err.line <= 0 && rc != KG_ELIMIT && !memchr(text, '\0', size)) {
			fprintf(stderr, "error without a line: %s\n", err.msg);
			abort();
		}
		goto cleanup;
	}
	if (kg_policy_rule_count(pol) > KG_RULES_MAX || strcmp(kg_policy_file(pol), "fuzz.rules"))
		abort();
	if (kg_risk_new(pol, NULL, &risk, &err))
		abort();
	for (size_t i = 0; i < KG_ARRAY_LEN(story); i++) {
		kg_buf_reset(&out);
		kg_err_clear(&err);
		if (decide_text(risk, story[i], strlen(story[i]), &out, &err)) {
			fprintf(stderr, "story event %zu refused: %s\n", i, err.msg);
			abort();
		}
		check_decision(out.data, out.len);
	}
cleanup:
	kg_risk_free(risk);
	kg_policy_unref(pol);
	kg_buf_release(&out);
	free(text);
	return 0;
}
