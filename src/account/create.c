/* Creating an account (POST /v1/accounts, kagi account create): the body's
 * fields checked and named on error, card numbers refused, the password
 * hashed (Argon2id), one write with its audit entry. The account's view it
 * answers with is views.c's. */
#include "account/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* ---- account validation ------------------------------------------------*/

/* Card numbers never enter kagi: true when s holds a run of 12 or more
 * digits (spaces and hyphens between them ignored). */
static bool has_long_digit_run(const char *s)
{
	int run = 0;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (++run >= 12)
				return true;
		} else if (*s != ' ' && *s != '-') {
			run = 0;
		}
	}
	return false;
}

/* A fingerprint may hold digits; it is refused only when it is, separators
 * aside, 13..19 digits passing the Luhn check: a card number. */
static bool looks_like_pan(const char *s)
{
	int digits[32], n = 0;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n == 32)
				return false;
			digits[n++] = *s - '0';
		} else if (*s != ' ' && *s != '-') {
			return false;
		}
	}
	if (n < 13 || n > 19)
		return false;
	int sum = 0;
	for (int i = 0; i < n; i++) {
		int d = digits[n - 1 - i];
		if (i % 2 == 1 && (d *= 2) > 9)
			d -= 9;
		sum += d;
	}
	return sum % 10 == 0;
}

static int check_text(const char *field, const char *v, kg_err *err)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return kg_err_field(err, KG_EINVAL, field, "contains a control character");
	if (!*v)
		return kg_err_field(err, KG_EINVAL, field, "must not be empty");
	return 0;
}

/* A text field: at most max bytes, not empty, no control characters. *out
 * stays NULL when an optional field is absent. */
static int text_field(const json_t *o, const char *prefix, const char *key, bool required,
		      size_t max, const char **out, kg_err *err)
{
	*out = NULL;
	int rc = kg_json_str(o, prefix, key, required, max, out, err);
	if (rc || !*out)
		return rc;
	char path[KG_ERR_FIELD_MAX];
	snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
	return check_text(path, *out, err);
}

static int req_text(const json_t *o, const char *prefix, const char *key, size_t max,
		    const char **out, kg_err *err)
{
	return text_field(o, prefix, key, true, max, out, err);
}

static int opt_text(const json_t *o, const char *prefix, const char *key, size_t max,
		    const char **out, kg_err *err)
{
	return text_field(o, prefix, key, false, max, out, err);
}

static int check_email(const char *e, kg_err *err)
{
	const char *at = strchr(e, '@');
	if (!at || at == e || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
	    strpbrk(e, " \t<>()[],;:\\\""))
		return kg_err_field(err, KG_EINVAL, "email", "is not an email address");
	return 0;
}

static int check_id(const char *field, const char *id, kg_err *err)
{
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
			return kg_err_field(err, KG_EINVAL, field,
					    "may hold only letters, digits and - _ . :");
	return 0;
}

static int parse_address(const json_t *body, kg_address *a, kg_err *err)
{
	json_t *o = NULL;
	int rc = kg_json_obj(body, NULL, "address", true, &o, err);
	rc = rc ? rc : req_text(o, "address", "postal_code", 32, &a->postal_code, err);
	rc = rc ? rc : req_text(o, "address", "region", KG_ADDRESS_FIELD_MAX, &a->region, err);
	rc = rc ? rc : req_text(o, "address", "city", KG_ADDRESS_FIELD_MAX, &a->city, err);
	rc = rc ? rc : req_text(o, "address", "line1", KG_ADDRESS_FIELD_MAX, &a->line1, err);
	rc = rc ? rc : opt_text(o, "address", "line2", KG_ADDRESS_FIELD_MAX, &a->line2, err);
	rc = rc ? rc : req_text(o, "address", "country", 2, &a->country, err);
	if (rc == 0 && (strlen(a->country) != 2 || a->country[0] < 'A' || a->country[0] > 'Z' ||
			a->country[1] < 'A' || a->country[1] > 'Z'))
		rc = kg_err_field(err, KG_EINVAL, "address.country",
				  "expected an ISO 3166 code of two capital letters, e.g. \"JP\"");
	return rc;
}

