/* kagi base: errors, growable buffers, arenas, time, logs, config.
 * Everything here is self-contained and free of policy; other modules build
 * on it. Not here: anything that knows about accounts, events or storage. */
#ifndef KG_BASE_H
#define KG_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"

#define KG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define KG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ------------------------------------------------------------
 * 0 is success; failures are negative kg_code values. Functions that can
 * fail take a kg_err * (may be NULL) and fill it with the code, a message
 * and, where known, the JSON field path or file:line:column. */
enum kg_code {
	KG_OK = 0,
	KG_EINVAL = -1,     /* bad input from the caller */
	KG_ENOMEM = -2,
	KG_ELIMIT = -3,     /* a size limit of limits.h was hit */
	KG_ENOTFOUND = -4,
	KG_ECONFLICT = -5,  /* already exists / state does not allow it */
	KG_EIO = -6,        /* storage or network failure */
	KG_EAUTH = -7,      /* missing or bad credentials */
	KG_EFORBIDDEN = -8, /* authenticated, but the role may not */
	KG_EINTERNAL = -9,
	KG_EBUSY = -10,     /* temporarily refused (overloaded, closing) */
	KG_EFULL = -11,     /* storage full */
	KG_ETHROTTLED = -12, /* too many attempts by this caller: retry later */
};

typedef struct kg_err {
	int code;
	char msg[KG_ERR_MSG_MAX];
	char field[KG_ERR_FIELD_MAX]; /* JSON path, e.g. "items[2].price" */
	char file[KG_ERR_FILE_MAX];   /* source file of a parse error */
	int line, col;                /* 1-based; 0 when unknown */
} kg_err;

/* Clears *e (no-op on NULL). */
void kg_err_clear(kg_err *e);
/* Sets code and message; returns code so callers can `return kg_err_set(...)`. */
int kg_err_set(kg_err *e, int code, const char *fmt, ...) KG_PRINTF(3, 4);
/* As kg_err_set, naming the input field at fault. */
int kg_err_field(kg_err *e, int code, const char *field, const char *fmt, ...)
	KG_PRINTF(4, 5);
/* As kg_err_set, naming file, line and column (col 0: unknown). */
int kg_err_at(kg_err *e, int code, const char *file, int line, int col,
	      const char *fmt, ...) KG_PRINTF(6, 7);
/* A JSON syntax error, in the one form of every JSON parser of kagi:
 * KG_EINVAL, message "invalid JSON at line L, column C (byte B): WHAT",
 * line and col set, no file or field. line and col are 1-based (col counts
 * characters), byte is the 0-based offset where the parser stopped. */
int kg_err_json(kg_err *e, int line, int col, long byte, const char *what);
/* Stable lower-case name of a code ("invalid", "not_found", ...). */
const char *kg_code_name(int code);
/* Writes "file:line:col: msg" or "field \"f\": msg" or "msg" into out;
 * returns out. */
char *kg_err_format(const kg_err *e, char *out, size_t out_size);

/* ---- growable buffer ---------------------------------------------------
 * data is NUL-terminated whenever it is non-NULL. Appends beyond max fail
 * with KG_ELIMIT and leave the buffer as it was. */
typedef struct kg_buf {
	char *data;
	size_t len, cap, max;
} kg_buf;

#define KG_BUF_INIT(max_bytes) {NULL, 0, 0, (max_bytes)}
void kg_buf_init(kg_buf *b, size_t max_bytes);
void kg_buf_release(kg_buf *b);
void kg_buf_reset(kg_buf *b); /* len = 0, keeps memory */
int kg_buf_append(kg_buf *b, const void *data, size_t len);
/* Makes room for more bytes after len (and the NUL) without changing len
 * or the contents, for a caller that writes them in place (fread into
 * data + len, then len += what it wrote, data[len] = '\0'). 0, KG_ELIMIT
 * (beyond max) or KG_ENOMEM. */
