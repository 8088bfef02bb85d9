/* The breaker's change detector: a one-sided Poisson CUSUM over an EWMA
 * baseline with a floor, per event-time minute (guard.h). Pure arithmetic:
 * no store, no clock. */
#include <math.h>
#include <stdio.h>

#include "guard/guard.h"

/* Empty minutes past which nothing changes any more (S is 0 and the
 * baseline has decayed to the floor long before). */
#define CLOSE_MAX 100000
#define STATE_MAX 1000000000000LL

void kg_guard_cusum_init(struct kg_guard_cusum *c, double floor)
{
	*c = (struct kg_guard_cusum){0};
	c->floor = floor;
	c->base = floor;
}

static double lam0(const struct kg_guard_cusum *c)
{
	return c->base > c->floor ? c->base : c->floor;
}

static double step(double s, int64_t x, double l0)
{
	double v = s + (double)x * log(KG_GUARD_CUSUM_RATIO) - l0 * (KG_GUARD_CUSUM_RATIO - 1);
	return v > 0 ? v : 0;
}

/* What a minute of x locks teaches the baseline: x, but at most twice
 * lam0 (and at least 1): the baseline follows a rate that grows by less
 * than about 1.7 % a minute (a day's ramp), not one that comes from nowhere
 * (a new rule locking as logins come in), and an ordinary minute with one
 * lock still counts as one. In a new store's first day (KG_GUARD_YOUNG_MIN)
 * a detector that warmed up learns x whole: its rules' rates grow for hours
 * as the store's windows fill (return_ratio needs purchases first, and
 * doubled every hour of the big shop's first morning). */
static double learned(const struct kg_guard_cusum *c, int64_t minute, int64_t x)
{
	if (c->warm_until && minute < c->warm_until + KG_GUARD_YOUNG_MIN)
		return (double)x; /* a young store: its rules' rates still grow */
	double cap = 2 * lam0(c);
	if (cap < 1)
		cap = 1;
	return (double)x < cap ? (double)x : cap;
}

/* Closes the minute in progress and the empty ones up to (not including)
 * minute. */
static void close_to(struct kg_guard_cusum *c, int64_t minute)
{
	if (!c->minute || minute <= c->minute)
		return;
	int64_t gap = minute - c->minute;
	for (int64_t i = 0; i < gap && i < CLOSE_MAX; i++) {
		int64_t x = i == 0 ? c->count : 0;
		if (c->minute + i < c->warm_until) { /* learning: no CUSUM yet */
			c->base += KG_GUARD_WARMUP_ALPHA * ((double)x - c->base);
			c->s = 0;
			c->onset = 0;
			continue;
		}
		double before = c->s;
		c->s = step(c->s, x, lam0(c));
		if (before == 0 && c->s > 0)
			c->onset = c->minute + i;
		if (c->s == 0)
			c->onset = 0;
		/* the baseline learns every minute that began with S at 0,
		 * whatever its own count: choosing minutes by their own count
		 * (those that end at 0) leaves out the minutes with a lock and
		 * learns a rate far below the true one */
		if (before == 0)
			c->base += KG_GUARD_EWMA_ALPHA * (learned(c, c->minute + i, x) - c->base);
		if (i > 0 && c->s == 0 && c->base <= c->floor)
			break;
	}
	c->minute = minute;
	c->count = 0;
}

double kg_guard_cusum_add(struct kg_guard_cusum *c, int64_t minute, int64_t n)
{
	if (!c->minute)
		c->minute = minute;
	close_to(c, minute);
	c->count += n;
	if (c->minute < c->warm_until)
		return 0;
	double s = step(c->s, c->count, lam0(c));
	if (s > 0 && !c->onset)
		c->onset = c->minute;
	return s;
}

double kg_guard_cusum_peek(const struct kg_guard_cusum *c, int64_t minute)
{
	struct kg_guard_cusum t = *c;
	if (!t.minute)
		return 0;
	close_to(&t, minute);
	if (t.minute < t.warm_until)
		return 0;
	return t.minute == c->minute ? step(t.s, t.count, lam0(&t)) : t.s;
}

void kg_guard_cusum_format(const struct kg_guard_cusum *c, char out[128])
{
	snprintf(out, 128, "%lld %lld %.17g %.17g %lld", (long long)c->minute, (long long)c->count,
		 c->s, c->base, (long long)c->onset);
}

int kg_guard_cusum_parse(const char *s, struct kg_guard_cusum *c)
{
	long long m, n, o;
	double sv, b;
	char tail;
	/* limits: minutes before year 3900, counts and rates below 10^12 */
	if (!s || sscanf(s, "%lld %lld %lg %lg %lld%c", &m, &n, &sv, &b, &o, &tail) != 5 ||
	    m < 0 || m > STATE_MAX || n < 0 || n > STATE_MAX || !(sv >= 0 && sv <= STATE_MAX) ||
	    !(b >= 0 && b <= STATE_MAX) || o < 0 || o > m)
		return KG_EINVAL;
	*c = (struct kg_guard_cusum){m, n, sv, b, o, c->floor, c->warm_until};
	return 0;
}
