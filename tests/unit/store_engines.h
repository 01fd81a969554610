/* What the store tests of the daemons on ndx/sqldb.h (test_reg_store.c,
 * test_cons_store.c) share: each store a fresh location on the engine of
 * the run (a file in a temporary directory, or with NDX_TEST_ENGINE=pg a
 * schema of its own in the PostgreSQL database NDX_TEST_PG, which
 * tests/with-postgres starts), a function's stderr captured, the server
 * stopped and started, and main's groups: those for both engines, then
 * each engine's own; without NDX_TEST_PG the pg run is skipped (exit 77).
 * Included once, by the test's .c file, after cmocka.h. */
#ifndef NDX_TEST_STORE_ENGINES_H
#define NDX_TEST_STORE_ENGINES_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ndx/err.h"
#include "pg_exec.h"

/* The store under test. */
struct store_engines {
	const char *name;   /* "reg_store": the groups' names, the temporary directory */
	const char *what;   /* "registry store": the skip message */
	char schema_prefix; /* 'r': a PostgreSQL case's schema is r<pid>_<case> */
	const char *db_file; /* "registry.db": a SQLite case's file is <case>-registry.db */
	const char *holds;  /* "registry": the message about a schema without one */
	/* Open or create the store at loc and close it; the call's result. */
	int (*try_open)(const char *loc);
	int (*try_create)(const char *loc);
};

static const struct store_engines *engines;
static char tmpdir[512];
static int case_no;
static int loc_case; /* case_no of the last new_loc */
/* NDX_TEST_PG in the PostgreSQL run (NDX_TEST_ENGINE=pg), else NULL. */
static const char *pg_base;

/* A fresh location: a file in tmpdir, or a connection string to a schema
 * of its own. */
static void new_loc(char *out, size_t cap)
{
	char p = engines->schema_prefix;

	loc_case = ++case_no;
	if (pg_base) {
		char stmt[100];
		snprintf(stmt, sizeof stmt, "CREATE SCHEMA %c%ld_%d", p, (long)getpid(), case_no);
		test_pg_exec(pg_base, stmt);
		snprintf(out, cap, "%s%coptions=-csearch_path%%3D%c%ld_%d", pg_base,
			 strchr(pg_base, '?') ? '&' : '?', p, (long)getpid(), case_no);
		return;
	}
	snprintf(out, cap, "%s/%d-%s", tmpdir, case_no, engines->db_file);
}

