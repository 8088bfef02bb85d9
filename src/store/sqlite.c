/* The SQLite backend: connections (WAL, synchronous=FULL, foreign keys),
 * schema migrations, transaction control, the statement cache, error
 * mapping, the test-only fault-injection VFS, and the backend's operations
 * table (kg_sqlite_ops, at the end). Not here: the domain operations
 * (sqlite_<domain>.c) and group commit (store.c). */
#include "store/sqlite_impl.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char *const kg_sqlite_migrations[];
extern const int kg_sqlite_migration_count;

/* ---- error mapping --------------------------------------------------------*/
int kg_sq_fail_db(sqlite3 *db, int rc, kg_err *err, const char *what)
{
	const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return kg_err_set(err, KG_EFULL, "%s: storage full (%s)", what, m);
	case SQLITE_IOERR:
		return kg_err_set(err, KG_EIO, "%s: storage I/O error (%s)", what, m);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return kg_err_set(err, KG_EIO, "%s: database file is damaged (%s)", what, m);
	case SQLITE_CANTOPEN:
		return kg_err_set(err, KG_EIO, "%s: cannot open database (%s)", what, m);
	case SQLITE_READONLY:
		return kg_err_set(err, KG_EIO, "%s: database is read-only (%s)", what, m);
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return kg_err_set(err, KG_ENOTFOUND, "%s: refers to a missing row (%s)",
					  what, m);
		return kg_err_set(err, KG_ECONFLICT, "%s: already exists or not allowed (%s)",
				  what, m);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return kg_err_set(err, KG_EBUSY, "%s: database is locked (%s)", what, m);
	case SQLITE_NOMEM:
		return kg_err_set(err, KG_ENOMEM, "%s: out of memory", what);
	default:
		return kg_err_set(err, KG_EINTERNAL, "%s: sqlite error %d (%s)", what, rc, m);
	}
}

int kg_sq_fail(kg_tx *tx, int rc, kg_err *err, const char *what)
{
	return kg_sq_fail_db(tx->conn->db, rc, err, what);
}

/* ---- statements -----------------------------------------------------------*/
static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
static int data_version(kg_store_conn *c, int64_t *out, kg_err *err);

static sqlite3_stmt *conn_stmt(kg_store_conn *c, const char *sql, kg_err *err)
{
	size_t h = ((uintptr_t)sql >> 3) % KG_SQ_STMT_CACHE;
	for (size_t i = 0; i < KG_SQ_STMT_CACHE; i++) {
		size_t k = (h + i) % KG_SQ_STMT_CACHE;
		if (c->cache[k].sql == sql) {
			sqlite3_stmt *st = c->cache[k].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
		if (!c->cache[k].sql) {
			sqlite3_stmt *st = NULL;
			int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
						    &st, NULL);
			if (rc != SQLITE_OK) {
				kg_sq_fail_db(c->db, rc, err, "prepare statement");
				return NULL;
			}
			c->cache[k].sql = sql;
			c->cache[k].st = st;
			return st;
		}
	}
	kg_err_set(err, KG_EINTERNAL, "statement cache full (raise KG_SQ_STMT_CACHE)");
	return NULL;
}

sqlite3_stmt *kg_sq_stmt(kg_tx *tx, const char *sql, kg_err *err)
{
	return conn_stmt(tx->conn, sql, err);
}

int kg_sq_exec_stmt(kg_tx *tx, sqlite3_stmt *st, kg_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	int code = kg_sq_fail(tx, sqlite3_extended_errcode(tx->conn->db), err, what);
	sqlite3_reset(st);
	return code;
}

void kg_sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void kg_sq_bind_textn(sqlite3_stmt *st, int i, const char *s, size_t n)
{
	if (s)
		sqlite3_bind_text64(st, i, s, n ? (sqlite3_uint64)n : strlen(s), SQLITE_STATIC,
				    SQLITE_UTF8);
	else
		sqlite3_bind_null(st, i);
}

void kg_sq_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	if (p)
		sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void kg_sq_bind_i64(sqlite3_stmt *st, int i, int64_t v) { sqlite3_bind_int64(st, i, v); }

