/* Unit tests for src/consent/subject_limit.h, linked alone: the burst, the
 * refill and its Retry-After, buckets kept apart per subject, limiting
 * turned off, and the table dropping refilled buckets while many subjects
 * come and go (no global cap any number of other subjects can reach). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "subject_limit.h"

#define A "001203004567"
#define B "079190001234"

static void test_burst_then_refill(void **state)
{
	struct subject_limit *l = subject_limit_new(3, 60); /* one a minute */
	unsigned retry = 99;

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 3; i++)
		assert_true(subject_limit_take(l, A, 1000.0, &retry));
	assert_false(subject_limit_take(l, A, 1000.0, &retry));
	assert_int_equal(retry, 60);
	/* A refused request takes nothing: 30 s later half a token is there. */
	assert_false(subject_limit_take(l, A, 1030.0, &retry));
	assert_int_equal(retry, 30);
	assert_true(subject_limit_take(l, A, 1060.0, &retry));
	assert_int_equal(retry, 0);
	assert_false(subject_limit_take(l, A, 1060.5, &retry));
	assert_true(retry >= 59 && retry <= 60);
	/* Never more than the burst, however long the wait. */
	for (int i = 0; i < 3; i++)
		assert_true(subject_limit_take(l, A, 1e6, &retry));
	assert_false(subject_limit_take(l, A, 1e6, &retry));
	subject_limit_free(l);
	subject_limit_free(NULL);
}

static void test_subjects_apart(void **state)
{
	struct subject_limit *l = subject_limit_new(2, 1);
	unsigned retry;

	(void)state;
	assert_true(subject_limit_take(l, A, 0, &retry));
	assert_true(subject_limit_take(l, A, 0, &retry));
	assert_false(subject_limit_take(l, A, 0, &retry));
	assert_int_equal(retry, 3600);
	/* A's empty bucket is A's alone. */
	assert_true(subject_limit_take(l, B, 0, &retry));
	assert_true(subject_limit_take(l, B, 0, &retry));
	assert_false(subject_limit_take(l, B, 0, &retry));
	subject_limit_free(l);
}

static void test_off(void **state)
{
	struct subject_limit *l = subject_limit_new(0, 60);
	unsigned retry;

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_true(subject_limit_take(l, A, 0, &retry));
	assert_true(subject_limit_take(NULL, A, 0, &retry));
	subject_limit_free(l);
}

static void test_many_subjects(void **state)
{
	struct subject_limit *l = subject_limit_new(2, 3600); /* one a second */
	char pin[13];
	unsigned retry;

	(void)state;
	/* 200,000 subjects, 1,000 a second: each one's bucket is full again
	 * after 2 s, so the table holds a few thousand, and every subject is
	 * served, including A between them. */
	for (int i = 0; i < 200000; i++) {
		double now = i / 1000.0;

		snprintf(pin, sizeof pin, "%012d", 100000000 + i);
		assert_true(subject_limit_take(l, pin, now, &retry));
		assert_true(subject_limit_take(l, pin, now, &retry));
		assert_false(subject_limit_take(l, pin, now, &retry));
		if (i % 10000 == 0)
			assert_true(subject_limit_take(l, A, now, &retry));
	}
	subject_limit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_subjects_apart),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_many_subjects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
