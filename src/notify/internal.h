/* Private to src/notify: what its files share. Nothing outside the module
 * includes this; the public face is notify.h. */
#ifndef KG_NOTIFY_INTERNAL_H
#define KG_NOTIFY_INTERNAL_H

#include "notify/notify.h"

/* mime.c: takes mail.from, shop.name and dkim.* (NULL: the defaults). */
void kg_notify_mime_configure(const kg_config *cfg);
/* mime.c: the bare address of mail.from, for the SMTP envelope. */
void kg_notify_envelope_from(char *out, size_t size);

#endif
