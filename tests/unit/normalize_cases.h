/* tests/data/normalize/cases.tsv read the same way by each test of a user of
 * the one text and address equality (base, the identity check, the rules):
 * every row goes to the user's check, which answers same or not. */
#ifndef KG_TEST_NORMALIZE_CASES_H
#define KG_TEST_NORMALIZE_CASES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct norm_case {
	int line;
	bool address, same;
	const char *a, *b;    /* kind text; for an address, the row's text */
	kg_addr_text aa, ab;  /* kind address: parts NUL-terminated, "" when empty */
};

/* The user's answer for one row: true when it finds a and b the same. */
typedef bool (*norm_case_fn)(const struct norm_case *c, void *ctx);

static char *norm_split(char **p, char sep)
{
	char *s = *p;
	if (!s)
		return NULL;
	char *e = strchr(s, sep);
	if (e) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static kg_str norm_part(char **p)
{
	char *s = norm_split(p, '|');
	s = s ? s : "";
	return (kg_str){s, (uint32_t)strlen(s)};
}

static void norm_address(char *s, kg_addr_text *a)
{
	a->postal_code = norm_part(&s);
	a->region = norm_part(&s);
	a->city = norm_part(&s);
	a->line1 = norm_part(&s);
	a->line2 = norm_part(&s);
	a->country = (kg_str){"", 0};
}

/* Runs fn over every row; prints each row it answers wrongly (file:line) and
 * returns their number, or -1 when the file has too few rows to mean much. */
static int norm_cases_run(norm_case_fn fn, void *ctx, const char *who)
{
	char path[1024];
	const char *dir = getenv("KG_TEST_DATA");
	snprintf(path, sizeof(path), "%s/normalize/cases.tsv", dir ? dir : "tests/data");
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	char line[2048], copy[2048];
	int rows = 0, bad = 0, lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *p = line;
		char *kind = norm_split(&p, '\t'), *a = norm_split(&p, '\t'), *b = norm_split(&p, '\t');
		char *want = norm_split(&p, '\t');
		if (!want || p || (strcmp(want, "same") && strcmp(want, "differ"))) {
			fprintf(stderr, "%s:%d: expected kind, a, b, same|differ\n", path, lineno);
			bad++;
			continue;
		}
		struct norm_case c;
		memset(&c, 0, sizeof(c));
		c.line = lineno;
		c.address = !strcmp(kind, "address");
		c.same = !strcmp(want, "same");
		c.a = a;
		c.b = b;
		snprintf(copy, sizeof(copy), "%s", b);
		if (c.address) {
			norm_address(a, &c.aa);
			norm_address(copy, &c.ab);
		}
		if (fn(&c, ctx) != c.same) {
			fprintf(stderr, "%s:%d: %s: expected %s\n", path, lineno, who, want);
			bad++;
		}
		rows++;
	}
	fclose(f);
	return rows >= 30 ? bad : -1;
}

#endif
