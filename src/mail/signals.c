/* The signals of the mail analyser and the verdict: each signal is a general
 * rule with a weight and a plain explanation (docs/mail.md lists them). The
 * parsed view comes from parse.c; nothing here touches MIME or the store. */
#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/internal.h"

/* Weights: positive points say "phishing", negative say "from the shop".
 * A message that claims the shop is phishing from PHISHING_MIN on. */
enum {
	PHISHING_MIN = 50,
	W_SENDER_LOOKALIKE = 60,
	W_SENDER_BRAND_DOMAIN = 50,
	W_SENDER_BRAND_LOCAL = 25,
	W_BRAND_DISPLAY = 50,
	W_BRAND_SUBJECT = 35,
	W_REPLY_TO_FOREIGN = 15,
	W_OFFICIAL_UNAUTH = 25,
	W_AUTH_FAIL = 60,
	W_DKIM_INVALID = 60,
	W_AUTH_PASS = -40,
	W_LINK_IP = 30,
	W_LINK_SHORTENER = 15,
	W_LINK_USERINFO = 40,
	W_LINK_LOOKALIKE = 50,
	W_LINK_BRAND_HOST = 40,
	W_LINK_TEXT_MISMATCH = 35,
	W_LINK_FOREIGN = 20,
	W_LINK_LOGIN_FOREIGN = 30,
	W_GREETING_GENERIC = 10,
	W_GREETING_NOT_NAME = 20,
	W_GREETING_NAME = -10,
	W_COPYRIGHT_YEAR = 15,
	W_VAGUE = 15,
	W_PRESSURE = 15,
	W_MIXED_SCRIPT = 30,
	W_MACHINE_TRANSLATION = 15,
	W_NOT_IN_MC = 40,
	W_IN_MC = -30,
	W_LOCK_NOT_LOCKED = 50,
	W_CALLBACK_PHONE = 20,
	W_OFFICIAL_LINKS_ELSEWHERE = 25,
	W_FROM_MALFORMED = 25,
	W_NOTICE_LURE = 15,
	W_PRIZE_LURE = 20,
	W_DOCUMENT_LURE = 50,
};
/* A message whose own text has at most this many letters says what it
 * has to say elsewhere (an attached document) */
enum { FEW_LETTERS = 300 };

typedef struct an {
	const kg_mail_profile *p;
	kg_arena *a;
	kg_mail_result *r;
	const mail_view *v;
	const kg_mail_query *q;
	const kg_mail_account *acct; /* NULL: no account facts */
	const char *ftext;           /* folded body text */
	size_t flen;
	const char *fsubject;
	bool from_official;
	bool hard;                   /* a signal that rules out "genuine" */
	bool pressure, vague, login_link;
	bool html_links;             /* a foreign link is an HTML anchor (not a bare URL) */
	size_t links_total, links_foreign;
} an;

static bool has_signal(const kg_mail_result *r, const char *id)
{
	for (size_t i = 0; i < r->n_signals; i++)
		if (!strcmp(r->signals[i].id, id))
			return true;
	return false;
}

/* Adds signal id once; hard ones rule out a genuine verdict. */
static void KG_PRINTF(5, 6) sig(an *x, const char *id, int weight, bool hard, const char *fmt, ...)
{
	kg_mail_result *r = x->r;
	if (has_signal(r, id) || r->n_signals >= KG_MAIL_SIGNALS_MAX)
		return;
	kg_mail_signal *s = &r->signals[r->n_signals++];
	s->id = id;
	s->weight = weight;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	/* keep the detail valid UTF-8: "%.60s" may cut a character in half */
	mail_utf8_clean(s->detail);
	r->score += weight;
	if (hard)
		x->hard = true;
}

/* ---- brand and lookalike matching ---------------------------------------- */

/* Undoes digit/letter swaps: 0->o 1->l 3->e 4->a 5->s 7->t 8->b 9->g,
 * rn->m, vv->w. */
