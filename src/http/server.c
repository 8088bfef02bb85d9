/* kagid's HTTP server on libmicrohttpd: matches a request to the route
 * table, authenticates it, enforces the role and the body limit, parses
 * JSON, calls the handler and answers; logs one access line per request.
 * Not here: the routes themselves (routes.c) or what handlers do. */
#include "http/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/front.h"
#include "store/store.h"

/* The work pools (docs/operations.md "Load"): a route's pool flag names one;
 * routes without one run in "other", KG_HTTP_INLINE routes in none. */
enum pool { POOL_DECISION, POOL_LOGIN, POOL_MAIL, POOL_UPLOAD, POOL_OTHER, NPOOLS };
static const char *const pool_names[NPOOLS] = {"decision", "login", "mail", "upload", "other"};

/* What a connection is waiting for, for the slowloris guard: the head of a
 * request (since it opened or since its last answer), the rest of a body,
 * or nothing kagid enforces (a handler runs, an answer is sent). */
enum phase { PHASE_HEAD, PHASE_BODY, PHASE_WORK };

struct conn_track {
	struct conn_track *prev, *next; /* in server.conns, under conn_mu */
	MHD_socket fd;
	_Atomic int phase;
	_Atomic uint64_t phase_ns;      /* kg_mono_ns when the phase began */
	_Atomic size_t body_bytes;      /* of the body being read */
	bool cut;
	char ip[INET6_ADDRSTRLEN];      /* the client's address, as text (once) */
	/* the last finished request's memory, for this connection's next one
	 * (only its server thread touches it): one calloc of a struct request
	 * (over glibc's per-thread cache size) less per kept-alive request */
	struct request *spare;
};

struct kg_http_server {
	kg_app app; /* first: handlers reach the server from req->app */
	kg_config config;
	struct MHD_Daemon *daemon;
	kg_http_front *front;           /* accepts, and answers a bad first head (front.c) */
	kg_http_metrics *metrics;
	_Atomic int inflight;
	_Atomic int deferred;           /* requests whose answer waits for kg_http_resume */
	_Atomic bool stopping;
	size_t modules_started;
	int port;
	kg_http_pool *pools[NPOOLS];
	kg_http_budget budget;          /* request bodies held in memory */
	/* the slowloris guard: every open connection, checked by the reaper */
	pthread_mutex_t conn_mu;
	pthread_cond_t reaper_cv;
	struct conn_track *conns;
	size_t nconns;
	uint64_t cut_head, cut_body;    /* connections cut, per reason */
	uint64_t conn_refused;          /* closed at once: http.max_connections */
	bool reaper_started, reaper_stop;
	pthread_t reaper;
};

/* A request's arena grows in chunks of this size; a connection's next
 * request reuses the chunk of the one before when it needed no more. */
#define REQUEST_ARENA_CHUNK 8192

/* One request's state, from its first callback to "completed". */
struct request {
	bool begun;                   /* the access handler saw it (begin() ran) */
	size_t uri_len;               /* of the raw request target, query included */
	uint64_t start_ns;
	size_t route_index;           /* kg_http_nroutes: none */
	const struct kg_http_route *route;
	kg_principal principal;
	/* the key came from the cache (check.id not ""): confirmed against the
	 * store before the request runs or is answered (confirm_keys) */
	kg_http_key_check key_check;
	bool key_refused;             /* ... and refused then: result_* hold the 401 */
	kg_arena arena;
	kg_buf body;
	size_t body_max, body_seen;
	bool answered;                /* a response is queued */
	bool in_begin;                /* in the first callback: refusals wait */
	bool refused;                 /* deferred holds the answer; body dropped */
	kg_http_resp deferred;
	int status;
	char error_code[32];          /* of an error answer, for the access log */
	char request_id[17];          /* X-Request-Id: in the answer and the log */
	size_t bytes_out;
	char client_ip[INET6_ADDRSTRLEN];
	const char *method, *path;
	/* of its head, found in refuse_head's walk of the fields (NULL: none) */
	const char *authorization, *content_length, *content_type;
	kg_http_req req;
	struct conn_track *track;     /* NULL when the connection has none */
	size_t budget_held;           /* bytes of server.budget this body holds */
	/* handed to a pool: the connection is suspended until the job is done */
	bool queued;
	struct MHD_Connection *conn;
	uint8_t thread;               /* the server thread it came in on (resume_order) */
	_Atomic bool done;            /* the handler ran: result_* hold its answer */
	/* KG_HTTP_DEFER on this thread: the handler may defer (kg_http_defer) */
	bool deferrable;
	kg_http_finish_fn finish;     /* deferred: gives the answer once resumed */
	void *finish_ctx;
	int result_rc;
	kg_err result_err;
	kg_http_resp result;
};

static void track_phase(struct conn_track *t, enum phase ph)
{
	if (!t)
		return;
	atomic_store(&t->phase_ns, kg_mono_ns());
	atomic_store(&t->body_bytes, 0);
	atomic_store(&t->phase, (int)ph);
}

static kg_http_server *server_of(const kg_app *app)
{
	return (kg_http_server *)app; /* app is the first member */
}

bool kg_http_stopping(const kg_app *app)
{
	return atomic_load(&server_of(app)->stopping);
}

/* ---- route matching ----------------------------------------------------*/

/* A {name} segment of a route pattern and the path segment it matched, both
 * pointing into their strings (copied only for the route that wins). */
struct param_span {
	const char *name, *value;
	size_t name_len, value_len;
};

static size_t segment_len(const char *s)
{
	const char *e = s;
	while (*e && *e != '/')
		e++;
	return (size_t)(e - s);
}

/* Matches path against pattern; fills spans and returns the number of
 * parameters, or -1 when it does not match. A literal segment is compared
 * byte by byte, so most routes are refused at the first byte that differs
 * (every request tries every route). */
static int match_pattern(const char *pattern, const char *path,
			 struct param_span spans[KG_HTTP_PARAMS_MAX])
{
	int n = 0;
	const char *p = pattern, *q = path;
	while (*p && *q) {
		if (*p != '/' || *q != '/')
			return -1;
		p++, q++;
		size_t plen = *p == '{' ? segment_len(p) : 0;
		if (plen > 2 && p[plen - 1] == '}') { /* {name} */
			size_t qlen = segment_len(q);
			if (qlen == 0 || qlen > KG_ID_MAX || n >= KG_HTTP_PARAMS_MAX)
				return -1;
			spans[n] = (struct param_span){p + 1, q, plen - 2, qlen};
			n++;
			p += plen, q += qlen;
			continue;
		}
		while (*p && *p != '/' && *p == *q)
			p++, q++;
		if ((*p && *p != '/') || (*q && *q != '/'))
			return -1; /* the segments differ */
	}
	return (*p || *q) ? -1 : n;
}

/* A path's key: FNV-1a of its first two segments ("/v1/events" of
 * "/v1/events/batch"), which a route's pattern shares with every path it
 * matches when both of those segments are literal in it. */
static uint64_t path_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (int slashes = 0; *s && !(*s == '/' && ++slashes > 2); s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* Per route: its pattern's key, or any (a {name} in its first two
 * segments: it is always tried). Built once; without it (no memory) every
 * route is tried. */
struct route_key {
	uint64_t key;
	bool any;
};
static struct route_key *route_keys;
static pthread_once_t route_keys_once = PTHREAD_ONCE_INIT;

static void route_keys_build(void)
{
	struct route_key *k = calloc(kg_http_nroutes, sizeof(*k));
	if (!k)
		return;
	for (size_t i = 0; i < kg_http_nroutes; i++) {
		const char *p = kg_http_routes[i].pattern;
		const char *third = strchr(p + (*p == '/'), '/');
		third = third ? strchr(third + 1, '/') : NULL;
		size_t span = third ? (size_t)(third - p) : strlen(p);
		k[i].any = memchr(p, '{', span) != NULL;
		k[i].key = path_key(p);
	}
	route_keys = k;
}

static bool route_may_match(size_t i, uint64_t key)
{
	return !route_keys || route_keys[i].any || route_keys[i].key == key;
}

/* Finds the route for method+path. Among matching routes, the one with
 * fewer parameters wins ("/v1/cases/queue" before "/v1/cases/{id}").
 * HEAD runs the GET route (libmicrohttpd drops the body).
 * Returns the index and sets req's parameters (arena copies), or -404 (no
 * path matches) / -405 (path matches with another method; allow gets the
 * methods). */
