/* Unit tests of src/http's pure parts: tokens, roles, status mapping, the
 * JSON field readers (errors name the field), the account helper, that
 * the route table is well formed, the work pools of admit.c (a batching
 * pool takes every job waiting at once; a full queue refuses), and the
 * front door's head check (the incomplete heads it waits for;
 * tests/data/http/framing.jsonl has the answers on a real socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "http/front.h"
#include "http/http.h"
#include "http/internal.h"

static void token_round_trip(void **state)
{
	kg_token t, u;
	kg_token_new(&t);
	kg_token_new(&u);
	assert_int_equal(strlen(t.text), 3 + KG_TOKEN_ID_LEN + 1 + 43);
	assert_memory_equal(t.text, "kg_", 3);
	assert_string_not_equal(t.text, u.text);
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
	assert_int_equal(kg_token_parse(t.text, id, hash), 0);
	assert_string_equal(id, t.id);
	assert_memory_equal(hash, t.hash, KG_TOKEN_HASH_LEN);
	/* one character of the secret changed: same id, other hash */
	char bad[KG_TOKEN_MAX];
	memcpy(bad, t.text, sizeof(bad));
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(kg_token_parse(bad, id, hash), 0);
	assert_memory_not_equal(hash, t.hash, KG_TOKEN_HASH_LEN);
	/* malformed */
	assert_int_equal(kg_token_parse("", id, hash), KG_EAUTH);
	assert_int_equal(kg_token_parse(NULL, id, hash), KG_EAUTH);
	assert_int_equal(kg_token_parse("kg_short_x", id, hash), KG_EAUTH);
	memcpy(bad, t.text, sizeof(bad));
	bad[5] = 'Z'; /* ids are lower-case base32 */
	assert_int_equal(kg_token_parse(bad, id, hash), KG_EAUTH);
	memcpy(bad, t.text, sizeof(bad));
	bad[0] = 'x';
	assert_int_equal(kg_token_parse(bad, id, hash), KG_EAUTH);
}

static void roles_and_statuses(void **state)
{
	assert_int_equal(kg_role_parse("agent"), KG_ROLE_AGENT);
	assert_int_equal(kg_role_parse("ticket"), KG_ROLE_TICKET);
	assert_int_equal(kg_role_parse("root"), 0);
	assert_int_equal(kg_role_parse(NULL), 0);
	assert_string_equal(kg_role_name(KG_ROLE_CUSTOMER), "customer");
	assert_string_equal(kg_role_name(KG_ROLE_AGENT | KG_ROLE_ADMIN), "?");
	assert_int_equal(kg_http_status_of(KG_EINVAL), 400);
	assert_int_equal(kg_http_status_of(KG_EAUTH), 401);
	assert_int_equal(kg_http_status_of(KG_EFORBIDDEN), 403);
	assert_int_equal(kg_http_status_of(KG_ENOTFOUND), 404);
	assert_int_equal(kg_http_status_of(KG_ECONFLICT), 409);
	assert_int_equal(kg_http_status_of(KG_ELIMIT), 413);
	assert_int_equal(kg_http_status_of(KG_EIO), 503);
	assert_int_equal(kg_http_status_of(KG_EFULL), 507);
	assert_int_equal(kg_http_status_of(KG_ETHROTTLED), 429);
	assert_int_equal(kg_http_status_of(KG_EINTERNAL), 500);
}

static void require_account(void **state)
{
	kg_err err;
	kg_principal staff = {.role = KG_ROLE_AGENT};
	kg_principal cust = {.role = KG_ROLE_CUSTOMER};
	snprintf(cust.account_id, sizeof(cust.account_id), "a1");
	assert_int_equal(kg_http_require_account(&staff, "a1", &err), 0);
	assert_int_equal(kg_http_require_account(&cust, "a1", &err), 0);
	assert_int_equal(kg_http_require_account(&cust, "a2", &err), KG_EFORBIDDEN);
	assert_int_equal(kg_http_require_account(&cust, NULL, &err), KG_EFORBIDDEN);
	kg_principal nobody = {0};
	assert_int_equal(kg_http_require_account(&nobody, "", &err), KG_EFORBIDDEN);
}

