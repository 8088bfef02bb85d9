/* kagi: the command-line entry point; dispatches to one file per command. */
#include <string.h>

#include "cli/cli.h"

static const struct kg_cli_command commands[] = {
	{"init", kg_cmd_init, "create or migrate the store"},
	{"serve", kg_cmd_serve, "run kagid, the HTTP server"},
	{"store", kg_cmd_store, "copy a SQLite store into PostgreSQL"},
	{"key", kg_cmd_key, "create or revoke API keys"},
	{"account", kg_cmd_account, "create or show an account"},
	{"config", kg_cmd_config, "print the effective configuration"},
	{"outbox", kg_cmd_outbox, "list, show, retry notice mails; send a test notice"},
	{"webhooks", kg_cmd_webhooks, "list, show, retry webhook events"},
	{"version", kg_cmd_version, "print the version"},
	{"simulate", kg_cmd_simulate, "write a labelled, realistic event stream of a shop"},
	{"rules", kg_cmd_rules, "check a policy file, run decision test cases"},
	{"lists", kg_cmd_lists, "edit the store's named lists used by policies"},
	{"replay", kg_cmd_replay, "decide an event stream (NDJSON), print decisions"},
	{"lock", kg_cmd_lock, "lock an account (with its official notice)"},
	{"unlock", kg_cmd_unlock, "lift an account's locks as an admin, with a reason"},
	{"guard", kg_cmd_guard, "the lock-wave breaker: status, reset"},
	{"incidents", kg_cmd_incidents, "the breaker's incidents: list, show, revert, confirm holds"},
	{"cases", kg_cmd_cases, "list, show or move support cases"},
	{"messages", kg_cmd_messages, "print an account's message center"},
	{"audit", kg_cmd_audit, "verify the audit hash chains, list an account's entries"},
	{"mail", kg_cmd_mail, "is this email really from the shop? (mail check FILE...)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kagi <command> [options]   (kagi <command> --help, kagi --version)\n\n"
		     "commands:\n");
	for (size_t i = 0; i < KG_ARRAY_LEN(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int kg_cli_fail(const kg_err *err)
{
	char msg[KG_ERR_MSG_MAX + KG_ERR_FILE_MAX + KG_ERR_FIELD_MAX + 32];
	fprintf(stderr, "kagi: %s\n", kg_err_format(err, msg, sizeof(msg)));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return kg_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < KG_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kagi: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
