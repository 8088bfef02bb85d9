/* Every size limit of kagi in one place. A parser that hits one of these
 * fails with its own error naming the limit; nothing is silently truncated. */
#ifndef KG_LIMITS_H
#define KG_LIMITS_H

/* errors */
#define KG_ERR_MSG_MAX 256
#define KG_ERR_FIELD_MAX 128
#define KG_ERR_FILE_MAX 256

/* config file */
#define KG_CONFIG_FILE_MAX (256 * 1024)
#define KG_CONFIG_LINE_MAX 4096

/* HTTP */
#define KG_HTTP_BODY_MAX (1024 * 1024)          /* one JSON request */
#define KG_HTTP_BATCH_BODY_MAX (64 * 1024 * 1024) /* NDJSON batch */
#define KG_HTTP_MAIL_BODY_MAX (10 * 1024 * 1024)  /* raw message to check */
#define KG_HTTP_URL_MAX 2048                /* request target, query included */
#define KG_HTTP_HEADER_MAX 8192             /* request line and header fields */
#define KG_HTTP_DRAIN_MAX (64 * 1024 * 1024) /* body bytes past a limit read (and
                                              * dropped) to answer 413; more: closed */
#define KG_HTTP_BUDGET_STEP (64 * 1024)     /* a body of no declared length takes
                                              * http.body_memory_max_bytes in steps */
#define KG_HTTP_CONN_HEADROOM 1024         /* libmicrohttpd's connection limit is
                                              * http.max_connections + this: kagid's
                                              * accept policy refuses first */
#define KG_HTTP_LOGIN_NICE 19              /* the login pool's threads: lowest CPU
                                              * priority (Argon2id yields to the rest) */
#define KG_HTTP_DECISION_BATCH_MAX 4096     /* most POST /v1/events a decision worker
                                              * takes at once (http.decision_batch_max) */
#define KG_HTTP_REAP_MS 250                 /* how often the slowloris guard looks */
#define KG_HTTP_CONN_MEMORY (16 * 1024)     /* libmicrohttpd's buffer per connection:
                                              * holds any head kagid serves (8192 bytes
                                              * as counted, 100 fields and more) and a
                                              * first head the front lets through; it
                                              * zeroes all of it on every request (CPU
                                              * and cache per request: 24 KiB before) */
#define KG_HTTP_FRONT_HEAD_MAX (9 * 1024)   /* a new connection's first request head as
                                              * sent, looked at before the library
                                              * (http/front.c): over this, JSON 431 (what
                                              * KG_HTTP_CONN_MEMORY holds with 100 fields;
                                              * kagid serves 8192 bytes of it) */
#define KG_HTTP_HEADER_FIELDS_MAX 100       /* header fields of that head: more, 431
                                              * (the library's buffer holds every field) */
#define KG_HTTP_LINGER_MS 1000              /* after the front's own error answer: input
                                              * read and dropped this long, then closed */

/* JSON */
#define KG_JSON_DEPTH_MAX 16
#define KG_JSON_TOKENS_MAX 4096

/* events */
#define KG_EVENT_BYTES_MAX (64 * 1024)
#define KG_EVENT_ITEMS_MAX 256
#define KG_EVENT_SELLERS_MAX 64
#define KG_ID_MAX 128               /* event id, account id, order id, ... */
#define KG_EVENT_TS_AHEAD_MAX_S 300 /* live events: ts at most this ahead of the clock */
#define KG_BATCH_EVENTS_MAX 100000

/* kagi simulate */
#define KG_SIM_ACCOUNTS_MAX 10000000
#define KG_SIM_DAYS_MAX 3660
#define KG_SIM_EVENTS_MAX 40000000  /* ~56 bytes each in memory before sorting */

/* rules */
#define KG_RULES_FILE_MAX (1024 * 1024)
#define KG_RULES_MAX 1024
#define KG_RULE_EXPR_DEPTH_MAX 64    /* nesting: ( ), not, unary - */
#define KG_RULE_EXPR_HEIGHT_MAX 256  /* levels of one expression tree (chains) */

/* accounts, cases */
#define KG_NAME_MAX 256
#define KG_EMAIL_MAX 254
#define KG_PASSWORD_MAX 1024
#define KG_CARDS_PER_ACCOUNT_MAX 16  /* cards in one account create */
#define KG_ADDRESS_FIELD_MAX 256     /* region, city, line1, line2 */
#define KG_CODE_TEXT_MAX 16          /* a reset or 2-step code as sent */
#define KG_IP_TEXT_MAX 64            /* a client IP as sent in a body */
#define KG_ACCOUNT_NOTICE_BYTES_MAX (256 * 1024) /* one notice, ja and en joined */
#define KG_CASE_TEXT_MAX (16 * 1024)
#define KG_DOCUMENT_MAX (5 * 1024 * 1024)
#define KG_DOCUMENTS_PER_CASE_MAX 32

/* mail */
#define KG_MAIL_BYTES_MAX (10 * 1024 * 1024)
#define KG_MAIL_PARTS_MAX 256
#define KG_MAIL_DEPTH_MAX 8
#define KG_MAIL_LINKS_MAX 512                  /* links analysed; the rest are left out */
#define KG_MAIL_HEADER_BYTES_MAX (256 * 1024)
#define KG_MAIL_TEXT_MAX (4 * 1024 * 1024)     /* decoded body text analysed */
#define KG_MAIL_PROFILE_MAX (256 * 1024)       /* shop profile file */
#define KG_MAIL_PROFILE_ENTRIES_MAX 512        /* values per profile key */
#define KG_MAIL_DKIM_KEY_MAX 8192              /* one DKIM key (PEM or base64) */

/* notify */
#define KG_TEMPLATE_FILE_MAX (64 * 1024)      /* one template or texts file */
#define KG_TEMPLATE_OPS_MAX 4096              /* compiled pieces of one section */
#define KG_TEMPLATE_DEPTH_MAX 8               /* nested {{#sections}} */
#define KG_NOTICE_BYTES_MAX (256 * 1024)      /* one rendered part */
#define KG_NOTIFY_VALUE_MAX (16 * 1024)       /* one field value */
#define KG_NOTIFY_MIME_MAX (1024 * 1024)      /* one built message */
#define KG_WEBHOOK_BODY_MAX (256 * 1024)      /* one webhook body */

/* store */
#define KG_STORE_GROUP_MAX 1024      /* transactions gathered into one commit */
#define KG_STORE_QUEUE_MAX 65536     /* writers waiting */
#define KG_STORE_READERS_IDLE_MAX 64 /* idle read connections kept open */

#endif
