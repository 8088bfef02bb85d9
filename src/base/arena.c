/* kg_arena: bump allocation for one request; freed all at once. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kg_arena_chunk {
	kg_arena_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

void kg_arena_init(kg_arena *a, size_t chunk_bytes)
{
	a->head = NULL;
	a->chunk_bytes = chunk_bytes ? chunk_bytes : 8192;
	a->total_bytes = 0;
	a->spare = NULL;
}

static void free_chunks(kg_arena_chunk *c)
{
	while (c) {
		kg_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

void kg_arena_release(kg_arena *a)
{
	free_chunks(a->head);
	free_chunks(a->spare);
	a->head = a->spare = NULL;
	a->total_bytes = 0;
}

void kg_arena_reset(kg_arena *a)
{
	kg_arena_chunk *keep = a->head;
	if (!keep)
		return;
	for (kg_arena_chunk *c = keep->next, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	keep->next = NULL;
	keep->used = 0;
	a->total_bytes = keep->size;
	free_chunks(a->spare);
	a->spare = NULL;
}

void kg_arena_rewind(kg_arena *a)
{
	while (a->head) {
		kg_arena_chunk *c = a->head;
		a->head = c->next;
		c->used = 0;
		c->next = a->spare;
		a->spare = c;
	}
	a->total_bytes = 0;
}

void *kg_arena_alloc(kg_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	kg_arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		if (a->spare && a->spare->size >= n) { /* kept by kg_arena_rewind */
			c = a->spare;
			a->spare = c->next;
		} else {
			size_t size = n > a->chunk_bytes ? n : a->chunk_bytes;
			c = malloc(sizeof(*c) + size);
			if (!c)
				abort();
			c->used = 0;
			c->size = size;
		}
		c->next = a->head;
		a->head = c;
		a->total_bytes += c->size;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *kg_arena_strndup(kg_arena *a, const char *s, size_t n)
{
	char *p = kg_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *kg_arena_strdup(kg_arena *a, const char *s)
{
	return kg_arena_strndup(a, s, strlen(s));
}

char *kg_arena_printf(kg_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = kg_arena_alloc(a, n > 0 ? (size_t)n + 1 : 1);
	if (n > 0)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}
