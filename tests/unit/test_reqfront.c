/* Unit tests of the gateway's reading of an exchange request
 * (src/gateway/reqfront.c): a valid request in canonical and wire forms,
 * and each refusal both ports answer before the configuration is
 * consulted, with its status, type, detail and message as the e2e tests
 * (tests/e2e/test_gateway.py, test_hardening.py) see them, in each port's
 * order of checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reqfront.h"

#define SERVICE_PATH "/r1/VN/GOV/BTC/tax/taxpayers"
#define CLIENT "VN/GOV/BCA/population"

static void set(struct gw_rf_input *in, enum gw_rf_header h, const char *v)
{
	in->hdr[h].v = v;
	in->hdr[h].len = v ? strlen(v) : 0;
}

static void input(struct gw_rf_input *in, const char *path, const char *query)
{
	memset(in, 0, sizeof *in);
	in->path = path;
	in->query = query;
	set(in, GW_RF_CLIENT, CLIENT);
	set(in, GW_RF_ID, "msg-1");
	set(in, GW_RF_ACCEPT, "application/json");
}

static void assert_refusal(const struct gw_rf_refusal *ref, const char *type, const char *detail,
			   const char *message)
{
	assert_int_equal(ref->status, 400);
	assert_string_equal(ref->type, type);
	if (detail)
		assert_string_equal(ref->detail, detail);
	else
		assert_null(ref->detail);
	assert_string_equal(ref->message, message);
}

static void test_valid_request(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH "/123/history", "limit=10&from=2025-01-01");
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_ACCEPTED);
		assert_string_equal(rq.client, CLIENT);
		assert_string_equal(rq.client_wire, CLIENT);
		assert_string_equal(rq.service, "VN/GOV/BTC/tax/taxpayers");
		assert_string_equal(rq.rest, "/123/history");
		assert_ptr_equal(rq.rest, in.path + strlen(SERVICE_PATH));
		assert_ptr_equal(rq.query, in.query);
		assert_ptr_equal(rq.hdr[GW_RF_ID], in.hdr[GW_RF_ID].v);
		assert_string_equal(rq.hdr[GW_RF_ACCEPT], "application/json");
		assert_null(rq.hdr[GW_RF_CONSENT]);
	}
}

static void test_valid_encoded_ids(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/VN/GOV/B%54C/t%61x/tax%2Bpayers", "");
	set(&in, GW_RF_CLIENT, "VN/GOV/BCA/p%6Fp?(1)");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_string_equal(rq.service, "VN/GOV/BTC/tax/tax+payers");
	/* The wire form escapes only what a path part cannot hold. */
	assert_string_equal(rq.service_wire, "VN/GOV/BTC/tax/tax+payers");
	assert_string_equal(rq.client, "VN/GOV/BCA/pop?(1)");
	assert_string_equal(rq.client_wire, "VN/GOV/BCA/pop%3F(1)");
	assert_string_equal(rq.rest, "");
}

static void test_not_r1(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r2/VN/GOV/BTC/tax/taxpayers", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_NOT_EXCHANGE);
	assert_refusal(&ref, "Client.InvalidRequest", "/r2/VN/GOV/BTC/tax/taxpayers",
		       "unknown path: expected /r1/{serviceId}[/path]");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_refusal(&ref, "Client.InvalidRequest", "/r2/VN/GOV/BTC/tax/taxpayers",
		       "expected /r1/{serviceId}[/path]");
}

static void check_bad_header(enum gw_rf_header h, const char *value, size_t len)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;
	char msg[160];

	input(&in, SERVICE_PATH, "");
	in.hdr[h].v = value;
	in.hdr[h].len = len;
	snprintf(msg, sizeof msg, "header %s contains CR or LF or is longer than 1024 bytes",
		 gw_rf_header_name(h));
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_BAD_HEADER);
		assert_refusal(&ref, "Client.InvalidRequest", gw_rf_header_name(h), msg);
		assert_null(rq.hdr[GW_RF_CLIENT]);
	}
}

static void test_header_cr(void **state)
{
	(void)state;
	check_bad_header(GW_RF_USER_ID, "u\rX", 3);
}

static void test_header_lf(void **state)
{
	(void)state;
	check_bad_header(GW_RF_CLIENT, "VN/GOV/BCA/population\nX-Evil: 1", 32);
}

static void test_header_nul(void **state)
{
	(void)state;
	check_bad_header(GW_RF_PURPOSE, "treat\0ment", 10);
}

static void test_header_too_long(void **state)
{
	static char v[GW_RF_HEADER_MAX + 2];
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	memset(v, 'i', GW_RF_HEADER_MAX);
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_ISSUE, v); /* exactly the cap: accepted */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	v[GW_RF_HEADER_MAX] = 'i';
	check_bad_header(GW_RF_ISSUE, v, GW_RF_HEADER_MAX + 1);
}

/* The first bad header in the fixed order is named. */
static void test_header_first_named(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_ACCEPT_LANGUAGE, "vi\r\n");
	set(&in, GW_RF_SUBJECT, "1\n");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_HEADER);
	assert_string_equal(ref.detail, "Ndx-Subject");
}

/* The consumer gateway writes Ndx-Timestamp and Ndx-Gateway itself, so
 * only the provider port reads (and refuses) what came in them. */
