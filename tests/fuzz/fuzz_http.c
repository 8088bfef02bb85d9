/* libFuzzer target for kagid's request handling: a real server (libmicrohttpd
 * on a loopback port, SQLite in a temp dir, the default policy and a shop
 * profile) in this process, and each input sent as raw bytes on a fresh
 * connection. Route matching, credentials, roles, body limits, JSON parsing
 * and every handler's validation are under test, and so are kagid's front
 * door (src/http/front.c: the first request head of each connection) and
 * libmicrohttpd's own HTTP parsing behind it.
 *
 * Markers in an input are replaced before it is sent: @admin@, @service@,
 * @agent@, @customer@, @ticket@ by bearer tokens of those roles (customer
 * and ticket bound to account fz-1, which exists), and @len@ by the length
 * of what follows the first blank line (the body).
 *
 * Contract checked: every answer is "HTTP/1.x NNN" with a status other than
 * 500 (an internal error is a bug); an error answer with a Content-Type is
 * application/json holding {"error":{"code":..,"message":..}}; the server
 * keeps answering. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/http.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUEST_MAX (256 * 1024)
#define ANSWER_MAX (4 * 1024 * 1024)

static const char *const roles[] = {"admin", "service", "agent", "customer", "ticket"};
static char tokens[5][160];
static int port;

static void die(const char *what, const kg_err *err)
{
	fprintf(stderr, "fuzz_http setup: %s: %s\n", what, err ? err->msg : "");
	abort();
}

/* Whether ans[0, got) holds a whole answer to a request that started with
 * `head_only` (HEAD: no body): its header and Content-Length bytes, or the
 * last chunk. A 1xx interim answer does not count. */
static bool complete(const char *ans, size_t got, bool head_only)
{
	const char *start = ans;
	for (;;) {
		const char *end = memmem(start, got - (size_t)(start - ans), "\r\n\r\n", 4);
		if (!end)
			return false;
		end += 4;
		if (start[0] == 'H' && got - (size_t)(start - ans) > 9 && start[9] == '1') {
			start = end; /* 100 Continue */
			continue;
		}
		if (head_only)
			return true;
		const char *cl = strcasestr(start, "\r\ncontent-length:");
		if (cl && cl < end) {
			size_t want = (size_t)strtoull(cl + 17, NULL, 10);
			return (size_t)(ans + got - end) >= want;
		}
		const char *te = strcasestr(start, "\r\ntransfer-encoding: chunked");
		if (te && te < end)
			return memmem(end, (size_t)(ans + got - end), "0\r\n\r\n", 5) != NULL;
		return false; /* until the server closes */
	}
}

static size_t exchange(const char *req, size_t len, char *ans, size_t max, int wait_s);

/* Whether the server answers /healthz within 30 s. */
static bool alive(void)
{
	static const char ping[] = "GET /healthz HTTP/1.1\r\nHost: k\r\n\r\n";
	char ans[4096];
	return exchange(ping, sizeof(ping) - 1, ans, sizeof(ans), 30) >= 12 &&
	       !strncmp(ans, "HTTP/1.1 200", 12);
}

/* One exchange on a fresh connection: sends the request, reads the first
 * answer (libmicrohttpd keeps a finished keep-alive connection open, and
 * mostly closes one whose request is incomplete). Returns the answer's length
 * (0 when the server closed without answering, or when after wait_s it
 * has said nothing and answers /healthz: some incomplete requests are
 * left to the connection timeout). */
static size_t exchange(const char *req, size_t len, char *ans, size_t max, int wait_s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = wait_s};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect", NULL);
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may close early on a bad request */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	bool head_only = len >= 5 && !memcmp(req, "HEAD ", 5);
	size_t got = 0;
	while (got < max - 1 && !complete(ans, got, head_only)) {
		ssize_t n = recv(fd, ans + got, max - 1 - got, 0);
		if (n < 0) {
			if (got == 0 && alive())
				break; /* libmicrohttpd waits for the rest of a request */
			fprintf(stderr, "no answer within %d s to:\n%.2000s\n", wait_s, req);
			abort();
		}
		if (n == 0)
			break;
		got += (size_t)n;
		ans[got] = '\0';
	}
	close(fd);
	ans[got] = '\0';
	return got;
}

