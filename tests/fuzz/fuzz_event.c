/* libFuzzer target for the risk engine's event parser (kg_event_parse: its
 * own tokenizer on the hot path, jsmn for the text it leaves). Contract
 * checked: that tokenizer gives jsmn's tokens on the text it takes; an
 * error has a code of invalid/limit and a message; an accepted event is a
 * JSON object jansson also accepts, of a known type, with every string
 * inside the input or the parser's scratch and within its limits; parsing
 * is deterministic; the name and address strings go through
 * kg_text_normalize, every address through kg_address_key (and is the same
 * as itself). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "risk/risk.h"
#include "risk/risk_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kg_event_parser *parser(void)
{
	static kg_event_parser *p;
	if (!p && !(p = kg_event_parser_new()))
		abort();
	return p;
}

static kg_buf norm = KG_BUF_INIT(1 << 20);

/* Touches every byte of s (ASan checks it is live memory) and normalises it. */
static void check_str(kg_str s)
{
	if (s.n && !s.p)
		abort();
	if (s.n > KG_EVENT_BYTES_MAX)
		abort();
	kg_buf_reset(&norm);
	int rc = kg_text_normalize(s.p ? s.p : "", s.n, &norm);
	if (rc && rc != KG_EINVAL && rc != KG_ELIMIT)
		abort();
}

static void check_id(kg_str s)
{
	if (s.n == 0 || s.n > KG_ID_MAX)
		abort();
	check_str(s);
}

static void check_address(const kg_ev_address *a)
{
	check_str(a->postal_code);
	check_str(a->region);
	check_str(a->city);
	check_str(a->line1);
	check_str(a->line2);
	check_str(a->country);
	kg_buf_reset(&norm);
	int rc = kg_address_key(a, &norm);
	if (rc && rc != KG_EINVAL && rc != KG_ELIMIT)
		abort();
	if (!rc && !kg_address_same(a, a))
		abort();
}

static void check_event(const kg_event *ev, const char *json, size_t len)
{
	if (!kg_event_type_name(ev->type))
		abort();
	check_id(ev->id);
	check_id(ev->account);
	if (ev->raw != json || ev->raw_len > len || ev->ts_ms < 0)
		abort();
	char ts[KG_TIME_STR_MAX];
	int64_t back;
	kg_time_format(ev->ts_ms, ts);
	if (kg_time_parse(ts, strlen(ts), &back) || back != ev->ts_ms)
		abort();
	const kg_str strs[] = {ev->name, ev->email, ev->phone, ev->ip, ev->device_id,
			       ev->country, ev->user_agent, ev->via, ev->order_id, ev->currency,
			       ev->result, ev->decline_code, ev->seller_id, ev->reason,
			       ev->card.holder_name, ev->card.last4, ev->card.exp,
			       ev->card.fingerprint, ev->kind, ev->field};
	for (size_t i = 0; i < KG_ARRAY_LEN(strs); i++)
		check_str(strs[i]);
	check_address(&ev->address);
	check_address(&ev->shipping_address);
	check_address(&ev->billing_address);
	if (ev->n_items > KG_EVENT_ITEMS_MAX || ev->n_seller_ids > KG_EVENT_SELLERS_MAX)
		abort();
	if (ev->amount < 0 || ev->gift_card_amount < 0)
		abort();
	for (uint32_t i = 0; i < ev->n_items; i++) {
		check_str(ev->items[i].sku);
		check_str(ev->items[i].category);
	}
	for (uint32_t i = 0; i < ev->n_seller_ids; i++)
		check_str(ev->seller_ids[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches any read past the end. */
	char *json = malloc(size ? size : 1);
	if (!json)
		abort();
	if (size)
		memcpy(json, data, size);
	/* the parse's tokenizer gives jsmn's tokens, or leaves the text to it */
	if (kg_event_tokens_check(parser(), json, size) < 0)
		abort();
	const kg_event *ev = NULL;
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_event_parse(parser(), json, size, &ev, &err);
	if (rc) {
		if ((rc != KG_EINVAL && rc != KG_ELIMIT) || err.code != rc || !err.msg[0])
			abort();
		/* a second parse fails the same way */
		kg_err err2;
		kg_err_clear(&err2);
		if (kg_event_parse(parser(), json, size, &ev, &err2) != rc ||
		    strcmp(err.msg, err2.msg) || strcmp(err.field, err2.field))
			abort();
		goto cleanup;
	}
	check_event(ev, json, size);
	json_error_t jerr;
	json_t *j = json_loadb(json, size, JSON_ALLOW_NUL, &jerr);
	if (!j || !json_is_object(j)) {
		fprintf(stderr, "kg_event_parse accepted what jansson refuses: %s (line %d col %d)\n",
			jerr.text, jerr.line, jerr.column);
		abort();
	}
	json_decref(j);
	enum kg_event_type type = ev->type;
	int64_t ts = ev->ts_ms;
	if (kg_event_parse(parser(), json, size, &ev, &err) || ev->type != type || ev->ts_ms != ts)
		abort();
cleanup:
	free(json);
	return 0;
}
