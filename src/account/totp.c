/* TOTP (RFC 6238) over HOTP (RFC 4226) with OpenSSL's HMAC, and base32 for
 * the enrolment URI. Pure: the caller passes the time. */
#include "account/account.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int kg_totp_code(const uint8_t *secret, size_t secret_len, const char *md,
		 int64_t t_s, int step_s, int digits, uint32_t *code_out)
{
	const EVP_MD *alg = NULL;
	if (!md || !strcmp(md, "sha1"))
		alg = EVP_sha1();
	else if (!strcmp(md, "sha256"))
		alg = EVP_sha256();
	else if (!strcmp(md, "sha512"))
		alg = EVP_sha512();
	if (!alg || step_s <= 0 || digits < 6 || digits > 8 || t_s < 0 || !secret ||
	    secret_len == 0 || secret_len > 128)
		return KG_EINVAL;
	uint64_t counter = (uint64_t)(t_s / step_s);
	unsigned char msg[8];
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(alg, secret, (int)secret_len, msg, sizeof(msg), mac, &mac_len) || mac_len < 20)
		return KG_EINTERNAL;
	unsigned off = mac[mac_len - 1] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		       ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	uint32_t mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	*code_out = bin % mod;
	return 0;
}

int kg_totp_verify(const uint8_t *secret, size_t secret_len, const char *code,
		   int64_t now_s, int64_t *step_out)
{
	if (!code || strlen(code) != KG_TOTP_DIGITS)
		return KG_EAUTH;
	uint32_t want = 0;
	for (int i = 0; i < KG_TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return KG_EAUTH;
		want = want * 10 + (uint32_t)(code[i] - '0');
	}
	int ok = 0;
	int64_t step = 0;
	/* Check every step of the window so the time taken does not depend on
	 * which one matches. */
	for (int d = -1; d <= 1; d++) {
		int64_t t = now_s + (int64_t)d * KG_TOTP_STEP_S;
		uint32_t got;
		if (t < 0 || kg_totp_code(secret, secret_len, "sha1", t, KG_TOTP_STEP_S,
					  KG_TOTP_DIGITS, &got))
			continue;
		uint32_t diff = got ^ want;
		if (!diff && !ok) {
			ok = 1;
			step = t / KG_TOTP_STEP_S;
		}
	}
	if (!ok)
		return KG_EAUTH;
	if (step_out)
		*step_out = step;
	return 0;
}

int kg_base32_encode(const uint8_t *data, size_t len, char *out, size_t out_size)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t need = (len * 8 + 4) / 5 + 1;
	if (out_size < need)
		return KG_ELIMIT;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}
