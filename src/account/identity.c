/* The identity check of S5: an agent relays what the customer says; kagi
 * compares it (normalised) with what is registered and answers only pass or
 * fail and the tries left. Three failures block checks for 24 hours; a pass
 * lets that agent unlock within 15 minutes. */
#include "account/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_job {
	const kg_config *cfg;
	const char *case_id, *agent_id;
	const kg_identity_claim *claim;
	kg_identity_answer *out;
};

/* Every field is compared, whatever the others gave, so neither the answer
 * nor its time says which one failed. */
static bool claim_matches(kg_tx *tx, const kg_config *cfg, const kg_account *acc,
			  const kg_card *cards, size_t ncards, const kg_identity_claim *cl,
			  int64_t now, kg_err *err)
{
	bool ok = true;
	ok &= cl->name && kg_account_text_same(cl->name, acc->name);
	ok &= kg_account_address_same(&cl->address, &acc->address);
	ok &= cl->email && acc->email && kg_account_text_same(cl->email, acc->email);
	bool card = false;
	for (size_t i = 0; i < ncards; i++) {
		bool last4 = cl->card_last4 && kg_account_text_same(cl->card_last4, cards[i].last4);
		bool exp = cl->card_exp && kg_account_text_same(cl->card_exp, cards[i].exp);
		card |= last4 & exp;
	}
	ok &= card;
	if (acc->totp_enabled) {
		kg_err e2;
		ok &= cl->totp && kg_account_totp_check(tx, cfg, acc, cl->totp, now, &e2) == 0;
	}
	(void)err;
	return ok;
}

static int check_job(kg_tx *tx, void *ctx, kg_err *err)
{
	struct check_job *j = ctx;
	kg_identity_answer *out = j->out;
	kg_arena a;
	kg_arena_init(&a, 4096);
	int64_t now = kg_now_ms();
	int64_t max = j->cfg->identity_max_failures;
	kg_case c;
	kg_account acc;
	kg_identity_state st;
	kg_card *cards = NULL;
	size_t ncards = 0;
	char actor[KG_ID_MAX + 16];
	snprintf(actor, sizeof(actor), "agent:%s", j->agent_id);
	int rc = kg_tx_case_get(tx, j->case_id, &c, &a, err);
	if (rc || (rc = kg_tx_account_get(tx, c.account_id, &acc, &a, err)) ||
	    (rc = kg_tx_card_list(tx, acc.id, &a, &cards, &ncards, err)))
		goto cleanup;
	rc = kg_tx_identity_get(tx, acc.id, &st, &a, err);
	if (rc == KG_ENOTFOUND) {
		kg_err_clear(err);
		memset(&st, 0, sizeof(st));
		rc = 0;
	}
	if (rc)
		goto cleanup;
	st.account_id = acc.id;
	if (st.blocked_until_ms > now) {
		out->blocked = true;
		out->tries_left = 0;
		out->blocked_until_ms = st.blocked_until_ms;
		goto cleanup;
	}
	if (st.blocked_until_ms && st.blocked_until_ms <= now) {
		st.blocked_until_ms = 0; /* the block ran out: a fresh set of tries */
		st.failures = 0;
	}
	out->pass = claim_matches(tx, j->cfg, &acc, cards, ncards, j->claim, now, err);
	if (out->pass) {
		st.failures = 0;
		st.passed_by = j->agent_id;
		st.pass_until_ms = now + j->cfg->identity_unlock_window_s * 1000;
		out->unlock_until_ms = st.pass_until_ms;
		out->tries_left = max;
	} else {
		st.failures++;
		st.passed_by = NULL;
		st.pass_until_ms = 0;
		if (st.failures >= max)
			st.blocked_until_ms = now + j->cfg->identity_block_s * 1000;
		out->tries_left = max - st.failures > 0 ? max - st.failures : 0;
		out->blocked_until_ms = st.blocked_until_ms;
	}
	st.updated_ms = now;
	if ((rc = kg_tx_identity_put(tx, &st, err)))
		goto cleanup;
	json_t *d = json_pack("{s:s, s:s, s:I}", "case", c.case_id, "result", out->pass ? "pass" : "fail",
			      "tries_left", (json_int_t)out->tries_left);
	if ((rc = kg_account_audit_tx(tx, acc.id, actor, "identity_check", d, now, err)))
		goto cleanup;
	kg_case_event ev = {0, now, actor, NULL,
			    out->pass ? "identity check passed"
				      : (st.blocked_until_ms ? "identity check failed; checks blocked"
							      : "identity check failed")};
	rc = kg_tx_case_history_append(tx, acc.id, c.case_id, &ev, NULL, err);
cleanup:
	kg_arena_release(&a);
	return rc;
}

int kg_account_identity_check(kg_store *s, const kg_config *cfg, const char *case_id,
			      const char *agent_id, const kg_identity_claim *claim,
			      kg_identity_answer *out, kg_err *err)
{
	memset(out, 0, sizeof(*out));
	struct check_job j = {cfg, case_id, agent_id, claim, out};
	return kg_store_write(s, check_job, &j, err);
}

/* ---- what an agent must not read (S5) --------------------------------------*/
/* The secrets so far, longest first, and their lengths. */
struct secrets_build {
	kg_identity_secrets *s;
	size_t len[KG_IDENTITY_SECRETS_MAX];
};

/* Inserted after every secret as long or longer: the order a stable sort
 * of the values as added, longest first, gives. */
