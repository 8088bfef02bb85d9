/* libFuzzer target for the feature-blob reader (kg_features_load): the
 * blobs come back from the store, where a torn or corrupt row must be an
 * error, never a crash. Contract checked: an error is invalid with a
 * message; a blob that loads saves to a blob that loads and saves to the
 * same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *blob = malloc(size ? size : 1); /* exact size */
	if (!blob)
		abort();
	if (size)
		memcpy(blob, data, size);
	kg_features *f = kg_features_new(), *g = kg_features_new();
	kg_buf b1 = KG_BUF_INIT((size_t)64 << 20), b2 = KG_BUF_INIT((size_t)64 << 20);
	kg_err err;
	kg_err_clear(&err);
	if (!f || !g)
		abort();
	int rc = kg_features_load(f, blob, size, &err);
	if (rc) {
		if ((rc != KG_EINVAL && rc != KG_ELIMIT) || !err.msg[0])
			abort();
		goto cleanup;
	}
	if (kg_features_mem_bytes(f) == 0 || kg_features_save(f, &b1))
		abort();
	kg_err_clear(&err);
	if (kg_features_load(g, b1.data, b1.len, &err)) {
		fprintf(stderr, "a saved blob does not load: %s\n", err.msg);
		abort();
	}
	if (kg_features_save(g, &b2) || b1.len != b2.len || memcmp(b1.data, b2.data, b1.len)) {
		fprintf(stderr, "blob round trip differs (%zu vs %zu bytes)\n", b1.len, b2.len);
		abort();
	}
cleanup:
	kg_features_free(f);
	kg_features_free(g);
	kg_buf_release(&b1);
	kg_buf_release(&b2);
	free(blob);
	return 0;
}
