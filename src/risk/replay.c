/* Replay: an NDJSON event stream through the engine, in order, in memory or
 * into a store in group-committed batches. Used by `kagi replay` and the
 * benchmark. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "risk/risk_impl.h"
#include "store/store.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int flush_out(kg_buf *b, FILE *out, bool quiet, kg_err *err)
{
	if (!quiet && b->len && fwrite(b->data, 1, b->len, out) != b->len)
		return kg_err_set(err, KG_EIO, "cannot write the output");
	kg_buf_reset(b);
	return 0;
}

/* Decision latencies for --stats. */
struct lats {
	uint32_t *v;
	size_t n, cap;
};

static int lats_add(struct lats *l, uint64_t ns, kg_err *err)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1 << 16;
		uint32_t *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

/* ---- in memory -------------------------------------------------------------
 * The input is read in large blocks and split into lines in place, so the
 * lines after the one being decided are at hand: their accounts are warmed
 * (kg_risk_warm) while it is decided. */
/* > KG_EVENT_BYTES_MAX: a line that does not fit is refused as too large.
 * Small enough that a block split into lines is still in the caches when
 * its lines are decided (256 KiB: ~3 % faster than 1 MiB). */
#define READ_BLOCK_BYTES (1 << 18)

struct line {
	size_t off, len; /* in the reader's buffer, without the newline */
	bool too_long;
	bool hinted; /* ah, acct_off, acct_len hold the account hint */
	uint64_t ah;
	uint32_t acct_off, acct_len;
};

struct reader {
	FILE *in;
	char *buf;
	size_t len;  /* bytes in buf */
	size_t done; /* bytes of buf split into lines */
	bool eof, skipping; /* skipping: inside a too long line */
	struct line *lines;
	size_t n_lines, lines_cap;
};

static int add_line(struct reader *rd, size_t off, size_t len, bool too_long)
{
	if (rd->n_lines == rd->lines_cap) {
		size_t nc = rd->lines_cap ? rd->lines_cap * 2 : 4096;
		struct line *nl = realloc(rd->lines, nc * sizeof(*nl));
		if (!nl)
			return KG_ENOMEM;
		rd->lines = nl;
		rd->lines_cap = nc;
	}
	rd->lines[rd->n_lines++] = (struct line){.off = off, .len = len, .too_long = too_long};
	return 0;
}

/* Replaces the lines at hand with the complete lines of the next block;
 * none at the end of the input. Returns 0, KG_EIO or KG_ENOMEM. */
static int reader_next(struct reader *rd)
{
	memmove(rd->buf, rd->buf + rd->done, rd->len - rd->done);
	rd->len -= rd->done;
	rd->done = 0;
	rd->n_lines = 0;
	int rc = 0;
	while (!rd->n_lines && !rc) {
		if (rd->eof) {
			if (rd->len && !rd->skipping) /* a last line without a newline */
				rc = add_line(rd, 0, rd->len, false);
			rd->done = rd->len;
			break;
		}
		if (rd->len == READ_BLOCK_BYTES) {
			/* one line fills the block: it is refused, the rest of it
			 * skipped */
			rd->len = 0;
			if (!rd->skipping && (rc = add_line(rd, 0, 0, true)))
				break;
			rd->skipping = true;
		}
		size_t got = fread(rd->buf + rd->len, 1, READ_BLOCK_BYTES - rd->len, rd->in);
		if (!got) {
			if (ferror(rd->in))
				return KG_EIO;
			rd->eof = true;
			continue;
		}
		size_t scan = rd->len;
		rd->len += got;
		for (char *nl; !rc && (nl = memchr(rd->buf + scan, '\n', rd->len - scan));) {
			size_t end = (size_t)(nl - rd->buf);
			if (rd->skipping)
				rd->skipping = false;
			else
				rc = add_line(rd, rd->done, end - rd->done, false);
			rd->done = scan = end + 1;
		}
		if (rd->skipping) /* no end of the too long line yet */
			rd->len = rd->done = 0;
	}
	return rc;
}

