/* Progress of a long command on a terminal (base.h ## progress). Writes to
 * stderr only when it is a TTY, so pipes, files and logs never see it. */
#include "base/base.h"

#include <stdio.h>
#include <unistd.h>

#define PROGRESS_EVERY_NS 1000000000ull

void kg_progress_start(kg_progress *p, const char *what)
{
	p->on = isatty(STDERR_FILENO) == 1;
	p->what = what;
	p->start_ns = kg_mono_ns();
	p->next_ns = p->start_ns + PROGRESS_EVERY_NS;
	p->check_at = 0;
	p->width = 0;
}

static void show(kg_progress *p, uint64_t done, uint64_t now, const char *end)
{
	double secs = (double)(now - p->start_ns) / 1e9;
	char line[160];
	int n = snprintf(line, sizeof(line), "%s: %llu events, %.0f events/s, %.1f s", p->what,
			 (unsigned long long)done, secs > 0 ? (double)done / secs : 0.0, secs);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	/* \r back to the start; spaces clear what a longer earlier line left */
	fprintf(stderr, "\r%s%*s%s", line, p->width > len ? (int)(p->width - len) : 0, "", end);
	fflush(stderr);
	p->width = len;
}

void kg_progress_update(kg_progress *p, uint64_t done)
{
	if (!p || !p->on || done < p->check_at)
		return;
	p->check_at = done + 256; /* the clock is read once per 256 events */
	uint64_t now = kg_mono_ns();
	if (now < p->next_ns)
		return;
	p->next_ns = now + PROGRESS_EVERY_NS;
	show(p, done, now, "");
}

void kg_progress_end(kg_progress *p, uint64_t done)
{
	if (p && p->on)
		show(p, done, kg_mono_ns(), "\n");
}