static void test_header_provider_only(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_GATEWAY, "VN/GOV/BCA/gw1\r\n");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_null(rq.hdr[GW_RF_GATEWAY]);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_HEADER);
	assert_string_equal(ref.detail, "Ndx-Gateway");
}

static void test_client_missing(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_CLIENT, NULL);
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_BAD_CLIENT);
		assert_refusal(&ref, "Client.InvalidClient", NULL,
			       "the X-Road-Client header is missing");
	}
}

static void test_client_empty(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_CLIENT, "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_refusal(&ref, "Client.InvalidClient", NULL, "X-Road-Client is not a subsystem id");
	/* The provider port parses it, and says why. */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.message, "X-Road-Client is not a subsystem id");
	assert_non_null(ref.detail);
	assert_ptr_equal(ref.detail, ref.why);
}

static void test_client_not_subsystem(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH "/x", "");
	set(&in, GW_RF_CLIENT, "VN/GOV/BCA");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.type, "Client.InvalidClient");
	assert_string_equal(ref.message, "X-Road-Client is not a subsystem id");
	assert_string_equal(ref.detail, "expected 4 parts (subsystem id), found 3");
	/* The consumer has not read the path yet; the provider has, and
	 * signs its refusal over it. */
	assert_null(rq.rest);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(rq.service, "VN/GOV/BTC/tax/taxpayers");
	assert_string_equal(rq.rest, "/x");
	assert_string_equal(rq.hdr[GW_RF_CLIENT], "VN/GOV/BCA");
}

static void test_service_malformed(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/VN/GOV/BTC/tax", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_string_equal(ref.type, "Client.InvalidRequest");
	assert_string_equal(ref.message, "malformed service id in the path");
	assert_non_null(ref.detail);
	assert_ptr_equal(ref.detail, ref.why);
	/* The client is read by then: consumer.c checks it against the
	 * configuration before it answers this. */
	assert_string_equal(rq.client, CLIENT);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_string_equal(ref.message, "expected /r1/{serviceId}[/path]");
	assert_ptr_equal(ref.detail, ref.why);
}

static void test_service_bad_char(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/VN/GOV/BTC/tax/tax payers", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_string_equal(ref.message, "malformed service id in the path");
	assert_string_equal(ref.detail, "character ' ' is not allowed in part 5 (service code)");
}

static void check_uri_refused(const char *path, const char *query)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	input(&in, path, query);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_refusal(&ref, "Client.InvalidRequest", NULL,
		       "the path or query holds a byte RFC 3986 does not allow there "
		       "(percent-encode it)");
	/* The provider port leaves this check to the consumer gateway. */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_ACCEPTED);
}

static void test_rest_raw_utf8(void **state)
{
	(void)state;
	check_uri_refused(SERVICE_PATH "/H\xc3\xa0 N\xe1\xbb\x99i", "");
}

static void test_rest_space(void **state)
{
	(void)state;
	check_uri_refused(SERVICE_PATH "/a b", "");
}

static void test_query_raw_byte(void **state)
{
	(void)state;
	check_uri_refused(SERVICE_PATH, "name=\xff");
	check_uri_refused(SERVICE_PATH, "a=b\"c");
}

static void test_uri_chars(void **state)
{
	(void)state;
	assert_true(gw_rf_uri_chars_ok("/a%2F..%2F/b;c=d@e:f!$&'()*+,~_-.", false));
	assert_true(gw_rf_uri_chars_ok("a=b?c/d", true));
	assert_false(gw_rf_uri_chars_ok("/a?b", false));
	assert_false(gw_rf_uri_chars_ok("/a#b", false));
	assert_false(gw_rf_uri_chars_ok("a=[1]", true));
	assert_true(gw_rf_uri_chars_ok(NULL, false));
	assert_true(gw_rf_uri_chars_ok("", true));
}

/* Consumer: headers before the client before the service; provider:
 * service before headers before the client. */
static void test_order(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/bad", "");
	set(&in, GW_RF_CLIENT, NULL);
	set(&in, GW_RF_USER_ID, "\n");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_HEADER);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_SERVICE);
	set(&in, GW_RF_USER_ID, NULL);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	in.path = SERVICE_PATH;
	set(&in, GW_RF_USER_ID, "\n");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_HEADER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_request),
		cmocka_unit_test(test_valid_encoded_ids),
		cmocka_unit_test(test_not_r1),
		cmocka_unit_test(test_header_cr),
		cmocka_unit_test(test_header_lf),
		cmocka_unit_test(test_header_nul),
		cmocka_unit_test(test_header_too_long),
		cmocka_unit_test(test_header_first_named),
		cmocka_unit_test(test_header_provider_only),
		cmocka_unit_test(test_client_missing),
		cmocka_unit_test(test_client_empty),
		cmocka_unit_test(test_client_not_subsystem),
		cmocka_unit_test(test_service_malformed),
		cmocka_unit_test(test_service_bad_char),
		cmocka_unit_test(test_rest_raw_utf8),
		cmocka_unit_test(test_rest_space),
		cmocka_unit_test(test_query_raw_byte),
		cmocka_unit_test(test_uri_chars),
		cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
