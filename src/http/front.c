/* The front door of kagid's HTTP server: its own accept loop in front of
 * libmicrohttpd, which answers a malformed request head itself, in HTML, and
 * cannot be told otherwise (0.9.75: its error pages are compiled in). Each new
 * connection's first request head is looked at here — peeked (MSG_PEEK: the
 * bytes stay in the socket for the library), at most KG_HTTP_FRONT_HEAD_MAX
 * bytes and http.header_timeout_s — and a head the library would refuse is
 * answered here in kagid's JSON error shape; any other connection is handed
 * to the library (MHD_add_connection). Not here: later requests on a kept-
 * alive connection and chunked bodies, which only the library reads
 * (docs/api.md, "What the HTTP library answers itself"). */
#include "http/front.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http/internal.h"

/* ---- the head ----------------------------------------------------------------*/

static int refuse(struct kg_http_head_verdict *v, int status, const char *code, const char *field,
		  const char *fmt, ...) KG_PRINTF(5, 6);

static int refuse(struct kg_http_head_verdict *v, int status, const char *code, const char *field,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->status = status;
	v->code = code;
	v->field = field;
	return status;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* METHOD SP TARGET SP HTTP/d.d, split as the library splits it: the method
 * ends at the first space, the version starts after the last one. */
static int check_request_line(const char *p, size_t len, struct kg_http_head_verdict *v)
{
	const char *end = p + len, *sp = memchr(p, ' ', len);
	if (!sp || sp == p)
		return refuse(v, 400, "invalid", NULL, "request line is not METHOD TARGET HTTP/1.x");
	const char *target = sp;
	while (target < end && *target == ' ')
		target++;
	const char *last = target < end ? memrchr(target, ' ', (size_t)(end - target)) : NULL;
	if (!last)
		return refuse(v, 400, "invalid", NULL,
			      "request line is not METHOD TARGET HTTP/1.x (no HTTP version)");
	size_t target_len = (size_t)(last - target);
	if (target_len > KG_HTTP_URL_MAX)
		return refuse(v, 414, "uri_too_long", NULL,
			      "request target of %zu bytes is over the limit of %d bytes", target_len,
			      KG_HTTP_URL_MAX);
	const char *ver = last + 1;
	if (end - ver != 8 || memcmp(ver, "HTTP/", 5) || !is_digit(ver[5]) || ver[6] != '.' ||
	    !is_digit(ver[7]))
		return refuse(v, 400, "invalid", NULL,
			      "request line is not METHOD TARGET HTTP/1.x (the version is not HTTP/d.d)");
	if (ver[5] != '1')
		return refuse(v, 505, "http_version_not_supported", NULL,
			      "HTTP/%c.%c is not supported: kagid speaks HTTP/1.0 and HTTP/1.1", ver[5],
			      ver[7]);
	return 0;
}

/* The value of a Content-Length field (after the ':'): optional leading
 * blanks, then decimal digits to the end of the line, as the library reads
 * it; more than 2^64-1 is too large. */
static int check_length(const char *p, const char *end, struct kg_http_head_verdict *v)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return refuse(v, 400, "invalid", "Content-Length", "Content-Length is empty");
	uint64_t n = 0;
	bool over = false;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return refuse(v, 400, "invalid", "Content-Length",
				      "Content-Length is not a plain decimal number");
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			over = true;
		else
			n = n * 10 + d;
	}
	if (over)
		return refuse(v, 413, "too_large", "Content-Length",
			      "Content-Length is over 18446744073709551615");
	return 0;
}

/* The line at p before e: its length without "\n" and one "\r"; NULL when
 * it has no end yet. */
static const char *line_end(const char *p, const char *e, size_t *len)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));
	if (!nl)
		return NULL;
	*len = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
	return nl;
}

