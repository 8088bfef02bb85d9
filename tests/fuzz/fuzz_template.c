/* libFuzzer target for the notice template and texts parsers (notify). The
 * first input byte picks the file of an override directory (a kind's .tmpl
 * or texts.txt, ja or en); the rest is its text. Contract checked: an
 * error names a file of the directory and says why; an override that
 * checks renders its notice, every part valid UTF-8, with a value's HTML
 * special characters escaped in the HTML part; the notice builds into a
 * MIME message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK "<kgx\"'&>"

static const char *dir(void)
{
	static char d[64];
	if (!d[0]) {
		snprintf(d, sizeof(d), "/tmp/kg-fuzz-template-%ld", (long)getpid());
		char sub[96];
		mkdir(d, 0700);
		snprintf(sub, sizeof(sub), "%s/ja", d);
		mkdir(sub, 0700);
		snprintf(sub, sizeof(sub), "%s/en", d);
		mkdir(sub, 0700);
	}
	return d;
}

static void check_text(const char *s)
{
	if (!s || kg_utf8_valid_prefix(s, strlen(s)) != strlen(s))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum kg_notify_lang lang = data[0] & 1 ? KG_LANG_EN : KG_LANG_JA;
	int which = (data[0] >> 1) % (KG_NOTICE_KIND_COUNT + 1);
	char path[256];
	if (which == KG_NOTICE_KIND_COUNT)
		snprintf(path, sizeof(path), "%s/%s/texts.txt", dir(), kg_notify_lang_name(lang));
	else
		snprintf(path, sizeof(path), "%s/%s/%s.tmpl", dir(), kg_notify_lang_name(lang),
			 kg_notify_kind_name((enum kg_notify_kind)which));
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f))
		abort();

	kg_err err;
	kg_err_clear(&err);
	int rc = kg_notify_check_dir(dir(), &err);
	if (rc) {
		if (rc != KG_EINVAL && rc != KG_ELIMIT)
			abort();
		if (!err.msg[0] || strncmp(err.file, dir(), strlen(dir())) != 0) {
			fprintf(stderr, "error without its file: %s: %s\n", err.file, err.msg);
			abort();
		}
		goto cleanup;
	}
	kg_config cfg;
	kg_config_defaults(&cfg);
	snprintf(cfg.notify_templates_dir, sizeof(cfg.notify_templates_dir), "%s", dir());
	if (kg_notify_init(&cfg, &err)) {
		fprintf(stderr, "checked but does not load: %s\n", err.msg);
		abort();
	}
	const kg_notify_field fields[] = {
		{"name", MARK}, {"reason", "gift_card"}, {"method", "support"},
		{"code", "123456"}, {"ttl_minutes", "10"}, {"case_id", "c1"},
		{"state", "open"}, {"note", MARK}, {"queue_position", "3"},
		{"incident_id", "i1"}, {"lock_id", "l1"}, {"detail", MARK}, {NULL, NULL},
	};
	bool marked = memmem(data, size, "<kgx", 4) != NULL;
	for (int k = 0; k < KG_NOTICE_KIND_COUNT; k++) {
		kg_notice n;
		kg_err_clear(&err);
		if (kg_notify_render((enum kg_notify_kind)k, lang, fields, &n, &err)) {
			fprintf(stderr, "%s does not render: %s\n",
				kg_notify_kind_name((enum kg_notify_kind)k), err.msg);
			abort();
		}
		check_text(n.subject);
		check_text(n.text);
		check_text(n.html);
		if (strchr(n.subject, '\n') || (!marked && strstr(n.html, "<kgx"))) {
			fprintf(stderr, "subject on two lines or value not escaped in HTML\n");
			abort();
		}
		kg_buf mime = KG_BUF_INIT(KG_NOTIFY_MIME_MAX);
		if (kg_notify_build_mime(&n, "taro@example.jp", "<m1@shop.example>", 1795860000000,
					 &mime, &err) && err.code != KG_ELIMIT)
			abort();
		kg_buf_release(&mime);
		kg_notice_release(&n);
	}
	kg_notify_shutdown();
cleanup:
	unlink(path);
	return 0;
}
