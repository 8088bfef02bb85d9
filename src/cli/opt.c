/* The one option parser of the kagi subcommands: each command describes its
 * options in a table (struct kg_cli_opt), and kg_cli_parse reads argv into
 * the table's targets, checks numbers and choices, and prints the usage
 * from the same table. Not here: what a command does with its options. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define HELP_COLUMN 24 /* where an option's help line starts */

/* "a, b, c" of a NULL-ended list, cut to fit out. */
static void join(char *out, size_t size, const char *const *names)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; names[i] && len < size; i++) {
		int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", names[i]);
		len += n > 0 ? (size_t)n : 0;
	}
}

/* "  --name META    help", a help of several lines indented under its first. */
static void print_option(FILE *out, const struct kg_cli_opt *o)
{
	char left[64];
	int n = snprintf(left, sizeof(left), "  --%s%s%s", o->name, o->meta ? " " : "",
			 o->meta ? o->meta : "");
	if (n >= HELP_COLUMN - 1)
		fprintf(out, "%s\n%*s", left, HELP_COLUMN, "");
	else
		fprintf(out, "%-*s", HELP_COLUMN, left);
	for (const char *h = o->help ? o->help : ""; *h; h++) {
		fputc(*h, out);
		if (*h == '\n' && h[1])
			fprintf(out, "%*s", HELP_COLUMN, "");
	}
	fputc('\n', out);
}

void kg_cli_print_usage(const struct kg_cli_spec *s, FILE *out)
{
	fputs(s->usage, out);
	if (s->about)
		fprintf(out, "\n%s", s->about);
	bool any = false;
	for (const struct kg_cli_opt *o = s->opts; o && o->name; o++) {
		if (!any)
			fputs("\noptions:\n", out);
		any = true;
		print_option(out, o);
	}
	if (s->after)
		fprintf(out, "%s%s", any ? "" : "\n", s->after);
}

int kg_cli_bad(const struct kg_cli_spec *s, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kagi %s: ", s->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(s->usage, stderr);
	fprintf(stderr, "(kagi %s --help for every option)\n", s->name);
	return 2;
}

static int parse_u64(const char *v, uint64_t *out)
{
	if (*v < '0' || *v > '9')
		return KG_EINVAL;
	char *end = NULL;
	errno = 0;
	unsigned long long u = strtoull(v, &end, 10);
	if (errno || *end)
		return KG_EINVAL;
	*out = u;
	return 0;
}

/* Stores value into o's target; 0, or 2 after saying what was wrong. */
static int set_value(const struct kg_cli_spec *s, const struct kg_cli_opt *o, const char *v)
{
	switch (o->kind) {
	case KG_CLI_FLAG:
		return kg_cli_bad(s, "--%s takes no value", o->name);
	case KG_CLI_STR:
		if (!*v && !o->empty_ok)
			return kg_cli_bad(s, "--%s: expected %s, got an empty value", o->name,
					  o->meta ? o->meta : "a value");
		*o->str = v;
		return 0;
	case KG_CLI_INT: {
		int64_t n;
		if (kg_parse_i64(v, &n) || n < o->min || n > o->max)
			return kg_cli_bad(s, "--%s: expected an integer from %lld to %lld, got \"%s\"",
					  o->name, (long long)o->min, (long long)o->max, v);
		*o->num = n;
		return 0;
	}
	case KG_CLI_U64: {
		uint64_t n;
		if (parse_u64(v, &n))
			return kg_cli_bad(s, "--%s: expected an unsigned 64-bit integer, got \"%s\"",
					  o->name, v);
		*o->u64 = n;
		return 0;
	}
	case KG_CLI_REAL: {
		char *end = NULL;
		errno = 0;
		double d = strtod(v, &end);
		if (errno || end == v || *end || !isfinite(d) || d < o->rmin || d > o->rmax)
			return kg_cli_bad(s, "--%s: expected a number from %g to %g, got \"%s\"", o->name,
					  o->rmin, o->rmax, v);
		*o->real = d;
		return 0;
	}
	case KG_CLI_CHOICE: {
		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(o->choices[i], v)) {
				if (o->choice)
					*o->choice = i;
				if (o->str)
					*o->str = o->choices[i];
				return 0;
			}
		char list[256];
		join(list, sizeof(list), o->choices);
		return kg_cli_bad(s, "--%s: expected one of %s, got \"%s\"", o->name, list, v);
	}
	case KG_CLI_EACH: {
		kg_err err;
		kg_err_clear(&err);
		if (o->each(o->each_ctx, v, &err))
			return kg_cli_bad(s, "--%s: %s", o->name, err.msg);
		return 0;
	}
	}
	return kg_cli_bad(s, "--%s: unsupported option kind", o->name);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int kg_cli_parse(const struct kg_cli_spec *s, int argc, char **argv, int *nargs)
{
	*nargs = 0;
	if (wants_help(argc, argv)) {
		kg_cli_print_usage(s, stdout);
		return 0;
	}
	int w = 1; /* positional arguments are moved to argv[1..w) */
	bool seen[64] = {false};
	bool options_end = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (options_end || a[0] != '-' || !a[1]) { /* "-" is stdin: an argument */
			argv[w++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			options_end = true;
			continue;
		}
		if (a[1] != '-')
			return kg_cli_bad(s, "unknown option %s", a);
		const char *eq = strchr(a + 2, '=');
		size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		const struct kg_cli_opt *o = s->opts;
		size_t k = 0;
		while (o && o->name && (strlen(o->name) != len || strncmp(o->name, a + 2, len)))
			o++, k++;
		if (!o || !o->name)
			return kg_cli_bad(s, "unknown option --%.*s", (int)len, a + 2);
		if (k < KG_ARRAY_LEN(seen))
			seen[k] = true;
		if (o->kind == KG_CLI_FLAG) {
			if (eq)
				return kg_cli_bad(s, "--%s takes no value", o->name);
			*o->flag = true;
			continue;
		}
		const char *v = eq ? eq + 1 : NULL;
		if (!v) {
			if (i + 1 >= argc)
				return kg_cli_bad(s, "--%s: missing value%s%s", o->name,
						  o->meta ? " " : "", o->meta ? o->meta : "");
			v = argv[++i];
		}
		int rc = set_value(s, o, v);
		if (rc)
			return rc;
	}
	*nargs = w - 1;
	if (s->verbs) {
		char list[256];
		join(list, sizeof(list), s->verbs);
		if (*nargs == 0)
			return kg_cli_bad(s, "which one? (%s)", list);
		size_t v = 0;
		while (s->verbs[v] && strcmp(s->verbs[v], argv[1]))
			v++;
		if (!s->verbs[v])
			return kg_cli_bad(s, "unknown subcommand \"%s\" (%s)", argv[1], list);
	}
	size_t k = 0;
	for (const struct kg_cli_opt *o = s->opts; o && o->name; o++, k++)
		if (o->required && k < KG_ARRAY_LEN(seen) && !seen[k])
			return kg_cli_bad(s, "--%s%s%s is required", o->name, o->meta ? " " : "",
					  o->meta ? o->meta : "");
	if ((size_t)*nargs < s->min_args)
		return kg_cli_bad(s, "missing %s", s->args ? s->args : "argument");
	if ((size_t)*nargs > s->max_args)
		return kg_cli_bad(s, "unexpected argument \"%s\"", argv[1 + s->max_args]);
	return -1;
}
