/* Read-only views for operators and the CLI: an account's message center and
 * the support queue, each one store read. */
#include "account/internal.h"

struct messages_read {
	const char *account_id;
	kg_arena *a;
	kg_message *msgs;
	size_t n;
};

static int messages_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct messages_read *r = ctx;
	kg_account acc;
	int rc = kg_tx_account_get(tx, r->account_id, &acc, r->a, err);
	return rc ? rc : kg_tx_message_list(tx, r->account_id, 0, r->a, &r->msgs, &r->n, err);
}

int kg_account_messages(kg_store *s, const char *account_id, kg_arena *a, kg_message **out,
			size_t *n, kg_err *err)
{
	struct messages_read r = {.account_id = account_id, .a = a};
	int rc = kg_store_read(s, messages_read, &r, err);
	*out = rc ? NULL : r.msgs;
	*n = rc ? 0 : r.n;
	return rc;
}

struct cases_read {
	const char *account_id, *state;
	kg_arena *a;
	kg_case *cases;
	size_t n;
};

static int cases_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct cases_read *r = ctx;
	return kg_tx_case_list(tx, r->account_id, r->state, 0, r->a, &r->cases, &r->n, err);
}

int kg_account_case_list(kg_store *s, const char *account_id, const char *state, kg_arena *a,
			 kg_case **out, size_t *n, kg_err *err)
{
	struct cases_read r = {.account_id = account_id, .state = state, .a = a};
	int rc = kg_store_read(s, cases_read, &r, err);
	*out = rc ? NULL : r.cases;
	*n = rc ? 0 : r.n;
	return rc;
}
