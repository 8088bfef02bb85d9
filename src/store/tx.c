/* The public kg_tx_* operations (store.h): each one checks that a write
 * runs in a write transaction and calls the running backend's operations
 * table (store_impl.h), chosen once at kg_store_open. No logic (beyond the
 * defaults every backend shares: "0 ms is now") and no backend names here;
 * a backend fills the table, a domain adds its calls below. */
#include "store/store_impl.h"

#include <stddef.h>

/* ---- accounts, cards, addresses, credentials, rule lists -------------------*/
int kg_tx_account_get(kg_tx *tx, const char *id, kg_account *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, get, id, out, a, err);
}

int kg_tx_account_get_by_email(kg_tx *tx, const char *email, kg_account *out, kg_arena *a,
			       kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, get_by_email, email, out, a, err);
}

int kg_tx_account_insert(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, insert, acc, err);
}

int kg_tx_account_update(kg_tx *tx, const kg_account *acc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, update, acc, err);
}

int kg_tx_account_search(kg_tx *tx, const char *q, size_t limit, kg_arena *a, kg_account **out,
			 size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, search, q, limit, a, out, n, err);
}

int kg_tx_card_add(kg_tx *tx, const kg_card *card, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, card_add, card, err);
}

int kg_tx_card_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_card **out, size_t *n,
		    kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, card_list, account_id, a, out, n, err);
}

int kg_tx_address_add(kg_tx *tx, const kg_account_address *addr, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, address_add, addr, err);
}

int kg_tx_address_list(kg_tx *tx, const char *account_id, kg_arena *a, kg_account_address **out,
		       size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, address_list, account_id, a, out, n, err);
}

int kg_tx_credential_insert(kg_tx *tx, const kg_credential *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_insert, c, err);
}

int kg_tx_credential_get(kg_tx *tx, const char *id, kg_credential *out, kg_arena *a,
			 kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, credential_get, id, out, a, err);
}

int kg_tx_credential_revoke(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_revoke, id, now_ms, err);
}

int kg_tx_credential_revoke_account(kg_tx *tx, const char *account_id, const char *role,
				    int64_t now_ms, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, credential_revoke_account, account_id, role, now_ms, n,
			   err);
}

int kg_tx_list_add(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, list_add, name, value, err);
}

int kg_tx_list_remove(kg_tx *tx, const char *name, const char *value, kg_err *err)
{
	return KG_TX_WCALL(tx, err, accounts, list_remove, name, value, err);
}

int kg_tx_list_contains(kg_tx *tx, const char *name, const char *value, bool *found,
			kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, list_contains, name, value, found, err);
}

int kg_tx_list_values(kg_tx *tx, const char *name, kg_arena *a, const char ***out, size_t *n,
		      kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, list_values, name, a, out, n, err);
}

/* ---- keys (operators' listing) ---------------------------------------------*/
int kg_tx_credential_list_keys(kg_tx *tx, size_t limit, kg_arena *a, kg_credential **out,
			       size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, accounts, credential_list_keys, limit, a, out, n, err);
}

/* ---- events and feature state ----------------------------------------------*/
int kg_tx_event_get(kg_tx *tx, const char *account_id, const char *event_id, kg_event_rec *out,
		    kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_get, account_id, event_id, out, a, err);
}

int kg_tx_event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, event_insert, ev, err);
}

int kg_tx_event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			 const char *event_id, size_t event_id_len, kg_arena *a,
			 const char **decision, size_t *decision_len, const uint8_t **body_hash,
			 size_t *body_hash_len, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_decision, account_id, account_len, event_id,
			  event_id_len, a, decision, decision_len, body_hash, body_hash_len, err);
}

int kg_tx_event_scan(kg_tx *tx, const char *account_id, int64_t from_ms, int64_t to_ms,
		     kg_event_cb cb, void *ctx, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_scan, account_id, from_ms, to_ms, cb, ctx,
			  err);
}

int kg_tx_features_get(kg_tx *tx, const char *account_id, kg_arena *a, const uint8_t **blob,
		       size_t *len, int64_t *updated_ms, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, features_get, account_id, a, blob, len, updated_ms,
			  err);
}

int kg_tx_features_put(kg_tx *tx, const char *account_id, const void *blob, size_t len,
		       int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, features_put, account_id, blob, len, now_ms, err);
}

