/* Outbox rows at rest: a notice mail can hold a one-time code, and nothing
 * secret is stored in clear (S11), so with account.secret_key set the stored
 * message is a libsodium secretbox: "KGSEAL1\0" + nonce + box. The worker
 * opens it just before sending; the same sealed bytes give the same message
 * (and Message-ID) on every try. Not here: the key's other uses (account). */
#include "notify/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "KGSEAL1"
#define MAGIC_LEN 8 /* with its NUL */

static int load_key(const char *key_hex, unsigned char key[crypto_secretbox_KEYBYTES],
		    kg_err *err)
{
	size_t n = 0;
	if (!key_hex || !*key_hex)
		return kg_err_set(err, KG_ECONFLICT, "the outbox row is sealed and account.secret_key is not set");
	if (sodium_hex2bin(key, crypto_secretbox_KEYBYTES, key_hex, strlen(key_hex), NULL, &n, NULL) ||
	    n != crypto_secretbox_KEYBYTES)
		return kg_err_set(err, KG_EINVAL, "account.secret_key must be %d hex characters",
				  2 * crypto_secretbox_KEYBYTES);
	return 0;
}

bool kg_notify_is_sealed(const char *data, size_t len)
{
	return len >= MAGIC_LEN && !memcmp(data, MAGIC, MAGIC_LEN);
}

int kg_notify_seal(const char *key_hex, const char *data, size_t len, kg_buf *out, kg_err *err)
{
	unsigned char key[crypto_secretbox_KEYBYTES];
	int rc = load_key(key_hex, key, err);
	if (rc)
		return rc;
	size_t blen = MAGIC_LEN + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
	unsigned char *box = malloc(blen);
	if (!box) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(box, MAGIC, MAGIC_LEN);
	unsigned char *nonce = box + MAGIC_LEN;
	kg_random_bytes(nonce, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, (const unsigned char *)data, len,
			      nonce, key);
	if (kg_buf_append(out, box, blen))
		rc = kg_err_set(err, KG_ELIMIT, "sealed message too large");
	free(box);
cleanup:
	sodium_memzero(key, sizeof(key));
	return rc;
}

int kg_notify_unseal(const char *key_hex, const char *data, size_t len, kg_buf *out,
		     kg_err *err)
{
	if (!kg_notify_is_sealed(data, len))
		return kg_buf_append(out, data, len) ? kg_err_set(err, KG_ELIMIT, "message too large") : 0;
	unsigned char key[crypto_secretbox_KEYBYTES];
	int rc = load_key(key_hex, key, err);
	if (rc)
		return rc;
	const unsigned char *nonce = (const unsigned char *)data + MAGIC_LEN;
	size_t clen = len - MAGIC_LEN - crypto_secretbox_NONCEBYTES;
	if (len < MAGIC_LEN + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		rc = kg_err_set(err, KG_EINVAL, "sealed outbox row is truncated");
		goto cleanup;
	}
	unsigned char *plain = malloc(clen);
	if (!plain) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (crypto_secretbox_open_easy(plain, nonce + crypto_secretbox_NONCEBYTES, clen, nonce, key))
		rc = kg_err_set(err, KG_EAUTH, "the outbox row does not open with account.secret_key");
	else if (kg_buf_append(out, plain, clen - crypto_secretbox_MACBYTES))
		rc = kg_err_set(err, KG_ELIMIT, "message too large");
	sodium_memzero(plain, clen);
	free(plain);
cleanup:
	sodium_memzero(key, sizeof(key));
	return rc;
}

int kg_notify_outbox_message(const kg_outbox *o, kg_buf *out, kg_err *err)
{
	return kg_notify_unseal(kg_notify_seal_key(), o->mime, o->mime_len, out, err);
}
