/* The backend-independent store: open/close, the group-commit writer
 * thread, pooled read transactions, stats, ids, the audit hash chain and
 * its verification. Not here: SQL (sqlite*.c) or any domain rule. */
#include "store/store_impl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backends of this build, by enum (NULL: none in this build). */
static const struct kg_store_ops *const backends[] = {
	[KG_STORE_SQLITE] = &kg_sqlite_ops,
	[KG_STORE_POSTGRES] = &kg_postgres_ops,
};

bool kg_store_is_url(const char *path)
{
	return !strncmp(path, "postgres://", 11) || !strncmp(path, "postgresql://", 13);
}

const double kg_store_latency_bounds_s[KG_STORE_LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
};

int kg_tx_read_only(kg_err *err, const char *domain, const char *op)
{
	return kg_err_set(err, KG_EINVAL, "%s.%s needs a write transaction (kg_store_write)",
			  domain, op);
}

bool kg_tx_writable(const kg_tx *tx) { return tx && tx->write; }

void kg_store_options_init(kg_store_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->backend = KG_STORE_SQLITE;
	opt->group_max = 512;
	opt->busy_timeout_ms = 5000;
}

void kg_store_options_from_config(kg_store_options *opt, const kg_config *c)
{
	kg_store_options_init(opt);
	opt->group_max = (int)c->store_group_max;
	opt->busy_timeout_ms = (int)c->store_busy_timeout_ms;
}

/* ---- group commit -----------------------------------------------------------
 * One writer thread owns the write connection. It takes up to group_max
 * queued jobs, runs them in one transaction (each in a savepoint, so a
 * failing job is rolled back alone), commits once, and wakes them all. */
static void fail_job(struct kg_store_job *j, const kg_err *e)
{
	j->rc = e->code ? e->code : KG_EIO;
	j->err = *e;
	j->err.code = j->rc;
}

/* Logs a failed commit; under a lasting failure (disk full) at most one
 * line a second, saying how many were not logged. Writer thread only. */
static void log_commit_error(kg_store *s, size_t n, const kg_err *e)
{
	uint64_t now = kg_mono_ns();
	if (s->log_next_ns && now < s->log_next_ns) {
		s->log_suppressed++;
		return;
	}
	if (s->log_suppressed)
		kg_log(KG_LOG_ERROR, "store",
		       "commit of %zu jobs failed (%s): %s (and %llu more failed commits)", n,
		       kg_code_name(e->code), e->msg, (unsigned long long)s->log_suppressed);
	else
		kg_log(KG_LOG_ERROR, "store", "commit of %zu jobs failed (%s): %s", n,
		       kg_code_name(e->code), e->msg);
	s->log_suppressed = 0;
	s->log_next_ns = now + 1000000000ull;
}

