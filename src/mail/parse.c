/* MIME parsing for the mail analyser (GMime 3): headers, addresses with list
 * rewrites undone, Authentication-Results, text of every text part in UTF-8,
 * links, and a forwarded original (attached or inline). Enforces the
 * KG_MAIL_* limits, each with its own error. Judges nothing. */
#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/internal.h"

static pthread_once_t g_mime_once = PTHREAD_ONCE_INIT;
static GMimeParserOptions *g_opts;
static const char *g_fallback[] = {"UTF-8", "ISO-2022-JP", "Shift_JIS", "EUC-JP",
				   "windows-1252", NULL};

static void mime_init(void)
{
	g_mime_init();
	g_opts = g_mime_parser_options_new();
	g_mime_parser_options_set_fallback_charsets(g_opts, g_fallback);
	g_mime_parser_options_set_rfc2047_compliance_mode(g_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(g_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(g_opts, GMIME_RFC_COMPLIANCE_LOOSE);
}

void mail_global_init(void)
{
	pthread_once(&g_mime_once, mime_init);
}

typedef struct pctx {
	kg_arena *a;
	kg_err *err;
	int parts;
	int rc;
	bool links_over;
} pctx;

typedef struct vbuild {
	kg_buf text;
	kg_buf own;  /* the sender's own words: no quotes, patches, patch files */
	bool patch;  /* carries a patch (inline or as a file) */
	int documents; /* attached documents (mail_document_part) */
	mail_link *links;
	size_t n_links, cap_links;
	const char *fp_text;
	size_t fp_len;
	bool fp_plain;
} vbuild;

static char *lower_dup(kg_arena *a, const char *s)
{
	char *d = kg_arena_strdup(a, s ? s : "");
	for (char *c = d; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return d;
}

static void set_addr(kg_arena *a, mail_addr *out, const char *name, const char *addr)
{
	out->name = kg_arena_strdup(a, name ? name : "");
	out->addr = kg_arena_strdup(a, addr ? addr : "");
	const char *at = strrchr(out->addr, '@');
	out->local = at ? kg_arena_strndup(a, out->addr, (size_t)(at - out->addr)) : out->addr;
	char *d = lower_dup(a, at ? at + 1 : "");
	size_t n = strlen(d);
	while (n && (d[n - 1] == '.' || d[n - 1] == '>' || d[n - 1] == ' '))
		d[--n] = '\0';
	out->domain = d;
}

/* First mailbox of an address list; false when there is none. */
static bool first_mailbox(kg_arena *a, InternetAddressList *l, mail_addr *out)
{
	if (!l)
		return false;
	int n = internet_address_list_length(l);
	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			set_addr(a, out, internet_address_get_name(ia),
				 internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
			return true;
		}
	}
	return false;
}

static bool parse_mailbox(kg_arena *a, const char *value, mail_addr *out)
{
	if (!value)
		return false;
	InternetAddressList *l = internet_address_list_parse(g_opts, value);
	bool ok = first_mailbox(a, l, out);
	if (l)
		g_object_unref(l);
	return ok;
}

static void add_other(mail_view *v, const char *role, const mail_addr *ad)
{
	if (v->n_others >= MAIL_ADDRS_MAX || !*ad->domain)
		return;
	v->other_role[v->n_others] = role;
	v->others[v->n_others++] = *ad;
}

/* "authserv-id; spf=pass smtp.mailfrom=x; dkim=pass header.d=y" */
static void parse_auth_results(kg_arena *a, mail_view *v, const char *value)
{
	char *s = kg_arena_strdup(a, value);
	/* drop (comments) */
	char *w = s;
	int depth = 0;
	for (char *r = s; *r; r++) {
		if (*r == '(')
			depth++;
		else if (*r == ')' && depth)
			depth--;
		else if (!depth)
			*w++ = (char)tolower((unsigned char)(*r == '\r' || *r == '\n' || *r == '\t' ? ' ' : *r));
	}
	*w = '\0';
	const char *authserv = "";
	bool first = true;
	for (char *seg = strtok_r(s, ";", &w); seg; seg = strtok_r(NULL, ";", &w)) {
		while (*seg == ' ')
			seg++;
		if (first) {
			first = false;
			char *sp = seg + strcspn(seg, " ");
			char *eq = strchr(seg, '=');
			if (!eq || eq > sp) { /* an authserv-id [version] */
				*sp = '\0';
				authserv = seg;
				continue;
			}
		}
		if (v->n_auth >= MAIL_AUTH_MAX)
			break;
		char *eq = strchr(seg, '=');
		if (!eq)
			continue;
		mail_auth *au = &v->auth[v->n_auth];
		au->authserv_id = authserv;
		au->method = kg_arena_strndup(a, seg, (size_t)(eq - seg));
		char *res = eq + 1;
		size_t rl = strcspn(res, " ");
		au->result = kg_arena_strndup(a, res, rl);
		au->domain = "";
		for (char *tok = res + rl; *tok;) {
			while (*tok == ' ')
				tok++;
			size_t tl = strcspn(tok, " ");
			char *te = strchr(tok, '=');
			if (te && te < tok + tl) {
				size_t kl = (size_t)(te - tok);
				const char *val = te + 1;
				size_t vl = tl - kl - 1;
				const char *at = memchr(val, '@', vl);
				if (at) {
					vl -= (size_t)(at + 1 - val);
					val = at + 1;
				}
				if ((kl == 8 && !strncmp(tok, "header.d", 8)) ||
				    (kl == 11 && !strncmp(tok, "header.from", 11)) ||
				    (kl == 13 && !strncmp(tok, "smtp.mailfrom", 13)) ||
				    (kl == 8 && !strncmp(tok, "header.i", 8) && !*au->domain))
					au->domain = kg_arena_strndup(a, val, vl);
			}
			tok += tl;
		}
		if (*au->method && *au->result)
			v->n_auth++;
	}
}

static const char *dkim_sig_domain(kg_arena *a, const char *value)
{
	const char *p = value;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ';')
			p++;
		if (p[0] == 'd' && (p[1] == '=' || p[1] == ' ')) {
			p++;
			while (*p == ' ' || *p == '=')
				p++;
			size_t n = strcspn(p, "; \t\r\n");
			char *d = kg_arena_strndup(a, p, n);
			for (char *c = d; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			return d;
		}
		p = strchr(p, ';');
	}
	return "";
}

static bool is_ascii_cs(const char *cs)
{
	return !cs || !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii") ||
	       !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8");
}

/* Charset labels decoded as the WHATWG Encoding Standard (and so browsers
 * and mail clients) does: a label names the superset encoding that senders
 * really write, e.g. "gb2312" text is GB18030, "iso-8859-1" is windows-1252
 * and "shift_jis" is Microsoft's windows-31j (CP932). */
static const struct {
	const char *label, *iconv;
} g_labels[] = {
	{"gb2312", "GB18030"}, {"gb_2312", "GB18030"}, {"gb_2312-80", "GB18030"},
	{"gbk", "GB18030"}, {"x-gbk", "GB18030"}, {"cp936", "GB18030"},
	{"windows-936", "GB18030"}, {"chinese", "GB18030"}, {"csgb2312", "GB18030"},
	{"csiso58gb231280", "GB18030"}, {"iso-ir-58", "GB18030"}, {"euc-cn", "GB18030"},
	{"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
	{"iso_8859-1", "WINDOWS-1252"}, {"latin1", "WINDOWS-1252"}, {"l1", "WINDOWS-1252"},
	{"cp819", "WINDOWS-1252"}, {"ibm819", "WINDOWS-1252"}, {"csisolatin1", "WINDOWS-1252"},
	{"iso-ir-100", "WINDOWS-1252"}, {"cp1252", "WINDOWS-1252"}, {"x-cp1252", "WINDOWS-1252"},
	{"us-ascii", "WINDOWS-1252"}, {"ascii", "WINDOWS-1252"},
	{"ansi_x3.4-1968", "WINDOWS-1252"},
	{"iso-8859-9", "WINDOWS-1254"}, {"latin5", "WINDOWS-1254"},
	{"iso-8859-11", "WINDOWS-874"}, {"tis-620", "WINDOWS-874"},
	{"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"sjis", "CP932"},
	{"x-sjis", "CP932"}, {"ms_kanji", "CP932"}, {"csshiftjis", "CP932"},
	{"windows-31j", "CP932"}, {"ms932", "CP932"},
	{"ks_c_5601-1987", "CP949"}, {"ks_c_5601-1989", "CP949"}, {"ksc5601", "CP949"},
	{"ksc_5601", "CP949"}, {"korean", "CP949"}, {"iso-ir-149", "CP949"},
	{"csksc56011987", "CP949"}, {"euc-kr", "CP949"}, {"cseuckr", "CP949"},
	{"windows-949", "CP949"},
	{"euc-jp", "EUC-JP-MS"}, {"x-euc-jp", "EUC-JP-MS"}, {"cseucpkdfmtjapanese", "EUC-JP-MS"},
	{"big5", "BIG5-HKSCS"}, {"x-x-big5", "BIG5-HKSCS"}, {"cn-big5", "BIG5-HKSCS"},
};

/* The encoding to decode a declared label with (the label itself when the
 * standard does not widen it). */
static const char *charset_for(const char *label)
{
	for (size_t i = 0; label && i < KG_ARRAY_LEN(g_labels); i++)
		if (!strcasecmp(label, g_labels[i].label))
			return g_labels[i].iconv;
	return label;
}

static bool is_iso2022jp(const char *cs)
{
	return cs && (!strcasecmp(cs, "iso-2022-jp") || !strcasecmp(cs, "csiso2022jp") ||
		      !strcasecmp(cs, "iso2022jp"));
}

/* ISO-2022-JP (RFC 1468) -> UTF-8 (g_malloc'd), NULL when b is not valid
 * ISO-2022-JP. The JIS X 0208 pairs are read through EUC-JP-MS, as the
 * WHATWG decoder reads them, so the NEC and IBM extensions that Windows
 * senders write (①, ㈱, 髙) decode; glibc's ISO-2022-JP refuses them. */
static char *iso2022jp_to_utf8(const char *b, size_t n)
{
	enum { ASCII, JIS0208, KATAKANA } st = ASCII;
	GByteArray *e = g_byte_array_sized_new((guint)n + 16);
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c == 0x1b && i + 2 < n) {
			const char *q = b + i + 1;
			if (!memcmp(q, "$B", 2) || !memcmp(q, "$@", 2))
				st = JIS0208;
			else if (!memcmp(q, "(B", 2) || !memcmp(q, "(J", 2))
				st = ASCII;
			else if (!memcmp(q, "(I", 2))
				st = KATAKANA;
			else
				ok = false;
			i += 2;
		} else if (c >= 0x80) {
			ok = false;
		} else if (c == '\n' || c == '\r') {
			g_byte_array_append(e, &c, 1);
		} else if (st == JIS0208 && c >= 0x21 && c <= 0x7e && i + 1 < n &&
			   (unsigned char)b[i + 1] >= 0x21 && (unsigned char)b[i + 1] <= 0x7e) {
			guint8 pair[2] = {(guint8)(c | 0x80), (guint8)((unsigned char)b[++i] | 0x80)};
			g_byte_array_append(e, pair, 2);
		} else if (st == KATAKANA && c >= 0x21 && c <= 0x5f) {
			guint8 kana[2] = {0x8e, (guint8)(c | 0x80)};
			g_byte_array_append(e, kana, 2);
		} else if (st == ASCII) {
			g_byte_array_append(e, &c, 1);
		} else {
			ok = false;
		}
	}
	char *out = ok ? g_convert((const char *)e->data, (gssize)e->len, "UTF-8", "EUC-JP-MS",
				   NULL, NULL, NULL) : NULL;
	g_byte_array_free(e, TRUE);
	return out;
}

/* Bytes in a declared charset -> UTF-8 (g_malloc'd). */
static char *to_utf8(const char *b, size_t n, const char *cs)
{
	char *out = NULL;
	gsize ol = 0;
	if (is_ascii_cs(cs) && memchr(b, 0x1b, n) && n >= 3) /* ESC $ B: ISO-2022-JP */
		cs = "ISO-2022-JP";
	if (is_iso2022jp(cs) && (out = iso2022jp_to_utf8(b, n)))
		return out;
	if (!is_ascii_cs(cs)) {
		out = g_convert(b, (gssize)n, "UTF-8", charset_for(cs), NULL, &ol, NULL);
		if (out)
			return out;
	} else if (g_utf8_validate(b, (gssize)n, NULL)) {
		return g_strndup(b, n);
	}
	return g_mime_utils_decode_8bit(g_opts, b, n);
}

/* An ISO-2022-JP encoded word's text ("B" or "Q" encoded) as UTF-8 in
 * base64, for "=?UTF-8?B?...?=" (NULL when it does not decode). */
static char *iso2022jp_word_b64(const char *enc, size_t n, char how)
{
	char *text = g_strndup(enc, n);
	gsize len = 0;
	guchar *raw = NULL;
	if (how == 'b' || how == 'B') {
		raw = g_base64_decode(text, &len);
	} else {
		raw = g_malloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			if (text[i] == '_')
				raw[len++] = ' ';
			else if (text[i] == '=' && i + 2 < n && g_ascii_isxdigit(text[i + 1]) &&
				 g_ascii_isxdigit(text[i + 2])) {
				raw[len++] = (guchar)(g_ascii_xdigit_value(text[i + 1]) * 16 +
						      g_ascii_xdigit_value(text[i + 2]));
				i += 2;
			} else
				raw[len++] = (guchar)text[i];
		}
	}
	g_free(text);
	char *u = raw ? iso2022jp_to_utf8((const char *)raw, len) : NULL;
	g_free(raw);
	char *b64 = u ? g_base64_encode((const guchar *)u, strlen(u)) : NULL;
	g_free(u);
	return b64;
}