static void demangle(const char *s, size_t n, char *out, size_t cap)
{
	static const char from[] = "01345789$@!|";
	static const char to[] = "oleastbgsail";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		char c = (char)tolower((unsigned char)s[i]);
		const char *f = strchr(from, c);
		if (f && c)
			c = to[f - from];
		if (c == 'r' && i + 1 < n && s[i + 1] == 'n') {
			c = 'm';
			i++;
		} else if (c == 'v' && i + 1 < n && s[i + 1] == 'v') {
			c = 'w';
			i++;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

enum { LOOK_NONE = 0, LOOK_BRAND = 1, LOOK_ALIKE = 2 };

/* Edits allowed between a token and a brand token of bl letters: none up
 * to 4 letters, one from 5, two from 9, so that short tokens do not match
 * ordinary words. */
static size_t max_edits(size_t bl)
{
	return bl >= 9 ? 2 : bl >= 5 ? 1 : 0;
}

/* Whether token tok (ASCII) holds brand b (LOOK_BRAND) or something a few
 * edits or swaps away from it (LOOK_ALIKE). In a word (word = true, text
 * rather than a host name) the brand must not be the stem of a longer word:
 * "amazonian" is not "amazon", "amazonsupport" is. */
static int token_vs_brand(const char *tok, size_t tl, const char *b, bool word)
{
	size_t bl = strlen(b), md = max_edits(bl);
	if (tl + md < bl || tl > 63)
		return LOOK_NONE;
	char t[64];
	snprintf(t, sizeof(t), "%.*s", (int)tl, tok);
	for (char *c = t; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	const char *hit = strstr(t, b);
	if (hit) {
		size_t after = tl - (size_t)(hit - t) - bl;
		return !word || after == 0 || after >= 4 ? LOOK_BRAND : LOOK_NONE;
	}
	char d[64];
	demangle(t, tl, d, sizeof(d));
	size_t dl = strlen(d);
	if ((hit = strstr(d, b))) {
		size_t after = dl - (size_t)(hit - d) - bl;
		return !word || after == 0 || after >= 4 ? LOOK_ALIKE : LOOK_NONE;
	}
	if (!md)
		return LOOK_NONE;
	for (size_t i = 0; i + bl - md <= dl; i++)
		for (size_t wl = bl - md; wl <= bl + md; wl++) {
			if (i + wl > dl)
				break;
			/* the window must start and end on the brand's letters to
			 * keep ordinary words out */
			if (d[i] != b[0] && d[i + wl - 1] != b[bl - 1])
				continue;
			if (word && i + wl < dl && dl - i - wl < 4 && isalpha((unsigned char)d[i + wl]))
				continue;
			if ((size_t)mail_edit_distance(d + i, wl, b, bl) <= md)
				return LOOK_ALIKE;
		}
	return LOOK_NONE;
}

/* Best LOOK_* of the ASCII alphanumeric tokens of s against the brand
 * tokens; *which gets the brand token. */
static int text_tokens_vs_brand(const kg_mail_profile *p, const char *s, const char **which,
				const char **tok_out, kg_arena *a, bool word)
{
	int best = LOOK_NONE;
	const char *t = s;
	while (*t) {
		while (*t && !isalnum((unsigned char)*t))
			t++;
		const char *st = t;
		while (*t && (isalnum((unsigned char)*t) || *t == '$' || *t == '@' || *t == '|'))
			t++;
		size_t tl = (size_t)(t - st);
		if (tl < 3)
			continue;
		for (size_t i = 0; i < p->brand_tokens.n; i++) {
			int k = token_vs_brand(st, tl, p->brand_tokens.v[i], word);
			if (k > best || (k && best == LOOK_NONE)) {
				best = k;
				*which = p->brand_tokens.v[i];
				if (tok_out)
					*tok_out = kg_arena_strndup(a, st, tl);
			}
		}
	}
	return best;
}

/* Whether the brand found at sk[at, at + bl) is a word of its own there:
 * not the stem of a longer word ("amazonian", "amazonas"). Letters after
 * it that make a word of their own ("amazonsupport") still count. */
static bool brand_word_at(const char *sk, size_t at, size_t bl)
{
	const char *e = sk + at + bl;
	size_t run = 0;
	while (isalpha((unsigned char)e[run]))
		run++;
	return run == 0 || run >= 4;
}

/* Whether s names the brand in any script (TR39 skeletons see through
 * Cyrillic "а" and friends, template tokens and spaced-out letters are
 * taken out first), or a near miss of a distinctive brand token. */
static bool names_brand(an *x, const char *s, const char **how)
{
	if (!*s)
		return false;
	const char *clean = mail_untemplate(x->a, s);
	const char *sk = mail_skeleton(x->a, clean);
	for (size_t i = 0; i < x->p->brand_skels.n; i++) {
		const char *b = x->p->brand_skels.v[i];
		size_t bl = strlen(b);
		for (const char *h = strstr(sk, b); h; h = strstr(h + 1, b))
			if (brand_word_at(sk, (size_t)(h - sk), bl)) {
				*how = x->p->brands.v[i < x->p->brands.n ? i : 0];
				return true;
			}
	}
	const char *b = NULL, *tok = NULL;
	const char *f = mail_fold(x->a, clean, strlen(clean));
	if (text_tokens_vs_brand(x->p, f, &b, &tok, x->a, true) != LOOK_NONE ||
	    (strcmp(sk, f) && text_tokens_vs_brand(x->p, sk, &b, &tok, x->a, true) != LOOK_NONE)) {
		*how = kg_arena_printf(x->a, "%s (looks like %s)", tok, b);
		return true;
	}
	return false;
}

static bool starts_any(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(s, words[i], strlen(words[i])))
			return true;
	return false;
}

static bool ends_any(const char *s, size_t len, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(words[i]);
		if (len >= k && !memcmp(s + len - k, words[i], k) &&
		    (len == k || !isalpha((unsigned char)s[len - k - 1])))
			return true;
	}
	return false;
}

/* A word of a brand of several words ("prime" of "amazon prime") is an
 * ordinary word alone; followed by a noun of a customer's membership
 * ("Prime Membership", "prime.membership", "Prime_customer") it names the
 * shop's product. Returns that phrase or NULL. */
static const char *brand_word_product(an *x, const char *s)
{
	static const char *const nouns[] = {"membership", "member", "benefit", "account", "customer",
					    "billing", "payment", "renewal", "subscription", "video",
					    "mitgliedschaft", "会員"};
	/* the same nouns before it, in languages that put them first */
	static const char *const nouns_before[] = {
		"suscripcion ", "suscripción ", "membresía ", "membresia ", "assinatura ",
		"abonnement ", "adhésion ", "abbonamento ",
	};
	const char *f = mail_fold(x->a, s, strlen(s));
	for (size_t i = 0; i < x->p->brand_folds.n; i++) {
		const char *b = x->p->brand_folds.v[i];
		const char *sp = strchr(b, ' ');
		if (!sp)
			continue;
		for (const char *w = b; *w;) {
			size_t wl = strcspn(w, " ");
			bool distinct = false;
			for (size_t k = 0; k < x->p->brand_tokens.n; k++)
				distinct |= strlen(x->p->brand_tokens.v[k]) == wl &&
					    !strncmp(x->p->brand_tokens.v[k], w, wl);
			char word[64];
			snprintf(word, sizeof(word), "%.*s", (int)(wl < 63 ? wl : 63), w);
			for (const char *h = wl >= 4 && !distinct ? strstr(f, word) : NULL; h;
			     h = strstr(h + 1, word)) {
				if (h > f && isalpha((unsigned char)h[-1]))
					continue;
				const char *e = h + wl;
				if (*e == '\'' && e[1] == 's')
					e += 2;
				if (*e && strchr(" ._-", *e))
					e++;
				if (starts_any(e, nouns, KG_ARRAY_LEN(nouns)) ||
				    ends_any(f, (size_t)(h - f), nouns_before, KG_ARRAY_LEN(nouns_before)))
					return kg_arena_printf(x->a, "\"%.*s\", the shop's %s",
							       (int)(e - h + (long)strcspn(e, " ._-,")), h,
							       word);
			}
			w += wl;
			while (*w == ' ')
				w++;
		}
	}
	return NULL;
}

/* LOOK_* of a host (sender domain or link host) that is not official. */
static int host_lookalike(an *x, const char *host, const char **why)
{
	const char *uni = mail_idn_unicode(x->a, host);
	const char *sk = mail_skeleton(x->a, uni);
	const mail_strs *off = &x->p->sender_domains;
	for (size_t i = 0; i < off->n; i++)
		if (strcmp(uni, off->v[i]) && !strcmp(sk, mail_skeleton(x->a, off->v[i]))) {
			*why = kg_arena_printf(x->a, "confusable with %s", off->v[i]);
			return LOOK_ALIKE;
		}
	const char *b = NULL, *tok = NULL;
	int k = text_tokens_vs_brand(x->p, uni, &b, &tok, x->a, false);
	if (k == LOOK_ALIKE)
		*why = kg_arena_printf(x->a, "\"%s\" looks like \"%s\"", tok, b);
	else if (k == LOOK_BRAND)
		*why = kg_arena_printf(x->a, "the brand \"%s\" inside a foreign domain", b);
	if (k == LOOK_NONE && strcmp(uni, host)) {
		/* an IDN host whose skeleton spells the brand */
		k = text_tokens_vs_brand(x->p, sk, &b, &tok, x->a, false) ? LOOK_ALIKE : LOOK_NONE;
		if (k)
			*why = kg_arena_printf(x->a, "internationalised name %s spells \"%s\"", uni, b);
	}
	return k;
}

static bool same_org(an *x, const char *d1, const char *d2)
{
	return *d1 && *d2 && !strcmp(mail_registrable(x->a, d1), mail_registrable(x->a, d2));
}

/* ---- senders ------------------------------------------------------------ */
static void check_sender(an *x, const char *role, const mail_addr *ad)
{
	if (!*ad->domain || mail_domain_in(ad->domain, &x->p->sender_domains))
		return;
	const char *why = NULL;
	int k = host_lookalike(x, ad->domain, &why);
	/* The envelope sender is not shown to the reader and is often a bulk
	 * mail service's bounce address (…@amazonses.com for any sender): only
	 * a lookalike of the shop's domain there says something. */
	bool envelope = !strcmp(role, "Return-Path");
	if (envelope && k != LOOK_ALIKE)
		return;
	if (k == LOOK_ALIKE)
		sig(x, "sender_lookalike", W_SENDER_LOOKALIKE, true,
		    "%s address %s: the domain %s imitates the shop's (%s)", role, ad->addr,
		    ad->domain, why);
	else if (k == LOOK_BRAND)
		sig(x, "sender_brand_domain", W_SENDER_BRAND_DOMAIN, true,
		    "%s address %s: %s, not an official domain", role, ad->addr, why);
	const char *b = NULL, *tok = NULL;
	if (envelope)
		return;
	if (text_tokens_vs_brand(x->p, ad->local, &b, &tok, x->a, false) ||
	    text_tokens_vs_brand(x->p, mail_skeleton(x->a, ad->local), &b, &tok, x->a, false))
		sig(x, "sender_brand_local", W_SENDER_BRAND_LOCAL, true,
		    "%s address %s puts \"%s\" before the @ of a domain that is not the shop's",
		    role, ad->addr, tok);
}

/* ---- authentication ------------------------------------------------------- */
static bool trusted_id(an *x, const char *id)
{
	for (size_t i = 0; i < x->p->authserv_ids.n; i++)
		if (!strcmp(id, x->p->authserv_ids.v[i]))
			return true;
	return false;
}

static bool check_auth(an *x)
{
	const mail_view *v = x->v;
	const char *fd = v->from.domain;
	bool pass = false, fail = false;
	for (size_t i = 0; i < v->n_auth; i++) {
		const mail_auth *au = &v->auth[i];
		if (!*au->authserv_id || !trusted_id(x, au->authserv_id))
			continue;
		bool official = mail_domain_in(au->domain, &x->p->sender_domains);
		bool aligned = official && x->from_official && same_org(x, au->domain, fd);
		bool is_pass = !strcmp(au->result, "pass");
		/* a mailing list relays (SPF) and edits (DKIM) what it forwards:
		 * failures of list mail say nothing about the author */
		bool is_fail = !v->via_list &&
			       (!strcmp(au->result, "fail") || !strcmp(au->result, "permerror") ||
				(!strcmp(au->method, "spf") && !strcmp(au->result, "softfail")));
		if (strcmp(au->method, "dmarc") && strcmp(au->method, "dkim") &&
		    strcmp(au->method, "spf"))
			continue;
		if (is_pass && aligned) {
			if (!pass)
				sig(x, "auth_pass", W_AUTH_PASS, false,
				    "%s says %s=pass for %s, aligned with the From domain", au->authserv_id,
				    au->method, au->domain);
			pass = true;
		} else if (is_fail && (official || (x->from_official && !strcmp(au->method, "dmarc")))) {
			sig(x, "auth_fail", W_AUTH_FAIL, true, "%s says %s=%s for %s", au->authserv_id,
			    au->method, au->result, *au->domain ? au->domain : fd);
			fail = true;
		}
	}
	if (v->raw && v->has_dkim_sig && x->p->n_keys) {
		bool ours = false;
		for (size_t i = 0; i < x->p->n_keys && !ours; i++) {
			const char *d = strstr(v->dkim_domains, x->p->keys[i].domain);
			ours = d && (d == v->dkim_domains || d[-1] == ' ') &&
			       d[strlen(x->p->keys[i].domain)] == ' ';
		}
		if (ours) {
			char dom[300] = "", why[160] = "";
			enum mail_dkim_status st =
				mail_dkim_verify(x->p, v->raw, v->raw_len, dom, sizeof(dom), why, sizeof(why));
			char sd[256];
			snprintf(sd, sizeof(sd), "%.*s", (int)strcspn(dom, " "), dom);
			if (st == MAIL_DKIM_PASS && x->from_official && same_org(x, sd, fd)) {
				sig(x, "dkim_verified", W_AUTH_PASS, false,
				    "DKIM signature of %s verified with the shop profile's key", dom);
				pass = true;
			} else if (st == MAIL_DKIM_PASS) {
				sig(x, "dkim_not_aligned", W_OFFICIAL_UNAUTH, true,
				    "DKIM signature of %s verifies but the From domain is %s", dom, fd);
				fail = true;
			} else if (st == MAIL_DKIM_FAIL) {
				sig(x, "dkim_invalid", W_DKIM_INVALID, true,
				    "DKIM signature of %s does not verify: %s", dom, why);
				fail = true;
			}
		}
	}
	if (x->from_official && !pass && !fail)
		sig(x, "official_unauthenticated", W_OFFICIAL_UNAUTH, false,
		    "From uses the official domain %s, but no trusted authentication result "
		    "or DKIM signature with the shop's key confirms it", fd);
	return pass && !fail;
}

/* ---- links ----------------------------------------------------------------- */
static const char *const shorteners[] = {
	"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
	"cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "s.id", "t.ly", "x.gd", "v.gd",
	"bitly.com", "shorte.st", "adf.ly", "lnkd.in", "tinyurl.hu", "qr.net", "urlz.fr",
	"share.google", "amzn.to",
};
static const char *const login_words[] = {
	"login", "log-in", "signin", "sign-in", "sign in", "log in", "logon", "verify",
	"verification", "update", "confirm", "account", "secure", "password", "billing",
	"ログイン", "サインイン", "確認", "更新", "認証", "アカウント", "anmelden", "bestätigen",
	"konto", "verifizieren", "aktualisieren",
};

static bool is_ip_host(const char *h)
{
	if (*h == '[')
		return true;
	int dots = 0;
	for (const char *c = h; *c; c++) {
		if (*c == '.')
			dots++;
		else if (!isdigit((unsigned char)*c))
			return false;
	}
	return dots == 3 || (dots == 0 && *h); /* dotted quad or a bare integer */
}

static bool has_any(const char *s, const char *const *words, size_t n, const char **which)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(s, words[i])) {
			if (which)
				*which = words[i];
			return true;
		}
	return false;
}

