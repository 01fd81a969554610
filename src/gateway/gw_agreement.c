/* The provider gateway's check of marketplace agreements (gw_agreement.h,
 * docs/marketplace.md "At the gateway"). The counts live in one small
 * hash table per process, keyed by agreement id: an entry holds the start
 * of the period it counts and the calls admitted in it, and starts again
 * at 0 when a call falls into a later period. A gateway that restarts
 * forgets its counts (the message log still holds every call: metering
 * from the logs is the marketplace's next step). */
#include "gw_agreement.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/policy.h"
#include "ndx/timefmt.h"

#define BUCKETS 256

struct count {
	struct count *next;
	time_t period_start;
	int64_t calls;
	char id[]; /* the agreement id */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct count *table[BUCKETS];

static unsigned bucket(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

/* The entry of id, made when missing; NULL when out of memory. Under mu. */
static struct count *entry(const char *id)
{
	unsigned b = bucket(id);
	struct count *c;
	size_t n = strlen(id) + 1;

	for (c = table[b]; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	if (!(c = calloc(1, sizeof *c + n)))
		return NULL;
	memcpy(c->id, id, n);
	c->next = table[b];
	table[b] = c;
	return c;
}

enum gw_reason gw_agreement_admit(const struct ndx_conf *conf, const char *client,
				  const char *service, const char *method, const char *path,
				  const char *purpose, time_t now, char *msg, size_t cap)
{
	const struct ndx_conf_grant *g = ndx_conf_grant_find(conf, client, service, method, path,
							     NULL);
	struct ndx_policy_use use = { .purpose = purpose, .now = now };
	enum gw_reason r = GW_R_COUNT;
	char when[NDX_TIME_TEXT_LEN];
	struct count *c;
	time_t start;

	if (!g || !g->agreement || !g->policy)
		return GW_R_COUNT;
	use.not_after = g->not_after;
	start = ndx_policy_period_start(g->policy->period, now);
	pthread_mutex_lock(&mu);
	c = g->policy->max_calls ? entry(g->agreement) : NULL;
	if (g->policy->max_calls && !c) {
		pthread_mutex_unlock(&mu);
		snprintf(msg, cap, "the gateway cannot count the calls of agreement %s",
			 g->agreement);
		return GW_R_INTERNAL;
	}
	if (c && c->period_start != start) {
		c->period_start = start;
		c->calls = 0;
	}
	use.calls_in_period = c ? c->calls : 0;
	switch (ndx_policy_check(g->policy, &use)) {
	case NDX_POLICY_OK:
		if (c)
			c->calls++;
		break;
	case NDX_POLICY_EXPIRED:
		ndx_time_format(g->not_after, when);
		snprintf(msg, cap, "agreement %s ended at %s", g->agreement, when);
		r = GW_R_AGREEMENT_EXPIRED;
		break;
	case NDX_POLICY_PURPOSE:
		snprintf(msg, cap, "agreement %s does not allow the purpose %s", g->agreement,
			 purpose && *purpose ? purpose : "(none given)");
		r = GW_R_AGREEMENT_PURPOSE;
		break;
	case NDX_POLICY_LIMIT:
		snprintf(msg, cap, "agreement %s allows %lld calls per %s; they are used up",
			 g->agreement, (long long)g->policy->max_calls,
			 ndx_policy_period_name(g->policy->period));
		r = GW_R_AGREEMENT_LIMIT;
		break;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

/* Gives back the call gw_agreement_admit counted for g at now (an answer
 * refused after it: not a use), when its period is still the current. */
static void uncount(const struct ndx_conf_grant *g, time_t now)
{
	struct count *c;

	if (!g->policy->max_calls)
		return;
	pthread_mutex_lock(&mu);
	for (c = table[bucket(g->agreement)]; c; c = c->next)
		if (strcmp(c->id, g->agreement) == 0)
			break;
	if (c && c->calls > 0 &&
	    c->period_start == ndx_policy_period_start(g->policy->period, now))
		c->calls--;
	pthread_mutex_unlock(&mu);
}

enum gw_reason gw_agreement_check_answer(const struct ndx_conf *conf, const char *client,
					 const char *service, const char *method,
					 const char *path, long status, const char *last_modified,
					 time_t now, char *msg, size_t cap)
{
	const struct ndx_conf_grant *g = ndx_conf_grant_find(conf, client, service, method, path,
							     NULL);
	char limit[32], when[NDX_TIME_TEXT_LEN];
	time_t modified = -1;

	if (!g || !g->agreement || !g->policy || !g->policy->max_age_s)
		return GW_R_COUNT;
	if (last_modified && ndx_time_parse_http(last_modified, &modified) != NDX_OK)
		modified = -1;
	ndx_policy_age_text(g->policy->max_age_s, limit, sizeof limit);
	switch (ndx_policy_check_answer(g->policy, status, modified, now)) {
	case NDX_POLICY_ANSWER_OK:
		return GW_R_COUNT;
	case NDX_POLICY_ANSWER_UNDATED:
		snprintf(msg, cap, "agreement %s admits data no older than %s; the provider "
			 "system's answer %s", g->agreement, limit,
			 last_modified ? "has a Last-Modified that is not an HTTP date"
				       : "does not say how old it is (no Last-Modified)");
		break;
	case NDX_POLICY_ANSWER_STALE:
		ndx_time_format(modified, when);
		snprintf(msg, cap, "agreement %s admits data no older than %s; the provider "
			 "system's answer was last modified at %s", g->agreement, limit, when);
		break;
	}
	uncount(g, now);
	return GW_R_AGREEMENT_DATA_AGE;
}

void gw_agreement_reset(void)
{
	pthread_mutex_lock(&mu);
	for (size_t b = 0; b < BUCKETS; b++) {
		struct count *c = table[b];
		while (c) {
			struct count *next = c->next;
			free(c);
			c = next;
		}
		table[b] = NULL;
	}
	pthread_mutex_unlock(&mu);
}
