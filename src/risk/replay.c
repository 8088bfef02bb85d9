/* Replay: an NDJSON event stream through the engine, in order, in memory or
 * into a store in group-committed batches. Used by `kagi replay` and the
 * benchmark. Not here: opening files, stdin, the terminal (the caller's). */
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
	if (!l->hinted)
		return;
	kg_risk_warm(risk, l->ah, (kg_str){rd->buf + l->off + l->acct_off, l->acct_len}, stage);
}

static int replay_memory(const struct kg_risk_replay_opts *o, kg_risk *risk, FILE *in,
			 FILE *out, struct lats *lat, size_t *events, kg_err *err)
{
	struct reader rd = {.in = in};
	kg_buf ob = KG_BUF_INIT(KG_HTTP_BATCH_BODY_MAX);
	kg_arena da; /* one decision at a time */
	kg_arena_init(&da, 16 * 1024);
	struct kg_decision d;
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
			if (ls[i].too_long)
				kg_err_field(&e, KG_ELIMIT, "", "event larger than %d bytes",
					     KG_EVENT_BYTES_MAX);
			kg_arena_reset(&da);
			if (e.code || kg_risk_decide(risk, line, len, &da, &d, &e)) {
				if (e.code == KG_ENOMEM || e.code == KG_EIO) {
					rc = kg_err_set(err, e.code, "line %zu: %s", lineno, e.msg);
					break;
				}
				kg_risk_error_json(&e, &ob);
				kg_err_clear(&e); /* cleared after use, not per event (~800 bytes) */
			} else if ((rc = kg_decision_write_json(&d, &ob))) {
				kg_err_set(err, rc, "output buffer full");
				break;
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
		if (o->progress) /* once a block (~1000 events), not per event */
			o->progress(o->progress_ctx, *events);
	}
	if (rc == KG_EIO && !err->code)
		rc = kg_err_at(err, KG_EIO, o->in_name, (int)lineno, 0, "read error");
	else if (rc == KG_ENOMEM && !err->code)
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
	if (!rc)
		rc = flush_out(&ob, out, o->quiet, err);
cleanup:
	free(rd.buf);
	free(rd.lines);
	kg_buf_release(&ob);
	kg_arena_release(&da);
	return rc;
}

/* ---- into a store ------------------------------------------------------------
 * Batches of up to o->batch lines, each one transaction (group commit), in
 * a pipeline of two: batch N+1 is decided (one core) while batch N commits
 * (the store's writer thread, the other core). N+1's answer is printed only
 * after its own commit; if N's fails, N+1 fails unwritten with it.
 * The writer has nothing to do while the first batch is decided, so the
 * first RAMP_STEPS batches ramp up (an eighth of o->batch, a quarter, a
 * half; then whole ones): with the writer the slower stage, a replay of
 * whole batches took the first batch's deciding time longer. */
#define RAMP_STEPS 3
struct lines {
	kg_buf text;         /* the lines, each NUL-terminated */
	size_t *offs, *lens; /* where each line starts in text, its length */
	const char **ptrs;
	size_t n, cap;
	struct kg_risk_answer *ans; /* the batch's answers (cap of them) ... */
	kg_arena arena;             /* ... and their decisions */
};

static void lines_release(struct lines *l)
{
	kg_buf_release(&l->text);
	free(l->offs);
	free(l->lens);
	free(l->ptrs);
	free(l->ans);
	kg_arena_release(&l->arena);
}

/* Prints the answers of l's batch (its commit is durable). */
static int print_answers(const struct lines *l, kg_buf *ob, FILE *out, bool quiet, kg_err *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && !quiet && i < l->n; i++) {
		rc = kg_risk_answer_write_json(&l->ans[i], ob);
		rc = rc ? rc : kg_buf_putc(ob, '\n');
		if (rc)
			kg_err_set(err, rc, "answer too large");
		else if (ob->len > 1 << 20)
			rc = flush_out(ob, out, quiet, err);
	}
	return rc ? rc : flush_out(ob, out, quiet, err);
}

/* l's batch decided again, alone, as kagid does (kg_risk_decide_batch: a
 * batch still stale is decided again, up to KG_RISK_STALE_RETRIES times):
 * it was stale (another process sharing the store wrote one of its
 * accounts or entities after this one read them; nothing of it was
 * written), or computed on top of one that was. */
static int redo_batch(kg_risk *risk, struct lines *l, kg_err *err)
{
	kg_err_clear(err);
	return kg_risk_decide_batch(risk, l->ptrs, l->lens, l->n, &l->arena, l->ans, err);
}

/* Waits for batch b's commit (decides it again if it was stale: then *redone)
 * and prints its answers. Returns 0 or its error (in err). */