int kg_buf_reserve(kg_buf *b, size_t more);
int kg_buf_puts(kg_buf *b, const char *s);
int kg_buf_putc(kg_buf *b, char c);
int kg_buf_printf(kg_buf *b, const char *fmt, ...) KG_PRINTF(2, 3);
int kg_buf_vprintf(kg_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
int kg_buf_json_str(kg_buf *b, const char *s, size_t len);
/* Hands the memory to the caller (free()); the buffer is empty after. */
char *kg_buf_detach(kg_buf *b, size_t *len_out);

/* ---- arena -------------------------------------------------------------
 * Bump allocator for one request or one analysed message; everything is
 * freed at once by kg_arena_release. Allocation failure aborts: an arena
 * is only used below its caller's size limits. */
typedef struct kg_arena_chunk kg_arena_chunk;
typedef struct kg_arena {
	kg_arena_chunk *head;
	size_t chunk_bytes;
	size_t total_bytes;
	kg_arena_chunk *spare; /* emptied chunks kg_arena_rewind kept */
} kg_arena;

void kg_arena_init(kg_arena *a, size_t chunk_bytes);
void kg_arena_release(kg_arena *a);
/* Empties a for reuse, keeping its newest chunk (a loop's per-item arena). */
void kg_arena_reset(kg_arena *a);
/* Empties a for reuse, keeping all its chunks: the next allocations fill
 * them again before any new one is made (a per-batch arena that holds
 * megabytes: no malloc, free or fresh pages each batch). */
void kg_arena_rewind(kg_arena *a);
void *kg_arena_alloc(kg_arena *a, size_t n);   /* 16-byte aligned, zeroed */
char *kg_arena_strndup(kg_arena *a, const char *s, size_t n);
char *kg_arena_strdup(kg_arena *a, const char *s);
char *kg_arena_printf(kg_arena *a, const char *fmt, ...) KG_PRINTF(2, 3);

/* ---- progress of a long command ------------------------------------------
 * A line on stderr, rewritten in place at most once a second ("replay:
 * 120000 events, 15210 events/s"), and a last one when the work ends; only
 * when stderr is a terminal, never on a pipe or file. */
typedef struct kg_progress {
	bool on;           /* stderr is a terminal */
	const char *what;  /* "replay" */
	uint64_t start_ns, next_ns;
	uint64_t check_at; /* the count at which the clock is read next */
	size_t width;      /* of the last line printed, to clear it */
} kg_progress;
void kg_progress_start(kg_progress *p, const char *what);
/* done: events so far; cheap enough to call for every event. */
void kg_progress_update(kg_progress *p, uint64_t done);
/* Prints the final count, rate and time, and ends the line. */
void kg_progress_end(kg_progress *p, uint64_t done);

/* ---- time --------------------------------------------------------------
 * kagi keeps time as milliseconds since the Unix epoch, UTC. */
#define KG_TIME_STR_MAX 32
int64_t kg_now_ms(void);
uint64_t kg_mono_ns(void);
/* Parses RFC 3339 ("2026-11-28T10:00:00Z", "...T10:00:00.123+09:00").
 * Returns 0 or KG_EINVAL. */
int kg_time_parse(const char *s, size_t len, int64_t *ms_out);
/* Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ"; returns out. */
char *kg_time_format(int64_t ms, char out[KG_TIME_STR_MAX]);
/* kg_time_format of ms into out, which holds the text of *prev_ms
 * (INT64_MIN at first: nothing yet): a time in the second of the one
 * before rewrites only its milliseconds. Sets *prev_ms; returns out. */
char *kg_time_format_next(int64_t ms, int64_t *prev_ms, char out[KG_TIME_STR_MAX]);
/* Calendar year (UTC) of a time. */
int kg_time_year(int64_t ms);

/* ---- logs --------------------------------------------------------------
 * One JSON object per line on stderr:
 * {"ts":"...","level":"info","component":"http","msg":"..."} */
enum kg_log_level { KG_LOG_DEBUG, KG_LOG_INFO, KG_LOG_WARN, KG_LOG_ERROR, KG_LOG_OFF };
void kg_log_set_level(enum kg_log_level level);
enum kg_log_level kg_log_get_level(void);
/* Returns 0 and sets *out, or KG_EINVAL for an unknown name. */
int kg_log_level_parse(const char *name, enum kg_log_level *out);
void kg_log(enum kg_log_level level, const char *component, const char *fmt, ...)
	KG_PRINTF(3, 4);

/* ---- small helpers -----------------------------------------------------*/
/* Strict decimal parse of the whole string; KG_EINVAL on junk or overflow. */
int kg_parse_i64(const char *s, int64_t *out);
/* Reads a whole file, at most max_bytes (KG_ELIMIT beyond). Caller frees. */
int kg_read_file(const char *path, size_t max_bytes, char **data_out,
		 size_t *len_out, kg_err *err);
/* Constant-time equality of two byte strings of the same length. */
bool kg_ct_equal(const void *a, const void *b, size_t len);
/* Fills buf with cryptographically random bytes (libsodium). */
void kg_random_bytes(void *buf, size_t len);
/* Lower-case hex of data into out (2*len+1 bytes); returns out. */
char *kg_hex(const void *data, size_t len, char *out);
/* ---- vocabulary (vocab.c) ----------------------------------------------
 * The one table of lock reasons and of how a lock ends, shared by the rule
 * language (risk), the lock state machine (account) and the notices (notify). */
enum kg_lock_reason {
	KG_LOCK_SYSTEM_ERROR,
	KG_LOCK_GIFT_CARD,
	KG_LOCK_RETURN_ABUSE,
	KG_LOCK_PAYMENT_FRAUD,
	KG_LOCK_COMPROMISED,
	KG_LOCK_BRUTE_FORCE, /* temporary: expires by itself */
	KG_LOCK_MISUSE,      /* only support lifts it */
	KG_LOCK_MANUAL,
	KG_LOCK_REASON_COUNT
};

/* How a lock ends. */
enum kg_lift_method {
	KG_LIFT_SUPPORT,        /* an agent, after a passed identity check */
	KG_LIFT_ADMIN,          /* an admin, with a written reason */
	KG_LIFT_PASSWORD_RESET, /* the customer, through password reset */
	KG_LIFT_EXPIRY,         /* a temporary lock ran out */
	KG_LIFT_REVERT,         /* bulk revert of a wave of wrong locks (guard) */
	KG_LIFT_METHOD_COUNT
};

/* Stable names ("gift_card", "password_reset", ...); NULL when out of range. */
const char *kg_lock_reason_name(enum kg_lock_reason r);
const char *kg_lift_method_name(enum kg_lift_method m);
/* Parse a name; 0 or KG_EINVAL. kg_lock_reason_parse_n takes a counted one. */
int kg_lock_reason_parse(const char *name, enum kg_lock_reason *out);
int kg_lock_reason_parse_n(const char *name, size_t len, enum kg_lock_reason *out);
int kg_lift_method_parse(const char *name, enum kg_lift_method *out);
/* The word an unlock notice uses for the method (its `method` field and the
 * unlock.<word> keys of texts.txt, docs/templates.md): identity_check,
 * support, password_reset, expired, incident_revert; NULL out of range. */
const char *kg_lift_method_notice_word(enum kg_lift_method m);

/* ---- sealing at rest (seal.c) ------------------------------------------
 * The one format of every value kagi stores sealed with account.secret_key
 * (64 hex chars): "KGSEAL1\0" || nonce || libsodium secretbox. */
#define KG_SEAL_KEY_BYTES 32
/* The key from its hex; KG_ECONFLICT when unset, KG_EINVAL when malformed. */
int kg_seal_key_load(const char *key_hex, unsigned char key[KG_SEAL_KEY_BYTES], kg_err *err);
/* True when data starts with the KGSEAL1 header. */
bool kg_is_sealed(const void *data, size_t len);
/* Appends the sealed form of data to out. */
int kg_seal(const char *key_hex, const void *data, size_t len, kg_buf *out, kg_err *err);
/* Appends the plain form of a sealed value to out (NUL-terminated by kg_buf).
 * KG_EINVAL when data is not KGSEAL1 or truncated, KG_EAUTH when the key does
 * not open it, KG_ECONFLICT/KG_EINVAL for a missing/bad key. */
int kg_unseal(const char *key_hex, const void *data, size_t len, kg_buf *out, kg_err *err);

/* ---- text and address equality (text.c) ----------------------------------
 * The one meaning of "the same name" and "the same address": the rules'
 * same() and address entity, and the identity check, all call these
 * (docs/rules.md, "Normalised comparison"; tests/data/normalize/cases.tsv). */

/* A string inside a larger text, not NUL-terminated. */
typedef struct kg_str {
	const char *p;
	uint32_t n;
} kg_str;

/* The parts of a postal address as given (an event's, or a registered one). */
typedef struct kg_addr_text {
	kg_str postal_code, region, city, line1, line2, country;
} kg_addr_text;

/* Appends the normal form of a name or other text to out: NFKC with case
 * folding (ICU; full/half width, ＴＡＲＯ = taro), dash and hyphen variants as
 * '-', runs of white space (U+3000 too) as one space, trimmed. Returns 0,
 * KG_ELIMIT (non-ASCII text over KG_EVENT_BYTES_MAX, or out full), KG_EINVAL
 * or KG_ENOMEM. */
int kg_text_normalize(const char *s, size_t len, kg_buf *out);
/* True when a and b have the same normal form (compared in full, in time
 * that does not depend on where they differ). */
bool kg_text_same(const char *a, size_t an, const char *b, size_t bn);
/* Appends the key of an address to out: the digits of its postal code,
 * U+001F, then region, city, line 1 and line 2 normalised and run together
 * with spaces, punctuation (, . # 、 。 ・) and Japanese block marks (丁目
 * 番地 番 号 号室, の between numbers) dropped, or written as one '-' where
 * they stand between two numbers; kanji block numbers before a mark as
 * digits (一丁目 = 1丁目), ヶ as ケ. The country is not part of it. Two
 * addresses are the same exactly when their keys are equal. */
int kg_address_key(const kg_addr_text *a, kg_buf *out);
/* True when a and b have the same key (both computed in full). */
bool kg_address_same(const kg_addr_text *a, const kg_addr_text *b);

/* Length (2 to 4) of the well-formed UTF-8 sequence at s, whose first byte
 * is >= 0x80, ending before e; 0 when it is not well formed (RFC 3629: no
 * overlongs, surrogates or code points above U+10FFFF). The one UTF-8
 * validator: kg_utf8_valid_prefix and the event parser's hot path use it
 * (inline, with its fast path for the common three-byte CJK sequences). */
static inline int kg_utf8_seq(const unsigned char *s, const unsigned char *e)
{
	unsigned char ch = *s;
	/* most of CJK: three bytes led by E1..EC or EE..EF (no further rule) */
	if (ch >= 0xe1 && ch <= 0xef && ch != 0xed && e - s > 2 &&
	    (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80)
		return 3;
	int n = ch >= 0xf0 && ch <= 0xf4 ? 3 : ch >= 0xe0 ? (ch < 0xf0 ? 2 : -1)
		: ch >= 0xc2 ? 1 : -1;
	if (n < 0 || e - s <= n)
		return 0;
	for (int k = 1; k <= n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && ((ch == 0xe0 && s[1] < 0xa0) || (ch == 0xed && s[1] >= 0xa0)))
		return 0;
	if (n == 3 && ((ch == 0xf0 && s[1] < 0x90) || (ch == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n + 1;
}
/* Bytes of the first character of the NUL-terminated s: its well-formed
 * sequence, else 1 (a stray byte); 0 for "". For masking to one character. */
size_t kg_utf8_first_len(const char *s);
/* Length of the longest well-formed UTF-8 prefix of s (RFC 3629: no
 * overlongs, surrogates or code points above U+10FFFF); len when all of s
 * is valid. */
size_t kg_utf8_valid_prefix(const char *s, size_t len);
/* 0 when s is valid UTF-8, else KG_EINVAL with err at file:line:col of the
 * first bad byte ("invalid UTF-8 (byte 0xff)"). For text files that end up
 * in JSON, notices or mail. */
int kg_utf8_check(const char *s, size_t len, const char *file, kg_err *err);

/* ---- config ------------------------------------------------------------
 * The config file is lines of `key = value`; `#` starts a comment; blank
 * lines are ignored. Every key has a default (docs/configuration.md lists
 * them), and KAGI_<KEY> in the environment (dots as underscores, upper
 * case: KAGI_HTTP_LISTEN) overrides the file. An unknown key or a bad value
 * is an error naming the file and line. */
#define KG_CONFIG_STR_MAX 512
typedef struct kg_config {
	char store_path[KG_CONFIG_STR_MAX];   /* store.path */
	char store_url[KG_CONFIG_STR_MAX];    /* store.url: postgres://..., instead of store.path */
	int64_t store_group_max;              /* store.group_max */
	int64_t store_busy_timeout_ms;        /* store.busy_timeout_ms */
	char http_listen[KG_CONFIG_STR_MAX];  /* http.listen host:port */
	int64_t http_threads;                 /* http.threads */
	int64_t http_body_max_bytes;          /* http.body_max_bytes */
	int64_t http_max_connections;         /* http.max_connections */
	int64_t http_timeout_s;               /* http.timeout_s (idle connection) */
	int64_t http_shutdown_grace_ms;       /* http.shutdown_grace_ms */
	bool http_reuse_port;                 /* http.reuse_port (SO_REUSEPORT) */
	int64_t http_max_connections_per_ip;  /* http.max_connections_per_ip (0: none) */
	int64_t http_header_timeout_s;        /* http.header_timeout_s */
	int64_t http_body_min_rate;           /* http.body_min_bytes_per_s */
	int64_t http_body_memory_max;         /* http.body_memory_max_bytes */
	int64_t http_decision_workers;        /* http.decision_workers */
	int64_t http_decision_queue;          /* http.decision_queue */
	int64_t http_decision_batch_max;      /* http.decision_batch_max */
	int64_t http_login_workers;           /* http.login_workers */
	int64_t http_login_queue;             /* http.login_queue */
	int64_t http_mail_workers;            /* http.mail_workers */
	int64_t http_mail_queue;              /* http.mail_queue */
	int64_t http_upload_workers;          /* http.upload_workers */
	int64_t http_upload_queue;            /* http.upload_queue */
	int64_t http_other_workers;           /* http.other_workers */
	int64_t http_other_queue;             /* http.other_queue */
	char log_level[16];                   /* log.level */
	char policy_file[KG_CONFIG_STR_MAX];  /* policy.file */
	char reset_lifts[KG_CONFIG_STR_MAX];  /* policy.reset_lifts, comma list */
	int64_t argon2_ops;                   /* password.argon2_ops */
	int64_t argon2_mem_kib;               /* password.argon2_mem_kib */
	int64_t code_ttl_s;                   /* recovery.code_ttl_s */
	int64_t code_max_attempts;            /* recovery.code_max_attempts */
	int64_t customer_token_ttl_s;         /* login.token_ttl_s */
	int64_t lock_ticket_ttl_s;            /* login.ticket_ttl_s */
	int64_t bf_failures;                  /* bruteforce.failures */
	int64_t bf_wait_increment_s;          /* bruteforce.wait_increment_s */
	int64_t bf_max_wait_s;                /* bruteforce.max_wait_s */
	int64_t bf_reset_s;                   /* bruteforce.reset_s */
	int64_t bf_known_source_s;            /* bruteforce.known_source_s */
	int64_t cases_open_max;               /* cases.open_max */
	int64_t identity_max_failures;        /* identity.max_failures */
	int64_t identity_block_s;             /* identity.block_s */
	int64_t identity_unlock_window_s;     /* identity.unlock_window_s */
	char account_secret_key[KG_CONFIG_STR_MAX]; /* account.secret_key, 64 hex */
	char shop_name[KG_CONFIG_STR_MAX];    /* shop.name */
	char shop_profile[KG_CONFIG_STR_MAX]; /* shop.profile (mail analyser) */
	char mail_from[KG_CONFIG_STR_MAX];    /* mail.from */
	char smtp_url[KG_CONFIG_STR_MAX];     /* smtp.url, "" = no delivery */
	char smtp_user[KG_CONFIG_STR_MAX];    /* smtp.user */
	char smtp_password[KG_CONFIG_STR_MAX];/* smtp.password */
	bool smtp_starttls;                   /* smtp.starttls */
	char dkim_domain[KG_CONFIG_STR_MAX];  /* dkim.domain */
	char dkim_selector[KG_CONFIG_STR_MAX];/* dkim.selector */
	char dkim_key_file[KG_CONFIG_STR_MAX];/* dkim.key_file */
	char webhook_url[KG_CONFIG_STR_MAX];  /* webhook.url */
	char webhook_secret[KG_CONFIG_STR_MAX];/* webhook.secret */
	char notify_templates_dir[KG_CONFIG_STR_MAX]; /* notify.templates_dir */
	int64_t notify_poll_ms;               /* notify.poll_ms */
	int64_t notify_batch;                 /* notify.batch */
	int64_t notify_lease_s;               /* notify.lease_s */
	int64_t notify_timeout_s;             /* notify.timeout_s */
	int64_t notify_retry_base_ms;         /* notify.retry_base_ms */
	int64_t notify_retry_max_ms;          /* notify.retry_max_ms */
	int64_t notify_max_attempts;          /* notify.max_attempts */
	bool breaker_enabled;                 /* breaker.enabled */
	int64_t breaker_max_locks;            /* breaker.max_locks */
	int64_t breaker_window_s;             /* breaker.window_s */
	int64_t breaker_half_open_s;          /* breaker.half_open_s, 0: off */
	int64_t incidents_apology_mails_per_min; /* incidents.apology_mails_per_min */
	bool rules_gate;                      /* rules.gate: new or changed rules
					       * run pending until promoted */
	int64_t rules_promote_max_locks_per_day; /* rules.promote_max_locks_per_day */
} kg_config;

/* Sets every key to its default. */
void kg_config_defaults(kg_config *c);
/* Reads path (NULL: none) over the defaults, then applies KAGI_* overrides
 * from the environment. Returns 0, or KG_EINVAL with err naming file:line
 * (or the environment variable). */
int kg_config_load(kg_config *c, const char *path, kg_err *err);
/* Sets one key from text; `where` names the source for errors. */
int kg_config_set(kg_config *c, const char *key, const char *value, kg_err *err);
/* Writes every key and its current value as a config file. */
int kg_config_dump(const kg_config *c, kg_buf *out);

#endif
