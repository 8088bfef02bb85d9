/* kagi serve: runs kagid, the HTTP server, until SIGTERM or SIGINT; then
 * finishes in-flight requests, closes the store and exits 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"

static int write_port_file(const char *path, int port, kg_err *err)
{
	char tmp[KG_CONFIG_STR_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return kg_err_at(err, KG_EIO, tmp, 0, 0, "cannot write the port file");
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return kg_err_at(err, KG_EIO, path, 0, 0, "cannot write the port file");
	return 0;
}

int kg_cmd_serve(int argc, char **argv)
{
	const char *db = NULL, *url = NULL, *listen = NULL, *config_path = NULL, *port_file = NULL;
	bool print_routes = false;
	const struct kg_cli_opt opts[] = {
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "SQLite database (created and migrated if missing)"},
		{.name = "store", .kind = KG_CLI_STR, .meta = "URL", .str = &url,
		 .help = "a PostgreSQL store, postgres://... (docs/scaling.md)"},
		{.name = "listen", .kind = KG_CLI_STR, .meta = "HOST:PORT", .str = &listen,
		 .help = "address to listen on ([::1]:PORT for IPv6)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config_path,
		 .help = "config file (see docs/configuration.md)"},
		{.name = "port-file", .kind = KG_CLI_STR, .meta = "FILE", .str = &port_file,
		 .help = "write the bound port to FILE once listening"},
		{.name = "print-routes", .kind = KG_CLI_FLAG, .flag = &print_routes,
		 .help = "print the route table (METHOD, PATTERN, roles, body) and exit"},
		{NULL},
	};
	const struct kg_cli_spec spec = {
		.name = "serve",
		.usage = "usage: kagi serve [--db PATH | --store URL] [--listen HOST:PORT] [--config FILE]\n"
			 "                  [--port-file FILE] [--print-routes]\n",
		.about = "Runs kagid: the HTTP API on HOST:PORT (default http.listen, 127.0.0.1:8080;\n"
			 "port 0 picks a free port) over the store at PATH or URL (default store.url if set, else store.path).\n"
			 "SIGTERM or SIGINT stops it: no new connections, in-flight requests finish\n"
			 "(up to http.shutdown_grace_ms), the store closes cleanly, exit status 0.\n"
			 "An address already in use is an error (exit status 1): one kagid per address,\n"
			 "unless http.reuse_port shares it on purpose (docs/configuration.md).\n",
		.opts = opts,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	if (print_routes) {
		kg_http_print_routes(stdout);
		return 0;
	}
	kg_config cfg;
	kg_err err;
	kg_err_clear(&err);
	if (kg_cli_load_config(&cfg, config_path, &err))
		return kg_cli_fail(&err);
	if (listen && kg_config_set(&cfg, "http.listen", listen, &err))
		return kg_cli_fail(&err);
	if (db && url)
		return kg_cli_bad(&spec, "give --db PATH or --store URL, not both");
	if (url)
		db = url;
	if (!db)
		db = kg_cli_default_store(&cfg);

	/* Signals go to this thread only: block them before any thread starts
	 * (the server's threads inherit the mask), then wait for them here. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	kg_http_server *srv = NULL;
	if (kg_http_start(&cfg, config_path, db, &srv, &err))
		return kg_cli_fail(&err);
	const char *colon = strrchr(cfg.http_listen, ':');
	char shown[KG_CONFIG_STR_MAX];
	kg_log(KG_LOG_INFO, "kagid", "kagid %s listening on http://%.*s:%d/ (store %s, %lld threads)",
	       KG_VERSION, (int)(colon - cfg.http_listen), cfg.http_listen, kg_http_port(srv),
	       kg_cli_store_name(db, shown, sizeof(shown)), (long long)cfg.http_threads);
	if (port_file && write_port_file(port_file, kg_http_port(srv), &err)) {
		kg_http_stop(srv, 0);
		return kg_cli_fail(&err);
	}
	int sig = 0;
	sigwait(&set, &sig);
	kg_log(KG_LOG_INFO, "kagid", "%s: stopping (in-flight requests finish first)",
	       sig == SIGINT ? "SIGINT" : "SIGTERM");
	kg_http_stop(srv, cfg.http_shutdown_grace_ms);
	kg_log(KG_LOG_INFO, "kagid", "stopped cleanly");
	return 0;
}
