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

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kagi mail check [--shop FILE | --config FILE] [--db PATH --account ID] FILE...\n\n"
		"Analyses each message (raw RFC 5322 file, \"-\" for stdin) and prints one JSON\n"
		"object per file: {\"file\",\"verdict\",\"score\",\"signals\",...}. verdict is\n"
		"genuine, phishing, suspicious or unrelated.\n\n"
		"  --shop FILE    shop profile (default: shop.profile of the configuration)\n"
		"  --config FILE  configuration file (for shop.profile; KAGI_* variables apply)\n"
		"  --db PATH      kagi's SQLite store, for the message-center cross-check\n"
		"  --account ID   the account that received the messages (with --db)\n"
		"Exit status: 0 all analysed, 1 some file could not be analysed, 2 usage.\n");
}

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
	if (access(db, R_OK))
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

static int mail_check(int argc, char **argv)
{
	const char *shop = NULL, *db = NULL, *account = NULL, *config = NULL;
	int first = 1;
	for (; first < argc; first++) {
		const char *a = argv[first];
		if ((!strcmp(a, "--shop") || !strcmp(a, "--db") || !strcmp(a, "--account") ||
		     !strcmp(a, "--config")) && first + 1 < argc) {
			const char **dst = a[2] == 's' ? &shop : a[2] == 'd' ? &db
					   : a[2] == 'a' ? &account : &config;
			*dst = argv[++first];
		} else if (!strcmp(a, "--")) {
			first++;
			break;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "kagi mail check: unknown or incomplete option %s\n", a);
			usage(stderr);
			return 2;
		} else {
			break;
		}
	}
	if (first >= argc || (db && !account) || (account && !db)) {
		usage(stderr);
		return 2;
	}
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
	for (int i = first; i < argc; i++) {
		char *data = NULL;
		size_t len = 0;
		kg_mail_result r;
		kg_err_clear(&err);
		kg_buf_reset(&out);
		kg_buf_puts(&out, "{\"file\":");
		kg_buf_json_str(&out, argv[i], strlen(argv[i]));
		int rc = read_input(argv[i], &data, &len, &err);
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
	if (argc < 2 || kg_cli_wants_help(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "check"))
		return mail_check(argc - 1, argv + 1);
	fprintf(stderr, "kagi mail: unknown subcommand \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}

