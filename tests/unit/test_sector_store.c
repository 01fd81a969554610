/* Unit tests for the sector store (src/sector/store.h) on both of its
 * engines: create and open (and their refusals), a record by key and by
 * number, exists, lists by folded name prefix and filters in name order
 * with limit and offset, insert and replace (and their refusals: a key
 * that exists, a record that does not), a rolled-back write leaving
 * nothing, a household's living members oldest first, the rows naming a
 * record (store_texts), counts, the citizens /verify looks up (by number,
 * whole folded name, with birth date or address, living, a limit) in a read
 * transaction, and the seeder's bulk load (rows in,
 * indexes built, refused over an existing database, removed when it
 * fails), and the events' outbox on the store (sec_outbox.h: an event
 * written with its record or not at all, drained in order, a failure
 * counted and retried after its back-off; on PostgreSQL, nothing drained
 * while another connection has the drain's turn, and schemas of versions
 * 1, 2 and 3 brought to version 4), and the applying of received events
 * (sec_apply.h) on the store's engine: a death marks the citizen, its id
 * recorded once, a second delivery seen, the same fact under another id
 * unchanged, a bad payload rolled back whole, a birth adding the child and
 * its citizen-registered event in one transaction.
 *
 * With NDX_TEST_ENGINE=pg (the meson suite pg, make test-pg) the store is
 * the sectors' schemas of the PostgreSQL database NDX_TEST_PG
 * (tests/with-postgres starts one), dropped before each case; the run adds
 * PostgreSQL's own refusals (a password in the connection string, a
 * schema newer than the program, a seed that did not finish). Without
 * NDX_TEST_PG that run is skipped (exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <unistd.h>

#include "ndx/err.h"
#include "pg_exec.h"
#include "schema.h"
#include "sec_apply.h"
#include "sec_outbox.h"
#include "store.h"
#include "store_pg.h"

static const char *pg_base; /* NDX_TEST_PG in the pg run, else NULL */
static char tmpdir[512];
static int case_no;

/* A fresh location for sector name: a new file, or the connection string
 * with the sectors' schemas dropped. */
static void new_loc(const char *name, char *out, size_t cap)
{
	case_no++;
	if (pg_base) {
		test_pg_exec(pg_base, "DROP SCHEMA IF EXISTS population CASCADE;"
			"DROP SCHEMA IF EXISTS civil_status CASCADE");
		snprintf(out, cap, "%s", pg_base);
		return;
	}
	snprintf(out, cap, "%s/sector_store_%d_%d_%s.db", tmpdir, (int)getpid(), case_no, name);
}

static void drop_file(const char *loc)
{
	char side[700];

	if (pg_base)
		return;
	unlink(loc);
	snprintf(side, sizeof side, "%s-wal", loc);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", loc);
	unlink(side);
}

static const struct sector_def *pop(void)
{
	return sector_find("population");
}

static const struct sector_table *table(const char *sector, const char *name)
{
	const struct sector_table *t = sector_table_find(sector_find(sector), name);
	assert_non_null(t);
	return t;
}

static json_t *citizen(const char *pin, const char *name, const char *birth, const char *hh,
		       const char *deceased)
{
	/* Born and living in the province of the number's first 3 digits. */
	char prov[4] = { pin[0], pin[1], pin[2], '\0' };
	json_t *o = json_pack("{ssssssssssssssss}", "pin", pin, "full_name", name, "birth_date",
			      birth, "sex", "female", "birth_province", prov, "permanent_address",
			      "Số 1 đường Lê Lợi, Phường Hoàn Kiếm, Thành phố Hà Nội",
			      "permanent_province", prov, "relation", "head");
	assert_non_null(o);
	json_object_set_new(o, "household_id", hh ? json_string(hh) : json_null());
	json_object_set_new(o, "deceased_on", deceased ? json_string(deceased) : json_null());
	return o;
}

static void put_ok(struct store_conn *c, const struct sector_table *t, const char *id,
		   json_t *row, char *out_id, size_t cap)
{
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(store_put(c, t, id, row, out_id, cap), NDX_OK);
	assert_int_equal(store_commit(c), NDX_OK);
	json_decref(row);
}

/* Four citizens of one household (one deceased) and one of none. */
static struct store *populated(char *loc, size_t cap)
{
	struct store *st = NULL;
	struct store_conn *c;
	char id[64];

