/* kagi store: the one interface to persistent state. Everything kagi keeps
 * (accounts, events, locks, audit, messages, cases, codes, outbox, ...) goes
 * through the kg_tx_* operations below; nothing above the store writes SQL.
 * Not here: policy (what to lock, when to send) — callers decide, the store
 * keeps.
 *
 * Shape
 *   kg_store_open()   opens a backend and migrates its schema. The backend
 *                     is picked once, here, by the options' enum or the
 *                     path's URL scheme (a file path: SQLite); from then on
 *                     every kg_tx_* call goes through that backend's one
 *                     operations table (src/store/store_impl.h).
 *   kg_store_write()  queues a job (a kg_tx_fn) to the ONE writer thread,
 *                     which runs up to group_max waiting jobs in one
 *                     transaction, each in its own savepoint, and commits
 *                     them with one fsync (group commit). Returns when the
 *                     commit is durable.
 *   kg_store_read()   runs a kg_tx_fn on a pooled read connection, on one
 *                     consistent snapshot.
 *   Inside a job, use kg_tx_* operations; never call kg_store_write/read
 *   from inside a job (it would deadlock).
 *
 * Results: 0 on success, a negative kg_code otherwise, with details in the
 * kg_err. Storage errors map to KG_EFULL (disk full), KG_EIO (I/O error,
 * corruption), KG_ECONFLICT (a uniqueness/state conflict), KG_ENOTFOUND.
 *
 * Ownership: every string or blob a kg_tx_* getter returns is allocated in
 * the kg_arena the caller passes and lives until that arena is released.
 * Structs given to insert/update are only read during the call.
 * Optional times are int64 milliseconds since the epoch; 0 means "none"
 * (stored as NULL). Optional strings are NULL for "none".
 *
 * ADDING OPERATIONS FOR A NEW DOMAIN (cases, codes, counters, ...):
 *   1. Here: a section "---- <domain> ----" with the typed struct(s) and the
 *      kg_tx_<domain>_<verb>() prototypes (same conventions as below).
 *   2. src/store/store_impl.h: a `struct kg_store_<domain>_ops` of function
 *      pointers (one per verb) and a member for it in `struct kg_store_ops`
 *      (the backend's table).
 *   3. src/store/tx.c: the public kg_tx_* calls, each one line through
 *      KG_TX_CALL / KG_TX_WCALL (writes) into the running backend's table.
 *   4. src/store/sqlite_<domain>.c: the SQLite implementation, using the
 *      helpers of src/store/sqlite_impl.h (cached statements, binding,
 *      error mapping), exported as `kg_sqlite_<domain>_ops` and listed in
 *      kg_sqlite_ops (sqlite.c). sqlite_accounts.c is the model to copy.
 *      Every other backend gets the same, in its own files.
 *   5. A schema change is a NEW migration appended to the array in
 *      src/store/sqlite_schema.c; never edit one that is already there.
 *   6. Tests in tests/unit/test_store_<domain>.c (see test_store.c).
 */
#ifndef KG_STORE_H
#define KG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct kg_store kg_store;
typedef struct kg_tx kg_tx;

/* ---- lifecycle -----------------------------------------------------------*/
enum kg_store_backend {
	KG_STORE_SQLITE = 0,
	KG_STORE_POSTGRES = 1, /* path: a postgres:// URL (picked by it, too); not every
				* operation yet: docs/scaling.md */
};

typedef struct kg_store_options {
	enum kg_store_backend backend;
	int group_max;        /* jobs per commit; 0: 512; at most KG_STORE_GROUP_MAX */
	int busy_timeout_ms;  /* wait on a database locked by another process; 0: 5000 */
	/* Test-only fault injection, "full:N" or "ioerr:N": the Nth write to
	 * the database files from now on, and every write and sync after it,
	 * fails with SQLITE_FULL / SQLITE_IOERR. "" opens the store on the
	 * fault-injection VFS unarmed (arm later with kg_store_fault). NULL:
	 * the environment variable KG_STORE_FAULT if set, else no injection. */
	const char *fault;
} kg_store_options;

/* Sets the defaults (SQLite, group_max 512, busy timeout 5000 ms). */
void kg_store_options_init(kg_store_options *opt);
/* Sets the defaults, then the store.* keys of a loaded configuration. */
void kg_store_options_from_config(kg_store_options *opt, const kg_config *c);

/* Opens (creating if missing) the store at path, applies pending schema
 * migrations, and starts the writer thread. opt may be NULL (defaults).
 * Returns 0 and *out (free with kg_store_close), or KG_EIO / KG_EFULL /
 * KG_EINVAL with err saying what and where. */
int kg_store_open(kg_store **out, const char *path, const kg_store_options *opt,
		  kg_err *err);

/* Runs every job already queued, waits for reads in progress, stops the
 * writer, checkpoints the WAL and closes all connections. Writes that
 * arrive once close has started get KG_EBUSY (reads too, once the queue is
 * drained). Threads already inside kg_store_write/read finish normally; no
 * thread may call into s after close returns. NULL is a no-op. */
void kg_store_close(kg_store *s);

/* Schema version the store is at (the number of applied migrations). */
int kg_store_schema_version(kg_store *s);
/* Whether path names a PostgreSQL store (libpq's postgres:// or
 * postgresql:// URL) rather than a SQLite file. */
bool kg_store_is_url(const char *path);
/* Whether other processes may write this store's database at the same
 * time (PostgreSQL: several kagid nodes); false for SQLite, whose one
 * process owns its file. */
bool kg_store_shared(const kg_store *s);
/* In a write job: true when no other connection, of this process or
 * another, has committed to the database since this store opened it —
 * every row is as this store's own jobs (or the database before it was
 * opened) left it. Once false, false until the store is closed. A read
 * transaction, or a backend that cannot tell (PostgreSQL), answers false.
 * Lets a writer skip re-reading a row it knows (docs/store.md). */
bool kg_tx_sole_writer(kg_tx *tx);

/* ---- transactions ---------------------------------------------------------
 * A job: do kg_tx_* operations, return 0 to keep them or a negative kg_code
 * (with err set) to roll back this job alone. err is never NULL inside a
 * job. A job may run on the writer thread: it must not block on other
 * writes. */
typedef int (*kg_tx_fn)(kg_tx *tx, void *ctx, kg_err *err);

