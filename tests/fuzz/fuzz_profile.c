/* libFuzzer target for the mail shop-profile parser (kg_mail_profile_parse).
 * Contract checked: a refused profile gets KG_EINVAL or KG_ELIMIT (KG_EIO
 * only for a dkim_key_file that cannot be read) with a message, named by
 * the profile's file and a line that exists in the input; an accepted
 * profile has a UTF-8 name and analyses a message that claims its brand
 * into a verdict whose JSON is valid. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WHERE "fuzz.profile"

static const char message[] =
	"From: \"Amazon.co.jp\" <account-update@amazon.co.jp>\r\n"
	"To: taro@example.jp\r\n"
	"Subject: =?UTF-8?B?44Ki44Kr44Km44Oz44OI44KS44Ot44OD44Kv44GX44G+44GX44Gf?=\r\n"
	"Message-ID: <m1@amazon.co.jp>\r\n"
	"Date: Sat, 28 Nov 2026 10:00:00 +0900\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p>Your account is locked. <a href=\"https://amaz0n-secure.example/x\">"
	"Sign in</a> to www.amazon.co.jp within 24 hours.</p>\r\n";

static size_t lines_in(const uint8_t *data, size_t size)
{
	size_t n = 1;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void check_refusal(int rc, const kg_err *err, const uint8_t *data, size_t size)
{
	if (rc != KG_EINVAL && rc != KG_ELIMIT && rc != KG_EIO) {
		fprintf(stderr, "unexpected code %d: %s\n", rc, err->msg);
		abort();
	}
	if (!err->msg[0]) {
		fprintf(stderr, "refused without a message\n");
		abort();
	}
	if (rc == KG_EIO)
		return; /* names the key file it could not read */
	if (strcmp(err->file, WHERE) != 0 || err->line < 0 ||
	    (size_t)err->line > lines_in(data, size)) {
		fprintf(stderr, "error not at a line of the input: %s:%d: %s\n", err->file,
			err->line, err->msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kg_mail_profile *p = NULL;
	kg_err err;
	kg_err_clear(&err);
	int rc = kg_mail_profile_parse((const char *)data, size, WHERE, &p, &err);
	if (rc) {
		if (p)
			abort();
		check_refusal(rc, &err, data, size);
		return 0;
	}
	const char *name = kg_mail_profile_name(p);
	if (!name || kg_utf8_valid_prefix(name, strlen(name)) != strlen(name)) {
		fprintf(stderr, "profile name is not UTF-8 text\n");
		abort();
	}
	kg_mail_result r;
	kg_mail_query q = {.now_ms = 1795860000000};
	kg_err_clear(&err);
	if (kg_mail_check(p, message, sizeof(message) - 1, &q, &r, &err)) {
		fprintf(stderr, "the fixed message does not analyse: %s\n", err.msg);
		abort();
	}
	kg_buf b = KG_BUF_INIT(1 << 20);
	if (kg_buf_putc(&b, '{') || kg_mail_result_json(&r, &b) || kg_buf_putc(&b, '}'))
		abort();
	json_error_t je;
	json_t *j = json_loadb(b.data, b.len, 0, &je);
	if (!j) {
		fprintf(stderr, "verdict JSON does not parse: %s at %d\n", je.text, je.position);
		abort();
	}
	json_decref(j);
	kg_buf_release(&b);
	kg_mail_profile_free(p);
	return 0;
}