	new_loc("population", loc, cap);
	assert_int_equal(store_open(loc, pop(), 1, 2, &st), NDX_OK);
	c = store_acquire(st);
	put_ok(c, table("population", "households"), NULL,
	       json_pack("{ssssssss}", "id", "H00100000001", "head_pin", "001080000001", "address",
			 "Số 1 đường Lê Lợi", "province", "001"),
	       id, sizeof id);
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("001080000001", "Nguyễn Văn An", "1980-01-02", "H00100000001", NULL), id,
	       sizeof id);
	assert_string_equal(id, "001080000001");
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("001085000002", "Nguyễn Thị Bình", "1985-03-04", "H00100000001", NULL), id,
	       sizeof id);
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("001050000003", "Nguyễn Văn Cường", "1950-05-06", "H00100000001",
		       "2020-01-01"),
	       id, sizeof id);
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("001010000004", "Trần Văn Dũng", "2010-07-08", "H00100000001", NULL), id,
	       sizeof id);
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("079090000005", "Nguyễn Văn Anh", "1990-09-10", NULL, NULL), id, sizeof id);
	store_release(st, c);
	return st;
}

static void test_get_exists(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	json_t *row = NULL;

	(void)state;
	st = populated(loc, sizeof loc);
	assert_int_equal(store_engine_pg(st), pg_base != NULL);
	c = store_acquire(st);
	assert_int_equal(store_get(c, table("population", "citizens"), "001085000002", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "full_name")), "Nguyễn Thị Bình");
	assert_string_equal(json_string_value(json_object_get(row, "birth_date")), "1985-03-04");
	assert_true(json_is_null(json_object_get(row, "deceased_on")));
	assert_true(json_is_null(json_object_get(row, "temporary_address")));
	assert_int_equal(strlen(json_string_value(json_object_get(row, "updated_at"))), 20);
	/* name_folded is the store's, not the record's. */
	assert_null(json_object_get(row, "name_folded"));
	json_decref(row);
	row = NULL;
	assert_int_equal(store_get(c, table("population", "citizens"), "001099999999", &row),
			 NDX_ENOTFOUND);
	assert_null(row);
	assert_int_equal(store_exists(c, "citizens", "pin", "001080000001"), 1);
	assert_int_equal(store_exists(c, "citizens", "pin", "001099999999"), 0);
	assert_int_equal(store_exists(c, "households", "head_pin", "001080000001"), 1);
	assert_int_equal(store_count(c, "citizens"), 5);
	assert_int_equal(store_count(c, "households"), 1);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

static const char *pin_at(json_t *arr, size_t i)
{
	return json_string_value(json_object_get(json_array_get(arr, i), "pin"));
}

