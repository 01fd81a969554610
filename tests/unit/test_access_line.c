/* The access-log line of every daemon (src/lib/httpd_common.c,
 * httpd_access_line): built as text, it must be byte for byte the line the
 * jansson object of the same fields made before (docs/operations.md),
 * which is the reference here: the fields in their order, optional fields
 * left out, a string that is not UTF-8 left out as jansson left it out,
 * JSON escapes, the duration as JSON_REAL_PRECISION(6) writes it, and a PIN
 * in the path as its keyed tag, never in clear. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ndx/buf.h"
#include "ndx/err.h"
#include "ndx/redact.h"

#include "../../src/lib/httpd_int.h"

/* The line as the jansson object made it (httpd_common.c before
 * 2026-12-03), with the path's PINs redacted the same way. */
static char *reference_line(const struct httpd_access *a)
{
	json_t *o = json_object();
	size_t cap = 2 * strlen(a->path) + 1;
	char *safe = malloc(cap);
	char *text, *line;
	size_t n;

	assert_non_null(o);
	assert_non_null(safe);
	json_object_set_new(o, "time", json_string(a->time));
	json_object_set_new(o, "daemon", json_string(a->daemon));
	json_object_set_new(o, "remote", json_string(a->remote));
	json_object_set_new(o, "method", json_stringn(a->method, strlen(a->method)));
	ndx_redact_pins(a->path, safe, cap);
	json_object_set_new(o, "path", json_string(safe));
	free(safe);
	json_object_set_new(o, "status", json_integer(a->status));
	if (a->error_type)
		json_object_set_new(o, "error_type", json_string(a->error_type));
	json_object_set_new(o, "duration_ms", json_real(a->ms));
	json_object_set_new(o, "bytes", json_integer((json_int_t)a->bytes));
	if (a->by)
		json_object_set_new(o, "refused_by", json_string(a->by));
	if (a->unsent)
		json_object_set_new(o, "unsent", json_string(a->unsent));
	if (a->h2)
		json_object_set_new(o, "protocol", json_string("HTTP/2"));
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	assert_non_null(text);
	n = strlen(text);
	line = malloc(n + 2);
	assert_non_null(line);
	memcpy(line, text, n);
	memcpy(line + n, "\n", 2);
	free(text);
	return line;
}

static char *line_of(const struct httpd_access *a)
{
	struct ndx_buf b = NDX_BUF_INIT(NDX_BUF_NO_CAP);

	assert_int_equal(httpd_access_line(&b, a), NDX_OK);
	return ndx_buf_steal(&b, NULL);
}

static void expect_reference(const struct httpd_access *a)
{
	char *got = line_of(a);
	char *want = reference_line(a);

	assert_string_equal(got, want);
	free(got);
	free(want);
}

static const struct httpd_access plain = {
	.time = "2026-12-03T14:20:00Z",
	.daemon = "ndx-gateway",
	.remote = "127.0.0.1:40312",
	.method = "GET",
	.path = "/r1/VN/GOV/BCA/population/citizens/list",
	.status = 200,
	.ms = 1.234567,
	.bytes = 78,
};

/* The exact line, written out once, so that the shape docs/operations.md
 * shows is pinned here too and not only "the same as jansson". */
static void test_exact_line(void **state)
{
	struct httpd_access a = plain;
	char *got;

	(void)state;
	got = line_of(&a);
	assert_string_equal(got, "{\"time\":\"2026-12-03T14:20:00Z\",\"daemon\":\"ndx-gateway\","
				 "\"remote\":\"127.0.0.1:40312\",\"method\":\"GET\","
				 "\"path\":\"/r1/VN/GOV/BCA/population/citizens/list\","
				 "\"status\":200,\"duration_ms\":1.23457,\"bytes\":78}\n");
	free(got);
	a.status = 503;
	a.error_type = "Server.ProviderUnreachable";
	a.by = "h2o";
	a.unsent = "the client closed the connection";
	a.h2 = 1;
	a.ms = 12;
	a.bytes = 0;
	got = line_of(&a);
	assert_string_equal(got, "{\"time\":\"2026-12-03T14:20:00Z\",\"daemon\":\"ndx-gateway\","
				 "\"remote\":\"127.0.0.1:40312\",\"method\":\"GET\","
				 "\"path\":\"/r1/VN/GOV/BCA/population/citizens/list\","
				 "\"status\":503,\"error_type\":\"Server.ProviderUnreachable\","
				 "\"duration_ms\":12.0,\"bytes\":0,\"refused_by\":\"h2o\","
				 "\"unsent\":\"the client closed the connection\","
				 "\"protocol\":\"HTTP/2\"}\n");
	free(got);
}

static void test_like_jansson(void **state)
{
	static const double durations[] = { 0,       0.5,      1,          12,     0.000123,
					    1e-7,    123456.7, 1234567.0,  1e21,   99.99995,
					    0.0001,  100000,   1000000,    3.14159265 };
	struct httpd_access a = plain;

	(void)state;
	for (size_t i = 0; i < sizeof durations / sizeof *durations; i++) {
		a.ms = durations[i];
		expect_reference(&a);
	}
	a.ms = 0.25;
	a.error_type = "Client.BadRequest";
	expect_reference(&a);
	a.by = "libmicrohttpd";
	a.unsent = "gone";
	a.h2 = 1;
	a.bytes = (size_t)1 << 40;
	expect_reference(&a);
	/* Escapes in every string field a peer can influence. */
	a.method = "G\"E\\T\x01";
	a.path = "/a b/\"q\"\\\n\t\x1f/Bộ/\x7f";
	a.remote = "[::1]:443";
	expect_reference(&a);
	/* Not UTF-8: the field is left out, the line stays JSON. */
	a.path = "/bad\xff/079123456789";
	a.method = "\xc0\xaf";
	expect_reference(&a);
	a.path = "";
	a.method = "";
	expect_reference(&a);
	/* A duration that is not finite: jansson left the key out. */
	a.ms = INFINITY;
	expect_reference(&a);
	a.ms = NAN;
	expect_reference(&a);
}

/* A PIN in the path is its tag, never in clear; a run of 11 or 13 digits
 * is no PIN and stays. */
static void test_pins_redacted(void **state)
{
	struct httpd_access a = plain;
	char *got;

	(void)state;
	a.path = "/r1/VN/GOV/BCA/population/citizens/079123456789?also=079123456788&n=12345678901";
	got = line_of(&a);
	assert_null(strstr(got, "079123456789"));
	assert_null(strstr(got, "079123456788"));
	assert_non_null(strstr(got, "/citizens/pin:"));
	assert_non_null(strstr(got, "n=12345678901\""));
	free(got);
	expect_reference(&a);
}

/* A path longer than the line writer's stack buffer takes the heap. */
static void test_long_path(void **state)
{
	struct httpd_access a = plain;
	char *path = malloc(5001);

	(void)state;
	assert_non_null(path);
	for (size_t i = 0; i < 5000; i++)
		path[i] = (char)(i % 13 == 0 ? '/' : '0' + i % 10);
	path[5000] = '\0';
	memcpy(path + 100, "/079123456789/", 14);
	a.path = path;
	expect_reference(&a);
	free(path);
}

/* A cap the line does not fit: the buffer's error, nothing written past it. */
static void test_cap(void **state)
{
	struct ndx_buf b = NDX_BUF_INIT(64);

	(void)state;
	assert_int_equal(httpd_access_line(&b, &plain), NDX_ETOOBIG);
	assert_true(b.len <= 64);
	ndx_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_line),
		cmocka_unit_test(test_like_jansson),
		cmocka_unit_test(test_pins_redacted),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