int kg_tx_features_replace(kg_tx *tx, const char *account_id, const void *blob, size_t len,
			   int64_t now_ms, kg_err *err)
{
	if (tx->write && tx->s->ops->events->features_update) {
		int rc = tx->s->ops->events->features_update(tx, account_id, blob, len, now_ms, err);
		if (rc != KG_ENOTFOUND)
			return rc;
	}
	return kg_tx_features_put(tx, account_id, blob, len, now_ms, err);
}

int kg_tx_features_lock(kg_tx *tx, const char *account_id, int64_t *version, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, features_lock, account_id, version, err);
}

int kg_tx_event_insert_many(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			    kg_err *err)
{
	if (tx->write && tx->s->ops->events->event_insert_many)
		return tx->s->ops->events->event_insert_many(tx, evs, n, stored, err);
	return kg_store_event_insert_each(tx, evs, n, stored, err);
}

int kg_store_event_insert_each(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			       kg_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = kg_tx_event_insert(tx, &evs[i], err);
		stored[i] = !rc;
		if (rc == KG_ECONFLICT)
			kg_err_clear(err);
		else if (rc)
			return rc;
	}
	return 0;
}

int kg_tx_features_lock_many(kg_tx *tx, const char *const *account_ids, size_t n,
			     int64_t *versions, kg_err *err)
{
	if (tx->write && tx->s->ops->events->features_lock_many)
		return tx->s->ops->events->features_lock_many(tx, account_ids, n, versions, err);
	for (size_t i = 0; i < n; i++) {
		int rc = kg_tx_features_lock(tx, account_ids[i], &versions[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

int kg_tx_read_ahead(kg_tx *tx, const kg_read_ahead *ra, kg_err *err)
{
	if (tx->write)
		return kg_err_set(err, KG_EINVAL, "events.read_ahead needs a read transaction");
	return tx->s->ops->events->read_ahead ? tx->s->ops->events->read_ahead(tx, ra, err) : 0;
}

int kg_tx_entity_lock_many(kg_tx *tx, const int *kinds, const uint64_t *keys, size_t n,
			   int64_t *versions, kg_err *err)
{
	if (tx->write && tx->s->ops->events->entity_lock_many)
		return tx->s->ops->events->entity_lock_many(tx, kinds, keys, n, versions, err);
	for (size_t i = 0; i < n; i++) {
		int rc = kg_tx_entity_lock(tx, kinds[i], keys[i], &versions[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

int kg_tx_event_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		     kg_event_rec **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, event_list, account_id, limit, a, out, n, err);
}

/* ---- locks and incidents ---------------------------------------------------*/
int kg_tx_lock_insert(kg_tx *tx, const kg_lock *l, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, insert, l, err);
}

int kg_tx_lock_get(kg_tx *tx, const char *account_id, const char *lock_id, kg_lock *out,
		   kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, get, account_id, lock_id, out, a, err);
}

int kg_tx_lock_list_active(kg_tx *tx, const char *account_id, int64_t now_ms, kg_arena *a,
			   kg_lock **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_active, account_id, now_ms, a, out, n, err);
}

int kg_tx_lock_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a, kg_lock **out,
		    size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list, account_id, limit, a, out, n, err);
}

int kg_tx_lock_lift(kg_tx *tx, const char *account_id, const char *lock_id, int64_t now_ms,
		    const char *by, const char *method, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, lift, account_id, lock_id, now_ms, by, method, err);
}

int kg_tx_lock_list_due(kg_tx *tx, int64_t now_ms, size_t limit, kg_arena *a, kg_lock **out,
			size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_due, now_ms, limit, a, out, n, err);
}

int kg_tx_lock_expire_due(kg_tx *tx, int64_t now_ms, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, expire_due, now_ms, n, err);
}

int kg_tx_lock_count_since(kg_tx *tx, int64_t since_ms, int64_t *count, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, count_since, since_ms, count, err);
}

int kg_tx_lock_tag_incident(kg_tx *tx, const char *incident_id, int64_t from_ms, int64_t to_ms,
			    size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, tag_incident, incident_id, from_ms, to_ms, n, err);
}

int kg_tx_lock_list_incident(kg_tx *tx, const char *incident_id, kg_arena *a, kg_lock **out,
			     size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_incident, incident_id, a, out, n, err);
}

int kg_tx_lock_list_recent(kg_tx *tx, const char *state, int64_t since_ms, size_t limit,
			   kg_arena *a, kg_lock **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, list_recent, state, since_ms, limit, a, out, n, err);
}