/* The account of an event line as a hint for warming (kg_risk_account_hint). */
static void hint_line(const struct reader *rd, struct line *l)
{
	const char *s = rd->buf + l->off;
	kg_str a;
	if (!kg_risk_account_hint(s, l->len, &a))
		return;
	l->hinted = true;
	l->acct_off = (uint32_t)(a.p - s);
	l->acct_len = a.n;
	l->ah = kg_risk_hash(a.p, a.n);
}

static void warm(kg_risk *risk, const struct reader *rd, const struct line *l, int stage)
{
	if (l->hinted)
		kg_risk_warm(risk, l->ah,
			     (kg_str){rd->buf + l->off + l->acct_off, l->acct_len}, stage);
}

static int replay_memory(const struct kg_risk_replay_opts *o, kg_risk *risk, FILE *in,
			 FILE *out, struct lats *lat, size_t *events, kg_err *err)
{
	struct reader rd = {.in = in};
	kg_buf ob = KG_BUF_INIT(KG_HTTP_BATCH_BODY_MAX);
	size_t lineno = 0;
	int rc = 0;
	if (!(rd.buf = malloc(READ_BLOCK_BYTES + 1))) { /* + the NUL of a last line */
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	uint64_t t_prev = 0; /* end of the previous event, with --stats */
	kg_err e;
	kg_err_clear(&e);
	while (!(rc = reader_next(&rd)) && rd.n_lines) {
		struct line *ls = rd.lines;
		t_prev = o->stats ? kg_mono_ns() : 0;
		size_t n = rd.n_lines;
		for (size_t i = 0; i < n && i < 2; i++)
			hint_line(&rd, &ls[i]);
		if (n > 1)
			warm(risk, &rd, &ls[1], 0);
		if (n)
			warm(risk, &rd, &ls[0], 1);
		for (size_t i = 0; i < n && !rc; i++) {
			/* three stages, one event apart; the last one's loads land
			 * while line i is parsed */
			if (i + 2 < n) {
				hint_line(&rd, &ls[i + 2]);
				warm(risk, &rd, &ls[i + 2], 0);
			}
			if (i + 1 < n)
				warm(risk, &rd, &ls[i + 1], 1);
			warm(risk, &rd, &ls[i], 2);

			char *line = rd.buf + ls[i].off;
			size_t len = ls[i].len;
			lineno++;
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				len--;
			if (len == 0 && !ls[i].too_long)
				continue;
			if (!ls[i].too_long)
				line[len] = '\0';
			(*events)++;
			kg_progress_update(o->progress, *events);
			if (ls[i].too_long)
				kg_err_field(&e, KG_ELIMIT, "", "event larger than %d bytes",
					     KG_EVENT_BYTES_MAX);
			if (e.code || kg_risk_decide(risk, line, len, &ob, &e)) {
				if (e.code == KG_ENOMEM || e.code == KG_EIO) {
					rc = kg_err_set(err, e.code, "line %zu: %s", lineno, e.msg);
					break;
				}
				kg_risk_error_json(&e, &ob);
				kg_err_clear(&e); /* cleared after use, not per event (~800 bytes) */
			}
			if ((rc = kg_buf_putc(&ob, '\n'))) {
				kg_err_set(err, rc, "output buffer full");
				break;
			}
			if (o->stats) {
				/* one clock read per event (each costs ~1 % of an
				 * event): from the end of the previous one, so the
				 * warming done for the next events is counted too */
				uint64_t now = kg_mono_ns();
				if ((rc = lats_add(lat, now - t_prev, err)))
					break;
				t_prev = now;
			}
			if (ob.len > 1 << 20) {
				if ((rc = flush_out(&ob, out, o->quiet, err)))
					break;
				t_prev = o->stats ? kg_mono_ns() : 0;
			}
		}
		if (rc)
			break;
	}
	if (rc == KG_EIO && !err->code)
		rc = kg_err_at(err, KG_EIO, o->input, (int)lineno, 0, "read error");
	else if (rc == KG_ENOMEM && !err->code)
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
	if (!rc)
		rc = flush_out(&ob, out, o->quiet, err);
cleanup:
	free(rd.buf);
	free(rd.lines);
	kg_buf_release(&ob);
	return rc;
}

/* ---- into a store ------------------------------------------------------------
 * Batches of o->batch lines, each one transaction (group commit), in a
 * pipeline of two: batch N+1 is decided (one core) while batch N commits
 * (the store's writer thread, the other core). N+1's answer is printed only
 * after its own commit; if N's fails, N+1 fails unwritten with it. */
struct lines {
	kg_buf text;         /* the lines, each NUL-terminated */
	size_t *offs, *lens; /* where each line starts in text, its length */
	const char **ptrs;
	size_t n, cap;
};

static void lines_release(struct lines *l)
{
	kg_buf_release(&l->text);
	free(l->offs);
	free(l->lens);
	free(l->ptrs);
}

/* Waits for batch b's commit and prints its answer; rc is the error so far
 * (a later batch may have failed after b was stored: b is printed all the
 * same, and rc stays the first error). Returns the first error. */
static int finish_batch(kg_risk *risk, kg_risk_batch *b, kg_buf *ob, FILE *out, bool quiet,
			int rc, kg_err *err)
{
	kg_err later;
	kg_err_clear(&later);
	kg_err *e = rc ? &later : err; /* err already holds the first error */
	int frc = kg_risk_batch_finish(risk, b, ob, e);
	if (!frc)
		frc = flush_out(ob, out, quiet, e);
	return rc ? rc : frc;
}

/* Reads up to max non-blank lines into l; *eof at the end of the input. */
static int read_lines(FILE *in, struct lines *l, size_t max, char **line, size_t *cap,
		      size_t *lineno, size_t *events, bool *eof, kg_err *err)
{
	kg_buf_reset(&l->text);
	l->n = 0;
	*eof = false;
	if (l->cap < max) {
		size_t *no = realloc(l->offs, max * sizeof(*no));
		if (no)
			l->offs = no;
		size_t *nl = no ? realloc(l->lens, max * sizeof(*nl)) : NULL;
		if (nl)
			l->lens = nl;
		const char **np = nl ? realloc(l->ptrs, max * sizeof(*np)) : NULL;
		if (!np)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		l->ptrs = np;
		l->cap = max;
	}
	while (l->n < max) {
		ssize_t n = getline(line, cap, in);
		if (n < 0) {
			*eof = true;
			break;
		}
		(*lineno)++;
		while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		(*events)++;
		l->offs[l->n] = l->text.len;
		l->lens[l->n++] = (size_t)n;
		int rc = kg_buf_append(&l->text, *line, (size_t)n + 1); /* with a NUL */
		if (rc)
			return kg_err_set(err, rc, "out of memory");
		l->text.data[l->text.len - 1] = '\0';
	}
	for (size_t i = 0; i < l->n; i++)
		l->ptrs[i] = l->text.data + l->offs[i];
	return 0;
}

static int replay_db(const struct kg_risk_replay_opts *o, kg_risk *risk, FILE *in, FILE *out,
		     size_t *lineno, size_t *events, kg_err *err)
{
	struct lines sl[2];
	memset(sl, 0, sizeof(sl));
	kg_buf_init(&sl[0].text, SIZE_MAX / 2);
	kg_buf_init(&sl[1].text, SIZE_MAX / 2);
	kg_buf ob = KG_BUF_INIT(KG_HTTP_BATCH_BODY_MAX);
	kg_risk_batch *inflight = NULL, *finished = NULL;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0, cur = 0;
	for (;;) {
		bool eof = false;
		kg_risk_batch *b = NULL;
		rc = read_lines(in, &sl[cur], o->batch, &line, &cap, lineno, events, &eof, err);
		if (!rc && sl[cur].n)
			rc = kg_risk_batch_start(risk, sl[cur].ptrs, sl[cur].lens, sl[cur].n, inflight,
						 &b, err);
		if (inflight) {
			/* the batch before b: wait for its commit, print it (also when
			 * b failed: it is stored) */
			rc = finish_batch(risk, inflight, &ob, out, o->quiet, rc, err);
			kg_risk_batch_free(finished); /* b's job no longer needs it */
			finished = inflight;
			inflight = NULL;
		}
		inflight = b;
		kg_progress_update(o->progress, *events - (b ? sl[cur].n : 0));
		cur ^= 1; /* the finished batch's lines are free for the next one */
		if (rc || eof)
			break;
	}
	if (inflight)
		rc = finish_batch(risk, inflight, &ob, out, o->quiet, rc, err);
	kg_risk_batch_free(finished);
	kg_risk_batch_free(inflight);
	lines_release(&sl[0]);
	lines_release(&sl[1]);
	kg_buf_release(&ob);
	free(line);
	return rc;
}

int kg_risk_replay(const struct kg_risk_replay_opts *o, FILE *out, kg_err *err)
{
	FILE *in = NULL;
	kg_policy *pol = NULL;
	kg_risk *risk = NULL;
	kg_store *store = NULL;
	struct lats lat = {0};
	int rc = 0;

	if ((rc = kg_policy_load(o->policy, &pol, err)))
		goto cleanup;
	if (o->db && (rc = kg_store_open(&store, o->db, NULL, err)))
		goto cleanup;
	if ((rc = kg_risk_new(pol, store, &risk, err)))
		goto cleanup;
	in = strcmp(o->input, "-") ? fopen(o->input, "r") : stdin;
	if (!in) {
		rc = kg_err_at(err, KG_EIO, o->input, 0, 0, "cannot open");
		goto cleanup;
	}
	uint64_t t0 = kg_mono_ns();
	double c0 = cpu_seconds();
	size_t lineno = 0, events = 0;
	if (o->db)
		rc = replay_db(o, risk, in, out, &lineno, &events, err);
	else
		rc = replay_memory(o, risk, in, out, &lat, &events, err);
	if (!rc && o->db && ferror(in))
		rc = kg_err_at(err, KG_EIO, o->input, (int)lineno, 0, "read error");
	fflush(out);
	if (!rc)
		kg_progress_end(o->progress, events);
	if (!rc && o->stats) {
		double secs = (double)(kg_mono_ns() - t0) / 1e9, cpu = cpu_seconds() - c0;
		struct kg_risk_stats st;
		kg_risk_stats(risk, &st);
		fprintf(stderr,
			"{\"events\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,\"cpu_seconds\":%.3f,"
			"\"events_per_cpu_s\":%.0f,\"accounts\":%zu,"
			"\"feature_mem_bytes_per_account\":%.1f,\"feature_blob_bytes_per_account\":%.1f",
			events, secs, secs > 0 ? (double)events / secs : 0.0, cpu,
			cpu > 0 ? (double)events / cpu : 0.0, st.accounts,
			st.accounts ? (double)st.feature_mem_bytes / (double)st.accounts : 0.0,
			st.accounts ? (double)st.feature_blob_bytes / (double)st.accounts : 0.0);
		if (lat.n) {
			qsort(lat.v, lat.n, sizeof(*lat.v), cmp_u32);
			fprintf(stderr, ",\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}",
				lat.v[lat.n / 2] / 1e3, lat.v[lat.n * 99 / 100] / 1e3,
				lat.v[lat.n * 999 / 1000] / 1e3, lat.v[lat.n - 1] / 1e3);
		}
		fprintf(stderr, "}\n");
	}
cleanup:
	free(lat.v);
	if (in && in != stdin)
		fclose(in);
	kg_risk_free(risk);
	kg_store_close(store);
	kg_policy_unref(pol);
	return rc;
}
