/* Support cases (S3, S8): open with a lock ticket, a customer token or by an
 * agent; notes and documents (SHA-256 kept); states with history; queue
 * position and a wait estimate. Works while the account is locked. */
#include "account/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[KG_CASE_STATE_COUNT] = {
	[KG_CASE_OPEN] = "open",
	[KG_CASE_WAITING_ON_CUSTOMER] = "waiting_on_customer",
	[KG_CASE_IN_REVIEW] = "in_review",
	[KG_CASE_RESOLVED] = "resolved",
};

const char *kg_case_state_name(enum kg_case_state s)
{
	return (unsigned)s < KG_CASE_STATE_COUNT ? state_names[s] : NULL;
}

int kg_case_state_parse(const char *name, enum kg_case_state *out)
{
	for (int i = 0; name && i < KG_CASE_STATE_COUNT; i++)
		if (!strcmp(name, state_names[i])) {
			*out = (enum kg_case_state)i;
			return 0;
		}
	return KG_EINVAL;
}

int kg_case_transition_check(enum kg_case_state from, enum kg_case_state to, kg_err *err)
{
	static const unsigned allowed[KG_CASE_STATE_COUNT] = {
		[KG_CASE_OPEN] = 1u << KG_CASE_WAITING_ON_CUSTOMER | 1u << KG_CASE_IN_REVIEW |
				 1u << KG_CASE_RESOLVED,
		[KG_CASE_WAITING_ON_CUSTOMER] = 1u << KG_CASE_IN_REVIEW | 1u << KG_CASE_RESOLVED,
		[KG_CASE_IN_REVIEW] = 1u << KG_CASE_WAITING_ON_CUSTOMER | 1u << KG_CASE_RESOLVED,
		[KG_CASE_RESOLVED] = 1u << KG_CASE_OPEN,
	};
	if ((unsigned)from >= KG_CASE_STATE_COUNT || (unsigned)to >= KG_CASE_STATE_COUNT)
		return kg_err_field(err, KG_EINVAL, "state", "unknown case state");
	if (!(allowed[from] & (1u << to)))
		return kg_err_field(err, KG_ECONFLICT, "state", "a case cannot go from %s to %s",
				    state_names[from], state_names[to]);
	return 0;
}

/* ---- open ----------------------------------------------------------------*/
struct open_job {
	const kg_config *cfg;
	const char *account_id, *subject, *text, *actor;
	enum kg_case_open_mode mode;
	bool existing;
	char *id_out;
};