static long find_route(const char *method, const char *path, kg_arena *a, kg_buf *allow,
		       kg_http_req *req)
{
	long best = -1;
	int best_params = KG_HTTP_PARAMS_MAX + 1;
	bool path_known = false;
	struct param_span spans[KG_HTTP_PARAMS_MAX], best_spans[KG_HTTP_PARAMS_MAX];
	pthread_once(&route_keys_once, route_keys_build);
	uint64_t key = path_key(path); /* most routes are passed over by it */
	for (size_t i = 0; i < kg_http_nroutes; i++) {
		if (!route_may_match(i, key))
			continue;
		int n = match_pattern(kg_http_routes[i].pattern, path, spans);
		if (n < 0)
			continue;
		path_known = true;
		bool same = !strcmp(kg_http_routes[i].method, method) ||
			    (!strcmp(method, "HEAD") && !strcmp(kg_http_routes[i].method, "GET"));
		if (!same) {
			if (!strstr(allow->data ? allow->data : "", kg_http_routes[i].method)) {
				if (allow->len)
					kg_buf_puts(allow, ", ");
				kg_buf_puts(allow, kg_http_routes[i].method);
			}
			continue;
		}
		if (n < best_params) {
			best = (long)i, best_params = n;
			memcpy(best_spans, spans, (size_t)n * sizeof(spans[0]));
		}
	}
	if (best < 0)
		return path_known ? -405 : -404;
	for (int k = 0; k < best_params; k++) {
		req->param_names[k] = kg_arena_strndup(a, best_spans[k].name, best_spans[k].name_len);
		req->param_values[k] = kg_arena_strndup(a, best_spans[k].value, best_spans[k].value_len);
	}
	req->nparams = (size_t)best_params;
	return best;
}

/* ---- responses ---------------------------------------------------------*/

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
	if (MHD_add_response_header(r, name, value) != MHD_YES)
		kg_log(KG_LOG_WARN, "http", "cannot add header %s", name);
}

static void confirm_one(kg_http_server *s, struct request *rq);
static void resp_release(kg_http_resp *resp);
static void err_resp(const struct request *rq, int rc, const kg_err *err, kg_http_resp *resp);

/* Queues resp on the connection. Consumes resp's contents. A request whose
 * key came from the cache and was not confirmed yet (it is refused before
 * it runs: 413, 415, 503) has it confirmed first: a revoked key gets its
 * 401, as without the cache. */
static enum MHD_Result queue(kg_http_server *s, struct MHD_Connection *c,
			     struct request *rq, kg_http_resp *resp)
{
	if (rq->key_check.id[0]) {
		confirm_one(s, rq);
		if (rq->key_refused) {
			resp_release(resp);
			err_resp(rq, rq->result_rc, &rq->result_err, resp);
		}
	}
	char *data = NULL;
	size_t len = 0;
	const char *ctype = resp->content_type;
	if (resp->json) {
		const char *code = json_string_value(json_object_get(json_object_get(resp->json, "error"), "code"));
		if (code)
			snprintf(rq->error_code, sizeof(rq->error_code), "%s", code);
		data = json_dumps(resp->json, JSON_COMPACT);
		if (!data) {
			resp->status = 500;
			data = strdup("{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\",\"field\":null}}");
		}
		len = data ? strlen(data) : 0;
		ctype = "application/json";
	} else if (resp->body.data) {
		data = kg_buf_detach(&resp->body, &len);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	if (ctype)
		add_header(r, "Content-Type", ctype);
	for (size_t i = 0; i < resp->nheaders; i++)
		add_header(r, resp->header_names[i], resp->header_values[i]);
	add_header(r, "Cache-Control", "no-store");
	add_header(r, "X-Request-Id", rq->request_id);
	add_header(r, "X-Content-Type-Options", "nosniff");
	if (atomic_load(&s->stopping))
		add_header(r, "Connection", "close");
	int status = resp->status ? resp->status : 200;
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	track_phase(rq->track, PHASE_WORK);
	rq->answered = true;
	rq->status = status;
	rq->bytes_out = len;
	return ok;
}

static void resp_release(kg_http_resp *resp)
{
	json_decref(resp->json);
	resp->json = NULL;
	kg_buf_release(&resp->body);
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->header_names[i]);
		free(resp->header_values[i]);
	}
	resp->nheaders = 0;
}

/* Sends resp now, or, when the request is refused in its first callback,
 * keeps it until the body is read (and dropped): a client still sending its
 * body would otherwise see a reset instead of the answer. */
static enum MHD_Result deliver(kg_http_server *s, struct MHD_Connection *c, struct request *rq,
			       kg_http_resp *resp)
{
	if (rq->in_begin) {
		rq->deferred = *resp;
		memset(resp, 0, sizeof(*resp));
		rq->refused = true;
		return MHD_YES;
	}
	return queue(s, c, rq, resp);
}

static enum MHD_Result answer_error(kg_http_server *s, struct MHD_Connection *c,
				    struct request *rq, int status, const char *code,
				    const char *field, const char *msg, const char *hname,
				    const char *hvalue)
{
	kg_http_resp resp = {0};
	kg_http_reply_error(&resp, status, code, field, "%s", msg);
	if (hname)
		kg_http_resp_header(&resp, hname, hvalue);
	enum MHD_Result ok = deliver(s, c, rq, &resp);
	resp_release(&resp);
	return ok;
}

/* The error answer for rc/err into resp (empty). */
static void err_resp(const struct request *rq, int rc, const kg_err *err, kg_http_resp *resp)
{
	int code = err->code ? err->code : rc;
	memset(resp, 0, sizeof(*resp));
	resp->status = kg_http_status_of(code);
	resp->json = kg_http_error_json(kg_code_name(code), err->msg[0] ? err->msg : kg_code_name(code),
					err->field[0] ? err->field : NULL);
	if (resp->status >= 500)
		kg_log(KG_LOG_ERROR, "http", "%s %s (request %s): %s", rq->method, rq->path,
		       rq->request_id, err->msg);
	if (err->line > 0 && !err->file[0]) { /* a position in the body (kg_err_json) */
		json_t *e = json_object_get(resp->json, "error");
		json_object_set_new(e, "line", json_integer(err->line));
		json_object_set_new(e, "column", json_integer(err->col));
	}
	if (resp->status == 401)
		kg_http_resp_header(resp, "WWW-Authenticate", "Bearer");
}

static enum MHD_Result answer_err(kg_http_server *s, struct MHD_Connection *c,
				  struct request *rq, int rc, const kg_err *err)
{
	kg_http_resp resp;
	err_resp(rq, rc, err, &resp);
	enum MHD_Result ok = deliver(s, c, rq, &resp);
	resp_release(&resp);
	return ok;
}

/* ---- request phases ----------------------------------------------------*/

static void client_ip(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	out[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)n);
}

/* First callback: route, credential, role, declared length. Answers at
 * once when any of them refuses the request (the body is then not read). */
/* What the head of a request says about its size and body framing. */
struct head {
	size_t bytes;        /* request line and header fields, as sent (about) */
	int content_lengths; /* Content-Length fields */
	int encodings;       /* Transfer-Encoding fields */
	bool chunked_only;   /* every Transfer-Encoding is exactly "chunked" */
	/* the first of each, as MHD_lookup_connection_value would give it (the
	 * library's memory, the request's lifetime): one walk of the fields */
	bool seen_authorization, seen_content_type;
	const char *authorization, *content_length, *content_type;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	struct head *h = cls;
	h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		if (!h->content_lengths)
			h->content_length = value;
		h->content_lengths++;
	} else if (!h->seen_authorization && !strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		h->seen_authorization = true;
		h->authorization = value;
	} else if (!h->seen_content_type && !strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE)) {
		h->seen_content_type = true;
		h->content_type = value;
	}
	if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		h->encodings++;
		h->chunked_only = h->chunked_only && value && !strcasecmp(value, "chunked");
	}
	return MHD_YES;
}

/* Refuses a request whose head is over kagid's limits or whose body framing
 * is ambiguous (request smuggling: a proxy and kagid could split the bytes
 * into requests differently). Such a refusal is answered at once and closes
 * the connection: its body is never read. Returns true when it refused. */