/* A raw header value with the charset label of every encoded word
 * ("=?gb2312?B?...?=") replaced by the encoding to decode it with. */
static char *widen_labels(kg_arena *a, const char *raw)
{
	kg_buf b = KG_BUF_INIT(KG_MAIL_HEADER_BYTES_MAX);
	for (const char *p = raw; *p;) {
		const char *ew = strstr(p, "=?");
		if (!ew) {
			kg_buf_puts(&b, p);
			break;
		}
		kg_buf_append(&b, p, (size_t)(ew - p + 2));
		const char *lab = ew + 2;
		size_t ll = strcspn(lab, "?* \t\r\n");
		char label[32];
		snprintf(label, sizeof(label), "%.*s", (int)(ll < 31 ? ll : 31), lab);
		const char *how = lab[ll] == '?' ? lab + ll + 1 : NULL, *end = NULL;
		if (how && is_iso2022jp(label) && *how && how[1] == '?' &&
		    (end = strstr(how + 2, "?="))) {
			char *b64 = iso2022jp_word_b64(how + 2, (size_t)(end - how - 2), *how);
			if (b64) {
				kg_buf_puts(&b, "UTF-8?B?");
				kg_buf_puts(&b, b64);
				kg_buf_puts(&b, "?=");
				g_free(b64);
				p = end + 2;
				continue;
			}
		}
		if (lab[ll] == '?' || lab[ll] == '*') {
			const char *cs = ll < 31 ? charset_for(label) : label;
			if (cs != label)
				kg_buf_puts(&b, cs);
			else
				kg_buf_append(&b, lab, ll);
			p = lab + ll;
		} else {
			p = lab;
		}
	}
	char *r = kg_arena_strndup(a, b.data ? b.data : "", b.len);
	kg_buf_release(&b);
	return r;
}