static void json_readers_name_fields(void **state)
{
	json_t *o = json_pack("{s:s,s:i,s:b,s:{s:i},s:[i,i,i],s:n}", "name", "太郎", "n", 7, "ok", 1,
			      "address", "city", 5, "items", 1, 2, 3, "none");
	kg_err err;
	const char *s = NULL;
	int64_t n = 0;
	bool b = false;
	json_t *sub = NULL;
	kg_err_clear(&err);
	assert_int_equal(kg_json_str(o, NULL, "name", true, 64, &s, &err), 0);
	assert_string_equal(s, "太郎");
	assert_int_equal(kg_json_str(o, NULL, "name", true, 3, &s, &err), KG_EINVAL);
	assert_string_equal(err.field, "name");
	assert_int_equal(kg_json_str(o, NULL, "missing", true, 3, &s, &err), KG_EINVAL);
	assert_string_equal(err.field, "missing");
	s = "untouched";
	assert_int_equal(kg_json_str(o, NULL, "none", false, 3, &s, &err), 0); /* null = absent */
	assert_string_equal(s, "untouched");
	assert_int_equal(kg_json_obj(o, NULL, "address", true, &sub, &err), 0);
	assert_int_equal(kg_json_str(sub, "address", "city", true, 64, &s, &err), KG_EINVAL);
	assert_string_equal(err.field, "address.city");
	assert_int_equal(kg_json_int(o, NULL, "n", true, 0, 10, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_int_equal(kg_json_int(o, NULL, "n", true, 8, 10, &n, &err), KG_EINVAL);
	assert_int_equal(kg_json_int(o, NULL, "name", true, 0, 10, &n, &err), KG_EINVAL);
	assert_int_equal(kg_json_bool(o, NULL, "ok", true, &b, &err), 0);
	assert_true(b);
	assert_int_equal(kg_json_arr(o, NULL, "items", true, 3, &sub, &err), 0);
	assert_int_equal(kg_json_arr(o, NULL, "items", true, 2, &sub, &err), KG_EINVAL);
	assert_string_equal(err.field, "items");
	json_decref(o);
}

static void replies(void **state)
{
	kg_http_resp r = {0};
	assert_int_equal(kg_http_reply_error(&r, 423, "locked", "id", "account %s is locked", "a1"), 0);
	assert_int_equal(r.status, 423);
	json_t *e = json_object_get(r.json, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "locked");
	assert_string_equal(json_string_value(json_object_get(e, "message")), "account a1 is locked");
	assert_string_equal(json_string_value(json_object_get(e, "field")), "id");
	assert_int_equal(kg_http_reply_raw(&r, 200, "text/plain", "hi", 2), 0);
	assert_null(r.json);
	assert_string_equal(r.body.data, "hi");
	for (int i = 0; i < KG_HTTP_RESP_HEADERS_MAX; i++)
		assert_int_equal(kg_http_resp_header(&r, "X-A", "b"), 0);
	assert_int_equal(kg_http_resp_header(&r, "X-A", "b"), KG_ELIMIT);
	kg_buf_release(&r.body);
	for (size_t i = 0; i < r.nheaders; i++) {
		free(r.header_names[i]);
		free(r.header_values[i]);
	}
}

static void route_table_well_formed(void **state)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	for (size_t i = 0; i < kg_http_nroutes; i++) {
		const struct kg_http_route *r = &kg_http_routes[i];
		bool known = false;
		for (size_t m = 0; m < KG_ARRAY_LEN(methods); m++)
			known |= !strcmp(r->method, methods[m]);
		assert_true(known);
		assert_true(r->pattern[0] == '/');
		assert_non_null(r->handler);
		assert_int_equal(r->roles & ~(unsigned)KG_ROLES_ALL, 0);
		assert_false((r->flags & KG_HTTP_JSON) && (r->flags & KG_HTTP_RAW));
		for (size_t j = 0; j < i; j++) /* no route twice */
			assert_false(!strcmp(r->method, kg_http_routes[j].method) &&
				     !strcmp(r->pattern, kg_http_routes[j].pattern));
		/* nothing of the API is public: only routes outside /v1/ go
		 * without a key — GETs (health, metrics, console files) and the
		 * console's sign-in, sign-out and password reset under /console/,
		 * which refuse other origins themselves (session.c) — and the
		 * API's own description (/v1/openapi.json, no data) */
		if (r->roles == KG_ROLES_PUBLIC) {
			assert_true(strncmp(r->pattern, "/v1/", 4) != 0 ||
				    !strcmp(r->pattern, "/v1/openapi.json"));
			if (strcmp(r->method, "GET") != 0)
				assert_true(!strncmp(r->pattern, "/console/session", 16) ||
					    !strncmp(r->pattern, "/console/recovery/", 18));
		}
	}
}

static void front_head_check(void **state)
{
	(void)state;
	static const struct {
		const char *head;
		int want;
	} cases[] = {
		{"", 1},
		{"\r", 1},
		{"\r\n", 1},
		{"GET /healthz HTTP/1.1", 1},
		{"GET /healthz HTTP/1.1\r\n", 1},
		{"GET /healthz HTTP/1.1\r\nHost: k\r\n", 1},
		{"GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n", 0},
		{"GET /healthz HTTP/1.1\r\n\r\nGET / HTTP/9.9\r\n\r\n", 0}, /* later: the library's */
		{"GET /healthz HTTP/2.0\r\n", 505},                       /* before the head ends */
		{"GET /healthz\r\n", 400},
		{"GET /healthz HTTP/1.1\r\nNoColon\r\n", 400},
		{"POST / HTTP/1.1\r\nContent-Length: 1x\r\n", 400},
		{"POST / HTTP/1.1\r\ncontent-length: 007\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", 0},
		{"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n", 413},
		{"POST / HTTP/1.1\r\nContent-Length : x\r\n\r\n", 0}, /* not the field */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kg_http_head_verdict v = {0};
		int got = kg_http_head_check(cases[i].head, strlen(cases[i].head), &v);
		if (got != cases[i].want)
			fail_msg("case %zu (%s): %d, expected %d", i, cases[i].head, got, cases[i].want);
		if (got > 1)
			assert_true(v.status == got && v.code && v.msg[0]);
	}
	/* the limits: a head not complete within KG_HTTP_FRONT_HEAD_MAX is 431,
	 * a request line that long 414 */
	static char big[KG_HTTP_FRONT_HEAD_MAX + 10];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	struct kg_http_head_verdict v;
	assert_int_equal(kg_http_head_check(big, sizeof(big), &v), 414);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	assert_int_equal(kg_http_head_check(big, sizeof(big), &v), 431);
	assert_int_equal(kg_http_head_check(big, 100, &v), 1);
}

/* ---- the batching pool: one worker; while it runs its first take, jobs
 * pile up in the queue; its next take is all of them (at most batch_max),
 * in the order they came. No timing: the first take blocks until the test
 * has queued the rest. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, release;
	size_t takes, sizes[16], seen[64], nseen;
	size_t released, done_at_release; /* released jobs; done_total seen by the last */
	kg_http_pool *pool;
} bp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0, {0}, {0}, 0, 0, 0, NULL};