static bool refuse_head(kg_http_server *s, struct MHD_Connection *c, struct request *rq,
			enum MHD_Result *ok)
{
	struct head h = {.bytes = strlen(rq->method) + rq->uri_len + 11, .chunked_only = true};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &h);
	rq->authorization = h.authorization;
	rq->content_length = h.content_length;
	rq->content_type = h.content_type;
	int status = 0;
	const char *code = "invalid", *field = NULL;
	char msg[160];
	if (rq->uri_len > KG_HTTP_URL_MAX) {
		status = 414, code = "uri_too_long";
		snprintf(msg, sizeof(msg), "request target of %zu bytes is over the limit of %d bytes",
			 rq->uri_len, KG_HTTP_URL_MAX);
	} else if (h.bytes > KG_HTTP_HEADER_MAX) {
		status = 431, code = "headers_too_large";
		snprintf(msg, sizeof(msg), "request head of %zu bytes is over the limit of %d bytes",
			 h.bytes, KG_HTTP_HEADER_MAX);
	} else if (h.content_lengths > 1) {
		status = 400, field = "Content-Length";
		snprintf(msg, sizeof(msg), "more than one Content-Length header");
	} else if (h.encodings && h.content_lengths) {
		status = 400, field = "Transfer-Encoding";
		snprintf(msg, sizeof(msg), "Content-Length together with Transfer-Encoding");
	} else if (h.encodings > 1 || (h.encodings && !h.chunked_only)) {
		status = 400, field = "Transfer-Encoding";
		snprintf(msg, sizeof(msg), "Transfer-Encoding must be exactly \"chunked\"");
	}
	if (!status)
		return false;
	rq->in_begin = false; /* answer now: never read a body framed this way */
	*ok = answer_error(s, c, rq, status, code, field, msg, "Connection", "close");
	return true;
}

/* A body of n bytes that the body budget cannot hold: 413 when it alone is
 * over the budget, else 503 busy with Retry-After. Answered at once; the
 * connection closes (its body is not read). */
static enum MHD_Result refuse_budget(kg_http_server *s, struct MHD_Connection *c,
				     struct request *rq, size_t n)
{
	char msg[200];
	rq->in_begin = false;
	if (n > s->budget.max) {
		snprintf(msg, sizeof(msg),
			 "request body of %zu bytes is over http.body_memory_max_bytes (%zu)", n,
			 s->budget.max);
		return answer_error(s, c, rq, 413, "too_large", NULL, msg, "Connection", "close");
	}
	snprintf(msg, sizeof(msg),
		 "request bodies in flight fill http.body_memory_max_bytes (%zu bytes); retry later",
		 s->budget.max);
	kg_http_resp resp = {0};
	kg_http_reply_error(&resp, 503, "busy", NULL, "%s", msg);
	kg_http_resp_header(&resp, "Retry-After", "1");
	kg_http_resp_header(&resp, "Connection", "close");
	enum MHD_Result ok = queue(s, c, rq, &resp);
	resp_release(&resp);
	return ok;
}

/* Not a pool: the handler runs on the server thread (RUN_INLINE), or does
 * there with its answer deferred until its write is durable (RUN_DEFERRED). */
enum { RUN_INLINE = -1, RUN_DEFERRED = -2 };

/* The pool a request's handler runs in (body: its parsed JSON or NULL);
 * RUN_INLINE: KG_HTTP_INLINE, and KG_HTTP_QUICK on a local store;
 * RUN_DEFERRED: KG_HTTP_DEFER (not a login's Argon2id work) on a local store. */
static int pool_of(const kg_http_server *s, const struct kg_http_route *rt, const json_t *body)
{
	if ((rt->flags & KG_HTTP_INLINE) ||
	    ((rt->flags & KG_HTTP_QUICK) && !kg_store_shared(s->app.store)))
		return -1;
	if (rt->flags & KG_HTTP_DECISION)
		return POOL_DECISION;
	if ((rt->flags & KG_HTTP_LOGIN) &&
	    (!(rt->flags & KG_HTTP_LOGIN_IF_PASSWORD) || json_object_get(body, "password")))
		return POOL_LOGIN;
	if ((rt->flags & KG_HTTP_DEFER) && !kg_store_shared(s->app.store))
		return RUN_DEFERRED;
	if (rt->flags & KG_HTTP_MAIL)
		return POOL_MAIL;
	if (rt->flags & KG_HTTP_UPLOAD)
		return POOL_UPLOAD;
	return POOL_OTHER;
}

/* The pool a request will run in when its head alone says so (-1: inline,
 * or the body decides: KG_HTTP_LOGIN_IF_PASSWORD). */
static int pool_by_head(const kg_http_server *s, const struct kg_http_route *rt)
{
	if ((rt->flags & KG_HTTP_LOGIN) && (rt->flags & KG_HTTP_LOGIN_IF_PASSWORD))
		return -1;
	return pool_of(s, rt, NULL);
}

/* A request for a pool whose queue is full now: 503 busy with Retry-After
 * before its credential is looked up or its body parsed (a flood of
 * logins beyond the login pool costs reading and dropping its bodies, not
 * a store read and a JSON parse each). Its body is still read and dropped,
 * so the connection stays open for the client's next request. The pool
 * refuses again at submit when it filled in between. */
static bool refuse_full(kg_http_server *s, struct MHD_Connection *c, struct request *rq,
			enum MHD_Result *ok)
{
	int pool = pool_by_head(s, rq->route);
	if (pool < 0 || !kg_http_pool_full(s->pools[pool]))
		return false;
	kg_http_pool_refused_early(s->pools[pool]);
	char msg[120];
	snprintf(msg, sizeof(msg), "kagid is at capacity for %s work (http.%s_queue); retry later",
		 pool_names[pool], pool_names[pool]);
	*ok = answer_error(s, c, rq, 503, "busy", NULL, msg, "Retry-After", "1");
	return true;
}

static enum MHD_Result begin(kg_http_server *s, struct MHD_Connection *c, struct request *rq)
{
	enum MHD_Result ok = MHD_YES;
	if (refuse_head(s, c, rq, &ok))
		return ok;
	kg_buf allow = KG_BUF_INIT(256);
	long idx = find_route(rq->method, rq->path, &rq->arena, &allow, &rq->req);
	if (idx == -404) {
		ok = answer_error(s, c, rq, 404, "not_found", NULL, "no such route", NULL, NULL);
		goto cleanup;
	}
	if (idx == -405) {
		char msg[300];
		snprintf(msg, sizeof(msg), "method %s not allowed here (allowed: %s)", rq->method,
			 allow.data ? allow.data : "");
		ok = answer_error(s, c, rq, 405, "method_not_allowed", NULL, msg, "Allow",
				  allow.data ? allow.data : "");
		goto cleanup;
	}
	rq->route_index = (size_t)idx;
	rq->route = &kg_http_routes[idx];
	if (refuse_full(s, c, rq, &ok))
		goto cleanup;
	if (rq->route->roles != KG_ROLES_PUBLIC) {
		kg_err err;
		kg_err_clear(&err);
		/* POST /v1/events: a cached key, confirmed in the decision worker */
		const char *authz = rq->authorization;
		int rc = (rq->route->flags & KG_HTTP_DECISION) && authz
			? kg_http_authenticate_unconfirmed(&s->app, authz, &rq->principal,
							   &rq->key_check, &err)
			: kg_http_request_principal(&s->app, c, rq->method, &rq->principal, &err);
		if (rc) {
			ok = answer_err(s, c, rq, rc, &err);
			goto cleanup;
		}
		if (!(rq->principal.role & rq->route->roles)) {
			char msg[200];
			snprintf(msg, sizeof(msg), "role %s may not call %s %s",
				 kg_role_name(rq->principal.role), rq->route->method, rq->route->pattern);
			ok = answer_error(s, c, rq, 403, "forbidden", NULL, msg, NULL, NULL);
			goto cleanup;
		}
	}
	rq->body_max = rq->route->body_max ? rq->route->body_max
					   : (size_t)s->config.http_body_max_bytes;
	const char *cl = rq->content_length;
	int64_t n;
	if (cl && kg_parse_i64(cl, &n) == 0 && n > (int64_t)rq->body_max) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body of %lld bytes is over the limit of %zu bytes",
			 (long long)n, rq->body_max);
		/* far over the limit: answer now and close rather than read it */
		rq->in_begin = n <= (int64_t)(rq->body_max + KG_HTTP_DRAIN_MAX);
		ok = answer_error(s, c, rq, 413, "too_large", NULL, msg, NULL, NULL);
		goto cleanup;
	}
	if (cl && n > 0) { /* the declared body is held from the start */
		if (!kg_http_budget_take(&s->budget, (size_t)n)) {
			ok = refuse_budget(s, c, rq, (size_t)n);
			goto cleanup;
		}
		rq->budget_held = (size_t)n;
	}
	kg_buf_init(&rq->body, rq->body_max);
cleanup:
	kg_buf_release(&allow);
	return ok;
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* True when the Content-Type value ct is the media type want (any case),
 * alone or with the one parameter charset=utf-8 (any case, may be quoted):
 * the rule of docs/api.md "Request bodies". */
