/* kagi lists: the store's named value lists that policies use with
 * `list NAME from store` (kagid reads them at start and on reload). */
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static int usage(FILE *out, int code)
{
	fprintf(out, "usage: kagi lists add    --db PATH NAME VALUE...\n"
		     "       kagi lists remove --db PATH NAME VALUE...\n"
		     "       kagi lists show   --db PATH NAME\n\n"
		     "Edits the named lists a policy reads with `list NAME from store`;\n"
		     "a running kagid sees the change after a reload (SIGHUP or\n"
		     "POST /v1/rules/reload).\n");
	return code;
}

struct job {
	const char *verb, *name;
	char **values;
	int n;
};

static int edit_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct job *j = ctx;
	for (int i = 0; i < j->n; i++) {
		int rc = !strcmp(j->verb, "add") ? kg_tx_list_add(tx, j->name, j->values[i], err)
						 : kg_tx_list_remove(tx, j->name, j->values[i], err);
		if (rc == KG_ECONFLICT) { /* already there */
			kg_err_clear(err);
			continue;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int show_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 64 * 1024);
	const char **vals = NULL;
	size_t n = 0;
	int rc = kg_tx_list_values(tx, j->name, &a, &vals, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		printf("%s\n", vals[i]);
	kg_arena_release(&a);
	return rc;
}

int kg_cmd_lists(int argc, char **argv)
{
	if (kg_cli_wants_help(argc, argv))
		return usage(stdout, 0);
	if (argc < 5 || strcmp(argv[2], "--db"))
		return usage(stderr, 2);
	struct job j = {argv[1], argv[4], argv + 5, argc - 5};
	bool show = !strcmp(j.verb, "show");
	if ((show && j.n != 0) || (!show && (j.n < 1 || (strcmp(j.verb, "add") &&
							 strcmp(j.verb, "remove")))))
		return usage(stderr, 2);
	kg_err err;
	kg_err_clear(&err);
	kg_store *s = NULL;
	if (kg_store_open(&s, argv[3], NULL, &err))
		return kg_cli_fail(&err);
	int rc = show ? kg_store_read(s, show_job, &j, &err) : kg_store_write(s, edit_job, &j, &err);
	kg_store_close(s);
	return rc ? kg_cli_fail(&err) : 0;
}
