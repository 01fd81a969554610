/* Unit tests for the provider gateway's check of marketplace agreements
 * (src/gateway/gw_agreement.c, docs/marketplace.md "At the gateway") on a
 * parsed configuration: an operator's grant is not metered; an agreement's
 * grant admits its maximum calls per period and refuses the next one with
 * AgreementLimitExceeded; a refused call is not counted; a new period
 * starts again from zero; each agreement has its own count; its purposes
 * and its end are enforced; its data-age limit refuses a stale or undated
 * 2xx answer and gives the call back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw_agreement.h"
#include "ndx/conf.h"
#include "ndx/err.h"

#define SVC "VN/GOV/BCA/pop/echo"

static const char DOC[] =
	"{\"format\":\"ndx-conf/1\",\"instance\":\"VN\",\"version\":1,"
	"\"generated_at\":\"2026-01-01T00:00:00Z\",\"expires_at\":\"2027-01-01T00:00:00Z\","
	"\"member_classes\":[\"GOV\",\"COM\"],"
	"\"members\":[{\"id\":\"VN/GOV/BCA\"},{\"id\":\"VN/GOV/BHXH\"},{\"id\":\"VN/COM/BANK\"}],"
	"\"subsystems\":[{\"id\":\"VN/GOV/BCA/pop\"},{\"id\":\"VN/GOV/BHXH/ins\"}],"
	"\"gateways\":[],"
	"\"services\":[{\"id\":\"" SVC "\",\"title\":\"echo\",\"personal\":false,\"purposes\":[],"
	"\"consent_required\":false,\"openapi_sha256\":null}],"
	"\"grants\":["
	"{\"client\":\"VN/GOV/BCA/pop\",\"service\":\"" SVC "\",\"methods\":[\"GET\"],\"paths\":[\"*\"]},"
	"{\"client\":\"VN/GOV/BHXH/ins\",\"service\":\"" SVC "\",\"methods\":[\"GET\"],\"paths\":[\"*\"],"
	"\"agreement\":\"urn:uuid:a1\",\"not_after\":\"2026-06-01T00:00:00Z\",\"policy\":"
	"{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"count\","
	"\"operator\":\"lteq\",\"rightOperand\":2,\"unit\":\"ndx:perHour\"},{\"leftOperand\":"
	"\"ndx:dataAge\",\"operator\":\"lteq\",\"rightOperand\":\"PT15M\"}]}]}},"
	"{\"client\":\"VN/COM/BANK\",\"service\":\"" SVC "\",\"methods\":[\"GET\"],\"paths\":[\"*\"],"
	"\"agreement\":\"urn:uuid:a2\",\"not_after\":null,\"policy\":"
	"{\"permission\":[{\"action\":\"use\",\"constraint\":[{\"leftOperand\":\"purpose\","
	"\"operator\":\"eq\",\"rightOperand\":\"kyc\"},{\"leftOperand\":\"count\","
	"\"operator\":\"lteq\",\"rightOperand\":1,\"unit\":\"ndx:perDay\"}]}]}}],"
	"\"revocations\":[],\"consent_services\":[]}";

/* 2026-03-01T10:00:00Z, inside a1's validity. */
#define T0 ((time_t)1772359200)

static int setup(void **state)
{
	struct ndx_conf *conf = NULL;
	char err[256];

	if (ndx_conf_parse((const uint8_t *)DOC, sizeof DOC - 1, &conf, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	gw_agreement_reset();
	*state = conf;
	return 0;
}

static int teardown(void **state)
{
	ndx_conf_free(*state);
	gw_agreement_reset();
	return 0;
}

static enum gw_reason admit(const struct ndx_conf *conf, const char *client, const char *purpose,
			    time_t now, char *msg)
{
	return gw_agreement_admit(NULL, conf, client, SVC, "GET", "/x", purpose, now, msg, 256);
}

static void test_limit_per_period(void **state)
{
	const struct ndx_conf *conf = *state;
	char msg[256] = "";

	/* An operator's grant carries no policy: never metered. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(admit(conf, "VN/GOV/BCA/pop", NULL, T0, msg), GW_R_COUNT);
	/* No grant at all is not this check's business (check_grant refuses). */
	assert_int_equal(admit(conf, "VN/GOV/BHXH", NULL, T0, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 10, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 20, msg), GW_R_AGREEMENT_LIMIT);
	assert_non_null(strstr(msg, "urn:uuid:a1"));
	assert_non_null(strstr(msg, "PT1H"));
	/* Still refused later in the same hour; the next hour starts again. */
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 3599, msg), GW_R_AGREEMENT_LIMIT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 3600, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 3601, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0 + 3602, msg), GW_R_AGREEMENT_LIMIT);
}