int kg_http_head_check(const char *buf, size_t n, struct kg_http_head_verdict *v)
{
	bool full = n >= KG_HTTP_FRONT_HEAD_MAX; /* all that will be looked at is here */
	const char *p = buf, *e = buf + (full ? KG_HTTP_FRONT_HEAD_MAX : n);
	size_t len = 0;
	const char *nl;
	/* empty lines before the request line are skipped, as the library does */
	while ((nl = line_end(p, e, &len)) && len == 0)
		p = nl + 1;
	if (!nl)
		return full ? refuse(v, 414, "uri_too_long", NULL,
				     "request line over %d bytes", KG_HTTP_FRONT_HEAD_MAX)
			    : 1;
	int st = check_request_line(p, len, v);
	if (st)
		return st;
	int fields = 0, lineno = 1;
	for (p = nl + 1; (nl = line_end(p, e, &len)); p = nl + 1) {
		lineno++;
		if (len == 0)
			return 0; /* the end of the head */
		if (*p == ' ' || *p == '\t')
			continue; /* a continuation of the field before */
		const char *colon = memchr(p, ':', len);
		if (!colon)
			return refuse(v, 400, "invalid", NULL, "line %d of the request head has no ':'",
				      lineno);
		if (++fields > KG_HTTP_HEADER_FIELDS_MAX)
			return refuse(v, 431, "headers_too_large", NULL,
				      "more than %d header fields", KG_HTTP_HEADER_FIELDS_MAX);
		if (colon - p == 14 && !strncasecmp(p, "Content-Length", 14) &&
		    (st = check_length(colon + 1, p + len, v)))
			return st;
	}
	return full ? refuse(v, 431, "headers_too_large", NULL,
			     "request head over %d bytes", KG_HTTP_FRONT_HEAD_MAX)
		    : 1;
}

/* ---- the loop ------------------------------------------------------------------*/

enum pend_state { PEND_HEAD, PEND_LINGER };

/* A connection the front holds: its head is not complete yet, or the front
 * answered it and reads what is left before closing. */
struct pend {
	struct pend *prev, *next;
	int fd;
	enum pend_state state;
	uint64_t deadline_ns;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct kg_http_front {
	int lfd, ep, wake;
	struct kg_http_front_hooks h;
	uint64_t head_timeout_ns;
	pthread_t thread;
	struct pend *list;
	_Atomic size_t npending;
	char peek[KG_HTTP_FRONT_HEAD_MAX];
};

/* epoll's data for the listening socket and the stop event */
static char lfd_tag, wake_tag;

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return false;
}

static void unlink_pend(kg_http_front *f, struct pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		f->list = p->next;
	if (p->next)
		p->next->prev = p->prev;
	atomic_fetch_sub(&f->npending, 1);
	epoll_ctl(f->ep, EPOLL_CTL_DEL, p->fd, NULL);
}

static void drop(kg_http_front *f, struct pend *p)
{
	unlink_pend(f, p);
	close(p->fd);
	free(p);
}

static void pass(kg_http_front *f, struct pend *p)
{
	unlink_pend(f, p);
	f->h.pass(f->h.ctx, p->fd, (const struct sockaddr *)&p->addr, p->addrlen);
	free(p);
}

static const char *reason_of(int status)
{
	switch (status) {
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Bad Request";
	}
}

/* Answers v in kagid's error shape, closes the sending side and keeps the
 * connection a while to read what the client still sends (closing with
 * unread input would reset the connection before the client reads the
 * answer). */
static void answer(kg_http_front *f, struct pend *p, const struct kg_http_head_verdict *v)
{
	uint8_t rid[8];
	char request_id[17];
	kg_random_bytes(rid, sizeof(rid));
	kg_hex(rid, sizeof(rid), request_id);
	json_t *j = kg_http_error_json(v->code, v->msg, v->field);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	kg_buf out = KG_BUF_INIT(4096);
	kg_buf_printf(&out,
		      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
		      "X-Request-Id: %s\r\n\r\n%s",
		      v->status, reason_of(v->status), body ? strlen(body) : 0, request_id,
		      body ? body : "");
	free(body);
	/* a fresh socket's send buffer holds this small answer */
	if (out.data && send(p->fd, out.data, out.len, MSG_NOSIGNAL) < 0)
		kg_log(KG_LOG_DEBUG, "http", "front: answer not sent: %s", strerror(errno));
	kg_buf_release(&out);
	shutdown(p->fd, SHUT_WR);
	f->h.refused(f->h.ctx, v, request_id, (const struct sockaddr *)&p->addr);
	p->state = PEND_LINGER;
	p->deadline_ns = kg_mono_ns() + (uint64_t)KG_HTTP_LINGER_MS * 1000000u;
}

/* Reads and drops what arrived; closes at the end of the input. */
static void linger(kg_http_front *f, struct pend *p)
{
	for (;;) {
		ssize_t r = recv(p->fd, f->peek, sizeof(f->peek), 0);
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		drop(f, p);
		return;
	}
}

