/* The ODRL subset of the data marketplace (ndx/policy.h): one reader, one
 * canonical writer, one evaluation. Overview: docs/marketplace.md "The
 * ODRL subset". The reader walks the jansson tree of a document that the
 * HTTP layer has already parsed and capped; every property it does not
 * know is an error that names it. */
#include "ndx/policy.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ndx/conf.h"
#include "ndx/err.h"

#define VALIDITY_DAYS_MAX 36500
#define MAX_AGE_S_MAX (36500LL * 86400)
#define MAX_CALLS_MAX 1000000000LL
#define PRICE_MAX 1000000000000LL

static const char *const METHOD_NAMES[] = NDX_METHOD_NAMES;
static const char *const CLASS_NAMES[] = { "state", "enterprise", "research" };
static const char *const PERIOD_UNITS[] = { NULL, "ndx:perHour", "ndx:perDay", "ndx:perMonth" };
static const char *const PRICE_UNITS[] = { NULL, "ndx:VNDPerCall", "ndx:VNDPerMonth" };

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (err && cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return NDX_EINVAL;
}

/* An ODRL term as written, without an "odrl:" prefix; NULL when v is not
 * a string. */
static const char *term(const json_t *v)
{
	const char *s = json_string_value(v);
	if (s && strncmp(s, "odrl:", 5) == 0)
		s += 5;
	return s;
}

/* 0 when every key of o is in allowed (NULL-terminated), else fails
 * naming the first other one. */
static int only_keys(const json_t *o, const char *where, const char *const *allowed, char *err,
		     size_t cap)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		const char *const *a;
		for (a = allowed; *a && strcmp(*a, k) != 0; a++)
			;
		if (!*a)
			return fail(err, cap, "%s.%s: not part of the ndx ODRL subset", where, k);
	}
	return NDX_OK;
}

static_assert(NDX_POLICY_PURPOSE_MAX == NDX_PURPOSE_MAX, "a policy holds any purpose name");

static int purpose_ok(const char *s)
{
	return ndx_purpose_valid(s);
}

