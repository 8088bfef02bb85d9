/* The web console's files (web/, compiled into the binary by
 * cmake/embed.cmake, so kagid needs no data files) at /console, and the
 * redirect of / to it. Every answer carries a Content-Security-Policy that
 * allows only this origin's own scripts and styles (no inline ones) and no
 * framing. docs/console.md. Not here: sessions (session.c), the data the
 * pages show (api_console.c and the /v1 routes). */
#include "http/internal.h"

#include <string.h>

struct kg_embedded_file {
	const char *path;
	const char *data;
	size_t len;
};
extern const struct kg_embedded_file kg_console_files[];

static const char CSP[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'";

static const char *type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".json", "application/json"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < KG_ARRAY_LEN(types); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static int security_headers(kg_http_resp *resp)
{
	int rc = kg_http_resp_header(resp, "Content-Security-Policy", CSP);
	rc = rc ? rc : kg_http_resp_header(resp, "Referrer-Policy", "no-referrer");
	return rc ? rc : kg_http_resp_header(resp, "X-Frame-Options", "DENY");
}

static int serve(kg_http_resp *resp, const char *name, kg_err *err)
{
	for (const struct kg_embedded_file *f = kg_console_files; f->path; f++) {
		if (strcmp(f->path, name) != 0)
			continue;
		int rc = kg_http_reply_raw(resp, 200, type_of(name), f->data, f->len);
		return rc ? kg_err_set(err, rc, "out of memory") : security_headers(resp);
	}
	return kg_err_field(err, KG_ENOTFOUND, "file", "no console file \"%s\"", name);
}

int kg_console_index(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	(void)req;
	return serve(resp, "index.html", err);
}

int kg_console_file(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	return serve(resp, kg_http_param(req, "file"), err);
}

int kg_console_root(kg_http_req *req, kg_http_resp *resp, kg_err *err)
{
	(void)req;
	(void)err;
	kg_http_reply_raw(resp, 302, "text/plain; charset=utf-8", "/console\n", 9);
	return kg_http_resp_header(resp, "Location", "/console");
}