void kg_sq_bind_opt_ms(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

const char *kg_sq_col_text(kg_arena *a, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	return kg_arena_strndup(a, (const char *)(t ? t : (const unsigned char *)""),
				(size_t)n);
}

const uint8_t *kg_sq_col_blob(kg_arena *a, sqlite3_stmt *st, int i, size_t *len)
{
	*len = 0;
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	/* one spare NUL so text stored as a blob can be read as a string */
	uint8_t *out = kg_arena_alloc(a, (size_t)n + 1);
	if (n > 0)
		memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	return out;
}

void *kg_sq_grow(kg_arena *a, void **arr, size_t *n, size_t *cap, size_t elem)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		void *na = kg_arena_alloc(a, ncap * elem);
		if (*n)
			memcpy(na, *arr, *n * elem);
		*arr = na;
		*cap = ncap;
	}
	void *slot = (char *)*arr + (*n)++ * elem;
	memset(slot, 0, elem);
	return slot;
}

int kg_sq_rows(kg_tx *tx, sqlite3_stmt *st, kg_arena *a, kg_sq_row_fn read, size_t elem,
	       void **out, size_t *n, kg_err *err, const char *what)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		read(a, st, kg_sq_grow(a, out, n, &cap, elem));
	int code = rc == SQLITE_DONE ? 0 : kg_sq_fail(tx, rc, err, what);
	sqlite3_reset(st);
	return code;
}

int kg_sq_one(kg_tx *tx, sqlite3_stmt *st, kg_arena *a, kg_sq_row_fn read, void *row,
	      size_t elem, kg_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	int code = 0;
	if (rc == SQLITE_ROW) {
		memset(row, 0, elem);
		read(a, st, row);
	} else if (rc == SQLITE_DONE) {
		code = KG_ENOTFOUND;
	} else {
		code = kg_sq_fail(tx, rc, err, what);
	}
	sqlite3_reset(st);
	return code;
}

/* ---- fault injection VFS (tests) -------------------------------------------
 * A shim over the default VFS: once armed, the Nth xWrite and every write
 * and sync after it fail with SQLITE_FULL or SQLITE_IOERR_WRITE, as a full
 * or failing disk would. Process-wide; only connections opened with the
 * "kg_fault" VFS are affected. */
