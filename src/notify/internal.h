/* Private to src/notify: what its files share. Nothing outside the module
 * includes this; the public face is notify.h. */
#ifndef KG_NOTIFY_INTERNAL_H
#define KG_NOTIFY_INTERNAL_H

#include "notify/notify.h"

/* mime.c: takes mail.from, shop.name, webhook.url and dkim.* (reading the
 * key file); NULL: the defaults. 0, or KG_EINVAL / KG_EIO with err. */
int kg_notify_mime_configure(const kg_config *cfg, kg_err *err);
/* mime.c: true when kg_notify_init saw a webhook.url. */
bool kg_notify_webhooks_enabled(void);
/* mime.c: the bare address of mail.from, for the SMTP envelope. */
void kg_notify_envelope_from(char *out, size_t size);

/* send.c: the open connections of one delivery pass (libcurl handles,
 * reused between sends); zero-initialise, close with kg_notify_conn_close. */
typedef struct kg_notify_conn {
	void *smtp, *http;
} kg_notify_conn;
void kg_notify_conn_close(kg_notify_conn *conn);
/* send.c: one SMTP delivery of raw to `to` (smtp.* of cfg). 0, or KG_EIO
 * with the server's or libcurl's reason in err. */
int kg_notify_smtp_send(const kg_config *cfg, kg_notify_conn *conn, const char *to,
			const char *raw, size_t raw_len, kg_err *err);
/* send.c: one signed POST of a webhook body to webhook.url; 0 on a 2xx. */
int kg_notify_webhook_post(const kg_config *cfg, kg_notify_conn *conn, const char *type,
			   const char *id, const char *body, size_t body_len, kg_err *err);

/* seal.c: outbox rows at rest, in base's one sealed format (kg_seal).
 * kg_notify_seal appends the sealed form of data to out; kg_notify_unseal
 * appends the plain form (data that is not sealed is copied as is).
 * KG_ECONFLICT without a key, KG_EAUTH when the key does not open it. */
int kg_notify_seal(const char *key_hex, const char *data, size_t len, kg_buf *out, kg_err *err);
int kg_notify_unseal(const char *key_hex, const char *data, size_t len, kg_buf *out,
		     kg_err *err);
/* mime.c: account.secret_key as kg_notify_init saw it ("" when unset). */
const char *kg_notify_seal_key(void);

#endif
