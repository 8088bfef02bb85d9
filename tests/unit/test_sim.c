/* Unit tests of src/sim linked as a library: the stream of a seed is the
 * one recorded in tests/data/sim (the same digest `kagi simulate` gives),
 * the stats count what was written, the same seed gives the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static char *run(const struct kg_sim_opts *o, struct kg_sim_stats *st, size_t *len, int *rc)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	assert_non_null(f);
	kg_err err;
	kg_err_clear(&err);
	*rc = kg_sim_run(o, f, st, &err);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void seed_gives_the_recorded_stream(void **state)
{
	(void)state;
	struct kg_sim_opts o = {.accounts = 1000, .days = 30, .seed = 1, .fraud_rate = 0.03};
	assert_int_equal(kg_time_parse("2026-10-01T00:00:00Z", 20, &o.start_ms), 0);
	struct kg_sim_stats st;
	size_t len = 0;
	int rc;
	char *out = run(&o, &st, &len, &rc);
	assert_int_equal(rc, 0);

	unsigned char d[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(d) + 1];
	crypto_hash_sha256(d, (const unsigned char *)out, len);
	kg_hex(d, sizeof(d), hex);
	char path[4096], want[65] = "";
	snprintf(path, sizeof(path), "%s/sim/accounts1000-days30-seed1.sha256", getenv("KG_TEST_DATA"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%64s", want), 1);
	fclose(f);
	assert_string_equal(hex, want);

	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	assert_int_equal(st.events, lines);
	assert_int_equal(st.bytes, len);
	uint64_t accounts = 0;
	for (int s = 0; s < KG_SIM_SCENARIOS; s++)
		accounts += st.accounts[s];
	assert_int_equal(accounts, 1000);
	assert_string_equal(kg_sim_scenario_name(KG_SIM_GIFT_CARD_RING), "gift_card_ring");
	free(out);
}

static void same_seed_same_bytes(void **state)
{
	(void)state;
	struct kg_sim_opts o = {.accounts = 50, .days = 3, .seed = 42, .fraud_rate = 0.5};
	size_t la = 0, lb = 0;
	int ra, rb;
	char *a = run(&o, NULL, &la, &ra), *b = run(&o, NULL, &lb, &rb);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seed_gives_the_recorded_stream),
		cmocka_unit_test(same_seed_same_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