static const char *const forbidden_card_keys[] = {"number", "pan", "card_number", "cvv", "cvc",
						  "cvv2", "security_code"};

static int parse_card(const json_t *c, size_t i, kg_card *card, kg_err *err)
{
	char prefix[32], field[64];
	snprintf(prefix, sizeof(prefix), "cards[%zu]", i);
	if (!json_is_object(c))
		return kg_err_field(err, KG_EINVAL, prefix, "expected an object");
	for (size_t k = 0; k < KG_ARRAY_LEN(forbidden_card_keys); k++)
		if (json_object_get(c, forbidden_card_keys[k])) {
			snprintf(field, sizeof(field), "%s.%s", prefix, forbidden_card_keys[k]);
			return kg_err_field(err, KG_EINVAL, field,
					    "kagi never takes card numbers or codes; send last4, exp and fingerprint");
		}
	int rc = req_text(c, prefix, "holder_name", KG_NAME_MAX, &card->holder_name, err);
	rc = rc ? rc : req_text(c, prefix, "last4", 4, &card->last4, err);
	rc = rc ? rc : req_text(c, prefix, "exp", 5, &card->exp, err);
	rc = rc ? rc : req_text(c, prefix, "fingerprint", KG_ID_MAX, &card->fingerprint, err);
	if (rc)
		return rc;
	if (has_long_digit_run(card->holder_name)) {
		snprintf(field, sizeof(field), "%s.holder_name", prefix);
		return kg_err_field(err, KG_EINVAL, field, "looks like a card number");
	}
	if (looks_like_pan(card->fingerprint)) {
		snprintf(field, sizeof(field), "%s.fingerprint", prefix);
		return kg_err_field(err, KG_EINVAL, field,
				    "looks like a card number; send the shop's card fingerprint");
	}
	const char *l4 = card->last4;
	if (strlen(l4) != 4 || strspn(l4, "0123456789") != 4) {
		snprintf(field, sizeof(field), "%s.last4", prefix);
		return kg_err_field(err, KG_EINVAL, field, "expected exactly 4 digits");
	}
	const char *e = card->exp;
	if (strlen(e) != 5 || e[2] != '/' || strspn(e, "0123456789") != 2 ||
	    strspn(e + 3, "0123456789") != 2 || !((e[0] == '0' && e[1] >= '1') ||
						   (e[0] == '1' && e[1] <= '2'))) {
		snprintf(field, sizeof(field), "%s.exp", prefix);
		return kg_err_field(err, KG_EINVAL, field, "expected \"MM/YY\"");
	}
	return 0;
}

struct create_job {
	kg_account acc;
	kg_card cards[KG_CARDS_PER_ACCOUNT_MAX];
	size_t ncards;
	const char *actor;
};

static int create_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct create_job *j = ctx;
	int rc = kg_tx_account_insert(tx, &j->acc, err);
	for (size_t i = 0; rc == 0 && i < j->ncards; i++)
		rc = kg_tx_card_add(tx, &j->cards[i], err);
	if (rc)
		return rc;
	json_t *detail = json_pack("{s:i}", "cards", (json_int_t)j->ncards);
	char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	kg_audit_entry e = {.account_id = j->acc.id, .actor = j->actor, .action = "account_create",
			    .detail = d ? d : "{}"};
	rc = kg_tx_audit_append(tx, &e, NULL, err);
	free(d);
	return rc;
}

/* A creation between its two halves (kg_account_create_start/finish):
 * the parsed fields point into the body, which the caller keeps. */
struct kg_account_creation {
	struct create_job j;
	char idbuf[KG_STORE_ID_MAX];
	char pwhash[KG_PWHASH_MAX];
	kg_store *store;
	kg_store_ticket *ticket;
};

/* The body's fields checked into c->j (errors name the field), the
 * password hashed. */
