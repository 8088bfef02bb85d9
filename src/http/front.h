/* The front door of kagid's HTTP server (front.c): its own accept loop in
 * front of libmicrohttpd. Private to src/http. */
#ifndef KG_HTTP_FRONT_H
#define KG_HTTP_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/base.h"

/* What the front refuses in a request head, for its JSON answer. */
struct kg_http_head_verdict {
	int status;        /* 400, 413, 414, 431 or 505 */
	const char *code;  /* "invalid", "too_large", ... */
	const char *field; /* "Content-Length" or NULL */
	char msg[160];
};

/* Looks at the first n bytes of a connection (its first request head, maybe
 * incomplete; only the first KG_HTTP_FRONT_HEAD_MAX bytes count). Returns 0
 * when the head is complete and has nothing the front refuses (the library
 * reads it), 1 when it is not complete yet and nothing is refused so far,
 * else the status of the refusal, with v filled: a request line that is not
 * METHOD SP TARGET SP HTTP/d.d (400) or whose version is not 1.x (505), a
 * target over KG_HTTP_URL_MAX (414), a header line without ':' (400), a
 * Content-Length that is not plain decimal digits (400) or over 2^64-1
 * (413), more than KG_HTTP_HEADER_FIELDS_MAX fields or a head over
 * KG_HTTP_FRONT_HEAD_MAX (431). Pure: for the front and the tests. */
int kg_http_head_check(const char *buf, size_t n, struct kg_http_head_verdict *v);

/* What the front asks of the server. Each is called on the front's thread. */
struct kg_http_front_hooks {
	void *ctx;
	/* May a new connection from addr wait here? pending: connections the
	 * front holds now, same_ip: those of them from addr's host. false:
	 * it is closed at once (the hook counts it). */
	bool (*admit)(void *ctx, size_t pending, size_t same_ip);
	/* A connection whose head passed: the library's from now (it closes fd). */
	void (*pass)(void *ctx, int fd, const struct sockaddr *addr, socklen_t addrlen);
	/* The front answered a head itself (request_id is in the answer). */
	void (*refused)(void *ctx, const struct kg_http_head_verdict *v, const char *request_id,
			const struct sockaddr *addr);
	/* A head not complete within the timeout: the connection was cut. */
	void (*cut)(void *ctx);
};

typedef struct kg_http_front kg_http_front;

/* Starts the front's thread on the listening socket lfd (non-blocking
 * accept; the front owns lfd from now, also on failure). A head must be
 * complete head_timeout_ms after the connection opened. */
int kg_http_front_start(int lfd, int64_t head_timeout_ms, const struct kg_http_front_hooks *h,
			kg_http_front **out, kg_err *err);
/* Connections waiting here now (for the connection gauge). */
size_t kg_http_front_pending(const kg_http_front *f);
/* Stops accepting at once (closes lfd), closes the connections still
 * waiting here and joins the thread; f stays readable (pending 0) until
 * kg_http_front_free. NULL is a no-op. */
void kg_http_front_stop(kg_http_front *f);
void kg_http_front_free(kg_http_front *f);

#endif