int kg_tx_lock_counts(kg_tx *tx, int64_t from_ms, int64_t bucket_ms, size_t nbuckets,
		      int64_t *counts, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, counts, from_ms, bucket_ms, nbuckets, counts, err);
}

int kg_tx_incident_insert(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, incident_insert, inc, err);
}

int kg_tx_incident_get(kg_tx *tx, const char *id, kg_incident *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, incident_get, id, out, a, err);
}

int kg_tx_incident_update(kg_tx *tx, const kg_incident *inc, kg_err *err)
{
	return KG_TX_WCALL(tx, err, locks, incident_update, inc, err);
}

int kg_tx_incident_list(kg_tx *tx, const char *state, size_t limit, kg_arena *a,
			kg_incident **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, locks, incident_list, state, limit, a, out, n, err);
}

/* ---- audit (the chain is in store.c) ---------------------------------------*/
int kg_tx_audit_append(kg_tx *tx, const kg_audit_entry *e, int64_t *seq_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, audit, append, e, seq_out, err);
}

int kg_tx_audit_list(kg_tx *tx, const char *account_id, int64_t after_seq, size_t limit,
		     kg_arena *a, kg_audit_entry **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, audit, list, account_id, after_seq, limit, a, out, n, err);
}

/* ---- message center --------------------------------------------------------*/
int kg_tx_message_insert(kg_tx *tx, const kg_message *m, kg_err *err)
{
	return KG_TX_WCALL(tx, err, messages, insert, m, err);
}

int kg_tx_message_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		       kg_message **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, list, account_id, limit, a, out, n, err);
}

int kg_tx_message_get(kg_tx *tx, const char *account_id, const char *id, kg_message *out,
		      kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, get, account_id, id, out, a, err);
}

int kg_tx_message_find_by_message_id(kg_tx *tx, const char *message_id, kg_message *out,
				     kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, find_by_message_id, message_id, out, a, err);
}

int kg_tx_message_find_by_fingerprint(kg_tx *tx, const char *account_id,
				      const char *fingerprint, kg_message *out, kg_arena *a,
				      kg_err *err)
{
	return KG_TX_CALL(tx, err, messages, find_by_fingerprint, account_id, fingerprint, out,
			  a, err);
}

/* ---- guard rows ------------------------------------------------------------*/
int kg_tx_guard_get(kg_tx *tx, const char *kind, const char *key, kg_guard_row *out,
		    kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, guard, get, kind, key, out, a, err);
}

int kg_tx_guard_put(kg_tx *tx, const kg_guard_row *row, kg_err *err)
{
	return KG_TX_WCALL(tx, err, guard, put, row, err);
}

int kg_tx_guard_add(kg_tx *tx, const char *kind, const char *key, int64_t delta,
		    int64_t ts_ms, int64_t *n_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, guard, add, kind, key, delta, ts_ms, n_out, err);
}

int kg_tx_guard_list(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		     size_t limit, kg_arena *a, kg_guard_row **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, guard, list, kind, from_key, to_key, limit, a, out, n, err);
}

int kg_tx_guard_delete(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		       size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, guard, del, kind, from_key, to_key, n, err);
}

/* ---- cases -----------------------------------------------------------------*/
int kg_tx_case_insert(kg_tx *tx, const kg_case *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, insert, c, err);
}

int kg_tx_case_get(kg_tx *tx, const char *case_id, kg_case *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, get, case_id, out, a, err);
}

int kg_tx_case_update(kg_tx *tx, const char *account_id, const char *case_id, const char *state,
		      const char *assignee, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, update, account_id, case_id, state, assignee, now_ms, err);
}

int kg_tx_case_list(kg_tx *tx, const char *account_id, const char *state, size_t limit,
		    kg_arena *a, kg_case **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, list, account_id, state, limit, a, out, n, err);
}

int kg_tx_case_history_append(kg_tx *tx, const char *account_id, const char *case_id,
			      const kg_case_event *ev, int64_t *seq_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, history_append, account_id, case_id, ev, seq_out, err);
}

int kg_tx_case_history_list(kg_tx *tx, const char *account_id, const char *case_id,
			    kg_arena *a, kg_case_event **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, history_list, account_id, case_id, a, out, n, err);
}

