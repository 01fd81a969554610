/* Unit tests of the gateway's reading of an exchange request
 * (src/gateway/reqfront.c): a valid request in canonical and wire forms,
 * and each refusal both ports answer before the configuration is
 * consulted, with its status, type, detail and message as the e2e tests
 * (tests/e2e/test_gateway.py, test_hardening.py) see them, in each port's
 * order of checks. Rules from X-Road's PR-REST (X-Road Message Protocol
 * for REST, nordic-institute/X-Road doc/Protocols) name their section. */
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
	assert_refusal(&ref, "Client.BadRequest", "/r2/VN/GOV/BTC/tax/taxpayers",
		       "unknown path: expected /r1/{serviceId}[/path]");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_refusal(&ref, "Client.BadRequest", "/r2/VN/GOV/BTC/tax/taxpayers",
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
		assert_refusal(&ref, "Client.BadRequest", gw_rf_header_name(h), msg);
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
		assert_refusal(&ref, "Client.InvalidClientIdentifier", NULL,
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
	assert_refusal(&ref, "Client.InvalidClientIdentifier", NULL, "X-Road-Client is not a member or subsystem id");
	/* The provider port parses it, and says why. */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.message, "X-Road-Client is not a member or subsystem id");
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
	set(&in, GW_RF_CLIENT, "VN/GOV");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.type, "Client.InvalidClientIdentifier");
	assert_string_equal(ref.message, "X-Road-Client is not a member or subsystem id");
	assert_string_equal(ref.detail,
			    "expected 3 parts (member id) or 4 parts (subsystem id), found 2");
	/* The consumer has not read the path yet; the provider has, and
	 * signs its refusal over it. */
	assert_null(rq.rest);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(rq.service, "VN/GOV/BTC/tax/taxpayers");
	assert_string_equal(rq.rest, "/x");
	assert_string_equal(rq.hdr[GW_RF_CLIENT], "VN/GOV");
	/* A service id as client: five parts is neither. */
	set(&in, GW_RF_CLIENT, "VN/GOV/BCA/population/citizens");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.detail,
			    "expected 3 parts (member id) or 4 parts (subsystem id), found 5");
	/* A bad part is named by the id parser. */
	set(&in, GW_RF_CLIENT, "VN/GOV/B A");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(ref.detail, "character ' ' is not allowed in part 3 (member code)");
}

static void test_service_malformed(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/VN/GOV/BTC/tax", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_string_equal(ref.type, "Client.BadRequest");
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
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_BAD_PATH);
		assert_refusal(&ref, "Client.BadRequest", NULL,
			       "the path or query holds a byte RFC 3986 does not allow there "
			       "(percent-encode it)");
	}
	/* The client is read by then on the consumer port. */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_PATH);
	assert_string_equal(rq.client, CLIENT);
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

/* PR-REST 4.1 and 4.3: "Including the subsystem code is OPTIONAL" in
 * X-Road-Client, so a member-level client (3 parts) is read on both
 * ports, in canonical and wire form. */
static void test_client_member(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH "/1", "");
	set(&in, GW_RF_CLIENT, "VN/GOV/M%4FF%3F");
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_ACCEPTED);
		assert_int_equal(rq.client_id.kind, NDX_ID_MEMBER);
		assert_string_equal(rq.client, "VN/GOV/MOF?");
		assert_string_equal(rq.client_wire, "VN/GOV/MOF%3F");
		assert_string_equal(rq.client_id.subsystem, "");
	}
	set(&in, GW_RF_CLIENT, CLIENT);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_int_equal(rq.client_id.kind, NDX_ID_SUBSYSTEM);
}

/* PR-REST 4.1: the service id in the path keeps its 5 parts. A service of
 * a member (4 parts) cannot be told from a service of a subsystem whose
 * path goes on, so, as X-Road's own RestRequest.decodeIdentifiers, the
 * gateway reads five: a 4-part service id alone is refused. */
static void test_service_member_level(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, "/r1/VN/GOV/BTC/taxpayers", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_SERVICE);
	assert_string_equal(ref.detail, "expected 5 parts (service id), found 4");
}

/* PR-REST 4.2: "maximum length of the request URI needs to be limited";
 * path and query (with the '?') up to GW_RF_URI_MAX bytes, 414 above. */