static void run_group(kg_store *s, struct kg_store_job *first, size_t n)
{
	const struct kg_store_ops *be = s->ops;
	kg_store_conn *c = s->wconn;
	uint64_t t0 = kg_mono_ns();
	kg_err gerr;
	kg_err_clear(&gerr);
	struct kg_store_job *j;
	size_t i;
	uint64_t wrote = 0; /* rows changed by the jobs that succeeded */

	if (be->begin(c, true, &gerr)) {
		for (j = first, i = 0; i < n; j = j->next, i++)
			fail_job(j, &gerr);
		goto stats;
	}
	bool aborted = false;
	/* A job alone in its group needs no savepoint: the transaction's own
	 * rollback undoes it. (A savepoint makes SQLite copy every page a job
	 * changes into a statement journal first, for a rollback to it: for a
	 * job that rewrites most of an index, as a durable replay batch does,
	 * that is a second copy of everything it writes.) */
	bool solo = n == 1, solo_rolled_back = false;
	for (j = first, i = 0; i < n; j = j->next, i++) {
		if (aborted) {
			fail_job(j, &gerr);
			continue;
		}
		kg_err_clear(&j->err);
		if (j->after && j->after->rc) {
			/* the job it was computed on top of failed (earlier in this
			 * group, or its group failed): it fails unrun */
			j->rc = kg_err_set(&j->err, j->after->rc,
					   "not written: an earlier write it depends on failed: %.200s",
					   j->after->err.msg);
			continue;
		}
		/* broken: this job's changes cannot be undone alone (the backend
		 * aborted the transaction, or ending the savepoint failed), so
		 * the whole group is rolled back and fails */
		bool broken = false;
		kg_err cause;
		kg_err_clear(&cause);
		if (!solo && be->savepoint(c, &j->err)) {
			j->rc = j->err.code ? j->err.code : KG_EIO;
			broken = be->tx_aborted(c);
		} else {
			kg_tx tx = {.s = s, .conn = c, .write = true};
			uint64_t changes0 = be->changes(c);
			j->rc = j->fn(&tx, j->ctx, &j->err);
			if (be->flush) { /* what the job sent without waiting */
				kg_err fe;
				kg_err_clear(&fe);
				int frc = be->flush(c, &fe);
				if (frc && !j->rc) {
					j->rc = frc;
					j->err = fe;
				}
			}
			if (!j->rc)
				wrote += be->changes(c) - changes0;
			if (j->rc > 0)
				j->rc = kg_err_set(&j->err, KG_EINTERNAL,
						   "write job returned %d (not a kg_code)", j->rc);
			if (j->rc && !j->err.code)
				j->err.code = j->rc;
			broken = be->tx_aborted(c);
			if (!broken && solo) {
				if (j->rc) {
					be->rollback(c);
					solo_rolled_back = true;
				}
			} else if (!broken) {
				kg_err e2;
				kg_err_clear(&e2);
				int rc2 = j->rc ? be->rollback_to(c, &e2) : be->release(c, &e2);
				if (rc2) {
					broken = true;
					cause = e2;
					if (!j->rc) {
						j->rc = rc2;
						j->err = e2;
					}
				}
			}
		}
		if (broken) {
			/* jobs before this one lose their changes too */
			aborted = true;
			if (!j->rc) {
				j->rc = kg_err_set(&j->err, KG_EIO,
						   "transaction aborted by the storage engine");
			}
			gerr = cause.code ? cause : j->err;
			char msg[KG_ERR_MSG_MAX];
			snprintf(msg, sizeof(msg), "not written: the commit group failed: %.200s",
				 gerr.msg);
			snprintf(gerr.msg, sizeof(gerr.msg), "%s", msg);
			struct kg_store_job *k;
			size_t x;
			for (k = first, x = 0; x < i; k = k->next, x++)
				if (!k->rc)
					fail_job(k, &gerr);
		}
	}
	if (aborted) {
		be->rollback(c);
	} else if (solo_rolled_back) {
		/* nothing left to commit: the job failed alone, as it would have
		 * in a group (its savepoint rolled back, the rest committed) */
	} else if (be->commit(c, &gerr)) {
		be->rollback(c);
		for (j = first, i = 0; i < n; j = j->next, i++)
			if (!j->rc)
				fail_job(j, &gerr);
		aborted = true;
	}
stats:;
	double dt = (double)(kg_mono_ns() - t0) / 1e9;
	if (gerr.code)
		log_commit_error(s, n, &gerr);
	else if (dt > 1.0)
		kg_log(KG_LOG_WARN, "store", "slow commit: %zu jobs took %.3f s", n, dt);
	pthread_mutex_lock(&s->mu);
	if (gerr.code) {
		s->stats.commit_errors++;
		s->stats.last_commit_error_ms = kg_now_ms();
		s->stats.last_commit_error_code = gerr.code;
		snprintf(s->stats.last_commit_error, sizeof(s->stats.last_commit_error), "%s",
			 gerr.msg);
	} else {
		s->stats.commits++;
		if (wrote) /* a commit that wrote nothing proves nothing */
			s->stats.last_commit_ms = kg_now_ms();
		size_t b = 0;
		while (b < KG_STORE_LATENCY_BUCKETS && dt > kg_store_latency_bounds_s[b])
			b++;
		s->stats.latency[b]++;
		s->stats.latency_sum_s += dt;
		if (n > s->stats.group_max_seen)
			s->stats.group_max_seen = n;
	}
	s->stats.jobs += n;
	/* the jobs with a then, chained apart: their owners wait only once
	 * called, so they stay valid after the unlock (the others may not) */
	struct kg_store_job *thens = NULL, **tail = &thens;
	for (j = first, i = 0; i < n; i++) {
		struct kg_store_job *next = j->next;
		if (j->rc)
			s->stats.job_errors++;
		if (j->then) {
			*tail = j;
			tail = &j->then_next;
		}
		j->done = true; /* after this the waiter may free j */
		j = next;
	}
	*tail = NULL;
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
	while (thens) {
		j = thens;
		thens = j->then_next; /* j may be freed once called */
		j->then(j->then_ctx);
	}
}

