/* Unit tests for include/ndx/buf.h, the growable capped buffer every
 * network body and text builder uses: growth, the cap to the byte, the
 * distinct "too big", steal, reuse, empty appends, appends whose size
 * arithmetic would overflow, formatted appends and text checked once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/buf.h"
#include "ndx/err.h"

static void test_grows_and_keeps_every_byte(void **state)
{
	struct ndx_buf b;
	char piece[1000];
	size_t prev_alloc = 0, reallocs = 0;

	(void)state;
	ndx_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < 500; i++) {
		memset(piece, 'a' + (int)(i % 26), sizeof piece);
		assert_int_equal(ndx_buf_append(&b, piece, sizeof piece), NDX_OK);
		assert_true(b.alloc > b.len);
		assert_int_equal(b.data[b.len], '\0');
		if (b.alloc != prev_alloc) {
			reallocs++;
			prev_alloc = b.alloc;
		}
	}
	assert_int_equal(b.len, 500 * sizeof piece);
	for (size_t i = 0; i < 500; i++)
		assert_int_equal(b.data[i * sizeof piece + 7], 'a' + (int)(i % 26));
	/* Geometric growth: half a megabyte in a handful of allocations. */
	assert_true(reallocs <= 10);
	ndx_buf_free(&b);
}

static void test_text_and_nul(void **state)
{
	struct ndx_buf b;

	(void)state;
	ndx_buf_init(&b, 64);
	assert_null(b.data);
	assert_string_equal(ndx_buf_str(&b), "");
	assert_int_equal(ndx_buf_append_str(&b, "{\"a\":"), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, "1}garbage", 2), NDX_OK);
	assert_string_equal(b.data, "{\"a\":1}");
	assert_string_equal(ndx_buf_str(&b), "{\"a\":1}");
	assert_int_equal(b.len, 7);
	ndx_buf_free(&b);
}

static void test_exactly_at_cap(void **state)
{
	struct ndx_buf b;
	char data[100];

	(void)state;
	memset(data, 'x', sizeof data);
	ndx_buf_init(&b, sizeof data);
	assert_int_equal(ndx_buf_append(&b, data, 60), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, data, 40), NDX_OK);
	assert_int_equal(b.len, sizeof data);
	assert_int_equal(b.data[sizeof data], '\0');
	/* Never more than the cap and its NUL, though doubling would ask more. */
	assert_true(b.alloc <= sizeof data + 1);
	/* Full: nothing more fits, but nothing is still fine. */
	assert_int_equal(ndx_buf_append(&b, data, 0), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, data, 1), NDX_ETOOBIG);
	ndx_buf_free(&b);
}

static void test_one_byte_over_cap_changes_nothing(void **state)
{
	struct ndx_buf b;
	char data[101];

	(void)state;
	memset(data, 'y', sizeof data);
	ndx_buf_init(&b, 100);
	assert_int_equal(ndx_buf_append(&b, data, 101), NDX_ETOOBIG);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(ndx_buf_append(&b, "hello", 5), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, data, 96), NDX_ETOOBIG);
	/* The refused append left the buffer as it was. */
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	assert_int_equal(ndx_buf_append(&b, data, 95), NDX_OK);
	assert_int_equal(b.len, 100);
	ndx_buf_free(&b);
}

static void test_initialiser(void **state)
{
	struct {
		int other;
		struct ndx_buf text;
	} holder = { .text = NDX_BUF_INIT(3) };

	(void)state;
	assert_null(holder.text.data);
	assert_int_equal(holder.text.max, 3);
	assert_int_equal(ndx_buf_append_str(&holder.text, "abc"), NDX_OK);
	assert_int_equal(ndx_buf_append_str(&holder.text, "d"), NDX_ETOOBIG);
	assert_string_equal(holder.text.data, "abc");
	ndx_buf_free(&holder.text);
}

static void test_zero_cap(void **state)
{
	struct ndx_buf b;

	(void)state;
	ndx_buf_init(&b, 0);
	assert_int_equal(ndx_buf_append(&b, "", 0), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, "a", 1), NDX_ETOOBIG);
	assert_null(b.data);
	ndx_buf_free(&b);
}

