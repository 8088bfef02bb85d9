/* Replay: an NDJSON event stream through the engine, in order, in memory or
 * into a store in group-committed batches. Used by `kagi replay` and the
 * benchmark. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "risk/risk_impl.h"
#if __has_include("store/store.h")
#include "store/store.h"
#define HAVE_STORE 1
#else
typedef struct kg_store kg_store;
static int kg_store_open(kg_store **o, const char *p, const void *opt, kg_err *e)
{
	(void)o; (void)p; (void)opt;
	return kg_err_set(e, KG_EINTERNAL, "built without a store");
}
static void kg_store_close(kg_store *s) { (void)s; }
#endif

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int flush_out(kg_buf *b, FILE *out, bool quiet, kg_err *err)
{
	if (!quiet && b->len && fwrite(b->data, 1, b->len, out) != b->len)
		return kg_err_set(err, KG_EIO, "cannot write the output");
	kg_buf_reset(b);
	return 0;
}

int kg_risk_replay(const struct kg_risk_replay_opts *o, FILE *out, kg_err *err)
{
	FILE *in = NULL;
	kg_policy *pol = NULL;
	kg_risk *risk = NULL;
	kg_store *store = NULL;
	char *line = NULL;
	size_t cap = 0;
	uint32_t *lat = NULL;
	size_t nlat = 0, latcap = 0;
	kg_buf ob = KG_BUF_INIT(KG_HTTP_BATCH_BODY_MAX);
	char **batch = NULL;
	size_t *blens = NULL, nb = 0;
	int rc = 0;

	if ((rc = kg_policy_load(o->policy, &pol, err)))
		goto cleanup;
	if (o->db && (rc = kg_store_open(&store, o->db, NULL, err)))
		goto cleanup;
	if ((rc = kg_risk_new(pol, store, &risk, err)))
		goto cleanup;
	in = strcmp(o->input, "-") ? fopen(o->input, "r") : stdin;
	if (!in) {
		rc = kg_err_at(err, KG_EIO, o->input, 0, 0, "cannot open");
		goto cleanup;
	}
	if (o->db) {
		batch = calloc(o->batch, sizeof(char *));
		blens = calloc(o->batch, sizeof(size_t));
		if (!batch || !blens) {
			rc = kg_err_set(err, KG_ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	uint64_t t0 = kg_mono_ns();
	double c0 = cpu_seconds();
	size_t lineno = 0, events = 0;
	ssize_t n;
	for (;;) {
		n = getline(&line, &cap, in);
		if (n >= 0) {
			lineno++;
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			if (n == 0)
				continue;
			events++;
		}
		if (o->db) {
			if (n >= 0) {
				if (!(batch[nb] = malloc((size_t)n + 1))) {
					rc = kg_err_set(err, KG_ENOMEM, "out of memory");
					break;
				}
				memcpy(batch[nb], line, (size_t)n + 1);
				blens[nb++] = (size_t)n;
			}
			if (nb && (nb == o->batch || n < 0)) {
				rc = kg_risk_decide_batch(risk, (const char *const *)batch, blens, nb, &ob,
							  err);
				for (size_t k = 0; k < nb; k++)
					free(batch[k]);
				nb = 0;
				if (rc || (rc = flush_out(&ob, out, o->quiet, err)))
					break;
			}
			if (n < 0)
				break;
			continue;
		}
		if (n < 0)
			break;
		uint64_t s = o->stats ? kg_mono_ns() : 0;
		kg_err e;
		kg_err_clear(&e);
		if (kg_risk_decide(risk, line, (size_t)n, &ob, &e)) {
			if (e.code == KG_ENOMEM || e.code == KG_EIO) {
				rc = kg_err_set(err, e.code, "line %zu: %s", lineno, e.msg);
				break;
			}
			kg_risk_error_json(&e, &ob);
		}
		if (o->stats) {
			uint64_t d = kg_mono_ns() - s;
			if (nlat == latcap) {
				latcap = latcap ? latcap * 2 : 1 << 16;
				uint32_t *nl = realloc(lat, latcap * sizeof(*lat));
				if (!nl) {
					rc = kg_err_set(err, KG_ENOMEM, "out of memory");
					break;
				}
				lat = nl;
			}
			lat[nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		}
		if ((rc = kg_buf_putc(&ob, '\n'))) {
			kg_err_set(err, rc, "output buffer full");
			break;
		}
		if (ob.len > 1 << 20 && (rc = flush_out(&ob, out, o->quiet, err)))
			break;
	}
	if (!rc)
		rc = flush_out(&ob, out, o->quiet, err);
	if (!rc && ferror(in))
		rc = kg_err_at(err, KG_EIO, o->input, (int)lineno, 0, "read error");
	fflush(out);
	if (!rc && o->stats) {
		double secs = (double)(kg_mono_ns() - t0) / 1e9, cpu = cpu_seconds() - c0;
		struct kg_risk_stats st;
		kg_risk_stats(risk, &st);
		fprintf(stderr,
			"{\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"cpu_seconds\":%.3f,"
			"\"events_per_cpu_s\":%.0f,\"accounts\":%zu,"
			"\"feature_mem_bytes_per_account\":%.1f,\"feature_blob_bytes_per_account\":%.1f",
			events, secs, secs > 0 ? (double)events / secs : 0.0, cpu,
			cpu > 0 ? (double)events / cpu : 0.0, st.accounts,
			st.accounts ? (double)st.feature_mem_bytes / (double)st.accounts : 0.0,
			st.accounts ? (double)st.feature_blob_bytes / (double)st.accounts : 0.0);
		if (nlat) {
			qsort(lat, nlat, sizeof(*lat), cmp_u32);
			fprintf(stderr, ",\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}",
				lat[nlat / 2] / 1e3, lat[nlat * 99 / 100] / 1e3,
				lat[nlat * 999 / 1000] / 1e3, lat[nlat - 1] / 1e3);
		}
		fprintf(stderr, "}\n");
	}
cleanup:
	for (size_t k = 0; k < nb; k++)
		free(batch[k]);
	free(batch);
	free(blens);
	free(lat);
	free(line);
	kg_buf_release(&ob);
	if (in && in != stdin)
		fclose(in);
	kg_risk_free(risk);
	kg_store_close(store);
	kg_policy_unref(pol);
	return rc;
}