static char dir[64], db[96];
static kg_http_server *srv;

/* At exit: the server stops and its temp dir goes. */
static void teardown(void)
{
	kg_http_stop(srv, 1000);
	const char *const suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char f[128];
		snprintf(f, sizeof(f), "%s%s", db, suffix[i]);
		unlink(f);
	}
	rmdir(dir);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	char profile[128];
	snprintf(dir, sizeof(dir), "/tmp/kg-fuzz-http-%ld", (long)getpid());
	snprintf(db, sizeof(db), "%s/kagi.db", dir);
	snprintf(profile, sizeof(profile), "%s/examples/shops/amazon.profile", KG_FUZZ_SOURCE_DIR);
	mkdir(dir, 0700);
	unlink(db);
	kg_config cfg;
	kg_config_defaults(&cfg);
	snprintf(cfg.http_listen, sizeof(cfg.http_listen), "127.0.0.1:0");
	snprintf(cfg.policy_file, sizeof(cfg.policy_file), "%s/policy/default.rules",
		 KG_FUZZ_SOURCE_DIR);
	snprintf(cfg.shop_profile, sizeof(cfg.shop_profile), "%s", profile);
	snprintf(cfg.account_secret_key, sizeof(cfg.account_secret_key), "%064d", 7);
	cfg.http_threads = 2;
	cfg.argon2_ops = 1; /* account creation and login stay fast */
	cfg.argon2_mem_kib = 8;
	kg_log_set_level(KG_LOG_OFF);
	kg_err err;
	kg_err_clear(&err);
	if (kg_http_start(&cfg, NULL, db, &srv, &err))
		die("start", &err);
	port = kg_http_port(srv);
	atexit(teardown);

	kg_store *store;
	if (kg_store_open(&store, db, NULL, &err))
		die("store", &err);
	for (int r = 0; r < 3; r++) {
		kg_token t;
		if (kg_account_credential_create(store, kg_role_parse(roles[r]), NULL, 0, "fuzz", "fuzz",
						 &t, &err))
			die("credential", &err);
		snprintf(tokens[r], sizeof(tokens[r]), "%s", t.text);
	}
	char req[1024], ans[8192];
	const char body[] =
		"{\"id\":\"fz-1\",\"name\":\"Taro Yamada\",\"email\":\"taro@example.jp\","
		"\"password\":\"correct horse battery staple\",\"address\":{\"postal_code\":"
		"\"150-0001\",\"region\":\"Tokyo\",\"city\":\"Shibuya\",\"line1\":\"1-2-3\","
		"\"country\":\"JP\"},\"cards\":[{\"holder_name\":\"TARO YAMADA\",\"last4\":"
		"\"4242\",\"exp\":\"12/29\",\"fingerprint\":\"fp-1\"}]}";
	int n = snprintf(req, sizeof(req),
			 "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 tokens[1], sizeof(body) - 1, body);
	exchange(req, (size_t)n, ans, sizeof(ans), 30);
	if (strncmp(ans, "HTTP/1.1 201", 12) != 0)
		die("create account fz-1", NULL);
	for (int r = 3; r < 5; r++) {
		kg_token t;
		if (kg_account_credential_create(store, kg_role_parse(roles[r]), "fz-1", 0, "fuzz",
						 "fuzz", &t, &err))
			die("credential", &err);
		snprintf(tokens[r], sizeof(tokens[r]), "%s", t.text);
	}
	kg_store_close(store);
}