/* A decoded header value (encoded words, labels widened), UTF-8. */
static const char *header_text(kg_arena *a, const char *raw)
{
	if (!raw)
		return "";
	char *d = g_mime_utils_header_decode_text(g_opts, widen_labels(a, raw));
	char *r = kg_arena_strdup(a, d ? d : "");
	g_free(d);
	for (char *c = r; *c; c++)
		if (*c == '\r' || *c == '\n' || *c == '\t')
			*c = ' ';
	mail_utf8_clean(r);
	while (*r == ' ')
		r++;
	size_t n = strlen(r);
	while (n && r[n - 1] == ' ')
		r[--n] = '\0';
	return r;
}

/* Whether a raw address header is not one clean mailbox (RFC 5322): an
 * unquoted comma or "@" in the display name (a name cut in two), an address
 * in a comment, quotes or spaces inside the address, several mailboxes. */
static bool addr_malformed(const char *raw, const mail_addr *ad, int mailboxes)
{
	if (mailboxes != 1 || !strchr(ad->addr, '@') || strpbrk(ad->addr, "\" <>(),;"))
		return true;
	const char *lt = strrchr(raw, '<');
	bool quoted = false;
	int comment = 0;
	for (const char *c = raw; *c && (!lt || c < lt); c++) {
		if (*c == '\\' && c[1]) {
			c++;
		} else if (*c == '"' && !comment) {
			quoted = !quoted;
		} else if (quoted) {
			continue;
		} else if (*c == '(') {
			comment++;
		} else if (*c == ')' && comment) {
			comment--;
		} else if (!comment && lt && (*c == ',' || *c == '@' || *c == ';')) {
			return true;
		}
	}
	return false;
}