static void test_uri_too_long(void **state)
{
	static char path[GW_RF_URI_MAX + 2], query[GW_RF_URI_MAX];
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;
	size_t base = strlen(SERVICE_PATH "/");

	(void)state;
	memcpy(path, SERVICE_PATH "/", base);
	memset(path + base, 'a', GW_RF_URI_MAX - base);
	input(&in, path, "");
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++)
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_ACCEPTED);
	path[GW_RF_URI_MAX] = 'a';
	for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
		assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
				 GW_RF_URI_TOO_LONG);
		assert_int_equal(ref.status, 414);
		assert_string_equal(ref.type, "Client.BadRequest");
		assert_string_equal(ref.detail, "4097 bytes, at most 4096");
		assert_string_equal(ref.message, "the path and query are longer than 4096 bytes: "
						 "send large data in the body");
	}
	/* The consumer has read the client by then. */
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_URI_TOO_LONG);
	assert_string_equal(rq.client, CLIENT);
	/* The query counts, with its '?': 28 + 1 + 4067 = 4096. */
	memset(query, 'q', sizeof query - 1);
	query[GW_RF_URI_MAX - strlen(SERVICE_PATH) - 1] = '\0';
	input(&in, SERVICE_PATH, query);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	query[GW_RF_URI_MAX - strlen(SERVICE_PATH) - 1] = 'q';
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_URI_TOO_LONG);
	/* Even a service id that would not parse: the length comes first. */
	memset(path, 'x', GW_RF_URI_MAX + 1);
	memcpy(path, "/r1/", 4);
	input(&in, path, "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_URI_TOO_LONG);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_URI_TOO_LONG);
}

/* RFC 3986 5.2.4 removes "." and ".." segments (PR-REST 4.2: the URI
 * "MUST be strictly validated"); a provider system that does may serve a
 * path outside the service, so both ports refuse them, also as %2E and
 * between encoded separators a provider may decode. */
static void test_dot_segment(void **state)
{
	static const char *const refused[] = {
		"/.", "/..", "/a/../b", "/a/./b", "/%2e", "/%2E%2e", "/.%2E/x", "/a%2F..%2Fb",
		"/a%2f.", "/a%5C..", "/./",
	};
	static const char *const accepted[] = {
		"", "/", "/...", "/..a", "/a..", "/.well-known/x", "/%2e%2e%2e", "/a.b", "//",
	};
	char path[64];
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		snprintf(path, sizeof path, SERVICE_PATH "%s", refused[i]);
		input(&in, path, "a=..");
		for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
			assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
					 GW_RF_DOT_SEGMENT);
			assert_int_equal(ref.status, 400);
			assert_string_equal(ref.type, "Client.BadRequest");
			assert_string_equal(ref.detail, refused[i]);
			assert_string_equal(ref.message,
					    "the path holds a \".\" or \"..\" segment (also as %2E): "
					    "it could reach outside the service, so it is refused");
		}
		assert_true(gw_rf_has_dot_segment(refused[i]));
	}
	for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
		snprintf(path, sizeof path, SERVICE_PATH "%s", accepted[i]);
		input(&in, path, "");
		assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
		assert_false(gw_rf_has_dot_segment(accepted[i]));
	}
	assert_false(gw_rf_has_dot_segment(NULL));
	/* Bytes RFC 3986 does not allow are named first. */
	input(&in, SERVICE_PATH "/../a b", "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_PATH);
}

/* PR-REST 4.3: X-Road-Security-Server is
 * [X-Road instance]/[member class]/[member code]/[server code]; parts are
 * identifiers (4.8). Only the consumer gateway reads it. */
static void test_security_server(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_SECURITY_SERVER, "VN/GOV/B%54C/gw%3F1");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_string_equal(rq.security_server, "VN/GOV/BTC/gw?1");
	assert_string_equal(rq.security_server_member, "VN/GOV/BTC");
	assert_string_equal(rq.security_server_code, "gw?1");
	assert_ptr_equal(rq.hdr[GW_RF_SECURITY_SERVER], in.hdr[GW_RF_SECURITY_SERVER].v);
	/* The provider port neither reads nor refuses it. */
	set(&in, GW_RF_SECURITY_SERVER, "nonsense");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_ACCEPTED);
	assert_null(rq.hdr[GW_RF_SECURITY_SERVER]);
	assert_string_equal(rq.security_server, "");
	/* Absent: nothing pinned. */
	set(&in, GW_RF_SECURITY_SERVER, NULL);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_string_equal(rq.security_server, "");
	assert_string_equal(rq.security_server_member, "");
}

static void check_bad_security_server(const char *v, const char *detail)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	input(&in, SERVICE_PATH, "");
	set(&in, GW_RF_SECURITY_SERVER, v);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref),
			 GW_RF_BAD_SECURITY_SERVER);
	assert_refusal(&ref, "Client.BadRequest", detail,
		       "X-Road-Security-Server is not a security server id "
		       "(instance/class/member/server code)");
	assert_string_equal(rq.client, CLIENT);
	assert_string_equal(rq.security_server, "");
}

static void test_security_server_malformed(void **state)
{
	(void)state;
	check_bad_security_server("VN/GOV/BTC",
				  "expected 4 parts (instance/class/member/server code), found 3");
	check_bad_security_server("VN/GOV/BTC/population/gw1",
				  "expected 4 parts (instance/class/member/server code), found 5");
	check_bad_security_server("", "the value is empty");
	check_bad_security_server("VN/GOV/BTC/g w",
				  "character ' ' is not allowed in part 4 (server code)");
	check_bad_security_server("VN/GOV//gw1", "part 3 (member code) is empty");
	check_bad_security_server("VN/GOV/BTC/gw%2F1",
				  "character '/' is not allowed in part 4 (server code)");
}