static int index_of(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* The values of an isAnyOf (an array of strings) or eq (one string)
 * constraint, as a new array of strings. */
static int value_list(const json_t *c, const char *where, const char *op, json_t **out,
		      char *err, size_t cap)
{
	const json_t *r = json_object_get(c, "rightOperand"), *v;
	size_t i;

	*out = NULL;
	if (strcmp(op, "eq") == 0 && json_is_string(r)) {
		*out = json_pack("[O]", r);
	} else if (strcmp(op, "isAnyOf") == 0 && json_is_array(r) && json_array_size(r) > 0) {
		json_array_foreach(r, i, v)
			if (!json_is_string(v))
				return fail(err, cap, "%s.rightOperand[%zu]: expected a string", where, i);
		*out = json_deep_copy(r);
	} else {
		return fail(err, cap, "%s: expected operator isAnyOf with a non-empty array, or eq "
			    "with a string", where);
	}
	return *out ? NDX_OK : NDX_ENOMEM;
}

/* A whole number from an integer or a string of digits, in [lo, hi]. */
static int whole(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	long long n;
	char *end;
	const char *s;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if ((s = json_string_value(v)) && *s >= '0' && *s <= '9' && strlen(s) <= 13) {
		n = strtoll(s, &end, 10);
		if (*end)
			return -1;
	} else {
		return -1;
	}
	if (n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

/* The ndx:dataAge right operand: an xsd:duration of one component,
 * seconds, minutes, hours or days ("PT30S", "PT15M", "PT6H", "P2D"), n
 * written without sign or leading zero, in (0, 36500 days]. 0 with the
 * seconds in *out, -1 for anything else. */
static int read_age(const json_t *v, int64_t *out)
{
	static const struct { const char *prefix; char unit; int64_t s; } forms[] = {
		{ "PT", 'S', 1 }, { "PT", 'M', 60 }, { "PT", 'H', 3600 }, { "P", 'D', 86400 },
	};
	const char *s = json_string_value(v), *d;
	long long n = 0;

	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		size_t pl = strlen(forms[i].prefix);
		if (strncmp(s, forms[i].prefix, pl) != 0 || (pl == 1 && s[1] == 'T'))
			continue;
		d = s + pl;
		if (*d < '1' || *d > '9')
			return -1;
		for (n = 0; *d >= '0' && *d <= '9'; d++) {
			n = n * 10 + (*d - '0');
			if (n > MAX_AGE_S_MAX)
				return -1;
		}
		if (d[0] != forms[i].unit || d[1] || n * forms[i].s > MAX_AGE_S_MAX)
			continue;
		*out = n * forms[i].s;
		return 0;
	}
	return -1;
}

void ndx_policy_age_text(int64_t seconds, char *out, size_t cap)
{
	if (seconds % 86400 == 0)
		snprintf(out, cap, "P%lldD", (long long)(seconds / 86400));
	else if (seconds % 3600 == 0)
		snprintf(out, cap, "PT%lldH", (long long)(seconds / 3600));
	else if (seconds % 60 == 0)
		snprintf(out, cap, "PT%lldM", (long long)(seconds / 60));
	else
		snprintf(out, cap, "PT%lldS", (long long)seconds);
}

static int set_list(struct ndx_policy *p, const char *left, const json_t *vals,
		    const char *where, char *err, size_t cap)
{
	size_t i;
	const json_t *v;

	if (strcmp(left, "purpose") == 0) {
		if (json_array_size(vals) > NDX_POLICY_PURPOSES_MAX)
			return fail(err, cap, "%s: at most %d purposes", where,
				    NDX_POLICY_PURPOSES_MAX);
		json_array_foreach(vals, i, v) {
			const char *s = json_string_value(v);
			if (!purpose_ok(s))
				return fail(err, cap, "%s.rightOperand[%zu]: a purpose is 1 to %d "
					    "characters from a-z 0-9 -", where, i,
					    NDX_POLICY_PURPOSE_MAX);
			for (size_t j = 0; j < p->npurposes; j++)
				if (strcmp(p->purposes[j], s) == 0)
					return fail(err, cap, "%s.rightOperand[%zu]: %s appears twice",
						    where, i, s);
			snprintf(p->purposes[p->npurposes++], NDX_POLICY_PURPOSE_MAX + 1, "%s", s);
		}
		return NDX_OK;
	}
	if (strcmp(left, "ndx:consumerClass") == 0) {
		p->classes = 0;
		json_array_foreach(vals, i, v) {
			int k = index_of(json_string_value(v), CLASS_NAMES, 3);
			if (k < 0)
				return fail(err, cap, "%s.rightOperand[%zu]: expected state, "
					    "enterprise or research", where, i);
			p->classes |= 1u << k;
		}
		return NDX_OK;
	}
	p->methods = 0;
	json_array_foreach(vals, i, v) {
		int k = index_of(json_string_value(v), METHOD_NAMES, 7);
		if (k < 0)
			return fail(err, cap, "%s.rightOperand[%zu]: expected an HTTP method "
				    "(GET HEAD POST PUT PATCH DELETE OPTIONS)", where, i);
		p->methods |= 1u << k;
	}
	return NDX_OK;
}

static int read_constraint(struct ndx_policy *p, const json_t *c, const char *where,
			   unsigned *seen, char *err, size_t cap)
{
	static const char *const keys[] = { "leftOperand", "operator", "rightOperand", "unit",
					    NULL };
	static const char *const lefts[] = { "purpose", "ndx:consumerClass", "ndx:method",
					     "elapsedTime", "count", "ndx:dataAge" };
	const char *left, *op, *unit, *s;
	json_t *vals = NULL;
	int k, rc;
	char tail;
	long long days;

	if (!json_is_object(c))
		return fail(err, cap, "%s: expected an object", where);
	if ((rc = only_keys(c, where, keys, err, cap)))
		return rc;
	left = term(json_object_get(c, "leftOperand"));
	op = term(json_object_get(c, "operator"));
	if (!left || (k = index_of(left, lefts, 6)) < 0)
		return fail(err, cap, "%s.leftOperand: expected purpose, ndx:consumerClass, "
			    "ndx:method, elapsedTime, count or ndx:dataAge", where);
	if (!op)
		return fail(err, cap, "%s.operator: expected a string", where);
	if (*seen & (1u << k))
		return fail(err, cap, "%s: a second %s constraint", where, left);
	*seen |= 1u << k;
	unit = json_string_value(json_object_get(c, "unit"));
	if (json_object_get(c, "unit") && k != 4)
		return fail(err, cap, "%s.unit: only a count constraint has a unit", where);
	if (k <= 2) {
		if ((rc = value_list(c, where, op, &vals, err, cap)))
			return rc;
		rc = set_list(p, left, vals, where, err, cap);
		json_decref(vals);
		return rc;
	}
	if (strcmp(op, "lteq") != 0)
		return fail(err, cap, "%s.operator: %s takes lteq", where, left);
	if (k == 3) {
		s = json_string_value(json_object_get(c, "rightOperand"));
		if (!s || sscanf(s, "P%lldD%c", &days, &tail) != 1 || s[1] < '1' || s[1] > '9' ||
		    days < 1 || days > VALIDITY_DAYS_MAX)
			return fail(err, cap, "%s.rightOperand: expected a duration of whole days "
				    "\"P<n>D\", n from 1 to %d", where, VALIDITY_DAYS_MAX);
		p->validity_days = days;
		return NDX_OK;
	}
	if (k == 5) {
		if (read_age(json_object_get(c, "rightOperand"), &p->max_age_s))
			return fail(err, cap, "%s.rightOperand: expected the data's greatest age as a "
				    "duration \"PT<n>S\", \"PT<n>M\", \"PT<n>H\" or \"P<n>D\", n a "
				    "whole number from 1, at most 36500 days", where);
		return NDX_OK;
	}
	if (whole(json_object_get(c, "rightOperand"), 1, MAX_CALLS_MAX, &p->max_calls))
		return fail(err, cap, "%s.rightOperand: expected a whole number of calls from 1 "
			    "to %lld", where, MAX_CALLS_MAX);
	if (!unit || (k = index_of(unit, PERIOD_UNITS, 4)) < 1)
		return fail(err, cap, "%s.unit: expected ndx:perHour, ndx:perDay or ndx:perMonth",
			    where);
	p->period = (enum ndx_policy_period)k;
	return NDX_OK;
}

static int read_permission(struct ndx_policy *p, const json_t *list, char *err, size_t cap)
{
	static const char *const keys[] = { "action", "constraint", NULL };
	const json_t *perm, *cs, *c;
	const char *action;
	char where[64];
	unsigned seen = 0;
	size_t i;
	int rc;

	if (!json_is_array(list) || json_array_size(list) != 1)
		return fail(err, cap, "permission: expected an array of exactly one rule");
	perm = json_array_get(list, 0);
	if (!json_is_object(perm))
		return fail(err, cap, "permission[0]: expected an object");
	if ((rc = only_keys(perm, "permission[0]", keys, err, cap)))
		return rc;
	action = term(json_object_get(perm, "action"));
	if (!action || strcmp(action, "use") != 0)
		return fail(err, cap, "permission[0].action: expected \"use\"");
	cs = json_object_get(perm, "constraint");
	if (cs && !json_is_array(cs))
		return fail(err, cap, "permission[0].constraint: expected an array");
	json_array_foreach(cs, i, c) {
		snprintf(where, sizeof where, "permission[0].constraint[%zu]", i);
		if ((rc = read_constraint(p, c, where, &seen, err, cap)))
			return rc;
	}
	return NDX_OK;
}

static int read_prohibition(struct ndx_policy *p, const json_t *list, char *err, size_t cap)
{
	static const char *const keys[] = { "action", NULL };
	const json_t *r;
	const char *action;
	char where[64];
	size_t i;
	int rc;

	if (!json_is_array(list))
		return fail(err, cap, "prohibition: expected an array");
	json_array_foreach(list, i, r) {
		snprintf(where, sizeof where, "prohibition[%zu]", i);
		if (!json_is_object(r))
			return fail(err, cap, "%s: expected an object", where);
		if ((rc = only_keys(r, where, keys, err, cap)))
			return rc;
		action = term(json_object_get(r, "action"));
		if (!action || strcmp(action, "distribute") != 0)
			return fail(err, cap, "%s.action: the only prohibition is \"distribute\" "
				    "(no onward transfer)", where);
		p->no_onward_transfer = true;
	}
	return NDX_OK;
}

static int read_obligation(struct ndx_policy *p, const json_t *list, char *err, size_t cap)
{
	static const char *const keys[] = { "action", "constraint", NULL };
	static const char *const ckeys[] = { "leftOperand", "operator", "rightOperand", "unit",
					     NULL };
	const json_t *r, *cs, *c;
	const char *action, *left, *op, *unit;
	int rc, k;

	if (!json_is_array(list) || json_array_size(list) > 1)
		return fail(err, cap, "obligation: expected an array of at most one duty");
	if (json_array_size(list) == 0)
		return NDX_OK;
	r = json_array_get(list, 0);
	if (!json_is_object(r))
		return fail(err, cap, "obligation[0]: expected an object");
	if ((rc = only_keys(r, "obligation[0]", keys, err, cap)))
		return rc;
	action = term(json_object_get(r, "action"));
	if (!action || strcmp(action, "compensate") != 0)
		return fail(err, cap, "obligation[0].action: the only duty is \"compensate\"");
	cs = json_object_get(r, "constraint");
	if (!json_is_array(cs) || json_array_size(cs) != 1 ||
	    !json_is_object(c = json_array_get(cs, 0)))
		return fail(err, cap, "obligation[0].constraint: expected one payAmount constraint");
	if ((rc = only_keys(c, "obligation[0].constraint[0]", ckeys, err, cap)))
		return rc;
	left = term(json_object_get(c, "leftOperand"));
	op = term(json_object_get(c, "operator"));
	unit = json_string_value(json_object_get(c, "unit"));
	if (!left || strcmp(left, "payAmount") != 0 || !op || strcmp(op, "eq") != 0)
		return fail(err, cap, "obligation[0].constraint[0]: expected payAmount eq");
	if (whole(json_object_get(c, "rightOperand"), 0, PRICE_MAX, &p->price))
		return fail(err, cap, "obligation[0].constraint[0].rightOperand: expected a whole "
			    "number of VND from 0 to %lld", PRICE_MAX);
	if (!unit || (k = index_of(unit, PRICE_UNITS, 3)) < 1)
		return fail(err, cap, "obligation[0].constraint[0].unit: expected ndx:VNDPerCall or "
			    "ndx:VNDPerMonth");
	p->price_unit = p->price ? (enum ndx_price_unit)k : NDX_PRICE_FREE;
	return NDX_OK;
}

int ndx_policy_from_odrl(const json_t *odrl, struct ndx_policy *out, char *err, size_t cap)
{
	static const char *const keys[] = { "@context", "@id", "@type", "target", "assigner",
					    "assignee", "timestamp", "permission", "prohibition",
					    "obligation", NULL };
	struct ndx_policy p;
	const json_t *v;
	int rc;

	assert(out != NULL);
	memset(&p, 0, sizeof p);
	p.classes = NDX_CLASS_ALL;
	p.methods = NDX_METHOD_GET | NDX_METHOD_HEAD;
	if (!json_is_object(odrl))
		return fail(err, cap, "the policy: expected an object");
	if ((rc = only_keys(odrl, "policy", keys, err, cap)))
		return rc;
	if (!(v = json_object_get(odrl, "permission")))
		return fail(err, cap, "permission: missing");
	if ((rc = read_permission(&p, v, err, cap)))
		return rc;
	if ((v = json_object_get(odrl, "prohibition")) && (rc = read_prohibition(&p, v, err, cap)))
		return rc;
	if ((v = json_object_get(odrl, "obligation")) && (rc = read_obligation(&p, v, err, cap)))
		return rc;
	if (p.classes == 0 || p.methods == 0)
		return fail(err, cap, "permission[0].constraint: an empty class or method list");
	*out = p;
	return NDX_OK;
}

static int add_constraint(json_t *cs, const char *left, const char *op, json_t *right,
			  const char *unit)
{
	json_t *c = json_pack("{sssssoss*}", "leftOperand", left, "operator", op, "rightOperand",
			      right, "unit", unit);
	return c ? json_array_append_new(cs, c) : -1;
}

/* An array of the names of the bits set in mask (names[i] for bit i). */
static json_t *name_list(unsigned mask, const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if ((mask & (1u << i)) && json_array_append_new(a, json_string(names[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *ndx_policy_to_odrl(const struct ndx_policy *p)
{
	json_t *out = json_object(), *cs = json_array(), *perm, *purposes;
	char days[32];
	int bad = !out || !cs;

	assert(p != NULL);
	if (!bad && p->npurposes) {
		purposes = json_array();
		for (size_t i = 0; purposes && i < p->npurposes; i++)
			json_array_append_new(purposes, json_string(p->purposes[i]));
		bad |= !purposes || add_constraint(cs, "purpose", "isAnyOf", purposes, NULL);
	}
	if (!bad && p->classes != NDX_CLASS_ALL)
		bad |= add_constraint(cs, "ndx:consumerClass", "isAnyOf",
				      name_list(p->classes, CLASS_NAMES, 3), NULL) != 0;
	if (!bad && p->methods != (NDX_METHOD_GET | NDX_METHOD_HEAD))
		bad |= add_constraint(cs, "ndx:method", "isAnyOf",
				      name_list(p->methods, METHOD_NAMES, 7), NULL) != 0;
	if (!bad && p->validity_days) {
		snprintf(days, sizeof days, "P%lldD", (long long)p->validity_days);
		bad |= add_constraint(cs, "elapsedTime", "lteq", json_string(days), NULL) != 0;
	}
	if (!bad && p->max_calls)
		bad |= add_constraint(cs, "count", "lteq", json_integer(p->max_calls),
				      PERIOD_UNITS[p->period]) != 0;
	if (!bad && p->max_age_s) {
		ndx_policy_age_text(p->max_age_s, days, sizeof days);
		bad |= add_constraint(cs, "ndx:dataAge", "lteq", json_string(days), NULL) != 0;
	}
	perm = bad ? NULL : json_pack("{ss}", "action", "use");
	if (perm && json_array_size(cs))
		json_object_set(perm, "constraint", cs);
	bad |= !perm || json_object_set_new(out, "permission", json_pack("[o]", perm)) != 0;
	if (!bad && p->no_onward_transfer)
		bad |= json_object_set_new(out, "prohibition",
					   json_pack("[{ss}]", "action", "distribute")) != 0;
	if (!bad && p->price && p->price_unit != NDX_PRICE_FREE)
		bad |= json_object_set_new(
			       out, "obligation",
			       json_pack("[{sss[{sssssIss}]}]", "action", "compensate", "constraint",
					 "leftOperand", "payAmount", "operator", "eq", "rightOperand",
					 (json_int_t)p->price, "unit", PRICE_UNITS[p->price_unit])) != 0;
	json_decref(cs);
	if (bad) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static bool has_purpose(const struct ndx_policy *p, const char *s)
{
	for (size_t i = 0; s && i < p->npurposes; i++)
		if (strcmp(p->purposes[i], s) == 0)
			return true;
	return false;
}

bool ndx_policy_equal(const struct ndx_policy *a, const struct ndx_policy *b)
{
	if (a->npurposes != b->npurposes || a->classes != b->classes || a->methods != b->methods ||
	    a->validity_days != b->validity_days || a->max_age_s != b->max_age_s ||
	    a->max_calls != b->max_calls ||
	    a->period != b->period || a->no_onward_transfer != b->no_onward_transfer ||
	    a->price != b->price || a->price_unit != b->price_unit)
		return false;
	for (size_t i = 0; i < a->npurposes; i++)
		if (!has_purpose(b, a->purposes[i]))
			return false;
	return true;
}

unsigned ndx_policy_class_of_member(const char *member_class)
{
	if (!member_class)
		return 0;
	if (strcmp(member_class, "GOV") == 0)
		return NDX_CLASS_STATE;
	if (strcmp(member_class, "COM") == 0)
		return NDX_CLASS_ENTERPRISE;
	if (strcmp(member_class, "ORG") == 0)
		return NDX_CLASS_RESEARCH;
	return 0;
}

const char *ndx_policy_class_name(unsigned cls)
{
	switch (cls) {
	case NDX_CLASS_STATE: return CLASS_NAMES[0];
	case NDX_CLASS_ENTERPRISE: return CLASS_NAMES[1];
	case NDX_CLASS_RESEARCH: return CLASS_NAMES[2];
	default: return NULL;
	}
}

const char *ndx_policy_period_name(enum ndx_policy_period period)
{
	switch (period) {
	case NDX_PERIOD_HOUR: return "PT1H";
	case NDX_PERIOD_DAY: return "P1D";
	case NDX_PERIOD_MONTH: return "P1M";
	default: return NULL;
	}
}

time_t ndx_policy_period_start(enum ndx_policy_period period, time_t now)
{
	struct tm tm;

	switch (period) {
	case NDX_PERIOD_HOUR: return now - now % 3600;
	case NDX_PERIOD_DAY: return now - now % 86400;
	case NDX_PERIOD_MONTH:
		if (!gmtime_r(&now, &tm))
			return now;
		tm.tm_mday = 1;
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		return timegm(&tm);
	default: return now;
	}
}

enum ndx_policy_verdict ndx_policy_check(const struct ndx_policy *p,
					 const struct ndx_policy_use *use)
{
	assert(p != NULL && use != NULL);
	if (use->not_after && use->now >= use->not_after)
		return NDX_POLICY_EXPIRED;
	if (p->npurposes && !has_purpose(p, use->purpose))
		return NDX_POLICY_PURPOSE;
	if (p->max_calls && use->calls_in_period >= p->max_calls)
		return NDX_POLICY_LIMIT;
	return NDX_POLICY_OK;
}

enum ndx_policy_answer ndx_policy_check_answer(const struct ndx_policy *p, long status,
					       time_t modified, time_t now)
{
	assert(p != NULL);
	if (!p->max_age_s || status < 200 || status > 299)
		return NDX_POLICY_ANSWER_OK;
	if (modified < 0)
		return NDX_POLICY_ANSWER_UNDATED;
	/* A Last-Modified ahead of the gateway's clock is age 0, not an
	 * error: the two clocks differ by seconds, and the data is new. */
	if (now > modified && (int64_t)(now - modified) > p->max_age_s)
		return NDX_POLICY_ANSWER_STALE;
	return NDX_POLICY_ANSWER_OK;
}