static bool media_type_is(const char *ct, const char *want)
{
	if (!ct)
		return false;
	const char *p = skip_ows(ct);
	size_t n = strlen(want);
	if (strncasecmp(p, want, n) != 0)
		return false;
	p = skip_ows(p + n);
	if (*p == '\0')
		return true;
	if (*p != ';')
		return false;
	p = skip_ows(p + 1);
	if (strncasecmp(p, "charset=", 8) != 0)
		return false;
	p += 8;
	bool quoted = *p == '"';
	p += quoted;
	if (strncasecmp(p, "utf-8", 5) != 0)
		return false;
	p += 5;
	if (quoted && *p++ != '"')
		return false;
	return *skip_ows(p) == '\0';
}

/* The media type a route's body must have (NULL: the handler decides). */
static const char *body_type_of(const struct kg_http_route *rt)
{
	if (rt->flags & (KG_HTTP_JSON | KG_HTTP_TYPE_JSON))
		return "application/json";
	if (rt->flags & KG_HTTP_TYPE_NDJSON)
		return "application/x-ndjson";
	return NULL;
}

static int json_depth(const json_t *j)
{
	int d = 0;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			int x = json_depth(v);
			if (x > d)
				d = x;
		}
		return d + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			int x = json_depth(v);
			if (x > d)
				d = x;
		}
		return d + 1;
	}
	return 0;
}

/* Answers with what the handler left in rq->result (or its error). */
static enum MHD_Result answer_result(kg_http_server *s, struct MHD_Connection *c,
				     struct request *rq)
{
	enum MHD_Result ok;
	if (rq->result_rc) {
		resp_release(&rq->result);
		ok = answer_err(s, c, rq, rq->result_rc, &rq->result_err);
	} else {
		ok = queue(s, c, rq, &rq->result);
	}
	resp_release(&rq->result);
	return ok;
}

/* A KG_HTTP_DEFER request on this thread, its connection suspended: the
 * handler checks it and starts its write (kg_http_defer), whose completion
 * resumes the connection (kg_http_resume) with no thread waiting for it;
 * an answer the handler gives at once resumes it at once. false: the
 * server stops, nothing ran (it goes to a pool, which refuses it then). */
static bool run_deferrable(kg_http_server *s, struct MHD_Connection *c, struct request *rq)
{
	atomic_fetch_add(&s->deferred, 1); /* before the check: kg_http_stop waits for it */
	if (atomic_load(&s->stopping)) {
		atomic_fetch_sub(&s->deferred, 1);
		return false;
	}
	rq->conn = c;
	rq->queued = true;
	MHD_suspend_connection(c);
	kg_err_clear(&rq->result_err);
	rq->deferrable = true;
	rq->result_rc = rq->route->handler(&rq->req, &rq->result, &rq->result_err);
	rq->deferrable = false;
	if (rq->result_rc == KG_HTTP_DEFERRED)
		return true;
	rq->finish = NULL; /* answered at once */
	atomic_store(&rq->done, true);
	MHD_resume_connection(c);
	atomic_fetch_sub(&s->deferred, 1);
	return true;
}

static struct request *request_of(const kg_http_req *req)
{
	return (struct request *)(void *)((char *)(uintptr_t)req - offsetof(struct request, req));
}

bool kg_http_deferrable(const kg_http_req *req)
{
	return request_of(req)->deferrable;
}

int kg_http_defer(kg_http_req *req, kg_http_finish_fn finish, void *ctx)
{
	struct request *rq = request_of(req);
	rq->finish = finish;
	rq->finish_ctx = ctx;
	return KG_HTTP_DEFERRED;
}

void kg_http_resume(void *req)
{
	struct request *rq = request_of(req);
	kg_http_server *s = server_of(rq->req.app);
	atomic_store(&rq->done, true);
	MHD_resume_connection(rq->conn); /* from here rq may be gone */
	atomic_fetch_sub(&s->deferred, 1);
}

/* A deferred request's answer, once resumed (resp: where it goes; the
 * caller releases it). Runs finish exactly once. */
static void run_finish(struct request *rq, kg_http_resp *resp)
{
	kg_http_finish_fn fn = rq->finish;
	if (!fn)
		return;
	rq->finish = NULL;
	kg_err_clear(&rq->result_err);
	rq->result_rc = fn(&rq->req, rq->finish_ctx, resp, &rq->result_err);
}

/* The server thread the caller is (a number per thread, modulo 256). */
static uint8_t server_thread(void)
{
	static atomic_uint seen;
	static _Thread_local unsigned no;
	if (!no)
		no = atomic_fetch_add(&seen, 1) + 1;
	return (uint8_t)no;
}

/* Last callback: body complete. Parses it and runs the handler. */
static enum MHD_Result finish(kg_http_server *s, struct MHD_Connection *c, struct request *rq)
{
	kg_http_req *req = &rq->req;
	const struct kg_http_route *rt = rq->route;
	/* the body is in: from here kagid works (or the request waits in a
	 * pool), which the slowloris guard must not take for a slow body */
	track_phase(rq->track, PHASE_WORK);
	req->app = &s->app;
	req->method = rq->method;
	req->path = rq->path;
	req->route = rt->pattern;
	req->principal = &rq->principal;
	req->client_ip = rq->client_ip;
	req->arena = &rq->arena;
	req->conn = c;
	req->content_type = rq->content_type;
	req->body = rq->body.data ? rq->body.data : "";
	req->body_len = rq->body.len;

	const char *want = body_type_of(rt);
	if (want && !media_type_is(req->content_type, want)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s: the request body must be %s (charset=utf-8 optional)",
			 req->content_type ? "unsupported Content-Type" : "no Content-Type", want);
		return answer_error(s, c, rq, 415, "unsupported_media_type", "Content-Type", msg,
				    NULL, NULL);
	}
	if (rt->flags & KG_HTTP_JSON) {
		if (req->body_len == 0)
			return answer_error(s, c, rq, 400, "invalid", NULL, "request body is empty",
					    NULL, NULL);
		json_error_t jerr;
		req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!req->json) {
			kg_err err;
			kg_err_json(&err, jerr.line, jerr.column, jerr.position > 0 ? jerr.position - 1 : 0,
				    jerr.text);
			return answer_err(s, c, rq, KG_EINVAL, &err);
		}
		if (!json_is_object(req->json))
			return answer_error(s, c, rq, 400, "invalid", NULL,
					    "request body must be a JSON object", NULL, NULL);
		if (json_depth(req->json) > KG_JSON_DEPTH_MAX) {
			char msg[100];
			snprintf(msg, sizeof(msg), "JSON nested deeper than %d levels", KG_JSON_DEPTH_MAX);
			return answer_error(s, c, rq, 400, "invalid", NULL, msg, NULL, NULL);
		}
	}

	int pool = pool_of(s, rt, req->json);
	if (pool == RUN_DEFERRED && run_deferrable(s, c, rq))
		return MHD_YES;
	if (pool == RUN_DEFERRED) /* stopping: as without KG_HTTP_DEFER */
		pool = POOL_OTHER;
	if (pool < 0) { /* a quick answer: on this thread, no work slot */
		kg_err_clear(&rq->result_err);
		rq->result_rc = rt->handler(req, &rq->result, &rq->result_err);
		return answer_result(s, c, rq);
	}
	/* suspended before the pool may resume it; resumed at once when full */
	rq->conn = c;
	rq->thread = server_thread();
	rq->queued = true;
	MHD_suspend_connection(c);
	if (kg_http_pool_submit(s->pools[pool], rq) != 0) {
		kg_http_reply_error(&rq->result, 503, "busy", NULL,
				    "kagid is at capacity for %s work (http.%s_queue); retry later",
				    pool_names[pool], pool_names[pool]);
		kg_http_resp_header(&rq->result, "Retry-After", "1");
		atomic_store(&rq->done, true);
		MHD_resume_connection(c);
	}
	return MHD_YES;
}

/* Puts a take's jobs in the order the pool resumes their connections
 * (release_job): grouped by the server thread each came in on, the threads
 * in the order of their first job, first-come first within a thread.
 * libmicrohttpd wakes a connection's thread for each MHD_resume_connection
 * (a write to its eventfd) and the thread answers every connection resumed
 * by the time it looks: in arrival order a thread was woken for its first
 * connection of the take and again for each one resumed after it looked;
 * grouped, mostly once per take. Left as it is when out of memory. */
