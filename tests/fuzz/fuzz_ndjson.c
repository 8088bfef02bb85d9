/* libFuzzer target for the NDJSON paths of the risk engine: the input is an
 * event stream decided by kg_risk_replay (a file, line by line, default
 * policy, in memory) and by kg_risk_decide_batch (the batch endpoint's
 * call). Contract checked: one output line per non-blank input line, each a
 * JSON object holding a decision or an error with a code and a message, and
 * both paths answer byte for byte the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "risk/risk.h"

/* Decides a batch and appends one JSON line per answer, as the batch
 * endpoint writes them. */
static int decide_batch_text(kg_risk *r, const char *const *evs, const size_t *lens, size_t n,
			     kg_buf *out, kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	struct kg_risk_answer *ans = calloc(n ? n : 1, sizeof(*ans));
	int rc = ans ? kg_risk_decide_batch(r, evs, lens, n, &a, ans, err) : KG_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = kg_risk_answer_write_json(&ans[i], out);
		rc = rc ? rc : kg_buf_putc(out, '\n');
	}
	free(ans);
	kg_arena_release(&a);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 4096

static const char *policy_path(void)
{
	return KG_FUZZ_SOURCE_DIR "/policy/default.rules";
}

static kg_policy *policy(void)
{
	static kg_policy *p;
	kg_err err;
	if (!p && kg_policy_load(policy_path(), &p, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		abort();
	}
	return p;
}

static void check_line(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(j))
		goto bad;
	json_t *e = json_object_get(j, "error");
	if (e) {
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		if (!code || !msg || !*msg || !json_is_string(json_object_get(e, "field")))
			goto bad;
	} else if (!json_is_string(json_object_get(j, "action"))) {
		goto bad;
	}
	json_decref(j);
	return;
bad:
	fprintf(stderr, "bad output line (%s): %.*s\n", j ? "" : jerr.text, (int)len, line);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/kg-fuzz-replay-%ld.ndjson", (long)getpid());

	/* the lines as kg_risk_replay sees them: \n-separated, trailing \r
	 * stripped, blank lines skipped */
	const char *lines[MAX_LINES];
	size_t lens[MAX_LINES], n = 0;
	for (size_t pos = 0; pos < size;) {
		const char *s = (const char *)data + pos;
		const char *nl = memchr(s, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - s) : size - pos;
		pos += len + (nl != NULL);
		while (len && s[len - 1] == '\r')
			len--;
		if (!len)
			continue;
		if (n == MAX_LINES)
			return 0; /* not interesting; keeps each run short */
		lines[n] = s;
		lens[n++] = len;
	}

	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	char *out = NULL;
	size_t out_len = 0;
	FILE *mem = open_memstream(&out, &out_len);
	if (!mem)
		abort();
	FILE *in = fopen(path, "rb");
	if (!in)
		abort();
	struct kg_risk_replay_opts o = {.policy = policy(), .in = in, .in_name = path, .out = mem};
	kg_err err;
	kg_err_clear(&err);
	if (kg_risk_replay(&o, NULL, &err)) {
		fprintf(stderr, "replay failed: %s\n", err.msg);
		abort();
	}
	fclose(in);
	fclose(mem);
	unlink(path);

	size_t got = 0;
	for (size_t pos = 0; pos < out_len; got++) {
		const char *nl = memchr(out + pos, '\n', out_len - pos);
		if (!nl)
			abort(); /* every answer ends with a newline */
		check_line(out + pos, (size_t)(nl - (out + pos)));
		pos = (size_t)(nl - out) + 1;
	}
	if (got != n) {
		fprintf(stderr, "%zu input lines, %zu answers\n", n, got);
		abort();
	}

	kg_risk *risk = NULL;
	kg_buf b = KG_BUF_INIT((size_t)64 << 20);
	if (kg_risk_new(policy(), NULL, &risk, &err) ||
	    decide_batch_text(risk, lines, lens, n, &b, &err))
		abort();
	if (b.len != out_len || (out_len && memcmp(b.data, out, out_len))) {
		fprintf(stderr, "replay and batch differ:\n%s---\n%s", out, b.data ? b.data : "");
		abort();
	}
	kg_risk_free(risk);
	kg_buf_release(&b);
	free(out);
	return 0;
}