static void *writer_main(void *arg)
{
	kg_store *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work_cv, &s->mu);
		if (!s->head) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		struct kg_store_job *first = s->head, *last = s->head;
		size_t n = 1;
		while (last->next && n < (size_t)s->group_max) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		s->queued -= n;
		pthread_mutex_unlock(&s->mu);
		run_group(s, first, n);
	}
	return NULL;
}

/* Queues job (refused while closing or when the queue is full); the caller
 * then waits for job->done under s->mu. */
static int queue_job(kg_store *s, struct kg_store_job *job, kg_err *err)
{
	if (!s || !job->fn)
		return kg_err_set(err, KG_EINVAL, "kg_store_write: no store or job");
	if (s->writer_started && pthread_equal(pthread_self(), s->writer))
		return kg_err_set(err, KG_EINVAL,
				  "kg_store_write called inside a write job (use the job's kg_tx)");
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return kg_err_set(err, KG_EBUSY, "store is closing");
	}
	if (s->queued >= KG_STORE_QUEUE_MAX) {
		pthread_mutex_unlock(&s->mu);
		return kg_err_set(err, KG_EBUSY, "store write queue is full (%d waiting)",
				  KG_STORE_QUEUE_MAX);
	}
	s->users++;
	if (s->tail)
		s->tail->next = job;
	else
		s->head = job;
	s->tail = job;
	s->queued++;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int wait_job(kg_store *s, struct kg_store_job *job, kg_err *err)
{
	pthread_mutex_lock(&s->mu);
	while (!job->done)
		pthread_cond_wait(&s->done_cv, &s->mu);
	if (--s->users == 0 && s->stopping)
		pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->mu);
	if (job->rc && err)
		*err = job->err;
	return job->rc;
}

int kg_store_write(kg_store *s, kg_tx_fn fn, void *ctx, kg_err *err)
{
	struct kg_store_job job = {.fn = fn, .ctx = ctx};
	int rc = queue_job(s, &job, err);
	return rc ? rc : wait_job(s, &job, err);
}

static int start_job(kg_store *s, const struct kg_store_job *proto, kg_store_ticket **out,
		     kg_err *err)
{
	*out = NULL;
	struct kg_store_job *job = malloc(sizeof(*job));
	if (!job)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	*job = *proto;
	int rc = queue_job(s, job, err);
	if (rc) {
		free(job);
		return rc;
	}
	*out = job;
	return 0;
}

int kg_store_write_start(kg_store *s, kg_tx_fn fn, void *ctx, kg_store_ticket *after,
			 kg_store_ticket **out, kg_err *err)
{
	return start_job(s, &(struct kg_store_job){.fn = fn, .ctx = ctx, .after = after}, out, err);
}

