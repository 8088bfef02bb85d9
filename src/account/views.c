/* Read-only views, each one store read: an account's view (its one writer
 * and field list, full for staff and masked for agents: S5), its message
 * center and the support queue. */
#include "account/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- an account's view --------------------------------------------------*/

struct show_job {
	const char *id;
	kg_arena *arena;
	kg_account_rows *rows;
	kg_identity_secrets *secrets; /* also read when set */
};

static int show_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct show_job *j = ctx;
	kg_account_rows *r = j->rows;
	int rc = kg_tx_account_get(tx, j->id, &r->acc, j->arena, err);
	rc = rc ? rc : kg_tx_card_list(tx, j->id, j->arena, &r->cards, &r->ncards, err);
	rc = rc ? rc : kg_tx_lock_list_active(tx, j->id, kg_now_ms(), j->arena, &r->locks, &r->nlocks, err);
	if (!rc && j->secrets) /* from the rows just read: not read twice */
		kg_identity_secrets_of(&r->acc, r->cards, r->ncards, j->arena, j->secrets);
	return rc;
}

int kg_account_read_rows(kg_store *store, const char *id, kg_arena *a, kg_account_rows *out,
			 kg_identity_secrets *secrets, kg_err *err)
{
	*out = (kg_account_rows){0};
	struct show_job j = {.id = id, .arena = a, .rows = out, .secrets = secrets};
	int rc = kg_store_read(store, show_job, &j, err);
	if (rc == KG_ENOTFOUND)
		rc = kg_err_field(err, KG_ENOTFOUND, "id", "no account \"%s\"", id);
	return rc;
}

json_t *kg_account_evidence_json(const char *text)
{
	if (!text || !*text)
		return NULL;
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	if (json_is_object(j))
		return j;
	json_decref(j);
	return json_pack("{s:s}", "text", text);
}

/* The view is written as text, member by member, never built as a jansson
 * object: the bytes json_dumps (JSON_COMPACT) gives of the object, which
 * jansson built for every view before (kagi account show and the tests
 * compare them). */
#define NOT_UTF8 KG_EINVAL /* a text json_string would refuse (v->rc) */

struct view {
	const kg_account_view_mask *mask; /* NULL: the full view */
	kg_arena *a;
	kg_buf *b;
	int rc;
	bool first;      /* no member yet in the object or array just opened */
	int64_t last_ms; /* the last time written, and its text */
	char last_ts[KG_TIME_STR_MAX];
	/* keys, brackets and literals not yet in b: one append for each run
	 * of them between two texts */
	char stage[64];
	size_t staged;
};

/* What the agent's view shows of a text member of the full view (S5). */
enum agent_sees {
	AS_IS,      /* ids, codes, times: as they are */
	SCRUBBED,   /* with the account's secrets as "***" */
	NAME_MASK,  /* kg_mask_name, scrubbed ("" stays "") */
	EMAIL_MASK, /* kg_mask_email, scrubbed */
	SET_OR_NOT, /* "***" when set, scrubbed */
	UNSEEN,     /* left out */
};

static void flush(struct view *v)
{
	if (v->staged && !v->rc)
		v->rc = kg_buf_append(v->b, v->stage, v->staged);
	v->staged = 0;
}

static void put_lit(struct view *v, const char *s, size_t n)
{
	if (n > sizeof(v->stage) - v->staged) {
		flush(v);
		if (n > sizeof(v->stage)) {
			if (!v->rc)
				v->rc = kg_buf_append(v->b, s, n);
			return;
		}
	}
	memcpy(v->stage + v->staged, s, n);
	v->staged += n;
}

static void put_open(struct view *v, char c)
{
	put_lit(v, &c, 1);
	v->first = true;
}

static void put_close(struct view *v, char c)
{
	put_lit(v, &c, 1);
	v->first = false;
}

