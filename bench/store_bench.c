/* store_bench: durable small write transactions per second through
 * kg_store_write, with N concurrent writer threads. Each transaction
 * inserts one ~200-byte event row and commits with synchronous=FULL.
 * Not a test: bench/store_group_commit.sh runs it and records figures.
 *
 * With --rows R each transaction inserts R rows instead (a batch).
 * With --reads each "transaction" is instead a kg_store_read that fetches
 * one of 1,000 accounts by id (a login check's read).
 *
 *   store_bench --db PATH [--writers N] [--tx TOTAL] [--group-max G] [--rows R] */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"

struct worker {
	kg_store *s;
	int no;
	long count;
	long rows;
	bool reads;
	long failures;
};

static int read_one(kg_tx *tx, void *ctx, kg_err *err)
{
	char id[32];
	snprintf(id, sizeof(id), "acc-%ld", *(long *)ctx % 1000);
	kg_arena a;
	kg_arena_init(&a, 1024);
	kg_account acc;
	int rc = kg_tx_account_get(tx, id, &acc, &a, err);
	kg_arena_release(&a);
	return rc;
}

static int seed_accounts(kg_tx *tx, void *ctx, kg_err *err)
{
	(void)ctx;
	for (int i = 0; i < 1000; i++) {
		char id[32], email[64];
		snprintf(id, sizeof(id), "acc-%d", i);
		snprintf(email, sizeof(email), "user%d@example.jp", i);
		kg_account acc = {.id = id, .name = "Hanako Yamada", .email = email,
				  .lang = "ja", .address = {"100-0001", "Tokyo", "Chiyoda", "1-1",
							    NULL, "JP"}};
		int rc = kg_tx_account_insert(tx, &acc, err);
		if (rc)
			return rc;
	}
	return 0;
}

struct job {
	char id[48];
	char account[32];
	long rows;
};

static const char body[] =
	"{\"id\":\"e\",\"type\":\"login\",\"account\":\"a\",\"ts\":\"2026-11-28T10:00:00Z\","
	"\"success\":true,\"ip\":\"192.0.2.10\",\"device_id\":\"dev-1234567890\","
	"\"country\":\"JP\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64)\"}";

