/* Throttling of password sign-ins, shared by ndx-id (citizens) and
 * ndx-portal (officers): exponential back-off per source address and per
 * account instead of a lockout, so that a stranger can slow the guessing
 * of a password but cannot keep its owner out. The numbers and what they
 * allow an attacker: docs/security.md (T20, T28), docs/id.md "Sign-in
 * throttling". The stores count the failures; this file decides. */
#ifndef NDX_SIGNIN_THROTTLE_H
#define NDX_SIGNIN_THROTTLE_H

#include <stddef.h>
#include <time.h>

#define SIGNIN_WINDOW_S 3600    /* failures are counted over the last hour */
#define SIGNIN_SOURCE_FREE 10   /* failures from one source before it backs off */
#define SIGNIN_ACCOUNT_FREE 5   /* failures on one account before it backs off */
#define SIGNIN_BACKOFF_MAX_S 900 /* the longest wait: 1, 2, 4 … 512 s, then 15 min */
#define SIGNIN_SOURCE_MAX 72    /* an address or IPv6 /64 as text, NUL included */

/* Failures within the window: from the source (on any account), on the
 * account (from any source), on the account from the source; the times of
 * the source's and the account's last failures (0: none). */
struct signin_counts {
	unsigned source, account, pair;
	time_t source_last, account_last;
};

/* The TLS reverse proxies (deploy/nginx/) whose X-Forwarded-For names the
 * client: behind one, every request comes from the proxy's address, and one
 * source's ten failures would make every citizen wait. */
#define SIGNIN_PROXIES_MAX 8
struct signin_proxies {
	unsigned n;
	unsigned char addr[SIGNIN_PROXIES_MAX][16]; /* IPv4 as ::ffff:a.b.c.d */
};

/* Adds the IPv4 or IPv6 address text to p; -1 with *why when it is not an
 * address or p is full. */
int signin_proxies_add(struct signin_proxies *p, const char *text, const char **why);

/* The client address of a request whose peer is remote ("ADDR:PORT"), as
 * "ADDR:PORT" text for signin_source: remote itself, unless remote is one of
 * the trusted proxies and forwarded (the LAST X-Forwarded-For header's
 * value, NULL when there is none) ends with a valid IPv4 or IPv6 address —
 * the one that proxy appended or set. A client cannot choose its source
 * with the header: it is read only from a trusted proxy, and only its last
 * entry. Returns 1 when the address came from the header, 0 otherwise. */
int signin_client(const char *remote, const char *forwarded, size_t forwarded_len,
		  const struct signin_proxies *p, char *out, size_t out_size);

/* The source of a request from remote ("ADDR:PORT", as the HTTP server
 * gives it, or as signin_client makes it): the IPv4 address, or an IPv6 address cut to its /64 (one
 * subscriber's network, which holds billions of addresses), into out. An
 * address that cannot be parsed is kept as text. */
void signin_source(const char *remote, char out[SIGNIN_SOURCE_MAX]);

/* How many seconds the request must wait before its password may be
 * checked (0: check it now), for the Retry-After of a 429:
 * - a source with SIGNIN_SOURCE_FREE or more failures waits 2^k s (k
 *   failures past the free ones, at most SIGNIN_BACKOFF_MAX_S) after its
 *   last failure, whatever account it tries;
 * - an account with SIGNIN_ACCOUNT_FREE or more failures makes a source
 *   that has itself failed on it wait the same way after the account's
 *   last failure. A source that has not failed on the account is never
 *   made to wait for it: the owner's right password is checked. */
long signin_wait(const struct signin_counts *c, time_t now);

#endif
