/* Counters by label values for /metrics (Prometheus text): a fixed table of
 * up to KG_COUNTERS_MAX distinct label tuples per counter. A tuple is copied
 * in the first time it is counted (a compare-and-swap claims its slot);
 * every later count is one atomic add, so counting never takes a lock.
 * Values longer than KG_COUNTER_VALUE_MAX - 1 bytes are cut; once the table
 * is full, new tuples are counted under the values "(other)".
 * Not here: what is counted (the modules that count). */
#ifndef KG_BASE_COUNTERS_H
#define KG_BASE_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define KG_COUNTERS_MAX 256
#define KG_COUNTER_VALUE_MAX 64

struct kg_counter_slot {
	_Atomic int state; /* 0 empty, 1 being filled, 2 ready */
	char v[2][KG_COUNTER_VALUE_MAX];
	_Atomic uint64_t n;
};

typedef struct kg_counters {
	const char *name;      /* kagi_..._total */
	const char *help;      /* the # HELP text */
	const char *label[2];  /* label names; label[1] NULL for one label */
	struct kg_counter_slot slot[KG_COUNTERS_MAX];
	_Atomic uint64_t other; /* tuples that found the table full */
} kg_counters;

/* A static counter: static kg_counters c = KG_COUNTERS_INIT("kagi_x_total",
 * "What it counts.", "code", NULL); */
#define KG_COUNTERS_INIT(name_, help_, l0, l1) {.name = (name_), .help = (help_), .label = {(l0), (l1)}}

/* Adds n to the tuple (v0, v1); v1 is ignored for a one-label counter. */
void kg_counters_add(kg_counters *c, const char *v0, const char *v1, uint64_t n);

/* The count of a tuple (0 when never counted). */
uint64_t kg_counters_get(const kg_counters *c, const char *v0, const char *v1);

/* Appends the # HELP and # TYPE lines and one sample per tuple counted. */
int kg_counters_render(const kg_counters *c, kg_buf *out);

#endif