/* PR-REST 4.3: X-Road-Represented-Party is [member class]/[member code],
 * "Including the member class is OPTIONAL"; read on both ports (it passes
 * through to the provider). */
static void test_represented_party(void **state)
{
	static const char *const ok[][2] = {
		{ "GOV/BTC", "GOV/BTC" },
		{ "BTC", "BTC" },
		{ "COM/0101%2B(x)", "COM/0101+(x)" },
		{ "%47OV/a", "GOV/a" },
	};
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		input(&in, SERVICE_PATH, "");
		set(&in, GW_RF_REPRESENTED_PARTY, ok[i][0]);
		for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
			assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
					 GW_RF_ACCEPTED);
			assert_string_equal(rq.represented_party, ok[i][1]);
			assert_ptr_equal(rq.hdr[GW_RF_REPRESENTED_PARTY], ok[i][0]);
		}
	}
	input(&in, SERVICE_PATH, "");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_ACCEPTED);
	assert_string_equal(rq.represented_party, "");
}

static void test_represented_party_malformed(void **state)
{
	static char long_code[NDX_ID_PART_MAX + 2];
	static const char *const bad[][2] = {
		{ "VN/GOV/BTC", "expected 1 or 2 parts ([member class/]member code), found 3" },
		{ "", "the member code is empty" },
		{ "/BTC", "the member class is empty" },
		{ "GOV/", "the member code is empty" },
		{ "GOV/B C", "character ' ' is not allowed in the member code" },
		{ "G%zzV/BTC", "the member class holds a bad percent-escape or a NUL" },
		{ "GOV/%00", "the member code holds a bad percent-escape or a NUL" },
		{ "GOV/B%C3%A0", "character 0xC3 is not allowed in the member code" },
		{ long_code, "the member code is longer than 64 characters" },
	};
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	memset(long_code, 'c', NDX_ID_PART_MAX + 1);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		input(&in, SERVICE_PATH, "");
		set(&in, GW_RF_REPRESENTED_PARTY, bad[i][0]);
		for (int p = GW_RF_CONSUMER; p <= GW_RF_PROVIDER; p++) {
			assert_int_equal(gw_reqfront_parse(&in, (enum gw_rf_port)p, &rq, &ref),
					 GW_RF_BAD_REPRESENTED_PARTY);
			assert_refusal(&ref, "Client.BadRequest", bad[i][1],
				       "X-Road-Represented-Party is not [member class/]member code");
			assert_string_equal(rq.represented_party, "");
		}
	}
}

/* The new checks, in each port's order. Consumer: client, URI length,
 * service, path bytes, dot segments, security server, represented party.
 * Provider: URI length, service, path bytes, dot segments, headers,
 * represented party, client. */
static void test_order_new_checks(void **state)
{
	struct gw_rf_input in;
	struct gw_rf_request rq;
	struct gw_rf_refusal ref;

	(void)state;
	input(&in, SERVICE_PATH "/..", "");
	set(&in, GW_RF_SECURITY_SERVER, "x");
	set(&in, GW_RF_REPRESENTED_PARTY, "a/b/c");
	set(&in, GW_RF_CLIENT, "x");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_DOT_SEGMENT);
	set(&in, GW_RF_CLIENT, CLIENT);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_DOT_SEGMENT);
	in.path = SERVICE_PATH;
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref),
			 GW_RF_BAD_SECURITY_SERVER);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref),
			 GW_RF_BAD_REPRESENTED_PARTY);
	set(&in, GW_RF_SECURITY_SERVER, NULL);
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref),
			 GW_RF_BAD_REPRESENTED_PARTY);
	/* On the provider port a bad client still comes with the party. */
	set(&in, GW_RF_REPRESENTED_PARTY, "GOV/BTC");
	set(&in, GW_RF_CLIENT, "x");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_PROVIDER, &rq, &ref), GW_RF_BAD_CLIENT);
	assert_string_equal(rq.represented_party, "GOV/BTC");
	/* Their bytes are checked with every header's, first. */
	set(&in, GW_RF_REPRESENTED_PARTY, "GOV/B\r\nX: 1");
	assert_int_equal(gw_reqfront_parse(&in, GW_RF_CONSUMER, &rq, &ref), GW_RF_BAD_HEADER);
	assert_string_equal(ref.detail, "X-Road-Represented-Party");
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
		cmocka_unit_test(test_client_member),
		cmocka_unit_test(test_service_member_level),
		cmocka_unit_test(test_uri_too_long),
		cmocka_unit_test(test_dot_segment),
		cmocka_unit_test(test_security_server),
		cmocka_unit_test(test_security_server_malformed),
		cmocka_unit_test(test_represented_party),
		cmocka_unit_test(test_represented_party_malformed),
		cmocka_unit_test(test_order_new_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