/* The pool counts a job done before it hands it back: /metrics never says
 * fewer than the answers a client has. */
static void batch_release(void *job)
{
	(void)job;
	kg_buf m = KG_BUF_INIT(1 << 20);
	kg_http_pool_metrics(&bp.pool, 1, &m);
	const char *d = strstr(m.data, "kagi_http_pool_done_total{pool=\"t\"} ");
	pthread_mutex_lock(&bp.mu);
	bp.released++;
	bp.done_at_release = d ? (size_t)strtoul(d + strlen("kagi_http_pool_done_total{pool=\"t\"} "), NULL, 10) : 0;
	assert_true(bp.done_at_release >= bp.released);
	pthread_mutex_unlock(&bp.mu);
	kg_buf_release(&m);
}

static void *batch_job(void **jobs, size_t n, void *prev)
{
	(void)prev;
	pthread_mutex_lock(&bp.mu);
	if (bp.takes < KG_ARRAY_LEN(bp.sizes))
		bp.sizes[bp.takes] = n;
	bp.takes++;
	for (size_t i = 0; i < n && bp.nseen < KG_ARRAY_LEN(bp.seen); i++)
		bp.seen[bp.nseen++] = (size_t)(uintptr_t)jobs[i];
	bp.entered = true;
	pthread_cond_broadcast(&bp.cv);
	while (!bp.release)
		pthread_cond_wait(&bp.cv, &bp.mu);
	pthread_mutex_unlock(&bp.mu);
	return jobs[0];
}

