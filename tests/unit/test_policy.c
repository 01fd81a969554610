/* Unit tests for include/ndx/policy.h, the marketplace's ODRL subset
 * (docs/marketplace.md "The ODRL subset"): every construct read, written
 * back canonically and read again to the same policy; each construct
 * outside the subset refused with a message naming it; the evaluation at
 * an exchange (end, purposes, maximum calls per period) and the periods'
 * boundaries. The documents are ODRL 2.2 as the Dataspace Protocol 2025-1
 * examples write it (compact terms, "action": "use", constraint objects). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ndx/err.h"
#include "ndx/policy.h"
#include "ndx/timefmt.h"

static const char FULL[] =
	"{\"@id\":\"urn:uuid:1\",\"@type\":\"Offer\",\"target\":\"urn:uuid:ds\","
	"\"permission\":[{\"action\":\"use\",\"constraint\":["
	"{\"leftOperand\":\"purpose\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"kyc\",\"credit-check\"]},"
	"{\"leftOperand\":\"ndx:consumerClass\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"state\",\"enterprise\"]},"
	"{\"leftOperand\":\"ndx:method\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"GET\",\"POST\"]},"
	"{\"leftOperand\":\"elapsedTime\",\"operator\":\"lteq\",\"rightOperand\":\"P90D\"},"
	"{\"leftOperand\":\"count\",\"operator\":\"lteq\",\"rightOperand\":1000,\"unit\":\"ndx:perDay\"},"
	"{\"leftOperand\":\"ndx:dataAge\",\"operator\":\"lteq\",\"rightOperand\":\"PT90M\"}]}],"
	"\"prohibition\":[{\"action\":\"distribute\"}],"
	"\"obligation\":[{\"action\":\"compensate\",\"constraint\":[{\"leftOperand\":\"payAmount\","
	"\"operator\":\"eq\",\"rightOperand\":500,\"unit\":\"ndx:VNDPerCall\"}]}]}";

static int parse(const char *text, struct ndx_policy *p, char *err, size_t cap)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(doc);
	rc = ndx_policy_from_odrl(doc, p, err, cap);
	json_decref(doc);
	return rc;
}

static void test_full_policy(void **state)
{
	struct ndx_policy p, q;
	char err[256] = "";
	json_t *canon;

	(void)state;
	assert_int_equal(parse(FULL, &p, err, sizeof err), NDX_OK);
	assert_int_equal(p.npurposes, 2);
	assert_string_equal(p.purposes[1], "credit-check");
	assert_int_equal(p.classes, NDX_CLASS_STATE | NDX_CLASS_ENTERPRISE);
	assert_int_equal(p.methods, NDX_METHOD_GET | NDX_METHOD_POST);
	assert_int_equal(p.validity_days, 90);
	assert_int_equal(p.max_calls, 1000);
	assert_int_equal(p.period, NDX_PERIOD_DAY);
	assert_int_equal(p.max_age_s, 90 * 60);
	assert_true(p.no_onward_transfer);
	assert_int_equal(p.price, 500);
	assert_int_equal(p.price_unit, NDX_PRICE_PER_CALL);
	/* Written back and read again: the same policy. */
	canon = ndx_policy_to_odrl(&p);
	assert_non_null(canon);
	assert_int_equal(ndx_policy_from_odrl(canon, &q, err, sizeof err), NDX_OK);
	assert_true(ndx_policy_equal(&p, &q));
	json_decref(canon);
}

