/* The shop profile: who the shop is in mail (brands, official domains,
 * trusted authserv-ids, DKIM keys). Parsing and lookups only; the file
 * format is documented in docs/mail.md. */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/internal.h"

static int strs_add(mail_strs *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return KG_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	char *c = malloc(n + 1);
	if (!c)
		return KG_ENOMEM;
	memcpy(c, s, n);
	c[n] = '\0';
	l->v[l->n++] = c;
	return 0;
}

static bool strs_has(const mail_strs *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static void strs_release(mail_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void kg_mail_profile_free(kg_mail_profile *p)
{
	if (!p)
		return;
	mail_dkim_lib_free(p);
	free(p->name);
	strs_release(&p->brands);
	strs_release(&p->brand_folds);
	strs_release(&p->brand_skels);
	strs_release(&p->brand_tokens);
	strs_release(&p->sender_domains);
	strs_release(&p->link_domains);
	strs_release(&p->authserv_ids);
	for (size_t i = 0; i < p->n_keys; i++) {
		free(p->keys[i].domain);
		free(p->keys[i].selector);
		free(p->keys[i].record);
	}
	free(p->keys);
	free(p);
}

const char *kg_mail_profile_name(const kg_mail_profile *p)
{
	return p && p->name ? p->name : "";
}

static bool valid_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || !strchr(d, '.'))
		return false;
	for (const char *c = d; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '.'))
			return false;
	return true;
}

/* Base64 body of a PEM public key, or the value itself when it is bare
 * base64. Returns a malloc'd DNS-style record or NULL. */
static char *key_record(const char *v)
{
	kg_buf b = KG_BUF_INIT(KG_MAIL_DKIM_KEY_MAX + 64);
	const char *p = v;
	bool pem = strstr(v, "-----BEGIN") != NULL;
	if (pem) {
		if (strstr(v, "PRIVATE KEY"))
			return NULL; /* never a private key in a profile */
		p = strstr(v, "-----BEGIN");
		p = strchr(p, '\n');
		if (!p)
			return NULL;
	}
	if (kg_buf_puts(&b, "v=DKIM1; k=rsa; p="))
		goto fail;
	size_t n_b64 = 0;
	for (; *p; p++) {
		if (pem && *p == '-')
			break;
		if (isalnum((unsigned char)*p) || *p == '+' || *p == '/' || *p == '=') {
			if (kg_buf_putc(&b, *p))
				goto fail;
			n_b64++;
		} else if (!isspace((unsigned char)*p)) {
			goto fail;
		}
	}
	if (n_b64 < 32)
		goto fail;
	return kg_buf_detach(&b, NULL);
fail:
	kg_buf_release(&b);
	return NULL;
}

static int add_key(kg_mail_profile *p, const char *domain, const char *selector,
		   const char *keytext)
{
	char *rec = key_record(keytext);
	if (!rec)
		return KG_EINVAL;
	mail_key *k = realloc(p->keys, (p->n_keys + 1) * sizeof(*k));
	if (!k) {
		free(rec);
		return KG_ENOMEM;
	}
	p->keys = k;
	k = &p->keys[p->n_keys++];
	k->domain = strdup(domain);
	k->selector = strdup(selector);
	k->record = rec;
	for (char *c = k->domain; c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return k->domain && k->selector ? 0 : KG_ENOMEM;
}

/* The letters-only ASCII runs of s of 4+ characters, lower case. */
static int add_tokens(mail_strs *tokens, const char *s)
{
	char tok[64];
	size_t n = 0;
	for (const char *c = s;; c++) {
		if (*c && isalpha((unsigned char)*c) && !(*c & 0x80)) {
			if (n < sizeof(tok) - 1)
				tok[n++] = (char)tolower((unsigned char)*c);
			continue;
		}
		tok[n] = '\0';
		if (n >= 4 && !strs_has(tokens, tok)) {
			int rc = strs_add(tokens, tok, n);
			if (rc)
				return rc;
		}
		n = 0;
		if (!*c)
			break;
	}
	return 0;
}

/* A brand's distinctive token: its only ASCII letter run of 3+ characters
 * ("Amazon.co.jp" -> "amazon"). A brand of several words ("amazon prime")
 * has none: its words alone ("prime") are ordinary words. */
static int add_brand_token(mail_strs *tokens, const char *s)
{
	int runs = 0, n = 0;
	for (const char *c = s;; c++) {
		if (*c && isalpha((unsigned char)*c) && !(*c & 0x80)) {
			n++;
			continue;
		}
		runs += n >= 3;
		n = 0;
		if (!*c)
			break;
	}
	return runs == 1 ? add_tokens(tokens, s) : 0;
}

/* Splits "a b c" into up to 3 words in place. */
static int split3(char *v, char **w)
{
	int n = 0;
	char *s = v;
	while (*s && n < 3) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		w[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s && n < 3)
			*s++ = '\0';
	}
	return n;
}

