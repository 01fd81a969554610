/* The provider gateway's check of marketplace agreements (gw_agreement.h,
 * docs/marketplace.md "At the gateway"). The counts live in one small
 * hash table per process, keyed by agreement id: an entry holds the start
 * of the period it counts and the calls admitted in it, and starts again
 * at 0 when a call falls into a later period. A gateway that restarts
 * forgets its counts (the message log still holds every call: metering
 * from the logs is the marketplace's next step). A gateway whose message
 * log is in PostgreSQL counts there instead (ndx_msglog_count_call), so
 * that the nodes of a cluster share one count and a restart keeps it. */
#include "gw_agreement.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndx/err.h"
#include "ndx/msglog.h"
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

/* The refusal of a policy check's result (GW_R_COUNT for NDX_POLICY_OK). */
static enum gw_reason refusal(const struct ndx_conf_grant *g, enum ndx_policy_verdict res,
			      const char *purpose, char *msg, size_t cap)
{
	char when[NDX_TIME_TEXT_LEN];

	switch (res) {
	case NDX_POLICY_OK:
		break;
	case NDX_POLICY_EXPIRED:
		ndx_time_format(g->not_after, when);
		snprintf(msg, cap, "agreement %s ended at %s", g->agreement, when);
		return GW_R_AGREEMENT_EXPIRED;
	case NDX_POLICY_PURPOSE:
		snprintf(msg, cap, "agreement %s does not allow the purpose %s", g->agreement,
			 purpose && *purpose ? purpose : "(none given)");
		return GW_R_AGREEMENT_PURPOSE;
	case NDX_POLICY_LIMIT:
		snprintf(msg, cap, "agreement %s allows %lld calls per %s; they are used up",
			 g->agreement, (long long)g->policy->max_calls,
			 ndx_policy_period_name(g->policy->period));
		return GW_R_AGREEMENT_LIMIT;
	}
	return GW_R_COUNT;
}

/* The count in the log's database, which every node of a gateway cluster
 * shares: the policy's other terms checked first, then one statement
 * counts the call unless the maximum is reached. NDX_ENOTFOUND (*r
 * untouched) when the log is this process's alone. */
static int admit_shared(struct ndx_msglog *log, const struct ndx_conf_grant *g,
			struct ndx_policy_use *use, time_t start, char *msg, size_t cap,
			enum gw_reason *r)
{
	enum ndx_policy_verdict res;
	int rc;

	use->calls_in_period = 0;
	if ((res = ndx_policy_check(g->policy, use)) != NDX_POLICY_OK) {
		*r = refusal(g, res, use->purpose, msg, cap);
		return NDX_OK;
	}
	rc = ndx_msglog_count_call(log, g->agreement, (int64_t)start, g->policy->max_calls);
	if (rc == NDX_ENOTFOUND)
		return rc;
	if (rc == NDX_OK) {
		*r = GW_R_COUNT;
	} else if (rc == NDX_EPERM) {
		*r = refusal(g, NDX_POLICY_LIMIT, use->purpose, msg, cap);
	} else {
		snprintf(msg, cap, "the calls of agreement %s cannot be counted: this gateway's "
			 "shared message log does not answer", g->agreement);
		*r = GW_R_LOG_UNAVAILABLE;
	}
	return NDX_OK;
}

enum gw_reason gw_agreement_admit(struct ndx_msglog *log, const struct ndx_conf *conf,
				  const char *client, const char *service, const char *method,
				  const char *path, const char *purpose, time_t now, char *msg,
				  size_t cap)
{
	const struct ndx_conf_grant *g = ndx_conf_grant_find(conf, client, service, method, path,
							     NULL);
	struct ndx_policy_use use = { .purpose = purpose, .now = now };
	enum ndx_policy_verdict res;
	enum gw_reason r = GW_R_COUNT;
	struct count *c;
	time_t start;

	if (!g || !g->agreement || !g->policy)
		return GW_R_COUNT;
	use.not_after = g->not_after;
	start = ndx_policy_period_start(g->policy->period, now);
	if (log && g->policy->max_calls &&
	    admit_shared(log, g, &use, start, msg, cap, &r) != NDX_ENOTFOUND)
		return r;
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
	res = ndx_policy_check(g->policy, &use);
	if (res == NDX_POLICY_OK && c)
		c->calls++;
	pthread_mutex_unlock(&mu);
	return refusal(g, res, purpose, msg, cap);
}

/* Gives back the call gw_agreement_admit counted for g at now (an answer
 * refused after it: not a use), when its period is still the current. */
static void uncount(struct ndx_msglog *log, const struct ndx_conf_grant *g, time_t now)
{
	time_t start;
	struct count *c;

	if (!g->policy->max_calls)
		return;
	start = ndx_policy_period_start(g->policy->period, now);
	/* A failure of the shared log leaves the call counted: the
	 * consumer loses one call, never gains one. */
	if (log && ndx_msglog_give_back_call(log, g->agreement, (int64_t)start) != NDX_ENOTFOUND)
		return;
	pthread_mutex_lock(&mu);
	for (c = table[bucket(g->agreement)]; c; c = c->next)
		if (strcmp(c->id, g->agreement) == 0)
			break;
	if (c && c->calls > 0 && c->period_start == start)
		c->calls--;
	pthread_mutex_unlock(&mu);
}

enum gw_reason gw_agreement_check_answer(struct ndx_msglog *log, const struct ndx_conf *conf,
					 const char *client, const char *service,
					 const char *method, const char *path, long status,
					 const char *last_modified, time_t now, char *msg,
					 size_t cap)
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
	uncount(log, g, now);
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
