/* Crash safety of the store (S11): a child process writes through
 * kg_store_write from several threads and reports each acknowledged write
 * on a pipe; the parent kills it with SIGKILL at a random moment, reopens
 * the file and checks that every acknowledged write is there and that
 * PRAGMA integrity_check passes. Repeated on the same file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "store_testutil.h"

#define ROUNDS 6
#define CHILD_THREADS 4
#define ID_LEN 48 /* fixed-size records on the pipe: writes <= PIPE_BUF are atomic */

struct child_arg {
	kg_store *s;
	int round, no, fd;
};

static int insert_ev(kg_tx *tx, void *ctx, kg_err *err)
{
	const char *id = ctx;
	kg_event_rec ev = {.account_id = "acc", .event_id = id, .type = "order", .ts_ms = 1,
			   .body = "{\"amount\":1000}", .decision = "{\"action\":\"allow\"}"};
	int rc = kg_tx_event_insert(tx, &ev, err);
	kg_audit_entry e = {.account_id = "acc", .actor = "system", .action = "event",
			    .detail = id};
	if (!rc)
		rc = kg_tx_audit_append(tx, &e, NULL, err);
	return rc;
}

static void *child_writer(void *p)
{
	struct child_arg *c = p;
	for (long i = 0;; i++) {
		char id[ID_LEN];
		memset(id, 0, sizeof(id));
		snprintf(id, sizeof(id), "r%d-t%d-%ld", c->round, c->no, i);
		kg_err err;
		if (kg_store_write(c->s, insert_ev, id, &err) != 0)
			_exit(3);
		/* acknowledged: only now may anyone be told */
		if (write(c->fd, id, sizeof(id)) != (ssize_t)sizeof(id))
			_exit(4);
	}
	return NULL;
}

static void child_main(const char *path, int round, int fd)
{
	kg_store *s = NULL;
	kg_err err;
	if (kg_store_open(&s, path, NULL, &err) != 0)
		_exit(2);
	pthread_t th[CHILD_THREADS];
	struct child_arg args[CHILD_THREADS];
	for (int i = 0; i < CHILD_THREADS; i++) {
		args[i] = (struct child_arg){.s = s, .round = round, .no = i, .fd = fd};
		pthread_create(&th[i], NULL, child_writer, &args[i]);
	}
	for (;;)
		pause(); /* until SIGKILL */
}

struct acked {
	char (*ids)[ID_LEN];
	size_t n, cap;
};

static void read_acks(int fd, struct acked *a, bool until_eof)
{
	for (;;) {
		char id[ID_LEN];
		size_t got = 0;
		while (got < sizeof(id)) {
			ssize_t r = read(fd, id + got, sizeof(id) - got);
			if (r == 0)
				return;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN && !until_eof && got == 0)
					return;
				if (errno == EAGAIN) {
					usleep(100);
					continue;
				}
				fail_msg("read: %s", strerror(errno));
			}
			got += (size_t)r;
		}
		if (a->n == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 1024;
			a->ids = realloc(a->ids, a->cap * sizeof(*a->ids));
			assert_non_null(a->ids);
		}
		memcpy(a->ids[a->n++], id, ID_LEN);
	}
}

struct check {
	struct acked *a;
	size_t missing;
	const char *first_missing;
};

static int check_acked(kg_tx *tx, void *ctx, kg_err *err)
{
	struct check *c = ctx;
	kg_arena ar;
	kg_arena_init(&ar, 0);
	for (size_t i = 0; i < c->a->n; i++) {
		kg_event_rec ev;
		int rc = kg_tx_event_get(tx, "acc", c->a->ids[i], &ev, &ar, err);
		if (rc == KG_ENOTFOUND) {
			if (!c->missing++)
				c->first_missing = c->a->ids[i];
		} else if (rc) {
			kg_arena_release(&ar);
			return rc;
		}
	}
	kg_arena_release(&ar);
	return 0;
}

static void acknowledged_writes_survive_sigkill(void **state)
{
	(void)state;
	char path[640];
	snprintf(path, sizeof(path), "%s", kg_test_db("crash"));
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	struct acked all = {0};
	size_t total_before = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_main(path, round, fds[1]);
		}
		close(fds[1]);
		/* let it write for 50..400 ms, draining the pipe meanwhile */
		int wait_ms = 50 + rand() % 350;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int flags = fcntl(fds[0], F_GETFL);
		fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
		for (;;) {
			read_acks(fds[0], &all, false);
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
			if (ms >= wait_ms)
				break;
			usleep(2000);
		}
		kill(pid, SIGKILL);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("round %d: the writer exited by itself (status %d) before the kill",
				 round, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		read_acks(fds[0], &all, true); /* what it acknowledged before dying */
		close(fds[0]);

		kg_store *s = kg_test_open(path, NULL);
		kg_err err;
		if (kg_store_integrity_check(s, &err) != 0)
			fail_msg("round %d (seed %u): %s", round, seed, err.msg);
		struct check c = {.a = &all};
		assert_int_equal(kg_store_read(s, check_acked, &c, &err), 0);
		if (c.missing)
			fail_msg("round %d (seed %u): %zu acknowledged writes lost, e.g. %s", round,
				 seed, c.missing, c.first_missing);
		kg_audit_report rep;
		assert_int_equal(kg_store_audit_verify(s, NULL, &rep, NULL, NULL, &err), 0);
		assert_int_equal(rep.altered + rep.inserted + rep.removed, 0);
		assert_true(rep.entries >= (int64_t)all.n);
		kg_store_close(s);
		assert_true(all.n >= total_before); /* it did write (a vacuous pass fails) */
		total_before = all.n;
	}
	assert_true(all.n > 0);
	if (getenv("KG_TEST_VERBOSE"))
		printf("%d kills, %zu acknowledged writes all found\n", ROUNDS, all.n);
	free(all.ids);
}

static int teardown_all(void **state)
{
	(void)state;
	kg_test_dir_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(acknowledged_writes_survive_sigkill),
	};
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
