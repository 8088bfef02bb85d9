/* Helpers shared by the subcommands: config loading, the store, output. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "notify/notify.h"
#include "store/store.h"

void kg_cli_print_json_line(json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

int kg_cli_load_config(kg_config *cfg, const char *path, kg_err *err)
{
	kg_config_defaults(cfg);
	int rc = kg_config_load(cfg, path, err);
	if (rc)
		return rc;
	enum kg_log_level level;
	if (kg_log_level_parse(cfg->log_level, &level))
		return kg_err_set(err, KG_EINVAL, "log.level: unknown level \"%s\"", cfg->log_level);
	kg_log_set_level(level);
	return 0;
}

const char *kg_cli_default_store(const kg_config *cfg)
{
	return cfg->store_url[0] ? cfg->store_url : cfg->store_path;
}

const char *kg_cli_store_name(const char *db, char *buf, size_t n)
{
	/* scheme://user:password@host...: the password becomes *** */
	const char *auth = strstr(db, "://"), *at = auth ? strchr(auth + 3, '@') : NULL;
	const char *colon = auth ? strchr(auth + 3, ':') : NULL;
	if (!at || !colon || colon > at)
		return db;
	snprintf(buf, n, "%.*s:***%s", (int)(colon - db), db, at);
	return buf;
}

int kg_cli_open_store(const kg_config *cfg, const char *db, struct kg_store **out, kg_err *err)
{
	kg_store_options opt;
	kg_store_options_from_config(&opt, cfg);
	return kg_store_open(out, db, &opt, err);
}

int kg_cli_setup(const char *config, const char *db, kg_config *cfg, struct kg_store **store,
		 kg_err *err)
{
	*store = NULL;
	int rc = kg_cli_load_config(cfg, config, err);
	/* the notices these commands write (lock, unlock, case) are built as
	 * kagid builds them: the shop's templates, mail.from, DKIM, sealing */
	rc = rc ? rc : kg_notify_init(cfg, err);
	return rc ? rc : kg_cli_open_store(cfg, db, store, err);
}
