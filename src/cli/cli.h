/* kagi CLI: one dispatch table of subcommands, one file per subcommand.
 * The CLI uses only the public headers of the core modules. */
#ifndef KG_CLI_H
#define KG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "store/store.h"

/* A subcommand: argv[0] is its own name. Returns the process exit code
 * (0 ok, 1 failure, 2 usage). */
typedef int (*kg_cli_fn)(int argc, char **argv);

struct kg_cli_command {
	const char *name;
	kg_cli_fn run;
	const char *summary;
};

/* Prints "kagi: <message>" for err to stderr; returns 1. */
int kg_cli_fail(const kg_err *err);

/* Defaults, then the config file (NULL: none), then KAGI_* overrides; sets
 * the log level. Returns 0 or KG_EINVAL naming file:line. */
int kg_cli_load_config(kg_config *cfg, const char *path, kg_err *err);
/* Opens the store at db with the config's store.* settings. */
struct kg_store;
int kg_cli_open_store(const kg_config *cfg, const char *db, struct kg_store **out, kg_err *err);

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

/* ---- options (opt.c) ---------------------------------------------------
 * A command describes its options in a table; kg_cli_parse reads argv into
 * the targets, checks numbers and choices (a message naming the option,
 * exit status 2), and prints the usage from the same table. */
enum kg_cli_kind {
	KG_CLI_FLAG,   /* --name alone: *flag = true */
	KG_CLI_STR,    /* --name VALUE or --name=VALUE: *str = VALUE (not empty
	                * unless empty_ok) */
	KG_CLI_INT,    /* *num, an integer from min to max */
	KG_CLI_U64,    /* *u64, 0..2^64-1 */
	KG_CLI_REAL,   /* *real, a finite number from rmin to rmax */
	KG_CLI_CHOICE, /* VALUE must be one of choices[] (NULL-ended): *choice
	                * (if set) gets its index, *str (if set) the name */
	KG_CLI_EACH,   /* each(each_ctx, VALUE) at every use (repeatable); an
	                * error is a usage error naming the option */
};

struct kg_cli_opt {
	const char *name; /* "db" for --db; a table ends with {NULL} */
	enum kg_cli_kind kind;
	const char *meta; /* the value's name in the usage ("PATH"); NULL for flags */
	const char *help; /* one line */
	bool required;
	bool empty_ok;
	bool *flag;
	const char **str;
	int64_t *num;
	int64_t min, max;
	uint64_t *u64;
	double *real;
	double rmin, rmax;
	int *choice;
	const char *const *choices;
	int (*each)(void *ctx, const char *value, kg_err *err);
	void *each_ctx;
};

#define KG_CLI_MANY ((size_t)1 << 30) /* max_args: no limit */

struct kg_cli_spec {
	const char *name;  /* "lock": messages start "kagi lock: " */
	const char *usage; /* "usage: kagi lock ...\n" lines */
	const char *about; /* what the command does (may be NULL) */
	const struct kg_cli_opt *opts; /* may be NULL */
	const char *after; /* printed after the options (may be NULL) */
	const char *const *verbs; /* NULL-ended subcommands: the first argument
	                           * must be one of them; NULL: none */
	const char *args;  /* what the arguments are, for "missing ARGS" */
	size_t min_args, max_args; /* positional arguments, the verb included */
};

/* Parses argv[1..] (options and arguments in any order, "--" ends the
 * options, "-" is an argument) and moves the arguments to argv[1..*nargs].
 * Returns -1 when the command goes on; otherwise the exit status to return
 * at once: 0 after printing the usage for -h/--help (stdout), 2 after a
 * usage error (an unknown option, a missing or bad value, a missing
 * required option, an unknown subcommand, too few or too many arguments)
 * printed to stderr, naming the option. */
int kg_cli_parse(const struct kg_cli_spec *spec, int argc, char **argv, int *nargs);
/* Prints "kagi NAME: <message>" and the usage lines to stderr; returns 2. */
int kg_cli_bad(const struct kg_cli_spec *spec, const char *fmt, ...) KG_PRINTF(2, 3);
/* The usage: spec->usage, about, the option table, after. */
void kg_cli_print_usage(const struct kg_cli_spec *spec, FILE *out);

/* The options "kagi outbox" and "kagi webhooks" share, in their tables. */
struct kg_cli_queue_opts {
	const char *db, *config, *state, *account;
	int64_t limit; /* --limit N, a count */
	bool json, failed;
};
#define KG_CLI_QUEUE_OPTIONS(q)                                                                   \
	{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &(q).db,                        \
	 .help = "the SQLite store (default: store.path)"},                                       \
	{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &(q).config,                \
	 .help = "configuration file"},                                                           \
	{.name = "state", .kind = KG_CLI_CHOICE, .meta = "STATE", .str = &(q).state,              \
	 .choices = (const char *const[]){"pending", "delivered", "failed", NULL},                \
	 .help = "list: only rows in STATE (pending, delivered, failed)"},                        \
	{.name = "account", .kind = KG_CLI_STR, .meta = "ID", .str = &(q).account,                \
	 .help = "list: only rows of account ID; send-test: the account"},                        \
	{.name = "limit", .kind = KG_CLI_INT, .meta = "N", .num = &(q).limit, .min = 0,           \
	 .max = INT64_MAX, .help = "list: at most N rows, newest first (default 100; 0: all)"},   \
	{.name = "json", .kind = KG_CLI_FLAG, .flag = &(q).json, .help = "list: JSON lines"},     \
	{.name = "failed", .kind = KG_CLI_FLAG, .flag = &(q).failed,                              \
	 .help = "retry: every failed row"}

/* ---- kagi outbox and kagi webhooks (queue.c) -----------------------------
 * One implementation of the two commands of the one delivery queue,
 * parametrised by its kind (enum kg_queue_kind): the options both have
 * (KG_CLI_QUEUE_OPTIONS, in each command's table), list, show by id, retry,
 * and loading the config and opening the store. A command file gives its
 * kind, its spec and its own verbs. */
struct kg_cli_queue_cmd {
	enum kg_queue_kind kind;
	const struct kg_cli_spec *spec;   /* its opts hold KG_CLI_QUEUE_OPTIONS(*q) */
	const struct kg_cli_queue_opts *q;
	/* The command's own verbs, and its own show if it has one: the exit
	 * status, or -1 when verb is not its own. args are the arguments
	 * after the verb. st is NULL for the verbs in no_store. */
	int (*verb)(void *ctx, const char *verb, char **args, int nargs, struct kg_store *st,
		    const kg_config *cfg);
	const char *const *no_store; /* NULL-ended verbs that open no store; may be NULL */
	void *ctx;
};
/* Parses argv with c->spec and runs the verb; returns the exit status. */
int kg_cli_queue_main(const struct kg_cli_queue_cmd *c, int argc, char **argv);

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
int kg_cmd_guard(int argc, char **argv);
int kg_cmd_incidents(int argc, char **argv);
int kg_cmd_cases(int argc, char **argv);
int kg_cmd_messages(int argc, char **argv);
int kg_cmd_audit(int argc, char **argv);
int kg_cmd_mail(int argc, char **argv);

#endif