#define FAULT_VFS "kg_fault"
enum { FAULT_NONE, FAULT_FULL, FAULT_IOERR };
static atomic_int fault_kind;
static atomic_long fault_countdown;
static atomic_bool fault_tripped;
static sqlite3_vfs *fault_real;
static sqlite3_vfs fault_vfs;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static int fault_hit(void)
{
	int kind = atomic_load(&fault_kind);
	if (kind == FAULT_NONE)
		return SQLITE_OK;
	if (!atomic_load(&fault_tripped)) {
		if (atomic_fetch_sub(&fault_countdown, 1) > 1)
			return SQLITE_OK;
		atomic_store(&fault_tripped, true);
	}
	return kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

#define REAL(f) (((struct fault_file *)(f))->real)
static int ff_close(sqlite3_file *f)
{
	int rc = REAL(f)->pMethods->xClose(REAL(f));
	return rc;
}
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	int rc = fault_hit();
	if (rc != SQLITE_OK)
		return rc;
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ff_sync(sqlite3_file *f, int flags)
{
	if (atomic_load(&fault_kind) != FAULT_NONE && atomic_load(&fault_tripped))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int ff_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int ff_check(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int ff_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int ff_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int ff_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ff_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int ff_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ff_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int ff_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	*p = NULL; /* no memory-mapped I/O: every write goes through xWrite */
	(void)f; (void)off; (void)n;
	return SQLITE_OK;
}
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	(void)f; (void)off; (void)p;
	return SQLITE_OK;
}

static const sqlite3_io_methods fault_io = {
	3, ff_close, ff_read, ff_write, ff_truncate, ff_sync, ff_size, ff_lock,
	ff_unlock, ff_check, ff_fcntl, ff_sector, ff_devchar, ff_shmmap, ff_shmlock,
	ff_shmbarrier, ff_shmunmap, ff_fetch, ff_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
		      int *out_flags)
{
	(void)vfs;
	struct fault_file *ff = (struct fault_file *)f;
	ff->real = (sqlite3_file *)(ff + 1);
	int rc = fault_real->xOpen(fault_real, name, ff->real, flags, out_flags);
	ff->base.pMethods = ff->real->pMethods ? &fault_io : NULL;
	return rc;
}

static void fault_register(void)
{
	fault_real = sqlite3_vfs_find(NULL);
	fault_vfs = *fault_real;
	fault_vfs.iVersion = fault_real->iVersion;
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault_real->szOsFile;
	fault_vfs.zName = FAULT_VFS;
	fault_vfs.pNext = NULL;
	fault_vfs.xOpen = fault_open;
	sqlite3_vfs_register(&fault_vfs, 0);
}

/* ---- process-wide settings ---------------------------------------------------*/
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	/* No memory statistics: keeping them takes a global mutex around every
	 * allocation SQLite makes (this build has no lookaside), and nothing
	 * reads them. Possible only before SQLite initialises; later it is
	 * refused, harmlessly. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void sq_global_init(void)
{
	pthread_once(&global_once, global_init);
}

/* Parses "full:N" / "ioerr:N" (N >= 1) and arms it; "" or NULL disarms. */
static int sq_fault_arm(const char *spec, kg_err *err)
{
	pthread_once(&fault_once, fault_register);
	if (!spec || !*spec) {
		atomic_store(&fault_kind, FAULT_NONE);
		atomic_store(&fault_tripped, false);
		return 0;
	}
	int kind;
	const char *n;
	if (strncmp(spec, "full:", 5) == 0) {
		kind = FAULT_FULL;
		n = spec + 5;
	} else if (strncmp(spec, "ioerr:", 6) == 0) {
		kind = FAULT_IOERR;
		n = spec + 6;
	} else {
		return kg_err_set(err, KG_EINVAL,
				  "fault spec \"%s\": expected full:N or ioerr:N", spec);
	}
	int64_t count;
	if (kg_parse_i64(n, &count) || count < 1)
		return kg_err_set(err, KG_EINVAL,
				  "fault spec \"%s\": N must be a positive integer", spec);
	atomic_store(&fault_kind, FAULT_NONE);
	atomic_store(&fault_tripped, false);
	atomic_store(&fault_countdown, (long)count);
	atomic_store(&fault_kind, kind);
	return 0;
}

/* ---- connections ----------------------------------------------------------*/
static int exec_sql(sqlite3 *db, const char *sql, kg_err *err, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return kg_sq_fail_db(db, sqlite3_extended_errcode(db), err, what);
	return 0;
}

/* ---- checkpoints on their own thread ----------------------------------------
 * A commit is durable once its WAL frames are synced; copying them into
 * the database file (a checkpoint, with a sync of its own) is not needed
 * for that. SQLite's automatic checkpoint runs inside the commit that
 * crosses its threshold, on the writer thread: each such commit, and every
 * job of its group, waited for a copy of the whole WAL and a second fsync.
 * Here the write connection's WAL hook only wakes a thread that
 * checkpoints (PASSIVE: never blocks the writer or the readers) on a
 * connection of its own; only a WAL grown past CKPT_INLINE_FRAMES (the
 * thread falls behind) is checkpointed by the writer itself, as before.
 * Not with the fault-injection VFS, whose Nth write must be the writer's
 * (docs/store.md, "Fault injection"): there SQLite's own automatic
 * checkpoint runs, as before. */
#define CKPT_FRAMES 1000         /* SQLite's wal_autocheckpoint default */
/* 375 MiB of 16 KiB pages. A writer that never pauses (a durable replay's
 * back-to-back batches) begins each transaction before the thread has
 * copied the last commit, so the WAL starts over only after an inline
 * checkpoint, which copies that last commit on the writer: at 16,000
 * frames that was every second batch of 100,000 events (585 MB of the
 * writer's copying a replay of the bench stream), at 24,000 every third
 * (320 MB; docs/BENCHMARKS.md, "The store's writer of a durable replay,
 * once more"). */
#define CKPT_INLINE_FRAMES 24000

struct kg_sq_ckpt {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool want, stop;
	int last_rc; /* the thread's: an error is logged when it changes */
	int woken_at; /* the writer's: the WAL's length when it last woke the thread */
};

static void *ckpt_main(void *arg)
{
	struct kg_sq_ckpt *k = arg;
	for (;;) {
		pthread_mutex_lock(&k->mu);
		while (!k->want && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		bool stop = k->stop;
		k->want = false;
		pthread_mutex_unlock(&k->mu);
		if (stop)
			break;
		int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
						   NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != k->last_rc)
			kg_log(KG_LOG_WARN, "store", "checkpoint failed: %s (the WAL grows until "
			       "one succeeds)", sqlite3_errmsg(k->db));
		k->last_rc = rc;
	}
	return NULL;
}

/* After each commit of the write connection (frames: the WAL's length;
 * it starts over after a checkpoint that caught up). The thread is woken
 * once per CKPT_FRAMES new frames, not after every commit of a WAL that
 * has not started over (one checkpoint, and its fsync, per 1,000 frames
 * as SQLite's own). */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct kg_sq_ckpt *k = arg;
	if (frames < k->woken_at)
		k->woken_at = 0;
	if (frames >= CKPT_INLINE_FRAMES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (frames - k->woken_at >= CKPT_FRAMES) {
		k->woken_at = frames;
		pthread_mutex_lock(&k->mu);
		k->want = true;
		pthread_cond_signal(&k->cv);
		pthread_mutex_unlock(&k->mu);
	}
	return SQLITE_OK;
}

static void ckpt_stop(kg_store_conn *c)
{
	struct kg_sq_ckpt *k = c->ckpt;
	if (!k)
		return;
	sqlite3_wal_hook(c->db, NULL, NULL);
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	sqlite3_close_v2(k->db);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
	c->ckpt = NULL;
}

/* The checkpointer of write connection c, on a connection of its own; if
 * it cannot start, SQLite's automatic checkpoint stays (nothing fails). */
static void ckpt_start(kg_store_conn *c, const char *path)
{
	struct kg_sq_ckpt *k = calloc(1, sizeof(*k));
	if (!k)
		return;
	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    /* a first read opens its WAL (a checkpoint needs it open) */
	    sqlite3_exec(k->db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close_v2(k->db);
		free(k);
		return;
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->thread, NULL, ckpt_main, k)) {
		sqlite3_close_v2(k->db);
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return;
	}
	c->ckpt = k;
	sqlite3_wal_hook(c->db, ckpt_hook, k);
}