static void test_defaults_and_minimal(void **state)
{
	struct ndx_policy p;
	char err[256];
	json_t *canon;

	(void)state;
	/* DSP 2025-1 contract-request-message_initial.json's permission. */
	assert_int_equal(parse("{\"permission\":[{\"action\":\"use\"}]}", &p, err, sizeof err),
			 NDX_OK);
	assert_int_equal(p.npurposes, 0);
	assert_int_equal(p.classes, NDX_CLASS_ALL);
	assert_int_equal(p.methods, NDX_METHOD_GET | NDX_METHOD_HEAD);
	assert_int_equal(p.max_calls, 0);
	assert_int_equal(p.period, NDX_PERIOD_NONE);
	assert_int_equal(p.max_age_s, 0);
	assert_false(p.no_onward_transfer);
	assert_int_equal(p.price_unit, NDX_PRICE_FREE);
	/* The canonical form of no constraint is no constraint property. */
	canon = ndx_policy_to_odrl(&p);
	assert_non_null(canon);
	assert_null(json_object_get(json_array_get(json_object_get(canon, "permission"), 0),
				    "constraint"));
	assert_null(json_object_get(canon, "prohibition"));
	assert_null(json_object_get(canon, "obligation"));
	json_decref(canon);
	/* "odrl:" prefixes, eq with one value, a count as a string, a zero price. */
	assert_int_equal(parse("{\"permission\":[{\"action\":\"odrl:use\",\"constraint\":["
			       "{\"leftOperand\":\"odrl:purpose\",\"operator\":\"odrl:eq\","
			       "\"rightOperand\":\"statistics\"},{\"leftOperand\":\"count\","
			       "\"operator\":\"lteq\",\"rightOperand\":\"12\",\"unit\":\"ndx:perMonth\"}]}],"
			       "\"obligation\":[{\"action\":\"compensate\",\"constraint\":[{"
			       "\"leftOperand\":\"payAmount\",\"operator\":\"eq\",\"rightOperand\":0,"
			       "\"unit\":\"ndx:VNDPerMonth\"}]}]}", &p, err, sizeof err), NDX_OK);
	assert_int_equal(p.npurposes, 1);
	assert_int_equal(p.max_calls, 12);
	assert_int_equal(p.period, NDX_PERIOD_MONTH);
	assert_int_equal(p.price, 0);
	assert_int_equal(p.price_unit, NDX_PRICE_FREE);
}

/* Each case: a document outside the subset, and a word its error names. */
static void test_outside_the_subset(void **state)
{
	static const struct {
		const char *doc, *names;
	} cases[] = {
		{ "[]", "expected an object" },
		{ "{}", "permission: missing" },
		{ "{\"permission\":[]}", "exactly one" },
		{ "{\"permission\":[{\"action\":\"use\"},{\"action\":\"use\"}]}", "exactly one" },
		{ "{\"permission\":[{\"action\":\"display\"}]}", "action" },
		{ "{\"permission\":[{\"action\":\"use\",\"target\":\"x\"}]}", "target" },
		{ "{\"permission\":[{\"action\":\"use\"}],\"profile\":\"x\"}", "profile" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"spatial\","
		  "\"operator\":\"eq\",\"rightOperand\":\"EU\"}]}]}", "leftOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
		  "\"operator\":\"neq\",\"rightOperand\":\"x\"}]}]}", "isAnyOf" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
		  "\"operator\":\"isAnyOf\",\"rightOperand\":[\"Bad Purpose\"]}]}]}", "purpose" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
		  "\"operator\":\"isAnyOf\",\"rightOperand\":[\"a\",\"a\"]}]}]}", "twice" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
		  "\"operator\":\"eq\",\"rightOperand\":\"a\"},{\"leftOperand\":\"purpose\","
		  "\"operator\":\"eq\",\"rightOperand\":\"b\"}]}]}", "second" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":"
		  "\"ndx:consumerClass\",\"operator\":\"isAnyOf\",\"rightOperand\":[\"citizen\"]}]}]}",
		  "state" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:method\","
		  "\"operator\":\"eq\",\"rightOperand\":\"TRACE\"}]}]}", "HTTP method" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"elapsedTime\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT5H\"}]}]}", "days" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"elapsedTime\","
		  "\"operator\":\"gteq\",\"rightOperand\":\"P5D\"}]}]}", "lteq" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"count\","
		  "\"operator\":\"lteq\",\"rightOperand\":0,\"unit\":\"ndx:perDay\"}]}]}", "whole number" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"count\","
		  "\"operator\":\"lteq\",\"rightOperand\":10}]}]}", "unit" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
		  "\"operator\":\"eq\",\"rightOperand\":\"a\",\"unit\":\"x\"}]}]}", "unit" },
		/* ndx:dataAge: a duration of one component, lteq, no unit */
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"P1DT2H\"}]}]}",
		  "permission[0].constraint[0].rightOperand: expected the data's greatest age" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT0S\"}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT015M\"}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"P2H\"}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT5D\"}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"P36501D\"}]}]}", "at most 36500 days" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":3600}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"-PT5M\"}]}]}", "rightOperand" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"gteq\",\"rightOperand\":\"PT5M\"}]}]}", "takes lteq" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT5M\",\"unit\":\"ndx:perDay\"}]}]}",
		  "only a count" },
		{ "{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT5M\"},{\"leftOperand\":\"ndx:dataAge\","
		  "\"operator\":\"lteq\",\"rightOperand\":\"PT6M\"}]}]}", "second ndx:dataAge" },
		{ "{\"permission\":[{\"action\":\"use\"}],\"prohibition\":[{\"action\":\"use\"}]}",
		  "distribute" },
		{ "{\"permission\":[{\"action\":\"use\"}],\"obligation\":[{\"action\":\"delete\"}]}",
		  "compensate" },
		{ "{\"permission\":[{\"action\":\"use\"}],\"obligation\":[{\"action\":\"compensate\","
		  "\"constraint\":[{\"leftOperand\":\"payAmount\",\"operator\":\"eq\","
		  "\"rightOperand\":-5,\"unit\":\"ndx:VNDPerCall\"}]}]}", "VND" },
		{ "{\"permission\":[{\"action\":\"use\"}],\"obligation\":[{\"action\":\"compensate\","
		  "\"constraint\":[{\"leftOperand\":\"payAmount\",\"operator\":\"eq\","
		  "\"rightOperand\":5,\"unit\":\"EUR\"}]}]}", "unit" },
	};
	struct ndx_policy p;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *doc = json_loads(cases[i].doc, JSON_DECODE_ANY, NULL);
		err[0] = '\0';
		assert_non_null(doc);
		if (ndx_policy_from_odrl(doc, &p, err, sizeof err) != NDX_EINVAL ||
		    !strstr(err, cases[i].names))
			fail_msg("case %zu (%s): got \"%s\"", i, cases[i].doc, err);
		json_decref(doc);
	}
}