static void resume_order(void **jobs, size_t n)
{
	uint16_t rank[256];
	size_t start[257];
	void **out = n > 1 ? malloc(n * sizeof(*out)) : NULL;
	if (!out)
		return;
	memset(rank, 0xff, sizeof(rank));
	memset(start, 0, sizeof(start));
	uint16_t groups = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t t = ((struct request *)jobs[i])->thread;
		if (rank[t] == UINT16_MAX)
			rank[t] = groups++;
		start[rank[t] + 1]++;
	}
	for (uint16_t g = 0; g < groups; g++)
		start[g + 1] += start[g];
	for (size_t i = 0; i < n; i++)
		out[start[rank[((struct request *)jobs[i])->thread]]++] = jobs[i];
	memcpy(jobs, out, n * sizeof(*jobs));
	free(out);
}

/* A pool's job: runs the handler off the server threads; release_job then
 * resumes the connection, whose next callback answers (on_request). */
static void run_job(void *job)
{
	struct request *rq = job;
	kg_err_clear(&rq->result_err);
	rq->result_rc = rq->route->handler(&rq->req, &rq->result, &rq->result_err);
}

/* After the pool counted the job done: rq may be freed as soon as the
 * connection is resumed. */
static void release_job(void *job)
{
	struct request *rq = job;
	atomic_store(&rq->done, true);
	MHD_resume_connection(rq->conn);
}

/* The decision pool's takes (admit.c): take_start decides the waiting
 * POST /v1/events requests as one batch and queues their one group commit
 * (on top of prev, the take before, while that one commits); any other job
 * runs as run_job does. take_finish waits until every answer of the take
 * is final; the pool resumes the connections (release_job) only then. */
struct take {
	size_t m; /* the events among the take's jobs */
	struct request **rqs;
	kg_http_req **reqs;
	kg_http_resp **resps;
	kg_err **errs;
	int *rcs;
	kg_api_events_take *ev;
};

static void take_free(struct take *t)
{
	free(t->rqs);
	free(t->rcs);
	free(t->errs);
	free(t->resps);
	free(t->reqs);
	free(t);
}

/* The key of each unconfirmed request among jobs confirmed against the
 * store, in one read: a refused one (revoked, expired since, gone) keeps
 * its 401 in result_* and does not run. */
static void confirm_keys(kg_http_server *s, void **jobs, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += ((struct request *)jobs[i])->key_check.id[0] != '\0';
	if (!m)
		return;
	kg_http_key_check **checks = malloc(m * sizeof(*checks));
	const kg_principal **ps = malloc(m * sizeof(*ps));
	kg_err **errs = malloc(m * sizeof(*errs));
	int *rcs = malloc(m * sizeof(*rcs));
	struct request **rqs = malloc(m * sizeof(*rqs));
	if (!checks || !ps || !errs || !rcs || !rqs) { /* one at a time */
		for (size_t i = 0; i < n; i++)
			confirm_one(s, jobs[i]);
	} else {
		m = 0;
		for (size_t i = 0; i < n; i++) {
			struct request *rq = jobs[i];
			if (!rq->key_check.id[0])
				continue;
			rqs[m] = rq, checks[m] = &rq->key_check, ps[m] = &rq->principal;
			errs[m++] = &rq->result_err;
		}
		kg_http_keys_confirm(&s->app, checks, ps, rcs, errs, m);
		for (size_t k = 0; k < m; k++) {
			rqs[k]->result_rc = rcs[k];
			rqs[k]->key_refused = rcs[k] != 0;
			memset(&rqs[k]->key_check, 0, sizeof(rqs[k]->key_check));
			if (rcs[k])
				memset(&rqs[k]->principal, 0, sizeof(rqs[k]->principal));
		}
	}
	free(rqs);
	free(rcs);
	free(errs);
	free(ps);
	free(checks);
}

static void confirm_one(kg_http_server *s, struct request *rq)
{
	if (!rq->key_check.id[0])
		return;
	kg_http_key_check *check = &rq->key_check;
	const kg_principal *p = &rq->principal;
	kg_err *e = &rq->result_err;
	kg_http_keys_confirm(&s->app, &check, &p, &rq->result_rc, &e, 1);
	rq->key_refused = rq->result_rc != 0;
	memset(&rq->key_check, 0, sizeof(rq->key_check));
	if (rq->key_refused)
		memset(&rq->principal, 0, sizeof(rq->principal));
}

static void *take_start(void **jobs, size_t n, void *prev)
{
	if (n)
		confirm_keys(server_of(((struct request *)jobs[0])->req.app), jobs, n);
	struct take *t = calloc(1, sizeof(*t));
	if (t) {
		t->reqs = malloc(n * sizeof(*t->reqs));
		t->resps = malloc(n * sizeof(*t->resps));
		t->errs = malloc(n * sizeof(*t->errs));
		t->rcs = malloc(n * sizeof(*t->rcs));
		t->rqs = malloc(n * sizeof(*t->rqs));
	}
	bool batch = t && t->reqs && t->resps && t->errs && t->rcs && t->rqs; /* else one at a time */
	for (size_t i = 0; i < n; i++) {
		struct request *rq = jobs[i];
		if (rq->key_refused)
			continue; /* answered with its 401 */
		if (!batch || rq->route->handler != kg_api_events) {
			run_job(rq);
			continue;
		}
		kg_err_clear(&rq->result_err);
		t->rqs[t->m] = rq;
		t->reqs[t->m] = &rq->req;
		t->resps[t->m] = &rq->result;
		t->errs[t->m++] = &rq->result_err;
	}
	resume_order(jobs, n); /* decided in arrival order (t->rqs), resumed grouped */
	if (!batch) {
		if (t)
			take_free(t);
		return NULL;
	}
	struct take *before = prev;
	if (t->m && !(t->ev = kg_api_events_start(t->reqs, t->resps, t->errs, t->rcs, t->m,
						  before ? before->ev : NULL)))
		for (size_t i = 0; i < t->m; i++) /* out of memory: one at a time */
			run_job(t->rqs[i]);
	return t;
}

static void take_finish(void *take)
{
	struct take *t = take;
	if (!t)
		return;
	if (t->ev) {
		kg_api_events_finish(t->ev);
		for (size_t i = 0; i < t->m; i++)
			t->rqs[i]->result_rc = t->rcs[i];
	}
	take_free(t);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	kg_http_server *s = cls;
	struct request *rq = *con_cls;
	if (!rq)
		return MHD_NO; /* new_request() could not allocate: drop the connection */
	if (!rq->begun) {
		rq->begun = true;
		atomic_fetch_add(&s->inflight, 1);
		rq->method = kg_arena_strdup(&rq->arena, method);
		rq->path = kg_arena_strdup(&rq->arena, url);
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		rq->track = ci ? ci->socket_context : NULL;
		if (rq->track)
			memcpy(rq->client_ip, rq->track->ip, sizeof(rq->client_ip));
		else
			client_ip(c, rq->client_ip, sizeof(rq->client_ip));
		track_phase(rq->track, PHASE_BODY);
		rq->in_begin = true;
		enum MHD_Result ok = begin(s, c, rq);
		rq->in_begin = false;
		return ok;
	}
	if (rq->queued) { /* resumed: the pool ran the handler (or refused it) */
		if (!atomic_load(&rq->done))
			return MHD_YES;
		rq->queued = false;
		run_finish(rq, &rq->result);
		return answer_result(s, c, rq);
	}
	if (rq->answered) { /* answered in begin(): drop whatever body comes */
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->refused) { /* read and drop the body, then answer */
		rq->body_seen += *upload_size;
		if (*upload_size == 0)
			return queue(s, c, rq, &rq->deferred);
		*upload_size = 0;
		return rq->body_seen > rq->body_max + KG_HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		rq->body_seen += n;
		if (rq->track)
			atomic_fetch_add(&rq->track->body_bytes, n);
		if (rq->body_seen <= rq->body_max && rq->body_seen > rq->budget_held) {
			/* a body of no declared length takes the budget as it grows */
			size_t more = rq->body_seen - rq->budget_held + KG_HTTP_BUDGET_STEP;
			if (!kg_http_budget_take(&s->budget, more)) {
				kg_buf_release(&rq->body);
				kg_http_reply_error(&rq->deferred, 503, "busy", NULL,
						    "request bodies in flight fill http.body_memory_max_bytes "
						    "(%zu bytes); retry later", s->budget.max);
				kg_http_resp_header(&rq->deferred, "Retry-After", "1");
				rq->refused = true; /* read and drop the rest, then answer */
				return MHD_YES;
			}
			rq->budget_held += more;
		}
		if (rq->body_seen <= rq->body_max) {
			if (kg_buf_append(&rq->body, upload_data, n) != 0)
				return MHD_NO; /* out of memory: drop the connection */
		} else if (rq->body_seen > rq->body_max + KG_HTTP_DRAIN_MAX) {
			return MHD_NO; /* far over the limit: stop reading, close */
		} /* else over the limit: read and drop the rest, then answer 413 */
		return MHD_YES;
	}
	if (rq->body_seen > rq->body_max) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body is over the limit of %zu bytes", rq->body_max);
		return answer_error(s, c, rq, 413, "too_large", NULL, msg, NULL, NULL);
	}
	return finish(s, c, rq);
}