/* Trims spaces, quotes, commas and brackets around a display name. */
static const char *trim_name(kg_arena *a, const char *s, size_t n)
{
	while (n && strchr(" \t\"',;()<>", *s)) {
		s++;
		n--;
	}
	while (n && strchr(" \t\"',;()<>", s[n - 1]))
		n--;
	return kg_arena_strndup(a, s, n);
}

/* The From header as a mail client displays it: GMime's address parser
 * (loose), else the raw text: the last <address> or word with an "@",
 * the rest as the name. *malformed when it is not one clean mailbox. */
static bool parse_from(kg_arena *a, const char *raw, mail_addr *out, bool *malformed)
{
	*malformed = false;
	if (!raw)
		return false;
	const char *text = header_text(a, raw);
	InternetAddressList *l = internet_address_list_parse(g_opts, widen_labels(a, raw));
	int mailboxes = 0;
	for (int i = 0; l && i < internet_address_list_length(l); i++)
		mailboxes += INTERNET_ADDRESS_IS_MAILBOX(internet_address_list_get_address(l, i));
	bool ok = first_mailbox(a, l, out);
	if (l)
		g_object_unref(l);
	if (ok) {
		*malformed = addr_malformed(raw, out, mailboxes);
		if (*malformed) {
			/* "Amazon Gutschein," -> "Amazon Gutschein"; <"x@y"> -> x@y */
			const char *addr = trim_name(a, out->addr, strlen(out->addr));
			set_addr(a, out, trim_name(a, out->name, strlen(out->name)), addr);
		}
		return true;
	}
	const char *lt = strrchr(text, '<'), *as = NULL, *ae = NULL;
	if (lt && strchr(lt, '@')) {
		as = lt + 1;
		ae = as + strcspn(as, ">");
	} else if ((as = strrchr(text, '@'))) {
		while (as > text && !strchr(" \t\"'(<,;", as[-1]))
			as--;
		ae = as + strcspn(as, " \t\"')>,;");
	}
	if (!as)
		return false;
	const char *addr = trim_name(a, as, (size_t)(ae - as));
	size_t nl = (size_t)((lt && as == lt + 1 ? lt : as) - text);
	char *name = kg_arena_strdup(a, trim_name(a, text, nl));
	/* text after the address (a comment "(Name)") names the sender too */
	if (!*name && *ae)
		name = kg_arena_strdup(a, trim_name(a, ae + 1, strlen(ae + 1)));
	set_addr(a, out, name, addr);
	*malformed = true;
	return true;
}