/* Host named by a link's shown text when it looks like a URL or a domain. */
static const char *shown_host(an *x, const char *text)
{
	if (!*text || strlen(text) > 200)
		return NULL;
	bool ui;
	if (!strncasecmp(text, "http://", 7) || !strncasecmp(text, "https://", 8) ||
	    !strncasecmp(text, "www.", 4)) {
		const char *h = mail_url_host(x->a, text, &ui);
		return *h ? h : NULL;
	}
	if (strchr(text, ' ') || !strchr(text, '.'))
		return NULL;
	size_t n = strcspn(text, "/");
	char *h = kg_arena_strndup(x->a, text, n);
	int letters = 0;
	for (char *c = h; *c; c++) {
		*c = (char)tolower((unsigned char)*c);
		if (isalpha((unsigned char)*c))
			letters++;
		else if (!isdigit((unsigned char)*c) && *c != '.' && *c != '-')
			return NULL;
	}
	const char *dot = strrchr(h, '.');
	return letters && dot && strlen(dot + 1) >= 2 && isalpha((unsigned char)dot[1]) ? h : NULL;
}

static void check_links(an *x)
{
	const mail_view *v = x->v;
	size_t foreign = 0, total = 0;
	const char *foreign_ex = NULL;
	for (size_t i = 0; i < v->n_links; i++) {
		const mail_link *l = &v->links[i];
		if (!*l->host)
			continue;
		total++;
		bool official = mail_domain_in(l->host, &x->p->link_domains);
		if (l->userinfo)
			sig(x, "link_userinfo", W_LINK_USERINFO, true,
			    "link %.80s hides its real host %s behind a user name", l->href, l->host);
		if (official)
			continue;
		foreign++;
		x->html_links |= l->anchor;
		if (!foreign_ex)
			foreign_ex = l->host;
		const char *reg = mail_registrable(x->a, l->host);
		if (is_ip_host(l->host))
			sig(x, "link_ip", W_LINK_IP, true, "link goes to the bare IP address %s", l->host);
		for (size_t k = 0; k < KG_ARRAY_LEN(shorteners); k++)
			if (!strcmp(reg, shorteners[k]))
				sig(x, "link_shortener", W_LINK_SHORTENER, true,
				    "link goes through the URL shortener %s, hiding where it leads", reg);
		const char *why = NULL;
		int k = host_lookalike(x, l->host, &why);
		if (k == LOOK_ALIKE)
			sig(x, "link_lookalike", W_LINK_LOOKALIKE, true, "link host %s: %s", l->host, why);
		else if (k == LOOK_BRAND)
			sig(x, "link_brand_host", W_LINK_BRAND_HOST, true, "link host %s: %s", l->host, why);
		const char *sh = shown_host(x, l->text);
		if (sh && !same_org(x, sh, l->host))
			sig(x, "link_text_mismatch", W_LINK_TEXT_MISMATCH, true,
			    "link shows %s but goes to %s", sh, l->host);
		const char *ft = mail_fold(x->a, l->text, strlen(l->text));
		for (size_t b = 0; b < x->p->brand_folds.n && !sh; b++)
			if (*x->p->brand_folds.v[b] && strstr(ft, x->p->brand_folds.v[b])) {
				sig(x, "link_text_mismatch", W_LINK_TEXT_MISMATCH, true,
				    "link text \"%.60s\" names the shop but goes to %s", l->text, l->host);
				break;
			}
		const char *lw = NULL;
		const char *fh = mail_fold(x->a, l->href, strlen(l->href));
		const char *path = strstr(fh, "://");
		path = path ? path + 3 + strcspn(path + 3, "/") : fh;
		if (has_any(path, login_words, KG_ARRAY_LEN(login_words), &lw) ||
		    has_any(ft, login_words, KG_ARRAY_LEN(login_words), &lw)) {
			x->login_link = true;
			sig(x, "link_login_foreign", W_LINK_LOGIN_FOREIGN, true,
			    "a \"%s\" link leads outside the shop's domains, to %s", lw, l->host);
		}
	}
	x->links_total = total;
	x->links_foreign = foreign;
	if (foreign && foreign == total && x->from_official)
		sig(x, "official_links_elsewhere", W_OFFICIAL_LINKS_ELSEWHERE, true,
		    "the From address is official, yet every link (%zu) leaves the shop's domains",
		    total);
	if (foreign)
		sig(x, "link_foreign", W_LINK_FOREIGN, true,
		    "%zu of %zu links go outside the shop's official domains (e.g. %s)", foreign,
		    total, foreign_ex);
}

