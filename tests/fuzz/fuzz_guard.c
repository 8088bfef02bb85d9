/* libFuzzer target for the guard's stored detector state
 * (kg_guard_cusum_parse, the text of a cusum guard row). Contract checked:
 * the parser reads only the given bytes (a NUL-terminated copy) and refuses
 * with KG_EINVAL or accepts; an accepted state formats to text that parses
 * back to the same state; counting locks on it keeps S finite and >= 0
 * and never moves the minute backwards. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	struct kg_guard_cusum c, d;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	int rc = kg_guard_cusum_parse(s, &c);
	if (rc != 0 && rc != KG_EINVAL)
		abort();
	if (rc == 0) {
		char text[128];
		kg_guard_cusum_format(&c, text);
		kg_guard_cusum_init(&d, KG_GUARD_BASELINE_FLOOR);
		if (kg_guard_cusum_parse(text, &d) || memcmp(&c, &d, sizeof(c)))
			abort();
		/* a few locks at minutes taken from the input's bytes */
		for (size_t i = 0; i < size && i < 16; i++) {
			int64_t before = c.minute;
			double v = kg_guard_cusum_add(&c, c.minute + (data[i] % 8), 1);
			if (!isfinite(v) || v < 0 || c.minute < before)
				abort();
		}
	}
	free(s);
	return 0;
}