static int append_text(pctx *c, vbuild *vb, const char *t, size_t n)
{
	if (kg_buf_append(&vb->text, t, n) || kg_buf_putc(&vb->text, '\n'))
		return c->rc = kg_err_set(c->err, KG_ELIMIT,
					  "decoded text is larger than %d bytes (KG_MAIL_TEXT_MAX)",
					  KG_MAIL_TEXT_MAX);
	return 0;
}

/* A line that starts a patch ("diff --git", "--- a/file", "Index: file"). */
static bool patch_line(const char *l, size_t n)
{
	static const char *const starts[] = {"diff --git ", "diff -u", "--- a/", "+++ b/",
					      "Index: ", "@@ -"};
	for (size_t i = 0; i < KG_ARRAY_LEN(starts); i++) {
		size_t k = strlen(starts[i]);
		if (n >= k && !memcmp(l, starts[i], k))
			return true;
	}
	return false;
}

/* Appends the sender's own lines of t: not quoted ("> ..."), and nothing
 * from the first line of a patch on. */
static void append_own(vbuild *vb, const char *t, size_t n)
{
	const char *end = t + n;
	for (const char *l = t; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t ln = nl ? (size_t)(nl - l) : (size_t)(end - l);
		const char *s = l;
		while (s < l + ln && (*s == ' ' || *s == '\t'))
			s++;
		if (patch_line(l, ln)) {
			vb->patch = true;
			break;
		}
		if (s == l + ln || *s != '>') {
			kg_buf_append(&vb->own, l, ln);
			kg_buf_putc(&vb->own, '\n');
		}
		l = nl ? nl + 1 : end;
	}
}

/* A text part that is a patch file (text/x-patch, text/x-diff, *.patch). */
static bool patch_part(GMimeObject *obj, GMimeContentType *ct)
{
	if (g_mime_content_type_is_type(ct, "text", "x-patch") ||
	    g_mime_content_type_is_type(ct, "text", "x-diff"))
		return true;
	const char *fn = g_mime_part_get_filename(GMIME_PART(obj));
	size_t n = fn ? strlen(fn) : 0;
	return (n > 6 && !strcasecmp(fn + n - 6, ".patch")) ||
	       (n > 5 && !strcasecmp(fn + n - 5, ".diff"));
}

static int view_from_message(pctx *c, GMimeMessage *m, mail_view *v, int depth,
			     mail_parsed *top);

/* Whether a leaf part that is not text is a document a reader opens (PDF,
 * RTF, Word, HTML or an archive): by type, or by file name for the
 * application/octet-stream that lures use. Images and signatures are not. */
static bool document_part(GMimeObject *obj, GMimeContentType *ct)
{
	static const char *const exts[] = {".pdf", ".rtf", ".doc", ".docx", ".htm", ".html",
					   ".shtml", ".zip", ".rar", ".7z", ".odt", ".xls",
					   ".xlsx", ".svg"};
	static const char *const types[] = {"pdf", "rtf", "msword", "zip", "x-zip-compressed",
					    "vnd.openxmlformats-officedocument.wordprocessingml.document",
					    "x-rar-compressed", "vnd.oasis.opendocument.text"};
	if (ct && g_mime_content_type_is_type(ct, "application", "*")) {
		const char *sub = g_mime_content_type_get_media_subtype(ct);
		for (size_t i = 0; sub && i < KG_ARRAY_LEN(types); i++)
			if (!strcasecmp(sub, types[i]))
				return true;
	}
	if (ct && g_mime_content_type_is_type(ct, "text", "rtf"))
		return true;
	const char *fn = g_mime_part_get_filename(GMIME_PART(obj));
	size_t n = fn ? strlen(fn) : 0;
	for (size_t i = 0; n && i < KG_ARRAY_LEN(exts); i++) {
		size_t el = strlen(exts[i]);
		/* lures pad names with invisible characters: "review.RTF\u034F" */
		const char *dot = fn;
		for (const char *h = strcasestr(fn, exts[i]); h; h = strcasestr(h + 1, exts[i]))
			dot = h;
		if (dot != fn && (size_t)(fn + n - dot) >= el &&
		    !isalnum((unsigned char)dot[el]) && (fn + n - dot) <= (long)el + 12)
			return true;
	}
	return false;
}

