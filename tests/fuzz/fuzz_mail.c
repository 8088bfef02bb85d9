/* libFuzzer target for the mail parser and analyser: any bytes go through
 * kg_mail_check and kg_mail_fingerprint; only crashes, leaks and sanitizer
 * reports count. Built with clang -fsanitize=fuzzer by `make fuzz`; the
 * same file is linked with replay.c into a plain program that `make test`
 * runs over the fixtures and the seed corpus. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char profile_text[] =
	"name = Amazon\nbrand = Amazon\nbrand = Amazon.co.jp\nbrand = アマゾン\n"
	"sender_domain = amazon.co.jp\nsender_domain = amazon.com\n"
	"link_domain = media-amazon.com\nauthserv_id = mx.kagi.example\n"
	"dkim_key = amazon.co.jp s1 MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQAB\n";

static kg_mail_profile *profile(void)
{
	static kg_mail_profile *p;
	if (!p && kg_mail_profile_parse(profile_text, strlen(profile_text), "fuzz", &p, NULL))
		abort();
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kg_mail_result r;
	char fp[65];
	kg_mail_query q = {.now_ms = 1795860000000};
	if (kg_mail_check(profile(), (const char *)data, size, &q, &r, NULL) == 0) {
		if (r.verdict == KG_MAIL_GENUINE && !r.authenticated)
			abort(); /* never genuine without authentication */
		kg_buf b = KG_BUF_INIT(1 << 20);
		if (kg_mail_result_json(&r, &b))
			abort();
		kg_buf_release(&b);
	}
	kg_mail_fingerprint((const char *)data, size, fp, NULL);
	return 0;
}