static int finish_batch(kg_risk *risk, kg_risk_batch *b, struct lines *l, kg_buf *ob, FILE *out,
			bool quiet, bool *redone, kg_err *err)
{
	*redone = false;
	int rc = kg_risk_batch_finish(risk, b, err);
	if (rc == KG_EBUSY && kg_risk_batch_stale(b)) {
		*redone = true;
		rc = redo_batch(risk, l, err);
	}
	return rc ? rc : print_answers(l, ob, out, quiet, err);
}

/* A durable replay's input: read in 1 MiB blocks straight into a batch's text
 * and split there in place (no copy of each line, as getline and an
 * append made); the bytes after a batch's last line wait in carry for the
 * next batch. */
struct block_in {
	FILE *in;
	kg_buf carry;
	bool ended; /* fread gave nothing: the end (or an error: ferror says) */
};

/* Larger than stdio's buffer: each fread goes to read(2) directly, without
 * a copy through that buffer (as replay_memory's blocks do). */
#define DB_READ_BLOCK_BYTES (1 << 20)

/* Reads up to max non-blank lines into l; *eof at the end of the input. */
static int read_lines(struct block_in *bi, struct lines *l, size_t max, size_t *lineno,
		      size_t *events, bool *eof, kg_err *err)
{
	kg_buf_reset(&l->text);
	kg_arena_rewind(&l->arena); /* its chunks filled again: no fresh pages */
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
		if (np)
			l->ptrs = np;
		struct kg_risk_answer *na = np ? realloc(l->ans, max * sizeof(*na)) : NULL;
		if (!na)
			return kg_err_set(err, KG_ENOMEM, "out of memory");
		l->ans = na;
		l->cap = max;
	}
	kg_buf *t = &l->text;
	int rc = kg_buf_append(t, bi->carry.len ? bi->carry.data : "", bi->carry.len);
	if (rc)
		return kg_err_set(err, rc, "out of memory");
	kg_buf_reset(&bi->carry);
	size_t from = 0, scan = 0; /* the next line's start; where its newline is looked for */
	while (l->n < max) {
		const char *nl = memchr(t->data + scan, '\n', t->len - scan);
		size_t end;
		if (nl) {
			end = (size_t)(nl - t->data);
		} else if (!bi->ended) { /* the line goes on in the next block */
			scan = t->len;
			if ((rc = kg_buf_reserve(t, DB_READ_BLOCK_BYTES)))
				return kg_err_set(err, rc, "out of memory");
			size_t got = fread(t->data + t->len, 1, DB_READ_BLOCK_BYTES, bi->in);
			bi->ended = !got;
			t->len += got;
			t->data[t->len] = '\0';
			continue;
		} else if (from < t->len) {
			end = t->len; /* a last line without a newline */
		} else {
			*eof = true;
			break;
		}
		(*lineno)++;
		size_t n = end - from;
		while (n > 0 && t->data[from + n - 1] == '\r')
			n--;
		t->data[from + n] = '\0'; /* its newline (or \r, or the NUL after the text) */
		if (n) {
			(*events)++;
			l->offs[l->n] = from;
			l->lens[l->n++] = n;
		}
		from = scan = end < t->len ? end + 1 : t->len;
	}
	/* what follows the batch's last line is the next batch's */
	if (from < t->len && (rc = kg_buf_append(&bi->carry, t->data + from, t->len - from)))
		return kg_err_set(err, rc, "out of memory");
	t->len = from;
	t->data[from] = '\0';
	for (size_t i = 0; i < l->n; i++)
		l->ptrs[i] = t->data + l->offs[i];
	return 0;
}

