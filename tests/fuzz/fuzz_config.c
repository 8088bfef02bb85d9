/* libFuzzer target for the config file parser: the input is written to a
 * temporary file and read by kg_config_load. Contract checked: an error
 * names the file, says why, and leaves the config untouched; a file that
 * loads dumps (kg_config_dump) to a file that loads to the same dump. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *tmp_path(void)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/kg-fuzz-config-%ld.conf", (long)getpid());
	return path;
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
}

/* KAGI_* overrides from the environment would hide what the file says. */
static void clear_overrides(void)
{
	extern char **environ;
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; *e; e++)
			if (!strncmp(*e, "KAGI_", 5)) {
				char name[128];
				size_t n = strcspn(*e, "=");
				snprintf(name, sizeof(name), "%.*s", (int)n, *e);
				unsetenv(name);
				again = true;
				break;
			}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = tmp_path();
	kg_config c;
	kg_err err;
	kg_buf d0 = KG_BUF_INIT(1 << 20), d1 = KG_BUF_INIT(1 << 20), d2 = KG_BUF_INIT(1 << 20);

	clear_overrides();
	write_file(path, data, size);
	kg_config_defaults(&c);
	if (kg_config_dump(&c, &d0))
		abort();
	kg_err_clear(&err);
	if (kg_config_load(&c, path, &err)) {
		if (err.code != KG_EINVAL && err.code != KG_ELIMIT)
			abort();
		if (!err.msg[0] || strcmp(err.file, path) != 0)
			abort(); /* an error says what and where ... */
		if (err.line <= 0 && err.code != KG_ELIMIT && !memchr(data, '\0', size))
			abort(); /* ... and a line-level error names its line */
		if (kg_config_dump(&c, &d1) || d1.len != d0.len || memcmp(d1.data, d0.data, d0.len))
			abort(); /* a failed load changes nothing */
		goto cleanup;
	}
	if (kg_config_dump(&c, &d1) || kg_utf8_valid_prefix(d1.data, d1.len) != d1.len)
		abort(); /* values reach notices and JSON: UTF-8 only */
	write_file(path, d1.data, d1.len);
	kg_config defaults;
	kg_config_defaults(&defaults);
	kg_err_clear(&err);
	if (kg_config_load(&defaults, path, &err)) {
		fprintf(stderr, "dump does not load: %s:%d: %s\n", err.file, err.line, err.msg);
		abort();
	}
	if (kg_config_dump(&defaults, &d2))
		abort();
	if (d1.len != d2.len || memcmp(d1.data, d2.data, d1.len) != 0) {
		fprintf(stderr, "dump round trip differs:\n%s\n---\n%s\n", d1.data, d2.data);
		abort();
	}
cleanup:
	unlink(path);
	kg_buf_release(&d0);
	kg_buf_release(&d1);
	kg_buf_release(&d2);
	return 0;
}