int kg_store_write_start_then(kg_store *s, kg_tx_fn fn, void *ctx, void (*then)(void *),
			      void *then_ctx, kg_store_ticket **out, kg_err *err)
{
	if (!then) {
		*out = NULL;
		return kg_err_set(err, KG_EINVAL, "kg_store_write_start_then: no then");
	}
	return start_job(s, &(struct kg_store_job){.fn = fn, .ctx = ctx, .then = then,
						    .then_ctx = then_ctx},
			 out, err);
}

int kg_store_write_wait(kg_store *s, kg_store_ticket *t, kg_err *err)
{
	if (!t)
		return kg_err_set(err, KG_EINVAL, "kg_store_write_wait: no ticket");
	if (t->waited) { /* waited for already: its result again */
		if (t->rc && err)
			*err = t->err;
		return t->rc;
	}
	t->waited = true;
	return wait_job(s, t, err);
}

void kg_store_ticket_free(kg_store_ticket *t)
{
	free(t);
}

/* ---- reads ------------------------------------------------------------------*/
static int reader_take(kg_store *s, kg_store_conn **out, kg_err *err)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_idle) {
		*out = s->idle[--s->n_idle];
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	pthread_mutex_unlock(&s->mu);
	return s->ops->open_reader(s, out, err);
}

static void reader_give(kg_store *s, kg_store_conn *c)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_idle >= KG_STORE_READERS_IDLE_MAX) {
		pthread_mutex_unlock(&s->mu);
		s->ops->close_conn(c, false);
		return;
	}
	if (s->n_idle == s->cap_idle) {
		size_t ncap = s->cap_idle ? s->cap_idle * 2 : 8;
		kg_store_conn **ni = realloc(s->idle, ncap * sizeof(*ni));
		if (!ni) {
			pthread_mutex_unlock(&s->mu);
			s->ops->close_conn(c, false);
			return;
		}
		s->idle = ni;
		s->cap_idle = ncap;
	}
	s->idle[s->n_idle++] = c;
	pthread_mutex_unlock(&s->mu);
}

