/* The gateway's refusals (src/gateway/errors.c): PR-REST 4.6's types,
 * statuses and bodies, Accept, and bytes that must not break a body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "errors.h"

static void test_types_by_side(void **state)
{
	(void)state;
	/* PR-REST 4.6: Client.* for the information system's request,
	 * Server.ClientProxy.* / Server.ServerProxy.* by the refusing side. */
	assert_string_equal(gw_reason_type(GW_R_BAD_PATH, GW_SIDE_CONSUMER), "Client.BadRequest");
	assert_string_equal(gw_reason_type(GW_R_BAD_PATH, GW_SIDE_PROVIDER), "Client.BadRequest");
	assert_string_equal(gw_reason_type(GW_R_NO_GRANT, GW_SIDE_CONSUMER),
			    "Server.ClientProxy.AccessDenied");
	assert_string_equal(gw_reason_type(GW_R_NO_GRANT, GW_SIDE_PROVIDER),
			    "Server.ServerProxy.AccessDenied");
	assert_string_equal(gw_reason_type(GW_R_INVALID_CLIENT, GW_SIDE_CONSUMER),
			    "Client.InvalidClientIdentifier");
	/* Out of range is an internal error, never a crash. */
	assert_string_equal(gw_reason_type((enum gw_reason)9999, GW_SIDE_PROVIDER),
			    "Server.ServerProxy.InternalError");
	assert_null(gw_reason_info((enum gw_reason)9999));
}

static void test_every_row_keeps_the_rules(void **state)
{
	(void)state;
	for (int r = 0; r < GW_R_COUNT; r++) {
		const struct gw_reason_info *ri = gw_reason_info((enum gw_reason)r);

		assert_non_null(ri);
		assert_non_null(ri->reason);
		assert_non_null(ri->code);
		assert_non_null(ri->when);
		assert_int_equal(gw_reason_by_name(ri->reason), r);
		if (ri->class == GW_ERR_CLIENT)
			assert_true(ri->status >= 400 && ri->status < 500 && ri->callers_fault);
		else /* 503 only for maintenance: a state the operator chose, not a fault */
			assert_true(ri->status == 500 || ri->status == 429 ||
				    (r == GW_R_MAINTENANCE && ri->status == 503));
		for (int q = 0; q < r; q++)
			assert_string_not_equal(gw_reason_info((enum gw_reason)q)->reason,
						ri->reason);
	}
	assert_int_equal(gw_reason_by_name("NoSuchReason"), GW_R_COUNT);
	assert_int_equal(gw_reason_by_name(NULL), GW_R_COUNT);
}

static void test_accept(void **state)
{
	(void)state;
	/* PR-REST 4.6: JSON unless XML is asked for; X-Road's handler takes
	 * application/xml, text/xml and text/ANY. */
	assert_int_equal(gw_err_format_of(NULL), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of(""), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of("application/json"), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of("*/*"), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of("application/xml"), GW_ERR_XML);
	assert_int_equal(gw_err_format_of("APPLICATION/XML;q=0.9"), GW_ERR_XML);
	assert_int_equal(gw_err_format_of("application/json, text/xml ; q=0.5"), GW_ERR_TEXT_XML);
	assert_int_equal(gw_err_format_of("text/*"), GW_ERR_TEXT_XML);
	assert_int_equal(gw_err_format_of("text/html"), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of("application/xmlx"), GW_ERR_JSON);
	assert_int_equal(gw_err_format_of(",,application/xml,"), GW_ERR_XML);
}

static json_t *render_json(enum gw_reason r, const char *msg, const char *spec)
{
	char *body = NULL;
	size_t len = 0;
	const char *ct = NULL;
	json_t *o;

	assert_int_equal(gw_err_render(r, GW_SIDE_PROVIDER, GW_ERR_JSON, msg, spec, &body, &len,
				       &ct),
			 0);
	assert_string_equal(ct, "application/json; charset=utf-8");
	o = json_loadb(body, len, 0, NULL);
	free(body);
	assert_non_null(o);
	return o;
}

static void test_json_body(void **state)
{
	json_t *o;

	(void)state;
	o = render_json(GW_R_REPLAY, "already accepted", "x-1");
	assert_string_equal(json_string_value(json_object_get(o, "type")),
			    "Server.ServerProxy.InvalidMessage");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "already accepted");
	/* detail: the reason first, then the specifics. */
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "Replay: x-1");
	json_decref(o);
	/* Without specifics detail is the reason alone: always a string. */
	o = render_json(GW_R_NO_CONFIGURATION, "none held", NULL);
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "NoConfiguration");
	json_decref(o);
	o = render_json(GW_R_NO_CONFIGURATION, "none held", "");
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "NoConfiguration");
	json_decref(o);
}

static void test_bytes_that_are_not_text(void **state)
{
	json_t *o;
	const char *d;

	(void)state;
	/* Request bytes in a detail that are not UTF-8, or are control
	 * characters, become '?': the body stays valid JSON. */
	o = render_json(GW_R_BAD_PATH, "bad\x01", "/a\xff\xfe/\xc3\xa1/\xed\xa0\x80/\x1b[31m");
	d = json_string_value(json_object_get(o, "detail"));
	assert_non_null(d);
	/* (split so that no "??/" trigraph forms) */
	assert_string_equal(d, "BadPath: /a??" "/\xc3\xa1/???" "/?[31m");
	assert_string_equal(json_string_value(json_object_get(o, "message")), "bad?");
	json_decref(o);
}

static void test_xml_body(void **state)
{
	char *body = NULL;
	size_t len = 0;
	const char *ct = NULL;

	(void)state;
	assert_int_equal(gw_err_render(GW_R_NO_GRANT, GW_SIDE_CONSUMER, GW_ERR_TEXT_XML,
				       "a <b> & 'c' \"d\"", "GET /x?a=1&b=2", &body, &len, &ct),
			 0);
	assert_string_equal(ct, "text/xml; charset=utf-8");
	assert_int_equal(strlen(body), len);
	assert_non_null(strstr(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
	assert_non_null(strstr(body, "<error><type>Server.ClientProxy.AccessDenied</type>"));
	assert_non_null(
		strstr(body, "<message>a &lt;b&gt; &amp; &apos;c&apos; &quot;d&quot;</message>"));
	assert_non_null(strstr(body, "<detail>NoGrant: GET /x?a=1&amp;b=2</detail></error>"));
	free(body);
	assert_int_equal(gw_err_render(GW_R_BAD_HEADER, GW_SIDE_CONSUMER, GW_ERR_XML, "m", NULL,
				       &body, &len, &ct),
			 0);
	assert_string_equal(ct, "application/xml; charset=utf-8");
	assert_non_null(strstr(body, "<detail>BadHeader</detail>"));
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types_by_side),
		cmocka_unit_test(test_every_row_keeps_the_rules),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_json_body),
		cmocka_unit_test(test_bytes_that_are_not_text),
		cmocka_unit_test(test_xml_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
