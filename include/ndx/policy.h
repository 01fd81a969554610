/* The usage policies of ndx's data marketplace: a well-defined subset of
 * ODRL 2.2 (docs/marketplace.md "The ODRL subset"), read into a typed
 * struct by one parser that the registry (offers, counter-offers,
 * agreements) and the gateways (the policy a grant carries in the global
 * configuration) share, written back in one canonical form, and evaluated
 * at each exchange. Anything outside the subset is refused with a message
 * naming it, never ignored: a constraint a party cannot enforce must not
 * look agreed. */
#ifndef NDX_POLICY_H
#define NDX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct json_t;

#define NDX_POLICY_PURPOSES_MAX 8
#define NDX_POLICY_PURPOSE_MAX 64

/* Consumer classes (a bitmask): the class of a consumer follows from its
 * member class (ndx_policy_class_of_member). */
enum {
	NDX_CLASS_STATE = 1,      /* GOV: a state body */
	NDX_CLASS_ENTERPRISE = 2, /* COM: an enterprise */
	NDX_CLASS_RESEARCH = 4,   /* ORG: research and other organisations */
	NDX_CLASS_ALL = 7,
};

/* HTTP methods a policy permits (a bitmask, the ndx:method constraint). */
enum {
	NDX_METHOD_GET = 1, NDX_METHOD_HEAD = 2, NDX_METHOD_POST = 4, NDX_METHOD_PUT = 8,
	NDX_METHOD_PATCH = 16, NDX_METHOD_DELETE = 32, NDX_METHOD_OPTIONS = 64,
};
#define NDX_METHOD_NAMES { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" }

enum ndx_policy_period { NDX_PERIOD_NONE, NDX_PERIOD_HOUR, NDX_PERIOD_DAY, NDX_PERIOD_MONTH };
enum ndx_price_unit { NDX_PRICE_FREE, NDX_PRICE_PER_CALL, NDX_PRICE_PER_MONTH };

struct ndx_policy {
	char purposes[NDX_POLICY_PURPOSES_MAX][NDX_POLICY_PURPOSE_MAX + 1];
	size_t npurposes;              /* 0: any purpose */
	unsigned classes;              /* NDX_CLASS_*; NDX_CLASS_ALL when unconstrained */
	unsigned methods;              /* NDX_METHOD_*; GET|HEAD when unconstrained */
	int64_t validity_days;         /* from the agreement; 0: no limit */
	int64_t max_age_s;             /* ndx:dataAge: an answer's data at most this old,
					* in seconds; 0: no limit */
	int64_t max_calls;             /* per period; 0: no limit */
	enum ndx_policy_period period; /* NONE exactly when max_calls is 0 */
	bool no_onward_transfer;       /* prohibition "distribute" */
	int64_t price;                 /* VND; 0 with NDX_PRICE_FREE */
	enum ndx_price_unit price_unit;
};

/* Reads an ODRL Offer or Agreement (its permission, prohibition and
 * obligation; the caller checks @id, @type, target and the parties) into
 * *out. NDX_EINVAL with a sentence naming the property at fault in err
 * (cap bytes) when it is outside the subset. odrl is borrowed. */
int ndx_policy_from_odrl(const struct json_t *odrl, struct ndx_policy *out, char *err,
			 size_t cap);
/* The canonical ODRL of p: a new object {"permission":[…]} with
 * "prohibition" and "obligation" when p has them (the caller adds @id,
 * @type and target), or NULL when out of memory. ndx_policy_from_odrl of
 * it gives p back. */
struct json_t *ndx_policy_to_odrl(const struct ndx_policy *p);
/* True when a and b say the same (purposes compared as sets). */
bool ndx_policy_equal(const struct ndx_policy *a, const struct ndx_policy *b);

/* The consumer class of a member class ("GOV", "COM", "ORG"), or 0. */
unsigned ndx_policy_class_of_member(const char *member_class);
/* "state", "enterprise", "research" for one NDX_CLASS_* bit, or NULL. */
const char *ndx_policy_class_name(unsigned cls);
/* The name of a period ("PT1H", "P1D", "P1M"), NULL for NONE. */
const char *ndx_policy_period_name(enum ndx_policy_period period);
/* The start (Unix seconds, UTC) of the period that holds now: the hour,
 * the day or the calendar month. now itself for NONE. */
time_t ndx_policy_period_start(enum ndx_policy_period period, time_t now);

/* One exchange under an agreement, as the provider gateway sees it. */
struct ndx_policy_use {
	const char *purpose;     /* the request's Ndx-Purpose, NULL when none */
	time_t now;
	time_t not_after;        /* the agreement's end, 0 for none */
	int64_t calls_in_period; /* calls already admitted in now's period */
};
enum ndx_policy_verdict {
	NDX_POLICY_OK,
	NDX_POLICY_EXPIRED,      /* now is past not_after */
	NDX_POLICY_PURPOSE,      /* the policy names purposes and the use has none of them */
	NDX_POLICY_LIMIT,        /* max_calls already admitted in this period */
};
enum ndx_policy_verdict ndx_policy_check(const struct ndx_policy *p,
					 const struct ndx_policy_use *use);

/* The data-age limit (ndx:dataAge) on one answer of the provider system,
 * checked by the provider gateway before the answer goes on: status is
 * the answer's HTTP status, modified its Last-Modified (RFC 9110 §8.8.2)
 * as Unix seconds, or -1 when the answer carries none or one that is not
 * an HTTP date. Only a 2xx answer carries data and is checked. */
enum ndx_policy_answer {
	NDX_POLICY_ANSWER_OK,
	NDX_POLICY_ANSWER_UNDATED, /* a limit, a 2xx answer, and no Last-Modified */
	NDX_POLICY_ANSWER_STALE,   /* now - modified > max_age_s */
};
enum ndx_policy_answer ndx_policy_check_answer(const struct ndx_policy *p, long status,
					       time_t modified, time_t now);
/* The limit in seconds as the canonical xsd:duration of the subset
 * ("P2D", "PT6H", "PT15M", "PT30S": the largest unit that divides it)
 * into out (at least 32 bytes). */
void ndx_policy_age_text(int64_t seconds, char *out, size_t cap);

#endif