static void test_zero_length_appends(void **state)
{
	struct ndx_buf b;
	size_t len = 99;

	(void)state;
	ndx_buf_init(&b, 10);
	assert_int_equal(ndx_buf_append(&b, NULL, 0), NDX_OK);
	assert_int_equal(ndx_buf_append_str(&b, ""), NDX_OK);
	/* Nothing appended, nothing allocated: a caller can tell "no body". */
	assert_null(b.data);
	assert_int_equal(b.alloc, 0);
	assert_null(ndx_buf_steal(&b, &len));
	assert_int_equal(len, 0);
	assert_int_equal(ndx_buf_append(&b, "ab", 2), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, NULL, 0), NDX_OK);
	assert_string_equal(b.data, "ab");
	ndx_buf_free(&b);
}

static void test_steal(void **state)
{
	struct ndx_buf b;
	size_t len = 0;
	char *s;

	(void)state;
	ndx_buf_init(&b, 1000);
	assert_int_equal(ndx_buf_append_str(&b, "stolen"), NDX_OK);
	s = ndx_buf_steal(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 6);
	assert_string_equal(s, "stolen");
	/* The buffer is empty and owns nothing, but keeps its cap. */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_int_equal(b.max, 1000);
	assert_int_equal(ndx_buf_append_str(&b, "again"), NDX_OK);
	assert_string_equal(b.data, "again");
	assert_ptr_not_equal(b.data, s);
	free(s);
	s = ndx_buf_steal(&b, NULL);
	assert_string_equal(s, "again");
	free(s);
	ndx_buf_free(&b); /* owns nothing: a no-op */
}

static void test_reuse_after_reset(void **state)
{
	struct ndx_buf b;
	char *mem;
	size_t alloc;

	(void)state;
	ndx_buf_init(&b, 8);
	assert_int_equal(ndx_buf_append(&b, "12345678", 8), NDX_OK);
	mem = b.data;
	alloc = b.alloc;
	ndx_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(ndx_buf_str(&b), "");
	/* The memory is kept, and the whole cap is available again. */
	assert_ptr_equal(b.data, mem);
	assert_int_equal(b.alloc, alloc);
	assert_int_equal(ndx_buf_append(&b, "abcdefgh", 8), NDX_OK);
	assert_string_equal(b.data, "abcdefgh");
	assert_int_equal(ndx_buf_append(&b, "i", 1), NDX_ETOOBIG);
	/* Free, then use again: back to an empty buffer with its cap. */
	ndx_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(ndx_buf_append(&b, "xyz", 3), NDX_OK);
	assert_string_equal(b.data, "xyz");
	ndx_buf_free(&b);
	ndx_buf_free(NULL);
}

static void test_truncate(void **state)
{
	struct ndx_buf b = NDX_BUF_INIT(16);

	(void)state;
	ndx_buf_truncate(&b, 0); /* no memory yet: nothing to do */
	assert_null(b.data);
	assert_int_equal(ndx_buf_append_str(&b, "key:value"), NDX_OK);
	ndx_buf_truncate(&b, 4);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "key:");
	assert_int_equal(ndx_buf_append_str(&b, "other"), NDX_OK);
	assert_string_equal(b.data, "key:other");
	ndx_buf_truncate(&b, b.len);
	assert_string_equal(b.data, "key:other");
	ndx_buf_free(&b);
}

static void test_overflowing_sizes_are_too_big(void **state)
{
	struct ndx_buf b;
	static const char data[16] = "0123456789abcdef";

	(void)state;
	/* The largest cap there is: len + n + 1 would wrap for these n, so a
	 * check written as "len + n > max" would let them through. The
	 * pointer is never read for a refused append. */
	ndx_buf_init(&b, SIZE_MAX);
	assert_int_equal(b.max, NDX_BUF_NO_CAP);
	assert_int_equal(ndx_buf_append(&b, data, 10), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, data, SIZE_MAX), NDX_ETOOBIG);
	assert_int_equal(ndx_buf_append(&b, data, SIZE_MAX - 1), NDX_ETOOBIG);
	assert_int_equal(ndx_buf_append(&b, data, SIZE_MAX - 10), NDX_ETOOBIG);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, data, 10);
	ndx_buf_free(&b);

	/* An ordinary cap and a near-SIZE_MAX length. */
	ndx_buf_init(&b, 1u << 20);
	assert_int_equal(ndx_buf_append(&b, data, 1), NDX_OK);
	assert_int_equal(ndx_buf_append(&b, data, SIZE_MAX), NDX_ETOOBIG);
	assert_int_equal(ndx_buf_append(&b, data, SIZE_MAX / 2 + 1), NDX_ETOOBIG);
	assert_int_equal(b.len, 1);
	ndx_buf_free(&b);
}

