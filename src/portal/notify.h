/* Telling citizens what happened to their applications (docs/portal.md
 * "Notifications and e-mail"): a notification in the portal's notification
 * centre, and, to a citizen who gave an e-mail address with their consent,
 * an e-mail queued in the outbox of portal.db. The mailer thread sends the
 * outbox through the configured SMTP server with libcurl, retrying with a
 * growing wait, so that sending never blocks or fails a decision. */
#ifndef NDX_PORTAL_NOTIFY_H
#define NDX_PORTAL_NOTIFY_H

#include <jansson.h>

#include "config.h"
#include "store.h"

struct portal;

/* Notifies the citizen of procedure proc (a procedure doc, borrowed) of
 * kind: "information_requested", "completed", "rejected", "paid" or
 * "refunded". Failures are logged, never returned: the step that called it
 * has happened whatever becomes of the message. */
void notify_citizen(const struct portal *p, const json_t *proc, const char *kind);

struct mailer;

/* Starts the mailer thread over st (both borrowed, outliving it) when the
 * configuration has "smtp"; *out NULL otherwise. NDX_OK or NDX_ENOMEM. */
int mailer_start(const struct pconfig *cfg, struct pstore *st, struct mailer **out);
/* Wakes the mailer for a message just queued. Accepts NULL. */
void mailer_wake(struct mailer *m);
/* Stops and frees the mailer; accepts NULL. */
void mailer_stop(struct mailer *m);

/* Checks an e-mail address a citizen typed (at most 254 bytes, one '@',
 * no spaces, angle brackets or line breaks). 1 when acceptable. */
int notify_email_ok(const char *addr);

#endif