static void on_ready(kg_http_front *f, struct pend *p, uint32_t events)
{
	if (p->state == PEND_LINGER) {
		linger(f, p);
		return;
	}
	ssize_t r = recv(p->fd, f->peek, sizeof(f->peek), MSG_PEEK);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) { /* closed before a byte, or an error */
		drop(f, p);
		return;
	}
	struct kg_http_head_verdict v = {0};
	int st = kg_http_head_check(f->peek, (size_t)r, &v);
	if (st == 0 || (st == 1 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))))
		pass(f, p); /* the library reads it (an unfinished head: as it always did) */
	else if (st > 1)
		answer(f, p, &v);
}

static void accept_all(kg_http_front *f)
{
	for (;;) {
		struct pend *p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->addrlen = sizeof(p->addr);
		p->fd = accept4(f->lfd, (struct sockaddr *)&p->addr, &p->addrlen,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->fd < 0) {
			int e = errno;
			free(p);
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				kg_log(KG_LOG_WARN, "http", "cannot accept a connection: %s", strerror(e));
				usleep(10000); /* until a descriptor is free: no busy loop */
			}
			return; /* EAGAIN: none left; others: the next one will tell */
		}
		size_t same_ip = 0;
		for (struct pend *q = f->list; q; q = q->next)
			same_ip += same_host(&q->addr, &p->addr);
		if (!f->h.admit(f->h.ctx, atomic_load(&f->npending), same_ip)) {
			close(p->fd);
			free(p);
			continue;
		}
		p->state = PEND_HEAD;
		p->deadline_ns = kg_mono_ns() + f->head_timeout_ns;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = p};
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
			f->h.pass(f->h.ctx, p->fd, (const struct sockaddr *)&p->addr, p->addrlen);
			free(p);
			continue;
		}
		p->next = f->list;
		if (f->list)
			f->list->prev = p;
		f->list = p;
		atomic_fetch_add(&f->npending, 1);
	}
}

/* Cuts the heads over their time and ends the lingering answers. */
static void expire(kg_http_front *f)
{
	uint64_t now = kg_mono_ns();
	for (struct pend *p = f->list, *next; p; p = next) {
		next = p->next;
		if (now < p->deadline_ns)
			continue;
		if (p->state == PEND_HEAD) {
			shutdown(p->fd, SHUT_RDWR);
			f->h.cut(f->h.ctx);
		}
		drop(f, p);
	}
}

static void *front_main(void *arg)
{
	kg_http_front *f = arg;
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(f->ep, evs, (int)KG_ARRAY_LEN(evs), KG_HTTP_REAP_MS);
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			if (tag == &wake_tag)
				return NULL;
			if (tag == &lfd_tag)
				accept_all(f);
			else
				on_ready(f, tag, evs[i].events);
		}
		expire(f);
	}
}

int kg_http_front_start(int lfd, int64_t head_timeout_ms, const struct kg_http_front_hooks *h,
			kg_http_front **out, kg_err *err)
{
	*out = NULL;
	kg_http_front *f = calloc(1, sizeof(*f));
	if (!f) {
		close(lfd);
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	}
	f->lfd = lfd;
	f->h = *h;
	f->head_timeout_ns = (uint64_t)head_timeout_ms * 1000000u;
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = &lfd_tag};
	struct epoll_event we = {.events = EPOLLIN, .data.ptr = &wake_tag};
	int flags = fcntl(lfd, F_GETFL);
	if (f->ep < 0 || f->wake < 0 || flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    epoll_ctl(f->ep, EPOLL_CTL_ADD, lfd, &le) != 0 ||
	    epoll_ctl(f->ep, EPOLL_CTL_ADD, f->wake, &we) != 0 ||
	    pthread_create(&f->thread, NULL, front_main, f) != 0) {
		int rc = kg_err_set(err, KG_EIO, "cannot start the HTTP front: %s", strerror(errno));
		if (f->ep >= 0)
			close(f->ep);
		if (f->wake >= 0)
			close(f->wake);
		close(lfd);
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

size_t kg_http_front_pending(const kg_http_front *f)
{
	return f ? atomic_load(&f->npending) : 0;
}

void kg_http_front_stop(kg_http_front *f)
{
	if (!f)
		return;
	if (f->lfd < 0)
		return;
	uint64_t one = 1;
	if (write(f->wake, &one, sizeof(one)) != (ssize_t)sizeof(one))
		kg_log(KG_LOG_WARN, "http", "front: cannot wake its thread: %s", strerror(errno));
	pthread_join(f->thread, NULL);
	close(f->lfd); /* new connections are refused at once */
	f->lfd = -1;
	while (f->list)
		drop(f, f->list);
	close(f->ep);
	close(f->wake);
}

void kg_http_front_free(kg_http_front *f)
{
	kg_http_front_stop(f);
	free(f);
}