static void test_equal_compares_purposes_as_sets(void **state)
{
	struct ndx_policy a, b;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"permission\":[{\"action\":\"use\",\"constraint\":[{"
			       "\"leftOperand\":\"purpose\",\"operator\":\"isAnyOf\","
			       "\"rightOperand\":[\"a\",\"b\"]}]}]}", &a, err, sizeof err), NDX_OK);
	assert_int_equal(parse("{\"permission\":[{\"action\":\"use\",\"constraint\":[{"
			       "\"leftOperand\":\"purpose\",\"operator\":\"isAnyOf\","
			       "\"rightOperand\":[\"b\",\"a\"]}]}]}", &b, err, sizeof err), NDX_OK);
	assert_true(ndx_policy_equal(&a, &b));
	b.max_calls = 1;
	b.period = NDX_PERIOD_HOUR;
	assert_false(ndx_policy_equal(&a, &b));
}

static void test_check(void **state)
{
	struct ndx_policy p;
	char err[256];
	time_t now = 1800000000;
	struct ndx_policy_use use = { .purpose = "kyc", .now = now };

	(void)state;
	assert_int_equal(parse(FULL, &p, err, sizeof err), NDX_OK);
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_OK);
	use.calls_in_period = 999;
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_OK);
	use.calls_in_period = 1000; /* the 1001st call of the day */
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_LIMIT);
	use.calls_in_period = 0;
	use.purpose = "marketing";
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_PURPOSE);
	use.purpose = NULL;
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_PURPOSE);
	use.purpose = "kyc";
	use.not_after = now + 1;
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_OK);
	use.not_after = now; /* the end is not inside the agreement */
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_EXPIRED);
	/* No purposes, no maximum: anything goes until the end. */
	assert_int_equal(parse("{\"permission\":[{\"action\":\"use\"}]}", &p, err, sizeof err),
			 NDX_OK);
	use = (struct ndx_policy_use){ .now = now, .calls_in_period = 1000000 };
	assert_int_equal(ndx_policy_check(&p, &use), NDX_POLICY_OK);
}

/* ndx:dataAge: each form read to seconds and written back in the largest
 * unit that divides it; the answer check on 2xx answers only. */