/* ---- wording ------------------------------------------------------------ */
/* All lists are in NFKC-casefolded form (ß -> ss). */
static const char *const pressure_words[] = {
	"24時間以内", "48時間以内", "72時間以内", "時間以内に", "時間内に", "至急", "直ちに",
	"ただちに", "速やかに", "今すぐ", "停止", "制限", "一時的に", "更新してください",
	"凍結", "無効に", "利用できなく", "削除され", "期限切れ", "失効",
	"within 24 hours", "within 48 hours", "within 72 hours", "immediately", "urgent",
	"suspended", "suspend", "on hold", "verify now", "verify your", "confirm your identity",
	"update your payment", "update your account", "update your information",
	"permanently", "last chance", "act now", "failure to", "will be closed",
	"will be terminated", "restricted", "gesperrt", "sperrung", "eingeschränkt", "sofort",
	"innerhalb von 24 stunden", "innerhalb von 48 stunden", "umgehend", "bestätigen sie",
	"verifizieren", "aktualisieren sie", "abgelaufen", "läuft ab", "letzte chance",
	"jetzt bestätigen", "dringend",
};
static const char *const vague_words[] = {
	"更新できません", "承認されません", "問題があり", "問題が発生", "何らかの理由",
	"セキュリティ上の理由", "確認できません", "確認できませんでした", "異常なログイン",
	"異常なアクティビティ", "不正アクセス", "could not be updated", "could not be verified",
	"could not be processed", "unable to verify", "unable to process", "problem with your",
	"unusual activity", "unusual sign-in", "security reasons", "irregular activity",
	"was declined", "payment decline", "was failed", "konnte nicht",
	"ungewöhnliche aktivität", "verdächtige aktivität", "problem mit",
	"aus sicherheitsgründen", "unregelmässigkeiten", "sicherheitsüberprüfung",
	"sicherheits-pin",
};
/* Wording of account-notice lures that need no link (attachment lures,
 * links stripped): sign-in alerts, failed renewals, mismatched payment
 * details, credited gift cards, detected abnormal activity. */
static const char *const notice_lure_words[] = {
	"new sign-in", "sign-in attempt", "sign-in alert", "signed in from", "login attempt",
	"login alert", "logged in from", "new device", "unrecognized device",
	"unrecognised device", "membership renewal", "renewal of your membership",
	"renew your membership", "membership has expired", "membership could not",
	"membership was not renewed", "membership has been cancelled", "unable to renew",
	"could not be renewed", "renewal failed", "failed to renew", "payment information does not match",
	"billing information does not match", "does not match our records", "do not match our records",
	"information did not match", "gift card has been credited", "credited to your account",
	"has been added to your account", "gift card balance", "abnormal activity",
	"abnormal login", "suspicious activity", "activity detected", "activity was detected",
	"サインインがありました", "サインインが検出", "ログインがありました", "ログインが検出",
	"新しい端末", "新しいデバイス", "ログイン試行", "サインイン試行", "会員資格の更新",
	"会員資格が更新", "更新に失敗", "自動更新ができません", "お支払い情報が一致しません",
	"情報が一致しません", "一致しませんでした", "ギフト券がチャージ", "チャージされました",
	"付与されました", "異常なアクティビティ", "不審なアクティビティ", "不審なログイン",
	"異常が検出",
	"update default card", "no valid credit card", "no valid payment method",
	"payment method has expired", "有効なクレジットカード", "支払方法を変更",
	"お支払い方法の情報を更新", "会員資格は失効", "会員資格が失効",
	"neue anmeldung", "anmeldeversuch", "neues gerät", "mitgliedschaft konnte nicht",
	"stimmen nicht überein", "gutgeschrieben",
};
/* Prize and voucher lures: "you won", sweepstakes, free gift cards. */
static const char *const prize_words[] = {
	"you won", "you have won", "you've won", "you have been selected", "winner",
	"congratulations", "sweepstake", "claim your reward", "claim your prize",
	"free gift card", "gift card giveaway", "win a ", "chance to win", "gewinnen sie",
	"gewonnen", "gewinnspiel", "gewinner", "herzlichen glückwunsch", "ausgewählt",
	"ganador", "has ganado", "ganhou", "vous avez gagné",
	"gagnant", "当選", "抽選", "プレゼント", "おめでとうございます",
};
static const char *const lock_words[] = {
	"ロック", "停止", "凍結", "利用制限", "locked", "suspended", "on hold", "disabled",
	"gesperrt", "sperrung",
};
/* Simplified-Chinese forms that Japanese does not use. */
static const char *const simplified_han[] = {
	"您", "们", "这", "帐", "账", "户", "请", "说", "没", "认", "证", "录", "购", "订",
	"单", "务", "费", "邮", "确", "码", "个", "经",
};

static void find_words(an *x, const char *id, int w, const char *const *words, size_t n,
		       bool *flag, const char *what)
{
	const char *hit = NULL;
	if (has_any(x->fsubject, words, n, &hit) || has_any(x->ftext, words, n, &hit)) {
		*flag = true;
		sig(x, id, w, false, "%s: \"%s\"", what, hit);
	}
}

static bool has_kana(const char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++)
		if ((unsigned char)s[i] == 0xE3 && ((unsigned char)s[i + 1] == 0x81 ||
						    (unsigned char)s[i + 1] == 0x82 ||
						    (unsigned char)s[i + 1] == 0x83))
			return true;
	return false;
}

/* Hiragana followed by the katakana long-vowel mark ("じょーほー"). */
static int hiragana_long_vowel(const char *s, size_t n)
{
	int count = 0;
	for (size_t i = 0; i + 5 < n; i++) {
		const unsigned char *u = (const unsigned char *)s + i;
		bool hira = u[0] == 0xE3 && ((u[1] == 0x81 && u[2] >= 0x81) ||
					     (u[1] == 0x82 && u[2] <= 0x96));
		if (hira && u[3] == 0xE3 && u[4] == 0x83 && u[5] == 0xBC)
			count++;
	}
	return count;
}

/* "call us at +1 818 492 9813": a phone number the reader is asked to call. */
static void check_callback(an *x)
{
	static const char *const asks[] = {"call us", "call our", "please call", "call the number",
					   "call customer", "call at", "contact us at", "rufen sie",
					   "anrufen", "お電話", "電話番号", "までお電話"};
	const char *hit = NULL;
	for (size_t i = 0; i < KG_ARRAY_LEN(asks); i++) {
		for (const char *p = strstr(x->ftext, asks[i]); p; p = strstr(p + 1, asks[i])) {
			const char *e = p + strlen(asks[i]) + 80;
			if (e > x->ftext + x->flen)
				e = x->ftext + x->flen;
			int digits = 0;
			for (const char *d = p; d < e; d++) {
				if (isdigit((unsigned char)*d))
					digits++;
				else if (!strchr(" -+().", *d) && digits)
					digits = digits >= 9 ? digits : 0;
				if (digits >= 9)
					break;
			}
			if (digits >= 9) {
				hit = asks[i];
				break;
			}
		}
		if (hit)
			break;
	}
	if (hit)
		sig(x, "callback_phone", W_CALLBACK_PHONE, true,
		    "asks the reader to phone a number (\"%s ...\"): a call-back scam pattern", hit);
}

