/* Private to src/mail: the parsed-message view, the profile's insides and
 * the text helpers shared by parse.c, text.c, signals.c and dkim.c.
 * Nothing outside src/mail includes this; the public face is mail.h. */
#ifndef KG_MAIL_INTERNAL_H
#define KG_MAIL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "mail/mail.h"

/* ---- a list of strings ---------------------------------------------------*/
typedef struct mail_strs {
	char **v;
	size_t n, cap;
} mail_strs;

/* ---- profile ----------------------------------------------------------------*/
typedef struct mail_key {
	char *domain;   /* lower case */
	char *selector;
	char *record;   /* "v=DKIM1; k=rsa; p=..." as DNS would serve it */
} mail_key;

struct kg_mail_profile {
	char *name;
	mail_strs brands;        /* as written */
	mail_strs brand_folds;   /* NFKC-casefolded, for plain text search */
	mail_strs brand_skels;   /* folded TR39 skeletons, for confusable search */
	mail_strs brand_tokens;  /* distinctive ASCII tokens (>= 4 letters) for
				  * lookalikes: a one-word brand's, and the first
				  * label of each sender domain; never a word of a
				  * brand of several words ("prime") */
	mail_strs sender_domains;
	mail_strs link_domains;  /* includes the sender domains */
	mail_strs authserv_ids;
	mail_key *keys;
	size_t n_keys;
	struct dkim_lib *dkim;   /* DKIM_LIB for verification with the keys */
};

/* ---- parsed message ------------------------------------------------------*/
typedef struct mail_addr {
	const char *name;   /* display name, UTF-8, "" when none */
	const char *addr;   /* local@domain */
	const char *local;  /* local part */
	const char *domain; /* lower case, "" when none */
} mail_addr;

typedef struct mail_link {
	const char *href;
	const char *text;   /* shown text (HTML anchors), "" for bare URLs */
	const char *host;   /* lower case, no port/userinfo; "" when none */
	bool userinfo;      /* http://shown@real-host/ */
	bool anchor;        /* an HTML <a href>, not a bare URL in text */
} mail_link;

typedef struct mail_auth {
	const char *authserv_id; /* lower case */
	const char *method;      /* "spf", "dkim", "dmarc" */
	const char *result;      /* "pass", "fail", ... */
	const char *domain;      /* header.d / header.from / smtp.mailfrom domain */
} mail_auth;

#define MAIL_ADDRS_MAX 8
#define MAIL_AUTH_MAX 32

typedef struct mail_view {
	mail_addr from;          /* the effective author (list rewrites undone) */
	bool has_from;
	bool from_malformed;     /* From is not one clean mailbox (read as shown) */
	const char *from_raw;    /* the decoded From text when malformed, else "" */
	mail_addr others[MAIL_ADDRS_MAX]; /* Reply-To, Sender, Return-Path... */
	const char *other_role[MAIL_ADDRS_MAX];
	size_t n_others;
	const char *subject;
	bool in_thread;          /* has In-Reply-To or References */
	int64_t date_ms;
	bool has_date;
	const char *message_id;
	const char *text;        /* all text of the body, UTF-8 */
	size_t text_len;
	const char *own_text;    /* the sender's own words: text without quoted
				  * lines, patches and patch files */
	size_t own_len;
	bool has_patch;          /* carries a patch (diff lines or a patch file) */
	int n_documents;         /* attached documents: PDF, RTF, Word, HTML, archives */
	const char *fp_text;     /* the text the fingerprint is taken of */
	size_t fp_len;
	mail_link *links;
	size_t n_links;
	bool links_capped;       /* more than KG_MAIL_LINKS_MAX: the rest unread */
	mail_auth auth[MAIL_AUTH_MAX];
	size_t n_auth;
	bool via_list;           /* arrived through a mailing list */
	const char *list_detail; /* how the list rewrite was undone */
	const char *raw;         /* bytes for DKIM verification (NULL: none) */
	size_t raw_len;
	bool has_dkim_sig;
	const char *dkim_domains; /* space-separated d= values seen */
} mail_view;