static void batch_finish(void *take)
{
	(void)take;
}

static void pool_batches_take_all_waiting(void **state)
{
	(void)state;
	kg_http_pool *p = kg_http_pool_new_batch("t", 1, 8, 5, batch_job, batch_finish, batch_release);
	assert_non_null(p);
	bp.pool = p;
	assert_int_equal(kg_http_pool_submit(p, (void *)(uintptr_t)1), 0);
	pthread_mutex_lock(&bp.mu);
	while (!bp.entered) /* the worker holds job 1 */
		pthread_cond_wait(&bp.cv, &bp.mu);
	pthread_mutex_unlock(&bp.mu);
	for (uintptr_t j = 2; j <= 9; j++) /* 8 wait: the queue's bound */
		assert_int_equal(kg_http_pool_submit(p, (void *)j), 0);
	assert_true(kg_http_pool_full(p)); /* the server refuses before reading the body */
	assert_int_equal(kg_http_pool_submit(p, (void *)(uintptr_t)10), KG_EBUSY);
	kg_buf m = KG_BUF_INIT(1 << 20);
	kg_http_pool_metrics(&p, 1, &m);
	assert_non_null(strstr(m.data, "kagi_http_pool_queued{pool=\"t\"} 8\n"));
	assert_non_null(strstr(m.data, "kagi_http_pool_refused_total{pool=\"t\"} 1\n"));
	kg_buf_release(&m);
	pthread_mutex_lock(&bp.mu);
	bp.release = true;
	pthread_cond_broadcast(&bp.cv);
	pthread_mutex_unlock(&bp.mu);
	kg_http_pool_stop(p); /* runs what is queued, then joins */
	assert_int_equal(bp.takes, 3);
	assert_int_equal(bp.sizes[0], 1);
	assert_int_equal(bp.sizes[1], 5); /* batch_max */
	assert_int_equal(bp.sizes[2], 3);
	assert_int_equal(bp.nseen, 9);
	assert_int_equal(bp.released, 9);
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(bp.seen[i], i + 1);
	m = (kg_buf)KG_BUF_INIT(1 << 20);
	kg_http_pool_metrics(&p, 1, &m);
	assert_non_null(strstr(m.data, "kagi_http_pool_done_total{pool=\"t\"} 9\n"));
	assert_non_null(strstr(m.data, "kagi_http_pool_batches_total{pool=\"t\"} 3\n"));
	kg_buf_release(&m);
	kg_http_pool_free(p);
}

/* ---- the pipelined takes: while take 1 is started and not finished
 * (its commit runs), the worker starts take 2 on top of it (prev is take
 * 1), then finishes take 1 and hands its jobs back, before take 2 is
 * finished; a take with nothing waiting after it is finished alone. The
 * log records each step; no timing: take 1's start blocks until the test
 * has queued the rest. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, go;
	char log[256];
	size_t len;
} pp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, {0}, 0};

static void pp_note(const char *fmt, uintptr_t a, uintptr_t b)
{
	pthread_mutex_lock(&pp.mu);
	pp.len += (size_t)snprintf(pp.log + pp.len, sizeof(pp.log) - pp.len, fmt, a, b);
	pthread_mutex_unlock(&pp.mu);
}

/* a take's state is its first job; "s<first>/<prev's first>:<n>" */
static void *pp_start(void **jobs, size_t n, void *prev)
{
	pp_note("s%lu/%lu", (uintptr_t)jobs[0], (uintptr_t)prev);
	pp_note(":%lu ", (uintptr_t)n, 0);
	pthread_mutex_lock(&pp.mu);
	pp.entered = true;
	pthread_cond_broadcast(&pp.cv);
	while (!pp.go)
		pthread_cond_wait(&pp.cv, &pp.mu);
	pthread_mutex_unlock(&pp.mu);
	return jobs[0];
}

static void pp_finish(void *take)
{
	pp_note("f%lu ", (uintptr_t)take, 0);
}

static void pp_release(void *job)
{
	pp_note("r%lu ", (uintptr_t)job, 0);
}