static void check_language(an *x)
{
	check_callback(x);
	find_words(x, "pressure", W_PRESSURE, pressure_words, KG_ARRAY_LEN(pressure_words),
		   &x->pressure, "pressure to act now");
	find_words(x, "vague_reason", W_VAGUE, vague_words, KG_ARRAY_LEN(vague_words), &x->vague,
		   "a vague or invented reason");
	bool lure = false;
	find_words(x, "notice_lure", W_NOTICE_LURE, notice_lure_words,
		   KG_ARRAY_LEN(notice_lure_words), &lure, "wording of an account-notice lure");
	find_words(x, "prize_lure", W_PRIZE_LURE, prize_words, KG_ARRAY_LEN(prize_words), &lure,
		   "a prize or voucher lure");
	const char *all = kg_arena_printf(x->a, "%s\n%.65536s", x->v->subject, x->v->own_text);
	const char *w = mail_mixed_script_word(x->a, all, strlen(all));
	if (!w && *x->v->from.name)
		w = mail_mixed_script_word(x->a, x->v->from.name, strlen(x->v->from.name));
	const char *m = w ? NULL : mail_marked_word(x->a, all, strlen(all));
	if (!w && !m && *x->v->from.name)
		m = mail_marked_word(x->a, x->v->from.name, strlen(x->v->from.name));
	if (w)
		sig(x, "mixed_script", W_MIXED_SCRIPT, true,
		    "the word \"%s\" mixes alphabets (e.g. Cyrillic letters among Latin ones)", w);
	else if (m)
		sig(x, "mixed_script", W_MIXED_SCRIPT, true,
		    "the word \"%s\" carries combining marks of another script between its "
		    "letters", m);
	if (has_kana(x->ftext, x->flen) || has_kana(x->fsubject, strlen(x->fsubject))) {
		const char *hit = NULL;
		int lv = hiragana_long_vowel(x->ftext, x->flen) +
			 hiragana_long_vowel(x->fsubject, strlen(x->fsubject));
		if (strstr(x->ftext, "親愛なる"))
			sig(x, "machine_translation", W_MACHINE_TRANSLATION, false,
			    "\"親愛なる\" is a word-for-word translation of \"Dear\"");
		else if (has_any(x->ftext, simplified_han, KG_ARRAY_LEN(simplified_han), &hit) ||
			 has_any(x->fsubject, simplified_han, KG_ARRAY_LEN(simplified_han), &hit))
			sig(x, "machine_translation", W_MACHINE_TRANSLATION, false,
			    "Japanese text with the Simplified Chinese character \"%s\"", hit);
		else if (lv >= 2)
			sig(x, "machine_translation", W_MACHINE_TRANSLATION, false,
			    "hiragana written with the katakana long-vowel mark \"ー\" (%d times)", lv);
	}
}

static void strip_spaces(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++)
		if (!isspace((unsigned char)*r) && *r != ',' && *r != '.')
			*w++ = *r;
	*w = '\0';
}

static void check_greeting(an *x)
{
	static const char *const en_de[] = {"dear ", "hello", "hi ", "greetings", "sehr geehrte",
					    "liebe ", "lieber ", "hallo", "guten tag", "estimado",
					    "caro ", "cher "};
	static const char *const generic[] = {"customer", "member", "user", "client", "valued",
					      "sir", "madam", "account holder", "kunde", "kundin",
					      "nutzer", "mitglied", "cliente", "@", "お客", "会員",
					      "各位", "ユーザー", "利用者"};
	const char *t = x->ftext, *end = x->ftext + x->flen;
	int lines = 0;
	for (const char *line = t; line < end && lines < 10;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		while (n && isspace((unsigned char)*line)) {
			line++;
			n--;
		}
		const char *next = nl ? nl + 1 : end;
		if (!n) {
			line = next;
			continue;
		}
		lines++;
		while (n && isspace((unsigned char)line[n - 1]))
			n--;
		char *l = kg_arena_strndup(x->a, line, n > 160 ? 160 : n);
		bool greet = false;
		for (size_t i = 0; i < KG_ARRAY_LEN(en_de) && !greet; i++)
			greet = !strncmp(l, en_de[i], strlen(en_de[i]));
		const char *sama = strstr(l, "様");
		if (!sama)
			sama = strstr(l, "さま");
		if (sama && strlen(l) < 90)
			greet = true;
		if (!greet) {
			line = next;
			continue;
		}
		const char *which = NULL;
		bool gen = has_any(l, generic, KG_ARRAY_LEN(generic), &which) ||
			   strstr(l, "親愛なる") != NULL;
		if (x->acct && x->acct->name[0]) {
			char *name = mail_fold(x->a, x->acct->name, strlen(x->acct->name));
			char *ll = kg_arena_strdup(x->a, l);
			strip_spaces(name);
			strip_spaces(ll);
			if (*name && strstr(ll, name))
				sig(x, "greeting_name", W_GREETING_NAME, false,
				    "greets the customer by the registered name");
			else
				sig(x, "greeting_not_name", W_GREETING_NOT_NAME, false,
				    "greets with \"%.60s\" instead of the registered name", l);
		} else if (gen) {
			sig(x, "greeting_generic", W_GREETING_GENERIC, false,
			    "greets with \"%.60s\" instead of the customer's name", l);
		}
		return;
	}
}

static void check_copyright(an *x)
{
	const char *keys[] = {"©", "(c)", "copyright"};
	int year = 0;
	for (size_t k = 0; k < KG_ARRAY_LEN(keys); k++) {
		for (const char *p = strstr(x->ftext, keys[k]); p; p = strstr(p + 1, keys[k])) {
			const char *e = p + strlen(keys[k]) + 60;
			if (e > x->ftext + x->flen)
				e = x->ftext + x->flen;
			for (const char *d = p; d + 4 <= e; d++) {
				if ((d[0] == '1' && d[1] == '9') || (d[0] == '2' && d[1] == '0')) {
					if (isdigit((unsigned char)d[2]) && isdigit((unsigned char)d[3]) &&
					    !isdigit((unsigned char)d[4]) &&
					    (d == x->ftext || !isdigit((unsigned char)d[-1]))) {
						int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 +
							(d[2] - '0') * 10 + (d[3] - '0');
						if (y > year)
							year = y;
					}
				}
			}
		}
	}
	if (!year)
		return;
	int64_t when = x->v->has_date ? x->v->date_ms
		       : (x->q && x->q->now_ms ? x->q->now_ms : kg_now_ms());
	int dy = kg_time_year(when);
	if (dy != year)
		sig(x, "copyright_year", W_COPYRIGHT_YEAR, false,
		    "the footer says © %d but the message is dated %d", year, dy);
}

static void check_account(an *x)
{
	const kg_mail_account *ac = x->acct;
	if (!ac)
		return;
	if (ac->in_message_center == 1)
		sig(x, "in_message_center", W_IN_MC, false,
		    "the same message is in the account's message center");
	else if (ac->in_message_center == 0)
		sig(x, "not_in_message_center", W_NOT_IN_MC, false,
		    "no such message in the account's message center: every real notice is there");
	const char *hit = NULL;
	if (ac->in_message_center == 1 && ac->lock_lifted == 1) {
		sig(x, "lock_lifted_since", 0, false,
		    "an official lock notice; the lock it announced has since been lifted");
		return;
	}
	if (ac->locked == 0 && (has_any(x->ftext, lock_words, KG_ARRAY_LEN(lock_words), &hit) ||
				has_any(x->fsubject, lock_words, KG_ARRAY_LEN(lock_words), &hit)))
		sig(x, "lock_claim_not_locked", W_LOCK_NOT_LOCKED, true,
		    "the message says the account is \"%s\", but it is not locked and can log in", hit);
}

/* ---- one view --------------------------------------------------------- */
/* Whether raw (unfolded) text may name the brand: an ASCII brand token in
 * any case, a non-ASCII brand as written, or full/half-width forms that only
 * folding can read. False lets an unrelated message skip Unicode folding. */
static bool raw_may_name_brand(const kg_mail_profile *p, const char *t)
{
	if (strstr(t, "\xEF\xBC") || strstr(t, "\xEF\xBD") || strstr(t, "\xEF\xBE"))
		return true;
	for (size_t i = 0; i < p->brand_tokens.n; i++)
		if (strcasestr(t, p->brand_tokens.v[i]))
			return true;
	for (size_t i = 0; i < p->brand_folds.n; i++)
		if (strstr(t, p->brand_folds.v[i]))
			return true;
	return false;
}

/* ---- claims: does the message present itself as the shop? -------------- */
/* Nouns of a customer's dealings with the shop: "Amazon account",
 * "Amazon-Gutschein", "Amazonからのお知らせ" (folded forms). */