static int walk(pctx *c, GMimeObject *obj, vbuild *vb, int depth, mail_parsed *top)
{
	if (!obj)
		return 0;
	if (++c->parts > KG_MAIL_PARTS_MAX)
		return c->rc = kg_err_set(c->err, KG_ELIMIT,
					  "more than %d MIME parts (KG_MAIL_PARTS_MAX)", KG_MAIL_PARTS_MAX);
	if (depth > KG_MAIL_DEPTH_MAX)
		return c->rc = kg_err_set(c->err, KG_ELIMIT,
					  "MIME nesting deeper than %d (KG_MAIL_DEPTH_MAX)", KG_MAIL_DEPTH_MAX);
	if (GMIME_IS_MULTIPART(obj)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		for (int i = 0; i < n && !c->rc; i++)
			walk(c, g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), vb, depth + 1, top);
		return c->rc;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		if (!inner)
			return 0;
		if (top && !top->has_inner) {
			top->has_inner = true;
			top->inner_how = "attached";
			return view_from_message(c, inner, &top->inner, depth + 1, NULL);
		}
		return walk(c, g_mime_message_get_mime_part(inner), vb, depth + 1, NULL);
	}
	if (!GMIME_IS_PART(obj))
		return 0;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	bool html = ct && g_mime_content_type_is_type(ct, "text", "html");
	bool patch = ct && patch_part(obj, ct);
	bool plain = ct && !patch && g_mime_content_type_is_type(ct, "text", "plain");
	const char *disp = g_mime_object_get_disposition(obj);
	bool attached = disp && !strcasecmp(disp, "attachment");
	if ((!html && !plain && !patch) || (html && attached)) {
		vb->documents += document_part(obj, ct);
		if (!html)
			return 0;
	}
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
	if (!w)
		return 0;
	GMimeStream *ms = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, ms);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	char *u = to_utf8(ba && ba->len ? (const char *)ba->data : "", ba ? ba->len : 0,
			  g_mime_object_get_content_type_parameter(obj, "charset"));
	g_object_unref(ms);
	if (!u)
		return 0;
	size_t ul = strlen(u);
	const char *t = u;
	size_t tl = ul;
	if (html) {
		t = mail_html_text(c->a, u, ul, &vb->links, &vb->n_links, &vb->cap_links,
				   &c->links_over);
		tl = strlen(t);
	} else {
		t = kg_arena_strndup(c->a, u, ul);
		mail_text_urls(c->a, t, tl, &vb->links, &vb->n_links, &vb->cap_links,
			       &c->links_over);
	}
	g_free(u);
	if (!patch)
		append_own(vb, t, tl);
	else
		vb->patch = true;
	if (!vb->fp_text || (plain && !vb->fp_plain)) {
		vb->fp_text = t;
		vb->fp_len = tl;
		vb->fp_plain = plain;
	}
	return append_text(c, vb, t, tl);
}

/* "Name via List" -> "Name" */
static const char *strip_via(kg_arena *a, const char *name)
{
	const char *via = strstr(name, " via ");
	return via ? kg_arena_strndup(a, name, (size_t)(via - name)) : name;
}

