/* Unit tests for the daemons' command dispatch (src/lib/cmd.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ndx/cmd.h"

static int last_argc;
static const char *last_word;

static int run_serve(int argc, char **argv)
{
	last_argc = argc;
	last_word = argv[0];
	return 7;
}

static int run_import(int argc, char **argv)
{
	last_argc = argc;
	last_word = argv[0];
	return 9;
}

static const struct ndx_cmd cmds[] = {
	{ "serve", NULL, run_serve },
	{ "accounts", "import", run_import },
};

static int dispatch(int argc, char **argv)
{
	last_argc = -1;
	last_word = NULL;
	return ndx_cmd_main("prog", "1.0", "usage: prog\n", cmds, 2, argc, argv);
}

static void test_dispatch(void **state)
{
	char *serve[] = { "prog", "serve", "--data", "d", NULL };
	char *import[] = { "prog", "accounts", "import", "--x", NULL };

	(void)state;
	assert_int_equal(dispatch(4, serve), 7);
	assert_int_equal(last_argc, 3);
	assert_string_equal(last_word, "serve");
	assert_int_equal(dispatch(4, import), 9);
	assert_int_equal(last_argc, 2);
	assert_string_equal(last_word, "import");
}

static void test_refusals_and_help(void **state)
{
	char *none[] = { "prog", NULL };
	char *unknown[] = { "prog", "bogus", NULL };
	char *nosub[] = { "prog", "accounts", NULL };
	char *badsub[] = { "prog", "accounts", "export", NULL };
	char *help[] = { "prog", "--help", NULL };
	char *version[] = { "prog", "--version", NULL };

	(void)state;
	/* stdout/stderr chatter is expected; only the codes matter here. */
	assert_int_equal(dispatch(1, none), 2);
	assert_int_equal(dispatch(2, unknown), 2);
	assert_int_equal(dispatch(2, nosub), 2);
	assert_int_equal(dispatch(3, badsub), 2);
	assert_null(last_word);
	assert_int_equal(dispatch(2, help), 0);
	assert_int_equal(dispatch(2, version), 0);
	assert_null(last_word);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_refusals_and_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