/* ,"key": (no comma first in its object); the keys below are short */
static void put_key(struct view *v, const char *key)
{
	size_t n = strlen(key);
	if (n + 4 > sizeof(v->stage) - v->staged)
		flush(v);
	char *p = v->stage + v->staged;
	if (!v->first)
		*p++ = ',';
	*p++ = '"';
	memcpy(p, key, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	v->staged = (size_t)(p - v->stage);
	v->first = false;
}

/* j (stolen) as json_dumps writes it; NULL: KG_ENOMEM (as json_pack then) */
static void put_json(struct view *v, json_t *j)
{
	char *d = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	flush(v);
	if (!v->rc)
		v->rc = d ? kg_buf_puts(v->b, d) : KG_ENOMEM;
	free(d);
}

/* s as a JSON string as json_dumps writes it (NULL: null). kg_buf_json_str
 * escapes as jansson does but for the control characters other than \n, \r
 * and \t (jansson: \b, \f, \u001F), which no account field may hold; a
 * string with one is written by jansson. Not UTF-8: NOT_UTF8. */
static void put_str(struct view *v, const char *s)
{
	if (!s)
		return put_lit(v, "null", 4);
	size_t n = strlen(s);
	if (v->rc)
		return;
	if (kg_utf8_valid_prefix(s, n) != n) {
		v->rc = NOT_UTF8;
		return;
	}
	bool plain = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
			return put_json(v, json_string(s));
		plain = plain && c >= 0x20 && c != '"' && c != '\\';
	}
	if (!plain) {
		flush(v);
		v->rc = v->rc ? v->rc : kg_buf_json_str(v->b, s, n);
		return;
	}
	put_lit(v, "\"", 1);
	flush(v);
	v->rc = v->rc ? v->rc : kg_buf_append(v->b, s, n);
	put_lit(v, "\"", 1);
}

/* What the agent sees of s (how not UNSEEN). */
static const char *agent_value(struct view *v, const char *s, enum agent_sees how)
{
	const char *m;
	switch (how) {
	case AS_IS:
		return s;
	case NAME_MASK:
		m = s ? kg_mask_name(s, v->a) : NULL;
		s = m ? m : s;
		break;
	case EMAIL_MASK:
		s = kg_mask_email(s, v->a);
		break;
	case SET_OR_NOT:
		s = s ? "***" : NULL;
		break;
	default:
		break;
	}
	return kg_identity_scrub(v->mask->secrets, s, v->a);
}

/* A text member: as it is in the full view, as `how` says in the agent's. */
static void put_text(struct view *v, const char *key, const char *s, enum agent_sees how)
{
	if (v->mask && how == UNSEEN)
		return;
	put_key(v, key);
	put_str(v, v->mask ? agent_value(v, s, how) : s);
}

/* A time member (0: null), the same in both views. */
static void put_time(struct view *v, const char *key, int64_t ms)
{
	put_key(v, key);
	if (!ms)
		return put_lit(v, "null", 4);
	/* an account's times are often one, or in one second (the account and
	 * the cards it was created with) */
	put_str(v, kg_time_format_next(ms, &v->last_ms, v->last_ts));
}

static void put_bool(struct view *v, const char *key, bool b)
{
	put_key(v, key);
	put_lit(v, b ? "true" : "false", b ? 4 : 5);
}

static void put_evidence(struct view *v, const char *key, const char *text)
{
	put_key(v, key);
	json_t *ev = kg_account_evidence_json(text);
	if (!ev)
		return put_lit(v, "null", 4);
	if (v->mask && v->mask->evidence)
		v->mask->evidence(v->mask->ctx, v->mask->secrets, ev);
	put_json(v, ev);
}

static void put_lock(struct view *v, const kg_lock *l)
{
	put_open(v, '{');
	put_text(v, "id", l->lock_id, AS_IS);
	put_text(v, "reason", l->reason, AS_IS);
	put_text(v, "kind", l->kind, AS_IS);
	put_time(v, "created", l->created_ms);
	put_time(v, "expires", l->expires_ms);
	put_evidence(v, "evidence", l->evidence);
	put_close(v, '}');
}

static void put_card(struct view *v, const kg_card *c)
{
	put_open(v, '{');
	put_text(v, "holder_name", c->holder_name, UNSEEN);
	put_text(v, "last4", c->last4, UNSEEN);
	put_text(v, "exp", c->exp, UNSEEN);
	put_text(v, "fingerprint", c->fingerprint ? c->fingerprint : "", AS_IS);
	put_time(v, "added", c->created_ms);
	put_close(v, '}');
}