static const char *const notice_nouns[] = {
	"account", "order", "purchase", "prime", "membership", "member", "gift", "voucher",
	"coupon", "reward", "pay", "security", "support", "service", "customer", "team", "help",
	"notification", "notice", "alert", "password", "billing", "konto", "bestellung",
	"mitglied", "gutschein", "geschenk", "kunden", "sicherheit", "cuenta", "pedido",
	"conta", "compte", "commande", "cliente", "tarjeta", "アカウント", "注文", "会員", "ギフト",
	"プライム", "セキュリティ", "カスタマー", "お支払", "支払", "ポイント", "サポート", "から",
	"より", "お知らせ", "ご利用",
};
/* Words just before the brand that make the message speak for it to the
 * customer: "your Amazon ...", "お客様のAmazon"; in a subject also "from
 * Amazon" (in body text "data from Amazon" tells of the shop). */
static const char *const claim_before[] = {
	"your ", "ihr ", "ihre ", "ihrem ", "ihres ", "votre ", "vos ", "tu ", "su ", "seu ",
	"sua ", "dear ", "お客様の", "あなたの",
};
static const char *const from_before[] = {"from ", "von "};
/* Words before the brand that make body text the writer's own dealings
 * ("my Amazon account"), not a notice to the reader. */
static const char *const own_before[] = {
	"my ", "our ", "his ", "her ", "their ", "mein ", "meine ", "meinem ", "unser ", "私の",
};
/* Words of a signature right after the brand ("Amazon Customer Service",
 * "Amazon.co.jp カスタマーサービス") and of a legal footer line naming it
 * ("© 2026 Amazon.com, Inc."). */
static const char *const sign_after[] = {
	"team", "customer", "service", "support", "security", "kundendienst", "kundenservice",
	"カスタマー", "チーム", "サービス", "サポート", "事務局", "運営",
};
static const char *const legal_words[] = {
	"©", "(c)", "copyright", "rights reserved", "株式会社", "合同会社",
};
/* Company suffixes: a footer only in the last lines ("Amazon.com, Inc."), as a
 * stock list or news line elsewhere ("Amazon.com Inc. (AMZN) 35.20") is not. */
static const char *const company_words[] = {
	", inc", " inc.", " inc ", " ltd", " llc", " gmbh", " corp.", " sarl", " s.a.", " k.k.",
};
enum { FOOTER_LINES = 12 };


/* Nouns of a customer's own dealings in body text, where the shop's name
 * before a noun of commerce ("Amazon purchases", "data from Amazon") is more
 * often text about the shop: only accounts, memberships and vouchers. */
static const char *const body_nouns[] = {
	"account", "konto", "cuenta", "conta", "compte", "membership", "mitgliedschaft",
	"gift card", "giftcard", "voucher", "gutschein", "geschenkkarte", "password",
	"アカウント", "会員", "ギフト券", "パスワード",
};

/* The brand at f[at, at + bl) speaks to the customer: a notice noun right
 * after it (one separator at most) or a claiming word right before it.
 * In body text (body = true) only the nouns of body_nouns and no "from". */
static bool brand_in_notice(const char *f, size_t at, size_t bl, bool body)
{
	const char *e = f + at + bl;
	while (*e == '\'' || *e == 's' || *e == '-' || *e == ' ' || *e == '.' || *e == '_' ||
	       !strncmp(e, "\xE3\x83\xBB", 3)) /* "・" */
		e += !strncmp(e, "\xE3\x83\xBB", 3) ? 3 : 1;
	if (e > f + at + bl + 3)
		e = f + at + bl + 1;
	if (body && ends_any(f, at, own_before, KG_ARRAY_LEN(own_before)))
		return false;
	if (body ? starts_any(e, body_nouns, KG_ARRAY_LEN(body_nouns))
		 : starts_any(e, notice_nouns, KG_ARRAY_LEN(notice_nouns)))
		return true;
	return ends_any(f, at, claim_before, KG_ARRAY_LEN(claim_before)) ||
	       (!body && ends_any(f, at, from_before, KG_ARRAY_LEN(from_before)));
}

/* Next occurrence of a folded brand in f from *from on, as a word
 * ("amazonian" is none); returns its offset or -1 and the brand's length. */
static long next_brand(const an *x, const char *f, size_t from, size_t *bl)
{
	long best = -1;
	for (size_t i = 0; i < x->p->brand_folds.n; i++) {
		const char *b = x->p->brand_folds.v[i];
		size_t l = strlen(b);
		for (const char *h = strstr(f + from, b); h; h = strstr(h + 1, b)) {
			size_t at = (size_t)(h - f);
			if ((at && isalpha((unsigned char)f[at - 1]) && isalpha((unsigned char)b[0])) ||
			    !brand_word_at(f, at, l))
				continue;
			if (best < 0 || (long)at < best || ((long)at == best && l > *bl)) {
				best = (long)at;
				*bl = l;
			}
			break;
		}
	}
	return best;
}

/* Subject prefixes a reply, forward or list adds: "Re:", "Fwd:", "[list]". */
static const char *skip_subject_prefixes(const char *s)
{
	static const char *const pre[] = {"re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "enc:", "rv:",
					  "sv:", "antw:", "vs:"};
	for (;;) {
		while (*s == ' ')
			s++;
		bool more = false;
		for (size_t i = 0; i < KG_ARRAY_LEN(pre) && !more; i++)
			if (!strncmp(s, pre[i], strlen(pre[i]))) {
				s += strlen(pre[i]);
				more = true;
			}
		if (!more && *s == '[') {
			const char *e = strchr(s, ']');
			if (e && e - s < 40) {
				s = e + 1;
				more = true;
			}
		}
		if (!more)
			return s;
	}
}

/* Whether the (folded, untemplated) subject presents the message as the
 * shop's: it opens with the brand as a title ("Amazon: ...", "【Amazon】"),
 * puts it in brackets, or speaks of the customer's dealings with it
 * ("your Amazon account", "Amazon-Gutschein"). A subject that only tells of
 * the shop ("... reports that Amazon ...") does not. */
static bool subject_claims(const an *x, const char *f)
{
	const char *start = skip_subject_prefixes(f);
	size_t bl = 0;
	for (long at = next_brand(x, f, 0, &bl); at >= 0; at = next_brand(x, f, (size_t)at + 1, &bl)) {
		const char *h = f + at, *e = h + bl;
		if (brand_in_notice(f, (size_t)at, bl, false))
			return true;
		const char *b = h;
		while (b > f && b[-1] == ' ')
			b--;
		if (b > f && strchr("[(<", b[-1]))
			return true;
		if (b - f >= 3 && (!strncmp(b - 3, "【", 3) || !strncmp(b - 3, "「", 3) ||
				   !strncmp(b - 3, "《", 3)))
			return true;
		while (*e == ' ')
			e++;
		/* "Amazon: ..." titles a notice; on a mailing list it names a
		 * thread's topic */
		if (h == start && !x->v->via_list &&
		    (!*e || strchr(":|-!,", *e) || !strncmp(e, "】", 3)))
			return true;
		/* a title suffix: "... | Amazon Prime", "... - Amazon.co.jp" */
		if (!*e && b > f && (b[-1] == '|' || b[-1] == '-' ||
				     (b - f >= 3 && !strncmp(b - 3, "–", 3))))
			return true;
	}
	return false;
}

/* Whether the sender's own words present the message as the shop's: a
 * short signature or footer line naming it ("Amazon.co.jp カスタマーサービス",
 * "© 2026 Amazon.com, Inc.", a line that is the brand alone), or a notice
 * to its customer ("your Amazon account", "Amazonアカウント"). Text about the
 * shop (news, a newsletter's mention, quoted or patched text) does not. */
/* Whether text right after a brand starts a signature word. */
static bool brand_signs(const char *e)
{
	int skipped = 0;
	while (*e && skipped < 3 && strchr(" .-_", *e)) {
		e++;
		skipped++;
	}
	if (!strncmp(e, "co.jp", 5) || !strncmp(e, "com", 3) || !strncmp(e, "de", 2))
		e += strcspn(e, " ");
	while (*e == ' ')
		e++;
	return starts_any(e, sign_after, KG_ARRAY_LEN(sign_after));
}

/* Whether a link shows t[0, tl) as its text ("Amazon" in a list of stores). */
static bool anchor_text(const an *x, const char *t, size_t tl)
{
	for (size_t i = 0; i < x->v->n_links; i++) {
		const mail_link *l = &x->v->links[i];
		if (!l->anchor || !*l->text || strlen(l->text) > 4 * tl + 8)
			continue;
		const char *f = mail_fold(x->a, l->text, strlen(l->text));
		if (strlen(f) == tl && !memcmp(f, t, tl))
			return true;
	}
	return false;
}