static int open_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct open_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_account acc;
	int64_t now = kg_now_ms();
	int rc = kg_tx_account_get(tx, j->account_id, &acc, &a, err);
	if (rc)
		goto cleanup;
	kg_case *cases = NULL;
	size_t n = 0, open = 0;
	const char *newest = NULL;
	if (j->mode != KG_CASE_OPEN_STAFF) {
		if ((rc = kg_tx_case_list(tx, j->account_id, NULL, 0, &a, &cases, &n, err)))
			goto cleanup;
		for (size_t i = 0; i < n; i++)
			if (strcmp(cases[i].state, "resolved")) {
				open++;
				newest = cases[i].case_id;
			}
	}
	if (j->mode == KG_CASE_OPEN_ONE && newest) {
		kg_account_copy(j->id_out, KG_STORE_ID_MAX, newest);
		j->existing = true;
		goto cleanup;
	}
	/* Each case mails a notice: a customer gets a few open ones, not 50. */
	if (j->mode == KG_CASE_OPEN_CUSTOMER && (int64_t)open >= j->cfg->cases_open_max) {
		rc = kg_err_set(err, KG_ECONFLICT,
				"%zu cases of this account are open (the newest: %s): add a note to "
				"an open case instead",
				open, newest);
		goto cleanup;
	}
	/* The lock it is about: the newest active one. */
	kg_lock_refs locks;
	if ((rc = kg_account_active_locks(tx, j->account_id, now, &locks, err)))
		goto cleanup;
	char id[KG_STORE_ID_MAX];
	kg_store_new_id(id, "cs");
	kg_case c;
	memset(&c, 0, sizeof(c));
	c.account_id = j->account_id;
	c.case_id = id;
	c.state = "open";
	c.subject = j->subject;
	c.body = j->text;
	c.contact = j->actor;
	c.lock_id = locks.n ? locks.v[locks.n - 1].id : NULL;
	c.created_ms = c.updated_ms = now;
	if ((rc = kg_tx_case_insert(tx, &c, err)))
		goto cleanup;
	kg_case_event ev = {0, now, j->actor, "open", j->text};
	if ((rc = kg_tx_case_history_append(tx, j->account_id, id, &ev, NULL, err)))
		goto cleanup;
	if ((rc = kg_account_audit_tx(tx, j->account_id, j->actor, "case_open",
				      json_pack("{s:s}", "case", id), now, err)))
		goto cleanup;
	kg_account_notice_ctx nc = kg_account_notice_base(j->cfg, &acc, now);
	nc.case_id = id;
	nc.case_state = "open";
	if ((rc = kg_account_notify_tx(tx, j->cfg, &acc, KG_ACCOUNT_NOTICE_CASE_UPDATE, &nc, err)))
		goto cleanup;
	kg_account_copy(j->id_out, KG_STORE_ID_MAX, id);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_case_open(kg_store *s, const kg_config *cfg, const char *account_id,
			 const char *subject, const char *text, const char *actor,
			 enum kg_case_open_mode mode, char case_id_out[KG_STORE_ID_MAX],
			 bool *existing, kg_err *err)
{
	if (!text || !*text)
		return kg_err_field(err, KG_EINVAL, "text", "say what the case is about");
	if (strlen(text) > KG_CASE_TEXT_MAX)
		return kg_err_field(err, KG_ELIMIT, "text", "at most %d bytes", KG_CASE_TEXT_MAX);
	if (subject && strlen(subject) > KG_NAME_MAX)
		return kg_err_field(err, KG_ELIMIT, "subject", "at most %d bytes", KG_NAME_MAX);
	struct open_job j = {cfg, account_id, subject, text, actor, mode, false, case_id_out};
	int rc = kg_store_write(s, open_job, &j, err);
	if (existing)
		*existing = j.existing;
	return rc;
}

struct owner_read {
	const char *case_id;
	char *out;
};

static int owner_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct owner_read *r = ctx;
	kg_arena a;
	kg_arena_init(&a, 1024);
	kg_case c;
	int rc = kg_tx_case_get(tx, r->case_id, &c, &a, err);
	if (!rc)
		kg_account_copy(r->out, KG_ID_MAX + 1, c.account_id);
	kg_arena_release(&a);
	return rc;
}

int kg_account_case_owner(kg_store *s, const char *case_id, char account_out[KG_ID_MAX + 1],
			  kg_err *err)
{
	struct owner_read r = {case_id, account_out};
	return kg_store_read(s, owner_read, &r, err);
}

/* ---- notes, documents, states ------------------------------------------------*/
struct change_job {
	const kg_config *cfg;
	const char *case_id, *actor, *note, *assignee;
	bool from_customer;
	bool set_state;
	enum kg_case_state to;
	const kg_case_document *doc;
};

