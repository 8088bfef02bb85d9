/* Lock-free labelled counters (counters.h). */
#include "base/counters.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t tuple_hash(const char *v0, const char *v1)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *p = v0; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = v1; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static bool same(const struct kg_counter_slot *s, const char *v0, const char *v1)
{
	return !strncmp(s->v[0], v0, KG_COUNTER_VALUE_MAX - 1) &&
	       !strncmp(s->v[1], v1, KG_COUNTER_VALUE_MAX - 1);
}

/* The slot of (v0, v1), claimed and filled when new; NULL when the table is
 * full. */
static struct kg_counter_slot *slot_of(kg_counters *c, const char *v0, const char *v1, bool add)
{
	uint64_t h = tuple_hash(v0, v1);
	for (size_t i = 0; i < KG_COUNTERS_MAX; i++) {
		struct kg_counter_slot *s = &c->slot[(h + i) % KG_COUNTERS_MAX];
		int st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == 0 && add) {
			int empty = 0;
			if (atomic_compare_exchange_strong(&s->state, &empty, 1)) {
				snprintf(s->v[0], KG_COUNTER_VALUE_MAX, "%s", v0);
				snprintf(s->v[1], KG_COUNTER_VALUE_MAX, "%s", v1);
				atomic_store_explicit(&s->state, 2, memory_order_release);
				return s;
			}
			st = empty;
		}
		if (st == 0)
			return NULL; /* not counted yet */
		while (st == 1) /* another thread is copying its values in */
			st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (same(s, v0, v1))
			return s;
	}
	return NULL;
}

void kg_counters_add(kg_counters *c, const char *v0, const char *v1, uint64_t n)
{
	if (!c->label[1] || !v1)
		v1 = "";
	struct kg_counter_slot *s = slot_of(c, v0 ? v0 : "", v1, true);
	atomic_fetch_add_explicit(s ? &s->n : &c->other, n, memory_order_relaxed);
}

uint64_t kg_counters_get(const kg_counters *c, const char *v0, const char *v1)
{
	if (!c->label[1] || !v1)
		v1 = "";
	struct kg_counter_slot *s = slot_of((kg_counters *)c, v0 ? v0 : "", v1, false);
	return s ? atomic_load(&s->n) : 0;
}

/* A label value in the exposition format: \, " and newline escaped. */
static int put_value(kg_buf *out, const char *v)
{
	int rc = 0;
	for (const char *p = v; *p && rc == 0; p++)
		rc = *p == '\\' ? kg_buf_puts(out, "\\\\") : *p == '"' ? kg_buf_puts(out, "\\\"")
		   : *p == '\n' ? kg_buf_puts(out, "\\n") : kg_buf_putc(out, *p);
	return rc;
}

static int put_sample(const kg_counters *c, kg_buf *out, const char *v0, const char *v1, uint64_t n)
{
	int rc = kg_buf_printf(out, "%s{%s=\"", c->name, c->label[0]);
	rc = rc ? rc : put_value(out, v0);
	if (!rc && c->label[1]) {
		rc = kg_buf_printf(out, "\",%s=\"", c->label[1]);
		rc = rc ? rc : put_value(out, v1);
	}
	return rc ? rc : kg_buf_printf(out, "\"} %llu\n", (unsigned long long)n);
}

int kg_counters_render(const kg_counters *c, kg_buf *out)
{
	int rc = kg_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", c->name, c->help, c->name);
	for (size_t i = 0; i < KG_COUNTERS_MAX && rc == 0; i++) {
		const struct kg_counter_slot *s = &c->slot[i];
		if (atomic_load_explicit(&s->state, memory_order_acquire) == 2)
			rc = put_sample(c, out, s->v[0], s->v[1], atomic_load(&s->n));
	}
	uint64_t other = atomic_load(&c->other);
	if (!rc && other)
		rc = put_sample(c, out, "(other)", "(other)", other);
	return rc;
}