static int prepare(struct kg_account_creation *c, const kg_config *cfg, const json_t *body,
		   const char *actor, kg_err *err)
{
	struct create_job *j = &c->j;
	const char *password = NULL;
	json_t *cards = NULL;
	int rc = opt_text(body, NULL, "id", KG_ID_MAX, &j->acc.id, err);
	rc = rc ? rc : (j->acc.id ? check_id("id", j->acc.id, err) : 0);
	rc = rc ? rc : req_text(body, NULL, "name", KG_NAME_MAX, &j->acc.name, err);
	rc = rc ? rc : req_text(body, NULL, "email", KG_EMAIL_MAX, &j->acc.email, err);
	rc = rc ? rc : check_email(j->acc.email, err);
	rc = rc ? rc : opt_text(body, NULL, "phone", 32, &j->acc.phone, err);
	rc = rc ? rc : opt_text(body, NULL, "lang", 8, &j->acc.lang, err);
	rc = rc ? rc : parse_address(body, &j->acc.address, err);
	rc = rc ? rc : kg_json_str(body, NULL, "password", false, KG_PASSWORD_MAX, &password, err);
	rc = rc ? rc : kg_json_arr(body, NULL, "cards", false, KG_CARDS_PER_ACCOUNT_MAX, &cards, err);
	if (rc)
		return rc;
	if (has_long_digit_run(j->acc.name))
		return kg_err_field(err, KG_EINVAL, "name", "looks like a card number");
	if (password && strlen(password) < 8)
		return kg_err_field(err, KG_EINVAL, "password", "must be at least 8 bytes");
	for (size_t i = 0; cards && i < json_array_size(cards); i++) {
		if ((rc = parse_card(json_array_get(cards, i), i, &j->cards[i], err)))
			return rc;
		j->ncards++;
	}
	if (!j->acc.id)
		j->acc.id = kg_store_new_id(c->idbuf, "acc");
	if (!j->acc.lang)
		j->acc.lang = "en";
	for (size_t i = 0; i < j->ncards; i++)
		j->cards[i].account_id = j->acc.id;
	if (password) {
		if ((rc = kg_password_hash(password, strlen(password), cfg->argon2_ops,
					   cfg->argon2_mem_kib, c->pwhash, err)))
			return rc;
		j->acc.password_hash = c->pwhash;
	}
	j->actor = actor;
	return 0;
}

static void creation_end(struct kg_account_creation *c)
{
	kg_store_ticket_free(c->ticket);
	c->ticket = NULL;
	sodium_memzero(c->pwhash, sizeof(c->pwhash));
}

/* The write's result as kg_account_create answers it. */
static int created(struct kg_account_creation *c, int rc, kg_buf *out, kg_err *err)
{
	if (rc == KG_ECONFLICT && !err->field[0])
		kg_err_field(err, KG_ECONFLICT, "id", "an account with this id or email exists");
	if (rc == 0 && out)
		rc = kg_account_show(c->store, c->j.acc.id, out, err);
	return rc;
}

int kg_account_create(kg_store *store, const kg_config *cfg, const json_t *body, const char *actor,
		      kg_buf *out, kg_err *err)
{
	struct kg_account_creation c;
	memset(&c, 0, sizeof(c));
	c.store = store;
	int rc = prepare(&c, cfg, body, actor, err);
	rc = rc ? rc : created(&c, kg_store_write(store, create_job, &c.j, err), out, err);
	sodium_memzero(c.pwhash, sizeof(c.pwhash));
	return rc;
}

int kg_account_create_start(kg_store *store, const kg_config *cfg, const json_t *body,
			    const char *actor, void (*then)(void *), void *then_ctx,
			    kg_arena *arena, kg_account_creation **out, kg_err *err)
{
	*out = NULL;
	/* in the caller's arena: 1.2 KB, which malloc would serve from its
	 * large bins (each such malloc consolidating the thread's fastbins) */
	struct kg_account_creation *c = kg_arena_alloc(arena, sizeof(*c));
	c->store = store;
	int rc = prepare(c, cfg, body, actor, err);
	rc = rc ? rc : kg_store_write_start_then(store, create_job, &c->j, then, then_ctx, &c->ticket, err);
	if (rc) {
		creation_end(c);
		return rc;
	}
	*out = c;
	return 0;
}

int kg_account_create_finish(kg_account_creation *c, kg_buf *out, kg_err *err)
{
	int rc = created(c, kg_store_write_wait(c->store, c->ticket, err), out, err);
	creation_end(c);
	return rc;
}
