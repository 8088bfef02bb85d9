/* kagi http: kagid's HTTP server — route table, roles, credentials, limits,
 * JSON errors, metrics. Handlers of other modules live in src/http/api_<module>.c
 * and are plugged in with one line in the route table (src/http/routes.c).
 * Not here: business logic (it lives in risk/account/mail/...) or SQL. */
#ifndef KG_HTTP_H
#define KG_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "account/account.h"
#include "base/base.h"
#include "base/json.h"

struct kg_store;
struct MHD_Connection;

/* ---- roles: a route names the roles that may call it as a bitmask of
 * KG_ROLE_* (the account module's enum kg_role). */
#define KG_ROLES_PUBLIC 0u  /* no credential needed (only /healthz, /metrics) */
#define KG_ROLES_STAFF (KG_ROLE_SERVICE | KG_ROLE_AGENT | KG_ROLE_ADMIN)
#define KG_ROLES_ALL (KG_ROLES_STAFF | KG_ROLE_CUSTOMER | KG_ROLE_TICKET)

/* Who is calling: the credential of the Authorization header. */
typedef struct kg_principal {
	unsigned role;                   /* exactly one KG_ROLE_* bit; 0 = anonymous */
	char credential_id[KG_ID_MAX + 1];
	char account_id[KG_ID_MAX + 1];  /* customer/ticket: the one account; else "" */
} kg_principal;

/* ---- the application ---------------------------------------------------
 * What handlers share: config, store, and each module's long-lived state.
 * Modules set their fields in their start hook (modules[] in routes.c). */
typedef struct kg_app {
	const kg_config *config;
	struct kg_store *store;
	int64_t started_ms;
	const char *config_path;  /* NULL: defaults + environment */
	/* module state: add `struct kg_<module> *<module>;` here */
	struct kg_notify_worker *notify;   /* the delivery worker (api_notify.c) */
	struct kg_risk *risk;     /* risk engine (api_risk.c) */
	struct kg_guard *guard;   /* the lock-wave breaker (api_guard.c) */
	struct kg_mail_profile *mail_profile; /* shop.profile; NULL: none set */
	struct kg_http_keys *keys; /* API keys seen valid (auth.c; NULL: no cache) */
	char *healthz_ok;         /* GET /healthz's 200 body, built at start */
	size_t healthz_ok_len;    /* (api_foundation.c); NULL: built per request */
} kg_app;

/* ---- requests and responses -------------------------------------------*/
#define KG_HTTP_PARAMS_MAX 4

typedef struct kg_http_req {
	kg_app *app;
	const char *method;             /* "GET", "POST", ... */
	const char *path;               /* decoded path, no query */
	const char *route;              /* the matched pattern, e.g. "/v1/accounts/{id}" */
	size_t nparams;                 /* the {name} segments of the pattern */
	const char *param_names[KG_HTTP_PARAMS_MAX];
	const char *param_values[KG_HTTP_PARAMS_MAX];
	const char *content_type;       /* NULL when absent */
	const char *body;               /* NUL-terminated; "" when none */
	size_t body_len;
	json_t *json;                   /* parsed body (an object) for KG_HTTP_JSON
	                                 * routes; borrowed: the server frees it */
	const kg_principal *principal;
	const char *client_ip;
	kg_arena *arena;                /* freed when the request ends */
	struct MHD_Connection *conn;    /* for kg_http_query / kg_http_header */
} kg_http_req;

#define KG_HTTP_RESP_HEADERS_MAX 4
typedef struct kg_http_resp {
	int status;                     /* default 200 */
	json_t *json;                   /* owned; sent when set */
	kg_buf body;                    /* raw body when json is NULL */
	const char *content_type;       /* of the raw body (static string) */
	size_t nheaders;
	char *header_names[KG_HTTP_RESP_HEADERS_MAX]; /* owned copies */
	char *header_values[KG_HTTP_RESP_HEADERS_MAX];
} kg_http_resp;

/* A handler fills resp and returns 0; or returns a negative kg_code with err
 * set (kg_err_field names the input field), and the server answers with the
 * error shape of docs/api.md ("Common rules"): {"error":{"code","message","field"}}, the HTTP
 * status following the code (see kg_http_status_of). */
typedef int (*kg_http_handler)(kg_http_req *req, kg_http_resp *resp, kg_err *err);

/* Route flags: how the body is taken. Without any, any body is ignored.
 * The server enforces the media type of JSON and NDJSON bodies (one rule,
 * docs/api.md "Request bodies"): 415 naming Content-Type otherwise. */
#define KG_HTTP_JSON 1u  /* body must be application/json holding an object;
                          * parsed into req->json (empty body: 400) */
#define KG_HTTP_RAW 2u   /* body bytes passed as they are; the handler checks
                          * content_type unless a TYPE flag below is set */
#define KG_HTTP_TYPE_JSON 4u   /* with RAW: Content-Type must be application/json */
#define KG_HTTP_TYPE_NDJSON 8u /* with RAW: Content-Type must be application/x-ndjson */
/* Where the handler runs (docs/operations.md "Load"): at most one of these;
 * without any, in the "other" pool. INLINE runs on the server thread and
 * takes no work slot (only quick answers: /healthz, /metrics, static files);
 * the pools have their own threads and bounded queues (http.<pool>_workers,
 * http.<pool>_queue): a full queue answers 503 busy with Retry-After. */
