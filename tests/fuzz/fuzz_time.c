/* libFuzzer target for RFC 3339 parsing (kg_time_parse). Contract checked:
 * the parser reads only the given bytes; an accepted time formats
 * (kg_time_format) to a string that parses back to the same instant, and
 * parsing is deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches any read past the end. */
	char *s = malloc(size ? size : 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	int64_t ms = 0, again = 0;
	int rc = kg_time_parse(s, size, &ms);
	if (rc != 0 && rc != KG_EINVAL)
		abort();
	if (rc == 0) {
		if (size < 20) /* YYYY-MM-DDTHH:MM:SSZ is the shortest */
			abort();
		if (kg_time_parse(s, size, &again) || again != ms)
			abort();
		/* kg_time_format writes four-digit years: check the round trip
		 * where the instant is inside years 0000..9999. */
		int year = kg_time_year(ms);
		if (year >= 0 && year <= 9999) {
			char out[KG_TIME_STR_MAX];
			kg_time_format(ms, out);
			if (kg_time_parse(out, strlen(out), &again) || again != ms) {
				fprintf(stderr, "%.*s -> %lld -> %s -> %lld\n", (int)size, s,
					(long long)ms, out, (long long)again);
				abort();
			}
		}
	}
	free(s);
	return 0;
}
