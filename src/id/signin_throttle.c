/* Sign-in throttling (signin_throttle.h): the decision from the failures
 * a store counted. Overview: docs/security.md T28. */
#include "signin_throttle.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void signin_source(const char *remote, char out[SIGNIN_SOURCE_MAX])
{
	const char *colon = strrchr(remote, ':');
	size_t n = colon ? (size_t)(colon - remote) : strlen(remote);
	char host[64];
	struct in6_addr a6;

	if (n >= sizeof host)
		n = sizeof host - 1;
	memcpy(host, remote, n);
	host[n] = '\0';
	if (strchr(host, ':') && inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			inet_ntop(AF_INET, &a6.s6_addr[12], out, SIGNIN_SOURCE_MAX);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a6, host, sizeof host)) {
			snprintf(out, SIGNIN_SOURCE_MAX, "%s/64", host);
			return;
		}
	}
	snprintf(out, SIGNIN_SOURCE_MAX, "%s", host);
}

/* The wait after `last` once `failures` reached `free`: 1 s doubling per
 * failure, capped. */
static long backoff(unsigned failures, unsigned free, time_t last, time_t now)
{
	unsigned k;
	long d;

	if (failures < free)
		return 0;
	k = failures - free;
	d = k >= 10 ? SIGNIN_BACKOFF_MAX_S : 1L << k;
	if (d > SIGNIN_BACKOFF_MAX_S)
		d = SIGNIN_BACKOFF_MAX_S;
	return last + d > now ? (long)(last + d - now) : 0;
}

long signin_wait(const struct signin_counts *c, time_t now)
{
	long s = backoff(c->source, SIGNIN_SOURCE_FREE, c->source_last, now);
	long a = c->pair ? backoff(c->account, SIGNIN_ACCOUNT_FREE, c->account_last, now) : 0;

	return s > a ? s : a;
}
