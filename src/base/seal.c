/* Sealing at rest with account.secret_key (docs/operations.md, "Sealed
 * at rest"): one format for every sealed value kagi stores (TOTP secrets,
 * outbox rows holding a one-time code). A sealed value is
 *   "KGSEAL1\0" || nonce (24 bytes) || crypto_secretbox(data)
 * The magic names the format and its version, so a reader tells a sealed
 * value from a plain or an older one without guessing. Not here: what is
 * sealed, or upgrading older rows (their owners do that on read). */
#include "base/base.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "KGSEAL1"
#define MAGIC_LEN 8 /* with its NUL */
#define OVERHEAD (MAGIC_LEN + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

int kg_seal_key_load(const char *key_hex, unsigned char key[KG_SEAL_KEY_BYTES], kg_err *err)
{
	size_t n = 0;
	if (!key_hex || !*key_hex)
		return kg_err_set(err, KG_ECONFLICT, "account.secret_key is not set in the config");
	if (strlen(key_hex) != 2 * KG_SEAL_KEY_BYTES ||
	    sodium_hex2bin(key, KG_SEAL_KEY_BYTES, key_hex, strlen(key_hex), NULL, &n, NULL) ||
	    n != KG_SEAL_KEY_BYTES)
		return kg_err_set(err, KG_EINVAL, "account.secret_key must be %d hex characters",
				  2 * KG_SEAL_KEY_BYTES);
	return 0;
}

bool kg_is_sealed(const void *data, size_t len)
{
	return len >= MAGIC_LEN && !memcmp(data, MAGIC, MAGIC_LEN);
}

int kg_seal(const char *key_hex, const void *data, size_t len, kg_buf *out, kg_err *err)
{
	_Static_assert(KG_SEAL_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
	unsigned char key[KG_SEAL_KEY_BYTES];
	int rc = kg_seal_key_load(key_hex, key, err);
	if (rc)
		return rc;
	size_t blen = OVERHEAD + len;
	unsigned char *box = malloc(blen);
	if (!box) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(box, MAGIC, MAGIC_LEN);
	unsigned char *nonce = box + MAGIC_LEN;
	kg_random_bytes(nonce, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, data, len, nonce, key);
	if (kg_buf_append(out, box, blen))
		rc = kg_err_set(err, KG_ELIMIT, "sealed value too large");
	free(box);
cleanup:
	sodium_memzero(key, sizeof(key));
	return rc;
}

int kg_unseal(const char *key_hex, const void *data, size_t len, kg_buf *out, kg_err *err)
{
	if (!kg_is_sealed(data, len))
		return kg_err_set(err, KG_EINVAL, "not a sealed value (no KGSEAL1 header)");
	if (len < OVERHEAD)
		return kg_err_set(err, KG_EINVAL, "sealed value is truncated");
	unsigned char key[KG_SEAL_KEY_BYTES];
	int rc = kg_seal_key_load(key_hex, key, err);
	if (rc)
		return rc;
	const unsigned char *nonce = (const unsigned char *)data + MAGIC_LEN;
	size_t clen = len - MAGIC_LEN - crypto_secretbox_NONCEBYTES;
	unsigned char *plain = malloc(clen);
	if (!plain) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (crypto_secretbox_open_easy(plain, nonce + crypto_secretbox_NONCEBYTES, clen, nonce, key))
		rc = kg_err_set(err, KG_EAUTH, "sealed value does not open with account.secret_key");
	else if (kg_buf_append(out, plain, clen - crypto_secretbox_MACBYTES))
		rc = kg_err_set(err, KG_ELIMIT, "sealed value too large");
	sodium_memzero(plain, clen);
	free(plain);
cleanup:
	sodium_memzero(key, sizeof(key));
	return rc;
}
