/* The cross-check with kagi's store (S6, S7): does the account exist, is it
 * locked now, and is the analysed message in its message center (by
 * Message-ID, else by content fingerprint)? And when it is a lock notice
 * of a lock lifted since, say so. Read-only. */
#include <stdio.h>
#include <string.h>

#include "mail/internal.h"
#include "store/store.h"

typedef struct xq {
	const char *account_id, *message_id, *fingerprint;
	kg_mail_account *out;
} xq;

/* *out = 1 when a lock of the account was lifted, or ran out, after since_ms. */
static int lifted_since(kg_tx *tx, const char *account_id, int64_t since_ms, kg_arena *a,
			int *out, kg_err *err)
{
	kg_lock *locks = NULL;
	size_t n = 0;
	int64_t now = kg_now_ms();
	int rc = kg_tx_lock_list(tx, account_id, 0, a, &locks, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		if ((locks[i].lifted_ms && locks[i].lifted_ms >= since_ms) ||
		    (locks[i].expires_ms && locks[i].expires_ms >= since_ms && locks[i].expires_ms <= now))
			*out = 1;
	return rc;
}

static int xcheck_tx(kg_tx *tx, void *ctx, kg_err *err)
{
	xq *q = ctx;
	kg_mail_account *o = q->out;
	kg_arena a;
	kg_arena_init(&a, 8192);
	kg_account acc;
	kg_message m;
	kg_lock *locks = NULL;
	size_t n = 0;
	int rc = kg_tx_account_get(tx, q->account_id, &acc, &a, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		o->exists = 0;
		o->locked = -1;
		o->in_message_center = 0;
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	o->exists = 1;
	snprintf(o->name, sizeof(o->name), "%s", acc.name ? acc.name : "");
	snprintf(o->email, sizeof(o->email), "%s", acc.email ? acc.email : "");
	if ((rc = kg_tx_lock_list_active(tx, q->account_id, kg_now_ms(), &a, &locks, &n, err)))
		goto cleanup;
	o->locked = n > 0;
	o->in_message_center = 0;
	if (q->message_id && *q->message_id) {
		char mid[300];
		snprintf(mid, sizeof(mid), "<%s>", q->message_id);
		rc = kg_tx_message_find_by_message_id(tx, mid, &m, &a, err);
		if (rc == 0 && m.account_id && !strcmp(m.account_id, q->account_id))
			o->in_message_center = 1;
		else if (rc && rc != KG_ENOTFOUND)
			goto cleanup;
		rc = 0;
		kg_err_clear(err);
	}
	if (!o->in_message_center && q->fingerprint && *q->fingerprint) {
		rc = kg_tx_message_find_by_fingerprint(tx, q->account_id, q->fingerprint, &m, &a, err);
		if (rc == 0)
			o->in_message_center = 1;
		else if (rc != KG_ENOTFOUND)
			goto cleanup;
		rc = 0;
		kg_err_clear(err);
	}
	/* A real lock notice stays real after its lock was lifted. */
	if (!rc && o->in_message_center == 1 && !o->locked && m.kind &&
	    !strcmp(m.kind, "lock_notice"))
		rc = lifted_since(tx, q->account_id, m.created_ms, &a, &o->lock_lifted, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_mail_store_lookup(void *ctx, const char *account_id, const char *message_id,
			 const char *fingerprint, kg_mail_account *out, kg_err *err)
{
	if (!ctx || !account_id || !*account_id)
		return kg_err_field(err, KG_EINVAL, "account", "no account or no store");
	if (strlen(account_id) > KG_ID_MAX)
		return kg_err_field(err, KG_EINVAL, "account", "longer than %d bytes", KG_ID_MAX);
	xq q = {account_id, message_id, fingerprint, out};
	return kg_store_read((kg_store *)ctx, xcheck_tx, &q, err);
}
