/* Admission control of kagid: bounded work pools (a fixed set of threads
 * and a bounded FIFO of waiting jobs; a full queue refuses at once), and the
 * budget of request-body bytes held in memory. Not here: which route runs
 * where (server.c maps route flags to pools) or what a job does. */
#include "http/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct kg_http_pool {
	const char *name;
	kg_http_job_fn fn;
	kg_http_job_fn release;    /* after fn, once counted done */
	/* set: a worker takes up to batch_max jobs at once, in two halves */
	kg_http_take_start_fn take_start;
	kg_http_take_finish_fn take_finish;
	size_t batch_max;
	int nice;                  /* of the workers (Linux: per thread); 0 unchanged */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void **ring;               /* queue_max waiting jobs */
	size_t queue_max, head, len;
	size_t queued_max_seen;    /* high-water mark of len */
	size_t running;
	size_t idle;               /* workers waiting on cv: a submit wakes one only then */
	uint64_t done, refused;
	uint64_t batches;          /* takes of a batching pool */
	bool stopping;
	size_t nthreads;           /* running threads */
	size_t threads_configured;
	pthread_t *threads;
};

/* Waits for a job (or for stopping) under p->mu; false: stopping and
 * nothing left. */
static bool wait_job(kg_http_pool *p)
{
	while (p->len == 0 && !p->stopping) {
		p->idle++;
		pthread_cond_wait(&p->cv, &p->mu);
		p->idle--;
	}
	return p->len > 0;
}

/* Moves up to max waiting jobs into jobs, under p->mu; returns how many. */
static size_t take_jobs(kg_http_pool *p, void **jobs, size_t max)
{
	size_t n = p->len < max ? p->len : max;
	for (size_t i = 0; i < n; i++) {
		jobs[i] = p->ring[p->head];
		p->head = (p->head + 1) % p->queue_max;
	}
	p->len -= n;
	p->running += n;
	return n;
}

/* n jobs ran: counted done (under mu), then handed back, outside it. */
static void jobs_done(kg_http_pool *p, void **jobs, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->running -= n;
	p->done += n;
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n; i++)
		p->release(jobs[i]);
}