/* Runs fn in a write transaction shared with other concurrent jobs (group
 * commit). Must not be called from inside a job (KG_EINVAL). Returns fn's result once the commit is durable (0), fn's own
 * error if fn failed (its changes rolled back, the others' kept), or the
 * commit's error (KG_EFULL, KG_EIO, ...) — then nothing of the job was
 * written. */
int kg_store_write(kg_store *s, kg_tx_fn fn, void *ctx, kg_err *err);

/* kg_store_write in two halves, so that a caller can prepare its next job
 * while this one commits. kg_store_write_start queues fn (ctx must live
 * until the wait) and returns at once with a ticket in *out; after, when
 * not NULL, is the ticket of a job queued earlier whose failure (its own
 * or its commit's) fails this job too, unrun (a job computed on top of
 * another's result). after must not be freed before this job is waited
 * for. Returns 0 (queued) or KG_EBUSY/KG_EINVAL/KG_ENOMEM (not queued). */
typedef struct kg_store_job kg_store_ticket;
int kg_store_write_start(kg_store *s, kg_tx_fn fn, void *ctx, kg_store_ticket *after,
			 kg_store_ticket **out, kg_err *err);
/* kg_store_write_start, and once the job's result is final (its commit
 * durable, or the job or its commit failed) the writer thread calls
 * then(then_ctx), once; kg_store_write_wait on the ticket then returns at
 * once, and the owner must still call it (and kg_store_ticket_free). Lets a
 * caller go on without a thread blocked in the wait (kagid's server thread
 * resumes a suspended connection). then runs on the writer thread, after
 * the group's commit: it must be quick, must not block and must not call
 * into the store. Not called when the job is not queued (an error here). */
int kg_store_write_start_then(kg_store *s, kg_tx_fn fn, void *ctx, void (*then)(void *),
			      void *then_ctx, kg_store_ticket **out, kg_err *err);
/* Waits for the job of ticket t; returns what kg_store_write would have.
 * The ticket stays valid (for other jobs' after) until kg_store_ticket_free. */
int kg_store_write_wait(kg_store *s, kg_store_ticket *t, kg_err *err);
/* Frees a waited-for ticket; NULL is a no-op. */
void kg_store_ticket_free(kg_store_ticket *t);

/* Runs fn on a read-only snapshot. Write operations inside fail with
 * KG_EINVAL. Returns fn's result or a storage error. */
int kg_store_read(kg_store *s, kg_tx_fn fn, void *ctx, kg_err *err);

/* True if tx may write (it came from kg_store_write). */
bool kg_tx_writable(const kg_tx *tx);

/* ---- health, metrics ------------------------------------------------------*/
#define KG_STORE_LATENCY_BUCKETS 12
/* Upper bounds (seconds) of the commit-latency histogram buckets; a last,
 * implicit bucket is +Inf. */
extern const double kg_store_latency_bounds_s[KG_STORE_LATENCY_BUCKETS];

typedef struct kg_store_stats {
	uint64_t commits;        /* transactions committed */
	uint64_t commit_errors;  /* commits that failed (every job got the error) */
	uint64_t jobs;           /* write jobs run */
	uint64_t job_errors;     /* jobs rolled back (their own error or the commit's) */
	uint64_t reads;          /* read transactions */
	uint64_t group_max_seen; /* largest group committed at once */
	uint64_t queued;         /* jobs waiting for the writer now (a gauge) */
	/* Commit latency (BEGIN .. durable COMMIT) per bucket, NOT cumulative:
	 * latency[i] counts commits with bounds[i-1] < t <= bounds[i];
	 * latency[KG_STORE_LATENCY_BUCKETS] counts the rest (+Inf). */
	uint64_t latency[KG_STORE_LATENCY_BUCKETS + 1];
	double latency_sum_s;
	/* The last failed commit (0 / "": none yet), e.g. for a health check:
	 * failing since last_commit_error_ms if it is later than last_commit_ms,
	 * the last commit that wrote rows (one that wrote nothing, e.g. a
	 * worker finding no work, proves nothing about the storage). */
	int64_t last_commit_ms;
	int64_t last_commit_error_ms;
	int last_commit_error_code;
	char last_commit_error[KG_ERR_MSG_MAX];
} kg_store_stats;

/* Copies the counters (thread-safe). */
void kg_store_stats_get(kg_store *s, kg_store_stats *out);

/* Runs the backend's integrity check (SQLite: PRAGMA integrity_check).
 * Returns 0 if sound, KG_EIO with the first problem in err otherwise. */
int kg_store_integrity_check(kg_store *s, kg_err *err);

/* Writes a consistent copy of the whole store, as of one snapshot, to a
 * new file at dest (which must not exist), while writes go on. Returns 0,
 * KG_ECONFLICT if dest exists, or KG_EIO / KG_EFULL. */
int kg_store_backup(kg_store *s, const char *dest, kg_err *err);

/* Copies every row of the SQLite store at from into the empty PostgreSQL
 * store at to (a postgres:// URL), in one transaction there; both are
 * migrated to this kagi's schema first. *rows (may be NULL) gets how many
 * rows were copied. KG_EINVAL for other kinds of from/to, KG_ECONFLICT if a
 * table of to has rows, KG_EIO with err for a storage error (then nothing
 * was written to to). `kagi store copy`. */
int kg_store_copy(const char *from, const char *to, int64_t *rows, kg_err *err);

/* Test-only: arms fault injection as kg_store_options.fault ("full:N",
 * "ioerr:N"; counting from now), or disarms it (NULL or ""). Returns 0 or
 * KG_EINVAL for a bad spec. The fault affects every store of the process
 * opened with a fault option or KG_STORE_FAULT (they use the fault VFS). */
int kg_store_fault(kg_store *s, const char *spec, kg_err *err);

/* ---- ids ------------------------------------------------------------------*/
#define KG_STORE_ID_MAX 64
/* Writes a new unique id "<prefix>_<32 hex>" (time-ordered: 48-bit ms time,
 * then 80 random bits) into out; returns out. prefix: a few letters. */
char *kg_store_new_id(char out[KG_STORE_ID_MAX], const char *prefix);

/* ---- accounts -------------------------------------------------------------*/
typedef struct kg_address {
	const char *postal_code, *region, *city, *line1, *line2, *country;
} kg_address;