static void test_list(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	json_t *arr = NULL;
	const struct sector_table *t = table("population", "citizens");

	(void)state;
	st = populated(loc, sizeof loc);
	c = store_acquire(st);
	/* "nguyen van an" and "nguyen van anh" start with "nguyen van an",
	 * in name order; "nguyen van cuong" does not. */
	struct store_query q = { .name_prefix = "nguyen van an", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(pin_at(arr, 0), "001080000001");
	assert_string_equal(pin_at(arr, 1), "079090000005");
	json_decref(arr);
	/* Every Nguyễn, in folded name order (thi binh, van an, van anh,
	 * van cuong), a page at a time. */
	q = (struct store_query){ .name_prefix = "nguyen", .limit = 2, .offset = 2 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(pin_at(arr, 0), "079090000005");
	assert_string_equal(pin_at(arr, 1), "001050000003");
	json_decref(arr);
	q.offset = 0;
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(pin_at(arr, 0), "001085000002");
	assert_string_equal(pin_at(arr, 1), "001080000001");
	json_decref(arr);
	/* A filter with the prefix. */
	q = (struct store_query){ .name_prefix = "nguyen", .limit = 10, .nfilters = 1,
				  .filter_cols = { "permanent_province" }, .filter_values = { "079" } };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(pin_at(arr, 0), "079090000005");
	json_decref(arr);
	/* A filter alone; a prefix nobody has. */
	q = (struct store_query){ .limit = 10, .nfilters = 1, .filter_cols = { "household_id" },
				  .filter_values = { "H00100000001" } };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 4);
	json_decref(arr);
	q = (struct store_query){ .name_prefix = "zz", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	/* LIKE's wildcards are letters like any other. */
	q = (struct store_query){ .name_prefix = "nguyen_van", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	q = (struct store_query){ .name_prefix = "n%", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	/* A prefix ending in 0xff bytes (not UTF-8) starts no name. */
	q = (struct store_query){ .name_prefix = "tran\xff", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

static void test_put_refusals_rollback(void **state)
{
	char loc[600], id[64];
	struct store *st;
	struct store_conn *c;
	json_t *row = NULL, *arr = NULL;
	const struct sector_table *t = table("population", "citizens");

	(void)state;
	st = populated(loc, sizeof loc);
	c = store_acquire(st);
	/* An insert of a key that exists; a replace of one that does not. */
	row = citizen("001080000001", "Lê Văn Em", "1980-01-02", NULL, NULL);
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(store_put(c, t, NULL, row, id, sizeof id), NDX_EEXIST);
	assert_int_equal(store_put(c, t, "001099999999", row, id, sizeof id), NDX_ENOTFOUND);
	store_rollback(c);
	/* A replace: the new name is found by its new fold, not the old. */
	put_ok(c, t, "001080000001", row, id, sizeof id);
	assert_string_equal(id, "001080000001");
	struct store_query q = { .name_prefix = "le van em", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	q.name_prefix = "nguyen van an";
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 1); /* Anh only */
	json_decref(arr);
	/* A rolled-back insert leaves nothing. */
	row = citizen("001070000009", "Phạm Văn Giang", "1970-01-01", NULL, NULL);
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(store_put(c, t, NULL, row, id, sizeof id), NDX_OK);
	store_rollback(c);
	json_decref(row);
	row = NULL;
	assert_int_equal(store_get(c, t, "001070000009", &row), NDX_ENOTFOUND);
	/* And the connection serves on. */
	assert_int_equal(store_exists(c, "citizens", "pin", "001080000001"), 1);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

static void test_household_and_texts(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	json_t *members = NULL;

	(void)state;
	st = populated(loc, sizeof loc);
	c = store_acquire(st);
	assert_int_equal(store_household_members(c, "H00100000001", &members), NDX_OK);
	/* The living, oldest first: the deceased 1950 one is left out. */
	assert_int_equal(json_array_size(members), 3);
	assert_string_equal(pin_at(members, 0), "001080000001");
	assert_string_equal(pin_at(members, 1), "001085000002");
	assert_string_equal(pin_at(members, 2), "001010000004");
	assert_string_equal(json_string_value(json_object_get(json_array_get(members, 0),
							      "relation")),
			    "head");
	json_decref(members);
	assert_int_equal(store_household_members(c, "H00199999999", &members), NDX_OK);
	assert_int_equal(json_array_size(members), 0);
	json_decref(members);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

struct collected {
	char pins[8][16];
	int n, stop_at;
};

static int collect(void *ctx, const char *v)
{
	struct collected *k = ctx;

	if (k->n == k->stop_at)
		return NDX_ETOOBIG;
	snprintf(k->pins[k->n++], sizeof k->pins[0], "%s", v ? v : "(null)");
	return NDX_OK;
}

static void test_texts(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	struct collected k = { .stop_at = 8 };

	(void)state;
	st = populated(loc, sizeof loc);
	c = store_acquire(st);
	assert_int_equal(store_texts(c, "citizens", "pin", "household_id", "H00100000001", collect,
				     &k),
			 NDX_OK);
	assert_int_equal(k.n, 4);
	/* The callback's refusal ends the walk and is returned. */
	k = (struct collected){ .stop_at = 1 };
	assert_int_equal(store_texts(c, "citizens", "pin", "household_id", "H00100000001", collect,
				     &k),
			 NDX_ETOOBIG);
	assert_int_equal(k.n, 1);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

static int collect_citizen(void *ctx, const struct store_citizen *cit)
{
	struct collected *k = ctx;

	if (k->n == k->stop_at)
		return NDX_ETOOBIG;
	snprintf(k->pins[k->n++], sizeof k->pins[0], "%s%s", cit->pin, cit->living ? "" : "+");
	return NDX_OK;
}

/* What /verify reads, in one read transaction. */
static void test_citizens_lookups(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	struct collected k = { .stop_at = 8 };
	const char *addr = "Số 1 đường Lê Lợi, Phường Hoàn Kiếm, Thành phố Hà Nội";

	(void)state;
	st = populated(loc, sizeof loc);
	c = store_acquire(st);
	assert_int_equal(store_read_begin(c), NDX_OK);
	assert_int_equal(store_citizens(c, STORE_BY_PIN, "001050000003", NULL, 1, collect_citizen,
					&k),
			 NDX_OK);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.pins[0], "001050000003+"); /* deceased */
	k = (struct collected){ .stop_at = 8 };
	assert_int_equal(store_citizens(c, STORE_BY_PIN, "001099999999", NULL, 1, collect_citizen,
					&k),
			 NDX_OK);
	assert_int_equal(k.n, 0);
	/* The whole folded name, not a prefix: An, not Anh. */
	assert_int_equal(store_citizens(c, STORE_BY_NAME, "nguyen van an", NULL, 64,
					collect_citizen, &k),
			 NDX_OK);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.pins[0], "001080000001");
	k = (struct collected){ .stop_at = 8 };
	assert_int_equal(store_citizens(c, STORE_BY_NAME_BIRTH, "nguyen van anh", "1990-09-10", 64,
					collect_citizen, &k),
			 NDX_OK);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.pins[0], "079090000005");
	k = (struct collected){ .stop_at = 8 };
	assert_int_equal(store_citizens(c, STORE_BY_NAME_BIRTH, "nguyen van anh", "1990-09-11", 64,
					collect_citizen, &k),
			 NDX_OK);
	assert_int_equal(k.n, 0);
	assert_int_equal(store_citizens(c, STORE_BY_NAME_ADDRESS, "nguyen thi binh", addr, 64,
					collect_citizen, &k),
			 NDX_OK);
	assert_int_equal(k.n, 1);
	assert_string_equal(k.pins[0], "001085000002");
	/* The limit, and the callback's refusal returned. */
	k = (struct collected){ .stop_at = 8 };
	assert_int_equal(store_citizens(c, STORE_BY_NAME, "nguyen van an", NULL, 0,
					collect_citizen, &k),
			 NDX_OK);
	assert_int_equal(k.n, 0);
	k = (struct collected){ .stop_at = 0 };
	assert_int_equal(store_citizens(c, STORE_BY_PIN, "001080000001", NULL, 1, collect_citizen,
					&k),
			 NDX_ETOOBIG);
	store_read_end(c);
	/* The connection writes on after the read transaction. */
	char id[64];
	put_ok(c, table("population", "citizens"), NULL,
	       citizen("001070000010", "Võ Văn Hải", "1970-02-03", NULL, NULL), id, sizeof id);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

/* A table without a key: the store numbers its rows. */
static void test_numbered_rows(void **state)
{
	char loc[600], id[64], id2[64];
	struct store *st = NULL;
	struct store_conn *c;
	json_t *row = NULL;
	const struct sector_table *t = table("civil-status", "deaths");

	(void)state;
	new_loc("civil-status", loc, sizeof loc);
	assert_int_equal(store_open(loc, sector_find("civil-status"), 1, 1, &st), NDX_OK);
	c = store_acquire(st);
	json_t *death = json_pack("{ssssssssss}", "pin", "001050000003", "full_name",
				  "Nguyễn Văn Cường", "died_on", "2020-01-01", "province",
				  "001", "registered_on", "2020-01-03");
	assert_non_null(death);
	/* Each put_ok releases a reference; the last is released below. */
	put_ok(c, t, NULL, json_incref(death), id, sizeof id);
	put_ok(c, t, NULL, json_incref(death), id2, sizeof id2);
	assert_true(atoll(id) > 0);
	assert_true(atoll(id2) > atoll(id));
	assert_int_equal(store_get(c, t, id2, &row), NDX_OK);
	assert_int_equal(json_integer_value(json_object_get(row, "id")), atoll(id2));
	assert_string_equal(json_string_value(json_object_get(row, "pin")), "001050000003");
	json_decref(row);
	assert_int_equal(store_get(c, t, "abc", &row), NDX_ENOTFOUND);
	assert_int_equal(store_get(c, t, "0", &row), NDX_ENOTFOUND);
	assert_int_equal(store_get(c, t, "999999", &row), NDX_ENOTFOUND);
	assert_int_equal(store_begin(c), NDX_OK);
	assert_int_equal(store_put(c, t, "999999", death, id, sizeof id), NDX_ENOTFOUND);
	store_rollback(c);
	json_decref(death);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

static void test_open_refusals(void **state)
{
	char loc[600];
	struct store *st = NULL;

	(void)state;
	/* Nothing there and not asked to create. */
	new_loc("population", loc, sizeof loc);
	assert_int_equal(store_open(loc, pop(), 0, 1, &st), NDX_EIO);
	assert_null(st);
	/* Made, closed, opened again without create. */
	assert_int_equal(store_open(loc, pop(), 1, 1, &st), NDX_OK);
	store_close(st);
	st = NULL;
	assert_int_equal(store_open(loc, pop(), 0, 3, &st), NDX_OK);
	store_close(st);
	st = NULL;
	if (!pg_base) {
		/* One sector's file is not another's. */
		assert_int_equal(store_open(loc, sector_find("tax"), 0, 1, &st), NDX_EDB);
		assert_null(st);
	}
	drop_file(loc);
}

/* store_bulk_row takes a va_list, as the seeder's put() hands it on. */
static int bulk_row(struct store_bulk *b, size_t t, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = store_bulk_row(b, t, types, ap);
	va_end(ap);
	return rc;
}

/* The seeder's path: rows in, then indexes, then served. */
static void test_bulk(void **state)
{
	char loc[600];
	struct store_bulk *b = NULL, *again = NULL;
	struct store *st = NULL;
	struct store_conn *c;
	json_t *row = NULL, *arr = NULL;
	const struct sector_table *t = table("population", "citizens");

	(void)state;
	new_loc("population", loc, sizeof loc);
	assert_int_equal(store_bulk_open(loc, pop(), &b), NDX_OK);
	/* citizens: pin, full_name, name_folded, birth_date, sex,
	 * birth_province, permanent_address, permanent_province,
	 * temporary_address, household_id, relation, deceased_on, updated_at;
	 * text with a tab, a newline and a backslash goes through COPY whole. */
	static const char *const NAMES[] = { "Hà Văn A", "Hà Văn B\tTab", "Hà Văn C\\n" };
	static const char *const FOLDED[] = { "ha van a", "ha van b\ttab", "ha van c\\n" };
	for (int i = 0; i < 3; i++) {
		char pin[24];
		snprintf(pin, sizeof pin, "00109000000%d", i);
		assert_int_equal(
			bulk_row(b, 0, "sssssssssssss", pin, NAMES[i], FOLDED[i],
					    "1990-01-01", "male", "001", "Số 1\nhàng hai", "001",
					    NULL, NULL, NULL, NULL, "2026-01-01T00:00:00Z"),
			NDX_OK);
	}
	assert_int_equal(store_bulk_end(b), NDX_OK);
	/* Refused while it exists (a seed that has not finished included). */
	assert_int_equal(store_bulk_open(loc, pop(), &again), NDX_EEXIST);
	assert_null(again);
	assert_int_equal(store_bulk_index(b), NDX_OK);
	assert_true(store_bulk_bytes(b) > 0);
	assert_int_equal(store_bulk_sql(b).db == NULL, pg_base != NULL);
	store_bulk_close(b, 1);
	assert_int_equal(store_open(loc, pop(), 0, 1, &st), NDX_OK);
	c = store_acquire(st);
	assert_int_equal(store_get(c, t, "001090000001", &row), NDX_OK);
	assert_string_equal(json_string_value(json_object_get(row, "full_name")), "Hà Văn B\tTab");
	assert_string_equal(json_string_value(json_object_get(row, "permanent_address")),
			    "Số 1\nhàng hai");
	assert_true(json_is_null(json_object_get(row, "household_id")));
	json_decref(row);
	struct store_query q = { .name_prefix = "ha van c\\", .limit = 10 };
	assert_int_equal(store_list(c, t, &q, &arr), NDX_OK);
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(pin_at(arr, 0), "001090000002");
	json_decref(arr);
	store_release(st, c);
	store_close(st);
	drop_file(loc);

	/* A load given up removes what it made. */
	new_loc("population", loc, sizeof loc);
	assert_int_equal(store_bulk_open(loc, pop(), &b), NDX_OK);
	store_bulk_close(b, 0);
	st = NULL;
	assert_int_equal(store_open(loc, pop(), 0, 1, &st), NDX_EIO);
	if (!pg_base)
		assert_int_equal(access(loc, F_OK), -1);
}

/* ---- the outbox ------------------------------------------------------------------------ */

struct seen {
	char subjects[4][16];
	int n, fail;
};

static int take(void *ctx, const struct outbox_event *ev, char *err, size_t cap)
{
	struct seen *s = ctx;

	if (s->fail) {
		snprintf(err, cap, "gateway down");
		return NDX_ENET;
	}
	assert_true(s->n < 4);
	assert_string_equal(ev->name, "death-registered");
	assert_string_equal(ev->service, "VN/GOV/BTP/civil-status/deaths");
	snprintf(s->subjects[s->n++], sizeof s->subjects[0], "%s", ev->subject);
	return NDX_OK;
}

static int write_death(struct store_conn *c, const char *pin, int commit)
{
	const struct sector_def *def = sector_find("civil-status");
	json_t *row = json_pack("{ssssssssss}", "pin", pin, "full_name", "Trần Văn Mất", "died_on",
				"2026-11-20", "province", "001", "registered_on", "2026-11-21");
	char id[64];
	int added = 0, rc;

	assert_non_null(row);
	assert_int_equal(store_begin(c), NDX_OK);
	rc = outbox_put(c, def, table("civil-status", "deaths"), NULL, row,
			"VN/GOV/BTP/civil-status", id, sizeof id, &added);
	json_decref(row);
	if (rc != NDX_OK || !commit) {
		store_rollback(c);
		return rc;
	}
	assert_int_equal(added, 1);
	return store_commit(c);
}

static void test_outbox(void **state)
{
	char loc[600];
	struct store *st = NULL;
	struct store_conn *c;
	struct seen seen = { .fail = 1 };
	unsigned published = 9;
	long long wake = 0;

	(void)state;
	new_loc("civil-status", loc, sizeof loc);
	assert_int_equal(store_open(loc, sector_find("civil-status"), 1, 2, &st), NDX_OK);
	c = store_acquire(st);
	if (!pg_base)
		assert_int_equal(outbox_tables(store_conn_db(c)), NDX_OK);
	assert_int_equal(outbox_pending_conn(c), 0);
	/* With its record or not at all. */
	assert_int_equal(write_death(c, "001088000101", 1), NDX_OK);
	assert_int_equal(write_death(c, "001088000102", 0), NDX_OK);
	assert_int_equal(outbox_pending_conn(c), 1);
	assert_int_equal(store_exists(c, "deaths", "pin", "001088000102"), 0);
	assert_int_equal(write_death(c, "001188000103", 1), NDX_OK);
	assert_int_equal(outbox_pending_conn(c), 2);
	/* A failure: counted, kept, next try after 500 ms; not before. */
	assert_int_equal(outbox_drain_conn(c, take, &seen, 1000, &published, &wake), NDX_OK);
	assert_int_equal(published, 0);
	assert_int_equal(wake, 1500);
	seen.fail = 0;
	assert_int_equal(outbox_drain_conn(c, take, &seen, 1499, &published, &wake), NDX_OK);
	assert_int_equal(published, 0);
	assert_int_equal(wake, 1500);
	assert_int_equal(outbox_pending_conn(c), 2);
	if (pg_base) {
		/* Another connection (another process) has the turn: nothing
		 * drained here, a look again in 500 ms. */
		struct store_conn *other = store_acquire(st);
		struct store_pg_outbox_row row;

		assert_int_equal(store_pg_outbox_head(store_conn_pg(other), &row), NDX_OK);
		assert_string_equal(row.subject, "001088000101");
		assert_int_equal(row.attempts, 1);
		assert_int_equal(outbox_drain_conn(c, take, &seen, 2000, &published, &wake), NDX_OK);
		assert_int_equal(published, 0);
		assert_int_equal(wake, 2500);
		assert_int_equal(store_pg_outbox_end(store_conn_pg(other), &row, 0, 0, 0, NULL),
				 NDX_OK);
		store_release(st, other);
	}
	/* Due: both, oldest first, deleted. */
	assert_int_equal(outbox_drain_conn(c, take, &seen, 2000, &published, &wake), NDX_OK);
	assert_int_equal(published, 2);
	assert_int_equal(wake, -1);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.subjects[0], "001088000101");
	assert_string_equal(seen.subjects[1], "001188000103");
	assert_int_equal(outbox_pending_conn(c), 0);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

/* ---- PostgreSQL's own ------------------------------------------------------------------ */

static void test_pg_refusals(void **state)
{
	char loc[600];
	struct store *st = NULL;
	struct store_bulk *b = NULL;

	(void)state;
	/* A password in the connection string: refused, never used. */
	assert_int_equal(store_open("postgresql://u:secret@127.0.0.1:1/x", pop(), 1, 1, &st),
			 NDX_EINVAL);
	assert_null(st);
	/* Nobody listening. */
	assert_int_equal(store_open("postgresql://u@127.0.0.1:1/x?connect_timeout=2", pop(), 1, 1,
				    &st),
			 NDX_EIO);
	/* A seed that did not finish (no sector row yet) is not served. */
	new_loc("population", loc, sizeof loc);
	assert_int_equal(store_bulk_open(loc, pop(), &b), NDX_OK);
	assert_int_equal(store_bulk_end(b), NDX_OK);
	assert_int_equal(store_open(loc, pop(), 1, 1, &st), NDX_EDB);
	store_bulk_close(b, 0);
	/* A schema newer than the program. */
	assert_int_equal(store_open(loc, pop(), 1, 1, &st), NDX_OK);
	store_close(st);
	st = NULL;
	test_pg_exec(pg_base, "UPDATE population.meta SET value = '99' WHERE key = 'pg_schema'");
	assert_int_equal(store_open(loc, pop(), 0, 1, &st), NDX_EDB);
	assert_null(st);
	/* Another sector's meta in the schema. */
	test_pg_exec(pg_base, "UPDATE population.meta SET value = '1' WHERE key = 'pg_schema';"
		"UPDATE population.meta SET value = 'tax' WHERE key = 'sector'");
	assert_int_equal(store_open(loc, pop(), 0, 1, &st), NDX_EDB);
}

struct text_out {
	char *buf;
	size_t cap;
};

static int copy_text(void *ctx, const char *v)
{
	struct text_out *o = ctx;
	snprintf(o->buf, o->cap, "%s", v ? v : "(null)");
	return NDX_OK;
}

/* apply_event_as / apply_event_pg on the connection's engine. */
static enum apply_result apply(struct store_conn *c, const char *id, const char *name,
			       const char *payload, int *published)
{
	char why[256];
	enum apply_result r =
		store_conn_pg(c)
			? apply_event_pg(store_conn_pg(c), pop(), NULL, id, name, payload,
					 published, why, sizeof why)
			: apply_event_as(store_conn_db(c), pop(), NULL, id, name, payload, published,
					 why, sizeof why);
	return r;
}

/* The effect recorded for event id, or "" when none. */
static void effect_of(struct store_conn *c, const char *id, char *out, size_t cap)
{
	struct text_out o = { out, cap };

	out[0] = '\0';
	assert_int_equal(store_texts(c, "event_applied", "effect", "id", id, copy_text, &o),
			 NDX_OK);
}

static void test_apply(void **state)
{
	static const char DEATH[] = "{\"pin\":\"001080000001\",\"died_on\":\"2026-11-20\"}";
	static const char BIRTH[] = "{\"child_name\":\"Lê Bảo An\",\"birth_date\":\"2026-11-30\","
				    "\"sex\":\"female\",\"province\":\"001\",\"mother_pin\":"
				    "\"001085000002\",\"registered_on\":\"2026-12-01\",\"birth_id\":42}";
	char loc[600], effect[128];
	struct store *st = populated(loc, sizeof loc);
	struct store_conn *c = store_acquire(st);
	json_t *before, *after, *kids;
	int published = -1;

	(void)state;
	if (!store_conn_pg(c))
		assert_int_equal(outbox_tables(store_conn_db(c)), NDX_OK);
	/* A death: the citizen marked, the event's id recorded with the effect. */
	assert_int_equal(apply(c, "e1", "death-registered", DEATH, &published), APPLY_CHANGED);
	assert_int_equal(published, 0);
	assert_int_equal(store_get(c, table("population", "citizens"), "001080000001", &before),
			 NDX_OK);
	assert_string_equal(json_string_value(json_object_get(before, "deceased_on")),
			    "2026-11-20");
	effect_of(c, "e1", effect, sizeof effect);
	assert_string_equal(effect, "citizen marked deceased");
	/* Delivered again: seen, nothing done. The same fact under another id:
	 * recorded, the record untouched (updated_at included). */
	assert_int_equal(apply(c, "e1", "death-registered", DEATH, NULL), APPLY_SEEN);
	assert_int_equal(apply(c, "e2", "death-registered", DEATH, NULL), APPLY_UNCHANGED);
	effect_of(c, "e2", effect, sizeof effect);
	assert_string_equal(effect, "nothing to change");
	assert_int_equal(store_get(c, table("population", "citizens"), "001080000001", &after),
			 NDX_OK);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	/* A bad payload: refused, its id not recorded (a fixed one applies). */
	assert_int_equal(apply(c, "e3", "death-registered",
			       "{\"pin\":\"001080000001\",\"died_on\":\"20-11-2026\"}", NULL),
			 APPLY_INVALID);
	assert_int_equal(store_exists(c, "event_applied", "id", "e3"), 0);
	assert_int_equal(apply(c, "e4", "marriage-registered", DEATH, NULL), APPLY_IGNORED);
	/* A birth: the child in the mother's household, citizen-registered in
	 * the outbox, all in one transaction; again under another id: nothing. */
	assert_int_equal(apply(c, "b1", "birth-registered", BIRTH, &published), APPLY_CHANGED);
	assert_int_equal(published, 1);
	assert_int_equal(outbox_pending_conn(c), 1);
	assert_int_equal(apply(c, "b2", "birth-registered", BIRTH, &published), APPLY_UNCHANGED);
	assert_int_equal(published, 0);
	assert_int_equal(outbox_pending_conn(c), 1);
	struct store_query q = { .name_prefix = "le bao an", .limit = 10 };
	assert_int_equal(store_list(c, table("population", "citizens"), &q, &kids), NDX_OK);
	assert_int_equal(json_array_size(kids), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 0),
								"household_id")),
			    "H00100000001");
	assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 0),
								"relation")),
			    "child"); /* the mother is the head */
	json_decref(kids);
	store_release(st, c);
	store_close(st);
	drop_file(loc);
}

/* A schema of version 1 (no outbox) is brought to version 4 by the next
 * open, one of version 2 (no event_applied) too, and one of version 3 (no
 * reconciliation tables). */
static void test_pg_upgrade(void **state)
{
	char loc[600];
	struct store *st = NULL;
	struct store_conn *c;

	(void)state;
	new_loc("civil-status", loc, sizeof loc);
	assert_int_equal(store_open(loc, sector_find("civil-status"), 1, 1, &st), NDX_OK);
	store_close(st);
	st = NULL;
	test_pg_exec(pg_base, "DROP TABLE civil_status.event_outbox; DROP TABLE civil_status.event_applied;"
		"DROP TABLE civil_status.reconcile_runs, civil_status.reconcile_position,"
		" civil_status.reconcile_results, civil_status.reconcile_corrections;"
		"UPDATE civil_status.meta SET value = '1' WHERE key = 'pg_schema'");
	assert_int_equal(store_open(loc, sector_find("civil-status"), 0, 2, &st), NDX_OK);
	c = store_acquire(st);
	assert_int_equal(store_exists(c, "meta", "value", "4"), 1);
	assert_int_equal(store_exists(c, "reconcile_runs", "started_at", "x"), 0);
	assert_int_equal(outbox_pending_conn(c), 0);
	assert_int_equal(store_exists(c, "event_applied", "id", "x"), 0);
	assert_int_equal(write_death(c, "001088000101", 1), NDX_OK);
	assert_int_equal(outbox_pending_conn(c), 1);
	store_release(st, c);
	store_close(st);
	/* Version 2: the outbox and its row kept, event_applied added. */
	test_pg_exec(pg_base, "DROP TABLE civil_status.event_applied;"
		"UPDATE civil_status.meta SET value = '2' WHERE key = 'pg_schema'");
	assert_int_equal(store_open(loc, sector_find("civil-status"), 0, 1, &st), NDX_OK);
	c = store_acquire(st);
	assert_int_equal(store_exists(c, "meta", "value", "4"), 1);
	assert_int_equal(outbox_pending_conn(c), 1);
	assert_int_equal(store_exists(c, "event_applied", "id", "x"), 0);
	store_release(st, c);
	store_close(st);
	/* Version 3: the reconciliation's tables added, the rest kept. */
	test_pg_exec(pg_base, "DROP TABLE civil_status.reconcile_runs, civil_status.reconcile_position,"
		" civil_status.reconcile_results, civil_status.reconcile_corrections;"
		"UPDATE civil_status.meta SET value = '3' WHERE key = 'pg_schema'");
	assert_int_equal(store_open(loc, sector_find("civil-status"), 0, 1, &st), NDX_OK);
	c = store_acquire(st);
	assert_int_equal(store_exists(c, "meta", "value", "4"), 1);
	assert_int_equal(outbox_pending_conn(c), 1);
	assert_int_equal(store_exists(c, "reconcile_corrections", "officer", "x"), 0);
	store_release(st, c);
	store_close(st);
}

/* A server restart under an open store: the next read reconnects. */
static void test_pg_reconnect(void **state)
{
	char loc[600];
	struct store *st;
	struct store_conn *c;
	const char *stop = getenv("NDX_TEST_PG_STOP"), *start = getenv("NDX_TEST_PG_START");

	(void)state;
	if (!stop || !start)
		skip();
	st = populated(loc, sizeof loc);
	assert_int_equal(system(stop), 0);
	assert_int_equal(system(start), 0);
	c = store_acquire(st);
	assert_int_equal(store_exists(c, "citizens", "pin", "001080000001"), 1);
	store_release(st, c);
	store_close(st);
}

int main(void)
{
	const char *engine = getenv("NDX_TEST_ENGINE");
	const char *dir = getenv("NDX_TEST_TMP");
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_get_exists),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_put_refusals_rollback),
		cmocka_unit_test(test_household_and_texts),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_citizens_lookups),
		cmocka_unit_test(test_numbered_rows),
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_outbox),
		cmocka_unit_test(test_apply),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_pg_refusals),
		cmocka_unit_test(test_pg_upgrade),
		cmocka_unit_test(test_pg_reconnect),
	};
	int failed;

	snprintf(tmpdir, sizeof tmpdir, "%s", dir ? dir : "/tmp");
	if (engine && strcmp(engine, "pg") == 0) {
		if (!(pg_base = getenv("NDX_TEST_PG")) || !*pg_base) {
			fprintf(stderr, "sector store on PostgreSQL: NDX_TEST_PG is not set"
					" (run under tests/with-postgres): skipped\n");
			return 77;
		}
		failed = cmocka_run_group_tests_name("sector_store_pg", both, NULL, NULL);
		return failed + cmocka_run_group_tests_name("sector_store_pg_own", pg_only, NULL,
							    NULL);
	}
	return cmocka_run_group_tests_name("sector_store", both, NULL, NULL);
}
