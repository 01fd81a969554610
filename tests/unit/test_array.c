/* Unit tests for include/ndx/array.h: room made element by element keeps
 * what the array held, doubles from the first capacity, jumps to fit an
 * index far past the end, and refuses sizes that would overflow with the
 * array left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ndx/array.h"
#include "ndx/err.h"

static void room_for_each_next_element_keeps_the_earlier_ones(void **state)
{
	int64_t *list = NULL;
	size_t cap = 0;

	(void)state;
	for (size_t i = 0; i < 1000; i++) {
		assert_int_equal(NDX_ARRAY_RESERVE(list, cap, i), NDX_OK);
		assert_true(cap > i);
		list[i] = (int64_t)i * 7;
	}
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(list[i], (int64_t)i * 7);
	assert_int_equal(cap, 1024); /* 16 doubled six times */
	free(list);
}

static void an_index_inside_the_capacity_changes_nothing(void **state)
{
	char *list = NULL;
	size_t cap = 0;
	char *before;

	(void)state;
	assert_int_equal(ndx_array_reserve((void **)&list, &cap, 0, 1, 4), NDX_OK);
	assert_int_equal(cap, 4);
	before = list;
	assert_int_equal(ndx_array_reserve((void **)&list, &cap, 3, 1, 4), NDX_OK);
	assert_ptr_equal(list, before);
	assert_int_equal(cap, 4);
	/* Far past the end: doubled until it fits. */
	assert_int_equal(ndx_array_reserve((void **)&list, &cap, 100, 1, 4), NDX_OK);
	assert_int_equal(cap, 128);
	free(list);
}

static void a_size_that_would_overflow_is_refused_and_the_array_kept(void **state)
{
	int *list = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(NDX_ARRAY_RESERVE(list, cap, 3), NDX_OK);
	list[3] = 42;
	assert_int_equal(ndx_array_reserve((void **)&list, &cap, SIZE_MAX / 2, sizeof *list, 16),
			 NDX_ENOMEM);
	assert_int_equal(ndx_array_reserve((void **)&list, &cap, SIZE_MAX - 1, 1, 16), NDX_ENOMEM);
	assert_int_equal(cap, 16);
	assert_int_equal(list[3], 42);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(room_for_each_next_element_keeps_the_earlier_ones),
		cmocka_unit_test(an_index_inside_the_capacity_changes_nothing),
		cmocka_unit_test(a_size_that_would_overflow_is_refused_and_the_array_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