int kg_store_read(kg_store *s, kg_tx_fn fn, void *ctx, kg_err *err)
{
	if (!s || !fn)
		return kg_err_set(err, KG_EINVAL, "kg_store_read: no store or job");
	kg_err local;
	kg_err_clear(&local);
	if (!err)
		err = &local;
	pthread_mutex_lock(&s->mu);
	if (s->closing_reads) {
		pthread_mutex_unlock(&s->mu);
		return kg_err_set(err, KG_EBUSY, "store is closing");
	}
	s->users++;
	pthread_mutex_unlock(&s->mu);
	kg_store_conn *c = NULL;
	int rc = reader_take(s, &c, err);
	if (!rc) {
		rc = s->ops->begin(c, false, err);
		if (rc) {
			s->ops->close_conn(c, false);
			c = NULL;
		}
	}
	if (!rc) {
		kg_tx tx = {.s = s, .conn = c, .write = false};
		rc = fn(&tx, ctx, err);
		if (rc && !err->code)
			err->code = rc;
		s->ops->rollback(c); /* read-only: ends the snapshot */
		reader_give(s, c);
	}
	pthread_mutex_lock(&s->mu);
	s->stats.reads++;
	if (--s->users == 0 && s->stopping)
		pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- lifecycle --------------------------------------------------------------*/
int kg_store_open(kg_store **out, const char *path, const kg_store_options *opt,
		  kg_err *err)
{
	*out = NULL;
	kg_store_options defaults;
	kg_store_options_init(&defaults);
	if (!opt)
		opt = &defaults;
	if (!path || !*path)
		return kg_err_set(err, KG_EINVAL, "store path is empty");
	/* the backend: the URL scheme of path, else the options' enum */
	enum kg_store_backend kind = kg_store_is_url(path) ? KG_STORE_POSTGRES : opt->backend;
	const struct kg_store_ops *ops =
		(unsigned)kind < KG_ARRAY_LEN(backends) ? backends[kind] : NULL;
	if (!ops)
		return kg_err_set(err, KG_EINVAL, "store backend %d is not available in this build",
				  (int)kind);
	if (kind == KG_STORE_POSTGRES && !kg_store_is_url(path))
		return kg_err_set(err, KG_EINVAL,
				  "the postgres store needs a postgres:// URL, not a file path");
	if (sodium_init() < 0)
		return kg_err_set(err, KG_EINTERNAL, "libsodium failed to initialise");
	if (ops->global_init)
		ops->global_init();
	const char *fault = opt->fault ? opt->fault : getenv("KG_STORE_FAULT");

	kg_store *s = calloc(1, sizeof(*s));
	if (!s)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	s->ops = ops;
	s->group_max = opt->group_max > 0 ? opt->group_max : 512;
	if (s->group_max > KG_STORE_GROUP_MAX)
		s->group_max = KG_STORE_GROUP_MAX;
	s->busy_timeout_ms = opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
	s->path = strdup(path);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	pthread_cond_init(&s->idle_cv, NULL);
	int rc = 0;
	if (!s->path) {
		rc = kg_err_set(err, KG_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (fault && !ops->fault_arm) {
		rc = kg_err_set(err, KG_EINVAL, "store backend %s has no fault injection", ops->name);
		goto cleanup;
	}
	if (fault) {
		s->fault_vfs = true;
		/* arm after migrations so "N" counts the caller's writes */
		rc = ops->fault_arm(NULL, err);
		if (rc)
			goto cleanup;
	}
	rc = s->ops->open(s, path, &s->wconn, err);
	if (rc)
		goto cleanup;
	rc = s->ops->schema_version(s->wconn, &s->schema_version, err);
	if (rc)
		goto cleanup;
	if (fault && *fault) {
		rc = ops->fault_arm(fault, err);
		if (rc)
			goto cleanup;
	}
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		rc = kg_err_set(err, KG_EINTERNAL, "cannot start the store writer thread");
		goto cleanup;
	}
	s->writer_started = true;
cleanup:
	if (rc) {
		kg_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kg_store_close(kg_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	/* the queue is drained; wait for callers still on their way out and
	 * for reads in progress, then refuse new reads */
	pthread_mutex_lock(&s->mu);
	s->closing_reads = true;
	while (s->users > 0)
		pthread_cond_wait(&s->idle_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->n_idle; i++)
		s->ops->close_conn(s->idle[i], false);
	free(s->idle);
	if (s->wconn)
		s->ops->close_conn(s->wconn, true);
	pthread_cond_destroy(&s->work_cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->idle_cv);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

int kg_store_schema_version(kg_store *s) { return s ? s->schema_version : 0; }

bool kg_store_shared(const kg_store *s) { return s && s->ops->shared; }

bool kg_store_reads_remote(const kg_store *s)
{
	return s && s->ops->events && s->ops->events->read_ahead;
}

void kg_store_stats_get(kg_store *s, kg_store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	out->queued = s->queued;
	pthread_mutex_unlock(&s->mu);
}

static int integrity_fn(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	return tx->s->ops->integrity_check(tx->conn, err);
}

int kg_store_integrity_check(kg_store *s, kg_err *err)
{
	return kg_store_read(s, integrity_fn, NULL, err);
}

struct backup_job {
	const char *dest;
};

static int backup_fn(kg_tx *tx, void *ctx, kg_err *err)
{
	struct backup_job *b = ctx;
	return tx->s->ops->backup(tx->conn, b->dest, err);
}

int kg_store_backup(kg_store *s, const char *dest, kg_err *err)
{
	if (!s || !dest || !*dest)
		return kg_err_set(err, KG_EINVAL, "backup needs a destination path");
	struct backup_job b = {.dest = dest};
	return kg_store_read(s, backup_fn, &b, err);
}

int kg_store_fault(kg_store *s, const char *spec, kg_err *err)
{
	if (s && !s->fault_vfs && spec && *spec)
		return kg_err_set(err, KG_EINVAL,
				  "store was not opened for fault injection (set options.fault)");
	if (s)
		return s->ops->fault_arm ? s->ops->fault_arm(spec, err) : 0;
	/* no store: the process-wide fault of every backend that has one */
	for (size_t i = 0; i < KG_ARRAY_LEN(backends); i++)
		if (backends[i] && backends[i]->fault_arm) {
			int rc = backends[i]->fault_arm(spec, err);
			if (rc)
				return rc;
		}
	return 0;
}

char *kg_store_new_id(char out[KG_STORE_ID_MAX], const char *prefix)
{
	uint8_t raw[16];
	uint64_t ms = (uint64_t)kg_now_ms();
	for (int i = 0; i < 6; i++)
		raw[i] = (uint8_t)(ms >> (8 * (5 - i)));
	kg_random_bytes(raw + 6, sizeof(raw) - 6);
	char hex[33];
	kg_hex(raw, sizeof(raw), hex);
	snprintf(out, KG_STORE_ID_MAX, "%s_%s", prefix && *prefix ? prefix : "id", hex);
	return out;
}

/* ---- audit chain ------------------------------------------------------------*/
static void hash_u64(crypto_generichash_state *h, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * (7 - i)));
	crypto_generichash_update(h, b, sizeof(b));
}

static void hash_str(crypto_generichash_state *h, const char *s)
{
	/* length-prefixed; NULL differs from "" */
	if (!s) {
		hash_u64(h, UINT64_MAX);
		return;
	}
	size_t n = strlen(s);
	hash_u64(h, n);
	crypto_generichash_update(h, (const unsigned char *)s, n);
}

void kg_store_audit_hash(const kg_audit_entry *e, const uint8_t prev[KG_AUDIT_HASH_BYTES],
			 uint8_t out[KG_AUDIT_HASH_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, KG_AUDIT_HASH_BYTES);
	static const char domain[] = "kagi-audit-v1";
	crypto_generichash_update(&h, (const unsigned char *)domain, sizeof(domain) - 1);
	crypto_generichash_update(&h, prev, KG_AUDIT_HASH_BYTES);
	hash_str(&h, e->account_id);
	hash_u64(&h, (uint64_t)e->seq);
	hash_u64(&h, (uint64_t)e->ts_ms);
	hash_str(&h, e->actor);
	hash_str(&h, e->action);
	hash_str(&h, e->detail);
	crypto_generichash_final(&h, out, KG_AUDIT_HASH_BYTES);
}

struct verify {
	kg_audit_report *rep;
	kg_audit_problem_cb cb;
	void *ctx;
	int64_t head_seq;             /* recorded head of the chain being walked */
	uint8_t head_hash[KG_AUDIT_HASH_BYTES];
	int64_t last_seq;             /* last entry seen */
	uint8_t last_hash[KG_AUDIT_HASH_BYTES];
};

static void problem(struct verify *v, const char *account, int64_t seq, const char *kind,
		    const char *fmt, ...) KG_PRINTF(5, 6);

static void problem(struct verify *v, const char *account, int64_t seq, const char *kind,
		    const char *fmt, ...)
{
	if (!v->cb)
		return;
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	v->cb(v->ctx, account, seq, kind, detail);
}

static int verify_entry(const kg_audit_entry *e, void *ctx)
{
	struct verify *v = ctx;
	v->rep->entries++;
	bool gap = false;
	if (e->seq > v->last_seq + 1) {
		int64_t missing = e->seq - v->last_seq - 1;
		v->rep->removed += missing;
		gap = true;
		problem(v, e->account_id, v->last_seq + 1, "removed",
			"entries %lld..%lld are missing", (long long)(v->last_seq + 1),
			(long long)(e->seq - 1));
	}
	uint8_t h[KG_AUDIT_HASH_BYTES];
	kg_store_audit_hash(e, e->prev_hash, h);
	if (e->seq > v->head_seq) {
		v->rep->inserted++;
		problem(v, e->account_id, e->seq, "inserted",
			"entry %lld is past the recorded head (seq %lld)", (long long)e->seq,
			(long long)v->head_seq);
	} else if (!kg_ct_equal(h, e->hash, sizeof(h))) {
		v->rep->altered++;
		problem(v, e->account_id, e->seq, "altered",
			"entry %lld does not match its hash", (long long)e->seq);
	} else if (!gap && !kg_ct_equal(e->prev_hash, v->last_hash, sizeof(h))) {
		v->rep->inserted++;
		problem(v, e->account_id, e->seq, "inserted",
			"entry %lld does not chain onto entry %lld (replaced or inserted)",
			(long long)e->seq, (long long)v->last_seq);
	} else if (e->seq == v->head_seq && !kg_ct_equal(e->hash, v->head_hash, sizeof(h))) {
		v->rep->altered++;
		problem(v, e->account_id, e->seq, "altered",
			"entry %lld differs from the recorded head", (long long)e->seq);
	}
	v->last_seq = e->seq;
	memcpy(v->last_hash, e->hash, sizeof(h));
	return 0;
}

struct verify_job {
	const char *account_id;
	struct verify v;
};

static int verify_chain(kg_tx *tx, struct verify *v, const char *account, kg_err *err)
{
	int rc = KG_TX_CALL(tx, err, audit, head, account, &v->head_seq, v->head_hash, err);
	if (rc == KG_ENOTFOUND) {
		v->head_seq = 0;
		memset(v->head_hash, 0, sizeof(v->head_hash));
	} else if (rc) {
		return rc;
	}
	v->last_seq = 0;
	memset(v->last_hash, 0, sizeof(v->last_hash));
	v->rep->accounts++;
	rc = KG_TX_CALL(tx, err, audit, scan, account, verify_entry, v, err);
	if (rc)
		return rc;
	if (v->head_seq > v->last_seq) {
		v->rep->removed += v->head_seq - v->last_seq;
		problem(v, account, v->last_seq + 1, "removed",
			"entries %lld..%lld are missing (chain truncated)",
			(long long)(v->last_seq + 1), (long long)v->head_seq);
	}
	return 0;
}

static int verify_fn(kg_tx *tx, void *ctx, kg_err *err)
{
	struct verify_job *j = ctx;
	if (j->account_id)
		return verify_chain(tx, &j->v, j->account_id, err);
	kg_arena a;
	kg_arena_init(&a, 0);
	const char **chains = NULL;
	size_t n = 0;
	int rc = KG_TX_CALL(tx, err, audit, chains, &a, &chains, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = verify_chain(tx, &j->v, chains[i], err);
	kg_arena_release(&a);
	return rc;
}

int kg_store_audit_verify(kg_store *s, const char *account_id, kg_audit_report *rep,
			  kg_audit_problem_cb cb, void *ctx, kg_err *err)
{
	memset(rep, 0, sizeof(*rep));
	struct verify_job j = {.account_id = account_id, .v = {.rep = rep, .cb = cb, .ctx = ctx}};
	return kg_store_read(s, verify_fn, &j, err);
}

struct audit_list_job {
	const char *account_id;
	kg_arena *a;
	kg_audit_entry *e;
	size_t n;
};

static int audit_list_fn(kg_tx *tx, void *ctx, kg_err *err)
{
	struct audit_list_job *j = ctx;
	return kg_tx_audit_list(tx, j->account_id, 0, 0, j->a, &j->e, &j->n, err);
}

int kg_store_audit_list(kg_store *s, const char *account_id, kg_arena *a, kg_audit_entry **out,
			size_t *n, kg_err *err)
{
	struct audit_list_job j = {.account_id = account_id, .a = a};
	int rc = kg_store_read(s, audit_list_fn, &j, err);
	*out = rc ? NULL : j.e;
	*n = rc ? 0 : j.n;
	return rc;
}
