/* Structured logs: one JSON object per line on stderr. */
#include "base/base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int log_level = KG_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void kg_log_set_level(enum kg_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum kg_log_level kg_log_get_level(void)
{
	return (enum kg_log_level)atomic_load(&log_level);
}

int kg_log_level_parse(const char *name, enum kg_log_level *out)
{
	for (size_t i = 0; i < KG_ARRAY_LEN(level_names); i++)
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum kg_log_level)i;
			return 0;
		}
	return KG_EINVAL;
}

void kg_log(enum kg_log_level level, const char *component, const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_level) || level >= KG_LOG_OFF)
		return;
	char msg[1024], ts[KG_TIME_STR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kg_buf line = KG_BUF_INIT(4096);
	kg_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":",
		      kg_time_format(kg_now_ms(), ts), level_names[level]);
	kg_buf_json_str(&line, component, strlen(component));
	kg_buf_puts(&line, ",\"msg\":");
	kg_buf_json_str(&line, msg, strlen(msg));
	kg_buf_puts(&line, "}\n");
	if (line.data)
		fwrite(line.data, 1, line.len, stderr); /* one write: lines stay whole */
	kg_buf_release(&line);
}