static void test_purpose_and_own_count(void **state)
{
	const struct ndx_conf *conf = *state;
	char msg[256] = "";

	/* A refused call is not counted: the one allowed call is still there. */
	assert_int_equal(admit(conf, "VN/COM/BANK", NULL, T0, msg), GW_R_AGREEMENT_PURPOSE);
	assert_int_equal(admit(conf, "VN/COM/BANK", "marketing", T0, msg), GW_R_AGREEMENT_PURPOSE);
	assert_non_null(strstr(msg, "marketing"));
	assert_int_equal(admit(conf, "VN/COM/BANK", "kyc", T0, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/COM/BANK", "kyc", T0 + 60, msg), GW_R_AGREEMENT_LIMIT);
	/* Another agreement's count is its own. */
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, T0, msg), GW_R_COUNT);
	/* The next UTC day. */
	assert_int_equal(admit(conf, "VN/COM/BANK", "kyc", T0 + 86400, msg), GW_R_COUNT);
}

static void test_end(void **state)
{
	const struct ndx_conf *conf = *state;
	char msg[256] = "";
	time_t end = 1780272000; /* 2026-06-01T00:00:00Z */

	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, end - 1, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, "VN/GOV/BHXH/ins", NULL, end, msg), GW_R_AGREEMENT_EXPIRED);
	assert_non_null(strstr(msg, "2026-06-01T00:00:00Z"));
}

/* a1 admits data no older than 15 minutes; T0 is Sun, 01 Mar 2026 10:00:00. */
static void test_data_age(void **state)
{
	const struct ndx_conf *conf = *state;
	const char *ins = "VN/GOV/BHXH/ins";
	char msg[256] = "";

	/* An operator's grant and an agreement without a limit: any answer. */
	assert_int_equal(gw_agreement_check_answer(NULL, conf, "VN/GOV/BCA/pop", SVC, "GET", "/x", 200,
						   NULL, T0, msg, sizeof msg), GW_R_COUNT);
	assert_int_equal(gw_agreement_check_answer(NULL, conf, "VN/COM/BANK", SVC, "GET", "/x", 200,
						   NULL, T0, msg, sizeof msg), GW_R_COUNT);
	/* Fresh: 15 minutes old exactly. */
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 200,
						   "Sun, 01 Mar 2026 09:45:00 GMT", T0, msg,
						   sizeof msg), GW_R_COUNT);
	/* An error answer carries no data. */
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 404, NULL, T0, msg,
						   sizeof msg), GW_R_COUNT);
	/* One second older: refused, the time said. */
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 200,
						   "Sun, 01 Mar 2026 09:44:59 GMT", T0, msg,
						   sizeof msg), GW_R_AGREEMENT_DATA_AGE);
	assert_non_null(strstr(msg, "no older than PT15M"));
	assert_non_null(strstr(msg, "2026-03-01T09:44:59Z"));
	/* Undated, or not an HTTP date: refused, each said. */
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 200, NULL, T0, msg,
						   sizeof msg), GW_R_AGREEMENT_DATA_AGE);
	assert_non_null(strstr(msg, "no Last-Modified"));
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 200,
						   "2026-03-01T09:59:00Z", T0, msg, sizeof msg),
			 GW_R_AGREEMENT_DATA_AGE);
	assert_non_null(strstr(msg, "not an HTTP date"));
}

/* An answer refused for its age is not a use: its call is given back. */
static void test_data_age_gives_the_call_back(void **state)
{
	const struct ndx_conf *conf = *state;
	const char *ins = "VN/GOV/BHXH/ins";
	char msg[256] = "";

	assert_int_equal(admit(conf, ins, NULL, T0, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, ins, NULL, T0, msg), GW_R_COUNT);
	assert_int_equal(gw_agreement_check_answer(NULL, conf, ins, SVC, "GET", "/x", 200,
						   "Sun, 01 Mar 2026 08:00:00 GMT", T0, msg,
						   sizeof msg), GW_R_AGREEMENT_DATA_AGE);
	assert_int_equal(admit(conf, ins, NULL, T0, msg), GW_R_COUNT);
	assert_int_equal(admit(conf, ins, NULL, T0, msg), GW_R_AGREEMENT_LIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limit_per_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purpose_and_own_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_age_gives_the_call_back, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
