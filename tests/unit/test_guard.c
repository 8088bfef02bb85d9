/* Unit tests of the guard's detector (src/guard/detector.c): the cases of
 * tests/data/guard/cusum.cases (when a run of locks trips, data-driven),
 * the onset minute, and the stored text form (round trip, bad text). Not
 * here: the breaker on a store (tests/integration/test_guard*.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "guard/guard.h"

static void test_cases(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/guard/cusum.cases", getenv("KG_TEST_DATA"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	int cases = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[128], expect[16];
		double floor;
		int used;
		if (line[0] == '#' || line[0] == '\n' ||
		    sscanf(line, "%127s %lf %15s%n", name, &floor, expect, &used) != 3)
			continue;
		struct kg_guard_cusum c;
		kg_guard_cusum_init(&c, floor);
		int at = 0, n = 0;
		const char *p = line + used;
		long long m, k;
		int adv;
		while (sscanf(p, " %lld:%lld%n", &m, &k, &adv) == 2) {
			p += adv;
			for (long long i = 0; i < k; i++) {
				n++;
				if (kg_guard_cusum_add(&c, m, 1) > KG_GUARD_CUSUM_H && !at)
					at = n;
			}
		}
		int want = strcmp(expect, "none") ? atoi(expect) : 0;
		if (at != want) {
			fprintf(stderr, "%s: tripped at lock %d, expected %s\n", name, at, expect);
			bad++;
		}
		cases++;
	}
	fclose(f);
	assert_true(cases >= 8);
	assert_int_equal(bad, 0);
}

/* The onset is the minute S started to rise, not the minute it tripped. */
static void test_onset(void **state)
{
	(void)state;
	struct kg_guard_cusum c;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	kg_guard_cusum_add(&c, 500, 1); /* a lone lock: S rises, then falls to 0 */
	double s = 0;
	for (int m = 600; m < 610 && s <= KG_GUARD_CUSUM_H; m++)
		for (int i = 0; i < 2 && s <= KG_GUARD_CUSUM_H; i++)
			s = kg_guard_cusum_add(&c, m, 1);
	assert_true(s > KG_GUARD_CUSUM_H);
	assert_int_equal(c.onset, 600);
	assert_true(c.minute > 600);
	/* peek closes minutes without changing the detector */
	struct kg_guard_cusum before = c;
	double later = kg_guard_cusum_peek(&c, c.minute + 1000);
	assert_true(later == 0);
	assert_memory_equal(&before, &c, sizeof(c));
}

static void test_text(void **state)
{
	(void)state;
	struct kg_guard_cusum c, d;
	kg_guard_cusum_init(&c, KG_GUARD_BASELINE_FLOOR);
	kg_guard_cusum_add(&c, 29851287, 3);
	char text[128];
	kg_guard_cusum_format(&c, text);
	kg_guard_cusum_init(&d, KG_GUARD_BASELINE_FLOOR);
	assert_int_equal(kg_guard_cusum_parse(text, &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	const char *bad[] = {"", "1 2 3", "1 2 nan 0.2 0", "1 2 0.5 0.2 0 extra", "-1 0 0 0.2 0",
			     "1 2 -0.5 0.2 0", "9223372036854775807 0 0 0.2 0",
			     "10 0 0 0.2 11", "1 2 1e300 0.2 0", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(kg_guard_cusum_parse(bad[i], &d), KG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_onset),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