#define KG_HTTP_INLINE 16u
#define KG_HTTP_DECISION 32u   /* risk decisions (POST /v1/events) */
#define KG_HTTP_LOGIN 64u      /* Argon2id work: logins, resets, new accounts */
#define KG_HTTP_MAIL 128u      /* the mail analyser */
#define KG_HTTP_UPLOAD 256u    /* large bodies: batches, documents */
/* With LOGIN: only a JSON body with a "password" member has Argon2id work;
 * without one the request runs in the "other" pool (an account created
 * without a password, as a shop's sync does) */
#define KG_HTTP_LOGIN_IF_PASSWORD 512u
/* A point read (one account or row by its key; no commit to wait for, no
 * hashing): on the server thread, as INLINE, when the store is local
 * (SQLite: a read is a few microseconds, less than handing it to a pool and
 * back), else (PostgreSQL: a network round trip) in the "other" pool */
#define KG_HTTP_QUICK 1024u
/* One durable write and nothing slow before it (an account created without
 * a password): when the store is local, the handler runs on the server
 * thread, starts its write and returns with the connection suspended; the
 * write's group commit resumes it, and the answer is given then (no worker
 * waits for the commit: kg_http_defer, src/http/internal.h). Else (PostgreSQL)
 * in the "other" pool, the handler waiting for its write there */
#define KG_HTTP_DEFER 2048u

struct kg_http_route {
	const char *method;
	const char *pattern;    /* "/v1/accounts/{id}": {name} matches one segment */
	unsigned roles;         /* KG_ROLE_* bits that may call; KG_ROLES_PUBLIC */
	kg_http_handler handler;
	unsigned flags;         /* KG_HTTP_JSON, KG_HTTP_RAW, KG_HTTP_TYPE_* */
	size_t body_max;        /* 0: http.body_max_bytes; else a limits.h value */
};

/* Modules with long-lived state (a compiled policy, an outbox worker) start
 * after the store opens and stop before it closes; metrics (may be NULL)
 * appends Prometheus text lines. */
struct kg_http_module {
	const char *name;
	int (*start)(kg_app *app, kg_err *err);
	void (*stop)(kg_app *app);
	void (*metrics)(kg_app *app, kg_buf *out);
};

extern const struct kg_http_route kg_http_routes[];
extern const size_t kg_http_nroutes;
extern const struct kg_http_module kg_http_modules[];
extern const size_t kg_http_nmodules;

/* ---- handler helpers ---------------------------------------------------*/
/* The value of path parameter {name}; NULL when the route has none. */
const char *kg_http_param(const kg_http_req *req, const char *name);
/* A query-string argument (decoded); NULL when absent. */
const char *kg_http_query(const kg_http_req *req, const char *name);
/* A request header; NULL when absent. */
const char *kg_http_header(const kg_http_req *req, const char *name);

/* "<role>:<credential id>" of the caller, for audit entries ("anonymous"
 * on public routes); in req->arena. */
const char *kg_http_actor(const kg_http_req *req);
/* 0 when the principal may act on account_id: staff roles always may;
 * customer and ticket principals only on their own account. Otherwise
 * KG_EFORBIDDEN with err set. */
int kg_http_require_account(const kg_principal *p, const char *account_id, kg_err *err);

/* Answers status with j (stolen, even on failure). Returns 0. */
int kg_http_reply_json(kg_http_resp *resp, int status, json_t *j);
/* An answer written straight into its body: kg_http_body_start empties
 * resp and gives its body (at most max bytes) to write into;
 * kg_http_body_done(resp, status, content_type, rc) then answers status
 * with it when rc is 0 (an empty body when nothing was written), else drops
 * it and returns rc. content_type must be a static string. */
kg_buf *kg_http_body_start(kg_http_resp *resp, size_t max);
int kg_http_body_done(kg_http_resp *resp, int status, const char *content_type, int rc);
/* Answers status with a copy of data. content_type must be a static string.
 * Returns 0 or KG_ENOMEM. */
int kg_http_reply_raw(kg_http_resp *resp, int status, const char *content_type,
		      const void *data, size_t len);
/* Answers with the error shape and an explicit status (e.g. 429, 423) and
 * code name. field may be NULL. Returns 0. */
int kg_http_reply_error(kg_http_resp *resp, int status, const char *code,
			const char *field, const char *fmt, ...) KG_PRINTF(5, 6);
/* Adds a response header (copied). Returns 0 or KG_ELIMIT. */
int kg_http_resp_header(kg_http_resp *resp, const char *name, const char *value);

/* HTTP status for a kg_code: EINVAL 400, EAUTH 401, EFORBIDDEN 403,
 * ENOTFOUND 404, ECONFLICT 409, ELIMIT 413, EBUSY 503, EIO 503, EFULL 507,
 * anything else 500. */
int kg_http_status_of(int code);
/* The error body for err ({"error":{...}}); new reference. */
json_t *kg_http_error_json(const char *code, const char *message, const char *field);

/* ---- the server --------------------------------------------------------*/
typedef struct kg_http_server kg_http_server;

/* Opens the store at db_path (migrating it), starts the modules and listens
 * on config->http_listen (port 0: any free port). Returns 0 and *out, or a
 * negative code with err set. The server runs on its own threads. */
int kg_http_start(const kg_config *config, const char *config_path,
		  const char *db_path, kg_http_server **out, kg_err *err);
/* The port actually bound. */
int kg_http_port(const kg_http_server *s);
/* Stops accepting, waits up to grace_ms for in-flight requests, stops the
 * modules, closes the store, frees s. */
void kg_http_stop(kg_http_server *s, int64_t grace_ms);

/* Writes the route table as TSV lines "METHOD\tPATTERN\troles,...\tBODY"
 * ("public" for no roles; BODY: json, ndjson, raw or none). */
void kg_http_print_routes(FILE *out);

#endif