static const char *body_claims(const an *x, const char *f, size_t n)
{
	const char *end = f + n;
	int lines = 0, at_line = 0;
	for (const char *c = f; c < end; c++)
		lines += *c == '\n';
	for (const char *line = f; line < end; at_line++) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t ln = nl ? (size_t)(nl - line) : (size_t)(end - line);
		char *l = kg_arena_strndup(x->a, line, ln);
		line = nl ? nl + 1 : end;
		size_t bl = 0;
		long at = next_brand(x, l, 0, &bl);
		if (at < 0)
			continue;
		char *t = l;
		while (*t && strchr(" \t-*_|=#>", *t))
			t++;
		size_t tl = strlen(t);
		while (tl && strchr(" \t-*_|=#.,!", t[tl - 1]))
			tl--;
		if (tl <= 60 && ((l + at == t && tl == bl && !anchor_text(x, t, tl)) ||
				 brand_signs(l + at + bl) ||
				 has_any(t, legal_words, KG_ARRAY_LEN(legal_words), NULL) ||
				 (lines - at_line <= FOOTER_LINES &&
				  has_any(t, company_words, KG_ARRAY_LEN(company_words), NULL))))
			return kg_arena_printf(x->a, "a signature line \"%.60s\" names the shop", t);
		for (; at >= 0; at = next_brand(x, l, (size_t)at + 1, &bl))
			if (brand_in_notice(l, (size_t)at, bl, true))
				return kg_arena_printf(x->a, "the text speaks of the customer's \"%.*s\"",
						       (int)(bl + 12 < strlen(l + at) ? bl + 12 : strlen(l + at)),
						       l + at);
	}
	return NULL;
}

/* Whether the text may hide the brand behind a filler token inside words
 * (cheap test: a run of 6+ capitals and digits with a digit, glued to a
 * lower-case letter, as in "AIJMXD2EVWLmazon"). */
static bool filler_inside_word(const mail_view *v)
{
	const char *t = v->own_text, *end = t + v->own_len;
	for (const char *p = t; p < end; p++) {
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			continue;
		const char *e = p;
		int digits = 0;
		while (e < end && (isupper((unsigned char)*e) || isdigit((unsigned char)*e)))
			digits += isdigit((unsigned char)*e++) != 0;
		if (e - p >= 6 && digits && e < end && islower((unsigned char)*e))
			return true;
		p = e;
	}
	return false;
}

/* Whether s has a word of the shop's brands as a word of its own: the
 * brand's distinctive tokens and also the words of a brand of several words
 * ("prime" of "Amazon Prime", 4+ letters), which alone are ordinary words. */
static bool brand_word_in(an *x, const char *s)
{
	const char *u = mail_untemplate(x->a, s);
	const char *f = mail_fold(x->a, u, strlen(u));
	for (size_t i = 0; i < x->p->brand_folds.n; i++) {
		const char *b = x->p->brand_folds.v[i];
		for (const char *w = b; *w;) {
			size_t wl = 0;
			while (isalpha((unsigned char)w[wl]))
				wl++;
			if (!wl) {
				w++;
				continue;
			}
			char word[64];
			snprintf(word, sizeof(word), "%.*s", (int)(wl < 63 ? wl : 63), w);
			for (const char *h = wl >= 4 ? strstr(f, word) : NULL; h; h = strstr(h + 1, word))
				if ((h == f || !isalpha((unsigned char)h[-1])) &&
				    !isalpha((unsigned char)h[wl]))
					return true;
			w += wl;
		}
	}
	return false;
}

/* Words that make a sender's name or subject a notice: a document under a
 * word of the brand is a lure only when it presents itself as one. */
static const char *const document_notice_words[] = {
	"account", "payment", "pay ", "billing", "invoice", "statement", "membership",
	"renewal", "notification", "notice", "alert", "security", "order", "decline",
	"suspend", "verify", "verification", "confirm", "refund", "konto", "zahlung",
	"rechnung", "cuenta", "pago", "factura", "conta", "pagamento", "compte", "paiement",
	"アカウント", "お支払", "請求", "注文", "会員",
};

static bool document_notice(an *x, const char *s)
{
	const char *f = mail_fold(x->a, s, strlen(s));
	for (size_t i = 0; i < KG_ARRAY_LEN(document_notice_words); i++)
		if (strstr(f, document_notice_words[i]))
			return true;
	return false;
}

/* A domain name shown in a display name ("Amazons.co.jp", "service@amazon.com
 * <x@elsewhere>"): the first one that is official or imitates the shop, with
 * *why saying which; NULL when none. */
static const char *shown_domain(an *x, const char *name, const char **why)
{
	const char *f = mail_fold(x->a, name, strlen(name));
	for (const char *p = f; *p;) {
		while (*p && !isalnum((unsigned char)*p))
			p++;
		const char *st = p;
		int dots = 0;
		while (*p && (isalnum((unsigned char)*p) || *p == '-' ||
			      (*p == '.' && isalnum((unsigned char)p[1])))) {
			dots += *p == '.';
			p++;
		}
		if (!dots || p - st > 253)
			continue;
		const char *tld = p;
		while (tld > st && tld[-1] != '.')
			tld--;
		bool alpha_tld = p - tld >= 2;
		for (const char *c = tld; c < p; c++)
			alpha_tld &= isalpha((unsigned char)*c) != 0;
		if (!alpha_tld)
			continue;
		char *host = kg_arena_strndup(x->a, st, (size_t)(p - st));
		if (mail_domain_in(host, &x->p->sender_domains)) {
			*why = "an official domain of the shop";
			return host;
		}
		if (host_lookalike(x, host, why) != LOOK_NONE)
			return host;
	}
	return NULL;
}

static size_t letters_in(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += isalpha((unsigned char)s[i]) || ((unsigned char)s[i] >= 0xC0);
	return k;
}