static int read_key_file(const char *where, const char *path, char **out, kg_err *err)
{
	char full[1024];
	if (path[0] != '/' && where && strchr(where, '/')) {
		int dl = (int)(strrchr(where, '/') - where);
		snprintf(full, sizeof(full), "%.*s/%s", dl, where, path);
	} else {
		snprintf(full, sizeof(full), "%s", path);
	}
	size_t len = 0;
	return kg_read_file(full, KG_MAIL_DKIM_KEY_MAX, out, &len, err);
}

static int profile_line(kg_mail_profile *p, const char *where, int line, char *key,
			char *val, kg_err *err)
{
	mail_strs *list = NULL;
	int rc = 0;
	if (!strcmp(key, "name")) {
		free(p->name);
		p->name = strdup(val);
		return p->name ? 0 : KG_ENOMEM;
	}
	if (!strcmp(key, "brand")) {
		list = &p->brands;
	} else if (!strcmp(key, "sender_domain") || !strcmp(key, "link_domain")) {
		for (char *c = val; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!valid_domain(val))
			return kg_err_at(err, KG_EINVAL, where, line, 0,
					 "%s: \"%s\" is not a domain name (ASCII/punycode)", key, val);
		list = key[0] == 's' ? &p->sender_domains : &p->link_domains;
		if (key[0] == 's' && !strs_has(&p->link_domains, val) &&
		    (rc = strs_add(&p->link_domains, val, strlen(val))))
			return rc;
	} else if (!strcmp(key, "authserv_id")) {
		for (char *c = val; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		list = &p->authserv_ids;
	} else if (!strcmp(key, "dkim_key") || !strcmp(key, "dkim_key_file")) {
		char *w[3] = {0};
		if (split3(val, w) != 3)
			return kg_err_at(err, KG_EINVAL, where, line, 0,
					 "%s: expected \"DOMAIN SELECTOR %s\"", key,
					 key[8] ? "FILE" : "BASE64-PUBLIC-KEY");
		char *text = NULL;
		if (key[8] && (rc = read_key_file(where, w[2], &text, err)))
			return rc;
		rc = add_key(p, w[0], w[1], text ? text : w[2]);
		free(text);
		if (rc == KG_EINVAL)
			return kg_err_at(err, rc, where, line, 0,
					 "%s: not a DKIM public key (PEM \"PUBLIC KEY\" or base64)", key);
		return rc;
	} else {
		return kg_err_at(err, KG_EINVAL, where, line, 0, "unknown key \"%s\"", key);
	}
	if (list->n >= KG_MAIL_PROFILE_ENTRIES_MAX)
		return kg_err_at(err, KG_ELIMIT, where, line, 0, "more than %d values of %s",
				 KG_MAIL_PROFILE_ENTRIES_MAX, key);
	if (!*val)
		return kg_err_at(err, KG_EINVAL, where, line, 0, "%s: empty value", key);
	if (strs_has(list, val))
		return 0;
	return strs_add(list, val, strlen(val));
}

/* Derived lists: folded brands, skeletons, lookalike tokens. */
static int profile_finish(kg_mail_profile *p, const char *where, kg_err *err)
{
	int rc = 0;
	kg_arena a;
	kg_arena_init(&a, 4096);
	if (!p->name && p->brands.n)
		p->name = strdup(p->brands.v[0]);
	if (!p->name)
		p->name = strdup("");
	for (size_t i = 0; i < p->brands.n && !rc; i++) {
		const char *f = mail_fold(&a, p->brands.v[i], strlen(p->brands.v[i]));
		const char *s = mail_skeleton(&a, p->brands.v[i]);
		if (*f && !strs_has(&p->brand_folds, f))
			rc = strs_add(&p->brand_folds, f, strlen(f));
		if (!rc && *s && !strs_has(&p->brand_skels, s))
			rc = strs_add(&p->brand_skels, s, strlen(s));
		if (!rc)
			rc = add_brand_token(&p->brand_tokens, p->brands.v[i]);
	}
	for (size_t i = 0; i < p->sender_domains.n && !rc; i++) {
		const char *reg = mail_registrable(&a, p->sender_domains.v[i]);
		const char *dot = strchr(reg, '.');
		char first[64];
		snprintf(first, sizeof(first), "%.*s", (int)(dot ? dot - reg : 0), reg);
		rc = add_tokens(&p->brand_tokens, first);
	}
	kg_arena_release(&a);
	if (rc)
		return kg_err_set(err, rc, "out of memory");
	if (p->brands.n == 0 || p->sender_domains.n == 0)
		return kg_err_at(err, KG_EINVAL, where, 0, 0,
				 "a profile needs at least one brand and one sender_domain");
	return mail_dkim_lib_new(p, err);
}

int kg_mail_profile_parse(const char *text, size_t len, const char *where,
			  kg_mail_profile **out, kg_err *err)
{
	*out = NULL;
	if (!where)
		where = "profile";
	if (len > KG_MAIL_PROFILE_MAX)
		return kg_err_at(err, KG_ELIMIT, where, 0, 0, "profile is larger than %d bytes",
				 KG_MAIL_PROFILE_MAX);
	mail_global_init();
	kg_mail_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	int rc = 0, line = 0;
	size_t i = 0;
	char buf[KG_MAIL_DKIM_KEY_MAX + 256];
	while (i < len && !rc) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		line++;
		size_t n = j - i;
		if (n >= sizeof(buf)) {
			rc = kg_err_at(err, KG_ELIMIT, where, line, 0, "line longer than %zu bytes",
				       sizeof(buf) - 1);
			break;
		}
		memcpy(buf, text + i, n);
		buf[n] = '\0';
		i = j + 1;
		if (memchr(buf, '\0', n)) {
			rc = kg_err_at(err, KG_EINVAL, where, line, 0, "NUL byte in line");
			break;
		}
		size_t ok = kg_utf8_valid_prefix(buf, n);
		if (ok != n) {
			rc = kg_err_at(err, KG_EINVAL, where, line, (int)ok + 1,
				       "invalid UTF-8 at byte %zu of the line", ok + 1);
			break;
		}
		char *s = buf, *e = buf + n;
		while (*s == ' ' || *s == '\t')
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = kg_err_at(err, KG_EINVAL, where, line, 0, "expected \"key = value\"");
			break;
		}
		char *k = s, *ke = eq, *v = eq + 1;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		*ke = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		rc = profile_line(p, where, line, k, v, err);
	}
	if (!rc)
		rc = profile_finish(p, where, err);
	if (rc) {
		kg_mail_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int kg_mail_profile_load(const char *path, kg_mail_profile **out, kg_err *err)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	int rc = kg_read_file(path, KG_MAIL_PROFILE_MAX, &text, &len, err);
	if (rc)
		return rc;
	rc = kg_mail_profile_parse(text ? text : "", len, path, out, err);
	free(text);
	return rc;
}