typedef struct mail_parsed {
	mail_view outer;
	mail_view inner;       /* the forwarded original */
	bool has_inner;
	const char *inner_how; /* "attached" or "inline" */
} mail_parsed;

/* Parses msg into p (all memory in arena). Returns 0, KG_ELIMIT or KG_EINVAL. */
int mail_parse(kg_arena *a, const char *msg, size_t len, mail_parsed *p, kg_err *err);
/* Module set-up (GMime, ICU, libpsl) once per process. */
void mail_global_init(void);

/* ---- text helpers (text.c) ------------------------------------------------*/
/* NFKC + case fold, without combining marks of a script other than the
 * letter they sit on (mail_marked_word); returns arena string. */
char *mail_fold(kg_arena *a, const char *s, size_t len);
/* Folded TR39 skeleton of s. */
char *mail_skeleton(kg_arena *a, const char *s);
/* Registrable domain (eTLD+1) of a lower-case host, or host itself. */
const char *mail_registrable(kg_arena *a, const char *host);
/* host, with xn-- labels turned into Unicode (arena), or host. */
const char *mail_idn_unicode(kg_arena *a, const char *host);
/* First word with letters of two of Latin/Cyrillic/Greek mixed, or NULL. */
const char *mail_mixed_script_word(kg_arena *a, const char *s, size_t len);
/* First word with a combining mark of a script other than its letters
 * ("A\u073Fm\u073Fazon": Syriac marks on Latin letters), or NULL. */
const char *mail_marked_word(kg_arena *a, const char *s, size_t len);
/* s without template tokens ({{x}}, [[x]], %%x%%) and spaced-out letters joined. */
char *mail_untemplate(kg_arena *a, const char *s);
/* s[0, len) without a generated filler token repeated inside words
 * ("AIJMXD2EVWLmazon MemIJMXD2EVWLbership": 3+ times), arena copy. */
char *mail_unfiller(kg_arena *a, const char *s, size_t len);
/* HTML to text; anchors are appended to links (up to KG_MAIL_LINKS_MAX; *over set
 * when there were more, which are left out). */
char *mail_html_text(kg_arena *a, const char *html, size_t len, mail_link **links,
		     size_t *n_links, size_t *cap, bool *over);
/* Finds bare URLs in plain text and appends them. */
void mail_text_urls(kg_arena *a, const char *text, size_t len, mail_link **links,
		    size_t *n_links, size_t *cap, bool *over);
/* Host of a URL (lower case, arena); sets *userinfo. "" when none. */
const char *mail_url_host(kg_arena *a, const char *url, bool *userinfo);
/* Replaces invalid or cut UTF-8 sequences in s (in place) with '?'. */
void mail_utf8_clean(char *s);
/* Damerau-Levenshtein distance of two short ASCII strings (cap at 9). */
int mail_edit_distance(const char *x, size_t xl, const char *y, size_t yl);
/* Whether domain is d or a subdomain of one of list. */
bool mail_domain_in(const char *domain, const mail_strs *list);

/* ---- DKIM (dkim.c) ----------------------------------------------------------*/
enum mail_dkim_status { MAIL_DKIM_NONE, MAIL_DKIM_PASS, MAIL_DKIM_FAIL };
/* Verifies the DKIM signatures of raw whose d= is in the profile's keys.
 * Fills domain/selector of the first passing (or failing) official one and a
 * reason on failure. Never uses the network. */
enum mail_dkim_status mail_dkim_verify(const kg_mail_profile *p, const char *raw,
				       size_t len, char *domain, size_t dlen,
				       char *why, size_t wlen);
int mail_dkim_lib_new(kg_mail_profile *p, kg_err *err);
void mail_dkim_lib_free(kg_mail_profile *p);

/* ---- signals (signals.c) ------------------------------------------------*/
int mail_analyse(const kg_mail_profile *p, kg_arena *a, mail_parsed *m,
		 const kg_mail_query *q, kg_mail_result *r, kg_err *err);
/* Fingerprint of a view's text into out[65]. */
void mail_view_fingerprint(kg_arena *a, const mail_view *v, char out[65]);

#endif