typedef struct kg_account {
	const char *id;            /* the shop's account id */
	const char *name;
	const char *email;         /* unique, case-insensitive; NULL allowed */
	const char *phone;
	kg_address address;        /* registered address */
	const char *password_hash; /* Argon2id string, NULL: none set */
	const uint8_t *totp_secret; /* opaque to the store (encrypted by account) */
	size_t totp_secret_len;
	bool totp_enabled;
	const char *lang;          /* "ja", "en", ... */
	int64_t created_ms, updated_ms; /* 0 on insert/update: now */
} kg_account;

/* Returns 0 and fills *out, or KG_ENOTFOUND. */
int kg_tx_account_get(kg_tx *tx, const char *id, kg_account *out, kg_arena *a,
		      kg_err *err);
/* Email match ignores ASCII case. Returns 0 or KG_ENOTFOUND. */
int kg_tx_account_get_by_email(kg_tx *tx, const char *email, kg_account *out,
			       kg_arena *a, kg_err *err);
/* KG_ECONFLICT if the id or the email is taken. */
int kg_tx_account_insert(kg_tx *tx, const kg_account *acc, kg_err *err);
/* Replaces every column of account acc->id (get, change, update).
 * KG_ENOTFOUND if missing, KG_ECONFLICT if the new email is taken. */
int kg_tx_account_update(kg_tx *tx, const kg_account *acc, kg_err *err);

/* Agent search ("find an account"): accounts whose id, email or phone is
 * exactly q (email ignoring ASCII case), or whose name or email starts
 * with q (ASCII case ignored); exact matches first, then by name; at most
 * limit (0: 50). */
int kg_tx_account_search(kg_tx *tx, const char *q, size_t limit, kg_arena *a,
			 kg_account **out, size_t *n, kg_err *err);

/* Cards: never a full number. last4 is 4 digits, exp "MM/YY". */
typedef struct kg_card {
	const char *account_id;
	const char *card_id;      /* NULL on add: the fingerprint is used */
	const char *holder_name;
	const char *last4;
	const char *exp;          /* "MM/YY" */
	const char *fingerprint;  /* the shop's card fingerprint */
	int64_t created_ms;       /* 0 on add: now */
} kg_card;

/* Adds a card, or replaces the card with the same (account, card_id).
 * KG_EINVAL for a bad last4/exp; KG_ENOTFOUND if the account is missing. */
int kg_tx_card_add(kg_tx *tx, const kg_card *card, kg_err *err);
/* All cards of an account, oldest first: *out is an arena array of *n. */
int kg_tx_card_list(kg_tx *tx, const char *account_id, kg_arena *a,
		    kg_card **out, size_t *n, kg_err *err);

/* Extra (non-registered) addresses, e.g. shipping addresses seen. */
typedef struct kg_account_address {
	const char *account_id;
	const char *address_id;   /* NULL on add: a new id */
	const char *kind;         /* "shipping", "billing", ... */
	kg_address address;
	int64_t created_ms;
} kg_account_address;

int kg_tx_address_add(kg_tx *tx, const kg_account_address *addr, kg_err *err);
int kg_tx_address_list(kg_tx *tx, const char *account_id, kg_arena *a,
		       kg_account_address **out, size_t *n, kg_err *err);

/* ---- credentials ------------------------------------------------------------
 * API keys, customer tokens and lock tickets. Only a hash of the secret is
 * stored (the caller hashes; compare with kg_ct_equal). */
typedef struct kg_credential {
	const char *id;            /* public part of the key */
	const uint8_t *secret_hash;
	size_t secret_hash_len;
	const char *role;          /* service|agent|admin|customer|ticket */
	const char *account_id;    /* customer/ticket: the account; else NULL */
	int64_t expires_ms;        /* 0: never */
	const char *label;
	int64_t created_ms;        /* 0 on insert: now */
	int64_t revoked_ms;        /* 0: not revoked */
} kg_credential;

/* KG_EINVAL for an unknown role; KG_ECONFLICT if the id exists. */
int kg_tx_credential_insert(kg_tx *tx, const kg_credential *c, kg_err *err);
/* Returns it even if revoked or expired (the caller decides). KG_ENOTFOUND. */
int kg_tx_credential_get(kg_tx *tx, const char *id, kg_credential *out,
			 kg_arena *a, kg_err *err);
/* KG_ENOTFOUND; KG_ECONFLICT if already revoked. */
int kg_tx_credential_revoke(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err);
/* Revokes every credential of account_id with role (NULL: any role) that is
 * not revoked yet; *n (may be NULL) gets how many. */
int kg_tx_credential_revoke_account(kg_tx *tx, const char *account_id, const char *role,
				    int64_t now_ms, size_t *n, kg_err *err);

/* ---- events (idempotency by (account, event id)) -------------------------*/
typedef struct kg_event_rec {
	const char *account_id;
	const char *event_id;
	const char *type;
	int64_t ts_ms;            /* event time */
	const char *body;         /* the event JSON as received */
	const char *decision;     /* the decision JSON */
	int64_t created_ms;       /* 0 on insert: now */
	/* on insert, lengths of the strings above when known (the strings then
	 * need no NUL); 0: NUL-terminated. Reads leave them 0. */
	size_t account_id_len, event_id_len, body_len, decision_len;
	/* the hash of the body's canonical form (the risk engine's; a retry of
	 * the id with another body is a conflict); NULL: none (rows stored
	 * before hashes were kept) */
	const uint8_t *body_hash;
	size_t body_hash_len;
} kg_event_rec;

/* Returns 0 and the stored event (with its decision) or KG_ENOTFOUND. */
int kg_tx_event_get(kg_tx *tx, const char *account_id, const char *event_id,
		    kg_event_rec *out, kg_arena *a, kg_err *err);
/* KG_ECONFLICT if (account, event id) exists. */
int kg_tx_event_insert(kg_tx *tx, const kg_event_rec *ev, kg_err *err);
/* The stored decision of (account, event id), strings of known length:
 * 0 and *decision (NUL-terminated, in a; "{}" when none was stored) with
 * the event's *body_hash (in a; NULL and 0 when none was stored), or
 * KG_ENOTFOUND without a message (the cheap miss of an idempotency check). */
int kg_tx_event_decision(kg_tx *tx, const char *account_id, size_t account_len,
			 const char *event_id, size_t event_id_len, kg_arena *a,
			 const char **decision, size_t *decision_len, const uint8_t **body_hash,
			 size_t *body_hash_len, kg_err *err);
