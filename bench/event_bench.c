/* event_bench: kg_event_parse alone (jsmn and validation, no features, rules
 * or decision output) over the lines of an NDJSON file held in memory.
 * Not a test: it prints events parsed per second of CPU time, and with
 * `valgrind --tool=callgrind` the instructions per event of kg_event_parse.
 *
 *   event_bench [--rounds N] EVENTS.ndjson */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "risk/risk.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	kg_buf b = KG_BUF_INIT((size_t)1 << 30);
	char chunk[1 << 16];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (kg_buf_append(&b, chunk, n)) {
			fclose(f);
			kg_buf_release(&b);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return b.data;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long rounds = 1;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = strtol(argv[++i], NULL, 10);
		else
			path = argv[i];
	}
	size_t len = 0;
	char *data = path ? slurp(path, &len) : NULL;
	kg_event_parser *p = kg_event_parser_new();
	if (!data || !p || rounds < 1) {
		fprintf(stderr, "usage: event_bench [--rounds N] EVENTS.ndjson\n");
		return 2;
	}
	long events = 0, errors = 0;
	double t0 = cpu_s();
	for (long r = 0; r < rounds; r++) {
		for (char *s = data, *end = data + len; s < end;) {
			char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
			const kg_event *ev;
			kg_err err;
			if (n) {
				if (kg_event_parse(p, s, n, &ev, &err))
					errors++;
				events++;
			}
			s += n + 1;
		}
	}
	double t = cpu_s() - t0;
	printf("{\"events\": %ld, \"errors\": %ld, \"cpu_s\": %.3f, \"events_per_cpu_s\": %.0f, "
	       "\"ns_per_event\": %.1f}\n",
	       events, errors, t, t > 0 ? (double)events / t : 0.0, t > 0 ? t * 1e9 / (double)events : 0.0);
	kg_event_parser_free(p);
	free(data);
	return 0;
}