static void conn_free(kg_store_conn *c)
{
	if (!c)
		return;
	ckpt_stop(c);
	for (size_t i = 0; i < KG_SQ_STMT_CACHE; i++)
		if (c->cache[i].st)
			sqlite3_finalize(c->cache[i].st);
	if (c->db)
		sqlite3_close_v2(c->db);
	free(c);
}

static int conn_open(kg_store *s, const char *path, bool write, kg_store_conn **out,
		     kg_err *err)
{
	*out = NULL;
	kg_store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return kg_err_set(err, KG_ENOMEM, "out of memory");
	c->write = write;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
		    (write ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &c->db, flags, s->fault_vfs ? FAULT_VFS : NULL);
	int code = 0;
	if (rc != SQLITE_OK) {
		kg_err_set(err, KG_EIO, "open %s: %s", path,
			   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		code = rc == SQLITE_NOMEM ? KG_ENOMEM : KG_EIO;
		if (err)
			err->code = code;
		goto cleanup;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	/* page_size takes effect only on a new (empty) database file: group
	 * commits rewrite most pages of the random-key indexes and the feature
	 * rows each time, and 16 KiB pages move those bytes in a quarter of the
	 * writes and WAL frames of 4 KiB ones (durable replay: about a fifth
	 * less CPU; docs/BENCHMARKS.md, risk). */
	char pragmas[256];
	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; %s",
		 write ? "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;"
		       : "PRAGMA query_only=1;");
	code = exec_sql(c->db, pragmas, err, path);
	if (code)
		goto cleanup;
	if (write) {
		/* journal_mode=WAL answers the mode it got; make sure it is WAL */
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);
			if (!mode || strcmp(mode, "wal") != 0)
				code = kg_err_set(err, KG_EIO, "%s: cannot use WAL mode (got %s)",
						  path, mode ? mode : "?");
		}
		sqlite3_finalize(st);
	}