/* Events of an account, newest (ts_ms) first, at most limit (0: all). */
int kg_tx_event_list(kg_tx *tx, const char *account_id, size_t limit, kg_arena *a,
		     kg_event_rec **out, size_t *n, kg_err *err);
/* Calls cb for each event of account_id (NULL: all accounts) with
 * from_ms <= ts_ms < to_ms (to_ms 0: no end), in (ts_ms, account, id) order.
 * ev's strings live only during the callback. cb returns 0 to go on, or a
 * kg_code to stop, which is returned. */
typedef int (*kg_event_cb)(const kg_event_rec *ev, void *ctx);
int kg_tx_event_scan(kg_tx *tx, const char *account_id, int64_t from_ms,
		     int64_t to_ms, kg_event_cb cb, void *ctx, kg_err *err);

/* ---- features (per-account risk state, opaque blob) ----------------------*/
/* Returns 0 with *blob (arena; NULL if len 0) or KG_ENOTFOUND. */
int kg_tx_features_get(kg_tx *tx, const char *account_id, kg_arena *a,
		       const uint8_t **blob, size_t *len, int64_t *updated_ms,
		       kg_err *err);
/* Inserts or replaces. */
int kg_tx_features_put(kg_tx *tx, const char *account_id, const void *blob,
		       size_t len, int64_t now_ms, kg_err *err);
/* kg_tx_features_put of a row the caller expects to be there (it read the
 * row, or wrote it in an earlier commit): the same row either way, but
 * SQLite updates it in one B-tree descent (the upsert's conflict probe,
 * then its update's seek, are two) and inserts it only if it was not. */
int kg_tx_features_replace(kg_tx *tx, const char *account_id, const void *blob,
			   size_t len, int64_t now_ms, kg_err *err);
/* In a write transaction of a shared store (kg_store_shared): locks the
 * account's feature row until the commit (made empty if it has none, so
 * that a new account is locked too) and gives its version, the row's
 * updated_ms as last committed (0: no state yet). A writer that holds the
 * lock and writes the row with a larger updated_ms moves the version:
 * docs/scaling.md ("Per-account serialisation"). KG_EINTERNAL on a store
 * with one writer (SQLite), whose writer serialises by itself. */
int kg_tx_features_lock(kg_tx *tx, const char *account_id, int64_t *version, kg_err *err);

/* ---- entity features (risk state per IP, device, card, address) ---------*/
/* The blob of entity (kind, key) - kind and key are the risk engine's
 * (a small number, a 64-bit hash of the entity's value: no raw IP, card
 * fingerprint or address is stored) - or KG_ENOTFOUND, without a message
 * in err (the miss of every entity met for the first time: a formatted
 * message each was ~2 % of a durable replay's deciding thread); *updated_ms
 * (NULL: not wanted) is its row's version as kg_tx_features_lock says. */
int kg_tx_entity_get(kg_tx *tx, int kind, uint64_t key, kg_arena *a, const uint8_t **blob,
		     size_t *len, int64_t *updated_ms, kg_err *err);
/* kg_tx_features_lock for the row of entity (kind, key). */
int kg_tx_entity_lock(kg_tx *tx, int kind, uint64_t key, int64_t *version, kg_err *err);
/* Many rows at once, in the order given (PostgreSQL: pipelined, one round
 * trip per few hundred rows): kg_tx_event_insert of each of n events,
 * stored[i] false where the event was already stored (no error for that);
 * kg_tx_features_lock of n accounts, kg_tx_entity_lock of n entities. */
int kg_tx_event_insert_many(kg_tx *tx, const kg_event_rec *evs, size_t n, bool *stored,
			    kg_err *err);
int kg_tx_features_lock_many(kg_tx *tx, const char *const *account_ids, size_t n,
			     int64_t *versions, kg_err *err);
int kg_tx_entity_lock_many(kg_tx *tx, const int *kinds, const uint64_t *keys, size_t n,
			   int64_t *versions, kg_err *err);
/* Inserts or replaces. */
int kg_tx_entity_put(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
		     int64_t now_ms, kg_err *err);
/* kg_tx_entity_put of a row the caller expects to be there, as
 * kg_tx_features_replace. */
int kg_tx_entity_replace(kg_tx *tx, int kind, uint64_t key, const void *blob, size_t len,
			 int64_t now_ms, kg_err *err);

/* ---- read-ahead: a batch's reads in one round trip -------------------------
 * The rows a batch of events is about to read one by one: the feature rows
 * of accounts, the stored decisions of (account, event id) pairs, the
 * entity rows. kg_tx_read_ahead reads them all at once (PostgreSQL: three
 * statements of arrays in two round trips) and keeps them with the read
 * transaction; kg_tx_features_get, kg_tx_event_decision and
 * kg_tx_entity_get of a key given then answer from what was read (found or
 * not) until the transaction ends. A read transaction only; a backend
 * whose reads are local (SQLite) does nothing, and kg_store_reads_remote
 * says whether collecting the keys pays. */
typedef struct kg_read_ahead {
	const char *const *accounts;   /* feature rows */
	size_t n_accounts;
	const char *const *ev_accounts; /* stored decisions: (account, id) */
	const size_t *ev_account_lens;
	const char *const *ev_ids;
	const size_t *ev_id_lens;
	size_t n_events;
	const int *ent_kinds;          /* entity rows */
	const uint64_t *ent_keys;
	size_t n_ents;
} kg_read_ahead;
int kg_tx_read_ahead(kg_tx *tx, const kg_read_ahead *ra, kg_err *err);
/* Whether a read costs a round trip to a server (kg_tx_read_ahead does
 * something): false for SQLite. */
bool kg_store_reads_remote(const kg_store *s);

/* ---- locks ----------------------------------------------------------------*/
typedef struct kg_lock {
	const char *account_id;
	const char *lock_id;      /* NULL on insert: a new id (not reported back) */
	const char *reason;       /* docs/api.md lock reasons */
	const char *kind;         /* "precaution" or "misuse" */
	const char *evidence;     /* JSON: rules fired, values */
	const char *state;        /* "active", "lifted", "expired"; NULL on insert: active */
	int64_t created_ms;       /* 0 on insert: now */
	int64_t expires_ms;       /* 0: no expiry */
	int64_t lifted_ms;
	const char *lifted_by;
	const char *lift_method;  /* "agent", "password_reset", "revert", "expiry" ... */
	const char *incident_id;
} kg_lock;

