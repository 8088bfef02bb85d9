/* Internals of src/http shared between its files (server, auth, metrics,
 * api handlers). Nothing outside src/http includes this. */
#ifndef KG_HTTP_INTERNAL_H
#define KG_HTTP_INTERNAL_H

#include "http/http.h"

/* ---- metrics (metrics.c) ----------------------------------------------
 * Request counts and latency histograms per route and status class; route
 * index kg_http_nroutes stands for "no route" (404/405). */
typedef struct kg_http_metrics kg_http_metrics;
kg_http_metrics *kg_http_metrics_new(size_t nroutes);
void kg_http_metrics_free(kg_http_metrics *m);
void kg_http_metrics_observe(kg_http_metrics *m, size_t route, int status, uint64_t ns);
/* Counts an error answer (status >= 400) by status and error code. */
void kg_http_metrics_error(kg_http_metrics *m, int status, const char *code);
/* Appends the Prometheus text of every observed series. */
int kg_http_metrics_render(const kg_http_metrics *m, kg_buf *out);

/* ---- admission (admit.c) ---------------------------------------------
 * A pool: a fixed set of threads running jobs from a FIFO of at most
 * queue_max waiting jobs. kg_http_pool_submit returns KG_EBUSY at once when
 * the FIFO is full (or the pool stops); it never waits. */
typedef struct kg_http_pool kg_http_pool;
typedef void (*kg_http_job_fn)(void *job);
/* nice: the workers' CPU priority (setpriority(2) on each thread; 0 leaves
 * it): the login pool's Argon2id work runs at KG_HTTP_LOGIN_NICE, so it
 * gets the cores only when the other work leaves them idle. */
/* release, called for each job after fn (and after the pool has counted
 * the job done, so that /metrics says so before the client has its
 * answer): hands the job back (resumes its connection). */
kg_http_pool *kg_http_pool_new(const char *name, size_t threads, size_t queue_max, int nice,
			       kg_http_job_fn fn, kg_http_job_fn release);
/* A batching pool: a worker takes every job waiting (at most batch_max) at
 * once, in two halves. start(jobs, n, prev) starts the take (the decision
 * pool: decides the events waiting as one batch and queues their one group
 * commit) and returns its state; finish(state) waits until the take's
 * answers are final, and only then are its jobs handed back (release).
 * When jobs wait while a take is started and not finished, the worker
 * starts the next take on top of it (prev: that take's state, else NULL)
 * before it finishes it: a batch is decided while the one before commits.
 * At most two takes of a worker are in flight; finished in start order.
 * start may reorder jobs[0..n): release runs in the order it leaves. */
typedef void *(*kg_http_take_start_fn)(void **jobs, size_t n, void *prev);
typedef void (*kg_http_take_finish_fn)(void *take);
kg_http_pool *kg_http_pool_new_batch(const char *name, size_t threads, size_t queue_max,
				     size_t batch_max, kg_http_take_start_fn start,
				     kg_http_take_finish_fn finish, kg_http_job_fn release);
int kg_http_pool_submit(kg_http_pool *p, void *job);
/* True when a submit now would be refused (the queue is full or the pool
 * stops): lets the server refuse a request before reading its body. */
bool kg_http_pool_full(kg_http_pool *p);
/* Counts a request refused for p's full queue before it was submitted
 * (kagi_http_pool_refused_total counts both). */
void kg_http_pool_refused_early(kg_http_pool *p);
/* Refuses new jobs, runs those queued, joins the threads (frees nothing). */
void kg_http_pool_stop(kg_http_pool *p);
/* Stops p if it runs and frees it. */
void kg_http_pool_free(kg_http_pool *p);
/* Prometheus text of the pools, one family at a time (HELP, TYPE, a line
 * per pool labelled pool="<name>"): queued, queued_max_seen, capacity,
 * running, threads, done, refused and batches (0 for a pool that does not
 * batch). */
void kg_http_pool_metrics(kg_http_pool *const *pools, size_t n, kg_buf *out);

/* The budget of request-body bytes held in memory (http.body_memory_max_bytes). */
typedef struct kg_http_budget {
	size_t max;
	_Atomic size_t held, held_max_seen, refused;
} kg_http_budget;
/* Takes n bytes; false (nothing taken) when held + n would pass max. */
bool kg_http_budget_take(kg_http_budget *b, size_t n);
void kg_http_budget_give(kg_http_budget *b, size_t n);
void kg_http_budget_metrics(kg_http_budget *b, kg_buf *out);