/* X-Request-Id: 8 bytes of a ChaCha20 key stream of the calling server
 * thread, whose key is drawn once per thread from the system's CSPRNG
 * (kg_random_bytes): as unpredictable as 8 bytes from getrandom(2), without
 * a system call per request. The bytes handed out are wiped from the block. */
struct rid_stream {
	uint8_t key[crypto_stream_chacha20_KEYBYTES];
	uint64_t nonce;            /* of the next block */
	uint8_t block[512];
	size_t used;               /* bytes of block handed out */
	bool seeded;
};
static _Thread_local struct rid_stream rid_stream;

static void request_id(char out[17])
{
	struct rid_stream *r = &rid_stream;
	enum { N = 8 };
	if (!r->seeded) {
		kg_random_bytes(r->key, sizeof(r->key));
		r->used = sizeof(r->block);
		r->seeded = true;
	}
	if (r->used + N > sizeof(r->block)) {
		uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
		memcpy(nonce, &r->nonce, sizeof(r->nonce));
		r->nonce++;
		crypto_stream_chacha20(r->block, sizeof(r->block), nonce, r->key);
		r->used = 0;
	}
	kg_hex(r->block + r->used, N, out);
	sodium_memzero(r->block + r->used, N);
	r->used += N;
}

/* The URI callback of libmicrohttpd, called as soon as a request line is
 * read (before its headers): the request's state starts here, with the
 * length of the raw request target (query included) for refuse_head. */
static void *new_request(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = ci ? ci->socket_context : NULL;
	struct request *rq = t ? t->spare : NULL;
	if (rq) { /* its arena kept its one chunk, emptied (on_completed) */
		t->spare = NULL;
		kg_arena arena = rq->arena;
		memset(rq, 0, sizeof(*rq));
		rq->arena = arena;
	} else if (!(rq = calloc(1, sizeof(*rq)))) {
		return NULL;
	} else {
		kg_arena_init(&rq->arena, REQUEST_ARENA_CHUNK);
	}
	rq->start_ns = kg_mono_ns();
	rq->uri_len = strlen(uri);
	request_id(rq->request_id);
	rq->route_index = kg_http_nroutes;
	return rq;
}

/* Appends v in decimal. */
static void put_u64(kg_buf *b, uint64_t v)
{
	char d[20];
	size_t n = 0;
	do
		d[sizeof(d) - ++n] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(d));
	kg_buf_append(b, d + sizeof(d) - n, n);
}

/* The time of an access line, "2026-12-03T06:22:01.052Z": formatted whole
 * once a second per server thread (kg_time_format_next). */
static const char *access_time(int64_t ms)
{
	static _Thread_local int64_t prev = INT64_MIN;
	static _Thread_local char text[KG_TIME_STR_MAX];
	return kg_time_format_next(ms, &prev, text);
}

/* A string literal appended without strlen. */
#define PUT_LIT(b, lit) kg_buf_append((b), (lit), sizeof(lit) - 1)

/* s (NUL-ended) as a JSON string */
static void put_json_str(kg_buf *b, const char *s)
{
	kg_buf_json_str(b, s, strlen(s));
}

/* Each thread's buffer for its access lines, kept from line to line (no
 * malloc and reallocs per line); freed when the thread ends. */
static pthread_key_t line_key;
static pthread_once_t line_once = PTHREAD_ONCE_INIT;
static bool line_key_ok;

static void line_free(void *p)
{
	kg_buf_release(p);
	free(p);
}

static void line_key_make(void)
{
	line_key_ok = pthread_key_create(&line_key, line_free) == 0;
}

/* The calling thread's line buffer, emptied; NULL: use one of its own. */
static kg_buf *line_buf(void)
{
	pthread_once(&line_once, line_key_make);
	if (!line_key_ok)
		return NULL;
	kg_buf *b = pthread_getspecific(line_key);
	if (!b) {
		if (!(b = malloc(sizeof(*b))))
			return NULL;
		kg_buf_init(b, 4096);
		if (pthread_setspecific(line_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	kg_buf_reset(b);
	return b;
}

/* One JSON line per request on stderr, built without printf (at level
 * info this was ~14k instructions a request, more than kagid's whole
 * request code). */
static void access_log(const struct request *rq, uint64_t ns)
{
	if (kg_log_get_level() > KG_LOG_INFO)
		return;
	kg_buf own = KG_BUF_INIT(4096);
	kg_buf *kept = line_buf();
	kg_buf *b = kept ? kept : &own;
	PUT_LIT(b, "{\"ts\":\"");
	kg_buf_puts(b, access_time(kg_now_ms()));
	PUT_LIT(b, "\",\"level\":\"info\",\"component\":\"access\",\"method\":");
	put_json_str(b, rq->method);
	PUT_LIT(b, ",\"path\":");
	put_json_str(b, rq->path);
	if (rq->route) {
		PUT_LIT(b, ",\"route\":");
		put_json_str(b, rq->route->pattern);
	}
	PUT_LIT(b, ",\"request_id\":\"");
	kg_buf_puts(b, rq->request_id);
	PUT_LIT(b, "\",\"status\":");
	if (rq->status < 0)
		kg_buf_putc(b, '-');
	put_u64(b, (uint64_t)(rq->status < 0 ? -(int64_t)rq->status : rq->status));
	uint64_t us = (ns + 500) / 1000; /* "ms" with 3 decimals */
	char frac[4] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10),
			(char)('0' + us % 10)};
	PUT_LIT(b, ",\"ms\":");
	put_u64(b, us / 1000);
	kg_buf_append(b, frac, sizeof(frac));
	PUT_LIT(b, ",\"bytes_in\":");
	put_u64(b, rq->body_seen);
	PUT_LIT(b, ",\"bytes_out\":");
	put_u64(b, rq->bytes_out);
	PUT_LIT(b, ",\"ip\":\"");
	kg_buf_puts(b, rq->client_ip);
	kg_buf_putc(b, '"');
	if (rq->error_code[0]) {
		PUT_LIT(b, ",\"error\":");
		put_json_str(b, rq->error_code);
	}
	if (rq->principal.role) {
		PUT_LIT(b, ",\"role\":\"");
		kg_buf_puts(b, kg_role_name(rq->principal.role));
		PUT_LIT(b, "\",\"credential\":");
		put_json_str(b, rq->principal.credential_id);
	}
	PUT_LIT(b, "}\n");
	if (b->data)
		fwrite(b->data, 1, b->len, stderr);
	kg_buf_release(&own);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	kg_http_server *s = cls;
	struct request *rq = *con_cls;
	if (!rq)
		return;
	if (!rq->begun) { /* refused by libmicrohttpd before the access handler */
		kg_arena_release(&rq->arena);
		free(rq);
		*con_cls = NULL;
		return;
	}
	if (rq->queued && !atomic_load(&rq->done)) {
		/* a pool still holds rq (cannot happen: pools stop before the
		 * daemon); leave it rather than free it under the job */
		kg_log(KG_LOG_ERROR, "http", "request %s ended while its job ran", rq->request_id);
		*con_cls = NULL;
		return;
	}
	if (rq->finish) { /* deferred, resumed, never answered: its state freed */
		kg_http_resp gone = {0};
		run_finish(rq, &gone);
		resp_release(&gone);
	}
	track_phase(rq->track, PHASE_HEAD); /* the next request's head, if any */
	kg_http_budget_give(&s->budget, rq->budget_held);
	uint64_t ns = kg_mono_ns() - rq->start_ns;
	if (!rq->answered)
		rq->status = 499; /* client went away, or the server stopped it */
	kg_http_metrics_observe(s->metrics, rq->route_index, rq->status, ns);
	if (rq->status >= 400)
		kg_http_metrics_error(s->metrics, rq->status, rq->error_code);
	access_log(rq, ns);
	json_decref(rq->req.json);
	resp_release(&rq->deferred);
	resp_release(&rq->result);
	kg_buf_release(&rq->body);
	if (rq->track && !rq->track->spare) {
		/* the connection's next request reuses it, and its arena's chunk
		 * when that is the one of the usual size (no malloc and free of
		 * 8 KiB per request; a large one is not held by an idle connection) */
		if (rq->arena.total_bytes <= REQUEST_ARENA_CHUNK)
			kg_arena_reset(&rq->arena);
		else
			kg_arena_release(&rq->arena);
		rq->track->spare = rq;
	} else {
		kg_arena_release(&rq->arena);
		free(rq);
	}
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	kg_log(KG_LOG_WARN, "microhttpd", "%s", msg);
}

/* ---- the slowloris guard -------------------------------------------------
 * libmicrohttpd's http.timeout_s is an idle timeout: a byte a second resets
 * it. So every connection is tracked, and the reaper cuts (shutdown(2): the
 * library then sees the end and closes it) one whose request head is not
 * complete http.header_timeout_s after it opened or after its last answer,
 * or whose body, after that long, arrives slower than
 * http.body_min_bytes_per_s on average. */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	kg_http_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conn_track *t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			*socket_context = NULL; /* not guarded; the idle timeout still holds */
			return;
		}
		t->fd = ci->connect_fd;
		client_ip(c, t->ip, sizeof(t->ip));
		track_phase(t, PHASE_HEAD);
		pthread_mutex_lock(&s->conn_mu);
		t->next = s->conns;
		if (s->conns)
			s->conns->prev = t;
		s->conns = t;
		s->nconns++;
		pthread_mutex_unlock(&s->conn_mu);
		*socket_context = t;
		return;
	}
	struct conn_track *t = *socket_context;
	if (!t)
		return;
	/* still open here: the library closes the socket after this returns */
	pthread_mutex_lock(&s->conn_mu);
	if (t->prev)
		t->prev->next = t->next;
	else
		s->conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	s->nconns--;
	pthread_mutex_unlock(&s->conn_mu);
	if (t->spare)
		kg_arena_release(&t->spare->arena);
	free(t->spare);
	free(t);
	*socket_context = NULL;
}