cleanup:
	if (code) {
		conn_free(c);
		return code;
	}
	*out = c;
	return 0;
}

static int db_version(sqlite3 *db, int *version, kg_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return kg_sq_fail_db(db, rc, err, "read schema version");
	return 0;
}

/* Hex BLAKE2b-128 of migration v's text, recorded when it is applied. */
static void migration_checksum(int v, char out[33])
{
	uint8_t h[16];
	const char *sql = kg_sqlite_migrations[v - 1];
	crypto_generichash(h, sizeof(h), (const unsigned char *)sql, strlen(sql), NULL, 0);
	kg_hex(h, sizeof(h), out);
}

/* Refuses a database on which an applied migration differs from the text
 * compiled in (someone edited an applied migration); records checksums
 * missing from databases made before they were kept. */
static int check_applied(sqlite3 *db, const char *path, kg_err *err)
{
	sqlite3_stmt *st = NULL;
	int code = 0;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT count(*) FROM pragma_table_info('schema_migrations') "
				    "WHERE name = 'checksum'",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0)
		code = exec_sql(db, "ALTER TABLE schema_migrations ADD COLUMN checksum TEXT", err,
				"add migration checksums");
	sqlite3_finalize(st);
	st = NULL;
	if (code)
		return code;
	rc = sqlite3_prepare_v2(db, "SELECT version, checksum FROM schema_migrations "
				    "ORDER BY version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return kg_sq_fail_db(db, rc, err, "read schema_migrations");
	while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int v = sqlite3_column_int(st, 0);
		const char *have = (const char *)sqlite3_column_text(st, 1);
		if (v < 1 || v > kg_sqlite_migration_count)
			continue; /* newer than this kagi: refused by the caller */
		char want[33];
		migration_checksum(v, want);
		if (!have) {
			char upd[160];
			snprintf(upd, sizeof(upd),
				 "UPDATE schema_migrations SET checksum = '%s' WHERE version = %d",
				 want, v);
			code = exec_sql(db, upd, err, "record migration checksum");
		} else if (strcmp(have, want) != 0) {
			code = kg_err_set(err, KG_EINVAL,
					  "%s: schema migration %d differs from the one applied to "
					  "this database (an applied migration was edited; add a "
					  "new migration instead)",
					  path, v);
		}
	}
	if (!code && rc != SQLITE_DONE)
		code = kg_sq_fail_db(db, rc, err, "read schema_migrations");
	sqlite3_finalize(st);
	return code;
}