static int insert_one(kg_tx *tx, void *ctx, kg_err *err)
{
	struct job *j = ctx;
	kg_event_rec ev = {.account_id = j->account, .event_id = j->id, .type = "login",
			   .ts_ms = kg_now_ms(), .body = body,
			   .decision = "{\"action\":\"allow\",\"score\":0}"};
	if (j->rows <= 1)
		return kg_tx_event_insert(tx, &ev, err);
	char id[80];
	ev.event_id = id;
	for (long r = 0; r < j->rows; r++) {
		snprintf(id, sizeof(id), "%s.%ld", j->id, r);
		int rc = kg_tx_event_insert(tx, &ev, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void *run(void *p)
{
	struct worker *w = p;
	for (long i = 0; w->reads && i < w->count; i++) {
		long k = i * 7919 + w->no;
		kg_err err;
		if (kg_store_read(w->s, read_one, &k, &err) != 0 && w->failures++ == 0)
			fprintf(stderr, "store_bench: read failed: %s\n", err.msg);
	}
	for (long i = 0; !w->reads && i < w->count; i++) {
		struct job j = {.rows = w->rows};
		snprintf(j.account, sizeof(j.account), "acc-%d-%ld", w->no, i % 1000);
		snprintf(j.id, sizeof(j.id), "ev-%d-%ld", w->no, i);
		kg_err err;
		if (kg_store_write(w->s, insert_one, &j, &err) != 0) {
			if (w->failures++ == 0)
				fprintf(stderr, "store_bench: write failed: %s\n", err.msg);
		}
	}
	return NULL;
}

static long arg_long(const char *flag, const char *v)
{
	int64_t n = 0;
	if (!v || kg_parse_i64(v, &n) || n < 1) {
		fprintf(stderr, "store_bench: %s needs a positive integer\n", flag);
		exit(2);
	}
	return (long)n;
}

int main(int argc, char **argv)
{
	const char *db = NULL;
	long writers = 1, total = 2000, group_max = 512, rows = 1;
	bool reads = false;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--db") == 0 && v) {
			db = v;
			i++;
		} else if (strcmp(argv[i], "--writers") == 0) {
			writers = arg_long(argv[i], v);
			i++;
		} else if (strcmp(argv[i], "--tx") == 0) {
			total = arg_long(argv[i], v);
			i++;
		} else if (strcmp(argv[i], "--reads") == 0) {
			reads = true;
		} else if (strcmp(argv[i], "--rows") == 0) {
			rows = arg_long(argv[i], v);
			i++;
		} else if (strcmp(argv[i], "--group-max") == 0) {
			group_max = arg_long(argv[i], v);
			i++;
		} else {
			fprintf(stderr,
				"usage: store_bench --db PATH [--writers N] [--tx TOTAL] "
				"[--group-max G] [--rows R] [--reads]\n");
			return 2;
		}
	}
	if (!db) {
		fprintf(stderr, "store_bench: --db PATH is required\n");
		return 2;
	}
	unlink(db);
	kg_store_options opt;
	kg_store_options_init(&opt);
	opt.group_max = (int)group_max;
	kg_store *s = NULL;
	kg_err err;
	if (kg_store_open(&s, db, &opt, &err)) {
		fprintf(stderr, "store_bench: %s\n", err.msg);
		return 1;
	}
	struct worker *ws = calloc((size_t)writers, sizeof(*ws));
	pthread_t *th = calloc((size_t)writers, sizeof(*th));
	if (!ws || !th)
		return 1;
	if (reads && kg_store_write(s, seed_accounts, NULL, &err)) {
		fprintf(stderr, "store_bench: %s\n", err.msg);
		return 1;
	}
	uint64_t t0 = kg_mono_ns();
	for (long i = 0; i < writers; i++) {
		ws[i] = (struct worker){.s = s, .no = (int)i, .count = total / writers,
				   .rows = rows, .reads = reads};
		pthread_create(&th[i], NULL, run, &ws[i]);
	}
	long done = 0, failed = 0;
	for (long i = 0; i < writers; i++) {
		pthread_join(th[i], NULL);
		done += ws[i].count;
		failed += ws[i].failures;
	}
	double secs = (double)(kg_mono_ns() - t0) / 1e9;
	kg_store_stats st;
	kg_store_stats_get(s, &st);
	kg_store_close(s);
	/* commit latency: the bucket bound under which 50 % / 99 % of commits fell */
	double p50 = -1, p99 = -1;
	uint64_t seen = 0;
	for (int b = 0; b <= KG_STORE_LATENCY_BUCKETS; b++) {
		seen += st.latency[b];
		double bound = b < KG_STORE_LATENCY_BUCKETS ? kg_store_latency_bounds_s[b] * 1e3 : 1e9;
		if (p50 < 0 && seen * 2 >= st.commits)
			p50 = bound;
		if (p99 < 0 && seen * 100 >= st.commits * 99)
			p99 = bound;
	}
	/* one line, key=value, for the script */
	printf("writers=%ld tx=%ld rows_per_tx=%ld failed=%ld secs=%.3f tx_per_s=%.0f "
	       "rows_per_s=%.0f commits=%llu commits_per_s=%.0f avg_group=%.1f max_group=%llu "
	       "commit_p50_ms_le=%g commit_p99_ms_le=%g\n",
	       writers, done, rows, failed, secs, (double)done / secs,
	       (double)(done * rows) / secs,
	       (unsigned long long)st.commits, (double)st.commits / secs,
	       st.commits ? (double)st.jobs / (double)st.commits : 0.0,
	       (unsigned long long)st.group_max_seen, p50, p99);
	free(ws);
	free(th);
	return failed ? 1 : 0;
}
