/* kg_err: the one error type of kagi (code, message, field or position). */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

void kg_err_clear(kg_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

/* Sets every part of e: the position (field, or file:line:col; the others
 * empty) and the formatted message. Returns code. */
static int err_vset(kg_err *e, int code, const char *field, const char *file, int line, int col,
		    const char *fmt, va_list ap)
{
	if (!e)
		return code;
	e->code = code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	e->col = col;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int kg_err_set(kg_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, NULL, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int kg_err_field(kg_err *e, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, field, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return code;
}

int kg_err_at(kg_err *e, int code, const char *file, int line, int col,
	      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, NULL, file, line, col, fmt, ap);
	va_end(ap);
	return code;
}

int kg_err_json(kg_err *e, int line, int col, long byte, const char *what)
{
	return kg_err_at(e, KG_EINVAL, NULL, line, col,
			 "invalid JSON at line %d, column %d (byte %ld): %s", line, col, byte, what);
}

const char *kg_code_name(int code)
{
	switch (code) {
	case KG_OK: return "ok";
	case KG_EINVAL: return "invalid";
	case KG_ENOMEM: return "no_memory";
	case KG_ELIMIT: return "too_large";
	case KG_ENOTFOUND: return "not_found";
	case KG_ECONFLICT: return "conflict";
	case KG_EIO: return "io";
	case KG_EAUTH: return "unauthorized";
	case KG_EFORBIDDEN: return "forbidden";
	case KG_EINTERNAL: return "internal";
	case KG_EBUSY: return "busy";
	case KG_EFULL: return "storage_full";
	case KG_ETHROTTLED: return "throttled";
	default: return "error";
	}
}

char *kg_err_format(const kg_err *e, char *out, size_t out_size)
{
	if (!e || out_size == 0) {
		if (out_size)
			out[0] = '\0';
		return out;
	}
	if (e->file[0] && e->col > 0)
		snprintf(out, out_size, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
	else if (e->file[0] && e->line > 0)
		snprintf(out, out_size, "%s:%d: %s", e->file, e->line, e->msg);
	else if (e->file[0])
		snprintf(out, out_size, "%s: %s", e->file, e->msg);
	else if (e->field[0])
		snprintf(out, out_size, "field \"%s\": %s", e->field, e->msg);
	else
		snprintf(out, out_size, "%s", e->msg);
	return out;
}
