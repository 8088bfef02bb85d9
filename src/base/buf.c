/* kg_buf: a growable byte buffer with an explicit maximum size. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kg_buf_init(kg_buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max_bytes;
}

void kg_buf_release(kg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void kg_buf_reset(kg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for `more` bytes plus the terminating NUL. */
static int buf_grow(kg_buf *b, size_t more)
{
	if (more > b->max || b->len > b->max - more)
		return KG_ELIMIT;
	size_t need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->data, cap);
	if (!p)
		return KG_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int kg_buf_reserve(kg_buf *b, size_t more)
{
	return more < b->cap - b->len ? 0 : buf_grow(b, more);
}

int kg_buf_append(kg_buf *b, const void *data, size_t len)
{
	/* room already (cap never exceeds max + 1, so this is within max) */
	int rc = len < b->cap - b->len ? 0 : buf_grow(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int kg_buf_puts(kg_buf *b, const char *s)
{
	return kg_buf_append(b, s, strlen(s));
}

int kg_buf_putc(kg_buf *b, char c)
{
	if (b->cap - b->len > 1) { /* room already: kg_buf_append's check */
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return kg_buf_append(b, &c, 1);
}

int kg_buf_vprintf(kg_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	char small[256];
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return KG_EINVAL;
	if ((size_t)n < sizeof(small))
		return kg_buf_append(b, small, (size_t)n);
	int rc = buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int kg_buf_printf(kg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = kg_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int kg_buf_json_str(kg_buf *b, const char *s, size_t len)
{
	size_t start = b->len;
	int rc = kg_buf_putc(b, '"');
	for (size_t i = 0; i < len && rc == 0; i++) {
		size_t run = i; /* bytes that need no escaping: appended whole */
		while (run < len && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
			run++;
		if (run > i) {
			rc = kg_buf_append(b, s + i, run - i);
			i = run;
			if (i == len || rc)
				break;
		}
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': rc = kg_buf_puts(b, "\\\""); break;
		case '\\': rc = kg_buf_puts(b, "\\\\"); break;
		case '\n': rc = kg_buf_puts(b, "\\n"); break;
		case '\r': rc = kg_buf_puts(b, "\\r"); break;
		case '\t': rc = kg_buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20)
				rc = kg_buf_printf(b, "\\u%04x", c);
			else
				rc = kg_buf_putc(b, (char)c);
		}
	}
	if (rc == 0)
		rc = kg_buf_putc(b, '"');
	if (rc) { /* leave the buffer as it was */
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
	}
	return rc;
}

char *kg_buf_detach(kg_buf *b, size_t *len_out)
{
	char *p = b->data;
	if (len_out)
		*len_out = b->len;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