/* ---- authentication (auth.c) ------------------------------------------
 * Resolves an Authorization header value into a principal. Returns 0, or
 * KG_EAUTH (missing/unknown/expired/wrong secret) with err set. */
int kg_http_authenticate(kg_app *app, const char *authorization, kg_principal *out,
			 kg_err *err);
/* The key cache of POST /v1/events (app->keys): kg_http_authenticate, but
 * an API key the store showed valid before is answered from memory, with
 * check set (check->id not ""): the request is unconfirmed, and must not be
 * acted on before kg_http_keys_confirm has confirmed it against the store.
 * A miss reads the store (check->id ""), and caches a valid API key. */
typedef struct kg_http_keys kg_http_keys;
typedef struct kg_http_key_check {
	char id[KG_TOKEN_ID_LEN + 1];
	uint8_t hash[KG_TOKEN_HASH_LEN];
} kg_http_key_check;
kg_http_keys *kg_http_keys_new(void);
void kg_http_keys_free(kg_http_keys *k);
int kg_http_authenticate_unconfirmed(kg_app *app, const char *authorization, kg_principal *out,
				     kg_http_key_check *check, kg_err *err);
/* Confirms n unconfirmed requests' keys in one store read: rcs[i] 0 when
 * key i is still valid with the principal it was given, else KG_EAUTH (the
 * same 401 as kg_http_authenticate; the key leaves the cache) or the
 * storage error, with errs[i] set. Returns the storage error, if any. */
int kg_http_keys_confirm(kg_app *app, kg_http_key_check *const *checks,
			 const kg_principal *const *principals, int *rcs, kg_err *const *errs,
			 size_t n);
/* Prometheus text of the cache: hits, misses, confirmations refused. */
void kg_http_keys_metrics(kg_http_keys *k, kg_buf *out);

/* Who is calling (session.c): the Authorization header's credential, or
 * else the console's session cookie, which on a state-changing method also
 * needs the session's X-CSRF-Token and no cross-origin Origin (KG_EFORBIDDEN).
 * Returns 0 or KG_EAUTH / KG_EFORBIDDEN with err set. */
int kg_http_request_principal(kg_app *app, struct MHD_Connection *c, const char *method,
			      kg_principal *out, kg_err *err);

/* ---- deferred answers (server.c): KG_HTTP_DEFER routes -----------------
 * When kg_http_deferrable(req) is true (the handler runs on a server thread
 * with the connection suspended), a handler may start its write with
 * kg_store_write_start_then(..., kg_http_resume, req, ...) and return
 * kg_http_defer(req, finish, ctx) at once: when the write's result is final
 * the writer thread calls kg_http_resume(req), which resumes the
 * connection, and then on the server thread finish(req, ctx, resp, err)
 * answers as a handler would (it waits for nothing: the result is in).
 * finish runs exactly once, also when the client has gone (its answer is
 * dropped then): it frees ctx. A handler that answers at once (a bad
 * body, a write not queued) just returns, as any handler. Otherwise
 * (kg_http_deferrable false: a pool's worker) the handler waits for its
 * write as usual. */
#define KG_HTTP_DEFERRED 1 /* a handler's return: answered by finish */
typedef int (*kg_http_finish_fn)(kg_http_req *req, void *ctx, kg_http_resp *resp, kg_err *err);
bool kg_http_deferrable(const kg_http_req *req);
int kg_http_defer(kg_http_req *req, kg_http_finish_fn finish, void *ctx);
/* The then of a deferred write (on the store's writer thread); req is the
 * kg_http_req the handler was given. */
void kg_http_resume(void *req);

/* ---- the running server, as handlers of src/http see it ---------------*/
/* Metrics of the running server (for GET /metrics). */
int kg_http_render_metrics(kg_app *app, kg_buf *out);
/* true once shutdown began (healthz answers 503). */
bool kg_http_stopping(const kg_app *app);

/* ---- handlers of src/http (api_*.c), named in routes.c ----------------*/
/* foundation (api_foundation.c): /healthz's answer while healthy, built
 * once (its fields do not change while kagid runs) */