/* KG_ECONFLICT if the id exists; KG_EINVAL for a bad state. */
int kg_tx_lock_insert(kg_tx *tx, const kg_lock *l, kg_err *err);
int kg_tx_lock_get(kg_tx *tx, const char *account_id, const char *lock_id,
		   kg_lock *out, kg_arena *a, kg_err *err);
/* Active locks at now_ms (state active and not past expires_ms), oldest
 * first. */
int kg_tx_lock_list_active(kg_tx *tx, const char *account_id, int64_t now_ms,
			   kg_arena *a, kg_lock **out, size_t *n, kg_err *err);
/* Every lock of the account, newest first, at most limit (0: all). */
int kg_tx_lock_list(kg_tx *tx, const char *account_id, size_t limit,
		    kg_arena *a, kg_lock **out, size_t *n, kg_err *err);
/* Active → lifted. KG_ENOTFOUND; KG_ECONFLICT if it is not active. */
int kg_tx_lock_lift(kg_tx *tx, const char *account_id, const char *lock_id,
		    int64_t now_ms, const char *by, const char *method, kg_err *err);
/* Active locks (any account) whose expires_ms <= now_ms, soonest first, at
 * most limit (0: all): the ones to lift with a notice (account module). */
int kg_tx_lock_list_due(kg_tx *tx, int64_t now_ms, size_t limit, kg_arena *a, kg_lock **out,
			size_t *n, kg_err *err);
/* Marks every active lock with expires_ms <= now_ms expired; *n: how many. */
int kg_tx_lock_expire_due(kg_tx *tx, int64_t now_ms, size_t *n, kg_err *err);
/* Locks created at or after since_ms (any state, all accounts). */
int kg_tx_lock_count_since(kg_tx *tx, int64_t since_ms, int64_t *count, kg_err *err);
/* Sets incident_id on active locks created in [from_ms, to_ms) that have
 * none (an incident claims a wave); *n: how many. */
int kg_tx_lock_tag_incident(kg_tx *tx, const char *incident_id, int64_t from_ms,
			    int64_t to_ms, size_t *n, kg_err *err);
/* Active locks of one incident, all accounts. */
int kg_tx_lock_list_incident(kg_tx *tx, const char *incident_id, kg_arena *a,
			     kg_lock **out, size_t *n, kg_err *err);

/* Locks of every account created in [since_ms, now), newest first, in
 * state (NULL: any), at most limit (0: all): the operations view. */
int kg_tx_lock_list_recent(kg_tx *tx, const char *state, int64_t since_ms,
			   size_t limit, kg_arena *a, kg_lock **out, size_t *n,
			   kg_err *err);
/* Lock rate over time: counts[i] = locks created (any account, any state)
 * in [from_ms + i*bucket_ms, from_ms + (i+1)*bucket_ms), for i < nbuckets.
 * counts is the caller's array of nbuckets. */
int kg_tx_lock_counts(kg_tx *tx, int64_t from_ms, int64_t bucket_ms, size_t nbuckets,
		      int64_t *counts, kg_err *err);

/* ---- incidents (waves of wrong locks, S9) -----------------------------------*/
typedef struct kg_incident {
	const char *id;           /* NULL on insert: an error (the caller names it) */
	const char *kind;         /* "lock_wave", "manual", ... */
	const char *state;        /* "open", "contained", "reverted", "closed" */
	const char *summary;
	const char *detail;       /* JSON */
	int64_t started_ms;       /* when the wave began */
	int64_t detected_ms;      /* 0: not yet */
	int64_t resolved_ms;      /* 0: not yet */
	const char *resolved_by;
	int64_t created_ms;       /* 0 on insert: now */
	int64_t updated_ms;       /* 0 on insert/update: now */
} kg_incident;

/* KG_ECONFLICT if the id exists; KG_EINVAL for a missing field. */
int kg_tx_incident_insert(kg_tx *tx, const kg_incident *inc, kg_err *err);
int kg_tx_incident_get(kg_tx *tx, const char *id, kg_incident *out, kg_arena *a,
		       kg_err *err);
/* Replaces state, summary, detail, detected_ms, resolved_ms, resolved_by
 * and updated_ms of incident inc->id. KG_ENOTFOUND. */
int kg_tx_incident_update(kg_tx *tx, const kg_incident *inc, kg_err *err);
/* Newest first (started_ms), in state (NULL: any), at most limit (0: all). */
int kg_tx_incident_list(kg_tx *tx, const char *state, size_t limit, kg_arena *a,
			kg_incident **out, size_t *n, kg_err *err);

/* ---- guard rows (the lock-wave breaker, src/guard) -------------------------
 * Rows keyed by (kind, key) that src/guard keeps: the breaker's state and
 * per-minute buckets, the index of automatic locks by rule and event time,
 * breaker holds, policy versions, revert progress. They are written in the
 * transaction of the lock they count, so every node of a PostgreSQL store
 * counts the same. Keys order as byte strings (guard pads numbers). */
typedef struct kg_guard_row {
	const char *kind, *key;
	const char *value;        /* text (JSON or a compact form); NULL: none */
	int64_t n;                /* a count */
	int64_t ts_ms;            /* a time the row is about */
} kg_guard_row;

/* KG_ENOTFOUND (err untouched) when there is no row. In a write
 * transaction on PostgreSQL the row stays locked until the commit. */
int kg_tx_guard_get(kg_tx *tx, const char *kind, const char *key, kg_guard_row *out,
		    kg_arena *a, kg_err *err);
/* Inserts or replaces the row. */
int kg_tx_guard_put(kg_tx *tx, const kg_guard_row *row, kg_err *err);
/* Adds delta to n of (kind, key), creating the row (n = delta, ts_ms) if
 * missing, and locks it for the rest of the transaction; *n_out (may be
 * NULL) gets the new n. */
int kg_tx_guard_add(kg_tx *tx, const char *kind, const char *key, int64_t delta,
		    int64_t ts_ms, int64_t *n_out, kg_err *err);
/* Rows of kind with from_key <= key < to_key, in key order, at most limit
 * (0: all). */
