/* kagi CLI: one dispatch table of subcommands, one file per subcommand.
 * The CLI uses only the public headers of the core modules. */
#ifndef KG_CLI_H
#define KG_CLI_H

#include <stdio.h>

#include "base/base.h"

/* A subcommand: argv[0] is its own name. Returns the process exit code
 * (0 ok, 1 failure, 2 usage). */
typedef int (*kg_cli_fn)(int argc, char **argv);

struct kg_cli_command {
	const char *name;
	kg_cli_fn run;
	const char *summary;
};

/* true when argv holds -h or --help. */
int kg_cli_wants_help(int argc, char **argv);
/* Prints "kagi: <message>" for err to stderr; returns 1. */
int kg_cli_fail(const kg_err *err);
/* Prints usage to stdout when status is 0 (--help), else to stderr (a usage
 * error); returns status, the subcommand's exit code. */
int kg_cli_usage(const char *usage, int status);

/* Defaults, then the config file (NULL: none), then KAGI_* overrides; sets
 * the log level. Returns 0 or KG_EINVAL naming file:line. */
int kg_cli_load_config(kg_config *cfg, const char *path, kg_err *err);
/* Opens the store at db with the config's store.* settings. */
struct kg_store;
int kg_cli_open_store(const kg_config *cfg, const char *db, struct kg_store **out, kg_err *err);

/* One option of kg_cli_args: "--name VALUE" sets *value; with flag set,
 * "--name" alone sets *flag. Arrays end with {NULL}. */
struct kg_cli_opt {
	const char *name;
	const char **value;
	bool *flag;
};
/* Parses argv[1..] into opts and up to max_pos positional arguments (*npos
 * of them). Returns 0, or 2 after printing usage to stderr (an unknown
 * option, a missing value, too many positional arguments). */
int kg_cli_args(int argc, char **argv, const struct kg_cli_opt *opts, const char **pos,
		size_t max_pos, size_t *npos, const char *usage);
/* Prints o as one compact JSON line on stdout; takes the reference. */
struct json_t;
void kg_cli_print_json_line(struct json_t *o);
/* kg_cli_load_config(config), kg_notify_init (notices as kagid builds them),
 * then kg_cli_open_store(db); *store is NULL on
 * failure (kg_store_close(NULL) is a no-op). */
/* The store a command uses when not given one: store.url when set, else
 * store.path. */
const char *kg_cli_default_store(const kg_config *cfg);
/* db as it may be shown or logged: a URL's password replaced by ***
 * (written into buf when there is one). */
const char *kg_cli_store_name(const char *db, char *buf, size_t n);
int kg_cli_setup(const char *config, const char *db, kg_config *cfg, struct kg_store **store,
		 kg_err *err);

/* The options "kagi outbox" and "kagi webhooks" share, for getopt_long:
 * put KG_CLI_QUEUE_OPTIONS in the struct option table and hand each result
 * to kg_cli_queue_opt. */
struct kg_cli_queue_opts {
	const char *db, *config, *state, *account;
	size_t limit; /* --limit N, a count */
	bool json, failed;
};
#define KG_CLI_QUEUE_OPTIONS                                                                      \
	{"db", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},           \
	    {"state", required_argument, NULL, 's'}, {"account", required_argument, NULL, 'a'},   \
	    {"limit", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},            \
	    {"failed", no_argument, NULL, 'F'}
/* Applies getopt_long's result c (value arg) if it is one of those options.
 * Returns 1 when it was, 0 when c is some other option, 2 after printing
 * "kagi <cmd>: --limit: ..." to stderr (not a count). */
int kg_cli_queue_opt(int c, const char *arg, struct kg_cli_queue_opts *o, const char *cmd);

/* One declaration per subcommand (cmd_<name>.c). */
int kg_cmd_version(int argc, char **argv);
int kg_cmd_simulate(int argc, char **argv);
int kg_cmd_rules(int argc, char **argv);
int kg_cmd_replay(int argc, char **argv);
int kg_cmd_lists(int argc, char **argv);
int kg_cmd_init(int argc, char **argv);
int kg_cmd_store(int argc, char **argv);
int kg_cmd_serve(int argc, char **argv);
int kg_cmd_key(int argc, char **argv);
int kg_cmd_account(int argc, char **argv);
int kg_cmd_config(int argc, char **argv);
int kg_cmd_outbox(int argc, char **argv);
int kg_cmd_webhooks(int argc, char **argv);
int kg_cmd_lock(int argc, char **argv);
int kg_cmd_unlock(int argc, char **argv);
int kg_cmd_cases(int argc, char **argv);
int kg_cmd_messages(int argc, char **argv);
int kg_cmd_audit(int argc, char **argv);
int kg_cmd_mail(int argc, char **argv);

#endif
