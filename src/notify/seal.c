/* Outbox rows at rest: a notice mail can hold a one-time code, and nothing
 * secret is stored in clear (S11), so with account.secret_key set the stored
 * message is sealed in kagi's one format (base's kg_seal, KGSEAL1). The
 * worker opens it just before sending; the same sealed bytes give the same
 * message (and Message-ID) on every try. Rows stored without a key are plain
 * and are read as they are. Not here: the format itself (base/seal.c). */
#include "notify/internal.h"

int kg_notify_seal(const char *key_hex, const char *data, size_t len, kg_buf *out, kg_err *err)
{
	if (!key_hex || !*key_hex)
		return kg_err_set(err, KG_ECONFLICT, "account.secret_key is not set in the config");
	return kg_seal(key_hex, data, len, out, err);
}

int kg_notify_unseal(const char *key_hex, const char *data, size_t len, kg_buf *out,
		     kg_err *err)
{
	if (!kg_is_sealed(data, len))
		return kg_buf_append(out, data, len) ? kg_err_set(err, KG_ELIMIT, "message too large") : 0;
	if (!key_hex || !*key_hex)
		return kg_err_set(err, KG_ECONFLICT, "the outbox row is sealed and account.secret_key is not set");
	return kg_unseal(key_hex, data, len, out, err);
}

int kg_notify_outbox_message(const kg_outbox *o, kg_buf *out, kg_err *err)
{
	return kg_notify_unseal(kg_notify_seal_key(), o->mime, o->mime_len, out, err);
}