int kg_tx_case_document_add(kg_tx *tx, const kg_case_document *d, kg_err *err)
{
	return KG_TX_WCALL(tx, err, cases, document_add, d, err);
}

int kg_tx_case_document_list(kg_tx *tx, const char *account_id, const char *case_id,
			     kg_arena *a, kg_case_document **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, document_list, account_id, case_id, a, out, n, err);
}

int kg_tx_case_document_get(kg_tx *tx, const char *account_id, const char *case_id,
			    const char *doc_id, kg_case_document *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, document_get, account_id, case_id, doc_id, out, a, err);
}

int kg_tx_case_queue_position(kg_tx *tx, const char *account_id, const char *case_id,
			      int64_t *pos, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, queue_position, account_id, case_id, pos, err);
}

int kg_tx_case_handling_time(kg_tx *tx, size_t limit, int64_t *mean_ms, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, cases, handling_time, limit, mean_ms, n, err);
}

/* ---- checks: codes, counters, identity-check state -------------------------*/
int kg_tx_code_put(kg_tx *tx, const kg_code_rec *c, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_put, c, err);
}

int kg_tx_code_get(kg_tx *tx, const char *account_id, const char *purpose, kg_code_rec *out,
		   kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, code_get, account_id, purpose, out, a, err);
}

int kg_tx_code_set_attempts(kg_tx *tx, const char *account_id, const char *purpose,
			    int64_t attempts_left, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_set_attempts, account_id, purpose, attempts_left, err);
}

int kg_tx_code_delete(kg_tx *tx, const char *account_id, const char *purpose, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, code_delete, account_id, purpose, err);
}

int kg_tx_counter_hit(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_hit, account_id, kind, key, window_ms, now_ms,
			   count_out, err);
}

int kg_tx_counter_get(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      int64_t window_ms, int64_t now_ms, int64_t *count_out, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, counter_get, account_id, kind, key, window_ms, now_ms,
			  count_out, err);
}

int kg_tx_counter_reset(kg_tx *tx, const char *account_id, const char *kind, const char *key,
			kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_reset, account_id, kind, key, err);
}

int kg_tx_counter_read(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		       kg_counter_row *out, kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, counter_read, account_id, kind, key, out, err);
}

int kg_tx_counter_put(kg_tx *tx, const char *account_id, const char *kind, const char *key,
		      const kg_counter_row *row, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, counter_put, account_id, kind, key, row, err);
}

int kg_tx_identity_get(kg_tx *tx, const char *account_id, kg_identity_state *out, kg_arena *a,
		       kg_err *err)
{
	return KG_TX_CALL(tx, err, checks, identity_get, account_id, out, a, err);
}

int kg_tx_identity_put(kg_tx *tx, const kg_identity_state *st, kg_err *err)
{
	return KG_TX_WCALL(tx, err, checks, identity_put, st, err);
}

/* ---- the delivery queue: two kinds, one mechanism ----------------------------
 * kg_tx_outbox_* are the mail kind, kg_tx_webhook_* the webhook kind; each
 * is the queue operation with its kind and its row type. */
int kg_tx_queue_mark_delivered(kg_tx *tx, enum kg_queue_kind kind, const char *account_id,
			       const char *id, int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, mark, kind, account_id, id, true,
			   now_ms ? now_ms : kg_now_ms(), NULL, err);
}

int kg_tx_queue_mark_failed(kg_tx *tx, enum kg_queue_kind kind, const char *account_id,
			    const char *id, int64_t retry_at_ms, const char *error, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, mark, kind, account_id, id, false, retry_at_ms,
			   error ? error : "", err);
}

int kg_tx_queue_retry(kg_tx *tx, enum kg_queue_kind kind, const char *id, int64_t now_ms,
		      kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, retry, kind, id, now_ms ? now_ms : kg_now_ms(), err);
}

int kg_tx_outbox_insert(kg_tx *tx, const kg_outbox *o, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, insert, KG_QUEUE_MAIL, o, err);
}

int kg_tx_outbox_get(kg_tx *tx, const char *account_id, const char *id, kg_outbox *out,
		     kg_arena *a, kg_err *err)
{
	if (!account_id) /* by (account, id): no account, no entry */
		return kg_err_set(err, KG_ENOTFOUND, "no outbox entry \"%s\"", id ? id : "");
	return KG_TX_CALL(tx, err, queue, get, KG_QUEUE_MAIL, account_id, id, out, a, err);
}

