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

/* The binary form of an address text (IPv4 mapped into IPv6). */
static int addr_parse(const char *text, unsigned char out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, text, out) == 1)
		return 0;
	if (inet_pton(AF_INET, text, &a4) != 1)
		return -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	return 0;
}

int signin_proxies_add(struct signin_proxies *p, const char *text, const char **why)
{
	if (p->n >= SIGNIN_PROXIES_MAX) {
		*why = "too many trusted proxies (at most 8)";
		return -1;
	}
	if (addr_parse(text, p->addr[p->n]) != 0) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	p->n++;
	return 0;
}

/* remote's host part ("ADDR" of "ADDR:PORT", brackets of "[V6]:PORT"
 * removed) into host. */
static void remote_host(const char *remote, char *host, size_t size)
{
	const char *colon = strrchr(remote, ':');
	size_t n = colon ? (size_t)(colon - remote) : strlen(remote);

	if (n >= 2 && remote[0] == '[' && remote[n - 1] == ']') {
		remote++;
		n -= 2;
	}
	if (n >= size)
		n = size - 1;
	memcpy(host, remote, n);
	host[n] = '\0';
}

int signin_client(const char *remote, const char *forwarded, size_t forwarded_len,
		  const struct signin_proxies *p, char *out, size_t out_size)
{
	char host[64], last[64];
	unsigned char peer[16], client[16];
	size_t start, end;
	unsigned i;

	snprintf(out, out_size, "%s", remote);
	if (!p || p->n == 0 || !forwarded)
		return 0;
	remote_host(remote, host, sizeof host);
	if (addr_parse(host, peer) != 0)
		return 0;
	for (i = 0; i < p->n && memcmp(p->addr[i], peer, 16) != 0; i++)
		;
	if (i == p->n)
		return 0;
	/* The last comma-separated entry, spaces and tabs around it trimmed. */
	end = forwarded_len;
	while (end > 0 && (forwarded[end - 1] == ' ' || forwarded[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && forwarded[start - 1] != ',')
		start--;
	while (start < end && (forwarded[start] == ' ' || forwarded[start] == '\t'))
		start++;
	if (end - start == 0 || end - start >= sizeof last)
		return 0;
	memcpy(last, forwarded + start, end - start);
	last[end - start] = '\0';
	if (addr_parse(last, client) != 0)
		return 0;
	snprintf(out, out_size, "%s:0", last);
	return 1;
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