static void single_main(kg_http_pool *p)
{
	void *job;
	pthread_mutex_lock(&p->mu);
	while (wait_job(p)) {
		take_jobs(p, &job, 1);
		pthread_mutex_unlock(&p->mu);
		p->fn(job);
		jobs_done(p, &job, 1);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

/* A batching worker: while take k commits (started, not finished), it
 * takes the jobs waiting and starts take k+1 on top of it, then finishes
 * k and hands its jobs back; when none wait it just finishes k. So at most
 * two takes of a worker are in flight, finished in the order they were
 * started. bufs: two arrays of max jobs (the one of each take). */
static void batch_main(kg_http_pool *p, void **bufs[2], size_t max)
{
	struct take {
		void **jobs;
		size_t n; /* 0: none */
		void *state;
	} prev = {NULL, 0, NULL};
	int k = 0;
	pthread_mutex_lock(&p->mu);
	while (prev.n || wait_job(p)) {
		struct take next = {bufs[k], 0, NULL};
		next.n = take_jobs(p, next.jobs, max);
		if (next.n)
			p->batches++;
		pthread_mutex_unlock(&p->mu);
		if (next.n) {
			next.state = p->take_start(next.jobs, next.n, prev.n ? prev.state : NULL);
			k ^= 1;
		}
		if (prev.n) {
			p->take_finish(prev.state);
			jobs_done(p, prev.jobs, prev.n);
		}
		prev = next;
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

static void *pool_main(void *arg)
{
	kg_http_pool *p = arg;
	/* a lower CPU priority for this thread only (on Linux a thread is its
	 * own scheduling entity); failing to lower it is harmless */
	if (p->nice && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), p->nice) != 0)
		kg_log(KG_LOG_WARN, "http", "%s pool: cannot lower the CPU priority: %s", p->name,
		       strerror(errno));
	if (!p->take_start) {
		single_main(p);
		return NULL;
	}
	size_t max = p->batch_max;
	void **jobs = calloc(2 * max, sizeof(*jobs));
	void *one[2];
	if (!jobs) /* take them one at a time rather than not at all */
		jobs = one, max = 1;
	void **bufs[2] = {jobs, jobs + max};
	batch_main(p, bufs, max);
	if (jobs != one)
		free(jobs);
	return NULL;
}

static kg_http_pool *pool_new(const char *name, size_t threads, size_t queue_max,
			      kg_http_job_fn fn, kg_http_take_start_fn take_start,
			      kg_http_take_finish_fn take_finish, size_t batch_max, int nice,
			      kg_http_job_fn release)
{
	kg_http_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->name = name;
	p->fn = fn;
	p->release = release;
	p->take_start = take_start;
	p->take_finish = take_finish;
	p->batch_max = batch_max ? batch_max : 1;
	p->nice = nice;
	p->queue_max = queue_max;
	p->threads_configured = threads;
	p->ring = calloc(queue_max, sizeof(*p->ring));
	p->threads = calloc(threads, sizeof(*p->threads));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (!p->ring || !p->threads)
		goto fail;
	for (; p->nthreads < threads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, pool_main, p) != 0)
			goto fail;
	return p;
fail:
	kg_http_pool_free(p);
	return NULL;
}

kg_http_pool *kg_http_pool_new(const char *name, size_t threads, size_t queue_max, int nice,
			       kg_http_job_fn fn, kg_http_job_fn release)
{
	return pool_new(name, threads, queue_max, fn, NULL, NULL, 1, nice, release);
}

kg_http_pool *kg_http_pool_new_batch(const char *name, size_t threads, size_t queue_max,
				     size_t batch_max, kg_http_take_start_fn start,
				     kg_http_take_finish_fn finish, kg_http_job_fn release)
{
	return pool_new(name, threads, queue_max, NULL, start, finish, batch_max, 0, release);
}

/* Wakes a worker only when one is idle (a busy one takes the job when it
 * looks again, under mu) and only after unlocking, so that the woken
 * worker does not wait at once for the mutex the submitter still holds. */
int kg_http_pool_submit(kg_http_pool *p, void *job)
{
	pthread_mutex_lock(&p->mu);
	if (p->stopping || p->len >= p->queue_max) {
		p->refused++;
		pthread_mutex_unlock(&p->mu);
		return KG_EBUSY;
	}
	p->ring[(p->head + p->len) % p->queue_max] = job;
	p->len++;
	if (p->len > p->queued_max_seen)
		p->queued_max_seen = p->len;
	/* jobs waiting beyond those the idle workers are about to take */
	bool wake = p->idle > 0;
	pthread_mutex_unlock(&p->mu);
	if (wake)
		pthread_cond_signal(&p->cv);
	return 0;
}

void kg_http_pool_refused_early(kg_http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->refused++;
	pthread_mutex_unlock(&p->mu);
}

bool kg_http_pool_full(kg_http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	bool full = p->stopping || p->len >= p->queue_max;
	pthread_mutex_unlock(&p->mu);
	return full;
}

void kg_http_pool_stop(kg_http_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	p->nthreads = 0;
}

void kg_http_pool_free(kg_http_pool *p)
{
	if (!p)
		return;
	kg_http_pool_stop(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->ring);
	free(p);
}

void kg_http_pool_metrics(kg_http_pool *const *pools, size_t n, kg_buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"kagi_http_pool_queued", "gauge", "Requests waiting in a work pool's queue."},
		{"kagi_http_pool_queued_max_seen", "gauge", "The most requests a pool's queue has held."},
		{"kagi_http_pool_queue_capacity", "gauge", "A pool's queue bound (beyond it: 503 busy)."},
		{"kagi_http_pool_running", "gauge", "Requests a pool's workers are running now."},
		{"kagi_http_pool_threads", "gauge", "Worker threads of a pool."},
		{"kagi_http_pool_done_total", "counter", "Requests a pool has run."},
		{"kagi_http_pool_refused_total", "counter", "Requests refused because a pool's queue was full."},
		{"kagi_http_pool_batches_total", "counter",
		 "Takes of a batching pool's workers (each ran the requests waiting then, as one batch)."},
	};
	for (size_t f = 0; f < KG_ARRAY_LEN(fam); f++) {
		kg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
			      fam[f].type);
		for (size_t i = 0; i < n; i++) {
			kg_http_pool *p = pools[i];
			pthread_mutex_lock(&p->mu);
			unsigned long long v[] = {p->len, p->queued_max_seen, p->queue_max, p->running,
						  p->threads_configured, p->done, p->refused, p->batches};
			pthread_mutex_unlock(&p->mu);
			kg_buf_printf(out, "%s{pool=\"%s\"} %llu\n", fam[f].name, p->name, v[f]);
		}
	}
}

/* ---- the body budget ---------------------------------------------------*/

bool kg_http_budget_take(kg_http_budget *b, size_t n)
{
	size_t cur = atomic_load(&b->held);
	do {
		if (n > b->max || cur > b->max - n) {
			atomic_fetch_add(&b->refused, 1);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&b->held, &cur, cur + n));
	size_t now = cur + n, hw = atomic_load(&b->held_max_seen);
	while (now > hw && !atomic_compare_exchange_weak(&b->held_max_seen, &hw, now))
		;
	return true;
}

void kg_http_budget_give(kg_http_budget *b, size_t n)
{
	atomic_fetch_sub(&b->held, n);
}

void kg_http_budget_metrics(kg_http_budget *b, kg_buf *out)
{
	kg_buf_printf(out,
		      "# HELP kagi_http_body_bytes_held Bytes of request bodies held in memory now.\n"
		      "# TYPE kagi_http_body_bytes_held gauge\nkagi_http_body_bytes_held %zu\n"
		      "# HELP kagi_http_body_bytes_held_max_seen The most body bytes held at once.\n"
		      "# TYPE kagi_http_body_bytes_held_max_seen gauge\nkagi_http_body_bytes_held_max_seen %zu\n"
		      "# HELP kagi_http_body_bytes_cap http.body_memory_max_bytes.\n"
		      "# TYPE kagi_http_body_bytes_cap gauge\nkagi_http_body_bytes_cap %zu\n"
		      "# HELP kagi_http_body_budget_refused_total Bodies refused because the budget was full.\n"
		      "# TYPE kagi_http_body_budget_refused_total counter\n"
		      "kagi_http_body_budget_refused_total %zu\n",
		      atomic_load(&b->held), atomic_load(&b->held_max_seen), b->max,
		      atomic_load(&b->refused));
}
