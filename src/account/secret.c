/* Secrets of the account module: Argon2id password and code hashes, random
 * tokens kept only as BLAKE2b hashes, 6-digit codes, sealing with
 * account.secret_key, and the one-time code rule (expiry, tries). */
#include "account/account.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kg_password_hash(const char *pw, size_t len, int64_t ops, int64_t mem_kib,
		     char out[KG_PWHASH_MAX], kg_err *err)
{
	if (sodium_init() < 0)
		return kg_err_set(err, KG_EINTERNAL, "libsodium did not initialise");
	if (crypto_pwhash_str_alg(out, pw, len, (unsigned long long)ops, (size_t)mem_kib * 1024,
				  crypto_pwhash_ALG_ARGON2ID13))
		return kg_err_set(err, KG_ENOMEM, "argon2id hash failed (out of memory?)");
	return 0;
}

bool kg_password_verify(const char *hash, const char *pw, size_t len)
{
	if (!hash || !*hash)
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[KG_PWHASH_MAX];
static int64_t dummy_ops, dummy_mem;

const char *kg_password_dummy_hash(int64_t ops, int64_t mem_kib)
{
	pthread_mutex_lock(&dummy_lock);
	if (!dummy_hash[0] || dummy_ops != ops || dummy_mem != mem_kib) {
		unsigned char pw[32];
		kg_random_bytes(pw, sizeof(pw));
		if (kg_password_hash((const char *)pw, sizeof(pw), ops, mem_kib, dummy_hash, NULL))
			dummy_hash[0] = '\0';
		dummy_ops = ops;
		dummy_mem = mem_kib;
	}
	pthread_mutex_unlock(&dummy_lock);
	return dummy_hash;
}

int kg_password_check(const char *pw, const char *field, kg_err *err)
{
	if (!pw)
		return kg_err_field(err, KG_EINVAL, field, "a password is required");
	size_t n = strlen(pw);
	if (n < 8)
		return kg_err_field(err, KG_EINVAL, field, "the password must have at least 8 characters");
	if (n > KG_PASSWORD_MAX)
		return kg_err_field(err, KG_EINVAL, field, "the password must have at most %d bytes",
				    KG_PASSWORD_MAX);
	return 0;
}

void kg_code_new(char code[7])
{
	kg_random_bytes(code, 1); /* makes sure libsodium is set up */
	uint32_t v = randombytes_uniform(1000000);
	snprintf(code, 7, "%06u", (unsigned)v);
}

/* The format TOTP secrets were sealed in before KGSEAL1 (base/seal.c): hex
 * of nonce || secretbox, no header. Read only, to upgrade a stored row
 * (docs/operations.md, "Sealed at rest"); nothing writes it any more. */
int kg_account_unseal_legacy(const char *key_hex, const void *sealed_hex, size_t hlen,
			     kg_buf *out, kg_err *err)
{
	unsigned char key[KG_SEAL_KEY_BYTES];
	int rc = kg_seal_key_load(key_hex, key, err);
	if (rc)
		return rc;
	size_t blen = 0;
	unsigned char *box = malloc(hlen / 2 + 1);
	unsigned char *plain = malloc(hlen / 2 + 1);
	if (!box || !plain) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (sodium_hex2bin(box, hlen / 2 + 1, sealed_hex, hlen, NULL, &blen, NULL) ||
	    blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
	    crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES, box, key)) {
		rc = kg_err_set(err, KG_EAUTH, "sealed value does not open with account.secret_key");
		goto cleanup;
	}
	kg_buf_reset(out);
	if (kg_buf_append(out, plain, blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES))
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
	sodium_memzero(plain, blen);
cleanup:
	sodium_memzero(key, sizeof(key));
	free(box);
	free(plain);
	return rc;
}

enum kg_code_verdict kg_code_check(kg_code_state *st, const char *code, int64_t now_ms)
{
	if (st->used)
		return KG_CODE_USED;
	if (now_ms >= st->expires_ms)
		return KG_CODE_EXPIRED;
	if (st->attempts >= st->max_attempts)
		return KG_CODE_EXHAUSTED;
	st->attempts++;
	if (code && strlen(code) == 6 && kg_password_verify(st->hash, code, 6)) {
		st->used = true;
		return KG_CODE_OK;
	}
	return st->attempts >= st->max_attempts ? KG_CODE_EXHAUSTED : KG_CODE_WRONG;
}