/* Runs fn with stderr going to a file; returns what it printed. */
static char *stderr_of(int (*fn)(const char *), const char *arg, int *rc)
{
	static char buf[8192];
	char path[600];
	int saved = dup(2), fd;
	ssize_t n;

	snprintf(path, sizeof path, "%s/stderr-%d", tmpdir, ++case_no);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	*rc = fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

static void pg_ctl(const char *var)
{
	const char *cmd = getenv(var);

	if (!cmd || !cmd[0])
		fail_msg("%s is not set: run the PostgreSQL tests under tests/with-postgres", var);
	assert_int_equal(system(cmd), 0);
}

/* Runs child(loc, fd) in a process killed with SIGKILL once it has written
 * a byte to fd (and wait_us later); child returns 0 when all went well,
 * and is then left waiting for the signal. */
static void run_killed(const char *loc, int (*child)(const char *loc, int fd),
		       useconds_t wait_us)
{
	int fds[2], status;
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (child(loc, fds[1]))
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	if (wait_us)
		usleep(wait_us);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	assert_true(WIFSIGNALED(status));
}

/* A file that is not a database is refused. */
static void test_sqlite_garbage(void **state)
{
	char loc[600];
	FILE *f;

	(void)state;
	new_loc(loc, sizeof loc);
	f = fopen(loc, "w");
	assert_non_null(f);
	fputs("this is not a database, not even a little bit, but long enough to read", f);
	fclose(f);
	assert_int_equal(engines->try_open(loc), NDX_EDB);
}

/* PostgreSQL's refusals every store makes: a password in the string
 * (refused before connecting, never printed), a server that is not there
 * (NDX_EDB, named without a password), a schema without the store (loc,
 * a fresh one, is left so). */
static void pg_refusals(char *loc, size_t cap)
{
	char bad[700], holds[80];
	const char *msg;
	int rc;

	snprintf(bad, sizeof bad, "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/x");
	msg = stderr_of(engines->try_create, bad, &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_non_null(strstr(msg, "password"));
	assert_null(strstr(msg, "s3cr3t-pw"));
	snprintf(bad, sizeof bad, "postgresql://127.0.0.1:1/x?password=s3cr3t-pw");
	msg = stderr_of(engines->try_open, bad, &rc);
	assert_int_equal(rc, NDX_EINVAL);
	assert_null(strstr(msg, "s3cr3t-pw"));
	msg = stderr_of(engines->try_open, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
			&rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "postgresql://nobody@127.0.0.1:1/none"));
	new_loc(loc, cap);
	msg = stderr_of(engines->try_open, loc, &rc);
	assert_int_equal(rc, NDX_EIO);
	snprintf(holds, sizeof holds, "holds no %s", engines->holds);
	assert_non_null(strstr(msg, holds));
}

/* The last new_loc's schema made newer than this program: its open is
 * refused. */
static void pg_refuses_newer(const char *loc)
{
	char stmt[200];
	const char *msg;
	int rc;

	snprintf(stmt, sizeof stmt, "UPDATE %c%ld_%d.meta SET value = '99' WHERE key = 'pg_schema'",
		 engines->schema_prefix, (long)getpid(), loc_case);
	test_pg_exec(pg_base, stmt);
	msg = stderr_of(engines->try_open, loc, &rc);
	assert_int_equal(rc, NDX_EDB);
	assert_non_null(strstr(msg, "newer"));
}

static void test_pg_unset(void **state)
{
	(void)state;
	print_message("NDX_TEST_PG is not set: the PostgreSQL run of the %s's tests "
		      "is skipped (run it with make test-pg, which starts a server)\n",
		      engines->what);
	skip();
}

static int setup(void **state)
{
	const char *base = getenv("NDX_TEST_TMP");

	(void)state;
	if (!base || !base[0])
		base = "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/test_%s.XXXXXX", base, engines->name);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[700];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* One cmocka group, named NAME_SUFFIX. */
static int run_group(const char *suffix, const struct CMUnitTest *tests, size_t n, bool fixture)
{
	char group[64];

	snprintf(group, sizeof group, "%s_%s", engines->name, suffix);
	return _cmocka_run_group_tests(group, tests, n, fixture ? setup : NULL,
				       fixture ? teardown : NULL);
}

#define STORE_ENGINES_N(a) (sizeof(a) / sizeof *(a))

/* main's runs: both, then sqlite_only; or with NDX_TEST_ENGINE=pg both,
 * then pg_only (the server stops in those: nothing else runs while it is
 * down). */
#define STORE_ENGINES_MAIN(e, both, sqlite_only, pg_only)                                      \
	store_engines_main(e, both, STORE_ENGINES_N(both), sqlite_only,                          \
			   STORE_ENGINES_N(sqlite_only), pg_only, STORE_ENGINES_N(pg_only))

static int store_engines_main(const struct store_engines *e, const struct CMUnitTest *both,
			      size_t n_both, const struct CMUnitTest *sqlite_only, size_t n_sqlite,
			      const struct CMUnitTest *pg_only, size_t n_pg)
{
	const struct CMUnitTest unset[] = { cmocka_unit_test(test_pg_unset) };
	const char *engine = getenv("NDX_TEST_ENGINE");
	int rc;

	engines = e;
	if (!engine || strcmp(engine, "pg") != 0) {
		rc = run_group("sqlite", both, n_both, true);
		return rc | run_group("sqlite_own", sqlite_only, n_sqlite, true);
	}
	pg_base = getenv("NDX_TEST_PG");
	if (!pg_base || !pg_base[0]) {
		run_group("pg", unset, 1, false);
		return 77; /* meson: skipped */
	}
	rc = run_group("pg", both, n_both, true);
	return rc | run_group("pg_own", pg_only, n_pg, true);
}

#endif