static int change_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct change_job *j = ctx;
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_case c;
	kg_account acc;
	int64_t now = kg_now_ms();
	int rc = kg_tx_case_get(tx, j->case_id, &c, &a, err);
	if (rc || (rc = kg_tx_account_get(tx, c.account_id, &acc, &a, err)))
		goto cleanup;
	enum kg_case_state from;
	if (kg_case_state_parse(c.state, &from)) {
		rc = kg_err_set(err, KG_EINTERNAL, "case %s has an unknown state", j->case_id);
		goto cleanup;
	}
	enum kg_case_state to = from;
	if (j->set_state) {
		if ((rc = kg_case_transition_check(from, j->to, err)))
			goto cleanup;
		to = j->to;
	} else if (j->from_customer) {
		if (from == KG_CASE_RESOLVED) {
			rc = kg_err_set(err, KG_ECONFLICT, "the case is resolved; open a new one");
			goto cleanup;
		}
		if (from == KG_CASE_WAITING_ON_CUSTOMER)
			to = KG_CASE_IN_REVIEW; /* the customer answered */
	}
	if (j->doc) {
		kg_case_document *docs = NULL;
		size_t n = 0;
		if ((rc = kg_tx_case_document_list(tx, c.account_id, c.case_id, &a, &docs, &n, err)))
			goto cleanup;
		if (n >= KG_DOCUMENTS_PER_CASE_MAX) {
			rc = kg_err_set(err, KG_ELIMIT, "a case holds at most %d documents",
					KG_DOCUMENTS_PER_CASE_MAX);
			goto cleanup;
		}
		kg_case_document d = *j->doc;
		d.account_id = c.account_id;
		d.case_id = c.case_id;
		d.created_ms = now;
		if ((rc = kg_tx_case_document_add(tx, &d, err)))
			goto cleanup;
	}
	bool changed = to != from;
	if (changed || j->assignee) {
		if ((rc = kg_tx_case_update(tx, c.account_id, c.case_id, changed ? state_names[to] : NULL,
					    j->assignee, now, err)))
			goto cleanup;
	}
	kg_case_event ev = {0, now, j->actor, changed ? state_names[to] : NULL, j->note};
	if ((rc = kg_tx_case_history_append(tx, c.account_id, c.case_id, &ev, NULL, err)))
		goto cleanup;
	if (changed) {
		if ((rc = kg_account_audit_tx(tx, c.account_id, j->actor, "case_state",
					      json_pack("{s:s, s:s, s:s}", "case", c.case_id, "from",
							state_names[from], "to", state_names[to]),
					      now, err)))
			goto cleanup;
		kg_account_notice_ctx nc = kg_account_notice_base(j->cfg, &acc, now);
		nc.case_id = c.case_id;
		nc.case_state = state_names[to];
		nc.note = j->note;
		rc = kg_account_notify_tx(tx, j->cfg, &acc, KG_ACCOUNT_NOTICE_CASE_UPDATE, &nc, err);
	}
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_case_note(kg_store *s, const kg_config *cfg, const char *case_id,
			 const char *text, const char *actor, bool from_customer, kg_err *err)
{
	if (!text || !*text)
		return kg_err_field(err, KG_EINVAL, "text", "the note is empty");
	if (strlen(text) > KG_CASE_TEXT_MAX)
		return kg_err_field(err, KG_ELIMIT, "text", "at most %d bytes", KG_CASE_TEXT_MAX);
	struct change_job j = {cfg, case_id, actor, text, NULL, from_customer, false, 0, NULL};
	return kg_store_write(s, change_job, &j, err);
}

static bool allowed_type(const char *t)
{
	static const char *const types[] = {"application/pdf", "image/png", "image/jpeg", "text/plain"};
	for (size_t i = 0; t && i < KG_ARRAY_LEN(types); i++)
		if (!strncmp(t, types[i], strlen(types[i])) &&
		    (t[strlen(types[i])] == '\0' || t[strlen(types[i])] == ';'))
			return true;
	return false;
}

int kg_account_case_document(kg_store *s, const kg_config *cfg, const char *case_id,
			     const char *name, const char *content_type, const void *data,
			     size_t len, const char *actor, bool from_customer,
			     char sha256_hex[65], kg_err *err)
{
	if (!allowed_type(content_type))
		return kg_err_field(err, KG_EINVAL, "content_type",
				    "documents must be application/pdf, image/png, image/jpeg or text/plain");
	if (len == 0)
		return kg_err_set(err, KG_EINVAL, "the document is empty");
	if (len > KG_DOCUMENT_MAX)
		return kg_err_set(err, KG_ELIMIT, "a document has at most %d bytes", KG_DOCUMENT_MAX);
	if (name && strlen(name) > KG_NAME_MAX)
		return kg_err_field(err, KG_ELIMIT, "name", "at most %d bytes", KG_NAME_MAX);
	kg_case_document d;
	memset(&d, 0, sizeof(d));
	char id[KG_STORE_ID_MAX];
	d.doc_id = kg_store_new_id(id, "doc");
	d.name = name ? name : "document";
	char ct[64];
	kg_account_copy(ct, sizeof(ct), content_type);
	ct[strcspn(ct, "; ")] = '\0';
	d.content_type = ct;
	crypto_hash_sha256(d.sha256, data, len);
	d.bytes = data;
	d.len = len;
	kg_hex(d.sha256, sizeof(d.sha256), sha256_hex);
	char note[KG_NAME_MAX + 128];
	snprintf(note, sizeof(note), "document %s (%s, %zu bytes, sha256 %.16s…)", d.name, ct, len,
		 sha256_hex);
	struct change_job j = {cfg, case_id, actor, note, NULL, from_customer, false, 0, &d};
	return kg_store_write(s, change_job, &j, err);
}