/* One element of the locks or cards: in the full view, one with a text
 * that is not UTF-8 is left out (json_pack's refusal of that element, which
 * json_array_append_new then skipped); in the agent's it fails the view. */
static void put_element(struct view *v, void (*put)(struct view *, const void *), const void *e)
{
	if (!v->mask) /* what is staged stays when the element is left out */
		flush(v);
	size_t at = v->b->len;
	bool first = v->first;
	if (!first)
		put_lit(v, ",", 1);
	v->first = false;
	put(v, e);
	if (v->rc == NOT_UTF8 && !v->mask) {
		v->b->len = at;
		if (v->b->data)
			v->b->data[at] = '\0';
		v->staged = 0;
		v->first = first;
		v->rc = 0;
	}
}

static void put_lock_element(struct view *v, const void *l)
{
	put_lock(v, l);
}

static void put_card_element(struct view *v, const void *c)
{
	put_card(v, c);
}

/* The one list of an account's members, in their order. */
static void put_view(struct view *v, const kg_account_rows *r)
{
	const kg_account *acc = &r->acc;
	const kg_address *ad = &acc->address;
	put_open(v, '{');
	put_text(v, "id", acc->id, AS_IS);
	put_text(v, "name", acc->name, NAME_MASK);
	put_text(v, "email", acc->email, EMAIL_MASK);
	put_text(v, "phone", acc->phone, SET_OR_NOT);
	put_text(v, "lang", acc->lang, AS_IS);
	put_key(v, "address");
	put_open(v, '{');
	put_text(v, "postal_code", ad->postal_code, UNSEEN);
	put_text(v, "region", ad->region, SCRUBBED);
	put_text(v, "city", ad->city, UNSEEN);
	put_text(v, "line1", ad->line1, UNSEEN);
	put_text(v, "line2", ad->line2, UNSEEN);
	put_text(v, "country", ad->country, SCRUBBED);
	put_close(v, '}');
	put_bool(v, "has_password", acc->password_hash != NULL);
	put_bool(v, "totp_enabled", acc->totp_enabled);
	put_time(v, "created", acc->created_ms);
	put_time(v, "updated", acc->updated_ms);
	put_bool(v, "locked", r->nlocks > 0);
	put_key(v, "locks");
	put_open(v, '[');
	for (size_t i = 0; i < r->nlocks; i++)
		put_element(v, put_lock_element, &r->locks[i]);
	put_close(v, ']');
	put_key(v, "cards");
	put_open(v, '[');
	for (size_t i = 0; i < r->ncards; i++)
		if (r->cards[i].last4 && r->cards[i].exp) /* json_pack refused such a card */
			put_element(v, put_card_element, &r->cards[i]);
	put_close(v, ']');
	if (v->mask)
		put_bool(v, "masked", true);
	put_close(v, '}');
	flush(v);
}

int kg_account_view_write(const kg_account_rows *r, const kg_account_view_mask *mask,
			  kg_arena *a, kg_buf *out, kg_err *err)
{
	size_t at = out->len;
	struct view v = {.mask = mask, .a = a, .b = out, .last_ms = INT64_MIN};
	put_view(&v, r);
	if (!v.rc)
		return 0;
	out->len = at;
	if (out->data)
		out->data[at] = '\0';
	if (v.rc == KG_ELIMIT)
		return kg_err_set(err, KG_ELIMIT, "the account's view is too large");
	return kg_err_set(err, KG_ENOMEM, "out of memory"); /* NOT_UTF8 too, as before */
}

int kg_account_show(kg_store *store, const char *id, kg_buf *out, kg_err *err)
{
	kg_arena arena;
	kg_arena_init(&arena, 4096);
	kg_account_rows rows;
	int rc = kg_account_read_rows(store, id, &arena, &rows, NULL, err);
	rc = rc ? rc : kg_account_view_write(&rows, NULL, &arena, out, err);
	kg_arena_release(&arena);
	return rc;
}

/* ---- the message center, the support queue ------------------------------*/

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
