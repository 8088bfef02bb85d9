/* DKIM with libopendkim: verification of official signatures against the
 * profile's keys (supplied through the key-lookup callback: never DNS), and
 * signing of kagi's own notices. */
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/internal.h"

static const mail_key *find_key(const kg_mail_profile *p, const char *domain,
				const char *selector)
{
	for (size_t i = 0; i < p->n_keys; i++)
		if (!strcasecmp(p->keys[i].domain, domain) &&
		    (!selector || !strcmp(p->keys[i].selector, selector)))
			return &p->keys[i];
	return NULL;
}

static DKIM_CBSTAT key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	const kg_mail_profile *p = dkim_get_user_context(dkim);
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	const mail_key *k = p && d && s ? find_key(p, d, s) : NULL;
	if (!k || strlen(k->record) >= buflen)
		return DKIM_CBSTAT_NOTFOUND;
	memcpy(buf, k->record, strlen(k->record) + 1);
	return DKIM_CBSTAT_CONTINUE;
}

static DKIM_LIB *lib_new(void)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	if (!lib)
		return NULL;
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags));
	return lib;
}

int mail_dkim_lib_new(kg_mail_profile *p, kg_err *err)
{
	DKIM_LIB *lib = lib_new();
	if (!lib)
		return kg_err_set(err, KG_ENOMEM, "cannot initialise libopendkim");
	dkim_set_key_lookup(lib, key_lookup);
	p->dkim = (struct dkim_lib *)lib;
	return 0;
}

void mail_dkim_lib_free(kg_mail_profile *p)
{
	if (p->dkim)
		dkim_close((DKIM_LIB *)p->dkim);
	p->dkim = NULL;
}

enum mail_dkim_status mail_dkim_verify(const kg_mail_profile *p, const char *raw,
				       size_t len, char *domain, size_t dlen,
				       char *why, size_t wlen)
{
	enum mail_dkim_status res = MAIL_DKIM_NONE;
	DKIM_STAT st;
	DKIM *d = dkim_verify((DKIM_LIB *)p->dkim, (const u_char *)"kagi", NULL, &st);
	if (!d)
		return MAIL_DKIM_NONE;
	dkim_set_user_context(d, (void *)p);
	st = dkim_chunk(d, (u_char *)raw, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
		dkim_eom(d, NULL);
	DKIM_SIGINFO **sigs = NULL;
	int n = 0;

	if (dkim_getsiglist(d, &sigs, &n) == DKIM_STAT_OK) {
		for (int i = 0; i < n; i++) {
			const char *sd = (const char *)dkim_sig_getdomain(sigs[i]);
			const char *ss = (const char *)dkim_sig_getselector(sigs[i]);
			if (!sd || !ss || !find_key(p, sd, ss))
				continue; /* not a signature we hold a key for */
			unsigned int fl = dkim_sig_getflags(sigs[i]);

			bool bh_ok = dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH;
			if ((fl & DKIM_SIGFLAG_PASSED) && bh_ok) {
				snprintf(domain, dlen, "%s (selector %s)", sd, ss);
				res = MAIL_DKIM_PASS;
				break;
			}
			if (res == MAIL_DKIM_NONE) {
				snprintf(domain, dlen, "%s (selector %s)", sd, ss);
				int e = dkim_sig_geterror(sigs[i]);
				const char *es = e ? dkim_sig_geterrorstr(e) : NULL;
				snprintf(why, wlen, "%s", !bh_ok && (fl & DKIM_SIGFLAG_PROCESSED)
					 ? "the body was changed after signing (body hash mismatch)"
					 : es ? es : "signature does not verify");
				res = MAIL_DKIM_FAIL;
			}
		}
	}
	dkim_free(d);
	return res;
}

int kg_mail_dkim_sign(const char *msg, size_t len, const char *domain,
		      const char *selector, const char *key_pem, kg_buf *out,
		      kg_err *err)
{
	int rc = 0;
	DKIM_STAT st = DKIM_STAT_OK;
	DKIM *d = NULL;
	u_char *hdr = NULL;
	size_t hl = 0;
	if (!msg || !domain || !*domain || !selector || !*selector || !key_pem)
		return kg_err_set(err, KG_EINVAL, "DKIM signing needs a message, domain, selector and key");
	/* check the key first: opendkim leaks on a bad one, and says less */
	BIO *bio = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	bool rsa = pk && EVP_PKEY_base_id(pk) == EVP_PKEY_RSA;
	EVP_PKEY_free(pk);
	BIO_free(bio);
	if (!rsa)
		return kg_err_set(err, KG_EINVAL, "DKIM key is not a PEM RSA private key");
	DKIM_LIB *lib = lib_new();
	if (!lib)
		return kg_err_set(err, KG_ENOMEM, "cannot initialise libopendkim");
	const char *oversign[] = {"from", "subject", "to", "date", "message-id", NULL};
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign, sizeof(char **));
	d = dkim_sign(lib, (const u_char *)"kagi", NULL, (dkim_sigkey_t)key_pem,
		      (const u_char *)selector, (const u_char *)domain, DKIM_CANON_RELAXED,
		      DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
	if (!d) {
		rc = kg_err_set(err, KG_EINVAL, "DKIM signing failed: %s", dkim_getresultstr(st));
		goto cleanup;
	}
	st = dkim_chunk(d, (u_char *)msg, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &hdr, &hl);
	if (st != DKIM_STAT_OK) {
		const char *e = dkim_geterror(d);
		rc = kg_err_set(err, KG_EINVAL, "DKIM signing failed: %s%s%s", dkim_getresultstr(st),
				e ? ": " : "", e ? e : "");
		goto cleanup;
	}
	bool crlf = memchr(msg, '\r', len < 4096 ? len : 4096) != NULL;
	rc = kg_buf_puts(out, "DKIM-Signature: ");
	/* opendkim folds with CRLF: use the message's own line ends */
	for (size_t i = 0; i < hl && !rc; i++) {
		if (hdr[i] == '\r')
			continue;
		if (hdr[i] == '\n' && crlf)
			rc = kg_buf_putc(out, '\r');
		if (!rc)
			rc = kg_buf_putc(out, (char)hdr[i]);
	}
	if (!rc)
		rc = kg_buf_puts(out, crlf ? "\r\n" : "\n");
	if (!rc)
		rc = kg_buf_append(out, msg, len);
	if (rc)
		kg_err_set(err, rc, "signed message does not fit");
cleanup:
	if (d)
		dkim_free(d);
	dkim_close(lib);
	return rc;
}