/* The accept policy: past http.max_connections a new connection is closed
 * at once. (libmicrohttpd's own limit, at which it stops accepting and
 * leaves new connections waiting in the kernel's backlog, is set above.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	(void)addr, (void)addrlen;
	kg_http_server *s = cls;
	pthread_mutex_lock(&s->conn_mu);
	bool full = s->nconns >= (size_t)s->config.http_max_connections;
	if (full)
		s->conn_refused++;
	pthread_mutex_unlock(&s->conn_mu);
	return full ? MHD_NO : MHD_YES;
}

/* ---- the front door (front.c): it accepts every connection and hands
 * the library those whose first request head it does not refuse itself ---*/
static bool front_admit(void *ctx, size_t pending, size_t same_ip)
{
	kg_http_server *s = ctx;
	size_t per_ip = (size_t)s->config.http_max_connections_per_ip;
	pthread_mutex_lock(&s->conn_mu);
	bool full = s->nconns + pending >= (size_t)s->config.http_max_connections ||
		    (per_ip && same_ip >= per_ip);
	if (full)
		s->conn_refused++;
	pthread_mutex_unlock(&s->conn_mu);
	return !full;
}

static void front_pass(void *ctx, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	kg_http_server *s = ctx;
	/* on failure the library has closed fd (over a cap: on_accept counted it) */
	if (MHD_add_connection(s->daemon, fd, addr, addrlen) != MHD_YES)
		kg_log(KG_LOG_DEBUG, "http", "connection not taken: %s", strerror(errno));
}

static void front_refused(void *ctx, const struct kg_http_head_verdict *v, const char *request_id,
			  const struct sockaddr *addr)
{
	kg_http_server *s = ctx;
	kg_http_metrics_error(s->metrics, v->status, v->code);
	struct request rq = {.status = v->status, .method = "-", .path = "-"};
	snprintf(rq.error_code, sizeof(rq.error_code), "%s", v->code);
	snprintf(rq.request_id, sizeof(rq.request_id), "%s", request_id);
	const void *a = addr->sa_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)addr)->sin_addr;
	if (!inet_ntop(addr->sa_family, a, rq.client_ip, sizeof(rq.client_ip)))
		snprintf(rq.client_ip, sizeof(rq.client_ip), "-");
	access_log(&rq, 0);
}

static void front_cut(void *ctx)
{
	kg_http_server *s = ctx;
	pthread_mutex_lock(&s->conn_mu);
	s->cut_head++;
	pthread_mutex_unlock(&s->conn_mu);
}

/* Cuts the connections over their deadline. Under conn_mu. */
static void reap(kg_http_server *s)
{
	uint64_t now = kg_mono_ns(), grace = (uint64_t)s->config.http_header_timeout_s * 1000000000u;
	for (struct conn_track *t = s->conns; t; t = t->next) {
		int ph = atomic_load(&t->phase);
		uint64_t since = now - atomic_load(&t->phase_ns);
		if (t->cut || ph == PHASE_WORK || since <= grace)
			continue;
		bool slow = ph == PHASE_HEAD ||
			    (double)atomic_load(&t->body_bytes) <
				    (double)s->config.http_body_min_rate * (double)since / 1e9;
		if (!slow)
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->cut = true;
		if (ph == PHASE_HEAD)
			s->cut_head++;
		else
			s->cut_body++;
	}
}

static void *reaper_main(void *arg)
{
	kg_http_server *s = arg;
	pthread_mutex_lock(&s->conn_mu);
	while (!s->reaper_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += KG_HTTP_REAP_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->reaper_cv, &s->conn_mu, &ts);
		if (!s->reaper_stop)
			reap(s);
	}
	pthread_mutex_unlock(&s->conn_mu);
	return NULL;
}

static void stop_reaper(kg_http_server *s)
{
	if (!s->reaper_started)
		return;
	pthread_mutex_lock(&s->conn_mu);
	s->reaper_stop = true;
	pthread_cond_signal(&s->reaper_cv);
	pthread_mutex_unlock(&s->conn_mu);
	pthread_join(s->reaper, NULL);
	s->reaper_started = false;
}

static void stop_pools(kg_http_server *s, bool free_them)
{
	for (int i = 0; i < NPOOLS; i++) {
		kg_http_pool **p = &s->pools[i];
		if (!*p)
			continue;
		if (free_them) {
			kg_http_pool_free(*p);
			*p = NULL;
		} else {
			kg_http_pool_stop(*p);
		}
	}
}

static int start_pools(kg_http_server *s, kg_err *err)
{
	const kg_config *c = &s->config;
	const int64_t size[NPOOLS][2] = {
		{c->http_decision_workers, c->http_decision_queue},
		{c->http_login_workers, c->http_login_queue},
		{c->http_mail_workers, c->http_mail_queue},
		{c->http_upload_workers, c->http_upload_queue},
		{c->http_other_workers, c->http_other_queue},
	};
	for (int i = 0; i < NPOOLS; i++) {
		s->pools[i] = i == POOL_DECISION
			? kg_http_pool_new_batch(pool_names[i], (size_t)size[i][0], (size_t)size[i][1],
						 (size_t)c->http_decision_batch_max, take_start, take_finish,
						 release_job)
			: kg_http_pool_new(pool_names[i], (size_t)size[i][0], (size_t)size[i][1],
					   i == POOL_LOGIN ? KG_HTTP_LOGIN_NICE : 0, run_job, release_job);
		if (!s->pools[i])
			return kg_err_set(err, KG_ENOMEM, "cannot start the %s pool (%lld threads)",
					  pool_names[i], (long long)size[i][0]);
	}
	return 0;
}

/* ---- start / stop ------------------------------------------------------*/

/* "host:port", "[v6]:port" → sockaddr. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6, kg_err *err)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		return kg_err_set(err, KG_EINVAL, "listen address \"%s\": expected HOST:PORT", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	int64_t port;
	if (kg_parse_i64(colon + 1, &port) || port < 0 || port > 65535)
		return kg_err_set(err, KG_EINVAL, "listen address \"%s\": bad port", listen);
	memset(ss, 0, sizeof(*ss));
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return kg_err_set(err, KG_EINVAL, "listen address \"%s\": bad IPv6 address", listen);
		*v6 = true;
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		memcpy(host, "127.0.0.1", 10);
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return kg_err_set(err, KG_EINVAL, "listen address \"%s\": bad IPv4 address", listen);
	*v6 = false;
	return 0;
}

/* The listening socket on ss: SO_REUSEADDR (a restart binds at once over
 * connections in TIME_WAIT), SO_REUSEPORT only when the operator asks
 * (http.reuse_port): without it a second kagid on the same address fails
 * here instead of silently taking part of the traffic. */