static void pool_pipelines_takes(void **state)
{
	(void)state;
	kg_http_pool *p = kg_http_pool_new_batch("p", 1, 8, 4, pp_start, pp_finish, pp_release);
	assert_non_null(p);
	assert_int_equal(kg_http_pool_submit(p, (void *)(uintptr_t)1), 0);
	pthread_mutex_lock(&pp.mu);
	while (!pp.entered) /* the worker is starting take 1 */
		pthread_cond_wait(&pp.cv, &pp.mu);
	pthread_mutex_unlock(&pp.mu);
	for (uintptr_t j = 2; j <= 4; j++)
		assert_int_equal(kg_http_pool_submit(p, (void *)j), 0);
	pthread_mutex_lock(&pp.mu);
	pp.go = true;
	pthread_cond_broadcast(&pp.cv);
	pthread_mutex_unlock(&pp.mu);
	kg_http_pool_stop(p);
	/* take 2 (jobs 2-4) started on top of take 1 before take 1 finished;
	 * take 1's job handed back before take 2 finished; then take 2 alone */
	assert_string_equal(pp.log, "s1/0:1 s2/1:3 f1 r1 f2 r2 r3 r4 ");
	kg_buf m = KG_BUF_INIT(1 << 20);
	kg_http_pool_metrics(&p, 1, &m);
	assert_non_null(strstr(m.data, "kagi_http_pool_done_total{pool=\"p\"} 4\n"));
	assert_non_null(strstr(m.data, "kagi_http_pool_batches_total{pool=\"p\"} 2\n"));
	assert_non_null(strstr(m.data, "kagi_http_pool_running{pool=\"p\"} 0\n"));
	kg_buf_release(&m);
	kg_http_pool_free(p);
}

/* ---- a take's start may reorder its jobs (the decision pool groups a
 * take's connections by server thread for the resume pass): the pool hands
 * them back in the order start left them. Take 1 (job 1) blocks until jobs
 * 2-4 wait, so they form take 2, which start reverses. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered, go;
	char log[64];
	size_t len;
} ro = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, {0}, 0};

static void *ro_start(void **jobs, size_t n, void *prev)
{
	(void)prev;
	for (size_t i = 0; i < n / 2; i++) {
		void *j = jobs[i];
		jobs[i] = jobs[n - 1 - i];
		jobs[n - 1 - i] = j;
	}
	pthread_mutex_lock(&ro.mu);
	ro.entered = true;
	pthread_cond_broadcast(&ro.cv);
	while (!ro.go)
		pthread_cond_wait(&ro.cv, &ro.mu);
	pthread_mutex_unlock(&ro.mu);
	return jobs[0];
}

static void ro_finish(void *take)
{
	(void)take;
}

static void ro_release(void *job)
{
	pthread_mutex_lock(&ro.mu);
	ro.len += (size_t)snprintf(ro.log + ro.len, sizeof(ro.log) - ro.len, "r%lu ", (uintptr_t)job);
	pthread_mutex_unlock(&ro.mu);
}

static void pool_releases_in_start_order(void **state)
{
	(void)state;
	kg_http_pool *p = kg_http_pool_new_batch("o", 1, 8, 4, ro_start, ro_finish, ro_release);
	assert_non_null(p);
	assert_int_equal(kg_http_pool_submit(p, (void *)(uintptr_t)1), 0);
	pthread_mutex_lock(&ro.mu);
	while (!ro.entered)
		pthread_cond_wait(&ro.cv, &ro.mu);
	pthread_mutex_unlock(&ro.mu);
	for (uintptr_t j = 2; j <= 4; j++)
		assert_int_equal(kg_http_pool_submit(p, (void *)j), 0);
	pthread_mutex_lock(&ro.mu);
	ro.go = true;
	pthread_cond_broadcast(&ro.cv);
	pthread_mutex_unlock(&ro.mu);
	kg_http_pool_stop(p);
	assert_string_equal(ro.log, "r1 r4 r3 r2 ");
	kg_http_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_round_trip),
		cmocka_unit_test(front_head_check),
		cmocka_unit_test(roles_and_statuses),
		cmocka_unit_test(require_account),
		cmocka_unit_test(json_readers_name_fields),
		cmocka_unit_test(replies),
		cmocka_unit_test(route_table_well_formed),
		cmocka_unit_test(pool_batches_take_all_waiting),
		cmocka_unit_test(pool_pipelines_takes),
		cmocka_unit_test(pool_releases_in_start_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
