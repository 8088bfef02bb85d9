/* Time as milliseconds since the epoch (UTC); RFC 3339 in and out. */
#include "base/base.h"

#include <stdio.h>
#include <time.h>

int64_t kg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t kg_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known civil-days formula, written out here). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
			return KG_EINVAL;
		v = v * 10 + (s[*pos] - '0');
		(*pos)++;
	}
	*out = v;
	return 0;
}

static int expect(const char *s, size_t len, size_t *pos, const char *any)
{
	if (*pos >= len)
		return KG_EINVAL;
	for (; *any; any++)
		if (s[*pos] == *any) {
			(*pos)++;
			return 0;
		}
	return KG_EINVAL;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* The n digits at s as a number, or -1 when one is not a digit. */
static int fixed_digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - (unsigned)'0';
		if (d > 9)
			return -1;
		v = v * 10 + (int)d;
	}
	return v;
}

int kg_time_parse(const char *s, size_t len, int64_t *ms_out)
{
	/* The usual form, "2026-11-28T10:00:00.000Z" (what kg_time_format
	 * writes) or without the fraction, at once; the same checks and sums
	 * as the general case below. */
	if ((len == 24 || len == 20) && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
	    s[13] == ':' && s[16] == ':' && s[len - 1] == 'Z' && (len == 20 || s[19] == '.')) {
		int Y = fixed_digits(s, 4), M = fixed_digits(s + 5, 2), D = fixed_digits(s + 8, 2);
		int h = fixed_digits(s + 11, 2), mi = fixed_digits(s + 14, 2);
		int sec = fixed_digits(s + 17, 2), ms = len == 24 ? fixed_digits(s + 20, 3) : 0;
		if ((Y | M | D | h | mi | sec | ms) >= 0) {
			if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 ||
			    mi > 59 || sec > 60)
				return KG_EINVAL;
			int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec;
			*ms_out = t * 1000 + ms;
			return 0;
		}
	}
	size_t p = 0;
	int Y, M, D, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
	if (digits(s, len, &p, 4, &Y) || expect(s, len, &p, "-") ||
	    digits(s, len, &p, 2, &M) || expect(s, len, &p, "-") ||
	    digits(s, len, &p, 2, &D) || expect(s, len, &p, "Tt ") ||
	    digits(s, len, &p, 2, &h) || expect(s, len, &p, ":") ||
	    digits(s, len, &p, 2, &mi) || expect(s, len, &p, ":") ||
	    digits(s, len, &p, 2, &sec))
		return KG_EINVAL;
	if (p < len && s[p] == '.') {
		p++;
		int n = 0;
		while (p < len && s[p] >= '0' && s[p] <= '9') {
			if (n < 3)
				ms = ms * 10 + (s[p] - '0');
			n++;
			p++;
		}
		if (n == 0 || n > 9)
			return KG_EINVAL;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (p >= len)
		return KG_EINVAL;
	if (s[p] == 'Z' || s[p] == 'z') {
		p++;
	} else if (s[p] == '+' || s[p] == '-') {
		sign = s[p] == '-' ? -1 : 1;
		p++;
		if (digits(s, len, &p, 2, &oh) || expect(s, len, &p, ":") ||
		    digits(s, len, &p, 2, &om) || oh > 23 || om > 59)
			return KG_EINVAL;
	} else {
		return KG_EINVAL;
	}
	if (p != len || M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) ||
	    h > 23 || mi > 59 || sec > 60)
		return KG_EINVAL;
	int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*ms_out = t * 1000 + ms;
	return 0;
}

char *kg_time_format(int64_t ms, char out[KG_TIME_STR_MAX])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int msec = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	/* Month, day, hour, minute, second and millisecond are in range by
	 * construction; the unsigned remainders say so to the compiler, whose
	 * -Wformat-truncation would otherwise count 11 bytes for each. The year of
	 * an int64 of milliseconds has at most 9 digits and a sign: 30 bytes in all. */
	snprintf(out, KG_TIME_STR_MAX, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, (unsigned)m % 13u,
		 (unsigned)d % 32u, (unsigned)(rem / 3600) % 24u, (unsigned)(rem / 60 % 60) % 60u,
		 (unsigned)(rem % 60) % 60u, (unsigned)msec % 1000u);
	return out;
}

char *kg_time_format_next(int64_t ms, int64_t *prev_ms, char out[KG_TIME_STR_MAX])
{
	int64_t prev = *prev_ms;
	*prev_ms = ms;
	if (ms == prev)
		return out;
	if (ms < 0 || prev < 0 || ms / 1000 != prev / 1000)
		return kg_time_format(ms, out);
	char *z = out + strlen(out) - 1; /* "…SS.mmmZ" */
	int msec = (int)(ms % 1000);
	z[-3] = (char)('0' + msec / 100);
	z[-2] = (char)('0' + msec / 10 % 10);
	z[-1] = (char)('0' + msec % 10);
	return out;
}

int kg_time_year(int64_t ms)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	return y;
}