static void analyse_view(an *x)
{
	const mail_view *v = x->v;
	kg_mail_result *r = x->r;
	x->ftext = "";
	const char *subject = mail_untemplate(x->a, v->subject);
	x->fsubject = mail_fold(x->a, subject, strlen(subject));
	x->from_official = v->has_from && mail_domain_in(v->from.domain, &x->p->sender_domains);
	snprintf(r->message_id, sizeof(r->message_id), "%s", v->message_id ? v->message_id : "");
	mail_utf8_clean(r->message_id);
	if (v->via_list)
		sig(x, "list_rewrite", 0, false, "%s; judged on %s", v->list_detail,
		    v->has_from ? v->from.addr : "no author");

	const char *claim = NULL;
	if (x->from_official)
		claim = kg_arena_printf(x->a, "From address %s is in an official domain", v->from.addr);
	if (v->has_from)
		check_sender(x, "From", &v->from);
	for (size_t i = 0; i < v->n_others; i++) {
		check_sender(x, v->other_role[i], &v->others[i]);
		if (x->from_official && !mail_domain_in(v->others[i].domain, &x->p->sender_domains) &&
		    !same_org(x, v->others[i].domain, v->from.domain))
			sig(x, "reply_to_foreign", W_REPLY_TO_FOREIGN, true,
			    "%s %s is not an official address", v->other_role[i], v->others[i].addr);
	}
	if (!claim && (has_signal(r, "sender_lookalike") || has_signal(r, "sender_brand_domain") ||
		       has_signal(r, "sender_brand_local")))
		claim = "a sender address imitates the shop";
	const char *how = NULL;
	const char *shown = NULL, *shown_why = NULL;
	if (v->has_from && !x->from_official &&
	    (shown = shown_domain(x, v->from.name, &shown_why)))
		how = kg_arena_printf(x->a, "it shows the domain %s: %s", shown, shown_why);
	if (v->has_from && !x->from_official &&
	    (shown || names_brand(x, v->from.name, &how) ||
	     (v->from_malformed && names_brand(x, v->from_raw, &how)) ||
	     (how = brand_word_product(x, v->from.name)) ||
	     (how = brand_word_product(x, v->from.addr)))) {
		sig(x, "brand_display_name", W_BRAND_DISPLAY, true,
		    "the sender is called \"%s\" (%s) but writes from %s, not an official domain",
		    v->from.name, how, *v->from.domain ? v->from.domain : "no domain");
		claim = claim ? claim : "the sender's name is the shop's";
	}
	size_t bl = 0;
	/* a reply in a thread ("Re: your Amazon order") is a conversation about
	 * the shop: its subject's wording claims nothing */
	const char *fs = x->fsubject;
	while (*fs == ' ')
		fs++;
	bool reply = v->in_thread && (!strncmp(fs, "re:", 3) || !strncmp(fs, "aw:", 3) ||
				      !strncmp(fs, "sv:", 3) || !strncmp(fs, "antw:", 5));
	if (!x->from_official && !v->has_patch &&
	    ((names_brand(x, v->subject, &how) &&
	      (claim || v->from_malformed || next_brand(x, x->fsubject, 0, &bl) < 0 ||
	       (!reply && subject_claims(x, x->fsubject)))) ||
	     (how = brand_word_product(x, subject)))) {
		sig(x, "brand_subject", W_BRAND_SUBJECT, true,
		    "the subject names the shop (%s) but the sender %s is not official", how,
		    v->has_from && *v->from.domain ? v->from.domain : "(none)");
		claim = claim ? claim : "the subject presents the message as the shop's";
	}
	/* The message is an attached document under the shop's name: little
	 * text of its own, a PDF/RTF/HTML attachment, and the sender's name or
	 * the subject carries a word of the brand ("Prime US e-Center") */
	if (!claim && !x->from_official && v->n_documents && !v->has_patch &&
	    letters_in(v->own_text, v->own_len) <= FEW_LETTERS &&
	    ((v->has_from && brand_word_in(x, v->from.name)) || brand_word_in(x, v->subject)) &&
	    ((v->has_from && document_notice(x, v->from.name)) || document_notice(x, v->subject))) {
		sig(x, "document_lure", W_DOCUMENT_LURE, true,
		    "%d attached document(s) carry the message, whose own text is a few words, "
		    "under a name or subject with a word of the shop's brand and of a notice "
		    "(\"%.60s\")",
		    v->n_documents, brand_word_in(x, v->from.name) ? v->from.name : v->subject);
		claim = "an attached document speaks under the shop's name";
	}
	if (!claim && !raw_may_name_brand(x->p, v->own_text) && !filler_inside_word(v))
		return; /* cheap: no brand spelling and nothing to fold */
	const char *own = mail_unfiller(x->a, v->own_text, v->own_len > 262144 ? 262144 : v->own_len);
	x->ftext = mail_fold(x->a, own, strlen(own));
	x->flen = strlen(x->ftext);
	if (!claim && !v->has_patch)
		claim = body_claims(x, x->ftext, x->flen);
	r->claims_shop = claim != NULL;
	if (!r->claims_shop)
		return;
	if (v->from_malformed)
		sig(x, "from_malformed", W_FROM_MALFORMED, true,
		    "the From header \"%.80s\" is not one clean name and address (read as %s)",
		    v->from_raw, *v->from.addr ? v->from.addr : "no address");
	check_language(x);
	check_links(x);
	if (v->links_capped)
		sig(x, "links_capped", 0, false, "more than %d links: the first %d were analysed",
		    KG_MAIL_LINKS_MAX, KG_MAIL_LINKS_MAX);
	mail_view_fingerprint(x->a, v, r->fingerprint);
	r->authenticated = v->has_from && check_auth(x);
	check_copyright(x);
}

/* Whether the signals say the message imitates a notice of the shop, not
 * merely comes from its domain: one link, authentication or text trick, or
 * two kinds of notice wording. Unauthenticated mail from the exact official
 * domain is phishing only then (else an employee's own mail would be). */
static bool imitates_notice(const an *x)
{
	static const char *const strong[] = {
		"link_ip", "link_shortener", "link_userinfo", "link_lookalike", "link_brand_host",
		"link_text_mismatch", "reply_to_foreign", "auth_fail", "dkim_invalid",
		"dkim_not_aligned", "mixed_script", "callback_phone", "lock_claim_not_locked",
		"not_in_message_center",
	};
	static const char *const wording[] = {
		"pressure", "vague_reason", "notice_lure", "prize_lure", "greeting_generic",
		"greeting_not_name", "machine_translation",
	};
	for (size_t i = 0; i < KG_ARRAY_LEN(strong); i++)
		if (has_signal(x->r, strong[i]))
			return true;
	if (x->html_links && has_signal(x->r, "official_links_elsewhere"))
		return true;
	/* every link goes to the shop itself: wording alone imitates nothing a
	 * reader could be led away by (the shop's own newsletters say "act now") */
	if (x->links_total && !x->links_foreign)
		return false;
	int kinds = 0;
	for (size_t i = 0; i < KG_ARRAY_LEN(wording); i++)
		kinds += has_signal(x->r, wording[i]);
	return kinds >= 2;
}

static void decide(an *x)
{
	kg_mail_result *r = x->r;
	if (!r->claims_shop)
		r->verdict = KG_MAIL_UNRELATED;
	else if (r->authenticated && !x->hard)
		r->verdict = x->q && x->q->account_id && (!x->acct || x->acct->in_message_center != 1)
			     ? KG_MAIL_SUSPICIOUS : KG_MAIL_GENUINE;
	else if (r->authenticated)
		r->verdict = KG_MAIL_SUSPICIOUS; /* from the shop's servers, but something is off */
	else if (r->score >= PHISHING_MIN && (!x->from_official || imitates_notice(x)))
		r->verdict = KG_MAIL_PHISHING;
	else
		r->verdict = KG_MAIL_SUSPICIOUS;
}

void mail_view_fingerprint(kg_arena *a, const mail_view *v, char out[65])
{
	char *f = mail_fold(a, v->fp_text, v->fp_len);
	char *w = f;
	for (char *r = f; *r; r++)
		if (!isspace((unsigned char)*r))
			*w++ = *r;
	*w = '\0';
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)f, (size_t)(w - f), NULL, 0);
	kg_hex(h, sizeof(h), out);
}

static int run_view(const kg_mail_profile *p, kg_arena *a, const mail_view *v,
		    const kg_mail_query *q, kg_mail_result *r, kg_mail_account *acct_buf,
		    kg_err *err)
{
	memset(r, 0, sizeof(*r));
	an x = {.p = p, .a = a, .r = r, .v = v, .q = q};
	analyse_view(&x);
	if (!r->claims_shop) {
		decide(&x);
		return 0;
	}
	if (q && q->account_id && q->lookup) {
		memset(acct_buf, 0, sizeof(*acct_buf));
		acct_buf->exists = acct_buf->locked = acct_buf->in_message_center = -1;
		int rc = q->lookup(q->lookup_ctx, q->account_id, r->message_id, r->fingerprint,
				   acct_buf, err);
		if (rc)
			return rc;
		x.acct = acct_buf;
		if (acct_buf->exists == 0)
			sig(&x, "account_unknown", 0, false, "no account \"%s\"", q->account_id);
	}
	check_account(&x);
	check_greeting(&x);
	decide(&x);
	return 0;
}

int mail_analyse(const kg_mail_profile *p, kg_arena *a, mail_parsed *m,
		 const kg_mail_query *q, kg_mail_result *r, kg_err *err)
{
	kg_mail_account acct;
	int rc = run_view(p, a, &m->outer, q, r, &acct, err);
	if (rc || !m->has_inner)
		return rc;
	kg_mail_result *in = kg_arena_alloc(a, sizeof(*in));
	rc = run_view(p, a, &m->inner, q, in, &acct, err);
	if (rc)
		return rc;
	/* A forwarded original decides when it claims the shop and the outer
	 * message does not, or when it is the more alarming of the two. */
	if (in->claims_shop && (!r->claims_shop || in->verdict == KG_MAIL_PHISHING ||
				in->score > r->score)) {
		*r = *in;
		r->forwarded = true;
		an x = {.p = p, .a = a, .r = r, .v = &m->inner, .q = q};
		sig(&x, "forwarded", 0, false, "judged on the forwarded original (%s) from %s",
		    m->inner_how, m->inner.from.addr);
	}
	return 0;
}
