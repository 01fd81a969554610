/* Per-citizen rate limits of the consent service (docs/protocol.md
 * "Revocation", docs/security.md T26): a token bucket per subject (the
 * consent's personal identification number) that every issued and every
 * revoked consent takes one token from. Each subject has a bucket of its
 * own, so one citizen's loop never touches another's allowance, and nothing
 * is capped globally. Buckets that have refilled are forgotten, so memory
 * follows the citizens active within one refill period. */
#ifndef NDX_CONSENT_SUBJECT_LIMIT_H
#define NDX_CONSENT_SUBJECT_LIMIT_H

#include <stdbool.h>

/* Defaults: 20 actions at once, then one every 60 s (60 an hour). */
#define SUBJECT_LIMIT_BURST 20
#define SUBJECT_LIMIT_PER_HOUR 60

struct subject_limit;

/* A new limiter: burst tokens a bucket, per_hour tokens added each hour.
 * burst 0 turns limiting off. NULL when out of memory. Thread-safe. */
struct subject_limit *subject_limit_new(unsigned burst, unsigned per_hour);
/* Accepts NULL. */
void subject_limit_free(struct subject_limit *l);

/* Takes one token from subject's bucket at now (seconds, monotonic) and
 * returns true; or returns false, takes nothing and sets *retry_after to the
 * whole seconds until a token is there. Also true when out of memory: the
 * limiter never refuses a citizen for a reason that is not their own. */
bool subject_limit_take(struct subject_limit *l, const char *subject, double now,
			unsigned *retry_after);

#endif