int kg_tx_guard_list(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		     size_t limit, kg_arena *a, kg_guard_row **out, size_t *n, kg_err *err);
/* Deletes rows of kind with from_key <= key < to_key; *n (may be NULL): how many. */
int kg_tx_guard_delete(kg_tx *tx, const char *kind, const char *from_key, const char *to_key,
		       size_t *n, kg_err *err);

/* ---- audit (append-only, hash-chained per account) ------------------------
 * Each account (and "" for system-wide entries) has its own chain: entry
 * hash = BLAKE2b-256(prev_hash || canonical(entry)), the first entry's
 * prev_hash is 32 zero bytes. The store computes it; callers only append. */
#define KG_AUDIT_HASH_BYTES 32
typedef struct kg_audit_entry {
	const char *account_id;   /* "" for system-wide */
	int64_t seq;              /* 1, 2, ... per account; set by append */
	int64_t ts_ms;            /* 0 on append: now */
	const char *actor;        /* "system", "agent:<id>", "customer", ... */
	const char *action;       /* "lock", "unlock", "password_change", ... */
	const char *detail;       /* JSON */
	uint8_t prev_hash[KG_AUDIT_HASH_BYTES];
	uint8_t hash[KG_AUDIT_HASH_BYTES];
} kg_audit_entry;

/* Appends e (account_id, ts_ms, actor, action, detail are read); returns
 * its seq in *seq_out (may be NULL). */
int kg_tx_audit_append(kg_tx *tx, const kg_audit_entry *e, int64_t *seq_out,
		       kg_err *err);
/* Entries of account_id with seq > after_seq, ascending, at most limit
 * (0: all). */
int kg_tx_audit_list(kg_tx *tx, const char *account_id, int64_t after_seq,
		     size_t limit, kg_arena *a, kg_audit_entry **out, size_t *n,
		     kg_err *err);

typedef struct kg_audit_report {
	int64_t accounts;   /* chains checked */
	int64_t entries;    /* entries checked */
	int64_t altered;    /* entries whose content does not match their hash */
	int64_t inserted;   /* entries that do not chain onto their predecessor */
	int64_t removed;    /* entries missing (seq gaps, truncated tail) */
} kg_audit_report;

/* Called once per problem found; kind: "altered", "inserted", "removed". */
typedef void (*kg_audit_problem_cb)(void *ctx, const char *account_id,
				    int64_t seq, const char *kind,
				    const char *detail);

/* Verifies the chain of account_id (NULL: every chain). Returns 0 when the
 * check ran (then rep says what it found; all zero counts = intact) or a
 * storage error. cb may be NULL. */
int kg_store_audit_verify(kg_store *s, const char *account_id,
			  kg_audit_report *rep, kg_audit_problem_cb cb, void *ctx,
			  kg_err *err);
/* Every entry of account_id's chain ("" the system-wide one), oldest first,
 * in a: one read. */
int kg_store_audit_list(kg_store *s, const char *account_id, kg_arena *a,
			kg_audit_entry **out, size_t *n, kg_err *err);

/* ---- message center ------------------------------------------------------*/
typedef struct kg_message {
	const char *account_id;
	const char *id;           /* NULL on insert: a new id (not reported back) */
	const char *kind;         /* "lock_notice", "unlock_notice", "code", ... */
	const char *lang;
	const char *subject;
	const char *body_text;
	const char *body_html;    /* may be NULL */
	const char *message_id;   /* RFC 5322 Message-ID of the mail sent, unique */
	const char *fingerprint;  /* content fingerprint (mail module) */
	int64_t created_ms;       /* 0 on insert: now */
} kg_message;

/* KG_ECONFLICT if the id or Message-ID exists. */
int kg_tx_message_insert(kg_tx *tx, const kg_message *m, kg_err *err);
/* Messages of an account, newest first, at most limit (0: all). */
int kg_tx_message_list(kg_tx *tx, const char *account_id, size_t limit,
		       kg_arena *a, kg_message **out, size_t *n, kg_err *err);
int kg_tx_message_get(kg_tx *tx, const char *account_id, const char *id,
		      kg_message *out, kg_arena *a, kg_err *err);
/* By Message-ID (angle brackets as stored), any account. KG_ENOTFOUND. */
int kg_tx_message_find_by_message_id(kg_tx *tx, const char *message_id,
				     kg_message *out, kg_arena *a, kg_err *err);
/* Newest message with this fingerprint, in account_id (NULL: any account).
 * KG_ENOTFOUND. */
int kg_tx_message_find_by_fingerprint(kg_tx *tx, const char *account_id,
				      const char *fingerprint, kg_message *out,
				      kg_arena *a, kg_err *err);

/* ---- the delivery queue: mail (outbox) and webhooks ------------------------
 * One durable queue mechanism with two kinds: KG_QUEUE_MAIL, whose rows are
 * kg_outbox (table outbox), and KG_QUEUE_WEBHOOK, whose rows are kg_webhook
 * (table webhooks). Both have the same life: inserted pending and due,
 * claimed, then delivered, or failed and due again later, or given up
 * (failed); an operator may retry one that is not delivered. Claiming does
 * not change the state: it pushes next_attempt_ms forward by a lease and
 * counts the attempt, so a crash mid-delivery retries later. The typed
 * kg_tx_outbox_* / kg_tx_webhook_* calls below are these operations for
 * one kind; kg_tx_queue_* take the kind, for code that handles both. */
enum kg_queue_kind {
	KG_QUEUE_MAIL = 0,
	KG_QUEUE_WEBHOOK = 1,
};

/* A claimed pending entry was delivered at now_ms (0: now). KG_ENOTFOUND;
 * KG_ECONFLICT when it is not pending (delivered meanwhile elsewhere). */
int kg_tx_queue_mark_delivered(kg_tx *tx, enum kg_queue_kind kind, const char *account_id,
			       const char *id, int64_t now_ms, kg_err *err);
/* A delivery failed with error: due again at retry_at_ms, or given up
 * (state failed) when retry_at_ms is 0. Errors as mark_delivered. */
int kg_tx_queue_mark_failed(kg_tx *tx, enum kg_queue_kind kind, const char *account_id,
			    const char *id, int64_t retry_at_ms, const char *error, kg_err *err);
/* Makes a pending or failed entry (any account, by id) due at now_ms (0:
 * now) with attempts reset. KG_ENOTFOUND; KG_ECONFLICT when delivered. */
