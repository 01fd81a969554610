/* Unit tests of the refusal budgets of calling members
 * (src/gateway/peerlimit.c, docs/security.md T35): a member spends its
 * burst and is then refused until the budget refills at its rate, other
 * members keep theirs, Retry-After is the time to the next refusal, a clock
 * that goes back refills nothing, and a SIGHUP's lower burst caps what a
 * member holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "peerlimit.h"

#define T 1000000 /* ms on the monotonic clock */

static void spend(struct gw_peerlimit *pl, const char *m, unsigned n, int64_t at)
{
	for (unsigned i = 0; i < n; i++) {
		assert_true(gw_peerlimit_allows(pl, m, at));
		gw_peerlimit_charge(pl, m, at);
	}
}

static void test_burst_then_rate(void **state)
{
	struct gw_peerlimit *pl = gw_peerlimit_new(2, 5);

	(void)state;
	assert_non_null(pl);
	spend(pl, "VN/GOV/BHXH", 5, T);
	assert_false(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T));
	assert_int_equal(gw_peerlimit_retry_after(pl, "VN/GOV/BHXH", T), 1);
	/* Another member is untouched. */
	spend(pl, "VN/GOV/BTC", 5, T);
	/* 2 a second: one after 500 ms, not before. */
	assert_false(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T + 499));
	spend(pl, "VN/GOV/BHXH", 1, T + 500);
	assert_false(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T + 500));
	/* Never more than the burst, however long the pause. */
	spend(pl, "VN/GOV/BHXH", 5, T + 3600 * 1000);
	assert_false(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T + 3600 * 1000));
	/* A clock that went back refills nothing. */
	assert_false(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T));
	/* Charging an empty budget keeps it at zero, not below. */
	gw_peerlimit_charge(pl, "VN/GOV/BHXH", T + 3600 * 1000);
	assert_true(gw_peerlimit_allows(pl, "VN/GOV/BHXH", T + 3600 * 1000 + 500));
	gw_peerlimit_free(pl);
}

static void test_retry_after_rounds_up(void **state)
{
	struct gw_peerlimit *pl = gw_peerlimit_new(1, 1);

	(void)state;
	spend(pl, "m", 1, T);
	assert_int_equal(gw_peerlimit_retry_after(pl, "m", T), 1);
	assert_int_equal(gw_peerlimit_retry_after(pl, "m", T + 999), 1);
	assert_int_equal(gw_peerlimit_retry_after(pl, "m", T + 1000), 0);
	gw_peerlimit_set(pl, 1, 1);
	gw_peerlimit_free(pl);
}

static void test_lower_burst_caps_held_budget(void **state)
{
	struct gw_peerlimit *pl = gw_peerlimit_new(10, 100);

	(void)state;
	assert_true(gw_peerlimit_allows(pl, "m", T));
	gw_peerlimit_set(pl, 10, 2);
	spend(pl, "m", 2, T);
	assert_false(gw_peerlimit_allows(pl, "m", T));
	gw_peerlimit_free(pl);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_null(gw_peerlimit_new(0, 1));
	assert_null(gw_peerlimit_new(1, 0));
	gw_peerlimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_retry_after_rounds_up),
		cmocka_unit_test(test_lower_burst_caps_held_budget),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