static int view_from_message(pctx *c, GMimeMessage *m, mail_view *v, int depth,
			     mail_parsed *top)
{
	kg_arena *a = c->a;
	mail_addr from = {0}, reply = {0}, sender = {0}, rpath = {0}, mm_from = {0},
		  mm_reply = {0};
	bool has_reply = false, has_sender = false, has_rpath = false, has_mm_from = false,
	     has_mm_reply = false, has_list = false;
	kg_buf dk = KG_BUF_INIT(4096);

	bool from_malformed = false;
	const char *from_raw = NULL, *subject_raw = NULL;
	has_reply = first_mailbox(a, g_mime_message_get_reply_to(m), &reply);
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	int nh = hl ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < nh; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *val = g_mime_header_get_value(h);
		const char *raw = g_mime_header_get_raw_value(h);
		if (!name)
			continue;
		if (!strcasecmp(name, "From") && !v->has_from) {
			v->has_from = parse_from(a, raw, &from, &from_malformed);
			from_raw = raw;
		} else if (!strcasecmp(name, "Subject") && !subject_raw)
			subject_raw = raw;
		else if (!strcasecmp(name, "In-Reply-To") || !strcasecmp(name, "References"))
			v->in_thread = true;
		else if (!strcasecmp(name, "Authentication-Results") && val)
			parse_auth_results(a, v, val);
		else if (!strcasecmp(name, "DKIM-Signature") && raw) {
			v->has_dkim_sig = true;
			kg_buf_puts(&dk, dkim_sig_domain(a, raw));
			kg_buf_putc(&dk, ' ');
		} else if (!strcasecmp(name, "Sender") && !has_sender)
			has_sender = parse_mailbox(a, raw, &sender);
		else if (!strcasecmp(name, "Return-Path") && !has_rpath)
			has_rpath = parse_mailbox(a, raw, &rpath);
		else if ((!strcasecmp(name, "X-Mailman-Original-From") ||
			  !strcasecmp(name, "X-Original-From")) && !has_mm_from)
			has_mm_from = parse_mailbox(a, raw, &mm_from);
		else if (!strcasecmp(name, "X-Mailman-Original-Reply-To") && !has_mm_reply)
			has_mm_reply = parse_mailbox(a, raw, &mm_reply);
		else if (!strcasecmp(name, "List-Id") || !strcasecmp(name, "List-Post"))
			has_list = true;
	}
	v->dkim_domains = kg_arena_strndup(a, dk.data ? dk.data : "", dk.len);
	kg_buf_release(&dk);

	/* Undo mailing-list rewrites: "X via List" with the original in
	 * X-Mailman-Original-From or Reply-To. */
	bool via = v->has_from && strstr(from.name, " via ") != NULL;
	if (has_mm_from) {
		v->via_list = true;
		v->list_detail = "author taken from X-Mailman-Original-From";
		v->from = mm_from;
		v->has_from = true;
	} else if (via && (has_list || has_reply)) {
		v->via_list = true;
		if (has_reply) {
			v->from = reply;
			if (!*v->from.name)
				v->from.name = strip_via(a, from.name);
			v->list_detail = "author taken from Reply-To of a \"via\" list rewrite";
			has_reply = false;
		} else {
			v->from = from;
			v->from.name = strip_via(a, from.name);
			v->list_detail = "\"via\" list rewrite without the original address";
		}
	} else {
		v->from = from;
		v->from_malformed = from_malformed;
		v->from_raw = from_malformed ? header_text(a, from_raw) : "";
		if (has_list) {
			v->via_list = true;
			v->list_detail = "arrived through a mailing list";
		}
	}
	if (!v->from.addr)
		set_addr(a, &v->from, "", "");
	if (has_reply)
		add_other(v, "Reply-To", &reply);
	if (has_mm_reply)
		add_other(v, "X-Mailman-Original-Reply-To", &mm_reply);
	if (!v->via_list) {
		if (has_sender)
			add_other(v, "Sender", &sender);
		if (has_rpath)
			add_other(v, "Return-Path", &rpath);
	}

	v->subject = header_text(a, subject_raw);
	GDateTime *dt = g_mime_message_get_date(m);
	if (dt) {
		v->has_date = true;
		v->date_ms = (int64_t)g_date_time_to_unix(dt) * 1000;
	}
	const char *mid = g_mime_message_get_message_id(m);
	v->message_id = kg_arena_strdup(a, mid ? mid : "");

	if (!top) { /* an attached original: keep its bytes for DKIM */
		char *s = g_mime_object_to_string(GMIME_OBJECT(m), NULL);
		if (s) {
			v->raw_len = strlen(s);
			v->raw = kg_arena_strndup(a, s, v->raw_len);
			g_free(s);
		}
	}

	vbuild vb = {.text = KG_BUF_INIT(KG_MAIL_TEXT_MAX), .own = KG_BUF_INIT(KG_MAIL_TEXT_MAX)};
	walk(c, g_mime_message_get_mime_part(m), &vb, depth, top);
	v->text = kg_arena_strndup(a, vb.text.data ? vb.text.data : "", vb.text.len);
	v->text_len = vb.text.len;
	v->own_text = kg_arena_strndup(a, vb.own.data ? vb.own.data : "", vb.own.len);
	v->own_len = vb.own.len;
	v->links_capped = c->links_over;
	v->has_patch = vb.patch;
	v->n_documents = vb.documents;
	kg_buf_release(&vb.text);
	kg_buf_release(&vb.own);
	v->fp_text = vb.fp_text ? vb.fp_text : "";
	v->fp_len = vb.fp_len;
	v->links = vb.links;
	v->n_links = vb.n_links;
	return c->rc;
}

/* ---- inline forwards --------------------------------------------------------*/
static const char *const fwd_markers[] = {
	"-----original message-----", "----- original message -----",
	"forwarded message", "begin forwarded message", "forwarded message ---",
	"weitergeleitete nachricht", "ursprüngliche nachricht", "mensagem encaminhada",
	"mensaje reenviado", "message transféré", "転送メッセージ", "転送されたメッセージ",
	"________________________________",
};
static const char *const from_keys[] = {"from:", "de:", "von:", "差出人:", "van:", "da:",
					"送信者:", "expéditeur:"};
