/* Unit tests for include/ndx/prom.h, the Prometheus text exposition format
 * 0.0.4 every /metrics answers: HELP and TYPE lines, the three escapes of a
 * label value (backslash, double quote, line feed) and the two of HELP
 * text, values (integers, Unix times, fractions, NaN and infinities),
 * histograms with cumulative le buckets, _sum and _count, and a cap that
 * turns into a clean failure. The e2e tests parse the daemons' whole text
 * with prometheus_client and promtool (tests/e2e/test_metrics_daemons.py). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/err.h"
#include "ndx/prom.h"

static char *render_done(struct ndx_prom *p)
{
	char *s = ndx_prom_steal(p, NULL);
	assert_non_null(s);
	return s;
}

static void test_family_and_plain_samples(void **state)
{
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_family(&p, "ndx_things_total", NDX_PROM_COUNTER, "Things counted.");
	ndx_prom_u64(&p, "ndx_things_total", NULL, 18446744073709551615ULL);
	ndx_prom_family(&p, "ndx_level", NDX_PROM_GAUGE, "A level.");
	ndx_prom_i64(&p, "ndx_level", (const char *[]){ "state", "granted", NULL }, -3);
	s = render_done(&p);
	assert_string_equal(s, "# HELP ndx_things_total Things counted.\n"
			       "# TYPE ndx_things_total counter\n"
			       "ndx_things_total 18446744073709551615\n"
			       "# HELP ndx_level A level.\n"
			       "# TYPE ndx_level gauge\n"
			       "ndx_level{state=\"granted\"} -3\n");
	free(s);
}

static void test_label_values_escaped(void **state)
{
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_u64(&p, "m", (const char *[]){ "a", "back\\slash", "b", "say \"hi\"", "c",
						"two\nlines", "d", NULL, NULL },
		     1);
	s = render_done(&p);
	assert_string_equal(s, "m{a=\"back\\\\slash\",b=\"say \\\"hi\\\"\",c=\"two\\nlines\",d=\"\"} 1\n");
	free(s);
}

static void test_help_escaped_quote_kept(void **state)
{
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_family(&p, "m", NDX_PROM_GAUGE, "a \\ b\nc \"d\"");
	s = render_done(&p);
	assert_string_equal(s, "# HELP m a \\\\ b\\nc \"d\"\n# TYPE m gauge\n");
	free(s);
}

static void test_values(void **state)
{
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_double(&p, "t", NULL, 1767225601.0); /* a Unix time, every digit */
	ndx_prom_double(&p, "f", NULL, 0.25);
	ndx_prom_double(&p, "n", NULL, NAN);
	ndx_prom_double(&p, "i", NULL, INFINITY);
	ndx_prom_double(&p, "j", NULL, -INFINITY);
	ndx_prom_double(&p, "z", NULL, -0.5);
	s = render_done(&p);
	assert_string_equal(s, "t 1767225601\nf 0.25\nn NaN\ni +Inf\nj -Inf\nz -0.5\n");
	free(s);
}

static void test_histogram_cumulates(void **state)
{
	static const double le[] = { 0.005, 0.1, 2.5 };
	static const uint64_t counts[] = { 1, 0, 3, 2 };
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_family(&p, "d_seconds", NDX_PROM_HISTOGRAM, "Durations.");
	ndx_prom_histogram(&p, "d_seconds", (const char *[]){ "port", "4400", NULL }, 3, le,
			   counts, 12.5);
	ndx_prom_histogram(&p, "e", NULL, 0, NULL, (const uint64_t[]){ 7 }, 0.125);
	s = render_done(&p);
	assert_string_equal(s, "# HELP d_seconds Durations.\n"
			       "# TYPE d_seconds histogram\n"
			       "d_seconds_bucket{port=\"4400\",le=\"0.005\"} 1\n"
			       "d_seconds_bucket{port=\"4400\",le=\"0.1\"} 1\n"
			       "d_seconds_bucket{port=\"4400\",le=\"2.5\"} 4\n"
			       "d_seconds_bucket{port=\"4400\",le=\"+Inf\"} 6\n"
			       "d_seconds_sum{port=\"4400\"} 12.5\n"
			       "d_seconds_count{port=\"4400\"} 6\n"
			       "e_bucket{le=\"+Inf\"} 7\n"
			       "e_sum 0.125\n"
			       "e_count 7\n");
	free(s);
}

static void test_text_appended(void **state)
{
	struct ndx_prom p;
	char *s;

	(void)state;
	ndx_prom_init(&p, NDX_BUF_NO_CAP);
	ndx_prom_u64(&p, "a", NULL, 1);
	ndx_prom_text(&p, "b 2\n");
	ndx_prom_text(&p, NULL);
	s = render_done(&p);
	assert_string_equal(s, "a 1\nb 2\n");
	free(s);
}

/* Over the cap: the failure sticks, later calls write nothing, and steal
 * gives NULL without leaking what was written. */
static void test_cap_fails_cleanly(void **state)
{
	struct ndx_prom p;
	size_t len = 99;

	(void)state;
	ndx_prom_init(&p, 20);
	ndx_prom_u64(&p, "short", NULL, 1);
	assert_int_equal(p.rc, NDX_OK);
	ndx_prom_family(&p, "a_rather_long_name", NDX_PROM_GAUGE, "does not fit");
	assert_int_equal(p.rc, NDX_ETOOBIG);
	ndx_prom_u64(&p, "x", NULL, 1);
	assert_int_equal(p.rc, NDX_ETOOBIG);
	assert_null(ndx_prom_steal(&p, &len));
	assert_int_equal(len, 0);
	ndx_prom_free(&p);
	ndx_prom_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_plain_samples),
		cmocka_unit_test(test_label_values_escaped),
		cmocka_unit_test(test_help_escaped_quote_kept),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_histogram_cumulates),
		cmocka_unit_test(test_text_appended),
		cmocka_unit_test(test_cap_fails_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