int kg_tx_queue_retry(kg_tx *tx, enum kg_queue_kind kind, const char *id, int64_t now_ms,
		      kg_err *err);

typedef struct kg_outbox {
	const char *account_id;
	const char *id;           /* NULL on insert: a new id (not reported back) */
	const char *message_id;   /* Message-ID of the mail */
	const char *rcpt;
	const char *subject;
	const char *mime;         /* the full message (headers + body) */
	size_t mime_len;          /* 0 on insert: strlen(mime) */
	const char *state;        /* "pending", "delivered", "failed" */
	int64_t attempts;
	int64_t next_attempt_ms;  /* 0 on insert: now */
	int64_t delivered_ms;
	const char *last_error;
	int64_t created_ms;       /* 0 on insert: now */
} kg_outbox;

int kg_tx_outbox_insert(kg_tx *tx, const kg_outbox *o, kg_err *err);
int kg_tx_outbox_get(kg_tx *tx, const char *account_id, const char *id,
		     kg_outbox *out, kg_arena *a, kg_err *err);
/* Pending entries due at now_ms, oldest due first, at most limit: counts an
 * attempt and sets next_attempt_ms = now_ms + lease_ms on each. Write tx. */
int kg_tx_outbox_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms,
			   size_t limit, kg_arena *a, kg_outbox **out, size_t *n,
			   kg_err *err);
int kg_tx_outbox_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				int64_t now_ms, kg_err *err);
/* retry_at_ms 0: give up (state failed); else stays pending until then. */
int kg_tx_outbox_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			     int64_t retry_at_ms, const char *error, kg_err *err);
/* Entries of an account (any state), newest first, at most limit (0: all). */
int kg_tx_outbox_list(kg_tx *tx, const char *account_id, size_t limit,
		      kg_arena *a, kg_outbox **out, size_t *n, kg_err *err);

typedef struct kg_webhook {
	const char *account_id;   /* "" when not about one account */
	const char *id;           /* NULL on insert: a new id */
	const char *event;        /* "lock.created", ... */
	const char *url;
	const char *body;         /* JSON */
	const char *state;        /* "pending", "delivered", "failed" */
	int64_t attempts;
	int64_t next_attempt_ms;
	int64_t delivered_ms;
	const char *last_error;
	int64_t created_ms;
} kg_webhook;

int kg_tx_webhook_insert(kg_tx *tx, const kg_webhook *w, kg_err *err);
int kg_tx_webhook_claim_due(kg_tx *tx, int64_t now_ms, int64_t lease_ms,
			    size_t limit, kg_arena *a, kg_webhook **out, size_t *n,
			    kg_err *err);
int kg_tx_webhook_mark_delivered(kg_tx *tx, const char *account_id, const char *id,
				 int64_t now_ms, kg_err *err);
int kg_tx_webhook_mark_failed(kg_tx *tx, const char *account_id, const char *id,
			      int64_t retry_at_ms, const char *error, kg_err *err);

/* ---- queues: operator views (notify) -------------------------------------
 * For `kagi outbox|webhooks list/show/retry`: across accounts, by id. */
/* By id alone (any account). KG_ENOTFOUND. */
int kg_tx_outbox_find(kg_tx *tx, const char *id, kg_outbox *out, kg_arena *a, kg_err *err);
/* Newest first; state and account_id NULL: any; limit 0: all. */
int kg_tx_outbox_list_all(kg_tx *tx, const char *state, const char *account_id, size_t limit,
			  kg_arena *a, kg_outbox **out, size_t *n, kg_err *err);
/* Makes a pending or failed entry due at now_ms with attempts reset.
 * KG_ENOTFOUND; KG_ECONFLICT when it was already delivered. */
int kg_tx_outbox_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err);
int kg_tx_webhook_find(kg_tx *tx, const char *id, kg_webhook *out, kg_arena *a, kg_err *err);
int kg_tx_webhook_list_all(kg_tx *tx, const char *state, const char *account_id,
			   size_t limit, kg_arena *a, kg_webhook **out, size_t *n, kg_err *err);
int kg_tx_webhook_retry(kg_tx *tx, const char *id, int64_t now_ms, kg_err *err);
/* Row counts for /metrics: ("lock", reason) for every lock ever written
 * (any state), ("outbox", state) and ("webhooks", state). */
typedef struct kg_store_count {
	const char *what, *key;
	int64_t n;
} kg_store_count;
int kg_tx_store_counts(kg_tx *tx, kg_arena *a, kg_store_count **out, size_t *n, kg_err *err);

/* ---- lists (named value lists for rules) ----------------------------------*/
int kg_tx_list_add(kg_tx *tx, const char *name, const char *value, kg_err *err);
/* KG_ENOTFOUND if absent. */
int kg_tx_list_remove(kg_tx *tx, const char *name, const char *value, kg_err *err);
int kg_tx_list_contains(kg_tx *tx, const char *name, const char *value,
			bool *found, kg_err *err);
/* Values of a list, sorted: *out is an arena array of *n strings. */
int kg_tx_list_values(kg_tx *tx, const char *name, kg_arena *a,
		      const char ***out, size_t *n, kg_err *err);

/* ---- keys (listing credentials, for operators) -------------------------------*/
/* API keys (roles service, agent, admin; no customer tokens or tickets),
 * newest first, at most limit (0: all), revoked ones included. */
int kg_tx_credential_list_keys(kg_tx *tx, size_t limit, kg_arena *a,
			       kg_credential **out, size_t *n, kg_err *err);

/* ---- (other domains: cases, codes, counters, identity checks, incidents) --
 * Their tables exist in schema v1 (see src/store/sqlite_schema.c); their
 * operations are added below by their modules, following the recipe at
 * the top of this file. */

/* ---- cases (support cases, their history and documents) -------------------
 * States: "open", "waiting_on_customer", "in_review", "resolved". A case id
 * is unique over all accounts (kg_store_new_id). */
typedef struct kg_case {
	const char *account_id;
	const char *case_id;
	const char *state;
	const char *subject;
	const char *body;        /* the customer's first text */
	const char *contact;     /* who opened it: "ticket", "customer", "agent:<id>" */
	const char *lock_id;     /* the lock it is about; NULL */
	const char *assignee;    /* credential id of the agent; NULL */
	int64_t created_ms;      /* 0 on insert: now */
	int64_t updated_ms;      /* 0 on insert: now */
} kg_case;