static const char *const subj_keys[] = {"subject:", "assunto:", "betreff:", "件名:",
					"asunto:", "oggetto:", "objet:", "onderwerp:"};

static const char *line_value(const char *line, size_t n, const char *const *keys,
			      size_t nkeys, size_t *vl)
{
	while (n && (*line == ' ' || *line == '>' || *line == '*' || *line == '\t')) {
		line++;
		n--;
	}
	for (size_t k = 0; k < nkeys; k++) {
		size_t kl = strlen(keys[k]);
		if (n >= kl && !strncasecmp(line, keys[k], kl)) {
			const char *v = line + kl;
			size_t r = n - kl;
			while (r && (*v == ' ' || *v == '*')) {
				v++;
				r--;
			}
			*vl = r;
			return v;
		}
	}
	return NULL;
}

static void find_inline_forward(kg_arena *a, mail_parsed *p)
{
	const mail_view *o = &p->outer;
	const char *t = o->text, *end = o->text + o->text_len;
	const char *hit = NULL;
	/* one lower-cased copy, then a fast substring search per marker */
	char *low = kg_arena_strndup(a, t, o->text_len);
	for (char *c = low; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	const char *first = NULL;
	for (size_t k = 0; k < KG_ARRAY_LEN(fwd_markers); k++) {
		const char *f = strstr(low, fwd_markers[k]);
		if (f && (!first || f < first))
			first = f;
	}
	if (first) {
		const char *nl = memchr(first, '\n', (size_t)(low + o->text_len - first));
		hit = t + (nl ? (size_t)(nl + 1 - low) : o->text_len);
	}
	if (!hit)
		return;
	const char *fv = NULL, *sv = NULL, *body = hit;
	size_t fl = 0, sl = 0;
	int lines = 0;
	for (const char *line = hit; line < end && lines < 14; lines++) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		size_t vl;
		const char *v;
		if (!fv && (v = line_value(line, n, from_keys, KG_ARRAY_LEN(from_keys), &vl))) {
			fv = v;
			fl = vl;
			body = nl ? nl + 1 : end;
		} else if (!sv && (v = line_value(line, n, subj_keys, KG_ARRAY_LEN(subj_keys), &vl))) {
			sv = v;
			sl = vl;
			body = nl ? nl + 1 : end;
		}
		line = nl ? nl + 1 : end;
	}
	if (!fv)
		return;
	mail_view *in = &p->inner;
	char *fs = kg_arena_strndup(a, fv, fl);
	in->has_from = parse_mailbox(a, fs, &in->from);
	if (!in->has_from)
		return;
	in->subject = sv ? kg_arena_strndup(a, sv, sl) : "";
	in->has_date = o->has_date;
	in->date_ms = o->date_ms;
	in->message_id = "";
	in->text = body;
	in->text_len = (size_t)(end - body);
	in->own_text = body;
	in->own_len = in->text_len;
	in->links_capped = o->links_capped;
	in->fp_text = in->text;
	in->fp_len = in->text_len;
	in->links = o->links;
	in->n_links = o->n_links;
	in->dkim_domains = "";
	p->has_inner = true;
	p->inner_how = "inline";
}

int mail_parse(kg_arena *a, const char *msg, size_t len, mail_parsed *p, kg_err *err)
{
	memset(p, 0, sizeof(*p));
	if (len > KG_MAIL_BYTES_MAX)
		return kg_err_set(err, KG_ELIMIT, "message is %zu bytes; the limit is %d (KG_MAIL_BYTES_MAX)",
				  len, KG_MAIL_BYTES_MAX);
	size_t hdr = len;
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] == '\n' && (msg[i + 1] == '\n' ||
				       (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n'))) {
			hdr = i;
			break;
		}
		if (i > KG_MAIL_HEADER_BYTES_MAX)
			break;
	}
	if (hdr > KG_MAIL_HEADER_BYTES_MAX)
		return kg_err_set(err, KG_ELIMIT, "header is larger than %d bytes (KG_MAIL_HEADER_BYTES_MAX)",
				  KG_MAIL_HEADER_BYTES_MAX);
	mail_global_init();
	pctx c = {.a = a, .err = err};
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(msg, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(parser, g_opts);
	if (!m) {
		c.rc = kg_err_set(err, KG_EINVAL, "not an RFC 5322 message (no header found)");
	} else {
		p->outer.raw = msg;
		p->outer.raw_len = len;
		view_from_message(&c, m, &p->outer, 0, p);
		if (!c.rc && !p->has_inner)
			find_inline_forward(a, p);
		g_object_unref(m);
	}
	g_object_unref(parser);
	g_object_unref(st);
	return c.rc;
}