static int migrate(sqlite3 *db, const char *path, kg_err *err)
{
	int code = exec_sql(db,
			    "CREATE TABLE IF NOT EXISTS schema_migrations ("
			    " version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL,"
			    " checksum TEXT)",
			    err, "create schema_migrations");
	if (code)
		return code;
	code = exec_sql(db, "BEGIN IMMEDIATE", err, "begin migration");
	if (code)
		return code;
	int version = 0;
	code = db_version(db, &version, err);
	if (code)
		goto cleanup;
	if (version > kg_sqlite_migration_count) {
		code = kg_err_set(err, KG_EINVAL,
				  "%s: database schema v%d is newer than this kagi (v%d)", path,
				  version, kg_sqlite_migration_count);
		goto cleanup;
	}
	code = check_applied(db, path, err);
	if (code)
		goto cleanup;
	for (int v = version + 1; v <= kg_sqlite_migration_count; v++) {
		char what[64];
		snprintf(what, sizeof(what), "schema migration %d", v);
		code = exec_sql(db, kg_sqlite_migrations[v - 1], err, what);
		if (code)
			goto cleanup;
		char sum[33];
		migration_checksum(v, sum);
		char ins[192];
		snprintf(ins, sizeof(ins),
			 "INSERT INTO schema_migrations(version, applied_ms, checksum) "
			 "VALUES (%d, %lld, '%s')",
			 v, (long long)kg_now_ms(), sum);
		code = exec_sql(db, ins, err, what);
		if (code)
			goto cleanup;
	}
	code = exec_sql(db, "COMMIT", err, "commit migrations");
cleanup:
	if (code && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return code;
}

static int sq_open(kg_store *s, const char *path, kg_store_conn **wconn, kg_err *err)
{
	kg_store_conn *c = NULL;
	int code = conn_open(s, path, true, &c, err);
	if (code)
		return code;
	code = migrate(c->db, path, err);
	if (!code)
		code = data_version(c, &c->data_version, err);
	if (code) {
		conn_free(c);
		return code;
	}
	if (!s->fault_vfs)
		ckpt_start(c, path);
	*wconn = c;
	return 0;
}

/* PRAGMA data_version: it moves when another connection (of this process
 * or another) commits to the database, never for this connection's own
 * commits. */
static int data_version(kg_store_conn *c, int64_t *out, kg_err *err)
{
	sqlite3_stmt *st = conn_stmt(c, SQL_DATA_VERSION, err);
	if (!st)
		return err ? err->code : KG_EINTERNAL;
	int rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : kg_sq_fail_db(c->db, rc, err, "data version");
}

/* In a write transaction: no other connection has committed since the
 * store was opened (checked here, inside the transaction's snapshot, so
 * nothing committed before it escapes; once one has, never again). */
static bool sq_sole_writer(kg_store_conn *c)
{
	int64_t v = 0;
	if (c->foreign_commit || !c->write)
		return false;
	if (data_version(c, &v, NULL) || v != c->data_version)
		c->foreign_commit = true;
	return !c->foreign_commit;
}

static int sq_open_reader(kg_store *s, kg_store_conn **out, kg_err *err)
{
	return conn_open(s, s->path, false, out, err);
}

static void sq_close_conn(kg_store_conn *c, bool checkpoint)
{
	if (!c)
		return;
	if (checkpoint) {
		/* Without waiting: if another process (kagid, while a `kagi`
		 * command closes) is reading or writing, a TRUNCATE checkpoint
		 * would hold its writes back until its readers are done; then
		 * the WAL is simply left for the next checkpoint. */
		ckpt_stop(c);
		sqlite3_busy_timeout(c->db, 0);
		sqlite3_exec(c->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	}
	conn_free(c);
}

/* Runs one cached statement (sql must be a constant) that returns no rows. */
static int sq_exec(kg_store_conn *c, const char *sql, kg_err *err, const char *what)
{
	sqlite3_stmt *st = conn_stmt(c, sql, err);
	if (!st)
		return err ? err->code : KG_EINTERNAL;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return kg_sq_fail_db(c->db, rc, err, what);
	return 0;
}

static const char SQL_BEGIN_WRITE[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_READ[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE job";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO job";

/* Resets statements left mid-way by a job, so savepoint release, commit
 * and rollback never trip over a pending one. */
static void reset_busy(kg_store_conn *c)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(c->db, NULL); st;
	     st = sqlite3_next_stmt(c->db, st))
		if (sqlite3_stmt_busy(st))
			sqlite3_reset(st);
}

static int sq_begin(kg_store_conn *c, bool write, kg_err *err)
{
	return sq_exec(c, write ? SQL_BEGIN_WRITE : SQL_BEGIN_READ, err, "begin transaction");
}

static int sq_commit(kg_store_conn *c, kg_err *err)
{
	reset_busy(c);
	return sq_exec(c, SQL_COMMIT, err, "commit");
}

static void sq_rollback(kg_store_conn *c)
{
	reset_busy(c);
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_savepoint(kg_store_conn *c, kg_err *err)
{
	return sq_exec(c, SQL_SAVEPOINT, err, "savepoint");
}

static int sq_release(kg_store_conn *c, kg_err *err)
{
	reset_busy(c);
	return sq_exec(c, SQL_RELEASE, err, "release savepoint");
}

static int sq_rollback_to(kg_store_conn *c, kg_err *err)
{
	reset_busy(c);
	int rc = sq_exec(c, SQL_ROLLBACK_TO, err, "roll back savepoint");
	return rc ? rc : sq_exec(c, SQL_RELEASE, err, "release savepoint");
}

static bool sq_tx_aborted(kg_store_conn *c) { return sqlite3_get_autocommit(c->db) != 0; }

static int sq_integrity_check(kg_store_conn *c, kg_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return kg_sq_fail_db(c->db, rc, err, "integrity check");
	int code = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (!r || strcmp(r, "ok") != 0)
			code = kg_err_set(err, KG_EIO, "integrity check failed: %s", r ? r : "?");
	} else {
		code = kg_sq_fail_db(c->db, rc, err, "integrity check");
	}
	if (!code) {
		sqlite3_finalize(st);
		st = NULL;
		rc = sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &st, NULL);
		if (rc != SQLITE_OK)
			code = kg_sq_fail_db(c->db, rc, err, "foreign key check");
		else if ((rc = sqlite3_step(st)) == SQLITE_ROW)
			code = kg_err_set(err, KG_EIO, "foreign key check failed: table %s",
					  sqlite3_column_text(st, 0));
		else if (rc != SQLITE_DONE)
			code = kg_sq_fail_db(c->db, rc, err, "foreign key check");
	}
	sqlite3_finalize(st);
	return code;
}

static int sq_schema_version(kg_store_conn *c, int *version, kg_err *err)
{
	return db_version(c->db, version, err);
}

static uint64_t sq_changes(kg_store_conn *c)
{
	return (uint64_t)sqlite3_total_changes64(c->db);
}

static int sq_backup(kg_store_conn *c, const char *dest, kg_err *err)
{
	if (access(dest, F_OK) == 0)
		return kg_err_set(err, KG_ECONFLICT, "backup: %s already exists", dest);
	sqlite3 *out = NULL;
	int rc = sqlite3_open_v2(dest, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	int code = 0;
	if (rc != SQLITE_OK) {
		code = kg_err_set(err, KG_EIO, "backup: cannot create %s: %s", dest,
				  out ? sqlite3_errmsg(out) : sqlite3_errstr(rc));
		goto cleanup;
	}
	/* the read transaction is open: the copy is of its snapshot */
	sqlite3_backup *b = sqlite3_backup_init(out, "main", c->db, "main");
	if (!b) {
		code = kg_sq_fail_db(out, sqlite3_extended_errcode(out), err, "backup");
		goto cleanup;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		code = kg_sq_fail_db(out, rc, err, "backup");
		goto cleanup;
	}
	rc = sqlite3_exec(out, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		code = kg_sq_fail_db(out, rc, err, "backup");
cleanup:
	if (out && sqlite3_close(out) != SQLITE_OK && !code)
		code = kg_err_set(err, KG_EIO, "backup: closing %s failed", dest);
	if (code)
		unlink(dest);
	return code;
}

const struct kg_store_ops kg_sqlite_ops = {
	.name = "sqlite",
	.global_init = sq_global_init,
	.open = sq_open,
	.open_reader = sq_open_reader,
	.close_conn = sq_close_conn,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.rollback_to = sq_rollback_to,
	.tx_aborted = sq_tx_aborted,
	.integrity_check = sq_integrity_check,
	.schema_version = sq_schema_version,
	.backup = sq_backup,
	.changes = sq_changes,
	.sole_writer = sq_sole_writer,
	.fault_arm = sq_fault_arm,

	.accounts = &kg_sqlite_accounts_ops,
	.events = &kg_sqlite_events_ops,
	.locks = &kg_sqlite_locks_ops,
	.audit = &kg_sqlite_audit_ops,
	.messages = &kg_sqlite_messages_ops,
	.queue = &kg_sqlite_queue_ops,
	.cases = &kg_sqlite_cases_ops,
	.checks = &kg_sqlite_checks_ops,
	.guard = &kg_sqlite_guard_ops,
};