int kg_account_cases_resolve_lock_tx(kg_tx *tx, const kg_config *cfg, const char *account_id,
				     const char *lock_id, const char *actor, size_t *n_out,
				     kg_err *err)
{
	kg_arena a;
	kg_arena_init(&a, 4096);
	kg_case *cases = NULL;
	size_t n = 0, resolved = 0;
	int rc = kg_tx_case_list(tx, account_id, NULL, 0, &a, &cases, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!cases[i].lock_id || strcmp(cases[i].lock_id, lock_id) ||
		    !strcmp(cases[i].state, state_names[KG_CASE_RESOLVED]))
			continue;
		struct change_job j = {cfg, cases[i].case_id, actor,
				       "The lock this case is about was lifted.", NULL,
				       false, true, KG_CASE_RESOLVED, NULL};
		rc = change_job(tx, &j, err);
		resolved += rc == 0;
	}
	if (n_out)
		*n_out = resolved;
	kg_arena_release(&a);
	return rc;
}

int kg_account_case_set_state(kg_store *s, const kg_config *cfg, const char *case_id,
			      enum kg_case_state to, const char *note, const char *actor,
			      const char *assignee, kg_err *err)
{
	if (note && strlen(note) > KG_CASE_TEXT_MAX)
		return kg_err_field(err, KG_ELIMIT, "note", "at most %d bytes", KG_CASE_TEXT_MAX);
	struct change_job j = {cfg, case_id, actor, note, assignee, false, true, to, NULL};
	return kg_store_write(s, change_job, &j, err);
}

/* ---- view ----------------------------------------------------------------*/
struct view_read {
	const char *case_id;
	kg_arena *a;
	kg_case_view *out;
};

static int view_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct view_read *r = ctx;
	kg_case_view *v = r->out;
	int64_t mean = 0;
	int rc = kg_tx_case_get(tx, r->case_id, &v->c, r->a, err);
	if (rc || (rc = kg_tx_case_history_list(tx, v->c.account_id, v->c.case_id, r->a, &v->history,
						&v->nhistory, err)))
		return rc;
	if ((rc = kg_tx_case_document_list(tx, v->c.account_id, v->c.case_id, r->a, &v->docs,
					   &v->ndocs, err)))
		return rc;
	if ((rc = kg_tx_case_queue_position(tx, v->c.account_id, v->c.case_id, &v->queue_position, err)))
		return rc;
	if ((rc = kg_tx_case_handling_time(tx, KG_CASE_HANDLING_SAMPLE, &mean, &v->handled_sample, err)))
		return rc;
	/* A case that does not wait for staff (waiting on the customer,
	 * resolved) has no estimate, not an estimate of 0. */
	v->wait_estimate_s = -1;
	if (v->queue_position > 0 && v->handled_sample > 0)
		v->wait_estimate_s = v->queue_position * mean / 1000;
	return 0;
}

int kg_account_case_view(kg_store *s, const char *case_id, kg_arena *a, kg_case_view *out,
			 kg_err *err)
{
	memset(out, 0, sizeof(*out));
	struct view_read r = {case_id, a, out};
	return kg_store_read(s, view_read, &r, err);
}

struct doc_read {
	const char *case_id, *doc_id;
	kg_arena *a;
	kg_case_document *out;
};

static int doc_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct doc_read *r = ctx;
	kg_case c;
	int rc = kg_tx_case_get(tx, r->case_id, &c, r->a, err);
	return rc ? rc : kg_tx_case_document_get(tx, c.account_id, c.case_id, r->doc_id, r->out, r->a, err);
}

int kg_account_case_document_get(kg_store *s, const char *case_id, const char *doc_id,
				 kg_arena *a, kg_case_document *out, kg_err *err)
{
	struct doc_read r = {case_id, doc_id, a, out};
	return kg_store_read(s, doc_read, &r, err);
}