/* The input with its markers replaced, into out (at most max bytes). */
static size_t expand(const uint8_t *data, size_t size, char *out, size_t max)
{
	size_t o = 0, len_at = SIZE_MAX;
	for (size_t i = 0; i < size && o < max - 64;) { /* room for the length */
		const char *rest = (const char *)data + i;
		size_t left = size - i, k;
		for (k = 0; k < 5; k++) {
			size_t rl = strlen(roles[k]);
			if (left >= rl + 2 && rest[0] == '@' && !memcmp(rest + 1, roles[k], rl) &&
			    rest[rl + 1] == '@')
				break;
		}
		if (k < 5) {
			size_t tl = strlen(tokens[k]);
			if (o + tl >= max)
				break;
			memcpy(out + o, tokens[k], tl);
			o += tl;
			i += strlen(roles[k]) + 2;
		} else if (left >= 5 && !memcmp(rest, "@len@", 5) && len_at == SIZE_MAX) {
			len_at = o; /* inserted below */
			i += 5;
		} else {
			out[o++] = (char)data[i++];
		}
	}
	if (len_at != SIZE_MAX) {
		const char *blank = memmem(out + len_at, o - len_at, "\r\n\r\n", 4);
		size_t body = blank ? o - (size_t)(blank + 4 - out) : 0;
		char num[24];
		size_t n = (size_t)snprintf(num, sizeof(num), "%zu", body);
		if (o + n <= max) {
			memmove(out + len_at + n, out + len_at, o - len_at);
			memcpy(out + len_at, num, n);
			o += n;
		}
	}
	return o;
}

/* head_only: the request was HEAD, so the answer has no body (what follows
 * its header may be the answer to a pipelined request). */
static void check_answer(const char *ans, size_t len, bool head_only)
{
	if (len == 0)
		return; /* closed: libmicrohttpd's answer to some broken requests */
	if (len < 12 || strncmp(ans, "HTTP/1.", 7) != 0 || ans[8] != ' ') {
		fprintf(stderr, "not an HTTP answer: %.80s\n", ans);
		abort();
	}
	int status = (int)strtol(ans + 9, NULL, 10);
	if (status < 100 || status > 599 || status == 500) {
		fprintf(stderr, "status %d:\n%.2000s\n", status, ans);
		abort();
	}
	const char *head_end = strstr(ans, "\r\n\r\n");
	if (!head_end || status < 400)
		return;
	/* kagid's error answers are JSON; libmicrohttpd's own (docs/api.md)
	 * carry no Content-Type at all */
	const char *ct = strcasestr(ans, "\r\ncontent-type:");
	if (ct && ct < head_end && strncasecmp(ct + 15, " application/json", 17) != 0) {
		fprintf(stderr, "error answer that is not JSON:\n%.2000s\n", ans);
		abort();
	}
	if (!ct || ct > head_end)
		return;
	const char *body = head_end + 4;
	const char *cl = strcasestr(ans, "\r\ncontent-length:");
	if (head_only || !*body || !cl || cl > head_end)
		return;
	/* only this answer's body: a pipelined input may have more after it */
	size_t body_len = (size_t)strtoull(cl + 17, NULL, 10);
	if (body_len > len - (size_t)(body - ans))
		body_len = len - (size_t)(body - ans);
	json_error_t je;
	json_t *j = json_loadb(body, body_len, 0, &je);
	json_t *e = j ? json_object_get(j, "error") : NULL;
	if (!json_is_string(json_object_get(e, "code")) ||
	    !json_is_string(json_object_get(e, "message"))) {
		fprintf(stderr, "error answer without the error shape:\n%.2000s\n", ans);
		abort();
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *req, *ans;
	if (!port) {
		setup();
		req = malloc(REQUEST_MAX);
		ans = malloc(ANSWER_MAX);
		if (!req || !ans)
			abort();
	}
	size_t n = expand(data, size, req, REQUEST_MAX);
	size_t got = exchange(req, n, ans, ANSWER_MAX, 2);
	if (getenv("KG_FUZZ_HTTP_SHOW")) /* to see what the seeds reach */
		fprintf(stderr, "%.*s -> %.*s\n", (int)strcspn(req, "\r"), req,
			(int)(getenv("KG_FUZZ_HTTP_SHOW")[0] == '2' ? strlen(ans) : strcspn(ans, "\r")), ans);
	check_answer(ans, got, n >= 5 && !memcmp(req, "HEAD ", 5));
	return 0;
}