static void test_data_age(void **state)
{
	static const struct {
		const char *in;
		int64_t seconds;
		const char *canon;
	} cases[] = {
		{ "PT30S", 30, "PT30S" },   { "PT120S", 120, "PT2M" }, { "PT15M", 900, "PT15M" },
		{ "PT90M", 5400, "PT90M" }, { "PT48H", 172800, "P2D" }, { "P1D", 86400, "P1D" },
		{ "P36500D", 36500LL * 86400, "P36500D" },
	};
	struct ndx_policy p;
	char err[256], doc[512], text[32];
	time_t now = 1796000000;
	json_t *canon;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(doc, sizeof doc, "{\"permission\":[{\"action\":\"use\",\"constraint\":["
			 "{\"leftOperand\":\"odrl:ndx:dataAge\",\"operator\":\"odrl:lteq\","
			 "\"rightOperand\":\"%s\"}]}]}", cases[i].in);
		if (parse(doc, &p, err, sizeof err) != NDX_OK || p.max_age_s != cases[i].seconds)
			fail_msg("%s: %s, %lld", cases[i].in, err, (long long)p.max_age_s);
		ndx_policy_age_text(p.max_age_s, text, sizeof text);
		assert_string_equal(text, cases[i].canon);
		canon = ndx_policy_to_odrl(&p);
		assert_non_null(canon);
		assert_string_equal(
			json_string_value(json_object_get(
				json_array_get(json_object_get(json_array_get(json_object_get(
								       canon, "permission"), 0),
							       "constraint"), 0),
				"rightOperand")),
			cases[i].canon);
		json_decref(canon);
	}
	/* A limit of 15 minutes. */
	assert_int_equal(parse("{\"permission\":[{\"action\":\"use\",\"constraint\":["
			       "{\"leftOperand\":\"ndx:dataAge\",\"operator\":\"lteq\","
			       "\"rightOperand\":\"PT15M\"}]}]}", &p, err, sizeof err), NDX_OK);
	assert_int_equal(ndx_policy_check_answer(&p, 200, now - 900, now), NDX_POLICY_ANSWER_OK);
	assert_int_equal(ndx_policy_check_answer(&p, 200, now - 901, now),
			 NDX_POLICY_ANSWER_STALE);
	assert_int_equal(ndx_policy_check_answer(&p, 204, now + 30, now), NDX_POLICY_ANSWER_OK);
	assert_int_equal(ndx_policy_check_answer(&p, 200, -1, now), NDX_POLICY_ANSWER_UNDATED);
	/* An error answer carries no data: not checked. */
	assert_int_equal(ndx_policy_check_answer(&p, 404, -1, now), NDX_POLICY_ANSWER_OK);
	assert_int_equal(ndx_policy_check_answer(&p, 500, now - 99999, now),
			 NDX_POLICY_ANSWER_OK);
	/* Two policies that differ only in the limit are not the same. */
	{
		struct ndx_policy q = p;
		q.max_age_s = 901;
		assert_false(ndx_policy_equal(&p, &q));
		q.max_age_s = 0;
		assert_int_equal(ndx_policy_check_answer(&q, 200, -1, now), NDX_POLICY_ANSWER_OK);
	}
}

static void test_periods(void **state)
{
	time_t t, start;

	(void)state;
	assert_int_equal(ndx_time_parse("2026-12-03T14:23:45Z", &t), NDX_OK);
	assert_int_equal(ndx_time_parse("2026-12-03T14:00:00Z", &start), NDX_OK);
	assert_int_equal(ndx_policy_period_start(NDX_PERIOD_HOUR, t), start);
	assert_int_equal(ndx_time_parse("2026-12-03T00:00:00Z", &start), NDX_OK);
	assert_int_equal(ndx_policy_period_start(NDX_PERIOD_DAY, t), start);
	assert_int_equal(ndx_time_parse("2026-12-01T00:00:00Z", &start), NDX_OK);
	assert_int_equal(ndx_policy_period_start(NDX_PERIOD_MONTH, t), start);
	/* The first second of a month is its own start. */
	assert_int_equal(ndx_policy_period_start(NDX_PERIOD_MONTH, start), start);
	assert_int_equal(ndx_policy_period_start(NDX_PERIOD_NONE, t), t);
	assert_string_equal(ndx_policy_period_name(NDX_PERIOD_DAY), "P1D");
	assert_null(ndx_policy_period_name(NDX_PERIOD_NONE));
}

static void test_classes(void **state)
{
	(void)state;
	assert_int_equal(ndx_policy_class_of_member("GOV"), NDX_CLASS_STATE);
	assert_int_equal(ndx_policy_class_of_member("COM"), NDX_CLASS_ENTERPRISE);
	assert_int_equal(ndx_policy_class_of_member("ORG"), NDX_CLASS_RESEARCH);
	assert_int_equal(ndx_policy_class_of_member("XYZ"), 0);
	assert_int_equal(ndx_policy_class_of_member(NULL), 0);
	assert_string_equal(ndx_policy_class_name(NDX_CLASS_ENTERPRISE), "enterprise");
	assert_null(ndx_policy_class_name(NDX_CLASS_ALL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_policy),
		cmocka_unit_test(test_defaults_and_minimal),
		cmocka_unit_test(test_outside_the_subset),
		cmocka_unit_test(test_equal_compares_purposes_as_sets),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_data_age),
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