int kg_api_foundation_start(kg_app *app, kg_err *err);
void kg_api_foundation_stop(kg_app *app);
int kg_api_healthz(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_metrics(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_openapi(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_account_create(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_account_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
void kg_api_store_metrics(kg_app *app, kg_buf *out);
int kg_api_keys_list(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_keys_create(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_keys_revoke(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* notify (api_notify.c): templates checked at start, the delivery worker. */
int kg_api_notify_start(kg_app *app, kg_err *err);
void kg_api_notify_stop(kg_app *app);
void kg_api_notify_metrics(kg_app *app, kg_buf *out);
/* Wakes the delivery worker after a notice was committed. */
void kg_api_notify_kick(kg_app *app);
/* risk (api_risk.c) */
int kg_api_events(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_events_batch(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* POST /v1/events for n requests at once, as the decision pool hands them,
 * in two halves (kg_risk_batch_start/finish). kg_api_events_start decides
 * them as one batch of the risk engine and queues its one group commit, on
 * top of after (the take started before, not finished yet, or NULL);
 * kg_api_events_finish waits until that commit is durable and gives
 * resps[i], errs[i] and rcs[i] request i's answer exactly as kg_api_events
 * would (a retry gives the first decision, a different body under a known
 * id 409, a bad event 400 naming its field). A batch that fails (storage,
 * or the one before it failed) is decided again one request at a time.
 * The arrays and requests must stay valid until finish; finish takes
 * in start order, each exactly once (the take is freed by the library).
 * NULL: out of memory, nothing started. */
typedef struct kg_api_events_take kg_api_events_take;
kg_api_events_take *kg_api_events_start(kg_http_req *const *reqs, kg_http_resp *const *resps,
					kg_err *const *errs, int *rcs, size_t n,
					kg_api_events_take *after);
void kg_api_events_finish(kg_api_events_take *t);
int kg_api_rules_reload(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_rules_backtest(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_risk_start(kg_app *app, kg_err *err);
void kg_api_risk_stop(kg_app *app);
void kg_api_risk_metrics(kg_app *app, kg_buf *out);
/* Reloads policy.file into the running engine (SIGHUP, the admin route). */
int kg_api_risk_reload_policy(kg_app *app, kg_err *err);
/* accounts (api_account.c): the module lifts expired locks on time */
int kg_api_account_start(kg_app *app, kg_err *err);
void kg_api_account_stop(kg_app *app);
void kg_api_account_metrics(kg_app *app, kg_buf *out);
int kg_api_login(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_recovery_start(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_recovery_finish(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_messages(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_locks(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_lock(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_unlock(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_totp_enrol(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_totp_confirm(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_totp_disable(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_account_cases(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_open(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_list(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_note(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_document(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_document_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* For an agent: replaces in every string of j the account's identity-check
 * answers (kg_account_identity_secrets) with "***" (S5). Other roles: j is
 * left as it is. 0 or a storage error. */
int kg_api_agent_scrub(kg_http_req *req, const char *account_id, json_t *j, kg_err *err);
/* kg_api_agent_scrub with the account's secrets already read (s). */
void kg_api_agent_scrub_with(kg_http_req *req, const kg_identity_secrets *s, json_t *j);
int kg_api_case_state(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_case_verify(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* api_mail.c */
int kg_api_mail_check(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_mail_start(kg_app *app, kg_err *err);
void kg_api_mail_stop(kg_app *app);

/* the web console (console.c, session.c, api_console.c) */
int kg_console_root(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_index(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_file(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_session_create(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_session_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_session_delete(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_recovery_start(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_console_recovery_finish(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_account_search(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_account_timeline(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_lock_series(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_rules_policy(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* api_guard.c */
int kg_api_guard_start(kg_app *app, kg_err *err);
void kg_api_guard_stop(kg_app *app);
void kg_api_guard_metrics(kg_app *app, kg_buf *out);
/* Records the running policy as a version (a load by `by`); logs a failure. */
int kg_api_guard_policy_loaded(kg_app *app, const char *by);
int kg_api_guard_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_guard_reset(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_rules_versions(kg_http_req *req, kg_http_resp *resp, kg_err *err);
/* Runs policy p (one reference borrowed) on the engine, gated by the
 * store's promotions when rules.gate is on (docs/guard.md, "Gated
 * rollout"); a load by `by`. On a store failure the running policy stays. */
int kg_api_guard_set_policy(kg_app *app, kg_policy *p, const char *by, kg_err *err);
int kg_api_rules_pending(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_rules_promote(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_rules_demote(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_incidents(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_incident_get(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_incident_revert(kg_http_req *req, kg_http_resp *resp, kg_err *err);
int kg_api_incident_confirm_holds(kg_http_req *req, kg_http_resp *resp, kg_err *err);

#endif