int kg_tx_outbox_find(kg_tx *tx, const char *id, kg_outbox *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, get, KG_QUEUE_MAIL, NULL, id, out, a, err);
}

int kg_tx_outbox_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			   kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, claim_due, KG_QUEUE_MAIL, now_ms, lease_ms, limit, a,
			   (void **)out, n, err);
}

int kg_tx_outbox_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				int64_t now_ms, kg_err *err)
{
	return kg_tx_queue_mark_delivered(tx, KG_QUEUE_MAIL, account_id, id, now_ms, err);
}

int kg_tx_outbox_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			     int64_t retry_at_ms, const char *error, kg_err *err)
{
	return kg_tx_queue_mark_failed(tx, KG_QUEUE_MAIL, account_id, id, retry_at_ms, error, err);
}

int kg_tx_outbox_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		      kg_outbox **out, size_t *n, kg_err *err)
{
	if (!account_id) { /* the entries of no account: none */
		*out = NULL;
		*n = 0;
		return 0;
	}
	return KG_TX_CALL(tx, err, queue, list, KG_QUEUE_MAIL, NULL, account_id, limit, a,
			  (void **)out, n, err);
}

int kg_tx_outbox_list_all(kg_tx *tx, const char *state, const char *account_id, size_t limit,
			  kg_arena *a, kg_outbox **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, list, KG_QUEUE_MAIL, state, account_id, limit, a,
			  (void **)out, n, err);
}

int kg_tx_outbox_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return kg_tx_queue_retry(tx, KG_QUEUE_MAIL, id, now_ms, err);
}

int kg_tx_webhook_insert(kg_tx *tx, const kg_webhook *w, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, insert, KG_QUEUE_WEBHOOK, w, err);
}

int kg_tx_webhook_find(kg_tx *tx, const char *id, kg_webhook *out, kg_arena *a, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, get, KG_QUEUE_WEBHOOK, NULL, id, out, a, err);
}

int kg_tx_webhook_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms, size_t limit,
			    kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return KG_TX_WCALL(tx, err, queue, claim_due, KG_QUEUE_WEBHOOK, now_ms, lease_ms, limit,
			   a, (void **)out, n, err);
}

int kg_tx_webhook_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				 int64_t now_ms, kg_err *err)
{
	return kg_tx_queue_mark_delivered(tx, KG_QUEUE_WEBHOOK, account_id, id, now_ms, err);
}

int kg_tx_webhook_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			      int64_t retry_at_ms, const char *error, kg_err *err)
{
	return kg_tx_queue_mark_failed(tx, KG_QUEUE_WEBHOOK, account_id, id, retry_at_ms, error,
				       err);
}

int kg_tx_webhook_list_all(kg_tx *tx, const char *state, const char *account_id,
			   size_t limit, kg_arena *a, kg_webhook **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, list, KG_QUEUE_WEBHOOK, state, account_id, limit, a,
			  (void **)out, n, err);
}

int kg_tx_webhook_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err)
{
	return kg_tx_queue_retry(tx, KG_QUEUE_WEBHOOK, id, now_ms, err);
}

int kg_tx_store_counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err)
{
	return KG_TX_CALL(tx, err, queue, counts, a, out, n, err);
}

int kg_tx_entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		     size_t *len, int64_t *updated_ms, kg_err *err)
{
	return KG_TX_CALL(tx, err, events, entity_get, kind, key, a, blob, len, updated_ms, err);
}

int kg_tx_entity_lock(kg_tx *tx, int kind, uint64_t key, int64_t *version, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, entity_lock, kind, key, version, err);
}

int kg_tx_entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		     int64_t now_ms, kg_err *err)
{
	return KG_TX_WCALL(tx, err, events, entity_put, kind, key, blob, len, now_ms, err);
}

int kg_tx_entity_replace(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
			 int64_t now_ms, kg_err *err)
{
	if (tx->write && tx->s->ops->events->entity_update) {
		int rc = tx->s->ops->events->entity_update(tx, kind, key, blob, len, now_ms, err);
		if (rc != KG_ENOTFOUND)
			return rc;
	}
	return kg_tx_entity_put(tx, kind, key, blob, len, now_ms, err);
}

bool kg_tx_sole_writer(kg_tx *tx)
{
	return tx && tx->write && tx->s->ops->sole_writer && tx->s->ops->sole_writer(tx->conn);
}