static int replay_db(const struct kg_risk_replay_opts *o, kg_risk *risk, FILE *in, FILE *out,
		     size_t *lineno, size_t *events, kg_err *err)
{
	struct lines sl[2];
	memset(sl, 0, sizeof(sl));
	struct lines *inflight_l = NULL;
	for (int k = 0; k < 2; k++) {
		kg_buf_init(&sl[k].text, SIZE_MAX / 2);
		kg_arena_init(&sl[k].arena, 256 * 1024);
	}
	kg_buf ob = KG_BUF_INIT(KG_HTTP_BATCH_BODY_MAX);
	kg_risk_batch *inflight = NULL, *finished = NULL;
	struct block_in bi = {.in = in, .carry = KG_BUF_INIT(SIZE_MAX / 2)};
	int rc = 0, cur = 0;
	int ramp = RAMP_STEPS; /* batches left before full ones */
	/* the first error stays in err; a batch before it that was stored is
	 * printed all the same */
	for (;;) {
		bool eof = false, stale = false, redone = false;
		kg_risk_batch *b = NULL;
		kg_err berr;
		kg_err_clear(&berr);
		size_t want = ramp ? o->batch >> ramp : o->batch;
		ramp -= ramp > 0;
		int brc = read_lines(&bi, &sl[cur], want ? want : 1, lineno, events, &eof, &berr);
		bool have = !brc && sl[cur].n;
		if (have)
			brc = kg_risk_batch_try(risk, sl[cur].ptrs, sl[cur].lens, sl[cur].n,
						&sl[cur].arena, sl[cur].ans, inflight, &b, &stale, &berr);
		/* b stale at its start: decided again below, once inflight is done */
		bool redo = have && brc == KG_EBUSY && stale;
		if (inflight) {
			/* the batch before b: wait for its commit, print it (also when
			 * b failed: it is stored) */
			kg_err ferr;
			kg_err_clear(&ferr);
			int frc = finish_batch(risk, inflight, inflight_l, &ob, out, o->quiet, &redone,
					       &ferr);
			if (redone && b) {
				/* b was decided on top of inflight's first try, which
				 * wrote nothing: its job fails unrun; decided again too */
				kg_err e2;
				kg_risk_batch_finish(risk, b, &e2);
				kg_risk_batch_free(b);
				b = NULL;
				brc = 0;
				redo = true;
			}
			if (frc && !rc) {
				rc = frc;
				*err = ferr;
			}
			kg_risk_batch_free(finished); /* b's job no longer needs it */
			finished = inflight;
			inflight = NULL;
		}
		if (redo && !rc) {
			brc = redo_batch(risk, &sl[cur], &berr);
			if (!brc)
				brc = print_answers(&sl[cur], &ob, out, o->quiet, &berr);
		}
		if (brc && !rc) {
			rc = brc;
			*err = berr;
		}
		inflight = b;
		inflight_l = &sl[cur];
		if (o->progress)
			o->progress(o->progress_ctx, *events - (b ? sl[cur].n : 0));
		cur ^= 1; /* the finished batch's lines are free for the next one */
		if (rc || eof)
			break;
	}
	if (inflight) {
		bool redone;
		kg_err ferr;
		kg_err_clear(&ferr);
		int frc = finish_batch(risk, inflight, inflight_l, &ob, out, o->quiet, &redone, &ferr);
		if (frc && !rc) {
			rc = frc;
			*err = ferr;
		}
	}
	kg_risk_batch_free(finished);
	kg_risk_batch_free(inflight);
	lines_release(&sl[0]);
	lines_release(&sl[1]);
	kg_buf_release(&ob);
	kg_buf_release(&bi.carry);
	return rc;
}

int kg_risk_replay(const struct kg_risk_replay_opts *o, struct kg_risk_replay_stats *st,
		   kg_err *err)
{
	kg_risk *risk = NULL;
	struct lats lat = {0};
	int rc = kg_risk_new(o->policy, o->store, &risk, err);
	if (rc)
		goto cleanup;
	if (o->lock_fn)
		kg_risk_set_lock_hook(risk, o->lock_fn, o->lock_ctx);
	if (o->event_fn)
		kg_risk_set_event_hook(risk, o->event_fn, o->event_ctx);
	uint64_t t0 = kg_mono_ns();
	double c0 = cpu_seconds();
	size_t lineno = 0, events = 0;
	if (o->store)
		rc = replay_db(o, risk, o->in, o->out, &lineno, &events, err);
	else
		rc = replay_memory(o, risk, o->in, o->out, &lat, &events, err);
	if (!rc && o->store && ferror(o->in))
		rc = kg_err_at(err, KG_EIO, o->in_name, (int)lineno, 0, "read error");
	if (fflush(o->out) != 0 && !rc)
		rc = kg_err_set(err, KG_EIO, "cannot write the output");
	if (!rc && st) {
		memset(st, 0, sizeof(*st));
		st->seconds = (double)(kg_mono_ns() - t0) / 1e9;
		st->cpu_seconds = cpu_seconds() - c0;
		st->events = events;
	}
	if (!rc && st && o->stats) { /* the memory census walks every account: asked only */
		struct kg_risk_stats rs;
		kg_risk_stats(risk, &rs);
		st->accounts = rs.accounts;
		st->feature_mem_bytes_per_account =
			rs.accounts ? (double)rs.feature_mem_bytes / (double)rs.accounts : 0.0;
		st->feature_blob_bytes_per_account =
			rs.accounts ? (double)rs.feature_blob_bytes / (double)rs.accounts : 0.0;
		st->entities = rs.entities;
		st->entity_mem_bytes_per_entity =
			rs.entities ? (double)rs.entity_mem_bytes / (double)rs.entities : 0.0;
		st->entity_blob_bytes_per_entity =
			rs.entities ? (double)rs.entity_blob_bytes / (double)rs.entities : 0.0;
		if (lat.n) {
			qsort(lat.v, lat.n, sizeof(*lat.v), cmp_u32);
			st->latency = true;
			st->p50_us = lat.v[lat.n / 2] / 1e3;
			st->p99_us = lat.v[lat.n * 99 / 100] / 1e3;
			st->p999_us = lat.v[lat.n * 999 / 1000] / 1e3;
			st->max_us = lat.v[lat.n - 1] / 1e3;
		}
	}
cleanup:
	free(lat.v);
	kg_risk_free(risk);
	return rc;
}
