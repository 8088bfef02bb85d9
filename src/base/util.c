/* Small shared helpers: strict number parsing, whole-file reads, secrets. */
#include "base/base.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kg_parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return KG_EINVAL;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || end == s)
		return KG_EINVAL;
	*out = v;
	return 0;
}

int kg_read_file(const char *path, size_t max_bytes, char **data_out,
		 size_t *len_out, kg_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return kg_err_at(err, KG_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
	kg_buf b = KG_BUF_INIT(max_bytes);
	char chunk[65536];
	int rc = 0;
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = kg_buf_append(&b, chunk, n);
		if (rc == KG_ELIMIT) {
			kg_err_at(err, rc, path, 0, 0, "file is larger than %zu bytes", max_bytes);
			break;
		} else if (rc) {
			kg_err_at(err, rc, path, 0, 0, "out of memory");
			break;
		}
	}
	if (rc == 0 && ferror(f))
		rc = kg_err_at(err, KG_EIO, path, 0, 0, "read error");
	fclose(f);
	if (rc) {
		kg_buf_release(&b);
		return rc;
	}
	*data_out = kg_buf_detach(&b, len_out);
	return 0;
}

bool kg_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static void sodium_setup(void)
{
	if (sodium_init() < 0)
		abort();
}

void kg_random_bytes(void *buf, size_t len)
{
	pthread_once(&sodium_once, sodium_setup);
	randombytes_buf(buf, len);
}

char *kg_hex(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

size_t kg_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + len;
	while (p < e) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		int n = kg_utf8_seq(p, e);
		if (!n)
			break;
		p += n;
	}
	return (size_t)(p - (const unsigned char *)s);
}

size_t kg_utf8_first_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!*p)
		return 0;
	if (*p < 0x80)
		return 1;
	size_t len = 1;
	while (len < 4 && p[len])
		len++;
	int n = kg_utf8_seq(p, p + len);
	return n ? (size_t)n : 1;
}

int kg_utf8_check(const char *s, size_t len, const char *file, kg_err *err)
{
	size_t valid = kg_utf8_valid_prefix(s, len);
	if (valid == len)
		return 0;
	int line = 1, col = 1;
	for (size_t k = 0; k < valid; k++, col++)
		if (s[k] == '\n')
			line++, col = 0;
	return kg_err_at(err, KG_EINVAL, file, line, col, "invalid UTF-8 (byte 0x%02x)",
			 (unsigned char)s[valid]);
}
