/* Request metrics of kagid: per route and status class, a counter and a
 * latency histogram, kept in lock-free atomic counters, and the error
 * answers by status and error code; rendered as Prometheus text. Not here:
 * store or module metrics (their own hooks). */
#include "http/internal.h"

#include "base/counters.h"

#include <stdatomic.h>
#include <stdlib.h>

static const double bucket_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (KG_ARRAY_LEN(bucket_s) + 1) /* + Inf */
#define NCLASSES 5                            /* 1xx..5xx */

struct series {
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t bucket[NBUCKETS]; /* not cumulative; summed on render */
};

struct kg_http_metrics {
	size_t nroutes; /* + 1 for "no route" */
	kg_counters errors; /* by status and error code */
	struct series s[];
};

kg_http_metrics *kg_http_metrics_new(size_t nroutes)
{
	kg_http_metrics *m = calloc(1, sizeof(*m) + (nroutes + 1) * NCLASSES * sizeof(struct series));
	if (!m)
		return NULL;
	m->nroutes = nroutes;
	m->errors.name = "kagi_http_errors_total";
	m->errors.help = "Error answers (4xx, 5xx) by status and error code (code \"(none)\": an answer without the error shape, or a client gone before the answer, 499).";
	m->errors.label[0] = "status";
	m->errors.label[1] = "code";
	return m;
}

void kg_http_metrics_free(kg_http_metrics *m)
{
	free(m);
}

static size_t class_of(int status)
{
	int c = status / 100 - 1;
	return c < 0 ? 4 : c > 4 ? 4 : (size_t)c;
}

void kg_http_metrics_observe(kg_http_metrics *m, size_t route, int status, uint64_t ns)
{
	if (route > m->nroutes)
		route = m->nroutes;
	struct series *s = &m->s[route * NCLASSES + class_of(status)];
	size_t b = 0;
	while (b < KG_ARRAY_LEN(bucket_s) && (double)ns / 1e9 > bucket_s[b])
		b++;
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
}

void kg_http_metrics_error(kg_http_metrics *m, int status, const char *code)
{
	char st[16];
	snprintf(st, sizeof(st), "%d", status);
	kg_counters_add(&m->errors, st, code && *code ? code : "(none)", 1);
}

/* The method and route labels of route index r ("", "(none)" for requests
 * that matched no route). */
static void labels_of(const kg_http_metrics *m, size_t r, const char **method, const char **route)
{
	*method = r < m->nroutes ? kg_http_routes[r].method : "";
	*route = r < m->nroutes ? kg_http_routes[r].pattern : "(none)";
}

int kg_http_metrics_render(const kg_http_metrics *m, kg_buf *out)
{
	int rc = kg_buf_puts(out,
			     "# HELP kagi_http_requests_total HTTP requests answered, by route and status class.\n"
			     "# TYPE kagi_http_requests_total counter\n");
	for (size_t r = 0; r <= m->nroutes && rc == 0; r++)
		for (size_t c = 0; c < NCLASSES && rc == 0; c++) {
			const struct series *s = &m->s[r * NCLASSES + c];
			uint64_t n = atomic_load(&s->count);
			if (!n)
				continue;
			const char *method, *route;
			labels_of(m, r, &method, &route);
			rc = kg_buf_printf(out,
					   "kagi_http_requests_total{method=\"%s\",route=\"%s\",class=\"%zuxx\"} %llu\n",
					   method, route, c + 1, (unsigned long long)n);
		}
	rc = rc ? rc : kg_buf_puts(out,
			       "# HELP kagi_http_request_duration_seconds Time from the first byte of a request to its last byte out.\n"
			       "# TYPE kagi_http_request_duration_seconds histogram\n");
	for (size_t r = 0; r <= m->nroutes && rc == 0; r++)
		for (size_t c = 0; c < NCLASSES && rc == 0; c++) {
			const struct series *s = &m->s[r * NCLASSES + c];
			uint64_t n = atomic_load(&s->count);
			if (!n)
				continue;
			const char *method, *route;
			labels_of(m, r, &method, &route);
			uint64_t cum = 0;
			for (size_t b = 0; b < NBUCKETS && rc == 0; b++) {
				cum += atomic_load(&s->bucket[b]);
				char le[32];
				if (b < KG_ARRAY_LEN(bucket_s))
					snprintf(le, sizeof(le), "%g", bucket_s[b]);
				else
					snprintf(le, sizeof(le), "+Inf");
				rc = kg_buf_printf(out,
						   "kagi_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",class=\"%zuxx\",le=\"%s\"} %llu\n",
						   method, route, c + 1, le, (unsigned long long)cum);
			}
			rc = rc ? rc : kg_buf_printf(out,
					   "kagi_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\",class=\"%zuxx\"} %.6f\n"
					   "kagi_http_request_duration_seconds_count{method=\"%s\",route=\"%s\",class=\"%zuxx\"} %llu\n",
					   method, route, c + 1, (double)atomic_load(&s->sum_ns) / 1e9,
					   method, route, c + 1, (unsigned long long)cum);
		}
	return rc ? rc : kg_counters_render(&m->errors, out);
}