typedef struct kg_case_event {
	int64_t seq;             /* 1, 2, ... per case; set by append */
	int64_t ts_ms;           /* 0 on append: now */
	const char *actor;
	const char *state;       /* the state after this event; NULL: unchanged */
	const char *note;
} kg_case_event;

typedef struct kg_case_document {
	const char *account_id;
	const char *case_id;
	const char *doc_id;      /* NULL on add: a new id (not reported back) */
	const char *name;
	const char *content_type;
	uint8_t sha256[32];
	const uint8_t *bytes;    /* NULL in lists */
	size_t len;
	int64_t created_ms;      /* 0 on add: now */
} kg_case_document;

/* KG_ECONFLICT if the case id exists. */
int kg_tx_case_insert(kg_tx *tx, const kg_case *c, kg_err *err);
/* By case id alone (any account). KG_ENOTFOUND. */
int kg_tx_case_get(kg_tx *tx, const char *case_id, kg_case *out, kg_arena *a,
		   kg_err *err);
/* Sets state (NULL: unchanged) and assignee (NULL: unchanged), updated_ms.
 * KG_ENOTFOUND. */
int kg_tx_case_update(kg_tx *tx, const char *account_id, const char *case_id,
		      const char *state, const char *assignee, int64_t now_ms,
		      kg_err *err);
/* Cases of account_id (NULL: all) in state (NULL: any), oldest first, at
 * most limit (0: all). */
int kg_tx_case_list(kg_tx *tx, const char *account_id, const char *state,
		    size_t limit, kg_arena *a, kg_case **out, size_t *n, kg_err *err);
/* Appends to the history; *seq_out (may be NULL) gets its seq. */
int kg_tx_case_history_append(kg_tx *tx, const char *account_id, const char *case_id,
			      const kg_case_event *ev, int64_t *seq_out, kg_err *err);
/* The whole history, oldest first. */
int kg_tx_case_history_list(kg_tx *tx, const char *account_id, const char *case_id,
			    kg_arena *a, kg_case_event **out, size_t *n, kg_err *err);
int kg_tx_case_document_add(kg_tx *tx, const kg_case_document *d, kg_err *err);
/* Documents without their bytes (len is set), oldest first. */
int kg_tx_case_document_list(kg_tx *tx, const char *account_id, const char *case_id,
			     kg_arena *a, kg_case_document **out, size_t *n,
			     kg_err *err);
/* One document with its bytes (in a). KG_ENOTFOUND. */
int kg_tx_case_document_get(kg_tx *tx, const char *account_id, const char *case_id,
			    const char *doc_id, kg_case_document *out, kg_arena *a, kg_err *err);
/* 1-based position of case_id among the cases waiting for staff (states open
 * and in_review, oldest first); 0 when it is not waiting for staff. */
int kg_tx_case_queue_position(kg_tx *tx, const char *account_id, const char *case_id,
			      int64_t *pos, kg_err *err);
/* Mean time from opening to resolution of the last `limit` resolved cases
 * (*n of them; *mean_ms 0 when none). */
int kg_tx_case_handling_time(kg_tx *tx, size_t limit, int64_t *mean_ms, size_t *n,
			     kg_err *err);

/* ---- checks: one-time codes, failure counters, identity-check state -------*/
typedef struct kg_code_rec {
	const char *account_id;
	const char *purpose;      /* "password_reset", ... */
	const char *code_hash;    /* Argon2id string; never the code */
	int64_t expires_ms;
	int64_t attempts_left;
	int64_t created_ms;       /* 0 on put: now */
} kg_code_rec;

/* Inserts or replaces the code of (account, purpose). */
int kg_tx_code_put(kg_tx *tx, const kg_code_rec *c, kg_err *err);
/* KG_ENOTFOUND. */
int kg_tx_code_get(kg_tx *tx, const char *account_id, const char *purpose,
		   kg_code_rec *out, kg_arena *a, kg_err *err);
int kg_tx_code_set_attempts(kg_tx *tx, const char *account_id, const char *purpose,
			    int64_t attempts_left, kg_err *err);
/* Deleting a missing code is not an error. */
int kg_tx_code_delete(kg_tx *tx, const char *account_id, const char *purpose,
		      kg_err *err);

/* Fixed-window counters: a counter older than window_ms starts again at 0.
 * account_id may be any key (also a pseudo id for an unknown account). */
int kg_tx_counter_hit(kg_tx *tx, const char *account_id, const char *kind,
		      const char *key, int64_t window_ms, int64_t now_ms,
		      int64_t *count_out, kg_err *err);
/* The current count (0 when none or the window has passed). */
int kg_tx_counter_get(kg_tx *tx, const char *account_id, const char *kind,
		      const char *key, int64_t window_ms, int64_t now_ms,
		      int64_t *count_out, kg_err *err);
int kg_tx_counter_reset(kg_tx *tx, const char *account_id, const char *kind,
			const char *key, kg_err *err);
/* One counter row as stored, for limits that keep their own window rules
 * (a reservation taken before a slow check, a quiet period since the last
 * failure): all 0 when there is no row. */
typedef struct kg_counter_row {
	int64_t count;
	int64_t window_start_ms;
	int64_t updated_ms;
} kg_counter_row;
int kg_tx_counter_read(kg_tx *tx, const char *account_id, const char *kind,
		       const char *key, kg_counter_row *out, kg_err *err);
/* Inserts or replaces the row (a count of 0 deletes it). */
int kg_tx_counter_put(kg_tx *tx, const char *account_id, const char *kind,
		      const char *key, const kg_counter_row *row, kg_err *err);

typedef struct kg_identity_state {
	const char *account_id;
	int64_t failures;
	int64_t blocked_until_ms;  /* 0: not blocked */
	const char *passed_by;     /* credential id of the agent who passed; NULL */
	int64_t pass_until_ms;
	int64_t updated_ms;        /* 0 on put: now */
} kg_identity_state;

/* KG_ENOTFOUND when the account has no identity-check state yet. */
int kg_tx_identity_get(kg_tx *tx, const char *account_id, kg_identity_state *out,
		       kg_arena *a, kg_err *err);
/* Inserts or replaces. */
int kg_tx_identity_put(kg_tx *tx, const kg_identity_state *st, kg_err *err);

#endif
