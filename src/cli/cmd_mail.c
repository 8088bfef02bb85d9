/* kagi mail check: tells, for each message file, whether it is really from
 * the shop (one JSON object per file). Uses only mail.h (and store.h for
 * the message-center cross-check). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mail/mail.h"
#include "store/store.h"

static int read_input(const char *path, char **data, size_t *len, kg_err *err)
{
	if (strcmp(path, "-"))
		return kg_read_file(path, KG_MAIL_BYTES_MAX, data, len, err);
	kg_buf b = KG_BUF_INIT(KG_MAIL_BYTES_MAX);
	char chunk[65536];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		rc = kg_buf_append(&b, chunk, n);
	if (rc) {
		kg_buf_release(&b);
		return kg_err_set(err, rc, "stdin: message is larger than %d bytes", KG_MAIL_BYTES_MAX);
	}
	*data = kg_buf_detach(&b, len);
	return 0;
}

/* The store cross-check: an existing kagi store, read-only use. */
static int store_open(const char *db, void **store, kg_mail_query *q, kg_err *err)
{
	if (!kg_store_is_url(db) && access(db, R_OK)) /* a file: never made anew here */
		return kg_err_at(err, KG_EIO, db, 0, 0, "no such store: %s", strerror(errno));
	kg_store *s = NULL;
	int rc = kg_store_open(&s, db, NULL, err);
	if (rc)
		return rc;
	*store = s;
	q->lookup = kg_mail_store_lookup;
	q->lookup_ctx = s;
	return 0;
}

static void store_close(void *store)
{
	kg_store_close(store);
}

static int mail_check(const char *shop, const char *config, const char *db,
		      const char *account, int nfiles, char **files)
{
	kg_err err = {0};
	kg_config cfg;
	if (!shop) {
		if (kg_config_load(&cfg, config, &err))
			return kg_cli_fail(&err);
		shop = cfg.shop_profile;
	}
	if (!shop || !*shop) {
		fprintf(stderr, "kagi mail check: no shop profile: give --shop FILE or set shop.profile\n");
		return 2;
	}
	kg_mail_profile *prof = NULL;
	if (kg_mail_profile_load(shop, &prof, &err))
		return kg_cli_fail(&err);
	int status = 0;
	kg_mail_query q = {.account_id = account};
	void *store = NULL;
	if (db && store_open(db, &store, &q, &err)) {
		kg_mail_profile_free(prof);
		return kg_cli_fail(&err);
	}
	kg_buf out = KG_BUF_INIT(1024 * 1024);
	for (int i = 0; i < nfiles; i++) {
		char *data = NULL;
		size_t len = 0;
		kg_mail_result r;
		kg_err_clear(&err);
		kg_buf_reset(&out);
		kg_buf_puts(&out, "{\"file\":");
		kg_buf_json_str(&out, files[i], strlen(files[i]));
		int rc = read_input(files[i], &data, &len, &err);
		if (!rc)
			rc = kg_mail_check(prof, data ? data : "", len, &q, &r, &err);
		free(data);
		if (rc) {
			status = 1;
			kg_buf_printf(&out, ",\"error\":{\"code\":\"%s\",\"message\":", kg_code_name(rc));
			kg_buf_json_str(&out, err.msg, strlen(err.msg));
			kg_buf_puts(&out, "}}");
		} else {
			kg_buf_putc(&out, ',');
			kg_mail_result_json(&r, &out);
			kg_buf_putc(&out, '}');
		}
		puts(out.data);
	}
	kg_buf_release(&out);
	store_close(store);
	kg_mail_profile_free(prof);
	return status;
}

int kg_cmd_mail(int argc, char **argv)
{
	const char *shop = NULL, *db = NULL, *account = NULL, *config = NULL;
	const struct kg_cli_opt opts[] = {
		{.name = "shop", .kind = KG_CLI_STR, .meta = "FILE", .str = &shop,
		 .help = "shop profile (default: shop.profile of the configuration)"},
		{.name = "config", .kind = KG_CLI_STR, .meta = "FILE", .str = &config,
		 .help = "configuration file (for shop.profile; KAGI_* variables apply)"},
		{.name = "db", .kind = KG_CLI_STR, .meta = "PATH", .str = &db,
		 .help = "kagi's SQLite store, for the message-center cross-check"},
		{.name = "account", .kind = KG_CLI_STR, .meta = "ID", .str = &account,
		 .help = "the account that received the messages (with --db)"},
		{NULL},
	};
	static const char *const verbs[] = {"check", NULL};
	const struct kg_cli_spec spec = {
		.name = "mail",
		.usage = "usage: kagi mail check [--shop FILE | --config FILE] [--db PATH --account ID] FILE...\n",
		.about = "Analyses each message (raw RFC 5322 file, \"-\" for stdin) and prints one JSON\n"
			 "object per file: {\"file\",\"verdict\",\"score\",\"signals\",...}. verdict is\n"
			 "genuine, phishing, suspicious or unrelated.\n",
		.opts = opts,
		.after = "Exit status: 0 all analysed, 1 some file could not be analysed, 2 usage.\n",
		.verbs = verbs,
		.args = "FILE",
		.min_args = 2,
		.max_args = KG_CLI_MANY,
	};
	int nargs, st = kg_cli_parse(&spec, argc, argv, &nargs);
	if (st >= 0)
		return st;
	if (!db != !account)
		return kg_cli_bad(&spec, "--db and --account go together");
	return mail_check(shop, config, db, account, nargs - 1, argv + 2);
}