/* ndx_buf_appendf: a piece that fits the spare memory, one that makes the
 * buffer grow (the second vsnprintf pass), the cap to the byte, and a
 * refused piece leaving the text as it was, NUL included. */
static void test_appendf(void **state)
{
	struct ndx_buf b;
	char big[5000];

	(void)state;
	ndx_buf_init(&b, 6000);
	assert_int_equal(ndx_buf_appendf(&b, "%s-%d", "row", 42), NDX_OK);
	assert_string_equal(b.data, "row-42");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(ndx_buf_appendf(&b, "[%s]", big), NDX_OK);
	assert_int_equal(b.len, 6 + 2 + 4999);
	assert_int_equal(b.data[6], '[');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	/* 6000 - 5007 = 993 bytes left: 993 fit, 994 do not. */
	assert_int_equal(ndx_buf_appendf(&b, "%.*s", 994, big), NDX_ETOOBIG);
	assert_int_equal(b.len, 5007);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(ndx_buf_appendf(&b, "%.*s", 993, big), NDX_OK);
	assert_int_equal(b.len, 6000);
	assert_int_equal(ndx_buf_appendf(&b, "%s", ""), NDX_OK);
	assert_int_equal(ndx_buf_appendf(&b, "%c", 'y'), NDX_ETOOBIG);
	assert_int_equal(b.len, 6000);
	assert_int_equal(b.data[b.len], '\0');
	ndx_buf_free(&b);

	/* A refusal that happens in the spare memory (the first pass was
	 * truncated over the NUL): restored. */
	ndx_buf_init(&b, 10);
	assert_int_equal(ndx_buf_appendf(&b, "abc"), NDX_OK);
	assert_int_equal(ndx_buf_appendf(&b, "%s", "12345678"), NDX_ETOOBIG);
	assert_string_equal(b.data, "abc");
	ndx_buf_free(&b);
}

/* ndx_text: the first failure sticks, and take then gives NULL with the
 * memory freed (valgrind and ASan check that); a text with no failure is
 * the concatenation; a text never added to is "". */
static void test_text(void **state)
{
	struct ndx_text t = NDX_TEXT_INIT, small = { NDX_BUF_INIT(4), 0 };
	char *s;

	(void)state;
	ndx_text_addf(&t, "SELECT %s FROM %s", "id", "citizens");
	ndx_text_addf(&t, " WHERE id = %d", 7);
	s = ndx_text_take(&t);
	assert_non_null(s);
	assert_string_equal(s, "SELECT id FROM citizens WHERE id = 7");
	free(s);
	s = ndx_text_take(&t);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	ndx_text_addf(&small, "ab");
	ndx_text_addf(&small, "cde");
	assert_int_equal(small.rc, NDX_ETOOBIG);
	ndx_text_addf(&small, "f");
	assert_int_equal(small.buf.len, 2);
	assert_null(ndx_text_take(&small));
	assert_null(small.buf.data);
	assert_int_equal(small.rc, NDX_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_and_keeps_every_byte),
		cmocka_unit_test(test_text_and_nul),
		cmocka_unit_test(test_exactly_at_cap),
		cmocka_unit_test(test_one_byte_over_cap_changes_nothing),
		cmocka_unit_test(test_initialiser),
		cmocka_unit_test(test_zero_cap),
		cmocka_unit_test(test_zero_length_appends),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_reuse_after_reset),
		cmocka_unit_test(test_overflowing_sizes_are_too_big),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_appendf),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