static void add_secret(struct secrets_build *b, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	kg_identity_secrets *s = b->s;
	if (n < 3 || s->n >= KG_IDENTITY_SECRETS_MAX)
		return;
	size_t i = s->n++;
	for (; i > 0 && b->len[i - 1] < n; i--) {
		s->v[i] = s->v[i - 1];
		b->len[i] = b->len[i - 1];
	}
	s->v[i] = v;
	b->len[i] = n;
}

/* Each part of a name split at ASCII or ideographic (U+3000) spaces. */
static void add_name_parts(struct secrets_build *b, const char *name, kg_arena *a)
{
	const char *p = name;
	while (p && *p) {
		size_t n = 0;
		while (p[n] && p[n] != ' ' && strncmp(p + n, "\xE3\x80\x80", 3))
			n++;
		if (n >= 3) /* shorter parts are left out (add_secret) */
			add_secret(b, kg_arena_strndup(a, p, n));
		p += n;
		p += *p == ' ' ? 1 : (*p ? 3 : 0);
	}
}

void kg_identity_secrets_of(const kg_account *acc, const kg_card *cards, size_t ncards, kg_arena *a,
			    kg_identity_secrets *out)
{
	struct secrets_build b = {.s = out};
	out->n = 0;
	add_secret(&b, acc->name);
	add_name_parts(&b, acc->name, a);
	add_secret(&b, acc->email);
	add_secret(&b, acc->phone);
	add_secret(&b, acc->address.postal_code);
	add_secret(&b, acc->address.city);
	add_secret(&b, acc->address.line1);
	add_secret(&b, acc->address.line2);
	for (size_t i = 0; i < ncards; i++) {
		add_secret(&b, cards[i].last4);
		add_secret(&b, cards[i].exp);
		add_secret(&b, cards[i].holder_name);
		add_name_parts(&b, cards[i].holder_name, a);
	}
}

int kg_account_identity_secrets_tx(kg_tx *tx, const char *account_id, kg_arena *a,
				   kg_identity_secrets *out, kg_err *err)
{
	kg_account acc;
	kg_card *cards = NULL;
	size_t ncards = 0;
	out->n = 0;
	int rc = kg_tx_account_get(tx, account_id, &acc, a, err);
	if (rc || (rc = kg_tx_card_list(tx, account_id, a, &cards, &ncards, err)))
		return rc;
	kg_identity_secrets_of(&acc, cards, ncards, a, out);
	return 0;
}

struct secrets_read {
	const char *account_id;
	kg_arena *a;
	kg_identity_secrets *out;
};

static int secrets_read(kg_tx *tx, void *ctx, kg_err *err)
{
	struct secrets_read *r = ctx;
	return kg_account_identity_secrets_tx(tx, r->account_id, r->a, r->out, err);
}

int kg_account_identity_secrets(kg_store *s, const char *account_id, kg_arena *a,
				kg_identity_secrets *out, kg_err *err)
{
	struct secrets_read r = {account_id, a, out};
	return kg_store_read(s, secrets_read, &r, err);
}

static bool ascii_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The next occurrence of v in text from p that is a whole word where v's
 * edge is a letter or digit ("4242" not inside "142420" or an id). */
static const char *find_word(const char *text, const char *p, const char *v, size_t vlen)
{
	for (const char *hit = strstr(p, v); hit; hit = strstr(hit + 1, v)) {
		bool before = hit > text && ascii_alnum(hit[-1]) && ascii_alnum(v[0]);
		bool after = ascii_alnum(hit[vlen]) && ascii_alnum(v[vlen - 1]);
		if (!before && !after)
			return hit;
	}
	return NULL;
}

const char *kg_identity_scrub(const kg_identity_secrets *s, const char *text, kg_arena *a)
{
	if (!text)
		return NULL;
	const char *cur = text;
	size_t len = strlen(cur);
	for (size_t i = 0; i < s->n; i++) {
		size_t vlen = strlen(s->v[i]);
		if (vlen > len) /* cannot occur (a masked name, a country code) */
			continue;
		const char *hit = find_word(cur, cur, s->v[i], vlen);
		if (!hit)
			continue;
		kg_buf b = KG_BUF_INIT(strlen(cur) + 16);
		const char *p = cur;
		for (; hit; p = hit + vlen, hit = find_word(cur, p, s->v[i], vlen)) {
			kg_buf_append(&b, p, (size_t)(hit - p));
			kg_buf_puts(&b, "***");
		}
		kg_buf_puts(&b, p);
		cur = kg_arena_strdup(a, b.data ? b.data : "");
		len = strlen(cur);
		kg_buf_release(&b);
	}
	return cur;
}

/* a's copy of the first character of s, "***" and tail (may be "") */
static const char *first_stars(const char *s, const char *tail, kg_arena *a)
{
	size_t first = kg_utf8_first_len(s), tl = strlen(tail);
	char *m = kg_arena_alloc(a, first + 3 + tl + 1); /* zeroed: ends in NUL */
	memcpy(m, s, first);
	memcpy(m + first, "***", 3);
	memcpy(m + first + 3, tail, tl);
	return m;
}

const char *kg_mask_name(const char *name, kg_arena *a)
{
	if (!name || !*name)
		return NULL;
	return first_stars(name, "", a);
}

const char *kg_mask_email(const char *email, kg_arena *a)
{
	const char *at = email ? strrchr(email, '@') : NULL;
	if (!at || at == email)
		return email ? "***" : NULL;
	return first_stars(email, at, a);
}