static int listen_on(const struct sockaddr_storage *ss, bool v6, bool reuse_port,
		     const char *listen_addr, int *fd_out, kg_err *err)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kg_err_set(err, KG_EIO, "cannot listen on %s: %s", listen_addr, strerror(errno));
	int on = 1, rc = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)) {
		rc = kg_err_set(err, KG_EIO, "cannot listen on %s: setsockopt: %s", listen_addr,
				strerror(errno));
		goto cleanup;
	}
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
		if (errno == EADDRINUSE)
			rc = kg_err_set(err, KG_EIO,
					"cannot listen on %s: address in use (another kagid or another "
					"program listens there; http.reuse_port = true shares the port "
					"on purpose)", listen_addr);
		else
			rc = kg_err_set(err, KG_EIO, "cannot listen on %s: %s", listen_addr,
					strerror(errno));
		goto cleanup;
	}
	if (listen(fd, SOMAXCONN) != 0) {
		rc = kg_err_set(err, KG_EIO, "cannot listen on %s: %s", listen_addr, strerror(errno));
		goto cleanup;
	}
	*fd_out = fd;
	return 0;
cleanup:
	close(fd);
	return rc;
}

static void stop_modules(kg_http_server *s)
{
	while (s->modules_started > 0) {
		const struct kg_http_module *m = &kg_http_modules[--s->modules_started];
		if (m->stop)
			m->stop(&s->app);
	}
}

int kg_http_start(const kg_config *config, const char *config_path, const char *db_path,
		  kg_http_server **out, kg_err *err)
{
	int rc = 0, lfd = -1; /* the listening socket, until the server owns it */
	kg_http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	s->config = *config;
	s->budget.max = (size_t)config->http_body_memory_max;
	pthread_mutex_init(&s->conn_mu, NULL);
	pthread_cond_init(&s->reaper_cv, NULL);
	s->app.config = &s->config;
	s->app.config_path = config_path;
	s->app.started_ms = kg_now_ms();
	s->app.keys = kg_http_keys_new(); /* NULL: every key read from the store */
	s->metrics = kg_http_metrics_new(kg_http_nroutes);
	if (!s->metrics) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto fail;
	}
	struct sockaddr_storage ss;
	bool v6 = false;
	if (config->http_max_connections < config->http_threads) {
		rc = kg_err_set(err, KG_EINVAL,
				"http.max_connections (%lld) must be at least http.threads (%lld)",
				(long long)config->http_max_connections, (long long)config->http_threads);
		goto fail;
	}
	rc = parse_listen(config->http_listen, &ss, &v6, err);
	if (rc)
		goto fail;
	/* before the store opens: a second kagid on a taken address stops here */
	rc = listen_on(&ss, v6, config->http_reuse_port, config->http_listen, &lfd, err);
	if (rc)
		goto fail;
	kg_store_options opt;
	kg_store_options_from_config(&opt, config);
	rc = kg_store_open(&s->app.store, db_path, &opt, err);
	if (rc)
		goto fail;
	for (size_t i = 0; i < kg_http_nmodules; i++) {
		if (kg_http_modules[i].start) {
			rc = kg_http_modules[i].start(&s->app, err);
			if (rc)
				goto fail;
		}
		s->modules_started = i + 1;
	}
	rc = start_pools(s, err);
	if (rc)
		goto fail;
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		rc = kg_err_set(err, KG_ENOMEM, "cannot start the connection reaper");
		goto fail;
	}
	s->reaper_started = true;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
			 (v6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(
		flags, 0, on_accept, s, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)config->http_threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(config->http_max_connections + KG_HTTP_CONN_HEADROOM),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)config->http_max_connections_per_ip,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)config->http_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)KG_HTTP_CONN_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, new_request, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		rc = kg_err_set(err, KG_EIO, "cannot start the HTTP server on %s (see the log)",
				config->http_listen);
		goto fail;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (getsockname(lfd, (struct sockaddr *)&bound, &blen) == 0)
		s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
							     : ((struct sockaddr_in *)&bound)->sin_port);
	const struct kg_http_front_hooks hooks = {s, front_admit, front_pass, front_refused, front_cut};
	rc = kg_http_front_start(lfd, config->http_header_timeout_s * 1000, &hooks, &s->front, err);
	lfd = -1; /* the front's now, also when it failed */
	if (rc) {
		MHD_stop_daemon(s->daemon);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (lfd >= 0)
		close(lfd);
	stop_reaper(s);
	stop_pools(s, true);
	stop_modules(s);
	if (s->app.store)
		kg_store_close(s->app.store);
	kg_http_metrics_free(s->metrics);
	kg_http_keys_free(s->app.keys);
	pthread_cond_destroy(&s->reaper_cv);
	pthread_mutex_destroy(&s->conn_mu);
	free(s);
	return rc;
}

int kg_http_port(const kg_http_server *s)
{
	return s->port;
}

void kg_http_stop(kg_http_server *s, int64_t grace_ms)
{
	atomic_store(&s->stopping, true);
	kg_http_front_stop(s->front); /* stop accepting, refuse new connections at once */
	int64_t deadline = kg_now_ms() + grace_ms;
	while (atomic_load(&s->inflight) > 0 && kg_now_ms() < deadline)
		usleep(5000);
	int left = atomic_load(&s->inflight);
	if (left > 0)
		kg_log(KG_LOG_WARN, "http", "stopping with %d requests still in flight", left);
	/* every queued job runs and resumes its connection before the daemon
	 * stops (it must hold no suspended connection); new ones get 503 */
	stop_pools(s, false);
	while (atomic_load(&s->deferred) > 0) /* their writes complete on their own */
		usleep(1000);
	stop_reaper(s);
	MHD_stop_daemon(s->daemon);
	kg_http_front_free(s->front);
	stop_pools(s, true);
	stop_modules(s);
	kg_store_close(s->app.store);
	kg_http_metrics_free(s->metrics);
	kg_http_keys_free(s->app.keys);
	pthread_cond_destroy(&s->reaper_cv);
	pthread_mutex_destroy(&s->conn_mu);
	free(s);
}

int kg_http_render_metrics(kg_app *app, kg_buf *out)
{
	kg_http_server *s = server_of(app);
	int rc = kg_http_metrics_render(s->metrics, out);
	rc = rc ? rc : kg_buf_printf(out, "# HELP kagi_http_inflight_requests Requests being answered now.\n"
				     "# TYPE kagi_http_inflight_requests gauge\nkagi_http_inflight_requests %d\n",
				     atomic_load(&s->inflight));
	kg_http_pool_metrics(s->pools, NPOOLS, out);
	kg_http_budget_metrics(&s->budget, out);
	kg_http_keys_metrics(s->app.keys, out);
	pthread_mutex_lock(&s->conn_mu);
	size_t nconns = s->nconns + kg_http_front_pending(s->front);
	uint64_t cut_head = s->cut_head, cut_body = s->cut_body, refused = s->conn_refused;
	pthread_mutex_unlock(&s->conn_mu);
	kg_buf_printf(out,
		      "# HELP kagi_http_connections Connections open now.\n"
		      "# TYPE kagi_http_connections gauge\nkagi_http_connections %zu\n"
		      "# HELP kagi_http_connections_cut_total Connections cut for a slow head or body.\n"
		      "# TYPE kagi_http_connections_cut_total counter\n"
		      "kagi_http_connections_cut_total{reason=\"header_timeout\"} %llu\n"
		      "kagi_http_connections_cut_total{reason=\"slow_body\"} %llu\n"
		      "# HELP kagi_http_connections_refused_total Connections closed at once over a connection cap.\n"
		      "# TYPE kagi_http_connections_refused_total counter\n"
		      "kagi_http_connections_refused_total %llu\n",
		      nconns, (unsigned long long)cut_head, (unsigned long long)cut_body,
		      (unsigned long long)refused);
	for (size_t i = 0; i < s->modules_started && rc == 0; i++)
		if (kg_http_modules[i].metrics)
			kg_http_modules[i].metrics(app, out);
	return rc;
}

void kg_http_print_routes(FILE *out)
{
	for (size_t i = 0; i < kg_http_nroutes; i++) {
		const struct kg_http_route *r = &kg_http_routes[i];
		fprintf(out, "%s\t%s\t", r->method, r->pattern);
		if (r->roles == KG_ROLES_PUBLIC) {
			fputs("public", out);
		} else {
			bool first = true;
			for (unsigned bit = 1; bit <= KG_ROLE_TICKET; bit <<= 1)
				if (r->roles & bit) {
					fprintf(out, "%s%s", first ? "" : ",", kg_role_name(bit));
					first = false;
				}
		}
		fprintf(out, "\t%s\n", (r->flags & KG_HTTP_JSON) || (r->flags & KG_HTTP_TYPE_JSON) ? "json"
				       : (r->flags & KG_HTTP_TYPE_NDJSON) ? "ndjson"
				       : (r->flags & KG_HTTP_RAW) ? "raw" : "none");
	}
}
